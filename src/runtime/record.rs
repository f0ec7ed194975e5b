//! A log record as a run store keeps it: compact JSON by node id (no names, no guard texts,
//! times as integers), with the state keys it changed apart, so that a store can replay
//! them onto a snapshot without reading records. [`StoredRecord::encode`] and
//! [`Interpreter::decode`] convert; names come back from the program, which the store
//! keeps by its content hash.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::compile::ir::NodeId;
use crate::runtime::Interpreter;
use crate::runtime::events::{
    EdgeTaken, ErrorRecord, Event, FinishedError, LoopPosition, NodeRef, OuterUntil, RunFinished,
    RunResumed, RunStarted, RunStatus, Step, Waiting,
};
use crate::runtime::run::{from_us, unix_us};

/// One record for a store: its place, its kind (the `event` tag), the compact record and the
/// state keys it changed (a JSON object), if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: u64,
    pub kind: &'static str,
    pub record: String,
    pub changes: Option<String>,
}

/// A stored record this program cannot read back.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("record {seq} is not a `{kind}` record of this program: {reason}")]
    Malformed {
        seq: u64,
        kind: String,
        reason: String,
    },
    #[error("record {seq} has an unknown kind `{kind}`")]
    UnknownKind { seq: u64, kind: String },
    #[error("record {seq} names node {node}, and the flow has {nodes}")]
    NoSuchNode { seq: u64, node: u32, nodes: usize },
}

#[derive(Serialize, Deserialize)]
struct StartedRow {
    #[serde(rename = "t")]
    started_us: u64,
}

#[derive(Serialize, Deserialize)]
struct ResumedRow {
    #[serde(rename = "s")]
    steps: u64,
    #[serde(rename = "t")]
    resumed_us: u64,
}

#[derive(Serialize, Deserialize)]
struct StepRow {
    #[serde(rename = "s")]
    step: u64,
    #[serde(rename = "n")]
    node: u32,
    #[serde(rename = "t")]
    started_us: u64,
    #[serde(rename = "d")]
    duration_us: u64,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    edge: Option<EdgeRow>,
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    in_loop: Option<LoopRow>,
    #[serde(rename = "o", default, skip_serializing_if = "Vec::is_empty")]
    output: Vec<String>,
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    stderr: Vec<String>,
    /// Code and message.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    error: Option<(String, String)>,
    #[serde(rename = "a", default = "one", skip_serializing_if = "is_one")]
    attempts: u32,
}

#[derive(Serialize, Deserialize)]
struct EdgeRow {
    /// The target node; `None` for `end`.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    to: Option<u32>,
    /// The node the edge leaves, and the edge's place among its edges.
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    edge: Option<(u32, u32)>,
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    on_error: bool,
}

#[derive(Serialize, Deserialize)]
struct LoopRow {
    #[serde(rename = "n")]
    node: u32,
    #[serde(rename = "i")]
    iteration: u64,
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    until: Option<bool>,
    /// Loop, iteration, `until`.
    #[serde(rename = "o", default, skip_serializing_if = "Vec::is_empty")]
    outer: Vec<(u32, u64, bool)>,
}

#[derive(Serialize, Deserialize)]
struct WaitingRow {
    #[serde(rename = "s")]
    step: u64,
    #[serde(rename = "n")]
    node: u32,
    #[serde(rename = "p")]
    prompt: String,
    #[serde(rename = "dl", default, skip_serializing_if = "Option::is_none")]
    deadline_us: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct FinishedRow {
    #[serde(rename = "st")]
    status: RunStatus,
    #[serde(rename = "s")]
    steps: u64,
    #[serde(rename = "d")]
    duration_us: u64,
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    error: Option<FinishedErrorRow>,
}

#[derive(Serialize, Deserialize)]
struct FinishedErrorRow {
    #[serde(rename = "c")]
    code: String,
    #[serde(rename = "m")]
    message: String,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    node: Option<String>,
}

fn parse<'a, T: Deserialize<'a>>(
    record: &'a str,
    malformed: impl Fn(String) -> DecodeError,
) -> Result<T, DecodeError> {
    serde_json::from_str(record).map_err(|e| malformed(e.to_string()))
}

fn one() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &u32) -> bool {
    *n == 1
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("records serialize")
}

impl StoredRecord {
    /// The stored form of `event`; `None` for `node_started`, which no store keeps.
    pub fn encode(event: &Event) -> Option<StoredRecord> {
        let (seq, record, changes) = match event {
            Event::NodeStarted(_) => return None,
            Event::RunStarted(e) => (
                e.seq,
                json(&StartedRow {
                    started_us: unix_us(e.started_at),
                }),
                Some(json(&e.state)),
            ),
            Event::RunResumed(e) => (
                e.seq,
                json(&ResumedRow {
                    steps: e.steps,
                    resumed_us: unix_us(e.resumed_at),
                }),
                None,
            ),
            Event::Step(e) => (
                e.seq,
                json(&step_row(e)),
                (!e.changes.is_empty()).then(|| json(&e.changes)),
            ),
            Event::Waiting(e) => (
                e.seq,
                json(&WaitingRow {
                    step: e.step,
                    node: e.node.id.0,
                    prompt: e.prompt.clone(),
                    deadline_us: e.deadline.map(unix_us),
                }),
                None,
            ),
            Event::RunFinished(e) => (
                e.seq,
                json(&FinishedRow {
                    status: e.status,
                    steps: e.steps,
                    duration_us: micros(e.duration),
                    error: e.error.as_ref().map(|error| FinishedErrorRow {
                        code: error.code.clone(),
                        message: error.message.clone(),
                        node: error.node.clone(),
                    }),
                }),
                None,
            ),
        };
        Some(StoredRecord {
            seq,
            kind: event.kind(),
            record,
            changes,
        })
    }
}

fn step_row(step: &Step) -> StepRow {
    StepRow {
        step: step.step,
        node: step.node.id.0,
        started_us: unix_us(step.started_at),
        duration_us: micros(step.duration),
        edge: step.edge.as_ref().map(|edge| EdgeRow {
            to: edge.target.map(|id| id.0),
            edge: edge.edge.map(|(from, index)| (from.0, index)),
            on_error: edge.on_error,
        }),
        in_loop: step.in_loop.as_ref().map(|position| LoopRow {
            node: position.node.id.0,
            iteration: position.iteration,
            until: position.until,
            outer: position
                .outer
                .iter()
                .map(|outer| (outer.node.id.0, outer.iteration, outer.until))
                .collect(),
        }),
        output: step.output.clone(),
        stderr: step.stderr.clone(),
        error: step
            .error
            .as_ref()
            .map(|error| (error.code.clone(), error.message.clone())),
        attempts: step.attempts,
    }
}

impl Interpreter {
    /// A stored record back as the event it was, names and guard texts from the program.
    /// `run_finished` comes back without its state (the store keeps the final state).
    pub fn decode(
        &self,
        seq: u64,
        kind: &str,
        record: &str,
        changes: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<Event, DecodeError> {
        let malformed = |reason: String| DecodeError::Malformed {
            seq,
            kind: kind.to_owned(),
            reason,
        };
        let changes: Map<String, Value> = match changes {
            Some(text) => serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?,
            None => Map::new(),
        };
        let run_id = run_id.map(str::to_owned);
        let plan = &self.plan;
        let node = |id: u32| node_ref(plan, seq, id);
        Ok(match kind {
            "run_started" => {
                let row: StartedRow = parse(record, malformed)?;
                Event::RunStarted(RunStarted {
                    seq,
                    run_id,
                    flow: plan.flow.clone(),
                    program: plan.hash.clone(),
                    started_at: from_us(row.started_us),
                    state: changes,
                })
            }
            "run_resumed" => {
                let row: ResumedRow = parse(record, malformed)?;
                Event::RunResumed(RunResumed {
                    seq,
                    run_id,
                    flow: plan.flow.clone(),
                    steps: row.steps,
                    resumed_at: from_us(row.resumed_us),
                })
            }
            "step" => {
                let row: StepRow = parse(record, malformed)?;
                Event::Step(self.decode_step(seq, kind, row, changes)?)
            }
            "waiting" => {
                let row: WaitingRow = parse(record, malformed)?;
                Event::Waiting(Waiting {
                    seq,
                    step: row.step,
                    node: node(row.node)?,
                    prompt: row.prompt,
                    deadline: row.deadline_us.map(from_us),
                })
            }
            "run_finished" => {
                let row: FinishedRow = parse(record, malformed)?;
                Event::RunFinished(RunFinished {
                    seq,
                    run_id,
                    status: row.status,
                    steps: row.steps,
                    duration: Duration::from_micros(row.duration_us),
                    error: row.error.map(|error| FinishedError {
                        code: error.code,
                        message: error.message,
                        node: error.node,
                    }),
                    state: None,
                })
            }
            other => {
                return Err(DecodeError::UnknownKind {
                    seq,
                    kind: other.to_owned(),
                });
            }
        })
    }

    fn decode_step(
        &self,
        seq: u64,
        kind: &str,
        row: StepRow,
        changes: Map<String, Value>,
    ) -> Result<Step, DecodeError> {
        let malformed = |reason: String| DecodeError::Malformed {
            seq,
            kind: kind.to_owned(),
            reason,
        };
        let plan = &self.plan;
        let node = |id: u32| node_ref(plan, seq, id);
        let edge = match row.edge {
            None => None,
            Some(edge) => {
                let target = edge.to.map(node).transpose()?;
                let guard = match edge.edge {
                    Some((from, index)) => plan
                        .nodes
                        .get(from as usize)
                        .and_then(|from| from.guard_texts.get(index as usize))
                        .ok_or_else(|| malformed(format!("no edge {index} of {from}")))?
                        .clone(),
                    None => None,
                };
                Some(EdgeTaken {
                    target: target.as_ref().map(|node| node.id),
                    to: target.map_or_else(|| plan.end.clone(), |node| node.name),
                    edge: edge.edge.map(|(from, index)| (NodeId(from), index)),
                    guard,
                    on_error: edge.on_error,
                })
            }
        };
        let in_loop = match row.in_loop {
            None => None,
            Some(position) => Some(LoopPosition {
                node: node(position.node)?,
                iteration: position.iteration,
                until: position.until,
                outer: position
                    .outer
                    .into_iter()
                    .map(|(id, iteration, until)| {
                        Ok(OuterUntil {
                            node: node(id)?,
                            iteration,
                            until,
                        })
                    })
                    .collect::<Result<_, DecodeError>>()?,
            }),
        };
        let at = node(row.node)?;
        Ok(Step {
            seq,
            step: row.step,
            tool: plan.tools[at.id.index()].clone(),
            node: at,
            started_at: from_us(row.started_us),
            duration: Duration::from_micros(row.duration_us),
            changes,
            edge,
            in_loop,
            output: row.output,
            stderr: row.stderr,
            error: row
                .error
                .map(|(code, message)| ErrorRecord { code, message }),
            attempts: row.attempts,
        })
    }
}

fn node_ref(plan: &super::Plan, seq: u64, id: u32) -> Result<NodeRef, DecodeError> {
    let name = plan.names.get(id as usize).ok_or(DecodeError::NoSuchNode {
        seq,
        node: id,
        nodes: plan.names.len(),
    })?;
    Ok(NodeRef {
        id: NodeId(id),
        name: name.clone(),
    })
}
