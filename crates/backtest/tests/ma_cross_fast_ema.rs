//! `ma_cross`'s fast EMA signal (a block recurrence, see `ma_cross::ema_steps`) against the
//! plain EMA recursion, re-implemented here as the reference: the trade days must be
//! identical on SPY's whole history for a broad grid of (fast, slow) pairs, on both
//! calendars and both sides, from later start offsets, and on made-up random walks with long
//! flat stretches and near ties (where the fast path must hand over to the reference). The
//! fast path's EMA values must also stay within their stated error bound of the plain
//! recursion's on every day of SPY.
//!
//! Data: `$SLURM_SWEEP_DATA/qstrader_examples` (default `<workspace>/../shared/data`).

mod common;

use std::collections::HashMap;

use backtest::strategy::ma_cross::{
    ema_block_values, ema_error_bound, ema_signal, ema_steps, steps_of,
};
use backtest::{Calendar, ParamValue};
use common::{dated_steps, ma_cross_decisions, spy};

/// The plain EMA of `closes` from the first finite close on (NaN before it): seeded with
/// that close, then `ema += a·(c − ema)` one day at a time, a = 2 / (n + 1).
fn reference_ema(closes: &[f64], window: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; closes.len()];
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return out;
    };
    let a = 2.0 / (window as f64 + 1.0);
    let mut ema = closes[first];
    for (o, &c) in out[first..].iter_mut().zip(&closes[first..]) {
        ema += a * (c - ema);
        *o = ema;
    }
    out
}

/// The EMA crossover signal from the two EMAs of [`reference_ema`] (the reference): 1 when
/// fast > slow, else 0 (long-only) or -1, from the `warm`-th finite close on (`warm` =
/// max(fast, slow)).
fn crossover(
    closes: &[f64],
    ema_fast: &[f64],
    ema_slow: &[f64],
    warm: usize,
    long_only: bool,
) -> Vec<i8> {
    let mut signal = vec![0i8; closes.len()];
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return signal;
    };
    for i in first..closes.len() {
        if i - first + 1 >= warm {
            signal[i] = if ema_fast[i] > ema_slow[i] {
                1
            } else if long_only {
                0
            } else {
                -1
            };
        }
    }
    signal
}

/// The days on which the reference signal changes (and its first day), as steps.
fn reference_steps(closes: &[f64], fast: usize, slow: usize, long_only: bool) -> Vec<(usize, i8)> {
    let (ema_fast, ema_slow) = (reference_ema(closes, fast), reference_ema(closes, slow));
    steps_of(&crossover(
        closes,
        &ema_fast,
        &ema_slow,
        fast.max(slow),
        long_only,
    ))
}

/// Checks `ema_steps` against the reference for every pair of `fasts` × `slows` (fast !=
/// slow) on both sides; returns (pairs, pairs handed over, steps seen).
fn check_pairs(
    closes: &[f64],
    fasts: impl Iterator<Item = usize> + Clone,
    slows: impl Iterator<Item = usize> + Clone,
    what: &str,
) -> (usize, usize, usize) {
    // The reference EMAs, once per window.
    let mut emas: HashMap<usize, Vec<f64>> = HashMap::new();
    for window in fasts.clone().chain(slows.clone()) {
        emas.entry(window)
            .or_insert_with(|| reference_ema(closes, window));
    }
    let (mut pairs, mut handed_over, mut changes) = (0, 0, 0);
    for fast in fasts {
        for slow in slows.clone().filter(|&s| s != fast) {
            for long_only in [true, false] {
                let signal = crossover(
                    closes,
                    &emas[&fast],
                    &emas[&slow],
                    fast.max(slow),
                    long_only,
                );
                let expected = steps_of(&signal);
                match ema_steps(closes, fast, slow, long_only) {
                    Some(steps) => assert_eq!(
                        steps, expected,
                        "{what}: fast {fast} slow {slow} long_only {long_only}"
                    ),
                    None => handed_over += 1,
                }
                pairs += 1;
                changes += expected.len();
            }
        }
    }
    (pairs, handed_over, changes)
}

#[test]
fn fast_ema_steps_equal_the_reference_on_spy_for_a_grid_of_pairs() {
    for calendar in [Calendar::TradingDays, Calendar::Weekdays] {
        let (market, _) = spy(calendar);
        let closes = &market.close[0];
        assert!(closes.len() > 8000, "SPY's whole history");
        // Every fast window up to 60 against slow windows 1..=250 (every one up to 70, then
        // every 7th; fast > slow included: the inverted rule), and slow windows up to 5000.
        let slows = (1..=70).chain((71..=250).step_by(7));
        let (pairs, handed_over, changes) = check_pairs(closes, 1..=60, slows, "SPY");
        let long = [300, 500, 1000, 2000, 5000];
        let (pairs_2, handed_over_2, changes_2) = check_pairs(
            closes,
            [2, 10, 50, 200].into_iter(),
            long.into_iter(),
            "SPY long windows",
        );
        let (pairs, handed_over, changes) = (
            pairs + pairs_2,
            handed_over + handed_over_2,
            changes + changes_2,
        );
        println!("{calendar:?}: {pairs} pairs, {changes} steps, {handed_over} handed over");
        assert!(changes > 100 * pairs, "the pairs trade: {changes} steps");
        // The fast path decides (nearly) every pair itself: a hand-over is a genuine near tie.
        assert!(
            handed_over * 100 < pairs,
            "{handed_over} of {pairs} handed over"
        );
        // The library's own recursion (the hand-over) is the reference's.
        for (fast, slow) in [(50, 200), (3, 17), (60, 1)] {
            assert_eq!(
                steps_of(&ema_signal(closes, fast, slow, false)),
                reference_steps(closes, fast, slow, false)
            );
        }
    }
}

#[test]
fn fast_ema_steps_on_a_later_start_equal_the_reference() {
    // A run that starts mid-history: the EMAs are seeded with the run's first close.
    let (market, _) = spy(Calendar::Weekdays);
    for start in [1, 2, 3, 777, 5000, 8000] {
        let closes = &market.close[0][start..];
        for (fast, slow) in [(5, 20), (50, 200), (200, 50), (1, 2), (2, 1), (12, 26)] {
            for long_only in [true, false] {
                let expected = reference_steps(closes, fast, slow, long_only);
                let steps = ema_steps(closes, fast, slow, long_only);
                assert_eq!(
                    steps.as_ref(),
                    Some(&expected),
                    "start {start} fast {fast} slow {slow} long_only {long_only}"
                );
            }
        }
    }
}

/// A deterministic random walk (xorshift) on a grid of `tick`, with flat stretches: after
/// each move, with probability `flat`, the close repeats for up to 100 days.
fn walk(n: usize, seed: u64, tick: f64, flat: f64) -> Vec<f64> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut closes = Vec::with_capacity(n);
    let mut c: f64 = 100.0;
    while closes.len() < n {
        c = ((c * (1.0 + (next() - 0.5) * 0.04)) / tick)
            .round()
            .max(1.0)
            * tick;
        closes.push(c);
        if next() < flat {
            let repeat = (next() * 100.0) as usize;
            closes.resize(closes.len() + repeat.min(n - closes.len()), c);
        }
    }
    closes
}

#[test]
fn fast_ema_steps_equal_the_reference_on_random_walks_with_flat_stretches() {
    let (mut pairs, mut handed_over) = (0, 0);
    for seed in 1..=12u64 {
        let (tick, flat) = [(0.01, 0.05), (1.0, 0.2), (1e-6, 0.0), (0.25, 0.5)][seed as usize % 4];
        let closes = walk(3000, seed, tick, flat);
        let (p, h, _) = check_pairs(
            &closes,
            [1, 2, 3, 5, 8, 13, 21, 50].into_iter(),
            [2, 4, 10, 30, 100, 200, 400].into_iter(),
            &format!("walk {seed}"),
        );
        println!("walk {seed} (tick {tick}, flat {flat}): {h} of {p} handed over");
        pairs += p;
        handed_over += h;
    }
    println!("walks: {pairs} pairs, {handed_over} handed over");
    assert!(
        handed_over * 2 < pairs,
        "{handed_over} of {pairs} handed over"
    );
}

#[test]
fn near_ties_are_handed_over_or_decided_exactly() {
    // A long flat stretch: once both EMAs have converged to the same close they are equal
    // (a tie only the reference's rounding decides): the fast path must not guess.
    let mut flat = vec![50.0; 600];
    flat[0] = 40.0;
    assert_eq!(ema_steps(&flat, 3, 10, true), None);
    assert_eq!(ema_steps(&flat, 3, 10, false), None);
    // fast == slow: the two EMAs are the same numbers every day.
    let rising: Vec<f64> = (0..300).map(|i| 10.0 + f64::from(i) * 0.1).collect();
    assert_eq!(ema_steps(&rising, 7, 7, true), None);
    // A strictly rising series: the fast EMA is above from day 1 on, decided here.
    assert_eq!(ema_steps(&rising, 2, 5, false), Some(vec![(0, 0), (4, 1)]));
    assert_eq!(ema_steps(&rising, 5, 2, false), Some(vec![(0, 0), (4, -1)]));
    // Closes that make the two EMAs cross within rounding noise of each other, many times:
    // an alternation around a level that drifts by a few ulps. Wherever the fast path
    // decides, it must agree with the reference.
    for scale in [1.0, 1e-3, 1e5] {
        let closes: Vec<f64> = (0..2000)
            .map(|i| {
                let wiggle = if i % 2 == 0 { 1.0 } else { -1.0 } * f64::from(i % 7) * 1e-15;
                scale * (1.0 + wiggle)
            })
            .collect();
        for (fast, slow) in [(2, 3), (1, 4), (10, 30)] {
            for long_only in [true, false] {
                if let Some(steps) = ema_steps(&closes, fast, slow, long_only) {
                    assert_eq!(steps, reference_steps(&closes, fast, slow, long_only));
                }
            }
        }
    }
    // Leading NaNs (before a symbol's first price) are skipped as the reference does.
    let mut late = rising.clone();
    late[..3].fill(f64::NAN);
    assert_eq!(
        ema_steps(&late, 2, 5, false),
        Some(reference_steps(&late, 2, 5, false))
    );
    // Fewer closes than the slow window: flat throughout.
    assert_eq!(ema_steps(&rising[..4], 2, 5, false), Some(vec![(0, 0)]));
    // All NaN: flat throughout (nothing to average).
    assert_eq!(ema_steps(&[f64::NAN; 10], 2, 5, false), Some(vec![(0, 0)]));
}

#[test]
fn a_non_finite_close_or_a_zero_window_hands_over() {
    let rising: Vec<f64> = (0..300).map(|i| 10.0 + f64::from(i) * 0.1).collect();
    assert!(ema_steps(&rising, 2, 5, true).is_some());
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for day in [1, 2, 150, 299] {
            let mut holed = rising.clone();
            holed[day] = bad;
            assert_eq!(ema_steps(&holed, 2, 5, true), None, "{bad} on day {day}");
            assert_eq!(ema_block_values(&holed, 5), None, "{bad} on day {day}");
        }
    }
    assert_eq!(ema_steps(&rising, 0, 5, true), None);
    assert_eq!(ema_steps(&rising, 5, 0, true), None);
    assert_eq!(ema_block_values(&rising, 0), None);
}

#[test]
fn fast_ema_values_stay_within_the_stated_bound_on_spy() {
    let (market, _) = spy(Calendar::TradingDays);
    let closes = &market.close[0];
    let max_abs = closes.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    let mut worst_ratio = 0.0f64;
    for window in [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] {
        let fast = ema_block_values(closes, window).expect("SPY's closes are finite");
        let exact = reference_ema(closes, window);
        assert_eq!(fast.len(), exact.len());
        let bound = ema_error_bound(window, max_abs);
        let stated = bound.block + bound.recursion;
        // The bound is small (it is what lets the fast path decide nearly every day)...
        assert!(stated < 1e-6 * max_abs, "window {window}: bound {stated}");
        let mut worst = 0.0f64;
        for (day, (&f, &e)) in fast.iter().zip(&exact).enumerate() {
            assert!(f.is_finite() && e.is_finite(), "day {day}");
            let error = (f - e).abs();
            // ...and holds on every day.
            assert!(
                error <= stated,
                "window {window} day {day}: |{f} - {e}| = {error} > {stated}"
            );
            worst = worst.max(error);
        }
        // The two computations are different (the comparison is not vacuous), except with
        // window 1, where both are (nearly) the closes themselves.
        if window > 2 {
            assert!(worst > 0.0, "window {window}: identical series");
        }
        println!("window {window}: worst |fast - exact| {worst:e}, bound {stated:e}");
        worst_ratio = worst_ratio.max(worst / stated);
    }
    println!("worst error / bound: {worst_ratio:e}");
}

#[test]
fn ma_cross_ema_runs_decide_on_the_reference_change_days() {
    let (market, config) = spy(Calendar::TradingDays);
    let closes = &market.close[0];
    for (fast, slow, long_only) in [(50, 200, true), (12, 26, false), (3, 7, true)] {
        let params = [
            ("fast", ParamValue::Int(fast as i64)),
            ("slow", ParamValue::Int(slow as i64)),
            ("kind", ParamValue::Str("ema".into())),
            ("long_only", ParamValue::Bool(long_only)),
        ];
        let decided = ma_cross_decisions(&market, &config, &params);
        // The first decision is on day 0 (the signal's first value), then one per change.
        let expected = dated_steps(&market, reference_steps(closes, fast, slow, long_only));
        assert_eq!(decided, expected, "fast {fast} slow {slow}");
        assert!(decided.len() > 10, "trades");
    }
}
