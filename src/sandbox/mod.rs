//! The rhai sandbox: the one place a rhai `Engine` is built, and where guards and scripts
//! are compiled. `compile` compiles through it once; `runtime` evaluates what it compiled.
//! A leaf module: it knows spans, not flows.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage,
    BasicMathPackage, BasicStringPackage, BitFieldPackage, LogicPackage, MoreStringPackage,
    Package,
};
use rhai::{AST, ASTNode, Dynamic, Engine, Expr, ParseErrorType, Scope, Stmt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::span::Span;

mod bounded;
pub(crate) mod loops;
mod names;
mod problem;
mod strict;
mod unknown_names;

pub(crate) use bounded::{SizeLimit, oversized, size_limit};
pub use names::identifier;
pub(crate) use names::{in_code, in_schema, key_of};
pub(crate) use problem::Problem;
pub(crate) use strict::{RefusedComparison, refused_comparison};
pub use unknown_names::{MAX_DECLARATIONS, MAX_WORDS};

/// Resource limits for one evaluation of a guard or script. Every one is finite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// rhai operations per evaluation: bounds loops and recursion in time.
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// Expression nesting, at top level and inside functions.
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one list.
    pub max_array_size: usize,
    /// Entries in one object map.
    pub max_map_size: usize,
    /// One value with everything it holds, nested: at most this many list elements, and at
    /// most this many map entries (rhai counts the two apart).
    pub max_total_size: usize,
    /// Bytes of all the strings in one value, nested.
    pub max_total_string_size: usize,
    /// Wall-clock milliseconds one script or guard may run (enforced by the engine's
    /// progress hook at run time).
    pub max_wall_time_ms: u64,
}

/// The stack of an evaluation whose depth limits are raised ([`Limits::needs_large_stack`]):
/// enough for every limit at its ceiling, nested calls each nesting expressions as deep as
/// allowed, in an unoptimized build. Only the pages touched are ever committed.
pub const EVALUATION_STACK: usize = 512 * 1024 * 1024;

/// Why [`Limits::set`] refused a setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// No limit has that name.
    Unknown,
    /// A depth limit asked for more than the stack can hold (or for none, `0`).
    AboveCeiling { name: &'static str, ceiling: usize },
}

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitError::Unknown => write!(f, "no sandbox limit has that name"),
            LimitError::AboveCeiling { name, ceiling } => write!(
                f,
                "`{name}` can be raised to {ceiling} at most (deeper would overflow the stack)"
            ),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 10_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 1024 * 1024,
            max_array_size: 1_000_000,
            max_map_size: 100_000,
            max_total_size: 2_000_000,
            max_total_string_size: 64 * 1024 * 1024,
            max_wall_time_ms: 10_000,
        }
    }
}

impl Limits {
    /// The limits' names (their field names), as settings such as `flowc run --limit` spell
    /// them.
    pub fn names() -> Vec<String> {
        Limits::default()
            .fields()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// How far each depth limit may be raised: deeper recursion or nesting would overflow
    /// the evaluation's stack (a crash, not an error), so a larger value (or `0`, which
    /// rhai reads as "no limit") is refused. See [`Limits::needs_large_stack`].
    pub const CEILINGS: [(&'static str, usize); 3] = [
        ("max_call_levels", 256),
        ("max_expr_depth", 512),
        ("max_function_expr_depth", 256),
    ];

    /// Sets the limit called `name` to `value`. A value beyond what the platform counts
    /// (`usize`) is as good as no limit; a depth limit above its ceiling is refused.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), LimitError> {
        let mut fields = self.fields();
        let Some(field) = fields.get_mut(name) else {
            return Err(LimitError::Unknown);
        };
        if let Some(&(name, ceiling)) = Self::CEILINGS.iter().find(|(n, _)| *n == name)
            && (value == 0 || value > ceiling as u64)
        {
            return Err(LimitError::AboveCeiling { name, ceiling });
        }
        *field = value
            .min(u64::try_from(usize::MAX).unwrap_or(u64::MAX))
            .into();
        *self = serde_json::from_value(Value::Object(fields))
            .expect("every limit is a whole number up to usize::MAX");
        Ok(())
    }

    /// The depth limits held to their ceilings, for limits set field by field (an embedder's
    /// `RunOptions::limits`) rather than through [`Limits::set`].
    fn ceiled(name: &str, value: usize) -> usize {
        let ceiling = Self::CEILINGS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(usize::MAX, |&(_, ceiling)| ceiling);
        if value == 0 {
            ceiling
        } else {
            value.min(ceiling)
        }
    }

    /// Whether the depth limits are raised past the defaults, so deep that an evaluation needs
    /// more stack than a thread's usual 2 MiB: such evaluations run on a thread of their own
    /// with [`EVALUATION_STACK`] bytes of stack.
    pub fn needs_large_stack(&self) -> bool {
        let defaults = Limits::default();
        let calls = Self::ceiled("max_call_levels", self.max_call_levels);
        let expr = Self::ceiled("max_expr_depth", self.max_expr_depth);
        let function = Self::ceiled("max_function_expr_depth", self.max_function_expr_depth);
        calls > defaults.max_call_levels
            || expr > defaults.max_expr_depth
            || function > defaults.max_function_expr_depth
    }

    fn fields(&self) -> serde_json::Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields,
            _ => unreachable!("a struct of numbers serializes as an object"),
        }
    }
}

/// Builds the sandboxed engine. `Engine::new_raw` has no module resolver, no print to
/// stdout and no packages; only pure packages are added back (no time, no `sleep`).
/// `strict` makes every name that is neither declared in the compile scope nor a local an
/// error at compile time: that is how unknown state fields are found.
pub fn engine(limits: &Limits, strict: bool) -> Engine {
    let mut engine = Engine::new_raw();
    for package in [
        ArithmeticPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
        BasicFnPackage::new().as_shared_module(),
        BitFieldPackage::new().as_shared_module(),
    ] {
        engine.register_global_module(package);
    }
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(Limits::ceiled("max_call_levels", limits.max_call_levels))
        .set_max_expr_depths(
            Limits::ceiled("max_expr_depth", limits.max_expr_depth),
            Limits::ceiled("max_function_expr_depth", limits.max_function_expr_depth),
        )
        // rhai's size checks count a value with everything nested in it: they bound the
        // totals. The per-string, per-list and per-map limits are `bounded`'s.
        .set_max_string_size(limits.max_total_string_size)
        .set_max_array_size(limits.max_total_size)
        .set_max_map_size(limits.max_total_size)
        .set_strict_variables(strict)
        .set_fail_on_invalid_map_property(true);
    // Comparisons of mismatched types are errors (`strict`), in guards and scripts alike. The
    // overloads that say so win over rhai's built-in operators only with fast operators off,
    // and only then does the optimizer leave `"x" > 3` alone rather than fold it to `false`.
    strict::register(&mut engine);
    bounded::register(&mut engine, limits);
    engine.set_fast_operators(false);
    engine.disable_symbol("eval");
    engine.disable_symbol("import");
    engine.disable_symbol("export");
    engine
}

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
            at: Span::new(span.start + at.start, span.start + at.end),
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
    let result = match kind {
        CodeKind::Guard => engine.compile_expression_with_scope(&scope, text),
        CodeKind::Script => engine.compile_with_scope(&scope, text),
    };
    let error = match result {
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
            let strict = match kind {
                CodeKind::Guard => engine.compile_expression_with_scope(&scope, text).err(),
                CodeKind::Script => engine.compile_with_scope(&scope, text).err(),
            };
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
        let result = match kind {
            CodeKind::Guard => engine.compile_expression_with_scope(&scope, text),
            CodeKind::Script => engine.compile_with_scope(&scope, text),
        };
        let Err(error) = result else {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_guard(text: &str, known: &[&str]) -> Result<CompiledCode, CodeError> {
        let known: Vec<String> = known.iter().map(ToString::to_string).collect();
        let engine = engine(&Limits::default(), !known.is_empty());
        compile(
            &engine,
            CodeKind::Guard,
            text,
            Span::new(0, text.len()),
            &known,
        )
    }

    #[test]
    fn guard_names_are_the_variables_it_reads() {
        let code = compile_guard("a < b && c.len() > 2 && a > 0", &[]).expect("valid guard");
        assert_eq!(code.names, ["a", "b", "c"]);
    }

    #[test]
    fn every_unknown_name_is_reported_in_one_pass() {
        let error = compile_guard("anomaly_cnt <= treshold && n > 0", &["n", "threshold"]);
        let Err(CodeError::UnknownNames(names)) = error else {
            panic!("expected unknown names")
        };
        let names: Vec<_> = names.iter().map(|(n, s)| (n.as_str(), s.start)).collect();
        assert_eq!(names, [("anomaly_cnt", 0), ("treshold", 15)]);
    }

    #[test]
    fn script_locals_are_not_state_names() {
        let text = "let total = 0; for r in rows { total += r }; sum = total";
        let engine = engine(&Limits::default(), false);
        let code = compile(
            &engine,
            CodeKind::Script,
            text,
            Span::new(0, text.len()),
            &[],
        )
        .expect("valid script");
        assert_eq!(code.names, ["rows", "sum"]);
    }

    #[test]
    fn limits_are_set_by_name() {
        let mut limits = Limits::default();
        assert_eq!(limits.set("max_map_size", 9), Ok(()));
        assert_eq!(limits.max_map_size, 9);
        assert_eq!(limits.set("max_speed", 9), Err(LimitError::Unknown));
        for value in [0, 257, u64::MAX] {
            assert_eq!(
                limits.set("max_call_levels", value),
                Err(LimitError::AboveCeiling {
                    name: "max_call_levels",
                    ceiling: 256
                })
            );
        }
        assert_eq!(
            limits,
            Limits {
                max_map_size: 9,
                ..Limits::default()
            }
        );
    }

    #[test]
    fn statements_are_not_guards() {
        assert!(matches!(
            compile_guard("let x = 1", &[]),
            Err(CodeError::Syntax { .. })
        ));
    }

    #[test]
    fn eval_and_import_are_refused_at_compile_time() {
        let engine = engine(&Limits::default(), false);
        for text in ["eval(\"1\")", "import \"x\" as y;"] {
            let result = compile(
                &engine,
                CodeKind::Script,
                text,
                Span::new(0, text.len()),
                &[],
            );
            assert!(
                matches!(result, Err(CodeError::Syntax { .. })),
                "{text} compiled"
            );
        }
    }
}
