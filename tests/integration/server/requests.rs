//! The token and bad input: every refusal is a 4xx with a JSON error body, never a 5xx.

use serde_json::{Value, json};

use super::client::{REFUND, Server, flowc, free_port};

fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {body}"))
}

#[test]
fn every_endpoint_and_stream_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &["--token", "s3cret"]);
    for path in [
        "/healthz",
        "/graphs",
        "/runs",
        "/graph/state/1",
        "/runs/1/events",
        "/docs",
    ] {
        let (status, body) = server.get_raw(path, &[]);
        assert_eq!(status, 401, "{path}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(code(&body), "unauthorized");
        let (status, _) = server.get_raw(path, &[("Authorization", "Bearer wrong")]);
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = server.get_raw("/healthz", &[("Authorization", "Bearer s3cret")]);
    assert_eq!(status, 200);
    let graph = server.create(REFUND);
    let (_, done) = server.run(&graph, &json!({ "order": "T", "amount": 1 }), true);
    let run = done["run_id"].as_u64().unwrap();
    let error =
        tungstenite::connect(format!("ws://127.0.0.1:{}/ws/logs/{run}", server.port)).unwrap_err();
    assert!(
        matches!(&error, tungstenite::Error::Http(response) if response.status() == 401),
        "{error}"
    );
    assert!(server.websocket(&format!("/ws/logs/{run}")).is_ok());
}

#[test]
fn another_address_than_loopback_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("0.0.0.0:{}", free_port());
    let out = flowc()
        .args(["serve", "--addr", &addr, "--db"])
        .arg(dir.path().join("flowc.db"))
        .env_remove("FLOWC_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without a token"));
}

#[test]
fn bad_requests_are_4xx_with_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let graph = server.create(REFUND);
    let json_type = "application/json";
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/graph/run", "{not json".into(), 400, "bad-json"),
        (
            "/graph/run",
            json!({ "graph_id": 5 }).to_string(),
            400,
            "bad-json",
        ),
        (
            "/graph/run",
            json!({ "graph_id": graph, "wait": "yes" }).to_string(),
            400,
            "bad-json",
        ),
        (
            "/graph/run",
            json!({ "graph_id": graph, "surprise": 1 }).to_string(),
            400,
            "bad-json",
        ),
        (
            "/graph/run",
            json!({ "graph_id": graph, "initial_state": [1, 2] }).to_string(),
            400,
            "bad-field",
        ),
        (
            "/graph/run",
            json!({ "graph_id": graph, "timeout": "soon" }).to_string(),
            400,
            "bad-field",
        ),
        (
            "/graph/run",
            json!({ "graph_id": "0".repeat(64) }).to_string(),
            404,
            "graph-not-found",
        ),
        (
            "/graph/run",
            json!({ "graph_id": "../etc" }).to_string(),
            404,
            "graph-not-found",
        ),
        (
            "/graph/create",
            json!({ "source": 7 }).to_string(),
            400,
            "bad-json",
        ),
        (
            "/graph/create",
            json!({ "source": "x".repeat(1_100_000) }).to_string(),
            413,
            "too-large",
        ),
        (
            "/graph/run",
            json!({ "graph_id": graph, "initial_state": { "order": "x".repeat(1_100_000) } })
                .to_string(),
            413,
            "too-large",
        ),
        ("/graph/resume/1", "[1]".into(), 400, "bad-field"),
        ("/graph/resume/abc", "null".into(), 404, "run-not-found"),
        ("/graph/resume/42", "null".into(), 404, "run-not-found"),
        ("/graph/cancel/-1", String::new(), 404, "run-not-found"),
    ];
    for (path, body, status, expected) in cases {
        let (got, answer) = server.post_text(path, json_type, &body, &[]);
        assert_eq!(
            (got, code(&answer)),
            (status, expected),
            "{path} {}",
            &body[..body.len().min(80)]
        );
    }
    for (path, status, expected) in [
        ("/graph/state/999", 404, "run-not-found"),
        ("/graph/state/x", 404, "run-not-found"),
        ("/graphs/zzz", 404, "graph-not-found"),
        ("/runs?status=done", 400, "bad-query"),
        ("/runs?limit=many", 400, "bad-query"),
        ("/runs/999/events", 404, "run-not-found"),
        ("/runs/1/events?after=x", 400, "bad-query"),
        ("/graph/state/%FF", 400, "bad-query"),
        ("/ws/logs/1", 400, "not-websocket"),
        ("/nowhere", 404, "not-found"),
        ("/graph/create", 405, "method-not-allowed"),
    ] {
        let (got, answer) = server.get(path);
        assert_eq!((got, code(&answer)), (status, expected), "{path}");
    }
    let (status, answer) = server.post_text("/graph/create", "text/plain", "\u{0}\u{ffff}", &[]);
    assert_eq!((status, code(&answer)), (422, "compile-error"));
    // The server is still fine.
    assert_eq!(server.get("/healthz").0, 200);
}
