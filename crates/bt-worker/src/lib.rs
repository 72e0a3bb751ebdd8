//! The backtest worker's commands: `task` (one array task of a sweep), `run` (one backtest),
//! `command` (one combination of a command sweep, by hand), `strategies`, `check-data`.

pub mod check_data;
pub mod command;
pub mod run;
pub mod strategies;
pub mod task;
