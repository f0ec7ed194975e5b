//! The functions and classes a file defines, as written: names, where they sit, their
//! parameters, decorators and docstrings. `code.extract` lists them; the issue checks read
//! them.

use serde::Serialize;
use tree_sitter::{Node, TreeCursor};

use super::source::{
    PythonFile, children, end_line_of, for_each_named_child, in_field, line_of,
    may_hold_statements, named_children,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(super) struct Function {
    pub name: String,
    /// Enclosing definitions and the name, joined by dots (`Outer.Inner.method`,
    /// `outer.inner`), as Python's `__qualname__` without `<locals>`.
    pub qualname: String,
    /// The class whose method this is, qualified for nested classes; `None` for a function.
    pub class: Option<String>,
    pub line: usize,
    pub end_line: usize,
    pub lines: usize,
    pub parameters: Vec<Parameter>,
    #[serde(rename = "async")]
    pub is_async: bool,
    pub decorators: Vec<String>,
    /// How many definitions (functions or classes) enclose it: 0 at module level.
    pub depth: usize,
    pub docstring: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(super) struct Parameter {
    pub name: String,
    pub kind: ParameterKind,
    /// The default value's source text.
    pub default: Option<String>,
    pub annotation: Option<String>,
    /// The default is a list, dict or set display or comprehension, or a call that makes one.
    #[serde(skip)]
    pub mutable_default: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ParameterKind {
    Positional,
    /// `*args`.
    VarPositional,
    /// After `*` or `*args`.
    KeywordOnly,
    /// `**kwargs`.
    VarKeyword,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Class {
    pub name: String,
    pub qualname: String,
    pub line: usize,
    pub docstring: bool,
}

#[derive(Debug, Default)]
pub(super) struct Definitions {
    pub functions: Vec<Function>,
    pub classes: Vec<Class>,
}

/// Calls that build a fresh mutable object: as a default, it is shared by every call.
const MUTABLE_FACTORIES: &[&str] = &[
    "list",
    "dict",
    "set",
    "bytearray",
    "defaultdict",
    "OrderedDict",
    "deque",
    "Counter",
];

pub(super) fn definitions(file: &PythonFile) -> Definitions {
    let mut found = Definitions::default();
    walk(file, &mut file.tree.walk(), &[], &mut found);
    found
}

/// One enclosing definition: its name and whether it is a class.
#[derive(Clone)]
struct Scope {
    name: String,
    class: bool,
}

/// Walks the node the cursor is on, and leaves the cursor there.
fn walk(file: &PythonFile, cursor: &mut TreeCursor<'_>, scopes: &[Scope], found: &mut Definitions) {
    let node = cursor.node();
    match node.kind() {
        "function_definition" => {
            let function = function(file, node, scopes, Vec::new());
            let inner = push(scopes, &function.name, false);
            found.functions.push(function);
            walk_children(file, cursor, &inner, found);
        }
        "class_definition" => {
            let name = name_of(file, node);
            let inner = push(scopes, &name, true);
            found.classes.push(Class {
                qualname: qualname(&inner),
                name,
                line: line_of(node),
                docstring: has_docstring(node),
            });
            walk_children(file, cursor, &inner, found);
        }
        // The decorators are the definition's: read here, as a node's parent is costly to find.
        "decorated_definition" => {
            let decorators: Vec<String> = named_children(node)
                .into_iter()
                .filter(|child| child.kind() == "decorator")
                .map(|decorator| {
                    file.text_of(decorator)
                        .trim_start_matches('@')
                        .trim()
                        .to_owned()
                })
                .collect();
            match node.child_by_field_name("definition") {
                Some(definition) if definition.kind() == "function_definition" => {
                    let function = function(file, definition, scopes, decorators);
                    let inner = push(scopes, &function.name, false);
                    found.functions.push(function);
                    in_field(cursor, "definition", |cursor| {
                        walk_children(file, cursor, &inner, found);
                    });
                }
                _ => walk_children(file, cursor, scopes, found),
            }
        }
        _ => walk_children(file, cursor, scopes, found),
    }
}

fn walk_children(
    file: &PythonFile,
    cursor: &mut TreeCursor<'_>,
    scopes: &[Scope],
    found: &mut Definitions,
) {
    for_each_named_child(cursor, |cursor| {
        if may_hold_statements(cursor.node()) {
            walk(file, cursor, scopes, found);
        }
    });
}

fn push(scopes: &[Scope], name: &str, class: bool) -> Vec<Scope> {
    let mut inner = scopes.to_vec();
    inner.push(Scope {
        name: name.to_owned(),
        class,
    });
    inner
}

fn qualname(scopes: &[Scope]) -> String {
    let names: Vec<&str> = scopes.iter().map(|scope| scope.name.as_str()).collect();
    names.join(".")
}

fn name_of(file: &PythonFile, node: Node<'_>) -> String {
    node.child_by_field_name("name")
        .map_or_else(String::new, |name| file.text_of(name).to_owned())
}

fn function(
    file: &PythonFile,
    node: Node<'_>,
    scopes: &[Scope],
    decorators: Vec<String>,
) -> Function {
    let name = name_of(file, node);
    // A method is a function directly in a class body; its class is named by the classes
    // enclosing it (a class inside a function starts the name afresh, as the function's
    // locals are not reachable from outside).
    let class = match scopes.last() {
        Some(scope) if scope.class => {
            let start = scopes.iter().rposition(|s| !s.class).map_or(0, |i| i + 1);
            Some(qualname(&scopes[start..]))
        }
        _ => None,
    };
    let (line, end_line) = (line_of(node), end_line_of(node));
    Function {
        qualname: qualname(&push(scopes, &name, false)),
        name,
        class,
        line,
        end_line,
        lines: end_line - line + 1,
        parameters: node
            .child_by_field_name("parameters")
            .map(|parameters| parameters_of(file, parameters))
            .unwrap_or_default(),
        is_async: children(node).iter().any(|token| token.kind() == "async"),
        decorators,
        depth: scopes.len(),
        docstring: has_docstring(node),
    }
}

fn parameters_of(file: &PythonFile, parameters: Node<'_>) -> Vec<Parameter> {
    let mut keyword_only = false;
    let mut found = Vec::new();
    for parameter in named_children(parameters) {
        let text = |field: &str| {
            parameter
                .child_by_field_name(field)
                .map(|node| file.text_of(node).to_owned())
        };
        let (name, kind, default, annotation) = match parameter.kind() {
            "identifier" => (file.text_of(parameter).to_owned(), None, None, None),
            "default_parameter" => (text("name").unwrap_or_default(), None, text("value"), None),
            "typed_parameter" => {
                let inner = named_children(parameter).into_iter().next();
                let annotation = text("type");
                match inner {
                    Some(inner) if inner.kind() == "list_splat_pattern" => {
                        keyword_only = true;
                        (
                            splat_name(file, inner),
                            Some(ParameterKind::VarPositional),
                            None,
                            annotation,
                        )
                    }
                    Some(inner) if inner.kind() == "dictionary_splat_pattern" => (
                        splat_name(file, inner),
                        Some(ParameterKind::VarKeyword),
                        None,
                        annotation,
                    ),
                    Some(inner) => (file.text_of(inner).to_owned(), None, None, annotation),
                    None => continue,
                }
            }
            "typed_default_parameter" => (
                text("name").unwrap_or_default(),
                None,
                text("value"),
                text("type"),
            ),
            "list_splat_pattern" => {
                keyword_only = true;
                (
                    splat_name(file, parameter),
                    Some(ParameterKind::VarPositional),
                    None,
                    None,
                )
            }
            "dictionary_splat_pattern" => (
                splat_name(file, parameter),
                Some(ParameterKind::VarKeyword),
                None,
                None,
            ),
            // A bare `*` starts the keyword-only parameters; `/` ends the positional-only ones.
            "keyword_separator" => {
                keyword_only = true;
                continue;
            }
            _ => continue,
        };
        let kind = kind.unwrap_or(if keyword_only {
            ParameterKind::KeywordOnly
        } else {
            ParameterKind::Positional
        });
        let mutable_default = parameter
            .child_by_field_name("value")
            .is_some_and(|value| is_mutable(file, value));
        found.push(Parameter {
            name,
            kind,
            default,
            annotation,
            mutable_default,
        });
    }
    found
}

fn splat_name(file: &PythonFile, splat: Node<'_>) -> String {
    named_children(splat)
        .first()
        .map_or_else(String::new, |name| file.text_of(*name).to_owned())
}

fn is_mutable(file: &PythonFile, value: Node<'_>) -> bool {
    match value.kind() {
        "list"
        | "dictionary"
        | "set"
        | "list_comprehension"
        | "dictionary_comprehension"
        | "set_comprehension" => true,
        "call" => value
            .child_by_field_name("function")
            .is_some_and(|function| {
                let name = file.text_of(function);
                let last = name.rsplit('.').next().unwrap_or(name);
                MUTABLE_FACTORIES.contains(&last)
            }),
        _ => false,
    }
}

/// Whether the body of a `def` or `class` starts with a string.
fn has_docstring(definition: Node<'_>) -> bool {
    let Some(body) = definition.child_by_field_name("body") else {
        return false;
    };
    let mut cursor = body.walk();
    let first = body
        .named_children(&mut cursor)
        .find(|statement| statement.kind() != "comment");
    first.is_some_and(|statement| {
        statement.kind() == "expression_statement"
            && named_children(statement).first().is_some_and(|expression| {
                matches!(expression.kind(), "string" | "concatenated_string")
            })
    })
}
