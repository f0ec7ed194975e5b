//! What went wrong in a script, in the flow's words: rhai's evaluation errors as data, with
//! rhai's type names translated (`i64` is int, `()` is null, `Array` is list), rendered here
//! and nowhere else.

use rhai::{AST, ASTNode, EvalAltResult, Expr, Position};

use crate::value::Kind;

/// A script's failure, as the user would describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A function or method called on null: `x.index_of("a")` with `x` null.
    CalledOnNull {
        function: String,
        /// The variable holding null, when the call's subject is a plain variable.
        variable: Option<String>,
    },
    /// No function of that name takes arguments of these types.
    NoSuchFunction { function: String, args: Vec<String> },
    /// A map read with a key it does not have (`m["k"]`, `row.k`).
    MissingKey {
        key: String,
        /// The variable holding the map, when the map is a plain variable.
        map: Option<String>,
    },
    /// A list read past its end.
    OutOfBounds { index: i64, len: usize },
    /// A value of one type where another was needed.
    WrongType { expected: String, given: String },
    /// Integer overflow, division by zero, …: rhai's words.
    Arithmetic { message: String },
    /// A name that is neither a local nor a state field.
    UnknownVariable { name: String },
    /// `for x in v` with a `v` that cannot be iterated.
    NotIterable,
    /// `throw value`: the script's own message.
    Thrown { message: String },
    /// Anything else, in rhai's words.
    Other { message: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::CalledOnNull {
                function,
                variable: Some(variable),
            } => write!(
                f,
                "`{function}` cannot be called on null: `{variable}` is null here"
            ),
            Problem::CalledOnNull {
                function,
                variable: None,
            } => write!(f, "`{function}` cannot be called on null"),
            Problem::NoSuchFunction { function, args } if args.is_empty() => {
                write!(f, "there is no function `{function}` without arguments")
            }
            Problem::NoSuchFunction { function, args } => {
                write!(f, "no function `{function}` takes ({})", args.join(", "))
            }
            Problem::MissingKey {
                key,
                map: Some(map),
            } => {
                write!(f, "`{map}` has no key `{key}`")
            }
            Problem::MissingKey { key, map: None } => write!(f, "the map has no key `{key}`"),
            Problem::OutOfBounds { index, len } => {
                write!(f, "index {index} is out of bounds for a list of {len}")
            }
            Problem::WrongType { expected, given } => {
                write!(f, "expected {expected}, but the value is {given}")
            }
            Problem::Arithmetic { message }
            | Problem::Thrown { message }
            | Problem::Other { message } => f.write_str(message),
            Problem::UnknownVariable { name } => write!(f, "`{name}` is not defined here"),
            Problem::NotIterable => f.write_str(
                "a `for` loop iterates over a list, a range or a string, and this is none",
            ),
        }
    }
}

impl Problem {
    /// How to fix it, or `None` when the node's `on error` edge is the only advice.
    pub(crate) fn help(&self) -> Option<String> {
        Some(match self {
            Problem::CalledOnNull {
                variable: Some(variable),
                ..
            } => format!(
                "give `{variable}` a value, or test for null first: `if {variable} != () {{ … }}`"
            ),
            Problem::CalledOnNull { .. } => {
                "test the value for null first: `if x != () { … }`".to_owned()
            }
            Problem::NoSuchFunction { .. } => {
                "check the arguments' types; convert with `to_string()`, `parse_int()`, \
                 `parse_float()` or `to_int()`"
                    .to_owned()
            }
            Problem::MissingKey { key, map } => {
                let map = map.as_deref().unwrap_or("m");
                format!(
                    "test for the key first (`if \"{key}\" in {map} {{ … }}`), or read it with \
                     a default: `{map}.get(\"{key}\") ?? default`"
                )
            }
            Problem::OutOfBounds { .. } => {
                "test the index against `len()` first, or iterate with `for x in list`".to_owned()
            }
            Problem::WrongType { expected, .. } => {
                format!("convert the value to {expected} first, or check its type with `type_of`")
            }
            Problem::Arithmetic { .. } => {
                "test the operands first, e.g. `if d != 0 { n / d } else { 0 }`".to_owned()
            }
            Problem::UnknownVariable { name } => format!(
                "give the state field `{name}` a value, declare a local with `let`, or pass it \
                 to a `fn` as an argument (a `fn` does not see the variables around it)"
            ),
            Problem::NotIterable => {
                "iterate a list (`for row in rows`), a range (`for i in 0..n`) or a string"
                    .to_owned()
            }
            Problem::Thrown { .. } | Problem::Other { .. } => return None,
        })
    }

    /// The problem `error` (raised at `position`) describes, the code `ast` giving names to
    /// what it points at.
    pub(crate) fn of(error: &EvalAltResult, position: Position, ast: &AST) -> Problem {
        match error {
            EvalAltResult::ErrorFunctionNotFound(signature, _) => {
                let (function, args) = parse_signature(signature);
                if args.first().is_some_and(|first| first == "null") {
                    Problem::CalledOnNull {
                        variable: subject(ast, position),
                        function,
                    }
                } else {
                    Problem::NoSuchFunction { function, args }
                }
            }
            EvalAltResult::ErrorPropertyNotFound(key, _) => Problem::MissingKey {
                key: key.clone(),
                map: subject(ast, position),
            },
            EvalAltResult::ErrorIndexNotFound(key, _) => Problem::MissingKey {
                key: key.to_string(),
                map: subject(ast, position),
            },
            EvalAltResult::ErrorArrayBounds(len, index, _) => Problem::OutOfBounds {
                index: *index,
                len: *len,
            },
            EvalAltResult::ErrorMismatchDataType(expected, given, _) => Problem::WrongType {
                expected: flow_type(expected),
                given: flow_type(given),
            },
            EvalAltResult::ErrorArithmetic(message, _) => Problem::Arithmetic {
                message: lowercase_first(message),
            },
            EvalAltResult::ErrorVariableNotFound(name, _) => {
                Problem::UnknownVariable { name: name.clone() }
            }
            EvalAltResult::ErrorFor(_) => Problem::NotIterable,
            EvalAltResult::ErrorRuntime(value, _) if !value.is_unit() => Problem::Thrown {
                message: value.to_string(),
            },
            other => Problem::Other {
                message: other.to_string(),
            },
        }
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// `index_of ((), &str | ImmutableString | String)` as its name and its arguments' flow types.
/// rhai reports the call's signature only as this text.
fn parse_signature(signature: &str) -> (String, Vec<String>) {
    let Some((name, args)) = signature.split_once(" (") else {
        return (signature.trim().to_owned(), Vec::new());
    };
    let args = args.strip_suffix(')').unwrap_or(args);
    let args = split_top_level(args)
        .into_iter()
        .filter(|arg| !arg.is_empty())
        .map(flow_type)
        .collect();
    (name.trim().to_owned(), args)
}

/// Splits at the commas outside brackets (`Map<String, Dynamic>` is one type).
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, c) in text.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// A rhai (or Rust) type name as the flow language says it ([`Kind::of_type_name`]), or its
/// last path segment for a type the state has no kind for.
pub(crate) fn flow_type_name(rhai: &'static str) -> &'static str {
    Kind::of_type_name(rhai).map_or_else(|| last_segment(rhai), Kind::name)
}

/// [`flow_type_name`] for a name rhai built at run time (in an error's text).
fn flow_type(rhai: &str) -> String {
    Kind::of_type_name(rhai).map_or_else(
        || last_segment(rhai).to_owned(),
        |kind| kind.name().to_owned(),
    )
}

fn last_segment(name: &str) -> &str {
    let name = name.trim();
    name.rsplit("::").next().unwrap_or(name)
}

/// The variable a failing call or read at `position` was made on: `x` in `x.f()`, `f(x)`,
/// `x.key` or `x[key]`.
fn subject(ast: &AST, position: Position) -> Option<String> {
    let mut found = None;
    ast.walk(&mut |path: &[ASTNode]| {
        if found.is_some() {
            return false;
        }
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, at))) if *at == position => {
                call.args.first().and_then(variable_name)
            }
            Some(ASTNode::Expr(Expr::Index(binary, _, at))) if *at == position => {
                variable_name(&binary.lhs)
            }
            Some(ASTNode::Expr(Expr::MethodCall(_, at) | Expr::Property(_, at)))
                if *at == position =>
            {
                // The object is the left side of the enclosing `.`.
                path.iter().rev().skip(1).find_map(|node| match node {
                    ASTNode::Expr(Expr::Dot(binary, ..)) => variable_name(&binary.lhs),
                    _ => None,
                })
            }
            _ => None,
        };
        if call.is_some() {
            found = call;
        }
        true
    });
    found
}

fn variable_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Variable(variable, ..) => Some(variable.1.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_read_in_flow_types() {
        assert_eq!(
            parse_signature("index_of ((), &str | ImmutableString | String)"),
            (
                "index_of".to_owned(),
                vec!["null".to_owned(), "string".to_owned()]
            )
        );
        assert_eq!(
            parse_signature("f (i64, f64, Array, Map)").1,
            ["int", "float", "list", "map"]
        );
        assert_eq!(flow_type("rhai::Map"), "map");
    }
}
