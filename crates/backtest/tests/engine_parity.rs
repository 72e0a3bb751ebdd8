//! The two QSTrader 0.3.0 examples on the real data, checked against numbers QSTrader
//! itself produced (scripts/parity/SEMANTICS.md section 9 and its worked example; the full
//! curve-by-curve comparison is scripts/parity/check.sh, which CI runs).
//!
//! Data: `$SLURM_SWEEP_DATA/qstrader_examples` (default `<workspace>/../shared/data`).

use std::path::PathBuf;

use backtest::simulator::run_benchmark;
use backtest::{
    run_backtest, BacktestConfig, DataConfig, DataFormat, MarketData, ParamValue, Params,
};
use chrono::NaiveDate;

fn data_dir() -> PathBuf {
    let base = std::env::var_os("SLURM_SWEEP_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    base.join("qstrader_examples")
}

fn date(s: &str) -> Option<NaiveDate> {
    s.parse().ok()
}

fn load(symbols: &[&str], config: &BacktestConfig) -> MarketData {
    let data = DataConfig {
        dir: data_dir(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        format: DataFormat::Auto,
    };
    MarketData::load(&data, config).expect("the QSTrader example data loads")
}

fn assert_rel(what: &str, actual: f64, expected: f64, tol: f64) {
    assert!(
        ((actual - expected) / expected).abs() <= tol,
        "{what}: {actual} vs QSTrader's {expected}"
    );
}

#[test]
fn sixty_forty_matches_qstrader() {
    let config = BacktestConfig {
        start: date("2003-09-30"),
        end: date("2020-12-31"),
        ..BacktestConfig::default()
    };
    let market = load(&["SPY", "AGG"], &config);
    let params: Params = [("w_SPY", 0.6), ("w_AGG", 0.4)]
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Float(*v)))
        .collect();
    let out = run_backtest(&market, "fixed_weights", &params, &config).expect("runs");
    // QSTrader: 4,503 weekday points, 413 fills, final equity 3,725,051.80.
    assert_eq!(out.equity.len(), 4503);
    assert_eq!(out.fills.len(), 413);
    assert_rel("final equity", out.equity[4502], 3_725_051.80, 1e-8);
    // The first rebalance (2003-09-30 close) buys 7516 AGG and 8866 SPY on 1 October.
    let first: Vec<(&str, f64)> = out.fills[..2]
        .iter()
        .map(|f| (out.symbols[f.symbol].as_str(), f.quantity))
        .collect();
    assert_eq!(first, [("AGG", 7516.0), ("SPY", 8866.0)]);
    assert_eq!(out.fills[0].date, date("2003-10-01").expect("date"));
    let m = &out.metrics;
    assert!((m.sharpe - 0.725547).abs() < 5e-6, "sharpe {}", m.sharpe);
    assert!((m.cagr - 0.076371).abs() < 5e-6, "cagr {}", m.cagr);
    assert!(
        (m.max_drawdown - 0.353159).abs() < 5e-6,
        "mdd {}",
        m.max_drawdown
    );
    assert_eq!(m.max_drawdown_duration, Some(802));

    // The benchmark: 14,699 SPY bought at 2003-09-30's open, final 5,200,374.04.
    let bench = run_benchmark(&market, "SPY", &config).expect("runs");
    assert_eq!(bench.fills.len(), 1);
    assert_eq!(bench.fills[0].quantity, 14699.0);
    assert_rel("benchmark final", bench.equity[4502], 5_200_374.04, 1e-8);
}

#[test]
fn momentum_taa_matches_qstrader() {
    let config = BacktestConfig {
        start: date("1998-12-22"),
        burn_in: date("1999-12-22"),
        end: date("2020-12-31"),
        ..BacktestConfig::default()
    };
    let sectors = [
        "XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY",
    ];
    let market = load(&sectors, &config);
    let params: Params = [("lookback", 126), ("top_n", 3)]
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Int(*v)))
        .collect();
    let out = run_backtest(&market, "momentum_taa", &params, &config).expect("runs");
    // QSTrader: 5,487 points from 1999-12-22, 967 fills, final 3,926,886.56; the first
    // rebalance (1999-12-31) picks XLK, XLV, XLY.
    assert_eq!(out.equity.len(), 5487);
    assert_eq!(out.dates[0], date("1999-12-22").expect("date"));
    assert_eq!(out.fills.len(), 967);
    assert_rel("final equity", out.equity[5486], 3_926_886.56, 1e-8);
    let first = out.allocations.get(0).expect("a first rebalance");
    assert_eq!(first.date, date("1999-12-31").expect("date"));
    let picked: Vec<&str> = first
        .weights
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0.0)
        .map(|(i, _)| out.symbols[i].as_str())
        .collect();
    assert_eq!(picked, ["XLK", "XLV", "XLY"]);
    let m = &out.metrics;
    assert!((m.sharpe - 0.438823).abs() < 5e-6, "sharpe {}", m.sharpe);
    assert!((m.cagr - 0.064836).abs() < 5e-6, "cagr {}", m.cagr);
    assert!(
        (m.max_drawdown - 0.465971).abs() < 5e-6,
        "mdd {}",
        m.max_drawdown
    );

    // Benchmark from the burn-in date: 10,815 SPY at 1999-12-22's open, final 3,828,867.23.
    let spy = load(&["SPY"], &config);
    let bench = run_benchmark(&spy, "SPY", &config).expect("runs");
    assert_eq!(bench.fills[0].quantity, 10815.0);
    assert_eq!(bench.equity.len(), 5487);
    assert_rel("benchmark final", bench.equity[5486], 3_828_867.23, 1e-8);
}
