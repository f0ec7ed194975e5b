//! Repair rules: their shapes (plain JSON, so a script node may edit them), how they are read
//! back, and `dq.generate_rules`, which makes one per anomaly.
//!
//! Every rule is a map with an `action` and, except `drop_duplicates`, a `column`:
//! - `{"action": "fill_null", "column": c, "value": v}`: a null cell becomes `v`;
//! - `{"action": "trim_lower", "column": c}`: text is trimmed and lower-cased;
//! - `{"action": "null_malformed" | "drop_malformed", "column": c, "pattern": re}`: a value
//!   that does not match `re` is nulled, or its row dropped;
//! - `{"action": "clip", "column": c, "lower"?: x, "upper"?: y}`: numbers are clipped;
//! - `{"action": "map_values", "column": c, "mapping": {from: to}}`: exact values replaced;
//! - `{"action": "drop_duplicates"}`: a row equal to an earlier one is dropped.
//!
//! Other keys (generated rules carry `anomaly`, the kind they repair) are ignored.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::pattern::Pattern;
use super::state_list;
use crate::tools::{Tool, ToolCall, ToolFailure};

#[derive(Clone, Debug)]
pub(super) enum Action {
    FillNull(Value),
    TrimLower,
    NullMalformed(Pattern),
    DropMalformed(Pattern),
    Clip {
        lower: Option<f64>,
        upper: Option<f64>,
    },
    MapValues(HashMap<String, Value>),
    DropDuplicates,
}

impl Action {
    /// Whether the rule may drop a row (then every later row moves up one).
    pub(super) fn drops_rows(&self) -> bool {
        matches!(self, Action::DropDuplicates | Action::DropMalformed(_))
    }
}

#[derive(Clone, Debug)]
pub(super) struct Rule {
    /// The `action` as written.
    pub(super) name: String,
    pub(super) column: Option<String>,
    pub(super) action: Action,
}

/// Reads the state's `rules`; a failure names the item and the key that is wrong.
pub(super) fn read_rules(items: &[Value]) -> Result<Vec<Rule>, ToolFailure> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            read_rule(item)
                .map_err(|problem| ToolFailure::failed(format!("`rules` item {index}: {problem}")))
        })
        .collect()
}

fn read_rule(item: &Value) -> Result<Rule, String> {
    let rule = item.as_object().ok_or("a rule must be a map")?;
    let name = rule
        .get("action")
        .and_then(Value::as_str)
        .ok_or("`action` must be a string")?
        .to_owned();
    let column = match rule.get("column") {
        Some(Value::String(column)) => Some(column.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err("`column` must be a string".into()),
    };
    let pattern = || -> Result<Pattern, String> {
        let pattern = rule
            .get("pattern")
            .and_then(Value::as_str)
            .ok_or("`pattern` must be a string")?;
        Pattern::compile(pattern).map_err(|error| format!("`pattern` does not compile: {error}"))
    };
    let bound = |key: &str| -> Result<Option<f64>, String> {
        match rule.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or(format!("`{key}` must be a number")),
        }
    };
    let action = match name.as_str() {
        "fill_null" => Action::FillNull(rule.get("value").cloned().ok_or("`value` is missing")?),
        "trim_lower" => Action::TrimLower,
        "null_malformed" => Action::NullMalformed(pattern()?),
        "drop_malformed" => Action::DropMalformed(pattern()?),
        "clip" => Action::Clip {
            lower: bound("lower")?,
            upper: bound("upper")?,
        },
        "map_values" => Action::MapValues(
            rule.get("mapping")
                .and_then(Value::as_object)
                .ok_or("`mapping` must be a map")?
                .iter()
                .map(|(from, to)| (from.clone(), to.clone()))
                .collect(),
        ),
        "drop_duplicates" => Action::DropDuplicates,
        other => {
            return Err(format!(
                "unknown action {other:?} (known: fill_null, trim_lower, null_malformed, drop_malformed, clip, map_values, drop_duplicates)"
            ));
        }
    };
    if column.is_none() && !matches!(action, Action::DropDuplicates) {
        return Err(format!("`{name}` needs a `column`"));
    }
    Ok(Rule {
        name,
        column,
        action,
    })
}

pub(super) struct Generate;

impl Tool for Generate {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let drop_malformed = call.args.get("malformed").and_then(Value::as_str) == Some("drop");
        let anomalies = state_list(call, "anomalies")?;
        // (phase, rule): text is normalised before it is checked, checked before nulls are
        // filled, and rows are compared for duplicates last, once repaired.
        let mut rules: Vec<(u8, Value)> = Vec::new();
        for (index, anomaly) in anomalies.iter().enumerate() {
            let field = |key: &str| anomaly.get(key).filter(|value| !value.is_null());
            let kind = field("kind").and_then(Value::as_str).ok_or_else(|| {
                ToolFailure::failed(format!("`anomalies` item {index} has no `kind` string"))
            })?;
            let column = field("column").cloned().unwrap_or(Value::Null);
            let needs = |key: &str| {
                field(key).cloned().ok_or_else(|| {
                    ToolFailure::failed(format!("`anomalies` item {index} ({kind}) has no `{key}`"))
                })
            };
            let malformed = if drop_malformed {
                "drop_malformed"
            } else {
                "null_malformed"
            };
            match kind {
                "missing_values" => {
                    // No fill value (an email column): the nulls stay.
                    if let Some(value) = field("fill") {
                        rules.push((2, json!({ "action": "fill_null", "anomaly": kind, "column": column, "value": value })));
                    }
                }
                "malformed_email" => {
                    rules.push((
                        0,
                        json!({ "action": "trim_lower", "anomaly": kind, "column": column }),
                    ));
                    let pattern = needs("pattern")?;
                    rules.push((1, json!({ "action": malformed, "anomaly": kind, "column": column, "pattern": pattern })));
                }
                "pattern_mismatch" => {
                    let pattern = needs("pattern")?;
                    rules.push((1, json!({ "action": malformed, "anomaly": kind, "column": column, "pattern": pattern })));
                }
                "outlier" => {
                    let (lower, upper) = (needs("lower")?, needs("upper")?);
                    rules.push((3, json!({ "action": "clip", "anomaly": kind, "column": column, "lower": lower, "upper": upper })));
                }
                "inconsistent_category" => {
                    let mapping = needs("mapping")?;
                    rules.push((0, json!({ "action": "map_values", "anomaly": kind, "column": column, "mapping": mapping })));
                }
                "duplicate_rows" => {
                    rules.push((4, json!({ "action": "drop_duplicates", "anomaly": kind })));
                }
                other => {
                    return Err(ToolFailure::failed(format!(
                        "`anomalies` item {index} has an unknown kind {other:?}"
                    )));
                }
            }
        }
        rules.sort_by_key(|(phase, _)| *phase);
        let mut changes = Map::new();
        changes.insert(
            "rules".into(),
            Value::Array(rules.into_iter().map(|(_, rule)| rule).collect()),
        );
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Generate, read_rules};
    use crate::tools::dq::testing::{call, failure};

    #[test]
    fn one_rule_per_anomaly_in_repair_order() {
        let state = json!({ "anomalies": [
            { "kind": "duplicate_rows", "column": null, "count": 1 },
            { "kind": "outlier", "column": "age", "count": 1, "lower": 0, "upper": 120 },
            { "kind": "missing_values", "column": "age", "count": 2, "fill": 41 },
            { "kind": "missing_values", "column": "email", "count": 2, "fill": null },
            { "kind": "malformed_email", "column": "email", "count": 1, "pattern": "^x$" },
            { "kind": "inconsistent_category", "column": "city", "count": 1, "mapping": { "oslo": "Oslo" } },
        ]});
        let rules = call(&Generate, &json!({}), &state).unwrap()["rules"].clone();
        assert_eq!(
            rules,
            json!([
                { "action": "trim_lower", "anomaly": "malformed_email", "column": "email" },
                { "action": "map_values", "anomaly": "inconsistent_category", "column": "city", "mapping": { "oslo": "Oslo" } },
                { "action": "null_malformed", "anomaly": "malformed_email", "column": "email", "pattern": "^x$" },
                { "action": "fill_null", "anomaly": "missing_values", "column": "age", "value": 41 },
                { "action": "clip", "anomaly": "outlier", "column": "age", "lower": 0, "upper": 120 },
                { "action": "drop_duplicates", "anomaly": "duplicate_rows" },
            ])
        );
        let dropping = call(&Generate, &json!({ "malformed": "drop" }), &state).unwrap();
        assert_eq!(dropping["rules"][2]["action"], json!("drop_malformed"));
    }

    #[test]
    fn bad_anomalies_and_rules_are_named() {
        assert_eq!(
            failure(call(&Generate, &json!({}), &json!({}))),
            "the state has no `anomalies`"
        );
        assert_eq!(
            failure(call(
                &Generate,
                &json!({}),
                &json!({ "anomalies": [{ "kind": "outlier", "column": "a", "lower": 1 }] })
            )),
            "`anomalies` item 0 (outlier) has no `upper`"
        );
        assert_eq!(
            failure(call(
                &Generate,
                &json!({}),
                &json!({ "anomalies": [{ "kind": "odd" }] })
            )),
            "`anomalies` item 0 has an unknown kind \"odd\""
        );
        let message = |rules: Vec<serde_json::Value>| read_rules(&rules).unwrap_err().message;
        assert_eq!(
            message(vec![json!({ "action": "clip" })]),
            "`rules` item 0: `clip` needs a `column`"
        );
        assert_eq!(
            message(vec![json!({ "action": "fill_null", "column": "a" })]),
            "`rules` item 0: `value` is missing"
        );
        assert!(
            message(vec![
                json!({ "action": "null_malformed", "column": "a", "pattern": "(" })
            ])
            .starts_with("`rules` item 0: `pattern` does not compile")
        );
        assert!(
            message(vec![json!({ "action": "shout" })])
                .starts_with("`rules` item 0: unknown action \"shout\"")
        );
    }
}
