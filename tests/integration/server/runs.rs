//! Runs: sync and background, polled, queued in order, cancelled in every state, resumed
//! with input, and idempotency keys.

use serde_json::{Value, json};

use super::client::{REFUND, SLOW, Server};

fn seqs(view: &Value) -> Vec<u64> {
    view["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_sync_run_answers_with_its_state_and_log_and_a_background_run_is_polled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let refund = server.create(REFUND);
    let (status, done) = server.run(&refund, &json!({ "order": "A1", "amount": 20 }), true);
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["state"]["note"], "refunded 20 for A1");
    let log = done["log"].as_array().unwrap();
    assert_eq!(log.first().unwrap()["event"], "run_started");
    assert_eq!(log.last().unwrap()["event"], "run_finished");
    assert!(
        log.iter()
            .any(|r| r["event"] == "step" && r["node"] == "pay")
    );

    let slow = server.create(SLOW);
    let run = server.start_run(&slow, &json!({ "rounds": 3 }));
    let view = server.wait_status(run, "completed");
    assert_eq!(view["state"]["n"], 3);
    assert_eq!(view["node"], Value::Null);
    assert_eq!(
        seqs(&view),
        (0..seqs(&view).len() as u64).collect::<Vec<_>>()
    );

    // A run's own limit, within the server's: the run fails, its error a diagnostic.
    let (status, failed) = server.post(
        "/graph/run",
        &json!({ "graph_id": slow, "initial_state": { "rounds": 100 }, "wait": true, "max_steps": 3, "timeout": "1m" }),
    );
    assert_eq!(status, 200, "{failed}");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "flow::max-steps", "{failed}");
    assert_eq!(failed["error"]["severity"], "error");
    assert!(failed["state"]["n"].as_u64().unwrap() < 3);

    // A state the schema refuses: nothing is stored, the error says why.
    let (status, refused) = server.run(&refund, &json!({ "order": 5 }), true);
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "bad-input");
    assert!(refused["error"]["report"]["diagnostics"][0]["message"].is_string());

    let (_, listed) = server.get(&format!("/runs?graph_id={slow}"));
    assert_eq!(listed["runs"].as_array().unwrap().len(), 2);
    let (_, listed) = server.get("/runs?status=completed&limit=1");
    assert_eq!(listed["runs"][0]["run_id"], run);
    let cursor = listed["next_cursor"].as_u64().unwrap();
    let (_, older) = server.get(&format!("/runs?limit=1&cursor={cursor}"));
    assert_eq!(older["runs"][0]["run_id"], 1);
    let (_, listed) = server.get("/runs?status=failed");
    assert_eq!(listed["runs"][0]["run_id"], failed["run_id"]);
    assert_eq!(listed["next_cursor"], Value::Null);
}

#[test]
fn runs_beyond_the_limit_queue_and_cancel_stops_queued_running_and_waiting_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("flowc.db"),
        &["--max-concurrent-runs", "1"],
    );
    let slow = server.create(SLOW);
    let first = server.start_run(&slow, &json!({ "rounds": 200 }));
    let second = server.start_run(&slow, &json!({ "rounds": 1 }));
    server.wait_for(first, |view| view["steps"].as_u64().unwrap() >= 2);
    assert_eq!(server.state(second)["status"], "queued");

    let (status, cancelled) = server.post(&format!("/graph/cancel/{second}"), &json!(null));
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    let (status, cancelled) = server.post(&format!("/graph/cancel/{first}"), &json!(null));
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    let view = server.state(first);
    assert_eq!(view["status"], "cancelled");
    assert!(view["state"]["n"].as_u64().unwrap() < 200);
    // Cancelling again changes nothing.
    let (status, again) = server.post(&format!("/graph/cancel/{first}"), &json!(null));
    assert_eq!((status, again["status"].as_str()), (200, Some("cancelled")));

    let refund = server.create(REFUND);
    let (_, waiting) = server.run(&refund, &json!({ "order": "B", "amount": 900 }), true);
    assert_eq!(waiting["status"], "waiting");
    let run = waiting["run_id"].as_u64().unwrap();
    let (_, cancelled) = server.post(&format!("/graph/cancel/{run}"), &json!(null));
    assert_eq!(cancelled["status"], "cancelled");
    let (status, refused) = server.post(
        &format!("/graph/resume/{run}"),
        &json!({ "approved": true }),
    );
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("not-resumable"))
    );
    // The queue goes on after the cancelled ones.
    let third = server.start_run(&slow, &json!({ "rounds": 1 }));
    assert_eq!(server.wait_status(third, "completed")["state"]["n"], 1);
}

#[test]
fn a_waiting_run_is_resumed_with_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let refund = server.create(REFUND);
    let (_, waiting) = server.run(&refund, &json!({ "order": "C", "amount": 300 }), true);
    assert_eq!(waiting["status"], "waiting");
    assert_eq!(waiting["node"], "approve");
    let run = waiting["run_id"].as_u64().unwrap();
    // An input the schema refuses leaves it waiting.
    let (status, refused) = server.post(
        &format!("/graph/resume/{run}"),
        &json!({ "approved": "yes" }),
    );
    assert_eq!(status, 422, "{refused}");
    assert_eq!(server.state(run)["status"], "waiting");
    let (status, resumed) = server.post(
        &format!("/graph/resume/{run}"),
        &json!({ "approved": true }),
    );
    assert_eq!(status, 202, "{resumed}");
    let done = server.wait_status(run, "completed");
    assert_eq!(done["state"]["note"], "refunded 300 for C");
    let (status, _) = server.post(&format!("/graph/resume/{run}"), &json!(null));
    assert_eq!(status, 409);
}

#[test]
fn an_idempotency_key_gives_back_the_first_run_and_refuses_another_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let refund = server.create(REFUND);
    let body = json!({ "graph_id": refund, "initial_state": { "order": "D", "amount": 10 }, "wait": true }).to_string();
    let key = [("Idempotency-Key", "order-D")];
    let (status, first) = server.post_text("/graph/run", "application/json", &body, &key);
    assert_eq!(status, 200, "{first}");
    let (status, again) = server.post_text("/graph/run", "application/json", &body, &key);
    assert_eq!((status, &again["run_id"]), (200, &first["run_id"]));
    let other = body.replace("\"D\"", "\"E\"");
    let (status, refused) = server.post_text("/graph/run", "application/json", &other, &key);
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("idempotency-conflict"))
    );
    let (_, listed) = server.get("/runs");
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1);

    // The keys are stored with their runs: a server killed and started again on the file
    // still knows them.
    server.kill();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let (status, again) = server.post_text("/graph/run", "application/json", &body, &key);
    assert_eq!(
        (status, &again["run_id"]),
        (200, &first["run_id"]),
        "{again}"
    );
    let (status, refused) = server.post_text("/graph/run", "application/json", &other, &key);
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("idempotency-conflict"))
    );
    let long = "k".repeat(256);
    let (status, refused) = server.post_text(
        "/graph/run",
        "application/json",
        &body,
        &[("Idempotency-Key", long.as_str())],
    );
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("bad-body")),
        "{refused}"
    );
    let (_, listed) = server.get("/runs");
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1);
}

/// Runs queued beyond the pool start in the order they came: each one's `run_started` time
/// is taken as it leaves the queue, so no later run's start reads earlier.
#[test]
fn queued_runs_start_in_the_order_they_came() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("flowc.db"),
        &["--max-concurrent-runs", "4"],
    );
    let refund = server.create(REFUND);
    let runs: Vec<u64> = (0..300)
        .map(|index| {
            server.start_run(
                &refund,
                &json!({ "order": format!("Q{index}"), "amount": 1 }),
            )
        })
        .collect();
    let started: Vec<String> = runs
        .iter()
        .map(|&run| {
            let view = server.wait_status(run, "completed");
            let first = &view["log"][0];
            assert_eq!(first["event"], "run_started", "{view}");
            sortable_time(first["started_at"].as_str().expect("a start time"))
        })
        .collect();
    let backwards: Vec<(u64, u64)> = runs
        .windows(2)
        .zip(started.windows(2))
        .filter(|(_, times)| times[1] < times[0])
        .map(|(ids, _)| (ids[0], ids[1]))
        .collect();
    assert!(
        backwards.is_empty(),
        "started before the run queued before them: {backwards:?}"
    );
}

/// An RFC 3339 UTC time (`2026-12-03T09:39:47.944419Z`) as text that sorts as the time does,
/// whatever digits of the second it shows.
fn sortable_time(time: &str) -> String {
    let time = time.trim_end_matches('Z');
    let (whole, fraction) = time.split_once('.').unwrap_or((time, ""));
    format!("{whole}.{fraction:0<9}")
}

#[test]
fn a_sync_run_that_outlasts_max_wait_is_answered_202_and_completes_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &["--max-wait", "150ms"]);
    let slow = server.create(SLOW);
    // Four rounds of a 100 ms backoff: the request, driving the run itself, hands it to the
    // pool after its last committed step once 150 ms have gone by.
    let (status, answer) = server.run(&slow, &json!({ "rounds": 4 }), true);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "running", "{answer}");
    let run = answer["run_id"].as_u64().unwrap();
    let view = server.wait_status(run, "completed");
    assert_eq!(view["state"]["n"], 4);
    assert_eq!(
        seqs(&view),
        (0..seqs(&view).len() as u64).collect::<Vec<_>>()
    );
    // Every round once, though the run changed hands in one of them.
    let log = view["log"].as_array().unwrap();
    let counted = log.iter().filter(|r| r["node"] == "count").count();
    assert_eq!(counted, 4, "{view}");
    assert_eq!(log.last().unwrap()["event"], "run_finished");
}

#[test]
fn a_sync_run_driven_by_its_request_is_cancelled_and_the_request_answers_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let slow = server.create(SLOW);
    let (status, answer) = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| server.run(&slow, &json!({ "rounds": 100 }), true));
        let (_, listed) = loop {
            let listed = server.get(&format!("/runs?graph_id={slow}&status=running"));
            if !listed.1["runs"].as_array().unwrap().is_empty() {
                break listed;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let run = listed["runs"][0]["run_id"].as_u64().unwrap();
        let (status, cancelled) = server.post(&format!("/graph/cancel/{run}"), &json!(null));
        assert_eq!(status, 200, "{cancelled}");
        waiting.join().unwrap()
    });
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "cancelled", "{answer}");
    assert!(answer["state"]["n"].as_u64().unwrap() < 100);
}
