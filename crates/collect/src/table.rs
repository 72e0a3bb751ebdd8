//! The merged table's rows: one compact row per combination (metric values in a fixed-size
//! array, parameter values in the order of one shared list of names), whatever file it came
//! from. After a streaming collect, [`Table::rows`] holds the rows shown (the top of the
//! ranking, best first); what is known of all rows (split, metrics known somewhere) is in
//! its fields.

use backtest::{Metrics, ParamValue};

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

/// Rows of the table with its plans and parameter names: the kept rows of a streaming
/// collect (best first), or every row (tests, in-memory use).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub plans: Vec<PlanId>,
    pub param_names: Vec<String>,
    pub rows: Vec<Row>,
    /// Whether some row of the whole table (not only of `rows`) has a split.
    pub split: bool,
    /// Whether each metric is known (not NaN) in some row of the whole table; `None`:
    /// judge from `rows`.
    pub known: Option<[bool; METRIC_COUNT]>,
}

impl Table {
    /// The metrics no row has (NaN in every row), in table order; none without rows.
    pub fn unknown_metrics(&self) -> Vec<&'static str> {
        if let Some(known) = self.known {
            if known.iter().all(|k| !k) && self.rows.is_empty() {
                return Vec::new();
            }
            return backtest::METRICS
                .iter()
                .zip(known)
                .filter(|(_, k)| !k)
                .map(|(d, _)| d.name)
                .collect();
        }
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
        self.split || self.rows.iter().any(|r| r.in_sample.is_some())
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
