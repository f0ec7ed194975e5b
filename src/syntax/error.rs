//! `SyntaxError`: what the parser reports. pest stops at the first error, so this phase
//! gives one diagnostic per file.

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum SyntaxError {
    #[error("expected {expected}, found {found}")]
    #[diagnostic(code("flow::syntax"), help("{help}"))]
    Unexpected {
        expected: String,
        found: String,
        help: String,
        #[label("here")]
        at: SourceSpan,
    },

    #[error("`{opener}` is never closed")]
    #[diagnostic(code("flow::syntax"), help("add the matching `{}` where this block, list or call ends", closer(*opener)))]
    Unclosed {
        opener: char,
        #[label("opened here, never closed")]
        at: SourceSpan,
    },

    #[error("`{closer}` closes nothing")]
    #[diagnostic(
        code("flow::syntax"),
        help("remove it, or add the `{}` it should close", opener(*closer))
    )]
    Stray {
        closer: char,
        #[label("no open bracket for this")]
        at: SourceSpan,
    },

    #[error("the file is empty")]
    #[diagnostic(
        code("flow::syntax"),
        help("a flow file holds one `flow NAME {{ … }}`, e.g. `flow hello {{ start -> greet }}`")
    )]
    Empty {
        #[label("no flow here")]
        at: SourceSpan,
    },

    #[error("{what} is too large")]
    #[diagnostic(code("flow::syntax"), help("use a value below {limit}"))]
    NumberTooLarge {
        what: &'static str,
        limit: String,
        #[label("too large")]
        at: SourceSpan,
    },

    #[error("brackets are nested more than {limit} deep")]
    #[diagnostic(
        code("flow::syntax"),
        help("flatten the structure; flows are not meant to nest this deep")
    )]
    TooDeep {
        limit: usize,
        #[label("nesting limit reached here")]
        at: SourceSpan,
    },

    #[error("invalid string literal: {reason}")]
    #[diagnostic(
        code("flow::syntax"),
        help("strings use JSON escapes: \\n, \\\", \\\\, \\u00e9")
    )]
    BadString {
        reason: String,
        #[label("here")]
        at: SourceSpan,
    },
}

fn opener(closer: char) -> char {
    match closer {
        ')' => '(',
        ']' => '[',
        _ => '{',
    }
}

fn closer(opener: char) -> char {
    match opener {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}
