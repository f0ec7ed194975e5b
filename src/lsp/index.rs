//! What the editor features need to know of one parsed file: every declaration (nodes,
//! loops, state fields) and every place a name is used (edges; guards and scripts for state
//! fields), each with its span.

use std::fmt::Write as _;

use std::collections::HashMap;

use rhai::Token;

use crate::span::Span;
use crate::syntax::ast::{
    Code, EdgeCondition, Endpoint, Flow, Item, LoopDecl, LoopItem, NodeAction, NodeDecl,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SymbolKind {
    Node,
    Loop,
    Field,
}

/// A declared name.
#[derive(Clone, Debug)]
pub(super) struct Symbol {
    pub(super) kind: SymbolKind,
    pub(super) name: String,
    /// The name where it is declared.
    pub(super) at: Span,
    /// The whole declaration.
    pub(super) whole: Span,
    /// Markdown for hover.
    pub(super) detail: String,
}

/// A use of a name.
#[derive(Clone, Debug)]
pub(super) struct Use {
    pub(super) symbol: usize,
    pub(super) at: Span,
}

/// Where a tool is named, for hover on the tool.
#[derive(Clone, Debug)]
pub(super) struct ToolUse {
    pub(super) tool: String,
    pub(super) at: Span,
    /// The argument list's parentheses, if written.
    pub(super) args: Option<Span>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Index {
    pub(super) symbols: Vec<Symbol>,
    pub(super) uses: Vec<Use>,
    pub(super) tools: Vec<ToolUse>,
    /// Guards and scripts: where state fields are completed.
    pub(super) code: Vec<Span>,
    /// `(is a field, name)` to its first declaration in `symbols`.
    by_name: HashMap<(bool, String), usize>,
}

impl Index {
    pub(super) fn build(flow: &Flow, text: &str, registry: &crate::tools::ToolRegistry) -> Self {
        let mut index = Index::default();
        let mut codes: Vec<&Code> = Vec::new();
        let mut chains = Vec::new();
        for item in &flow.items {
            match item {
                Item::State(block) => {
                    for field in &block.fields {
                        let mut detail = format!(
                            "`{}: {}{}`",
                            field.name.name,
                            &text[field.ty.span.start..field.ty.span.end],
                            if field.nullable { "?" } else { "" }
                        );
                        if let Some(default) = &field.default {
                            let _ = write!(
                                detail,
                                " — default `{}`",
                                &text[default.span.start..default.span.end]
                            );
                        }
                        index.symbols.push(Symbol {
                            kind: SymbolKind::Field,
                            name: field.name.name.clone(),
                            at: field.name.span,
                            whole: field.span,
                            detail: format!("state field {detail}"),
                        });
                    }
                }
                Item::Node(node) => index.node(node, registry, text, &mut codes),
                Item::Loop(body) => index.loop_decl(body, &mut codes, &mut chains),
                Item::Chain(chain) => chains.push(chain),
            }
        }
        for (at, symbol) in index.symbols.iter().enumerate() {
            let key = (symbol.kind == SymbolKind::Field, symbol.name.clone());
            index.by_name.entry(key).or_insert(at);
        }
        for chain in chains {
            for endpoint in &chain.endpoints {
                if let Endpoint::Name(ident) = endpoint
                    && let Some(symbol) = index.declared(&ident.name, false)
                {
                    index.uses.push(Use {
                        symbol,
                        at: ident.span,
                    });
                }
            }
            if let Some(EdgeCondition::When(guard)) = &chain.condition {
                codes.push(guard);
            }
        }
        let lexer = rhai::Engine::new_raw();
        for code in codes {
            index.code.push(code.span);
            index.field_uses(&lexer, code);
        }
        index
    }

    fn node<'f>(
        &mut self,
        node: &'f NodeDecl,
        registry: &crate::tools::ToolRegistry,
        text: &str,
        codes: &mut Vec<&'f Code>,
    ) {
        let action = match &node.action {
            NodeAction::Tool(call) => {
                let args = text[call.name.span.end..call.span.end]
                    .find('(')
                    .map(|open| Span::new(call.name.span.end + open, call.span.end));
                self.tools.push(ToolUse {
                    tool: call.name.name.clone(),
                    at: call.name.span,
                    args,
                });
                let signature = registry
                    .get(&call.name.name)
                    .map_or_else(|| call.name.name.clone(), crate::tools::ToolSpec::signature);
                format!("calls `{signature}`")
            }
            NodeAction::Script(_) => "runs a script".to_owned(),
            NodeAction::Junction => "a junction: no action, it only routes".to_owned(),
        };
        if let NodeAction::Script(code) = &node.action {
            codes.push(code);
        }
        self.symbols.push(Symbol {
            kind: SymbolKind::Node,
            name: node.name.name.clone(),
            at: node.name.span,
            whole: node.span,
            detail: with_doc(
                format!("node `{}`: {action}", node.name.name),
                node.doc.as_deref(),
            ),
        });
    }

    fn loop_decl<'f>(
        &mut self,
        body: &'f LoopDecl,
        codes: &mut Vec<&'f Code>,
        chains: &mut Vec<&'f crate::syntax::ast::Chain>,
    ) {
        let max = body.max.as_ref().map_or_else(
            || "no bound".to_owned(),
            |max| format!("at most {} times", max.value),
        );
        self.symbols.push(Symbol {
            kind: SymbolKind::Loop,
            name: body.name.name.clone(),
            at: body.name.span,
            whole: body.span,
            detail: with_doc(
                format!(
                    "loop `{}`: {max}, until `{}`",
                    body.name.name,
                    body.until.text.trim()
                ),
                body.doc.as_deref(),
            ),
        });
        codes.push(&body.until);
        for item in &body.body {
            match item {
                LoopItem::Loop(inner) => self.loop_decl(inner, codes, chains),
                LoopItem::Chain(chain) => chains.push(chain),
            }
        }
    }

    /// The symbol declared as `name`: a node or loop (`fields` false) or a state field.
    pub(super) fn declared(&self, name: &str, fields: bool) -> Option<usize> {
        self.by_name.get(&(fields, name.to_owned())).copied()
    }

    /// Uses of state fields in a guard or script: identifiers rhai's lexer reads, not after
    /// a `.` (a property) and not declared by the code itself with `let`/`const`.
    fn field_uses(&mut self, lexer: &rhai::Engine, code: &Code) {
        let (tokens, _control) = lexer.lex([&code.text]);
        // rhai gives line and character column; this finds the byte offset without
        // scanning the code from its start for every token.
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(code.text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        let mut previous = Token::EOF;
        let mut locals: Vec<String> = Vec::new();
        for (token, pos) in tokens.take_while(|(token, _)| *token != Token::EOF) {
            if let Token::Identifier(name) = &token {
                let declares = matches!(previous, Token::Let | Token::Const);
                if declares {
                    locals.push(name.to_string());
                } else if previous != Token::Period
                    && !locals.iter().any(|local| local == name.as_str())
                    && let Some(symbol) = self.declared(name, true)
                    && let (Some(line), Some(column)) = (pos.line(), pos.position())
                {
                    let line_start = line_starts
                        .get(line - 1)
                        .copied()
                        .unwrap_or(code.text.len());
                    let within = code.text[line_start..]
                        .char_indices()
                        .nth(column - 1)
                        .map_or(0, |(at, _)| at);
                    let start = code.span.start + line_start + within;
                    self.uses.push(Use {
                        symbol,
                        at: Span::new(start, start + name.len()),
                    });
                }
            }
            previous = token;
        }
    }

    /// The symbol named at `offset`, declared or used there.
    pub(super) fn symbol_at(&self, offset: usize) -> Option<usize> {
        let inside = |span: &Span| span.start <= offset && offset <= span.end;
        self.symbols
            .iter()
            .position(|symbol| inside(&symbol.at))
            .or_else(|| {
                self.uses
                    .iter()
                    .find(|used| inside(&used.at))
                    .map(|used| used.symbol)
            })
    }

    /// Every place `symbol` is named: its declaration first, then its uses in source order.
    pub(super) fn occurrences(&self, symbol: usize) -> Vec<Span> {
        let mut spans: Vec<Span> = self
            .uses
            .iter()
            .filter(|used| used.symbol == symbol)
            .map(|used| used.at)
            .collect();
        spans.sort_by_key(|span| span.start);
        spans.insert(0, self.symbols[symbol].at);
        spans
    }
}

fn with_doc(summary: String, doc: Option<&str>) -> String {
    match doc {
        Some(doc) => format!("{summary}\n\n{doc}"),
        None => summary,
    }
}
