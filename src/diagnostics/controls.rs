//! Control characters of a `.flow` file kept off the terminal: raw, an escape sequence in a
//! comment or a string could move the cursor, rewrite the screen or set the window title.
//! `human` and `short` show them escaped; `json` keeps the exact text (JSON escapes it).

use std::borrow::Cow;
use std::fmt::Write as _;

use miette::LabeledSpan;

/// A character that would act on a terminal rather than be shown: C0 controls other than
/// line breaks and tabs, DEL, and the C1 controls (U+0080 to U+009F, where `CSI` is).
fn is_hidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// `text` with each hidden character written as a Rust escape, `\u{1b}`, for messages and
/// names.
pub(super) fn escaped(text: &str) -> Cow<'_, str> {
    escape_where(text, is_hidden)
}

/// As [`escaped`], with line breaks and tabs escaped too: for formats with one record per
/// line (`--format short`), where a name holding a newline (a quoted state key can) must not
/// start a line of its own.
pub(crate) fn escaped_on_one_line(text: &str) -> Cow<'_, str> {
    escape_where(text, char::is_control)
}

fn escape_where(text: &str, hidden: fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            write!(out, "\\u{{{:x}}}", u32::from(c)).expect("writing to a String cannot fail");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The one visible character that stands for a hidden one in a snippet: its Unicode
/// control picture (`␛` for ESC, `␇` for BEL, `␡` for DEL), or `�` for a C1 control. One
/// character wide, so labels stay under what they point at.
fn picture(c: char) -> char {
    match u32::from(c) {
        code @ 0..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        _ => '\u{fffd}',
    }
}

/// The file's text as snippets show it, each hidden character replaced by its picture,
/// and where the replacements moved the bytes after them.
pub(super) struct ShownText<'a> {
    pub(super) text: Cow<'a, str>,
    /// For each replaced character, its offset in the file and how many bytes longer the
    /// text is from just after it on, in the file's order.
    grown: Vec<(usize, usize)>,
}

impl<'a> ShownText<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        if !text.chars().any(is_hidden) {
            return ShownText {
                text: Cow::Borrowed(text),
                grown: Vec::new(),
            };
        }
        let mut shown = String::with_capacity(text.len() + 16);
        let mut grown = Vec::new();
        let mut extra = 0;
        for (at, c) in text.char_indices() {
            if is_hidden(c) {
                let picture = picture(c);
                shown.push(picture);
                extra += picture.len_utf8() - c.len_utf8();
                grown.push((at, extra));
            } else {
                shown.push(c);
            }
        }
        ShownText {
            text: Cow::Owned(shown),
            grown,
        }
    }

    /// Where byte `offset` of the file is in the shown text.
    fn offset(&self, offset: usize) -> usize {
        let before = self.grown.partition_point(|&(at, _)| at < offset);
        offset + before.checked_sub(1).map_or(0, |last| self.grown[last].1)
    }

    /// `label` placed in the shown text, its message escaped.
    pub(super) fn label(&self, label: &LabeledSpan) -> LabeledSpan {
        let start = self.offset(label.offset());
        let end = self.offset(label.offset() + label.len());
        let message = label.label().map(|text| escaped(text).into_owned());
        if label.primary() {
            LabeledSpan::new_primary_with_span(message, (start, end - start))
        } else {
            LabeledSpan::new_with_span(message, (start, end - start))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_escaped_in_messages() {
        assert_eq!(escaped("a\u{1b}[2Jb\u{7}\t\n"), "a\\u{1b}[2Jb\\u{7}\t\n");
        assert_eq!(escaped("\u{9b}31m é"), "\\u{9b}31m é");
        assert!(matches!(escaped("plain é"), Cow::Borrowed(_)));
    }

    #[test]
    fn snippets_show_pictures_and_labels_follow_them() {
        let text = "a\u{1b}]0;x\u{7}b \u{9b}c\r\n\td";
        let shown = ShownText::new(text);
        assert_eq!(shown.text, "a\u{241b}]0;x\u{2407}b \u{fffd}c\r\n\td");
        // Each label still covers the same characters.
        for (start, c) in text.char_indices() {
            let end = start + c.len_utf8();
            let label = shown.label(&LabeledSpan::new(None, start, end - start));
            let covered = &shown.text[label.offset()..label.offset() + label.len()];
            let expected = if is_hidden(c) {
                picture(c).to_string()
            } else {
                c.to_string()
            };
            assert_eq!(covered, expected, "the label on byte {start}");
        }
        let whole = shown.label(&LabeledSpan::new_primary_with_span(None, (0, text.len())));
        assert_eq!((whole.offset(), whole.len()), (0, shown.text.len()));
        assert!(whole.primary());
    }
}
