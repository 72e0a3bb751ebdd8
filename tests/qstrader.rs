//! End-to-end: the user's own backtester as the worker. QSTrader 0.3.0's sixty_forty
//! example (`examples/qstrader/sixty_forty.py`, the spec beside it) swept over its SPY
//! weight, 0.0 to 1.0 by 0.1, with `sweep submit` on the local three-node SLURM cluster
//! (`scripts/local-cluster.sh up`), exactly as examples/qstrader/README.md tells users.
//!
//! * QSTrader 0.3.0 is installed **once** into a virtual environment on the test's shared
//!   filesystem, `<tmp>/slurm-sweep-e2e/sharedfs/venvs/qstrader`, by
//!   `scripts/parity/setup.sh` (the parity harness's pinned requirements): about a minute
//!   the first time, then reused (setup.sh checks its requirements stamp and that qstrader
//!   imports). `scripts/test-all.sh` points the parity check's `PARITY_VENV` at the same
//!   venv, so CI installs it once for both.
//! * Checked: the sweep's eleven combinations all run, on the cluster's nodes (each result
//!   file names its node), `collect` ranks the eleven (exit 0), and each run's Sharpe, CAGR
//!   and maximum drawdown, computed by the worker from QSTrader's own equity curve, equal
//!   those of the built-in `fixed_weights` sweep of the same grid (same data, dates,
//!   end-of-month rebalancing, cash buffer) within the parity tolerances of
//!   scripts/parity/compare.py: 0.005 absolute for each of the three statistics, and the
//!   equity curves (rebuilt from the daily returns both sweeps keep) within 0.001 relative
//!   on every day.
//!
//! Runs only with `SLURM_SWEEP_E2E=1`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::{
    banner, collect, data_dir, job_ids, only_sweep_dir, repo_root, result_files, run_quiet,
    scratch, sweep, wait_jobs_gone, Csv,
};

const NODES: [&str; 3] = ["node02", "node03", "node04"];

/// scripts/parity/compare.py's `--stat-tol` default: the largest absolute difference of
/// `sharpe`, `cagr` and `max_drawdown` that passes.
const STAT_TOL: f64 = 0.005;
/// scripts/parity/compare.py's `--equity-tol` default: the largest relative difference of
/// the equity curves on any date.
const EQUITY_TOL: f64 = 0.001;
/// The statistics compare.py checks.
const CHECKED: [&str; 3] = ["sharpe", "cagr", "max_drawdown"];

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `scripts/parity/setup.sh` with `PARITY_VENV=<sharedfs>/venvs/qstrader`: creates the venv
/// the first time, else returns at once. Returns the venv.
fn install_qstrader(sharedfs: &Path) -> PathBuf {
    let venv = sharedfs.join("venvs").join("qstrader");
    let setup = repo_root().join("scripts/parity/setup.sh");
    let started = Instant::now();
    let out = Command::new(&setup)
        .env("PARITY_VENV", &venv)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", setup.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "$ PARITY_VENV={} scripts/parity/setup.sh   # exit {:?} in {:.1} s",
        venv.display(),
        out.status.code(),
        started.elapsed().as_secs_f64()
    );
    for line in stderr.lines() {
        println!("  {line}");
    }
    assert!(
        out.status.success(),
        "scripts/parity/setup.sh could not install QSTrader 0.3.0 into {} (PyPI needed the first time)",
        venv.display()
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        printed.lines().last().map(str::trim),
        Some(venv.to_string_lossy().as_ref()),
        "setup.sh printed another venv"
    );
    venv
}

/// The built-in `fixed_weights` sweep of the same grid as the example: SPY weight 0.0 to
/// 1.0 by 0.1, AGG the rest (zipped), with the settings of sixty_forty.py.
fn builtin_spec(data: &Path) -> String {
    format!(
        r#"# The built-in engine's sweep of examples/qstrader/sixty_forty.py's grid.
name = "builtin_sixty_forty"
strategy = "fixed_weights"
zip = [["w_SPY", "w_AGG"]]

[data]
dir = "{data}"
symbols = ["SPY", "AGG"]

[backtest]
start = 2003-09-30
end = 2020-12-31
rebalance = "end_of_month"
calendar = "weekdays"
cash_buffer = 0.01
initial_cash = 1000000.0
keep_returns = "daily"

[params]
w_SPY = {{ from = 0.0, to = 1.0, step = 0.1 }}
w_AGG = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
"#,
        data = data.join("qstrader_examples").display()
    )
}

/// The rows of a `collect --format csv` table by `w_SPY` (in tenths: 0..=10).
fn by_weight(table: &Csv) -> BTreeMap<u32, BTreeMap<String, String>> {
    let w = table.column("w_SPY");
    let mut out = BTreeMap::new();
    for (k, row) in table.rows.iter().enumerate() {
        let weight: f64 = w[k].parse().unwrap_or_else(|_| panic!("w_SPY `{}`", w[k]));
        let tenths = (weight * 10.0).round();
        assert!(
            (weight * 10.0 - tenths).abs() < 1e-9,
            "w_SPY {weight} is not on the grid"
        );
        let fields = table.header.iter().cloned().zip(row.iter().cloned());
        let previous = out.insert(tenths as u32, fields.collect());
        assert!(previous.is_none(), "w_SPY {weight} appears twice");
    }
    out
}

/// Each run's equity curve, relative to its start, rebuilt from the daily returns the
/// results keep (`keep_returns = "daily"`, as 32-bit floats), by `w_SPY` in tenths.
fn curves(dir: &Path) -> BTreeMap<u32, Vec<f64>> {
    let mut out = BTreeMap::new();
    for (name, f) in result_files(dir) {
        for r in f.runs {
            let w = r.params["w_SPY"].as_f64().expect("w_SPY is a number");
            let returns = r
                .returns
                .unwrap_or_else(|| panic!("{name}: combination {} kept no returns", r.i));
            let mut equity = 1.0;
            let curve = returns
                .iter()
                .map(|x| {
                    equity *= 1.0 + x;
                    equity
                })
                .collect();
            out.insert((w * 10.0).round() as u32, curve);
        }
    }
    out
}

fn number(row: &BTreeMap<String, String>, key: &str) -> f64 {
    let text = row
        .get(key)
        .unwrap_or_else(|| panic!("no column `{key}` in {row:?}"));
    text.parse()
        .unwrap_or_else(|_| panic!("`{key}` = `{text}` is not a number"))
}

#[test]
fn qstrader_sixty_forty_sweep_on_the_cluster_equals_the_builtin() {
    if !e2e::enabled("qstrader") {
        return;
    }
    banner("QSTrader 0.3.0 sixty_forty swept over w_SPY on the cluster (strategy = \"command\")");

    // The test's shared filesystem: kept between runs for the venv; its sweeps are new.
    let sharedfs = std::env::temp_dir()
        .join("slurm-sweep-e2e")
        .join("sharedfs");
    std::fs::create_dir_all(&sharedfs).expect("mkdir sharedfs");
    let sweeps = sharedfs.join("sweeps");
    if sweeps.exists() {
        println!("removing the previous run's {}", sweeps.display());
        std::fs::remove_dir_all(&sweeps).expect("remove old sweeps");
    }
    install_qstrader(&sharedfs);
    let data = data_dir();
    // What the user exports (examples/qstrader/README.md): the spec finds the venv's python
    // at $SLURM_SWEEP_SHAREDFS/venvs/qstrader, and the jobs inherit both (SLURM's
    // --export=ALL).
    std::env::set_var("SLURM_SWEEP_SHAREDFS", &sharedfs);
    std::env::set_var("SLURM_SWEEP_DATA", &data);

    let spec = repo_root().join("examples/qstrader/sixty_forty.toml");
    let started = Instant::now();
    sweep(&[
        os("submit"),
        spec.as_os_str(),
        os("--sharedfs"),
        sharedfs.as_os_str(),
    ])
    .expect_code(0);
    let dir = only_sweep_dir(&sharedfs);
    let mut jobs = job_ids(&dir, "array");
    jobs.extend(job_ids(&dir, "collect"));
    wait_jobs_gone(&jobs, Duration::from_secs(900));
    println!(
        "the SLURM run took {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // Where each combination ran.
    let results = result_files(&dir);
    let mut host_of = BTreeMap::new();
    for (name, f) in &results {
        println!(
            "{name}: task {} on {} (SLURMD_NODENAME {:?}), combos {}..{}, {} failed",
            f.task,
            f.host,
            f.slurmd_nodename,
            f.first,
            f.first + f.count,
            f.failed()
        );
        assert!(NODES.contains(&f.host.as_str()), "{name}: host {}", f.host);
        assert_eq!(f.slurmd_nodename.as_deref(), Some(f.host.as_str()));
        for r in &f.runs {
            assert!(
                r.error.is_none(),
                "{name}: combination {} failed: {:?}",
                r.i,
                r.error
            );
            host_of.insert(r.i, f.host.clone());
        }
    }
    assert_eq!(
        host_of.keys().copied().collect::<Vec<_>>(),
        (0..11).collect::<Vec<u64>>(),
        "every combination has a result"
    );

    // collect ranks the eleven.
    collect(&[dir.as_os_str()]).expect_code(0);
    let ranked = run_quiet(
        e2e::bin("collect"),
        &[dir.as_os_str(), os("--format"), os("csv"), os("--quiet")],
    );
    ranked.expect_code(0);
    let table = Csv::parse(&ranked.stdout);
    assert_eq!(table.rows.len(), 11, "{}", ranked.stdout);
    assert_eq!(table.combos(), (0..11).collect());
    println!("\nThe ranking of the QSTrader runs, with the node each ran on:");
    println!(
        "{:>4}  {:>5}  {:>5}  {:>9}  {:>9}  {:>12}  host",
        "rank", "combo", "w_SPY", "sharpe", "cagr", "max_drawdown"
    );
    let combos = table.column("combo");
    for (k, row) in table.rows.iter().enumerate() {
        let fields: BTreeMap<String, String> = table
            .header
            .iter()
            .cloned()
            .zip(row.iter().cloned())
            .collect();
        let combo: u64 = combos[k].trim_start_matches('#').parse().expect("combo");
        println!(
            "{:>4}  {:>5}  {:>5}  {:>9.6}  {:>9.6}  {:>12.6}  {}",
            fields["rank"],
            combos[k],
            fields["w_SPY"],
            number(&fields, "sharpe"),
            number(&fields, "cagr"),
            number(&fields, "max_drawdown"),
            host_of[&combo]
        );
    }

    // The built-in engine's sweep of the same grid, run locally.
    let root = scratch("qstrader-builtin");
    let builtin = root.join("builtin.toml");
    std::fs::write(&builtin, builtin_spec(&data)).expect("write spec");
    let builtin_fs = root.join("sharedfs");
    sweep(&[
        os("run"),
        builtin.as_os_str(),
        os("--local"),
        os("--no-collect"),
        os("--sharedfs"),
        builtin_fs.as_os_str(),
    ])
    .expect_code(0);
    let reference = run_quiet(
        e2e::bin("collect"),
        &[
            only_sweep_dir(&builtin_fs).as_os_str(),
            os("--format"),
            os("csv"),
            os("--quiet"),
        ],
    );
    reference.expect_code(0);

    let ours = by_weight(&table);
    let theirs = by_weight(&Csv::parse(&reference.stdout));
    assert_eq!(ours.len(), 11);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let (our_curves, their_curves) = (curves(&dir), curves(&only_sweep_dir(&builtin_fs)));
    println!(
        "\nQSTrader (command sweep, on the cluster) vs the built-in fixed_weights sweep, per combination;\n\
         tolerances of scripts/parity/compare.py: |QSTrader - built-in| <= {STAT_TOL} for sharpe, \
         cagr and max_drawdown (--stat-tol), and on every day of the equity curve (rebuilt from \
         the kept daily returns) |QSTrader - built-in| / built-in <= {EQUITY_TOL} (--equity-tol)"
    );
    println!(
        "{:>5}  {:>12} {:>12} {:>9}  {:>12} {:>12} {:>9}  {:>12} {:>12} {:>9}  {:>5} {:>9}  status",
        "w_SPY",
        "sharpe QST",
        "built-in",
        "diff",
        "cagr QST",
        "built-in",
        "diff",
        "maxdd QST",
        "built-in",
        "diff",
        "days",
        "max eq rel"
    );
    let mut failures = Vec::new();
    for (tenths, q) in &ours {
        let b = &theirs[tenths];
        let mut line = format!("{:>5.1}", f64::from(*tenths) / 10.0);
        let mut ok = true;
        for key in CHECKED {
            let (x, y) = (number(q, key), number(b, key));
            let diff = (x - y).abs();
            if diff.is_nan() || diff > STAT_TOL {
                ok = false;
                failures.push(format!(
                    "w_SPY {:.1}: {key} QSTrader {x} built-in {y} differ by {diff:e} > {STAT_TOL}",
                    f64::from(*tenths) / 10.0
                ));
            }
            line.push_str(&format!("  {x:>12.6} {y:>12.6} {diff:>9.2e}"));
        }
        let (cq, cb) = (&our_curves[tenths], &their_curves[tenths]);
        if cq.len() != cb.len() {
            ok = false;
            failures.push(format!(
                "w_SPY {:.1}: {} daily returns from QSTrader, {} from the built-in",
                f64::from(*tenths) / 10.0,
                cq.len(),
                cb.len()
            ));
        }
        let worst = cq
            .iter()
            .zip(cb)
            .map(|(x, y)| (x - y).abs() / y.abs())
            .fold(0.0, |a: f64, b| if b.is_nan() || b > a { b } else { a });
        if worst.is_nan() || worst > EQUITY_TOL {
            ok = false;
            failures.push(format!(
                "w_SPY {:.1}: the equity curves differ by {worst:e} (relative) on some day > {EQUITY_TOL}",
                f64::from(*tenths) / 10.0
            ));
        }
        line.push_str(&format!("  {:>5} {worst:>9.2e}", cq.len()));
        line.push_str(if ok { "  ok" } else { "  FAIL" });
        println!("{line}");
    }
    assert!(
        failures.is_empty(),
        "outside the parity tolerance:\n{}",
        failures.join("\n")
    );
    println!(
        "all 11 combinations within {STAT_TOL} for sharpe, cagr and max_drawdown, and their \
         equity curves within {EQUITY_TOL} relative on every day"
    );
}
