//! The vocabulary of state values that every phase shares: the schema's field types, the one
//! rule saying which values a type accepts (for defaults, the initial state, tool arguments
//! and every write a step commits), the names messages give to values' types, and how
//! messages write a duration, literals as the language writes them, and the name of the
//! state field the engine sets on an `on error` edge. A leaf: it knows no phase.

use std::time::Duration;

use rhai::Dynamic;
use serde_json::{Number, Value};

/// The state field the engine sets when an `on error` edge is taken.
pub const ERROR_FIELD: &str = "error";

/// A literal as written in a flow: JSON, or a duration (`250ms`), which only tool arguments
/// and attributes take.
#[derive(Clone, Debug, PartialEq)]
pub enum LiteralValue {
    Json(Value),
    Duration(Duration),
}

impl LiteralValue {
    /// The literal's type as a person would name it, for diagnostics.
    pub fn type_name(&self) -> &'static str {
        match self {
            LiteralValue::Duration(_) => "duration",
            LiteralValue::Json(json) => Kind::of_json(json).name(),
        }
    }
}

/// A state field's declared type (`state { n: int }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Int,
    Float,
    Bool,
    String,
    List,
    Map,
    Any,
}

impl FieldType {
    pub fn from_keyword(word: &str) -> Option<Self> {
        Some(match word {
            "int" => FieldType::Int,
            "float" => FieldType::Float,
            "bool" => FieldType::Bool,
            "string" => FieldType::String,
            "list" => FieldType::List,
            "map" => FieldType::Map,
            "any" => FieldType::Any,
            _ => return None,
        })
    }

    pub fn keyword(self) -> &'static str {
        match self {
            FieldType::Int => "int",
            FieldType::Float => "float",
            FieldType::Bool => "bool",
            FieldType::String => "string",
            FieldType::List => "list",
            FieldType::Map => "map",
            FieldType::Any => "any",
        }
    }

    /// The type check: whether a value of `kind` fits this type (`nullable` for `TYPE?`).
    /// An `int` is a whole number that fits 64 signed bits, what guards and scripts compute
    /// with; a `float` takes any finite number; `null` fits `any` and nullable types only.
    pub fn accepts(self, nullable: bool, kind: Kind) -> bool {
        match (self, kind) {
            (FieldType::Any, _)
            | (FieldType::Int, Kind::Int)
            | (FieldType::Float, Kind::Int | Kind::BigInt | Kind::Float)
            | (FieldType::Bool, Kind::Bool)
            | (FieldType::String, Kind::String | Kind::Char)
            | (FieldType::List, Kind::List)
            | (FieldType::Map, Kind::Map) => true,
            (_, Kind::Null) => nullable,
            _ => false,
        }
    }

    /// `int`, or `int or null` for a nullable field: what a message says the field takes.
    pub fn expected(self, nullable: bool) -> String {
        if nullable && self != FieldType::Any {
            format!("{} or null", self.keyword())
        } else {
            self.keyword().to_owned()
        }
    }
}

/// What a value is, in the flow's words: the input of the type check and of every message
/// that names a value's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    /// A whole number that fits 64 signed bits.
    Int,
    /// A whole number outside the 64-bit range (JSON numbers have no size limit).
    BigInt,
    /// Any other number within a float's range.
    Float,
    /// A number beyond a float's range (`1e400`): JSON allows it, guards and scripts cannot
    /// compute with it, only `any` takes it.
    OutOfRange,
    String,
    /// A rhai character: JSON holds it as a one-character string.
    Char,
    List,
    Map,
    /// A rhai value JSON has no form for (a function pointer, a range, a blob): its type.
    Other(&'static str),
}

impl Kind {
    pub fn of_json(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) => Kind::of_number(n),
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::List,
            Value::Object(_) => Kind::Map,
        }
    }

    pub fn of_number(number: &Number) -> Kind {
        if number.is_i64() {
            Kind::Int
        } else if is_whole(number) {
            Kind::BigInt
        } else if number.as_f64().is_some_and(f64::is_finite) {
            Kind::Float
        } else {
            Kind::OutOfRange
        }
    }

    /// Without converting the value to JSON: this runs on every value a step writes.
    pub fn of_dynamic(value: &Dynamic) -> Kind {
        if value.is_unit() {
            Kind::Null
        } else if value.is_bool() {
            Kind::Bool
        } else if value.is_int() {
            Kind::Int
        } else if value.is_float() {
            Kind::Float
        } else if value.is_string() {
            Kind::String
        } else if value.is_char() {
            Kind::Char
        } else if value.is_array() {
            Kind::List
        } else if value.is_map() {
            Kind::Map
        } else {
            Kind::Other(value.type_name())
        }
    }

    /// The kind a rhai (or Rust) type name stands for, as rhai's function signatures and
    /// error texts spell it (`i64`, `ImmutableString`, `&str`, `rhai::Map`, `()`); `None`
    /// for a type the state has no kind for (a range, a function pointer).
    pub fn of_type_name(name: &str) -> Option<Kind> {
        // The outer type decides (`Vec<String>` is a list): its last path segment, before
        // any generic parameters. rhai lists the spellings of one type as alternatives
        // (`&str | ImmutableString | String`): the first says which.
        let name = name.split('|').next().unwrap_or(name).trim();
        let outer = name.split('<').next().unwrap_or(name);
        let short = outer.rsplit("::").next().unwrap_or(outer);
        Some(match short {
            "()" => Kind::Null,
            "i64" | "i32" | "INT" => Kind::Int,
            "f64" | "f32" | "FLOAT" => Kind::Float,
            "bool" => Kind::Bool,
            "char" => Kind::Char,
            "array" | "Array" | "Vec" => Kind::List,
            "map" | "Map" | "BTreeMap" | "HashMap" | "IndexMap" => Kind::Map,
            "str" | "&str" | "&mut str" | "String" | "ImmutableString" | "SmartString"
            | "string" => Kind::String,
            _ => return None,
        })
    }

    /// The schema's word for the kind (`int`, `list`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::BigInt => "int (too large for a 64-bit int)",
            Kind::Float => "float",
            Kind::OutOfRange => "number (too large for a float)",
            Kind::String => "string",
            Kind::Char => "char",
            Kind::List => "list",
            Kind::Map => "map",
            Kind::Other(name) => name,
        }
    }

    /// JSON's word for the kind, with its article (`an array`): for messages about JSON
    /// text that is not the object it must be.
    pub fn json_name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Int | Kind::BigInt | Kind::Float | Kind::OutOfRange => "a number",
            Kind::String | Kind::Char => "a string",
            Kind::List => "an array",
            Kind::Map => "an object",
            Kind::Other(name) => name,
        }
    }

    /// Whether a message shows the value after its kind: scalars only (and only when short).
    fn shows_value(self) -> bool {
        !matches!(self, Kind::Null | Kind::List | Kind::Map | Kind::Other(_))
    }
}

/// Whether a number is written without fraction or exponent.
fn is_whole(number: &Number) -> bool {
    number.is_u64() || !number.to_string().contains(['.', 'e', 'E'])
}

/// A value's kind in the schema's words, with the value when it is a short scalar:
/// `string "three"`, `int 5`, `list`.
pub fn describe_json(value: &Value) -> String {
    let kind = Kind::of_json(value);
    describe(kind, || value.to_string())
}

/// As [`describe_json`], for a rhai value.
pub fn describe_dynamic(value: &Dynamic) -> String {
    let kind = Kind::of_dynamic(value);
    describe(kind, || {
        serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
    })
}

fn describe(kind: Kind, text: impl FnOnce() -> String) -> String {
    if !kind.shows_value() {
        return kind.name().to_owned();
    }
    let text = text();
    if text.len() <= 40 {
        format!("{} `{text}`", kind.name())
    } else {
        kind.name().to_owned()
    }
}

/// How a duration is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationStyle {
    /// As a duration literal in a flow file (`250ms`, `2s`, `1500ms`), to the nearest
    /// millisecond: for messages, which name limits the user set in those words.
    Literal,
    /// Short, with a fraction (`4µs`, `1.2ms`, `1.50s`): for measured times, as in the step
    /// lines and the run's summary.
    Measured,
}

/// The one duration formatter.
pub fn format_duration(duration: Duration, style: DurationStyle) -> String {
    match style {
        DurationStyle::Literal => {
            let millis = duration
                .saturating_add(Duration::from_micros(500))
                .as_millis();
            if millis >= 1000 && millis.is_multiple_of(1000) {
                format!("{}s", millis / 1000)
            } else {
                format!("{millis}ms")
            }
        }
        DurationStyle::Measured => {
            let micros = duration.as_micros();
            if micros < 1000 {
                format!("{micros}µs")
            } else if micros < 1_000_000 {
                format!("{:.1}ms", duration.as_secs_f64() * 1000.0)
            } else {
                format!("{:.2}s", duration.as_secs_f64())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_read_by_their_outer_type() {
        for (name, kind) in [
            ("i64", Some(Kind::Int)),
            ("&str | ImmutableString | String", Some(Kind::String)),
            ("ImmutableString", Some(Kind::String)),
            ("&str", Some(Kind::String)),
            ("rhai::Map", Some(Kind::Map)),
            (
                "alloc::vec::Vec<rhai::types::dynamic::Dynamic>",
                Some(Kind::List),
            ),
            ("Vec<String>", Some(Kind::List)),
            (
                "std::collections::BTreeMap<SmartString, Dynamic>",
                Some(Kind::Map),
            ),
            ("()", Some(Kind::Null)),
            ("core::ops::range::Range<i64>", None),
        ] {
            assert_eq!(Kind::of_type_name(name), kind, "{name}");
        }
    }
    use serde_json::json;

    #[test]
    fn int_means_64_signed_bits_everywhere() {
        assert!(FieldType::Int.accepts(false, Kind::of_json(&json!(i64::MAX))));
        assert!(!FieldType::Int.accepts(false, Kind::of_json(&json!(u64::MAX))));
        assert!(FieldType::Float.accepts(false, Kind::of_json(&json!(u64::MAX))));
        assert!(!FieldType::Int.accepts(false, Kind::of_json(&json!(3.0))));
        assert!(FieldType::Int.accepts(false, Kind::of_dynamic(&Dynamic::from_int(3))));
        assert!(!FieldType::Int.accepts(false, Kind::of_dynamic(&Dynamic::from_float(3.0))));
    }

    #[test]
    fn numbers_beyond_the_64_bit_and_float_ranges_have_kinds_of_their_own() {
        let kind = |text: &str| Kind::of_json(&serde_json::from_str(text).unwrap());
        assert_eq!(kind("9223372036854775807"), Kind::Int);
        assert_eq!(kind("18446744073709551615"), Kind::BigInt);
        assert_eq!(kind("2.5"), Kind::Float);
        if cfg!(feature = "exact-numbers") {
            assert_eq!(kind("123456789012345678901234567890"), Kind::BigInt);
            assert_eq!(kind("1e400"), Kind::OutOfRange);
            assert!(!FieldType::Float.accepts(false, Kind::OutOfRange));
        }
    }

    #[test]
    fn null_fits_nullable_types_and_any() {
        assert!(!FieldType::String.accepts(false, Kind::of_dynamic(&Dynamic::UNIT)));
        assert!(FieldType::String.accepts(true, Kind::Null));
        assert!(FieldType::Any.accepts(false, Kind::Null));
    }

    #[test]
    fn json_and_rhai_values_get_the_same_names() {
        for (json, rhai) in [
            (json!(null), Dynamic::UNIT),
            (json!(true), Dynamic::TRUE),
            (json!(5), Dynamic::from_int(5)),
            (json!(2.5), Dynamic::from_float(2.5)),
            (json!("x"), Dynamic::from("x")),
            (json!([1]), Dynamic::from_array(vec![Dynamic::from_int(1)])),
        ] {
            assert_eq!(describe_json(&json), describe_dynamic(&rhai));
        }
        assert_eq!(describe_json(&json!("three")), "string `\"three\"`");
    }

    #[test]
    fn durations_read_like_flow_literals_or_measurements() {
        let literal = |d| format_duration(d, DurationStyle::Literal);
        assert_eq!(literal(Duration::from_millis(250)), "250ms");
        assert_eq!(literal(Duration::from_secs(2)), "2s");
        assert_eq!(literal(Duration::from_millis(1500)), "1500ms");
        assert_eq!(literal(Duration::from_micros(1_999_700)), "2s");
        assert_eq!(
            literal(Duration::MAX),
            format!("{}ms", Duration::MAX.as_millis())
        );
        let measured = |d| format_duration(d, DurationStyle::Measured);
        assert_eq!(measured(Duration::from_micros(4)), "4µs");
        assert_eq!(measured(Duration::from_micros(1200)), "1.2ms");
        assert_eq!(measured(Duration::from_millis(1500)), "1.50s");
    }
}
