//! The execution log: what the engine reports as it runs (`run_started` or `run_resumed`,
//! `node_started` and `step` per node, `waiting`, `run_finished`), and a JSON-Lines writer
//! that streams each record to any `Write` as it happens. The format is documented in
//! `docs/engine.md` and kept stable.
//!
//! Records are owned (`Send + 'static`): one record can go to the trace, the run store and
//! any number of live subscribers. They name nodes and loops by id (for code) and by name
//! (for people); a step's `changes` holds only the keys it set. The store keeps records in a
//! compact form by id (see `record`).

mod json_lines;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::ser::Serializer;
use serde_json::{Map, Value};

use crate::compile::ir::NodeId;

pub use json_lines::JsonLines;

/// One record of the execution log. Serializes as one JSON object tagged by `"event"`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted(RunStarted),
    /// A stored run picked up again (after a crash, or with a waiting node's input).
    RunResumed(RunResumed),
    NodeStarted(NodeStarted),
    Step(Step),
    Waiting(Waiting),
    RunFinished(RunFinished),
}

impl Event {
    /// The record's place in the run's log; `None` for `node_started`, which is not kept.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Event::RunStarted(e) => Some(e.seq),
            Event::RunResumed(e) => Some(e.seq),
            Event::NodeStarted(_) => None,
            Event::Step(e) => Some(e.seq),
            Event::Waiting(e) => Some(e.seq),
            Event::RunFinished(e) => Some(e.seq),
        }
    }

    /// The `event` tag: `run_started`, `step`, ….
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted(_) => "run_started",
            Event::RunResumed(_) => "run_resumed",
            Event::NodeStarted(_) => "node_started",
            Event::Step(_) => "step",
            Event::Waiting(_) => "waiting",
            Event::RunFinished(_) => "run_finished",
        }
    }
}

/// A node or loop: its id, and its name for display (serialized as the name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRef {
    pub id: NodeId,
    pub name: Arc<str>,
}

impl Serialize for NodeRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

/// The first record, once the initial state is valid.
#[derive(Clone, Debug, Serialize)]
pub struct RunStarted {
    /// 0 for this record; each later record (but `node_started`) adds one.
    pub seq: u64,
    /// The stored run's id, for a run kept in a store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub flow: Arc<str>,
    /// The program's content hash.
    pub program: Arc<str>,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: SystemTime,
    /// The initial state, defaults filled.
    pub state: Map<String, Value>,
}

/// The first record of a process that continues a stored run.
#[derive(Clone, Debug, Serialize)]
pub struct RunResumed {
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub flow: Arc<str>,
    /// Steps run before.
    pub steps: u64,
    #[serde(serialize_with = "rfc3339")]
    pub resumed_at: SystemTime,
}

/// A node whose action starts now (not junctions): a long step is visible while it runs.
/// Not kept in the run store.
#[derive(Clone, Debug, Serialize)]
pub struct NodeStarted {
    /// The step this will be.
    pub step: u64,
    pub node: NodeRef,
    pub tool: Arc<str>,
    /// The attempt, from 1, when the node is retried.
    #[serde(skip_serializing_if = "is_one")]
    pub attempt: u32,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: SystemTime,
}

/// A node that finished (or failed).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub seq: u64,
    /// The step number, from 1.
    pub step: u64,
    pub node: NodeRef,
    /// The tool's name, `script`, `wait` or `junction`.
    pub tool: Arc<str>,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: SystemTime,
    #[serde(rename = "duration_us", serialize_with = "micros")]
    pub duration: Duration,
    /// The keys the node set, with their new values.
    pub changes: Map<String, Value>,
    /// The edge taken; absent when the run fails at this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeTaken>,
    /// The innermost loop the node is in, and which iteration (from 1).
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
    pub in_loop: Option<LoopPosition>,
    /// Lines from `print` and `debug`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
    /// What the tool wrote on stderr (the end of it), when it succeeded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stderr: Vec<String>,
    /// Why the node failed (also when an `on error` edge handled it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
    /// Attempts made, when the node was retried.
    #[serde(skip_serializing_if = "is_one")]
    pub attempts: u32,
}

/// The edge a step took.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeTaken {
    /// The next node or loop (`None` for `end`).
    #[serde(skip)]
    pub target: Option<NodeId>,
    /// The next node or loop, or `end`.
    pub to: Arc<str>,
    /// The edge: the node (or the loop left) it leaves, and its place among that one's
    /// edges in source order; `None` for a loop's repeat and a node's implicit `end`.
    #[serde(skip)]
    pub edge: Option<(NodeId, u32)>,
    /// The guard's text; `null` for a default edge, an error edge or a loop's repeat.
    pub guard: Option<Arc<str>>,
    /// Set when the node failed and its `on error` edge was taken.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub on_error: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoopPosition {
    #[serde(rename = "name")]
    pub node: NodeRef,
    pub iteration: u64,
    /// On the step of the loop's exit node: the value of the `until` guard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<bool>,
    /// When that guard was true and this loop is the exit of an enclosing one: the `until`
    /// guards of the enclosing loops evaluated on this step, innermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outer: Vec<OuterUntil>,
}

/// An enclosing loop's `until`, evaluated because the step finished its body too.
#[derive(Clone, Debug, Serialize)]
pub struct OuterUntil {
    #[serde(rename = "name")]
    pub node: NodeRef,
    pub iteration: u64,
    pub until: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct ErrorRecord {
    /// The diagnostic code without `flow::` (`tool-failed`).
    pub code: String,
    pub message: String,
}

/// A run that stopped at a `wait` node until it is resumed with input.
#[derive(Clone, Debug, Serialize)]
pub struct Waiting {
    pub seq: u64,
    pub step: u64,
    pub node: NodeRef,
    pub prompt: String,
    /// When the wait times out (the node fails with `timeout`).
    #[serde(
        serialize_with = "rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline: Option<SystemTime>,
}

/// How the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    Failed,
    Cancelled,
}

/// The last record.
#[derive(Clone, Debug, Serialize)]
pub struct RunFinished {
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub status: RunStatus,
    /// Steps run.
    pub steps: u64,
    /// The run's running time (across processes, for a resumed run).
    #[serde(rename = "duration_us", serialize_with = "micros")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FinishedError>,
    /// The final state (the state when it failed, for a failed run); absent when the
    /// initial state was not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FinishedError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &u32) -> bool {
    *n == 1
}

fn rfc3339<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_rfc3339_micros(*time))
}

#[allow(clippy::ref_option)]
fn rfc3339_option<S: Serializer>(
    time: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => rfc3339(time, serializer),
        None => serializer.serialize_none(),
    }
}

fn micros<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .serialize(serializer)
}

/// Receives the log records of a run, as they happen.
pub trait EventSink {
    /// Whether to build records at all (timing, change lists and copies cost a little).
    fn enabled(&self) -> bool {
        true
    }
    fn event(&mut self, event: &Event);
}

/// Discards every record; the run skips building them.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn enabled(&self) -> bool {
        false
    }
    fn event(&mut self, _event: &Event) {}
}

impl<F: FnMut(&Event)> EventSink for F {
    fn event(&mut self, event: &Event) {
        self(event);
    }
}

/// Sends every record to both sinks.
pub struct Tee<'a>(pub &'a mut dyn EventSink, pub &'a mut dyn EventSink);

impl EventSink for Tee<'_> {
    fn enabled(&self) -> bool {
        self.0.enabled() || self.1.enabled()
    }
    fn event(&mut self, event: &Event) {
        if self.0.enabled() {
            self.0.event(event);
        }
        if self.1.enabled() {
            self.1.event(event);
        }
    }
}
