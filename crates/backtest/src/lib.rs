//! The backtest engine of slurm-sweep: market data loading and alignment, strategies behind
//! one trait, a QSTrader-0.3.0-compatible simulator, and statistics (summary metrics and
//! QSTrader's `JSONStatistics`). Pure: no SLURM, no command line.
//!
//! Strategies are the built-ins (by name, [`registry`]) or rules written in a spec
//! ([`rules`]: expressions compiled once, run vectorised); [`StrategyRef`] names either.
//!
//! Data loading and per-run work are separate: load a [`MarketData`] once, then call
//! [`run_backtest`] (a built-in by name) or [`run_strategy`] for each parameter set, or run
//! a task's combinations through one [`TaskRunner`], which shares the rules' indicators
//! between them.

pub mod config;
pub mod data;
pub mod metrics;
pub mod nullable_f64;
pub mod output;
pub mod params;
pub mod rules;
pub mod simulator;
pub mod stats;
pub mod strategy;
pub mod synthetic;
pub mod walk_forward;

pub use config::{
    BacktestConfig, Calendar, ConfigError, DataConfig, DataFormat, KeepReturns, Rebalance,
};
pub use data::{DataError, DataNote, MarketData};
pub use metrics::{metric_index, Better, MetricDef, Metrics, METRICS, METRIC_COUNT};
pub use params::{ParamError, ParamKind, ParamSpec, ParamValue, Params};
pub use rules::{RuleError, Rules, RulesDef};
pub use simulator::{
    preflight, preflight_strategy, run_backtest, run_strategy, BacktestError, RunOutput,
    StrategyRef, TaskRunner,
};
pub use strategy::registry;
