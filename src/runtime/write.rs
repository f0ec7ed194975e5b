//! A step's write that does not fit its field's declared type, as a `flow::invalid-write`:
//! what wrote it, and for the commonest slip — assigning the result of a rhai method that
//! works in place, as in `name = name.trim()` — a help that says so.

use crate::compile::ir::Node;
use crate::runtime::error::{InvalidWrite, RuntimeError};
use crate::runtime::state::BadWrite;
use crate::sandbox::CompiledCode;
use crate::span::Span;
use crate::value::{FieldType, Kind};

/// rhai methods that change their string, list or map in place and return `()`.
const STRING_METHODS: &[&str] = &[
    "trim",
    "make_upper",
    "make_lower",
    "clear",
    "truncate",
    "pad",
    "remove",
    "replace",
    "crop",
    "append",
];
const LIST_METHODS: &[&str] = &[
    "push",
    "append",
    "insert",
    "pad",
    "clear",
    "truncate",
    "chop",
    "reverse",
    "sort",
    "sort_desc",
    "dedup",
    "splice",
];
const MAP_METHODS: &[&str] = &["clear", "mixin", "fill_with"];

/// What wrote the value.
pub(super) enum Writer<'a> {
    Script(&'a CompiledCode),
    Tool(&'a str),
    /// The input a waiting node was resumed with.
    Input,
}

/// The diagnostic for `bad`; `old` is the kind of the field's value before the step.
pub(super) fn invalid_write(
    node: &Node,
    bad: BadWrite,
    writer: &Writer<'_>,
    old: Option<Kind>,
) -> RuntimeError {
    let field = &bad.field;
    let in_place = match writer {
        Writer::Script(code) if bad.kind == Kind::Null => old
            .and_then(|old| in_place_call(&code.text, field, methods_of(old)))
            .map(|(method, at)| {
                let start = code.span.start;
                (method, Span::new(start + at.start, start + at.end))
            }),
        _ => None,
    };
    let (help, at) = match (writer, in_place) {
        (Writer::Script(_), Some((method, at))) => (
            format!(
                "`{method}` works in place and returns nothing: write `{field}.{method}(…)` \
                 alone, not `{field} = {field}.{method}(…)`"
            ),
            at,
        ),
        (Writer::Script(code), None) if bad.kind == Kind::Null => (
            format!(
                "a script's `()` is null; give `{field}` a value of type {}, or declare it \
                 nullable (`{field}: TYPE?`) if it may have none",
                bad.expected
            ),
            statement(code, field),
        ),
        (Writer::Script(code), None) => (
            format!(
                "give `{field}` a value of type {}{}, or change the field's declared type",
                bad.expected,
                conversion(bad.declared_ty)
            ),
            statement(code, field),
        ),
        (Writer::Input, _) => (
            format!(
                "the input of a waiting run must fit the schema: give `{field}` a value of \
                 type {}",
                bad.expected
            ),
            node.span,
        ),
        (Writer::Tool(tool), _) => (
            format!(
                "a tool's changes must fit the schema: make `{tool}` return a value of type {} \
                 for `{field}`, or change the field's declared type",
                bad.expected
            ),
            node.span,
        ),
    };
    RuntimeError::InvalidWrite(Box::new(InvalidWrite {
        node: node.name.clone(),
        field: bad.field,
        expected: bad.expected,
        given: bad.given,
        help,
        at: at.into(),
        declared: bad.declared.map(Into::into),
    }))
}

/// The script's one statement assigning `field`, else the whole script.
fn statement(code: &CompiledCode, field: &str) -> Span {
    only_assignment(&code.text, field).map_or(code.span, |at| {
        Span::new(code.span.start + at.start, code.span.start + at.end)
    })
}

/// How a script converts a value to `ty`, for the help.
fn conversion(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Int => " (convert with `parse_int` or `to_int`)",
        FieldType::Float => " (convert with `parse_float` or `to_float`)",
        FieldType::String => " (convert with `to_string`)",
        _ => "",
    }
}

fn methods_of(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::String => STRING_METHODS,
        Kind::List => LIST_METHODS,
        Kind::Map => MAP_METHODS,
        _ => &[],
    }
}

/// The first `NAME = NAME.METHOD(` in `text` with METHOD one of `methods`: the method and
/// the span (in `text`) from the first `NAME` to the method's name.
fn in_place_call(text: &str, name: &str, methods: &[&'static str]) -> Option<(&'static str, Span)> {
    assignments(text, name).find_map(|(start, value)| {
        let rest = after(value, name)?;
        let rest = after(rest, ".")?.trim_start();
        let method = methods.iter().find(|method| {
            rest.strip_prefix(**method)
                .is_some_and(|tail| tail.trim_start().starts_with('('))
        })?;
        let end = text.len() - rest.len() + method.len();
        Some((*method, Span::new(start, end)))
    })
}

/// The statement assigning `name`, when the text has exactly one: from the name to the end
/// of its line or its `;`.
fn only_assignment(text: &str, name: &str) -> Option<Span> {
    let mut found = assignments(text, name);
    let (start, value) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let value_start = text.len() - value.len();
    let length = value.find([';', '\n']).unwrap_or(value.len());
    let end = value_start + value[..length].trim_end().len();
    Some(Span::new(start, end))
}

/// Each plain `NAME = …` in `text`: where NAME starts and the text after the `=`.
fn assignments<'t>(text: &'t str, name: &'t str) -> impl Iterator<Item = (usize, &'t str)> {
    text.match_indices(name).filter_map(move |(start, _)| {
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| is_ident(c) || c == '.')
        {
            return None;
        }
        let rest = after(&text[start..], name)?;
        let value = after(rest, "=")?;
        (!value.starts_with('=')).then_some((start, value))
    })
}

/// `text` after optional whitespace and `token`, when it starts so (a name must end there).
fn after<'t>(text: &'t str, token: &str) -> Option<&'t str> {
    let rest = text.trim_start().strip_prefix(token)?;
    let ends_a_name = token.chars().all(is_ident);
    (!ends_a_name || !rest.chars().next().is_some_and(is_ident)).then_some(rest)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::{STRING_METHODS, in_place_call, only_assignment};
    use crate::span::Span;

    #[test]
    fn an_assigned_in_place_call_is_found_with_its_span() {
        let text = "let x = 1;\nname = name.trim();";
        assert_eq!(
            in_place_call(text, "name", STRING_METHODS),
            Some(("trim", Span::new(11, 27)))
        );
        assert_eq!(
            in_place_call("name =name . make_upper ()", "name", STRING_METHODS),
            Some(("make_upper", Span::new(0, 23)))
        );
    }

    #[test]
    fn other_statements_are_not_taken_for_one() {
        for text in [
            "name.trim();",
            "name = name.to_upper();",
            "nickname = nickname.trim(); full_name = name",
            "my_name = name.trim();",
            "name == name.trim()",
            "name = names.trim()",
        ] {
            assert_eq!(in_place_call(text, "name", STRING_METHODS), None, "{text}");
        }
    }

    #[test]
    fn the_one_assignment_of_a_name_is_its_statement() {
        let text = "let n = 2;\ncount = \"three\";\nx.count = 1;";
        assert_eq!(only_assignment(text, "count"), Some(Span::new(11, 26)));
        assert_eq!(
            only_assignment("count = 1\n", "count"),
            Some(Span::new(0, 9))
        );
        assert_eq!(only_assignment("count = 1; count = 2", "count"), None);
        assert_eq!(only_assignment("count == 1", "count"), None);
    }
}
