//! Changing a run's course: `POST /graph/cancel/{id}` (idempotent; a queued, running,
//! waiting or interrupted run ends `cancelled`) and `POST /graph/resume/{id}` (a waiting run
//! gets its input, an interrupted one goes on from its last committed step; with
//! `?rerun=true`, a `needs-attention` one runs its `once` node again). A `needs-attention`
//! run is cancelled like any other: a person decides, and both are the way out of it.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::durable;
use crate::runtime::Run;
use crate::store::{Owner, RunId, RunStatus, RunStore, StoreError};

use super::error::ApiError;
use super::executor::{Begin, Job};
use super::hub::Live;
use super::request;
use super::runs::input_report;
use super::state::{App, AppState, blocking};

/// How long a cancel waits for a running run to stop at its next step.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// How long a resume waits for the job of a run that just stopped to end.
const JOB_ENDING: Duration = Duration::from_secs(2);

/// Claims a stored run for `owner` and makes it ready to drive (`input` to its `wait`).
pub(crate) fn take(
    app: &AppState,
    run: RunId,
    owner: &Owner,
    input: Option<serde_json::Map<String, Value>>,
) -> Result<Run, ApiError> {
    let record = app.store.run(run)?.ok_or(ApiError::RunNotFound { run })?;
    let graph = app.runnable(&record.flow_hash)?;
    let mut store = app.store.clone();
    durable::resume(&graph.interpreter, &mut store, owner, run, input)
        .map_err(|error| ApiError::durable(error, |error| input_report(&graph, error)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResumeQuery {
    /// The person checked that the `once` node's action did not happen.
    #[serde(default)]
    rerun: bool,
}

/// `POST /graph/resume/{run_id}` with an optional JSON object for a waiting run.
pub(crate) async fn resume(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ResumeQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request::path(path)?;
    let run = request::run_id(&id)?;
    let rerun = request::query(query)?.rerun;
    let body = request::body(body, app.config.max_body_bytes)?;
    let input: Option<Value> = request::json(&body)?;
    let input = match input {
        None | Some(Value::Null) => None,
        some => Some(request::state(some, "input", app.config.max_state_bytes)?),
    };
    blocking(&app, move |app| {
        let owner = app.executor.owner();
        // A job whose run just stopped lets it go a moment after the store says so.
        if !app.executor.reserve_within(run, &owner, JOB_ENDING) {
            return Err(ApiError::RunConflict {
                run,
                status: RunStatus::Running,
                reason: "it is being run",
            });
        }
        let record = match app.store.run(run) {
            Ok(Some(record)) => record,
            Ok(None) => {
                app.executor.unreserve(run);
                return Err(ApiError::RunNotFound { run });
            }
            Err(error) => {
                app.executor.unreserve(run);
                return Err(ApiError::from_store(error));
            }
        };
        if rerun
            && let Err(error) =
                durable::settle(&mut app.store.clone(), &owner, run, durable::Settle::Rerun)
        {
            app.executor.unreserve(run);
            return Err(ApiError::durable(error, |_| Value::Null));
        }
        let ready = match take(app, run, &owner, input) {
            Ok(ready) => ready,
            Err(error) => {
                app.executor.unreserve(run);
                return Err(error);
            }
        };
        app.executor.submit(Job {
            run,
            hash: record.flow_hash,
            begin: Begin::Ready(Box::new(ready)),
            limits: app.config.run_limits(None, None),
            owner,
        })?;
        Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "run_id": run, "status": RunStatus::Running })),
        ))
    })
    .await
}

/// `POST /graph/cancel/{run_id}`.
pub(crate) async fn cancel(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = request::path(path)?;
    let run = request::run_id(&id)?;
    blocking(&app, move |app| cancel_run(app, run).map(Json)).await
}

fn cancel_run(app: &AppState, run: RunId) -> Result<Value, ApiError> {
    let status = |app: &AppState| -> Result<RunStatus, ApiError> {
        app.store
            .run(run)?
            .map(|record| record.status)
            .ok_or(ApiError::RunNotFound { run })
    };
    let found = status(app)?;
    if found.is_final() {
        return Ok(json!({ "run_id": run, "status": found }));
    }
    // A job that holds the run stops it at its next step, committing `cancelled`.
    let held = app.executor.cancel(run);
    if found != RunStatus::Running {
        // Nobody steps it: it is cancelled here, in the store.
        let owner = app.executor.owner();
        match durable::cancel(&mut app.store.clone(), &owner, run) {
            Ok(RunStatus::Cancelled) => {
                app.hub.publish(run, Live::Stopped);
                return Ok(json!({ "run_id": run, "status": RunStatus::Cancelled }));
            }
            // A job took it meanwhile (and was told to stop), or it just finished.
            Ok(_) | Err(durable::DurableError::Store(StoreError::OwnedByLiveProcess { .. })) => {}
            Err(error) => return Err(ApiError::durable(error, |_| Value::Null)),
        }
    } else if !held {
        return Err(ApiError::RunConflict {
            run,
            status: found,
            reason: "another process runs it",
        });
    }
    let until = Instant::now() + CANCEL_WAIT;
    loop {
        let now = status(app)?;
        if !matches!(now, RunStatus::Running | RunStatus::Queued) || Instant::now() >= until {
            return Ok(json!({ "run_id": run, "status": now }));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
