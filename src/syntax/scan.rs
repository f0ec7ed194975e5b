//! A quick pass over the raw text before pest runs: it bounds bracket nesting (pest and the
//! builders recurse once per bracket, so a hostile file must not exhaust the stack) and
//! remembers the first bracket left open, for a better "unclosed" diagnostic.

use crate::span::Span;
use crate::syntax::error::SyntaxError;

/// Deeper nesting than this is refused before parsing.
pub(crate) const MAX_NESTING: usize = 64;

pub(crate) struct Brackets {
    /// Byte offset and character of each bracket left open at the end of the file,
    /// outermost first.
    pub(crate) unclosed: Vec<(usize, char)>,
}

pub(crate) fn brackets(text: &str) -> Result<Brackets, SyntaxError> {
    let bytes = text.as_bytes();
    let mut open: Vec<(usize, u8)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_until(bytes, i, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_until(bytes, i + 2, b"*/") + 1,
            b'"' => i = skip_quoted(bytes, i, b'"'),
            b'`' => i = skip_quoted(bytes, i, b'`'),
            // A rhai character literal: `'{'` or `'\''`.
            b'\'' if bytes.get(i + 2) == Some(&b'\'') && bytes.get(i + 1) != Some(&b'\\') => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') => i += 3,
            b @ (b'(' | b'[' | b'{') => {
                open.push((i, b));
                if open.len() > MAX_NESTING {
                    return Err(SyntaxError::TooDeep {
                        limit: MAX_NESTING,
                        at: Span::new(i, i + 1).into(),
                    });
                }
            }
            b')' | b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    Ok(Brackets {
        unclosed: open.iter().map(|&(at, b)| (at, char::from(b))).collect(),
    })
}

/// The index of the last byte of `end` after `from`, or the end of the text.
fn skip_until(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    bytes[from..]
        .windows(end.len())
        .position(|w| w == end)
        .map_or(bytes.len(), |p| from + p + end.len() - 1)
}

/// The index of the closing quote (a newline ends an unterminated `"` string).
fn skip_quoted(bytes: &[u8], from: usize, quote: u8) -> usize {
    let mut i = from + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'\n' if quote == b'"' => return i,
            b if b == quote => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let scan = brackets("flow a { x -> y when s == \"{\" || c == '(' // (\n }")
            .expect("within limits");
        assert_eq!(scan.unclosed, []);
    }

    #[test]
    fn unclosed_brackets_are_found() {
        let scan = brackets("flow a {\n node b { x\n").expect("within limits");
        assert_eq!(scan.unclosed, [(7, '{'), (17, '{')]);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "(".repeat(MAX_NESTING + 1);
        assert!(matches!(brackets(&text), Err(SyntaxError::TooDeep { .. })));
    }
}
