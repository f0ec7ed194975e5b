//! `flowc serve`: the HTTP API over a run store. Graphs are stored flows (named by their
//! program hash); runs are durable runs driven on a bounded pool of threads, each step
//! committed before the next; every read comes from the store, which is the truth (a crash
//! or a restart loses nothing committed, and runs that were running read as interrupted).
//!
//! One SQLite connection writes (behind one lock, per call), a second, read-only one reads.
//! Store access and CPU work (compiling, running) never happen on the async runtime's
//! threads. See `docs/server.md` for the API.

mod auth;
mod error;
mod executor;
mod graphs;
mod hub;
mod mailbox;
mod openapi;
mod request;
mod run_control;
mod runs;
mod shared_store;
mod state;
mod streams;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::ApiError;

use crate::runtime::RunOptions;
use crate::sandbox::Limits;
use crate::store::{RunFilter, RunStatus, RunStore, SqliteStore, StoreError};
use crate::tools::FileAccess;
use executor::{Begin, Job, RunLimits};
use state::{App, AppState};

/// The `--db` of a throwaway store, gone when the server stops.
pub const IN_MEMORY: &str = ":memory:";

/// Runs driven at once unless set. Wider than the cores: a run waiting for its commit holds
/// a slot but no core, and runs committing together share one transaction (measured: 16
/// against 4 nearly doubled the synchronous runs a second of a 3-node flow on two cores;
/// docs/performance.md).
pub const DEFAULT_MAX_CONCURRENT_RUNS: u16 = 16;

/// How long a stopping server waits for its streams to send their last message.
const STREAMS_GRACE: Duration = Duration::from_secs(3);

/// How a server runs: where it listens, its store, and the limits it puts on requests and
/// runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    /// The run store's file, or [`IN_MEMORY`].
    pub db: PathBuf,
    /// Every request must carry `Authorization: Bearer <token>`; required off loopback.
    pub token: Option<String>,
    /// Flows may use the `exec` tool.
    pub allow_exec: bool,
    /// Runs driven at once; more wait `queued`, in order.
    pub max_concurrent_runs: usize,
    /// At start, resume the runs that were interrupted.
    pub auto_resume: bool,
    pub max_body_bytes: usize,
    pub max_source_bytes: usize,
    /// Of a run's initial state or a resume input, as JSON text.
    pub max_state_bytes: usize,
    /// The most steps a run may ask for (and what it gets when it asks for none).
    pub max_steps: u64,
    /// The longest run time a run may ask for (and what it gets when it asks for none).
    pub max_run_time: Option<Duration>,
    /// How long `wait: true` waits for a run before it answers 202.
    pub max_wait: Duration,
    pub limits: Limits,
    /// Where tools run, and what relative paths in flows are relative to.
    pub workdir: PathBuf,
    /// The folders tools may read and write (none unless `--allow-path`); the store's files
    /// are never among them.
    pub allowed_paths: Vec<PathBuf>,
}

impl ServerConfig {
    /// Defaults for `addr` and `db`.
    pub fn new(addr: SocketAddr, db: PathBuf) -> Self {
        ServerConfig {
            addr,
            db,
            token: None,
            allow_exec: false,
            max_concurrent_runs: usize::from(DEFAULT_MAX_CONCURRENT_RUNS),
            auto_resume: false,
            max_body_bytes: 2 << 20,
            max_source_bytes: 1 << 20,
            max_state_bytes: 1 << 20,
            max_steps: RunOptions::default().max_steps,
            max_run_time: Some(Duration::from_secs(3600)),
            max_wait: Duration::from_secs(300),
            limits: Limits::default(),
            workdir: PathBuf::from("."),
            allowed_paths: Vec::new(),
        }
    }

    /// The limits a run asked for, within this server's.
    pub(crate) fn run_limits(
        &self,
        max_steps: Option<u64>,
        timeout: Option<Duration>,
    ) -> RunLimits {
        RunLimits {
            max_steps: max_steps.map_or(self.max_steps, |asked| asked.min(self.max_steps)),
            timeout: match (timeout, self.max_run_time) {
                (Some(asked), Some(cap)) => Some(asked.min(cap)),
                (asked, cap) => asked.or(cap),
            },
        }
    }

    /// The allowed folders, less the store's file and the files SQLite keeps beside it.
    fn file_access(&self) -> FileAccess {
        let mut access = FileAccess::within(self.allowed_paths.iter().cloned());
        if self.db.as_os_str() != IN_MEMORY {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut file = self.db.clone().into_os_string();
                file.push(suffix);
                access = access.protect(file);
            }
        }
        access
    }

    pub(crate) fn run_options(&self, limits: RunLimits) -> RunOptions {
        RunOptions {
            max_steps: limits.max_steps,
            timeout: limits.timeout,
            limits: self.limits.clone(),
            workdir: self.workdir.clone(),
            files: self.file_access(),
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("refusing to listen on {addr} without a token: set --token or FLOWC_TOKEN")]
    NeedsToken { addr: SocketAddr },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        cause: std::io::Error,
    },
    #[error("the server failed")]
    Io(#[from] std::io::Error),
}

/// Serves until SIGTERM or Ctrl-C; `on_listening` is told the bound address.
pub fn serve(
    config: ServerConfig,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    if config.token.is_none() && !config.addr.ip().is_loopback() {
        return Err(ServerError::NeedsToken { addr: config.addr });
    }
    let (writer, reader) = if config.db.as_os_str() == IN_MEMORY {
        (SqliteStore::in_memory()?, None)
    } else {
        let writer = SqliteStore::open(&config.db)?;
        (writer, Some(SqliteStore::open_read_only(&config.db)?))
    };
    let workers = config.max_concurrent_runs;
    let app: App = Arc::new(AppState::new(config, writer, reader, hub::Hub::default()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    executor::start(&app, workers)?;
    requeue(&app)?;
    let addr = app.config.addr;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|cause| ServerError::Bind { addr, cause })?;
    on_listening(listener.local_addr()?);
    let router = router(&app);
    let stopping = Arc::clone(&app);
    runtime.block_on(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                // Runs go back to the store as interrupted; their streams are told so.
                let app = Arc::clone(&stopping);
                let _ = tokio::task::spawn_blocking(move || app.executor.stop(&app)).await;
            })
            .await
    })?;
    // Streams end with the status of their run (interrupted): a short while for them to
    // say so, and then they do not keep the process.
    let app_streams = Arc::clone(&app);
    runtime.block_on(async move {
        let until = tokio::time::Instant::now() + STREAMS_GRACE;
        while app_streams
            .streams
            .load(std::sync::atomic::Ordering::Acquire)
            > 0
            && tokio::time::Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Queued runs are queued again, in order; with `--auto-resume`, interrupted ones resume.
fn requeue(app: &App) -> Result<(), ServerError> {
    let mut statuses = vec![RunStatus::Queued];
    if app.config.auto_resume {
        statuses.push(RunStatus::Interrupted);
    }
    for status in statuses {
        let filter = RunFilter {
            status: Some(status),
            flow: None,
            limit: crate::store::MAX_PAGE,
            before: None,
        };
        let mut runs = app.store.runs(&filter)?;
        runs.reverse();
        for record in runs {
            let owner = app.executor.owner();
            let begin = if status == RunStatus::Queued {
                Begin::Queued
            } else {
                match run_control::take(app, record.id, &owner, None) {
                    Ok(run) => Begin::Ready(Box::new(run)),
                    Err(error) => {
                        report_skipped(record.id, &error);
                        continue;
                    }
                }
            };
            if !app.executor.reserve(record.id, &owner) {
                continue;
            }
            let job = Job {
                run: record.id,
                hash: record.flow_hash,
                begin,
                limits: app.config.run_limits(None, None),
                owner,
            };
            if let Err(error) = app.executor.submit(job) {
                report_skipped(record.id, &error);
            }
        }
    }
    Ok(())
}

#[allow(clippy::print_stderr)]
fn report_skipped(run: crate::store::RunId, error: &ApiError) {
    eprintln!("flowc serve: run {run} was not resumed: {error}");
}

fn router(app: &App) -> Router {
    Router::new()
        .route("/graph/create", post(graphs::create))
        .route("/graphs", get(graphs::list))
        .route("/graphs/{id}", get(graphs::show).delete(graphs::remove))
        .route("/graph/run", post(runs::start))
        .route("/graph/state/{run_id}", get(runs::state))
        .route("/graph/cancel/{run_id}", post(run_control::cancel))
        .route("/graph/resume/{run_id}", post(run_control::resume))
        .route("/runs", get(runs::list))
        .route("/runs/{run_id}/events", get(streams::sse))
        .route("/ws/logs/{run_id}", get(streams::websocket))
        .route("/tools", get(graphs::tools))
        .route("/healthz", get(openapi::healthz))
        .route("/openapi.json", get(openapi::spec))
        .route("/docs", get(openapi::docs))
        .fallback(auth::no_route)
        .method_not_allowed_fallback(auth::wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(app),
            auth::require_token,
        ))
        // Bodies are read whole by the handlers, which say when one is too large.
        .layer(DefaultBodyLimit::max(app.config.max_body_bytes))
        .with_state(Arc::clone(app))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_gets_what_it_asks_for_within_the_caps() {
        let mut config = ServerConfig::new(([127, 0, 0, 1], 0).into(), "x.db".into());
        config.max_steps = 100;
        config.max_run_time = Some(Duration::from_secs(60));
        let asked = config.run_limits(Some(10), Some(Duration::from_secs(5)));
        assert_eq!(
            (asked.max_steps, asked.timeout),
            (10, Some(Duration::from_secs(5)))
        );
        let capped = config.run_limits(Some(1000), Some(Duration::from_secs(600)));
        assert_eq!(
            (capped.max_steps, capped.timeout),
            (100, Some(Duration::from_secs(60)))
        );
        let defaults = config.run_limits(None, None);
        assert_eq!(
            (defaults.max_steps, defaults.timeout),
            (100, Some(Duration::from_secs(60)))
        );
        config.max_run_time = None;
        assert_eq!(config.run_limits(None, None).timeout, None);
    }

    #[test]
    fn another_address_than_loopback_needs_a_token() {
        let config = ServerConfig::new(([0, 0, 0, 0], 0).into(), "/nonexistent/x.db".into());
        assert!(matches!(
            serve(config, |_| {}),
            Err(ServerError::NeedsToken { .. })
        ));
    }
}
