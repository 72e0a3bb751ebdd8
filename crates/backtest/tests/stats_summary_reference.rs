//! `stats::summary` against its previous implementation (one fused pass over every day, kept
//! here verbatim as the reference): the metrics must be bit for bit the same on curves with
//! and without flat stretches (which the library now skips in blocks), at every offset and
//! length, with zero, NaN and negative equity, and on real `ma_cross` curves over SPY.

use backtest::stats::summary;
use backtest::{
    run_backtest, BacktestConfig, Calendar, DataConfig, DataFormat, MarketData, Metrics,
    ParamValue, Params,
};
use std::path::PathBuf;

#[allow(clippy::all)]
mod reference {
    use backtest::Metrics;

    pub fn reference_summary(equity: &[f64]) -> Metrics {
        let n = equity.len();
        if n == 0 {
            return Metrics::default();
        }
        let first = equity[0];
        let last = equity[n - 1];
        let growth = last / first;
        let nf = n as f64;

        let mut pass = OnePass::new(equity).run(equity);
        if pass.s1.iter().any(|s| s.is_nan()) {
            // A 0/0 or NaN return: redo it with pandas' fillna(0.0) on every return.
            pass = OnePass::new(equity).run_filling_nan(equity);
        }
        let total = |x: [f64; LANES]| x[0] + x[1];
        let (s1, s2, s3, s4) = (
            total(pass.s1),
            total(pass.s2),
            total(pass.s3),
            total(pass.s4),
        );
        let neg_n = (pass.neg_n[0] + pass.neg_n[1]) as f64;
        let (neg_s1, neg_s2) = (total(pass.neg_s1), total(pass.neg_s2));
        let (max_dd, max_run) = pass.drawdown.finish();

        // Population central moments from the power sums (day 0's return of 0 adds nothing but
        // counts in n).
        let mean = s1 / nf;
        let var = (s2 / nf - mean * mean).max(0.0);
        let m3 = s3 / nf - 3.0 * mean * (s2 / nf) + 2.0 * mean * mean * mean;
        let m4 = s4 / nf - 4.0 * mean * (s3 / nf) + 6.0 * mean * mean * (s2 / nf)
            - 3.0 * mean * mean * mean * mean;
        let std = var.sqrt();
        let neg_std = if neg_n == 0.0 {
            f64::NAN // np.std of an empty array
        } else {
            let neg_mean = neg_s1 / neg_n;
            (neg_s2 / neg_n - neg_mean * neg_mean).max(0.0).sqrt()
        };

        let ann = 252.0f64.sqrt();
        let years = nf / 252.0f64;
        let cagr = growth.powf(1.0 / years) - 1.0;
        Metrics {
            sharpe: ann * mean / std,
            sortino: ann * mean / neg_std,
            cagr,
            annualised_vol: std * ann,
            max_drawdown: max_dd,
            max_drawdown_duration: max_run,
            total_return: growth - 1.0,
            calmar: if max_dd > 0.0 { cagr / max_dd } else { 0.0 },
            skew: m3 / (var * var.sqrt()),
            kurtosis: m4 / (var * var),
            n_obs: n as u64,
            ..Metrics::default()
        }
    }

    /// Lanes of independent accumulators: each sum is a loop-carried dependency chain, so two
    /// lanes let consecutive days overlap and fill one SSE2 register (more lanes spill).
    const LANES: usize = 2;

    /// The accumulators of [`summary`]'s single pass: power sums of the returns, count, sum and
    /// sum of squares of the negative returns (branch-free: the sign of a daily return is a coin
    /// flip for the branch predictor), and the drawdown.
    struct OnePass {
        s1: [f64; LANES],
        s2: [f64; LANES],
        s3: [f64; LANES],
        s4: [f64; LANES],
        neg_n: [u64; LANES],
        neg_s1: [f64; LANES],
        neg_s2: [f64; LANES],
        drawdown: DrawdownTracker,
    }

    impl OnePass {
        fn new(equity: &[f64]) -> OnePass {
            OnePass {
                s1: [0.0; LANES],
                s2: [0.0; LANES],
                s3: [0.0; LANES],
                s4: [0.0; LANES],
                neg_n: [0; LANES],
                neg_s1: [0.0; LANES],
                neg_s2: [0.0; LANES],
                drawdown: DrawdownTracker::new(equity.get(1).copied().unwrap_or(f64::NAN)),
            }
        }

        #[inline(always)]
        fn add(&mut self, lane: usize, r: f64) {
            let r2 = r * r;
            self.s1[lane] += r;
            self.s2[lane] += r2;
            self.s3[lane] += r2 * r;
            self.s4[lane] += r2 * r2;
            // min/compare rather than `if`: no branch for the compiler to keep.
            let negative_part = r.min(0.0);
            self.neg_n[lane] += u64::from(r < 0.0);
            self.neg_s1[lane] += negative_part;
            self.neg_s2[lane] += negative_part * negative_part;
        }

        /// (By value, so the accumulators live in registers.)
        fn run(mut self, equity: &[f64]) -> OnePass {
            // Days t and t + 1 share the load of day t; a plain index loop (the bounds checks
            // fold away) vectorises where a zip of two chunk iterators did not.
            let n = equity.len();
            let mut t = 1;
            while t + 1 < n {
                let (a, b, c) = (equity[t - 1], equity[t], equity[t + 1]);
                self.add(0, b / a - 1.0);
                self.add(1, c / b - 1.0);
                self.drawdown.step(b);
                self.drawdown.step(c);
                t += 2;
            }
            if t < n {
                self.add(0, equity[t] / equity[t - 1] - 1.0);
                self.drawdown.step(equity[t]);
            }
            self
        }

        /// The same, with NaN returns (0/0, NaN equity) taken as 0 like `fillna(0.0)`.
        fn run_filling_nan(mut self, equity: &[f64]) -> OnePass {
            for w in equity.windows(2) {
                let r = w[1] / w[0] - 1.0;
                self.add(0, if r.is_nan() { 0.0 } else { r });
                self.drawdown.step(w[1]);
            }
            self
        }
    }

    /// QSTrader's maximum drawdown and its duration (see [`drawdowns`](super::drawdowns)) on the
    /// equity itself, day by day from day 1 (day 0 never sets the high-water mark), without the
    /// series. A day is in drawdown when its equity is below the mark; NaN equity counts as
    /// "not in drawdown".
    struct DrawdownTracker {
        hwm: f64,
        max_drawdown: f64,
        /// Equity below this is a new maximum drawdown: `hwm · (1 − max_drawdown)`, so the
        /// division runs only on the days that set it.
        floor: f64,
        run: u64,
        longest: u64,
    }

    impl DrawdownTracker {
        /// Starts at day 1's equity (`NaN` for a curve of fewer than two days).
        fn new(day1: f64) -> DrawdownTracker {
            DrawdownTracker {
                hwm: day1,
                max_drawdown: 0.0,
                floor: day1,
                run: 0,
                longest: 0,
            }
        }

        /// Day t ≥ 1.
        #[inline(always)]
        fn step(&mut self, e: f64) {
            if e < self.hwm {
                self.run += 1;
                if e < self.floor {
                    self.max_drawdown = (self.hwm - e) / self.hwm;
                    self.floor = e;
                }
            } else {
                self.longest = self.longest.max(self.run);
                self.run = 0;
                if e > self.hwm {
                    self.hwm = e;
                    self.floor = e - e * self.max_drawdown;
                }
            }
        }

        /// The maximum drawdown and the longest run of days in drawdown.
        fn finish(&self) -> (f64, u64) {
            (self.max_drawdown, self.longest.max(self.run))
        }
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
