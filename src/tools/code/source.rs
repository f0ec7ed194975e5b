//! Reading a Python file and parsing it with tree-sitter. A file with syntax errors still
//! parses: tree-sitter recovers, marking what it could not read with ERROR and MISSING nodes.

use std::io::Read;
use std::path::Path;

use tree_sitter::{Node, Parser, Tree, TreeCursor};

use crate::tools::{Access, PathError, ToolCall, ToolFailure};

/// A parsed Python file: its path as the flow named it, its text and its syntax tree.
pub(super) struct PythonFile {
    pub path: String,
    pub text: String,
    pub tree: Tree,
}

/// The largest source file reviewed: a bigger one (or a device such as `/dev/zero`, which
/// never ends) fails the node instead of filling memory.
pub(super) const MAX_SOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// One reusable parser: creating one per file would cost more than parsing a small file.
pub(super) struct PythonParser {
    parser: Parser,
}

impl PythonParser {
    pub(super) fn new() -> Result<Self, ToolFailure> {
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_python::LANGUAGE.into())
            .map_err(|error| {
                ToolFailure::failed(format!("cannot load the Python grammar: {error}"))
            })?;
        Ok(PythonParser { parser })
    }

    /// Reads `path` (relative to the flow's folder, if the run may read it) and parses it. `field` names where the path came
    /// from (`file`, `files[2]`), so a failure says which input is wrong.
    pub(super) fn read(
        &mut self,
        call: &ToolCall<'_>,
        path: &str,
        field: &str,
    ) -> Result<PythonFile, ToolFailure> {
        let cannot_read = |full: &Path, error: std::io::Error| {
            ToolFailure::failed(format!(
                "{field}: cannot read `{path}` ({}): {error}",
                full.display()
            ))
        };
        let full = match call.path(path, Access::Read) {
            Ok(full) => full,
            Err(PathError::Unreachable { path: full, error }) => {
                return Err(cannot_read(&full, error));
            }
            Err(refused) => {
                return Err(ToolFailure::failed(format!("{field}: `{path}`: {refused}")));
            }
        };
        let cannot_read = |error| cannot_read(&full, error);
        let file = std::fs::File::open(&full).map_err(cannot_read)?;
        if !file.metadata().map_err(cannot_read)?.is_file() {
            return Err(ToolFailure::failed(format!(
                "{field}: `{path}` is not a regular file"
            )));
        }
        let mut bytes = Vec::new();
        file.take(MAX_SOURCE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot_read)?;
        if bytes.len() as u64 > MAX_SOURCE_BYTES {
            return Err(ToolFailure::failed(format!(
                "{field}: `{path}` is larger than {} MiB, the most a file may be to be reviewed",
                MAX_SOURCE_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes).map_err(|error| {
            ToolFailure::failed(format!(
                "{field}: `{path}` is not UTF-8 text (invalid byte at offset {})",
                error.utf8_error().valid_up_to()
            ))
        })?;
        self.parse(path, text)
    }

    pub(super) fn parse(&mut self, path: &str, text: String) -> Result<PythonFile, ToolFailure> {
        let tree = self
            .parser
            .parse(&text, None)
            .ok_or_else(|| ToolFailure::failed(format!("the parser gave up on `{path}`")))?;
        Ok(PythonFile {
            path: path.to_owned(),
            text,
            tree,
        })
    }
}

impl PythonFile {
    pub(super) fn text_of(&self, node: Node<'_>) -> &str {
        node.utf8_text(self.text.as_bytes()).unwrap_or("")
    }
}

/// The 1-based line a node starts on.
pub(super) fn line_of(node: Node<'_>) -> usize {
    node.start_position().row + 1
}

/// The 1-based line a node ends on.
pub(super) fn end_line_of(node: Node<'_>) -> usize {
    node.end_position().row + 1
}

/// The named children of a node, in order.
pub(super) fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// Whether a statement (a definition, an `except` clause) may lie under this node: the
/// statements that hold blocks, their clauses, and any part with a syntax error, where
/// anything may be. Expressions cannot hold one, so walks that look for statements skip them:
/// they are most of a tree.
pub(super) fn may_hold_statements(node: Node<'_>) -> bool {
    node.has_error()
        || matches!(
            node.kind(),
            "module"
                | "block"
                | "if_statement"
                | "elif_clause"
                | "else_clause"
                | "for_statement"
                | "while_statement"
                | "try_statement"
                | "except_clause"
                | "except_group_clause"
                | "finally_clause"
                | "with_statement"
                | "match_statement"
                | "case_clause"
                | "function_definition"
                | "class_definition"
                | "decorated_definition"
        )
}

/// Calls `visit` with the cursor on each named child of the node the cursor is on, in order,
/// then puts the cursor back on that node. `visit` must leave the cursor where it found it.
/// One cursor walks a whole tree this way: a cursor per node would cost an allocation each.
pub(super) fn for_each_named_child<'t>(
    cursor: &mut TreeCursor<'t>,
    mut visit: impl FnMut(&mut TreeCursor<'t>),
) {
    if cursor.goto_first_child() {
        loop {
            if cursor.node().is_named() {
                visit(cursor);
            }
            if !cursor.goto_next_sibling() {
                break;
            }
        }
        cursor.goto_parent();
    }
}

/// Calls `visit` with the cursor on the child in `field` of the node the cursor is on, if it
/// has one, then puts the cursor back on that node (see [`for_each_named_child`]).
pub(super) fn in_field<'t>(
    cursor: &mut TreeCursor<'t>,
    field: &str,
    visit: impl FnOnce(&mut TreeCursor<'t>),
) {
    let Some(child) = cursor.node().child_by_field_name(field) else {
        return;
    };
    if cursor.goto_first_child() {
        loop {
            if cursor.node() == child {
                visit(cursor);
                break;
            }
            if !cursor.goto_next_sibling() {
                break;
            }
        }
        cursor.goto_parent();
    }
}

/// All children of a node, named or not, in order.
pub(super) fn children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

/// Where the parser could not read the file: each outermost ERROR node and each MISSING
/// token, as (line, message).
pub(super) fn syntax_errors(file: &PythonFile) -> Vec<(usize, String)> {
    let mut errors = Vec::new();
    if file.tree.root_node().has_error() {
        collect_errors(file, file.tree.root_node(), &mut errors);
    }
    errors
}

fn collect_errors(file: &PythonFile, node: Node<'_>, errors: &mut Vec<(usize, String)>) {
    if node.is_missing() {
        errors.push((
            line_of(node),
            format!("syntax error: missing `{}`", node.kind()),
        ));
    } else if node.is_error() {
        let text = file.text_of(node);
        let first_line = text.lines().next().unwrap_or("").trim();
        let shown: String = first_line.chars().take(40).collect();
        errors.push((
            line_of(node),
            format!("syntax error: cannot parse `{shown}`"),
        ));
    } else if node.has_error() {
        for child in children(node) {
            collect_errors(file, child, errors);
        }
    }
}
