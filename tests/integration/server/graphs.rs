//! Graphs: created (idempotent), refused with diagnostics, listed, shown, deleted.

use serde_json::json;

use super::client::{REFUND, Server};

#[test]
fn graphs_are_created_once_listed_shown_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let (status, created) = server.post_text("/graph/create", "text/plain", REFUND, &[]);
    assert_eq!(status, 201, "{created}");
    let id = created["graph_id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "refund");
    assert_eq!(created["version"], format!("sha256:{id}"));
    assert_eq!(created["warnings"], json!([]));
    // The same source is the same graph, as text or as JSON.
    let (status, again) = server.post("/graph/create", &json!({ "source": REFUND }));
    assert_eq!((status, &again["graph_id"]), (201, &created["graph_id"]));

    let (status, listed) = server.get("/graphs");
    assert_eq!(status, 200);
    assert_eq!(listed["graphs"].as_array().unwrap().len(), 1);
    assert_eq!(listed["graphs"][0]["graph_id"], id.as_str());

    let (status, shown) = server.get(&format!("/graphs/{id}"));
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["source"], REFUND);
    assert!(
        shown["description"]
            .as_str()
            .unwrap()
            .starts_with("Refunds an order")
    );
    assert!(shown["mermaid"].as_str().unwrap().contains("approve"));
    let nodes: Vec<_> = shown["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(
        nodes.contains(&"pay") && nodes.contains(&"approve"),
        "{nodes:?}"
    );
    assert_eq!(shown["tools"], json!(["wait"]));

    // A graph with a run that may still go on is kept.
    let (status, waiting) = server.run(&id, &json!({ "order": "A1", "amount": 500 }), true);
    assert_eq!((status, waiting["status"].as_str()), (200, Some("waiting")));
    let (status, refused) = server.delete(&format!("/graphs/{id}"));
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("graph-in-use"))
    );
    let run = waiting["run_id"].as_u64().unwrap();
    let (status, _) = server.post(&format!("/graph/cancel/{run}"), &json!(null));
    assert_eq!(status, 200);
    let (status, deleted) = server.delete(&format!("/graphs/{id}"));
    assert_eq!(
        (status, &deleted["runs_deleted"]),
        (200, &json!(1)),
        "{deleted}"
    );
    let (status, gone) = server.get(&format!("/graphs/{id}"));
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (404, Some("graph-not-found"))
    );
    let (status, _) = server.get(&format!("/graph/state/{run}"));
    assert_eq!(status, 404);
}

#[test]
fn a_broken_flow_and_an_exec_flow_are_refused_with_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let (status, broken) = server.post_text(
        "/graph/create",
        "text/plain",
        "flow f {\n    start -> nowhere\n}\n",
        &[],
    );
    assert_eq!(status, 422, "{broken}");
    assert_eq!(broken["error"]["code"], "compile-error");
    let report = &broken["error"]["report"];
    assert_eq!(report["errors"], 1);
    assert_eq!(report["diagnostics"][0]["code"], "flow::undefined-node");
    assert_eq!(report["diagnostics"][0]["labels"][0]["line"], 2);

    let exec = "flow f {\n    node run_it = exec(cmd: \"true\")\n    start -> run_it\n}\n";
    let (status, refused) = server.post_text("/graph/create", "text/plain", exec, &[]);
    assert_eq!(status, 422, "{refused}");
    let diagnostic = &refused["error"]["report"]["diagnostics"][0];
    assert_eq!(diagnostic["code"], "flow::exec-not-allowed");
    assert_eq!(diagnostic["labels"][0]["line"], 2);
    let (_, tools) = server.get("/tools");
    let names: Vec<_> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"exec") && names.contains(&"wait"),
        "{names:?}"
    );
    let (_, listed) = server.get("/graphs");
    assert_eq!(listed["graphs"], json!([]));
    drop(server);

    // With --allow-exec, the same flow is a graph that runs.
    let server = Server::start(&dir.path().join("flowc.db"), &["--allow-exec"]);
    let (status, created) = server.post_text("/graph/create", "text/plain", exec, &[]);
    assert_eq!(status, 201, "{created}");
    let (_, tools) = server.get("/tools");
    assert!(
        tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "exec")
    );
}

#[test]
fn health_openapi_and_docs_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    assert_eq!(server.get("/healthz").1["status"], "ok");
    let (status, spec) = server.get("/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/graph/run"]["post"].is_object());
    let (status, page) = server.get_raw("/docs", &[]);
    assert_eq!(status, 200);
    assert!(page.contains("/graph/state/{run_id}"));
}

#[test]
fn a_store_in_memory_serves_runs_and_their_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), ":memory:".as_ref(), &[]);
    let graph = server.create(REFUND);
    let (status, done) = server.run(&graph, &json!({ "order": "M", "amount": 1 }), true);
    assert_eq!(
        (status, &done["status"]),
        (200, &json!("completed")),
        "{done}"
    );
    let run = done["run_id"].as_u64().unwrap();
    let mut socket = server.websocket(&format!("/ws/logs/{run}")).unwrap();
    let mut last = None;
    while let Some(message) = super::client::next_message(&mut socket) {
        last = Some(message);
    }
    assert_eq!(
        last.unwrap(),
        json!({ "type": "status", "status": "completed" })
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no file is written"
    );
}
