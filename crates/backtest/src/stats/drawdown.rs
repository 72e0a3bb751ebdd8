//! QSTrader 0.3.0's drawdown series (`performance.create_drawdowns`): the drawdown of every
//! day, the largest one and the longest run of days in drawdown.

/// The drawdowns of a curve and their summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawdowns {
    /// `(hwm − value) / hwm` for each day; day 0 is 0.
    pub series: Vec<f64>,
    /// The largest drawdown, a positive fraction.
    pub max: f64,
    /// The longest run of consecutive days whose drawdown is not exactly 0.
    pub duration: u64,
}

/// QSTrader's drawdowns of `curve` (cumulative returns, or equity: the result does not depend
/// on the scale).
///
/// The high-water mark is QSTrader's: `hwm[0] = 0` and `hwm[t] = max(hwm[t−1], curve[t])` for
/// `t ≥ 1`, so day 0's value never sets it; the drawdown of day 0 is forced to 0. A day counts
/// towards the duration when its drawdown is not exactly 0 (so NaN counts).
pub fn drawdowns(curve: &[f64]) -> Drawdowns {
    let mut series = Vec::with_capacity(curve.len());
    let mut hwm = 0.0f64;
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
            (hwm - v) / hwm
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
    fn empty_curve() {
        let d = drawdowns(&[]);
        assert!(d.series.is_empty());
        assert!(d.max.is_nan());
        assert_eq!(d.duration, 0);
    }
}
