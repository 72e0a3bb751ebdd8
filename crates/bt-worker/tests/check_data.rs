//! `bt-worker check-data` and `bt-worker run` as real binaries agree on every file: a
//! pysystemtrade file without a daily close is refused by both with the same message, a
//! Yahoo file with `null` rows passes both and both say what was skipped, and the real SPY
//! file passes both with nothing to say.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data_root() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
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

/// Intraday rows only: no 23:00:00 row and no lone 00:00:00 row on either date.
const NO_DAILY_CLOSE: &str = "DATETIME,price\n2021-03-01 10:00:00,100.5\n\
2021-03-01 15:00:00,101\n2021-03-02 09:00:00,99\n2021-03-02 23:30:00,98\n";

/// Two `null` rows (2020-01-03, 2020-01-07) among weekday rows.
const NULL_ROWS: &str = "Date,Open,High,Low,Close,Adj Close,Volume\n\
2020-01-02,10,11,9,10,10,100\n2020-01-03,null,null,null,null,null,null\n\
2020-01-06,10,11,9,10.5,10.5,100\n2020-01-07,null,null,null,null,null,null\n\
2020-01-08,10,11,9,11,11,100\n";

fn dataset(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("FUT.csv"), NO_DAILY_CLOSE).expect("write");
    std::fs::write(data.join("NUL.csv"), NULL_ROWS).expect("write");
    let spy = data_root().join("qstrader_examples/SPY.csv");
    assert!(spy.is_file(), "real data missing: {}", spy.display());
    std::fs::copy(spy, data.join("SPY.csv")).expect("copy SPY");
    data
}

#[test]
fn check_data_refuses_what_the_loader_refuses_and_notes_what_it_skips() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = dataset(tmp.path());
    let dir = data.to_str().expect("utf-8 path");
    let fut = data.join("FUT.csv");
    let refused = format!(
        "{}: no daily prices in 4 data rows: ignored 4 intraday rows (the daily close is the \
         23:00:00 row); 2 dates have no daily close (no 23:00:00 row, nor a lone 00:00:00 row) \
         and no bar",
        fut.display()
    );

    let o = worker(&["check-data", dir, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let reports: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let by_name = |name: &str| {
        reports
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["file"].as_str().is_some_and(|f| f.ends_with(name)))
            .unwrap_or_else(|| panic!("no report for {name}: {reports}"))
            .clone()
    };
    let f = by_name("FUT.csv");
    assert_eq!(f["problem_count"], 1, "{f}");
    assert_eq!(f["problems"][0]["message"], refused.as_str());
    let n = by_name("NUL.csv");
    assert_eq!(n["problem_count"], 0, "{n}");
    assert_eq!(
        n["notes"],
        serde_json::json!(["skipped 2 `null` rows (every price `null`)"])
    );
    let s = by_name("SPY.csv");
    assert_eq!(
        (s["problem_count"].clone(), s["notes"].clone()),
        (0.into(), serde_json::json!([]))
    );

    // The table says the same.
    let o = worker(&["check-data", dir]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("no daily prices in 4 data rows"),
        "{}",
        show(&o)
    );
    assert!(table.contains("skipped 2 `null` rows"), "{}", show(&o));

    // The worker refuses the same file with the same message...
    let o = worker(&[
        "run",
        "--strategy",
        "buy_and_hold",
        "--data-dir",
        dir,
        "--symbols",
        "FUT",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&refused),
        "{}",
        show(&o)
    );
    // ...and forcing the format is the same choice as a spec's `data.format`.
    let o = worker(&["check-data", dir, "--format", "pysystemtrade"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("NUL.csv:1: header: missing column(s) price"),
        "{}",
        show(&o)
    );
}

#[test]
fn run_prints_what_loading_skipped_and_filled() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = dataset(tmp.path());
    let dir = data.to_str().expect("utf-8 path");
    let o = worker(&[
        "run",
        "--strategy",
        "buy_and_hold",
        "--data-dir",
        dir,
        "--symbols",
        "NUL",
        "--benchmark",
        "NUL",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let note = format!(
        "note: {}: skipped 2 `null` rows (every price `null`); 2 calendar days without a row \
         repeat the last close",
        data.join("NUL.csv").display()
    );
    assert!(stderr.contains(&note), "no `{note}` in {}", show(&o));
    // Said once, though the benchmark loads the same file again.
    assert_eq!(stderr.matches("note: ").count(), 1, "{}", show(&o));

    // A file used as it is: no note (SPY on its own trading days).
    let o = worker(&[
        "run",
        "--strategy",
        "buy_and_hold",
        "--data-dir",
        dir,
        "--symbols",
        "SPY",
        "--calendar",
        "trading_days",
        "--start",
        "2015-01-02",
        "--end",
        "2015-12-31",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("note:"),
        "{}",
        show(&o)
    );
}
