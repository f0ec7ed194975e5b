//! A run's log as a stream, over WebSocket (`GET /ws/logs/{id}`) or server-sent events
//! (`GET /runs/{id}/events`): every event stored so far (from the store), a `replay_end`
//! marker, each new event live, then exactly one `status` message, and the end.
//!
//! Every event once, in order, whenever one joins: the subscriber joins the live channel
//! *before* it reads the store, and skips live events it already replayed (seq ≤ the last
//! one sent). Live events come after their commit, so the store has each one sent live; a
//! subscriber that falls behind (lagged) reads what it missed from the store, so a slow
//! client never slows the run. `?after=SEQ` (or SSE's `Last-Event-ID`) starts after a seq.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::runtime::Interpreter;
use crate::store::{MAX_PAGE, RunId, RunStatus, RunStore, StoredEvent};

use super::error::ApiError;
use super::hub::Live;
use super::request;
use super::state::{App, AppState, blocking};

/// Messages buffered for one client before the producer waits for it (it reads the store
/// meanwhile, never holding up the run).
const CLIENT_BUFFER: usize = 256;

/// How long a stream waits for a live message before it reads the store anyway.
const QUIET: std::time::Duration = std::time::Duration::from_secs(1);

/// Events read from the store at a time.
const PAGE: usize = 1000;

/// One message of a stream.
enum Out {
    Event { seq: u64, record: Value },
    ReplayEnd,
    Status(RunStatus),
}

impl Out {
    fn json(&self) -> Value {
        match self {
            Out::Event { seq, record } => json!({ "type": "event", "seq": seq, "record": record }),
            Out::ReplayEnd => json!({ "type": "replay_end" }),
            Out::Status(status) => json!({ "type": "status", "status": status }),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    after: Option<u64>,
}

/// Reads a run's stored events and turns them into messages.
struct Reader {
    run: RunId,
    interpreter: Arc<Interpreter>,
}

impl Reader {
    fn open(app: &AppState, run: RunId) -> Result<Self, ApiError> {
        let record = app
            .read(|store| store.run(run))?
            .ok_or(ApiError::RunNotFound { run })?;
        let graph = app.graph(&record.flow_hash)?;
        Ok(Reader {
            run,
            interpreter: graph.interpreter,
        })
    }

    fn message(&self, stored: &StoredEvent) -> Out {
        let record = self
            .interpreter
            .decode(
                stored.seq,
                &stored.kind,
                &stored.record,
                stored.changes.as_deref(),
                Some(&self.run.to_string()),
            )
            .ok()
            .and_then(|event| serde_json::to_value(&event).ok())
            .unwrap_or_else(
                || json!({ "seq": stored.seq, "event": stored.kind, "undecodable": true }),
            );
        Out::Event {
            seq: stored.seq,
            record,
        }
    }
}

/// Sends the stored events from seq `*next` on, advancing it; `false` when the client is
/// gone.
async fn catch_up(
    app: &App,
    reader: &Arc<Reader>,
    next: &mut u64,
    out: &mpsc::Sender<Out>,
) -> Result<bool, ApiError> {
    loop {
        let after = next.checked_sub(1);
        let page_reader = Arc::clone(reader);
        let page = blocking(app, move |app| {
            let events =
                app.read(|store| store.events(page_reader.run, after, PAGE.min(MAX_PAGE)))?;
            Ok(events
                .iter()
                .map(|stored| page_reader.message(stored))
                .collect::<Vec<_>>())
        })
        .await?;
        let full = page.len() == PAGE;
        for message in page {
            if let Out::Event { seq, .. } = &message {
                *next = seq + 1;
            }
            if out.send(message).await.is_err() {
                return Ok(false);
            }
        }
        if !full {
            return Ok(true);
        }
    }
}

/// Feeds `out` with the run's stream; ends when the run stops or the client goes.
async fn produce(app: App, reader: Arc<Reader>, after: Option<u64>, out: mpsc::Sender<Out>) {
    let run = reader.run;
    let mut live = app.hub.subscribe(run);
    // The first event's seq is 0.
    let mut next = after.map_or(0, |after| after.saturating_add(1));
    let ended = async {
        if !catch_up(&app, &reader, &mut next, &out).await?
            || out.send(Out::ReplayEnd).await.is_err()
        {
            return Ok(());
        }
        let mut status = status_of(&app, run).await?;
        while matches!(status, RunStatus::Queued | RunStatus::Running) {
            let Ok(received) = tokio::time::timeout(QUIET, live.recv()).await else {
                // Quiet for a while: a run driven by another process on this store sends
                // nothing live, so the store is read.
                if !catch_up(&app, &reader, &mut next, &out).await? {
                    return Ok(());
                }
                status = status_of(&app, run).await?;
                continue;
            };
            match received {
                Ok(Live::Event(event)) if event.seq == next => {
                    next = event.seq + 1;
                    if out.send(reader.message(&event)).await.is_err() {
                        return Ok(());
                    }
                }
                // Already sent, or after a gap the store fills.
                Ok(Live::Event(event)) if event.seq < next => {}
                Ok(Live::Event(_)) | Err(RecvError::Lagged(_)) => {
                    if !catch_up(&app, &reader, &mut next, &out).await? {
                        return Ok(());
                    }
                }
                Ok(Live::Stopped) | Err(RecvError::Closed) => {
                    status = status_of(&app, run).await?;
                    if app.executor.is_stopping() {
                        // The server stops: the run is as it is (queued runs stay queued).
                        break;
                    }
                    if matches!(status, RunStatus::Queued | RunStatus::Running) {
                        live = app.hub.subscribe(run);
                    }
                }
            }
        }
        if catch_up(&app, &reader, &mut next, &out).await? {
            let _ = out.send(Out::Status(status)).await;
        }
        Ok::<(), ApiError>(())
    };
    if let Err(error) = ended.await {
        report(run, &error);
    }
    drop(live);
    app.hub.forget_if_unheard(run);
}

async fn status_of(app: &App, run: RunId) -> Result<RunStatus, ApiError> {
    blocking(app, move |app| {
        app.read(|store| store.run(run))?
            .map(|record| record.status)
            .ok_or(ApiError::RunNotFound { run })
    })
    .await
}

#[allow(clippy::print_stderr)]
fn report(run: RunId, error: &ApiError) {
    eprintln!("flowc serve: the stream of run {run} stopped: {error}");
}

/// Counts an open stream while it lives.
struct Open(App);

impl Open {
    fn new(app: &App) -> Self {
        app.streams.fetch_add(1, Ordering::AcqRel);
        Open(Arc::clone(app))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Checks the run, then starts its producer.
async fn open(
    app: &App,
    id: &str,
    after: Option<u64>,
) -> Result<(mpsc::Receiver<Out>, Open), ApiError> {
    let run = request::run_id(id)?;
    let reader = Arc::new(blocking(app, move |app| Reader::open(app, run)).await?);
    let (out, messages) = mpsc::channel(CLIENT_BUFFER);
    tokio::spawn(produce(Arc::clone(app), reader, after, out));
    Ok((messages, Open::new(app)))
}

/// `GET /ws/logs/{run_id}?after=SEQ`.
pub(crate) async fn websocket(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<StreamQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let id = request::path(path)?;
    let after = request::query(query)?.after;
    let upgrade = upgrade.map_err(|rejection| ApiError::NotWebSocket {
        reason: rejection.body_text(),
    })?;
    let (messages, open) = open(&app, &id, after).await?;
    Ok(upgrade
        .on_upgrade(move |socket| send_all(socket, messages, open))
        .into_response())
}

async fn send_all(mut socket: WebSocket, mut messages: mpsc::Receiver<Out>, _open: Open) {
    while let Some(message) = messages.recv().await {
        let text = message.json().to_string();
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// `GET /runs/{run_id}/events?after=SEQ` (or `Last-Event-ID: SEQ`).
pub(crate) async fn sse(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let id = request::path(path)?;
    let after = match request::query(query)?.after {
        Some(after) => Some(after),
        None => match headers.get("last-event-id") {
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|text| text.trim().parse::<u64>().ok())
                    .ok_or_else(|| ApiError::BadQuery {
                        reason: "Last-Event-ID must be an event's seq".into(),
                    })?,
            ),
            None => None,
        },
    };
    let opened = open(&app, &id, after).await?;
    let stream = futures_util::stream::unfold(opened, |(mut messages, open)| async move {
        let message = messages.recv().await?;
        let mut event = SseEvent::default().data(message.json().to_string());
        if let Out::Event { seq, .. } = &message {
            event = event.id(seq.to_string());
        }
        Some((Ok(event), (messages, open)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
