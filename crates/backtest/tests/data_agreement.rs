//! Checking a file (`check_file`, what `bt-worker check-data` and `sweep data import` run)
//! and loading it (`load_file`, `MarketData::load`, what planning and the worker run) are
//! one parse: a file the check accepts loads, the first problem the check reports is the
//! error loading gives, and what loading skips or fills is said in the same words by both
//! (`FileReport::notes`, `MarketData::notes`).

use std::path::{Path, PathBuf};

use backtest::data::{check_file, load_file, DataNote};
use backtest::{BacktestConfig, Calendar, DataConfig, DataFormat, MarketData};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn load_one(path: &Path, calendar: Calendar) -> Result<MarketData, backtest::DataError> {
    let data = DataConfig {
        dir: path.parent().expect("a parent").to_path_buf(),
        symbols: vec![path
            .file_stem()
            .expect("a stem")
            .to_string_lossy()
            .into_owned()],
        format: DataFormat::Auto,
    };
    let config = BacktestConfig {
        calendar,
        ..BacktestConfig::default()
    };
    MarketData::load(&data, &config)
}

/// pysystemtrade rows with no daily close on any date: intraday times only (a 23:30 row is
/// intraday too) and a 23:00:00 row with an empty price.
const NO_DAILY_CLOSE: &str = "DATETIME,price\n\
2021-03-01 10:00:00,100.5\n\
2021-03-01 15:00:00,101\n\
2021-03-01 23:30:00,101.25\n\
2021-03-02 09:00:00,99\n\
2021-03-02 23:00:00,\n\
2021-03-03 18:00:00,98.5\n";

#[test]
fn a_pysystemtrade_file_without_a_daily_close_is_refused_by_check_and_load_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "FUT.csv", NO_DAILY_CLOSE);
    let report = check_file(&path, DataFormat::Auto);
    assert!(!report.is_ok(), "the check accepted it: {report}");
    assert_eq!(report.problem_count, 1, "{report}");
    let want = format!(
        "{}: no daily prices in 6 data rows: skipped 1 row with an empty price; ignored 5 \
         intraday rows (the daily close is the 23:00:00 row); 3 dates have no daily close (no \
         23:00:00 row, nor a lone 00:00:00 row) and no bar",
        path.display()
    );
    assert_eq!(report.problems[0].message, want);
    let loaded = load_file(&path, DataFormat::Auto).expect_err("no bar");
    assert_eq!(loaded.to_string(), want);
    let market = load_one(&path, Calendar::Weekdays).expect_err("no bar");
    assert_eq!(market.to_string(), want);
}

#[test]
fn yahoo_null_rows_are_noted_by_check_and_load_alike() {
    // 2020-01-03 and 2020-01-07 are `null` rows: skipped, and on the weekdays calendar
    // those two days (and nothing else, 01-02..01-08 being weekdays) repeat the last close.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "NUL.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\n\
         2020-01-02,10,11,9,10,10,100\n\
         2020-01-03,null,null,null,null,null,null\n\
         2020-01-06,10,11,9,10.5,10.5,100\n\
         2020-01-07,null,null,null,null,null,null\n\
         2020-01-08,10,11,9,11,11,100\n",
    );
    let skipped = "skipped 2 `null` rows (every price `null`)";
    let report = check_file(&path, DataFormat::Auto);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.notes, [skipped]);
    assert!(report.to_string().contains(skipped), "{report}");

    let market = load_one(&path, Calendar::Weekdays).expect("loads");
    let filled = "2 calendar days without a row repeat the last close";
    assert_eq!(
        market.notes(),
        [DataNote {
            symbol: "NUL".into(),
            file: path.clone(),
            notes: vec![skipped.to_string(), filled.to_string()],
        }]
    );
    assert_eq!(
        market.notes()[0].to_string(),
        format!("{}: {skipped}; {filled}", path.display())
    );
    // On the data's own dates nothing is filled; the skipped rows are still said.
    let market = load_one(&path, Calendar::TradingDays).expect("loads");
    assert_eq!(market.notes()[0].notes, [skipped]);
}

#[test]
fn a_file_used_as_it_is_has_no_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "OK.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\n\
         2020-01-02,10,11,9,10,10,100\n\
         2020-01-03,10,11,9,10.5,10.5,100\n",
    );
    assert!(check_file(&path, DataFormat::Auto).notes.is_empty());
    assert!(load_one(&path, Calendar::Weekdays)
        .expect("loads")
        .notes()
        .is_empty());
}

fn data_root() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// Asserts the check and the loaders agree on `path`: accepted by both or refused by both
/// with the same first message, and the same skip counts and notes.
fn assert_agree(path: &Path) {
    let report = check_file(path, DataFormat::Auto);
    let loaded = load_file(path, DataFormat::Auto);
    let market = load_one(path, Calendar::TradingDays);
    match (&loaded, &market) {
        (Ok(series), Ok(market)) => {
            assert!(report.is_ok(), "check refused what loads: {report}");
            assert_eq!(report.stats, series.stats, "{}", path.display());
            assert_eq!(report.stats, market.stats[0].load, "{}", path.display());
            let said = market.notes().first().map(|n| n.notes.clone());
            assert_eq!(said.unwrap_or_default(), report.notes, "{}", path.display());
        }
        (Err(error), Err(market_error)) => {
            assert!(!report.is_ok(), "check accepted what fails: {error}");
            assert_eq!(report.problems[0].message, error.to_string());
            assert_eq!(market_error.to_string(), error.to_string());
        }
        _ => panic!(
            "load_file and MarketData::load disagree on {}: {:?} vs {:?}",
            path.display(),
            loaded.err(),
            market.err()
        ),
    }
}

#[test]
fn check_and_load_agree_on_every_real_file_and_on_bad_ones() {
    let root = data_root();
    let mut files = Vec::new();
    for dir in [
        "qstrader_examples",
        "pysystemtrade/adjusted_prices_csv",
        "backtesting_py",
    ] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("real data missing in {}: {e}", root.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .collect();
        found.sort();
        files.extend(found);
    }
    assert!(files.len() >= 30, "{} real files", files.len());
    for file in &files {
        assert_agree(file);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let yahoo = "Date,Open,High,Low,Close,Adj Close,Volume\n";
    for (name, text) in [
        ("NOCLOSE.csv", NO_DAILY_CLOSE.to_string()),
        (
            "ALLNULL.csv",
            format!("{yahoo}2020-01-02,null,null,null,null,null,null\n"),
        ),
        (
            "BADROW.csv",
            format!("{yahoo}2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,x,1,1\n"),
        ),
        ("HEADER.csv", yahoo.to_string()),
        ("EMPTY.csv", String::new()),
        (
            "MIDNIGHT.csv",
            "DATETIME,price\n1990-01-02 00:00:00,5\n1990-01-03 00:00:00,6\n".to_string(),
        ),
    ] {
        assert_agree(&write(dir.path(), name, &text));
    }
}
