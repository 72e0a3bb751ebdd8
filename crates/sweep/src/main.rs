//! `sweep`: plans trading-strategy parameter sweeps, renders and submits them as SLURM job
//! arrays, follows and resubmits them, or runs them locally. Thin: parses flags, calls the
//! library, maps the outcome to an exit code (0 complete, 1 something missing or failed,
//! 2 error).

use std::process::ExitCode;

use clap::Parser;

/// Plan, submit, follow and run slurm-sweep parameter sweeps.
#[derive(Debug, Parser)]
#[command(name = "sweep", version, about)]
struct Cli {
    #[command(subcommand)]
    command: sweep_cli::Command,
}

fn main() -> ExitCode {
    sweep_core::process::restore_default_sigpipe();
    let cli = Cli::parse();
    let result = sweep_cli::run(cli.command).map(|outcome| outcome.code());
    ExitCode::from(sweep_core::process::exit_status(
        result.as_ref().map(|c| *c).map_err(|e| e.as_ref()),
    ))
}
