//! `RuntimeError`: every way a run can fail, as data. Each variant carries the spans of the
//! IR it concerns (node name, guard, loop, schema field); `FileReport` lends them the text.

use miette::{LabeledSpan, SourceSpan};

/// A run that did not finish. Rendered like the check-time diagnostics: push it into a
/// [`crate::FileReport`] for the flow's source.
#[derive(Clone, Debug, thiserror::Error, miette::Diagnostic)]
pub enum RuntimeError {
    #[error("state field `{field}` must be {expected}, but the initial state has {given}")]
    #[diagnostic(
        code("flow::invalid-state"),
        help("give `{field}` a value of type {expected} (for example `--set {field}=…`)")
    )]
    InvalidState {
        field: String,
        expected: String,
        given: String,
        #[label("`{field}` is declared as {expected} here")]
        at: SourceSpan,
        /// The initial state's other problems: every one is reported at once.
        #[related]
        also: Vec<RuntimeError>,
    },

    #[error("state field `{field}` has no value and no default")]
    #[diagnostic(
        code("flow::invalid-state"),
        help(
            "give `{field}` a value in the initial state (`--set {field}=…`) or a default in the schema"
        )
    )]
    MissingField {
        field: String,
        #[label("declared here without a default")]
        at: SourceSpan,
        /// The initial state's other problems.
        #[related]
        also: Vec<RuntimeError>,
    },

    #[error("guard failed: {reason}")]
    #[diagnostic(code("flow::guard-error"), help("{help}"))]
    GuardError {
        /// The node (or loop) being left.
        node: String,
        reason: String,
        help: String,
        #[label(primary, "{reason}")]
        at: SourceSpan,
        #[label("evaluated after `{node}`")]
        node_at: SourceSpan,
    },

    #[error("node `{node}` failed: {reason}")]
    #[diagnostic(code("flow::script-error"), help("{help}"))]
    ScriptError {
        node: String,
        reason: String,
        help: String,
        #[label(primary, "{reason}")]
        at: SourceSpan,
    },

    /// Boxed: its text fields would make every `Result` of the run large.
    #[error(transparent)]
    #[diagnostic(transparent)]
    InvalidWrite(Box<InvalidWrite>),

    #[error("node `{node}` failed: tool `{tool}`: {message}")]
    #[diagnostic(
        code("flow::tool-failed"),
        help("add `{node} -> … on error` to handle the failure, or `retry N` to try again")
    )]
    ToolFailed {
        node: String,
        tool: String,
        message: String,
        #[label("`{tool}` failed here")]
        at: SourceSpan,
    },

    #[error("node `{node}` timed out after {limit}")]
    #[diagnostic(
        code("flow::timeout"),
        help("raise the node's `timeout`, or add `{node} -> … on error` to handle it")
    )]
    NodeTimeout {
        node: String,
        limit: String,
        #[label("did not finish within {limit}")]
        at: SourceSpan,
    },

    #[error("node `{node}` waited {limit} for input, and none came")]
    #[diagnostic(
        code("flow::timeout"),
        help(
            "resume the run with its input within the wait's `timeout`, or add \
             `{node} -> … on error` to handle a wait that times out"
        )
    )]
    WaitTimedOut {
        node: String,
        limit: String,
        #[label("waited {limit} here")]
        at: SourceSpan,
    },

    #[error("node `{node}` waits for input, but this run is not stored: nothing could resume it")]
    #[diagnostic(
        code("flow::wait-without-store"),
        help(
            "run the flow with `--db FILE`: the run is stored while it waits, and \
             `flowc resume RUN --db FILE --input JSON` continues it"
        )
    )]
    WaitWithoutStore {
        node: String,
        #[label("waits for input")]
        at: SourceSpan,
    },

    #[error("the run timed out after {limit} (in node `{node}`)")]
    #[diagnostic(
        code("flow::timeout"),
        help("raise the run's time limit (`--timeout`)")
    )]
    RunTimeout {
        node: String,
        limit: String,
        #[label("running when the time was up")]
        at: SourceSpan,
    },

    #[error("no edge from `{node}` applies: every guard is false and there is no default edge")]
    #[diagnostic(
        code("flow::no-matching-edge"),
        help("add a default edge (`{node} -> …` without `when`) for the remaining cases")
    )]
    NoMatchingEdge {
        node: String,
        #[label(primary, "no edge from `{node}` applies")]
        at: SourceSpan,
        /// Each guard, labelled `false: name = value, …`.
        #[label(collection)]
        guards: Vec<LabeledSpan>,
    },

    #[error("loop `{name}` ran {max} times and its `until` guard is still false")]
    #[diagnostic(
        code("flow::loop-exhausted"),
        help(
            "raise `max` if more iterations are expected, or add `{name} -> … on error` to handle it"
        )
    )]
    LoopExhausted {
        name: String,
        max: u64,
        values: String,
        #[label(primary, "loop `{name}` gave up after {max} iterations")]
        at: SourceSpan,
        #[label("still false: {values}")]
        until: SourceSpan,
    },

    #[error("the run reached its limit of {max} steps (next was `{node}`)")]
    #[diagnostic(
        code("flow::max-steps"),
        help("a cycle may not be making progress; raise the limit with `--max-steps` if not")
    )]
    MaxSteps {
        max: u64,
        node: String,
        #[label("the next step would run this node")]
        at: SourceSpan,
    },

    #[error("the run was cancelled{}", node.as_ref().map(|n| format!(" (in node `{n}`)")).unwrap_or_default())]
    #[diagnostic(code("flow::cancelled"))]
    Cancelled {
        node: Option<String>,
        #[label("running when the run was cancelled")]
        at: Option<SourceSpan>,
    },
}

impl RuntimeError {
    /// The diagnostic code without the `flow::` prefix (`tool-failed`), as used in the
    /// `error` state field and in the execution log.
    pub fn short_code(&self) -> &'static str {
        match self {
            RuntimeError::InvalidState { .. } | RuntimeError::MissingField { .. } => {
                "invalid-state"
            }
            RuntimeError::GuardError { .. } => "guard-error",
            RuntimeError::ScriptError { .. } => "script-error",
            RuntimeError::InvalidWrite(_) => "invalid-write",
            RuntimeError::ToolFailed { .. } => "tool-failed",
            RuntimeError::NodeTimeout { .. }
            | RuntimeError::RunTimeout { .. }
            | RuntimeError::WaitTimedOut { .. } => "timeout",
            RuntimeError::WaitWithoutStore { .. } => "wait-without-store",
            RuntimeError::NoMatchingEdge { .. } => "no-matching-edge",
            RuntimeError::LoopExhausted { .. } => "loop-exhausted",
            RuntimeError::MaxSteps { .. } => "max-steps",
            RuntimeError::Cancelled { .. } => "cancelled",
        }
    }

    /// The node (or loop) the error concerns, when there is one.
    pub fn node(&self) -> Option<&str> {
        match self {
            RuntimeError::InvalidState { .. } | RuntimeError::MissingField { .. } => None,
            RuntimeError::GuardError { node, .. }
            | RuntimeError::ScriptError { node, .. }
            | RuntimeError::ToolFailed { node, .. }
            | RuntimeError::NodeTimeout { node, .. }
            | RuntimeError::WaitTimedOut { node, .. }
            | RuntimeError::WaitWithoutStore { node, .. }
            | RuntimeError::RunTimeout { node, .. }
            | RuntimeError::NoMatchingEdge { node, .. }
            | RuntimeError::MaxSteps { node, .. } => Some(node),
            RuntimeError::InvalidWrite(write) => Some(&write.node),
            RuntimeError::LoopExhausted { name, .. } => Some(name),
            RuntimeError::Cancelled { node, .. } => node.as_deref(),
        }
    }

    /// Whether the node's `retry` and `on error` edge apply: a failure of the node's own
    /// action. Routing errors, the run's limits and cancellation end the run.
    pub fn is_node_failure(&self) -> bool {
        matches!(
            self,
            RuntimeError::ScriptError { .. }
                | RuntimeError::InvalidWrite(_)
                | RuntimeError::ToolFailed { .. }
                | RuntimeError::NodeTimeout { .. }
                | RuntimeError::WaitTimedOut { .. }
        )
    }

    /// The one-line message without the node prefix, for the `error` state field.
    pub fn message(&self) -> String {
        match self {
            RuntimeError::ScriptError { reason, .. } => reason.clone(),
            RuntimeError::ToolFailed { message, .. } => message.clone(),
            RuntimeError::InvalidWrite(write) => write.message(),
            other => other.to_string(),
        }
    }
}

/// A step wrote a value that does not fit its field's declared type (`flow::invalid-write`).
#[derive(Clone, Debug, thiserror::Error, miette::Diagnostic)]
#[error("node `{node}` failed: {}", self.message())]
#[diagnostic(code("flow::invalid-write"), help("{help}"))]
pub struct InvalidWrite {
    pub node: String,
    pub field: String,
    /// `int`, or `int or null`.
    pub expected: String,
    /// The value's type, and the value when short.
    pub given: String,
    pub help: String,
    /// What wrote the value: the script's statement or text, or the tool call.
    #[label(primary, "this wrote {given} to `{field}`")]
    pub at: SourceSpan,
    /// The field's declaration (none for `error`, which the engine declares).
    #[label("`{field}` is declared as {expected} here")]
    pub declared: Option<SourceSpan>,
}

impl InvalidWrite {
    /// The one-line message without the node prefix.
    pub fn message(&self) -> String {
        format!(
            "state field `{}` must be {}, but the node wrote {}",
            self.field, self.expected, self.given
        )
    }
}
