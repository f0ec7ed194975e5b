//! Graphviz DOT rendering.
//!
//! Labels are quoted strings: `"` and `\` are backslash-escaped (so Graphviz's own escapes
//! such as `\N` cannot be triggered), `&` becomes `&amp;` (Graphviz decodes entities in
//! ordinary labels), and line breaks become `\n`. Loops are clusters (`subgraph cluster_nK`).
//! Graphviz edges join nodes, not clusters, so with `compound=true` an edge into a loop goes
//! to the loop's entry node with `lhead=cluster_…` and an edge out of a loop leaves from its
//! exit node with `ltail=cluster_…` (through nested loops down to a real node).

use super::{
    END_ID, Lines, START_ID, Shape, edge_label, entry_node, exit_node, has_end, is_inside,
    loop_title, node_id, node_label, top_level,
};
use crate::compile::ir::{EdgeWhen, Node, NodeId, NodeKind, Program, Target};

/// Renders the flow as a Graphviz `digraph`.
pub fn dot(program: &Program) -> String {
    let mut lines = Lines::default();
    lines.push(0, &format!("digraph \"{}\" {{", text(&program.name)));
    lines.push(1, "compound=true;");
    lines.push(1, "node [shape=box, style=rounded];");
    lines.push(
        1,
        &format!("{START_ID} [label=\"start\", shape=circle, style=\"\"];"),
    );
    for node in top_level(program) {
        declare(program, node, 1, &mut lines);
    }
    if has_end(program) {
        lines.push(
            1,
            &format!("{END_ID} [label=\"end\", shape=doublecircle, style=\"\"];"),
        );
    }
    lines.push(1, &edge_line(program, None, program.entry, Vec::new()));
    for node in &program.nodes {
        for edge in &node.edges {
            let mut attributes = Vec::new();
            if let Some(label) = edge_label(edge) {
                attributes.push(format!("label=\"{}\"", text(&label)));
            }
            if matches!(edge.when, EdgeWhen::OnError) {
                attributes.push("style=dashed".to_owned());
            }
            lines.push(1, &edge_line(program, Some(node.id), edge.to, attributes));
        }
    }
    lines.push(0, "}");
    lines.out
}

fn cluster_id(id: NodeId) -> String {
    format!("cluster_{}", node_id(id))
}

/// Declares a node, or a loop as a cluster holding its body.
fn declare(program: &Program, node: &Node, depth: usize, lines: &mut Lines) {
    let id = node_id(node.id);
    if let NodeKind::Loop(body) = &node.kind {
        lines.push(depth, &format!("subgraph {} {{", cluster_id(node.id)));
        lines.push(
            depth + 1,
            &format!("label=\"{}\";", text(&loop_title(node, body))),
        );
        lines.push(depth + 1, "style=rounded;");
        for &member in &body.body {
            declare(program, program.node(member), depth + 1, lines);
        }
        lines.push(depth, "}");
        return;
    }
    let Some((label, shape)) = node_label(node) else {
        return;
    };
    let label = text(&label);
    let line = match shape {
        Shape::Tool => format!("{id} [label=\"{label}\"];"),
        Shape::Script => format!("{id} [label=\"{label}\", style=\"\"];"),
        Shape::Wait => format!("{id} [label=\"{label}\", shape=hexagon, style=\"\"];"),
        Shape::Junction => format!("{id} [label=\"{label}\", shape=diamond, style=\"\"];"),
    };
    lines.push(depth, &line);
}

/// One edge statement; `from` is `None` for the edge from `start`. Loops at either end are
/// resolved to real nodes and clipped at the loop's cluster, unless the other end sits inside
/// that cluster (Graphviz warns about, and ignores, such clipping).
fn edge_line(
    program: &Program,
    from: Option<NodeId>,
    to: Target,
    mut attributes: Vec<String>,
) -> String {
    let (tail, tail_loop) = match from {
        None => (None, None),
        Some(id) => (
            Some(exit_node(program, id)),
            program.node(id).as_loop().map(|_| id),
        ),
    };
    let (head, head_loop) = match to {
        Target::End => (None, None),
        Target::Node(id) => (
            Some(entry_node(program, id)),
            program.node(id).as_loop().map(|_| id),
        ),
    };
    // (No `if let … &&` chains: the crate's minimum Rust is 1.85.)
    if let Some(cluster) =
        head_loop.filter(|&cluster| tail.is_none_or(|tail| !is_inside(program, tail, cluster)))
    {
        attributes.push(format!("lhead={}", cluster_id(cluster)));
    }
    if let Some(cluster) =
        tail_loop.filter(|&cluster| head.is_none_or(|head| !is_inside(program, head, cluster)))
    {
        attributes.push(format!("ltail={}", cluster_id(cluster)));
    }
    let tail = tail.map_or_else(|| START_ID.to_owned(), node_id);
    let head = head.map_or_else(|| END_ID.to_owned(), node_id);
    if attributes.is_empty() {
        format!("{tail} -> {head};")
    } else {
        format!("{tail} -> {head} [{}];", attributes.join(", "))
    }
}

/// Escapes text for a quoted DOT string.
fn text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("\\n"),
            ch if ch.is_control() => out.push(' '),
            ch => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::fixtures;

    fn id_of(program: &Program, name: &str) -> String {
        node_id(program.find(name).expect("the node exists").id)
    }

    /// The lines between `subgraph cluster_… {` and its closing brace.
    fn cluster<'a>(out: &'a str, program: &Program, name: &str) -> Vec<&'a str> {
        let lines: Vec<&str> = out.lines().collect();
        let open = format!("subgraph cluster_{} {{", id_of(program, name));
        let start = lines
            .iter()
            .position(|line| line.trim() == open)
            .unwrap_or_else(|| panic!("no `{open}` in\n{out}"));
        let indent = lines[start].len() - lines[start].trim_start().len();
        let close = (start + 1..lines.len())
            .find(|&index| lines[index].trim() == "}" && lines[index].len() - 1 == indent)
            .unwrap_or_else(|| panic!("`{open}` is not closed in\n{out}"));
        lines[start + 1..close].to_vec()
    }

    fn declares(lines: &[&str], id: &str) -> bool {
        lines
            .iter()
            .any(|line| line.trim_start().starts_with(&format!("{id} [")))
    }

    #[test]
    fn renders_the_language_example() {
        let program = fixtures::compile(fixtures::DATA_QUALITY);
        let out = dot(&program);
        let id = |name: &str| id_of(&program, name);
        assert!(
            out.starts_with("digraph \"data_quality\" {\n    compound=true;\n"),
            "{out}"
        );
        assert!(out.ends_with("}\n"), "{out}");
        assert!(
            out.contains(&format!("{} [label=\"profile\\nexec\"];", id("profile"))),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} [label=\"report\\nscript\", style=\"\"];",
                id("report")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("flow_start -> {};", id("profile"))),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} -> {} [label=\"anomaly_count <= threshold\"];",
                id("detect"),
                id("report")
            )),
            "{out}"
        );
        // Into the loop: to its entry, clipped at the cluster; out of it: from its exit.
        assert!(
            out.contains(&format!(
                "{} -> {} [lhead=cluster_{}];",
                id("detect"),
                id("rules"),
                id("repair")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} -> {} [ltail=cluster_{}];",
                id("recheck"),
                id("report"),
                id("repair")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("{} -> flow_end;", id("report"))),
            "{out}"
        );
        let body = cluster(&out, &program, "repair");
        assert!(
            body.contains(
                &"        label=\"loop repair (max 5) until anomaly_count <= threshold\";"
            ),
            "{out}"
        );
        for name in ["rules", "apply", "recheck"] {
            assert!(
                declares(&body, &id(name)),
                "{name} is not in the cluster:\n{out}"
            );
        }
        assert!(!declares(&body, &id("report")), "{out}");
    }

    #[test]
    fn nested_loops_are_nested_clusters() {
        let program = fixtures::compile(fixtures::TRICKY);
        let out = dot(&program);
        let id = |name: &str| id_of(&program, name);
        let outer = cluster(&out, &program, "outer");
        let inner = cluster(&out, &program, "inner");
        assert!(
            outer
                .iter()
                .any(|line| line.trim() == format!("subgraph cluster_{} {{", id("inner"))),
            "{out}"
        );
        for name in ["fix", "check", "inner_a", "inner_b"] {
            assert!(
                declares(&outer, &id(name)),
                "{name} is not in the outer cluster:\n{out}"
            );
        }
        assert!(
            declares(&inner, &id("inner_a")) && declares(&inner, &id("inner_b")),
            "{out}"
        );
        assert!(
            !declares(&inner, &id("fix")) && !declares(&outer, &id("done")),
            "{out}"
        );
        // Entering `outer` enters `fix`; inside `outer`, entering `inner` enters `inner_a`;
        // leaving `inner` leaves from `inner_b`, leaving `outer` from `check`.
        assert!(
            out.contains(&format!(
                "{} -> {} [lhead=cluster_{}];",
                id("route"),
                id("fix"),
                id("outer")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} -> {} [lhead=cluster_{}];",
                id("fix"),
                id("inner_a"),
                id("inner")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} -> {} [ltail=cluster_{}];",
                id("inner_b"),
                id("check"),
                id("inner")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} -> {} [ltail=cluster_{}];",
                id("check"),
                id("done"),
                id("outer")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} [label=\"route\", shape=diamond, style=\"\"];",
                id("route")
            )),
            "{out}"
        );
    }

    #[test]
    fn error_edges_are_dashed_and_labelled() {
        let program = fixtures::compile(fixtures::TRICKY);
        let out = dot(&program);
        assert!(
            out.contains(&format!(
                "{} -> {} [label=\"on error\", style=dashed];",
                id_of(&program, "check"),
                id_of(&program, "failed")
            )),
            "{out}"
        );
        assert_eq!(out.matches("style=dashed").count(), 1, "{out}");
    }

    #[test]
    fn guard_text_is_escaped() {
        let program = fixtures::compile(fixtures::TRICKY);
        let out = dot(&program);
        let expected = format!(
            "{} -> {} [label=\"(s == \\\"q\\\\\\\"uo<t>e {{c}} | #d &amp; \\\\\\\\ é ✓ `x` end\\\" &amp;&amp;\\na < 3)\"];",
            id_of(&program, "route"),
            id_of(&program, "done")
        );
        assert!(
            out.lines().any(|line| line.trim() == expected),
            "no `{expected}` in\n{out}"
        );
        let inner = cluster(&out, &program, "inner");
        assert!(
            inner.contains(
                &"            label=\"loop inner (max 2) until n > 1 || s == \\\"<&amp;>\\\"\";"
            ),
            "{out}"
        );
    }

    #[test]
    fn escapes_quotes_backslashes_entities_and_breaks() {
        assert_eq!(
            text("a\"b\\c&d\ne\tf<g>{h}|#é"),
            "a\\\"b\\\\c&amp;d\\ne f<g>{h}|#é"
        );
        assert_eq!(text("\\N"), "\\\\N");
    }

    #[test]
    fn start_may_lead_to_a_loop() {
        let program = fixtures::compile(
            "flow f {\n  node a = noop\n  node b = noop\n  start -> again\n  loop again max 2 { a -> b } until true\n  again -> end\n}\n",
        );
        let out = dot(&program);
        let id = |name: &str| id_of(&program, name);
        assert!(
            out.contains(&format!(
                "flow_start -> {} [lhead=cluster_{}];",
                id("a"),
                id("again")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} -> flow_end [ltail=cluster_{}];",
                id("b"),
                id("again")
            )),
            "{out}"
        );
    }
}
