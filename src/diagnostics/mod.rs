//! Diagnostics of one file, and the one place they are rendered: `human` (miette's graphical
//! report), `short` (one line each, for editors) and `json`. Used by the CLI and the tests.

use std::fmt::{self, Write as _};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, Severity, SourceCode,
};
use serde_json::{Value, json};

use crate::source::SourceFile;
use crate::span::LineIndex;

mod controls;
mod indexed_source;

pub(crate) use controls::escaped_on_one_line;
use controls::{ShownText, escaped};
use indexed_source::IndexedSource;

/// Every diagnostic found in one file, with the text they point into.
#[derive(Debug)]
pub struct FileReport {
    pub source: SourceFile,
    pub problems: Vec<Box<dyn Diagnostic + Send + Sync>>,
}

impl FileReport {
    pub fn new(source: SourceFile) -> Self {
        FileReport {
            source,
            problems: Vec::new(),
        }
    }

    pub fn push(&mut self, problem: impl Diagnostic + Send + Sync + 'static) {
        self.problems.push(Box::new(problem));
    }

    /// Each problem, then the problems it carries as related ones (a run-time error can
    /// carry more of its kind: every field of an invalid initial state), each rendered and
    /// counted as a problem of its own.
    fn each_problem(&self) -> impl Iterator<Item = &dyn Diagnostic> {
        self.problems.iter().flat_map(|problem| {
            std::iter::once(problem.as_ref() as &dyn Diagnostic)
                .chain(problem.related().into_iter().flatten())
        })
    }

    /// The problems the renderers show: the first [`MAX_SHOWN_PROBLEMS`] (errors come
    /// first), and how many more there are.
    fn shown_problems(&self) -> (impl Iterator<Item = &dyn Diagnostic>, usize) {
        let hidden = self
            .each_problem()
            .count()
            .saturating_sub(MAX_SHOWN_PROBLEMS);
        (self.each_problem().take(MAX_SHOWN_PROBLEMS), hidden)
    }

    pub fn error_count(&self) -> usize {
        self.each_problem().filter(|p| is_error(*p)).count()
    }

    pub fn warning_count(&self) -> usize {
        self.each_problem().filter(|p| !is_error(*p)).count()
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// miette's graphical report of each problem, one after another.
    pub fn render_human(&self, color: bool, width: usize) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(width)
            .with_links(false);
        let lines = LineIndex::new(&self.source.text);
        let name = escaped(&self.source.name);
        let shown = ShownText::new(&self.source.text);
        let snippets = IndexedSource::new(&name, &shown.text);
        let mut out = String::new();
        let (problems, more) = self.shown_problems();
        for problem in problems {
            let (labels, hidden) = shown_labels(problem);
            // A label too far right on its line would make miette panic (see
            // `MAX_SNIPPET_COLUMN`): such a problem is shown with `file:line:col` instead.
            let fits = labels.iter().all(|label| label_fits_snippet(label, &lines));
            let with_source = WithSource {
                inner: problem,
                source: fits.then_some(&snippets),
                labels: labels.iter().map(|label| shown.label(label)).collect(),
            };
            handler
                .render_report(&mut out, &with_source)
                .expect("writing to a String cannot fail");
            if fits && hidden > 0 {
                writeln!(
                    out,
                    "  note: {hidden} more labels not shown (`--format json` lists them all)"
                )
                .expect("writing to a String cannot fail");
            }
            if !fits {
                let (line, column) = primary_label(problem)
                    .map_or((1, 1), |label| lines.line_column(label.offset()));
                writeln!(out, "  at {name}:{line}:{column}")
                    .expect("writing to a String cannot fail");
            }
        }
        if more > 0 {
            writeln!(out, "{}", more_problems(&name, more))
                .expect("writing to a String cannot fail");
        }
        out
    }

    /// `path:line:col: severity[code]: message`, one line per problem.
    pub fn render_short(&self) -> String {
        let lines = LineIndex::new(&self.source.text);
        let name = escaped_on_one_line(&self.source.name);
        let mut out = String::new();
        let (problems, more) = self.shown_problems();
        for problem in problems {
            let (line, column) =
                primary_label(problem).map_or((1, 1), |label| lines.line_column(label.offset()));
            writeln!(
                out,
                "{name}:{line}:{column}: {}[{}]: {}",
                severity_name(problem),
                code(problem),
                escaped_on_one_line(&problem.to_string()),
            )
            .expect("writing to a String cannot fail");
        }
        if more > 0 {
            writeln!(out, "{}", more_problems(&name, more))
                .expect("writing to a String cannot fail");
        }
        out
    }

    /// One JSON object: the path, the counts, and the problems shown with their labels (byte
    /// offset and length, 1-based line and column of both ends); `omitted` counts the rest.
    pub fn to_json(&self) -> Value {
        let lines = LineIndex::new(&self.source.text);
        let (shown, omitted) = self.shown_problems();
        let problems: Vec<Value> = shown
            .map(|problem| {
                let labels: Vec<Value> = problem
                    .labels()
                    .into_iter()
                    .flatten()
                    .map(|label| {
                        let (line, column) = lines.line_column(label.offset());
                        let (end_line, end_column) =
                            lines.line_column(label.offset() + label.len());
                        json!({
                            "message": label.label(),
                            "primary": label.primary(),
                            "offset": label.offset(),
                            "length": label.len(),
                            "line": line,
                            "column": column,
                            "end_line": end_line,
                            "end_column": end_column,
                        })
                    })
                    .collect();
                json!({
                    "code": code(problem),
                    "severity": severity_name(problem),
                    "message": problem.to_string(),
                    "help": problem.help().map(|h| h.to_string()),
                    "labels": labels,
                })
            })
            .collect();
        json!({
            "path": self.source.name,
            "errors": self.error_count(),
            "warnings": self.warning_count(),
            "diagnostics": problems,
            "omitted": omitted,
        })
    }
}

/// The most problems shown for one file, in every format: past a screenful more do not
/// help a reader, and 200,000 of them took minutes and gigabytes to render. The counts (and
/// the exit code) still take every problem into account.
pub const MAX_SHOWN_PROBLEMS: usize = 100;

/// The line that ends a file's report when problems were left out.
fn more_problems(path: &str, more: usize) -> String {
    let what = if more == 1 { "problem" } else { "problems" };
    format!("{path}: {more} more {what} not shown (at most {MAX_SHOWN_PROBLEMS} per file)")
}

fn is_error(problem: &dyn Diagnostic) -> bool {
    matches!(problem.severity(), None | Some(Severity::Error))
}

fn severity_name(problem: &dyn Diagnostic) -> &'static str {
    match problem.severity() {
        None | Some(Severity::Error) => "error",
        Some(Severity::Warning) => "warning",
        Some(Severity::Advice) => "advice",
    }
}

fn code(problem: &dyn Diagnostic) -> String {
    problem.code().map(|c| c.to_string()).unwrap_or_default()
}

fn primary_label(problem: &dyn Diagnostic) -> Option<LabeledSpan> {
    let labels: Vec<LabeledSpan> = problem.labels()?.collect();
    labels
        .iter()
        .find(|l| l.primary())
        .or(labels.first())
        .cloned()
}

/// miette pads up to a label's column with a format width, which Rust caps at `u16::MAX`: a
/// label further right on its line panics. A byte is at most 4 columns (a tab), so labels
/// within this many bytes of their line's start are safe to show in a snippet.
const MAX_SNIPPET_COLUMN: usize = 16_000;

fn label_fits_snippet(label: &LabeledSpan, lines: &LineIndex<'_>) -> bool {
    // Within `MAX_SNIPPET_COLUMN` bytes of the start of the text or of its line.
    let fits = |at: usize| {
        let at = at.min(lines.text().len());
        at <= MAX_SNIPPET_COLUMN || lines.line_start(at) > at - MAX_SNIPPET_COLUMN
    };
    fits(label.offset()) && fits(label.offset() + label.len())
}

/// The most labels `human` draws for one problem. miette draws every label of a snippet
/// against every line of it, so n labels take time quadratic in n (2,000 took 0.27 s in a debug build); and
/// past a screenful, more arrows do not help a reader. `short` and `json` keep them all.
pub const MAX_HUMAN_LABELS: usize = 50;

/// The labels `human` draws for `problem` (its first [`MAX_HUMAN_LABELS`], with the primary
/// one among them), and how many it leaves out.
fn shown_labels(problem: &dyn Diagnostic) -> (Vec<LabeledSpan>, usize) {
    let mut labels: Vec<LabeledSpan> = problem.labels().into_iter().flatten().collect();
    let hidden = labels.len().saturating_sub(MAX_HUMAN_LABELS);
    if hidden > 0 {
        let primary = labels.iter().position(LabeledSpan::primary);
        if let Some(primary) = primary.filter(|&at| at >= MAX_HUMAN_LABELS) {
            labels.swap(MAX_HUMAN_LABELS - 1, primary);
        }
        labels.truncate(MAX_HUMAN_LABELS);
    }
    (labels, hidden)
}

/// A phase error carries no text; this lends it the file's as snippets show it (control
/// characters replaced), for rendering, with `labels` placed in that text, and its message
/// and help with their control characters escaped.
struct WithSource<'a> {
    inner: &'a dyn Diagnostic,
    source: Option<&'a IndexedSource<'a>>,
    labels: Vec<LabeledSpan>,
}

impl fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner, f)
    }
}

impl fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escaped(&self.inner.to_string()))
    }
}

impl std::error::Error for WithSource<'_> {}

impl Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<Severity> {
        self.inner.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let help = self.inner.help()?.to_string();
        Some(Box::new(escaped(&help).into_owned()))
    }
    fn url<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.url()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.map(|source| source as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        // None, not an empty list, for a problem without labels, as the problem says.
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = LabeledSpan>>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error, miette::Diagnostic)]
    #[error("many labels")]
    struct ManyLabels {
        #[label(collection)]
        labels: Vec<LabeledSpan>,
    }

    #[test]
    fn human_draws_the_first_labels_and_the_primary_one() {
        let mut labels: Vec<LabeledSpan> = (0..MAX_HUMAN_LABELS + 10)
            .map(|i| LabeledSpan::new(Some(format!("label {i}")), i, 1))
            .collect();
        labels.push(LabeledSpan::new_primary_with_span(
            Some("primary".into()),
            70,
        ));
        let (shown, hidden) = shown_labels(&ManyLabels { labels });
        assert_eq!((shown.len(), hidden), (MAX_HUMAN_LABELS, 11));
        assert!(shown.iter().any(LabeledSpan::primary));
        assert_eq!(shown[0].label(), Some("label 0"));

        let few = ManyLabels {
            labels: vec![LabeledSpan::new(None, 0, 1)],
        };
        assert_eq!(shown_labels(&few).1, 0);
    }

    #[test]
    fn short_keeps_one_problem_per_line_when_a_name_holds_a_newline() {
        // A quoted state key may hold any character, a line break among them.
        let text = "flow f {\n  state { \"a\\nb\": int, \"a\\nb\": int }\n  node x = noop\n  start -> x\n}\n";
        let checked = crate::check(
            &crate::SourceFile::new("f.flow", text),
            &crate::tools::ToolRegistry::builtin(),
        );
        let short = checked.report.render_short();
        assert!(!checked.report.problems.is_empty(), "{short}");
        assert_eq!(
            short.lines().count(),
            checked.report.problems.len(),
            "{short}"
        );
        assert!(short.contains("a\\u{a}b"), "{short}");
    }
}
