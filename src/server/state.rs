//! What every handler shares: the settings, the store's two connections (the one writer,
//! shared, and a read-only one for reads), the compiled graphs by hash, the live hub, the
//! executor and the idempotency keys. Nothing of a run's state is kept here: the store is
//! the truth, and the graph cache only spares compiling a stored flow again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::compile::ir::NodeKind;
use crate::diagnostics::FileReport;
use crate::runtime::Interpreter;
use crate::store::{IdempotencyKey, RunId, RunStore, SqliteStore, StoreError};
use crate::tools::ToolRegistry;
use crate::{Program, SourceFile};

use super::ServerConfig;
use super::error::ApiError;
use super::executor::Executor;
use super::hub::Hub;
use super::shared_store::SharedStore;

pub(crate) type App = Arc<AppState>;

/// A stored flow, compiled: the program and the source its diagnostics point into.
#[derive(Clone)]
pub(crate) struct Graph {
    pub(crate) program: Arc<Program>,
    pub(crate) source: SourceFile,
    /// One engine per graph, for all its runs: its plan is made once and its sandboxes are
    /// reused run after run (a run's own limits are set on the run).
    pub(crate) interpreter: Arc<Interpreter>,
}

pub(crate) struct AppState {
    pub(crate) config: ServerConfig,
    pub(crate) registry: ToolRegistry,
    pub(crate) store: SharedStore,
    /// `None` for a store in memory, which only its one connection sees: reads share it.
    reader: Option<Mutex<SqliteStore>>,
    graphs: Mutex<HashMap<String, Graph>>,
    pub(crate) hub: Hub,
    pub(crate) executor: Executor,
    /// Held from looking a key up to storing it with its new run, so two requests with one
    /// key make one run. The keys themselves are in the store.
    idempotency: Mutex<()>,
    /// Streams still open, which a stopping server waits for (a short while).
    pub(crate) streams: std::sync::atomic::AtomicUsize,
}

/// A `node` that runs `exec` on a server started without `--allow-exec`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("node `{node}` runs `exec`, which this server does not allow")]
#[diagnostic(
    code("flow::exec-not-allowed"),
    help("start the server with `--allow-exec` to run commands")
)]
pub(crate) struct ExecNotAllowed {
    node: String,
    #[label("runs a command")]
    at: miette::SourceSpan,
}

impl AppState {
    pub(crate) fn new(
        config: ServerConfig,
        writer: SqliteStore,
        reader: Option<SqliteStore>,
        hub: Hub,
    ) -> Self {
        AppState {
            config,
            registry: ToolRegistry::builtin(),
            store: SharedStore::new(writer, hub.clone()),
            reader: reader.map(Mutex::new),
            graphs: Mutex::new(HashMap::new()),
            hub,
            executor: Executor::default(),
            idempotency: Mutex::new(()),
            streams: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A read on the read-only connection.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&SqliteStore) -> Result<T, StoreError>,
    ) -> Result<T, ApiError> {
        match &self.reader {
            Some(reader) => {
                let reader = reader.lock().unwrap_or_else(PoisonError::into_inner);
                read(&reader).map_err(ApiError::from_store)
            }
            None => read(&self.store.lock()).map_err(ApiError::from_store),
        }
    }

    /// Checks `source` as this server runs it (no `exec` unless allowed): the graph, or the
    /// report of why not (the JSON of `flowc check --format json`).
    pub(crate) fn compile(&self, source: SourceFile) -> Result<(Graph, FileReport), ApiError> {
        let checked = crate::check_with_limits(&source, &self.registry, &self.config.limits);
        let mut report = checked.report;
        let Some(program) = checked.program else {
            return Err(ApiError::Compile {
                report: report.to_json(),
            });
        };
        let graph = self.graph_of(program, source);
        if self.refuses_exec(&graph, &mut report) {
            return Err(ApiError::Compile {
                report: report.to_json(),
            });
        }
        Ok((graph, report))
    }

    fn graph_of(&self, program: Program, source: SourceFile) -> Graph {
        let program = Arc::new(program);
        let limits = self.config.run_limits(None, None);
        Graph {
            interpreter: Arc::new(Interpreter::new(
                Arc::clone(&program),
                self.config.run_options(limits),
            )),
            program,
            source,
        }
    }

    /// Puts a diagnostic in `report` for each node that runs `exec` when it is not allowed;
    /// whether there was one.
    fn refuses_exec(&self, graph: &Graph, report: &mut FileReport) -> bool {
        if self.config.allow_exec {
            return false;
        }
        let mut refused = false;
        for node in &graph.program.nodes {
            if matches!(&node.kind, NodeKind::Tool { tool, .. } if tool == "exec") {
                report.push(ExecNotAllowed {
                    node: node.name.clone(),
                    at: node.span.into(),
                });
                refused = true;
            }
        }
        refused
    }

    /// The stored flow with this hash, compiled (once per server), to read its runs.
    pub(crate) fn graph(&self, hash: &str) -> Result<Graph, ApiError> {
        if let Some(graph) = self.cached(hash) {
            return Ok(graph);
        }
        let not_found = || ApiError::GraphNotFound {
            id: graph_id(hash).to_owned(),
        };
        let flow = self
            .store
            .flow(hash)
            .map_err(ApiError::from_store)?
            .ok_or_else(not_found)?;
        let source = SourceFile::new(flow.path.unwrap_or(flow.name), flow.source);
        let checked = crate::check_with_limits(&source, &self.registry, &self.config.limits);
        let Some(program) = checked.program else {
            return Err(ApiError::Compile {
                report: checked.report.to_json(),
            });
        };
        let graph = self.graph_of(program, source);
        self.remember(hash, &graph);
        Ok(graph)
    }

    /// [`Self::graph`], refused when it runs `exec` and this server does not allow it.
    pub(crate) fn runnable(&self, hash: &str) -> Result<Graph, ApiError> {
        let graph = self.graph(hash)?;
        let mut report = FileReport::new(graph.source.clone());
        if self.refuses_exec(&graph, &mut report) {
            return Err(ApiError::Compile {
                report: report.to_json(),
            });
        }
        Ok(graph)
    }

    fn cached(&self, hash: &str) -> Option<Graph> {
        let graphs = self.graphs.lock().unwrap_or_else(PoisonError::into_inner);
        graphs.get(hash).cloned()
    }

    pub(crate) fn remember(&self, hash: &str, graph: &Graph) {
        let mut graphs = self.graphs.lock().unwrap_or_else(PoisonError::into_inner);
        graphs.insert(hash.to_owned(), graph.clone());
    }

    pub(crate) fn forget(&self, hash: &str) {
        let mut graphs = self.graphs.lock().unwrap_or_else(PoisonError::into_inner);
        graphs.remove(hash);
    }

    /// Under the idempotency lock: the run a key made before (the same body), a conflict
    /// (another body), or `create`'s new run, which `create` stores with the key it is given
    /// (in the run's own transaction: a run and its key are both stored or neither).
    pub(crate) fn idempotent(
        &self,
        key: Option<&str>,
        body: &[u8],
        create: impl FnOnce(Option<IdempotencyKey<'_>>) -> Result<RunId, ApiError>,
    ) -> Result<(RunId, bool), ApiError> {
        let Some(key) = key else {
            return create(None).map(|run| (run, true));
        };
        let digest = digest(body);
        let _held = self
            .idempotency
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((run, known)) = self.store.keyed_run(key).map_err(ApiError::from_store)? {
            return if known == digest {
                Ok((run, false))
            } else {
                Err(ApiError::IdempotencyConflict)
            };
        }
        let run = create(Some(IdempotencyKey {
            key,
            digest: &digest,
        }))?;
        Ok((run, true))
    }
}

/// A graph's id: its program hash without the `sha256:` prefix.
pub(crate) fn graph_id(hash: &str) -> &str {
    hash.strip_prefix("sha256:").unwrap_or(hash)
}

/// The program hash a graph id names, if it has the shape of one.
pub(crate) fn hash_of(id: &str) -> Result<String, ApiError> {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("sha256:{id}"))
    } else {
        Err(ApiError::GraphNotFound { id: id.to_owned() })
    }
}

fn digest(body: &[u8]) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(body);
    hash.iter().fold(String::new(), |mut text, byte| {
        use std::fmt::Write as _;
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// A JSON text the store kept (a run's error), as JSON; text that is not JSON as a string.
pub(crate) fn stored_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Runs `work` on the blocking pool (store access and CPU work never run on the async
/// runtime's threads).
pub(crate) async fn blocking<T: Send + 'static>(
    app: &App,
    work: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || work(&app))
        .await
        .map_err(|error| ApiError::Internal {
            reason: error.to_string(),
        })?
}
