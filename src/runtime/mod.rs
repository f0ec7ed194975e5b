//! The engine: runs a compiled [`Program`] (the IR; this module never sees the AST).
//!
//! A run is synchronous and bounded: by `max_steps`, the run's timeout, every loop's `max`,
//! and the sandbox's limits on each guard and script. It can be cancelled from another
//! thread or task through a [`CancelToken`] (between steps, inside a script, during a retry's
//! backoff, and inside tools that honour it). From an async server, call [`Interpreter::run`]
//! inside `tokio::task::spawn_blocking`.
//!
//! ```
//! use std::sync::Arc;
//! use flowc::runtime::{Interpreter, NoEvents, RunOptions};
//! use flowc::CancelToken;
//! use flowc::tools::{Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec};
//! use serde_json::{Map, Value, json};
//!
//! /// An embedder's own tool: doubles `n`.
//! struct Double;
//! impl Tool for Double {
//!     fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
//!         let n = call.state["n"].as_i64().ok_or_else(|| ToolFailure::failed("n is not an int"))?;
//!         Ok(json!({ "n": n * 2 }).as_object().cloned().unwrap_or_default())
//!     }
//! }
//!
//! let mut tools = ToolRegistry::builtin();
//! tools.register(ToolSpec::new("math.double", "Doubles n."), Double);
//!
//! let text = "flow f {\n  state { n: int }\n  node twice = math.double\n  start -> twice -> end\n}\n";
//! let checked = flowc::check(&flowc::SourceFile::new("f.flow", text), &tools);
//! let program = Arc::new(checked.program.expect("it compiles"));
//!
//! let interpreter = Interpreter::new(program, tools, RunOptions::default());
//! let input = json!({ "n": 21 }).as_object().cloned().unwrap_or_default();
//! let outcome = interpreter.run(input, &mut NoEvents, &CancelToken::new()).expect("it runs");
//! assert_eq!(outcome.state["n"], 42);
//! ```

mod code;
mod error;
mod events;
mod failure;
mod machine;
mod state;
mod warning;
mod write;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

pub use error::{InvalidWrite, RuntimeError};
pub use events::{
    Changes, EdgeTaken, ErrorRecord, Event, EventSink, FieldValue, FinishedError, JsonLines,
    LoopPosition, NoEvents, OuterUntil, RunFinished, RunStarted, RunStatus, StateView, Step, Tee,
};
pub use warning::{RuntimeWarning, input_warnings};

use crate::cancel::CancelToken;
use crate::compile::ERROR_FIELD;
use crate::compile::ir::{EdgeWhen, NodeKind, Program};
use crate::sandbox::{CompiledCode, Limits};
use crate::sync::lock;
use crate::tools::ToolRegistry;
use crate::value::FieldType;
use state::{Declared, Slots, State};

/// The run-wide settings.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Nodes a run may execute (junctions count) before it fails with `max-steps`.
    pub max_steps: u64,
    /// The whole run's time limit.
    pub timeout: Option<Duration>,
    /// The sandbox limits for each guard and script.
    pub limits: Limits,
    /// Where tools run (the flow file's folder).
    pub workdir: PathBuf,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            max_steps: 10_000,
            timeout: None,
            limits: Limits::default(),
            workdir: PathBuf::from("."),
        }
    }
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutcome {
    pub state: Map<String, Value>,
    pub steps: u64,
    pub duration: Duration,
}

/// Runs one program, as many times as asked, from any thread (it is `Send + Sync`).
#[derive(Debug)]
pub struct Interpreter {
    program: Arc<Program>,
    tools: ToolRegistry,
    options: RunOptions,
    plan: Plan,
    /// Engines of finished runs, reused by the next ones.
    sandboxes: Mutex<Vec<code::Sandbox>>,
}

/// Engines kept for reuse per interpreter (one per run at once, up to this many).
const MAX_IDLE_SANDBOXES: usize = 16;

/// For each node, the slots of the names its code uses (precomputed so no step hashes a name).
#[derive(Debug)]
struct Plan {
    slots: Slots,
    /// The first `named` slots are the names some guard or script uses.
    named: usize,
    nodes: Vec<NodePlan>,
}

#[derive(Debug, Default)]
struct NodePlan {
    script: Vec<usize>,
    /// Per edge, in order; empty for edges without a guard.
    guards: Vec<Vec<usize>>,
    until: Vec<usize>,
}

impl Plan {
    fn new(program: &Program) -> Self {
        let mut slots = Slots::default();
        let mut intern = |code: &CompiledCode| -> Vec<usize> {
            code.names.iter().map(|n| slots.intern_code(n)).collect()
        };
        let nodes = program
            .nodes
            .iter()
            .map(|node| NodePlan {
                script: match &node.kind {
                    NodeKind::Script { code, .. } => intern(code),
                    _ => Vec::new(),
                },
                guards: node
                    .edges
                    .iter()
                    .map(|edge| match &edge.when {
                        EdgeWhen::Guard(code) => intern(code),
                        _ => Vec::new(),
                    })
                    .collect(),
                until: node
                    .as_loop()
                    .map(|body| intern(&body.until))
                    .unwrap_or_default(),
            })
            .collect();
        let named = slots.len();
        if let Some(schema) = &program.schema {
            for field in &schema.fields {
                slots.declare(
                    &field.name,
                    Declared {
                        ty: field.ty,
                        nullable: field.nullable,
                        at: Some(field.span),
                    },
                );
            }
            // The engine's own field holds the record an `on error` edge sets, or nothing.
            slots.declare(
                ERROR_FIELD,
                Declared {
                    ty: FieldType::Map,
                    nullable: true,
                    at: None,
                },
            );
        }
        Plan {
            slots,
            named,
            nodes,
        }
    }
}

/// A value as compact JSON, cut to `max` characters (for step lines and messages).
pub fn show_value(value: &impl serde::Serialize, max: usize) -> String {
    code::shorten(serde_json::to_string(value).unwrap_or_default(), max)
}

impl Interpreter {
    pub fn new(program: Arc<Program>, tools: ToolRegistry, options: RunOptions) -> Self {
        let plan = Plan::new(&program);
        Interpreter {
            program,
            tools,
            options,
            plan,
            sandboxes: Mutex::new(Vec::new()),
        }
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// Runs the flow from `input` (validated against the schema, defaults filled), sending
    /// each log record to `events` as it happens. Returns the final state.
    pub fn run(
        &self,
        input: Map<String, Value>,
        events: &mut dyn EventSink,
        cancel: &CancelToken,
    ) -> Result<RunOutcome, RuntimeError> {
        let started = Instant::now();
        let started_at = SystemTime::now();
        let finish = |events: &mut dyn EventSink, steps: u64, error: Option<&RuntimeError>| {
            let status = match error {
                None => RunStatus::Ok,
                Some(RuntimeError::Cancelled { .. }) => RunStatus::Cancelled,
                Some(_) => RunStatus::Failed,
            };
            let message = error.map(RuntimeError::to_string);
            events.event(&Event::RunFinished(RunFinished {
                seq: steps + 1,
                status,
                steps,
                duration: started.elapsed(),
                error: error.map(|error| FinishedError {
                    code: error.short_code(),
                    message: message.as_deref().unwrap_or_default(),
                    node: error.node(),
                }),
            }));
        };
        let state = match State::from_input(
            &self.plan.slots,
            self.plan.named,
            self.program.schema.as_ref(),
            input,
        ) {
            Ok(state) => state,
            Err(error) => {
                finish(events, 0, Some(&error));
                return Err(error);
            }
        };
        events.event(&Event::RunStarted(RunStarted {
            seq: 0,
            flow: &self.program.name,
            started_at,
            state: StateView { state: &state },
        }));
        let sandbox = lock(&self.sandboxes)
            .pop()
            .unwrap_or_else(|| code::Sandbox::new(&self.options.limits, cancel));
        let mut machine = machine::Machine::new(self, sandbox, state, events, cancel, started);
        let result = machine.execute();
        let steps = machine.steps();
        let (state, sandbox) = machine.into_parts();
        let mut sandboxes = lock(&self.sandboxes);
        if sandboxes.len() < MAX_IDLE_SANDBOXES {
            sandboxes.push(sandbox);
        }
        drop(sandboxes);
        finish(events, steps, result.as_ref().err());
        result?;
        Ok(RunOutcome {
            state: state.into_json(),
            steps,
            duration: started.elapsed(),
        })
    }
}
