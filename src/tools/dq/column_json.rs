//! A column's tally as `dq.profile` reports it, and numbers as JSON.

use serde_json::{Map, Value, json};

use super::summary::{ColumnTally, ColumnType, Distinct};

impl ColumnTally {
    /// The profile entry: see docs/tools.md.
    pub(super) fn to_json(&self, top: usize) -> Value {
        let column_type = self.column_type();
        let (distinct, exact) = match self.distinct() {
            Distinct::Exact(distinct) => (Value::from(distinct), true),
            Distinct::Estimated(distinct) => (Value::from(distinct), false),
            Distinct::Many => (Value::Null, false),
        };
        let mut entry = Map::new();
        entry.insert("type".into(), column_type.name().into());
        entry.insert("count".into(), self.count().into());
        entry.insert("nulls".into(), self.nulls().into());
        entry.insert("distinct".into(), distinct);
        entry.insert("distinct_exact".into(), exact.into());
        if let Some(stats) = self.numeric() {
            let as_json = |value: f64| number_json(value, column_type == ColumnType::Int);
            entry.insert("min".into(), as_json(stats.min));
            entry.insert("max".into(), as_json(stats.max));
            entry.insert("mean".into(), float_json(stats.mean));
            entry.insert(
                "stddev".into(),
                stats.stddev.map_or(Value::Null, float_json),
            );
            entry.insert("q1".into(), float_json(stats.q1));
            entry.insert("median".into(), float_json(stats.median));
            entry.insert("q3".into(), float_json(stats.q3));
        } else if column_type != ColumnType::Empty {
            let values = self
                .top(top)
                .into_iter()
                .map(|(value, count)| json!({ "value": value, "count": count }))
                .collect();
            entry.insert("top".into(), Value::Array(values));
        }
        Value::Object(entry)
    }
}

/// A float as JSON (a non-finite float, which JSON cannot hold, as null).
pub(super) fn float_json(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// A number as JSON: whole when `int` and it is whole.
#[allow(clippy::cast_possible_truncation)]
pub(super) fn number_json(value: f64, int: bool) -> Value {
    if int && value.fract() == 0.0 && value.abs() < 9.0e15 {
        Value::from(value as i64)
    } else {
        float_json(value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::ColumnTally;

    #[test]
    fn profile_entry_counts_nulls_distinct_and_top_values() {
        let entry = ColumnTally::of_texts(&["US", "us", "", "US", "DE"]).to_json(2);
        assert_eq!(
            entry,
            json!({
                "type": "string", "count": 4, "nulls": 1, "distinct": 3, "distinct_exact": true,
                "top": [{ "value": "US", "count": 2 }, { "value": "DE", "count": 1 }]
            })
        );
        let numbers = ColumnTally::of_texts(&["1", "2", "", "3", "10"]).to_json(2);
        assert_eq!(numbers["min"], json!(1));
        assert_eq!(numbers["max"], json!(10));
        assert_eq!(numbers["mean"], json!(4.0));
        assert_eq!(numbers["median"], json!(2.5));
    }
}
