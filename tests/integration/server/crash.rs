//! A server killed with SIGKILL mid-run and started again on the same file: finished runs are
//! intact, the run that was running reads interrupted and resumes to the state an unbroken
//! run ends with; `--auto-resume` does it on its own. SIGTERM stops gracefully: streams get
//! a status, running runs are left interrupted.

use serde_json::json;

use super::client::{REFUND, SLOW, Server, next_message};

#[test]
fn a_killed_server_restarts_with_its_runs_intact_and_resumable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flowc.db");
    let server = Server::start(&db, &[]);
    let refund = server.create(REFUND);
    let slow = server.create(SLOW);
    let (_, finished) = server.run(&refund, &json!({ "order": "K", "amount": 5 }), true);
    let finished_run = finished["run_id"].as_u64().unwrap();
    let run = server.start_run(&slow, &json!({ "rounds": 8 }));
    let other = server.start_run(&slow, &json!({ "rounds": 8 }));
    server.wait_for(run, |view| view["steps"].as_u64().unwrap() >= 3);
    server.kill();

    let server = Server::start(&db, &[]);
    let after = server.state(finished_run);
    assert_eq!(after["status"], "completed");
    assert_eq!(after["state"], finished["state"]);
    assert_eq!(after["log"], finished["log"]);
    let interrupted = server.state(run);
    assert_eq!(interrupted["status"], "interrupted", "{interrupted}");
    let (status, resumed) = server.post(&format!("/graph/resume/{run}"), &json!(null));
    assert_eq!(status, 202, "{resumed}");
    let done = server.wait_status(run, "completed");
    assert_eq!(
        done["state"],
        json!({ "n": 8, "rounds": 8, "error": done["state"]["error"] })
    );
    assert_eq!(done["state"]["n"], 8);
    let uninterrupted = server.start_run(&slow, &json!({ "rounds": 8 }));
    let reference = server.wait_status(uninterrupted, "completed");
    assert_eq!(done["state"]["n"], reference["state"]["n"]);
    assert_eq!(server.state(other)["status"], "interrupted");
    server.kill();

    // --auto-resume takes the interrupted one on its own.
    let server = Server::start(&db, &["--auto-resume"]);
    assert_eq!(server.wait_status(other, "completed")["state"]["n"], 8);
}

#[test]
fn sigterm_answers_a_request_driving_its_run_through_a_long_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flowc.db");
    let server = Server::start(&db, &[]);
    let waits = server.create(
        "flow waits {
    state { n: int = 0 }
    node pause { throw \"not yet\"; } retry 1 backoff 60s
    node count { n += 1; }
    start -> pause
    pause -> count on error
    pause -> count
    count -> end
}",
    );
    // A slot is free: the request drives the run itself, into a minute's backoff.
    let url = format!("{}/graph/run", server.base);
    let body = json!({ "graph_id": waits, "initial_state": {}, "wait": true });
    let waiter = std::thread::spawn(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut response = agent.post(&url).send_json(&body).unwrap();
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.body_mut().read_json().unwrap();
        (status, answer)
    });
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.get("/graph/state/1").1["steps"]
        .as_u64()
        .unwrap_or(0)
        < 1
    {
        assert!(std::time::Instant::now() < until, "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Stopped at once (`terminate` allows 15 s), not after the backoff.
    assert_eq!(server.terminate(), Some(0));
    let (status, answer) = waiter.join().unwrap();
    assert_eq!((status, &answer["run_id"]), (202, &json!(1)), "{answer}");
    assert_eq!(answer["status"], "interrupted", "{answer}");
    let server = Server::start(&db, &[]);
    assert_eq!(server.state(1)["status"], "interrupted");
}

#[test]
fn sigterm_leaves_running_runs_interrupted_and_tells_their_streams() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flowc.db");
    let server = Server::start(&db, &["--max-concurrent-runs", "1"]);
    let slow = server.create(SLOW);
    let run = server.start_run(&slow, &json!({ "rounds": 100 }));
    server.wait_for(run, |view| view["steps"].as_u64().unwrap() >= 2);
    let queued = server.start_run(&slow, &json!({ "rounds": 1 }));
    // A client waiting for a queued run is answered when the server stops.
    let url = format!("{}/graph/run", server.base);
    let body = json!({ "graph_id": slow, "initial_state": { "rounds": 2 }, "wait": true });
    let waiter = std::thread::spawn(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut response = agent.post(&url).send_json(&body).unwrap();
        let status = response.status().as_u16();
        (
            status,
            response
                .body_mut()
                .read_json::<serde_json::Value>()
                .unwrap(),
        )
    });
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.get(&format!("/graph/state/{}", queued + 1)).1["status"] != "queued" {
        assert!(
            std::time::Instant::now() < until,
            "the third run was never queued"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut socket = server.websocket(&format!("/ws/logs/{run}")).unwrap();
    assert_eq!(next_message(&mut socket).unwrap()["seq"], 0);
    assert_eq!(server.terminate(), Some(0));
    let mut last = None;
    while let Some(message) = next_message(&mut socket) {
        last = Some(message);
    }
    assert_eq!(
        last.unwrap(),
        json!({ "type": "status", "status": "interrupted" })
    );
    let (status, answer) = waiter.join().unwrap();
    assert_eq!(
        (status, &answer["status"]),
        (202, &json!("queued")),
        "{answer}"
    );

    // Started again: the interrupted run waits to be resumed, the queued ones run.
    let server = Server::start(&db, &[]);
    assert_eq!(server.state(run)["status"], "interrupted");
    assert_eq!(server.wait_status(queued, "completed")["state"]["n"], 1);
    assert_eq!(server.wait_status(queued + 1, "completed")["state"]["n"], 2);
}

#[test]
fn a_run_killed_inside_a_once_node_needs_attention_until_rerun_or_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flowc.db");
    let pay = "flow pay {
    node charge = exec(cmd: \"sh -c 'echo x >> charges; sleep 2'\") once
    start -> charge
}
";
    let charges = || {
        std::fs::read_to_string(dir.path().join("charges"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let server = Server::start(&db, &["--allow-exec"]);
    let graph = server.create(pay);
    let (rerun, cancel) = (
        server.start_run(&graph, &json!({})),
        server.start_run(&graph, &json!({})),
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while charges() < 2 {
        assert!(
            std::time::Instant::now() < until,
            "the charges did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill();

    let server = Server::start(&db, &["--allow-exec"]);
    for run in [rerun, cancel] {
        let (status, refused) = server.post(&format!("/graph/resume/{run}"), &json!(null));
        assert_eq!(status, 409, "{refused}");
        assert_eq!(server.state(run)["status"], "needs-attention");
    }
    // A person checked the first charge did not go through, and gave up on the second.
    let (status, resumed) = server.post(&format!("/graph/resume/{rerun}?rerun=true"), &json!(null));
    assert_eq!(status, 202, "{resumed}");
    server.wait_status(rerun, "completed");
    assert_eq!(charges(), 3, "the first charge ran again, once");
    let (status, cancelled) = server.post(&format!("/graph/cancel/{cancel}"), &json!(null));
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(server.state(cancel)["status"], "cancelled");
    // Nothing is left to settle.
    let (status, refused) =
        server.post(&format!("/graph/resume/{cancel}?rerun=true"), &json!(null));
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not needs-attention"),
        "{refused}"
    );
}
