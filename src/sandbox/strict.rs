//! Strict comparisons for guards: rhai's built-in fallback answers `false` when the two
//! sides of a comparison have different types (`"x" > 3`); the contract makes that an error.

use std::sync::OnceLock;

use rhai::{Array, Engine, EvalAltResult, ImmutableString, Map, Module, Shared};

/// Makes comparisons of mismatched types errors in guards: rhai's built-in fallback quietly
/// answers `false` (`"x" > 3`). These operator overloads win over that fallback only when
/// fast operators are off, which is how guards are evaluated; scripts run with fast operators
/// and keep rhai's rules. Ints and floats compare with each other, strings with chars, and
/// any value may be tested for equality with `()` (null).
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

/// How every refused comparison's message begins.
const REFUSED: &str = "cannot compare";

/// The message of a comparison the strict overloads refused, when `error` is one.
pub(crate) fn refused_comparison(error: &EvalAltResult) -> Option<String> {
    match error {
        EvalAltResult::ErrorRuntime(value, _) => {
            Some(value.to_string()).filter(|message| message.starts_with(REFUSED))
        }
        _ => None,
    }
}

/// Whether a guard's failure reason is a refused comparison.
pub(crate) fn is_refused_comparison(reason: &str) -> bool {
    reason.starts_with(REFUSED)
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

fn flow_type(rust: &'static str) -> &'static str {
    match rust {
        "i64" => "int",
        "f64" => "float",
        "()" => "null",
        "ImmutableString" | "string" => "string",
        "array" | "Vec<Dynamic>" => "list",
        other if other.contains("Map") || other == "map" => "map",
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
    let (a, b) = (flow_type(a), flow_type(b));
    for operator in operators {
        module.set_native_fn(
            operator,
            move |_: A, _: B| -> Result<bool, Box<EvalAltResult>> {
                Err(format!("{REFUSED} {a} with {b} using `{operator}`").into())
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
