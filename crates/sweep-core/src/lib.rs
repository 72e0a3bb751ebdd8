//! The contract shared by `sweep`, `bt-worker` and `collect`, one module per concept, and
//! every binary calls it rather than re-implementing a rule:
//!
//! * [`layout`]: where everything lives (shared filesystem, sweep directory, file names);
//! * [`spec`], [`grid`], [`constraint`], [`overrides`]: the sweep spec and its grid;
//! * [`planner`], [`plan`], [`manifest`]: planning, `plan.json`, `manifest.jsonl`;
//! * [`result`] (the file a task writes), [`columns`] (its binary sidecar), [`reader`]
//!   (the one reader of result files), [`classify`] (what the files mean for each task),
//!   [`quarantine`];
//! * [`jobs`]: the jobs record `jobs.jsonl` and the logs of a task;
//! * [`atomic`] writes, [`process`]-level behaviour, [`interrupt`] by signals, [`term`]
//!   output that never panics.
//!
//! The metric table lives with the metrics in the engine ([`backtest::METRICS`]).

pub mod atomic;
pub mod classify;
pub mod columns;
pub mod command;
pub mod constraint;
pub mod decl;
pub mod grid;
pub mod identity;
pub mod interrupt;
pub mod jobs;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod overrides;
pub mod plan;
pub mod planner;
pub mod process;
pub mod quarantine;
pub mod reader;
pub mod result;
pub mod rules;
pub mod spec;
pub mod term;

pub use layout::{SharedFs, SweepDir};
pub use plan::{ArrayChunk, Plan};
pub use planner::{
    load_plan, plan_sweep, plan_sweep_with, PlanError, PlanOptions, PlanSummary, PlannedSweep,
    SpecStrategy,
};
pub use result::{ResultFile, Run, RunStatus, SlurmIds};
pub use spec::Spec;

/// The version of the toolkit, written into plans and result files.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
