//! The tool registry: each tool's name, description and argument schema (so the compiler
//! finds `unknown-tool` and `bad-tool-args` before anything runs) and its implementation
//! (which the engine calls). Embedders register their own tools here.

mod basic;
mod call;
mod code;
mod dq;
mod exec;
mod files;
mod spec;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use call::{FailureKind, Tool, ToolCall, ToolFailure, ToolLog};
pub(crate) use exec::kill_all_and_exit;
pub use exec::serve_watchdog as serve_exec_watchdog;
pub use files::{Access, FileAccess, PathError};
pub use spec::{ArgSpec, ArgType, ToolSpec};

/// Each tool family's module registers its tools; [`ToolRegistry::builtin`] is all of them.
const FAMILIES: &[fn(&mut ToolRegistry)] = &[
    basic::register,
    code::register,
    dq::register,
    exec::register,
];

/// The built-in tool a node names to pause for a person: compile turns such a node into
/// `NodeKind::Wait`, which the engine runs itself.
pub const WAIT_TOOL: &str = "wait";

/// A registered tool: what the compiler checks, and what the engine calls.
#[derive(Clone)]
pub struct RegisteredTool {
    pub spec: ToolSpec,
    pub implementation: Arc<dyn Tool>,
}

impl std::fmt::Debug for RegisteredTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredTool")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// The tools a flow may call, by name.
#[derive(Clone, Debug, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, RegisteredTool>,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        ToolRegistry::default()
    }

    /// The tools every flow can use: every family's.
    pub fn builtin() -> Self {
        let mut registry = ToolRegistry::new();
        for register in FAMILIES {
            register(&mut registry);
        }
        registry
    }

    /// Adds a tool, replacing any tool of the same name.
    pub fn register(&mut self, spec: ToolSpec, implementation: impl Tool + 'static) {
        let implementation = Arc::new(implementation);
        self.tools.insert(
            spec.name.clone(),
            RegisteredTool {
                spec,
                implementation,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.get(name).map(|tool| &tool.spec)
    }

    /// The implementation the engine calls for `name`.
    pub fn implementation(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name).map(|tool| &tool.implementation)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ToolSpec> {
        self.tools.values().map(|tool| &tool.spec)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_marks_optional_arguments() {
        let registry = ToolRegistry::builtin();
        let exec = registry.get("exec").expect("exec is built in");
        assert_eq!(exec.signature(), "exec(cmd: string, timeout?: duration)");
    }

    #[test]
    fn wait_is_built_in_with_a_required_prompt() {
        let registry = ToolRegistry::builtin();
        let wait = registry.get(WAIT_TOOL).expect("wait is built in");
        assert_eq!(wait.signature(), "wait(prompt: string, timeout?: duration)");
    }
}
