//! The merged table: one compact row per combination (metric values in a fixed-size array,
//! parameter values in the order of one shared list of names), whatever file it came from.

use backtest::{Metrics, ParamValue};

use crate::inputs::RowStore;

pub use backtest::{metric_index, METRIC_COUNT};

/// Metric values in the order of [`backtest::METRICS`]; NaN where a source did not have one
/// (QSTrader files carry no trade count, for instance).
pub type MetricValues = [f64; METRIC_COUNT];

/// The values of `metrics` in the order of [`backtest::METRICS`].
pub fn metric_values(m: &Metrics) -> MetricValues {
    m.values()
}

/// One combination that ran successfully.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Combination index (manifest line); for QSTrader files, the file's position.
    pub combo: u64,
    /// Which plan the row belongs to (index into [`Table::plans`]).
    pub plan: u16,
    /// The array task that produced the row.
    pub task: Option<u64>,
    /// A display name (QSTrader's `strategy_name`, or the file name).
    pub label: Option<String>,
    /// Parameter values in the order of [`Table::param_names`].
    pub params: Vec<Option<ParamValue>>,
    /// Whole-period metrics.
    pub metrics: MetricValues,
    pub in_sample: Option<Box<MetricValues>>,
    pub out_of_sample: Option<Box<MetricValues>>,
    /// Daily returns, only when PBO asked for them.
    pub returns: Option<Vec<f64>>,
    /// The CSCV block moments of the daily returns, when the run kept them
    /// (`keep_returns = true`).
    pub blocks: Option<Box<sweep_core::result::BlockMoments>>,
}

impl Row {
    /// The metrics ranking uses: in-sample when the run has a split, else the whole period.
    pub fn ranking_metrics(&self) -> &MetricValues {
        self.in_sample.as_deref().unwrap_or(&self.metrics)
    }

    /// The value of parameter `k` of [`Table::param_names`].
    pub fn param(&self, k: usize) -> Option<&ParamValue> {
        self.params.get(k).and_then(|p| p.as_ref())
    }
}

/// The identity of one plan whose results are in the table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PlanId {
    /// The plan hash, or `qstrader` for QSTrader's own files.
    pub hash: String,
    pub sweep: String,
}

/// All successful rows, in input order (sorted by plan, then combination index).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub plans: Vec<PlanId>,
    pub param_names: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    /// The metrics no row has (NaN in every row), in table order; none without rows.
    pub fn unknown_metrics(&self) -> Vec<&'static str> {
        if self.rows.is_empty() {
            return Vec::new();
        }
        backtest::METRICS
            .iter()
            .enumerate()
            .filter(|(k, _)| self.rows.iter().all(|r| r.metrics[*k].is_nan()))
            .map(|(_, d)| d.name)
            .collect()
    }

    /// Whether any row has in-sample / out-of-sample metrics.
    pub fn has_split(&self) -> bool {
        self.rows.iter().any(|r| r.in_sample.is_some())
    }

    /// The position of parameter `name`.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.param_names.iter().position(|n| n == name)
    }

    /// The position of `name` in [`Table::param_names`], adding it when new.
    pub fn intern_param(&mut self, name: &str) -> usize {
        match self.param_index(name) {
            Some(k) => k,
            None => {
                self.param_names.push(name.to_string());
                self.param_names.len() - 1
            }
        }
    }

    /// A short display name of row `row`: its label, else `#<combo>`.
    pub fn row_name(&self, row: &Row) -> String {
        match &row.label {
            Some(l) => l.clone(),
            None if self.plans.len() > 1 => format!("#{}@{}", row.combo, row.plan),
            None => format!("#{}", row.combo),
        }
    }
}

impl Table {
    /// Builds the table from the rows of the accepted results (ok runs only, built while
    /// each file was parsed), in plan then combination order; QSTrader files after,
    /// numbered in path order. Works in place on the store's rows: the rows of files that
    /// were not accepted (duplicates, files that contradict their plan) are removed and
    /// nothing is copied.
    pub fn from_accepted(accepted: crate::completeness::Accepted, store: RowStore) -> Table {
        let RowStore {
            param_names,
            mut rows,
        } = store;
        let mut keep = vec![false; rows.len()];
        for (plan, result) in &accepted.results {
            for i in result.rows.clone() {
                if let Some(row) = rows.get_mut(i) {
                    row.plan = *plan;
                    keep[i] = true;
                }
            }
        }
        if keep.iter().any(|k| !k) {
            let mut i = 0;
            rows.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
        drop(keep);
        let key = |r: &Row| (r.plan, r.combo, r.task);
        if !rows.windows(2).all(|w| key(&w[0]) <= key(&w[1])) {
            // Unique keys (one row per combination and plan), so an unstable sort is
            // deterministic; it sorts in place.
            rows.sort_unstable_by_key(key);
        }
        let mut table = Table {
            plans: accepted.plans,
            param_names,
            rows,
        };
        let width = table.param_names.len();
        let qs_plan = table
            .plans
            .iter()
            .position(|p| p.hash == crate::completeness::QSTRADER_PLAN)
            .unwrap_or(0) as u16;
        table.rows.reserve_exact(accepted.qstrader.len());
        for (n, q) in accepted.qstrader.into_iter().enumerate() {
            table.rows.push(Row {
                combo: n as u64,
                plan: qs_plan,
                task: None,
                label: Some(q.name),
                params: vec![None; width],
                metrics: q.metrics,
                in_sample: None,
                out_of_sample: None,
                returns: q.returns,
                blocks: None,
            });
        }
        table.rows.shrink_to_fit();
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_values_follow_names() {
        let m = Metrics {
            sharpe: 1.5,
            trades: Some(7),
            ..Metrics::default()
        };
        let v = metric_values(&m);
        assert_eq!(v[metric_index("sharpe").expect("sharpe")], 1.5);
        assert_eq!(v[metric_index("trades").expect("trades")], 7.0);
        assert_eq!(metric_index("nope"), None);
    }
}
