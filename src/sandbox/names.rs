//! State keys that are not rhai identifiers. JSON state comes from other systems: a key may
//! be a word rhai reserves (`go`, `match`, `default`), one of its keywords (`if`), or no
//! identifier at all (`user-id`). Before rhai sees a guard or script, [`rewrite`] replaces
//! `state["key"]` (any key) and each bare reserved word that is a declared field with the
//! key's [`identifier`], and keeps the edits so that rhai's positions still point into the
//! text as written. Slots keep the key; only the scope sees the identifier.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::OnceLock;

use rhai::{Engine, Token};

use crate::span::Span;
use scan::{Kind, scan};

mod scan;

/// Begins every identifier made for a key. A name written in code that begins with it is
/// rewritten too (it stands for the key spelt that way), so no written name can meet a made one.
const PREFIX: &str = "__flow_";

/// How rhai reads a key written as a bare word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Word {
    /// An ordinary identifier: the key is its own identifier.
    Plain,
    /// A word rhai reserves but gives no meaning (`go`, `match`): usable bare once declared.
    Reserved,
    /// A keyword (`if`, `let`) or not one identifier (`user-id`): only `state["…"]` reaches it.
    Other,
}

fn word(key: &str) -> Word {
    static LEXER: OnceLock<Engine> = OnceLock::new();
    if key.starts_with(PREFIX)
        || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        || Token::lookup_symbol_from_syntax(key).is_some()
    {
        return Word::Other;
    }
    let lexer = LEXER.get_or_init(Engine::new_raw);
    let input = [key];
    let mut tokens = lexer.lex(&input).0.map(|(token, _)| token);
    match (tokens.next(), tokens.next()) {
        (Some(Token::Identifier(name)), Some(Token::EOF) | None) if name.as_str() == key => {
            Word::Plain
        }
        // `this` keeps its meaning inside functions and methods.
        (Some(Token::Reserved(name)), Some(Token::EOF) | None)
            if name.as_str() == key && key != "this" =>
        {
            Word::Reserved
        }
        _ => Word::Other,
    }
}

/// The rhai identifier the run-time scope knows a state key by: the key itself when it is an
/// ordinary identifier, else a made one that `key_of` turns back into the key.
pub fn identifier(key: &str) -> Cow<'_, str> {
    if word(key) == Word::Plain {
        return Cow::Borrowed(key);
    }
    let mut made = String::with_capacity(PREFIX.len() + 2 * key.len());
    made.push_str(PREFIX);
    for byte in key.bytes() {
        let _ = write!(made, "{byte:02x}");
    }
    Cow::Owned(made)
}

/// The state key an identifier in rhai code stands for.
pub(crate) fn key_of(identifier: &str) -> Cow<'_, str> {
    let Some(hex) = identifier.strip_prefix(PREFIX) else {
        return Cow::Borrowed(identifier);
    };
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    match bytes.and_then(|bytes| String::from_utf8(bytes).ok()) {
        Some(key) => Cow::Owned(key),
        None => Cow::Borrowed(identifier),
    }
}

/// How code reaches a state key: the bare name, or `state["key"]`. A reserved word counts
/// as bare when `declared` (only declared fields are rewritten).
pub(crate) fn in_code(key: &str, declared: bool) -> String {
    match word(key) {
        Word::Plain => key.to_owned(),
        Word::Reserved if declared => key.to_owned(),
        _ => format!("state[{}]", serde_json::Value::from(key)),
    }
}

/// How the `state { }` schema declares a key: bare when it is an identifier, else quoted.
pub(crate) fn in_schema(key: &str) -> String {
    if key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    {
        key.to_owned()
    } else {
        serde_json::Value::from(key).to_string()
    }
}

/// Replaces made identifiers in a rhai message with the code that names the key.
pub(super) fn plain_message(message: String) -> String {
    if !message.contains(PREFIX) {
        return message;
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(at) = rest.find(PREFIX) {
        out.push_str(&rest[..at]);
        let after = &rest[at + PREFIX.len()..];
        let len = after
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(after.len());
        let made = &rest[at..at + PREFIX.len() + len];
        out.push_str(&in_code(&key_of(made), false));
        rest = &rest[at + PREFIX.len() + len..];
    }
    out.push_str(rest);
    out
}

/// One replacement: `from` in the text as written became `to` in the text rhai compiles.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Edit {
    from: Span,
    to: Span,
}

/// The text rhai compiles, and how to map its positions back to the text as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Rewrite {
    pub(super) text: String,
    edits: Vec<Edit>,
}

impl Rewrite {
    /// The span, relative to the text as written, of `at` (relative to the rewritten text).
    /// A position inside a replacement points at the whole construct as written.
    pub(super) fn original(&self, at: Span) -> Span {
        let mut shift: isize = 0;
        for edit in &self.edits {
            if at.start >= edit.to.end {
                shift += edit.from.len().cast_signed() - edit.to.len().cast_signed();
            } else if at.start >= edit.to.start {
                return edit.from;
            } else {
                break;
            }
        }
        let start = at.start.saturating_add_signed(shift);
        Span::new(start, start + at.len())
    }

    /// The span of the construct as written that made the identifier at `at`, if any.
    pub(super) fn replaced(&self, at: Span) -> Option<Span> {
        self.edits
            .iter()
            .find(|edit| edit.to.start <= at.start && at.start < edit.to.end)
            .map(|edit| edit.from)
    }
}

/// The text to compile for `text`, when it names a key rhai cannot read as written: each
/// `state["key"]` and each bare reserved word whose key is declared (`known` holds the
/// declared keys' identifiers). `None` when the text needs no change.
pub(super) fn rewrite(text: &str, known: &[String]) -> Option<Rewrite> {
    let declared: Vec<Cow<'_, str>> = known
        .iter()
        .filter(|identifier| identifier.starts_with(PREFIX))
        .map(|identifier| key_of(identifier))
        .collect();
    // Most code names no such key: looking for the words costs far less than a scan.
    if !text.contains("state")
        && !text.contains(PREFIX)
        && !declared.iter().any(|key| text.contains(key.as_ref()))
    {
        return None;
    }
    let tokens = scan(text);
    let mut edits: Vec<(Span, String)> = Vec::new();
    let mut k = 0;
    while k < tokens.len() {
        let token = tokens[k];
        let before = k.checked_sub(1).map(|i| tokens[i]);
        let after = tokens.get(k + 1).copied();
        let member = before.is_some_and(|b| b.is_punct(text, ".") || b.is_punct(text, "::"));
        if token.kind == Kind::Ident && !member {
            let name = &text[token.span.start..token.span.end];
            if name == "state"
                && let [open, literal, close, ..] = tokens[k + 1..]
                && open.is_punct(text, "[")
                && literal.kind == Kind::Str
                && close.is_punct(text, "]")
                && let Some(key) = unquote(&text[literal.span.start..literal.span.end])
            {
                edits.push((
                    Span::new(token.span.start, close.span.end),
                    identifier(&key).into_owned(),
                ));
                k += 4;
                continue;
            }
            // A call (`go(…)`), a map key (`#{ go: 1 }`) or a path (`go::x`) is not a field.
            let named = after.is_none_or(|a| {
                !a.is_punct(text, "(") && !a.is_punct(text, ":") && !a.is_punct(text, "::")
            });
            let made = name.starts_with(PREFIX)
                || (named && declared.iter().any(|d| d == name) && word(name) == Word::Reserved);
            if made {
                edits.push((token.span, identifier(name).into_owned()));
            }
        }
        k += 1;
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 16 * edits.len());
    let mut done = 0;
    let mut kept = Vec::with_capacity(edits.len());
    for (from, to) in edits {
        out.push_str(&text[done..from.start]);
        let start = out.len();
        out.push_str(&to);
        kept.push(Edit {
            from,
            to: Span::new(start, out.len()),
        });
        done = from.end;
    }
    out.push_str(&text[done..]);
    Some(Rewrite {
        text: out,
        edits: kept,
    })
}

/// The value of a double-quoted rhai string literal (quotes included), when it has only the
/// simple escapes; `None` leaves the code as written (and rhai says what is wrong with it).
fn unquote(literal: &str) -> Option<String> {
    let body = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '\\' => '\\',
            '"' => '"',
            '\'' => '\'',
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'x' => hex_char(&mut chars, 2)?,
            'u' => hex_char(&mut chars, 4)?,
            'U' => hex_char(&mut chars, 8)?,
            _ => return None,
        });
    }
    Some(out)
}

fn hex_char(chars: &mut std::str::Chars<'_>, digits: usize) -> Option<char> {
    let hex: String = chars.take(digits).collect();
    if hex.len() != digits {
        return None;
    }
    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(keys: &[&str]) -> Vec<String> {
        keys.iter()
            .map(|key| identifier(key).into_owned())
            .collect()
    }

    fn rewritten(text: &str, names: &[&str]) -> String {
        rewrite(text, &declared(names)).map_or_else(|| text.to_owned(), |r| r.text)
    }

    #[test]
    fn ordinary_keys_are_their_own_identifiers() {
        assert_eq!(identifier("count"), "count");
        assert_eq!(identifier("go"), "__flow_676f");
        assert_eq!(identifier("if"), "__flow_6966");
        assert_eq!(identifier("user-id"), "__flow_757365722d6964");
        for key in ["go", "if", "user-id", "", "é", "__flow_67", "count"] {
            assert_eq!(key_of(&identifier(key)), key);
        }
    }

    #[test]
    fn reserved_words_and_keywords_are_told_apart() {
        for reserved in [
            "go", "match", "default", "new", "case", "use", "var", "goto",
        ] {
            assert_eq!(word(reserved), Word::Reserved, "{reserved}");
        }
        for other in [
            "if", "let", "fn", "for", "return", "true", "user-id", "", "9a", "this",
        ] {
            assert_eq!(word(other), Word::Other, "{other}");
        }
    }

    #[test]
    fn state_index_with_a_literal_becomes_the_key_identifier() {
        assert_eq!(
            rewritten(r#"state["user-id"] == 3 && state["n"] > 0"#, &[]),
            "__flow_757365722d6964 == 3 && n > 0"
        );
        assert_eq!(rewritten(r#"state["a\"b"]"#, &[]), "__flow_612262");
    }

    #[test]
    fn only_declared_reserved_words_outside_members_calls_and_map_keys_are_rewritten() {
        let text = "go == x.go && #{ go: 1 }.len() > 0 && print(go) && match";
        assert_eq!(
            rewritten(text, &["go"]),
            "__flow_676f == x.go && #{ go: 1 }.len() > 0 && print(__flow_676f) && match"
        );
    }

    #[test]
    fn strings_and_comments_are_left_alone() {
        let text = "/* state[\"a\"] /* go */ */ `${state[\"b\"]} state[\"c\"]` // go\n\"go\" + go";
        assert_eq!(
            rewritten(text, &["go"]),
            "/* state[\"a\"] /* go */ */ `${b} state[\"c\"]` // go\n\"go\" + __flow_676f"
        );
    }

    #[test]
    fn positions_map_back_through_the_edits() {
        let text = r#"state["user-id"] + y"#;
        let rewrite = rewrite(text, &[]).expect("rewritten");
        let y = rewrite.text.find('y').expect("y kept");
        assert_eq!(rewrite.original(Span::new(y, y + 1)), Span::new(19, 20));
        assert_eq!(rewrite.original(Span::new(3, 4)), Span::new(0, 16));
    }

    #[test]
    fn broken_text_is_scanned_without_panicking_and_maps_to_char_boundaries() {
        let texts = [
            "state[\"é",
            "state[\"a\"",
            "state[\"a\"]",
            "\"unterminated é",
            "'\\",
            "`${ state[\"k\"] ",
            "/* /* é */",
            "##\"raw\"# state[\"x-y\"] é",
            "état + state[\"ü\"] + go",
            "state[\"\\u{zz}\"]",
            "x.state[\"a\"] + __flow_zz",
        ];
        for text in texts {
            let Some(rewrite) = rewrite(text, &declared(&["go"])) else {
                continue;
            };
            for (offset, c) in rewrite.text.char_indices() {
                let at = rewrite.original(Span::new(offset, offset + c.len_utf8()));
                assert!(
                    text.is_char_boundary(at.start) && text.is_char_boundary(at.end),
                    "{text}: {at:?}"
                );
            }
        }
    }

    #[test]
    fn deeply_nested_template_strings_do_not_exhaust_the_stack() {
        let text = "`${".repeat(200_000) + "state[\"k\"]";
        let rewrite = rewrite(&text, &[]).expect("the key is in code");
        assert!(rewrite.text.ends_with("${k"));
    }

    #[test]
    fn made_names_in_messages_read_as_code() {
        assert_eq!(
            plain_message("Variable not found: __flow_757365722d6964 (line 1)".to_owned()),
            "Variable not found: state[\"user-id\"] (line 1)"
        );
    }
}
