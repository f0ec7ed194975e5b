//! The unknown names of a guard or script, all of them in one parse.
//!
//! rhai's strict mode stops at the first variable it cannot resolve, so asking it again
//! after declaring each one took one compile per name: time cubic in their number (43 KB of
//! unknown names took 112 s). Here the code is parsed once by a lenient engine, and the
//! variables rhai left unresolved are read off the syntax tree: the same names, at the same
//! positions, in the same order as strict mode finds them one by one.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use rhai::{AST, ASTNode, Engine, Expr, OptimizationLevel, ParseError, Position};

use super::CodeKind;
use crate::span::Span;

/// What the lenient engine is built from: the limits that decide whether rhai can parse a
/// text at all (nesting depth, literal sizes).
type ParseLimits = (usize, usize, usize, usize, usize);

fn parse_limits(engine: &Engine) -> ParseLimits {
    (
        engine.max_expr_depth(),
        engine.max_function_expr_depth(),
        engine.max_string_size(),
        engine.max_array_size(),
        engine.max_map_size(),
    )
}

/// Parses `text` as `strict` would, but without strict variables and without the
/// optimizer, which drops dead code (`if false { x }`) that strict mode still checks.
fn parse_leniently(strict: &Engine, kind: CodeKind, text: &str) -> Result<AST, ParseError> {
    thread_local! {
        static LENIENT: RefCell<Option<(ParseLimits, Engine)>> = const { RefCell::new(None) };
    }
    let limits = parse_limits(strict);
    LENIENT.with_borrow_mut(|cached| {
        if cached.as_ref().is_none_or(|(built, _)| *built != limits) {
            let mut engine = Engine::new_raw();
            engine
                .set_max_expr_depths(limits.0, limits.1)
                .set_max_string_size(limits.2)
                .set_max_array_size(limits.3)
                .set_max_map_size(limits.4)
                .set_strict_variables(false)
                .set_optimization_level(OptimizationLevel::None);
            for symbol in ["eval", "import", "export"] {
                engine.disable_symbol(symbol);
            }
            *cached = Some((limits, engine));
        }
        let engine = &cached.as_ref().expect("built above").1;
        match kind {
            CodeKind::Guard => engine.compile_expression(text),
            CodeKind::Script => engine.compile(text),
        }
    })
}

/// The most variables (`let` and `const`) one guard or script may declare. rhai's parser and
/// optimizer look a name up by scanning every variable declared before it, so a script of
/// n declarations took time quadratic in n (40,000 in 1 MB: 78 s); with this bound a
/// script's compile is linear in its length.
pub const MAX_DECLARATIONS: usize = 500;

/// The most distinct words (names, keywords, words in strings) in one guard or script:
/// rhai keeps the names it cannot resolve in a list it scans for each new one, which is
/// quadratic in their number.
pub const MAX_WORDS: usize = 10_000;

/// The first word of `text` (its span in `text`) that goes past [`MAX_DECLARATIONS`] or [`MAX_WORDS`], and which: one
/// pass over the words of the text, strings and comments included (a bound, not a parse).
pub(super) fn too_big(text: &str) -> Option<(Span, String)> {
    let mut declarations = 0;
    let mut words = HashSet::new();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut at = 0;
    for piece in text.split_inclusive(|c: char| !is_word(c)) {
        let word = piece.trim_end_matches(|c: char| !is_word(c));
        if matches!(word, "let" | "const") {
            declarations += 1;
            if declarations > MAX_DECLARATIONS {
                return Some((
                    Span::new(at, at + word.len()),
                    format!(
                        "more than {MAX_DECLARATIONS} variables are declared (`let`, `const`); split the work into several nodes"
                    ),
                ));
            }
        }
        if !word.is_empty() && words.insert(word) && words.len() > MAX_WORDS {
            return Some((
                Span::new(at, at + word.len()),
                format!(
                    "more than {MAX_WORDS} different names are used; split the work into several nodes"
                ),
            ));
        }
        at += piece.len();
    }
    None
}

/// What the walk found.
pub(super) struct Unknown {
    /// Every name strict mode rejects, at its first rejected use, in source order.
    pub(super) names: Vec<(String, Span)>,
    /// Whether only a strict compile can tell the rest: the code names a module path
    /// (`m::x`, a syntax error in strict mode), or uses a script function's name as a
    /// variable (rejected only before the function is written, and the tree does not say
    /// where that is).
    pub(super) ask_strict: bool,
}

/// The names strict mode rejects in `text`; or the syntax error the text has, the one
/// strict mode meets once every name is declared.
///
/// A variable is rejected when rhai resolved it to no local, it is not `known`, and no
/// script function has its name. Closure bodies are left out: rhai checks a closure's
/// captured variables where the closure is written, as the arguments of the `curry` call
/// it becomes, which are walked with the code around them.
pub(super) fn unknown_names(
    strict: &Engine,
    kind: CodeKind,
    text: &str,
    span: Span,
    known: &[String],
) -> Result<Unknown, ParseError> {
    let ast = parse_leniently(strict, kind, text)?;
    let functions: HashSet<String> = ast.iter_functions().map(|f| f.name.to_owned()).collect();
    let known: HashSet<&str> = known.iter().map(String::as_str).collect();
    let mut first_use: HashMap<String, Position> = HashMap::new();
    let mut ask_strict = false;
    let mut visit = |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::FnCall(call, _))) = path.last() {
            ask_strict |= !call.namespace.is_empty();
        }
        if let Some(ASTNode::Expr(Expr::Variable(variable, _, at))) = path.last() {
            let (index, name, namespace, _) = variable.as_ref();
            ask_strict |=
                !namespace.is_empty() || (index.is_none() && functions.contains(name.as_str()));
            if index.is_none()
                && namespace.is_empty()
                && !known.contains(name.as_str())
                && !functions.contains(name.as_str())
            {
                first_use
                    .entry(name.to_string())
                    .and_modify(|first| *first = earliest(*first, *at))
                    .or_insert(*at);
            }
        }
        true
    };
    let mut path = Vec::new();
    for statement in ast.statements() {
        statement.walk(&mut path, &mut visit);
    }
    // The named functions' bodies, in a syntax tree of their own (rhai's
    // `clone_functions_only_filtered` copies every function into an empty module).
    let mut named = rhai::Module::new();
    for function in ast.iter_fn_def() {
        if !function.name.starts_with("anon$") {
            named.set_script_fn(rhai::Shared::clone(function));
        }
    }
    AST::new_from_module(named).walk(&mut visit);

    let mut found: Vec<(String, Position)> = first_use.into_iter().collect();
    found.sort_by_key(|(_, at)| line_column(*at));
    let spans = points_in(span, text, found.iter().map(|(_, at)| *at));
    Ok(Unknown {
        names: found.into_iter().map(|(name, _)| name).zip(spans).collect(),
        ask_strict,
    })
}

fn line_column(at: Position) -> (usize, usize) {
    (at.line().unwrap_or(0), at.position().unwrap_or(0))
}

fn earliest(a: Position, b: Position) -> Position {
    if line_column(b) < line_column(a) {
        b
    } else {
        a
    }
}

/// [`Span::point_in`] for many positions in source order, in one pass over `text`: that
/// function walks from the start of the text to each one, which is quadratic for thousands
/// of names.
fn points_in(span: Span, text: &str, sorted: impl Iterator<Item = Position>) -> Vec<Span> {
    let mut out = Vec::new();
    // The cursor: the `column`-th character (1-based) of `line` is at byte `offset`.
    let (mut line, mut line_start) = (1, 0);
    let (mut column, mut offset) = (1, 0);
    for at in sorted {
        let (Some(want_line), Some(want_column)) = (at.line(), at.position()) else {
            out.push(span);
            continue;
        };
        while line < want_line {
            let Some(end) = text[line_start..].find('\n') else {
                break;
            };
            line_start += end + 1;
            line += 1;
            (column, offset) = (1, line_start);
        }
        if line < want_line {
            out.push(Span::new(span.end, span.end));
            continue;
        }
        while column < want_column {
            match text[offset..].chars().next() {
                Some(c) if c != '\n' => {
                    offset += c.len_utf8();
                    column += 1;
                }
                _ => break,
            }
        }
        let width = text[offset..].chars().next().map_or(0, char::len_utf8);
        out.push(Span::new(span.start + offset, span.start + offset + width));
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rhai::{Dynamic, ParseErrorType, Scope};

    use super::*;
    use crate::sandbox::{CodeError, Limits, compile, engine};

    /// How the unknown names were found before: compile strictly, declare the name strict
    /// mode stopped at, and compile again, until it stops at something else or passes.
    fn one_by_one(kind: CodeKind, text: &str, known: &[String]) -> Result<(), CodeError> {
        let engine = engine(&Limits::default(), true);
        let span = Span::new(0, text.len());
        let mut scope = Scope::new();
        for name in known {
            scope.push_dynamic(name.as_str(), Dynamic::UNIT);
        }
        let mut unknown = Vec::new();
        loop {
            let result = crate::sandbox::compile::parse(&engine, kind, &scope, text);
            match result {
                Ok(_) if unknown.is_empty() => return Ok(()),
                Ok(_) => return Err(CodeError::UnknownNames(unknown)),
                Err(error) => match error.err_type() {
                    ParseErrorType::VariableUndefined(name) if !scope.contains(name) => {
                        // `compile` labels the whole name.
                        let at = span.point_in(text, error.position());
                        let at = Span::new(at.start, (at.start + name.len()).min(span.end));
                        unknown.push((name.clone(), at));
                        scope.push_dynamic(name.clone(), Dynamic::UNIT);
                    }
                    other => {
                        return Err(CodeError::Syntax {
                            reason: crate::sandbox::compile::describe(other, kind),
                            at: span.point_in(text, error.position()),
                        });
                    }
                },
            }
        }
    }

    /// Pieces of rhai that resolve names in every way strict mode knows: locals, shadowing,
    /// blocks, loops, functions (used before and after they are written), closures that
    /// capture, dead code, namespaces, and syntax errors.
    const PIECES: &[&str] = &[
        "let x = 1;",
        "let y = n;",
        "const c = 2;",
        "x = u;",
        "n += 1;",
        "u2 = 3;",
        "{ let x = v; x }",
        "for i in 0..3 { i + w }",
        "if false { dead }",
        "fn g(p) { p + q }",
        "g(1);",
        "let h = g;",
        "let f = |a| a + x + z;",
        "let k = || |b| b + y + deep;",
        "f.call(1);",
        "m::m;",
        "(",
        ")",
        "x",
        "1 +",
        ";",
        "\n",
        "é;",
        "while u3 { break; }",
        "switch n { 1 => u4, _ => () }",
        "#{ a: u5 }.a;",
        "this;",
        "let n = 0;",
        "`${u6}`;",
        "fn t() { this }",
        "u;",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        /// One parse finds what compiling once per name found: the same names at the same
        /// spans in the same order, or the same syntax error.
        #[test]
        fn one_parse_reports_what_one_compile_per_name_reported(
            pieces in prop::collection::vec(prop::sample::select(PIECES), 0..12),
            guard in any::<bool>(),
        ) {
            let text = pieces.join(" ");
            let kind = if guard { CodeKind::Guard } else { CodeKind::Script };
            let known = vec!["n".to_owned(), "w".to_owned()];
            let engine = engine(&Limits::default(), true);
            let ours = compile(&engine, kind, &text, Span::new(0, text.len()), &known).map(|_| ());
            prop_assert_eq!(ours, one_by_one(kind, &text, &known), "{}", text);
        }
    }

    #[test]
    fn code_past_the_size_bounds_is_refused_at_the_word_that_passes_them() {
        let lets = (0..=MAX_DECLARATIONS)
            .map(|i| format!("let v{i} = n; "))
            .collect::<Vec<_>>()
            .concat();
        let (at, reason) = too_big(&lets).expect("one declaration too many");
        assert_eq!(&lets[at.start..at.end], "let");
        assert_eq!(at.start, lets.rfind("let").expect("a let"));
        assert!(reason.contains("variables are declared"), "{reason}");
        assert_eq!(too_big(&lets[..at.start]), None);

        let words = (0..=MAX_WORDS)
            .map(|i| format!("u{i};"))
            .collect::<Vec<_>>()
            .concat();
        let (at, reason) = too_big(&words).expect("one name too many");
        assert_eq!(&words[at.start..at.end], format!("u{MAX_WORDS}"));
        assert!(reason.contains("different names"), "{reason}");
        // Repeating a name adds nothing.
        assert_eq!(too_big(&"x + ".repeat(50_000)), None);
    }

    #[test]
    fn points_in_places_positions_as_point_in_does() {
        let text = "ab\ncé日x\n\r\nlast";
        let span = Span::new(7, 7 + text.len());
        let mut positions = vec![Position::NONE];
        for line in 1..=6 {
            for column in 0..=7 {
                positions.push(Position::new(line, column));
            }
        }
        positions.sort_by_key(|at| line_column(*at));
        let expected: Vec<Span> = positions
            .iter()
            .map(|at| span.point_in(text, *at))
            .collect();
        assert_eq!(points_in(span, text, positions.into_iter()), expected);
    }
}
