//! Per-column statistics gathered in one pass over a table: what `dq.profile` reports and
//! what `dq.detect_anomalies` judges by.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::{Map, Value, json};

use super::cell::{Cell, Parsed, is_email, trim};
use super::fast_hash::FastBuild;
use super::hll::HyperLogLog;

/// Distinct values are counted exactly up to this many; past it, by [`HyperLogLog`].
pub(super) const EXACT_DISTINCT: usize = 10_000;
/// A text column is an email column when at least this share of its values are addresses.
const EMAIL_SHARE: f64 = 0.8;
/// How many row indices an anomaly keeps as examples.
pub(super) const EXAMPLES: usize = 5;

/// A column's inferred type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ColumnType {
    /// Every cell is null.
    Empty,
    Int,
    Float,
    Bool,
    Email,
    String,
    Mixed,
}

impl ColumnType {
    pub(super) fn name(self) -> &'static str {
        match self {
            ColumnType::Empty => "empty",
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Bool => "bool",
            ColumnType::Email => "email",
            ColumnType::String => "string",
            ColumnType::Mixed => "mixed",
        }
    }

    pub(super) fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Int | ColumnType::Float)
    }
}

/// The running tally for one column.
#[derive(Debug, Default)]
pub(super) struct ColumnTally {
    nulls: u64,
    ints: u64,
    floats: u64,
    bools: u64,
    texts: u64,
    emails: u64,
    /// Row index and value of every number, in row order.
    pub(super) numbers: Vec<(usize, f64)>,
    pub(super) null_rows: Vec<usize>,
    /// Texts that are not addresses: how many, and the first few (row, value).
    pub(super) non_emails: u64,
    pub(super) non_email_rows: Vec<(usize, String)>,
    /// Each value's count, for the first [`EXACT_DISTINCT`] distinct values seen.
    pub(super) counts: HashMap<String, u64, FastBuild>,
    overflow: Option<HyperLogLog>,
    /// Reused to write a number's text.
    scratch: String,
}

/// Whether an integer's text is what `i64`'s `Display` writes: no `+`, no leading zeros, no
/// `-0`. Only asked of text that parsed as an `i64`.
fn is_written_as_int(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    match digits.as_bytes() {
        [b'0'] => digits.len() == text.len(),
        [first, ..] => first.is_ascii_digit() && *first != b'0',
        [] => false,
    }
}

/// Whether a float's text is what `f64`'s `Display` writes (the shortest digits that read
/// back as the same float, never an exponent). Only asked of text that parsed as an `f64`.
/// Plain decimals with at most 15 significant digits qualify when they have no leading or
/// trailing zeros: two such decimals never read as the same float (an `f64` holds 15
/// decimal digits), so the shortest digits for the float are the text's own. The length
/// bound keeps far from the subnormals, whose precision is lower.
fn is_written_as_float(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let Some((whole, fraction)) = unsigned.split_once('.') else {
        return false;
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if text.len() > 20 || !all_digits(whole) || !all_digits(fraction) || fraction.ends_with('0') {
        return false;
    }
    let significant = if whole == "0" {
        fraction.trim_start_matches('0').len()
    } else if whole.starts_with('0') {
        return false;
    } else {
        whole.len() + fraction.len()
    };
    significant <= 15
}

impl ColumnTally {
    pub(super) fn observe(&mut self, row: usize, cell: Cell<'_>) {
        match cell.parse() {
            Parsed::Null => {
                self.nulls += 1;
                if self.null_rows.len() < EXAMPLES {
                    self.null_rows.push(row);
                }
            }
            Parsed::Int(int) => {
                self.ints += 1;
                #[allow(clippy::cast_precision_loss)]
                self.numbers.push((row, int as f64));
                self.count_number(cell, is_written_as_int, |key| write!(key, "{int}"));
            }
            Parsed::Float(float) => {
                self.floats += 1;
                self.numbers.push((row, float));
                self.count_number(cell, is_written_as_float, |key| write!(key, "{float}"));
            }
            Parsed::Bool(flag) => {
                self.bools += 1;
                self.count_value(if flag { "true" } else { "false" });
            }
            Parsed::Text(text) => {
                self.texts += 1;
                if is_email(text) {
                    self.emails += 1;
                } else {
                    self.non_emails += 1;
                    if self.non_email_rows.len() < EXAMPLES {
                        self.non_email_rows.push((row, text.to_owned()));
                    }
                }
                self.count_value(text);
            }
            Parsed::Nested => {
                self.texts += 1;
                self.count_value(&cell.text().unwrap_or_default());
            }
        }
    }

    /// Counts a number under the text Rust writes it as (`07` and `7.50` are the values `7`
    /// and `7.5`): the cell's own text when it is already written so, which spares formatting
    /// nearly every number.
    fn count_number(
        &mut self,
        cell: Cell<'_>,
        written_as_rust_does: fn(&str) -> bool,
        write: impl FnOnce(&mut String) -> std::fmt::Result,
    ) {
        if let Cell::Text(text) = cell {
            let trimmed = trim(text);
            if written_as_rust_does(trimmed) {
                self.count_value(trimmed);
                return;
            }
        }
        let mut key = std::mem::take(&mut self.scratch);
        key.clear();
        write(&mut key).expect("writing to a String cannot fail");
        self.count_value(&key);
        self.scratch = key;
    }

    fn count_value(&mut self, key: &str) {
        if let Some(count) = self.counts.get_mut(key) {
            // Past the bound, a counted value is already in the sketch (it went in when the
            // sketch was made), and inserting it again would change nothing.
            *count += 1;
            return;
        }
        if let Some(hll) = &mut self.overflow {
            hll.insert(key);
            return;
        }
        self.counts.insert(key.to_owned(), 1);
        if self.counts.len() > EXACT_DISTINCT {
            let mut hll = HyperLogLog::new();
            for key in self.counts.keys() {
                hll.insert(key);
            }
            self.overflow = Some(hll);
        }
    }

    pub(super) fn nulls(&self) -> u64 {
        self.nulls
    }

    /// Cells that are not null.
    pub(super) fn count(&self) -> u64 {
        self.ints + self.floats + self.bools + self.texts
    }

    /// The number of distinct non-null values, and whether it is exact.
    pub(super) fn distinct(&self) -> (u64, bool) {
        match &self.overflow {
            Some(hll) => (hll.estimate(), false),
            None => (self.counts.len() as u64, true),
        }
    }

    #[allow(clippy::cast_precision_loss)]
    pub(super) fn column_type(&self) -> ColumnType {
        let count = self.count();
        if count == 0 {
            ColumnType::Empty
        } else if self.ints == count {
            ColumnType::Int
        } else if self.ints + self.floats == count {
            ColumnType::Float
        } else if self.bools == count {
            ColumnType::Bool
        } else if self.texts == count {
            if self.emails as f64 >= EMAIL_SHARE * count as f64 {
                ColumnType::Email
            } else {
                ColumnType::String
            }
        } else {
            ColumnType::Mixed
        }
    }

    /// The most common values, most common first (ties in value order).
    pub(super) fn top(&self, limit: usize) -> Vec<(&str, u64)> {
        let mut values: Vec<(&str, u64)> = self
            .counts
            .iter()
            .map(|(value, &count)| (value.as_str(), count))
            .collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        values.truncate(limit);
        values
    }

    /// The numbers' statistics, when the column is numeric.
    pub(super) fn numeric(&self) -> Option<NumericStats> {
        if !self.column_type().is_numeric() {
            return None;
        }
        NumericStats::of(self.numbers.iter().map(|&(_, value)| value).collect())
    }

    /// The profile entry: see docs/tools.md.
    pub(super) fn to_json(&self, top: usize) -> Value {
        let column_type = self.column_type();
        let (distinct, exact) = self.distinct();
        let mut entry = Map::new();
        entry.insert("type".into(), column_type.name().into());
        entry.insert("count".into(), self.count().into());
        entry.insert("nulls".into(), self.nulls.into());
        entry.insert("distinct".into(), distinct.into());
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

/// What pandas' `describe()` says of a numeric column.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct NumericStats {
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) mean: f64,
    /// The sample standard deviation (ddof = 1, as pandas); none for a single value.
    pub(super) stddev: Option<f64>,
    pub(super) q1: f64,
    pub(super) median: f64,
    pub(super) q3: f64,
}

impl NumericStats {
    #[allow(clippy::cast_precision_loss)]
    pub(super) fn of(mut values: Vec<f64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        super::float_sort::sort_floats(&mut values);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let stddev = (values.len() > 1).then(|| {
            let squares: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
            (squares / (n - 1.0)).sqrt()
        });
        Some(NumericStats {
            min: values[0],
            max: values[values.len() - 1],
            mean,
            stddev,
            q1: quantile(&values, 0.25),
            median: quantile(&values, 0.5),
            q3: quantile(&values, 0.75),
        })
    }
}

/// The `q` quantile of sorted values, interpolated linearly (pandas' and numpy's default).
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = (sorted.len() - 1) as f64 * q;
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    let fraction = position - low as f64;
    sorted[low] + (sorted[high] - sorted[low]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(cells: &[&str]) -> ColumnTally {
        let mut tally = ColumnTally::default();
        for (row, text) in cells.iter().enumerate() {
            tally.observe(row, Cell::from_text(text));
        }
        tally
    }

    #[test]
    #[allow(clippy::float_cmp)] // these are exact in binary
    fn numeric_stats_match_pandas_describe() {
        // pandas: Series([1, 2, 3, 4, 10]).describe(): mean 4.0, std 3.535534, 25% 2, 50% 3, 75% 4
        let stats = NumericStats::of(vec![10.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(stats.mean, 4.0);
        assert!((stats.stddev.unwrap() - 12.5f64.sqrt()).abs() < 1e-12);
        assert_eq!((stats.q1, stats.median, stats.q3), (2.0, 3.0, 4.0));
        let even = NumericStats::of(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!((even.q1, even.median, even.q3), (1.75, 2.5, 3.25));
        assert_eq!(NumericStats::of(vec![5.0]).unwrap().stddev, None);
    }

    #[test]
    fn types_are_inferred_from_non_null_cells() {
        assert_eq!(tally(&["1", "", "3"]).column_type(), ColumnType::Int);
        assert_eq!(tally(&["1", "2.5"]).column_type(), ColumnType::Float);
        assert_eq!(tally(&["true", "False"]).column_type(), ColumnType::Bool);
        assert_eq!(tally(&["a", "1"]).column_type(), ColumnType::Mixed);
        assert_eq!(tally(&["", " "]).column_type(), ColumnType::Empty);
        let emails = ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "broken"];
        assert_eq!(tally(&emails).column_type(), ColumnType::Email);
        assert_eq!(tally(&emails[3..]).column_type(), ColumnType::String);
    }

    #[test]
    fn profile_entry_counts_nulls_distinct_and_top_values() {
        let entry = tally(&["US", "us", "", "US", "DE"]).to_json(2);
        assert_eq!(
            entry,
            json!({
                "type": "string", "count": 4, "nulls": 1, "distinct": 3, "distinct_exact": true,
                "top": [{ "value": "US", "count": 2 }, { "value": "DE", "count": 1 }]
            })
        );
        let numbers = tally(&["1", "2", "", "3", "10"]).to_json(2);
        assert_eq!(numbers["min"], json!(1));
        assert_eq!(numbers["max"], json!(10));
        assert_eq!(numbers["mean"], json!(4.0));
        assert_eq!(numbers["median"], json!(2.5));
    }

    #[test]
    fn numbers_written_as_rust_writes_them_are_recognised() {
        for text in [
            "0",
            "7",
            "-12",
            "9223372036854775807",
            "007",
            "-0",
            "+5",
            "10",
        ] {
            let int: i64 = text.parse().unwrap();
            assert_eq!(is_written_as_int(text), int.to_string() == text, "{text}");
        }
        let mut texts: Vec<String> = [
            "0.5",
            "-0.5",
            "0.50",
            "00.5",
            "1.0",
            "-0.0",
            "123456789012.345",
            "1234567890123.456",
            "0.000000000000001",
            "0.1",
            "0.30000000000000004",
            "1e5",
            "5.",
            ".5",
            "+1.5",
            "99999999999999.9",
            "0.000123456789012345",
        ]
        .map(str::to_owned)
        .to_vec();
        // Two-decimal amounts, as a money column holds, and random 15-digit decimals.
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for index in 0..20_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            texts.push(format!("{}.{:02}", seed % 10_000_000, index % 100));
            let digits = format!("{:015}", seed % 1_000_000_000_000_000);
            let point = usize::try_from(index % 15).unwrap() + 1;
            texts.push(format!("{}.{}", &digits[..point], &digits[point..]));
        }
        for text in &texts {
            let float: f64 = text.parse().unwrap();
            if is_written_as_float(text) {
                assert_eq!(float.to_string(), *text);
            }
        }
        assert!(is_written_as_float("75019.75") && is_written_as_float("-0.5"));
        assert!(!is_written_as_float("0.50") && !is_written_as_float("1e5"));
    }

    #[test]
    fn distinct_past_the_bound_is_estimated() {
        let mut tally = ColumnTally::default();
        for row in 0..20_000 {
            tally.observe(row, Cell::from_text(&format!("v{row}")));
        }
        let (distinct, exact) = tally.distinct();
        assert!(!exact);
        assert!(distinct.abs_diff(20_000) < 500, "{distinct}");
        assert_eq!(tally.counts.len(), EXACT_DISTINCT + 1);
    }
}
