//! `report/results.parquet` read back by an independent reader: a small real sweep (SPY,
//! fast/slow windows, an in-sample/out-of-sample split) run with `sweep run --local`, then
//! `collect`, then pyarrow (in the test venv that `scripts/test-all.sh` creates) compares
//! every cell of results.parquet with results.csv (`tests/parquet/compare.py`). No SLURM.
//!
//! The venv: `$PARITY_VENV`, else `<tmp>/slurm-sweep-e2e/sharedfs/venvs/qstrader` (where
//! test-all.sh installs it, pyarrow included). Without pyarrow the test fails when `CI` is
//! set and says loudly that it did not run otherwise.

use std::path::PathBuf;
use std::process::Command;

use e2e::*;

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("PARITY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir()
                .join("slurm-sweep-e2e")
                .join("sharedfs")
                .join("venvs")
                .join("qstrader")
        });
    venv.join("bin").join("python")
}

fn has_pyarrow(python: &PathBuf) -> bool {
    Command::new(python)
        .args(["-c", "import pyarrow.parquet"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn results_parquet_equals_results_csv() {
    let python = venv_python();
    if !has_pyarrow(&python) {
        let why = format!(
            "{} cannot import pyarrow: run scripts/test-all.sh (it installs pyarrow into the \
             test venv) or set PARITY_VENV to a venv with pyarrow",
            python.display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED (not run): results_parquet_equals_results_csv: {why}"
        );
        return;
    }
    let scratch = scratch("parquet");
    let data = data_dir();
    let spec = scratch.join("ma_split.toml");
    std::fs::write(
        &spec,
        format!(
            r#"name = "ma_split"
strategy = "ma_cross"
constraints = ["fast < slow"]

[data]
dir = "{}"
symbols = ["SPY"]

[backtest]
start = 1993-01-29
end = 2025-01-06
split = 2009-01-02
commission_bps = 5.0

[params]
fast = {{ from = 5, to = 60, step = 5 }}
slow = {{ from = 20, to = 200, step = 20 }}

[slurm]
combos_per_task = 7
"#,
            data.join("qstrader_examples").display()
        ),
    )
    .expect("write spec");
    let sharedfs = scratch.join("sharedfs");
    let s = spec.to_string_lossy().to_string();
    let fs = sharedfs.to_string_lossy().to_string();
    sweep(&["run", &s, "--local", "--no-collect", "--sharedfs", &fs]).expect_code(0);
    let dir = only_sweep_dir(&sharedfs);
    let d = dir.to_string_lossy().to_string();
    collect(&[d.as_str(), "--quiet"]).expect_code(0);
    let report = dir.join("report");
    let csv = std::fs::read_to_string(report.join("results.csv")).expect("results.csv");
    let header = csv.lines().next().expect("header");
    assert!(
        header.starts_with("combo,task,fast,kind,long_only,slow,status,error,sharpe,")
            && header.contains(",is_sharpe,")
            && header.contains(",oos_sharpe,"),
        "{header}"
    );
    // Every combination, in combination order.
    let combos: Vec<u64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().expect("combo").parse().expect("number"))
        .collect();
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).expect("plan.json"))
            .expect("plan");
    let n = plan["combos"].as_u64().expect("combos");
    assert_eq!(combos, (0..n).collect::<Vec<_>>());
    let out = Command::new(&python)
        .arg(repo_root().join("tests/parquet/compare.py"))
        .arg(&report)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.starts_with(&format!("OK {n} rows")), "{stdout}");
}
