//! `dq.profile`: per-column statistics of the table.

use serde_json::{Map, Value};

use super::dataset::Dataset;
use super::duplicates::DuplicateRows;
use super::kept::{KEPT, TableTally};
use super::summary::ColumnTally;
use super::tally_pass::tally_columns;
use super::{int_arg, selected_columns};
use crate::tools::{Tool, ToolCall, ToolFailure};

/// How many top values a text column reports unless `top` says otherwise.
pub(super) const DEFAULT_TOP: usize = 5;

pub(super) struct Profile;

impl Tool for Profile {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let top = int_arg(call, "top")?.unwrap_or(DEFAULT_TOP);
        let dataset = Dataset::from_state(call)?;
        let columns = dataset.columns()?;
        let chosen = selected_columns(call, &columns)?;
        let mut tallies: Vec<(usize, ColumnTally)> = (chosen.iter())
            .map(|&column| (column, ColumnTally::estimating()))
            .collect();
        // Detect usually comes next, over the same file, and needs the same tallies and
        // the duplicate rows: a profile of every column keeps them for it ([`KEPT`]).
        let keeps = matches!(dataset, Dataset::Csv { .. })
            && chosen.len() == columns.len()
            && chosen
                .iter()
                .enumerate()
                .all(|(position, &column)| position == column);
        let mut duplicates = DuplicateRows::default();
        let mut row_count = 0usize;
        let digest = tally_columns(
            &dataset,
            call,
            &columns,
            &mut tallies,
            keeps.then_some(&mut duplicates),
            false,
            |_, _| {
                row_count += 1;
                Ok(())
            },
        )?;
        let profile: Map<String, Value> = (tallies.iter())
            .map(|(column, tally)| (columns[*column].clone(), tally.to_json(top)))
            .collect();
        if let (Dataset::Csv { path, .. }, Some(digest), true) = (&dataset, digest, keeps) {
            let table = TableTally {
                columns,
                tallies,
                duplicates,
            };
            KEPT.keep(path.clone(), digest, table);
        }
        let mut changes = Map::new();
        changes.insert("profile".into(), Value::Object(profile));
        changes.insert("row_count".into(), row_count.into());
        Ok(changes)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use serde_json::json;

    use super::Profile;
    use crate::tools::dq::testing::{call, call_in, failure};

    pub(crate) fn people() -> serde_json::Value {
        json!({ "rows": [
            { "id": 1, "age": 30, "city": "Oslo", "email": "a@x.io" },
            { "id": 2, "age": 40, "city": "oslo ", "email": "b@x.io" },
            { "id": 3, "age": null, "city": "Bergen", "email": "bad" },
            { "id": 4, "age": 50, "city": "Oslo", "email": "c@x.io" },
            { "id": 5, "age": 1000, "email": "d@x.io" },
        ]})
    }

    #[test]
    fn profiles_rows_with_exact_statistics() {
        let changes = call(&Profile, &json!({}), &people()).unwrap();
        assert_eq!(changes["row_count"], json!(5));
        let age = &changes["profile"]["age"];
        assert_eq!(age["type"], json!("int"));
        assert_eq!(
            (age["count"].clone(), age["nulls"].clone()),
            (json!(4), json!(1))
        );
        assert_eq!(
            (age["min"].clone(), age["max"].clone()),
            (json!(30), json!(1000))
        );
        assert_eq!(age["mean"], json!(280.0));
        let stddev = age["stddev"].as_f64().unwrap();
        assert!(
            (stddev - (691_400f64 / 3.0).sqrt()).abs() < 1e-9,
            "{stddev}"
        );
        assert_eq!(
            (age["q1"].clone(), age["median"].clone(), age["q3"].clone()),
            (json!(37.5), json!(45.0), json!(287.5))
        );
        let city = &changes["profile"]["city"];
        assert_eq!(
            *city,
            json!({ "type": "string", "count": 4, "nulls": 1, "distinct": 3, "distinct_exact": true,
                    "top": [{ "value": "Oslo", "count": 2 }, { "value": "Bergen", "count": 1 }, { "value": "oslo ", "count": 1 }] })
        );
        assert_eq!(changes["profile"]["email"]["type"], json!("email"));
    }

    #[test]
    fn profiles_a_csv_file_and_only_the_columns_asked_for() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("t.csv"), "a,b\n1,x\n2, \n3,y\n").unwrap();
        let state = json!({ "dataset": "t.csv" });
        let changes = call_in(
            &Profile,
            folder.path(),
            &json!({ "columns": ["b"], "top": 1 }),
            &state,
        )
        .unwrap();
        assert_eq!(
            changes["profile"],
            json!({ "b": { "type": "string", "count": 2, "nulls": 1, "distinct": 2, "distinct_exact": true,
                           "top": [{ "value": "x", "count": 1 }] } })
        );
        assert_eq!(changes["row_count"], json!(3));
    }

    #[test]
    fn bad_input_fails_naming_the_field() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("ragged.csv"), "a,b\n1,2\n3\n").unwrap();
        let ragged = failure(call_in(
            &Profile,
            folder.path(),
            &json!({}),
            &json!({ "dataset": "ragged.csv" }),
        ));
        assert_eq!(
            ragged,
            "`dataset` ragged.csv: line 3 has 1 fields, the header has 2"
        );
        // A quote never closed: the rest of the file would be one record.
        let mut open_quote = b"a,b\n1,\"2\n".to_vec();
        open_quote.resize(17 << 20, b'x');
        std::fs::write(folder.path().join("quote.csv"), open_quote).unwrap();
        let unclosed = failure(call_in(
            &Profile,
            folder.path(),
            &json!({}),
            &json!({ "dataset": "quote.csv" }),
        ));
        assert_eq!(
            unclosed,
            "`dataset` quote.csv: the record at line 2 (byte 4) is longer than 16 MiB (is a quote left open?)"
        );
        let missing = failure(call_in(
            &Profile,
            folder.path(),
            &json!({}),
            &json!({ "dataset": "nope.csv" }),
        ));
        assert!(
            missing.starts_with("`dataset` nope.csv: cannot open "),
            "{missing}"
        );
        std::fs::create_dir(folder.path().join("folder.csv")).unwrap();
        let not_a_file = failure(call_in(
            &Profile,
            folder.path(),
            &json!({}),
            &json!({ "dataset": "folder.csv" }),
        ));
        assert!(
            not_a_file.starts_with("`dataset` folder.csv: ")
                && not_a_file.ends_with("folder.csv is not a regular file"),
            "{not_a_file}"
        );
        let outside = failure(call_in(
            &Profile,
            folder.path(),
            &json!({}),
            &json!({ "dataset": "/dev/zero" }),
        ));
        assert!(
            outside.starts_with(
                "`dataset` /dev/zero: /dev/zero is outside the folders tools may use ("
            ),
            "{outside}"
        );
        assert_eq!(
            failure(call(
                &Profile,
                &json!({}),
                &json!({ "rows": [{ "a": 1 }, 7] })
            )),
            "`rows` must be a list of objects: item 1 is int"
        );
        assert_eq!(
            failure(call(&Profile, &json!({}), &json!({ "rows": "x" }))),
            "`rows` must be a list of objects, not string"
        );
        assert_eq!(
            failure(call(&Profile, &json!({}), &json!({}))),
            "the state has neither `rows` (a list of objects) nor `dataset` (a CSV file's path)"
        );
        assert_eq!(
            failure(call(&Profile, &json!({ "columns": ["zip"] }), &people())),
            "`columns` names column `zip`, which the table does not have (it has: id, age, city, email)"
        );
    }

    #[test]
    fn rows_win_over_a_dataset() {
        let mut state = people();
        state["dataset"] = json!("does-not-exist.csv");
        let changes = call(&Profile, &json!({}), &state).unwrap();
        assert_eq!(changes["row_count"], json!(5));
    }
}
