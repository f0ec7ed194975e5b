//! The syntax tree of one `.flow` file: names as written, every node with its span, no
//! meaning attached yet (that is `compile`'s job).

use std::time::Duration;

use crate::span::{Span, Spanned};

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub name: Ident,
    pub doc: Option<String>,
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
/// Declarations are boxed so that an item is the size of a chain, which most items are.
pub enum Item {
    State(StateBlock),
    Node(Box<NodeDecl>),
    Loop(Box<LoopDecl>),
    Chain(Chain),
}

#[derive(Clone, Debug, PartialEq)]
pub struct StateBlock {
    pub fields: Vec<Field>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub ty: Spanned<FieldType>,
    pub nullable: bool,
    pub default: Option<Literal>,
    pub span: Span,
}

/// Field types are shared by every phase, so they live in the value vocabulary.
pub use crate::value::FieldType;

/// A literal in a tool argument or a state default.
#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    pub value: LiteralValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LiteralValue {
    Json(serde_json::Value),
    Duration(Duration),
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeDecl {
    pub name: Ident,
    pub doc: Option<String>,
    pub action: NodeAction,
    pub timeout: Option<Spanned<Duration>>,
    pub retry: Option<Retry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeAction {
    Tool(ToolCall),
    Script(Code),
    /// `node NAME` alone: a junction that only routes.
    Junction,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub name: Ident,
    pub args: Vec<ToolArg>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ToolArg {
    pub name: Ident,
    pub value: Literal,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    pub attempts: Spanned<u32>,
    pub backoff: Option<Spanned<Duration>>,
    pub span: Span,
}

/// Raw rhai text, a verbatim slice of the file, and where it sits.
#[derive(Clone, Debug, PartialEq)]
pub struct Code {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoopDecl {
    pub name: Ident,
    pub doc: Option<String>,
    pub max: Option<Spanned<u64>>,
    pub body: Vec<LoopItem>,
    pub until: Code,
    /// The `loop NAME … { … }` part, for labels that mean the loop as a whole.
    pub header: Span,
    /// The braces of the body.
    pub body_span: Span,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LoopItem {
    Loop(Box<LoopDecl>),
    Chain(Chain),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    pub endpoints: Vec<Endpoint>,
    pub condition: Option<EdgeCondition>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    Start(Span),
    End(Span),
    Name(Ident),
}

impl Endpoint {
    pub fn span(&self) -> Span {
        match self {
            Endpoint::Start(span) | Endpoint::End(span) => *span,
            Endpoint::Name(ident) => ident.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum EdgeCondition {
    When(Code),
    OnError(Span),
}
