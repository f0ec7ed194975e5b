//! `GET /openapi.json` (the API described, `OpenAPI` 3.1), `GET /docs` (a static page that
//! needs no internet) and `GET /healthz`.

use std::fmt::Write as _;

use axum::Json;
use axum::response::Html;
use serde_json::{Value, json};

/// Every endpoint: method, path, what it does.
const ENDPOINTS: [(&str, &str, &str); 15] = [
    (
        "post",
        "/graph/create",
        "Check and store a flow (text/plain source or {\"source\"}); 201 {graph_id, name, version, warnings}, 422 with diagnostics",
    ),
    ("get", "/graphs", "List the stored graphs"),
    (
        "get",
        "/graphs/{id}",
        "A graph: source, description, nodes, tools, mermaid",
    ),
    (
        "delete",
        "/graphs/{id}",
        "Delete a graph and its finished runs (409 while a run may go on)",
    ),
    (
        "post",
        "/graph/run",
        "Start a run {graph_id, initial_state, wait, max_steps?, timeout?}; Idempotency-Key header",
    ),
    (
        "get",
        "/graph/state/{run_id}",
        "A run: status, node, state, log, error",
    ),
    (
        "post",
        "/graph/cancel/{run_id}",
        "Cancel a queued, running, waiting or interrupted run (idempotent)",
    ),
    (
        "post",
        "/graph/resume/{run_id}",
        "Resume a waiting run (optional JSON object body) or an interrupted one",
    ),
    (
        "get",
        "/runs",
        "List runs newest first: ?graph_id=&status=&limit=&cursor=",
    ),
    (
        "get",
        "/runs/{run_id}/events",
        "Server-sent events: the run's log, replayed then live, then its status; ?after=SEQ or Last-Event-ID",
    ),
    (
        "get",
        "/ws/logs/{run_id}",
        "WebSocket: the run's log, replayed then live, then its status; ?after=SEQ",
    ),
    ("get", "/tools", "The tools flows can use"),
    ("get", "/healthz", "Liveness"),
    ("get", "/openapi.json", "This description"),
    ("get", "/docs", "A page listing the endpoints"),
];

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

pub(crate) async fn spec() -> Json<Value> {
    let mut paths = serde_json::Map::new();
    for (method, path, summary) in ENDPOINTS {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method] = json!({
            "summary": summary,
            "responses": {
                "default": {
                    "description": "JSON; errors are {\"error\": {\"code\", \"message\", …}}",
                },
            },
        });
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "flowc", "version": env!("CARGO_PKG_VERSION") },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
    }))
}

pub(crate) async fn docs() -> Html<String> {
    let mut rows = String::new();
    for (method, path, summary) in ENDPOINTS {
        let _ = writeln!(
            rows,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            method.to_uppercase(),
            escape(path),
            escape(summary)
        );
    }
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>flowc API</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td{{padding:.2em .6em;vertical-align:top}}</style>\
         </head><body><h1>flowc API</h1><p>Every request carries <code>Authorization: Bearer TOKEN</code> \
         when the server has a token. The machine-readable description is at \
         <a href=\"/openapi.json\">/openapi.json</a>.</p><table>\n{rows}</table></body></html>\n"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
