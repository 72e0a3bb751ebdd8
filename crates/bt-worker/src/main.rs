//! `bt-worker`: slurm-sweep's backtest worker. Thin: parses flags, calls one library
//! function per subcommand, maps the outcome to an exit code (0 ok, 1 finished with
//! failures, 2 error).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// slurm-sweep's backtest worker: runs the combinations of one array task, or one backtest.
#[derive(Debug, Parser)]
#[command(name = "bt-worker", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the combinations of one array task of a sweep and write its result file.
    Task(bt_worker::task::TaskArgs),
    /// Run one backtest and print its statistics (optionally QSTrader's JSON statistics).
    Run(Box<bt_worker::run::RunArgs>),
    /// List the strategies and their parameters.
    Strategies(bt_worker::strategies::StrategiesArgs),
    /// Check the price files of a directory.
    CheckData(bt_worker::check_data::CheckDataArgs),
}

fn main() -> ExitCode {
    sweep_core::process::restore_default_sigpipe();
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Task(args) => bt_worker::task::run(args),
        Command::Run(args) => bt_worker::run::run(args),
        Command::Strategies(args) => bt_worker::strategies::run(args),
        Command::CheckData(args) => bt_worker::check_data::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  Caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
