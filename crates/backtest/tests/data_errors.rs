//! One bad file per kind of data error: each message must name the file, the 1-based line
//! (header = line 1) and the field, and `check_file` must collect every problem.

use std::path::{Path, PathBuf};

use backtest::data::{check_dir, check_file, load_file, DataError};
use backtest::{BacktestConfig, DataConfig, DataFormat, MarketData};
use chrono::NaiveDate;

const YAHOO: &str = "Date,Open,High,Low,Close,Adj Close,Volume\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Loads `text` as `name` and returns the error and its message.
fn load_error(name: &str, text: &str, format: DataFormat) -> (DataError, String, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), name, text);
    let error = load_file(&path, format).expect_err("the file is bad");
    let message = error.to_string();
    (error, message, path)
}

/// Asserts `message` names the file, `line` and `field`.
fn assert_names(message: &str, path: &Path, line: u64, field: &str) {
    let location = format!("{}:{line}:", path.display());
    assert!(
        message.starts_with(&location),
        "`{message}` lacks `{location}`"
    );
    assert!(
        message.contains(&format!("`{field}`")),
        "`{message}` lacks field `{field}`"
    );
}

#[test]
fn unsorted_dates() {
    let text =
        format!("{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-01-06,1,1,1,1,1,1\n2020-01-03,1,1,1,1,1,1\n");
    let (error, message, path) = load_error("UNSORTED.csv", &text, DataFormat::Auto);
    assert!(
        matches!(
            error,
            DataError::UnsortedDate {
                previous_line: 3,
                ..
            }
        ),
        "{message}"
    );
    assert_names(&message, &path, 4, "Date");
    assert!(
        message.contains("2020-01-03") && message.contains("2020-01-06"),
        "{message}"
    );
}

#[test]
fn duplicate_dates() {
    let text =
        format!("{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,1,1,1\n2020-01-03,2,2,2,2,2,2\n");
    let (error, message, path) = load_error("DUP.csv", &text, DataFormat::Auto);
    assert!(
        matches!(
            error,
            DataError::DuplicateDate {
                previous_line: 3,
                ..
            }
        ),
        "{message}"
    );
    assert_names(&message, &path, 4, "Date");
}

#[test]
fn duplicate_pysystemtrade_timestamps() {
    let text = "DATETIME,price\n2020-01-02 23:00:00,1\n2020-01-02 23:00:00,2\n";
    let (error, message, path) = load_error("DUPF.csv", text, DataFormat::Auto);
    assert!(
        matches!(error, DataError::DuplicateDate { .. }),
        "{message}"
    );
    assert_names(&message, &path, 3, "DATETIME");
}

#[test]
fn non_numeric_price() {
    let text = format!("{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,abc,1,1\n");
    let (_, message, path) = load_error("NAN.csv", &text, DataFormat::Auto);
    assert_names(&message, &path, 3, "Close");
    assert!(
        message.contains("not a number") && message.contains("abc"),
        "{message}"
    );
}

#[test]
fn nan_text_is_not_a_price() {
    let text = "DATETIME,price\n2020-01-02 23:00:00,NaN\n";
    let (_, message, path) = load_error("NANF.csv", text, DataFormat::Auto);
    assert_names(&message, &path, 2, "price");
}

#[test]
fn non_positive_yahoo_price() {
    let text = format!("{YAHOO}2020-01-02,0,1,1,1,1,1\n");
    let (_, message, path) = load_error("ZERO.csv", &text, DataFormat::Auto);
    assert_names(&message, &path, 2, "Open");
    assert!(message.contains("positive"), "{message}");
    let text = format!("{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,1,-2.5,1\n");
    let (_, message, path) = load_error("NEG.csv", &text, DataFormat::Auto);
    assert_names(&message, &path, 3, "Adj Close");
}

#[test]
fn non_positive_ohlcv_price() {
    let text = "date,open,high,low,close,volume\n2020-01-02,1,1,-1,1,5\n";
    let (_, message, path) = load_error("NEGO.csv", text, DataFormat::Auto);
    assert_names(&message, &path, 2, "low");
}

#[test]
fn pysystemtrade_allows_negative_and_zero_prices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "F.csv",
        "DATETIME,price\n2020-01-02 23:00:00,-3\n2020-01-03 23:00:00,0\n",
    );
    let series = load_file(&path, DataFormat::Auto).expect("negative prices are legal");
    assert_eq!(series.close, vec![-3.0, 0.0]);
}

#[test]
fn missing_column() {
    let text = "Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,1\n";
    let (error, message, path) = load_error("NOADJ.csv", text, DataFormat::Yahoo);
    assert!(
        matches!(error, DataError::MissingColumn { .. }),
        "{message}"
    );
    assert!(
        message.starts_with(&format!("{}:1:", path.display())),
        "{message}"
    );
    assert!(message.contains("Adj Close"), "{message}");
    assert!(
        message.contains("Date,Open,High,Low,Close,Adj Close,Volume"),
        "{message}"
    );

    let text = "date,open,high,low\n2020-01-02,1,1,1\n";
    let (_, message, _) = load_error("NOCLOSE.csv", text, DataFormat::Auto);
    assert!(message.contains("missing column(s) Close"), "{message}");

    let text = "when,what\n2020-01-02,1\n";
    let (_, message, _) = load_error("UNKNOWN.csv", text, DataFormat::Auto);
    assert!(message.contains("DATETIME,price"), "{message}");
    assert!(message.contains("Adj Close"), "{message}");
}

#[test]
fn empty_file_and_header_only() {
    let (error, message, path) = load_error("EMPTY.csv", "", DataFormat::Auto);
    assert!(
        matches!(error, DataError::Empty { line: 1, .. }),
        "{message}"
    );
    assert!(
        message.starts_with(&format!("{}:1:", path.display())),
        "{message}"
    );
    let (error, message, path) = load_error("HEADER.csv", YAHOO, DataFormat::Auto);
    assert!(
        matches!(error, DataError::Empty { line: 2, .. }),
        "{message}"
    );
    assert!(
        message.starts_with(&format!("{}:2:", path.display())),
        "{message}"
    );
    assert!(message.contains("no data rows"), "{message}");
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("NOPE.csv");
    let error = load_file(&path, DataFormat::Auto).expect_err("no such file");
    assert!(matches!(error, DataError::Io { .. }), "{error}");
    assert!(
        error.to_string().starts_with(&path.display().to_string()),
        "{error}"
    );
    // Through MarketData::load, the file of the symbol is named.
    let data = DataConfig {
        dir: dir.path().to_path_buf(),
        symbols: vec!["NOPE".to_string()],
        format: DataFormat::Auto,
    };
    let error = MarketData::load(&data, &BacktestConfig::default()).expect_err("missing");
    assert!(error.to_string().contains("NOPE.csv"), "{error}");
}

#[test]
fn no_data_in_the_requested_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "OLD.csv",
        &format!("{YAHOO}2010-01-04,1,1,1,1,1,1\n2010-01-05,1,1,1,1,1,1\n"),
    );
    write(
        dir.path(),
        "NEW.csv",
        &format!("{YAHOO}2020-01-02,1,1,1,1,1,1\n"),
    );
    let data = DataConfig {
        dir: dir.path().to_path_buf(),
        symbols: vec!["NEW".to_string(), "OLD".to_string()],
        format: DataFormat::Auto,
    };
    let config = BacktestConfig {
        start: NaiveDate::from_ymd_opt(2015, 1, 1),
        ..BacktestConfig::default()
    };
    let error = MarketData::load(&data, &config).expect_err("OLD has no data after 2015");
    let message = error.to_string();
    assert!(
        matches!(error, DataError::NoDataInPeriod { .. }),
        "{message}"
    );
    assert!(
        message.contains("OLD.csv") && message.contains("`OLD`"),
        "{message}"
    );
    assert!(
        message.contains("2015-01-01") && message.contains("2010-01-05"),
        "{message}"
    );
}

#[test]
fn partial_null_row_names_the_field() {
    let text = format!("{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,null,1,1\n");
    let (_, message, path) = load_error("PNULL.csv", &text, DataFormat::Auto);
    assert_names(&message, &path, 3, "Close");
    assert!(message.contains("null"), "{message}");
}

#[test]
fn bad_date() {
    let text = format!("{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-02-30,1,1,1,1,1,1\n");
    let (_, message, path) = load_error("DATE.csv", &text, DataFormat::Auto);
    assert_names(&message, &path, 3, "Date");
    let text = format!("{YAHOO}01/02/2020,1,1,1,1,1,1\n");
    let (_, message, path) = load_error("DATE2.csv", &text, DataFormat::Auto);
    assert_names(&message, &path, 2, "Date");
}

#[test]
fn short_row_names_the_missing_field() {
    let text = format!("{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,1\n");
    let (_, message, path) = load_error("SHORT.csv", &text, DataFormat::Auto);
    assert_names(&message, &path, 3, "Adj Close");
}

#[test]
fn line_numbers_count_the_header_and_skip_nothing() {
    // Null rows still count as lines: the bad row is the file's 5th line.
    let text = format!(
        "{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-01-03,null,null,null,null,null,null\n\
         2020-01-06,1,1,1,1,1,1\n2020-01-07,1,1,x,1,1,1\n"
    );
    let (_, message, path) = load_error("LINES.csv", &text, DataFormat::Auto);
    assert_names(&message, &path, 5, "Low");
}

#[test]
fn check_collects_every_problem_of_every_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "A.csv",
        &format!(
            "{YAHOO}2020-01-02,1,1,1,1,1,1\n2020-01-03,null,null,null,null,null,null\n\
             2020-01-06,x,1,1,1,1,1\n2020-01-05,1,1,1,1,1,1\n2020-01-07,1,1,1,0,1,1\n"
        ),
    );
    write(
        dir.path(),
        "B.csv",
        "DATETIME,price\n2020-01-02 10:00:00,1\n2020-01-02 23:00:00,\n2020-01-03 23:00:00,2\n",
    );
    write(dir.path(), "C.csv", "");
    let reports = check_dir(dir.path());
    assert_eq!(reports.len(), 3);

    let a = &reports[0];
    assert_eq!(a.format, Some(DataFormat::Yahoo));
    assert_eq!(a.problem_count, 3);
    let lines: Vec<_> = a
        .problems
        .iter()
        .map(|p| (p.line, p.field.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (Some(4), Some("Open".to_string())),
            (Some(5), Some("Date".to_string())),
            (Some(6), Some("Close".to_string())),
        ]
    );
    assert_eq!(a.stats.rows, 5);
    assert_eq!(a.stats.null_rows, 1);
    assert_eq!(a.stats.bars, 1);

    let b = &reports[1];
    assert!(b.is_ok(), "{b}");
    assert_eq!(b.format, Some(DataFormat::Pysystemtrade));
    assert_eq!(
        (b.stats.bars, b.stats.blank_prices, b.stats.intraday_rows),
        (1, 1, 1)
    );
    assert_eq!(b.stats.dates_without_close, 1);
    let summary = b.to_string();
    assert!(
        summary.contains("skipped 1 row with an empty price")
            && summary.contains("ignored 1 intraday row (the daily close is the 23:00:00 row)"),
        "{summary}"
    );

    let c = &reports[2];
    assert_eq!(c.format, None);
    assert_eq!(c.problem_count, 1);
    assert_eq!(c.problems[0].line, Some(1));

    let single = check_file(&dir.path().join("A.csv"), DataFormat::Auto);
    assert_eq!(&single, a);
    let json = serde_json::to_value(a).expect("serialise");
    assert_eq!(json["problems"][0]["line"], 4);
    assert_eq!(json["problem_count"], 3);
}
