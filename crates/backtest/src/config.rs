//! Backtest settings and data selection: the `[backtest]` and `[data]` tables of a sweep
//! spec, also built from `bt-worker run` flags. Defaults follow QSTrader 0.3.0.

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Which days the simulation steps over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calendar {
    /// Every Monday to Friday, as QSTrader does; a holiday repeats the last known price.
    #[default]
    Weekdays,
    /// The union of the dates present in the data files.
    TradingDays,
}

/// When target weights are recomputed and orders sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rebalance {
    /// The last weekday of each month (QSTrader's `end_of_month`).
    #[default]
    EndOfMonth,
    /// Every Friday, or the last calendar day of the week.
    Weekly,
    /// Every day.
    Daily,
    /// Once, on the first day, then never again.
    BuyAndHold,
}

/// Price file format; `Auto` detects it from the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    #[default]
    Auto,
    /// `Date,Open,High,Low,Close,Adj Close,Volume`.
    Yahoo,
    /// pysystemtrade adjusted prices: `DATETIME,price`.
    Pysystemtrade,
    /// Plain OHLCV with a date column.
    Ohlcv,
}

/// Where the prices come from: `<dir>/<SYMBOL>.csv` for each symbol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dir: PathBuf,
    pub symbols: Vec<String>,
    #[serde(default)]
    pub format: DataFormat,
}

impl DataConfig {
    /// The file that holds `symbol`'s prices.
    pub fn file_of(&self, symbol: &str) -> PathBuf {
        self.dir.join(format!("{symbol}.csv"))
    }
}

/// Simulation settings. Every field has a QSTrader-compatible default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BacktestConfig {
    /// First day of the simulation (signals warm up from here). `None`: the data's first date.
    pub start: Option<NaiveDate>,
    /// Last day of the simulation. `None`: the data's last date.
    pub end: Option<NaiveDate>,
    /// The equity curve and statistics start here; before it strategies only warm up.
    pub burn_in: Option<NaiveDate>,
    pub initial_cash: f64,
    pub rebalance: Rebalance,
    /// Fraction of equity kept in cash when sizing (QSTrader's `cash_buffer_percentage`).
    pub cash_buffer: f64,
    /// Commission in basis points of traded notional.
    pub commission_bps: f64,
    /// Fixed fee per trade (per order filled), in cash.
    pub fee_per_trade: f64,
    /// Slippage in basis points: buys fill this much above, sells below, the open.
    pub slippage_bps: f64,
    pub calendar: Calendar,
    /// Optional in-sample / out-of-sample split: metrics are also computed for dates before
    /// and from this date.
    pub split: Option<NaiveDate>,
    /// Keep the daily returns of each run in results (for overfitting statistics).
    pub keep_returns: bool,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig {
            start: None,
            end: None,
            burn_in: None,
            initial_cash: 1_000_000.0,
            rebalance: Rebalance::EndOfMonth,
            cash_buffer: 0.01,
            commission_bps: 0.0,
            fee_per_trade: 0.0,
            slippage_bps: 0.0,
            calendar: Calendar::Weekdays,
            split: None,
            keep_returns: false,
        }
    }
}
