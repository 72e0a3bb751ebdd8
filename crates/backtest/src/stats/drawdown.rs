//! QSTrader 0.3.0's drawdown series (`performance.create_drawdowns`): the drawdown of every
//! day, the largest one and the longest run of days in drawdown; extended to equity at or
//! below zero, where QSTrader divides by a high-water mark of 0.

/// The drawdowns of a curve and their summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawdowns {
    /// `(hwm − value) / hwm` for each day; day 0 is 0.
    pub series: Vec<f64>,
    /// The largest drawdown, a positive fraction (above 1 once the curve falls through 0;
    /// `+inf` below a mark that is not positive).
    pub max: f64,
    /// The longest run of consecutive days whose drawdown is not exactly 0.
    pub duration: u64,
}

/// The high-water mark a curve starts with, before day 1 is stepped: QSTrader's, day 1's
/// value, when it is positive; otherwise day 0's (so a curve that falls through zero on its
/// first day is measured against where it started, not against a mark of 0 or below).
pub(crate) fn start_mark(day0: f64, day1: f64) -> f64 {
    if day1 > 0.0 {
        day1
    } else {
        day0
    }
}

/// The drawdown of a day at `value` under the mark `hwm`: `(hwm − value) / hwm` while the
/// mark is positive (so at or below zero it is at least 1: 100% or more of the mark lost);
/// under a mark that is not positive, `+inf` for a day below it (a loss with no positive
/// wealth to measure it against) and 0 otherwise.
pub(crate) fn drawdown_at(hwm: f64, value: f64) -> f64 {
    if hwm > 0.0 {
        (hwm - value) / hwm
    } else if value < hwm {
        f64::INFINITY
    } else {
        0.0
    }
}

/// QSTrader's drawdowns of `curve` (cumulative returns, or equity: the result does not depend
/// on a positive scale), defined for curves that reach or cross zero too.
///
/// The high-water mark is QSTrader's for positive curves: `hwm[t] = max(hwm[t−1], curve[t])`
/// for `t ≥ 1`, starting at day 1 (day 0's value never sets it), and the drawdown of day 0 is
/// forced to 0. QSTrader starts its mark at 0, so where day 1 is at or below zero it divides
/// by 0; here the mark then starts at day 0's value instead, and a day's drawdown under its
/// mark is `(hwm − v) / hwm` while the mark is positive (a loss through zero is a drawdown
/// of 100% or more), `+inf` below a mark that is not positive. A
/// day counts towards the duration when its drawdown is not exactly 0 (so NaN counts).
///
/// ```
/// use backtest::stats::drawdowns;
///
/// // 120 -> -30: 150% of the mark lost.
/// let d = drawdowns(&[100.0, 120.0, 60.0, -30.0, 10.0]);
/// assert_eq!(d.max, 1.25);
/// assert_eq!(d.duration, 3);
/// ```
pub fn drawdowns(curve: &[f64]) -> Drawdowns {
    let mut series = Vec::with_capacity(curve.len());
    let mut hwm = match curve {
        [day0, day1, ..] => start_mark(*day0, *day1),
        _ => f64::NAN,
    };
    let mut max = f64::NAN;
    let mut run = 0u64;
    let mut duration = 0u64;
    for (t, &v) in curve.iter().enumerate() {
        let dd = if t == 0 {
            0.0
        } else {
            // np.maximum semantics are not needed: Python's max(hwm, v) keeps hwm when v is
            // NaN (NaN > hwm is false).
            if v > hwm {
                hwm = v;
            }
            drawdown_at(hwm, v)
        };
        // np.max over a pandas Series skips NaN.
        if !dd.is_nan() && (max.is_nan() || dd > max) {
            max = dd;
        }
        if dd == 0.0 {
            run = 0;
        } else {
            run += 1;
            duration = duration.max(run);
        }
        series.push(dd);
    }
    Drawdowns {
        series,
        max,
        duration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // hwm: 0, 1.1, 1.1, 1.1, 1.2, 1.2 -> drawdowns 0, 0, 0.1/1.1, 0.05/1.1, 0, 0.1/1.2.
        let d = drawdowns(&[1.0, 1.1, 1.0, 1.05, 1.2, 1.1]);
        let want = [0.0, 0.0, 0.1 / 1.1, 0.05 / 1.1, 0.0, 0.1 / 1.2];
        for (a, b) in d.series.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{a} {b}");
        }
        assert!((d.max - 0.1 / 1.1).abs() < 1e-15);
        assert_eq!(d.duration, 2);
    }

    #[test]
    fn day_zero_is_skipped() {
        let d = drawdowns(&[1.0, 0.5, 0.6]);
        assert_eq!(d.series, vec![0.0, 0.0, 0.0]);
        assert_eq!(d.max, 0.0);
        assert_eq!(d.duration, 0);
    }

    #[test]
    fn through_zero_is_a_drawdown_of_100_percent_or_more() {
        // Mark 120 from day 1: 60 is 50% down, 0 is 100%, -30 is 125%; back to 10: 91.7%.
        let d = drawdowns(&[100.0, 120.0, 60.0, 0.0, -30.0, 10.0]);
        let want = [0.0, 0.0, 0.5, 1.0, 1.25, 110.0 / 120.0];
        assert_eq!(d.series, want);
        assert_eq!(d.max, 1.25);
        assert_eq!(d.duration, 4);
    }

    #[test]
    fn a_first_day_at_or_below_zero_is_measured_from_day_zero() {
        // QSTrader's mark would be max(0, day 1) = 0: a division by zero. Day 0's 100 instead.
        let d = drawdowns(&[100.0, -20.0, -50.0, -10.0, 20.0, 30.0]);
        assert_eq!(d.series, [0.0, 1.2, 1.5, 1.1, 0.8, 0.7]);
        assert_eq!(d.max, 1.5);
        assert_eq!(d.duration, 5);
        let d = drawdowns(&[100.0, 0.0, 0.0]);
        assert_eq!((d.max, d.duration), (1.0, 2));
        // A positive day 1 is QSTrader's mark, as before: day 0 never sets it.
        assert_eq!(drawdowns(&[100.0, 1.0, 0.5]).max, 0.5);
    }

    #[test]
    fn below_a_mark_that_is_not_positive_is_unbounded() {
        // A curve that starts at or below zero (the out-of-sample part of a run that lost
        // everything before the split): a loss below it has no positive base.
        let d = drawdowns(&[-10.0, -20.0, -30.0, -5.0, -6.0, 4.0, 2.0]);
        let inf = f64::INFINITY;
        assert_eq!(d.series, [0.0, inf, inf, 0.0, inf, 0.0, 0.5]);
        assert_eq!(d.max, inf);
        assert_eq!(d.duration, 2);
        assert_eq!(drawdowns(&[0.0, 0.0, 0.0]).max, 0.0);
    }

    #[test]
    fn empty_curve() {
        let d = drawdowns(&[]);
        assert!(d.series.is_empty());
        assert!(d.max.is_nan());
        assert_eq!(d.duration, 0);
    }
}
