//! The tool registry: each tool's name, description and argument schema (so the compiler
//! finds `unknown-tool` and `bad-tool-args` before anything runs) and its implementation
//! (which the engine calls). Embedders register their own tools here.

mod call;
mod exec;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use call::{FailureKind, Tool, ToolCall, ToolFailure, ToolLog};
pub(crate) use exec::kill_all_and_exit;
pub use exec::serve_watchdog as serve_exec_watchdog;

use serde::Serialize;

/// The built-in tool a node names to pause for a person: compile turns such a node into
/// `NodeKind::Wait`, which the engine runs itself.
pub const WAIT_TOOL: &str = "wait";

use crate::value::{FieldType, Kind, LiteralValue};

/// The type an argument accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArgType {
    String,
    Int,
    /// Accepts whole numbers too.
    Float,
    Bool,
    /// A duration literal (`250ms`, `5s`, `2m`, `1h`).
    Duration,
    List,
    Map,
    Any,
}

impl ArgType {
    pub fn name(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Int => "int",
            ArgType::Float => "float",
            ArgType::Bool => "bool",
            ArgType::Duration => "duration",
            ArgType::List => "list",
            ArgType::Map => "map",
            ArgType::Any => "any",
        }
    }

    /// The state type with the same rule, for all but `duration`.
    fn field_type(self) -> Option<FieldType> {
        Some(match self {
            ArgType::String => FieldType::String,
            ArgType::Int => FieldType::Int,
            ArgType::Float => FieldType::Float,
            ArgType::Bool => FieldType::Bool,
            ArgType::Duration => return None,
            ArgType::List => FieldType::List,
            ArgType::Map => FieldType::Map,
            ArgType::Any => FieldType::Any,
        })
    }

    /// Whether a literal fits: the state's type check, with durations only for `duration`
    /// and `any` (as milliseconds) and `null` only for `any`.
    pub fn accepts(self, value: &LiteralValue) -> bool {
        match (self.field_type(), value) {
            (None, LiteralValue::Duration(_)) | (Some(FieldType::Any), _) => true,
            (None, LiteralValue::Json(_)) | (Some(_), LiteralValue::Duration(_)) => false,
            (Some(ty), LiteralValue::Json(json)) => ty.accepts(false, Kind::of_json(json)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArgSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ArgType,
    pub required: bool,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub args: Vec<ArgSpec>,
}

impl ToolSpec {
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            args: Vec::new(),
        }
    }

    /// Adds an argument the call must give.
    #[must_use]
    pub fn required(self, name: &str, ty: ArgType, description: &str) -> Self {
        self.arg(name, ty, true, description)
    }

    /// Adds an argument the call may leave out.
    #[must_use]
    pub fn optional(self, name: &str, ty: ArgType, description: &str) -> Self {
        self.arg(name, ty, false, description)
    }

    fn arg(mut self, name: &str, ty: ArgType, required: bool, description: &str) -> Self {
        self.args.push(ArgSpec {
            name: name.into(),
            ty,
            required,
            description: description.into(),
        });
        self
    }

    pub fn arg_spec(&self, name: &str) -> Option<&ArgSpec> {
        self.args.iter().find(|arg| arg.name == name)
    }

    /// `name(a: string, b?: duration)`, as shown in help texts and `flowc tools`.
    pub fn signature(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|arg| {
                format!(
                    "{}{}: {}",
                    arg.name,
                    if arg.required { "" } else { "?" },
                    arg.ty.name()
                )
            })
            .collect();
        format!("{}({})", self.name, args.join(", "))
    }
}

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

    /// The tools every flow can use.
    pub fn builtin() -> Self {
        let mut registry = ToolRegistry::new();
        registry.register(
            ToolSpec::new(
                "noop",
                "Does nothing and changes nothing; useful as a placeholder step.",
            ),
            call::Noop,
        );
        registry.register(
            ToolSpec::new(
                "exec",
                "Runs a command (no shell unless it names one). It gets {\"state\", \"args\", \"node\"} as JSON on stdin and prints a JSON object of changes on stdout.",
            )
            .required("cmd", ArgType::String, "the command line, split into words as a shell would")
            .optional("timeout", ArgType::Duration, "kill the command after this long"),
            exec::Exec,
        );
        registry.register(
            ToolSpec::new(
                WAIT_TOOL,
                "Pauses the run for a person's answer: the run stops with status `waiting` and the prompt, and is resumed with a JSON object whose entries are merged into the state. Needs a durable run (the engine runs it; it calls no tool).",
            )
            .required("prompt", ArgType::String, "the question shown to whoever resumes the run")
            .optional("timeout", ArgType::Duration, "how long the run may wait before it fails"),
            call::Wait,
        );
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
    fn int_arguments_are_accepted_where_floats_are_expected() {
        assert!(ArgType::Float.accepts(&LiteralValue::Json(3.into())));
        assert!(!ArgType::Int.accepts(&LiteralValue::Json(3.5.into())));
    }

    #[test]
    fn int_arguments_fit_64_signed_bits_as_state_ints_do() {
        assert!(ArgType::Int.accepts(&LiteralValue::Json(i64::MAX.into())));
        assert!(!ArgType::Int.accepts(&LiteralValue::Json(u64::MAX.into())));
        assert!(ArgType::Float.accepts(&LiteralValue::Json(u64::MAX.into())));
        assert!(!ArgType::Int.accepts(&LiteralValue::Json(serde_json::Value::Null)));
    }

    #[test]
    fn durations_fit_only_duration_arguments() {
        let five_seconds = LiteralValue::Duration(std::time::Duration::from_secs(5));
        assert!(ArgType::Duration.accepts(&five_seconds));
        assert!(!ArgType::Int.accepts(&five_seconds));
        assert!(!ArgType::Duration.accepts(&LiteralValue::Json(5.into())));
    }

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
