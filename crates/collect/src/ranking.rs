//! Ranking: rows sorted by one metric (the streaming collect keeps the same order with
//! [`crate::stream::TopK`]) (descending unless lower is better, or forced),
//! filtered by `--where`, ties broken by the lower combination index, NaN last; and the
//! Spearman rank correlation between in-sample and out-of-sample values.

use std::cmp::Ordering;

use backtest::Metrics;
use serde::Serialize;

use crate::filter::Filter;
use crate::table::{metric_index, Row, Table};

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ascending,
    Descending,
}

impl Direction {
    /// The default direction of a metric: ascending where lower is better.
    pub fn default_for(metric: &str) -> Direction {
        if Metrics::lower_is_better(metric) {
            Direction::Ascending
        } else {
            Direction::Descending
        }
    }
}

/// Why a ranking cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RankError {
    #[error("--by: unknown metric `{0}`; valid metrics: {valid}", valid = backtest::metrics::metric_names())]
    UnknownMetric(String),
}

/// Rows in ranked order.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    pub metric: String,
    pub metric_index: usize,
    pub direction: Direction,
    /// Indices into [`Table::rows`] of the rows that pass the filter, best first.
    pub order: Vec<usize>,
    /// Rows before the filter.
    pub total: usize,
    /// Rows passing the filter (`order` may hold only the first of them).
    pub passing: usize,
}

impl Ranking {
    /// The ranking value of a row (in-sample when the run has a split).
    pub fn value(&self, row: &Row) -> f64 {
        row.ranking_metrics()[self.metric_index]
    }
}

/// Ranks `table` by `metric`.
pub fn rank(
    table: &Table,
    metric: &str,
    direction: Option<Direction>,
    filter: Option<&Filter>,
) -> Result<Ranking, RankError> {
    let k = metric_index(metric).ok_or_else(|| RankError::UnknownMetric(metric.to_string()))?;
    let direction = direction.unwrap_or_else(|| Direction::default_for(metric));
    // Sort compact keys (value, combination, plan, position) rather than indices into the
    // rows: the comparisons then read contiguous memory. The position makes every key
    // unique, so the unstable sort gives the order of a stable one.
    let mut keyed: Vec<(f64, u64, u16, usize)> = table
        .rows
        .iter()
        .enumerate()
        .filter(|(_, row)| match filter {
            Some(f) => f.matches(row),
            None => true,
        })
        .map(|(i, row)| (row.ranking_metrics()[k], row.combo, row.plan, i))
        .collect();
    keyed.sort_unstable_by(|a, b| {
        compare_values(a.0, b.0, direction)
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    let order: Vec<usize> = keyed.into_iter().map(|key| key.3).collect();
    Ok(Ranking {
        passing: order.len(),
        metric: metric.to_string(),
        metric_index: k,
        direction,
        order,
        total: table.rows.len(),
    })
}

/// Better first; NaN always last.
pub(crate) fn compare_values(a: f64, b: f64, direction: Direction) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = a.total_cmp(&b);
            match direction {
                Direction::Ascending => o,
                Direction::Descending => o.reverse(),
            }
        }
    }
}

/// Ranks (1-based, ties averaged) of `values`.
pub fn fractional_ranks(values: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < idx.len() {
        let mut end = start + 1;
        while end < idx.len() && values[idx[end]] == values[idx[start]] {
            end += 1;
        }
        let avg = (start + end + 1) as f64 / 2.0;
        for &i in &idx[start..end] {
            ranks[i] = avg;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation of paired values (pairs with a NaN are skipped): the Pearson
/// correlation of their fractional ranks. NaN with fewer than 3 pairs or no variation.
pub fn spearman(pairs: &[(f64, f64)]) -> f64 {
    let clean: Vec<(f64, f64)> = pairs
        .iter()
        .copied()
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    if clean.len() < 3 {
        return f64::NAN;
    }
    let ra = fractional_ranks(&clean.iter().map(|p| p.0).collect::<Vec<_>>());
    let rb = fractional_ranks(&clean.iter().map(|p| p.1).collect::<Vec<_>>());
    pearson(&ra, &rb)
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        f64::NAN
    } else {
        sab / (saa * sbb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::METRIC_COUNT;

    fn row(combo: u64, sharpe: f64, dd: f64) -> Row {
        let mut metrics = [0.0; METRIC_COUNT];
        metrics[metric_index("sharpe").expect("s")] = sharpe;
        metrics[metric_index("max_drawdown").expect("d")] = dd;
        Row {
            combo,
            plan: 0,
            task: None,
            label: None,
            params: vec![],
            metrics,
            in_sample: None,
            out_of_sample: None,
            returns: None,
        }
    }

    fn table() -> Table {
        Table {
            plans: vec![],
            param_names: vec![],
            rows: vec![
                row(4, 1.0, 0.2),
                row(1, 2.0, 0.5),
                row(2, f64::NAN, 0.1),
                row(0, 1.0, 0.3),
                row(3, 2.0, 0.1),
            ],
            ..Table::default()
        }
    }

    fn combos(t: &Table, r: &Ranking) -> Vec<u64> {
        r.order.iter().map(|&i| t.rows[i].combo).collect()
    }

    #[test]
    fn descending_with_stable_ties_and_nan_last() {
        let t = table();
        let r = rank(&t, "sharpe", None, None).expect("rank");
        assert_eq!(r.direction, Direction::Descending);
        assert_eq!(combos(&t, &r), vec![1, 3, 0, 4, 2]);
        let r = rank(&t, "sharpe", Some(Direction::Ascending), None).expect("rank");
        assert_eq!(combos(&t, &r), vec![0, 4, 1, 3, 2]);
    }

    #[test]
    fn lower_is_better_ascends_and_filters_apply() {
        let t = table();
        let r = rank(&t, "max_drawdown", None, None).expect("rank");
        assert_eq!(r.direction, Direction::Ascending);
        assert_eq!(combos(&t, &r), vec![2, 3, 4, 0, 1]);
        let f = Filter::parse("sharpe > 1.5", &[]).expect("filter");
        let r = rank(&t, "max_drawdown", None, Some(&f)).expect("rank");
        assert_eq!(combos(&t, &r), vec![3, 1]);
        assert!(rank(&t, "sharp", None, None).is_err());
    }

    #[test]
    fn spearman_known_values() {
        // Identical order: 1; reversed: -1.
        let up: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, (i * i) as f64)).collect();
        assert!((spearman(&up) - 1.0).abs() < 1e-12);
        let down: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, -(i as f64))).collect();
        assert!((spearman(&down) + 1.0).abs() < 1e-12);
        // x = 1..5, y ranks 2,1,4,3,5: d² = 1+1+1+1+0 = 4; ρ = 1 - 6·4/(5·24) = 0.8.
        let p = [(1.0, 2.0), (2.0, 1.0), (3.0, 4.0), (4.0, 3.0), (5.0, 5.0)];
        assert!((spearman(&p) - 0.8).abs() < 1e-12);
        assert_eq!(fractional_ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
    }
}
