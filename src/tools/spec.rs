//! What the compiler knows of a tool: its name, description and argument schema.

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::value::{FieldType, Kind, LiteralValue};

/// The type an argument accepts. `List` and `Map` name their items' type (`Any` for any),
/// so a schema can say `columns: list[string]` or `patterns: map[string]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgType {
    String,
    Int,
    /// Accepts whole numbers too.
    Float,
    Bool,
    /// A duration literal (`250ms`, `5s`, `2m`, `1h`).
    Duration,
    List(Box<ArgType>),
    /// A map whose values all have this type.
    Map(Box<ArgType>),
    /// One of these strings.
    OneOf(Vec<String>),
    Any,
}

impl ArgType {
    /// A list of anything.
    pub fn list() -> Self {
        ArgType::List(Box::new(ArgType::Any))
    }

    /// A map of anything.
    pub fn map() -> Self {
        ArgType::Map(Box::new(ArgType::Any))
    }

    pub fn list_of(item: ArgType) -> Self {
        ArgType::List(Box::new(item))
    }

    pub fn map_of(value: ArgType) -> Self {
        ArgType::Map(Box::new(value))
    }

    pub fn one_of(choices: &[&str]) -> Self {
        ArgType::OneOf(choices.iter().map(|&choice| choice.to_owned()).collect())
    }

    /// `string`, `list[string]`, `map`, `"zscore" | "iqr"`: as help texts and `flowc tools`
    /// show it.
    pub fn name(&self) -> String {
        match self {
            ArgType::String => "string".into(),
            ArgType::Int => "int".into(),
            ArgType::Float => "float".into(),
            ArgType::Bool => "bool".into(),
            ArgType::Duration => "duration".into(),
            ArgType::Any => "any".into(),
            ArgType::List(item) if **item == ArgType::Any => "list".into(),
            ArgType::Map(value) if **value == ArgType::Any => "map".into(),
            ArgType::List(item) => format!("list[{}]", item.name()),
            ArgType::Map(value) => format!("map[{}]", value.name()),
            ArgType::OneOf(choices) => choices
                .iter()
                .map(|choice| Value::String(choice.clone()).to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    /// Whether a literal fits: the state's type check, with durations only for `duration`
    /// and `any` (as milliseconds) and `null` only for `any`.
    pub fn accepts(&self, value: &LiteralValue) -> bool {
        self.mismatch(value).is_none()
    }

    /// What the literal is, said so that it shows why it does not fit (`int`, `a list whose
    /// item 2 is int`); `None` when it fits.
    pub fn mismatch(&self, value: &LiteralValue) -> Option<String> {
        match (self, value) {
            (ArgType::Duration | ArgType::Any, LiteralValue::Duration(_)) => None,
            (_, LiteralValue::Duration(_)) | (ArgType::Duration, LiteralValue::Json(_)) => {
                Some(value.type_name().to_owned())
            }
            (_, LiteralValue::Json(json)) => self.json_mismatch(json),
        }
    }

    fn json_mismatch(&self, json: &Value) -> Option<String> {
        let simple = |ty: FieldType| {
            (!ty.accepts(false, Kind::of_json(json))).then(|| Kind::of_json(json).name().to_owned())
        };
        match self {
            ArgType::String => simple(FieldType::String),
            ArgType::Int => simple(FieldType::Int),
            ArgType::Float => simple(FieldType::Float),
            ArgType::Bool => simple(FieldType::Bool),
            ArgType::Any => None,
            // Durations are literals of their own; inside a list or map they are numbers.
            ArgType::Duration => Some(Kind::of_json(json).name().to_owned()),
            ArgType::List(item) => match json {
                Value::Array(items) => items.iter().enumerate().find_map(|(index, value)| {
                    let found = item.json_mismatch(value)?;
                    Some(format!("a list whose item {index} is {found}"))
                }),
                _ => Some(Kind::of_json(json).name().to_owned()),
            },
            ArgType::Map(entry) => match json {
                Value::Object(entries) => entries.iter().find_map(|(key, value)| {
                    let found = entry.json_mismatch(value)?;
                    Some(format!("a map whose `{key}` is {found}"))
                }),
                _ => Some(Kind::of_json(json).name().to_owned()),
            },
            ArgType::OneOf(choices) => match json {
                Value::String(text) if choices.contains(text) => None,
                Value::String(_) => Some(json.to_string()),
                _ => Some(Kind::of_json(json).name().to_owned()),
            },
        }
    }
}

/// Written as its name, so `flowc tools --json` shows `"list[string]"` as help texts do.
impl Serialize for ArgType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArgSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ArgType,
    pub required: bool,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub args: Vec<ArgSpec>,
}

impl ToolSpec {
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            args: Vec::new(),
        }
    }

    /// Adds an argument the call must give.
    #[must_use]
    pub fn required(self, name: &str, ty: ArgType, description: &str) -> Self {
        self.arg(name, ty, true, description)
    }

    /// Adds an argument the call may leave out.
    #[must_use]
    pub fn optional(self, name: &str, ty: ArgType, description: &str) -> Self {
        self.arg(name, ty, false, description)
    }

    fn arg(mut self, name: &str, ty: ArgType, required: bool, description: &str) -> Self {
        self.args.push(ArgSpec {
            name: name.into(),
            ty,
            required,
            description: description.into(),
        });
        self
    }

    pub fn arg_spec(&self, name: &str) -> Option<&ArgSpec> {
        self.args.iter().find(|arg| arg.name == name)
    }

    /// `name(a: string, b?: duration)`, as shown in help texts and `flowc tools`.
    pub fn signature(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|arg| {
                format!(
                    "{}{}: {}",
                    arg.name,
                    if arg.required { "" } else { "?" },
                    arg.ty.name()
                )
            })
            .collect();
        format!("{}({})", self.name, args.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: Value) -> LiteralValue {
        LiteralValue::Json(value)
    }

    #[test]
    fn int_arguments_are_accepted_where_floats_are_expected() {
        assert!(ArgType::Float.accepts(&json(3.into())));
        assert!(!ArgType::Int.accepts(&json(3.5.into())));
    }

    #[test]
    fn int_arguments_fit_64_signed_bits_as_state_ints_do() {
        assert!(ArgType::Int.accepts(&json(i64::MAX.into())));
        assert!(!ArgType::Int.accepts(&json(u64::MAX.into())));
        assert!(ArgType::Float.accepts(&json(u64::MAX.into())));
        assert!(!ArgType::Int.accepts(&json(Value::Null)));
    }

    #[test]
    fn durations_fit_only_duration_arguments() {
        let five_seconds = LiteralValue::Duration(std::time::Duration::from_secs(5));
        assert!(ArgType::Duration.accepts(&five_seconds));
        assert!(!ArgType::Int.accepts(&five_seconds));
        assert!(!ArgType::Duration.accepts(&json(5.into())));
    }

    #[test]
    fn nested_types_check_every_item_and_say_which_one_is_wrong() {
        let columns = ArgType::list_of(ArgType::String);
        assert!(columns.accepts(&json(serde_json::json!(["a", "b"]))));
        assert_eq!(
            columns
                .mismatch(&json(serde_json::json!(["a", 2])))
                .as_deref(),
            Some("a list whose item 1 is int")
        );
        let patterns = ArgType::map_of(ArgType::String);
        assert_eq!(
            patterns
                .mismatch(&json(serde_json::json!({"email": true})))
                .as_deref(),
            Some("a map whose `email` is bool")
        );
        assert_eq!(
            patterns.mismatch(&json(serde_json::json!([]))).as_deref(),
            Some("list")
        );
    }

    #[test]
    fn a_choice_takes_only_its_strings() {
        let method = ArgType::one_of(&["zscore", "iqr"]);
        assert_eq!(method.name(), r#""zscore" | "iqr""#);
        assert!(method.accepts(&json("iqr".into())));
        assert_eq!(
            method.mismatch(&json("mad".into())).as_deref(),
            Some(r#""mad""#)
        );
        assert_eq!(method.mismatch(&json(1.into())).as_deref(), Some("int"));
    }

    #[test]
    fn names_show_item_types_only_when_they_say_something() {
        assert_eq!(ArgType::list().name(), "list");
        assert_eq!(
            ArgType::map_of(ArgType::list_of(ArgType::Int)).name(),
            "map[list[int]]"
        );
        assert_eq!(
            serde_json::to_value(ArgType::list_of(ArgType::String)).unwrap(),
            "list[string]"
        );
    }
}
