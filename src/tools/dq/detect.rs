//! `dq.detect_anomalies`: what is wrong with the table, as a list of anomalies.

use serde_json::{Map, Value, json};

use super::cell::EMAIL_PATTERN;
use super::column_anomalies::{
    Mismatches, Outliers, category_anomaly, missing_values, outlier_anomaly,
};
use super::content_digest::Digest;
use super::dataset::Dataset;
use super::duplicates::DuplicateRows;
use super::kept::{KEPT, TableTally};
use super::pattern::Pattern;
use super::summary::{ColumnTally, ColumnType};
use super::tally_pass::tally_columns;
use super::{column_index, float_arg, selected_columns};
use crate::tools::{Tool, ToolCall, ToolFailure};

pub(super) struct Detect;

impl Tool for Detect {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let outliers = match call.args.get("method").and_then(Value::as_str) {
            Some("iqr") => Outliers::Iqr(float_arg(call, "k", 1.5)?),
            None | Some("zscore") => Outliers::ZScore(float_arg(call, "z", 3.0)?),
            Some(other) => {
                return Err(ToolFailure::failed(format!(
                    "`method` must be \"zscore\" or \"iqr\", not {other:?}"
                )));
            }
        };
        let dataset = Dataset::from_state(call)?;
        let columns = dataset.columns()?;
        let chosen = selected_columns(call, &columns)?;
        let patterns = patterns(call, &columns)?;
        let mut mismatches: Vec<Mismatches> =
            patterns.iter().map(|_| Mismatches::default()).collect();
        let (table, digest) = tally_table(call, &dataset, columns, &patterns, &mut mismatches)?;
        let (columns, tallies, duplicates) = (&table.columns, &table.tallies, &table.duplicates);
        let mut anomalies = Vec::new();
        for &column in &chosen {
            let name = columns[column].as_str();
            let tally = &tallies[column].1;
            let stats = tally.numeric();
            anomalies.extend(missing_values(name, tally, stats));
            if let Some(index) = patterns.iter().position(|(at, _)| *at == column) {
                anomalies.extend(
                    mismatches[index].anomaly("pattern_mismatch", name, |entry| {
                        entry.insert("pattern".into(), patterns[index].1.as_str().into());
                    }),
                );
            } else if tally.column_type() == ColumnType::Email && tally.non_emails > 0 {
                let examples = tally
                    .non_email_rows
                    .iter()
                    .map(|(row, value)| json!({ "row": row, "value": value }))
                    .collect();
                anomalies.push(json!({
                    "kind": "malformed_email", "column": name, "count": tally.non_emails,
                    "examples": Value::Array(examples), "pattern": EMAIL_PATTERN,
                }));
            }
            anomalies.extend(outlier_anomaly(name, tally, stats, outliers));
            anomalies.extend(category_anomaly(name, tally));
        }
        let duplicate_rows = Mismatches {
            count: duplicates.found.count,
            examples: (duplicates.found.examples.iter())
                .map(|(row, first)| json!({ "row": row, "first": first }))
                .collect(),
        };
        anomalies.extend(duplicate_rows.anomaly("duplicate_rows", "", |entry| {
            entry.insert("column".into(), Value::Null);
        }));
        let total: u64 = anomalies
            .iter()
            .filter_map(|anomaly| anomaly["count"].as_u64())
            .sum();
        // Kept (or kept again) for the apply that usually comes next.
        if let (Dataset::Csv { path, .. }, Some(digest)) = (&dataset, digest) {
            KEPT.keep(path.clone(), digest, table);
        }
        let mut changes = Map::new();
        changes.insert("anomalies".into(), Value::Array(anomalies));
        changes.insert("anomaly_count".into(), total.into());
        Ok(changes)
    }

    fn check_arg(&self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value) {
            ("patterns", Value::Object(patterns)) => {
                for (column, pattern) in patterns {
                    if let Some(pattern) = pattern.as_str() {
                        Pattern::compile(pattern).map_err(|error| {
                            format!("the pattern for `{column}` does not compile: {error}")
                        })?;
                    }
                }
                Ok(())
            }
            ("z" | "k", value) if value.as_f64().is_some_and(|value| value <= 0.0) => {
                Err(format!("`{name}` must be greater than 0"))
            }
            _ => Ok(()),
        }
    }
}

/// The table's tallies: those kept for the file if it still holds their bytes (but not
/// with `patterns`, which are matched row by row), else a pass over it, `mismatches`
/// collecting the rows that miss a pattern. Over a CSV file, the digest of its bytes too.
fn tally_table(
    call: &ToolCall<'_>,
    dataset: &Dataset<'_>,
    columns: Vec<String>,
    patterns: &[(usize, Pattern)],
    mismatches: &mut [Mismatches],
) -> Result<(TableTally, Option<Digest>), ToolFailure> {
    let kept = match dataset {
        Dataset::Csv { path, .. } if patterns.is_empty() => KEPT
            .take_current(path, || call.interruption().is_none())
            .filter(|(_, table)| table.columns == columns),
        _ => None,
    };
    let (mut table, digest) = if let Some((digest, table)) = kept {
        (table, Some(digest))
    } else {
        let mut tallies: Vec<(usize, ColumnTally)> = (0..columns.len())
            .map(|column| (column, ColumnTally::default()))
            .collect();
        let mut duplicates = DuplicateRows::default();
        let digest = tally_columns(
            dataset,
            call,
            &columns,
            &mut tallies,
            Some(&mut duplicates),
            !patterns.is_empty(),
            |row, cells| {
                for ((column, pattern), found) in patterns.iter().zip(mismatches.iter_mut()) {
                    if let Some(text) = cells[*column].text()
                        && !pattern.is_match(&text)
                    {
                        found.push(json!({ "row": row, "value": text }));
                    }
                }
                Ok(())
            },
        )?;
        let table = TableTally {
            columns,
            tallies,
            duplicates,
        };
        (table, digest)
    };
    // Rows are told apart by a hash, which may collide: with a column whose cells all
    // differ (an id), no rows are equal, so any duplicate found is such a collision.
    if table
        .tallies
        .iter()
        .any(|(_, tally)| tally.cells_all_differ())
    {
        table.duplicates = DuplicateRows::default();
    }
    Ok((table, digest))
}

/// The `patterns` argument: (column position, compiled pattern), in the argument's order.
fn patterns(call: &ToolCall<'_>, columns: &[String]) -> Result<Vec<(usize, Pattern)>, ToolFailure> {
    let Some(Value::Object(patterns)) = call.args.get("patterns") else {
        return Ok(Vec::new());
    };
    patterns
        .iter()
        .map(|(column, pattern)| {
            let at = column_index(columns, column, "`patterns`")?;
            let pattern = pattern.as_str().unwrap_or_default();
            let compiled = Pattern::compile(pattern).map_err(|error| {
                ToolFailure::failed(format!("`patterns.{column}` does not compile: {error}"))
            })?;
            Ok((at, compiled))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::Detect;
    use crate::tools::Tool;
    use crate::tools::dq::profile::tests::people;
    use crate::tools::dq::testing::{call, failure};

    fn kind<'a>(anomalies: &'a Value, kind: &str, column: &str) -> &'a Value {
        anomalies
            .as_array()
            .unwrap()
            .iter()
            .find(|anomaly| anomaly["kind"] == kind && anomaly["column"] == column)
            .unwrap_or_else(|| panic!("no {kind} on {column} in {anomalies:#}"))
    }

    #[test]
    fn finds_every_kind_of_anomaly_in_rows() {
        let changes = call(&Detect, &json!({ "z": 1.4 }), &people()).unwrap();
        let anomalies = &changes["anomalies"];
        assert_eq!(
            *kind(anomalies, "missing_values", "age"),
            json!({ "kind": "missing_values", "column": "age", "count": 1, "examples": [{ "row": 2 }], "fill": 45 })
        );
        assert_eq!(
            kind(anomalies, "missing_values", "city")["fill"],
            json!("Oslo")
        );
        assert_eq!(
            kind(anomalies, "malformed_email", "email")["examples"],
            json!([{ "row": 2, "value": "bad" }])
        );
        // mean 280, sample stddev 480.069: 280 ± 1.4·480.069, rounded inwards.
        let outlier = kind(anomalies, "outlier", "age");
        assert_eq!(
            (outlier["lower"].clone(), outlier["upper"].clone()),
            (json!(-392), json!(952))
        );
        assert_eq!(outlier["examples"], json!([{ "row": 4, "value": 1000 }]));
        let category = kind(anomalies, "inconsistent_category", "city");
        assert_eq!(category["mapping"], json!({ "oslo ": "Oslo" }));
        assert_eq!(category["count"], json!(1));
        assert_eq!(changes["anomaly_count"], json!(5));
        assert_eq!(anomalies.as_array().unwrap().len(), 5);
    }

    #[test]
    fn iqr_bounds_come_from_the_quartiles() {
        let changes = call(&Detect, &json!({ "method": "iqr", "k": 1.5 }), &people()).unwrap();
        // q1 37.5, q3 287.5: 37.5 − 375 and 287.5 + 375, rounded inwards.
        let outlier = kind(&changes["anomalies"], "outlier", "age");
        assert_eq!(
            (outlier["lower"].clone(), outlier["upper"].clone()),
            (json!(-337), json!(662))
        );
        let zscore = call(&Detect, &json!({}), &people()).unwrap();
        assert!(
            zscore["anomalies"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["kind"] != "outlier")
        );
    }

    #[test]
    fn finds_duplicate_rows_and_pattern_mismatches() {
        let state = json!({ "rows": [
            { "code": "A-1", "n": 1 }, { "code": "b2", "n": 2 }, { "code": "A-1", "n": 1 }, { "code": "A-1", "n": 1 },
        ]});
        let changes = call(
            &Detect,
            &json!({ "patterns": { "code": "^[A-Z]-[0-9]$" } }),
            &state,
        )
        .unwrap();
        assert_eq!(
            changes["anomalies"],
            json!([
                { "kind": "pattern_mismatch", "column": "code", "count": 1, "examples": [{ "row": 1, "value": "b2" }], "pattern": "^[A-Z]-[0-9]$" },
                { "kind": "duplicate_rows", "column": null, "count": 2, "examples": [{ "row": 2, "first": 0 }, { "row": 3, "first": 0 }] },
            ])
        );
        assert_eq!(changes["anomaly_count"], json!(3));
    }

    #[test]
    fn bad_patterns_fail_at_check_time_and_run_time() {
        let error = Detect
            .check_arg("patterns", &json!({ "code": "(" }))
            .unwrap_err();
        assert_eq!(
            error,
            "the pattern for `code` does not compile: unclosed group"
        );
        assert_eq!(
            Detect.check_arg("z", &json!(0)).unwrap_err(),
            "`z` must be greater than 0"
        );
        assert!(
            Detect
                .check_arg("patterns", &json!({ "code": "^a$" }))
                .is_ok()
        );
        let message = failure(call(
            &Detect,
            &json!({ "patterns": { "zip": "^[0-9]+$" } }),
            &people(),
        ));
        assert!(
            message.starts_with("`patterns` names column `zip`"),
            "{message}"
        );
    }
}
