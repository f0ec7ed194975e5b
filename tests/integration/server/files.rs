//! A client's state names the files tools use: without `--allow-path` a server lets tools use
//! none, with it only those under the allowed folders, and never the server's own store.

use serde_json::{Value, json};

use super::client::Server;

const REPAIR: &str = "flow repair {
    state { dataset: string, output: string = \"clean.csv\" }
    node detect = dq.detect_anomalies
    node generate = dq.generate_rules
    node apply = dq.apply_rules
    start -> detect -> generate -> apply -> end
}
";

/// The failed run's error message (the run must have failed in a tool).
fn tool_failure(server: &Server, graph: &str, state: &Value) -> String {
    let (status, run) = server.run(graph, state, true);
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "flow::tool-failed", "{run}");
    run["error"]["message"].as_str().unwrap().to_owned()
}

#[test]
fn without_allow_path_tools_use_no_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "name\nAnn\n").unwrap();
    let server = Server::start(&dir.path().join("flowc.db"), &[]);
    let graph = server.create(REPAIR);
    let message = tool_failure(&server, &graph, &json!({ "dataset": "in.csv" }));
    assert!(message.contains("none is allowed here"), "{message}");
    let message = tool_failure(&server, &graph, &json!({ "dataset": "/etc/hostname" }));
    assert!(message.contains("none is allowed here"), "{message}");
}

#[test]
fn with_allow_path_tools_use_that_folder_and_never_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("in.csv"), "name\n Ann\nann\n").unwrap();
    std::fs::write(dir.path().join("secret.csv"), "name\nkeep\n").unwrap();
    // The store is inside the allowed folder, so only its protection keeps it safe.
    let server = Server::start(
        &data.join("flowc.db"),
        &["--allow-path", data.to_str().unwrap()],
    );
    let graph = server.create(REPAIR);

    let (status, done) = server.run(&graph, &json!({ "dataset": "in.csv" }), true);
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["state"]["dataset"], "clean.csv");
    assert!(data.join("clean.csv").is_file());

    let message = tool_failure(&server, &graph, &json!({ "dataset": "../secret.csv" }));
    assert!(
        message.contains("is outside the folders tools may use"),
        "{message}"
    );
    for store in ["flowc.db", "flowc.db-wal"] {
        let message = tool_failure(
            &server,
            &graph,
            &json!({ "dataset": "in.csv", "output": store }),
        );
        assert!(message.contains("is the server's run store"), "{message}");
    }
    // The store still works: the runs above are all there.
    let (_, runs) = server.get(&format!("/runs?graph_id={graph}"));
    assert_eq!(runs["runs"].as_array().unwrap().len(), 4, "{runs}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("secret.csv")).unwrap(),
        "name\nkeep\n"
    );
}
