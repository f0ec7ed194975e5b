//! Calling a dq tool in a unit test.

use std::path::Path;

use serde_json::{Map, Value};

use crate::CancelToken;
use crate::tools::{FileAccess, Tool, ToolCall, ToolFailure, ToolLog};

/// Calls `tool` with these arguments and state (JSON objects), in `workdir`.
pub(super) fn call_in(
    tool: &dyn Tool,
    workdir: &Path,
    args: &Value,
    state: &Value,
) -> Result<Map<String, Value>, ToolFailure> {
    let (Value::Object(args), Value::Object(state)) = (args, state) else {
        panic!("args and state must be objects");
    };
    let log = ToolLog::default();
    let files = FileAccess::within([workdir]);
    let cancel = CancelToken::new();
    tool.call(&ToolCall {
        node: "test",
        args,
        state,
        cancel: &cancel,
        deadline: None,
        workdir,
        files: &files,
        log: &log,
    })
}

pub(super) fn call(
    tool: &dyn Tool,
    args: &Value,
    state: &Value,
) -> Result<Map<String, Value>, ToolFailure> {
    call_in(tool, Path::new("."), args, state)
}

/// The failure's message, for a call that must fail.
pub(super) fn failure(result: Result<Map<String, Value>, ToolFailure>) -> String {
    result.expect_err("the call must fail").message
}
