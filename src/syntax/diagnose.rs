//! pest's error, turned into the `SyntaxError` a user can act on: the position pest
//! reached with what it expected there, moved to the construct to change (the bracket that
//! never closes, the arrow with no target, the missing separator) where the text shows it.

use pest::Parser as _;
use pest::error::InputLocation;

use crate::span::Span;
use crate::syntax::error::SyntaxError;
use crate::syntax::parser::{FlowParser, Rule};
use crate::syntax::scan;

pub(super) fn syntax_error(
    text: &str,
    error: &pest::error::Error<Rule>,
    brackets: &scan::Brackets,
) -> SyntaxError {
    let (mut offset, mut expected) = positives(error);
    // With error detail on, pest also records the literal tokens it tried (`{`, `until`, `"`)
    // at the furthest position reached. That position is better, unless it is inside a word
    // (`30s|ec`), where the rule that failed as a whole says more. (pest does not export
    // these types, so they are only used, never named.)
    if let Some(attempts) = error.parse_attempts()
        && attempts.max_position > offset
        && !inside_word(text, attempts.max_position)
    {
        let rules: Vec<Rule> = attempts
            .call_stacks()
            .iter()
            .filter_map(|stack| stack.deepest.get_rule().or(stack.parent.as_ref()).copied())
            .collect();
        let tokens: Vec<String> = attempts
            .expected_tokens()
            .iter()
            .map(ToString::to_string)
            .collect();
        offset = attempts.max_position;
        expected = describe_expected(&rules, &tokens);
        // After a reserved word where a name should be, the word is the mistake.
        let word_start = text[..offset]
            .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_')
            .len();
        if expected == "a name" && is_keyword(&text[word_start..offset]) {
            offset = word_start;
        }
    }
    // A bracket that never closes ends the code at the bracket, and pest fails past it,
    // listing every character it could have taken: the bracket is the mistake. So it is
    // when pest fails at the end of the file, or at the bracket itself when it backtracks.
    // (Elsewhere, e.g. after an unterminated string, pest knows better.)
    let at_end = offset >= text.trim_end().len();
    let unclosed = brackets
        .unmatched
        .first()
        .copied()
        .filter(|(at, _)| *at <= offset)
        .or_else(|| {
            if at_end {
                brackets.unclosed.last().copied()
            } else {
                brackets
                    .unclosed
                    .iter()
                    .copied()
                    .find(|(at, _)| *at == offset)
            }
        })
        // Which bracket it is, the layout tells better: a `}` missing inside a block leaves
        // the outermost one open.
        .map(|first| {
            brackets
                .culprit
                .filter(|(at, _)| *at <= offset)
                .unwrap_or(first)
        });
    if let Some((at, opener)) = unclosed {
        return scan::unclosed(text, at, opener);
    }
    if let Some(&(at, closer)) = brackets.stray.iter().find(|(at, _)| *at == offset) {
        return SyntaxError::Stray {
            closer,
            at: Span::new(at, at + 1).into(),
        };
    }
    let before = text[..offset].trim_end();
    if expected.contains("a name") && before.ends_with("->") {
        let rest = &text[offset..];
        let word = &rest[..rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())];
        // `a -> node` is a reserved word as a name; `->` then a line break, or the edge's
        // condition (`a -> when ok`), a dangling arrow.
        if word.is_empty()
            || matches!(word, "when" | "on")
            || text[before.len()..offset].contains('\n')
        {
            return SyntaxError::DanglingArrow {
                at: Span::new(before.len() - 2, before.len()).into(),
            };
        }
    }
    if let Some(error) = declaration_in_loop(text, offset) {
        return error;
    }
    if let Some(error) = missing_separator(text, offset, &expected) {
        return error;
    }
    SyntaxError::Unexpected {
        help: help_for(&expected, text, offset),
        found: describe_found(text, offset),
        expected,
        at: Span::new(offset, offset + found_width(text, offset)).into(),
    }
}

/// The position and the rules pest names in its error.
fn positives(error: &pest::error::Error<Rule>) -> (usize, String) {
    let offset = match error.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    };
    let expected = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            describe_expected(positives, &[])
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    (offset, expected)
}

fn inside_word(text: &str, offset: usize) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text[..offset].chars().next_back().is_some_and(is_word)
        && text[offset..].chars().next().is_some_and(is_word)
}

fn describe_expected(rules: &[Rule], tokens: &[String]) -> String {
    let mut names: Vec<String> = rules
        .iter()
        .filter_map(|rule| rule_name(*rule))
        .map(str::to_owned)
        .collect();
    for token in tokens {
        // Layout, comment openers and the pieces of names are noise here.
        let is_noise = token
            .trim_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
            .is_empty()
            || token.starts_with("//")
            || token.starts_with("/*")
            || token == "/"
            || token == "*"
            || token == "_"
            || token.contains("..")
            || token == "BUILTIN_RULE";
        let is_literal = !is_noise;
        if is_literal
            && !names
                .iter()
                .any(|name| name.starts_with(&format!("`{token}")))
        {
            names.push(format!("`{token}`"));
        }
    }
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        [] => "something else".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Names a user recognises, or `None` for rules that only ever appear with a better-named one.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::flow | Rule::flow_kw => "`flow NAME { … }`",
        Rule::until_kw => "`until GUARD`",
        Rule::docs | Rule::doc_line => "a doc comment",
        Rule::ident => "a name",
        Rule::tool_name | Rule::tool_call => "a tool name",
        Rule::state_block | Rule::state_word => "`state { … }`",
        Rule::field => "a field `name: type`",
        Rule::type_name => "a type (int, float, bool, string, list, map, any)",
        Rule::nullable => "`?`",
        Rule::node_decl | Rule::node_word => "`node`",
        Rule::tool_args => "`(`",
        Rule::tool_arg | Rule::ident_or_keyword => "an argument `name: value`",
        Rule::script => "`{`",
        Rule::timeout_attr | Rule::timeout_word => "`timeout DURATION`",
        Rule::retry_attr | Rule::retry_word => "`retry N`",
        Rule::once_attr | Rule::once_word => "`once`",
        Rule::loop_decl | Rule::loop_word => "`loop`",
        Rule::loop_max | Rule::max_word => "`max N`",
        Rule::chain | Rule::start_kw => "an edge `a -> b`",
        Rule::end_kw => "`end`",
        Rule::when_clause | Rule::when_word => "`when GUARD`",
        Rule::on_error | Rule::on_word | Rule::error_word => "`on error`",
        Rule::guard => "a guard expression",
        Rule::literal => "a value (JSON or a duration)",
        Rule::object | Rule::pair => "an object",
        Rule::array => "an array",
        Rule::string => "a string",
        Rule::number => "a number",
        Rule::true_lit | Rule::false_lit => "a boolean",
        Rule::null_lit => "`null`",
        Rule::duration | Rule::duration_unit => "a duration (`250ms`, `5s`, `2m`, `1h`)",
        Rule::integer => "a whole number",
        _ => return None,
    })
}

fn describe_found(text: &str, offset: usize) -> String {
    let rest = &text[offset..];
    match rest.chars().next() {
        None => "end of file".to_owned(),
        Some('\n' | '\r') => "end of line".to_owned(),
        Some(_) => format!("`{}`", &rest[..found_width(text, offset)]),
    }
}

/// The token at `offset`: a word, a quoted string up to the line's end, or one character.
fn found_width(text: &str, offset: usize) -> usize {
    let rest = &text[offset..];
    let line = &rest[..rest.find(['\n', '\r']).unwrap_or(rest.len())];
    let Some(first) = line.chars().next() else {
        return 0;
    };
    if first == '"' {
        return line.len();
    }
    if first.is_alphanumeric() || first == '_' {
        return line
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(line.len());
    }
    first.len_utf8()
}

fn help_for(expected: &str, text: &str, offset: usize) -> String {
    let rest = &text[offset..];
    let line = rest.lines().next().unwrap_or_default();
    let open_string = line.starts_with('"') && !line[1..].replace("\\\"", "").contains('"');
    if open_string || expected.starts_with("`\"`") {
        return "this string is not closed: end it with `\"` on the same line".to_owned();
    }
    if expected.contains("duration") {
        // pest stops before the number (`timeout: 30`) or after it (`timeout 30`, wanting
        // the unit).
        let start = text[..offset]
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .len();
        let after = &text[start..];
        let digits = &after[..after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len())];
        let bare = !digits.is_empty()
            && !after[digits.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '.');
        if bare {
            return format!(
                "a duration has a unit: write `{digits}s` (or `{digits}ms`, `{digits}m`, `{digits}h`)"
            );
        }
        return "a duration is a whole number and a unit: `250ms`, `5s`, `2m` or `1h`".to_owned();
    }
    if expected.contains("`until GUARD`") {
        return "a loop ends with its guard, on the line of the closing brace: `} until done`"
            .to_owned();
    }
    if expected.starts_with("`flow NAME") {
        return "a flow file holds one `flow NAME { … }`".to_owned();
    }
    if expected.contains("a type") {
        return "a field is `name: type`, `name: type?` (nullable) or `name: type = default`"
            .to_owned();
    }
    if let Some(word) = rest
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        && is_keyword(word)
        && expected.contains("name")
    {
        return format!("`{word}` is a reserved word; pick another name");
    }
    "statements end at a newline or `;`; see docs/language.md for the syntax".to_owned()
}

/// `node` or `state` at the start of a statement in a loop's body: a declaration where only
/// edges may go.
fn declaration_in_loop(text: &str, offset: usize) -> Option<SyntaxError> {
    let rest = &text[offset..];
    let keyword = ["node", "state"].into_iter().find(|word| {
        rest.strip_prefix(word)
            .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })?;
    let before = text[..offset].trim_end_matches([' ', '\t']);
    if !(before.is_empty() || before.ends_with(['\n', ';', '{'])) {
        return None;
    }
    let (open, _) = scan::brackets(&text[..offset])
        .ok()?
        .unclosed
        .into_iter()
        .rfind(|(_, opener)| *opener == '{')?;
    // The words before the innermost open `{`: `loop NAME` or `loop NAME max N`.
    let words: Vec<&str> = text[..open].split_whitespace().rev().take(4).collect();
    let loop_name = match words.as_slice() {
        [_, "max", name, "loop", ..] | [name, "loop", ..] => *name,
        _ => return None,
    };
    Some(SyntaxError::DeclarationInLoop {
        keyword,
        loop_name: loop_name.to_owned(),
        at: Span::new(offset, offset + keyword.len()).into(),
    })
}

/// A `,` missing at the end of a line inside a list, or a `;` between two statements on one
/// line: pest stops at the next item, but the separator goes before it.
fn missing_separator(text: &str, offset: usize, expected: &str) -> Option<SyntaxError> {
    let before = text[..offset].trim_end();
    let line_break = text[before.len()..offset].contains('\n');
    if expected.contains("`,`") && line_break {
        return Some(SyntaxError::MissingSeparator {
            separator: ',',
            at: Span::new(before.len(), before.len()).into(),
        });
    }
    let rest = &text[offset..];
    let word_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let word = &rest[..word_len];
    let starts_statement = matches!(word, "node" | "loop" | "state")
        || (!word.is_empty() && rest[word_len..].trim_start().starts_with("->"));
    // Where a name is expected, a keyword is a reserved word used as one (`node state`).
    let after_statement =
        !expected.contains("a name") && !before.is_empty() && !before.ends_with(['{', ';', '>']);
    (starts_statement && !line_break && after_statement).then(|| SyntaxError::MissingSeparator {
        separator: ';',
        at: Span::new(before.len(), before.len()).into(),
    })
}

fn is_keyword(word: &str) -> bool {
    FlowParser::parse(Rule::keyword, word).is_ok_and(|pairs| pairs.as_str() == word)
}
