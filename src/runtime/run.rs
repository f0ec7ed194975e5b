//! One run as data: where it is ([`Checkpoint`], serializable, small) and its state. A run
//! is driven by [`Interpreter::step`](crate::runtime::Interpreter::step) one node at a time;
//! between two steps it can be stored (the checkpoint, and the keys the step changed) and
//! later picked up again, in this process or another, by
//! [`Interpreter::resume`](crate::runtime::Interpreter::resume).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::compile::ir::NodeId;
use crate::runtime::code::Sandbox;
use crate::runtime::error::RuntimeError;
use crate::runtime::events::RunStatus;
use crate::runtime::state::State;
use crate::tools::ToolLog;

/// Where a run is, apart from its state: everything a process needs to continue it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The content hash of the program the run belongs to.
    pub program: String,
    /// The node the next step runs (never a loop: loops are entered down to their first
    /// node); `None` once the run is over.
    pub at: Option<u32>,
    /// Iterations finished by each loop enclosing `at`, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loops: Vec<u64>,
    /// Steps begun.
    pub steps: u64,
    /// The last event's sequence number.
    pub seq: u64,
    /// When the run started (microseconds since the Unix epoch).
    pub started_at_us: u64,
    /// Running time before this checkpoint, across processes (microseconds).
    pub elapsed_us: u64,
    /// The step at `at`, when it has begun and not finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begun: Option<Begun>,
    /// How the run ended, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<RunStatus>,
    /// The run's own step limit and time limit (milliseconds of running time), so that a
    /// resumed run keeps them; `None` takes the interpreter's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl Checkpoint {
    /// The next record's `seq` (a stored checkpoint is input: it saturates, never wraps).
    pub(super) fn next_seq(&mut self) -> u64 {
        self.seq = self.seq.saturating_add(1);
        self.seq
    }
}

/// A step that has begun and not finished: committed before a `once` node's action runs,
/// between a retry's attempts, and while a `wait` node waits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Begun {
    /// When the step began (microseconds since the Unix epoch).
    pub started_at_us: u64,
    /// Attempts made and failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// A retry's backoff ends then (milliseconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_until_ms: Option<u64>,
    /// A `once` node's action has started: if this is what a resumed run finds, the action
    /// may or may not have happened.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once_started: bool,
    /// A `wait` node's request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<WaitRequest>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a waiting run asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRequest {
    pub node: u32,
    pub name: String,
    pub prompt: String,
    /// When the wait times out (milliseconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

impl WaitRequest {
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline_ms.map(from_ms)
    }
}

/// What one call of `step` did.
#[derive(Debug)]
pub enum Progress {
    /// A step ran (or a `once` node was marked as started); call `step` again.
    Continued,
    /// A retry backs off: call `step` again at (or after) this time. Nothing runs before.
    Sleeping { until: SystemTime },
    /// A `wait` node waits: give the input with `Interpreter::provide_input`, then step.
    /// Stepping without input only notices the wait's timeout.
    Waiting(WaitRequest),
    /// The run reached `end`; `Run::into_outcome` gives the final state.
    Finished,
    /// The run failed or was cancelled.
    Failed(Box<RuntimeError>),
    /// The run had ended before this call.
    Ended(RunStatus),
}

/// One run: its checkpoint, its state and what the engine keeps between steps.
#[derive(Debug)]
pub struct Run {
    pub(super) checkpoint: Checkpoint,
    pub(super) state: State,
    /// Each loop's finished iterations, by node index (only enclosing loops matter).
    pub(super) counters: Vec<u64>,
    /// The slots the current step changed.
    pub(super) changes: Vec<usize>,
    /// The `until` guards evaluated this step, innermost loop first: loop, iteration, value.
    pub(super) untils: Vec<(NodeId, u64, bool)>,
    pub(super) sandbox: Option<Sandbox>,
    /// This process's part of the run's time.
    pub(super) session_started: Instant,
    /// Input given to a waiting node, applied by the next step.
    pub(super) input: Option<Vec<usize>>,
    /// The first record this process emits: `run_started` or `run_resumed`.
    pub(super) announce: Announce,
    /// A `once` node's start was marked by this process (not found in a stored run).
    pub(super) once_marked_here: bool,
    pub(super) id: Option<String>,
    /// What tools report besides their changes, for the step's record.
    pub(super) tool_log: ToolLog,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Announce {
    Started,
    Resumed,
    Done,
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutcome {
    pub state: Map<String, Value>,
    pub steps: u64,
    pub duration: Duration,
}

impl Run {
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The current state as JSON (for a snapshot).
    pub fn state_json(&self) -> Map<String, Value> {
        self.state.to_json()
    }

    /// The current value of one state key, as JSON.
    pub fn field(&self, name: &str) -> Option<Value> {
        self.state.get_json(name)
    }

    /// Sets the run's step limit (kept in its checkpoint).
    pub fn set_max_steps(&mut self, max_steps: u64) {
        self.checkpoint.max_steps = Some(max_steps);
    }

    /// Sets the run's time limit (kept in its checkpoint); `None` for none.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.checkpoint.timeout_ms =
            timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    }

    /// Names the run in its log records (`run_id`), for a run kept in a store.
    pub fn set_id(&mut self, id: impl Into<String>) {
        self.id = Some(id.into());
    }

    /// When a run that has not stepped yet started (its `run_started` record), for a run
    /// that was queued: the time it was taken from the queue, not when it was made.
    pub fn set_started_at(&mut self, at: SystemTime) {
        self.checkpoint.started_at_us = unix_us(at);
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn steps(&self) -> u64 {
        self.checkpoint.steps
    }

    /// The request of the `wait` node the run waits at.
    pub fn waiting(&self) -> Option<&WaitRequest> {
        self.checkpoint.begun.as_ref()?.waiting.as_ref()
    }

    /// The running time so far, across processes.
    pub fn elapsed(&self) -> Duration {
        Duration::from_micros(self.checkpoint.elapsed_us) + self.session_started.elapsed()
    }

    /// The checkpoint, its running time brought up to now: what a store keeps.
    pub fn sync_checkpoint(&mut self) -> &Checkpoint {
        self.sync_elapsed();
        &self.checkpoint
    }

    /// Brings the checkpoint's running time up to now (before it is stored).
    pub(super) fn sync_elapsed(&mut self) {
        let now = Instant::now();
        let session = now.duration_since(self.session_started);
        self.checkpoint.elapsed_us = self
            .checkpoint
            .elapsed_us
            .saturating_add(u64::try_from(session.as_micros()).unwrap_or(u64::MAX));
        self.session_started = now;
    }

    /// The final state, steps and running time.
    pub fn into_outcome(self) -> RunOutcome {
        let duration = self.elapsed();
        RunOutcome {
            steps: self.checkpoint.steps,
            duration,
            state: self.state.into_json(),
        }
    }
}

pub(super) fn unix_us(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

pub(super) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(super) fn from_us(us: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us)
}

pub(super) fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Why a stored run cannot be continued by this interpreter.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ResumeError {
    #[error(
        "the run belongs to program {stored}, but this flow is now program {current}: the \
         file (or a tool it uses) changed since the run started"
    )]
    #[diagnostic(
        code("flow::program-changed"),
        help("resume it with the flow as it was when the run started, or start a new run")
    )]
    ProgramChanged { stored: String, current: String },

    #[error("the stored run's checkpoint does not fit this program: {reason}")]
    #[diagnostic(code("flow::bad-checkpoint"))]
    BadCheckpoint { reason: String },

    #[error(
        "node `{node}` runs at most once, and its process ended while it ran: whether its \
         action happened is not known"
    )]
    #[diagnostic(
        code("flow::needs-attention"),
        help(
            "check the effect of `{node}` by hand: if it did not happen, resume with `--rerun` \
             (server: `?rerun=true`) to run it again; else cancel the run (`flowc cancel`)"
        )
    )]
    OnceInterrupted { node: String },

    #[error("the run has ended ({status:?}): there is nothing to resume")]
    #[diagnostic(code("flow::run-ended"))]
    Ended { status: RunStatus },

    #[error("the run is not waiting for input")]
    #[diagnostic(
        code("flow::not-waiting"),
        help("only a run at a `wait` node takes input; resume it without input")
    )]
    NotWaiting,

    #[error(transparent)]
    #[diagnostic(transparent)]
    Input(Box<RuntimeError>),

    #[error("the stored state does not fit the schema: {0}")]
    #[diagnostic(code("flow::bad-checkpoint"))]
    State(Box<RuntimeError>),
}
