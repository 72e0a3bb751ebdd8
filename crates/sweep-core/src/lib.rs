//! The contract shared by `sweep`, `bt-worker` and `collect`: the sweep spec and its grid,
//! the manifest (one line per combination), the plan (hashes, chunking into array tasks),
//! the result file of one array task, and the layout of the sweep directory.

pub mod atomic;
pub mod constraint;
pub mod grid;
pub mod lock;
pub mod manifest;
pub mod overrides;
pub mod plan;
pub mod planner;
pub mod process;
pub mod result;
pub mod spec;
pub mod sweep_dir;

pub use plan::{ArrayChunk, Plan};
pub use planner::{load_plan, plan_sweep, PlanError, PlanOptions, PlanSummary, PlannedSweep};
pub use result::{ResultFile, Run, RunStatus, SlurmIds};
pub use spec::Spec;
pub use sweep_dir::SweepDir;

/// The version of the toolkit, written into plans and result files.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
