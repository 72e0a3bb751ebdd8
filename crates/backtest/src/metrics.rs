//! The summary metrics of one backtest (or one part of it, for an in-sample/out-of-sample
//! split): what a result file stores per run and what `collect` ranks by.

use serde::{Deserialize, Serialize};

/// Summary statistics of one equity curve, QSTrader's definitions (periods 252, ddof 0,
/// Sharpe without risk-free rate) plus a few more.
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
    pub max_drawdown_duration: u64,
    #[serde(with = "crate::nullable_f64")]
    pub total_return: f64,
    /// CAGR / max_drawdown (0 when there is no drawdown).
    #[serde(with = "crate::nullable_f64")]
    pub calmar: f64,
    /// Number of orders filled.
    pub trades: u64,
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
    pub n_obs: u64,
}

impl Metrics {
    /// The metric names `collect` can rank by, in display order.
    pub const NAMES: [&'static str; 14] = [
        "sharpe",
        "sortino",
        "cagr",
        "annualised_vol",
        "max_drawdown",
        "max_drawdown_duration",
        "total_return",
        "calmar",
        "trades",
        "turnover",
        "exposure",
        "skew",
        "kurtosis",
        "n_obs",
    ];

    /// A metric by name, as a float.
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "sharpe" => self.sharpe,
            "sortino" => self.sortino,
            "cagr" => self.cagr,
            "annualised_vol" => self.annualised_vol,
            "max_drawdown" => self.max_drawdown,
            "max_drawdown_duration" => self.max_drawdown_duration as f64,
            "total_return" => self.total_return,
            "calmar" => self.calmar,
            "trades" => self.trades as f64,
            "turnover" => self.turnover,
            "exposure" => self.exposure,
            "skew" => self.skew,
            "kurtosis" => self.kurtosis,
            "n_obs" => self.n_obs as f64,
            _ => return None,
        })
    }

    /// Whether a lower value of the metric is better (ranking ascends by default).
    pub fn lower_is_better(name: &str) -> bool {
        matches!(
            name,
            "max_drawdown" | "max_drawdown_duration" | "annualised_vol" | "turnover"
        )
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
    fn every_name_is_gettable() {
        let m = Metrics::default();
        for n in Metrics::NAMES {
            assert!(m.get(n).is_some(), "{n}");
        }
        assert!(m.get("nope").is_none());
    }
}
