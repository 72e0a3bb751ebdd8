//! `ma_cross`'s fast SMA signal (window sums from the data's running sums, see
//! `ma_cross::sma_steps`) against the original rolling-sum implementation, kept here verbatim
//! as the reference: the trade days must be identical on SPY's whole history for every
//! (fast, slow) pair with 2 <= fast < slow <= 101, on both calendars and both sides, and on
//! made-up prices full of exact ties (where the fast path must hand over to the reference).
//!
//! Data: `$SLURM_SWEEP_DATA/qstrader_examples` (default `<workspace>/../shared/data`).

mod common;

use backtest::data::CloseSums;
use backtest::strategy::ma_cross::{sma_signal, sma_steps, steps_of};
use backtest::{Calendar, ParamValue};
use common::{dated_steps, ma_cross_decisions, spy};

/// The rolling-sum SMA signal as it was before the fast path (the reference).
fn reference_sma_signal(closes: &[f64], fast: usize, slow: usize, long_only: bool) -> Vec<i8> {
    fn position(fast: f64, slow: f64, long_only: bool) -> i8 {
        if fast > slow {
            1
        } else if long_only {
            0
        } else {
            -1
        }
    }
    let mut signal = vec![0i8; closes.len()];
    let Some(first) = closes.iter().position(|c| c.is_finite()) else {
        return signal;
    };
    let closes = &closes[first..];
    let out = &mut signal[first..];
    let warm = fast.max(slow);
    let (inv_fast, inv_slow) = (1.0 / fast as f64, 1.0 / slow as f64);
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
    for i in warm..closes.len() {
        let c = closes[i];
        sum_fast += c - closes[i - fast];
        sum_slow += c - closes[i - slow];
        out[i] = position(sum_fast * inv_fast, sum_slow * inv_slow, long_only);
    }
    signal
}

/// The days on which the reference signal changes (and its first day), as steps.
fn reference_steps(closes: &[f64], fast: usize, slow: usize, long_only: bool) -> Vec<(usize, i8)> {
    steps_of(&reference_sma_signal(closes, fast, slow, long_only))
}

#[test]
fn fast_sma_steps_equal_the_reference_on_spy_for_every_pair() {
    for calendar in [Calendar::TradingDays, Calendar::Weekdays] {
        let (market, _) = spy(calendar);
        let closes = &market.close[0];
        assert!(closes.len() > 8000, "SPY's whole history");
        let sums = market.close_sums(0).expect("one symbol");
        let (mut pairs, mut handed_over, mut changes) = (0, 0, 0);
        for fast in 2..=101 {
            for slow in fast + 1..=101 {
                for long_only in [true, false] {
                    let expected = reference_steps(closes, fast, slow, long_only);
                    match sma_steps(sums, 0, closes, fast, slow, long_only) {
                        Some(steps) => assert_eq!(
                            steps, expected,
                            "{calendar:?} fast {fast} slow {slow} long_only {long_only}"
                        ),
                        None => handed_over += 1,
                    }
                    if fast % 10 == 0 {
                        // The library's own rolling-sum signal (the hand-over) is unchanged.
                        assert_eq!(
                            steps_of(&sma_signal(closes, fast, slow, long_only)),
                            expected
                        );
                    }
                    pairs += 1;
                    changes += expected.len();
                }
            }
        }
        println!("{calendar:?}: {pairs} pairs, {changes} steps, {handed_over} handed over");
        // The fast path decides (nearly) every pair itself: a hand-over is a genuine tie.
        assert!(
            handed_over * 100 < pairs,
            "{handed_over} of {pairs} handed over"
        );
    }
}

#[test]
fn fast_sma_steps_on_a_later_start_equal_the_reference() {
    // A run that starts mid-history: windows are counted from the run's first day.
    let (market, _) = spy(Calendar::TradingDays);
    let sums = market.close_sums(0).expect("one symbol");
    for start in [1, 777, 5000] {
        let closes = &market.close[0][start..];
        for (fast, slow) in [(5, 20), (50, 200), (200, 50), (1, 2)] {
            let expected = reference_steps(closes, fast, slow, true);
            if let Some(steps) = sma_steps(sums, start, closes, fast, slow, true) {
                assert_eq!(steps, expected, "start {start} fast {fast} slow {slow}");
            }
        }
    }
}

#[test]
fn exact_ties_are_handed_over_to_the_reference() {
    // Prices on a tick grid that repeat: the two averages are exactly equal on many days,
    // where only the reference's rounding decides; the fast path must not guess.
    // With a, b, b, a repeating, the 2-day and the 4-day average are both (a + b) / 2 on
    // every other day.
    let closes: Vec<f64> = (0..400)
        .map(|i| 100.0 + [0.25, 0.5, 0.5, 0.25][i % 4] * 0.37)
        .collect();
    let sums = CloseSums::new(&closes);
    assert_eq!(sma_steps(&sums, 0, &closes, 2, 4, true), None);
    assert_eq!(
        sma_steps(&sums, 0, &closes, 4, 4, false),
        None,
        "fast = slow"
    );
    // A strictly rising series has no ties: decided on the fast path, always long.
    let rising: Vec<f64> = (0..50).map(|i| 10.0 + f64::from(i) * 0.1).collect();
    let sums = CloseSums::new(&rising);
    assert_eq!(
        sma_steps(&sums, 0, &rising, 2, 5, true),
        Some(vec![(0, 0), (4, 1)])
    );
    // A NaN inside the windows hands over too.
    let mut holed = rising.clone();
    holed[30] = f64::NAN;
    let sums = CloseSums::new(&holed);
    assert_eq!(sma_steps(&sums, 0, &holed, 2, 5, true), None);
    // Leading NaNs (before a symbol's first price) are skipped like the reference does.
    let mut late = rising.clone();
    late[..3].fill(f64::NAN);
    let sums = CloseSums::new(&late);
    assert_eq!(
        sma_steps(&sums, 0, &late, 2, 5, false),
        Some(reference_steps(&late, 2, 5, false))
    );
}

#[test]
fn ma_cross_runs_decide_on_the_reference_change_days() {
    let (market, config) = spy(Calendar::TradingDays);
    let closes = &market.close[0];
    for (fast, slow, long_only) in [(50, 200, true), (10, 30, false), (3, 7, true)] {
        let params = [
            ("fast", ParamValue::Int(fast as i64)),
            ("slow", ParamValue::Int(slow as i64)),
            ("long_only", ParamValue::Bool(long_only)),
        ];
        let decided = ma_cross_decisions(&market, &config, &params);
        // The first decision is on day 0 (the signal's first value), then one per change.
        let expected = dated_steps(&market, reference_steps(closes, fast, slow, long_only));
        assert_eq!(decided, expected, "fast {fast} slow {slow}");
        assert!(decided.len() > 10, "trades");
    }
}
