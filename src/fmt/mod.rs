//! `flowc fmt`: one canonical layout for `.flow` files, printed from the syntax tree with
//! every comment kept. The layout is documented in `docs/language.md` ("Layout").
//!
//! What it guarantees: the formatted file compiles to the same IR as the original (only
//! spans differ), formatting twice changes nothing, and no comment is lost — a construct
//! holding a comment the layout has no place for is kept as written, and output that would
//! drop a comment is refused.

mod comments;
mod printer;
mod rhai_text;

use crate::source::SourceFile;
use crate::span::Span;
use crate::syntax::{self, SyntaxError, ast};

/// Why a file was left as it is.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FormatError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Syntax(#[from] SyntaxError),
    /// A safety net: the printer placed fewer comments than the file has.
    #[error("formatting would lose a comment, so the file is left as it is")]
    #[diagnostic(
        code("flow::fmt-lost-comment"),
        help("this is a formatter bug: please report it with the file")
    )]
    LostComment,
}

/// The file in the canonical layout.
pub fn format(source: &SourceFile) -> Result<String, FormatError> {
    let flow = syntax::parse(source)?;
    let text = &source.text;
    let found = comments::Comments::scan(text, &opaque_spans(&flow));
    let (formatted, complete) = printer::Printer::new(text, found).file(&flow);
    if !complete {
        return Err(FormatError::LostComment);
    }
    Ok(formatted)
}

/// Where a `//` or `/*` is code or string text, not a comment: scripts, guards, literals
/// and quoted field names. In source order.
fn opaque_spans(flow: &ast::Flow) -> Vec<Span> {
    fn chain(spans: &mut Vec<Span>, chain: &ast::Chain) {
        if let Some(ast::EdgeCondition::When(guard)) = &chain.condition {
            spans.push(guard.span);
        }
    }
    fn loop_decl(spans: &mut Vec<Span>, body: &ast::LoopDecl) {
        for item in &body.body {
            match item {
                ast::LoopItem::Loop(inner) => loop_decl(spans, inner),
                ast::LoopItem::Chain(inner) => chain(spans, inner),
            }
        }
        spans.push(body.until.span);
    }
    let mut spans = Vec::new();
    for item in &flow.items {
        match item {
            ast::Item::State(block) => {
                for field in &block.fields {
                    spans.push(field.name.span);
                    spans.extend(field.default.as_ref().map(|default| default.span));
                }
            }
            ast::Item::Node(node) => match &node.action {
                ast::NodeAction::Tool(call) => {
                    spans.extend(call.args.iter().map(|arg| arg.value.span));
                }
                ast::NodeAction::Script(code) => spans.push(code.span),
                ast::NodeAction::Junction => {}
            },
            ast::Item::Loop(body) => loop_decl(&mut spans, body),
            ast::Item::Chain(inner) => chain(&mut spans, inner),
        }
    }
    spans.sort_by_key(|span| span.start);
    spans
}

#[cfg(test)]
mod tests;
