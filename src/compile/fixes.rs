//! The edits that resolve a compile error, as data: the did-you-mean replacements, a bound
//! for a loop without one, a default edge where a node has only guarded ones. The language
//! server offers them as quick fixes; the help text says the same in words.

use super::CompileError;
use crate::span::Span;

/// Replace the text at `at` with `replacement` (an insertion when `at` is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub at: Span,
    pub replacement: String,
}

impl CompileError {
    /// The fixes for this error in `text`, the file it was found in; none when it has no
    /// mechanical fix.
    pub fn fixes(&self, text: &str) -> Vec<Fix> {
        let replace = |at: &miette::SourceSpan, with: &str, what: &str| Fix {
            title: format!("change {what} to `{with}`"),
            at: Span::new(at.offset(), at.offset() + at.len()),
            replacement: with.to_owned(),
        };
        match self {
            CompileError::UndefinedNode {
                suggestion: Some(name),
                at,
                ..
            } => {
                vec![replace(at, name, "the target")]
            }
            CompileError::UnknownTool {
                suggestion: Some(name),
                at,
                ..
            } => {
                vec![replace(at, name, "the tool")]
            }
            CompileError::UnknownArg {
                suggestion: Some(name),
                at,
                ..
            } => {
                vec![replace(at, name, "the argument")]
            }
            CompileError::UnknownField {
                suggestion: Some(name),
                hint: None,
                at,
                ..
            } => {
                vec![replace(at, name, "the field")]
            }
            CompileError::UnknownMethod {
                suggestion: Some(name),
                at,
                ..
            } => {
                vec![replace(at, name, "the method")]
            }
            CompileError::LoopWithoutMax { at, .. } => {
                // `at` is the loop's header, up to its `{`.
                let end = at.offset() + at.len();
                let spaced = text[..end].ends_with(char::is_whitespace);
                vec![Fix {
                    title: "add a bound: `max 10`".to_owned(),
                    at: Span::new(end, end),
                    replacement: if spaced { "max 10 " } else { " max 10 " }.to_owned(),
                }]
            }
            CompileError::MissingDefault { from, at, rest } => {
                let last = rest
                    .iter()
                    .chain([at])
                    .map(|span| span.offset() + span.len())
                    .max();
                let line_end = last.map_or(text.len(), |last| {
                    text[last..].find('\n').map_or(text.len(), |at| last + at)
                });
                let line_start = text[..line_end].rfind('\n').map_or(0, |at| at + 1);
                let indent: String = text[line_start..]
                    .chars()
                    .take_while(|ch| *ch == ' ' || *ch == '\t')
                    .collect();
                vec![Fix {
                    title: format!("add a default edge `{from} -> end`"),
                    at: Span::new(line_end, line_end),
                    replacement: format!("\n{indent}{from} -> end"),
                }]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::source::SourceFile;
    use crate::tools::ToolRegistry;

    /// The text after applying every fix of every problem `text` has.
    fn fixed(text: &str) -> String {
        let checked = crate::check(&SourceFile::new("t.flow", text), &ToolRegistry::builtin());
        let mut fixes: Vec<super::Fix> = checked
            .report
            .problems
            .iter()
            .filter_map(|problem| {
                let error: &(dyn std::error::Error + 'static) = problem.as_ref();
                error.downcast_ref::<super::CompileError>()
            })
            .flat_map(|error| error.fixes(text))
            .collect();
        fixes.sort_by_key(|fix| std::cmp::Reverse(fix.at.start));
        let mut text = text.to_owned();
        for fix in fixes {
            text.replace_range(fix.at.start..fix.at.end, &fix.replacement);
        }
        text
    }

    #[test]
    fn did_you_mean_fixes_replace_the_name() {
        assert_eq!(
            fixed("flow f {\n    node report = nop\n    start -> reprt\n}\n"),
            "flow f {\n    node report = noop\n    start -> report\n}\n"
        );
    }

    #[test]
    fn a_loop_gets_a_bound() {
        assert_eq!(
            fixed(
                "flow f {\n    state { n: int = 0 }\n    node a { n += 1 }\n    start -> l\n    loop l { a } until n > 2\n}\n"
            ),
            "flow f {\n    state { n: int = 0 }\n    node a { n += 1 }\n    start -> l\n    loop l max 10 { a } until n > 2\n}\n"
        );
    }

    #[test]
    fn a_node_with_only_guarded_edges_gets_a_default_edge() {
        assert_eq!(
            fixed(
                "flow f {\n    state { n: int = 0 }\n    node a { n += 1 }\n    node b\n    start -> a\n    a -> b when n > 5\n}\n"
            ),
            "flow f {\n    state { n: int = 0 }\n    node a { n += 1 }\n    node b\n    start -> a\n    a -> b when n > 5\n    a -> end\n}\n"
        );
    }
}
