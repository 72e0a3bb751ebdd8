//! `ma_cross`: a fast/slow moving-average crossover on one symbol. Long (weight 1) while the
//! fast average is above the slow one; otherwise flat (`long_only = true`) or short (weight
//! -1, `long_only = false`).
//!
//! The signal is checked after every day's close, whatever the configured rebalance
//! schedule, and the strategy trades only when it changes (orders fill at the next open);
//! between changes the position is left alone (no re-sizing). Averages are over the
//! simulated days from the start (holidays of the `weekdays` calendar repeat the last
//! close); the strategy is flat until `slow` (and `fast`) closes have been seen, and a run
//! with no more days of prices than that could never trade: it is an error
//! ([`BacktestError::WarmUp`]), not a run without trades. `sma` is a
//! simple average (O(1) rolling sums); `ema` an exponential one with alpha = 2 / (n + 1),
//! seeded with the first close. `fast < slow` is not enforced here (sweep constraints do
//! that): with `fast > slow` the rule simply inverts.
//!
//! Both signals have a fast path ([`sma_steps`], [`ema_steps`]) whose decisions are the
//! plain computations' ([`sma_signal`], [`ema_signal`]) bit for bit: it decides a day only
//! when the two averages are further apart than the rounding errors of both computations,
//! and hands the whole run over to the plain one otherwise (a near tie).

use super::{bool_param, int_param, str_param, Setup, Strategy, StrategyInfo, WarmUp};
use crate::config::Rebalance;
use crate::data::CloseSums;
use crate::params::{ParamError, ParamSpec, Params};
use crate::simulator::BacktestError;

pub const INFO: StrategyInfo = StrategyInfo {
    name: "ma_cross",
    summary: "fast/slow moving-average crossover on one symbol, checked daily",
    declare_fn: declare,
    check_fn: check,
    warm_up_fn: warm_up,
    build_fn: build,
};

fn declare(_symbols: &[String]) -> Vec<ParamSpec> {
    vec![
        ParamSpec::int("fast", 50, 1, 2000, "fast moving-average window, in days"),
        ParamSpec::int("slow", 200, 1, 5000, "slow moving-average window, in days"),
        ParamSpec::choice(
            "kind",
            "sma",
            &["sma", "ema"],
            "simple or exponential moving averages",
        ),
        ParamSpec::boolean(
            "long_only",
            true,
            "flat when fast <= slow (true) or short (false)",
        ),
    ]
}

fn check(symbols: &[String], _resolved: &Params) -> Result<(), ParamError> {
    if symbols.len() != 1 {
        return Err(ParamError::Invalid(format!(
            "ma_cross trades exactly one symbol, got {} ({})",
            symbols.len(),
            symbols.join(", ")
        )));
    }
    Ok(())
}

/// The first signal comes with the `max(fast, slow)`-th close from the symbol's first price
/// in the run (the averages need that many closes).
fn warm_up(resolved: &Params) -> Result<Option<WarmUp>, ParamError> {
    let fast = int_param(resolved, "fast")?;
    let slow = int_param(resolved, "slow")?;
    let (param, window) = if slow >= fast {
        ("slow", slow)
    } else {
        ("fast", fast)
    };
    Ok(Some(WarmUp {
        param,
        days: usize::try_from(window).unwrap_or(usize::MAX),
        from_first_price_of: Some(0),
    }))
}

fn build<'a>(
    setup: &Setup<'a>,
    resolved: &Params,
) -> Result<Box<dyn Strategy + 'a>, BacktestError> {
    check(&setup.data.symbols, resolved)?;
    let fast = int_param(resolved, "fast")? as usize;
    let slow = int_param(resolved, "slow")? as usize;
    let kind = str_param(resolved, "kind")?;
    let long_only = bool_param(resolved, "long_only")?;
    let closes = &setup.data.close[0][setup.start..setup.end];
    let steps = match kind {
        "ema" => ema_steps(closes, fast, slow, long_only)
            .unwrap_or_else(|| steps_of(&ema_signal(closes, fast, slow, long_only))),
        _ => setup
            .data
            .close_sums(0)
            .and_then(|sums| sma_steps(sums, setup.start, closes, fast, slow, long_only))
            .unwrap_or_else(|| steps_of(&sma_signal(closes, fast, slow, long_only))),
    };
    Ok(Box::new(MaCross {
        start: setup.start,
        steps,
        current: 0,
        last: None,
    }))
}

/// The signal as steps: `(offset, position)` for its first day (offset 0) and for every
/// day on which it differs from the day before, offsets counted from the first day.
pub fn steps_of(signal: &[i8]) -> Vec<(usize, i8)> {
    let mut steps = Vec::new();
    let mut previous = None;
    for (offset, &s) in signal.iter().enumerate() {
        if previous != Some(s) {
            steps.push((offset, s));
            previous = Some(s);
        }
    }
    steps
}

/// [`sma_signal`]'s steps (see [`steps_of`]) from window sums taken as differences of the
/// data's running sums, without a loop-carried dependency. `closes` are
/// `sums`' closes from day `start` on.
///
/// The decisions are [`sma_signal`]'s, bit for bit: a day is decided here only when the
/// sign of `slow · sum_fast − fast · sum_slow` is certain both here and there (its
/// magnitude exceeds the rounding-error bounds of both computations). Returns `None` (use
/// [`sma_signal`]) on any day too close to call (a tie of the two averages), or when a
/// non-finite close falls inside the windows.
///
/// Where the CPU has AVX2, the blocks of days are scanned with it (four days per
/// instruction); the arithmetic is the same IEEE operations in the same order, so the steps
/// are the same.
pub fn sma_steps(
    sums: &CloseSums,
    start: usize,
    closes: &[f64],
    fast: usize,
    slow: usize,
    long_only: bool,
) -> Option<Vec<(usize, i8)>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `sma_steps_avx2` only requires the CPU to support AVX2, checked just above.
        return unsafe { sma_steps_avx2(sums, start, closes, fast, slow, long_only) };
    }
    sma_steps_body(sums, start, closes, fast, slow, long_only, scan_portable)
}

/// [`sma_steps`] compiled with AVX2 enabled, its blocks scanned by [`scan_avx2`] (inlined).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sma_steps_avx2(
    sums: &CloseSums,
    start: usize,
    closes: &[f64],
    fast: usize,
    slow: usize,
    long_only: bool,
) -> Option<Vec<(usize, i8)>> {
    // SAFETY: this function only runs where the CPU has AVX2.
    let scan = |w: &SmaWindows<'_>| unsafe { scan_avx2(w) };
    sma_steps_body(sums, start, closes, fast, slow, long_only, scan)
}

/// The body of [`sma_steps`], with `scan` for the blocks of days; inlined into each of its
/// compilations.
#[inline(always)]
fn sma_steps_body(
    sums: &CloseSums,
    start: usize,
    closes: &[f64],
    fast: usize,
    slow: usize,
    long_only: bool,
    scan: impl Fn(&SmaWindows<'_>) -> Option<u32>,
) -> Option<Vec<(usize, i8)>> {
    let mut steps = BlockSteps::new(long_only);
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return Some(steps.finish());
    };
    let warm = fast.max(slow);
    let len = closes.len() - first;
    if fast == 0 || slow == 0 {
        return None;
    }
    if len < warm {
        return Some(steps.finish());
    }
    // Absolute day of the first finite close: every window starts there or later.
    let origin = start + first;
    if sums.nonfinite_end > origin || sums.prefix.len() < start + closes.len() + 1 {
        return None;
    }
    let tolerance = sma_tolerance(sums, fast, slow, len - warm);
    let (wf, ws) = (fast as f64, slow as f64);
    // Day i >= warm - 1 (counted from `origin`) averages the closes of days i + 1 - w ..= i.
    let tops = &sums.prefix[origin + warm..=origin + len];
    let fast_backs = &sums.prefix[origin + warm - fast..];
    let slow_backs = &sums.prefix[origin + warm - slow..];
    // Blocks of days: which have fast > slow, and whether every one is clear of the
    // tolerance (branch-free, so it vectorises).
    let days = tops.len();
    let mut from = 0;
    while from < days {
        let to = (from + SMA_BLOCK).min(days);
        let windows = SmaWindows {
            tops: &tops[from..to],
            fast_backs: &fast_backs[from..to],
            slow_backs: &slow_backs[from..to],
            wf,
            ws,
            tolerance,
        };
        let long = scan(&windows)?;
        let all = u32::MAX >> (32 - (to - from));
        steps.push(long, all, first + warm - 1 + from);
        from = to;
    }
    Some(steps.finish())
}

/// A signal's steps (see [`steps_of`]) from blocks of day bits: each block says which of
/// its days are long (the others are flat, or short when not long-only), and the days
/// whose position differs from the day before's become steps. Before the first day pushed
/// the position is 0.
struct BlockSteps {
    steps: Vec<(usize, i8)>,
    /// The position of the last day pushed.
    current: i8,
    /// The position of a day that is not long: 0 (long-only) or -1.
    below: i8,
    /// Whether a day has been pushed.
    started: bool,
}

impl BlockSteps {
    fn new(long_only: bool) -> BlockSteps {
        BlockSteps {
            steps: vec![(0, 0)],
            current: 0,
            below: if long_only { 0 } else { -1 },
            started: false,
        }
    }

    /// A block whose bit k is day `offset + k`: `long` its long days, `valid` the days that
    /// count (consecutive bits; the days before the lowest are not decided yet).
    #[inline(always)]
    fn push(&mut self, long: u32, valid: u32, offset: usize) {
        let long = long & valid;
        let lowest = valid & valid.wrapping_neg();
        // The days whose position differs from the day before's: a bit that differs from
        // the one below it (below bit 0: whether the position before the block is long; an
        // undecided day reads as not long).
        let mut changes = (long ^ (long << 1 | u32::from(self.current == 1))) & valid;
        if !self.started && lowest != 0 {
            self.started = true;
            // The position before the first day is 0, which is `below` only when
            // long-only: a first day that is not long changes it otherwise.
            if self.below != 0 && long & lowest == 0 {
                changes |= lowest;
            }
        }
        while changes != 0 {
            let k = changes.trailing_zeros() as usize;
            changes &= changes - 1;
            let s = if long >> k & 1 == 1 { 1 } else { self.below };
            self.current = s;
            match self.steps.last_mut() {
                Some(last) if last.0 == offset + k => last.1 = s,
                _ => self.steps.push((offset + k, s)),
            }
        }
    }

    fn finish(self) -> Vec<(usize, i8)> {
        self.steps
    }
}

/// Days per block of [`sma_steps`] (at most 32: a block's days are the bits of a `u32`).
const SMA_BLOCK: usize = 32;

/// The running-sum windows of up to [`SMA_BLOCK`] days, and the weights and tolerance of
/// `d = slow · (top − fast_back) − fast · (top − slow_back)` (the two window sums).
struct SmaWindows<'a> {
    tops: &'a [f64],
    fast_backs: &'a [f64],
    slow_backs: &'a [f64],
    wf: f64,
    ws: f64,
    tolerance: f64,
}

/// Bit k set when day k of the block has `d > 0`; `None` when a day's |d| is not above the
/// tolerance (or d is NaN).
#[inline(always)]
fn scan_portable(w: &SmaWindows<'_>) -> Option<u32> {
    let (mut long, mut clear) = (0u32, true);
    for (k, ((&top, &fast_back), &slow_back)) in w
        .tops
        .iter()
        .zip(w.fast_backs)
        .zip(w.slow_backs)
        .enumerate()
    {
        let d = w.ws * (top - fast_back) - w.wf * (top - slow_back);
        long |= u32::from(d > 0.0) << k;
        // (Also false for NaN.)
        clear &= d.abs() > w.tolerance;
    }
    clear.then_some(long)
}

/// [`scan_portable`]'s result in AVX2 instructions, four days to a register, the same
/// operations in the same order (so the same bits); a partial block goes portable.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(w: &SmaWindows<'_>) -> Option<u32> {
    use std::arch::x86_64::*;
    let len = w.tops.len();
    if len != SMA_BLOCK || w.fast_backs.len() < len || w.slow_backs.len() < len {
        return scan_portable(w);
    }
    let (ws, wf) = (_mm256_set1_pd(w.ws), _mm256_set1_pd(w.wf));
    let tolerance = _mm256_set1_pd(w.tolerance);
    let zero = _mm256_setzero_pd();
    let sign = _mm256_set1_pd(-0.0);
    let (mut long, mut unclear) = (0u32, 0i32);
    for g in 0..SMA_BLOCK / 4 {
        // SAFETY: the three slices hold SMA_BLOCK values (checked above); group g reads
        // values 4g .. 4g + 4.
        let (top, fast_back, slow_back) = unsafe {
            (
                _mm256_loadu_pd(w.tops.as_ptr().add(4 * g)),
                _mm256_loadu_pd(w.fast_backs.as_ptr().add(4 * g)),
                _mm256_loadu_pd(w.slow_backs.as_ptr().add(4 * g)),
            )
        };
        let d = _mm256_sub_pd(
            _mm256_mul_pd(ws, _mm256_sub_pd(top, fast_back)),
            _mm256_mul_pd(wf, _mm256_sub_pd(top, slow_back)),
        );
        long |= (_mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(d, zero)) as u32) << (4 * g);
        // Not greater (unordered included: NaN) than the tolerance.
        let abs = _mm256_andnot_pd(sign, d);
        unclear |= _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_NGT_UQ>(abs, tolerance));
    }
    (unclear == 0).then_some(long)
}

/// A bound on |d − exact| plus the margin within which [`sma_signal`]'s decision may differ
/// from the exact one, for `d = slow · sum_fast − fast · sum_slow` from running sums
/// (`rolls` days after the warm-up). Beyond it both agree with the exact sign.
fn sma_tolerance(sums: &CloseSums, fast: usize, slow: usize, rolls: usize) -> f64 {
    let u = f64::EPSILON / 2.0;
    let m = sums.max_abs;
    let (wf, ws) = (fast as f64, slow as f64);
    // sma_signal: a warm-up sum of w closes errs by at most (w - 1)·u·w·M; each rolling
    // day adds at most u·(2M) (the difference) + u·(w·M) (the sum). Its average (times a
    // rounded 1/w) errs by that / w plus 2u·M.
    let average_error = |w: f64| {
        let sum_error = u * m * ((w - 1.0) * w + rolls as f64 * (w + 2.0));
        sum_error / w + 2.0 * u * m
    };
    let theirs = wf * ws * (average_error(wf) + average_error(ws));
    // Here: each window sum errs by 2·error_bound + u·|sum|, the two products and the
    // difference by u each.
    let ours = 2.0 * sums.error_bound * (wf + ws) + 6.0 * u * wf * ws * m;
    // Twice the sum, for the (tiny) errors of these bounds themselves.
    2.0 * (theirs + ours)
}

/// [`ema_signal`]'s steps (see [`steps_of`]) from a block recurrence that breaks its per-day
/// dependency chain: with `b = 1 − a`, the EMA four days on is
/// `y(t+k) = b^k·y(t) + Σ_{j=1..k} a·b^(k−j)·c(t+j)` (k = 1..4), so a group of four days
/// needs only the EMA before it (one multiply and one add per four days on the chain) and
/// its four outputs come from precomputed coefficients (`EmaCoefficients`).
///
/// The decisions are [`ema_signal`]'s, bit for bit: a day is decided here only when
/// `fast − slow` (the two EMAs computed here) exceeds in magnitude the rounding-error bounds
/// of both computations ([`ema_error_bound`], combined in `ema_tolerance`), so that
/// [`ema_signal`]'s comparison has the same sign. Returns `None` (use [`ema_signal`]) on any
/// day too close to call, when `fast == slow` (a tie on every day), when a window is 0, or
/// when a close after the first finite one is not finite.
///
/// Where the CPU has AVX2, the blocks of days are scanned with it (four days per
/// instruction); the arithmetic is the same IEEE operations in the same order (separate
/// multiplies and adds, never fused), so the steps are the same on every target.
pub fn ema_steps(
    closes: &[f64],
    fast: usize,
    slow: usize,
    long_only: bool,
) -> Option<Vec<(usize, i8)>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `ema_steps_avx2` only requires the CPU to support AVX2, checked just above.
        return unsafe { ema_steps_avx2(closes, fast, slow, long_only) };
    }
    ema_steps_body(closes, fast, slow, long_only, ema_scan_portable)
}

/// [`ema_steps`] compiled with AVX2 enabled, its blocks scanned by [`ema_scan_avx2`]
/// (inlined).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn ema_steps_avx2(
    closes: &[f64],
    fast: usize,
    slow: usize,
    long_only: bool,
) -> Option<Vec<(usize, i8)>> {
    // SAFETY: this function only runs where the CPU has AVX2.
    let scan = |w: &EmaBlock<'_>, y: &mut [f64; 2]| unsafe { ema_scan_avx2(w, y) };
    ema_steps_body(closes, fast, slow, long_only, scan)
}

/// The body of [`ema_steps`], with `scan` for the blocks of days; inlined into each of its
/// compilations.
#[inline(always)]
fn ema_steps_body(
    closes: &[f64],
    fast: usize,
    slow: usize,
    long_only: bool,
    // (long, short) day bits of a block, see `ema_scan_portable`.
    scan: impl Fn(&EmaBlock<'_>, &mut [f64; 2]) -> (u32, u32),
) -> Option<Vec<(usize, i8)>> {
    let mut steps = BlockSteps::new(long_only);
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return Some(steps.finish());
    };
    if fast == 0 || slow == 0 || fast == slow {
        return None;
    }
    let closes = &closes[first..];
    let max_abs = finite_max_abs(closes)?;
    let warm = fast.max(slow);
    if closes.len() < warm {
        return Some(steps.finish());
    }
    let tolerance = ema_tolerance(fast, slow, max_abs)?;
    let (fast_coefficients, slow_coefficients) =
        (EmaCoefficients::new(fast), EmaCoefficients::new(slow));
    // Day 0 (counted from the first finite close) is the seed of both EMAs, exactly as in
    // `ema_signal` (whose first update adds a·0); the blocks start on day 1, and the first
    // day decided is `warm − 1 >= 1` (fast != slow).
    let decided_from = warm - 1;
    let mut y = [closes[0]; 2];
    for (b, days) in closes[1..].chunks(EMA_BLOCK).enumerate() {
        let block = EmaBlock {
            closes: days,
            fast: &fast_coefficients,
            slow: &slow_coefficients,
            tolerance,
        };
        let (long, short) = scan(&block, &mut y);
        // Bit k is day `base + k`; only the days from `decided_from` on count.
        let base = 1 + b * EMA_BLOCK;
        let lo = decided_from.saturating_sub(base);
        if lo >= days.len() {
            continue;
        }
        let valid = (u32::MAX >> (EMA_BLOCK - days.len())) & (u32::MAX << lo);
        if !(long | short) & valid != 0 {
            return None;
        }
        steps.push(long, valid, first + base);
    }
    Some(steps.finish())
}

/// The largest |close| of `closes`, or `None` when one of them is not finite.
fn finite_max_abs(closes: &[f64]) -> Option<f64> {
    // On the bits of |close| (an integer maximum, which vectorises): as i64 they are
    // non-negative and order non-negative floats as their values, and ±inf and NaN are
    // above every finite one.
    let bits = closes
        .iter()
        .fold(0i64, |m, c| m.max((c.to_bits() & !(1u64 << 63)) as i64));
    let max_abs = f64::from_bits(bits as u64);
    max_abs.is_finite().then_some(max_abs)
}

/// Days per group of the block recurrence (the lanes of an AVX2 register).
const EMA_GROUP: usize = 4;

/// Days per block of [`ema_steps`] (at most 32: a block's days are the bits of a `u32`).
const EMA_BLOCK: usize = 32;

/// The coefficients of [`ema_steps`]' block recurrence for one window `n`, with `a` exactly
/// [`ema_signal`]'s `2 / (n + 1)` and `b = 1 − a` (rounded): day k (0..4) of a group is
/// `(w[0][k]·c0 + w[1][k]·c1) + (w[2][k]·c2 + w[3][k]·c3) + carry[k]·y`, in that order, where
/// `c0..c3` are the group's closes and `y` is the EMA of the day before the group.
#[derive(Clone, Copy, Debug)]
struct EmaCoefficients {
    /// `carry[k] = b^(k+1)`: the weight of the EMA before the group.
    carry: [f64; EMA_GROUP],
    /// `w[j][k] = a·b^(k−j)` for `j <= k`, 0 otherwise: the weight of close j on day k.
    w: [[f64; EMA_GROUP]; EMA_GROUP],
}

impl EmaCoefficients {
    fn new(window: usize) -> EmaCoefficients {
        let a = 2.0 / (window as f64 + 1.0);
        let b = 1.0 - a;
        let b2 = b * b;
        let powers = [1.0, b, b2, b2 * b, b2 * b2];
        let mut w = [[0.0; EMA_GROUP]; EMA_GROUP];
        for (j, row) in w.iter_mut().enumerate() {
            for (k, weight) in row.iter_mut().enumerate().skip(j) {
                *weight = a * powers[k - j];
            }
        }
        EmaCoefficients {
            carry: [b, b2, powers[3], powers[4]],
            w,
        }
    }

    /// The EMAs of a group's four days from its closes `c` and the EMA `y` before it.
    #[inline(always)]
    fn group(&self, y: f64, c: &[f64; EMA_GROUP]) -> [f64; EMA_GROUP] {
        let w = &self.w;
        std::array::from_fn(|k| {
            let left = w[0][k] * c[0] + w[1][k] * c[1];
            let right = w[2][k] * c[2] + w[3][k] * c[3];
            (left + right) + self.carry[k] * y
        })
    }
}

/// Up to [`EMA_BLOCK`] consecutive closes, the coefficients of the two EMAs, and the
/// tolerance on their difference.
struct EmaBlock<'a> {
    closes: &'a [f64],
    fast: &'a EmaCoefficients,
    slow: &'a EmaCoefficients,
    tolerance: f64,
}

/// Advances `y` (the fast and the slow EMA of the day before the block) over the block's
/// days and returns two bit masks, bit k for day k: `fast − slow > tolerance` (clearly
/// long) and `fast − slow < −tolerance` (clearly not); a day in neither (or NaN) is too
/// close to call. A partial last group is padded with its last close (the caller ignores
/// the padded days, and `y` is not used after them).
#[inline(always)]
fn ema_scan_portable(w: &EmaBlock<'_>, y: &mut [f64; 2]) -> (u32, u32) {
    let (mut long, mut short) = (0u32, 0u32);
    for (g, group) in w.closes.chunks(EMA_GROUP).enumerate() {
        let pad = group.last().copied().unwrap_or(0.0);
        let c: [f64; EMA_GROUP] = std::array::from_fn(|j| group.get(j).copied().unwrap_or(pad));
        let fast = w.fast.group(y[0], &c);
        let slow = w.slow.group(y[1], &c);
        *y = [fast[EMA_GROUP - 1], slow[EMA_GROUP - 1]];
        for k in 0..EMA_GROUP {
            let d = fast[k] - slow[k];
            let bit = EMA_GROUP * g + k;
            // (Both false for NaN.)
            long |= u32::from(d > w.tolerance) << bit;
            short |= u32::from(d < -w.tolerance) << bit;
        }
    }
    (long, short)
}

/// [`ema_scan_portable`]'s result in AVX2 instructions, a group of four days to a register,
/// the same operations in the same order (so the same bits and EMAs); a partial block goes
/// portable. The EMA carried from group to group (day 3's) is also computed on its own, in
/// scalar registers, with the same two operations, so that the dependency chain is just
/// that multiply and add.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn ema_scan_avx2(w: &EmaBlock<'_>, y: &mut [f64; 2]) -> (u32, u32) {
    use std::arch::x86_64::*;
    let Ok(closes) = <&[f64; EMA_BLOCK]>::try_from(w.closes) else {
        return ema_scan_portable(w, y);
    };
    /// The four weight columns and the carry of one EMA, as registers (lane k = day k).
    struct Lanes {
        w: [__m256d; EMA_GROUP],
        carry: __m256d,
        last_carry: f64,
    }
    let lanes = |e: &EmaCoefficients| Lanes {
        // SAFETY (both loads): each row holds four f64.
        w: e.w.map(|row| unsafe { _mm256_loadu_pd(row.as_ptr()) }),
        carry: unsafe { _mm256_loadu_pd(e.carry.as_ptr()) },
        last_carry: e.carry[EMA_GROUP - 1],
    };
    let (fast, slow) = (lanes(w.fast), lanes(w.slow));
    // A group's EMAs: (w0·c0 + w1·c1) + (w2·c2 + w3·c3) (the closes' part, returned too),
    // then + carry·y.
    let group = |e: &Lanes, c: &[__m256d; EMA_GROUP], y: f64| {
        let part = _mm256_add_pd(
            _mm256_add_pd(_mm256_mul_pd(e.w[0], c[0]), _mm256_mul_pd(e.w[1], c[1])),
            _mm256_add_pd(_mm256_mul_pd(e.w[2], c[2]), _mm256_mul_pd(e.w[3], c[3])),
        );
        let ema = _mm256_add_pd(part, _mm256_mul_pd(e.carry, _mm256_set1_pd(y)));
        // Day 3's EMA again (lane 3 of `ema`), on the short chain: part's lane 3 does not
        // wait for y.
        let part_last = _mm256_cvtsd_f64(_mm256_permute4x64_pd::<0xFF>(part));
        (ema, part_last + e.last_carry * y)
    };
    let (above, below) = (_mm256_set1_pd(w.tolerance), _mm256_set1_pd(-w.tolerance));
    let [mut y_fast, mut y_slow] = *y;
    let (mut long, mut short) = (0u32, 0u32);
    for g in 0..EMA_BLOCK / EMA_GROUP {
        let c: [__m256d; EMA_GROUP] =
            std::array::from_fn(|j| _mm256_set1_pd(closes[EMA_GROUP * g + j]));
        let (ema_fast, next_fast) = group(&fast, &c, y_fast);
        let (ema_slow, next_slow) = group(&slow, &c, y_slow);
        (y_fast, y_slow) = (next_fast, next_slow);
        let d = _mm256_sub_pd(ema_fast, ema_slow);
        let bit = EMA_GROUP * g;
        // (Ordered comparisons: both false for NaN.)
        let is_long = _mm256_cmp_pd::<_CMP_GT_OQ>(d, above);
        let is_short = _mm256_cmp_pd::<_CMP_LT_OQ>(d, below);
        long |= (_mm256_movemask_pd(is_long) as u32) << bit;
        short |= (_mm256_movemask_pd(is_short) as u32) << bit;
    }
    *y = [y_fast, y_slow];
    (long, short)
}

/// The fast path's EMA with window `window` for every day from the first finite close on
/// (the days before it are NaN): [`ema_steps`]' block recurrence, the same operations, for
/// checking it against the plain recursion. `None` when `window` is 0 or a close after the
/// first finite one is not finite.
pub fn ema_block_values(closes: &[f64], window: usize) -> Option<Vec<f64>> {
    let mut values = vec![f64::NAN; closes.len()];
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return Some(values);
    };
    let closes = &closes[first..];
    if window == 0 {
        return None;
    }
    finite_max_abs(closes)?;
    let coefficients = EmaCoefficients::new(window);
    let out = &mut values[first..];
    let mut y = closes[0];
    out[0] = y;
    for (days, out) in closes[1..]
        .chunks(EMA_GROUP)
        .zip(out[1..].chunks_mut(EMA_GROUP))
    {
        let pad = days.last().copied().unwrap_or(0.0);
        let c: [f64; EMA_GROUP] = std::array::from_fn(|j| days.get(j).copied().unwrap_or(pad));
        let group = coefficients.group(y, &c);
        y = group[EMA_GROUP - 1];
        out.copy_from_slice(&group[..out.len()]);
    }
    Some(values)
}

/// Bounds on the rounding errors of the two EMA computations with one window, both measured
/// against the real-number recursion `Y(i) = Y(i−1) + a·(c(i) − Y(i−1))` with the same
/// rounded `a` and seed (see [`ema_error_bound`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmaErrorBound {
    /// |[`ema_signal`]'s EMA − Y| on every day.
    pub recursion: f64,
    /// |[`ema_steps`]' (and [`ema_block_values`]') EMA − Y| on every day.
    pub block: f64,
}

/// The rounding-error bounds of the EMA with window `window` (`a = fl(2 / (window + 1))`,
/// `b = 1 − a`, real) over finite closes of magnitude at most `max_abs` = M; u = 2^-53.
/// Both computations start from the same seed Y(0) = c(0) exactly. The bounds are generous
/// (a near tie just falls back to [`ema_signal`]); `+ f64::MIN_POSITIVE` terms cover
/// underflow, which makes absolute rather than relative errors (at most 2^-1075 each).
///
/// Y(i) is a convex combination of closes (weights `b^i` for the seed and `a·b^(i−j)` for
/// close j: non-negative, summing to 1), so |Y| <= M. Both computed EMAs stay within their
/// bound of it (by induction over the days), and `ema_tolerance` only uses bounds under
/// 10^-6·M, so every |EMA| below is at most M' = M·(1 + 10^-6).
///
/// * [`ema_signal`] (`e += a·(c − e)`): `c − e` (|·| <= 2M') and its product with a
///   together err by at most a·2M'·(2u + u²) <= 4.1·a·u·M'; the sum (|·| <= M'(1 + 5u))
///   by u·M'(1 + 5u). A local error of at most L = 5.2·u·M' <= 8·u·M per day (a <= 1).
///   The computed e(i) = b·e(i−1) + a·c(i) + η(i) with |η(i)| <= L, so the error obeys
///   err(i) = b·err(i−1) + η(i), err(0) = 0: damped by b = 1 − a per day, it never exceeds
///   L·Σ b^i = L / a. Bound: `recursion = (8·u·M + MIN_POSITIVE) / a`.
/// * The block recurrence (`EmaCoefficients`): the coefficients first. `fl(1 − a)` errs
///   by at most u, and a product of two numbers in [0, 1] errs by at most the sum of their
///   errors plus u, so b², b³ (= b²·b) and b⁴ (= b²·b²) err by at most 3u, 5u and 7u, and
///   `a·b^m` by at most 8u. A group's output for day k is a sum of five products (zeros
///   included, which are exact) of weights and values of magnitude <= M', so the
///   coefficients contribute at most 5·8u·M'. Each term is then rounded at most four times
///   (its product and up to three additions): at most γ4 <= 4.01u times the sum of the
///   terms' magnitudes, M'·(1 + 40u) (the exact weights sum to 1). The local error per
///   output, given the EMA carried in, is therefore at most η = 44.1·u·M' <= 64·u·M.
///   Carried from group to group, the real map takes an error e to b⁴·e, so the carried
///   EMA errs by at most η / (1 − b⁴) <= η / a (as 1 − b⁴ >= 1 − b for 0 <= b < 1), and a
///   day inside a group by at most that plus η. Bound:
///   `block = (64·u·M + MIN_POSITIVE)·(1 + 1 / a)`.
pub fn ema_error_bound(window: usize, max_abs: f64) -> EmaErrorBound {
    let u = f64::EPSILON / 2.0;
    let a = 2.0 / (window as f64 + 1.0);
    EmaErrorBound {
        recursion: (8.0 * u * max_abs + f64::MIN_POSITIVE) / a,
        block: (64.0 * u * max_abs + f64::MIN_POSITIVE) * (1.0 + 1.0 / a),
    }
}

/// The margin on `d = fast − slow` (the EMAs of [`ema_steps`], the difference rounded)
/// beyond which [`ema_signal`]'s `fast > slow` has the sign of d; `None` when the bounds
/// are too loose for [`ema_error_bound`]'s derivation (above 10^-6·M: windows in the
/// trillions) or M is too large for `c − e` to be safe from overflow.
///
/// With F and R the block and recursion bounds of each EMA ([`ema_error_bound`]), both
/// computed EMAs lie within F + R of each other, so the two differences (here and in
/// [`ema_signal`]) differ by at most `F_fast + R_fast + F_slow + R_slow`; the subtraction
/// here adds at most u·|fast − slow| <= 2u·M'. The tolerance is twice the sum of all that,
/// which also covers the rounding of this computation itself: a |d| above it has the exact
/// comparison's sign (and the exact EMAs cannot be equal).
fn ema_tolerance(fast: usize, slow: usize, max_abs: f64) -> Option<f64> {
    if max_abs > 1e300 {
        return None;
    }
    let u = f64::EPSILON / 2.0;
    let (f, s) = (
        ema_error_bound(fast, max_abs),
        ema_error_bound(slow, max_abs),
    );
    let loosest = (f.block + f.recursion).max(s.block + s.recursion);
    if loosest > 1e-6 * max_abs {
        return None;
    }
    let subtraction = 2.0 * u * max_abs;
    Some(2.0 * (f.block + f.recursion + s.block + s.recursion + subtraction))
}

fn position(fast: f64, slow: f64, long_only: bool) -> i8 {
    if fast > slow {
        1
    } else if long_only {
        0
    } else {
        -1
    }
}

/// The target position (-1, 0, 1) after each close, from simple moving averages.
pub fn sma_signal(closes: &[f64], fast: usize, slow: usize, long_only: bool) -> Vec<i8> {
    let mut signal = vec![0i8; closes.len()];
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return signal;
    };
    let closes = &closes[first..];
    let out = &mut signal[first..];
    let warm = fast.max(slow);
    let (inv_fast, inv_slow) = (1.0 / fast as f64, 1.0 / slow as f64);
    // Warm-up: plain sums of the first `fast` / `slow` closes.
    let (mut sum_fast, mut sum_slow) = (0.0, 0.0);
    for (i, &c) in closes.iter().enumerate().take(warm) {
        if i + fast >= warm {
            sum_fast += c;
        }
        if i + slow >= warm {
            sum_slow += c;
        }
    }
    if closes.len() < warm {
        return signal;
    }
    out[warm - 1] = position(sum_fast * inv_fast, sum_slow * inv_slow, long_only);
    // Then O(1) per day, without branches: one dependent add per sum and day.
    for i in warm..closes.len() {
        let c = closes[i];
        sum_fast += c - closes[i - fast];
        sum_slow += c - closes[i - slow];
        out[i] = position(sum_fast * inv_fast, sum_slow * inv_slow, long_only);
    }
    signal
}

/// The target position (-1, 0, 1) after each close, from exponential moving averages.
pub fn ema_signal(closes: &[f64], fast: usize, slow: usize, long_only: bool) -> Vec<i8> {
    let mut signal = vec![0i8; closes.len()];
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return signal;
    };
    let closes = &closes[first..];
    let out = &mut signal[first..];
    let warm = fast.max(slow);
    let (a_fast, a_slow) = (2.0 / (fast as f64 + 1.0), 2.0 / (slow as f64 + 1.0));
    let (mut ema_fast, mut ema_slow) = (closes[0], closes[0]);
    for (i, &c) in closes.iter().enumerate() {
        ema_fast += a_fast * (c - ema_fast);
        ema_slow += a_slow * (c - ema_slow);
        if i + 1 >= warm {
            out[i] = position(ema_fast, ema_slow, long_only);
        }
    }
    signal
}

/// Follows the precomputed signal steps; trades on changes.
#[derive(Debug)]
pub struct MaCross {
    /// First simulated day: step offsets count from here.
    start: usize,
    /// The signal's steps (see [`steps_of`]), never empty.
    steps: Vec<(usize, i8)>,
    /// Index of the step in force on the last day asked.
    current: usize,
    last: Option<i8>,
}

impl MaCross {
    /// The signal on `day` (days are asked in increasing order).
    fn signal(&mut self, day: usize) -> i8 {
        let offset = day - self.start;
        while self
            .steps
            .get(self.current + 1)
            .is_some_and(|s| s.0 <= offset)
        {
            self.current += 1;
        }
        self.steps.get(self.current).map_or(0, |s| s.1)
    }
}

impl Strategy for MaCross {
    fn decide(&mut self, day: usize, weights: &mut [f64]) -> bool {
        let s = self.signal(day);
        if self.last == Some(s) {
            return false;
        }
        self.last = Some(s);
        weights[0] = f64::from(s);
        true
    }

    fn schedule(&self, _configured: Rebalance) -> Rebalance {
        Rebalance::Daily
    }

    fn next_change(&self, day: usize) -> usize {
        let Some(last) = self.last else {
            return day;
        };
        let offset = day.saturating_sub(self.start);
        // The step in force on `day`, and the first one after it (consecutive steps differ).
        let after = self.steps.partition_point(|s| s.0 <= offset);
        let in_force = after.checked_sub(1).map_or(0, |k| self.steps[k].1);
        if in_force != last {
            return day;
        }
        self.steps
            .get(after)
            .map_or(usize::MAX, |s| self.start + s.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sma_signal_by_hand() {
        // closes 1 2 3 2 1 0.5; fast 2, slow 3.
        // day 2: fast (2+3)/2 = 2.5, slow (1+2+3)/3 = 2 -> long
        // day 3: fast 2.5, slow 7/3 = 2.33 -> long
        // day 4: fast 1.5, slow 2 -> flat / short
        // day 5: fast 0.75, slow 3.5/3 = 1.17 -> flat / short
        let closes = [1.0, 2.0, 3.0, 2.0, 1.0, 0.5];
        assert_eq!(sma_signal(&closes, 2, 3, true), [0, 0, 1, 1, 0, 0]);
        assert_eq!(sma_signal(&closes, 2, 3, false), [0, 0, 1, 1, -1, -1]);
    }

    #[test]
    fn sma_signal_skips_leading_nan() {
        let closes = [f64::NAN, 1.0, 2.0, 3.0];
        // from index 1: fast 1, slow 2: day 2: 2 > 1.5 long; day 3: 3 > 2.5 long.
        assert_eq!(sma_signal(&closes, 1, 2, true), [0, 0, 1, 1]);
    }

    #[test]
    fn ema_signal_by_hand() {
        // fast 1 (alpha 1: the close itself), slow 3 (alpha 0.5), seeded with 4:
        // day 0: slow 4; day 1: close 2, slow 3; day 2: close 1, slow 2 -> 1 < 2 short;
        // day 3: close 6, slow 4 -> long.
        let closes = [4.0, 2.0, 1.0, 6.0];
        assert_eq!(ema_signal(&closes, 1, 3, false), [0, 0, -1, 1]);
    }

    /// A deterministic random walk of closes (xorshift).
    fn walk(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed | 1;
        let mut c = 100.0;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c *= 1.0 + ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.03;
                c
            })
            .collect()
    }

    #[test]
    fn dispatched_and_portable_scans_give_the_same_steps() {
        for (n, seed, fast, slow, long_only) in [
            (8041, 1, 50, 200, true),
            (3000, 2, 5, 20, false),
            (1000, 3, 10, 10, true),
            (777, 4, 30, 7, false),
        ] {
            let closes = walk(n, seed);
            let sums = CloseSums::new(&closes);
            for start in [0, 13] {
                let part = &closes[start..];
                let dispatched = sma_steps(&sums, start, part, fast, slow, long_only);
                let portable =
                    sma_steps_body(&sums, start, part, fast, slow, long_only, scan_portable);
                assert_eq!(dispatched, portable, "{n} {fast}/{slow} from {start}");
                if fast != slow {
                    let plain = steps_of(&sma_signal(part, fast, slow, long_only));
                    assert_eq!(dispatched.as_ref(), Some(&plain), "{n} {fast}/{slow}");
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_scan_equals_the_portable_scan() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let values = walk(3 * SMA_BLOCK, 9);
        let (tops, rest) = values.split_at(SMA_BLOCK);
        let (fast_backs, slow_backs) = rest.split_at(SMA_BLOCK);
        let mut tops = tops.to_vec();
        for tolerance in [0.0, 1.0, 50.0, 1e9] {
            for poison in [None, Some(f64::NAN), Some(f64::INFINITY)] {
                if let Some(p) = poison {
                    tops[17] = p;
                }
                let w = SmaWindows {
                    tops: &tops,
                    fast_backs,
                    slow_backs,
                    wf: 3.0,
                    ws: 11.0,
                    tolerance,
                };
                // SAFETY: AVX2 is checked above.
                let avx2 = unsafe { scan_avx2(&w) };
                assert_eq!(avx2, scan_portable(&w), "tolerance {tolerance} {poison:?}");
            }
        }
    }

    #[test]
    fn ema_steps_by_hand() {
        // fast 1 (alpha 1: the close itself), slow 3 (alpha 0.5), as in `ema_signal_by_hand`:
        // short from day 2, long on day 3.
        let closes = [4.0, 2.0, 1.0, 6.0];
        assert_eq!(
            ema_steps(&closes, 1, 3, false),
            Some(vec![(0, 0), (2, -1), (3, 1)])
        );
        assert_eq!(ema_steps(&closes, 1, 3, true), Some(vec![(0, 0), (3, 1)]));
    }

    #[test]
    fn dispatched_and_portable_ema_steps_agree_with_ema_signal() {
        for (n, seed, fast, slow, long_only) in [
            (8041, 1, 50, 200, true),
            (3000, 2, 5, 20, false),
            (1000, 3, 1, 10, true),
            (777, 4, 30, 7, false),
            (100, 5, 2, 3, false),
        ] {
            let closes = walk(n, seed);
            for start in [0, 1, 2, 3, 13] {
                let part = &closes[start..];
                let dispatched = ema_steps(part, fast, slow, long_only);
                let portable = ema_steps_body(part, fast, slow, long_only, ema_scan_portable);
                assert_eq!(dispatched, portable, "{n} {fast}/{slow} from {start}");
                let plain = steps_of(&ema_signal(part, fast, slow, long_only));
                assert_eq!(dispatched.as_ref(), Some(&plain), "{n} {fast}/{slow}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_ema_scan_equals_the_portable_scan() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut closes = walk(EMA_BLOCK, 11);
        let (fast, slow) = (EmaCoefficients::new(3), EmaCoefficients::new(8));
        for tolerance in [0.0, 1e-3, 0.5, 2.0, 1e9] {
            for poison in [None, Some(f64::NAN), Some(f64::INFINITY)] {
                if let Some(p) = poison {
                    closes[21] = p;
                }
                for start in [[100.0, 100.0], [90.0, 110.0], [110.0, 90.0]] {
                    let w = EmaBlock {
                        closes: &closes,
                        fast: &fast,
                        slow: &slow,
                        tolerance,
                    };
                    let (mut y_avx2, mut y_portable) = (start, start);
                    // SAFETY: AVX2 is checked above.
                    let avx2 = unsafe { ema_scan_avx2(&w, &mut y_avx2) };
                    let portable = ema_scan_portable(&w, &mut y_portable);
                    let what = format!("tolerance {tolerance} {poison:?} from {start:?}");
                    assert_eq!(avx2, portable, "{what}");
                    assert_eq!(
                        y_avx2.map(f64::to_bits),
                        y_portable.map(f64::to_bits),
                        "{what}"
                    );
                    if poison.is_none() && tolerance == 0.0 {
                        // Every day called (no exact ties in a random walk).
                        assert_eq!(avx2.0 | avx2.1, u32::MAX, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn ema_block_values_are_the_block_recurrence() {
        // Window 1 (a = 1, b = 0): the block recurrence gives the closes themselves.
        let closes = walk(50, 6);
        assert_eq!(ema_block_values(&closes, 1), Some(closes.clone()));
        // Window 3 (a = b = 1/2: every value exact in binary), by hand from the seed 4.
        let closes = [4.0, 2.0, 0.0, 6.0, 6.0, 6.0];
        assert_eq!(
            ema_block_values(&closes, 3),
            Some(vec![4.0, 3.0, 1.5, 3.75, 4.875, 5.4375])
        );
    }
}
