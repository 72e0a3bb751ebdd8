//! `sweep data import` with the real binary: real price files imported read-only, a bad
//! file refused with file:line:field while the good ones are imported, an identical
//! re-import skipped without touching the file, different content refused unless
//! `--replace`; a file the worker could not load (no daily close) refused with the loader's
//! own message, and what loading will skip printed as a note.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "suite/util.rs"]
mod util;

use util::{mode, real_data, show, stdout};

fn etf(symbol: &str) -> PathBuf {
    let p = real_data()
        .join("qstrader_examples")
        .join(format!("{symbol}.csv"));
    assert!(p.is_file(), "real data missing: {}", p.display());
    p
}

fn import(sharedfs: &Path, args: &[&Path], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg("data")
        .arg("import")
        .args(args)
        .arg("--sharedfs")
        .arg(sharedfs)
        .args(extra)
        .env_remove("SLURM_SWEEP_SHAREDFS")
        .output()
        .expect("run sweep")
}

/// A Yahoo file whose second data row (line 3; the header is line 1) has `abc` as Close.
const BAD_YAHOO: &str = "Date,Open,High,Low,Close,Adj Close,Volume\n\
2020-01-02,10,11,9,10.5,10.5,100\n\
2020-01-03,10,11,9,abc,10.5,100\n\
2020-01-06,10,11,9,10.7,10.7,100\n";

#[test]
fn good_files_are_imported_read_only_and_identical() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = tmp.path().join("sharedfs");
    let (spy, agg) = (etf("SPY"), etf("AGG"));
    let o = import(&fs, &[&spy, &agg], &["--dataset", "etfs"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    for (src, name) in [(&spy, "SPY.csv"), (&agg, "AGG.csv")] {
        let dest = fs.join("data/etfs").join(name);
        assert_eq!(
            std::fs::read(&dest).expect("imported"),
            std::fs::read(src).expect("source"),
            "{name}"
        );
        assert_eq!(mode(&dest), 0o444, "{name}");
    }
    // The layout around it exists too.
    assert!(fs.join("bin").is_dir() && fs.join("sweeps").is_dir());
    let out = stdout(&o);
    assert_eq!(out.matches("imported").count(), 2, "{out}");
    assert!(out.contains("symbols = [\"AGG\", \"SPY\"]"), "{out}");
    // SPY.csv: a header and 8042 daily rows (`wc -l` counts 8042 newlines and the last
    // line has none), all kept as bars.
    assert!(out.contains("8042"), "{out}");
}

#[test]
fn a_bad_file_is_refused_with_file_line_field_and_the_good_one_imported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = tmp.path().join("sharedfs");
    let bad = tmp.path().join("BAD.csv");
    std::fs::write(&bad, BAD_YAHOO).expect("write");
    let spy = etf("SPY");
    let o = import(&fs, &[&bad, &spy], &["--dataset", "mixed"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = stdout(&o);
    let expected = format!("{}:3: field `Close`", bad.display());
    assert!(out.contains(&expected), "no `{expected}` in\n{out}");
    assert!(out.contains("1 of 2 files refused"), "{out}");
    assert!(!fs.join("data/mixed/BAD.csv").exists());
    assert!(fs.join("data/mixed/SPY.csv").is_file());
}

#[test]
fn a_directory_is_imported_file_by_file_with_the_forced_format_checked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = tmp.path().join("sharedfs");
    let src = tmp.path().join("in");
    std::fs::create_dir(&src).expect("mkdir");
    std::fs::copy(etf("XLB"), src.join("XLB.csv")).expect("copy");
    std::fs::copy(etf("XLE"), src.join("XLE.csv")).expect("copy");
    std::fs::write(src.join("notes.txt"), "not data").expect("write");
    let o = import(&fs, &[&src], &["--dataset", "sectors", "--format", "yahoo"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let mut names: Vec<String> = std::fs::read_dir(fs.join("data/sectors"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["XLB.csv", "XLE.csv"]);
    // Forcing the wrong format refuses the files (a Yahoo file has no DATETIME,price header).
    let o = import(
        &fs,
        &[&src],
        &["--dataset", "futures", "--format", "pysystemtrade"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stdout(&o).contains("2 of 2 files refused"), "{}", show(&o));
}

#[test]
fn identical_reimport_is_skipped_and_different_content_needs_replace() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = tmp.path().join("sharedfs");
    let src = tmp.path().join("in");
    std::fs::create_dir(&src).expect("mkdir");
    let file = src.join("SPY.csv");
    std::fs::copy(etf("SPY"), &file).expect("copy");
    let o = import(&fs, &[&file], &["--dataset", "etfs"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let dest = fs.join("data/etfs/SPY.csv");
    let inode = std::fs::metadata(&dest).expect("meta").ino();

    // Same content: skipped, the very same file (an atomic rewrite would get a new inode).
    let o = import(&fs, &[&file], &["--dataset", "etfs"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("already present"), "{}", show(&o));
    assert_eq!(std::fs::metadata(&dest).expect("meta").ino(), inode);

    // Other content (the real file without its last row, still valid): refused, untouched.
    let original = std::fs::read_to_string(&file).expect("read");
    let shorter: String = {
        let lines: Vec<&str> = original.lines().collect();
        lines[..lines.len() - 1].join("\n") + "\n"
    };
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(&file, &shorter).expect("write");
    let o = import(&fs, &[&file], &["--dataset", "etfs"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = stdout(&o);
    assert!(out.contains("exists with other content"), "{out}");
    assert!(out.contains("--replace"), "{out}");
    assert_eq!(std::fs::read_to_string(&dest).expect("read"), original);

    // With --replace: replaced, read-only, and the note about plans is printed.
    let o = import(&fs, &[&file], &["--dataset", "etfs", "--replace"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = stdout(&o);
    assert!(out.contains("REPLACED"), "{out}");
    assert!(out.contains("data hashes recorded in plans"), "{out}");
    assert_eq!(std::fs::read_to_string(&dest).expect("read"), shorter);
    assert_eq!(mode(&dest), 0o444);
}

#[test]
fn a_bad_dataset_name_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = tmp.path().join("sharedfs");
    let o = import(&fs, &[&etf("SPY")], &["--dataset", "../escape"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(!tmp.path().join("escape").exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("dataset name"));
}

#[test]
fn a_file_the_loader_refuses_is_refused_and_skipped_rows_are_noted() {
    // A pysystemtrade file with intraday rows only (no 23:00:00 / lone 00:00:00 row on any
    // date): the worker cannot load it, so the import refuses it with the loader's message.
    // A Yahoo file with a `null` row is imported, with a note of what loading skips.
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = tmp.path().join("sharedfs");
    let futures = tmp.path().join("FUT.csv");
    std::fs::write(
        &futures,
        "DATETIME,price\n2021-03-01 10:00:00,100.5\n2021-03-01 15:00:00,101\n\
         2021-03-02 09:00:00,99\n2021-03-02 23:30:00,98\n",
    )
    .expect("write");
    let nulls = tmp.path().join("NUL.csv");
    std::fs::write(
        &nulls,
        "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,10,11,9,10,10,100\n\
         2020-01-03,null,null,null,null,null,null\n2020-01-06,10,11,9,10.5,10.5,100\n",
    )
    .expect("write");
    let o = import(&fs, &[&futures, &nulls], &["--dataset", "mixed"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = stdout(&o);
    let refused = format!(
        "refused: {}: pysystemtrade, 4 rows, 0 daily bars; ignored 4 intraday rows (the daily \
         close is the 23:00:00 row); 2 dates have no daily close (no 23:00:00 row, nor a lone \
         00:00:00 row) and no bar: 1 problem(s)\n  {}: no daily prices in 4 data rows",
        futures.display(),
        futures.display()
    );
    assert!(out.contains(&refused), "no `{refused}` in\n{out}");
    assert!(!fs.join("data/mixed/FUT.csv").exists());
    let note = format!(
        "note: {}: skipped 1 `null` row (every price `null`)",
        nulls.display()
    );
    assert!(out.contains(&note), "no `{note}` in\n{out}");
    assert!(fs.join("data/mixed/NUL.csv").is_file());
    assert!(out.contains("1 of 2 files refused"), "{out}");
}
