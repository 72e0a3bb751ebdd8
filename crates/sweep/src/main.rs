//! `sweep`: plans trading-strategy parameter sweeps, renders and submits them as SLURM job
//! arrays, follows and resubmits them, or runs them locally. Thin: parses flags, calls the
//! library, maps the outcome to an exit code (0 complete, 1 something missing or failed,
//! 2 error; 130 or 143 when a local run was stopped by SIGINT or SIGTERM).

/// The static musl builds allocate through dlmalloc (pure Rust, so the aarch64 build still
/// links with rust-lld alone): musl's allocator maps and unmaps the buffers of each
/// backtest on every run, which made the static worker 1.8x slower than the glibc one.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use std::process::ExitCode;

use clap::Parser;

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep demo                                               # a synthetic market, swept locally
  sweep plan sweeps/sixty_forty.toml --sharedfs /sharedfs
  sweep submit /sharedfs/sweeps/sixty_forty-1a2b3c4d       # on a SLURM cluster
  sweep status /sharedfs/sweeps/sixty_forty-1a2b3c4d
  sweep run sweeps/sixty_forty.toml --local --sharedfs /sharedfs   # or without SLURM

Exit codes: 0 complete, 1 finished but something is missing or failed, 2 error, 130/143 a
local run stopped by SIGINT/SIGTERM.";

/// Plan, submit, follow and run slurm-sweep parameter sweeps.
#[derive(Debug, Parser)]
#[command(name = "sweep", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: sweep_cli::Command,
}

fn main() -> ExitCode {
    sweep_core::process::restore_default_sigpipe();
    let cli = Cli::parse();
    let result = sweep_cli::run(cli.command).map(|outcome| outcome.code());
    // Stopped by SIGINT/SIGTERM: what was left is printed; exit as a shell reports a
    // process ended by that signal (130, 143).
    if let Err(e) = &result {
        if let Some(stopped) = e.downcast_ref::<sweep_cli::cmd::run::Interrupted>() {
            sweep_core::errln!("sweep: {stopped}");
            let _ = sweep_core::term::finish_stdout();
            return ExitCode::from(stopped.exit_code());
        }
    }
    ExitCode::from(sweep_core::process::exit_status(
        result.as_ref().map(|c| *c).map_err(|e| e.as_ref()),
    ))
}
