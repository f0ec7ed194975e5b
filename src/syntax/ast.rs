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

pub use crate::value::LiteralValue;

#[derive(Clone, Debug, PartialEq)]
pub struct NodeDecl {
    pub name: Ident,
    pub doc: Option<String>,
    pub action: NodeAction,
    /// The first `timeout`, if any.
    pub timeout: Option<Spanned<Duration>>,
    /// The first `retry`, if any.
    pub retry: Option<Retry>,
    /// Every attribute as written, in order, with its whole span (`timeout 5s`): repeats
    /// and attributes that do not fit the action are compile's to report.
    pub attrs: Vec<Spanned<NodeAttr>>,
    pub span: Span,
}

impl NodeDecl {
    /// Where `attr` is first given, if it is.
    pub fn attr(&self, attr: NodeAttr) -> Option<Span> {
        self.attrs
            .iter()
            .find(|given| given.value == attr)
            .map(|given| given.span)
    }
}

/// An attribute after a node's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAttr {
    Timeout,
    Retry,
    /// `once`: the action must never run twice, even across a crash.
    Once,
}

impl NodeAttr {
    /// The word that writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            NodeAttr::Timeout => "timeout",
            NodeAttr::Retry => "retry",
            NodeAttr::Once => "once",
        }
    }
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
