//! The simulator: QSTrader 0.3.0 semantics by default (sizing at day D's close, fills at day
//! D+1's adjusted open, whole shares, cash buffer, equity marked at the close).

use chrono::NaiveDate;

use crate::config::BacktestConfig;
use crate::data::MarketData;
use crate::metrics::Metrics;
use crate::params::{ParamError, Params};

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("unknown strategy `{0}`")]
    UnknownStrategy(String),
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error("{0}")]
    Invalid(String),
}

/// What one backtest produces.
#[derive(Clone, Debug, Default)]
pub struct RunOutput {
    /// Equity curve dates (from the burn-in date on).
    pub dates: Vec<NaiveDate>,
    /// Equity marked at each date's close.
    pub equity: Vec<f64>,
    pub metrics: Metrics,
    /// Metrics before the split date, when one is set.
    pub in_sample: Option<Metrics>,
    /// Metrics from the split date on, when one is set.
    pub out_of_sample: Option<Metrics>,
}

/// Runs `strategy` with `params` (validated and completed with defaults) over `data`.
pub fn run_backtest(
    data: &MarketData,
    strategy: &str,
    params: &Params,
    config: &BacktestConfig,
) -> Result<RunOutput, BacktestError> {
    let _ = (data, strategy, params, config);
    todo!("simulator")
}
