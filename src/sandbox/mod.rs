//! The rhai sandbox: the one place a rhai `Engine` is built, and where guards and scripts
//! are compiled. `compile` compiles through it once; `runtime` evaluates what it compiled.
//! A leaf module: it knows spans, not flows.

use rhai::Engine;
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage,
    BasicMathPackage, BasicStringPackage, BitFieldPackage, LogicPackage, MoreStringPackage,
    Package,
};

mod bounded;
mod compile;
mod limits;
pub(crate) mod loops;
mod names;
mod problem;
mod strict;
mod unknown_names;

pub(crate) use bounded::{SizeLimit, oversized, size_limit};
pub use compile::{CodeError, CodeKind, CompiledCode, compile};
pub use limits::{EVALUATION_STACK, LimitError, Limits};
pub use names::identifier;
pub(crate) use names::{in_code, in_schema};
pub(crate) use problem::Problem;
pub(crate) use strict::{RefusedComparison, refused_comparison};
pub use unknown_names::{MAX_DECLARATIONS, MAX_WORDS};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

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
