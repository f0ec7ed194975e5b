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
//! let interpreter = Interpreter::new(program, RunOptions::default());
//! let input = json!({ "n": 21 }).as_object().cloned().unwrap_or_default();
//! let outcome = interpreter.run(input, &mut NoEvents, &CancelToken::new()).expect("it runs");
//! assert_eq!(outcome.state["n"], 42);
//! ```

mod code;
mod error;
mod events;
mod failure;
mod machine;
mod plan;
mod record;
mod run;
mod state;
mod warning;
mod write;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

pub use error::{InvalidWrite, RuntimeError};
pub use events::{
    EdgeTaken, ErrorRecord, Event, EventSink, FinishedError, JsonLines, LoopPosition, NoEvents,
    NodeRef, NodeStarted, OuterUntil, RunFinished, RunResumed, RunStarted, RunStatus, Step, Tee,
    Waiting,
};
pub use record::{DecodeError, StoredRecord};
pub use run::{Begun, Checkpoint, Progress, ResumeError, Run, RunOutcome, WaitRequest};
pub use warning::{RuntimeWarning, input_warnings};

use crate::cancel::CancelToken;
use crate::compile::ir::{NodeId, NodeKind, Program, Target};
use crate::sandbox::Limits;
use crate::sync::lock;
use crate::tools::{FileAccess, ToolLog};
use plan::Plan;
use state::State;

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
    /// Which files tools may read and write (by default the working directory's).
    pub files: FileAccess,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            max_steps: 10_000,
            timeout: None,
            limits: Limits::default(),
            workdir: PathBuf::from("."),
            files: FileAccess::within(["."]),
        }
    }
}

/// Runs one program, as many times as asked, from any thread (it is `Send + Sync`).
#[derive(Debug)]
pub struct Interpreter {
    program: Arc<Program>,
    options: RunOptions,
    plan: Plan,
    /// Engines of finished runs, reused by the next ones.
    sandboxes: Mutex<Vec<code::Sandbox>>,
}

/// Engines kept for reuse per interpreter (one per run at once, up to this many).
const MAX_IDLE_SANDBOXES: usize = 16;

/// A value as compact JSON, cut to `max` characters (for step lines and messages).
pub fn show_value(value: &impl serde::Serialize, max: usize) -> String {
    code::shorten(serde_json::to_string(value).unwrap_or_default(), max)
}

impl Interpreter {
    /// An engine for `program`, calling the tools it was checked against.
    pub fn new(program: Arc<Program>, options: RunOptions) -> Self {
        let plan = Plan::new(&program);
        Interpreter {
            program,
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
    /// each log record to `events` as it happens. Returns the final state. A retry's
    /// backoff is waited out here (waking for `cancel`); a `wait` node fails the run with
    /// `wait-without-store`: a run that can wait is driven by [`Interpreter::step`] and
    /// stored between steps.
    pub fn run(
        &self,
        input: Map<String, Value>,
        events: &mut dyn EventSink,
        cancel: &CancelToken,
    ) -> Result<RunOutcome, RuntimeError> {
        let mut run = match self.start(input) {
            Ok(run) => run,
            Err(error) => {
                finish_unstarted(events, &error);
                return Err(error);
            }
        };
        loop {
            match self.step(&mut run, events, cancel) {
                Progress::Continued => {}
                Progress::Sleeping { until } => sleep_until(until, cancel),
                Progress::Waiting(request) => {
                    let node = self.program.node(NodeId(request.node));
                    let error = RuntimeError::WaitWithoutStore {
                        node: node.name.clone(),
                        at: node.span.into(),
                    };
                    abandon(&mut run, events, &error);
                    return Err(error);
                }
                Progress::Finished => return Ok(run.into_outcome()),
                Progress::Failed(error) => return Err(*error),
                Progress::Ended(status) => {
                    unreachable!("a run steps on after it ended ({status:?})")
                }
            }
        }
    }

    /// A new run from `input` (validated against the schema, defaults filled), at the flow's
    /// first node. Nothing runs until [`Interpreter::step`].
    pub fn start(&self, input: Map<String, Value>) -> Result<Run, RuntimeError> {
        let state = State::from_input(
            &self.plan.slots,
            self.plan.named,
            self.program.schema.as_ref(),
            input,
        )?;
        let checkpoint = Checkpoint {
            program: self.program.hash.clone(),
            at: None,
            loops: Vec::new(),
            steps: 0,
            seq: 0,
            started_at_us: run::unix_us(SystemTime::now()),
            elapsed_us: 0,
            begun: None,
            ended: None,
            max_steps: None,
            timeout_ms: None,
        };
        let mut run = self.new_run(checkpoint, state, run::Announce::Started);
        run.set_max_steps(self.options.max_steps);
        run.set_timeout(self.options.timeout);
        if let Target::Node(first) = self.program.entry {
            let mut at = first;
            while let Some(body) = self.program.node(at).as_loop() {
                at = body.entry;
            }
            run.checkpoint.at = Some(at.0);
            run.checkpoint.loops = vec![0; self.depth(at)];
        }
        Ok(run)
    }

    /// A stored run, from its checkpoint and its state, ready to step on. Refused when the
    /// run belongs to another program, has ended, or stopped inside a `once` node.
    pub fn resume(
        &self,
        checkpoint: Checkpoint,
        state: Map<String, Value>,
    ) -> Result<Run, ResumeError> {
        if checkpoint.program != self.program.hash {
            return Err(ResumeError::ProgramChanged {
                stored: checkpoint.program,
                current: self.program.hash.clone(),
            });
        }
        if let Some(status) = checkpoint.ended {
            return Err(ResumeError::Ended { status });
        }
        let bad = |reason: String| ResumeError::BadCheckpoint { reason };
        if let Some(at) = checkpoint.at {
            let node = self.program.nodes.get(at as usize).ok_or_else(|| {
                bad(format!(
                    "it names node {at}, and the flow has {}",
                    self.program.nodes.len()
                ))
            })?;
            if node.as_loop().is_some() {
                return Err(bad(format!(
                    "it stands at loop `{}`, not at a node",
                    node.name
                )));
            }
            if checkpoint.loops.len() != self.depth(node.id) {
                return Err(bad(format!(
                    "it counts {} loops around `{}`, which is inside {}",
                    checkpoint.loops.len(),
                    node.name,
                    self.depth(node.id)
                )));
            }
            let waits_here = checkpoint
                .begun
                .as_ref()
                .and_then(|begun| begun.waiting.as_ref())
                .map(|waiting| waiting.node);
            if waits_here
                .is_some_and(|wait| wait != at || !matches!(node.kind, NodeKind::Wait { .. }))
            {
                return Err(bad(format!(
                    "it waits at node {}, and the run is at `{}`",
                    waits_here.unwrap_or_default(),
                    node.name
                )));
            }
            if checkpoint
                .begun
                .as_ref()
                .is_some_and(|begun| begun.once_started)
            {
                return Err(ResumeError::OnceInterrupted {
                    node: node.name.clone(),
                });
            }
        }
        let state = State::from_input(
            &self.plan.slots,
            self.plan.named,
            self.program.schema.as_ref(),
            state,
        )
        .map_err(|error| ResumeError::State(Box::new(error)))?;
        let mut run = self.new_run(checkpoint, state, run::Announce::Resumed);
        if let Some(at) = run.checkpoint.at {
            // The iteration counts of the loops around the cursor, innermost last.
            let mut parent = self.program.node(NodeId(at)).parent;
            let mut counts = run.checkpoint.loops.iter().rev();
            while let Some(id) = parent {
                run.counters[id.index()] = counts.next().copied().unwrap_or(0);
                parent = self.program.node(id).parent;
            }
        }
        Ok(run)
    }

    /// Gives a waiting run its input: a JSON object merged into the state, each key checked
    /// against the schema (all or none are written). The next [`Interpreter::step`] finishes
    /// the `wait` node with these keys as its changes and moves on.
    pub fn provide_input(
        &self,
        run: &mut Run,
        input: Map<String, Value>,
    ) -> Result<(), ResumeError> {
        let Some(request) = run.waiting() else {
            return Err(ResumeError::NotWaiting);
        };
        let node = self.program.node(NodeId(request.node));
        for (name, value) in &input {
            if let Err(bad) = run.state.check_write_json(name, value) {
                let error = write::invalid_write(node, *bad, &write::Writer::Input, None);
                return Err(ResumeError::Input(Box::new(error)));
            }
        }
        let mut slots = Vec::with_capacity(input.len());
        for (name, value) in input {
            let slot = run.state.slot(&name);
            run.state.set_json(slot, value);
            slots.push(slot);
        }
        run.input = Some(slots);
        Ok(())
    }

    /// Runs the run's next step, sending its log records to `events`.
    pub fn step(
        &self,
        run: &mut Run,
        events: &mut dyn EventSink,
        cancel: &CancelToken,
    ) -> Progress {
        if run.sandbox.is_none() {
            let mut sandbox = lock(&self.sandboxes)
                .pop()
                .unwrap_or_else(|| code::Sandbox::new(&self.options.limits, cancel));
            sandbox.begin(cancel);
            run.sandbox = Some(sandbox);
        }
        let progress = machine::Machine::new(self, run, events, cancel).step();
        if matches!(progress, Progress::Finished | Progress::Failed(_)) {
            run.sync_elapsed();
            if let Some(sandbox) = run.sandbox.take() {
                let mut sandboxes = lock(&self.sandboxes);
                if sandboxes.len() < MAX_IDLE_SANDBOXES {
                    sandboxes.push(sandbox);
                }
            }
        }
        progress
    }

    fn new_run(&self, checkpoint: Checkpoint, state: State, announce: run::Announce) -> Run {
        Run {
            checkpoint,
            state,
            counters: vec![0; self.program.nodes.len()],
            changes: Vec::new(),
            untils: Vec::new(),
            sandbox: None,
            session_started: Instant::now(),
            input: None,
            announce,
            once_marked_here: false,
            id: None,
            tool_log: ToolLog::default(),
        }
    }

    /// How many loops enclose the node.
    fn depth(&self, id: NodeId) -> usize {
        let mut depth = 0;
        let mut parent = self.program.node(id).parent;
        while let Some(id) = parent {
            depth += 1;
            parent = self.program.node(id).parent;
        }
        depth
    }
}

/// Ends a run that will not go on (a wait without a store): `run_finished` is logged.
fn abandon(run: &mut Run, events: &mut dyn EventSink, error: &RuntimeError) {
    run.sync_elapsed();
    run.checkpoint.ended = Some(RunStatus::Failed);
    run.checkpoint.next_seq();
    if events.enabled() {
        events.event(&Event::RunFinished(RunFinished {
            seq: run.checkpoint.seq,
            run_id: run.id.clone(),
            status: RunStatus::Failed,
            steps: run.checkpoint.steps,
            duration: run.elapsed(),
            error: Some(finished_error(error)),
            state: Some(run.state.to_json()),
        }));
    }
}

fn finished_error(error: &RuntimeError) -> FinishedError {
    FinishedError {
        code: error.short_code().to_owned(),
        message: error.to_string(),
        node: error.node().map(str::to_owned),
    }
}

/// `run_finished` for a run whose initial state was refused.
fn finish_unstarted(events: &mut dyn EventSink, error: &RuntimeError) {
    if events.enabled() {
        events.event(&Event::RunFinished(RunFinished {
            seq: 0,
            run_id: None,
            status: RunStatus::Failed,
            steps: 0,
            duration: Duration::ZERO,
            error: Some(finished_error(error)),
            state: None,
        }));
    }
}

/// Waits until `until`, waking for `cancel` (the next step then ends the run).
pub fn sleep_until(until: SystemTime, cancel: &CancelToken) {
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let Ok(left) = until.duration_since(SystemTime::now()) else {
            return;
        };
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(5)));
    }
}
