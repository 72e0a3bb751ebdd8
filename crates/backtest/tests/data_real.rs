//! Loading and aligning the real price files of `$SLURM_SWEEP_DATA` (default
//! `<workspace>/../shared/data`): Yahoo ETFs from qstrader-examples and pysystemtrade
//! back-adjusted futures. Expected numbers were computed from the files by hand or with a
//! separate Python `csv` script, never from this crate's output.

use std::path::PathBuf;

use backtest::data::{load_file, DataError};
use backtest::{BacktestConfig, Calendar, DataConfig, DataFormat, MarketData};
use chrono::{Datelike, NaiveDate, Weekday};

fn data_dir() -> PathBuf {
    match std::env::var_os("SLURM_SWEEP_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

fn etf_dir() -> PathBuf {
    data_dir().join("qstrader_examples")
}

fn futures_dir() -> PathBuf {
    data_dir().join("pysystemtrade/adjusted_prices_csv")
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Reads one row of a Yahoo file with plain string splitting (not the crate's parser).
fn raw_yahoo_row(path: &PathBuf, date: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(path).expect("read");
    let line = text
        .lines()
        .find(|line| line.starts_with(date))
        .expect("row present");
    line.split(',')
        .skip(1)
        .map(|field| field.parse().expect("number"))
        .collect()
}

fn count_weekdays(start: NaiveDate, end: NaiveDate) -> usize {
    let mut count = 0;
    let mut day = start;
    while day <= end {
        if day.weekday() != Weekday::Sat && day.weekday() != Weekday::Sun {
            count += 1;
        }
        day = day.succ_opt().expect("next day");
    }
    count
}

#[test]
fn spy_loads_with_adjusted_open() {
    let series = load_file(&etf_dir().join("SPY.csv"), DataFormat::Auto).expect("SPY loads");
    assert_eq!(series.format, DataFormat::Yahoo);
    assert_eq!(series.len(), 8042);
    assert_eq!(series.stats.rows, 8042);
    assert_eq!(series.stats.skipped_rows(), 0);
    assert_eq!(series.first_date(), Some(ymd(1993, 1, 29)));
    assert_eq!(series.last_date(), Some(ymd(2025, 1, 7)));
    // 2020-03-16: Open 241.179993, Close 239.850006, Adj Close 222.370773.
    // Adjusted open = 241.179993 * 222.370773 / 239.850006 = 223.60383628902...
    let day = series
        .dates
        .iter()
        .position(|d| *d == ymd(2020, 3, 16))
        .expect("2020-03-16 present");
    assert!((series.open[day] - 223.603_836_289_02).abs() < 1e-9);
    assert_eq!(series.close[day], 222.370773);
    // 1993-01-29: 43.968750 * 24.526075 / 43.937500 = 24.54351...
    assert!((series.open[0] - 43.968750 * 24.526075 / 43.937500).abs() < 1e-12);
    assert!((series.open[0] - 24.543518).abs() < 1e-6);
}

#[test]
fn crude_w_keeps_the_23_00_close_and_negative_prices() {
    let series =
        load_file(&futures_dir().join("CRUDE_W.csv"), DataFormat::Auto).expect("CRUDE_W loads");
    assert_eq!(series.format, DataFormat::Pysystemtrade);
    let stats = &series.stats;
    // PROVENANCE.md: 42105 rows, 7752 rows at 23:00, no empty price, 1711 prices <= 0 (all
    // at 23:00 in the 1990s). Python: 448 dates without a 23:00 row; the other rows are
    // intraday.
    assert_eq!(stats.rows, 42105);
    assert_eq!(stats.bars, 7752);
    assert_eq!(stats.blank_prices, 0);
    assert_eq!(stats.dates_without_close, 448);
    assert_eq!(stats.intraday_rows, 42105 - 7752);
    assert_eq!(series.close.iter().filter(|p| **p <= 0.0).count(), 1711);
    assert_eq!(series.open, series.close);
    let day = series
        .dates
        .iter()
        .position(|d| *d == ymd(2020, 4, 21))
        .expect("2020-04-21 present");
    // The 23:00 row is 28.950000000000003; 21:30 was 24.27 and 23:30 24.52.
    assert_eq!(series.close[day], 28.950000000000003);
    // The last date, 2022-05-31, has intraday rows only.
    assert_eq!(series.last_date(), Some(ymd(2022, 5, 27)));
    assert_eq!(series.first_date(), Some(ymd(1990, 10, 16)));
}

#[test]
fn corn_counts_empty_prices() {
    let series = load_file(&futures_dir().join("CORN.csv"), DataFormat::Auto).expect("CORN");
    let stats = &series.stats;
    assert_eq!(stats.rows, 35529);
    assert_eq!(stats.blank_prices, 8580);
    // 12171 rows at 23:00, 78 of them empty: 12093 daily bars; 452 intraday-only dates
    // plus those 78.
    assert_eq!(stats.bars, 12093);
    assert_eq!(stats.dates_without_close, 530);
    assert_eq!(
        stats.bars + stats.blank_prices + stats.intraday_rows,
        stats.rows
    );
}

#[test]
fn all_futures_files_load() {
    for entry in std::fs::read_dir(futures_dir()).expect("futures dir") {
        let path = entry.expect("entry").path();
        let series = load_file(&path, DataFormat::Pysystemtrade)
            .unwrap_or_else(|e| panic!("{} fails: {e}", path.display()));
        assert!(series.len() > 1000, "{}", path.display());
    }
}

#[test]
fn backtesting_py_goog_loads_as_ohlcv() {
    let path = data_dir().join("backtesting_py/GOOG.csv");
    let series = load_file(&path, DataFormat::Auto).expect("GOOG loads");
    assert_eq!(series.format, DataFormat::Ohlcv);
    assert_eq!(series.first_date(), Some(ymd(2004, 8, 19)));
    // First row: 2004-08-19,100,104.06,95.96,100.34,22351900 (no adjusted close).
    assert_eq!((series.open[0], series.close[0]), (100.0, 100.34));
}

#[test]
fn hourly_data_is_rejected_as_ohlcv() {
    let path = data_dir().join("backtesting_py/EURUSD.csv");
    let error = load_file(&path, DataFormat::Auto).expect_err("hourly bars are not daily");
    assert!(
        matches!(error, DataError::DuplicateDate { line: 3, .. }),
        "{error}"
    );
}

fn spy_agg(calendar: Calendar, start: NaiveDate, end: NaiveDate) -> MarketData {
    let data = DataConfig {
        dir: etf_dir(),
        symbols: vec!["SPY".to_string(), "AGG".to_string()],
        format: DataFormat::Auto,
    };
    let config = BacktestConfig {
        start: Some(start),
        end: Some(end),
        calendar,
        ..BacktestConfig::default()
    };
    MarketData::load(&data, &config).expect("SPY and AGG load")
}

#[test]
fn spy_agg_november_2020_weekdays_vs_trading_days() {
    let (start, end) = (ymd(2020, 11, 1), ymd(2020, 11, 30));
    let weekdays = spy_agg(Calendar::Weekdays, start, end);
    let trading = spy_agg(Calendar::TradingDays, start, end);
    // November 2020 has 21 weekdays; the market was closed on Thanksgiving, 2020-11-26.
    assert_eq!(weekdays.dates.len(), count_weekdays(start, end));
    assert_eq!(weekdays.dates.len(), 21);
    assert_eq!(trading.dates.len(), 21 - 1);
    assert!(!trading.dates.contains(&ymd(2020, 11, 26)));
    assert_eq!(weekdays.files.len(), 2);
    assert!(weekdays.files[0].ends_with("SPY.csv"));
    assert!(weekdays.files[1].ends_with("AGG.csv"));

    let spy = weekdays.symbol_index("SPY").expect("SPY");
    let agg = weekdays.symbol_index("AGG").expect("AGG");
    let wed = weekdays.date_index(ymd(2020, 11, 25)).expect("Wednesday");
    let thu = weekdays
        .date_index(ymd(2020, 11, 26))
        .expect("Thanksgiving");
    // On the holiday both open and close repeat Wednesday's adjusted close.
    for symbol in [spy, agg] {
        assert_eq!(weekdays.open[symbol][thu], weekdays.close[symbol][wed]);
        assert_eq!(weekdays.close[symbol][thu], weekdays.close[symbol][wed]);
    }
    assert_eq!(weekdays.stats[spy].days_filled, 1);
    assert_eq!(trading.stats[spy].days_filled, 0);
    // Wednesday's values against the file read with plain string splitting.
    let raw = raw_yahoo_row(&etf_dir().join("SPY.csv"), "2020-11-25");
    let (open, close, adj) = (raw[0], raw[3], raw[4]);
    assert_eq!(weekdays.close[spy][wed], adj);
    assert!((weekdays.open[spy][wed] - open * adj / close).abs() < 1e-9);
}

#[test]
fn spy_agg_qstrader_window() {
    // PROVENANCE.md: SPY and AGG share identical dates from 2003-09-29 on, 4346 rows each
    // in 2003-09-29..2020-12-31.
    let (start, end) = (ymd(2003, 9, 29), ymd(2020, 12, 31));
    let trading = spy_agg(Calendar::TradingDays, start, end);
    assert_eq!(trading.dates.len(), 4346);
    let weekdays = spy_agg(Calendar::Weekdays, start, end);
    assert_eq!(weekdays.dates.len(), count_weekdays(start, end));
    for s in 0..2 {
        assert!(weekdays.close[s].iter().all(|p| p.is_finite()));
        assert_eq!(weekdays.stats[s].days_filled, weekdays.dates.len() - 4346);
    }
}

/// Day counts of QSTrader's reference runs, from scripts/parity/SEMANTICS.md (counted
/// from QSTrader's own `BDay` calendar): sixty_forty 2003-09-30..2020-12-31 has 4,503
/// weekdays, 158 of them not trading days; momentum_taa 1999-12-22..2020-12-31 has 5,487,
/// 196 not trading days.
#[test]
fn qstrader_reference_day_counts() {
    let market = spy_agg(Calendar::Weekdays, ymd(2003, 9, 30), ymd(2020, 12, 31));
    assert_eq!(market.dates.len(), 4503);
    assert_eq!(market.stats[0].days_filled, 158);
    assert_eq!(market.stats[1].days_filled, 158);
    let sectors = [
        "XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY",
    ];
    let data = DataConfig {
        dir: etf_dir(),
        symbols: sectors.iter().map(|s| s.to_string()).collect(),
        format: DataFormat::Auto,
    };
    let config = BacktestConfig {
        start: Some(ymd(1999, 12, 22)),
        end: Some(ymd(2020, 12, 31)),
        ..BacktestConfig::default()
    };
    let market = MarketData::load(&data, &config).expect("sectors load");
    assert_eq!(market.dates.len(), 5487);
    assert!(market.stats.iter().all(|s| s.days_filled == 196));
    assert!(market.close.iter().flatten().all(|p| p.is_finite()));
}

#[test]
fn nan_before_a_symbols_first_date() {
    // AGG starts on 2003-09-29 (a Monday); SPY has data from 1993.
    let market = spy_agg(Calendar::Weekdays, ymd(2003, 9, 22), ymd(2003, 10, 3));
    let agg = market.symbol_index("AGG").expect("AGG");
    assert_eq!(market.dates.len(), 10);
    assert!(market.close[agg][..5].iter().all(|p| p.is_nan()));
    assert!(market.open[agg][..5].iter().all(|p| p.is_nan()));
    assert!(market.close[agg][5..].iter().all(|p| p.is_finite()));
    assert_eq!(market.stats[agg].days_before_first, 5);
}

#[test]
fn default_period_is_the_union_of_the_files() {
    let data = DataConfig {
        dir: etf_dir(),
        symbols: vec!["AGG".to_string(), "SPY".to_string()],
        format: DataFormat::Yahoo,
    };
    let config = BacktestConfig {
        calendar: Calendar::TradingDays,
        ..BacktestConfig::default()
    };
    let market = MarketData::load(&data, &config).expect("loads");
    // SPY's 8042 dates include all of AGG's.
    assert_eq!(market.dates.len(), 8042);
    assert_eq!(market.dates.first(), Some(&ymd(1993, 1, 29)));
}
