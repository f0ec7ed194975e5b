//! AST to IR. Takes a parsed flow and the tool registry, gives the validated [`ir::Program`]
//! with every diagnostic found on the way: all of them in one pass, errors first, each group
//! in source order. Never runs anything but constant guards.

mod actions;
mod error;
pub mod ir;
mod resolve;
mod structure;
pub(crate) mod suggest;

pub use actions::ERROR_FIELD;
pub use error::CompileError;

use miette::Diagnostic;

use crate::sandbox::{CompiledCode, Limits};
use crate::syntax::ast::{EdgeCondition, Flow};
use crate::tools::ToolRegistry;
use ir::{Edge, EdgeWhen, IR_VERSION, Loop, Node, NodeId, NodeKind, Program};
use resolve::Decl;

/// The result of compiling: the program when there are no errors, and every diagnostic.
#[derive(Debug)]
pub struct Compilation {
    pub program: Option<Program>,
    /// Errors first, then warnings, each in source order.
    pub diagnostics: Vec<CompileError>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.program.is_none()
    }
}

/// Compiles a flow against the registry, with `limits` for the guards it evaluates now.
pub fn compile(flow: &Flow, tools: &ToolRegistry, limits: &Limits) -> Compilation {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let resolved = resolve::resolve(flow, &mut errors);
    let schema = resolved.state.map(|block| actions::schema(block, &mut errors));
    let actions = actions::Actions::new(tools, limits, schema.as_ref());

    let mut kinds = Vec::with_capacity(resolved.decls.len());
    let mut untils: Vec<Option<(u64, CompiledCode)>> = Vec::with_capacity(resolved.decls.len());
    for decl in &resolved.decls {
        match decl {
            Decl::Node(node) => {
                kinds.push(actions.node_kind(node, &mut errors));
                untils.push(None);
            }
            Decl::Loop(body) => {
                let max = match &body.max {
                    None => {
                        errors.push(CompileError::LoopWithoutMax { name: body.name.name.clone(), at: body.header.into() });
                        None
                    }
                    Some(max) if max.value == 0 => {
                        errors.push(CompileError::LoopMaxZero { name: body.name.name.clone(), at: max.span.into() });
                        None
                    }
                    Some(max) => Some(max.value),
                };
                let until = actions.guard(&body.until, &mut errors, &mut warnings);
                kinds.push(None);
                untils.push(max.zip(until));
            }
        }
    }
    let guards: Vec<Option<CompiledCode>> = resolved
        .edges
        .iter()
        .map(|edge| match edge.condition {
            Some(EdgeCondition::When(code)) => actions.guard(code, &mut errors, &mut warnings),
            _ => None,
        })
        .collect();

    let structure = structure::check(flow, &resolved, &mut errors, &mut warnings);
    let program = if errors.is_empty() {
        let entry = structure.entry.expect("no errors means a start");
        let mut guards = guards;
        let mut nodes: Vec<Node> = resolved
            .decls
            .iter()
            .zip(kinds)
            .zip(untils)
            .enumerate()
            .map(|(index, ((decl, kind), until))| {
                let id = NodeId(u32::try_from(index).expect("fewer than 2^32 nodes"));
                let kind = match decl {
                    Decl::Node(_) => kind.expect("no errors means every action compiled"),
                    Decl::Loop(_) => {
                        let (max, until) = until.expect("no errors means a bound and a guard");
                        let (entry, exit, body) = structure.loops[&id].clone();
                        NodeKind::Loop(Loop { max, entry, exit, until, body })
                    }
                };
                let (name, doc) = match decl {
                    Decl::Node(node) => (&node.name, &node.doc),
                    Decl::Loop(body) => (&body.name, &body.doc),
                };
                Node {
                    id,
                    name: name.name.clone(),
                    doc: doc.clone(),
                    span: name.span,
                    kind,
                    edges: Vec::new(),
                    parent: resolved.homes[index],
                }
            })
            .collect();
        for &index in &structure.kept_edges {
            let edge = &resolved.edges[index];
            let when = match edge.condition {
                None => EdgeWhen::Always,
                Some(EdgeCondition::When(_)) => EdgeWhen::Guard(guards[index].take().expect("no errors means every guard compiled")),
                Some(EdgeCondition::OnError(_)) => EdgeWhen::OnError,
            };
            nodes[edge.from.index()].edges.push(Edge { to: edge.to, when, span: edge.span });
        }
        Some(Program {
            ir_version: IR_VERSION,
            name: flow.name.name.clone(),
            doc: flow.doc.clone(),
            schema,
            entry,
            nodes,
        })
    } else {
        None
    };
    sort_by_position(&mut errors);
    sort_by_position(&mut warnings);
    errors.extend(warnings);
    Compilation { program, diagnostics: errors }
}

/// Orders diagnostics by their primary label (or first label), stably.
fn sort_by_position(diagnostics: &mut [CompileError]) {
    diagnostics.sort_by_cached_key(|diagnostic| {
        diagnostic.labels().and_then(|labels| {
            let labels: Vec<_> = labels.collect();
            labels.iter().find(|l| l.primary()).or(labels.first()).map(|l| l.offset())
        })
    });
}
