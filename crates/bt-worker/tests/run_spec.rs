//! `bt-worker run --spec` as a real binary: the note about a multi-valued spec parameter
//! ("running with the first") appears only for parameters not given with `-p`, and the
//! `-p` value is the one that runs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn data_root() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

#[test]
fn first_value_note_only_for_parameters_not_given_with_p() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = tmp.path().join("ma.toml");
    std::fs::write(
        &spec,
        format!(
            r#"name = "ma"
strategy = "ma_cross"

[data]
dir = "{}"
symbols = ["SPY"]

[backtest]
start = 2015-01-02
end = 2016-12-30

[params]
fast = [5, 10, 20]
slow = [50, 100]
"#,
            data_root().join("qstrader_examples").display()
        ),
    )
    .expect("write spec");
    let out = Command::new(env!("CARGO_BIN_EXE_bt-worker"))
        .arg("run")
        .arg("--spec")
        .arg(&spec)
        .args(["-p", "fast=10"])
        .output()
        .expect("run bt-worker");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // `fast` is given with -p: no note for it; `slow` is not: noted, first value 50.
    assert!(!stderr.contains("for `fast`"), "{stderr}");
    assert!(
        stderr.contains("gives 2 values for `slow`; running with the first, 50"),
        "{stderr}"
    );
    let params = stdout
        .lines()
        .find_map(|l| l.strip_prefix("parameters: "))
        .unwrap_or_else(|| panic!("no parameters line: {stdout}"));
    let words: Vec<&str> = params.split_whitespace().collect();
    assert!(words.contains(&"fast=10"), "{params}");
    assert!(words.contains(&"slow=50"), "{params}");
}

/// A `strategy = "rules"` spec over SPY 2015-2016 with `position` as given.
fn rules_spec(dir: &Path, position: &str) -> PathBuf {
    let spec = dir.join("rules.toml");
    std::fs::write(
        &spec,
        format!(
            r#"name = "ma_rules"
strategy = "rules"

[data]
dir = "{}"
symbols = ["SPY"]

[backtest]
start = 2015-01-02
end = 2016-12-30
rebalance = "daily"

[rules]
position = "{position}"

[rules.params]
fast = {{ type = "int", default = 20, min = 1, max = 500 }}
slow = {{ type = "int", default = 100, min = 1, max = 500 }}

[params]
fast = [5, 10]
"#,
            data_root().join("qstrader_examples").display()
        ),
    )
    .expect("write spec");
    spec
}

fn bt_worker(args: &[&str], spec: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bt-worker"))
        .arg("run")
        .arg("--spec")
        .arg(spec)
        .args(args)
        .output()
        .expect("run bt-worker");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_rules_spec_runs_one_combination_with_p_overrides() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = rules_spec(tmp.path(), "sma(close, fast) > sma(close, slow)");
    let (code, stdout, stderr) = bt_worker(&["-p", "slow=50"], &spec);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("ma_rules (rules) on SPY"), "{stdout}");
    assert!(
        stdout.contains("rule position: sma(close, fast) > sma(close, slow)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("parameters: fast=5 slow=50"),
        "first value of fast, slow from -p: {stdout}"
    );
    assert!(
        stderr.contains("gives 2 values for `fast`; running with the first, 5"),
        "{stderr}"
    );
}

#[test]
fn a_rule_that_cannot_run_names_the_spec_line_and_points_at_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = rules_spec(tmp.path(), "sma(close, fast - 5) > sma(close, slow)");
    let (code, stdout, stderr) = bt_worker(&["-p", "fast=5"], &spec);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    let want = format!(
        "error: {}:14: rule `position`: the window `n` of sma(x, n) is `fast - 5` = 0 for \
         fast = 5: a window must be a positive whole number of days\n",
        spec.display()
    );
    assert!(stderr.starts_with(&want), "{stderr}");
    assert!(
        stderr.contains("\n    sma(close, fast - 5) > sma(close, slow)\n               ^"),
        "{stderr}"
    );
}

#[test]
fn strategy_rules_needs_a_spec_with_rules() {
    let out = Command::new(env!("CARGO_BIN_EXE_bt-worker"))
        .args([
            "run",
            "--strategy",
            "rules",
            "--symbols",
            "SPY",
            "--data-dir",
        ])
        .arg(data_root().join("qstrader_examples"))
        .output()
        .expect("run bt-worker");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("strategy `rules` reads its rules from a spec"),
        "{stderr}"
    );
}
