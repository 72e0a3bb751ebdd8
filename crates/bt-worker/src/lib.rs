//! The backtest worker's commands: `task` (one array task of a sweep), `run` (one backtest),
//! `strategies`, `check-data`.

pub mod check_data;
pub mod run;
pub mod strategies;
pub mod task;
