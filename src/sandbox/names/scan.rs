//! Just enough of rhai's lexer for the rewrite: identifiers, double-quoted strings and
//! punctuation, with byte spans. Comments, characters and other strings are skipped whole.

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Ident,
    /// A double-quoted string literal.
    Str,
    /// Any other literal: a number, a character, a back-quoted or raw string.
    Literal,
    Punct,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Tok {
    pub(super) kind: Kind,
    pub(super) span: Span,
}

impl Tok {
    pub(super) fn is_punct(self, text: &str, symbol: &str) -> bool {
        self.kind == Kind::Punct && &text[self.span.start..self.span.end] == symbol
    }
}

/// rhai's tokens, as far as the rewrite needs them: identifiers, string literals and
/// punctuation, with strings, characters and comments skipped whole. Interpolations inside
/// back-quoted strings are code and are scanned.
pub(super) fn scan(text: &str) -> Vec<Tok> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        nesting: 0,
        at: 0,
        tokens: Vec::new(),
    };
    scanner.code(false);
    scanner.tokens
}

/// Template strings nested deeper than this are skipped as text: the scan recurses into
/// each `${ … }`, and rhai refuses such nesting anyway (its expression depth limit).
const MAX_NESTING: usize = 64;

struct Scanner<'t> {
    /// Interpolations open around the current position.
    nesting: usize,
    bytes: &'t [u8],
    at: usize,
    tokens: Vec<Tok>,
}

impl Scanner<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn push(&mut self, kind: Kind, start: usize) {
        self.tokens.push(Tok {
            kind,
            span: Span::new(start, self.at),
        });
    }

    /// Code up to the end, or (inside an interpolation) up to its unmatched `}`.
    fn code(&mut self, interpolation: bool) {
        let mut depth = 0usize;
        while let Some(byte) = self.peek(0) {
            let start = self.at;
            match byte {
                b'/' if self.peek(1) == Some(b'/') => self.skip_line(),
                b'/' if self.peek(1) == Some(b'*') => self.skip_block_comment(),
                b'"' => {
                    self.skip_quoted(b'"');
                    self.push(Kind::Str, start);
                }
                b'\'' => {
                    self.skip_quoted(b'\'');
                    self.push(Kind::Literal, start);
                }
                b'`' => {
                    self.back_quoted();
                    self.push(Kind::Literal, start);
                }
                b'#' if matches!(self.peek(1), Some(b'"' | b'#')) => {
                    self.skip_raw();
                    self.push(Kind::Literal, start);
                }
                b if b.is_ascii_alphabetic() || b == b'_' => {
                    self.skip_while(|b| b.is_ascii_alphanumeric() || b == b'_');
                    self.push(Kind::Ident, start);
                }
                b if b.is_ascii_digit() => {
                    self.skip_while(|b| b.is_ascii_alphanumeric() || b == b'_');
                    self.push(Kind::Literal, start);
                }
                b if b.is_ascii_whitespace() => self.at += 1,
                b':' if self.peek(1) == Some(b':') => {
                    self.at += 2;
                    self.push(Kind::Punct, start);
                }
                b'}' if interpolation && depth == 0 => return,
                _ => {
                    depth = match byte {
                        b'{' => depth + 1,
                        b'}' => depth.saturating_sub(1),
                        _ => depth,
                    };
                    // One character, whole (it may be more than one byte).
                    self.at += 1;
                    while self.peek(0).is_some_and(|b| b & 0xC0 == 0x80) {
                        self.at += 1;
                    }
                    self.push(Kind::Punct, start);
                }
            }
        }
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.peek(0).is_some_and(&keep) {
            self.at += 1;
        }
    }

    fn skip_line(&mut self) {
        self.skip_while(|b| b != b'\n');
    }

    /// rhai's block comments nest.
    fn skip_block_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(byte) = self.peek(0) {
            if byte == b'/' && self.peek(1) == Some(b'*') {
                depth += 1;
                self.at += 2;
            } else if byte == b'*' && self.peek(1) == Some(b'/') {
                self.at += 2;
                depth -= 1;
                if depth == 0 {
                    return;
                }
            } else {
                self.at += 1;
            }
        }
    }

    fn skip_quoted(&mut self, quote: u8) {
        self.at += 1;
        while let Some(byte) = self.peek(0) {
            self.at += 1;
            if byte == b'\\' {
                self.at = (self.at + 1).min(self.bytes.len());
            } else if byte == quote {
                return;
            }
        }
    }

    /// `#"…"#`, with as many `#` on each side.
    fn skip_raw(&mut self) {
        let hashes = self.bytes[self.at..]
            .iter()
            .take_while(|&&b| b == b'#')
            .count();
        self.at += hashes;
        if self.peek(0) != Some(b'"') {
            return;
        }
        self.at += 1;
        while let Some(byte) = self.peek(0) {
            self.at += 1;
            if byte == b'"'
                && self.bytes[self.at..]
                    .iter()
                    .take(hashes)
                    .take_while(|&&b| b == b'#')
                    .count()
                    == hashes
            {
                self.at += hashes;
                return;
            }
        }
    }

    /// A back-quoted string; each `${ … }` in it is code.
    fn back_quoted(&mut self) {
        self.at += 1;
        while let Some(byte) = self.peek(0) {
            match byte {
                b'`' => {
                    self.at += 1;
                    return;
                }
                b'$' if self.peek(1) == Some(b'{') && self.nesting < MAX_NESTING => {
                    let start = self.at;
                    self.at += 2;
                    self.push(Kind::Punct, start);
                    self.nesting += 1;
                    self.code(true);
                    self.nesting -= 1;
                    if self.peek(0) == Some(b'}') {
                        let start = self.at;
                        self.at += 1;
                        self.push(Kind::Punct, start);
                    }
                }
                _ => self.at += 1,
            }
        }
    }
}
