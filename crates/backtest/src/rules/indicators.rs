//! The indicators of the rules language over one symbol's whole series at once (one pass
//! each, O(days)): `lag`, `ret`, `sma`, `ema`, `std`, `highest`, `lowest`, `rsi`, `atr`,
//! `zscore`, `crossover`, `crossunder`, and `rank` across symbols.
//!
//! Every function writes `out[i]` from the values of days `..= i` only: nothing can look
//! ahead. Undefined values are NaN. A window needs that many days of defined values ending
//! today: a NaN (before a symbol's first price, or an undefined value of a computed series)
//! makes every window containing it undefined, and rolling state (sums, EMAs, Wilder's
//! averages) starts over after it, as on a symbol's first day.

use std::collections::VecDeque;

const NAN: f64 = f64::NAN;

/// `x` `n` days before today.
pub(crate) fn lag(x: &[f64], n: usize, out: &mut [f64]) {
    let n = n.min(x.len());
    out[..n].fill(NAN);
    out[n..].copy_from_slice(&x[..x.len() - n]);
}

/// The return over `n` days, `x / lag(x, n) - 1` (undefined where that is not finite).
pub(crate) fn ret(x: &[f64], n: usize, out: &mut [f64]) {
    let n = n.min(x.len());
    out[..n].fill(NAN);
    for ((o, now), then) in out[n..].iter_mut().zip(&x[n..]).zip(x) {
        *o = finite(now / then - 1.0);
    }
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        NAN
    }
}

/// The simple moving average of the `n` days ending today: a plain sum of the first window
/// (in day order, from 0), then rolling (`sum += x[i] - x[i - n]`), times `1 / n`: the
/// operations of the built-in `ma_cross` for its longer window.
pub(crate) fn sma(x: &[f64], n: usize, out: &mut [f64]) {
    let inv = 1.0 / n as f64;
    let (mut sum, mut run) = (0.0, 0usize);
    for (i, o) in out.iter_mut().enumerate() {
        let v = x[i];
        if !v.is_finite() {
            (sum, run) = (0.0, 0);
            *o = NAN;
            continue;
        }
        run += 1;
        if run <= n {
            sum += v;
        } else {
            sum += v - x[i - n];
        }
        *o = if run >= n { sum * inv } else { NAN };
    }
}

/// The exponential moving average with alpha `2 / (n + 1)`, seeded with the first value
/// (`e = x0`, then `e += alpha * (x - e)` from the first value on, as the built-in
/// `ma_cross`); defined from the `n`-th value.
pub(crate) fn ema(x: &[f64], n: usize, out: &mut [f64]) {
    let alpha = 2.0 / (n as f64 + 1.0);
    let (mut e, mut run) = (0.0, 0usize);
    for (i, o) in out.iter_mut().enumerate() {
        let v = x[i];
        if !v.is_finite() {
            run = 0;
            *o = NAN;
            continue;
        }
        if run == 0 {
            e = v;
        }
        run += 1;
        e += alpha * (v - e);
        *o = if run >= n { e } else { NAN };
    }
}

/// The mean and the sum of squared deviations of the `n` days ending each day (Welford's
/// updates, recomputed exactly every `n` days so rounding cannot drift), handed to `emit`
/// with the day's value; `emit` is not called before a full window.
fn rolling_moments(x: &[f64], n: usize, out: &mut [f64], emit: impl Fn(f64, f64, f64) -> f64) {
    let nf = n as f64;
    let (mut mean, mut m2, mut run) = (0.0f64, 0.0f64, 0usize);
    for (i, o) in out.iter_mut().enumerate() {
        let v = x[i];
        if !v.is_finite() {
            (mean, m2, run) = (0.0, 0.0, 0);
            *o = NAN;
            continue;
        }
        run += 1;
        if run <= n {
            let delta = v - mean;
            mean += delta / run as f64;
            m2 += delta * (v - mean);
        } else if (run - n).is_multiple_of(n) {
            // Exactly, two passes over the window.
            let window = &x[i + 1 - n..=i];
            mean = window.iter().sum::<f64>() / nf;
            m2 = window.iter().map(|w| (w - mean) * (w - mean)).sum();
        } else {
            let old = x[i - n];
            let new_mean = mean + (v - old) / nf;
            m2 += (v - old) * (v - new_mean + old - mean);
            mean = new_mean;
        }
        m2 = m2.max(0.0);
        *o = if run >= n {
            emit(v, mean, m2 / nf)
        } else {
            NAN
        };
    }
}

/// The standard deviation of the `n` days ending today, population (ddof 0).
pub(crate) fn std(x: &[f64], n: usize, out: &mut [f64]) {
    rolling_moments(x, n, out, |_, _, variance| variance.sqrt());
}

/// `(x - sma(x, n)) / std(x, n)`; undefined when the deviation is 0 (below 1e-12 of the
/// mean's magnitude, where only rounding is left).
pub(crate) fn zscore(x: &[f64], n: usize, out: &mut [f64]) {
    rolling_moments(x, n, out, |v, mean, variance| {
        let sd = variance.sqrt();
        if sd <= 1e-12 * mean.abs() || sd == 0.0 {
            NAN
        } else {
            (v - mean) / sd
        }
    });
}

/// The highest (`highest = true`) or lowest value of the `n` days ending today (a monotonic
/// queue: O(1) per day).
pub(crate) fn extreme(x: &[f64], n: usize, highest: bool, out: &mut [f64]) {
    let mut queue: VecDeque<usize> = VecDeque::with_capacity(n.min(x.len()) + 1);
    let mut run_start = 0;
    for (i, o) in out.iter_mut().enumerate() {
        let v = x[i];
        if !v.is_finite() {
            queue.clear();
            run_start = i + 1;
            *o = NAN;
            continue;
        }
        while let Some(&b) = queue.back() {
            let dominated = if highest { v >= x[b] } else { v <= x[b] };
            if !dominated {
                break;
            }
            queue.pop_back();
        }
        queue.push_back(i);
        while queue.front().is_some_and(|&f| f + n <= i) {
            queue.pop_front();
        }
        *o = match queue.front() {
            Some(&f) if i + 1 - run_start >= n => x[f],
            _ => NAN,
        };
    }
}

/// Wilder's RSI from Wilder's averages of gains and losses.
fn rsi_of(gain: f64, loss: f64) -> f64 {
    if loss == 0.0 {
        if gain == 0.0 {
            50.0
        } else {
            100.0
        }
    } else {
        100.0 - 100.0 / (1.0 + gain / loss)
    }
}

/// Wilder's relative strength index of `x`'s day-to-day changes: the first averages of
/// gains and losses are the plain means of the first `n` changes, then
/// `avg = (avg * (n - 1) + today) / n`; `100 - 100 / (1 + gain / loss)` (100 when there is
/// no loss, 50 when neither). Defined once `n` changes have been seen.
pub(crate) fn rsi(x: &[f64], n: usize, out: &mut [f64]) {
    let nf = n as f64;
    let (mut gain, mut loss, mut changes) = (0.0, 0.0, 0usize);
    for (i, o) in out.iter_mut().enumerate() {
        *o = NAN;
        let v = x[i];
        if !v.is_finite() {
            (gain, loss, changes) = (0.0, 0.0, 0);
            continue;
        }
        let Some(&prev) = i.checked_sub(1).and_then(|p| x.get(p)) else {
            continue;
        };
        if !prev.is_finite() {
            continue;
        }
        let d = v - prev;
        let (g, l) = (d.max(0.0), (-d).max(0.0));
        changes += 1;
        if changes <= n {
            gain += g;
            loss += l;
            if changes == n {
                gain /= nf;
                loss /= nf;
                *o = rsi_of(gain, loss);
            }
        } else {
            gain = (gain * (nf - 1.0) + g) / nf;
            loss = (loss * (nf - 1.0) + l) / nf;
            *o = rsi_of(gain, loss);
        }
    }
}

/// Wilder's average true range: the true range of a day with a previous close is
/// `max(high - low, |high - prev close|, |low - prev close|)`; the first ATR is the mean of
/// the first `n` true ranges, then `atr = (atr * (n - 1) + tr) / n`.
pub(crate) fn atr(high: &[f64], low: &[f64], close: &[f64], n: usize, out: &mut [f64]) {
    let nf = n as f64;
    let (mut avg, mut seen) = (0.0, 0usize);
    for (i, o) in out.iter_mut().enumerate() {
        *o = NAN;
        let (h, l, c) = (high[i], low[i], close[i]);
        if !(h.is_finite() && l.is_finite() && c.is_finite()) {
            (avg, seen) = (0.0, 0);
            continue;
        }
        let prev = if i == 0 { NAN } else { close[i - 1] };
        if !prev.is_finite() {
            continue;
        }
        let tr = (h - l).max((h - prev).abs()).max((l - prev).abs());
        seen += 1;
        if seen <= n {
            avg += tr;
            if seen == n {
                avg /= nf;
                *o = avg;
            }
        } else {
            avg = (avg * (nf - 1.0) + tr) / nf;
            *o = avg;
        }
    }
}

/// `a` crosses above `b` today (`over`: `a > b` today and `a <= b` yesterday) or below it
/// (`a < b` today and `a >= b` yesterday); 1 or 0, undefined when any of the four values is.
pub(crate) fn cross(a: &[f64], b: &[f64], over: bool, out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = if i == 0 {
            NAN
        } else {
            let (a0, b0, a1, b1) = (a[i - 1], b[i - 1], a[i], b[i]);
            if a0.is_nan() || b0.is_nan() || a1.is_nan() || b1.is_nan() {
                NAN
            } else if over {
                f64::from(u8::from(a1 > b1 && a0 <= b0))
            } else {
                f64::from(u8::from(a1 < b1 && a0 >= b0))
            }
        };
    }
}

/// Ranks across symbols on each day: `x` and `out` hold `symbols` series of `days` values
/// one after the other. 1 is the highest; equal values share the mean of their ranks;
/// undefined values stay undefined and take no rank.
pub(crate) fn rank(x: &[f64], symbols: usize, days: usize, out: &mut [f64]) {
    let mut day_values: Vec<(f64, usize)> = Vec::with_capacity(symbols);
    for d in 0..days {
        day_values.clear();
        for s in 0..symbols {
            let v = x[s * days + d];
            out[s * days + d] = NAN;
            if !v.is_nan() {
                day_values.push((v, s));
            }
        }
        day_values.sort_by(|p, q| q.0.total_cmp(&p.0));
        let mut k = 0;
        while k < day_values.len() {
            let mut j = k;
            while j + 1 < day_values.len() && day_values[j + 1].0 == day_values[k].0 {
                j += 1;
            }
            // Positions k..=j (0-based) share ranks k+1 ..= j+1.
            let shared = (k + j) as f64 / 2.0 + 1.0;
            for &(_, s) in &day_values[k..=j] {
                out[s * days + d] = shared;
            }
            k = j + 1;
        }
    }
}

#[cfg(test)]
// Day-by-day definitions read best with day indices.
#[allow(clippy::needless_range_loop)]
mod tests {
    //! Each indicator against a plain day-by-day definition written here.

    use super::*;

    /// A deterministic random walk (xorshift) with leading NaNs and a hole of NaNs.
    fn walk(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed | 1;
        let mut c = 100.0;
        let mut out: Vec<f64> = (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                c *= 1.0 + ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.04;
                c
            })
            .collect();
        for v in out.iter_mut().take(3) {
            *v = NAN;
        }
        if n > 60 {
            out[40] = NAN;
            out[41] = NAN;
        }
        out
    }

    /// Flat stretches and exact repeats (holidays repeat the close).
    fn steps(n: usize) -> Vec<f64> {
        (0..n).map(|i| 10.0 + ((i / 3) % 5) as f64).collect()
    }

    fn series() -> Vec<Vec<f64>> {
        vec![
            walk(300, 7),
            walk(300, 11),
            steps(120),
            vec![NAN; 10],
            vec![5.0],
        ]
    }

    fn windows() -> [usize; 6] {
        [1, 2, 3, 5, 14, 50]
    }

    /// The n values ending at day i, if all are defined.
    fn window(x: &[f64], i: usize, n: usize) -> Option<&[f64]> {
        let w = x.get((i + 1).checked_sub(n)?..=i)?;
        w.iter().all(|v| v.is_finite()).then_some(w)
    }

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    fn assert_close(what: &str, got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(close(*g, *w), "{what} day {i}: {g} vs {w}");
        }
    }

    fn run(f: impl Fn(&[f64], &mut [f64]), x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        f(x, &mut out);
        out
    }

    #[test]
    fn lag_and_ret_by_definition() {
        for x in series() {
            for n in windows() {
                let want: Vec<f64> = (0..x.len())
                    .map(|i| if i >= n { x[i - n] } else { NAN })
                    .collect();
                let got = run(|x, o| lag(x, n, o), &x);
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
                let want: Vec<f64> = (0..x.len())
                    .map(|i| {
                        if i < n {
                            return NAN;
                        }
                        let r = x[i] / x[i - n] - 1.0;
                        if r.is_finite() {
                            r
                        } else {
                            NAN
                        }
                    })
                    .collect();
                assert_close("ret", &run(|x, o| ret(x, n, o), &x), &want);
            }
        }
    }

    #[test]
    fn sma_by_definition() {
        for x in series() {
            for n in windows() {
                let want: Vec<f64> = (0..x.len())
                    .map(|i| window(&x, i, n).map_or(NAN, |w| w.iter().sum::<f64>() / n as f64))
                    .collect();
                assert_close(&format!("sma {n}"), &run(|x, o| sma(x, n, o), &x), &want);
            }
        }
    }

    #[test]
    fn ema_by_definition() {
        // Seeded with the first value of each run of defined values, alpha 2/(n+1), defined
        // from the n-th value of the run.
        for x in series() {
            for n in windows() {
                let a = 2.0 / (n as f64 + 1.0);
                let mut want = vec![NAN; x.len()];
                for i in 0..x.len() {
                    let Some(from) = (0..=i).rev().take_while(|&k| x[k].is_finite()).last() else {
                        continue;
                    };
                    if i + 1 - from < n {
                        continue;
                    }
                    let mut e = x[from];
                    for v in &x[from..=i] {
                        e = e + a * (v - e);
                    }
                    want[i] = e;
                }
                assert_close(&format!("ema {n}"), &run(|x, o| ema(x, n, o), &x), &want);
            }
        }
    }

    #[test]
    fn std_and_zscore_by_definition() {
        for x in series() {
            for n in windows() {
                let moments = |i: usize| {
                    window(&x, i, n).map(|w| {
                        let mean = w.iter().sum::<f64>() / n as f64;
                        let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
                        (mean, var.sqrt())
                    })
                };
                let want: Vec<f64> = (0..x.len())
                    .map(|i| moments(i).map_or(NAN, |m| m.1))
                    .collect();
                let got = run(|x, o| std(x, n, o), &x);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    // Absolute: the deviation of prices around 100 is known to ~1e-12.
                    assert!(
                        (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-9,
                        "std {n} day {i}: {g} vs {w}"
                    );
                }
                let want: Vec<f64> = (0..x.len())
                    .map(|i| match moments(i) {
                        Some((mean, sd)) if sd > 1e-9 => (x[i] - mean) / sd,
                        _ => NAN,
                    })
                    .collect();
                let got = run(|x, o| zscore(x, n, o), &x);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-6,
                        "zscore {n} day {i}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn highest_and_lowest_by_definition() {
        for x in series() {
            for n in windows() {
                let want_hi: Vec<f64> = (0..x.len())
                    .map(|i| {
                        window(&x, i, n).map_or(NAN, |w| w.iter().copied().fold(f64::MIN, f64::max))
                    })
                    .collect();
                let want_lo: Vec<f64> = (0..x.len())
                    .map(|i| {
                        window(&x, i, n).map_or(NAN, |w| w.iter().copied().fold(f64::MAX, f64::min))
                    })
                    .collect();
                assert_close("highest", &run(|x, o| extreme(x, n, true, o), &x), &want_hi);
                assert_close("lowest", &run(|x, o| extreme(x, n, false, o), &x), &want_lo);
            }
        }
    }

    #[test]
    fn rsi_by_definition() {
        // Wilder: over each run of defined values, changes d_k; first averages the plain
        // means of the first n gains/losses, then avg = (avg (n-1) + today) / n.
        for x in series() {
            for n in windows() {
                let mut want = vec![NAN; x.len()];
                for i in 0..x.len() {
                    let Some(from) = (0..=i).rev().take_while(|&k| x[k].is_finite()).last() else {
                        continue;
                    };
                    let changes: Vec<f64> = (from + 1..=i).map(|k| x[k] - x[k - 1]).collect();
                    if changes.len() < n {
                        continue;
                    }
                    let gains: Vec<f64> = changes.iter().map(|d| d.max(0.0)).collect();
                    let losses: Vec<f64> = changes.iter().map(|d| (-d).max(0.0)).collect();
                    let mut g = gains[..n].iter().sum::<f64>() / n as f64;
                    let mut l = losses[..n].iter().sum::<f64>() / n as f64;
                    for k in n..changes.len() {
                        g = (g * (n as f64 - 1.0) + gains[k]) / n as f64;
                        l = (l * (n as f64 - 1.0) + losses[k]) / n as f64;
                    }
                    want[i] = if l == 0.0 {
                        if g == 0.0 {
                            50.0
                        } else {
                            100.0
                        }
                    } else {
                        100.0 - 100.0 / (1.0 + g / l)
                    };
                }
                assert_close(&format!("rsi {n}"), &run(|x, o| rsi(x, n, o), &x), &want);
            }
        }
        // All gains: 100.
        let up: Vec<f64> = (0..20).map(f64::from).collect();
        assert_eq!(run(|x, o| rsi(x, 5, o), &up)[19], 100.0);
    }

    #[test]
    fn atr_by_definition() {
        let close = walk(200, 5);
        let high: Vec<f64> = close
            .iter()
            .enumerate()
            .map(|(i, c)| c * (1.0 + 0.01 * (i % 3) as f64))
            .collect();
        let low: Vec<f64> = close
            .iter()
            .enumerate()
            .map(|(i, c)| c * (1.0 - 0.01 * (i % 4) as f64))
            .collect();
        for n in windows() {
            let mut want = vec![NAN; close.len()];
            for i in 0..close.len() {
                let Some(from) = (0..=i).rev().take_while(|&k| close[k].is_finite()).last() else {
                    continue;
                };
                let trs: Vec<f64> = (from + 1..=i)
                    .map(|k| {
                        let p = close[k - 1];
                        (high[k] - low[k])
                            .max((high[k] - p).abs())
                            .max((low[k] - p).abs())
                    })
                    .collect();
                if trs.len() < n {
                    continue;
                }
                let mut a = trs[..n].iter().sum::<f64>() / n as f64;
                for tr in &trs[n..] {
                    a = (a * (n as f64 - 1.0) + tr) / n as f64;
                }
                want[i] = a;
            }
            let mut got = vec![0.0; close.len()];
            atr(&high, &low, &close, n, &mut got);
            assert_close(&format!("atr {n}"), &got, &want);
        }
    }

    #[test]
    fn crossings_by_definition() {
        let a = [1.0, 2.0, 3.0, 2.0, 2.0, NAN, 5.0, 1.0];
        let b = [2.0, 2.0, 2.0, 2.0, 3.0, 1.0, 1.0, 1.0];
        let mut over = [0.0; 8];
        let mut under = [0.0; 8];
        cross(&a, &b, true, &mut over);
        cross(&a, &b, false, &mut under);
        // Day 2: 3 > 2 and 2 <= 2; day 4: 2 < 3 and 2 >= 2; days 5, 6 touch the NaN.
        let show = |v: &[f64]| {
            v.iter()
                .map(|x| if x.is_nan() { -1 } else { *x as i32 })
                .collect::<Vec<_>>()
        };
        assert_eq!(show(&over), [-1, 0, 1, 0, 0, -1, -1, 0]);
        assert_eq!(show(&under), [-1, 0, 0, 0, 1, -1, -1, 0]);
    }

    #[test]
    fn rank_across_symbols_averages_ties() {
        // Three symbols, two days: day 0 values 5, 7, 5; day 1: NaN, 1, 2.
        let x = [5.0, NAN, 7.0, 1.0, 5.0, 2.0];
        let mut out = [0.0; 6];
        rank(&x, 3, 2, &mut out);
        assert_eq!(out[0], 2.5);
        assert!(out[1].is_nan());
        assert_eq!(out[2], 1.0);
        assert_eq!(out[3], 2.0);
        assert_eq!(out[4], 2.5);
        assert_eq!(out[5], 1.0);
    }
}
