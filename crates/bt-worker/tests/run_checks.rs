//! `bt-worker run` as a real binary refusing what would fail every combination of a sweep:
//! out-of-range `[backtest]` settings (from a spec or from flags) are refused before any data
//! is read, naming the field, the value and what was expected (exit code 2); and a
//! strategy whose warm-up is longer than the data (it could never trade) is an error naming
//! the parameter, not a quiet run with no trade.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data_root() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

fn etfs() -> PathBuf {
    let dir = data_root().join("qstrader_examples");
    assert!(
        dir.join("SPY.csv").is_file(),
        "real data missing: {}",
        dir.display()
    );
    dir
}

fn worker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bt-worker"))
        .args(args)
        .output()
        .expect("run bt-worker")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A 60/40 spec over the real SPY and AGG with `backtest` lines added to its `[backtest]`.
fn spec(dir: &Path, data: &Path, backtest: &str) -> PathBuf {
    let path = dir.join("sixty_forty.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "sixty_forty"
strategy = "fixed_weights"

[data]
dir = "{}"
symbols = ["SPY", "AGG"]

[backtest]
start = 2010-01-04
end = 2012-12-31
{backtest}

[params]
w_SPY = 0.6
w_AGG = 0.4
"#,
            data.display()
        ),
    )
    .expect("write spec");
    path
}

#[test]
fn out_of_range_spec_settings_are_refused_naming_the_field() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "cash_buffer = 5.0",
            "`cash_buffer` = 5: expected a fraction in [0, 1)",
        ),
        (
            "commission_bps = -5.0",
            "`commission_bps` = -5: expected a finite number >= 0",
        ),
        (
            "fee_per_trade = -1.0",
            "`fee_per_trade` = -1: expected a finite number >= 0",
        ),
        (
            "slippage_bps = -0.5",
            "`slippage_bps` = -0.5: expected a finite number >= 0",
        ),
        (
            "initial_cash = 0.0",
            "`initial_cash` = 0: expected a finite amount greater than 0",
        ),
        (
            "initial_cash = nan",
            "`initial_cash` = NaN: expected a finite amount greater than 0",
        ),
        (
            "burn_in = 2013-06-03",
            "`burn_in` = 2013-06-03: expected a date on or before `end` = 2012-12-31",
        ),
        (
            "split = 2009-01-02",
            "`split` = 2009-01-02: expected a date after `start` = 2010-01-04",
        ),
    ];
    for (line, want) in cases {
        // A data directory that does not exist: the settings are refused before any read.
        let spec = spec(tmp.path(), &tmp.path().join("no-such-data"), line);
        let o = worker(&["run", "--spec", spec.to_str().expect("utf-8 path")]);
        assert_eq!(o.status.code(), Some(2), "{line}: {}", show(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(want), "{line}: no `{want}` in {}", show(&o));
        assert!(stderr.contains("sixty_forty.toml"), "{}", show(&o));
        assert!(!stderr.contains("loading prices"), "{}", show(&o));
    }
}

#[test]
fn out_of_range_flags_are_refused_and_valid_ones_run() {
    let data = etfs();
    let data = data.to_str().expect("utf-8 path");
    let base = [
        "run",
        "--strategy",
        "fixed_weights",
        "--data-dir",
        data,
        "--symbols",
        "SPY,AGG",
        "--start",
        "2010-01-04",
        "--end",
        "2012-12-31",
        "-p",
        "w_SPY=0.6",
        "-p",
        "w_AGG=0.4",
    ];
    let with = |extra: &[&str]| worker(&[&base[..], extra].concat());
    let o = with(&["--cash-buffer", "5"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("from the flags"), "{}", show(&o));
    assert!(
        stderr.contains("`cash_buffer` = 5: expected a fraction in [0, 1)"),
        "{}",
        show(&o)
    );
    let o = with(&["--burn-in", "2013-01-02"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("`burn_in` = 2013-01-02: expected a date on or before `end` = 2012-12-31"),
        "{}",
        show(&o)
    );
    let o = with(&["--cash-buffer", "0.05", "--commission-bps", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

#[test]
fn a_window_longer_than_the_data_is_an_error_not_a_run_without_trades() {
    let data = etfs();
    let data = data.to_str().expect("utf-8 path");
    let ma = |slow: &str| {
        worker(&[
            "run",
            "--strategy",
            "ma_cross",
            "--data-dir",
            data,
            "--symbols",
            "SPY",
            "--start",
            "2018-01-02",
            "--end",
            "2020-12-31",
            "-p",
            "fast=50",
            "-p",
            &format!("slow={slow}"),
        ])
    };
    // 2018-01-02..2020-12-31 is 783 weekdays (the default calendar).
    let o = ma("5000");
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let want = "ma_cross: `slow` = 5000 gives a first signal after 5000 days of prices and a \
                first fill the day after, but the run has 783 day(s) of prices \
                (2018-01-02..2020-12-31): it could never trade";
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(want),
        "no `{want}` in {}",
        show(&o)
    );
    // A window that fits trades.
    let o = ma("200");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let trades = stdout
        .lines()
        .find(|l| l.contains("trades"))
        .unwrap_or_else(|| panic!("no trades row: {stdout}"));
    assert!(!trades.contains(" 0 "), "{trades}");
}
