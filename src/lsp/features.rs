//! The answers to an editor's requests, from a [`Document`]'s analysis.

use std::fmt::Write as _;

use std::collections::HashMap;

use lsp_types::{
    CompletionItem, CompletionItemKind, DocumentSymbol, Documentation, Hover, HoverContents,
    Location, MarkupContent, MarkupKind, Position, SymbolKind as LspSymbolKind, TextEdit,
    WorkspaceEdit,
};

use super::document::Document;
use super::index::SymbolKind;
use crate::tools::{ToolRegistry, ToolSpec};

fn markdown(value: String) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: None,
    }
}

fn tool_markdown(spec: &ToolSpec) -> String {
    let mut text = format!("```\n{}\n```\n{}", spec.signature(), spec.description);
    for arg in &spec.args {
        let _ = write!(
            text,
            "\n- `{}{}: {}` — {}",
            arg.name,
            if arg.required { "" } else { "?" },
            arg.ty.name(),
            arg.description
        );
    }
    text
}

pub(super) fn hover(doc: &Document, position: Position, registry: &ToolRegistry) -> Option<Hover> {
    let offset = doc.offset(position);
    let index = doc.index.as_ref()?;
    if doc.fresh
        && let Some(tool) = index
            .tools
            .iter()
            .find(|tool| tool.at.start <= offset && offset <= tool.at.end)
    {
        return registry
            .get(&tool.tool)
            .map(|spec| markdown(tool_markdown(spec)));
    }
    let symbol = &index.symbols[doc.symbol_at(offset)?];
    Some(markdown(symbol.detail.clone()))
}

pub(super) fn definition(doc: &Document, position: Position) -> Option<Location> {
    let symbol = doc.symbol_at(doc.offset(position))?;
    let index = doc.index.as_ref()?;
    doc.fresh
        .then(|| Location::new(doc.uri.clone(), doc.range(index.symbols[symbol].at)))
}

pub(super) fn references(doc: &Document, position: Position, declaration: bool) -> Vec<Location> {
    let (Some(symbol), Some(index)) = (doc.symbol_at(doc.offset(position)), doc.index.as_ref())
    else {
        return Vec::new();
    };
    if !doc.fresh {
        return Vec::new();
    }
    index
        .occurrences(symbol)
        .into_iter()
        .skip(usize::from(!declaration))
        .map(|span| Location::new(doc.uri.clone(), doc.range(span)))
        .collect()
}

/// Why a rename is refused.
pub(super) enum RenameRefused {
    NothingThere,
    /// The file does not parse now: its names' places are not known.
    Stale,
    NotAName(String),
    Quoted,
    Taken(String),
}

impl RenameRefused {
    pub(super) fn message(&self) -> String {
        match self {
            RenameRefused::NothingThere => "there is no node, loop or state field here".into(),
            RenameRefused::Stale => "the file does not parse: fix it before renaming".into(),
            RenameRefused::NotAName(name) => {
                format!("`{name}` is not a name (letters, digits and `_`, not a keyword)")
            }
            RenameRefused::Quoted => "a quoted field name cannot be renamed in code".into(),
            RenameRefused::Taken(name) => format!("`{name}` is already declared"),
        }
    }
}

pub(super) fn rename(
    doc: &Document,
    position: Position,
    new_name: &str,
) -> Result<WorkspaceEdit, RenameRefused> {
    let symbol = doc
        .symbol_at(doc.offset(position))
        .ok_or(RenameRefused::NothingThere)?;
    let index = doc.index.as_ref().ok_or(RenameRefused::NothingThere)?;
    if !doc.fresh {
        return Err(RenameRefused::Stale);
    }
    if !is_name(new_name) {
        return Err(RenameRefused::NotAName(new_name.to_owned()));
    }
    let declared = &index.symbols[symbol];
    if doc.text[declared.at.start..].starts_with('"') {
        return Err(RenameRefused::Quoted);
    }
    if index
        .declared(new_name, declared.kind == SymbolKind::Field)
        .is_some()
    {
        return Err(RenameRefused::Taken(new_name.to_owned()));
    }
    let edits = index
        .occurrences(symbol)
        .into_iter()
        .map(|span| TextEdit::new(doc.range(span), new_name.to_owned()))
        .collect();
    Ok(WorkspaceEdit::new(HashMap::from([(
        doc.uri.clone(),
        edits,
    )])))
}

const KEYWORDS: &[&str] = &[
    "flow", "state", "node", "loop", "max", "until", "when", "on", "error", "start", "end",
    "timeout", "retry", "backoff", "int", "float", "bool", "string", "list", "map", "any",
];

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && !KEYWORDS.contains(&name)
}

/// What the text before the cursor asks for.
enum Context {
    /// After `->`: a node or loop.
    Target,
    /// After `node NAME =`: a tool.
    Tool,
    /// Inside `tool(`: one of its arguments.
    Argument(String),
    /// In a guard or script: a state field.
    Field,
}

fn context(doc: &Document, offset: usize) -> Option<Context> {
    let line_start = doc.text[..offset].rfind('\n').map_or(0, |at| at + 1);
    let (word_start, _) = doc.word_at(offset);
    let before = doc.text[line_start..word_start.min(offset)].trim_end();
    if before.ends_with("->") {
        return Some(Context::Target);
    }
    let words: Vec<&str> = before.split_whitespace().collect();
    if words.first() == Some(&"node") && before.ends_with('=') && words.len() <= 3 {
        return Some(Context::Tool);
    }
    if doc.fresh
        && let Some(tool) = doc.index.as_ref().and_then(|index| {
            index.tools.iter().find(|tool| {
                tool.args
                    .is_some_and(|args| args.start < offset && offset < args.end)
            })
        })
    {
        return Some(Context::Argument(tool.tool.clone()));
    }
    if let Some(open) = before.rfind('(')
        && !before[open..].contains(')')
        && let Some(equals) = before[..open].rfind('=')
    {
        let tool = before[equals + 1..open].trim();
        if !tool.is_empty() && (before.ends_with('(') || before.ends_with(',')) {
            return Some(Context::Argument(tool.to_owned()));
        }
    }
    let in_code = doc.fresh
        && doc.index.as_ref().is_some_and(|index| {
            index
                .code
                .iter()
                .any(|span| span.start <= offset && offset <= span.end)
        });
    let guard = words.contains(&"when") || words.contains(&"until");
    (in_code || guard || before.ends_with('{') || before.ends_with(';')).then_some(Context::Field)
}

pub(super) fn completion(
    doc: &Document,
    position: Position,
    registry: &ToolRegistry,
) -> Vec<CompletionItem> {
    let offset = doc.offset(position);
    let Some(context) = context(doc, offset) else {
        return Vec::new();
    };
    let symbols = doc
        .index
        .as_ref()
        .map_or(&[][..], |index| &index.symbols[..]);
    let item = |label: &str, kind, detail: String| CompletionItem {
        label: label.to_owned(),
        kind: Some(kind),
        detail: Some(detail),
        ..CompletionItem::default()
    };
    match context {
        Context::Target => {
            let mut items: Vec<CompletionItem> = symbols
                .iter()
                .filter(|symbol| symbol.kind != SymbolKind::Field)
                .map(|symbol| {
                    let kind = if symbol.kind == SymbolKind::Loop {
                        CompletionItemKind::MODULE
                    } else {
                        CompletionItemKind::FUNCTION
                    };
                    item(&symbol.name, kind, first_line(&symbol.detail))
                })
                .collect();
            items.push(item(
                "end",
                CompletionItemKind::KEYWORD,
                "finish the run".into(),
            ));
            items
        }
        Context::Tool => registry
            .iter()
            .map(|spec| CompletionItem {
                documentation: Some(Documentation::String(spec.description.clone())),
                ..item(&spec.name, CompletionItemKind::FUNCTION, spec.signature())
            })
            .collect(),
        Context::Argument(tool) => registry.get(&tool).map_or_else(Vec::new, |spec| {
            spec.args
                .iter()
                .map(|arg| CompletionItem {
                    insert_text: Some(format!("{}: ", arg.name)),
                    documentation: Some(Documentation::String(arg.description.clone())),
                    ..item(&arg.name, CompletionItemKind::PROPERTY, arg.ty.name())
                })
                .collect()
        }),
        Context::Field => symbols
            .iter()
            .filter(|symbol| symbol.kind == SymbolKind::Field)
            .map(|symbol| {
                item(
                    &symbol.name,
                    CompletionItemKind::FIELD,
                    first_line(&symbol.detail),
                )
            })
            .collect(),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be given; it is `None`.
pub(super) fn symbols(doc: &Document) -> Vec<DocumentSymbol> {
    let Some(index) = doc.index.as_ref().filter(|_| doc.fresh) else {
        return Vec::new();
    };
    index
        .symbols
        .iter()
        .map(|symbol| DocumentSymbol {
            name: symbol.name.clone(),
            detail: Some(first_line(&symbol.detail)),
            kind: match symbol.kind {
                SymbolKind::Node => LspSymbolKind::FUNCTION,
                SymbolKind::Loop => LspSymbolKind::MODULE,
                SymbolKind::Field => LspSymbolKind::FIELD,
            },
            tags: None,
            deprecated: None,
            range: doc.range(symbol.whole),
            selection_range: doc.range(symbol.at),
            children: None,
        })
        .collect()
}

/// The quick fixes whose edit touches `range`.
pub(super) fn code_actions(
    doc: &Document,
    range: lsp_types::Range,
) -> Vec<lsp_types::CodeActionOrCommand> {
    let (start, end) = (doc.offset(range.start), doc.offset(range.end));
    doc.fixes
        .iter()
        .filter(|fix| fix.at.start <= end && start <= fix.at.end)
        .map(|fix| {
            let edit = TextEdit::new(doc.range(fix.at), fix.replacement.clone());
            lsp_types::CodeActionOrCommand::CodeAction(lsp_types::CodeAction {
                title: fix.title.clone(),
                kind: Some(lsp_types::CodeActionKind::QUICKFIX),
                edit: Some(WorkspaceEdit::new(HashMap::from([(
                    doc.uri.clone(),
                    vec![edit],
                )]))),
                is_preferred: Some(true),
                ..lsp_types::CodeAction::default()
            })
        })
        .collect()
}

/// The edit that formats the whole file, if it parses and is not formatted.
pub(super) fn formatting(doc: &Document) -> Option<Vec<TextEdit>> {
    let source = crate::source::SourceFile::new(doc.uri.as_str(), doc.text.as_str());
    let formatted = crate::fmt::format(&source).ok()?;
    if formatted == doc.text {
        return Some(Vec::new());
    }
    let whole = doc.range(crate::span::Span::new(0, doc.text.len()));
    Some(vec![TextEdit::new(whole, formatted)])
}
