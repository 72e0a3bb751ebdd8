//! `collect`: flags in, one library call, the verdict out as the exit code
//! (0 complete, 1 partial, 2 error).

/// The static musl builds allocate through dlmalloc (pure Rust, so the aarch64 build still
/// links with rust-lld alone): musl's allocator maps and unmaps the buffers of each
/// backtest on every run, which made the static worker 1.8x slower than the glibc one.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use collect::ranking::Direction;
use collect::robust::RankBy;
use collect::sensitivity::CellStat;
use collect::{Format, Options, PboMode};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Table,
    Csv,
    Json,
    Md,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RankArg {
    Peak,
    Robust,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StatArg {
    Best,
    Median,
}

/// The examples `--help` shows; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep plan sweeps/ma_cross.toml --sharedfs /sharedfs
  collect /sharedfs/sweeps/ma_cross-1a2b3c4d                 # exit 1: partial, no task has run
  sweep run sweeps/ma_cross.toml --local --no-collect --sharedfs /sharedfs
  collect /sharedfs/sweeps/ma_cross-1a2b3c4d --by calmar --top 5
  collect /sharedfs/sweeps/ma_cross-1a2b3c4d --where \"max_drawdown < 0.3 and trades >= 10\" --format md
  collect /sharedfs/sweeps/ma_cross-1a2b3c4d --report --heatmap fast,slow --format csv > ranking.csv
  collect /sharedfs/sweeps/ma_cross-1a2b3c4d --rank robust --robust-k 2 --pareto sharpe,max_drawdown";

/// Merge a sweep's result files into one ranked table; say plainly what is missing.
///
/// Exit codes: 0 complete, 1 partial (missing, failed or corrupt), 2 error.
#[derive(Debug, Parser)]
#[command(name = "collect", version, after_help = EXAMPLES)]
struct Args {
    /// A sweep directory (with plan.json), or result files / folders of them, or QSTrader
    /// JSONStatistics files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Metric to rank by (sharpe, sortino, cagr, annualised_vol, max_drawdown, ...).
    #[arg(long, default_value = "sharpe")]
    by: String,
    /// Force ascending order.
    #[arg(long, conflicts_with = "desc")]
    asc: bool,
    /// Force descending order.
    #[arg(long)]
    desc: bool,
    /// Filter, e.g. "max_drawdown < 0.3 and trades >= 10" (metric and parameter names).
    #[arg(long = "where", value_name = "EXPR")]
    filter: Option<String>,
    /// Rows to print (default: 20 for the terminal table, all for csv/json/md), and rows of
    /// report/ranking.csv (default 1000) and ranking.md (default 100). Every combination is
    /// in report/results.csv and results.parquet.
    #[arg(long)]
    top: Option<usize>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,
    /// Merge files from different plans instead of refusing.
    #[arg(long)]
    allow_mixed: bool,
    /// Write the self-contained HTML report (report/report.html in a sweep directory).
    #[arg(long)]
    report: bool,
    /// Where to write the HTML report (default: <sweep>/report/report.html, else ./report.html).
    #[arg(long, value_name = "FILE")]
    report_path: Option<PathBuf>,
    /// Two parameters for the heatmap, e.g. "fast,slow" (default: the two with the most values).
    #[arg(long, value_name = "A,B")]
    heatmap: Option<String>,
    /// Statistic per heatmap cell.
    #[arg(long, value_enum, default_value = "best")]
    heatmap_stat: StatArg,
    /// Compute PBO (keeps every run's daily returns in memory); default: when the spec
    /// keeps returns.
    #[arg(long, conflicts_with = "no_pbo")]
    pbo: bool,
    /// Never compute PBO.
    #[arg(long)]
    no_pbo: bool,
    /// Number of CSCV blocks S (even).
    #[arg(long, default_value_t = 16)]
    pbo_blocks: usize,
    /// Rows whose Deflated Sharpe Ratio is reported.
    #[arg(long, default_value_t = 10)]
    dsr_top: usize,
    /// Rows whose equity curves the report regenerates through the engine.
    #[arg(long, default_value_t = 5)]
    equity_top: usize,
    /// Print only the table (no completeness account on stderr).
    #[arg(long, short)]
    quiet: bool,
    /// Rank by each combination's own value (peak) or by the mean over its grid
    /// neighbourhood (robust: grid sweeps only).
    #[arg(long, value_enum, default_value = "peak")]
    rank: RankArg,
    /// Neighbourhood radius: grid points within K steps on every parameter axis.
    #[arg(long, value_name = "K", default_value_t = 1)]
    robust_k: usize,
    /// List the Pareto front of two or three metrics, e.g. "sharpe,max_drawdown".
    #[arg(long, value_name = "M1,M2[,M3]")]
    pareto: Option<String>,
}

impl Args {
    fn into_options(self) -> Options {
        Options {
            inputs: self.inputs,
            by: self.by,
            direction: match (self.asc, self.desc) {
                (true, _) => Some(Direction::Ascending),
                (_, true) => Some(Direction::Descending),
                _ => None,
            },
            filter: self.filter,
            top: self.top,
            format: match self.format {
                FormatArg::Table => Format::Table,
                FormatArg::Csv => Format::Csv,
                FormatArg::Json => Format::Json,
                FormatArg::Md => Format::Markdown,
            },
            allow_mixed: self.allow_mixed,
            report: self.report || self.report_path.is_some(),
            report_path: self.report_path,
            heatmap: self.heatmap,
            heatmap_stat: match self.heatmap_stat {
                StatArg::Best => CellStat::Best,
                StatArg::Median => CellStat::Median,
            },
            pbo: match (self.pbo, self.no_pbo) {
                (true, _) => PboMode::Always,
                (_, true) => PboMode::Never,
                _ => PboMode::Auto,
            },
            pbo_blocks: self.pbo_blocks,
            dsr_top: self.dsr_top,
            equity_top: self.equity_top,
            quiet: self.quiet,
            rank: match self.rank {
                RankArg::Peak => RankBy::Peak,
                RankArg::Robust => RankBy::Robust,
            },
            robust_k: self.robust_k,
            pareto: self.pareto,
        }
    }
}

fn main() -> ExitCode {
    sweep_core::process::restore_default_sigpipe();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = collect::run(&args.into_options()).map(|verdict| verdict.exit_code() as u8);
    ExitCode::from(sweep_core::process::exit_status(
        result
            .as_ref()
            .map(|c| *c)
            .map_err(|e| e as &(dyn std::error::Error + 'static)),
    ))
}
