//! A quick pass over the raw text before pest runs: it bounds bracket nesting (pest and the
//! builders recurse once per bracket, so a hostile file must not exhaust the stack), refuses
//! many brackets without their match, and finds the brackets left open, for a better
//! "unclosed" diagnostic than pest's list of what it tried.

use crate::span::Span;
use crate::syntax::error::SyntaxError;

/// Deeper nesting than this is refused before parsing.
pub(crate) const MAX_NESTING: usize = 64;

/// Brackets by byte offset and character.
pub(crate) type BracketList = Vec<(usize, char)>;

pub(crate) struct Brackets {
    /// Byte offset and character of each bracket left open at the end of the file,
    /// outermost first.
    pub(crate) unclosed: BracketList,
    /// When brackets are left open, the one that most likely lacks its closer: closers pair
    /// with the nearest opener, so a `}` missing inside closes its block with the next one
    /// out, and the first opener whose closer is indented less than its own line is the one.
    pub(crate) culprit: Option<(usize, char)>,
    /// The brackets that never close as pest reads the code (a closer of another kind
    /// ends them too), in source order.
    pub(crate) unmatched: BracketList,
    /// The closing brackets that close nothing, in source order.
    pub(crate) stray: BracketList,
}

pub(crate) fn brackets(text: &str) -> Result<Brackets, SyntaxError> {
    let bytes = text.as_bytes();
    let mut open: Vec<(usize, u8)> = Vec::new();
    let mut misplaced: Option<(usize, u8)> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_until(bytes, i, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_until(bytes, i + 2, b"*/") + 1,
            b'"' => i = skip_quoted(bytes, i, b'"'),
            b'`' => {
                let end = skip_quoted(bytes, i, b'`');
                if end >= bytes.len() {
                    // Everything after it would be template text: say so, not that the
                    // brackets around it are unclosed.
                    return Err(SyntaxError::Unexpected {
                        expected: "the closing `` ` `` of this template string".to_owned(),
                        found: "end of file".to_owned(),
                        help: "a template string runs to the next backtick, across lines: \
                               close it with `` ` ``"
                            .to_owned(),
                        at: Span::new(i, i + 1).into(),
                    });
                }
                i = end;
            }
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
                if let Some(opened) = open.pop()
                    && misplaced.is_none_or(|first| opened.0 < first.0)
                    && closes_outdented(text, opened.0, i)
                {
                    misplaced = Some(opened);
                }
            }
            _ => {}
        }
        i += 1;
    }
    let (unmatched, stray) = unmatched(bytes);
    if unmatched.len() > MAX_UNMATCHED {
        let &(at, opener) = unmatched.last().expect("more than MAX_UNMATCHED");
        return Err(unclosed(text, at, opener));
    }
    let unclosed: BracketList = open.iter().map(|&(at, b)| (at, char::from(b))).collect();
    let culprit = misplaced
        .filter(|_| !unclosed.is_empty())
        .map(|(at, b)| (at, char::from(b)));
    Ok(Brackets {
        unclosed,
        culprit,
        unmatched,
        stray,
    })
}

/// The error for `opener` at `at` never closed, pointing where its closer belongs.
pub(crate) fn unclosed(text: &str, at: usize, opener: char) -> SyntaxError {
    SyntaxError::Unclosed {
        opener,
        closer: crate::syntax::error::closer(opener),
        at: closer_goes(text, at).map(|end| Span::new(end, end).into()),
        opened: Span::new(at, at + 1).into(),
    }
}

/// The indentation of the line that holds `at`, in bytes of blanks.
fn line_indent(text: &str, at: usize) -> usize {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[start..]
        .bytes()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()
}

/// Whether the closer at `close` begins a later line indented less than the line of the
/// opener at `open`: then it is the closer of an outer block, by the layout.
fn closes_outdented(text: &str, open: usize, close: usize) -> bool {
    let start = text[..close].rfind('\n').map_or(0, |i| i + 1);
    start > open
        && text[start..close].trim().is_empty()
        && line_indent(text, close) < line_indent(text, open)
}

/// Where the closer of the bracket at `open` belongs: the end of the last line after it that
/// is indented more than the opener's line (blank lines and comments aside), or of the
/// opener's own line when code follows the opener there. `None` for an opener that ends its
/// line with nothing indented under it: the layout does not tell.
fn closer_goes(text: &str, open: usize) -> Option<usize> {
    let indent = line_indent(text, open);
    let own_end = text[open..].find('\n').map_or(text.len(), |i| open + i);
    let after_opener = &text[open + 1..own_end];
    let ends_line = after_opener.trim().is_empty() || after_opener.trim_start().starts_with("//");
    let mut end = own_end;
    let mut line_start = own_end + 1;
    while line_start < text.len() {
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        let line = &text[line_start..line_end];
        let content = line.trim();
        if !content.is_empty() && !content.starts_with("//") {
            if line_indent(text, line_start) <= indent {
                break;
            }
            end = line_end;
        }
        line_start = line_end + 1;
    }
    if end == own_end && ends_line {
        return None;
    }
    // Before trailing blanks, a line comment or a carriage return.
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..end];
    let code = line.find(" //").map_or(line, |i| &line[..i]);
    Some(line_start + code.trim_end().len())
}

/// More brackets than this without their match are refused before parsing, at the last of
/// them: past a few, one message about the first is no help.
const MAX_UNMATCHED: usize = 4;

/// The opening brackets without their match and the closing ones that close nothing, each
/// in source order. Brackets count in code as pest reads it: not in strings, character
/// literals, comments or the text of a template, but inside its `${ … }`.
fn unmatched(bytes: &[u8]) -> (BracketList, BracketList) {
    #[derive(Clone, Copy, PartialEq)]
    enum Frame {
        /// An opening bracket and its offset; `${` is a `{`.
        Open(u8, usize),
        /// Inside the text of a template.
        Template,
    }
    let closer = |opener: u8| match opener {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut unmatched: Vec<(usize, u8)> = Vec::new();
    let mut stray = BracketList::new();
    let mut i = 0;
    while i < bytes.len() {
        let in_template = stack.last() == Some(&Frame::Template);
        match bytes[i] {
            b'\\' if in_template => i += 1,
            b'`' if in_template => {
                stack.pop();
            }
            b'$' if in_template && bytes.get(i + 1) == Some(&b'{') => {
                stack.push(Frame::Open(b'{', i + 1));
                i += 1;
            }
            _ if in_template => {}
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_until(bytes, i, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Unterminated, it is no comment to pest.
                let end = skip_until(bytes, i + 2, b"*/");
                if end < bytes.len() {
                    i = end;
                }
            }
            quote @ (b'"' | b'\'') => {
                // A string or character literal ends on its line; unterminated, its quote
                // is a plain character to pest.
                if let Some(end) = literal_end(bytes, i, quote) {
                    i = end;
                }
            }
            b'`' => stack.push(Frame::Template),
            opener @ (b'(' | b'[' | b'{') => stack.push(Frame::Open(opener, i)),
            close @ (b')' | b']' | b'}') => {
                // The innermost bracket this closes, within the current template interpolation.
                let matching = stack
                    .iter()
                    .rposition(|frame| match frame {
                        Frame::Open(opener, _) => closer(*opener) == close,
                        Frame::Template => true,
                    })
                    .filter(|&at| stack[at] != Frame::Template);
                if let Some(at) = matching {
                    for frame in stack.drain(at..).skip(1) {
                        if let Frame::Open(opener, offset) = frame {
                            unmatched.push((offset, opener));
                        }
                    }
                } else {
                    stray.push((i, char::from(close)));
                }
            }
            _ => {}
        }
        i += 1;
    }
    for frame in stack {
        if let Frame::Open(opener, offset) = frame {
            unmatched.push((offset, opener));
        }
    }
    unmatched.sort_unstable();
    let unmatched = unmatched
        .into_iter()
        .map(|(at, opener)| (at, char::from(opener)))
        .collect();
    (unmatched, stray)
}

/// The index of the quote that ends the literal opened at `from`, if it ends on its line
/// (a backslash escapes any byte, a line break too), as pest's `string_lit` and `char_lit`.
fn literal_end(bytes: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut i = from + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'\n' | b'\r' => return None,
            b if b == quote => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
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
    fn code_brackets_that_never_close_and_closers_that_close_nothing_are_found() {
        let open = "flow a {\n x -> y when (n > 0\n node s\n}";
        let scan = brackets(open).expect("within limits");
        assert_eq!(scan.unmatched, [(open.find('(').unwrap(), '(')]);
        let stray = "flow a {\n node s { f(1)) }\n}";
        let scan = brackets(stray).expect("within limits");
        assert_eq!(scan.stray, [(stray.find("))").unwrap() + 1, ')')]);
    }

    #[test]
    fn a_template_string_that_never_closes_is_named() {
        let text = "flow a {\n x -> y when `\n z -> w when ((((((((n\n}";
        match brackets(text) {
            Err(SyntaxError::Unexpected { expected, at, .. }) => {
                assert!(expected.contains("template"), "{expected}");
                assert_eq!(at.offset(), text.find('`').unwrap());
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn many_unmatched_brackets_are_refused() {
        let guard = "flow a {\n x -> y when ((((((n > 0\n}";
        assert!(matches!(
            brackets(guard),
            Err(SyntaxError::Unclosed { opener: '(', .. })
        ));
        let mismatched = "flow a {\n node s { f([[[[[1)) }\n}";
        assert!(matches!(
            brackets(mismatched),
            Err(SyntaxError::Unclosed { opener: '[', .. })
        ));
        let in_template = "flow a {\n x -> y when `${((((((n`\n}";
        assert!(matches!(
            brackets(in_template),
            Err(SyntaxError::Unclosed { .. })
        ));
    }

    #[test]
    fn brackets_in_literals_and_template_text_are_not_unmatched() {
        let text =
            "flow a {\n node s { x = \"((((((\"; y = `(((((( ${ z(1) } ((((((`; c = '(' }\n}";
        assert_eq!(brackets(text).expect("within limits").unclosed, []);
        let few = "flow a {\n x -> y when ((n > 0\n}";
        assert!(
            brackets(few).is_ok(),
            "a few are left to pest, which says more"
        );
    }

    #[test]
    fn the_block_that_lacks_its_closer_is_found_by_the_layout() {
        let text = "flow a {\n  node s { x = 1\n  node t {\n    y = 2\n  }\n  start -> s\n}\n";
        let scan = brackets(text).expect("within limits");
        assert_eq!(
            scan.unclosed,
            [(7, '{')],
            "pairing by nesting blames the flow"
        );
        assert_eq!(scan.culprit, Some((text.find("{ x").unwrap(), '{')));
        match unclosed(text, text.find("{ x").unwrap(), '{') {
            SyntaxError::Unclosed { at: Some(at), .. } => {
                assert_eq!(at.offset(), text.find("x = 1").unwrap() + "x = 1".len());
            }
            other => panic!("{other:?}"),
        }
        // Nothing indented under a `{` that ends its line: no guess where `}` goes.
        let flat = "flow a {\nnode s = noop\nstart -> s\n";
        assert!(matches!(
            unclosed(flat, 7, '{'),
            SyntaxError::Unclosed { at: None, .. }
        ));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "(".repeat(MAX_NESTING + 1);
        assert!(matches!(brackets(&text), Err(SyntaxError::TooDeep { .. })));
    }
}
