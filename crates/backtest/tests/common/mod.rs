//! What the integration tests share: where the real data is, SPY loaded from it, and the
//! decisions of an `ma_cross` run.
// (Each test binary uses only some of these.)
#![allow(dead_code)]

use std::path::PathBuf;

use backtest::{
    run_backtest, BacktestConfig, Calendar, DataConfig, DataFormat, MarketData, ParamValue, Params,
};
use chrono::NaiveDate;

/// `$SLURM_SWEEP_DATA/qstrader_examples` (default `<workspace>/../shared/data`).
pub fn qstrader_examples() -> PathBuf {
    let base = std::env::var_os("SLURM_SWEEP_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    base.join("qstrader_examples")
}

/// SPY's whole history to 2025-01-06 (the last full bar) on `calendar`, and that config.
pub fn spy(calendar: Calendar) -> (MarketData, BacktestConfig) {
    let config = BacktestConfig {
        end: "2025-01-06".parse::<NaiveDate>().ok(),
        calendar,
        ..BacktestConfig::default()
    };
    let data = DataConfig {
        dir: qstrader_examples(),
        symbols: vec!["SPY".into()],
        format: DataFormat::Yahoo,
    };
    let market = MarketData::load(&data, &config).expect("SPY loads");
    (market, config)
}

/// The (date, weight) of every allocation of an `ma_cross` run with `params` over `market`.
pub fn ma_cross_decisions(
    market: &MarketData,
    config: &BacktestConfig,
    params: &[(&str, ParamValue)],
) -> Vec<(NaiveDate, f64)> {
    let params: Params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let out = run_backtest(market, "ma_cross", &params, config).expect("runs");
    out.allocations
        .iter()
        .map(|a| (a.date, a.weights[0]))
        .collect()
}

/// Signal steps (day index, position) as (date, weight).
pub fn dated_steps(market: &MarketData, steps: Vec<(usize, i8)>) -> Vec<(NaiveDate, f64)> {
    steps
        .into_iter()
        .map(|(day, s)| (market.dates[day], f64::from(s)))
        .collect()
}
