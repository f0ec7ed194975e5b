//! Calling a tool as the engine does, for the tests of this module.

use std::path::Path;

use serde_json::{Map, Value};

use crate::cancel::CancelToken;
use crate::tools::{FileAccess, ToolCall, ToolFailure, ToolLog, ToolRegistry};

/// Calls the built-in tool `name` with these args and state (JSON objects).
pub(super) fn call(
    name: &str,
    workdir: &Path,
    args: &Value,
    state: &Value,
) -> Result<Map<String, Value>, ToolFailure> {
    let registry = ToolRegistry::builtin();
    let tool = registry.implementation(name).expect("a built-in tool");
    let (args, state) = (object(args), object(state));
    let cancel = CancelToken::new();
    let log = ToolLog::default();
    let files = FileAccess::within([workdir]);
    tool.call(&ToolCall {
        node: "test",
        args: &args,
        state: &state,
        cancel: &cancel,
        deadline: None,
        workdir,
        files: &files,
        log: &log,
    })
}

fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().expect("a JSON object")
}

/// A folder holding these files (path, text).
pub(super) fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("a parent")).expect("folders");
        std::fs::write(full, text).expect("written");
    }
    dir
}

/// The message of a failure, which must be `tool-failed`.
pub(super) fn failure(result: Result<Map<String, Value>, ToolFailure>) -> String {
    let failure = result.expect_err("the call fails");
    assert_eq!(failure.kind, crate::tools::FailureKind::Failed);
    failure.message
}
