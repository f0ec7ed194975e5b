//! Strict comparisons for guards and scripts: rhai's built-in fallback answers `false` when
//! the two sides of a comparison have different types (`"x" > 3`); the contract makes that an
//! error.

use std::sync::OnceLock;

use super::problem::flow_type_name;
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, Position, Shared};

/// Makes comparisons of mismatched types errors: rhai's built-in fallback quietly answers
/// `false` (`"x" > 3`). These operator overloads win over that fallback only when fast
/// operators are off, which is how every guard and script is evaluated. Ints and floats
/// compare with each other, strings with chars, and any value may be tested for equality
/// with `()` (null).
pub(crate) fn register(engine: &mut Engine) {
    static MODULE: OnceLock<Shared<Module>> = OnceLock::new();
    let module = MODULE.get_or_init(|| {
        let mut module = Module::new();
        refuse_row::<rhai::INT>(&mut module);
        refuse_row::<rhai::FLOAT>(&mut module);
        refuse_row::<bool>(&mut module);
        refuse_row::<ImmutableString>(&mut module);
        refuse_row::<char>(&mut module);
        refuse_row::<()>(&mut module);
        refuse_row::<Array>(&mut module);
        refuse_row::<Map>(&mut module);
        module.into()
    });
    engine.register_global_module(Shared::clone(module));
}

/// A comparison of two values of types that do not compare (`"999" > 120`), as the strict
/// overloads raise it: carried in rhai's runtime error as this value, not as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RefusedComparison {
    /// The flow's names of the two types, and the operator.
    pub(crate) left: &'static str,
    pub(crate) right: &'static str,
    pub(crate) operator: &'static str,
}

impl std::fmt::Display for RefusedComparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let RefusedComparison {
            left,
            right,
            operator,
        } = self;
        write!(f, "cannot compare {left} with {right} using `{operator}`")
    }
}

/// The comparison the strict overloads refused, when `error` is one.
pub(crate) fn refused_comparison(error: &EvalAltResult) -> Option<RefusedComparison> {
    match error {
        EvalAltResult::ErrorRuntime(value, _) => value.clone().try_cast::<RefusedComparison>(),
        _ => None,
    }
}

const ORDERING: [&str; 4] = ["<", "<=", ">", ">="];
const EQUALITY: [&str; 2] = ["==", "!="];

fn refuse_row<A: rhai::Variant + Clone>(module: &mut Module) {
    refuse::<A, rhai::INT>(module);
    refuse::<A, rhai::FLOAT>(module);
    refuse::<A, bool>(module);
    refuse::<A, ImmutableString>(module);
    refuse::<A, char>(module);
    refuse::<A, ()>(module);
    refuse::<A, Array>(module);
    refuse::<A, Map>(module);
}

/// The family a type compares within.
fn family(name: &str) -> &str {
    match name {
        "i64" | "f64" => "number",
        "string" | "char" | "ImmutableString" => "text",
        other => other,
    }
}

fn refuse<A: rhai::Variant + Clone, B: rhai::Variant + Clone>(module: &mut Module) {
    let (a, b) = (short_type::<A>(), short_type::<B>());
    let same_family = family(a) == family(b);
    let unit = a == "()" || b == "()";
    let mut operators: Vec<&'static str> = Vec::new();
    if !same_family || (a == "()" && b == "()") {
        operators.extend(ORDERING);
    }
    if !same_family && !unit {
        operators.extend(EQUALITY);
    }
    let (a, b) = (flow_type_name(a), flow_type_name(b));
    for operator in operators {
        module.set_native_fn(
            operator,
            move |_: A, _: B| -> Result<bool, Box<EvalAltResult>> {
                let refused = RefusedComparison {
                    left: a,
                    right: b,
                    operator,
                };
                Err(EvalAltResult::ErrorRuntime(Dynamic::from(refused), Position::NONE).into())
            },
        );
    }
}

fn short_type<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    if full.ends_with("ImmutableString") {
        "string"
    } else if full.contains("Vec<") {
        "array"
    } else if full.contains("Map") {
        "map"
    } else {
        full
    }
}
