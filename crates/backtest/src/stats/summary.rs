//! The summary [`Metrics`] of an equity curve in one allocation-free pass (QSTrader 0.3.0's
//! definitions, see the [module docs](super)), and the in-sample / out-of-sample split.

use chrono::NaiveDate;

use crate::metrics::Metrics;

/// Periods (trading days) per year, as QSTrader's `JSONStatistics` default.
pub const PERIODS_PER_YEAR: f64 = 252.0;

/// The summary statistics of a daily equity curve, as QSTrader 0.3.0's `JSONStatistics` computes
/// them from the same curve; also skew, Pearson kurtosis, total return and Calmar.
///
/// The returns are QSTrader's `equity.pct_change().fillna(0.0)`: `n = equity.len()` returns,
/// the first one 0 (and a 0/0 day's too). Over those returns:
/// - `sharpe` = √252 · mean / std, `sortino` = √252 · mean / std(returns < 0), `std` with
///   ddof 0. Like numpy these are NaN or ±inf when a standard deviation is 0 (no negative
///   returns: `sortino` is NaN).
/// - `annualised_vol` = std · √252; `skew` = m3 / m2^1.5, `kurtosis` = m4 / m2² (population
///   central moments, a normal has 3).
/// - `cagr` = (last / first)^(252 / n) − 1; `total_return` = last / first − 1.
/// - `max_drawdown`, `max_drawdown_duration`: QSTrader's `create_drawdowns` (see
///   [`drawdowns`](super::drawdowns)); `calmar` = cagr / max_drawdown, 0 without a drawdown.
///
/// The trading fields (`trades`, `turnover`, `exposure`) are left 0 for the caller. An empty
/// curve gives `Metrics::default()`.
///
/// Cost: one pass over `equity`, no allocation (about 1.4 ns a day on a 2.6 GHz EPYC). The
/// moments come from power sums of the returns; daily returns have a mean far below their
/// standard deviation, so the one-pass formulas lose only a few bits (the QSTrader
/// reproduction test agrees to ~1e-13).
pub fn summary(equity: &[f64]) -> Metrics {
    let n = equity.len();
    if n == 0 {
        return Metrics::default();
    }
    let first = equity[0];
    let last = equity[n - 1];
    let growth = last / first;
    let nf = n as f64;

    let mut pass = OnePass::new(equity).run(equity);
    if pass.sums.s1.iter().any(|s| s.is_nan()) {
        // A 0/0 or NaN return: redo it with pandas' fillna(0.0) on every return.
        pass = OnePass::new(equity).run_filling_nan(equity);
    }
    let (sums, drawdown) = (pass.sums, pass.drawdown);
    let total = |x: [f64; LANES]| x[0] + x[1];
    let (s1, s2, s3, s4) = (
        total(sums.s1),
        total(sums.s2),
        total(sums.s3),
        total(sums.s4),
    );
    let neg_n = (sums.neg_n[0] + sums.neg_n[1]) as f64;
    let (neg_s1, neg_s2) = (total(sums.neg_s1), total(sums.neg_s2));
    let (max_dd, max_run) = drawdown.finish();

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

    let ann = PERIODS_PER_YEAR.sqrt();
    let years = nf / PERIODS_PER_YEAR;
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

/// Days per block of [`OnePass::run`] (even, so a block's first return keeps its lane).
const BLOCK: usize = 16;

/// The accumulators of [`summary`]'s single pass: the power sums and the drawdown.
struct OnePass {
    sums: PowerSums,
    drawdown: DrawdownTracker,
}

/// Power sums of the returns, count, sum and sum of squares of the negative returns
/// (branch-free: the sign of a daily return is a coin flip for the branch predictor), in
/// [`LANES`] lanes.
#[derive(Clone, Copy)]
struct PowerSums {
    s1: [f64; LANES],
    s2: [f64; LANES],
    s3: [f64; LANES],
    s4: [f64; LANES],
    neg_n: [u64; LANES],
    neg_s1: [f64; LANES],
    neg_s2: [f64; LANES],
}

impl PowerSums {
    const ZERO: PowerSums = PowerSums {
        s1: [0.0; LANES],
        s2: [0.0; LANES],
        s3: [0.0; LANES],
        s4: [0.0; LANES],
        neg_n: [0; LANES],
        neg_s1: [0.0; LANES],
        neg_s2: [0.0; LANES],
    };

    #[inline(always)]
    fn add(&mut self, lane: usize, r: f64) {
        let r2 = r * r;
        self.s1[lane] += r;
        self.s2[lane] += r2;
        self.s3[lane] += r2 * r;
        self.s4[lane] += r2 * r2;
        // `r.min(0.0)` as a select (the same value for every `r`, NaN included: a return
        // `x - 1.0` is never -0.0), without min's NaN fix-up; no branch either.
        let negative_part = if r < 0.0 { r } else { 0.0 };
        self.neg_n[lane] += u64::from(r < 0.0);
        self.neg_s1[lane] += negative_part;
        self.neg_s2[lane] += negative_part * negative_part;
    }

    /// Two consecutive days' returns, one per lane: the same operations as two
    /// [`add`](PowerSums::add)s, written lane-wise so that they fill one SSE2 register.
    #[inline(always)]
    fn add_pair(&mut self, r: [f64; LANES]) {
        for (lane, return_) in r.into_iter().enumerate() {
            self.add(lane, return_);
        }
    }
}

impl OnePass {
    fn new(equity: &[f64]) -> OnePass {
        OnePass {
            sums: PowerSums::ZERO,
            drawdown: DrawdownTracker::new(equity.get(1).copied().unwrap_or(f64::NAN)),
        }
    }

    /// (By value, so the accumulators live in registers.) Blocks of [`BLOCK`] days over
    /// which the equity does not move (a strategy out of the market) are skipped in O(1):
    /// their returns are exactly 0 and add nothing (the lanes of the other days stay the
    /// same, so the sums are bit for bit those of the plain loop).
    ///
    /// Compiled twice: with AVX where the CPU has it (four divisions per instruction), and
    /// for the baseline target. Both round every division and add the same way (IEEE
    /// arithmetic, no reassociation), so they give the same bits.
    fn run(self, equity: &[f64]) -> OnePass {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: `run_avx` only requires the CPU to support AVX, checked just above.
            return unsafe { self.run_avx(equity) };
        }
        self.run_portable(equity)
    }

    /// [`run`](OnePass::run) compiled with AVX enabled (the loops are the same code).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn run_avx(self, equity: &[f64]) -> OnePass {
        self.run_body(equity)
    }

    fn run_portable(self, equity: &[f64]) -> OnePass {
        self.run_body(equity)
    }

    /// The loops of [`run`](OnePass::run). The accumulators are locals (not fields of
    /// `self`, which lives in memory), so they stay in registers.
    #[inline(always)]
    fn run_body(self, equity: &[f64]) -> OnePass {
        let (mut sums, mut drawdown) = (self.sums, self.drawdown);
        let n = equity.len();
        let mut t = 1;
        while t + BLOCK <= n {
            // Returns t .. t + BLOCK, from days t - 1 .. t + BLOCK.
            let days = &equity[t - 1..t + BLOCK];
            let e = days[0];
            if days[BLOCK] == e && e != 0.0 && e.is_finite() && days.iter().all(|d| *d == e) {
                drawdown.flat(e, BLOCK as u64);
            } else {
                // The divisions first, independent of each other (so they vectorise), then
                // the sums in day order, alternating lanes as the plain loop does.
                let mut returns = [0.0f64; BLOCK];
                let (before, after) = (&days[..BLOCK], &days[1..]);
                for k in 0..BLOCK {
                    returns[k] = after[k] / before[k] - 1.0;
                }
                for r in returns.chunks_exact(2) {
                    sums.add_pair([r[0], r[1]]);
                }
                if !drawdown.below_mark(&days[1..]) {
                    for &d in &days[1..] {
                        drawdown.step(d);
                    }
                }
            }
            t += BLOCK;
        }
        while t + 1 < n {
            let (a, b, c) = (equity[t - 1], equity[t], equity[t + 1]);
            sums.add_pair([b / a - 1.0, c / b - 1.0]);
            drawdown.step(b);
            drawdown.step(c);
            t += 2;
        }
        if t < n {
            sums.add(0, equity[t] / equity[t - 1] - 1.0);
            drawdown.step(equity[t]);
        }
        OnePass { sums, drawdown }
    }

    /// The same, with NaN returns (0/0, NaN equity) taken as 0 like `fillna(0.0)`.
    fn run_filling_nan(mut self, equity: &[f64]) -> OnePass {
        for w in equity.windows(2) {
            let r = w[1] / w[0] - 1.0;
            self.sums.add(0, if r.is_nan() { 0.0 } else { r });
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

    /// Day t ≥ 1. Branch-free but for the rare new maximum drawdown: whether a day is
    /// below the mark is a coin flip for the branch predictor in a choppy market.
    #[inline(always)]
    fn step(&mut self, e: f64) {
        if e < self.floor && e < self.hwm {
            self.max_drawdown = drawdown_from(self.hwm, e);
            self.floor = e;
        }
        // A run only grows until it ends, so the maximum taken every day is the maximum
        // over the ended runs.
        self.longest = self.longest.max(self.run);
        self.run = if e < self.hwm { self.run + 1 } else { 0 };
        let new_high = e > self.hwm;
        let new_floor = e - e * self.max_drawdown;
        self.floor = if new_high { new_floor } else { self.floor };
        // (Not `f64::max`: a NaN mark must stay NaN, and a NaN day must not move it.)
        self.hwm = if new_high { e } else { self.hwm };
    }

    /// `days` more days at `e`, the equity of the day just stepped: the mark and the
    /// maximum drawdown stay (that day left `hwm >= e` and `floor <= e`, or a NaN mark);
    /// only the run grows, or stays ended.
    fn flat(&mut self, e: f64, days: u64) {
        if e < self.hwm {
            self.run += days;
        } else {
            self.longest = self.longest.max(self.run);
            self.run = 0;
        }
    }

    /// Steps through `days` at once when every one of them is below the mark (a block inside
    /// a drawdown: no new high, so the mark stays, the run grows by one a day, and the
    /// maximum drawdown can only deepen, last to the block's lowest day); returns false,
    /// changing nothing, otherwise (a new high, a day at the mark, NaN). The state is then
    /// exactly that of [`step`](DrawdownTracker::step) day by day.
    #[inline(always)]
    fn below_mark(&mut self, days: &[f64]) -> bool {
        let hwm = self.hwm;
        let (mut below, mut low) = (true, f64::INFINITY);
        for &d in days {
            below &= d < hwm;
            low = low.min(d);
        }
        if !below || days.is_empty() {
            return false;
        }
        if low < self.floor {
            // The last day to deepen is the first at the block's low (the floor is then
            // that low, so no later day passes it).
            self.max_drawdown = drawdown_from(hwm, low);
            self.floor = low;
        }
        let count = days.len() as u64;
        self.longest = self.longest.max(self.run + count - 1);
        self.run += count;
        true
    }

    /// The maximum drawdown and the longest run of days in drawdown.
    fn finish(&self) -> (f64, u64) {
        (self.max_drawdown, self.longest.max(self.run))
    }
}

/// The drawdown of `e` below the mark `hwm`, on a day that sets a new maximum drawdown. Out
/// of line so that the branch in [`DrawdownTracker::step`] stays a branch (as a select, the
/// division would run, and lengthen the chain, every day); by value, so the tracker's
/// fields need no address and stay in registers.
#[cold]
#[inline(never)]
fn drawdown_from(hwm: f64, e: f64) -> f64 {
    (hwm - e) / hwm
}

/// The summaries of the in-sample part `equity[..split]` and the out-of-sample part
/// `equity[split..]`, each read as a stand-alone QSTrader equity curve.
///
/// So the out-of-sample statistics are exactly what QSTrader reports for a backtest whose
/// `burn_in_dt` is the split date: its first day (`split`) has a return of 0, and the return
/// from day `split − 1` to day `split` belongs to neither part. The in-sample part is what
/// QSTrader reports for a backtest ending on day `split − 1`. `split` is clamped to the curve.
pub fn summary_split(equity: &[f64], split: usize) -> (Metrics, Metrics) {
    let split = split.min(equity.len());
    (summary(&equity[..split]), summary(&equity[split..]))
}

/// The index of the first date on or after `split_date` in the ascending `dates` (the first
/// out-of-sample day); `dates.len()` when every date is before it.
pub fn split_index(dates: &[NaiveDate], split_date: NaiveDate) -> usize {
    dates.partition_point(|d| *d < split_date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn flat_curve_has_no_risk() {
        let m = summary(&[100.0; 10]);
        assert_eq!(m.max_drawdown, 0.0);
        assert_eq!(m.max_drawdown_duration, 0);
        assert_eq!(m.annualised_vol, 0.0);
        assert!(m.sharpe.is_nan(), "0/0 like numpy");
        assert!(m.sortino.is_nan());
        assert_eq!(m.calmar, 0.0);
        assert_eq!(m.n_obs, 10);
    }

    #[test]
    fn day_zero_does_not_set_the_high_water_mark() {
        // Day 1 falls below day 0 and the curve never regains day 0: QSTrader sees no
        // drawdown, because its high-water mark starts at day 1.
        let m = summary(&[100.0, 90.0, 95.0, 99.0]);
        assert_eq!(m.max_drawdown, 0.0);
        assert_eq!(m.max_drawdown_duration, 0);
    }

    #[test]
    fn mean_and_std_by_hand() {
        // Returns 0, 0.1, -0.1 -> mean 0, population std sqrt(0.02/3).
        let m = summary(&[100.0, 110.0, 99.0]);
        assert!(close(m.sharpe, 0.0));
        let std = (0.02f64 / 3.0).sqrt();
        assert!(close(m.annualised_vol, std * 252f64.sqrt()));
        // One negative return: its std is 0, so sortino = (rounding noise)/0, not finite.
        assert!(!m.sortino.is_finite());
    }

    #[test]
    fn split_halves_are_standalone_curves() {
        let e = [100.0, 101.0, 99.0, 102.0, 103.0, 100.0];
        let (a, b) = summary_split(&e, 3);
        assert_eq!(a, summary(&e[..3]));
        assert_eq!(b, summary(&e[3..]));
        assert_eq!(a.n_obs + b.n_obs, 6);
        let (a, b) = summary_split(&e, 99);
        assert_eq!(a.n_obs, 6);
        assert_eq!(b, Metrics::default());
    }

    /// A deterministic random walk (xorshift) with long drawdowns, flat stretches and a
    /// NaN-free tail that is not a multiple of the block.
    fn walk(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut e = 100.0;
        (0..n)
            .map(|day| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                // Out of the market for a stretch every so often; otherwise drifting down
                // for the first half (a long drawdown), up after.
                if (day / 40) % 3 != 2 {
                    let drift = if day < n / 2 { -0.0004 } else { 0.0006 };
                    e *= 1.0 + drift + 0.02 * (u - 0.5);
                }
                e
            })
            .collect()
    }

    fn bits(p: &OnePass) -> Vec<u64> {
        let s = &p.sums;
        let d = &p.drawdown;
        [s.s1, s.s2, s.s3, s.s4, s.neg_s1, s.neg_s2]
            .iter()
            .flatten()
            .map(|x| x.to_bits())
            .chain(s.neg_n)
            .chain([d.hwm.to_bits(), d.max_drawdown.to_bits(), d.floor.to_bits()])
            .chain([d.run, d.longest])
            .collect()
    }

    #[test]
    fn dispatched_pass_matches_portable_and_day_by_day_passes_bit_for_bit() {
        for (n, seed) in [(8041, 1), (1000, 7), (17, 3), (33, 11), (2, 5)] {
            let e = walk(n, seed);
            let fast = OnePass::new(&e).run(&e);
            let portable = OnePass::new(&e).run_portable(&e);
            assert_eq!(bits(&fast), bits(&portable), "n = {n}");
            // Day by day, lanes alternating, as the original loop.
            let mut plain = OnePass::new(&e);
            for (t, w) in e.windows(2).enumerate() {
                plain.sums.add(t % 2, w[1] / w[0] - 1.0);
                plain.drawdown.step(w[1]);
            }
            assert_eq!(bits(&fast), bits(&plain), "n = {n}");
        }
    }

    #[test]
    fn below_mark_block_steps_like_day_by_day() {
        // Mark 100 at day 1, then a block below it that deepens twice (lowest 80 twice).
        let days = [95.0, 90.0, 97.0, 80.0, 85.0, 80.0, 99.0, 99.9];
        let mut block = DrawdownTracker::new(100.0);
        block.step(100.0);
        let mut daily = DrawdownTracker::new(100.0);
        daily.step(100.0);
        assert!(block.below_mark(&days));
        for d in days {
            daily.step(d);
        }
        assert_eq!(block.max_drawdown, 0.2);
        assert_eq!(block.max_drawdown.to_bits(), daily.max_drawdown.to_bits());
        assert_eq!(block.floor, daily.floor);
        assert_eq!((block.run, block.longest), (8, 7));
        assert_eq!((block.run, block.longest), (daily.run, daily.longest));
        // A day at the mark (not below it) or a NaN day: not taken.
        assert!(!block.below_mark(&[90.0, 100.0]));
        assert!(!block.below_mark(&[90.0, f64::NAN]));
        assert_eq!(block.run, 8);
    }

    #[test]
    fn split_index_finds_first_day_on_or_after() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        let dates = [d("2020-01-02"), d("2020-01-03"), d("2020-01-06")];
        assert_eq!(split_index(&dates, d("2020-01-03")), 1);
        assert_eq!(split_index(&dates, d("2020-01-04")), 2);
        assert_eq!(split_index(&dates, d("2019-01-01")), 0);
        assert_eq!(split_index(&dates, d("2021-01-01")), 3);
    }
}
