//! Guards and scripts against the sandbox engine. One engine per run (reused by later runs),
//! built by `sandbox::engine`, with the run's hooks: `print`/`debug` into the step's output,
//! and a progress hook for cancellation and wall-clock limits. Guards and scripts are
//! evaluated with rhai's fast operators off, so that the sandbox's strict comparisons apply.
//!
//! A step pushes only the state slots its code names into one reused `Scope`: a guard
//! borrows the values (moved out of the state as constants, moved back after: no copy, and
//! a guard cannot change the state), a script gets copies of the values it names and writes
//! back the ones that changed.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope};

use crate::cancel::CancelToken;
use crate::runtime::failure::limit_value;
pub(crate) use crate::runtime::failure::{CodeFailure, Deadline, LoopItem};
use crate::runtime::state::State;
use crate::sandbox::loops::{self, LoopTrace};
use crate::sandbox::{self, CompiledCode, Limits, Problem, RefusedComparison, SizeLimit};
use crate::span::Span;
use crate::sync::lock;
use crate::value::Kind;

/// Print lines kept per step; the rest are counted.
const MAX_OUTPUT_LINES: usize = 1000;

/// Bytes of print output kept per step (a line is cut to what is left); the rest is counted.
const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// How deeply lists and maps a script writes into the state may nest (as `serde_json`'s
/// parser allows for JSON input).
pub(crate) const MAX_VALUE_DEPTH: usize = 128;

/// What the progress hook reads: set before each evaluation.
struct Control {
    /// The current run's token (an engine is reused by later runs of one interpreter).
    cancel: Mutex<CancelToken>,
    base: Instant,
    /// Nanoseconds after `base`; `u64::MAX` for none.
    deadline: AtomicU64,
    reason: AtomicU8,
}

/// Lines printed by `print` and `debug` during the current step.
#[derive(Default)]
struct Output {
    lines: Vec<String>,
    bytes: usize,
    dropped: usize,
}

/// The engine of one run, its scope and hooks. Reused by the next run of the same
/// interpreter (see [`Sandbox::begin`]): building an engine is most of a short run's cost.
pub(crate) struct Sandbox {
    engine: Engine,
    scope: Scope<'static>,
    control: Arc<Control>,
    /// The token the progress hook reads (a copy, compared without the lock).
    cancel: CancelToken,
    output: Arc<Mutex<Output>>,
    limits: Limits,
    /// Whether evaluations need a stack of their own ([`Limits::needs_large_stack`]).
    large_stack: bool,
    /// The list loops of the current evaluation.
    loops: Arc<LoopTrace>,
    /// Slots pushed for the current evaluation, in scope order.
    pushed: Vec<usize>,
    /// Values taken back from the scope after a script, and whether each one changed.
    values: Vec<Dynamic>,
    changed: Vec<bool>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    pub(crate) fn new(limits: &Limits, cancel: &CancelToken) -> Self {
        let mut engine = sandbox::engine(limits, false);
        let control = Arc::new(Control {
            cancel: Mutex::new(cancel.clone()),
            base: Instant::now(),
            deadline: AtomicU64::new(u64::MAX),
            reason: AtomicU8::new(0),
        });
        let loops = loops::register(&mut engine);
        let hook = Arc::clone(&control);
        let counted = Arc::clone(&loops);
        engine.on_progress(move |operations| {
            counted.count(operations);
            if operations % 256 != 1 {
                return None;
            }
            if lock(&hook.cancel).is_cancelled() {
                return Some(Dynamic::from_int(0));
            }
            let deadline = hook.deadline.load(Ordering::Relaxed);
            let now = u64::try_from(hook.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            (deadline != u64::MAX && now >= deadline).then(|| Dynamic::from_int(1))
        });
        let output = Arc::new(Mutex::new(Output::default()));
        let printed = Arc::clone(&output);
        engine.on_print(move |text| push_line(&printed, text));
        let debugged = Arc::clone(&output);
        engine.on_debug(move |text, _, _| push_line(&debugged, &format!("[debug] {text}")));
        Sandbox {
            engine,
            scope: Scope::new(),
            control,
            cancel: cancel.clone(),
            output,
            limits: limits.clone(),
            large_stack: limits.needs_large_stack(),
            loops,
            pushed: Vec::new(),
            values: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// Prepares a reused sandbox for a new run.
    pub(crate) fn begin(&mut self, cancel: &CancelToken) {
        self.cancel = cancel.clone();
        *lock(&self.control.cancel) = cancel.clone();
        *lock(&self.output) = Output::default();
        self.scope.clear();
    }

    /// Points the progress hook at `cancel`, when a step comes with another token than the
    /// last one.
    pub(crate) fn use_cancel(&mut self, cancel: &CancelToken) {
        if !self.cancel.same(cancel) {
            self.cancel = cancel.clone();
            *lock(&self.control.cancel) = cancel.clone();
        }
    }

    /// The lines printed since the last call.
    pub(crate) fn take_output(&self) -> Vec<String> {
        let mut output = lock(&self.output);
        let mut lines = std::mem::take(&mut output.lines);
        if output.dropped > 0 {
            lines.push(format!("… {} more lines not kept", output.dropped));
            output.dropped = 0;
        }
        output.bytes = 0;
        lines
    }

    /// Arms the progress hook with the earliest of the wall-time limit, the node's deadline
    /// and the run's.
    fn arm(&self, node: Option<Instant>, run: Option<Instant>) {
        let wall = Instant::now().checked_add(Duration::from_millis(self.limits.max_wall_time_ms));
        let mut earliest: Option<(Instant, Deadline)> = wall.map(|wall| (wall, Deadline::Wall));
        for (deadline, kind) in [(node, Deadline::Node), (run, Deadline::Run)] {
            if let Some(deadline) = deadline
                && earliest.is_none_or(|(current, _)| deadline < current)
            {
                earliest = Some((deadline, kind));
            }
        }
        let Some(earliest) = earliest else {
            self.control.deadline.store(u64::MAX, Ordering::Relaxed);
            return;
        };
        let nanos = earliest
            .0
            .saturating_duration_since(self.control.base)
            .as_nanos();
        self.control
            .deadline
            .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.control
            .reason
            .store(earliest.1 as u8, Ordering::Relaxed);
    }

    /// Evaluates compiled code in the prepared scope. With depth limits raised past the
    /// defaults, on a thread with a stack large enough for them: deep recursion must end in
    /// the limit's error, never in a stack overflow.
    fn evaluate(&mut self, code: &CompiledCode) -> Result<Dynamic, Box<EvalAltResult>> {
        self.loops.reset();
        let (engine, scope) = (&self.engine, &mut self.scope);
        if !self.large_stack {
            return engine.eval_ast_with_scope::<Dynamic>(scope, &code.ast);
        }
        std::thread::scope(|threads| {
            let evaluation = std::thread::Builder::new()
                .name("flowc-eval".to_owned())
                .stack_size(sandbox::EVALUATION_STACK)
                .spawn_scoped(threads, || {
                    engine.eval_ast_with_scope::<Dynamic>(scope, &code.ast)
                });
            match evaluation {
                Ok(evaluation) => evaluation
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(error) => Err(format!("could not start the evaluation: {error}").into()),
            }
        })
    }

    /// Evaluates a guard against the state. The values it reads are lent as constants.
    pub(crate) fn guard(
        &mut self,
        code: &CompiledCode,
        slots: &[usize],
        state: &mut State,
        run_deadline: Option<Instant>,
    ) -> Result<bool, CodeFailure> {
        self.arm(None, run_deadline);
        self.scope.clear();
        self.pushed.clear();
        for &slot in slots {
            if let Some(value) = state.lend(slot) {
                self.scope
                    .push_constant_dynamic(state.identifier(slot).clone(), value);
                self.pushed.push(slot);
            }
        }
        let result = self.evaluate(code);
        for &slot in self.pushed.iter().rev() {
            let value = self
                .scope
                .remove::<Dynamic>(state.identifier(slot).as_str())
                .unwrap_or_default();
            state.restore(slot, value);
        }
        let value = result.map_err(|error| self.failure(*error, code))?;
        value.as_bool().map_err(|_| CodeFailure::Error {
            reason: format!(
                "a guard must be true or false, this one gave {} `{}`",
                Kind::of_dynamic(&value).name(),
                show(&value)
            ),
            at: code.span,
        })
    }

    /// Runs a script. Writes back the names it changed and merges a returned object map;
    /// the slots set are appended to `changes`. On failure the state is unchanged.
    pub(crate) fn script(
        &mut self,
        code: &CompiledCode,
        slots: &[usize],
        state: &mut State,
        deadlines: (Option<Instant>, Option<Instant>),
        changes: &mut Vec<usize>,
    ) -> Result<(), CodeFailure> {
        self.arm(deadlines.0, deadlines.1);
        self.scope.clear();
        for &slot in slots {
            let value = state.get(slot).cloned().unwrap_or_default();
            self.scope
                .push_dynamic(state.identifier(slot).clone(), value);
        }
        let result = self.evaluate(code);
        let value = result.map_err(|error| self.failure(*error, code))?;
        // rhai checks sizes as values are built, but not a map growing by `m[key] = v`:
        // what enters the state is checked here.
        if value.is_map() {
            self.storable(&value, || "the object map it returns".to_owned(), code.span)?;
        }
        // Locals go; the state's names stay, in the order they were pushed.
        self.scope.rewind(slots.len());
        self.values.clear();
        for &slot in slots.iter().rev() {
            self.values.push(
                self.scope
                    .remove::<Dynamic>(state.identifier(slot).as_str())
                    .unwrap_or_default(),
            );
        }
        self.values.reverse();
        // Only what changed is checked, and all of it before the state is touched.
        self.changed.clear();
        for (&slot, new) in slots.iter().zip(&self.values) {
            let differs = match state.get(slot) {
                Some(old) => !same(old, new),
                None => !new.is_unit(),
            };
            if differs {
                self.storable(new, || format!("`{}`", state.name(slot)), code.span)?;
                // A name the returned map sets again is checked with the map's value.
                if !returned(&value, state.name(slot)) {
                    state.check_write(slot, new).map_err(CodeFailure::Write)?;
                }
            }
            self.changed.push(differs);
        }
        if let Ok(map) = value.as_map_ref() {
            for (name, new) in map.iter() {
                state
                    .check_write_named(name, new)
                    .map_err(CodeFailure::Write)?;
            }
        }
        for ((&slot, new), differs) in slots
            .iter()
            .zip(self.values.drain(..))
            .zip(self.changed.iter().copied())
        {
            if differs {
                state.set(slot, new);
                changes.push(slot);
            }
        }
        if value.is_map() {
            // Map keys are unique: only the names written back above can repeat.
            let written = changes.len();
            let map = value.cast::<Map>();
            for (name, value) in map {
                let slot = state.slot(&name);
                state.set(slot, value);
                if !changes[..written].contains(&slot) {
                    changes.push(slot);
                }
            }
        }
        Ok(())
    }

    /// Whether a value may enter the state: within the size limits, and JSON (the state is
    /// JSON: a function pointer, a range or an infinite float has no JSON form and would be
    /// stored as something else). Nesting is bounded too ([`MAX_VALUE_DEPTH`]), so that what
    /// enters the state can be compared, serialized and dropped without deep recursion.
    fn storable(
        &self,
        value: &Dynamic,
        what: impl FnOnce() -> String,
        at: Span,
    ) -> Result<(), CodeFailure> {
        match self.unstorable(value, 0) {
            None => Ok(()),
            Some(Unstorable::Limit(limit, value)) => Err(CodeFailure::Limit { limit, value, at }),
            Some(Unstorable::NotJson(kind)) => Err(CodeFailure::Error {
                reason: format!(
                    "{} holds {kind}, which the state cannot hold: state values are JSON \
                     (null, true/false, numbers, strings, lists and maps)",
                    what()
                ),
                at,
            }),
        }
    }

    /// The first thing in `value` (at nesting `depth`) that keeps it out of the state.
    fn unstorable(&self, value: &Dynamic, depth: usize) -> Option<Unstorable> {
        let limits = &self.limits;
        if depth > MAX_VALUE_DEPTH {
            return Some(Unstorable::Limit(
                "max_value_depth",
                format!("{MAX_VALUE_DEPTH} levels of nested lists and maps"),
            ));
        }
        if let Some(limit) = sandbox::oversized(value, limits) {
            return Some(Unstorable::Limit(limit, limit_value(limits, limit)));
        }
        if value.is_string() {
            return None;
        }
        if let Ok(array) = value.as_array_ref() {
            return array
                .iter()
                .find_map(|item| self.unstorable(item, depth + 1));
        }
        if let Ok(map) = value.as_map_ref() {
            return map
                .values()
                .find_map(|item| self.unstorable(item, depth + 1));
        }
        if let Ok(float) = value.as_float() {
            return (!float.is_finite())
                .then(|| Unstorable::NotJson(format!("the float `{float}`")));
        }
        if value.is_unit() || value.is_bool() || value.is_int() || value.is_char() {
            return None;
        }
        Some(Unstorable::NotJson(format!(
            "a value of type `{}`",
            value.type_name()
        )))
    }

    fn failure(&self, mut error: EvalAltResult, code: &CompiledCode) -> CodeFailure {
        // An error inside a script-defined function: the innermost one says what happened.
        while let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = error {
            error = *inner;
        }
        let position = error.take_position();
        let at = code.point(position);
        let limits = &self.limits;
        if let Some(SizeLimit { limit }) = sandbox::size_limit(&error) {
            return CodeFailure::Limit {
                limit,
                value: limit_value(limits, limit),
                at,
            };
        }
        if let Some(RefusedComparison {
            left,
            right,
            operator,
        }) = sandbox::refused_comparison(&error)
        {
            return CodeFailure::RefusedComparison {
                left,
                right,
                operator,
                at,
            };
        }
        match error {
            EvalAltResult::ErrorTerminated(token, _) => {
                if token.as_int() == Ok(0) {
                    CodeFailure::Cancelled
                } else {
                    CodeFailure::Deadline(match self.control.reason.load(Ordering::Relaxed) {
                        2 => Deadline::Node,
                        3 => Deadline::Run,
                        _ => Deadline::Wall,
                    })
                }
            }
            EvalAltResult::ErrorTooManyOperations(_) => CodeFailure::Limit {
                limit: "max_operations",
                value: format!("{} operations", limits.max_operations),
                at,
            },
            EvalAltResult::ErrorStackOverflow(_) => CodeFailure::Limit {
                limit: "max_call_levels",
                value: format!("{} nested calls", limits.max_call_levels),
                at,
            },
            // rhai tells which of its totals was reached only in its message.
            EvalAltResult::ErrorDataTooLarge(what, _) => {
                let limit = if what.contains("string") {
                    "max_total_string_size"
                } else {
                    "max_total_size"
                };
                CodeFailure::Limit {
                    limit,
                    value: limit_value(limits, limit),
                    at,
                }
            }
            other => CodeFailure::Problem {
                problem: Problem::of(&other, position, &code.ast),
                item: self.loops.failing_index().map(|index| LoopItem {
                    variable: loops::loop_variable(&code.ast, position),
                    index,
                }),
                at,
            },
        }
    }
}

/// Whether a script's result is an object map that sets `name`.
fn returned(value: &Dynamic, name: &str) -> bool {
    value.as_map_ref().is_ok_and(|map| map.contains_key(name))
}

/// Why a value cannot enter the state.
enum Unstorable {
    /// A sandbox limit: its name and value.
    Limit(&'static str, String),
    /// Something JSON has no form for.
    NotJson(String),
}

fn push_line(output: &Mutex<Output>, line: &str) {
    let mut output = lock(output);
    let room = MAX_OUTPUT_BYTES - output.bytes;
    if output.lines.len() >= MAX_OUTPUT_LINES || room == 0 {
        output.dropped += 1;
        return;
    }
    let mut end = line.len().min(room);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let kept = if end < line.len() {
        format!("{}…", &line[..end])
    } else {
        line.to_owned()
    };
    output.bytes += end;
    output.lines.push(kept);
    if end < line.len() {
        // No room is left for another line.
        output.bytes = MAX_OUTPUT_BYTES;
    }
}

/// Structural equality of two values (the write-back only stores what changed).
pub(crate) fn same(a: &Dynamic, b: &Dynamic) -> bool {
    if a.type_id() != b.type_id() {
        return false;
    }
    if a.is_unit() {
        return true;
    }
    if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_float(), b.as_float()) {
        return x.to_bits() == y.to_bits();
    }
    if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_char(), b.as_char()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_immutable_string_ref(), b.as_immutable_string_ref()) {
        return *x == *y;
    }
    if let (Ok(x), Ok(y)) = (a.as_array_ref(), b.as_array_ref()) {
        return x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| same(x, y));
    }
    if let (Ok(x), Ok(y)) = (a.as_map_ref(), b.as_map_ref()) {
        return x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)));
    }
    if let (Ok(x), Ok(y)) = (a.as_blob_ref(), b.as_blob_ref()) {
        return *x == *y;
    }
    false
}

/// A value as JSON, shortened for a diagnostic or a step line.
pub(crate) fn show(value: &Dynamic) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| value.to_string());
    shorten(text, 60)
}

pub(crate) fn shorten(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

/// `a = 1, b = "x"`: the values of the names a guard reads.
pub(crate) fn values_of(state: &State, slots: &[usize]) -> String {
    let parts: Vec<String> = slots
        .iter()
        .map(|&slot| match state.get(slot) {
            Some(value) => format!("{} = {}", state.name(slot), show(value)),
            None => format!("{} is not set", state.name(slot)),
        })
        .collect();
    if parts.is_empty() {
        "it reads no state".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::state::Slots;
    use crate::sandbox::CodeKind;

    fn eval_guard(text: &str) -> Result<bool, String> {
        let limits = Limits::default();
        let engine = sandbox::engine(&limits, false);
        let code = sandbox::compile(
            &engine,
            CodeKind::Guard,
            text,
            Span::new(0, text.len()),
            &[],
        )
        .map_err(|e| format!("{e:?}"))?;
        let mut sandbox = Sandbox::new(&limits, &CancelToken::new());
        let mut state = State::from_input(&Slots::default(), 0, None, serde_json::Map::new())
            .map_err(|e| e.to_string())?;
        sandbox
            .guard(&code, &[], &mut state, None)
            .map_err(|failure| format!("{failure:?}"))
    }

    #[test]
    fn mismatched_comparisons_are_errors_in_guards() {
        // Literals too: the strict overloads keep the optimizer from folding them with
        // rhai's lenient rules at compile time.
        for text in [
            "\"x\" > 3",
            "1 < \"x\"",
            "(1 + 0) > 0 && \"x\" > 3",
            "\"x\".to_upper() > (3 + 0)",
            "(1 + 0) < \"x\".to_upper()",
            "[1].len() == \"1\".to_upper()",
            "[].pop() < (1 + 0)",
            "\"1,2\".split(\",\") == (1 + 0)",
            "\"a\".to_upper() != [1].len()",
        ] {
            let result = eval_guard(text);
            assert!(
                matches!(&result, Err(e) if e.starts_with("RefusedComparison")),
                "{text}: {result:?}"
            );
        }
    }

    #[test]
    fn same_type_int_float_text_and_null_comparisons_work() {
        for (text, expected) in [
            ("(1 + 0) < (2 + 0)", true),
            ("(1 + 0) < 1.5 * 1.0", true),
            ("2.5 * 1.0 >= (2 + 0)", true),
            ("\"a\".to_upper() == \"A\"", true),
            ("\"b\".to_upper() > \"A\".to_upper()", true),
            ("'a' == \"a\".to_lower()", true),
            ("[1].pop() != ()", true),
            ("[].pop() == ()", true),
            ("(true && true) == true", true),
            ("[1, 2] == [1, 2]", true),
        ] {
            assert_eq!(eval_guard(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn structural_equality_sees_nested_changes() {
        let a = rhai::serde::to_dynamic(serde_json::json!({ "x": [1, 2.5, "s", null] })).unwrap();
        let b = rhai::serde::to_dynamic(serde_json::json!({ "x": [1, 2.5, "s", null] })).unwrap();
        let c = rhai::serde::to_dynamic(serde_json::json!({ "x": [1, 2.5, "t", null] })).unwrap();
        assert!(same(&a, &b));
        assert!(!same(&a, &c));
        assert!(!same(&Dynamic::from_int(1), &Dynamic::from_float(1.0)));
    }
}
