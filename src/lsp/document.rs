//! One open file: its text, its diagnostics, and the last analysis of a version that parsed
//! (kept while the file is broken, so hover and completion go on working).

use std::fmt::Write as _;

use lsp_types::{
    CodeDescription, Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location,
    NumberOrString, Uri,
};
use miette::Severity;

use super::index::Index;
use super::position::LineIndex;
use crate::source::{MAX_FLOW_BYTES, SourceFile};
use crate::span::Span;
use crate::tools::ToolRegistry;

pub(super) struct Document {
    pub(super) uri: Uri,
    pub(super) text: String,
    pub(super) lines: LineIndex,
    /// The analysis of the last text that parsed.
    pub(super) index: Option<Index>,
    /// Whether `index` is of `text` (else of an earlier version).
    pub(super) fresh: bool,
    /// The quick fixes of the text's compile errors.
    pub(super) fixes: Vec<crate::compile::Fix>,
}

impl Document {
    pub(super) fn new(uri: Uri, text: String) -> Self {
        Document {
            uri,
            lines: LineIndex::new(&text),
            text,
            index: None,
            fresh: false,
            fixes: Vec::new(),
        }
    }

    pub(super) fn set_text(&mut self, text: String) {
        self.lines = LineIndex::new(&text);
        self.text = text;
        self.fresh = false;
    }

    /// Checks the text: its diagnostics, and a new analysis when it parses.
    pub(super) fn analyze(&mut self, registry: &ToolRegistry, docs_url: &str) -> Vec<Diagnostic> {
        if self.text.len() as u64 > MAX_FLOW_BYTES {
            // Checking costs some 40 times the text's size in memory: past the bound `flowc
            // check` keeps, the file is not checked (the last analysis stays for hovers).
            self.fixes.clear();
            return vec![Diagnostic {
                severity: Some(DiagnosticSeverity::ERROR),
                code: Some(NumberOrString::String("flow::unreadable".to_owned())),
                source: Some("flowc".to_owned()),
                message: format!(
                    "this file is {} bytes, more than the {} MiB flowc checks; split it \
                     into smaller flows",
                    self.text.len(),
                    MAX_FLOW_BYTES >> 20
                ),
                ..Diagnostic::default()
            }];
        }
        let source = SourceFile::new(self.uri.as_str(), self.text.as_str());
        let checked = match crate::syntax::parse(&source) {
            Ok(flow) => {
                self.index = Some(Index::build(&flow, &self.text, registry));
                self.fresh = true;
                let limits = crate::sandbox::Limits::default();
                crate::compile_parsed(&source, &flow, registry, &limits)
            }
            Err(_) => crate::check(&source, registry),
        };
        self.fixes = checked
            .report
            .problems
            .iter()
            .filter_map(|problem| {
                let error: &(dyn std::error::Error + 'static) = problem.as_ref();
                error.downcast_ref::<crate::compile::CompileError>()
            })
            .flat_map(|error| error.fixes(&self.text))
            .collect();
        checked
            .report
            .problems
            .iter()
            .map(|problem| self.diagnostic(problem.as_ref(), docs_url))
            .collect()
    }

    fn diagnostic(
        &self,
        problem: &(dyn miette::Diagnostic + Send + Sync),
        docs_url: &str,
    ) -> Diagnostic {
        let labels: Vec<_> = problem.labels().into_iter().flatten().collect();
        let primary = labels
            .iter()
            .find(|label| label.primary())
            .or_else(|| labels.first());
        let span = primary.map_or(Span::new(0, 0), |label| {
            Span::new(label.offset(), label.offset() + label.len())
        });
        let related: Vec<DiagnosticRelatedInformation> = labels
            .iter()
            .filter(|label| Some(*label) != primary)
            .map(|label| DiagnosticRelatedInformation {
                location: Location::new(
                    self.uri.clone(),
                    self.range(Span::new(label.offset(), label.offset() + label.len())),
                ),
                message: label.label().unwrap_or_default().to_owned(),
            })
            .collect();
        let code = problem.code().map(|code| code.to_string());
        let mut message = problem.to_string();
        if let Some(label) = primary.and_then(|label| label.label()) {
            let _ = write!(message, " ({label})");
        }
        if let Some(help) = problem.help() {
            let _ = write!(message, "\nhelp: {help}");
        }
        Diagnostic {
            range: self.range(span),
            severity: Some(match problem.severity() {
                Some(Severity::Warning) => DiagnosticSeverity::WARNING,
                Some(Severity::Advice) => DiagnosticSeverity::HINT,
                Some(Severity::Error) | None => DiagnosticSeverity::ERROR,
            }),
            code_description: code.as_deref().and_then(|code| {
                format!("{docs_url}#{}", code.replace("::", ""))
                    .parse()
                    .ok()
                    .map(|href| CodeDescription { href })
            }),
            code: code.map(NumberOrString::String),
            source: Some("flowc".to_owned()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            tags: None,
            data: None,
        }
    }

    pub(super) fn range(&self, span: Span) -> lsp_types::Range {
        self.lines.range(&self.text, span)
    }

    pub(super) fn offset(&self, position: lsp_types::Position) -> usize {
        self.lines.offset(&self.text, position)
    }

    /// The identifier the cursor is on or just after, and where it starts.
    pub(super) fn word_at(&self, offset: usize) -> (usize, &str) {
        let is_word = |ch: char| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.';
        let start = self.text[..offset]
            .rfind(|ch: char| !is_word(ch))
            .map_or(0, |at| at + 1);
        let end = self.text[offset..]
            .find(|ch: char| !is_word(ch))
            .map_or(self.text.len(), |at| offset + at);
        (start, &self.text[start..end])
    }

    /// The symbol under the cursor: by position in a fresh analysis, by name in a stale one.
    pub(super) fn symbol_at(&self, offset: usize) -> Option<usize> {
        let index = self.index.as_ref()?;
        if self.fresh {
            return index.symbol_at(offset);
        }
        let (_, word) = self.word_at(offset);
        index
            .declared(word, false)
            .or_else(|| index.declared(word, true))
    }
}
