//! The `sweep` command's library: one module per subcommand under [`cmd`] (`plan`,
//! `submit`, `status`, `resubmit`, `run --local`, `smoke`, `demo`), the rendering of batch
//! scripts from the tera templates in `slurm/` ([`render`]), and the subprocess layer that
//! talks to SLURM ([`slurm`]).
//!
//! Exit codes: 0 complete, 1 finished but something is missing or failed, 2 error.

pub mod binaries;
pub mod cmd;
pub mod render;
pub mod slurm;
pub mod target;
pub mod tasks;

use std::process::ExitCode;

/// How a command ended, when it did not fail outright.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for is complete.
    Complete,
    /// Finished, but some tasks are missing or failed (or a smoke node failed).
    Incomplete,
}

impl Outcome {
    /// 0 complete, 1 incomplete.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Complete => 0,
            Outcome::Incomplete => 1,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        ExitCode::from(o.code())
    }
}

/// The subcommands of `sweep`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Plan a sweep: expand the grid, write the sweep directory and render its batch scripts.
    Plan(cmd::plan::PlanArgs),
    /// Submit a planned sweep (or plan a spec, then submit) as SLURM job arrays + collect job.
    Submit(cmd::submit::SubmitArgs),
    /// Show how many tasks are done, running, pending, failed or missing.
    Status(cmd::status::StatusArgs),
    /// Submit again only the failed or missing tasks.
    Resubmit(cmd::resubmit::ResubmitArgs),
    /// Run every task on this machine (`--local`), exactly as SLURM would.
    Run(cmd::run::RunArgs),
    /// Check the cluster: one small job per node reports host, bt-worker version and data access.
    Smoke(cmd::smoke::SmokeArgs),
    /// Generate a synthetic market, plan a small sweep over it, run it locally, rank it.
    Demo(cmd::demo::DemoArgs),
    /// Lay out the shared filesystem and install sweep, bt-worker and collect into bin/<arch>/.
    Install(cmd::install::InstallArgs),
    /// Manage the price data on the shared filesystem (`sweep data import`).
    Data(cmd::data_import::DataArgs),
}

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Plan(a) => cmd::plan::run(&a),
        Command::Submit(a) => cmd::submit::run(&a),
        Command::Status(a) => cmd::status::run(&a),
        Command::Resubmit(a) => cmd::resubmit::run(&a),
        Command::Run(a) => cmd::run::run(&a),
        Command::Smoke(a) => cmd::smoke::run(&a),
        Command::Demo(a) => cmd::demo::run(&a),
        Command::Install(a) => cmd::install::run(&a),
        Command::Data(a) => cmd::data_import::run(&a),
    }
}
