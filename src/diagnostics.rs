//! Diagnostics of one file, and the one place they are rendered: `human` (miette's graphical
//! report), `short` (one line each, for editors) and `json`. Used by the CLI and the tests.

use std::fmt::{self, Write as _};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Severity,
    SourceCode,
};
use serde_json::{Value, json};

use crate::source::SourceFile;
use crate::span::line_column;

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

    pub fn error_count(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| is_error(p.as_ref()))
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.problems.len() - self.error_count()
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
        let named = self.source.named_source();
        let mut out = String::new();
        for problem in &self.problems {
            // A label too far right on its line would make miette panic (see
            // `MAX_SNIPPET_COLUMN`): such a problem is shown with `file:line:col` instead.
            let fits = labels_fit_snippet(problem.as_ref(), &self.source.text);
            let with_source = WithSource {
                inner: problem.as_ref(),
                source: fits.then_some(&named),
            };
            handler
                .render_report(&mut out, &with_source)
                .expect("writing to a String cannot fail");
            if !fits {
                let (line, column) = primary_label(problem.as_ref()).map_or((1, 1), |label| {
                    line_column(&self.source.text, label.offset())
                });
                writeln!(out, "  at {}:{line}:{column}", self.source.name)
                    .expect("writing to a String cannot fail");
            }
        }
        out
    }

    /// `path:line:col: severity[code]: message`, one line per problem.
    pub fn render_short(&self) -> String {
        let mut out = String::new();
        for problem in &self.problems {
            let (line, column) = primary_label(problem.as_ref()).map_or((1, 1), |label| {
                line_column(&self.source.text, label.offset())
            });
            writeln!(
                out,
                "{}:{line}:{column}: {}[{}]: {problem}",
                self.source.name,
                severity_name(problem.as_ref()),
                code(problem.as_ref()),
            )
            .expect("writing to a String cannot fail");
        }
        out
    }

    /// One JSON object: the path and every problem with its labels (byte offset and length,
    /// 1-based line and column of both ends).
    pub fn to_json(&self) -> Value {
        let text = &self.source.text;
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|problem| {
                let labels: Vec<Value> = problem
                    .labels()
                    .into_iter()
                    .flatten()
                    .map(|label| {
                        let (line, column) = line_column(text, label.offset());
                        let (end_line, end_column) =
                            line_column(text, label.offset() + label.len());
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
                    "code": code(problem.as_ref()),
                    "severity": severity_name(problem.as_ref()),
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
        })
    }
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

fn labels_fit_snippet(problem: &dyn Diagnostic, text: &str) -> bool {
    let bytes = text.as_bytes();
    let fits = |at: usize| {
        let at = at.min(bytes.len());
        at <= MAX_SNIPPET_COLUMN || bytes[at - MAX_SNIPPET_COLUMN..at].contains(&b'\n')
    };
    problem
        .labels()
        .into_iter()
        .flatten()
        .all(|label| fits(label.offset()) && fits(label.offset() + label.len()))
}

/// A phase error carries no text; this lends it the file's, for rendering.
struct WithSource<'a> {
    inner: &'a (dyn Diagnostic + Send + Sync),
    source: Option<&'a NamedSource<std::sync::Arc<str>>>,
}

impl fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner, f)
    }
}

impl fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner, f)
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
        self.inner.help()
    }
    fn url<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.url()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.map(|source| source as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.inner.labels()
    }
}
