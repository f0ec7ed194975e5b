//! AST to IR. Takes a parsed flow and the tool registry, gives the validated [`ir::Program`]
//! with every diagnostic found on the way: all of them in one pass, errors first, each group
//! in source order. Never runs anything but constant guards.

mod actions;
mod attributes;
mod error;
mod fixes;
mod hash;
mod hints;
pub mod ir;
mod resolve;
mod schema_check;
mod structure;
pub(crate) mod suggest;

pub use error::{CompileError, LiteralType};
pub use fixes::Fix;
pub use hints::Hint;

use miette::Diagnostic;

use crate::sandbox::{CompiledCode, Limits};
use crate::syntax::ast::{EdgeCondition, Flow, NodeAttr};
use crate::tools::ToolRegistry;
use ir::{Edge, EdgeWhen, IR_VERSION, Loop, Node, NodeId, NodeKind, Program};
use resolve::Decl;
use schema_check::GuardRole;

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
/// `text` is the file `flow` was parsed from: the program's hash covers it.
pub fn compile(flow: &Flow, text: &str, tools: &ToolRegistry, limits: &Limits) -> Compilation {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let resolved = resolve::resolve(flow, &mut errors);
    let schema = resolved
        .state
        .map(|block| actions::schema(block, &mut errors));
    let actions = actions::Actions::new(tools, limits, schema.as_ref());

    let mut kinds = Vec::with_capacity(resolved.decls.len());
    for decl in &resolved.decls {
        kinds.push(match decl {
            Decl::Node(node) => {
                attributes::check(node, &mut errors);
                actions.node_kind(node, &mut errors).map(Compiled::Action)
            }
            Decl::Loop(body) => {
                let max = loop_bound(body, &mut errors);
                let until =
                    actions.guard(&body.until, GuardRole::Until, &mut errors, &mut warnings);
                max.zip(until)
                    .map(|(max, until)| Compiled::Loop(max, until))
            }
        });
    }
    let guards: Vec<Option<CompiledCode>> = resolved
        .edges
        .iter()
        .map(|edge| match edge.condition {
            Some(EdgeCondition::When(code)) => {
                actions.guard(code, GuardRole::When, &mut errors, &mut warnings)
            }
            _ => None,
        })
        .collect();
    for code in &resolved.orphan_guards {
        actions.guard(code, GuardRole::When, &mut errors, &mut warnings);
    }
    let structure = structure::check(flow, &resolved, &mut errors, &mut warnings);

    let program = errors.is_empty().then(|| {
        let nodes = nodes(&resolved, &structure, kinds);
        let mut program = Program {
            ir_version: IR_VERSION,
            hash: hash::program_hash(IR_VERSION, text, nodes.iter().map(|n| &n.kind), tools),
            name: flow.name.name.clone(),
            doc: flow.doc.clone(),
            schema,
            entry: structure.entry.expect("no errors means a start"),
            nodes,
            tools: tools.clone(),
        };
        add_edges(&mut program, &resolved, &structure, guards);
        program
    });
    sort_by_position(&mut errors);
    sort_by_position(&mut warnings);
    errors.extend(warnings);
    Compilation {
        program,
        diagnostics: errors,
    }
}

/// What a declaration compiled to, before the structure checks place it.
enum Compiled {
    Action(NodeKind),
    Loop(u64, CompiledCode),
}

fn loop_bound(body: &crate::syntax::ast::LoopDecl, errors: &mut Vec<CompileError>) -> Option<u64> {
    let name = || body.name.name.clone();
    match &body.max {
        None => {
            errors.push(CompileError::LoopWithoutMax {
                name: name(),
                at: body.header.into(),
            });
            None
        }
        Some(max) if max.value == 0 => {
            errors.push(CompileError::LoopMaxZero {
                name: name(),
                at: max.span.into(),
            });
            None
        }
        Some(max) => Some(max.value),
    }
}

/// The IR nodes, in declaration order; called only when there are no errors.
fn nodes(
    resolved: &resolve::Resolved<'_>,
    structure: &structure::Structure,
    kinds: Vec<Option<Compiled>>,
) -> Vec<Node> {
    resolved
        .decls
        .iter()
        .zip(kinds)
        .enumerate()
        .map(|(index, (decl, compiled))| {
            let id = NodeId(u32::try_from(index).expect("fewer than 2^32 nodes"));
            let kind = match compiled.expect("no errors means every declaration compiled") {
                Compiled::Action(kind) => kind,
                Compiled::Loop(max, until) => {
                    let (entry, exit, body) = structure.loops[&id].clone();
                    NodeKind::Loop(Loop {
                        max,
                        entry,
                        exit,
                        until,
                        body,
                    })
                }
            };
            let (name, doc, once) = match decl {
                Decl::Node(node) => (&node.name, &node.doc, node.attr(NodeAttr::Once).is_some()),
                Decl::Loop(body) => (&body.name, &body.doc, false),
            };
            Node {
                id,
                name: name.name.clone(),
                doc: doc.clone(),
                span: name.span,
                kind,
                once,
                edges: Vec::new(),
                parent: resolved.homes[index],
            }
        })
        .collect()
}

fn add_edges(
    program: &mut Program,
    resolved: &resolve::Resolved<'_>,
    structure: &structure::Structure,
    mut guards: Vec<Option<CompiledCode>>,
) {
    // Exact capacities: pushing into empty vectors reserves room for four edges per node,
    // which most nodes (one or two edges) never use.
    let mut counts = vec![0; program.nodes.len()];
    for &index in &structure.kept_edges {
        counts[resolved.edges[index].from.index()] += 1;
    }
    for (node, count) in program.nodes.iter_mut().zip(counts) {
        node.edges.reserve_exact(count);
    }
    for &index in &structure.kept_edges {
        let edge = &resolved.edges[index];
        let when = match edge.condition {
            None => EdgeWhen::Always,
            Some(EdgeCondition::When(_)) => EdgeWhen::Guard(
                guards[index]
                    .take()
                    .expect("no errors means every guard compiled"),
            ),
            Some(EdgeCondition::OnError(_)) => EdgeWhen::OnError,
        };
        program.nodes[edge.from.index()].edges.push(Edge {
            to: edge.to,
            when,
            span: edge.span,
        });
    }
}

/// Orders diagnostics by their primary label (or first label), stably.
fn sort_by_position(diagnostics: &mut [CompileError]) {
    diagnostics.sort_by_cached_key(|diagnostic| {
        diagnostic.labels().and_then(|labels| {
            let labels: Vec<_> = labels.collect();
            labels
                .iter()
                .find(|l| l.primary())
                .or(labels.first())
                .map(miette::LabeledSpan::offset)
        })
    });
}

/// The codes `compile` reports for `text`, in order (for the checks' unit tests).
#[cfg(test)]
pub(crate) fn codes_of(text: &str) -> Vec<String> {
    let source = crate::source::SourceFile::new("t.flow", text);
    let flow = crate::syntax::parse(&source).expect("parses");
    compile(
        &flow,
        text,
        &crate::tools::ToolRegistry::builtin(),
        &crate::sandbox::Limits::default(),
    )
    .diagnostics
    .iter()
    .map(|d| miette::Diagnostic::code(d).expect("a code").to_string())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn compile_text(text: &str) -> Compilation {
        let flow = crate::syntax::parse(&SourceFile::new("t.flow", text)).expect("parses");
        compile(&flow, text, &ToolRegistry::builtin(), &Limits::default())
    }

    fn codes(compilation: &Compilation) -> Vec<String> {
        compilation
            .diagnostics
            .iter()
            .map(|d| d.code().expect("has a code").to_string())
            .collect()
    }

    #[test]
    fn an_error_edge_may_leave_a_loop_and_counts_as_a_way_out() {
        let compilation = compile_text(
            "flow f {\n  state { ok: bool = false }\n  node a { ok = true }\n  node b\n  node h\n  start -> l\n  loop l max 3 { a -> b } until ok\n  b -> h on error\n  a -> h on error\n}",
        );
        assert_eq!(codes(&compilation), Vec::<String>::new());
        let program = compilation.program.expect("compiles");
        let body = program.find("l").and_then(Node::as_loop).expect("a loop");
        assert_eq!(
            (
                program.node(body.entry).name.as_str(),
                program.node(body.exit).name.as_str()
            ),
            ("a", "b")
        );
    }

    #[test]
    fn a_wait_call_compiles_to_a_wait_node_with_its_prompt_and_bound() {
        let compilation = compile_text(
            "flow f {\n  node ask = wait(prompt: \"ok?\", timeout: 2m) once\n  node hold = wait(prompt: \"more?\")\n  start -> ask -> hold\n}",
        );
        let program = compilation.program.expect("compiles");
        let NodeKind::Wait { prompt, timeout_ms } = &program.nodes[0].kind else {
            panic!("a wait node, not {:?}", program.nodes[0].kind)
        };
        assert_eq!((prompt.as_str(), *timeout_ms), ("ok?", Some(120_000)));
        assert!(program.nodes[0].once);
        assert!(matches!(
            &program.nodes[1].kind,
            NodeKind::Wait {
                timeout_ms: None,
                ..
            }
        ));
    }

    #[test]
    fn a_wait_without_its_prompt_is_a_bad_call() {
        let compilation = compile_text("flow f {\n  node ask = wait\n  start -> ask\n}");
        assert_eq!(codes(&compilation), ["flow::bad-tool-args"]);
    }

    #[test]
    fn a_cycle_with_an_error_edge_out_is_not_inescapable() {
        let compilation = compile_text(
            "flow f {\n  node a\n  node b\n  node h\n  start -> a -> b -> a\n  b -> h on error\n}",
        );
        assert!(!codes(&compilation).contains(&"flow::inescapable-cycle".to_owned()));
    }

    #[test]
    fn a_guarded_way_out_makes_a_cycle_escapable() {
        let compilation = compile_text(
            "flow f {\n  state { n: int = 0 }\n  node a { n += 1 }\n  start -> a\n  a -> a when n < 3\n  a -> end\n}",
        );
        assert!(
            compilation.diagnostics.is_empty(),
            "{:?}",
            codes(&compilation)
        );
    }

    #[test]
    fn errors_come_before_warnings_each_in_source_order() {
        let compilation =
            compile_text("flow f {\n  node unused\n  node a\n  start -> a -> x\n  a -> y\n}");
        assert_eq!(
            codes(&compilation),
            [
                "flow::undefined-node",
                "flow::undefined-node",
                "flow::unused-node"
            ]
        );
    }

    #[test]
    fn without_a_schema_any_name_is_allowed_and_recorded() {
        let compilation = compile_text(
            "flow f {\n  node a\n  start -> a\n  a -> end when ready && count > 2\n  a -> a\n}",
        );
        let program = compilation.program.expect("compiles");
        let EdgeWhen::Guard(guard) = &program.nodes[0].edges[0].when else {
            panic!("a guard")
        };
        assert_eq!(guard.names, ["count", "ready"]);
    }
}
