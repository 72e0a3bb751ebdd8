//! The synthetic market: deterministic bytes, labelled as synthetic, loads cleanly, and
//! moves as its profiles say.

use std::path::Path;

use backtest::synthetic::{self, write_market, DEMO_SEED, DEMO_SYMBOLS, LABEL_FILE};
use backtest::{BacktestConfig, Calendar, DataConfig, DataFormat, MarketData};
use chrono::{Datelike, NaiveDate, Weekday};

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).expect("read")
}

#[test]
fn same_seed_same_bytes_and_labelled() {
    let (a, b, c) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let (start, end) = (ymd(2015, 1, 1), ymd(2019, 12, 31));
    let paths = write_market(a.path(), &DEMO_SYMBOLS, start, end, 42).expect("write a");
    write_market(b.path(), &DEMO_SYMBOLS, start, end, 42).expect("write b");
    write_market(c.path(), &DEMO_SYMBOLS, start, end, 43).expect("write c");
    assert_eq!(paths.len(), 4);
    for (symbol, path) in DEMO_SYMBOLS.iter().zip(&paths) {
        let name = format!("{symbol}.csv");
        assert_eq!(path, &a.path().join(&name));
        assert_eq!(read(a.path(), &name), read(b.path(), &name), "{name}");
        assert_ne!(read(a.path(), &name), read(c.path(), &name), "{name}");
    }
    let label = String::from_utf8(read(a.path(), LABEL_FILE)).expect("utf-8");
    assert!(label.contains("SYNTHETIC"), "{label}");
    assert!(label.contains("seed: 42"), "{label}");
    assert!(label.contains("splitmix64"), "{label}");
    // A symbol's prices do not depend on the other symbols written with it.
    let alone = tempfile::tempdir().expect("tempdir");
    write_market(alone.path(), &["SYNC"], start, end, 42).expect("write alone");
    assert_eq!(read(alone.path(), "SYNC.csv"), read(a.path(), "SYNC.csv"));
}

/// The first rows of SYNA for seed 42 from 2015-01-01, computed by a separate Python
/// implementation of the generator described in `synthetic.rs` (splitmix64, Irwin-Hall
/// normals, Euler steps, `%.6f`): pins the bytes across machines.
#[test]
fn matches_an_independent_implementation() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_market(dir.path(), &["SYNA"], ymd(2015, 1, 1), ymd(2015, 1, 9), 42).expect("write");
    let text = String::from_utf8(read(dir.path(), "SYNA.csv")).expect("utf-8");
    let expected = include_str!("fixtures/data/synthetic_syna_seed42.csv");
    assert_eq!(text, expected);
}

#[test]
fn loads_cleanly_on_both_calendars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (start, end) = (ymd(2018, 1, 1), ymd(2022, 12, 31));
    write_market(dir.path(), &DEMO_SYMBOLS, start, end, DEMO_SEED).expect("write");
    let data = DataConfig {
        dir: dir.path().to_path_buf(),
        symbols: DEMO_SYMBOLS.iter().map(|s| s.to_string()).collect(),
        format: DataFormat::Auto,
    };
    let mut weekdays = 0;
    let mut holidays = 0;
    let mut day = start;
    while day <= end {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            weekdays += 1;
            if matches!((day.month(), day.day()), (1, 1) | (7, 4) | (12, 25)) {
                holidays += 1;
            }
        }
        day = day.succ_opt().expect("next");
    }
    // 2018-2022: New Year on a weekday in 2018, 2019, 2020, 2021 (2022-01-01 is a Saturday);
    // 4 July in 2018, 2019, 2022 (2020 Sat, 2021 Sun); Christmas in 2018, 2019, 2020 (2021
    // Sat, 2022 Sun). 10 holidays.
    assert_eq!(holidays, 10);

    // Without a start, the calendar starts at the first row, 2018-01-02.
    let market = MarketData::load(&data, &BacktestConfig::default()).expect("weekdays");
    assert_eq!(market.dates[0], ymd(2018, 1, 2));
    assert_eq!(market.dates.len(), weekdays - 1);
    let config = BacktestConfig {
        start: Some(start),
        end: Some(end),
        ..BacktestConfig::default()
    };
    let market = MarketData::load(&data, &config).expect("weekdays");
    assert_eq!(market.dates.len(), weekdays);
    // 2018-01-01 is a holiday: the first weekday has no price yet.
    assert_eq!(market.dates[0], ymd(2018, 1, 1));
    for s in 0..4 {
        assert!(market.close[s][0].is_nan());
        assert!(market.close[s][1..]
            .iter()
            .all(|p| p.is_finite() && *p > 0.0));
        assert_eq!(market.stats[s].days_filled, holidays - 1);
        assert_eq!(market.stats[s].load.skipped_rows(), 0);
    }
    let trading = BacktestConfig {
        calendar: Calendar::TradingDays,
        ..config
    };
    let market = MarketData::load(&data, &trading).expect("trading days");
    assert_eq!(market.dates.len(), weekdays - holidays);
    assert!(market.close.iter().flatten().all(|p| p.is_finite()));
}

fn log_returns(prices: &[f64]) -> Vec<f64> {
    prices.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn std(xs: &[f64]) -> f64 {
    let m = mean(xs);
    (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64).sqrt()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / a.len() as f64;
    cov / (std(a) * std(b))
}

#[test]
fn moves_as_the_profiles_say() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_market(
        dir.path(),
        &DEMO_SYMBOLS,
        ymd(2000, 1, 1),
        ymd(2019, 12, 31),
        7,
    )
    .expect("write");
    let data = DataConfig {
        dir: dir.path().to_path_buf(),
        symbols: DEMO_SYMBOLS.iter().map(|s| s.to_string()).collect(),
        format: DataFormat::Yahoo,
    };
    let config = BacktestConfig {
        calendar: Calendar::TradingDays,
        ..BacktestConfig::default()
    };
    let market = MarketData::load(&data, &config).expect("loads");
    let returns: Vec<Vec<f64>> = market.close.iter().map(|c| log_returns(c)).collect();
    for (s, symbol) in DEMO_SYMBOLS.iter().enumerate() {
        let profile = synthetic::profile(symbol);
        let vol = std(&returns[s]) * 252f64.sqrt();
        assert!(
            (vol / profile.vol - 1.0).abs() < 0.05,
            "{symbol}: vol {vol}"
        );
    }
    // Correlation through the market factor: rho_A * rho_C = 0.9 * 0.7 = 0.63;
    // rho_A * rho_B = 0.9 * 0.2 = 0.18.
    let ac = correlation(&returns[0], &returns[2]);
    let ab = correlation(&returns[0], &returns[1]);
    assert!((ac - 0.63).abs() < 0.04, "corr(SYNA, SYNC) = {ac}");
    assert!((ab - 0.18).abs() < 0.04, "corr(SYNA, SYNB) = {ab}");
    // Dividends: SYNA's adjusted close is below its close before the last row.
    let text = String::from_utf8(read(dir.path(), "SYNA.csv")).expect("utf-8");
    let second: Vec<f64> = text
        .lines()
        .nth(1)
        .expect("row")
        .split(',')
        .skip(1)
        .map(|f| f.parse().expect("number"))
        .collect();
    assert!(
        second[4] < second[3],
        "adj close {} close {}",
        second[4],
        second[3]
    );
}
