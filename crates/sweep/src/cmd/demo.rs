//! `sweep demo`: one command for a newcomer. Generates the project's synthetic sample
//! market (clearly labelled synthetic: `data/synthetic/SYNTHETIC.md`), writes a small
//! `ma_cross` spec over it, plans it, runs every task locally, and prints the ranked table
//! (through `collect` when that binary exists, else a short summary of the results).

use std::path::{Path, PathBuf};

use anyhow::Context;
use backtest::synthetic::{write_market, DEMO_SEED, DEMO_SYMBOLS};
use chrono::NaiveDate;
use sweep_core::reader::read_result_bytes_with_params;
use sweep_core::RunStatus;

use crate::cmd::run::{find_worker, report, run_collect, run_local};
use crate::target::{plan_spec, PlanFlags};
use crate::Outcome;

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep demo                      # everything in ./sweep-demo
  sweep demo --dir my-demo -j 2";

/// Arguments of `sweep demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct DemoArgs {
    /// Where the demo writes its data, spec and sweep [default: ./sweep-demo].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// At most N tasks at once [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// The demo's spec: 4 fast x 4 slow windows x 2 kinds, fast < slow: 30 combinations in
/// 6 tasks of 5, on the synthetic equity-like symbol.
pub const DEMO_SPEC: &str = r#"# slurm-sweep demo: a moving-average crossover on SYNTHETIC data (made up by
# backtest::synthetic, see data/synthetic/SYNTHETIC.md). Not a real market.
name = "demo_ma_cross"
strategy = "ma_cross"
constraints = ["fast < slow"]

[data]
dir = "data/synthetic"
symbols = ["SYNA"]

[backtest]
commission_bps = 5.0

[params]
fast = [5, 10, 20, 50]
slow = [50, 100, 150, 200]
kind = ["sma", "ema"]

[slurm]
time = "00:05:00"
combos_per_task = 5
"#;

/// Writes the synthetic market and the demo spec into `dir`; returns the spec's path.
pub fn write_demo_inputs(dir: &Path) -> anyhow::Result<PathBuf> {
    let data = dir.join("data").join("synthetic");
    let start = NaiveDate::from_ymd_opt(2014, 1, 2).context("demo start date")?;
    let end = NaiveDate::from_ymd_opt(2023, 12, 29).context("demo end date")?;
    write_market(&data, &DEMO_SYMBOLS, start, end, DEMO_SEED)
        .with_context(|| format!("cannot write the synthetic market into {}", data.display()))?;
    let spec = dir.join("demo_ma_cross.toml");
    std::fs::write(&spec, DEMO_SPEC).with_context(|| format!("cannot write {}", spec.display()))?;
    Ok(spec)
}

/// The best runs by Sharpe ratio, read from the result files (used when `collect` is absent).
fn print_top(results: &Path, n: usize) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for entry in
        std::fs::read_dir(results).with_context(|| format!("cannot read {}", results.display()))?
    {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        // v2 result files hold no parameters: they are the manifest's lines.
        let manifest = results.parent().map(|d| d.join("manifest.jsonl"));
        let _ = read_result_bytes_with_params(&path, &bytes, false, manifest.as_deref(), |run| {
            if let (RunStatus::Ok, Some(m)) = (run.status, run.metrics) {
                let params: std::collections::BTreeMap<_, _> = run.params.into_iter().collect();
                let params = serde_json::to_string(&params).unwrap_or_default();
                rows.push((m.sharpe, m.cagr, m.max_drawdown, run.i, params));
            }
        });
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    sweep_core::outln!(
        "top {n} of {} runs by Sharpe ratio (synthetic data):",
        rows.len()
    );
    sweep_core::outln!(
        "{:>4}  {:>7}  {:>7}  {:>7}  params",
        "i",
        "sharpe",
        "cagr",
        "max_dd"
    );
    for (sharpe, cagr, dd, i, params) in rows.into_iter().take(n) {
        sweep_core::outln!("{i:>4}  {sharpe:>7.3}  {cagr:>7.3}  {dd:>7.3}  {params}");
    }
    Ok(())
}

pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let worker = find_worker().context(
        "`sweep demo` runs the sweep with bt-worker; run `cargo build --release` first \
         (it builds sweep, bt-worker and collect), then `target/release/sweep demo`",
    )?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("sweep-demo"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    sweep_core::outln!(
        "sweep demo: writing a SYNTHETIC market ({}) into {}",
        DEMO_SYMBOLS.join(", "),
        dir.join("data/synthetic").display()
    );
    let spec = write_demo_inputs(&dir)?;
    let flags = PlanFlags {
        sharedfs: Some(dir.clone()),
        ..PlanFlags::default()
    };
    let (loaded, _, summary) = plan_spec(&spec, &flags)?;
    sweep_core::outln!("{summary}");
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let outcome = run_local(&loaded, &worker, jobs)?;
    let complete = report(&loaded, &outcome)?;
    let collected = run_collect(loaded.dir.root())?;
    if collected.is_none() {
        print_top(&loaded.dir.results(), 10)?;
    }
    sweep_core::outln!(
        "\nThe data above is synthetic. Next: edit {} and run `sweep run {} --local`, or \
         `sweep submit {}` on a SLURM cluster.",
        spec.display(),
        spec.display(),
        spec.display()
    );
    Ok(if complete && matches!(collected, Some(0) | None) {
        Outcome::Complete
    } else {
        Outcome::Incomplete
    })
}
