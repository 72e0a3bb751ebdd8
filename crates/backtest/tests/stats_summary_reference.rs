//! `stats::summary` against its definition written out plainly here (day by day, four lanes
//! of sums, the drawdown as QSTrader's series defines it): the metrics must be bit for bit
//! the same on curves with and without flat stretches (which the library skips in blocks),
//! at every offset and length, with zero, NaN and negative equity, and on real `ma_cross`
//! curves over SPY.

use backtest::stats::summary;
use backtest::{
    run_backtest, BacktestConfig, Calendar, DataConfig, DataFormat, MarketData, Metrics,
    ParamValue, Params,
};
use chrono::Datelike;
use std::path::PathBuf;

/// The definition, day by day and without blocks, written out plainly.
mod reference {
    use backtest::Metrics;

    const LANES: usize = 4;

    pub fn reference_summary(equity: &[f64]) -> Metrics {
        let n = equity.len();
        if n == 0 {
            return Metrics {
                n_obs: Some(0),
                ..Metrics::unknown()
            };
        }
        let returns: Vec<f64> = equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let mut sums = power_sums(&returns);
        if sums[0].iter().any(|s| s.is_nan()) {
            // pandas' fillna(0.0).
            let filled: Vec<f64> = returns
                .iter()
                .map(|r| if r.is_nan() { 0.0 } else { *r })
                .collect();
            sums = power_sums(&filled);
        }
        // Day t >= 1 in lane (t - 1) mod 4; the lanes added pairwise.
        let total = |x: [f64; LANES]| (x[0] + x[1]) + (x[2] + x[3]);
        let [s1, s2, s3, s4, neg_n, neg_s1, neg_s2] = sums.map(total);
        let (max_dd, max_run) = drawdown(equity);

        let nf = n as f64;
        let growth = equity[n - 1] / equity[0];
        let mean = s1 / nf;
        let var = (s2 / nf - mean * mean).max(0.0);
        let m3 = s3 / nf - 3.0 * mean * (s2 / nf) + 2.0 * mean * mean * mean;
        let m4 = s4 / nf - 4.0 * mean * (s3 / nf) + 6.0 * mean * mean * (s2 / nf)
            - 3.0 * mean * mean * mean * mean;
        let std = var.sqrt();
        let neg_std = if neg_n == 0.0 {
            f64::NAN
        } else {
            let neg_mean = neg_s1 / neg_n;
            (neg_s2 / neg_n - neg_mean * neg_mean).max(0.0).sqrt()
        };
        let ann = 252.0f64.sqrt();
        let cagr = growth.powf(1.0 / (nf / 252.0)) - 1.0;
        Metrics {
            sharpe: ann * mean / std,
            sortino: ann * mean / neg_std,
            cagr,
            annualised_vol: std * ann,
            max_drawdown: max_dd,
            max_drawdown_duration: Some(max_run),
            total_return: growth - 1.0,
            calmar: if max_dd > 0.0 { cagr / max_dd } else { 0.0 },
            skew: m3 / (var * var.sqrt()),
            kurtosis: m4 / (var * var),
            n_obs: Some(n as u64),
            ..Metrics::unknown()
        }
    }

    /// s1..s4, count, sum and sum of squares of the negative returns, per lane.
    fn power_sums(returns: &[f64]) -> [[f64; LANES]; 7] {
        let mut sums = [[0.0; LANES]; 7];
        for (i, &r) in returns.iter().enumerate() {
            let lane = i % LANES;
            sums[0][lane] += r;
            sums[1][lane] += r * r;
            sums[2][lane] += r * r * r;
            sums[3][lane] += (r * r) * (r * r);
            if r < 0.0 {
                sums[4][lane] += 1.0;
                sums[5][lane] += r;
                sums[6][lane] += r * r;
            } else {
                sums[5][lane] += 0.0;
                sums[6][lane] += 0.0;
            }
        }
        sums
    }

    /// The drawdown, day by day: the mark is the running maximum from day 1 (QSTrader's:
    /// day 0 never sets it), except that it starts at day 0's equity when day 1's is not
    /// positive; a day below the mark is in drawdown, of `(hwm - e) / hwm` under a positive
    /// mark and of +inf under one that is not; the largest, and the longest run of days below
    /// the mark (a NaN day is not below).
    pub fn drawdown(equity: &[f64]) -> (f64, u64) {
        let (Some(&day0), Some(&day1)) = (equity.first(), equity.get(1)) else {
            return (0.0, 0);
        };
        let mut hwm = if day1 > 0.0 { day1 } else { day0 };
        let (mut max, mut run, mut longest) = (0.0f64, 0u64, 0u64);
        for &e in &equity[1..] {
            if e < hwm {
                run += 1;
                let dd = if hwm > 0.0 {
                    (hwm - e) / hwm
                } else {
                    f64::INFINITY
                };
                if dd > max {
                    max = dd;
                }
            } else {
                run = 0;
                if e > hwm {
                    hwm = e;
                }
            }
            longest = longest.max(run);
        }
        (max, longest)
    }
}

fn same(curve: &[f64], what: &str) {
    let (got, want) = (summary(curve), reference::reference_summary(curve));
    // Debug prints every f64 in its shortest round-trip form: equal text, equal bits.
    assert_eq!(format!("{got:?}"), format!("{want:?}"), "{what}");
}

/// A deterministic wiggle (no RNG dependency): a curve that moves every day.
fn wiggle(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut e = 100.0;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.04;
            e *= 1.0 + r;
            e
        })
        .collect()
}

#[test]
fn flat_stretches_at_every_offset_and_length() {
    for n in [0, 1, 2, 3, 16, 17, 18, 33, 100, 257] {
        for seed in 0..3 {
            let base = wiggle(n, seed);
            same(&base, &format!("n {n} seed {seed}"));
            for from in 0..n.min(40) {
                for len in [1, 2, 15, 16, 17, 31, 32, 33, 64, 200] {
                    let mut curve = base.clone();
                    let to = (from + len).min(n);
                    let level = curve[from];
                    curve[from..to].fill(level);
                    same(&curve, &format!("n {n} seed {seed} flat {from}..{to}"));
                    // Flat at a new high, and flat deep in a drawdown.
                    curve[from..to].fill(level * 1.5);
                    same(&curve, &format!("n {n} high {from}..{to}"));
                    curve[from..to].fill(level * 0.5);
                    same(&curve, &format!("n {n} low {from}..{to}"));
                }
            }
        }
    }
}

#[test]
fn zero_nan_and_negative_flat_stretches() {
    let base = wiggle(120, 7);
    for level in [0.0, f64::NAN, -50.0, f64::INFINITY, -0.0] {
        for (from, to) in [(0, 40), (10, 60), (50, 120), (1, 18)] {
            let mut curve = base.clone();
            curve[from..to].fill(level);
            same(&curve, &format!("{level} over {from}..{to}"));
        }
    }
    same(&[0.0; 40], "all zero");
    same(&[-3.0; 40], "all negative");
    let mut down: Vec<f64> = (0..60).map(|i| 100.0 - f64::from(i)).collect();
    down[20..45].fill(-10.0);
    same(&down, "through zero into a flat negative stretch");
}

#[test]
fn a_short_ma_cross_squeezed_through_zero() {
    // A simulated run whose equity goes below zero: ma_cross 5/20 long/short goes short in
    // a slow decline (100 -> 70.5 over 60 days), then the price gaps to 400 and stays: the
    // short (10,939 shares sized at day 19's close of 90.5: 99% of 1,000,000) loses about
    // 3.6 million from a peak near 1.2 million. The maximum drawdown is the plain
    // definition's and near 300%; the JSON statistics say the same.
    let mut close: Vec<f64> = (0..60).map(|d| 100.0 - 0.5 * f64::from(d)).collect();
    close.extend([400.0; 20]);
    let mut open = vec![close[0]];
    open.extend_from_slice(&close[..close.len() - 1]);
    open[60] = 400.0;
    let dates: Vec<chrono::NaiveDate> = "2024-01-01"
        .parse::<chrono::NaiveDate>()
        .expect("date")
        .iter_days()
        .filter(|d| d.weekday().num_days_from_monday() < 5)
        .take(close.len())
        .collect();
    let market = MarketData {
        dates: dates.clone(),
        symbols: vec!["SQZ".into()],
        open: vec![open],
        close: vec![close],
        ..MarketData::default()
    };
    let params: Params = [
        ("fast", ParamValue::Int(5)),
        ("slow", ParamValue::Int(20)),
        ("long_only", ParamValue::Bool(false)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let out = run_backtest(&market, "ma_cross", &params, &BacktestConfig::default()).expect("runs");
    let lowest = out.equity.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        lowest < -2e6,
        "the squeeze takes the equity below zero: {lowest}"
    );
    same(&out.equity, "short squeezed through zero");
    let (max_dd, duration) = reference::drawdown(&out.equity);
    assert_eq!(out.metrics.max_drawdown, max_dd);
    assert_eq!(out.metrics.max_drawdown_duration, Some(duration));
    let peak = out.equity.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        (out.metrics.max_drawdown - (peak - lowest) / peak).abs() < 1e-12,
        "{} vs {peak} -> {lowest}",
        out.metrics.max_drawdown
    );
    assert!(
        out.metrics.max_drawdown > 2.5,
        "{}",
        out.metrics.max_drawdown
    );
    // Every day from the gap on is in drawdown (20 days, the last of the curve).
    assert!(duration >= 20, "{duration}");
    let json = backtest::stats::curve_statistics(
        backtest::stats::EquityCurve {
            dates: &out.dates,
            equity: &out.equity,
        },
        "strategy",
    )
    .expect("statistics");
    assert_eq!(json.max_drawdown.to_bits(), max_dd.to_bits());
    assert_eq!(json.max_drawdown_duration, duration);
}

fn data_dir() -> PathBuf {
    let base = std::env::var_os("SLURM_SWEEP_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    base.join("qstrader_examples")
}

#[test]
fn ma_cross_curves_on_spy() {
    let config = BacktestConfig {
        end: "2025-01-06".parse().ok(),
        calendar: Calendar::TradingDays,
        ..BacktestConfig::default()
    };
    let data = DataConfig {
        dir: data_dir(),
        symbols: vec!["SPY".into()],
        format: DataFormat::Yahoo,
    };
    let market = MarketData::load(&data, &config).expect("SPY loads");
    let mut flat_days = 0;
    for (fast, slow, long_only) in [
        (50, 200, true),
        (20, 100, true),
        (5, 10, false),
        (200, 50, true),
    ] {
        let params: Params = [
            ("fast", ParamValue::Int(fast)),
            ("slow", ParamValue::Int(slow)),
            ("long_only", ParamValue::Bool(long_only)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let out = run_backtest(&market, "ma_cross", &params, &config).expect("runs");
        same(&out.equity, &format!("ma_cross {fast}/{slow}"));
        let m: &Metrics = &out.metrics;
        assert_eq!(
            format!("{:?}", m.sharpe),
            format!("{:?}", summary(&out.equity).sharpe)
        );
        flat_days += out.equity.windows(2).filter(|w| w[0] == w[1]).count();
    }
    assert!(flat_days > 1000, "the curves have flat stretches to skip");
}
