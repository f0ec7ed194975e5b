//! What a tool implementation receives and returns, and how a run is cancelled from outside.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Map, Value};

use super::files::{Access, FileAccess, PathError};
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
    /// The flow file's folder: where commands run, and what relative paths are relative to.
    pub workdir: &'a Path,
    /// Which files the tool may read and write: ask [`ToolCall::path`] before opening one.
    pub files: &'a FileAccess,
    /// Where the tool reports what it has to say besides its changes (a command's stderr).
    pub log: &'a ToolLog,
}

impl ToolCall<'_> {
    /// `given` (from the state or an argument, relative to `workdir`) resolved, if the tool
    /// may use it for `access`.
    pub fn path(&self, given: &str, access: Access) -> Result<PathBuf, PathError> {
        self.files.resolve(self.workdir, given, access)
    }

    /// Why long work must stop now, if it must: the run was cancelled, or the deadline passed.
    /// Tools that loop over many items ask between items.
    pub fn interruption(&self) -> Option<FailureKind> {
        if self.cancel.is_cancelled() {
            Some(FailureKind::Cancelled)
        } else if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            Some(FailureKind::TimedOut)
        } else {
            None
        }
    }
}

/// Lines a tool reports besides its changes, for the step's log record (`stderr`). Bounded:
/// past [`ToolLog::MAX_LINES`] lines or [`ToolLog::MAX_BYTES`] bytes per step, lines are
/// counted, not kept.
#[derive(Debug, Default)]
pub struct ToolLog {
    lines: Mutex<Lines>,
}

#[derive(Debug, Default)]
struct Lines {
    kept: Vec<String>,
    bytes: usize,
    dropped: usize,
}

impl ToolLog {
    pub const MAX_LINES: usize = 200;
    pub const MAX_BYTES: usize = 64 * 1024;

    pub fn line(&self, text: &str) {
        let mut lines = crate::sync::lock(&self.lines);
        if lines.kept.len() < Self::MAX_LINES && lines.bytes + text.len() <= Self::MAX_BYTES {
            lines.bytes += text.len();
            lines.kept.push(text.to_owned());
        } else {
            lines.dropped += 1;
        }
    }

    /// The lines reported since the last call.
    pub(crate) fn take(&self) -> Vec<String> {
        let mut lines = crate::sync::lock(&self.lines);
        let mut kept = std::mem::take(&mut lines.kept);
        if lines.dropped > 0 {
            kept.push(format!("… {} more lines not kept", lines.dropped));
        }
        *lines = Lines::default();
        kept
    }
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
