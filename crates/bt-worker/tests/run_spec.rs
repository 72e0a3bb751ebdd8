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
