//! The IR: what the engine runs. Names are resolved to ids, guards and scripts are compiled,
//! loops know their entry, exit and bound. Serializable (for `flowc check --emit-ir`) and
//! versioned by [`IR_VERSION`].

use serde::Serialize;

use crate::sandbox::CompiledCode;
use crate::span::Span;
use crate::syntax::ast::FieldType;

/// Bumped whenever the serialized shape changes.
pub const IR_VERSION: u32 = 2;

#[derive(Debug, Serialize)]
pub struct Program {
    pub ir_version: u32,
    /// `sha256:` and 64 hex digits over the IR version, the source text and the spec of
    /// every tool the nodes use (see `compile::hash`): what a stored run was started from.
    pub hash: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
    /// Where `start` points.
    pub entry: Target,
    /// Every node and loop, indexed by [`NodeId`], in declaration order.
    pub nodes: Vec<Node>,
    /// The registry the program was checked against: the engine calls these tools, so the
    /// tools checked and the tools run are one set.
    #[serde(skip)]
    pub tools: crate::tools::ToolRegistry,
}

impl Program {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn find(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.name == name)
    }

    /// The hash's first 12 hex digits, for display.
    pub fn short_hash(&self) -> &str {
        let digits = self.hash.strip_prefix(HASH_PREFIX).unwrap_or(&self.hash);
        digits.get(..12).unwrap_or(digits)
    }
}

/// What [`Program::hash`] starts with: the algorithm.
pub const HASH_PREFIX: &str = "sha256:";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where an edge leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Node(NodeId),
    End,
}

#[derive(Debug, Serialize)]
pub struct Schema {
    pub fields: Vec<SchemaField>,
}

#[derive(Debug, Serialize)]
pub struct SchemaField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub nullable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    pub span: Span,
}

#[derive(Debug, Serialize)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// The name in the declaration.
    pub span: Span,
    pub kind: NodeKind,
    /// `once`: the action must never run twice; a run that crashed while it ran needs
    /// attention instead of running it again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub once: bool,
    /// Outgoing edges in source order.
    pub edges: Vec<Edge>,
    /// The loop whose body holds this node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<NodeId>,
}

impl Node {
    pub fn as_loop(&self) -> Option<&Loop> {
        match &self.kind {
            NodeKind::Loop(body) => Some(body),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum NodeKind {
    Tool {
        tool: String,
        /// Arguments as JSON; durations are whole milliseconds.
        args: serde_json::Map<String, serde_json::Value>,
        #[serde(flatten)]
        policy: Policy,
    },
    Script {
        code: CompiledCode,
        #[serde(flatten)]
        policy: Policy,
    },
    /// `wait(prompt: …)`: the run pauses, `waiting`, until it is resumed with a JSON object
    /// that is merged into the state. The engine runs it; no tool is called.
    Wait {
        prompt: String,
        /// How long the wait may last, if bounded.
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Routes only.
    Junction,
    Loop(Loop),
}

/// How an action is run: its time limit and retries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub attempts: u32,
    /// The first wait; each later one doubles.
    pub backoff_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct Loop {
    pub max: u64,
    pub entry: NodeId,
    pub exit: NodeId,
    pub until: CompiledCode,
    /// The nodes (and nested loops) directly in the body.
    pub body: Vec<NodeId>,
}

#[derive(Debug, Serialize)]
pub struct Edge {
    pub to: Target,
    pub when: EdgeWhen,
    /// The hop `a -> b` in the source.
    pub span: Span,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeWhen {
    /// The default edge, taken when no guard holds.
    Always,
    Guard(CompiledCode),
    /// Taken when the node fails.
    OnError,
}
