//! The issues `code.analyze` reports, each with a kind, a line, the function it is in and a
//! message.

use serde::Serialize;
use tree_sitter::{Node, TreeCursor};

use super::definitions::{Definitions, Function, ParameterKind};
use super::source::{
    PythonFile, children, for_each_named_child, line_of, may_hold_statements, syntax_errors,
};

/// What kind of issue; the names are what the state holds (`"bare-except"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum IssueKind {
    SyntaxError,
    LongFunction,
    TooManyParameters,
    MissingDocstring,
    BareExcept,
    MutableDefault,
    Todo,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(super) struct Issue {
    pub file: String,
    pub kind: IssueKind,
    pub line: usize,
    /// The qualified name of the innermost function the issue is in.
    pub function: Option<String>,
    pub message: String,
    /// The figure found: a function's lines or parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<usize>,
    /// The figure allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// A mutable default's parameter, and its default as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl Issue {
    fn new(
        file: &str,
        kind: IssueKind,
        line: usize,
        function: Option<String>,
        message: String,
    ) -> Self {
        Issue {
            file: file.to_owned(),
            kind,
            line,
            function,
            message,
            measure: None,
            limit: None,
            parameter: None,
            default: None,
        }
    }

    fn figures(mut self, measure: usize, limit: usize) -> Self {
        self.measure = Some(measure);
        self.limit = Some(limit);
        self
    }
}

/// The thresholds of the issues that have one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Limits {
    /// A function longer than this many lines (from `def` to its last line) is reported.
    pub max_function_lines: usize,
    /// A function with more parameters than this (not counting `self` or `cls`) is reported.
    pub max_parameters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_function_lines: 50,
            max_parameters: 5,
        }
    }
}

/// Comment markers reported as `todo` issues (as whole words, upper case).
const MARKERS: &[&str] = &["TODO", "FIXME"];

pub(super) fn issues(file: &PythonFile, found: &Definitions, limits: Limits) -> Vec<Issue> {
    let path = file.path.as_str();
    let mut issues = Vec::new();
    for (line, message) in syntax_errors(file) {
        let function = enclosing(found, line);
        issues.push(Issue::new(
            path,
            IssueKind::SyntaxError,
            line,
            function,
            message,
        ));
    }
    for function in &found.functions {
        let (name, line) = (function.qualname.as_str(), function.line);
        let here = |kind, message| Issue::new(path, kind, line, Some(name.to_owned()), message);
        if function.lines > limits.max_function_lines {
            let message = format!(
                "`{name}` is {} lines long (more than {})",
                function.lines, limits.max_function_lines
            );
            issues.push(
                here(IssueKind::LongFunction, message)
                    .figures(function.lines, limits.max_function_lines),
            );
        }
        let counted = counted_parameters(function);
        if counted > limits.max_parameters {
            let message = format!(
                "`{name}` takes {counted} parameters (more than {})",
                limits.max_parameters
            );
            issues.push(
                here(IssueKind::TooManyParameters, message).figures(counted, limits.max_parameters),
            );
        }
        if is_public_function(function) && !function.docstring {
            let message = format!("public function `{name}` has no docstring");
            issues.push(here(IssueKind::MissingDocstring, message));
        }
        for parameter in function.parameters.iter().filter(|p| p.mutable_default) {
            let default = parameter.default.clone().unwrap_or_default();
            let message = format!(
                "`{name}` has a mutable default `{}={default}`, shared by every call",
                parameter.name
            );
            let mut issue = here(IssueKind::MutableDefault, message);
            issue.parameter = Some(parameter.name.clone());
            issue.default = Some(default);
            issues.push(issue);
        }
    }
    for class in &found.classes {
        if !class.name.starts_with('_') && !class.docstring {
            let message = format!("public class `{}` has no docstring", class.qualname);
            issues.push(Issue::new(
                path,
                IssueKind::MissingDocstring,
                class.line,
                None,
                message,
            ));
        }
    }
    for node in marked_comments_and_excepts(file) {
        let line = line_of(node);
        let function = enclosing(found, line);
        if node.kind() == "comment" {
            if let Some(marker) = marker_in(file.text_of(node)) {
                let text = file.text_of(node).trim_start_matches('#').trim();
                let message = format!("{marker} comment: {text}");
                issues.push(Issue::new(path, IssueKind::Todo, line, function, message));
            }
        } else if is_bare_except(node) {
            let message =
                "bare `except:` catches everything, `KeyboardInterrupt` and `SystemExit` too";
            issues.push(Issue::new(
                path,
                IssueKind::BareExcept,
                line,
                function,
                message.to_owned(),
            ));
        }
    }
    issues.sort_by_key(|issue| issue.line);
    issues
}

/// The comments holding a marker and the `except` clauses, in source order. Only statements
/// hold an `except` clause, so that walk skips expressions; a comment may sit anywhere, so
/// comments are found where the text holds a marker (a walk of every node would cost more
/// than the rest of the issues together).
fn marked_comments_and_excepts(file: &PythonFile) -> Vec<Node<'_>> {
    let mut nodes = Vec::new();
    excepts(&mut file.tree.walk(), &mut nodes);
    let root = file.tree.root_node();
    for marker in MARKERS {
        for (at, _) in file.text.match_indices(marker) {
            if let Some(node) = root.descendant_for_byte_range(at, at + marker.len())
                && node.kind() == "comment"
            {
                nodes.push(node);
            }
        }
    }
    nodes.sort_by_key(Node::start_byte);
    // A comment with two markers was found twice.
    nodes.dedup();
    nodes
}

/// The `except` clauses under the node the cursor is on.
fn excepts<'t>(cursor: &mut TreeCursor<'t>, nodes: &mut Vec<Node<'t>>) {
    for_each_named_child(cursor, |cursor| {
        let child = cursor.node();
        if child.kind() == "except_clause" {
            nodes.push(child);
        }
        if may_hold_statements(child) {
            excepts(cursor, nodes);
        }
    });
}

fn is_bare_except(node: Node<'_>) -> bool {
    node.kind() == "except_clause"
        && node.child_by_field_name("value").is_none()
        && !children(node).iter().any(|token| token.kind() == "*")
}

fn marker_in(comment: &str) -> Option<&'static str> {
    let words: Vec<&str> = comment
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .collect();
    MARKERS
        .iter()
        .copied()
        .find(|marker| words.contains(marker))
}

/// Public: a name without a leading underscore, not nested in another function.
fn is_public_function(function: &Function) -> bool {
    let top_level_or_method = function.depth == 0 || function.class.is_some();
    top_level_or_method && !function.name.starts_with('_')
}

/// Parameters as a caller sees them: a method's `self` or `cls` is not counted.
pub(super) fn counted_parameters(function: &Function) -> usize {
    let skip_first = function.class.is_some()
        && function.parameters.first().is_some_and(|first| {
            first.kind == ParameterKind::Positional && matches!(first.name.as_str(), "self" | "cls")
        });
    function.parameters.len() - usize::from(skip_first)
}

/// The qualified name of the innermost function whose lines hold `line`.
fn enclosing(found: &Definitions, line: usize) -> Option<String> {
    found
        .functions
        .iter()
        .filter(|function| function.line <= line && line <= function.end_line)
        .max_by_key(|function| function.depth)
        .map(|function| function.qualname.clone())
}
