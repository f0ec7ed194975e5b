//! Byte ranges into one `.flow` file, and the one place where the three position conventions
//! meet: pest and miette count bytes, rhai counts 1-based lines and characters.

use serde::Serialize;

/// A byte range `start..end` into the text of one `.flow` file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn len(self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// Points at a rhai position inside `text`, the verbatim slice of the file this span
    /// covers. A position rhai could not place labels the whole span.
    #[must_use]
    pub fn point_in(self, text: &str, pos: rhai::Position) -> Span {
        let (Some(line), Some(column)) = (pos.line(), pos.position()) else {
            return self;
        };
        match byte_offset_of(text, line, column) {
            Some(offset) => {
                let start = self.start + offset;
                let width = text[offset..].chars().next().map_or(0, char::len_utf8);
                Span::new(start, start + width)
            }
            None => Span::new(self.end, self.end),
        }
    }
}

/// The byte offset of a 1-based line and 1-based character column, or `None` past the end.
fn byte_offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let rest = &text[line_start..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    let in_line = rest[..line_len]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_len, |(i, _)| i);
    Some(line_start + in_line)
}

impl From<pest::Span<'_>> for Span {
    fn from(span: pest::Span<'_>) -> Self {
        Span::new(span.start(), span.end())
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.start..span.end).into()
    }
}

/// 1-based line and column (in characters) of a byte offset. This scans the text up to
/// `offset`: for many look-ups into one text (`short` and `json` output), build a
/// [`LineIndex`] once instead.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Where the lines of one text start, so that a line and column cost a binary search and a
/// count within one line instead of a scan from the start of the text. Only `\n` ends a line
/// (a `\r\n` line ends at its `\n`; a lone `\r` is an ordinary character).
#[derive(Clone, Debug)]
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of every `\n`, in order.
    newlines: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter_map(|(i, byte)| (byte == b'\n').then_some(i))
            .collect();
        LineIndex { text, newlines }
    }

    /// The text this indexes.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// 1-based line and column (in characters) of a byte offset; an offset past the end
    /// counts as the end.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.newlines.partition_point(|&newline| newline < offset);
        let line_start = self.line_start(offset);
        (line + 1, self.text[line_start..offset].chars().count() + 1)
    }

    /// Byte offset of the start of the line holding `offset`.
    pub fn line_start(&self, offset: usize) -> usize {
        match self.newlines.partition_point(|&newline| newline < offset) {
            0 => 0,
            line => self.newlines[line - 1] + 1,
        }
    }
}

/// A value and the span of the source that produced it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rhai_position_maps_to_the_byte_of_that_character() {
        let text = "a < 1 &&\n  é > @";
        let guard = Span::new(100, 100 + text.len());
        let at = guard.point_in(text, rhai::Position::new(2, 7));
        assert_eq!(&text[at.start - 100..at.end - 100], "@");
    }

    #[test]
    fn unknown_rhai_position_labels_the_whole_guard() {
        let guard = Span::new(10, 20);
        assert_eq!(guard.point_in("x", rhai::Position::NONE), guard);
    }

    #[test]
    fn line_index_agrees_with_a_scan_from_the_start() {
        let text = "ab\r\nçd\n\n日本\rx\n";
        let index = LineIndex::new(text);
        for offset in (0..=text.len() + 2).filter(|&o| o >= text.len() || text.is_char_boundary(o))
        {
            assert_eq!(
                index.line_column(offset),
                line_column(text, offset),
                "offset {offset}"
            );
            let (line, _) = line_column(text, offset);
            let start = text
                .split_inclusive('\n')
                .take(line - 1)
                .map(str::len)
                .sum::<usize>();
            assert_eq!(
                index.line_start(offset.min(text.len())),
                start,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn line_column_counts_characters_from_one() {
        let text = "ab\nçd";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 5), (2, 2));
    }
}
