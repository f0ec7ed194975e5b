//! What a tool implementation receives and returns, and how a run is cancelled from outside.

use std::path::Path;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::cancel::CancelToken;

/// A tool the engine can call. Implementations must return promptly once `call.cancel` is
/// cancelled or `call.deadline` has passed.
pub trait Tool: Send + Sync {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure>;

    /// Checks an argument's value beyond its type, when the flow is checked: `Err` says
    /// what is wrong with it (reported as `bad-tool-args`). By default every value of the
    /// declared type is accepted.
    fn check_arg(&self, name: &str, value: &Value) -> Result<(), String> {
        let _ = (name, value);
        Ok(())
    }
}

/// One invocation of a tool by a node.
#[derive(Debug)]
pub struct ToolCall<'a> {
    /// The node's name.
    pub node: &'a str,
    /// The node's arguments (durations as whole milliseconds).
    pub args: &'a Map<String, Value>,
    /// The run's state when the node starts.
    pub state: &'a Map<String, Value>,
    /// Set when the run is cancelled.
    pub cancel: &'a CancelToken,
    /// When the node's `timeout` (or the run's) expires.
    pub deadline: Option<Instant>,
    /// The flow file's folder: where commands run.
    pub workdir: &'a Path,
}

/// Why a tool call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl ToolFailure {
    pub fn failed(message: impl Into<String>) -> Self {
        ToolFailure {
            kind: FailureKind::Failed,
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The tool ran and failed (`tool-failed`).
    Failed,
    /// The deadline passed (`timeout`).
    TimedOut,
    /// The run was cancelled (`cancelled`).
    Cancelled,
}

/// The `noop` tool: changes nothing.
pub(crate) struct Noop;

impl Tool for Noop {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        Ok(Map::new())
    }
}

/// The `wait` tool's implementation. The engine runs wait nodes itself (it pauses the run),
/// so this is reached only by an embedder calling the tool directly: it says so.
pub(crate) struct Wait;

impl Tool for Wait {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        Err(ToolFailure::failed(
            "`wait` is run by the engine, which pauses the run until it is resumed; it cannot be called as a tool",
        ))
    }
}
