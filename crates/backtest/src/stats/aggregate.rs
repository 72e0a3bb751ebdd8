//! Monthly and yearly compounded returns (QSTrader's `performance.aggregate_returns`) and the
//! quantiles of a return series (`np.percentile`, linear interpolation).

use chrono::{Datelike, NaiveDate};

/// Compounds the daily `returns` within each calendar month, in date order: one
/// `((year, month), return)` per month that has a day, `month` 1–12.
///
/// As QSTrader: `exp(cumsum(log(1 + r)))[-1] − 1` over the month's days.
pub fn monthly_returns(dates: &[NaiveDate], returns: &[f64]) -> Vec<((i32, u32), f64)> {
    group_compound(dates, returns, |d| (d.year(), d.month()))
}

/// Compounds the daily `returns` within each calendar year: one `(year, return)` per year.
pub fn yearly_returns(dates: &[NaiveDate], returns: &[f64]) -> Vec<(i32, f64)> {
    group_compound(dates, returns, |d| d.year())
}

/// pandas' groupby sorts the keys; dates are ascending, so consecutive runs are the groups.
fn group_compound<K: PartialEq + Copy>(
    dates: &[NaiveDate],
    returns: &[f64],
    key: impl Fn(&NaiveDate) -> K,
) -> Vec<(K, f64)> {
    let mut out: Vec<(K, f64)> = Vec::new();
    let mut current: Option<(K, f64)> = None;
    for (d, r) in dates.iter().zip(returns) {
        let k = key(d);
        match current.as_mut() {
            Some((ck, sum)) if *ck == k => *sum += (1.0 + r).ln(),
            _ => {
                if let Some((ck, sum)) = current.take() {
                    out.push((ck, sum.exp() - 1.0));
                }
                current = Some((k, (1.0 + r).ln()));
            }
        }
    }
    if let Some((ck, sum)) = current {
        out.push((ck, sum.exp() - 1.0));
    }
    out
}

/// The minimum, quartiles, median and maximum of a sample.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quantiles {
    pub min: f64,
    /// The 25th percentile.
    pub lq: f64,
    pub med: f64,
    /// The 75th percentile.
    pub uq: f64,
    pub max: f64,
}

/// numpy's `min`, `percentile(x, 25)`, `median`, `percentile(x, 75)` and `max` (linear
/// interpolation between closest ranks). An empty sample, or one with a NaN, gives NaN.
pub fn quantiles(values: &[f64]) -> Quantiles {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return Quantiles {
            min: f64::NAN,
            lq: f64::NAN,
            med: f64::NAN,
            uq: f64::NAN,
            max: f64::NAN,
        };
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let med = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Quantiles {
        min: sorted[0],
        lq: percentile(&sorted, 0.25),
        med,
        uq: percentile(&sorted, 0.75),
        max: sorted[n - 1],
    }
}

/// numpy's "linear" percentile of a sorted, non-empty sample, with numpy's `_lerp`.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor();
    let t = h - lo;
    let i = lo as usize;
    let a = sorted[i];
    let b = sorted[(i + 1).min(sorted.len() - 1)];
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_like_numpy() {
        // np.percentile([4, 1, 3, 2], [25, 75]) = [1.75, 3.25]; median 2.5.
        let q = quantiles(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(
            (q.min, q.lq, q.med, q.uq, q.max),
            (1.0, 1.75, 2.5, 3.25, 4.0)
        );
        // Odd count: np.percentile([5, 1, 3], [25, 75]) = [2, 4], median 3.
        let q = quantiles(&[5.0, 1.0, 3.0]);
        assert_eq!((q.lq, q.med, q.uq), (2.0, 3.0, 4.0));
        let q = quantiles(&[7.0]);
        assert_eq!((q.min, q.lq, q.med, q.uq, q.max), (7.0, 7.0, 7.0, 7.0, 7.0));
    }

    #[test]
    fn months_compound() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        let dates = [
            d("2020-01-30"),
            d("2020-01-31"),
            d("2020-02-03"),
            d("2021-02-01"),
        ];
        let r = [0.0, 0.1, 0.5, -0.5];
        let m = monthly_returns(&dates, &r);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].0, (2020, 1));
        assert!((m[0].1 - 0.1).abs() < 1e-15);
        assert_eq!(m[1].0, (2020, 2));
        assert_eq!(m[2].0, (2021, 2));
        let y = yearly_returns(&dates, &r);
        assert_eq!(y.len(), 2);
        assert!((y[0].1 - (1.1 * 1.5 - 1.0)).abs() < 1e-15);
        assert!((y[1].1 + 0.5).abs() < 1e-15);
    }
}
