//! The `code.*` tools: a review of Python source, parsed with tree-sitter.
//!
//! - `code.list_files(path, glob?)` lists the files to review;
//! - `code.extract(file?)` lists a file's functions and methods as written;
//! - `code.analyze(file?, files?, input?, max_function_lines?, max_parameters?)` computes
//!   radon's cyclomatic complexity of every block and finds issues;
//! - `code.suggest()` turns the analysis into suggestions and a quality score.
//!
//! Paths are relative to the flow file's folder. `extract` and `analyze` read the file named by
//! their argument, or else by the state, so that a loop can review one file per iteration (see
//! [`inputs`]). docs/tools.md ("Code review") documents every field.

mod analyze;
mod complexity;
mod definitions;
mod each_file;
mod extract;
mod inputs;
mod issues;
mod list_files;
mod source;
mod suggest;
#[cfg(test)]
mod testing;

use serde_json::Value;

use crate::tools::{FailureKind, ToolCall, ToolFailure, ToolRegistry};

pub(super) fn register(registry: &mut ToolRegistry) {
    list_files::register(registry);
    extract::register(registry);
    analyze::register(registry);
    suggest::register(registry);
}

/// Fails when the run was cancelled or the node's deadline passed: long work calls it between
/// files.
fn check_interrupted(call: &ToolCall<'_>, tool: &str) -> Result<(), ToolFailure> {
    match call.interruption() {
        None => Ok(()),
        Some(kind) => Err(ToolFailure {
            kind,
            message: match kind {
                FailureKind::Cancelled => format!("{tool} was cancelled"),
                _ => format!("{tool} ran out of time"),
            },
        }),
    }
}

/// An optional whole-number argument at least `min`.
fn count_arg(call: &ToolCall<'_>, name: &str, default: usize) -> Result<usize, ToolFailure> {
    match call.args.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .and_then(|count| usize::try_from(count).ok())
            .ok_or_else(|| {
                ToolFailure::failed(format!(
                    "argument `{name}` must be a whole number at least 0, not {value}"
                ))
            }),
    }
}

/// The JSON form of a value made by this module: serializing plain structs cannot fail.
fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("code review records serialize to JSON")
}
