//! Hints for habits from Python and JavaScript that rhai reads otherwise: `=` for `==`,
//! `and`/`or`/`not`, `'…'` strings, `None`/`null`, `True`/`False`, and (in scripts) a
//! statement that a line break does not end. Each is recognised from rhai's own tokens at
//! the position rhai refused, or from the unknown name, never from the words of its message.

use std::fmt;

use rhai::{Engine, LexError, Token};

use crate::sandbox::CodeKind;
use crate::span::Span;
use crate::syntax::ast::Code;

/// What the code most likely meant, for the help line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// `=` in a guard.
    Equality,
    /// `and`, `or`, `not`, with rhai's operator.
    Operator { written: String, rhai: &'static str },
    /// `'text'`: in rhai single quotes make one character.
    SingleQuotes { text: String },
    /// `None`, `null`, `nil`, `undefined`: rhai's null is `()`.
    Null { written: String },
    /// `True`, `False`.
    Bool { written: String, rhai: &'static str },
    /// A statement of a script followed by another on the next line, with no `;`.
    Semicolon,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::Equality => f.write_str(
                "did you mean `==`? A guard tests, it does not assign: `status == \"ok\"`",
            ),
            Hint::Operator { written, rhai } => {
                write!(
                    f,
                    "did you mean `{rhai}`? rhai writes `{written}` as `{rhai}`"
                )
            }
            Hint::SingleQuotes { text } => write!(
                f,
                "did you mean \"{text}\"? In rhai single quotes make one character; strings \
                 use double quotes"
            ),
            Hint::Null { written } => write!(
                f,
                "did you mean `()`? rhai has no `{written}`: the empty value (JSON null) is `()`"
            ),
            Hint::Bool { written, rhai } => {
                write!(
                    f,
                    "did you mean `{rhai}`? rhai writes `{written}` in lower case"
                )
            }
            Hint::Semicolon => f.write_str(
                "end the statement with `;`: in rhai a line break does not end a statement",
            ),
        }
    }
}

/// The hint for a state name that is not declared, when it is one of those habits.
pub(super) fn for_unknown_name(name: &str) -> Option<Hint> {
    Some(match name {
        "None" | "null" | "nil" | "undefined" | "NULL" => Hint::Null {
            written: name.to_owned(),
        },
        "True" | "TRUE" => Hint::Bool {
            written: name.to_owned(),
            rhai: "true",
        },
        "False" | "FALSE" => Hint::Bool {
            written: name.to_owned(),
            rhai: "false",
        },
        _ => return None,
    })
}

/// The hint for a syntax error rhai reported at `at` in `code`, and where to point: at the
/// habit itself, which may be a token before the one rhai stopped at.
pub(super) fn for_syntax(
    engine: &Engine,
    kind: CodeKind,
    code: &Code,
    at: Span,
) -> Option<(Hint, Span)> {
    let (tokens, _control) = engine.lex([&code.text]);
    let tokens: Vec<(Token, Span)> = tokens
        .take_while(|(token, _)| *token != Token::EOF)
        .map(|(token, pos)| (token, code.span.point_in(&code.text, pos)))
        .collect();
    let index = tokens.iter().position(|(_, span)| span.start == at.start)?;
    let (token, span) = &tokens[index];
    let previous = index.checked_sub(1).map(|i| &tokens[i]);
    if let Some((Token::Identifier(word), word_at)) = previous
        && word.as_str() == "not"
    {
        return Some((operator("not", "!"), *word_at));
    }
    let hint = match token {
        Token::Equals if kind == CodeKind::Guard => Hint::Equality,
        Token::Identifier(word) if word.as_str() == "and" => operator("and", "&&"),
        Token::Identifier(word) if word.as_str() == "or" => operator("or", "||"),
        Token::Reserved(word) if matches!(word.as_str(), "null" | "nil") => Hint::Null {
            written: word.to_string(),
        },
        Token::LexError(error) => match &**error {
            LexError::MalformedChar(text) => Hint::SingleQuotes { text: text.clone() },
            _ => return None,
        },
        _ if kind == CodeKind::Script => {
            let (before, before_at) = previous?;
            if !ends_expression(before) || !code_between(code, *before_at, *span).contains('\n') {
                return None;
            }
            let end = line_end(code, *before_at);
            return Some((Hint::Semicolon, Span::new(end, end)));
        }
        _ => return None,
    };
    Some((hint, *span))
}

fn operator(written: &str, rhai: &'static str) -> Hint {
    Hint::Operator {
        written: written.to_owned(),
        rhai,
    }
}

/// Whether a statement may end with this token (so the next line starting another one
/// lacks only a `;`).
fn ends_expression(token: &Token) -> bool {
    matches!(
        token,
        Token::Identifier(_)
            | Token::IntegerConstant(_)
            | Token::FloatConstant(_)
            | Token::StringConstant(_)
            | Token::CharConstant(_)
            | Token::True
            | Token::False
            | Token::Unit
            | Token::RightParen
            | Token::RightBracket
    )
}

fn code_between(code: &Code, from: Span, to: Span) -> &str {
    let start = from.start - code.span.start;
    let end = to.start - code.span.start;
    code.text.get(start..end).unwrap_or_default()
}

/// The end of the code on the line of `at`: before trailing blanks and a line comment.
fn line_end(code: &Code, at: Span) -> usize {
    let offset = at.start - code.span.start;
    let line_start = code.text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = code.text[offset..]
        .find('\n')
        .map_or(code.text.len(), |i| offset + i);
    let line = &code.text[line_start..line_end];
    let line = line.find(" //").map_or(line, |i| &line[..i]);
    code.span.start + line_start + line.trim_end().len()
}
