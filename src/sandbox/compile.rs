//! Compiling a guard or script once: the rewrite of keys rhai cannot read, rhai's parse,
//! every unknown name in one pass, and the state names the code uses.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use rhai::{AST, ASTNode, Dynamic, Engine, Expr, ParseErrorType, Scope, Stmt};
use serde::Serialize;

use super::names::{self, in_code, key_of};
use super::unknown_names;
use crate::span::Span;

/// A guard or script compiled once, with the state names it reads or writes.
#[derive(Clone, Debug)]
pub struct CompiledCode {
    pub text: String,
    pub span: Span,
    /// Free names the code uses (state fields it reads or assigns), sorted.
    pub names: Vec<String>,
    pub ast: Arc<AST>,
    /// The text rhai compiled, when it differs from `text` (`sandbox/names.rs`).
    rewrite: Option<Arc<names::Rewrite>>,
}

impl CompiledCode {
    /// Where a rhai position in this code is in the file.
    pub fn point(&self, pos: rhai::Position) -> Span {
        match &self.rewrite {
            Some(rewrite) if !pos.is_none() => {
                let at = Span::new(0, rewrite.text.len()).point_in(&rewrite.text, pos);
                within(self.span, rewrite.original(at))
            }
            _ => self.span.point_in(&self.text, pos),
        }
    }

    /// A rhai message about this code, with the state keys as the code names them.
    pub fn message(&self, message: String) -> String {
        match self.rewrite {
            Some(_) => names::plain_message(message),
            None => message,
        }
    }
}

/// `at`, relative to the text of `span`, as a span of the file.
fn within(span: Span, at: Span) -> Span {
    let start = (span.start + at.start).min(span.end);
    Span::new(start, (span.start + at.end).clamp(start, span.end))
}

impl Serialize for CompiledCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Code", 3)?;
        out.serialize_field("text", &self.text)?;
        out.serialize_field("span", &self.span)?;
        out.serialize_field("names", &self.names)?;
        out.end()
    }
}

/// Why rhai refused a guard or script.
#[derive(Clone, Debug, PartialEq)]
pub enum CodeError {
    /// Not valid rhai (or not an expression, for a guard).
    Syntax { reason: String, at: Span },
    /// Names that are neither known fields nor locals (only in strict mode).
    UnknownNames(Vec<(String, Span)>),
}

/// What kind of code is compiled: a guard is one expression, a script is statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    Guard,
    Script,
}

/// Compiles a guard or script. `known` are the names in scope: the [`identifier`]s of the
/// state's declared keys. With a strict engine, each other free name is reported, all of them
/// at once. Keys rhai cannot read as written are reached through a rewrite (`sandbox/names.rs`);
/// what this returns names keys and points into `text`.
pub fn compile(
    engine: &Engine,
    kind: CodeKind,
    text: &str,
    span: Span,
    known: &[String],
) -> Result<CompiledCode, CodeError> {
    if let Some((at, reason)) = unknown_names::too_big(text) {
        return Err(CodeError::Syntax {
            reason,
            at: within(span, at),
        });
    }
    let rewrite = names::rewrite(text, known);
    let (rhai_text, rhai_span) = match &rewrite {
        Some(rewrite) => (rewrite.text.as_str(), Span::new(0, rewrite.text.len())),
        None => (text, span),
    };
    let back = |at: Span| match &rewrite {
        Some(rewrite) => within(span, rewrite.original(at)),
        None => at,
    };
    match compile_rhai(engine, kind, rhai_text, rhai_span, known) {
        Ok(mut code) => {
            if let Some(rewrite) = rewrite {
                text.clone_into(&mut code.text);
                code.span = span;
                code.names = code.names.iter().map(|n| key_of(n).into_owned()).collect();
                code.rewrite = Some(Arc::new(rewrite));
            }
            Ok(code)
        }
        Err(CodeError::Syntax { reason, at }) => Err(CodeError::Syntax {
            reason: names::plain_message(reason),
            at: back(at),
        }),
        Err(CodeError::UnknownNames(unknown)) => Err(CodeError::UnknownNames(
            unknown
                .into_iter()
                .map(|(name, at)| {
                    let replaced = rewrite.as_ref().and_then(|r| r.replaced(at));
                    let at = replaced.map_or_else(
                        || {
                            let start = back(at).start;
                            Span::new(start, (start + name.len()).min(span.end))
                        },
                        |from| within(span, from),
                    );
                    (key_of(&name).into_owned(), at)
                })
                .collect(),
        )),
    }
}

fn compile_rhai(
    engine: &Engine,
    kind: CodeKind,
    text: &str,
    span: Span,
    known: &[String],
) -> Result<CompiledCode, CodeError> {
    let mut scope = Scope::new();
    for name in known {
        // Declared, not constant: the optimizer would fold a constant's value into the AST.
        scope.push_dynamic(name.as_str(), Dynamic::UNIT);
    }
    let error = match parse(engine, kind, &scope, text) {
        Ok(ast) => {
            let names = free_names(&ast, known, engine.strict_variables());
            return Ok(CompiledCode {
                text: text.to_owned(),
                span,
                names,
                ast: Arc::new(ast),
                rewrite: None,
            });
        }
        Err(error) => error,
    };
    // Strict mode stops at the first unknown name; one lenient parse finds them all.
    let ParseErrorType::VariableUndefined(first) = error.err_type() else {
        return Err(syntax(&error, kind, text, span));
    };
    let mut unknown = match unknown_names::unknown_names(engine, kind, text, span, known) {
        Ok(unknown) if !unknown.ask_strict && unknown.names.iter().any(|(n, _)| n == first) => {
            return Err(CodeError::UnknownNames(unknown.names));
        }
        Ok(unknown) => unknown.names,
        // Strict mode meets the same syntax error, unless a module path comes first.
        Err(error) if !text.contains("::") => return Err(syntax(&error, kind, text, span)),
        Err(lenient) => {
            let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            for word in words.collect::<BTreeSet<_>>() {
                scope.push_dynamic(word, Dynamic::UNIT);
            }
            let strict = parse(engine, kind, &scope, text).err();
            return Err(syntax(
                strict.as_ref().unwrap_or(&lenient),
                kind,
                text,
                span,
            ));
        }
    };
    // What only a strict compile tells: a module path (a syntax error), or a script
    // function's name used before the function is written (an unknown name). Compile
    // again with the names found declared, and once more per name it still stops at.
    for (name, _) in &unknown {
        scope.push_dynamic(name.as_str(), Dynamic::UNIT);
    }
    loop {
        let Err(error) = parse(engine, kind, &scope, text) else {
            return Err(CodeError::UnknownNames(unknown));
        };
        match error.err_type() {
            ParseErrorType::VariableUndefined(name) if !scope.contains(name) => {
                let at = span.point_in(text, error.position());
                let place = unknown.partition_point(|(_, found)| found.start < at.start);
                unknown.insert(place, (name.clone(), at));
                scope.push_dynamic(name.clone(), Dynamic::UNIT);
            }
            _ => return Err(syntax(&error, kind, text, span)),
        }
    }
}

/// One rhai parse of `text` as the kind of code it is, with `scope`'s names declared.
pub(super) fn parse(
    engine: &Engine,
    kind: CodeKind,
    scope: &Scope<'_>,
    text: &str,
) -> Result<AST, rhai::ParseError> {
    match kind {
        CodeKind::Guard => engine.compile_expression_with_scope(scope, text),
        CodeKind::Script => engine.compile_with_scope(scope, text),
    }
}

fn syntax(error: &rhai::ParseError, kind: CodeKind, text: &str, span: Span) -> CodeError {
    CodeError::Syntax {
        reason: describe(error.err_type(), kind),
        at: span.point_in(text, error.position()),
    }
}

pub(crate) fn describe(error: &ParseErrorType, kind: CodeKind) -> String {
    let what = match kind {
        CodeKind::Guard => "the expression",
        CodeKind::Script => "the script",
    };
    match error {
        ParseErrorType::UnexpectedEOF => format!("{what} ends too early"),
        // Other languages' null: the hint for it (`()`) says what to write.
        ParseErrorType::Reserved(word) if matches!(word.as_str(), "null" | "nil") => {
            format!("`{word}` is reserved in rhai")
        }
        ParseErrorType::Reserved(word) => format!(
            "`{word}` is reserved in rhai: write a state field called `{word}` as `{}` (bare \
             once declared in `state {{ … }}`), and a map key as a string \
             (`#{{ \"{word}\": 1 }}`, `m[\"{word}\"]`)",
            in_code(word, false)
        ),
        ParseErrorType::BadInput(_)
            if kind == CodeKind::Guard && error.to_string().contains("';'") =>
        {
            "a guard is one expression; `;` ends a statement".to_owned()
        }
        _ => error.to_string(),
    }
}

/// Names the code reads or assigns that it does not declare itself. In strict mode every
/// such name is a known field, so the known fields it mentions are the answer.
fn free_names(ast: &AST, known: &[String], strict: bool) -> Vec<String> {
    let mut used = BTreeSet::new();
    let mut declared = BTreeSet::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(Expr::Variable(variable, ..))) => {
                used.insert(variable.1.to_string());
            }
            Some(ASTNode::Stmt(Stmt::Var(declaration, ..))) => {
                declared.insert(declaration.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(for_loop, ..))) => {
                declared.insert(for_loop.0.name.to_string());
                declared.extend(for_loop.1.as_ref().map(|counter| counter.name.to_string()));
            }
            _ => {}
        }
        true
    });
    for function in ast.iter_functions() {
        declared.extend(function.params.iter().map(ToString::to_string));
    }
    if strict {
        let known: HashSet<&str> = known.iter().map(String::as_str).collect();
        used.retain(|name| known.contains(name.as_str()));
    } else {
        used.retain(|name| !declared.contains(name));
    }
    used.into_iter().collect()
}
