//! `bt-worker`: slurm-sweep's backtest worker. Thin: parses flags, calls one library
//! function per subcommand, maps the outcome to an exit code (0 ok, 1 finished with
//! failures, 2 error).

/// The static musl builds allocate through dlmalloc (pure Rust, so the aarch64 build still
/// links with rust-lld alone): musl's allocator maps and unmaps the buffers of each
/// backtest on every run, which made the static worker 1.8x slower than the glibc one.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The examples each `--help` shows; a test runs every one
/// (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  bt-worker strategies
  bt-worker check-data ../shared/data/qstrader_examples
  bt-worker run --spec sweeps/ma_cross.toml -p fast=50 -p slow=200";

const TASK_EXAMPLES: &str = "\
Examples:
  sweep plan sweeps/sixty_forty.toml --sharedfs /sharedfs
  bt-worker task --sweep-dir /sharedfs/sweeps/sixty_forty-1a2b3c4d --task 0
  SLURM_ARRAY_TASK_ID=1 bt-worker task --sweep-dir /sharedfs/sweeps/sixty_forty-1a2b3c4d   # as SLURM runs it
  bt-worker task --sweep-dir /sharedfs/sweeps/sixty_forty-1a2b3c4d --task 0 --force   # again, though done";

const RUN_EXAMPLES: &str = "\
Examples:
  bt-worker run --spec sweeps/ma_cross.toml -p fast=50 -p slow=200 --equity-csv equity.csv
  bt-worker run --spec sweeps/rules_rsi.toml -p n=2 -p oversold=10 -p exit_level=70   # a rules spec
  bt-worker run --strategy fixed_weights --data-dir ../shared/data/qstrader_examples \\
    --symbols SPY,AGG -p w_SPY=0.6 -p w_AGG=0.4 --start 2003-09-30 --end 2020-12-31 \\
    --benchmark SPY --json sixty_forty.json   # QSTrader's JSONStatistics";

const COMMAND_EXAMPLES: &str = "\
Examples:
  sweep plan sweeps/command_sixty_forty.toml --sharedfs /sharedfs
  bt-worker command --sweep-dir /sharedfs/sweeps/command_sixty_forty-1a2b3c4d --combo 6
  bt-worker command --sweep-dir /sharedfs/sweeps/command_sixty_forty-1a2b3c4d --combo 6 --keep-scratch";

const STRATEGIES_EXAMPLES: &str = "\
Examples:
  bt-worker strategies
  bt-worker strategies --symbols SPY,AGG --json";

const CHECK_DATA_EXAMPLES: &str = "\
Examples:
  bt-worker check-data ../shared/data/qstrader_examples
  bt-worker check-data ../shared/data/pysystemtrade/adjusted_prices_csv --json";

/// slurm-sweep's backtest worker: runs the combinations of one array task, or one backtest.
#[derive(Debug, Parser)]
#[command(name = "bt-worker", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Run the combinations of one array task of a sweep and write its result file.
    #[command(after_help = TASK_EXAMPLES)]
    Task(bt_worker::task::TaskArgs),
    /// Run one backtest and print its statistics (optionally QSTrader's JSON statistics).
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<bt_worker::run::RunArgs>),
    /// Run one combination of a command sweep by hand: shows its argv, environment, output
    /// and metrics; writes nothing into results/.
    #[command(after_help = COMMAND_EXAMPLES)]
    Command(bt_worker::command::one::CommandArgs),
    /// List the strategies and their parameters.
    #[command(after_help = STRATEGIES_EXAMPLES)]
    Strategies(bt_worker::strategies::StrategiesArgs),
    /// Check the price files of a directory.
    #[command(after_help = CHECK_DATA_EXAMPLES)]
    CheckData(bt_worker::check_data::CheckDataArgs),
}

fn main() -> ExitCode {
    sweep_core::process::restore_default_sigpipe();
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Action::Task(args) => bt_worker::task::run(args),
        Action::Run(args) => bt_worker::run::run(args),
        Action::Command(args) => bt_worker::command::one::run(args),
        Action::Strategies(args) => bt_worker::strategies::run(args),
        Action::CheckData(args) => bt_worker::check_data::run(args),
    };
    ExitCode::from(sweep_core::process::exit_status(
        outcome.as_ref().map(|c| *c).map_err(|e| e.as_ref()),
    ))
}
