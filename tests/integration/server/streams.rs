//! Streams (WebSocket and SSE): a subscriber joining mid-run, leaving and coming back with
//! `after` (or `Last-Event-ID`) gets every event once, in order, then one status message.

use serde_json::{Value, json};

use super::client::{SLOW, Server, next_message};

/// The seqs a finished run stored.
fn stored_seqs(server: &Server, run: u64) -> Vec<u64> {
    let view = server.state(run);
    view["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect()
}

/// Takes one connection's messages: its events' seqs, whether `replay_end` came, and the
/// status message it ended with (if it got that far).
struct Taken {
    seqs: Vec<u64>,
    replay_ends: usize,
    status: Option<Value>,
}

fn take(messages: impl Iterator<Item = Value>, stop_after: Option<usize>) -> Taken {
    let mut taken = Taken {
        seqs: Vec::new(),
        replay_ends: 0,
        status: None,
    };
    for message in messages {
        assert!(
            taken.status.is_none(),
            "a message after the status: {message}"
        );
        match message["type"].as_str().unwrap() {
            "event" => {
                assert_eq!(message["seq"], message["record"]["seq"]);
                taken.seqs.push(message["seq"].as_u64().unwrap());
                if stop_after.is_some_and(|n| taken.seqs.len() >= n) {
                    break;
                }
            }
            "replay_end" => taken.replay_ends += 1,
            "status" => taken.status = Some(message["status"].clone()),
            other => panic!("unknown message {other}"),
        }
    }
    taken
}

#[test]
fn a_websocket_joining_mid_run_and_reconnecting_gets_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let slow = server.create(SLOW);
    let run = server.start_run(&slow, &json!({ "rounds": 12 }));
    server.wait_for(run, |view| view["steps"].as_u64().unwrap() >= 3);

    let mut socket = server.websocket(&format!("/ws/logs/{run}")).unwrap();
    let first = take(std::iter::from_fn(|| next_message(&mut socket)), Some(8));
    drop(socket);
    assert_eq!(first.replay_ends, 1, "joined mid-run: replayed, then live");
    let last = *first.seqs.last().unwrap();
    let mut socket = server
        .websocket(&format!("/ws/logs/{run}?after={last}"))
        .unwrap();
    let rest = take(std::iter::from_fn(|| next_message(&mut socket)), None);
    assert_eq!(rest.status, Some(json!("completed")));
    assert_eq!(rest.replay_ends, 1);
    assert!(
        next_message(&mut socket).is_none(),
        "closed after the status"
    );

    let mut all = first.seqs;
    all.extend(rest.seqs);
    assert_eq!(all, stored_seqs(&server, run));
    assert_eq!(all, (0..all.len() as u64).collect::<Vec<_>>());

    // A finished run: the whole log, the marker, the status.
    let mut socket = server.websocket(&format!("/ws/logs/{run}")).unwrap();
    let replay = take(std::iter::from_fn(|| next_message(&mut socket)), None);
    assert_eq!(replay.seqs, all);
    assert_eq!(
        (replay.replay_ends, replay.status),
        (1, Some(json!("completed")))
    );
}

#[test]
fn an_sse_subscriber_resumes_with_last_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let slow = server.create(SLOW);
    let run = server.start_run(&slow, &json!({ "rounds": 10 }));
    server.wait_for(run, |view| view["steps"].as_u64().unwrap() >= 2);

    let path = format!("/runs/{run}/events");
    let mut ids = Vec::new();
    let first = take(
        server.sse(&path, None).map(|(id, data)| {
            if data["type"] == "event" {
                ids.push(id.unwrap());
            }
            data
        }),
        Some(6),
    );
    assert_eq!(ids, first.seqs, "each event's id is its seq");
    let last = *first.seqs.last().unwrap();
    let rest = take(server.sse(&path, Some(last)).map(|(_, data)| data), None);
    assert_eq!(rest.status, Some(json!("completed")));
    let mut all = first.seqs;
    all.extend(rest.seqs);
    assert_eq!(all, stored_seqs(&server, run));
    assert_eq!(all, (0..all.len() as u64).collect::<Vec<_>>());
    // `?after=` does the same.
    let tail = take(
        server
            .sse(&format!("{path}?after={last}"), None)
            .map(|(_, data)| data),
        None,
    );
    assert_eq!(
        tail.seqs,
        all[all.iter().position(|s| *s == last).unwrap() + 1..]
    );
}

/// Many events of some 8 KB each: more than the live channel, the client's buffer and the
/// socket's together.
const FAST: &str = "flow fast {
    state { n: int = 0, rounds: int = 2000, base: string = \"\", tag: string = \"\" }
    node count { n += 1; tag = `${n}-${base}`; }
    start -> count
    count -> count when n < rounds
    count -> end
}
";

#[test]
fn a_client_that_reads_nothing_does_not_slow_the_run_and_catches_up_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let fast = server.create(FAST);
    let run = server.start_run(&fast, &json!({ "base": "x".repeat(8000) }));
    let mut socket = server.websocket(&format!("/ws/logs/{run}")).unwrap();
    // The run ends while its subscriber reads nothing.
    server.wait_status(run, "completed");
    let all = take(std::iter::from_fn(|| next_message(&mut socket)), None);
    assert_eq!(all.status, Some(json!("completed")));
    assert_eq!(all.seqs.len(), 2002);
    assert_eq!(all.seqs, stored_seqs(&server, run));
    assert_eq!(all.seqs, (0..all.seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_stream_follows_a_run_that_another_process_drives() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flowc.db");
    let server = Server::start(&db, &[]);
    std::fs::write(dir.path().join("slow.flow"), SLOW).unwrap();
    let mut cli = super::client::flowc()
        .args([
            "run",
            "slow.flow",
            "--db",
            "flowc.db",
            "--set",
            "rounds=6",
            "-q",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The CLI's run is run 1 of the same store.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.get("/graph/state/1").0 != 200 {
        assert!(
            std::time::Instant::now() < until,
            "the CLI's run never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut socket = server.websocket("/ws/logs/1").unwrap();
    let all = take(std::iter::from_fn(|| next_message(&mut socket)), None);
    assert!(cli.wait().unwrap().success());
    assert_eq!(all.status, Some(json!("completed")));
    assert_eq!(all.seqs, stored_seqs(&server, 1));
    assert_eq!(all.seqs, (0..all.seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_hundred_websocket_subscribers_each_get_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let slow = server.create(SLOW);
    let run = server.start_run(&slow, &json!({ "rounds": 8 }));
    // They join while the run goes (each at its own moment), so replay and live both count.
    let taken: Vec<Taken> = std::thread::scope(|scope| {
        let subscribers: Vec<_> = (0..100)
            .map(|_| {
                scope.spawn(|| {
                    let mut socket = server.websocket(&format!("/ws/logs/{run}")).unwrap();
                    take(std::iter::from_fn(|| next_message(&mut socket)), None)
                })
            })
            .collect();
        subscribers
            .into_iter()
            .map(|subscriber| subscriber.join().unwrap())
            .collect()
    });
    let stored = stored_seqs(&server, run);
    assert!(stored.len() > 15, "{stored:?}");
    for (subscriber, taken) in taken.iter().enumerate() {
        assert_eq!(taken.seqs, stored, "subscriber {subscriber}");
        assert_eq!(taken.replay_ends, 1, "subscriber {subscriber}");
        assert_eq!(
            taken.status,
            Some(json!("completed")),
            "subscriber {subscriber}"
        );
    }
}
