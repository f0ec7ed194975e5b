//! Starting runs (`POST /graph/run`: queued, then driven on the pool, or, with `wait: true`
//! and a slot free, driven by the request itself; answered when done with `wait: true`), a
//! run as it is stored (`GET /graph/state/{id}`), and the list of runs.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::diagnostics::FileReport;
use crate::runtime::{Checkpoint, Run};
use crate::store::{
    IdempotencyKey, LoadedRun, MAX_PAGE, NewRun, Owner, RunFilter, RunId, RunRecord, RunStatus,
    RunStore, StoredEvent,
};

use super::error::ApiError;
use super::executor::{self, Begin, Job, RunLimits, Slot};
use super::request;
use super::shared_store::SharedStore;
use super::state::{App, AppState, Graph, blocking, graph_id, hash_of, stored_json};

/// The most log records a run's view holds (`log_complete` says whether that was all).
const MAX_LOG: usize = MAX_PAGE;

/// The most runs one `GET /runs` lists.
const MAX_LISTED: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    graph_id: String,
    #[serde(default)]
    initial_state: Option<Value>,
    #[serde(default)]
    wait: bool,
    #[serde(default)]
    max_steps: Option<u64>,
    /// Seconds, or a duration such as `"30s"`.
    #[serde(default)]
    timeout: Option<Value>,
}

/// `POST /graph/run`.
pub(crate) async fn start(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = request::body(body, app.config.max_body_bytes)?;
    let asked: RunBody = request::json(&body)?;
    let key = headers
        .get("idempotency-key")
        .map(idempotency_key)
        .transpose()?;
    let hash = hash_of(&asked.graph_id)?;
    let input = request::state(
        asked.initial_state,
        "initial_state",
        app.config.max_state_bytes,
    )?;
    let timeout = asked.timeout.as_ref().map(timeout).transpose()?;
    let limits = app.config.run_limits(asked.max_steps, timeout);
    let wait = asked.wait;
    // `None`: a wait too long for an `Instant` (any `--max-wait` is accepted), no deadline.
    let until = Instant::now().checked_add(app.config.max_wait);
    let known = Arc::new(OnceLock::new());
    let created = Arc::clone(&known);
    let asked = blocking(&app, move |app| {
        let mut here = None;
        let (run, _) = app.idempotent(key.as_deref(), &body, |keyed| {
            let (run, ready) = queue(app, &hash, &input, limits, keyed, wait)?;
            here = ready;
            Ok(run)
        })?;
        let _ = created.set(run);
        // Watched before the status is read, so no stop goes unseen. A run this request
        // drives has stopped, or been handed on at the deadline, when its drive returns.
        let stops = here.is_none().then(|| app.hub.watch_stops(run));
        let stopped = match here.map(|ready| drive_here(app, run, &hash, ready, until)) {
            Some(DrivenHere::Going(going, owner)) => {
                app.executor.submit(Job {
                    run,
                    hash,
                    begin: Begin::Ready(going),
                    limits,
                    owner,
                })?;
                None
            }
            Some(DrivenHere::Stopped) => Some(view(app, run)?),
            // Driven here means waited for: `here` is only ever asked for then.
            Some(DrivenHere::Unknown) => stopped_view(app, run)?,
            // Just queued, nearly always still so: a status read, not a replay, tells.
            None if wait && !is_going(status(app, run)?) => stopped_view(app, run)?,
            None => None,
        };
        Ok((run, stops, stopped))
    });
    let (run, mut stops, mut stopped) = tokio::select! {
        biased;
        asked = asked => asked?,
        // The server stops: a run this request drives is let go (it reads as interrupted),
        // and the request is answered now, not once the step or backoff under way ends.
        () = app.executor.stopped() => {
            let Some(&run) = known.get() else {
                return Err(ApiError::ShuttingDown);
            };
            let status = blocking(&app, move |app| status(app, run)).await?;
            return Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "run_id": run, "status": status })),
            ));
        }
    };
    if wait && let Some(stops) = stops.as_mut() {
        let until = until.map(tokio::time::Instant::from_std);
        // Woken only when the run stops being driven (its job ends, or the server stops),
        // not by each committed step; a run resumed meanwhile stops again later.
        while stopped.is_none() && !app.executor.is_stopping() {
            let changed = match until {
                Some(until) => tokio::time::timeout_at(until, stops.changed()).await,
                None => Ok(stops.changed().await),
            };
            match changed {
                Err(_) | Ok(Err(_)) => break,
                Ok(Ok(())) => {}
            }
            stopped = blocking(&app, move |app| stopped_view(app, run)).await?;
        }
    }
    if stops.is_some() {
        drop(stops);
        // Nobody else may listen to this run: its channels go with the last listener.
        app.hub.forget_if_unheard(run);
    }
    if let Some(view) = stopped {
        return Ok((StatusCode::OK, Json(view)));
    }
    let status = blocking(&app, move |app| status(app, run)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "run_id": run, "status": status })),
    ))
}

/// Whether a run is still to be driven: queued or running.
fn is_going(status: RunStatus) -> bool {
    matches!(status, RunStatus::Queued | RunStatus::Running)
}

/// The run's view once it is no longer queued or running (one read, in one hop to a
/// blocking thread: most wakes of a waiting request are the run's end); `None` before.
fn stopped_view(app: &AppState, run: RunId) -> Result<Option<Value>, ApiError> {
    let (loaded, events) = app.read(|store| store.load_with_log(run, MAX_LOG))?;
    if is_going(loaded.record.status) {
        return Ok(None);
    }
    view_of(app, run, loaded, &events).map(Some)
}

/// The longest `Idempotency-Key` kept (as Stripe's API allows): keys are stored with their run.
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

fn idempotency_key(value: &axum::http::HeaderValue) -> Result<String, ApiError> {
    let key = value.to_str().map_err(|_| ApiError::BadBody {
        reason: "the Idempotency-Key header is not text".into(),
    })?;
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(ApiError::BadBody {
            reason: format!(
                "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes, not {}",
                key.len()
            ),
        });
    }
    Ok(key.to_owned())
}

fn timeout(value: &Value) -> Result<Duration, ApiError> {
    let bad = || ApiError::BadField {
        field: "timeout",
        expected: "a number of seconds or a duration such as \"30s\"",
        found: crate::value::Kind::of_json(value).json_name(),
    };
    match value {
        Value::Number(number) => number
            .as_f64()
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .ok_or_else(bad),
        Value::String(text) => humantime::parse_duration(text).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// A new run for the request that made it to drive, in a slot of the pool.
struct Here<'a> {
    run: Box<Run>,
    owner: Owner,
    /// The handle it was made through (which knows what its next commit holds).
    store: SharedStore,
    slot: Slot<'a>,
}

/// How a run its request drove was left.
enum DrivenHere {
    /// Stopped in the store (completed, failed, cancelled or waiting).
    Stopped,
    /// Still going at the request's deadline: for the pool to drive on, as this owner.
    Going(Box<Run>, Owner),
    /// The drive failed (reported); the store says how the run was left.
    Unknown,
}

/// Drives a run made by this request (no hand-off to a worker, and no wake-up to learn it
/// stopped) until it stops or `until`; a run still going then is handed back with its
/// owner, to be queued, its slot given back first so that a worker may take it.
fn drive_here(
    app: &AppState,
    id: RunId,
    hash: &str,
    here: Here<'_>,
    until: Option<Instant>,
) -> DrivenHere {
    let Here {
        run,
        owner,
        mut store,
        slot,
    } = here;
    let cancel = app.executor.token(id);
    let driven = executor::drive(app, &mut store, id, hash, &owner, *run, &cancel, until);
    drop(slot);
    match driven {
        Ok(Some(going)) => DrivenHere::Going(going, owner),
        Ok(None) => {
            executor::let_go(app, id, true);
            DrivenHere::Stopped
        }
        Err(error) => {
            executor::report(id, &error);
            executor::let_go(app, id, false);
            DrivenHere::Unknown
        }
    }
}

/// Stores a new run of the graph and hands it to the executor, queued; or, when the
/// request waits for it and a slot is free with nobody queued, makes it `running` for the
/// request to drive itself (`Some`).
fn queue<'a>(
    app: &'a AppState,
    hash: &str,
    input: &Map<String, Value>,
    limits: RunLimits,
    idempotency: Option<IdempotencyKey<'_>>,
    wait: bool,
) -> Result<(RunId, Option<Here<'a>>), ApiError> {
    let graph = app.runnable(hash)?;
    let mut run = graph
        .interpreter
        .start(input.clone())
        .map_err(|error| ApiError::Input {
            report: input_report(&graph, error),
        })?;
    run.set_max_steps(limits.max_steps);
    run.set_timeout(limits.timeout);
    let checkpoint =
        serde_json::to_string(run.checkpoint()).map_err(|error| ApiError::Internal {
            reason: error.to_string(),
        })?;
    let owner = app.executor.owner();
    let slot = if wait { app.executor.free_slot() } else { None };
    let started_at = SystemTime::now();
    let mut store = app.store.clone();
    let id = store.create_run(
        &NewRun {
            flow_hash: hash,
            input,
            state: &run.state_json(),
            checkpoint: &checkpoint,
            started_at,
            status: if slot.is_some() {
                RunStatus::Running
            } else {
                RunStatus::Queued
            },
            idempotency,
        },
        &owner,
    )?;
    app.executor.reserve(id, &owner);
    if let Some(slot) = slot {
        run.set_id(id.to_string());
        run.set_started_at(started_at);
        return Ok((
            id,
            Some(Here {
                run: Box::new(run),
                owner,
                store,
                slot,
            }),
        ));
    }
    app.executor.submit(Job {
        run: id,
        hash: hash.to_owned(),
        begin: Begin::Queued,
        limits,
        owner,
    })?;
    Ok((id, None))
}

/// A run's error about its input, as `flowc check --format json` reports a file.
pub(crate) fn input_report(graph: &Graph, error: crate::RuntimeError) -> Value {
    let mut report = FileReport::new(graph.source.clone());
    report.push(error);
    report.to_json()
}

fn status(app: &AppState, run: RunId) -> Result<RunStatus, ApiError> {
    app.read(|store| store.run(run))?
        .map(|record| record.status)
        .ok_or(ApiError::RunNotFound { run })
}

/// `GET /graph/state/{run_id}`.
pub(crate) async fn state(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = request::path(path)?;
    let run = request::run_id(&id)?;
    blocking(&app, move |app| view(app, run)).await.map(Json)
}

/// A run as stored: status, the node it is at, state, log (the `--trace` records) and error.
pub(crate) fn view(app: &AppState, run: RunId) -> Result<Value, ApiError> {
    let (loaded, events) = app.read(|store| store.load_with_log(run, MAX_LOG))?;
    view_of(app, run, loaded, &events)
}

/// The view of a run loaded with (the first page of) its log.
fn view_of(
    app: &AppState,
    run: RunId,
    loaded: LoadedRun,
    events: &[StoredEvent],
) -> Result<Value, ApiError> {
    let graph = app.graph(&loaded.record.flow_hash)?;
    let interpreter = &graph.interpreter;
    let run_name = run.to_string();
    let log: Vec<Value> = events
        .iter()
        .map(|stored| {
            interpreter
                .decode(
                    stored.seq,
                    &stored.kind,
                    &stored.record,
                    stored.changes.as_deref(),
                    Some(&run_name),
                )
                .ok()
                .and_then(|event| serde_json::to_value(&event).ok())
                .unwrap_or_else(
                    || json!({ "seq": stored.seq, "type": stored.kind, "undecodable": true }),
                )
        })
        .collect();
    let node = serde_json::from_str::<Checkpoint>(&loaded.checkpoint)
        .ok()
        .and_then(|checkpoint| checkpoint.at)
        .and_then(|at| graph.program.nodes.get(usize::try_from(at).ok()?))
        .map(|node| node.name.clone());
    let mut view = summary(&loaded.record);
    if let Some(error) = loaded.record.error.as_deref() {
        view["error"] = diagnostic(&graph, &stored_json(error));
    }
    view["node"] = json!(node);
    view["state"] = Value::Object(loaded.state);
    view["log_complete"] = json!(events.len() < MAX_LOG);
    view["log"] = Value::Array(log);
    Ok(view)
}

/// A run's stored error (`{code, message, node}`) as a diagnostic of `flowc check --format
/// json`, its label on the node's name in the source.
fn diagnostic(graph: &Graph, error: &Value) -> Value {
    let text = &graph.source.text;
    let labels: Vec<Value> = error["node"]
        .as_str()
        .and_then(|name| graph.program.find(name))
        .map(|node| {
            let (line, column) = crate::span::line_column(text, node.span.start);
            let (end_line, end_column) = crate::span::line_column(text, node.span.end);
            json!({
                "message": "in this node",
                "primary": true,
                "offset": node.span.start,
                "length": node.span.len(),
                "line": line,
                "column": column,
                "end_line": end_line,
                "end_column": end_column,
            })
        })
        .into_iter()
        .collect();
    let code = error["code"].as_str().map(|code| format!("flow::{code}"));
    json!({
        "code": code,
        "severity": "error",
        "message": error["message"],
        "node": error["node"],
        "labels": labels,
    })
}

/// A run's row, as listed.
fn summary(record: &RunRecord) -> Value {
    let time = |at: SystemTime| humantime::format_rfc3339_millis(at).to_string();
    json!({
        "run_id": record.id,
        "graph_id": graph_id(&record.flow_hash),
        "name": record.flow_name,
        "status": record.status,
        "steps": record.steps,
        "created_at": time(record.created_at),
        "updated_at": time(record.updated_at),
        "finished_at": record.finished_at.map(time),
        "error": record.error.as_deref().map(stored_json),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    graph_id: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<RunId>,
}

/// `GET /runs?graph_id=&status=&limit=&cursor=`: newest first; `next_cursor` pages on.
pub(crate) async fn list(
    State(app): State<App>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let query = request::query(query)?;
    let status = query
        .status
        .as_deref()
        .map(str::parse::<RunStatus>)
        .transpose()
        .map_err(|error| ApiError::BadQuery {
            reason: error.to_string(),
        })?;
    let hash = query.graph_id.as_deref().map(hash_of).transpose()?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_LISTED);
    blocking(&app, move |app| {
        let flow = match &hash {
            Some(hash) => Some(app.graph(hash)?.program.name.clone()),
            None => None,
        };
        let mut runs = Vec::new();
        let mut before = query.cursor;
        // By name in the store, then by hash here (versions of a flow share its name).
        loop {
            let page = app.read(|store| {
                store.runs(&RunFilter {
                    status,
                    flow: flow.clone(),
                    limit,
                    before,
                })
            })?;
            let full = page.len() == limit;
            before = page.last().map(|record| record.id);
            runs.extend(
                page.into_iter()
                    .filter(|record| hash.as_ref().is_none_or(|hash| record.flow_hash == *hash)),
            );
            if runs.len() >= limit || !full {
                break;
            }
        }
        runs.truncate(limit);
        let next = (runs.len() == limit).then(|| runs.last().map(|record| record.id));
        Ok(Json(json!({
            "runs": runs.iter().map(summary).collect::<Vec<_>>(),
            "next_cursor": next.flatten(),
        })))
    })
    .await
}
