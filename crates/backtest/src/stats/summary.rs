//! The summary [`Metrics`] of an equity curve in one allocation-free pass (QSTrader 0.3.0's
//! definitions, see the [module docs](super)), and the in-sample / out-of-sample split.

use chrono::NaiveDate;

use super::drawdown::start_mark;
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
///   [`drawdowns`](super::drawdowns)): the largest `(hwm − e) / hwm`, exactly as that series
///   rounds it, and the longest run of days below the mark; `calmar` = cagr / max_drawdown, 0
///   without a drawdown. Equity that falls to or through zero from a positive mark is a
///   drawdown of 1 (100%) or more; see the series for curves that start at or below zero.
///
/// The trading fields (`trades`, `turnover`, `exposure`) cannot be known from a curve: they
/// are left unknown (`None`, NaN) for the caller (the simulator fills them in). An empty
/// curve has no observation and every other metric unknown.
///
/// Cost: one pass over `equity`, no allocation, four days per instruction where the CPU has
/// AVX2 (about 0.7 ns a day on a Zen 4 EPYC, bound by the divisions of the returns). The moments come from power sums of the returns;
/// daily returns have a mean far below their standard deviation, so the one-pass formulas lose
/// only a few bits (the QSTrader reproduction test agrees to ~1e-13).
pub fn summary(equity: &[f64]) -> Metrics {
    curve_summary(equity).metrics
}

/// [`summary`]'s metrics and the mean equity, from the same single pass.
#[derive(Clone, Debug, PartialEq)]
pub struct CurveSummary {
    pub metrics: Metrics,
    /// The mean of the equity curve (NaN when empty or when a day's equity is NaN).
    pub mean_equity: f64,
}

/// [`summary`] with the mean equity (what turnover is measured against).
pub fn curve_summary(equity: &[f64]) -> CurveSummary {
    let n = equity.len();
    if n == 0 {
        return CurveSummary {
            metrics: Metrics {
                n_obs: Some(0),
                ..Metrics::unknown()
            },
            mean_equity: f64::NAN,
        };
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
    let (s1, s2, s3, s4) = (
        total(sums.s1),
        total(sums.s2),
        total(sums.s3),
        total(sums.s4),
    );
    let neg_n = sums.neg_n as f64;
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
    let metrics = Metrics {
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
    };
    CurveSummary {
        metrics,
        mean_equity: (total(sums.equity) + first) / nf,
    }
}

/// Lanes of independent accumulators: each sum is a loop-carried dependency chain; day `t`
/// (from 1) adds to lane `(t − 1) mod 4`, so four consecutive days fill one AVX register.
/// The lanes are part of the definition (the same bits on every CPU), not of the machine.
const LANES: usize = 4;

/// One accumulator per lane.
type Lanes = [f64; LANES];

/// The lanes' total, always in this order.
fn total(x: Lanes) -> f64 {
    (x[0] + x[1]) + (x[2] + x[3])
}

/// Days per block of [`OnePass::run`] (a multiple of [`LANES`], so lanes stay aligned).
const BLOCK: usize = 16;

/// The accumulators of [`summary`]'s single pass: the power sums and the drawdown.
struct OnePass {
    sums: PowerSums,
    drawdown: DrawdownTracker,
}

/// Power sums of the returns, count, sum and sum of squares of the negative returns
/// (branch-free: the sign of a daily return is a coin flip for the branch predictor), and
/// the sum of the equity of days 1.., in [`LANES`] lanes.
#[derive(Clone, Copy)]
struct PowerSums {
    s1: Lanes,
    s2: Lanes,
    s3: Lanes,
    s4: Lanes,
    /// A count (an integer: the same whatever the order of the days).
    neg_n: u64,
    neg_s1: Lanes,
    neg_s2: Lanes,
    equity: Lanes,
}

impl PowerSums {
    const ZERO: PowerSums = PowerSums {
        s1: [0.0; LANES],
        s2: [0.0; LANES],
        s3: [0.0; LANES],
        s4: [0.0; LANES],
        neg_n: 0,
        neg_s1: [0.0; LANES],
        neg_s2: [0.0; LANES],
        equity: [0.0; LANES],
    };

    /// Day `t`'s return `r` and equity `e`, into lane `(t − 1) mod 4`.
    #[inline(always)]
    fn add(&mut self, lane: usize, r: f64, e: f64) {
        let r2 = r * r;
        self.s1[lane] += r;
        self.s2[lane] += r2;
        self.s3[lane] += r2 * r;
        self.s4[lane] += r2 * r2;
        // `r.min(0.0)` as a select (the same value for every `r`, NaN included: a return
        // `x - 1.0` is never -0.0), without min's NaN fix-up; no branch either.
        let negative = r < 0.0;
        let negative_part = if negative { r } else { 0.0 };
        self.neg_n += u64::from(negative);
        self.neg_s1[lane] += negative_part;
        self.neg_s2[lane] += negative_part * negative_part;
        self.equity[lane] += e;
    }

    /// Four consecutive days, one per lane: the same operations as four
    /// [`add`](PowerSums::add)s, written lane-wise so that they fill one AVX register.
    #[inline(always)]
    fn add4(&mut self, r: &[f64], e: &[f64]) {
        for lane in 0..LANES {
            self.add(lane, r[lane], e[lane]);
        }
    }

    /// Four days of a flat stretch at equity `e`: returns of exactly 0 add nothing to the
    /// power sums (the lanes stay bit for bit the same); only the equity sum grows.
    #[inline(always)]
    fn add4_flat(&mut self, e: f64) {
        for lane in 0..LANES {
            self.equity[lane] += e;
        }
    }
}

impl OnePass {
    fn new(equity: &[f64]) -> OnePass {
        OnePass {
            sums: PowerSums::ZERO,
            drawdown: DrawdownTracker::new(start_mark(
                equity.first().copied().unwrap_or(f64::NAN),
                equity.get(1).copied().unwrap_or(f64::NAN),
            )),
        }
    }

    /// The sums and the drawdown of `equity`: where the CPU has AVX2, one fused pass in its
    /// instructions (four days per instruction, see [`avx2::pass`]); elsewhere two portable
    /// passes, the sums then the drawdown (together their accumulators would not fit in the
    /// registers). Both round every operation the same way (IEEE arithmetic, the same order,
    /// no reassociation, no fused multiply-add), so they give the same bits.
    fn run(self, equity: &[f64]) -> OnePass {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: `run_avx2` only requires AVX2 and POPCNT, checked just above.
            return unsafe { self.run_avx2(equity) };
        }
        self.run_portable(equity)
    }

    /// [`run`](OnePass::run) compiled with AVX2 enabled: one fused pass (see [`avx2::pass`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn run_avx2(self, equity: &[f64]) -> OnePass {
        // SAFETY: this function only runs where the CPU has AVX2 and POPCNT.
        let (sums, drawdown) = unsafe { avx2::pass(self.sums, self.drawdown, equity) };
        OnePass { sums, drawdown }
    }

    fn run_portable(self, equity: &[f64]) -> OnePass {
        OnePass {
            sums: sums_pass(self.sums, equity),
            drawdown: drawdown_pass(self.drawdown, equity),
        }
    }

    /// The same, with NaN returns (0/0, NaN equity) taken as 0 like `fillna(0.0)`.
    fn run_filling_nan(mut self, equity: &[f64]) -> OnePass {
        for (t, w) in equity.windows(2).enumerate() {
            let r = w[1] / w[0] - 1.0;
            self.sums
                .add(t % LANES, if r.is_nan() { 0.0 } else { r }, w[1]);
            self.drawdown.step(w[1]);
        }
        self
    }
}

/// The power sums of `equity`'s returns. Blocks of [`BLOCK`] days over which the equity does
/// not move (a strategy out of the market) skip the divisions: their returns are exactly 0
/// and add nothing. (By value, so the accumulators live in registers.)
#[inline(always)]
fn sums_pass(mut sums: PowerSums, equity: &[f64]) -> PowerSums {
    let n = equity.len();
    let mut t = 1;
    while t + BLOCK <= n {
        // Returns t .. t + BLOCK, from days t - 1 .. t + BLOCK.
        let days = &equity[t - 1..t + BLOCK];
        let e = days[0];
        if days[BLOCK] == e && e != 0.0 && e.is_finite() && days.iter().all(|d| *d == e) {
            for _ in 0..BLOCK / LANES {
                sums.add4_flat(e);
            }
        } else {
            // Four days at a time: four divisions in one instruction, then the sums.
            for k in (0..BLOCK).step_by(LANES) {
                let (before, after) = (&days[k..k + LANES], &days[k + 1..k + 1 + LANES]);
                let mut returns = [0.0f64; LANES];
                for lane in 0..LANES {
                    returns[lane] = after[lane] / before[lane] - 1.0;
                }
                sums.add4(&returns, after);
            }
        }
        t += BLOCK;
    }
    for t in t..n {
        sums.add((t - 1) % LANES, equity[t] / equity[t - 1] - 1.0, equity[t]);
    }
    sums
}

/// The drawdown of `equity` from day 1, [`BLOCK`] days at a time: blocks at the level of
/// the day before (out of the market) in O(1).
#[inline(always)]
fn drawdown_pass(mut drawdown: DrawdownTracker, equity: &[f64]) -> DrawdownTracker {
    let days = equity.get(1..).unwrap_or_default();
    let (blocks, rest) = days.as_chunks::<BLOCK>();
    // The equity of the last day stepped (NaN, never equal, before the first).
    let mut previous = f64::NAN;
    for days in blocks {
        if days[BLOCK - 1] == previous && days.iter().all(|d| *d == previous) {
            drawdown.flat(previous, BLOCK as u64);
        } else {
            drawdown.block(days);
        }
        previous = days[BLOCK - 1];
    }
    for &e in rest {
        drawdown.step(e);
    }
    drawdown
}

/// QSTrader's maximum drawdown and its duration (see [`drawdowns`](super::drawdowns)) on the
/// equity itself, day by day from day 1 (day 0 never sets the high-water mark, unless day 1
/// is not positive: [`start_mark`]), without the series. A day is in drawdown when its
/// equity is below the mark; NaN equity counts as "not in drawdown". The maximum drawdown is
/// the largest [`drawdown_at`](super::drawdown::drawdown_at) of those days: `(hwm − e) / hwm`, rounded as that expression
/// rounds (so it is the maximum of the series, bit for bit), or `+inf` below a mark that is
/// not positive. Equity at or below zero under a positive mark is a drawdown of 1 or more.
#[derive(Clone, Copy)]
struct DrawdownTracker {
    hwm: f64,
    max_drawdown: f64,
    /// A day below `hwm · threshold` may set a new maximum drawdown; no day above it can
    /// (`1 − max_drawdown`, plus a margin far above the rounding of either side). So the
    /// division runs only on the few days that come close.
    threshold: f64,
    run: u64,
    longest: u64,
}

impl DrawdownTracker {
    /// Starts at the mark `hwm` ([`start_mark`] of days 0 and 1; `NaN` for a curve of fewer
    /// than two days), before day 1 is stepped.
    fn new(hwm: f64) -> DrawdownTracker {
        DrawdownTracker {
            hwm,
            max_drawdown: 0.0,
            threshold: threshold_of(0.0),
            run: 0,
            longest: 0,
        }
    }

    /// Day t ≥ 1: the definition, one day at a time.
    #[inline(always)]
    fn step(&mut self, e: f64) {
        if e < self.hwm {
            self.run += 1;
            if self.hwm > 0.0 {
                self.deepen(self.hwm, e);
            } else {
                self.unbounded();
            }
        } else {
            self.longest = self.longest.max(self.run);
            self.run = 0;
            // (Not `f64::max`: a NaN mark must stay NaN, and a NaN day must not move it.)
            if e > self.hwm {
                self.hwm = e;
            }
        }
    }

    /// A day below a mark that is not positive: its drawdown is `+inf`
    /// ([`drawdown_at`](super::drawdown::drawdown_at)). No day can
    /// deepen it further (a threshold of 0: no positive day is a candidate).
    #[cold]
    fn unbounded(&mut self) {
        self.max_drawdown = f64::INFINITY;
        self.threshold = 0.0;
    }

    /// A day at `e` below the positive mark `hwm`: its drawdown, if larger than the maximum.
    #[inline(always)]
    fn deepen(&mut self, hwm: f64, e: f64) {
        let dd = (hwm - e) / hwm;
        if dd > self.max_drawdown {
            self.max_drawdown = dd;
            self.threshold = threshold_of(dd);
        }
    }

    /// `days` more days at `e`, the equity of the day just stepped: the mark and the
    /// maximum drawdown stay (that day left `hwm >= e` and its drawdown counted, or a NaN
    /// mark); only the run grows, or stays ended.
    fn flat(&mut self, e: f64, days: u64) {
        if e < self.hwm {
            self.run += days;
        } else {
            self.longest = self.longest.max(self.run);
            self.run = 0;
        }
    }

    /// [`BLOCK`] days at once: the same state as [`step`](DrawdownTracker::step) day by day
    /// (`finish` gives the same), branch-free over the days. Equity that is not positive
    /// and finite, or a mark that is not, goes day by day.
    #[inline(always)]
    fn block(&mut self, days: &[f64; BLOCK]) {
        let (mut low, mut high, mut sum) = (f64::INFINITY, 0.0f64, 0.0f64);
        for &d in days {
            // (Selects rather than `min`/`max`: no NaN fix-ups; a NaN shows in the sum.)
            low = if d < low { d } else { low };
            high = if d > high { d } else { high };
            sum += d;
        }
        if !self.ordinary(low, sum) {
            days.iter().for_each(|d| self.step(*d));
            return;
        }
        if self.below_mark(low, high) {
            return;
        }
        // The mark of each day: a running maximum.
        let mut marks = [0.0f64; BLOCK];
        let mut carry = self.hwm;
        for (mark, &d) in marks.iter_mut().zip(days) {
            carry = if d > carry { d } else { carry };
            *mark = carry;
        }
        let mut below = 0u32;
        let mut candidates = 0u32;
        for (k, (&d, &mark)) in days.iter().zip(&marks).enumerate() {
            below |= u32::from(d < mark) << k;
            candidates |= u32::from(d < mark * self.threshold) << k;
        }
        self.deepen_candidates(days, &marks, candidates & below);
        self.runs(below, BLOCK as u32);
        self.hwm = carry;
    }

    /// Whether a block whose lowest day is `low` and whose days add up to `sum` is positive
    /// and finite (a NaN or infinite day makes the sum NaN or infinite), and the mark too.
    #[inline(always)]
    fn ordinary(&self, low: f64, sum: f64) -> bool {
        low > 0.0 && sum.is_finite() && self.hwm > 0.0 && self.hwm.is_finite()
    }

    /// A block (positive, finite, under a positive, finite mark) entirely below the mark,
    /// whose lowest day is `low` and highest `high`: the mark stays, the run grows by the
    /// block, and the lowest day has the block's largest drawdown. Returns false, changing
    /// nothing, when a day reaches the mark.
    #[inline(always)]
    fn below_mark(&mut self, low: f64, high: f64) -> bool {
        if high >= self.hwm {
            return false;
        }
        if self.max_drawdown < 1.0 && low < self.hwm * self.threshold {
            self.deepen(self.hwm, low);
        }
        self.run += BLOCK as u64;
        true
    }

    /// The days of a block whose bit of `candidates` is set (below their mark, and below
    /// mark · threshold): each may deepen the maximum drawdown. Rare, so a loop over bits.
    #[inline(always)]
    fn deepen_candidates(&mut self, days: &[f64; BLOCK], marks: &[f64; BLOCK], candidates: u32) {
        let mut rest = candidates;
        while rest != 0 {
            let k = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            self.deepen(marks[k], days[k]);
        }
    }

    /// The runs of a block of `len` days whose bit k of `below` says day k is below the mark.
    #[inline(always)]
    fn runs(&mut self, below: u32, len: u32) {
        let all = u32::MAX >> (32 - len);
        if below == all {
            self.run += u64::from(len);
            return;
        }
        // The run carried in ends at the block's first day at the mark.
        self.longest = self
            .longest
            .max(self.run + u64::from(below.trailing_ones()));
        if self.longest < u64::from(len) {
            // A run inside the block (only when it could matter).
            let (mut rest, mut inner) = (below, 0u64);
            while rest != 0 {
                rest &= rest << 1;
                inner += 1;
            }
            self.longest = self.longest.max(inner);
        }
        // The run still going at the block's end.
        self.run = u64::from((below << (32 - len)).leading_ones());
    }

    /// The maximum drawdown and the longest run of days in drawdown.
    fn finish(&self) -> (f64, u64) {
        (self.max_drawdown, self.longest.max(self.run))
    }
}

/// The summary pass in AVX2 instructions, four days to a register.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{DrawdownTracker, PowerSums, BLOCK, LANES};
    use std::arch::x86_64::*;

    /// [`super::sums_pass`] and [`super::drawdown_pass`] fused into one loop in AVX2
    /// instructions (the drawdown's work runs in the shadow of the divisions).
    ///
    /// The sums: lane k of each register is lane k of the sums, and every lane sees the same
    /// IEEE operations in the same order, so the sums are the same bits. The negative
    /// returns are those with the sign bit set (a return is never -0.0, and a NaN return
    /// sends the whole pass to the NaN-filling one), counted with a popcount, and their part
    /// selected by the sign (blend), which keeps the adders free for the sums.
    ///
    /// The drawdown: [`block`] on the same days (or, for a flat block, `flat`).
    ///
    /// # Safety
    /// The CPU must support AVX2 and POPCNT.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn pass(
        sums: PowerSums,
        mut drawdown: DrawdownTracker,
        equity: &[f64],
    ) -> (PowerSums, DrawdownTracker) {
        let load = |x: &[f64; LANES]| unsafe { _mm256_loadu_pd(x.as_ptr()) };
        let (mut s1, mut s2, mut s3, mut s4) = (
            load(&sums.s1),
            load(&sums.s2),
            load(&sums.s3),
            load(&sums.s4),
        );
        let (mut neg_s1, mut neg_s2, mut equity_sum) =
            (load(&sums.neg_s1), load(&sums.neg_s2), load(&sums.equity));
        let mut neg_n = sums.neg_n;
        let (one, zero) = (_mm256_set1_pd(1.0), _mm256_setzero_pd());
        let n = equity.len();
        let mut t = 1;
        while t + BLOCK <= n {
            // Days t - 1 .. t + BLOCK: returns t .. t + BLOCK.
            let Some(days) = equity[t..].first_chunk::<BLOCK>() else {
                break;
            };
            let e = equity[t - 1];
            // SAFETY: `days` holds BLOCK = 16 values, and `equity[t - 1]` is the one before
            // them: every load below reads inside `equity`.
            let p = days.as_ptr();
            let v: [__m256d; BLOCK / LANES] =
                std::array::from_fn(|g| unsafe { _mm256_loadu_pd(p.add(LANES * g)) });
            let first = _mm256_set1_pd(e);
            let mut moved = 0;
            for &day in &v {
                moved |= _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_NEQ_UQ>(day, first));
            }
            if moved == 0 && e != 0.0 && e.is_finite() {
                // Flat: returns of exactly 0 add nothing; only the equity sum grows. The
                // days equal the one before, which the drawdown has stepped (or, before
                // day 1, which is the mark itself).
                for _ in 0..BLOCK / LANES {
                    equity_sum = _mm256_add_pd(equity_sum, first);
                }
                drawdown.flat(e, BLOCK as u64);
            } else {
                for (g, &after) in v.iter().enumerate() {
                    let before = unsafe { _mm256_loadu_pd(p.add(LANES * g).sub(1)) };
                    let r = _mm256_sub_pd(_mm256_div_pd(after, before), one);
                    let r2 = _mm256_mul_pd(r, r);
                    s1 = _mm256_add_pd(s1, r);
                    s2 = _mm256_add_pd(s2, r2);
                    s3 = _mm256_add_pd(s3, _mm256_mul_pd(r2, r));
                    s4 = _mm256_add_pd(s4, _mm256_mul_pd(r2, r2));
                    neg_n += u64::from(_mm256_movemask_pd(r).count_ones());
                    let negative_part = _mm256_blendv_pd(zero, r, r);
                    neg_s1 = _mm256_add_pd(neg_s1, negative_part);
                    neg_s2 = _mm256_add_pd(neg_s2, _mm256_mul_pd(negative_part, negative_part));
                    equity_sum = _mm256_add_pd(equity_sum, after);
                }
                block(&mut drawdown, days);
            }
            t += BLOCK;
        }
        let store = |x: __m256d| {
            let mut lanes = [0.0; LANES];
            unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), x) };
            lanes
        };
        let mut sums = PowerSums {
            s1: store(s1),
            s2: store(s2),
            s3: store(s3),
            s4: store(s4),
            neg_n,
            neg_s1: store(neg_s1),
            neg_s2: store(neg_s2),
            equity: store(equity_sum),
        };
        for t in t..n {
            sums.add((t - 1) % LANES, equity[t] / equity[t - 1] - 1.0, equity[t]);
            drawdown.step(equity[t]);
        }
        (sums, drawdown)
    }

    /// [`DrawdownTracker::block`] on `days`: the same state (and so the same as day by
    /// day): maxima, minima and comparisons are exact, and the few days that may deepen the
    /// maximum drawdown go through the same [`DrawdownTracker::deepen`]. (The days are
    /// loaded again, from L1: cheaper than keeping them in registers through the sums.)
    #[inline]
    #[target_feature(enable = "avx2")]
    fn block(tracker: &mut DrawdownTracker, days: &[f64; BLOCK]) {
        let p = days.as_ptr();
        // SAFETY: `days` holds BLOCK values: loads of four at 4g, in bounds.
        let v: [__m256d; BLOCK / LANES] =
            std::array::from_fn(|g| unsafe { _mm256_loadu_pd(p.add(LANES * g)) });
        // (vminpd/vmaxpd give the second operand when one is NaN; the sum catches NaN.)
        let low = horizontal_min(_mm256_min_pd(
            _mm256_min_pd(v[0], v[1]),
            _mm256_min_pd(v[2], v[3]),
        ));
        let high = horizontal_max(_mm256_max_pd(
            _mm256_max_pd(v[0], v[1]),
            _mm256_max_pd(v[2], v[3]),
        ));
        let sum = horizontal_sum(_mm256_add_pd(
            _mm256_add_pd(v[0], v[1]),
            _mm256_add_pd(v[2], v[3]),
        ));
        if !tracker.ordinary(low, sum) {
            days.iter().for_each(|d| tracker.step(*d));
            return;
        }
        if tracker.below_mark(low, high) {
            return;
        }
        let threshold = _mm256_set1_pd(tracker.threshold);
        let mut carry = _mm256_set1_pd(tracker.hwm);
        let mut marks = [0.0f64; BLOCK];
        let (mut below, mut candidates) = (0u32, 0u32);
        for (g, &x) in v.iter().enumerate() {
            // The running maximum inside the group (with [x0, x0, x1, x2], then with
            // [m0, m0, m0, m1])...
            let m = _mm256_max_pd(x, _mm256_permute4x64_pd::<0b10_01_00_00>(x));
            let m = _mm256_max_pd(m, _mm256_permute4x64_pd::<0b01_00_00_00>(m));
            // ...then with the mark carried in (the carry's chain is one max a group).
            let mark = _mm256_max_pd(m, carry);
            carry = _mm256_max_pd(carry, _mm256_permute4x64_pd::<0b11_11_11_11>(m));
            // SAFETY: group g's four marks are marks[4g..4g + 4], in bounds.
            unsafe { _mm256_storeu_pd(marks.as_mut_ptr().add(LANES * g), mark) };
            let is_below = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(x, mark)) as u32;
            let is_candidate = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(
                x,
                _mm256_mul_pd(mark, threshold),
            )) as u32;
            below |= is_below << (LANES * g);
            candidates |= is_candidate << (LANES * g);
        }
        tracker.deepen_candidates(days, &marks, candidates & below);
        tracker.runs(below, BLOCK as u32);
        tracker.hwm = _mm256_cvtsd_f64(carry);
    }

    #[target_feature(enable = "avx2")]
    fn horizontal_min(x: __m256d) -> f64 {
        let half = _mm_min_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd::<1>(x));
        _mm_cvtsd_f64(_mm_min_sd(half, _mm_unpackhi_pd(half, half)))
    }

    #[target_feature(enable = "avx2")]
    fn horizontal_max(x: __m256d) -> f64 {
        let half = _mm_max_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd::<1>(x));
        _mm_cvtsd_f64(_mm_max_sd(half, _mm_unpackhi_pd(half, half)))
    }

    #[target_feature(enable = "avx2")]
    fn horizontal_sum(x: __m256d) -> f64 {
        let half = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd::<1>(x));
        _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half)))
    }
}

/// The [`DrawdownTracker::threshold`] for a maximum drawdown `m` below 1: `1 − m` plus
/// `1e-12 · (1 + m)`. A day whose rounded `(hwm − e) / hwm` exceeds `m` has
/// `e < hwm · (1 − m + 3u·m)` (u = 2⁻⁵³), and the rounded `hwm · threshold` is above that
/// by far more than its own rounding.
fn threshold_of(m: f64) -> f64 {
    1.0 - m + 1e-12 * (1.0 + m)
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

/// `part(range)` of the whole curve of `dates`, and with a split date of its in-sample
/// (before the date) and out-of-sample (from the date on) parts: the one place that decides
/// how a run's curve is cut, for the simulator's runs and for the curves a `command` sweep's
/// programs report.
///
/// ```
/// use backtest::stats::{curve_parts, summary};
/// use chrono::NaiveDate;
///
/// let d = |day| NaiveDate::from_ymd_opt(2020, 1, day).unwrap();
/// let dates = [d(1), d(2), d(3), d(6)];
/// let equity = [100.0, 101.0, 99.0, 102.0];
/// let (whole, split) = curve_parts(&dates, Some(d(3)), |r| summary(&equity[r]));
/// let (in_sample, out_of_sample) = split.unwrap();
/// assert_eq!((whole.n_obs, in_sample.n_obs, out_of_sample.n_obs), (Some(4), Some(2), Some(2)));
/// ```
pub fn curve_parts<T>(
    dates: &[NaiveDate],
    split_date: Option<NaiveDate>,
    mut part: impl FnMut(std::ops::Range<usize>) -> T,
) -> (T, Option<(T, T)>) {
    let n = dates.len();
    let whole = part(0..n);
    let split = split_date.map(|d| {
        let at = split_index(dates, d);
        (part(0..at), part(at..n))
    });
    (whole, split)
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
        assert_eq!(m.max_drawdown_duration, Some(0));
        assert_eq!(m.annualised_vol, 0.0);
        assert!(m.sharpe.is_nan(), "0/0 like numpy");
        assert!(m.sortino.is_nan());
        assert_eq!(m.calmar, 0.0);
        assert_eq!(m.n_obs, Some(10));
    }

    #[test]
    fn day_zero_does_not_set_the_high_water_mark() {
        // Day 1 falls below day 0 and the curve never regains day 0: QSTrader sees no
        // drawdown, because its high-water mark starts at day 1.
        let m = summary(&[100.0, 90.0, 95.0, 99.0]);
        assert_eq!(m.max_drawdown, 0.0);
        assert_eq!(m.max_drawdown_duration, Some(0));
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
        let bits = |m: &Metrics| m.values().map(f64::to_bits);
        assert_eq!(bits(&a), bits(&summary(&e[..3])));
        assert_eq!(bits(&b), bits(&summary(&e[3..])));
        assert_eq!(a.n_obs.zip(b.n_obs).map(|(a, b)| a + b), Some(6));
        let (a, b) = summary_split(&e, 99);
        assert_eq!(a.n_obs, Some(6));
        assert_eq!(b.n_obs, Some(0));
        assert!(b.sharpe.is_nan() && b.max_drawdown_duration.is_none());
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
        let (max_drawdown, longest) = p.drawdown.finish();
        [s.s1, s.s2, s.s3, s.s4, s.neg_s1, s.neg_s2, s.equity]
            .iter()
            .flatten()
            .map(|x| x.to_bits())
            .chain([s.neg_n])
            .chain([p.drawdown.hwm.to_bits(), max_drawdown.to_bits(), longest])
            .collect()
    }

    /// Day by day with [`DrawdownTracker::step`] and [`PowerSums::add`]: the definition.
    fn day_by_day(e: &[f64]) -> OnePass {
        let mut plain = OnePass::new(e);
        for (t, w) in e.windows(2).enumerate() {
            plain.sums.add(t % LANES, w[1] / w[0] - 1.0, w[1]);
            plain.drawdown.step(w[1]);
        }
        plain
    }

    /// [`walk`] shifted down by `by`: a curve that crosses zero (and back) where the walk
    /// passes `by`, with flat stretches on either side.
    fn shifted(n: usize, seed: u64, by: f64) -> Vec<f64> {
        walk(n, seed).iter().map(|e| e - by).collect()
    }

    #[test]
    fn dispatched_pass_matches_portable_and_day_by_day_passes_bit_for_bit() {
        for (n, seed) in [(8041, 1), (1000, 7), (17, 3), (33, 11), (2, 5), (4000, 9)] {
            let e = walk(n, seed);
            let fast = OnePass::new(&e).run(&e);
            let portable = OnePass::new(&e).run_portable(&e);
            assert_eq!(bits(&fast), bits(&portable), "n = {n}");
            assert_eq!(bits(&fast), bits(&day_by_day(&e)), "n = {n}");
        }
    }

    #[test]
    fn equity_through_zero_is_the_same_on_every_path() {
        // Walks shifted so they cross zero mid-block, start below it, or sit on it: the
        // dispatched (AVX2), portable and day-by-day passes agree bit for bit, and the
        // maximum drawdown is the series' (>= 1 once a positive mark is lost).
        let mut curves = Vec::new();
        for (n, seed) in [(8041, 1), (1000, 7), (333, 2), (40, 4)] {
            let e = walk(n, seed);
            let (lo, hi) = e
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), x| (l.min(*x), h.max(*x)));
            for by in [
                lo + 0.25 * (hi - lo),
                0.5 * (lo + hi),
                hi - 0.01,
                e[0],
                e[1],
                e[5],
            ] {
                curves.push(shifted(n, seed, by));
            }
        }
        // Exactly zero for a while, then back up.
        let mut zero = walk(200, 3);
        zero[50..90].fill(0.0);
        curves.push(zero);
        for (k, e) in curves.iter().enumerate() {
            let fast = OnePass::new(e).run(e);
            let portable = OnePass::new(e).run_portable(e);
            let plain = day_by_day(e);
            if fast.sums.s1.iter().any(|s| s.is_nan()) {
                // A 0/0 return: the sums are redone with NaN filled (their NaN lanes may
                // differ in sign); the drawdown must not.
                let tail = |p: &OnePass| bits(p).split_off(bits(p).len() - 3);
                assert_eq!(tail(&fast), tail(&portable), "curve {k}");
                assert_eq!(tail(&fast), tail(&plain), "curve {k}");
            } else {
                assert_eq!(bits(&fast), bits(&portable), "curve {k}");
                assert_eq!(bits(&fast), bits(&plain), "curve {k}");
            }
            let m = summary(e);
            let series = crate::stats::drawdowns(e);
            assert_eq!(m.max_drawdown.to_bits(), series.max.to_bits(), "curve {k}");
            assert_eq!(m.max_drawdown_duration, Some(series.duration), "curve {k}");
            if e[1] > 0.0 && e[1..].iter().any(|x| *x <= 0.0) {
                assert!(m.max_drawdown >= 1.0, "curve {k}: {}", m.max_drawdown);
            }
        }
    }

    #[test]
    fn a_curve_through_zero_has_a_drawdown_of_100_percent_or_more() {
        // 16-day blocks: a positive block, one that crosses zero mid-block, one below zero.
        let mut e: Vec<f64> = (0..17).map(|d| 100.0 + d as f64).collect(); // mark 116
        e.extend((1..=16).map(|d| 116.0 - 10.0 * d as f64)); // down to -44
        e.extend((1..=16).map(|d| -44.0 + d as f64)); // -43 .. -28
        let m = summary(&e);
        assert_eq!(m.max_drawdown, (116.0 + 44.0) / 116.0);
        assert_eq!(m.max_drawdown_duration, Some(32));
        // Day 1 already below zero: measured from day 0's 100 (QSTrader's mark of 0 would
        // divide by zero; the old mark, day 1's -20, reported 0).
        let m = summary(&[100.0, -20.0, -50.0, -10.0, 20.0]);
        assert_eq!(m.max_drawdown, 1.5);
        assert_eq!(m.max_drawdown_duration, Some(4));
        // Starting below zero: any loss is unbounded.
        assert_eq!(summary(&[-10.0, -20.0, -15.0]).max_drawdown, f64::INFINITY);
    }

    #[test]
    fn max_drawdown_is_the_maximum_of_qstraders_series() {
        for (n, seed) in [(8041, 1), (1000, 7), (333, 2)] {
            let e = walk(n, seed);
            let m = summary(&e);
            let series = crate::stats::drawdowns(&e);
            assert_eq!(m.max_drawdown.to_bits(), series.max.to_bits(), "n = {n}");
            assert_eq!(m.max_drawdown_duration, Some(series.duration), "n = {n}");
            assert!(m.max_drawdown > 0.05, "the walk has a real drawdown");
        }
    }

    #[test]
    fn a_block_below_the_mark_steps_like_day_by_day() {
        // Mark 100 at day 1, then blocks below it that deepen twice (lowest 80 twice), a
        // block that sets new highs with dips, and one with a day exactly at the mark.
        let below = [
            95.0, 90.0, 97.0, 80.0, 85.0, 80.0, 99.0, 99.9, 92.0, 93.0, 94.0, 95.0, 96.0, 97.0,
            98.0, 99.0,
        ];
        let rising = [
            101.0, 100.5, 102.0, 103.0, 99.0, 104.0, 104.0, 103.9, 105.0, 106.0, 90.0, 107.0,
            107.0, 106.0, 105.0, 104.0,
        ];
        let at_mark = [
            107.0, 100.0, 107.0, 107.0, 50.0, 60.0, 107.0, 106.9, 106.9, 106.9, 106.9, 106.9,
            106.9, 106.9, 106.9, 107.0,
        ];
        let mut block = DrawdownTracker::new(100.0);
        let mut daily = DrawdownTracker::new(100.0);
        for days in [below, rising, at_mark, below] {
            block.block(&days);
            for d in days {
                daily.step(d);
            }
            assert_eq!(block.finish().0.to_bits(), daily.finish().0.to_bits());
            assert_eq!(block.finish().1, daily.finish().1);
            assert_eq!((block.hwm, block.run), (daily.hwm, daily.run));
        }
        // The deepest day: 50 below a mark of 107; the longest run: the last block.
        assert_eq!(block.finish(), ((107.0 - 50.0) / 107.0, 16));
        // NaN, zero and negative days go day by day, with the same result.
        for odd in [f64::NAN, 0.0, -5.0, f64::INFINITY] {
            let mut days = rising;
            days[3] = odd;
            let (mut block, mut daily) = (DrawdownTracker::new(100.0), DrawdownTracker::new(100.0));
            block.block(&days);
            days.iter().for_each(|d| daily.step(*d));
            assert_eq!(
                block.finish().0.to_bits(),
                daily.finish().0.to_bits(),
                "{odd}"
            );
            assert_eq!(
                (block.hwm.to_bits(), block.run),
                (daily.hwm.to_bits(), daily.run)
            );
        }
    }

    #[test]
    fn runs_of_a_mask_are_the_runs_of_the_days() {
        // Every 16-bit mask, after a run of 0, 3 or 20 days: the same longest and current
        // runs as counting day by day.
        for carried in [0u64, 3, 20] {
            for mask in 0u32..1 << 16 {
                let mut tracker = DrawdownTracker::new(1.0);
                tracker.run = carried;
                tracker.runs(mask, 16);
                let (mut run, mut longest) = (carried, 0u64);
                for k in 0..16 {
                    if mask >> k & 1 == 1 {
                        run += 1;
                    } else {
                        longest = longest.max(run);
                        run = 0;
                    }
                }
                assert_eq!(tracker.run, run, "mask {mask:#x}");
                assert_eq!(tracker.finish().1, longest.max(run), "mask {mask:#x}");
            }
        }
    }

    #[test]
    fn threshold_never_hides_a_deeper_day() {
        // Days just around the current maximum drawdown's level: every one that rounds to a
        // larger drawdown is below the threshold.
        let mut x = 0x9e3779b97f4a7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let hwm = 1.0 + (x >> 11) as f64 / (1u64 << 53) as f64 * 1e6;
            let m = ((x >> 20) & 0xffff) as f64 / 65536.0;
            let base = hwm * (1.0 - m);
            for ulps in -3i64..=3 {
                let e = f64::from_bits((base.to_bits() as i64 + ulps) as u64);
                if e > 0.0 && e < hwm && (hwm - e) / hwm > m {
                    assert!(e < hwm * threshold_of(m), "hwm {hwm} m {m} e {e}");
                }
            }
        }
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
