//! What the integration tests share: where the real data is, and SPY loaded from it.
// (Each test binary uses only some of these.)
#![allow(dead_code)]

use std::path::PathBuf;

use backtest::{BacktestConfig, Calendar, DataConfig, DataFormat, MarketData};
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
