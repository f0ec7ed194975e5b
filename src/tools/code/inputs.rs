//! Which files `code.extract` and `code.analyze` read.
//!
//! An argument wins: `file: "a.py"` or `files: ["a.py", "b.py"]`. Without one, the state
//! says: `input: "file"` reads the state field `file` (a string), `input: "files"` the field
//! `files` (a list of strings); without `input`, `file` when the state has it (not null),
//! else `files`. A loop that sets `file` each iteration reviews one file at a time; a node
//! after `code.list_files` with `input: "files"` reviews them all.

use serde_json::Value;

use crate::tools::{ToolCall, ToolFailure};

/// A path to read and where it came from (`file`, `files[2]`), for messages.
pub(super) struct Input {
    pub field: String,
    pub path: String,
}

pub(super) fn one_file(call: &ToolCall<'_>, tool: &str) -> Result<Input, ToolFailure> {
    if let Some(value) = call.args.get("file") {
        return single("argument `file`", value);
    }
    match call.state.get("file") {
        Some(value) if !value.is_null() => single("state field `file`", value),
        _ => Err(ToolFailure::failed(format!(
            "{tool} needs a file: give the argument `file` or set the state field `file`"
        ))),
    }
}

pub(super) fn files(call: &ToolCall<'_>, tool: &str) -> Result<Vec<Input>, ToolFailure> {
    if let Some(value) = call.args.get("file") {
        return Ok(vec![single("argument `file`", value)?]);
    }
    if let Some(value) = call.args.get("files") {
        return list("argument `files`", value);
    }
    let state_file = call.state.get("file").filter(|value| !value.is_null());
    let input = call.args.get("input").and_then(Value::as_str);
    match (input, state_file) {
        (Some("file") | None, Some(value)) => Ok(vec![single("state field `file`", value)?]),
        (Some("file"), None) => Err(ToolFailure::failed(format!(
            "{tool} has `input: \"file\"` but the state field `file` is not set"
        ))),
        _ => match call.state.get("files") {
            Some(value) => list("state field `files`", value),
            None => Err(ToolFailure::failed(format!(
                "{tool} needs files: give the argument `file` or `files`, or set the state field `file` or `files`"
            ))),
        },
    }
}

fn single(source: &str, value: &Value) -> Result<Input, ToolFailure> {
    match value {
        Value::String(path) if !path.is_empty() => Ok(Input {
            field: source.to_owned(),
            path: path.clone(),
        }),
        Value::String(_) => Err(ToolFailure::failed(format!("{source} is an empty path"))),
        other => Err(ToolFailure::failed(format!(
            "{source} must be a path (a string), not {}",
            kind_name(other)
        ))),
    }
}

fn list(source: &str, value: &Value) -> Result<Vec<Input>, ToolFailure> {
    let Value::Array(items) = value else {
        return Err(ToolFailure::failed(format!(
            "{source} must be a list of paths, not {}",
            kind_name(value)
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| single(&format!("{source} item {index}"), item))
        .collect()
}

pub(super) fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}
