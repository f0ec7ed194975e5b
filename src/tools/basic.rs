//! The tools every engine has: `noop`, and `wait` (which the engine runs itself).

use serde_json::{Map, Value};

use super::{ArgType, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec, WAIT_TOOL};

pub(super) fn register(registry: &mut ToolRegistry) {
    registry.register(
        ToolSpec::new(
            "noop",
            "Does nothing and changes nothing; useful as a placeholder step.",
        ),
        Noop,
    );
    registry.register(
        ToolSpec::new(
            WAIT_TOOL,
            "Pauses the run for a person's answer: the run stops with status `waiting` and the prompt, and is resumed with a JSON object whose entries are merged into the state. Needs a durable run (the engine runs it; it calls no tool).",
        )
        .required("prompt", ArgType::String, "the question shown to whoever resumes the run")
        .optional("timeout", ArgType::Duration, "how long the run may wait before it fails"),
        Wait,
    );
}

/// The `noop` tool: changes nothing.
struct Noop;

impl Tool for Noop {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        Ok(Map::new())
    }
}

/// The `wait` tool's implementation. The engine runs wait nodes itself (it pauses the run),
/// so this is reached only by an embedder calling the tool directly: it says so.
struct Wait;

impl Tool for Wait {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        Err(ToolFailure::failed(
            "`wait` is run by the engine, which pauses the run until it is resumed; it cannot be called as a tool",
        ))
    }
}
