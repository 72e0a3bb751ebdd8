//! The summary metrics of one backtest (or one part of it, for an in-sample/out-of-sample
//! split): what a result file stores per run and what `collect` ranks by.

use serde::{Deserialize, Serialize};

/// Summary statistics of one equity curve, QSTrader's definitions (periods 252, ddof 0,
/// Sharpe without risk-free rate) plus a few more.
///
/// A metric that a run cannot give is unknown, never 0: NaN for a float, `None` for a count
/// (both written as `null` in JSON). A program run by a `command` sweep, for instance,
/// reports an equity curve, from which trades, turnover and exposure cannot be known.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(with = "crate::nullable_f64")]
    pub sharpe: f64,
    #[serde(with = "crate::nullable_f64")]
    pub sortino: f64,
    #[serde(with = "crate::nullable_f64")]
    pub cagr: f64,
    #[serde(with = "crate::nullable_f64")]
    pub annualised_vol: f64,
    /// Largest peak-to-trough loss as a positive fraction (0.3 = 30%).
    #[serde(with = "crate::nullable_f64")]
    pub max_drawdown: f64,
    /// Longest drawdown, in periods (days of the equity curve).
    #[serde(default)]
    pub max_drawdown_duration: Option<u64>,
    #[serde(with = "crate::nullable_f64")]
    pub total_return: f64,
    /// CAGR / max_drawdown (0 when there is no drawdown).
    #[serde(with = "crate::nullable_f64")]
    pub calmar: f64,
    /// Number of orders filled.
    #[serde(default)]
    pub trades: Option<u64>,
    /// Traded notional over the period divided by mean equity, annualised.
    #[serde(with = "crate::nullable_f64")]
    pub turnover: f64,
    /// Fraction of days with a non-zero position.
    #[serde(with = "crate::nullable_f64")]
    pub exposure: f64,
    #[serde(with = "crate::nullable_f64")]
    pub skew: f64,
    /// Excess kurtosis is NOT used: this is Pearson's kurtosis (3 for a normal), as the
    /// Deflated Sharpe Ratio expects.
    #[serde(with = "crate::nullable_f64")]
    pub kurtosis: f64,
    /// Number of daily returns the statistics were computed on.
    #[serde(default)]
    pub n_obs: Option<u64>,
}

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// One metric of [`Metrics`]: everything a reader of results needs to know about it. Every
/// list of metrics (`collect`'s columns, `--by` and `--where` names, formatting, QSTrader's
/// names) is derived from [`METRICS`].
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    /// The field name in result files and on the command line.
    pub name: &'static str,
    pub better: Better,
    /// Whole numbers (counts, durations): shown without decimals.
    pub integer: bool,
    /// Shown in the narrow tables (terminal, Markdown) by default.
    pub shown: bool,
    /// The key of the same statistic in QSTrader's `JSONStatistics` `strategy` dict, when
    /// it has one.
    pub qstrader: Option<&'static str>,
    /// Reads the metric from a [`Metrics`] as a float.
    pub get: fn(&Metrics) -> f64,
}

/// Number of metrics in [`METRICS`].
pub const METRIC_COUNT: usize = 14;

/// The metrics, in display order. Adding one: a field of [`Metrics`], a row here, and its
/// computation in `stats::summary` (or the simulator for trading figures).
pub const METRICS: [MetricDef; METRIC_COUNT] = [
    def("sharpe", Better::Higher, false, true, Some("sharpe"), |m| {
        m.sharpe
    }),
    def(
        "sortino",
        Better::Higher,
        false,
        false,
        Some("sortino"),
        |m| m.sortino,
    ),
    def("cagr", Better::Higher, false, true, Some("cagr"), |m| {
        m.cagr
    }),
    def(
        "annualised_vol",
        Better::Lower,
        false,
        false,
        Some("annualised_vol"),
        |m| m.annualised_vol,
    ),
    def(
        "max_drawdown",
        Better::Lower,
        false,
        true,
        Some("max_drawdown"),
        |m| m.max_drawdown,
    ),
    def(
        "max_drawdown_duration",
        Better::Lower,
        true,
        false,
        Some("max_drawdown_duration"),
        |m| count(m.max_drawdown_duration),
    ),
    def("total_return", Better::Higher, false, false, None, |m| {
        m.total_return
    }),
    def("calmar", Better::Higher, false, true, None, |m| m.calmar),
    def("trades", Better::Higher, true, true, None, |m| {
        count(m.trades)
    }),
    def("turnover", Better::Lower, false, false, None, |m| {
        m.turnover
    }),
    def("exposure", Better::Higher, false, false, None, |m| {
        m.exposure
    }),
    def("skew", Better::Higher, false, false, None, |m| m.skew),
    def("kurtosis", Better::Lower, false, false, None, |m| {
        m.kurtosis
    }),
    def("n_obs", Better::Higher, true, true, None, |m| {
        count(m.n_obs)
    }),
];

/// A count as a float: NaN when unknown.
fn count(n: Option<u64>) -> f64 {
    n.map_or(f64::NAN, |n| n as f64)
}

const fn def(
    name: &'static str,
    better: Better,
    integer: bool,
    shown: bool,
    qstrader: Option<&'static str>,
    get: fn(&Metrics) -> f64,
) -> MetricDef {
    MetricDef {
        name,
        better,
        integer,
        shown,
        qstrader,
        get,
    }
}

/// Formats a metric value for people: integers (see [`MetricDef::integer`]) as integers,
/// others with 4 decimals, unknown (NaN) as `-`.
pub fn format_metric(name: &str, v: f64) -> String {
    if v.is_nan() {
        "-".to_string()
    } else if metric(name).is_some_and(|d| d.integer) {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// The position of metric `name` in [`METRICS`].
pub fn metric_index(name: &str) -> Option<usize> {
    METRICS.iter().position(|d| d.name == name)
}

/// The definition of metric `name`.
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|d| d.name == name)
}

/// Every metric name, comma separated (for error messages).
pub fn metric_names() -> String {
    METRICS.map(|d| d.name).join(", ")
}

impl Metrics {
    /// Every metric unknown: NaN, and `None` for the counts.
    pub fn unknown() -> Metrics {
        Metrics {
            sharpe: f64::NAN,
            sortino: f64::NAN,
            cagr: f64::NAN,
            annualised_vol: f64::NAN,
            max_drawdown: f64::NAN,
            max_drawdown_duration: None,
            total_return: f64::NAN,
            calmar: f64::NAN,
            trades: None,
            turnover: f64::NAN,
            exposure: f64::NAN,
            skew: f64::NAN,
            kurtosis: f64::NAN,
            n_obs: None,
        }
    }

    /// The names of the metrics that are unknown (NaN or `None`), in table order.
    pub fn unknown_names(&self) -> Vec<&'static str> {
        METRICS
            .iter()
            .filter(|d| (d.get)(self).is_nan())
            .map(|d| d.name)
            .collect()
    }

    /// A metric by name, as a float.
    pub fn get(&self, name: &str) -> Option<f64> {
        metric(name).map(|d| (d.get)(self))
    }

    /// Every metric as a float, in the order of [`METRICS`].
    pub fn values(&self) -> [f64; METRIC_COUNT] {
        METRICS.map(|d| (d.get)(self))
    }

    /// Whether a lower value of the metric is better (ranking ascends by default).
    pub fn lower_is_better(name: &str) -> bool {
        metric(name).is_some_and(|d| d.better == Better::Lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_metrics_survive_a_json_round_trip() {
        let m = Metrics {
            sortino: f64::NAN,
            calmar: f64::INFINITY,
            sharpe: 0.5,
            ..Metrics::default()
        };
        let json = serde_json::to_string(&m).expect("serialise");
        assert!(json.contains("\"sortino\":null"), "{json}");
        let back: Metrics = serde_json::from_str(&json).expect("read back");
        assert!(back.sortino.is_nan() && back.calmar.is_nan());
        assert_eq!(back.sharpe, 0.5);
    }

    #[test]
    fn every_metric_reads_its_own_field() {
        // A distinct value per field: each definition must read the field of its name.
        let m = Metrics {
            sharpe: 1.0,
            sortino: 2.0,
            cagr: 3.0,
            annualised_vol: 4.0,
            max_drawdown: 5.0,
            max_drawdown_duration: Some(6),
            total_return: 7.0,
            calmar: 8.0,
            trades: Some(9),
            turnover: 10.0,
            exposure: 11.0,
            skew: 12.0,
            kurtosis: 13.0,
            n_obs: Some(14),
        };
        let json = serde_json::to_value(&m).expect("serialise");
        for d in &METRICS {
            let field = json[d.name].as_f64().expect(d.name);
            assert_eq!((d.get)(&m), field, "{}", d.name);
            assert_eq!(m.get(d.name), Some(field));
        }
        // Every field of the struct has a definition.
        assert_eq!(json.as_object().expect("object").len(), METRIC_COUNT);
        assert!(m.get("nope").is_none());
        assert_eq!(m.values()[metric_index("calmar").expect("calmar")], 8.0);
        assert!(Metrics::lower_is_better("max_drawdown"));
        assert!(!Metrics::lower_is_better("sharpe"));
    }

    #[test]
    fn unknown_counts_are_null_and_nan_never_zero() {
        let m = Metrics::unknown();
        assert!(m.values().iter().all(|v| v.is_nan()));
        assert_eq!(m.unknown_names().len(), METRIC_COUNT);
        let json = serde_json::to_value(&m).expect("serialise");
        for d in &METRICS {
            assert!(json[d.name].is_null(), "{}: {}", d.name, json[d.name]);
        }
        let back: Metrics = serde_json::from_value(json).expect("read back");
        assert_eq!((back.trades, back.n_obs), (None, None));
        // Result files written before counts could be unknown read as before.
        let old: Metrics = serde_json::from_str(
            r#"{"sharpe":1.0,"sortino":1.0,"cagr":0.1,"annualised_vol":0.1,"max_drawdown":0.2,
            "max_drawdown_duration":30,"total_return":0.5,"calmar":0.5,"trades":12,
            "turnover":1.0,"exposure":1.0,"skew":0.0,"kurtosis":3.0,"n_obs":1000}"#,
        )
        .expect("old file");
        assert_eq!(old.trades, Some(12));
        assert_eq!(old.get("n_obs"), Some(1000.0));
    }
}
