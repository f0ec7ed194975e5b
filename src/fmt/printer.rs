//! The canonical layout, printed from the syntax tree and the file's text: four spaces per
//! level, one declaration or chain per line, `state` one field per line, comments and
//! blank-line paragraphs where they were written. A construct with a comment inside it that
//! has no place of its own in the layout (`node a /* x */ = noop`) is kept exactly as written.

use serde_json::Value;

use super::comments::{Comment, Comments};
use super::rhai_text::reindent;
use crate::span::Span;
use crate::syntax::ast::{
    Chain, Code, EdgeCondition, Field, Flow, Item, Literal, LiteralValue, LoopDecl, LoopItem,
    NodeAction, NodeDecl, StateBlock,
};

const INDENT: &str = "    ";

pub(super) struct Printer<'a> {
    text: &'a str,
    comments: Comments,
    out: String,
}

/// One entry of a block: what it is and where it was written.
enum Entry<'t> {
    Item(&'t Item),
    LoopItem(&'t LoopItem),
    Field(&'t Field),
}

impl Entry<'_> {
    fn span(&self) -> Span {
        match self {
            Entry::Item(Item::State(block)) => block.span,
            Entry::Item(Item::Node(node)) => node.span,
            Entry::Item(Item::Loop(body)) | Entry::LoopItem(LoopItem::Loop(body)) => body.span,
            Entry::Item(Item::Chain(chain)) | Entry::LoopItem(LoopItem::Chain(chain)) => chain.span,
            Entry::Field(field) => field.span,
        }
    }
}

impl<'a> Printer<'a> {
    pub(super) fn new(text: &'a str, comments: Comments) -> Self {
        Printer {
            text,
            comments,
            out: String::with_capacity(text.len() + text.len() / 8),
        }
    }

    /// The formatted file, and whether every comment found a place in it.
    pub(super) fn file(mut self, flow: &Flow) -> (String, bool) {
        let keyword = self.comments.skip_blanks(self.text, 0);
        let mut cursor = 0;
        let mut first = true;
        for comment in self.comments.take(Span::new(0, keyword)) {
            self.blank_line_before(&mut cursor, comment.span.start, !first);
            self.comment_line(0, comment);
            cursor = comment.span.end;
            first = false;
        }
        self.blank_line_before(&mut cursor, keyword, !first);
        let open = self.comments.skip_blanks(self.text, flow.name.span.end);
        let close = flow.span.end - 1;
        if self.comments.any_in(Span::new(keyword, open)) {
            let header = &self.text[keyword..=open];
            self.comments.take(Span::new(keyword, open));
            self.out.push_str(header);
        } else {
            self.out.push_str("flow ");
            self.out.push_str(&flow.name.name);
            self.out.push_str(" {");
        }
        let entries: Vec<Entry<'_>> = flow.items.iter().map(Entry::Item).collect();
        self.block(1, &entries, Span::new(open + 1, close));
        self.out.push('}');
        let mut cursor = self.trailing(flow.span.end, self.text.len());
        for comment in self.comments.take(Span::new(cursor, self.text.len())) {
            self.out.push('\n');
            self.blank_line_before(&mut cursor, comment.span.start, true);
            self.out.push_str(self.slice(comment.span));
            cursor = comment.span.end;
        }
        self.out.push('\n');
        let complete = self.comments.all_placed();
        (self.out, complete)
    }

    /// The entries of a `{ … }` whose inside is `inner`, each on its own line at `level`,
    /// with the comments between them; the opening brace is already printed.
    fn block(&mut self, level: usize, entries: &[Entry<'_>], inner: Span) {
        let indent = INDENT.repeat(level);
        if entries.is_empty() && !self.comments.any_in(inner) {
            return;
        }
        let limit = entries
            .first()
            .map_or(inner.end, |entry| entry.span().start);
        let mut cursor = self.trailing(inner.start, limit);
        self.out.push('\n');
        let mut first = true;
        for (index, entry) in entries.iter().enumerate() {
            let span = entry.span();
            for comment in self.comments.take(Span::new(cursor, span.start)) {
                self.blank_line_before(&mut cursor, comment.span.start, !first);
                self.comment_line(level, comment);
                cursor = comment.span.end;
                first = false;
            }
            self.blank_line_before(&mut cursor, span.start, !first);
            first = false;
            self.out.push_str(&indent);
            self.entry(level, entry);
            let next = entries
                .get(index + 1)
                .map_or(inner.end, |next| next.span().start);
            cursor = self.trailing(span.end, next);
            self.out.push('\n');
        }
        for comment in self.comments.take(Span::new(cursor, inner.end)) {
            self.blank_line_before(&mut cursor, comment.span.start, !first);
            self.comment_line(level, comment);
            cursor = comment.span.end;
            first = false;
        }
        self.out.push_str(&INDENT.repeat(level - 1));
    }

    /// A block written on one line with no comment in it stays on one line (`state { n: int
    /// = 0 }`, `loop l max 3 { a -> b } until done`), its entries separated by `separator`;
    /// whether it was.
    fn on_one_line(
        &mut self,
        inner: Span,
        separator: &str,
        level: usize,
        entries: &[Entry<'_>],
    ) -> bool {
        if entries.is_empty() || self.slice(inner).contains('\n') || self.comments.any_in(inner) {
            return false;
        }
        self.out.push(' ');
        for (index, entry) in entries.iter().enumerate() {
            if index > 0 {
                self.out.push_str(separator);
            }
            self.entry(level, entry);
        }
        self.out.push(' ');
        true
    }

    /// Comments on the line where a construct ends (before `limit`), after it; returns where
    /// the last of them ends.
    fn trailing(&mut self, end: usize, limit: usize) -> usize {
        let line_end = self.text[end..limit]
            .find('\n')
            .map_or(limit, |at| end + at);
        let mut cursor = end;
        for comment in self.comments.take(Span::new(end, line_end)) {
            self.out.push(' ');
            self.out
                .push_str(&self.text[comment.span.start..comment.span.end]);
            cursor = comment.span.end;
        }
        cursor
    }

    /// An empty line when the text had one between `cursor` and `next` (and `allowed`).
    fn blank_line_before(&mut self, cursor: &mut usize, next: usize, allowed: bool) {
        if allowed && self.text[*cursor..next].matches('\n').count() >= 2 {
            self.out.push('\n');
        }
        *cursor = next;
    }

    fn comment_line(&mut self, level: usize, comment: Comment) {
        self.out.push_str(&INDENT.repeat(level));
        self.out
            .push_str(&self.text[comment.span.start..comment.span.end]);
        self.out.push('\n');
    }

    fn entry(&mut self, level: usize, entry: &Entry<'_>) {
        match entry {
            Entry::Item(Item::State(block)) => self.state(level, block),
            Entry::Item(Item::Node(node)) => self.node(level, node),
            Entry::Item(Item::Loop(body)) | Entry::LoopItem(LoopItem::Loop(body)) => {
                self.loop_decl(level, body);
            }
            Entry::Item(Item::Chain(chain)) | Entry::LoopItem(LoopItem::Chain(chain)) => {
                self.chain(chain);
            }
            Entry::Field(field) => self.field(field),
        }
    }

    /// Prints a construct as written, if a comment inside it has no place in the layout.
    fn as_written_if_commented(&mut self, span: Span) -> bool {
        if !self.comments.any_in(span) {
            return false;
        }
        self.comments.take(span);
        self.out.push_str(&self.text[span.start..span.end]);
        true
    }

    fn state(&mut self, level: usize, block: &StateBlock) {
        let open = self
            .comments
            .skip_blanks(self.text, block.span.start + "state".len());
        if self.as_written_if_commented(Span::new(block.span.start, open)) {
            return;
        }
        self.out.push_str("state {");
        let entries: Vec<Entry<'_>> = block.fields.iter().map(Entry::Field).collect();
        let inner = Span::new(open + 1, block.span.end - 1);
        if !self.on_one_line(inner, ", ", level, &entries) {
            self.block(level + 1, &entries, inner);
        }
        self.out.push('}');
    }

    fn field(&mut self, field: &Field) {
        if self.as_written_if_commented(field.span) {
            return;
        }
        self.out.push_str(self.slice(field.name.span));
        self.out.push_str(": ");
        self.out.push_str(self.slice(field.ty.span));
        if field.nullable {
            self.out.push('?');
        }
        if let Some(default) = &field.default {
            self.out.push_str(" = ");
            self.literal(default);
        }
    }

    fn node(&mut self, level: usize, node: &NodeDecl) {
        if self.as_written_if_commented(node.span) {
            return;
        }
        self.out.push_str("node ");
        self.out.push_str(&node.name.name);
        match &node.action {
            NodeAction::Junction => {}
            NodeAction::Tool(call) => {
                self.out.push_str(" = ");
                self.out.push_str(&call.name.name);
                if !call.args.is_empty() {
                    self.out.push('(');
                    for (index, arg) in call.args.iter().enumerate() {
                        if index > 0 {
                            self.out.push_str(", ");
                        }
                        self.out.push_str(&arg.name.name);
                        self.out.push_str(": ");
                        self.literal(&arg.value);
                    }
                    self.out.push(')');
                }
            }
            NodeAction::Script(code) => {
                self.out.push(' ');
                self.script(level, code);
            }
        }
        for attr in &node.attrs {
            self.out.push(' ');
            let words: Vec<&str> = self.slice(attr.span).split_whitespace().collect();
            self.out.push_str(&words.join(" "));
        }
    }

    /// `{ code }` when it was written on one line, else the code's lines one level in; as
    /// written when a line break is part of a string.
    fn script(&mut self, level: usize, code: &Code) {
        let trimmed = code.text.trim();
        // Between the code and its `}` there are only blanks.
        let after = &self.text[code.span.end..];
        let before_brace = &after[..after.len() - after.trim_start().len()];
        let on_one_line = !code.text.contains('\n') && !before_brace.contains('\n');
        if trimmed.is_empty() {
            self.out.push_str("{}");
        } else if on_one_line {
            self.out.push_str("{ ");
            self.out.push_str(trimmed);
            self.out.push_str(" }");
        } else if let Some(lines) = reindent(&code.text, &INDENT.repeat(level + 1)) {
            self.out.push_str("{\n");
            for line in lines {
                self.out.push_str(&line);
                self.out.push('\n');
            }
            self.out.push_str(&INDENT.repeat(level));
            self.out.push('}');
        } else {
            self.out.push('{');
            self.out.push_str(&code.text);
            self.out.push('\n');
            self.out.push_str(&INDENT.repeat(level));
            self.out.push('}');
        }
    }

    fn loop_decl(&mut self, level: usize, body: &LoopDecl) {
        let head = Span::new(body.span.start, body.body_span.start);
        let tail = Span::new(body.body_span.end, body.until.span.start);
        if self.comments.any_in(head) || self.comments.any_in(tail) {
            self.comments.take(body.span);
            self.out.push_str(self.slice(body.span));
            return;
        }
        self.out.push_str("loop ");
        self.out.push_str(&body.name.name);
        if let Some(max) = &body.max {
            self.out.push_str(" max ");
            self.out.push_str(self.slice(max.span));
        }
        self.out.push_str(" {");
        let entries: Vec<Entry<'_>> = body.body.iter().map(Entry::LoopItem).collect();
        let inner = Span::new(body.body_span.start + 1, body.body_span.end - 1);
        if !self.on_one_line(inner, "; ", level, &entries) {
            self.block(level + 1, &entries, inner);
        }
        self.out.push_str("} until ");
        self.out.push_str(body.until.text.trim());
    }

    fn chain(&mut self, chain: &Chain) {
        if self.as_written_if_commented(chain.span) {
            return;
        }
        for (index, endpoint) in chain.endpoints.iter().enumerate() {
            if index > 0 {
                self.out.push_str(" -> ");
            }
            self.out.push_str(self.slice(endpoint.span()));
        }
        match &chain.condition {
            Some(EdgeCondition::When(guard)) => {
                self.out.push_str(" when ");
                self.out.push_str(guard.text.trim());
            }
            Some(EdgeCondition::OnError(_)) => self.out.push_str(" on error"),
            None => {}
        }
    }

    /// A literal as written when it is on one line; a literal written over several lines is
    /// printed on one.
    fn literal(&mut self, literal: &Literal) {
        let written = self.slice(literal.span);
        match &literal.value {
            LiteralValue::Json(value) if written.contains('\n') => json(&mut self.out, value),
            _ => self.out.push_str(written),
        }
    }

    fn slice(&self, span: Span) -> &'a str {
        &self.text[span.start..span.end]
    }
}

/// `{"a": [1, 2]}`: JSON on one line with a space after each `:` and `,`.
fn json(out: &mut String, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                json(out, item);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                json(out, item);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
