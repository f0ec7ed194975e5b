//! The comments of a file, found in the text the syntax tree does not hold verbatim: the
//! parser keeps comments as blanks and doc comments only before declarations, so the
//! formatter takes every `//`, `///` and `/* */` from the text itself and puts each back
//! beside the construct it was written next to.

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Comment {
    pub(super) span: Span,
}

/// Every comment outside `opaque` (scripts, guards and literals: a `//` there is code or
/// string text), in source order.
pub(super) struct Comments {
    /// Sorted by start: every lookup is a binary search, so a file of many comments formats
    /// in O(n log n).
    found: Vec<Comment>,
    placed: Vec<bool>,
    unplaced: usize,
}

impl Comments {
    pub(super) fn scan(text: &str, opaque: &[Span]) -> Self {
        let bytes = text.as_bytes();
        let mut found = Vec::new();
        let mut opaque = opaque.iter().peekable();
        let mut i = 0;
        while i < bytes.len() {
            while opaque.peek().is_some_and(|span| span.end <= i) {
                opaque.next();
            }
            if let Some(span) = opaque.peek().filter(|span| span.start <= i) {
                i = span.end;
                continue;
            }
            let end = match (bytes[i], bytes.get(i + 1)) {
                (b'/', Some(b'/')) => text[i..].find('\n').map_or(text.len(), |at| i + at),
                (b'/', Some(b'*')) => text[i + 2..].find("*/").map_or(text.len(), |at| i + at + 4),
                _ => {
                    i += 1;
                    continue;
                }
            };
            // A line comment's end is its last non-blank byte (`\r` and trailing spaces
            // are layout).
            let end = i + text[i..end].trim_end().len();
            found.push(Comment {
                span: Span::new(i, end),
            });
            i = end.max(i + 1);
        }
        let unplaced = found.len();
        Comments {
            placed: vec![false; found.len()],
            found,
            unplaced,
        }
    }

    /// The indices of the comments that start in `range`.
    fn starting_in(&self, range: Span) -> std::ops::Range<usize> {
        let first = self
            .found
            .partition_point(|comment| comment.span.start < range.start);
        let end = self
            .found
            .partition_point(|comment| comment.span.start < range.end);
        first..end.max(first)
    }

    /// The comments that start in `range` and have not been placed, marked placed.
    pub(super) fn take(&mut self, range: Span) -> Vec<Comment> {
        let mut taken = Vec::new();
        for index in self.starting_in(range) {
            if !self.placed[index] {
                self.placed[index] = true;
                self.unplaced -= 1;
                taken.push(self.found[index]);
            }
        }
        taken
    }

    /// Whether any unplaced comment starts in `range`.
    pub(super) fn any_in(&self, range: Span) -> bool {
        self.starting_in(range).any(|index| !self.placed[index])
    }

    /// Whether every comment found has been placed.
    pub(super) fn all_placed(&self) -> bool {
        self.unplaced == 0
    }

    /// Where the next token after `at` starts: past blanks, line breaks and comments.
    pub(super) fn skip_blanks(&self, text: &str, mut at: usize) -> usize {
        loop {
            let rest = &text[at..];
            let blank = rest.len() - rest.trim_start().len();
            at += blank;
            let next = self
                .found
                .partition_point(|comment| comment.span.start < at);
            match self
                .found
                .get(next)
                .filter(|comment| comment.span.start == at)
            {
                Some(comment) => at = comment.span.end,
                None if blank == 0 => return at,
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str, opaque: &[Span]) -> Vec<String> {
        Comments::scan(text, opaque)
            .found
            .iter()
            .map(|comment| text[comment.span.start..comment.span.end].to_owned())
            .collect()
    }

    #[test]
    fn line_block_and_doc_comments_are_found_outside_code() {
        let text = "/// doc\nflow f { // one\n  node a { x // code\n }\n /* two */ }\n";
        let script = text.find(" x //").unwrap();
        let opaque = [Span::new(script, text.find("\n }").unwrap())];
        assert_eq!(texts(text, &opaque), ["/// doc", "// one", "/* two */"]);
    }

    #[test]
    fn trailing_blanks_and_carriage_returns_are_not_part_of_a_comment() {
        assert_eq!(texts("// a  \r\nflow", &[]), ["// a"]);
    }
}
