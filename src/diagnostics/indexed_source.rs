//! The file's text as miette reads it for snippets, with its line breaks indexed once.

use std::cmp::Ordering;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// The file's text for miette's snippets, with its line breaks indexed once per report.
///
/// miette's own `SourceCode for str` scans from the start of the text for every snippet it
/// reads, so a report of n problems took time quadratic in n. This returns exactly what
/// `NamedSource::new(name, text)` returns for the same span and context (the differential
/// tests below compare the two), in a binary search or two.
///
/// miette's line breaks are not [`LineIndex`]'s: `\n`, `\r\n` and a lone `\r` each end a
/// line here, as they do in `miette/src/source_impls.rs` (`context_info`).
pub(super) struct IndexedSource<'a> {
    name: &'a str,
    text: &'a str,
    /// The offset of the last byte of every line break (the `\n` of a `\r\n`), in order.
    breaks: Vec<usize>,
}

impl<'a> IndexedSource<'a> {
    pub(super) fn new(name: &'a str, text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let breaks = bytes
            .iter()
            .enumerate()
            .filter_map(|(i, &byte)| match byte {
                b'\n' => Some(i),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => Some(i),
                _ => None,
            })
            .collect();
        IndexedSource { name, text, breaks }
    }

    /// How many line breaks end before `offset`.
    fn breaks_before(&self, offset: usize) -> usize {
        self.breaks.partition_point(|&at| at < offset)
    }

    /// Where the line after the `line`-th break starts (0 for the first line).
    fn line_start(&self, line: usize) -> usize {
        match line {
            0 => 0,
            line => self.breaks[line - 1] + 1,
        }
    }

    /// miette's `context_info`, computed from the index. miette walks the text one byte (or
    /// one `\r\n`) at a time, counting line breaks; it stops at the step that reaches the
    /// span's last byte, or, with `after` context lines, at the end of the `after`-th line
    /// after the span's own. Its quirks are kept: `line_count` counts the breaks from the
    /// start of the text, and the column (only given without `before` context) is in bytes
    /// and drops to 0 once the walk passes a line break after the span.
    fn contents(
        &self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<MietteSpanContents<'a>, MietteError> {
        let bytes = self.text.as_bytes();
        let start = span.offset();
        // miette's walk is "past the span" from this byte on.
        let last = (start + span.len()).saturating_sub(1);

        // Where the walk stops (exclusive), and whether a line break came after the byte
        // that ended the span (miette then resets its column count to 0).
        let (end, break_after_span) = match last.cmp(&bytes.len()) {
            Ordering::Less => {
                // The step that reaches `last` takes a whole `\r\n`.
                let span_step = if bytes[last] == b'\r' && bytes.get(last + 1) == Some(&b'\n') {
                    last + 1
                } else {
                    last
                };
                let next = self.breaks.partition_point(|&at| at <= span_step);
                let end = if after == 0 {
                    span_step + 1
                } else {
                    // The first break after the span ends its line; `after` more follow.
                    self.breaks
                        .get(next + after)
                        .map_or(bytes.len(), |&at| at + 1)
                };
                (end, after > 0 && next < self.breaks.len())
            }
            // The walk ran to the end of the text without passing the span's last byte.
            Ordering::Equal => (bytes.len(), false),
            Ordering::Greater => return Err(MietteError::OutOfBounds),
        };

        let lines_before = self.breaks_before(start);
        let first_line = lines_before.saturating_sub(before);
        let (from, column) = if before == 0 {
            let line_start = self.line_start(lines_before);
            // A `\r\n` whose `\n` is the span's first byte is one step, not a column.
            let split_crlf = start > 0
                && start < bytes.len()
                && bytes[start - 1] == b'\r'
                && bytes[start] == b'\n';
            let column = start.min(bytes.len()) - line_start - usize::from(split_crlf);
            (start, if break_after_span { 0 } else { column })
        } else {
            (self.line_start(first_line), 0)
        };
        // miette would panic slicing here; only a span past the end of the text gets here.
        let data = bytes.get(from..end).ok_or(MietteError::OutOfBounds)?;
        Ok(MietteSpanContents::new_named(
            self.name.to_owned(),
            data,
            (from, end - from).into(),
            first_line,
            column,
            self.breaks_before(end),
        ))
    }
}

impl SourceCode for IndexedSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let contents = self.contents(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(contents))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use miette::NamedSource;

    use super::*;

    /// Compares every field of what the two sources give for one span.
    fn assert_same(text: &str, span: SourceSpan, before: usize, after: usize) {
        let miette = NamedSource::new("f.flow", Arc::<str>::from(text));
        let ours = IndexedSource::new("f.flow", text);
        let expected = miette.read_span(&span, before, after);
        let actual = ours.read_span(&span, before, after);
        let case = || format!("{text:?} {span:?} before {before} after {after}");
        match (expected, actual) {
            (Ok(expected), Ok(actual)) => {
                assert_eq!(expected.data(), actual.data(), "data of {}", case());
                assert_eq!(expected.span(), actual.span(), "span of {}", case());
                assert_eq!(expected.line(), actual.line(), "line of {}", case());
                assert_eq!(expected.column(), actual.column(), "column of {}", case());
                assert_eq!(
                    expected.line_count(),
                    actual.line_count(),
                    "line count of {}",
                    case()
                );
                assert_eq!(expected.name(), actual.name(), "name of {}", case());
                assert_eq!(
                    expected.language(),
                    actual.language(),
                    "language of {}",
                    case()
                );
            }
            (Err(_), Err(_)) => {}
            (expected, actual) => panic!(
                "{}: miette {:?}, ours {:?}",
                case(),
                expected.map(|c| c.span().to_owned()),
                actual.map(|c| c.span().to_owned())
            ),
        }
    }

    /// Every span (and the out-of-bounds ones just past the end) with 0 to 3 context lines.
    fn assert_same_everywhere(text: &str) {
        for start in 0..=text.len() {
            for len in 0..=text.len() + 2 - start {
                for before in 0..=3 {
                    for after in 0..=3 {
                        assert_same(text, (start, len).into(), before, after);
                    }
                }
            }
        }
    }

    #[test]
    fn indexed_source_reads_what_miette_reads_for_every_short_text() {
        // Every text of up to 6 characters over a letter and the three line breaks.
        let mut texts = vec![String::new()];
        for _ in 0..6 {
            for text in &texts {
                assert_same_everywhere(text);
            }
            texts = texts
                .iter()
                .flat_map(|text| ['a', '\n', '\r'].map(|c| format!("{text}{c}")))
                .collect();
        }
        for text in &texts {
            assert_same_everywhere(text);
        }
    }

    #[test]
    fn indexed_source_reads_what_miette_reads_in_a_real_flow() {
        let text = "flow f {\r\n  node é = noop\n\n  start -> é\r  é -> 日本\r\n}\n\r\n";
        assert_same_everywhere(text);
        for context in [0, 1, 2, 5, 100] {
            assert_same(text, (text.len() - 1, 1).into(), context, context);
            assert_same(text, (0, text.len()).into(), context, context);
        }
    }
}
