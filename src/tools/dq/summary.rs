//! Per-column statistics gathered in one pass over a table: what `dq.profile` reports and
//! what `dq.detect_anomalies` judges by.

use std::collections::HashMap;
use std::fmt::Write;

use super::cell::{Cell, Parsed, is_email, trim};
use super::fast_hash::FastBuild;
use super::hll::HyperLogLog;
use super::number_text::{is_written_as_float, is_written_as_int};
use super::numeric_stats::NumericStats;

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

/// How many distinct values a column has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Distinct {
    Exact(u64),
    /// More than [`EXACT_DISTINCT`]: about this many.
    Estimated(u64),
    /// More than [`EXACT_DISTINCT`], and the tally was not asked how many.
    Many,
}

/// What a tally knows of the values past the first [`EXACT_DISTINCT`] distinct ones.
#[derive(Debug, Default)]
enum Beyond {
    /// There are none (yet).
    #[default]
    None,
    /// Estimated: see [`HyperLogLog`].
    Sketched(HyperLogLog),
    /// There are some, uncounted: the tally was not asked to estimate.
    Uncounted,
}

/// The running tally for one column; its figures are read once [`ColumnTally::finish`] ran.
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
    /// Whether numbers go into `counts` as they come. Not until the column shows a value
    /// that is not a number (or an integer a float cannot hold exactly): the numbers seen
    /// before are counted then, in row order, so `counts` ends as if each had been counted
    /// as it came. A column of numbers only is never counted so: the sorted `numbers` give
    /// its distinct values exactly, and it shows no top values.
    counting_numbers: bool,
    /// Booleans (`false`s, `true`s) seen while the column has shown nothing else: they go
    /// into `counts` once it shows another value, or is finished, so that a column of
    /// booleans looks nothing up per cell. `counts` had nothing else in it by then, so it
    /// ends as if they had been counted as they came.
    pending_bools: [u64; 2],
    beyond: Beyond,
    /// Whether to estimate the distinct values past the bound ([`Distinct::Estimated`]).
    estimates: bool,
    /// The numbers' statistics, for a numeric column, once finished.
    numeric: Option<NumericStats>,
    /// Reused to write a number's text.
    scratch: String,
}

/// The largest integer every smaller one of which a float holds exactly (2^53).
const FLOAT_EXACT_INTS: u64 = 1 << f64::MANTISSA_DIGITS;

impl ColumnTally {
    /// A tally that estimates how many distinct values there are past the exact bound.
    pub(super) fn estimating() -> Self {
        ColumnTally {
            estimates: true,
            ..ColumnTally::default()
        }
    }

    pub(super) fn observe(&mut self, row: usize, cell: Cell<'_>) {
        let parsed = cell.parse();
        match parsed {
            Parsed::Null => {
                self.nulls += 1;
                if self.null_rows.len() < EXAMPLES {
                    self.null_rows.push(row);
                }
                return;
            }
            Parsed::Bool(flag) => {
                self.count_numbers();
                self.bools += 1;
                if self.bools == self.count() {
                    self.pending_bools[usize::from(flag)] += 1;
                } else {
                    self.count_value(if flag { "true" } else { "false" });
                }
                return;
            }
            _ => self.count_pending_bools(),
        }
        match parsed {
            Parsed::Null | Parsed::Bool(_) => {}
            Parsed::Int(int) => {
                if int.unsigned_abs() > FLOAT_EXACT_INTS {
                    self.count_numbers();
                }
                self.ints += 1;
                #[allow(clippy::cast_precision_loss)]
                self.numbers.push((row, int as f64));
                if self.counting_numbers {
                    self.count_number(cell, is_written_as_int, |key| write!(key, "{int}"));
                }
            }
            Parsed::Float(float) => {
                self.floats += 1;
                self.numbers.push((row, float));
                if self.counting_numbers {
                    self.count_number(cell, is_written_as_float, |key| write!(key, "{float}"));
                }
            }
            Parsed::Text(text) => {
                self.count_numbers();
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
                self.count_numbers();
                self.texts += 1;
                self.count_value(&cell.text().unwrap_or_default());
            }
        }
    }

    #[inline]
    fn count_pending_bools(&mut self) {
        if self.pending_bools != [0, 0] {
            self.count_bools_now();
        }
    }

    #[cold]
    fn count_bools_now(&mut self) {
        for (value, count) in ["false", "true"].into_iter().zip(self.pending_bools) {
            if count > 0 {
                *self.counts.entry(value.to_owned()).or_default() += count;
            }
        }
        self.pending_bools = [0, 0];
    }

    /// Counts from now on every number as it comes, and first those seen so far: each under
    /// the text a float is written as, which is an integer's own for every integer before
    /// (none is past [`FLOAT_EXACT_INTS`]).
    /// Asked of every cell that is not a number: only the first does any work.
    #[inline]
    fn count_numbers(&mut self) {
        if !self.counting_numbers {
            self.start_counting_numbers();
        }
    }

    #[cold]
    fn start_counting_numbers(&mut self) {
        self.counting_numbers = true;
        let numbers = std::mem::take(&mut self.numbers);
        let mut key = String::new();
        for &(_, value) in &numbers {
            key.clear();
            write!(key, "{value}").expect("writing to a String cannot fail");
            self.count_value(&key);
        }
        self.numbers = numbers;
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
        match &mut self.beyond {
            Beyond::Sketched(hll) => hll.insert(key),
            Beyond::Uncounted => {}
            Beyond::None => {
                self.counts.insert(key.to_owned(), 1);
                if self.counts.len() > EXACT_DISTINCT {
                    self.beyond = if self.estimates {
                        let mut hll = HyperLogLog::new();
                        for key in self.counts.keys() {
                            hll.insert(key);
                        }
                        Beyond::Sketched(hll)
                    } else {
                        Beyond::Uncounted
                    };
                }
            }
        }
    }

    /// Works out what needs all the column: the statistics of a numeric column (sorting its
    /// numbers, on the thread that tallied it).
    pub(super) fn finish(&mut self) {
        self.count_pending_bools();
        if self.column_type().is_numeric() {
            self.numeric = NumericStats::of(self.numbers.iter().map(|&(_, value)| value).collect());
        }
    }

    pub(super) fn nulls(&self) -> u64 {
        self.nulls
    }

    /// Cells that are not null.
    pub(super) fn count(&self) -> u64 {
        self.ints + self.floats + self.bools + self.texts
    }

    /// Whether no two of the column's cells are equal: none is null, and there are as many
    /// distinct values as cells (equal cells are equal values). Then no two rows are equal
    /// either, whatever their other cells.
    pub(super) fn cells_all_differ(&self) -> bool {
        self.nulls == 0 && self.distinct() == Distinct::Exact(self.count())
    }

    /// The number of distinct non-null values.
    pub(super) fn distinct(&self) -> Distinct {
        if !self.counting_numbers {
            // Numbers only (or nothing): the sorted numbers said.
            return Distinct::Exact(self.numeric.as_ref().map_or(0, |stats| stats.distinct));
        }
        match &self.beyond {
            Beyond::None => Distinct::Exact(self.counts.len() as u64),
            Beyond::Sketched(hll) => Distinct::Estimated(hll.estimate()),
            Beyond::Uncounted => Distinct::Many,
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
    pub(super) fn numeric(&self) -> Option<&NumericStats> {
        self.numeric.as_ref()
    }
}

#[cfg(test)]
impl ColumnTally {
    /// The finished, estimating tally of a column of these texts.
    pub(super) fn of_texts(cells: &[&str]) -> Self {
        let mut tally = ColumnTally::estimating();
        for (row, text) in cells.iter().enumerate() {
            tally.observe(row, Cell::from_text(text));
        }
        tally.finish();
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(cells: &[&str]) -> ColumnTally {
        ColumnTally::of_texts(cells)
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
    fn distinct_past_the_bound_is_estimated_when_asked() {
        let texts: Vec<String> = (0..20_000).map(|row| format!("v{row}")).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let estimated = tally(&texts);
        let Distinct::Estimated(distinct) = estimated.distinct() else {
            panic!("{:?}", estimated.distinct());
        };
        assert!(distinct.abs_diff(20_000) < 500, "{distinct}");
        assert_eq!(estimated.counts.len(), EXACT_DISTINCT + 1);
        let mut unasked = ColumnTally::default();
        for (row, text) in texts.iter().enumerate() {
            unasked.observe(row, Cell::from_text(text));
        }
        unasked.finish();
        assert_eq!(unasked.distinct(), Distinct::Many);
        assert_eq!(unasked.counts.len(), EXACT_DISTINCT + 1);
    }

    #[test]
    fn a_column_of_numbers_has_its_distinct_values_counted_exactly() {
        let numbers: Vec<String> = (0..30_000).map(|row| format!("{}", row % 25_000)).collect();
        let mut texts: Vec<&str> = numbers.iter().map(String::as_str).collect();
        texts.extend(["-0.0", "0.0", "7.50", "007", ""]);
        let column = tally(&texts);
        assert_eq!(column.column_type(), ColumnType::Float);
        // 0 … 24,999, and -0 (0.0 is 0 and 7.50 is 7.5, a new value; 007 is 7).
        assert_eq!(column.distinct(), Distinct::Exact(25_002));
        assert!(column.counts.is_empty());
    }

    #[test]
    fn numbers_counted_late_count_as_if_counted_as_they_came() {
        let cells = [
            "3", "07", "7", "2.50", "2.5", "-0.0", "1e3", "1000", "x", "7", "y", "2.5",
        ];
        let late = tally(&cells);
        let mut eager = ColumnTally::estimating();
        eager.count_numbers();
        for (row, text) in cells.iter().enumerate() {
            eager.observe(row, Cell::from_text(text));
        }
        eager.finish();
        assert_eq!(late.counts, eager.counts);
        assert_eq!(late.top(3), vec![("2.5", 3), ("7", 3), ("1000", 2)]);
        assert_eq!(late.distinct(), Distinct::Exact(7));
        // An integer a float cannot hold starts the counting before it is counted.
        let big = tally(&["9007199254740993", "9007199254740993", "1"]);
        assert_eq!(big.counts.get("9007199254740993"), Some(&2));
        assert_eq!(big.distinct(), Distinct::Exact(2));
    }

    #[test]
    fn a_column_whose_cells_all_differ_has_no_nulls_and_no_value_twice() {
        assert!(tally(&["1", "2", "3"]).cells_all_differ());
        assert!(tally(&["a", "b", "x@y.io"]).cells_all_differ());
        assert!(tally(&[]).cells_all_differ());
        assert!(!tally(&["1", "2", ""]).cells_all_differ());
        assert!(!tally(&["a", "b", "a"]).cells_all_differ());
        // Different cells, one value: not known to differ.
        assert!(!tally(&["7", "07"]).cells_all_differ());
    }

    #[test]
    fn booleans_counted_late_count_as_if_counted_as_they_came() {
        let only = tally(&["true", "", "False", "TRUE", "true"]);
        assert_eq!(only.column_type(), ColumnType::Bool);
        assert_eq!(only.top(2), vec![("true", 3), ("false", 1)]);
        assert_eq!(only.distinct(), Distinct::Exact(2));
        let mixed = tally(&["false", "true", "x", "true", "1", "x"]);
        assert_eq!(mixed.column_type(), ColumnType::Mixed);
        assert_eq!(
            mixed.top(4),
            vec![("true", 2), ("x", 2), ("1", 1), ("false", 1)]
        );
        // Past the bound, the booleans seen first are among the values counted.
        let mut cells = vec!["true".to_owned(); 3];
        cells.extend((0..=EXACT_DISTINCT).map(|value| format!("v{value}")));
        cells.push("true".to_owned());
        let past = tally(&cells.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(past.counts.get("true"), Some(&4));
        assert_eq!(past.counts.len(), EXACT_DISTINCT + 1);
    }
}
