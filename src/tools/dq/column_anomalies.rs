//! What a column's tally shows is wrong with it, as `dq.detect_anomalies` reports each kind:
//! missing values, outliers, inconsistent categories.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::column_json::number_json;
use super::counted::Counted;
use super::numeric_stats::NumericStats;
use super::summary::{ColumnTally, ColumnType, Distinct, EXAMPLES};

/// A text column is checked for inconsistent categories when it has at most this many
/// distinct values (more is free text: names, comments).
pub(super) const CATEGORY_MAX_DISTINCT: usize = 1_000;

/// How outliers are found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Outliers {
    ZScore(f64),
    Iqr(f64),
}

pub(super) fn missing_values(
    column: &str,
    tally: &ColumnTally,
    stats: Option<&NumericStats>,
) -> Option<Value> {
    if tally.nulls() == 0 {
        return None;
    }
    let column_type = tally.column_type();
    // A made-up address is worse than none: email columns get no fill value.
    let fill = match column_type {
        ColumnType::Int | ColumnType::Float => stats.map_or(Value::Null, |stats| {
            let int = column_type == ColumnType::Int;
            number_json(
                if int {
                    stats.median.round()
                } else {
                    stats.median
                },
                int,
            )
        }),
        ColumnType::Bool => tally
            .top(1)
            .first()
            .map_or(Value::Null, |(value, _)| Value::Bool(*value == "true")),
        ColumnType::String | ColumnType::Mixed => tally
            .top(1)
            .first()
            .map_or(Value::Null, |(value, _)| Value::from(*value)),
        ColumnType::Email | ColumnType::Empty => Value::Null,
    };
    Some(json!({
        "kind": "missing_values", "column": column, "count": tally.nulls(),
        "examples": tally.null_rows.iter().map(|row| json!({ "row": row })).collect::<Vec<_>>(),
        "fill": fill,
    }))
}

pub(super) fn outlier_anomaly(
    column: &str,
    tally: &ColumnTally,
    stats: Option<&NumericStats>,
    outliers: Outliers,
) -> Option<Value> {
    let stats = stats?;
    let (mut lower, mut upper, method) = match outliers {
        Outliers::ZScore(z) => {
            let spread = z * stats.stddev.filter(|stddev| *stddev > 0.0)?;
            (stats.mean - spread, stats.mean + spread, "zscore")
        }
        Outliers::Iqr(k) => {
            let spread = k * (stats.q3 - stats.q1);
            (stats.q1 - spread, stats.q3 + spread, "iqr")
        }
    };
    let int = tally.column_type() == ColumnType::Int;
    if int {
        // Clipping to these keeps the column whole numbers, still inside the bounds.
        (lower, upper) = (lower.ceil(), upper.floor());
    }
    let mut found = Mismatches::default();
    for &(row, value) in &tally.numbers {
        if value < lower || value > upper {
            found.push(json!({ "row": row, "value": number_json(value, int) }));
        }
    }
    found.anomaly("outlier", column, |entry| {
        entry.insert("method".into(), method.into());
        entry.insert("lower".into(), number_json(lower, int));
        entry.insert("upper".into(), number_json(upper, int));
    })
}

/// Values equal once trimmed and lower-cased but written differently: each group's most
/// common spelling is the canonical one, and every other spelling's cells are counted.
pub(super) fn category_anomaly(column: &str, tally: &ColumnTally) -> Option<Value> {
    let Distinct::Exact(distinct) = tally.distinct() else {
        return None;
    };
    if tally.column_type() != ColumnType::String || distinct > CATEGORY_MAX_DISTINCT as u64 {
        return None;
    }
    let mut groups: HashMap<String, Vec<(&str, u64)>> = HashMap::new();
    for (value, count) in tally.top(usize::MAX) {
        groups
            .entry(value.trim().to_lowercase())
            .or_default()
            .push((value, count));
    }
    let mut mapping: Vec<(&str, &str, u64)> = Vec::new();
    for spellings in groups.values().filter(|spellings| spellings.len() > 1) {
        // `top` sorted them most common first, ties in value order.
        let canonical = spellings[0].0;
        mapping.extend(
            spellings[1..]
                .iter()
                .map(|&(variant, count)| (variant, canonical, count)),
        );
    }
    if mapping.is_empty() {
        return None;
    }
    mapping.sort_unstable();
    let count: u64 = mapping.iter().map(|(_, _, count)| count).sum();
    let examples: Vec<Value> = mapping
        .iter()
        .take(EXAMPLES)
        .map(|(variant, canonical, count)| json!({ "value": variant, "canonical": canonical, "count": count }))
        .collect();
    let mapping: Map<String, Value> = mapping
        .into_iter()
        .map(|(variant, canonical, _)| (variant.to_owned(), canonical.into()))
        .collect();
    Some(json!({
        "kind": "inconsistent_category", "column": column, "count": count,
        "examples": examples, "mapping": mapping,
    }))
}

/// Rows that have an anomaly, their examples as the anomaly shows them.
pub(super) type Mismatches = Counted<Value>;

impl Mismatches {
    pub(super) fn anomaly(
        &self,
        kind: &str,
        column: &str,
        extra: impl FnOnce(&mut Map<String, Value>),
    ) -> Option<Value> {
        if self.count == 0 {
            return None;
        }
        let mut entry = Map::new();
        entry.insert("kind".into(), kind.into());
        entry.insert("column".into(), column.into());
        entry.insert("count".into(), self.count.into());
        entry.insert("examples".into(), Value::Array(self.examples.clone()));
        extra(&mut entry);
        Some(Value::Object(entry))
    }
}
