//! Market data: price files (Yahoo, pysystemtrade, plain OHLCV) loaded, validated and aligned
//! on one simulation calendar.

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::config::{BacktestConfig, DataConfig};

/// A problem with a price file, naming file, line and field.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}: {message}")]
    File { file: PathBuf, message: String },
    #[error("{file}:{line}: field `{field}`: {message}")]
    Field {
        file: PathBuf,
        line: u64,
        field: String,
        message: String,
    },
}

/// Prices of several symbols aligned on one calendar. Indexed `[symbol][day]`.
#[derive(Clone, Debug)]
pub struct MarketData {
    /// The simulation calendar, from the configured start to end.
    pub dates: Vec<NaiveDate>,
    pub symbols: Vec<String>,
    /// Adjusted open (Open x Adj Close / Close). NaN before a symbol's first price.
    pub open: Vec<Vec<f64>>,
    /// Adjusted close. NaN before a symbol's first price.
    pub close: Vec<Vec<f64>>,
    /// The files read, in symbol order.
    pub files: Vec<PathBuf>,
}

impl MarketData {
    /// Loads `data.symbols` from `data.dir` and aligns them on `config.calendar` between
    /// `config.start` and `config.end`.
    pub fn load(data: &DataConfig, config: &BacktestConfig) -> Result<MarketData, DataError> {
        let _ = (data, config);
        todo!("data loading")
    }
}
