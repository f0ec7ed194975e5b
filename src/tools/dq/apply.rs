//! `dq.apply_rules`: repairs the table by the state's `rules` (shapes in [`super::rules`]).
//!
//! Rules run in list order on each row; a rule that drops the row ends it. Over `rows` the
//! new rows replace `rows`; over a CSV `dataset` the repaired table is streamed to `output`
//! and `dataset` is pointed at it ([`super::apply_csv`]).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::apply_csv::{apply_to_csv, csv_field};
use super::cell::{Cell, trim};
use super::column_json::number_json;
use super::dataset::{Dataset, checkpoint, row_object};
use super::duplicates::{fields_fingerprint, fingerprint};
use super::fast_hash::FastBuild;
use super::rules::{Action, Rule, read_rules};
use super::{column_index, state_list};
use crate::tools::{Tool, ToolCall, ToolFailure};

pub(super) struct Apply;

impl Tool for Apply {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let rules = read_rules(state_list(call, "rules")?)?;
        let dataset = Dataset::from_state(call)?;
        let columns = dataset.columns()?;
        let mut repair = Repair::new(&rules, &columns, matches!(dataset, Dataset::Csv { .. }))?;
        let mut changes = Map::new();
        match &dataset {
            Dataset::Rows(rows) => {
                let mut repaired = Vec::with_capacity(rows.len());
                for (index, row) in rows.iter().enumerate() {
                    checkpoint(call, index)?;
                    let object = row_object(index, row)?;
                    let mut cells: Vec<Value> = columns
                        .iter()
                        .map(|column| object.get(column).cloned().unwrap_or(Value::Null))
                        .collect();
                    if repair.row(&mut cells) {
                        let mut out = object.clone();
                        for (column, cell) in columns.iter().zip(cells) {
                            if object.get(column).unwrap_or(&Value::Null) != &cell {
                                out.insert(column.clone(), cell);
                            }
                        }
                        repaired.push(Value::Object(out));
                    }
                }
                changes.insert("row_count".into(), repaired.len().into());
                changes.insert("rows".into(), Value::Array(repaired));
            }
            Dataset::Csv { path, shown } => {
                apply_to_csv(call, (path, shown), &columns, &mut repair, &mut changes)?;
            }
        }
        changes.insert("applied".into(), repair.applied());
        Ok(changes)
    }
}

/// The rules with their columns resolved, and what each has changed so far.
pub(super) struct Repair<'r> {
    rules: Vec<(&'r Rule, Option<usize>)>,
    /// Cells and rows each rule changed (a dropped row counts as a row).
    changed: Vec<(u64, u64)>,
    seen: HashSet<u64, FastBuild>,
    /// Reused to fingerprint a row.
    scratch: Vec<u8>,
    /// CSV cells stay text: a value a rule sets is stored as its text.
    text_cells: bool,
}

impl<'r> Repair<'r> {
    fn new(rules: &'r [Rule], columns: &[String], text_cells: bool) -> Result<Self, ToolFailure> {
        let resolved = rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let at = match &rule.column {
                    Some(column) => Some(column_index(
                        columns,
                        column,
                        &format!("`rules` item {index} ({})", rule.name),
                    )?),
                    None => None,
                };
                Ok((rule, at))
            })
            .collect::<Result<Vec<_>, ToolFailure>>()?;
        Ok(Repair {
            changed: vec![(0, 0); resolved.len()],
            rules: resolved,
            seen: HashSet::default(),
            scratch: Vec::new(),
            text_cells,
        })
    }

    /// Whether no two rows written share a [`fields_fingerprint`]: a CSV table's duplicates
    /// are dropped by one, and no later rule changes a cell (a later rule may only drop
    /// rows). Then a pass over the written file finds no duplicate rows.
    pub(super) fn dedupes_written_rows(&self) -> bool {
        let last_dedupe = (self.rules.iter())
            .rposition(|(rule, _)| matches!(rule.action, Action::DropDuplicates));
        self.text_cells
            && last_dedupe.is_some_and(|last| {
                self.rules[last..]
                    .iter()
                    .all(|(rule, _)| rule.action.drops_rows())
            })
    }

    /// Which of the table's `count` columns no rule changes, when no rule drops a row (a
    /// dropped row moves every later row): those columns are written as they were read.
    pub(super) fn untouched_columns(&self, count: usize) -> Option<Vec<bool>> {
        let mut untouched = vec![true; count];
        for (rule, column) in &self.rules {
            if rule.action.drops_rows() {
                return None;
            }
            if let Some(column) = column {
                untouched[*column] = false;
            }
        }
        Some(untouched)
    }

    /// Repairs one row in place; false when a rule drops it.
    pub(super) fn row(&mut self, cells: &mut [Value]) -> bool {
        for (index, (rule, column)) in self.rules.iter().enumerate() {
            let outcome = match (&rule.action, column) {
                (Action::DropDuplicates, _) => {
                    // CSV cells are hashed as the fields written, by the fingerprint a
                    // reader of the written file takes: see `dedupes_written_rows`.
                    let row = if self.text_cells {
                        fields_fingerprint(cells.iter().map(csv_field), &mut self.scratch)
                    } else {
                        fingerprint(cells.iter().map(|cell| Cell::from_json(Some(cell))))
                    };
                    if self.seen.insert(row) {
                        Outcome::Same
                    } else {
                        Outcome::Drop
                    }
                }
                (action, Some(column)) => cell_outcome(action, &cells[*column], self.text_cells),
                (_, None) => Outcome::Same,
            };
            let counts = &mut self.changed[index];
            match outcome {
                Outcome::Same => {}
                Outcome::Set(value) => {
                    counts.0 += 1;
                    counts.1 += 1;
                    if let Some(column) = column {
                        cells[*column] = value;
                    }
                }
                Outcome::Drop => {
                    counts.1 += 1;
                    return false;
                }
            }
        }
        true
    }

    fn applied(&self) -> Value {
        let entries = self
            .rules
            .iter()
            .zip(&self.changed)
            .enumerate()
            .map(|(index, ((rule, _), (cells, rows)))| {
                json!({ "rule": index, "action": rule.name, "column": rule.column, "cells": cells, "rows": rows })
            })
            .collect();
        Value::Array(entries)
    }
}

enum Outcome {
    Same,
    Set(Value),
    Drop,
}

fn cell_outcome(action: &Action, value: &Value, text_cells: bool) -> Outcome {
    let cell = Cell::from_json(Some(value));
    let set = |new: Value| {
        let new = match new {
            Value::Null | Value::String(_) => new,
            other if text_cells => Value::String(other.to_string()),
            other => other,
        };
        if &new == value {
            Outcome::Same
        } else {
            Outcome::Set(new)
        }
    };
    match action {
        Action::FillNull(fill) if cell.is_null() => set(fill.clone()),
        Action::TrimLower => match value {
            // Most addresses are already so: no new string to find that out.
            Value::String(text) if is_trimmed_ascii_lowercase(text) => Outcome::Same,
            Value::String(text) if !cell.is_null() => {
                set(Value::String(text.trim().to_lowercase()))
            }
            _ => Outcome::Same,
        },
        Action::NullMalformed(pattern) | Action::DropMalformed(pattern) => match cell.text() {
            Some(text) if !pattern.is_match(&text) => {
                if matches!(action, Action::DropMalformed(_)) {
                    Outcome::Drop
                } else {
                    Outcome::Set(Value::Null)
                }
            }
            _ => Outcome::Same,
        },
        Action::Clip { lower, upper } => {
            let Some(number) = cell.number() else {
                return Outcome::Same;
            };
            let whole = |bound: f64| number_json(bound, true);
            match (lower, upper) {
                (Some(lower), _) if number < *lower => set(whole(*lower)),
                (_, Some(upper)) if number > *upper => set(whole(*upper)),
                _ => Outcome::Same,
            }
        }
        Action::MapValues(mapping) => match value {
            Value::String(text) => mapping
                .get(text)
                .map_or(Outcome::Same, |to| set(to.clone())),
            _ => Outcome::Same,
        },
        Action::FillNull(_) | Action::DropDuplicates => Outcome::Same,
    }
}

/// Whether trimming and lower-casing would leave `text` as it is, answered for ASCII text only.
fn is_trimmed_ascii_lowercase(text: &str) -> bool {
    text.is_ascii()
        && trim(text).len() == text.len()
        && !text.bytes().any(|byte| byte.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Apply, Repair};
    use crate::tools::dq::rules::{Rule, read_rules};
    use crate::tools::dq::testing::{call, call_in, failure};

    fn rules() -> serde_json::Value {
        json!([
            { "action": "trim_lower", "column": "email" },
            { "action": "map_values", "column": "city", "mapping": { "oslo ": "Oslo" } },
            { "action": "null_malformed", "column": "email", "pattern": "^[a-z]+@x\\.io$" },
            { "action": "fill_null", "column": "age", "value": 45 },
            { "action": "clip", "column": "age", "lower": 0, "upper": 120 },
            { "action": "drop_duplicates" },
        ])
    }

    #[test]
    fn repairs_rows_and_counts_each_rules_changes() {
        let state = json!({ "rules": rules(), "rows": [
            { "age": 30, "city": "Oslo", "email": " A@X.io" },
            { "age": null, "city": "oslo ", "email": "bad" },
            { "age": 300, "city": "Oslo", "email": "b@x.io" },
            { "age": 30, "city": "Oslo", "email": "a@x.io" },
            { "city": "Bergen", "email": "c@x.io" },
        ]});
        let changes = call(&Apply, &json!({}), &state).unwrap();
        assert_eq!(
            changes["rows"],
            json!([
                { "age": 30, "city": "Oslo", "email": "a@x.io" },
                { "age": 45, "city": "Oslo", "email": null },
                { "age": 120, "city": "Oslo", "email": "b@x.io" },
                { "city": "Bergen", "email": "c@x.io", "age": 45 },
            ])
        );
        let counts: Vec<(u64, u64)> = changes["applied"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (
                    entry["cells"].as_u64().unwrap(),
                    entry["rows"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(counts, [(1, 1), (1, 1), (1, 1), (2, 2), (1, 1), (0, 1)]);
        assert_eq!(changes["row_count"], json!(4));
    }

    #[test]
    fn repairs_a_csv_into_output_and_points_dataset_at_it() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(
            folder.path().join("in.csv"),
            "age,city,email\n30,Oslo,a@x.io\n,oslo ,bad\n300,Oslo,b@x.io\n30,Oslo,a@x.io\n",
        )
        .unwrap();
        let state = json!({ "rules": rules(), "dataset": "in.csv", "output": "out.csv" });
        let changes = call_in(&Apply, folder.path(), &json!({}), &state).unwrap();
        assert_eq!(changes["dataset"], json!("out.csv"));
        assert_eq!(changes["row_count"], json!(3));
        let written = std::fs::read_to_string(folder.path().join("out.csv")).unwrap();
        assert_eq!(
            written,
            "age,city,email\n30,Oslo,a@x.io\n45,Oslo,\n120,Oslo,b@x.io\n"
        );
        // Repairing the output in place works: it is written aside, then renamed.
        let again = json!({ "rules": rules(), "dataset": "out.csv" });
        call_in(
            &Apply,
            folder.path(),
            &json!({ "output": "out.csv" }),
            &again,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(folder.path().join("out.csv")).unwrap(),
            written
        );
    }

    #[test]
    fn rows_are_known_distinct_when_deduplicated_last() {
        let rules = |actions: &[&str]| -> Vec<Rule> {
            let items: Vec<serde_json::Value> = (actions.iter())
                .map(|action| match *action {
                    "drop_duplicates" => json!({ "action": action }),
                    "drop_malformed" => json!({ "action": action, "column": "a", "pattern": "x" }),
                    _ => json!({ "action": action, "column": "a" }),
                })
                .collect();
            read_rules(&items).unwrap()
        };
        let columns = ["a".to_owned()];
        let distinct = |actions: &[&str], csv: bool| {
            let rules = rules(actions);
            Repair::new(&rules, &columns, csv)
                .unwrap()
                .dedupes_written_rows()
        };
        assert!(distinct(&["trim_lower", "drop_duplicates"], true));
        assert!(distinct(&["drop_duplicates", "drop_malformed"], true));
        assert!(!distinct(&["drop_duplicates", "trim_lower"], true));
        assert!(!distinct(&["trim_lower"], true));
        assert!(
            !distinct(&["drop_duplicates"], false),
            "rows are not CSV fields"
        );
    }

    #[test]
    fn bad_input_fails_naming_the_field() {
        let rows = json!([{ "a": 1 }]);
        assert_eq!(
            failure(call(
                &Apply,
                &json!({}),
                &json!({ "rows": rows, "rules": [{ "action": "trim_lower", "column": "b" }] })
            )),
            "`rules` item 0 (trim_lower) names column `b`, which the table does not have (it has: a)"
        );
        assert_eq!(
            failure(call(&Apply, &json!({}), &json!({ "rows": rows }))),
            "the state has no `rules`"
        );
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("in.csv"), "a\n1\n").unwrap();
        assert_eq!(
            failure(call_in(
                &Apply,
                folder.path(),
                &json!({}),
                &json!({ "dataset": "in.csv", "rules": [] })
            )),
            "dq.apply_rules over a CSV `dataset` needs an `output` path (the argument or a state field)"
        );
    }
}
