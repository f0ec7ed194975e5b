//! Graphs: flows checked and stored by their program hash (`graph_id` is the hash's hex
//! digits), listed, shown with their nodes and Mermaid drawing, and deleted; and the tools
//! a flow can use.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SourceFile;
use crate::compile::ir::{NodeKind, Program};
use crate::store::{FlowDeleted, FlowRecord, RunStore};

use super::error::ApiError;
use super::request;
use super::state::{App, Graph, blocking, graph_id, hash_of};

/// The name a submitted source has in its diagnostics.
const SUBMITTED: &str = "graph.flow";

/// The most graphs `GET /graphs` lists.
const MAX_LISTED: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    source: String,
}

/// `POST /graph/create`: the source as text, or `{"source": …}`.
pub(crate) async fn create(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = request::body(body, app.config.max_body_bytes)?;
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let source = if is_json {
        request::json::<CreateBody>(&body)?.source
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| ApiError::BadBody {
            reason: "the source is not UTF-8".into(),
        })?
    };
    if source.len() > app.config.max_source_bytes {
        return Err(ApiError::SourceTooLarge {
            limit: app.config.max_source_bytes,
        });
    }
    let created = blocking(&app, move |app| {
        let (graph, report) = app.compile(SourceFile::new(SUBMITTED, source))?;
        let program = &graph.program;
        let mut store = app.store.clone();
        store.save_flow(&FlowRecord {
            hash: program.hash.clone(),
            name: program.name.clone(),
            source: graph.source.text.to_string(),
            path: None,
        })?;
        app.remember(&program.hash, &graph);
        Ok(json!({
            "graph_id": graph_id(&program.hash),
            "name": program.name,
            "version": program.hash,
            "warnings": report.to_json()["diagnostics"],
        }))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /graphs`: the stored graphs, newest first.
pub(crate) async fn list(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let flows = blocking(&app, |app| app.read(|store| store.flows(MAX_LISTED))).await?;
    let graphs: Vec<Value> = flows
        .iter()
        .map(|flow| {
            json!({
                "graph_id": graph_id(&flow.hash),
                "name": flow.name,
                "version": flow.hash,
                "created_at": humantime::format_rfc3339_millis(flow.created_at).to_string(),
            })
        })
        .collect();
    Ok(Json(json!({ "graphs": graphs })))
}

/// `GET /graphs/{id}`: the source, description, nodes, tools and Mermaid drawing.
pub(crate) async fn show(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = request::path(path)?;
    let hash = hash_of(&id)?;
    let graph = blocking(&app, move |app| app.graph(&hash)).await?;
    Ok(Json(describe(&graph)))
}

fn describe(graph: &Graph) -> Value {
    let program: &Program = &graph.program;
    let nodes: Vec<Value> = program
        .nodes
        .iter()
        .map(|node| {
            let (kind, tool) = match &node.kind {
                NodeKind::Tool { tool, .. } => ("tool", Some(tool.as_str())),
                NodeKind::Script { .. } => ("script", None),
                NodeKind::Wait { .. } => ("wait", None),
                NodeKind::Junction => ("junction", None),
                NodeKind::Loop(_) => ("loop", None),
            };
            json!({ "name": node.name, "type": kind, "tool": tool, "doc": node.doc, "once": node.once })
        })
        .collect();
    let mut tools: Vec<&str> = program
        .nodes
        .iter()
        .filter_map(|node| match &node.kind {
            NodeKind::Tool { tool, .. } => Some(tool.as_str()),
            NodeKind::Wait { .. } => Some(crate::tools::WAIT_TOOL),
            _ => None,
        })
        .collect();
    tools.sort_unstable();
    tools.dedup();
    json!({
        "graph_id": graph_id(&program.hash),
        "name": program.name,
        "version": program.hash,
        "description": program.doc,
        "source": graph.source.text.as_ref(),
        "nodes": nodes,
        "tools": tools,
        "mermaid": crate::graph::mermaid(program),
    })
}

/// `DELETE /graphs/{id}`: the graph and its finished runs; refused while a run may go on.
pub(crate) async fn remove(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = request::path(path)?;
    let hash = hash_of(&id)?;
    blocking(&app, move |app| {
        let deleted = app.store.lock().delete_flow(&hash)?;
        match deleted {
            FlowDeleted::Deleted { runs } => {
                app.forget(&hash);
                Ok(Json(
                    json!({ "graph_id": id, "deleted": true, "runs_deleted": runs }),
                ))
            }
            FlowDeleted::NotFound => Err(ApiError::GraphNotFound { id }),
            FlowDeleted::InUse { runs } => Err(ApiError::GraphInUse { id, runs }),
        }
    })
    .await
}

/// `GET /tools`: the tools flows on this server can use.
pub(crate) async fn tools(State(app): State<App>) -> Json<Value> {
    let tools: Vec<Value> = app
        .registry
        .iter()
        .filter(|tool| app.config.allow_exec || tool.name != "exec")
        .map(|tool| {
            json!({
                "name": tool.name,
                "signature": tool.signature(),
                "description": tool.description,
                "args": tool.args,
            })
        })
        .collect();
    Json(json!({ "tools": tools }))
}
