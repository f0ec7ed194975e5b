//! The pest parser and one `build_<rule>` function per grammar rule, turning pairs into the
//! AST. Grammar and builders read side by side: `grammar/flow.pest`.

use std::sync::Mutex;
use std::time::Duration;

use pest::Parser as _;
use pest::iterators::Pair;

use crate::span::{Span, Spanned};
use crate::syntax::ast::{
    Chain, Code, EdgeCondition, Endpoint, Field, FieldType, Flow, Ident, Item, Literal,
    LiteralValue, LoopDecl, LoopItem, NodeAction, NodeAttr, NodeDecl, Retry, StateBlock, ToolArg,
    ToolCall,
};
use crate::syntax::error::SyntaxError;
use crate::syntax::{diagnose, scan};

/// Larger bounds are surely typos; a run is bounded by `max_steps` long before anyway.
const MAX_LOOP_BOUND: u64 = 1_000_000_000;
const MAX_RETRIES: u64 = 1_000;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/flow.pest"]
pub(super) struct FlowParser;

pub(crate) fn parse_file(text: &str) -> Result<Flow, SyntaxError> {
    if text.trim().is_empty() {
        return Err(SyntaxError::Empty {
            at: Span::new(0, text.len()).into(),
        });
    }
    let brackets = scan::brackets(text)?;
    // pest's error detail more than doubles the time of a parse, and only a failed parse
    // needs it: a file that fails is parsed again with it.
    let mut pairs = match FlowParser::parse(Rule::file, text) {
        Ok(pairs) => pairs,
        Err(error) => {
            let error = parse_with_detail(text).err().unwrap_or(error);
            return Err(diagnose::syntax_error(text, &error, &brackets));
        }
    };
    let file = pairs.next().expect("grammar: parse(file) yields the file");
    let flow = file
        .into_inner()
        .next()
        .expect("grammar: file holds one flow");
    build_flow(flow, text)
}

/// Parses with pest's error detail on: it records what was tried at the furthest position,
/// for errors that name the missing `{` or `until`. The switch is global and read when a
/// parse starts, so detailed parses take turns and each one sees it on; a plain parse that
/// starts meanwhile only runs slower, with the same result.
fn parse_with_detail(
    text: &str,
) -> Result<pest::iterators::Pairs<'_, Rule>, pest::error::Error<Rule>> {
    static TURN: Mutex<()> = Mutex::new(());
    let _turn = crate::sync::lock(&TURN);
    pest::set_error_detail(true);
    let result = FlowParser::parse(Rule::file, text);
    pest::set_error_detail(false);
    result
}

fn build_flow(pair: Pair<'_, Rule>, text: &str) -> Result<Flow, SyntaxError> {
    let span = pair.as_span().into();
    let mut inner = pair.into_inner().peekable();
    let doc = take_docs(&mut inner);
    next(&mut inner, "`flow` keyword");
    let name = build_ident(&next(&mut inner, "flow name"));
    let mut items = Vec::new();
    // Doc comments arrive as their own pair, before the declaration they describe.
    let mut pending_doc = None;
    for item in inner {
        let doc = pending_doc.take();
        items.push(match item.as_rule() {
            Rule::docs => {
                pending_doc = Some(build_docs(item));
                continue;
            }
            Rule::state_block => Item::State(build_state_block(item)?),
            Rule::node_decl => Item::Node(Box::new(build_node_decl(item, doc)?)),
            Rule::loop_decl => Item::Loop(Box::new(build_loop_decl(item, doc, text)?)),
            Rule::chain => Item::Chain(build_chain(item)),
            rule => unreachable!("grammar: unexpected {rule:?} in a flow"),
        });
    }
    Ok(Flow {
        name,
        doc,
        items,
        span,
    })
}

fn take_docs(inner: &mut std::iter::Peekable<pest::iterators::Pairs<'_, Rule>>) -> Option<String> {
    if inner.peek().map(Pair::as_rule) == Some(Rule::docs) {
        inner.next().map(build_docs)
    } else {
        None
    }
}

fn build_docs(pair: Pair<'_, Rule>) -> String {
    pair.into_inner()
        .map(|line| {
            let text = line.as_str().trim_start_matches("///");
            text.strip_prefix(' ').unwrap_or(text).trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn build_ident(pair: &Pair<'_, Rule>) -> Ident {
    Ident {
        name: pair.as_str().to_owned(),
        span: pair.as_span().into(),
    }
}

fn build_state_block(pair: Pair<'_, Rule>) -> Result<StateBlock, SyntaxError> {
    let span = pair.as_span().into();
    let fields = pair
        .into_inner()
        .map(build_field)
        .collect::<Result<_, _>>()?;
    Ok(StateBlock { fields, span })
}

fn build_field(pair: Pair<'_, Rule>) -> Result<Field, SyntaxError> {
    let span = pair.as_span().into();
    let mut inner = pair.into_inner();
    let name_pair = next(&mut inner, "field name");
    let name = match name_pair.as_rule() {
        Rule::string => {
            let name = build_string(&name_pair)?;
            // Quoting a name does not free `error`: the engine sets that field itself.
            if name == "error" {
                return Err(SyntaxError::Unexpected {
                    expected: "a name".to_owned(),
                    found: format!("`{}`", name_pair.as_str()),
                    help: "`error` is set by the engine when an `on error` edge is taken; \
                           pick another name"
                        .to_owned(),
                    at: Span::from(name_pair.as_span()).into(),
                });
            }
            Ident {
                name,
                span: name_pair.as_span().into(),
            }
        }
        _ => build_ident(&name_pair),
    };
    let ty_pair = next(&mut inner, "field type");
    let ty = Spanned::new(
        FieldType::from_keyword(ty_pair.as_str()).expect("grammar: type_name is a type keyword"),
        ty_pair.as_span().into(),
    );
    let mut nullable = false;
    let mut default = None;
    for rest in inner {
        match rest.as_rule() {
            Rule::nullable => nullable = true,
            Rule::literal => default = Some(build_literal(rest)?),
            rule => unreachable!("grammar: unexpected {rule:?} in a field"),
        }
    }
    Ok(Field {
        name,
        ty,
        nullable,
        default,
        span,
    })
}

fn build_node_decl(pair: Pair<'_, Rule>, doc: Option<String>) -> Result<NodeDecl, SyntaxError> {
    let span = pair.as_span().into();
    let mut inner = pair.into_inner();
    let name = build_ident(&next(&mut inner, "node name"));
    let mut node = NodeDecl {
        name,
        doc,
        action: NodeAction::Junction,
        timeout: None,
        retry: None,
        attrs: Vec::new(),
        span,
    };
    for part in inner {
        let attr = match part.as_rule() {
            Rule::timeout_attr => NodeAttr::Timeout,
            Rule::retry_attr => NodeAttr::Retry,
            Rule::once_attr => NodeAttr::Once,
            Rule::tool_call => {
                node.action = NodeAction::Tool(build_tool_call(part)?);
                continue;
            }
            Rule::script => {
                node.action = NodeAction::Script(build_script(part));
                continue;
            }
            rule => unreachable!("grammar: unexpected {rule:?} in a node"),
        };
        node.attrs.push(Spanned::new(attr, part.as_span().into()));
        // A repeat is built too, so that its numbers are checked; the first one counts.
        match part.as_rule() {
            Rule::timeout_attr => {
                let timeout = build_timeout_attr(part)?;
                node.timeout.get_or_insert(timeout);
            }
            Rule::retry_attr => {
                let retry = build_retry_attr(part)?;
                node.retry.get_or_insert(retry);
            }
            _ => {}
        }
    }
    Ok(node)
}

fn build_tool_call(pair: Pair<'_, Rule>) -> Result<ToolCall, SyntaxError> {
    let span = pair.as_span().into();
    let mut inner = pair.into_inner();
    let name = build_ident(&next(&mut inner, "tool name"));
    let mut args = Vec::new();
    if let Some(list) = inner.next() {
        for arg in list.into_inner() {
            let mut parts = arg.into_inner();
            let name = build_ident(&next(&mut parts, "argument name"));
            let value = build_literal(next(&mut parts, "argument value"))?;
            args.push(ToolArg { name, value });
        }
    }
    Ok(ToolCall { name, args, span })
}

fn build_script(pair: Pair<'_, Rule>) -> Code {
    build_code(&next(&mut pair.into_inner(), "script text"))
}

fn build_code(pair: &Pair<'_, Rule>) -> Code {
    // Trailing blanks are not part of the code: labels should end where the code does.
    let text = pair.as_str().trim_end();
    let start = pair.as_span().start();
    Code {
        text: text.to_owned(),
        span: Span::new(start, start + text.len()),
    }
}

fn build_timeout_attr(pair: Pair<'_, Rule>) -> Result<Spanned<Duration>, SyntaxError> {
    build_duration(&next(&mut pair.into_inner(), "timeout duration"))
}

fn build_retry_attr(pair: Pair<'_, Rule>) -> Result<Retry, SyntaxError> {
    let span = pair.as_span().into();
    let mut inner = pair.into_inner();
    let count = next(&mut inner, "retry count");
    let attempts = Spanned::new(
        parse_integer(&count, "a retry count", MAX_RETRIES)?
            .try_into()
            .expect("bounded by MAX_RETRIES above"),
        count.as_span().into(),
    );
    let backoff = inner.next().map(|d| build_duration(&d)).transpose()?;
    Ok(Retry {
        attempts,
        backoff,
        span,
    })
}

fn build_loop_decl(
    pair: Pair<'_, Rule>,
    doc: Option<String>,
    text: &str,
) -> Result<LoopDecl, SyntaxError> {
    let span: Span = pair.as_span().into();
    let mut inner = pair.into_inner().peekable();
    let name = build_ident(&next(&mut inner, "loop name"));
    let mut max = None;
    if inner.peek().map(Pair::as_rule) == Some(Rule::loop_max) {
        let count = next(&mut next(&mut inner, "loop max").into_inner(), "loop bound");
        let value = parse_integer(&count, "a loop bound", MAX_LOOP_BOUND)?;
        max = Some(Spanned::new(value, count.as_span().into()));
    }
    let mut body = Vec::new();
    let mut until = None;
    let mut pending_doc = None;
    for part in inner {
        match part.as_rule() {
            Rule::docs => pending_doc = Some(build_docs(part)),
            Rule::loop_decl => {
                body.push(LoopItem::Loop(Box::new(build_loop_decl(
                    part,
                    pending_doc.take(),
                    text,
                )?)));
            }
            Rule::chain => {
                pending_doc = None;
                body.push(LoopItem::Chain(build_chain(part)));
            }
            Rule::until_kw => {}
            Rule::guard => until = Some(build_code(&part)),
            rule => unreachable!("grammar: unexpected {rule:?} in a loop"),
        }
    }
    let until = until.expect("grammar: a loop ends with `until GUARD`");
    let (header, body_span) = loop_braces(text, span, &name, &until);
    Ok(LoopDecl {
        name,
        doc,
        max,
        body,
        until,
        header,
        body_span,
        span,
    })
}

/// The header runs from `loop` to the body's `{`; the body from `{` to the `}` before
/// `until`. pest does not hand out the braces, so they are found in the loop's own text.
fn loop_braces(text: &str, span: Span, name: &Ident, until: &Code) -> (Span, Span) {
    let open = text[name.span.end..span.end]
        .find('{')
        .map_or(name.span.end, |i| name.span.end + i);
    let close = text[open..until.span.start]
        .rfind('}')
        .map_or(until.span.start, |i| open + i + 1);
    (Span::new(span.start, open), Span::new(open, close))
}

fn build_chain(pair: Pair<'_, Rule>) -> Chain {
    let span = pair.as_span().into();
    // Most chains are one edge: two endpoints.
    let mut endpoints = Vec::with_capacity(2);
    let mut condition = None;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::start_kw => endpoints.push(Endpoint::Start(part.as_span().into())),
            Rule::end_kw => endpoints.push(Endpoint::End(part.as_span().into())),
            Rule::ident => endpoints.push(Endpoint::Name(build_ident(&part))),
            Rule::when_clause => {
                condition = Some(EdgeCondition::When(build_code(&next(
                    &mut part.into_inner(),
                    "guard",
                ))));
            }
            Rule::on_error => condition = Some(EdgeCondition::OnError(part.as_span().into())),
            rule => unreachable!("grammar: unexpected {rule:?} in a chain"),
        }
    }
    Chain {
        endpoints,
        condition,
        span,
    }
}

fn build_literal(pair: Pair<'_, Rule>) -> Result<Literal, SyntaxError> {
    let span = pair.as_span().into();
    let inner = next(&mut pair.into_inner(), "literal value");
    let value = if inner.as_rule() == Rule::duration {
        LiteralValue::Duration(build_duration(&inner)?.value)
    } else {
        LiteralValue::Json(build_json(inner)?)
    };
    Ok(Literal { value, span })
}

fn build_json(pair: Pair<'_, Rule>) -> Result<serde_json::Value, SyntaxError> {
    use serde_json::Value;
    Ok(match pair.as_rule() {
        Rule::object => {
            let mut map = serde_json::Map::new();
            for entry in pair.into_inner() {
                let mut parts = entry.into_inner();
                let key = next(&mut parts, "object key");
                let key = if key.as_rule() == Rule::string {
                    build_string(&key)?
                } else {
                    key.as_str().to_owned()
                };
                map.insert(key, build_json(next(&mut parts, "object value"))?);
            }
            Value::Object(map)
        }
        Rule::array => Value::Array(
            pair.into_inner()
                .map(build_json)
                .collect::<Result<_, _>>()?,
        ),
        Rule::string => Value::String(build_string(&pair)?),
        Rule::number => build_number(&pair)?,
        Rule::true_lit => Value::Bool(true),
        Rule::false_lit => Value::Bool(false),
        Rule::null_lit => Value::Null,
        rule => unreachable!("grammar: unexpected {rule:?} in a JSON value"),
    })
}

fn build_string(pair: &Pair<'_, Rule>) -> Result<String, SyntaxError> {
    serde_json::from_str(pair.as_str()).map_err(|error| {
        // serde_json counts 1-based columns in bytes on the literal's single line. Two bytes
        // may end (or start) inside a character: widen to whole characters.
        let text = pair.get_input();
        let mut start = pair.as_span().start() + error.column().saturating_sub(2);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + 2).min(pair.as_span().end());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        SyntaxError::BadString {
            reason: error
                .to_string()
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_owned(),
            at: Span::new(start.min(end), end).into(),
        }
    })
}

fn build_number(pair: &Pair<'_, Rule>) -> Result<serde_json::Value, SyntaxError> {
    let text = pair.as_str();
    let too_large = || SyntaxError::NumberTooLarge {
        what: "a number",
        limit: format!("{:e}", f64::MAX),
        at: Span::from(pair.as_span()).into(),
    };
    if let Ok(int) = text.parse::<i64>() {
        return Ok(int.into());
    }
    if let Ok(unsigned) = text.parse::<u64>() {
        return Ok(unsigned.into());
    }
    let float: f64 = text.parse().map_err(|_| too_large())?;
    serde_json::Number::from_f64(float)
        .map(serde_json::Value::Number)
        .ok_or_else(too_large)
}

fn build_duration(pair: &Pair<'_, Rule>) -> Result<Spanned<Duration>, SyntaxError> {
    let text = pair.as_str();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .expect("grammar: a unit follows");
    let (digits, unit) = text.split_at(digits_end);
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => unreachable!("grammar: unknown duration unit {other}"),
    };
    let too_large = || SyntaxError::NumberTooLarge {
        what: "a duration",
        limit: "10000h".to_owned(),
        at: Span::from(pair.as_span()).into(),
    };
    let count: u64 = digits.parse().map_err(|_| too_large())?;
    let millis = count
        .checked_mul(millis_per_unit)
        .filter(|ms| *ms <= 36_000_000_000)
        .ok_or_else(too_large)?;
    Ok(Spanned::new(
        Duration::from_millis(millis),
        pair.as_span().into(),
    ))
}

fn parse_integer(
    pair: &Pair<'_, Rule>,
    what: &'static str,
    limit: u64,
) -> Result<u64, SyntaxError> {
    pair.as_str()
        .parse::<u64>()
        .ok()
        .filter(|n| *n <= limit)
        .ok_or(SyntaxError::NumberTooLarge {
            what,
            limit: (limit + 1).to_string(),
            at: Span::from(pair.as_span()).into(),
        })
}

fn next<'i>(pairs: &mut impl Iterator<Item = Pair<'i, Rule>>, what: &str) -> Pair<'i, Rule> {
    pairs
        .next()
        .unwrap_or_else(|| panic!("grammar guarantees a {what} here"))
}

#[cfg(test)]
mod tests {
    use pest::Parser as _;

    use super::{FlowParser, Rule};

    /// Straight to pest, past the bracket scan: an unclosed bracket ends the code where it
    /// stands, so 40 of them are 40 failed groups, not 2^40 (each used to be read again as a
    /// plain character, doubling the work).
    #[test]
    fn unclosed_brackets_in_code_cost_linear_time() {
        let parens = "(".repeat(40);
        for text in [
            format!("flow f {{\n  a -> b when {parens}n\n}}\n"),
            format!("flow f {{\n  a -> b when `\n  c -> d when {parens}n\n}}\n"),
            format!("flow f {{\n  node s {{ x = \"{parens}\n  }}\n}}\n"),
        ] {
            assert!(FlowParser::parse(Rule::file, &text).is_err(), "{text}");
        }
        // In a template, an interpolation that never closes is text (rhai refuses it later).
        let template = format!("flow f {{\n  node s {{ x = `${{{parens}` }}\n}}\n");
        assert!(FlowParser::parse(Rule::file, &template).is_ok());
    }
}
