//! What a numeric column's sorted values say: pandas' `describe()` figures and the number
//! of distinct values.

/// What pandas' `describe()` and `nunique()` say of a numeric column.
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
    /// How many distinct values: floats of different bits (`0` and `-0` are two, as the
    /// texts they are written as).
    pub(super) distinct: u64,
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
        let distinct = 1 + values
            .windows(2)
            .filter(|pair| pair[0].to_bits() != pair[1].to_bits())
            .count() as u64;
        Some(NumericStats {
            min: values[0],
            max: values[values.len() - 1],
            mean,
            stddev,
            q1: quantile(&values, 0.25),
            median: quantile(&values, 0.5),
            q3: quantile(&values, 0.75),
            distinct,
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
    use super::NumericStats;

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
        assert_eq!(stats.distinct, 5);
    }

    #[test]
    fn distinct_values_are_counted_by_their_bits() {
        let stats = NumericStats::of(vec![2.0, -0.0, 1.5, 2.0, 0.0, 1.5, 2.0]).unwrap();
        assert_eq!(stats.distinct, 4);
        assert_eq!(NumericStats::of(vec![7.0; 300]).unwrap().distinct, 1);
        assert_eq!(NumericStats::of(Vec::new()), None);
    }
}
