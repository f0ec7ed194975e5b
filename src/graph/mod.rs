//! The flow as a picture: Mermaid and Graphviz DOT renderings of the IR.
//!
//! Both renderings draw the same thing, in IR order so the output is deterministic:
//!
//! - a `start` pseudo-node (a circle) with an edge to the entry, and an `end` pseudo-node
//!   when an edge (or `start`) leads to `end`;
//! - every node, labelled with its name and, on a second line, its tool name (`script` for an
//!   inline script; nothing for a junction, which gets a diamond);
//! - every loop as a subgraph (Mermaid) or cluster (DOT) titled
//!   `loop NAME (max N) until GUARD`, holding its body; nested loops nest;
//! - guarded edges labelled with the guard text, default edges unlabelled, error edges dashed
//!   and labelled `on error`. Edges to or from a loop attach to the loop's box.
//!
//! Node ids in the output are `n0`, `n1`, … after [`NodeId`]s (never user names), plus
//! `flow_start` and `flow_end`; all user text is escaped for the target language.

mod dot;
mod mermaid;

pub use dot::dot;
pub use mermaid::mermaid;

use crate::compile::ir::{Edge, EdgeWhen, Loop, Node, NodeId, NodeKind, Program, Target};

/// The id of the `start` pseudo-node.
const START_ID: &str = "flow_start";
/// The id of the `end` pseudo-node.
const END_ID: &str = "flow_end";

/// The output id of a node or loop.
fn node_id(id: NodeId) -> String {
    format!("n{}", id.0)
}

/// How a node is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Tool,
    /// A pause for a person's answer.
    Wait,
    Script,
    Junction,
}

/// A node's label lines and shape; `None` for a loop (drawn as a subgraph).
fn node_label(node: &Node) -> Option<(String, Shape)> {
    let (detail, shape) = match &node.kind {
        NodeKind::Tool { tool, .. } => (Some(tool.as_str()), Shape::Tool),
        NodeKind::Wait { .. } => (Some(crate::tools::WAIT_TOOL), Shape::Wait),
        NodeKind::Script { .. } => (Some("script"), Shape::Script),
        NodeKind::Junction => (None, Shape::Junction),
        NodeKind::Loop(_) => return None,
    };
    let label = match detail {
        Some(detail) => format!("{}\n{detail}", node.name),
        None => node.name.clone(),
    };
    Some((label, shape))
}

/// The title of a loop's box: `loop repair (max 5) until anomaly_count <= threshold`.
fn loop_title(node: &Node, body: &Loop) -> String {
    format!(
        "loop {} (max {}) until {}",
        node.name,
        body.max,
        code_text(&body.until.text)
    )
}

/// The label of an edge: the guard text, `on error`, or nothing for a default edge.
fn edge_label(edge: &Edge) -> Option<String> {
    match &edge.when {
        EdgeWhen::Always => None,
        EdgeWhen::Guard(code) => Some(code_text(&code.text)),
        EdgeWhen::OnError => Some("on error".to_owned()),
    }
}

/// Guard text tidied for a label: line breaks kept (a long guard may wrap in the source),
/// each line trimmed of its indentation, blank lines dropped, other control characters
/// turned into spaces. The result uses `\n` as its only control character.
fn code_text(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.chars()
                .map(|ch| if ch.is_control() { ' ' } else { ch })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Nodes outside any loop, in IR order.
fn top_level(program: &Program) -> impl Iterator<Item = &Node> {
    program.nodes.iter().filter(|node| node.parent.is_none())
}

/// Whether `start` or some edge leads to `end`.
fn has_end(program: &Program) -> bool {
    program.entry == Target::End
        || program
            .nodes
            .iter()
            .flat_map(|node| &node.edges)
            .any(|edge| edge.to == Target::End)
}

/// The real node a run enters first when it enters `id` (through nested loops).
fn entry_node(program: &Program, id: NodeId) -> NodeId {
    let mut id = id;
    // Bounded: a loop's entry is in its body, and bodies nest without cycles.
    for _ in 0..=program.nodes.len() {
        match program.node(id).as_loop() {
            Some(body) => id = body.entry,
            None => break,
        }
    }
    id
}

/// The real node a run leaves `id` from (through nested loops).
fn exit_node(program: &Program, id: NodeId) -> NodeId {
    let mut id = id;
    for _ in 0..=program.nodes.len() {
        match program.node(id).as_loop() {
            Some(body) => id = body.exit,
            None => break,
        }
    }
    id
}

/// Whether `id` sits, at any depth, in the body of `outer`.
fn is_inside(program: &Program, id: NodeId, outer: NodeId) -> bool {
    let mut current = program.node(id).parent;
    for _ in 0..=program.nodes.len() {
        match current {
            Some(parent) if parent == outer => return true,
            Some(parent) => current = program.node(parent).parent,
            None => return false,
        }
    }
    false
}

/// Collects output lines with indentation.
#[derive(Default)]
struct Lines {
    out: String,
}

impl Lines {
    fn push(&mut self, depth: usize, line: &str) {
        for _ in 0..depth {
            self.out.push_str("    ");
        }
        self.out.push_str(line);
        self.out.push('\n');
    }
}

/// Small flows shared by the renderers' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::SourceFile;
    use crate::compile::ir::Program;
    use crate::tools::ToolRegistry;

    /// Compiles `text` with the built-in tools, panicking with the diagnostics on errors.
    pub(crate) fn compile(text: &str) -> Program {
        let checked = crate::check(
            &SourceFile::new("test.flow", text),
            &ToolRegistry::builtin(),
        );
        match checked.program {
            Some(program) if !checked.report.has_errors() => program,
            _ => panic!(
                "the test flow does not compile:\n{}",
                checked.report.render_short()
            ),
        }
    }

    /// The example of the language document (section 2), with built-in tools only.
    pub(crate) const DATA_QUALITY: &str = r#"
/// Profiles rows, then repairs anomalies until few remain.
flow data_quality {
    state {
        rows: list
        threshold: int = 2
        anomaly_count: int = 0
    }
    node profile = exec(cmd: "dq profile")
    node detect  = noop
    node rules   = noop
    node apply   = noop
    node recheck = noop
    node report {
        #{ summary: `${anomaly_count} anomalies left after repair` }
    }
    start -> profile -> detect
    detect -> report when anomaly_count <= threshold
    detect -> repair
    loop repair max 5 {
        rules -> apply -> recheck
    } until anomaly_count <= threshold
    repair -> report
    report -> end
}
"#;

    /// Nested loops, a junction, an error edge leaving a loop, a wrapped guard and guard text
    /// full of characters that need escaping.
    pub(crate) const TRICKY: &str = r#"
flow tricky {
    state {
        a: int = 0
        s: string = ""
        n: int = 0
    }
    node first = noop
    node route
    node fix { n += 1 }
    node check = noop
    node inner_a = noop
    node inner_b = exec(cmd: "echo {}")
    node done = noop
    node failed
    start -> first -> route
    route -> done when (s == "q\"uo<t>e {c} | #d & \\ é ✓ `x` end" &&
            a < 3)
    route -> outer
    loop outer max 3 {
        fix -> inner -> check
        loop inner max 2 {
            inner_a -> inner_b
        } until n > 1 || s == "<&>"
    } until n >= 2
    outer -> done
    check -> failed on error
    failed -> end
    done -> end
}
"#;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_text_keeps_line_breaks_without_indentation() {
        assert_eq!(code_text("(a &&\n        b)\r\n\n"), "(a &&\nb)");
        assert_eq!(code_text("a\t<\u{7}b"), "a < b");
    }

    #[test]
    fn loops_resolve_to_real_nodes_through_nesting() {
        let program = fixtures::compile(fixtures::TRICKY);
        let id = |name: &str| program.find(name).expect("the node exists").id;
        assert_eq!(entry_node(&program, id("outer")), id("fix"));
        assert_eq!(exit_node(&program, id("outer")), id("check"));
        assert_eq!(entry_node(&program, id("inner")), id("inner_a"));
        assert_eq!(exit_node(&program, id("inner")), id("inner_b"));
        assert!(is_inside(&program, id("inner_a"), id("outer")));
        assert!(is_inside(&program, id("inner_a"), id("inner")));
        assert!(!is_inside(&program, id("fix"), id("inner")));
        assert!(!is_inside(&program, id("done"), id("outer")));
    }

    #[test]
    fn labels_name_the_tool_or_script() {
        let program = fixtures::compile(fixtures::DATA_QUALITY);
        let label = |name: &str| node_label(program.find(name).expect("the node exists"));
        assert_eq!(
            label("profile"),
            Some(("profile\nexec".to_owned(), Shape::Tool))
        );
        assert_eq!(
            label("report"),
            Some(("report\nscript".to_owned(), Shape::Script))
        );
        assert_eq!(label("repair"), None);
        let repair = program.find("repair").expect("the loop exists");
        let body = repair.as_loop().expect("it is a loop");
        assert_eq!(
            loop_title(repair, body),
            "loop repair (max 5) until anomaly_count <= threshold"
        );
    }
}
