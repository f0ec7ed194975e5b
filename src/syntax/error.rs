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
    #[diagnostic(
        code("flow::syntax"),
        help("add the matching `{closer}` where this block, list or call ends")
    )]
    Unclosed {
        opener: char,
        closer: char,
        /// The end of the last line that, by its indentation, belongs inside the brackets,
        /// when the layout tells.
        #[label(primary, "expected `{closer}` here")]
        at: Option<SourceSpan>,
        #[label("`{opener}` opened here")]
        opened: SourceSpan,
    },

    #[error("missing `{separator}`")]
    #[diagnostic(code("flow::syntax"), help("{}", separator_help(*separator)))]
    MissingSeparator {
        separator: char,
        #[label("expected `{separator}` here")]
        at: SourceSpan,
    },

    #[error("`->` has no target")]
    #[diagnostic(
        code("flow::syntax"),
        help(
            "every `->` needs a target: `a -> b` (or `a -> end`); name the next node or remove the arrow"
        )
    )]
    DanglingArrow {
        #[label("nothing follows this arrow")]
        at: SourceSpan,
    },

    #[error("`{keyword}` cannot be declared inside loop `{loop_name}`")]
    #[diagnostic(
        code("flow::syntax"),
        help("{}", declared_at_flow_level(keyword, loop_name))
    )]
    DeclarationInLoop {
        keyword: &'static str,
        loop_name: String,
        #[label("declared in the loop's body")]
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

pub(crate) fn closer(opener: char) -> char {
    match opener {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

fn separator_help(separator: char) -> &'static str {
    if separator == ',' {
        "the items of an argument list, object or array are separated by `,`, across lines too"
    } else {
        "two statements on one line are separated by `;`, or put each on its own line"
    }
}

fn declared_at_flow_level(keyword: &str, loop_name: &str) -> String {
    if keyword == "node" {
        format!(
            "nodes are declared at flow level and a loop's body holds only edges: move the \
             `node …` line out of the loop, next to the other nodes, and name the node in the \
             body: `loop {loop_name} max 3 {{ work }} until …`"
        )
    } else {
        "the `state { … }` block is declared once, at flow level: move it out of the loop"
            .to_owned()
    }
}
