//! `ma_cross`: a fast/slow moving-average crossover on one symbol. Long (weight 1) while the
//! fast average is above the slow one; otherwise flat (`long_only = true`) or short (weight
//! -1, `long_only = false`).
//!
//! The signal is checked after every day's close, whatever the configured rebalance
//! schedule, and the strategy trades only when it changes (orders fill at the next open);
//! between changes the position is left alone (no re-sizing). Averages are over the
//! simulated days from the start (holidays of the `weekdays` calendar repeat the last
//! close); the strategy is flat until `slow` (and `fast`) closes have been seen. `sma` is a
//! simple average (O(1) rolling sums); `ema` an exponential one with alpha = 2 / (n + 1),
//! seeded with the first close. `fast < slow` is not enforced here (sweep constraints do
//! that): with `fast > slow` the rule simply inverts.

use super::{bool_param, int_param, str_param, Setup, Strategy, StrategyInfo};
use crate::config::Rebalance;
use crate::data::CloseSums;
use crate::params::{ParamError, ParamSpec, Params};
use crate::simulator::BacktestError;

pub const INFO: StrategyInfo = StrategyInfo {
    name: "ma_cross",
    summary: "fast/slow moving-average crossover on one symbol, checked daily",
    declare_fn: declare,
    check_fn: check,
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
        "ema" => steps_of(&ema_signal(closes, fast, slow, long_only)),
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
    let mut steps = vec![(0, 0i8)];
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return Some(steps);
    };
    let warm = fast.max(slow);
    let len = closes.len() - first;
    if fast == 0 || slow == 0 {
        return None;
    }
    if len < warm {
        return Some(steps);
    }
    // Absolute day of the first finite close: every window starts there or later.
    let origin = start + first;
    if sums.nonfinite_end > origin || sums.prefix.len() < start + closes.len() + 1 {
        return None;
    }
    let tolerance = sma_tolerance(sums, fast, slow, len - warm);
    let (wf, ws) = (fast as f64, slow as f64);
    let below = if long_only { 0 } else { -1 };
    // Day i >= warm - 1 (counted from `origin`) averages the closes of days i + 1 - w ..= i.
    let tops = &sums.prefix[origin + warm..=origin + len];
    let fast_backs = &sums.prefix[origin + warm - fast..];
    let slow_backs = &sums.prefix[origin + warm - slow..];
    // Blocks of days: which have fast > slow, and whether every one is clear of the
    // tolerance (branch-free, so it vectorises); a block is looked at day by day only when
    // the position changes inside it (rare: a crossover).
    let mut current = 0i8;
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
        // The days whose position differs from the day before's: a bit that differs from
        // the one below it (bit -1: whether the position before the block is long). Before
        // the first day the position is 0, which is `below` only when long-only.
        let all = u32::MAX >> (32 - (to - from));
        let mut changes = (long ^ (long << 1 | u32::from(current == 1))) & all;
        if from == 0 && current != below && long & 1 == 0 {
            changes |= 1;
        }
        while changes != 0 {
            let k = changes.trailing_zeros() as usize;
            changes &= changes - 1;
            let s = if long >> k & 1 == 1 { 1 } else { below };
            current = s;
            let offset = first + warm - 1 + from + k;
            match steps.last_mut() {
                Some(last) if last.0 == offset => last.1 = s,
                _ => steps.push((offset, s)),
            }
        }
        from = to;
    }
    Some(steps)
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
}
