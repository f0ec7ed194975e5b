//! Mermaid flowchart rendering.
//!
//! Every label is a quoted string in which anything but letters, digits, spaces and a few
//! harmless punctuation marks is written as a numeric entity (`#60;` for `<`); line breaks
//! become `<br>`. That keeps quotes, pipes, brackets, `#`, `%%`, backticks (which would start
//! a Markdown string) and colons (which Mermaid's `style`/`classDef` pre-pass looks for) out
//! of the syntax. All nodes are declared first, loops as nested `subgraph` blocks, then all
//! edges; an edge to or from a loop names the subgraph's id.

use super::{
    END_ID, Lines, START_ID, Shape, edge_label, has_end, loop_title, node_id, node_label, top_level,
};
use crate::compile::ir::{EdgeWhen, Node, NodeKind, Program, Target};

/// Renders the flow as a Mermaid flowchart (`flowchart TD`).
pub fn mermaid(program: &Program) -> String {
    let mut lines = Lines::default();
    lines.push(0, "flowchart TD");
    lines.push(1, &format!("%% flow {}", comment_text(&program.name)));
    lines.push(1, &format!("{START_ID}((\"start\"))"));
    for node in top_level(program) {
        declare(program, node, 1, &mut lines);
    }
    if has_end(program) {
        lines.push(1, &format!("{END_ID}(((\"end\")))"));
    }
    lines.push(1, &format!("{START_ID} --> {}", target_id(program.entry)));
    for node in &program.nodes {
        for edge in &node.edges {
            let arrow = match edge.when {
                EdgeWhen::OnError => "-.->",
                EdgeWhen::Always | EdgeWhen::Guard(_) => "-->",
            };
            let label = edge_label(edge)
                .map(|label| format!("|\"{}\"|", text(&label)))
                .unwrap_or_default();
            lines.push(
                1,
                &format!("{} {arrow}{label} {}", node_id(node.id), target_id(edge.to)),
            );
        }
    }
    lines.out
}

/// Declares a node, or a loop as a subgraph holding its body.
fn declare(program: &Program, node: &Node, depth: usize, lines: &mut Lines) {
    let id = node_id(node.id);
    if let NodeKind::Loop(body) = &node.kind {
        lines.push(
            depth,
            &format!("subgraph {id} [\"{}\"]", text(&loop_title(node, body))),
        );
        for &member in &body.body {
            declare(program, program.node(member), depth + 1, lines);
        }
        lines.push(depth, "end");
        return;
    }
    let Some((label, shape)) = node_label(node) else {
        return;
    };
    let label = text(&label);
    let line = match shape {
        Shape::Tool => format!("{id}(\"{label}\")"),
        Shape::Script => format!("{id}[\"{label}\"]"),
        Shape::Wait => format!("{id}{{{{\"{label}\"}}}}"),
        Shape::Junction => format!("{id}{{\"{label}\"}}"),
    };
    lines.push(depth, &line);
}

fn target_id(target: Target) -> String {
    match target {
        Target::Node(id) => node_id(id),
        Target::End => END_ID.to_owned(),
    }
}

/// Escapes text for a quoted Mermaid label.
fn text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        match ch {
            '\n' => out.push_str("<br>"),
            ' ' | '_' | '.' | ',' | '-' | '+' | '*' | '/' | '=' | '!' | '?' | '(' | ')' | '\''
            | '$' | '^' | '~' | '@' => {
                out.push(ch);
            }
            ch if ch.is_alphanumeric() => out.push(ch),
            ch => {
                out.push('#');
                out.push_str(&u32::from(ch).to_string());
                out.push(';');
            }
        }
    }
    out
}

/// Text for a `%%` comment: one line.
fn comment_text(raw: &str) -> String {
    raw.chars()
        .map(|ch| if ch.is_control() { ' ' } else { ch })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::fixtures;

    fn id_of(program: &Program, name: &str) -> String {
        node_id(program.find(name).expect("the node exists").id)
    }

    #[test]
    fn renders_the_language_example() {
        let program = fixtures::compile(fixtures::DATA_QUALITY);
        let out = mermaid(&program);
        let id = |name: &str| id_of(&program, name);
        assert!(out.starts_with("flowchart TD\n"), "{out}");
        assert!(
            out.contains(&format!("{}(\"profile<br>exec\")", id("profile"))),
            "{out}"
        );
        assert!(
            out.contains(&format!("{}[\"report<br>script\"]", id("report"))),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "subgraph {} [\"loop repair (max 5) until anomaly_count #60;= threshold\"]",
                id("repair")
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("flow_start --> {}", id("profile"))),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{} -->|\"anomaly_count #60;= threshold\"| {}",
                id("detect"),
                id("report")
            )),
            "{out}"
        );
        // Default edges are unlabelled, and an edge to a loop targets its subgraph.
        assert!(
            out.contains(&format!("\n    {} --> {}\n", id("detect"), id("repair"))),
            "{out}"
        );
        assert!(
            out.contains(&format!("\n    {} --> {}\n", id("repair"), id("report"))),
            "{out}"
        );
        assert!(
            out.contains(&format!("{} --> flow_end", id("report"))),
            "{out}"
        );
        assert!(out.contains("flow_end(((\"end\")))"), "{out}");
    }

    #[test]
    fn loops_are_nested_subgraphs_holding_their_bodies() {
        let program = fixtures::compile(fixtures::TRICKY);
        let out = mermaid(&program);
        let lines: Vec<&str> = out.lines().collect();
        // The line declaring `name`: its id followed by a shape's opening bracket.
        let find = |name: &str| {
            let id = id_of(&program, name);
            let declares = |line: &&str| {
                let line = line.trim_start();
                line.strip_prefix(&format!("subgraph {id} ")).is_some()
                    || line
                        .strip_prefix(&id)
                        .is_some_and(|rest| rest.starts_with(['(', '[', '{']))
            };
            lines
                .iter()
                .position(declares)
                .unwrap_or_else(|| panic!("`{name}` is not declared in\n{out}"))
        };
        let outer = find("outer");
        let inner = find("inner");
        let fix = find("fix");
        let inner_a = find("inner_a");
        let done = find("done");
        // `end` lines close subgraphs: the one after `inner_b` closes `inner`, the next `outer`.
        let ends: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, line)| line.trim() == "end")
            .map(|(index, _)| index)
            .collect();
        assert_eq!(ends.len(), 2, "{out}");
        assert!(
            outer < fix && fix < ends[1] && outer < inner && inner < inner_a && inner_a < ends[0],
            "{out}"
        );
        assert!(!(outer..ends[1]).contains(&done), "{out}");
        assert!(
            lines[inner].starts_with("        subgraph"),
            "the inner loop is indented inside the outer one:\n{out}"
        );
        // The junction is a rhombus without a tool line.
        assert!(
            out.contains(&format!("{}{{\"route\"}}", id_of(&program, "route"))),
            "{out}"
        );
    }

    #[test]
    fn error_edges_are_dashed_and_labelled() {
        let program = fixtures::compile(fixtures::TRICKY);
        let out = mermaid(&program);
        assert!(
            out.contains(&format!(
                "{} -.->|\"on error\"| {}",
                id_of(&program, "check"),
                id_of(&program, "failed")
            )),
            "{out}"
        );
        assert_eq!(out.matches("-.->").count(), 1, "{out}");
    }

    #[test]
    fn guard_text_is_escaped() {
        let program = fixtures::compile(fixtures::TRICKY);
        let out = mermaid(&program);
        let guard = out
            .lines()
            .find(|line| line.contains(&format!("{} -->|", id_of(&program, "route"))))
            .unwrap_or_else(|| panic!("no guarded edge in\n{out}"));
        assert_eq!(
            guard.trim(),
            format!(
                "{} -->|\"(s == #34;q#92;#34;uo#60;t#62;e #123;c#125; #124; #35;d #38; #92;#92; é #10003; #96;x#96; end#34; #38;#38;<br>a #60; 3)\"| {}",
                id_of(&program, "route"),
                id_of(&program, "done")
            )
        );
        // Outside the quoted labels no user text appears: every line is made of known pieces.
        for line in out.lines() {
            let bare: String = line
                .replace("-->", "")
                .replace("-.->", "")
                .split('"')
                .step_by(2)
                .collect();
            assert!(
                !bare.contains(['<', '>', '#', '&', '\\', '`']),
                "unquoted special character in `{line}`"
            );
        }
    }

    #[test]
    fn escapes_everything_but_plain_text() {
        assert_eq!(
            text("a_b.c, d-e+f*g/h=i!j?(k)'l$m^n~o@p"),
            "a_b.c, d-e+f*g/h=i!j?(k)'l$m^n~o@p"
        );
        assert_eq!(
            text("\"#%:;[]{}|<>&`\\"),
            "#34;#35;#37;#58;#59;#91;#93;#123;#125;#124;#60;#62;#38;#96;#92;"
        );
        assert_eq!(text("é日本\n😀"), "é日本<br>#128512;");
    }

    #[test]
    fn output_is_deterministic() {
        let first = mermaid(&fixtures::compile(fixtures::TRICKY));
        let second = mermaid(&fixtures::compile(fixtures::TRICKY));
        assert_eq!(first, second);
    }
}
