//! `ewmac` on the real pysystemtrade back-adjusted futures prices
//! (`$SLURM_SWEEP_DATA/pysystemtrade/adjusted_prices_csv`, loaded with `MarketData::load`):
//! the strategy builds over several instruments, including US10 and CRUDE_W whose
//! back-adjusted prices go negative, gives finite long and short weights, and its
//! volatility targeting is calibrated: each instrument's daily P&L divided by the P&L
//! volatility it was sized for has a (robust) scale near 1.

use backtest::strategy::{ewmac, Setup};

use std::path::PathBuf;

use backtest::config::{BacktestConfig, Calendar, DataConfig, DataFormat};
use backtest::params::{ParamValue, Params};
use backtest::MarketData;

fn data_root() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

fn load(symbols: &[&str]) -> MarketData {
    let data = DataConfig {
        dir: data_root().join("pysystemtrade/adjusted_prices_csv"),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        format: DataFormat::Pysystemtrade,
    };
    let config = BacktestConfig {
        calendar: Calendar::Weekdays,
        ..BacktestConfig::default()
    };
    MarketData::load(&data, &config).expect("pysystemtrade prices load")
}

/// The defaults, with `buffer` set.
fn with_buffer(buffer: f64) -> Params {
    let mut given = Params::new();
    given.insert("buffer".into(), ParamValue::Float(buffer));
    ewmac::INFO
        .resolve(&[String::from("X")], &given)
        .expect("parameters resolve")
}

#[test]
fn builds_and_sizes_on_real_futures() {
    let symbols = ["SP500", "US10", "CRUDE_W", "GOLD", "EUR", "CORN"];
    let market = load(&symbols);
    let n_days = market.dates.len();
    let config = BacktestConfig::default();
    let setup = Setup {
        data: &market,
        config: &config,
        start: 0,
        trade_from: 0,
        end: n_days,
    };
    // Without a buffer the strategy re-sizes to the day's targets whenever one changes, so
    // the weights below are each day's targets (the calibration needs that).
    let resolved = with_buffer(0.0);
    let mut strategy = ewmac::INFO.build(&setup, &resolved).expect("builds");
    let mut weights = vec![0.0; symbols.len()];
    let (mut longs, mut shorts, mut decisions) = (0u64, 0u64, 0u64);
    let mut history = Vec::with_capacity(n_days);
    for day in 0..n_days {
        if strategy.decide(day, &mut weights) {
            decisions += 1;
        }
        for (i, w) in weights.iter().enumerate() {
            assert!(
                w.is_finite(),
                "{} on {}: {w}",
                symbols[i],
                market.dates[day]
            );
            // Flat while the instrument has no price.
            if market.close[i][day].is_nan() {
                assert_eq!(*w, 0.0);
            }
            longs += u64::from(*w > 0.0);
            shorts += u64::from(*w < 0.0);
        }
        history.push(weights.clone());
    }
    println!(
        "{n_days} days from {} to {}: {decisions} decisions, {longs} long and {shorts} short \
         instrument-days",
        market.dates[0],
        market.dates[n_days - 1]
    );
    assert!(decisions > n_days as u64 / 2);
    assert!(longs > 1000 && shorts > 1000);

    // The default buffer (0.1 average positions) trades on fewer days.
    let mut buffered = ewmac::INFO
        .build(&setup, &with_buffer(0.1))
        .expect("builds");
    let mut w = vec![0.0; symbols.len()];
    let buffered_decisions = (0..n_days).filter(|&d| buffered.decide(d, &mut w)).count() as u64;
    let mut wide = ewmac::INFO
        .build(&setup, &with_buffer(1.0))
        .expect("builds");
    let wide_decisions = (0..n_days).filter(|&d| wide.decide(d, &mut w)).count() as u64;
    println!(
        "rebalances: buffer 0: {decisions}, buffer 0.1: {buffered_decisions}, buffer 1: \
         {wide_decisions}"
    );
    assert!(buffered_decisions < decisions);
    assert!(wide_decisions < buffered_decisions / 2);

    // Calibration: units held per unit of equity = w / |price| (sign of w); the next day's
    // P&L per unit of equity divided by the daily volatility the position was sized for
    // (|forecast| / 10 x 0.2 / 16 / n_live) should have a standard deviation near 1.
    let params = ewmac::EwmacParams::from_params(&resolved).expect("params");
    for (i, symbol) in symbols.iter().enumerate() {
        let closes = &market.close[i];
        let fc = ewmac::forecast(closes, &params);
        let mut z = Vec::new();
        for day in 0..n_days - 1 {
            let (w, p, next) = (history[day][i], closes[day], closes[day + 1]);
            if w == 0.0 || !p.is_finite() || !next.is_finite() || p.abs() < 1e-9 {
                continue;
            }
            let live = (0..symbols.len())
                .filter(|&j| history[day][j] != 0.0)
                .count() as f64;
            let sized_for = fc[day].abs() / 10.0 * 0.2 / 16.0 / live;
            let pnl = w / p.abs() * (next - p);
            z.push(pnl / sized_for);
        }
        let mean = z.iter().sum::<f64>() / z.len() as f64;
        let sd = (z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / z.len() as f64).sqrt();
        // Daily futures returns are fat-tailed (1987, 2008, 2020): judge the calibration
        // by a robust scale, the median absolute z over 0.6745 (1 for a normal).
        let mut abs: Vec<f64> = z.iter().map(|x| x.abs()).collect();
        abs.sort_by(f64::total_cmp);
        let robust = abs[abs.len() / 2] / 0.6745;
        println!(
            "{symbol}: {} days, realised / targeted volatility: std {sd:.3}, robust {robust:.3}",
            z.len()
        );
        assert!((0.7..1.3).contains(&robust), "{symbol}: {robust}");
        assert!((0.7..2.0).contains(&sd), "{symbol}: {sd}");
    }
}
