//! Grid expansion: the value lists of each parameter (lists, inclusive ranges without float
//! drift, linear and log spaced points) and the odometer over them.
//!
//! # Order
//!
//! A grid is a list of *axes*. A plain parameter is one axis; a zipped group (`zip =
//! [["fast", "slow"]]` in the spec) is one axis whose members vary together and which sits
//! where its first member appears in `[params]`. Combinations are enumerated like nested
//! for-loops in the order of the axes, the **last axis varying fastest**: combination `i` has
//! digits `d_0 .. d_{n-1}` with `i = ((d_0 * r_1 + d_1) * r_2 + d_2) ...` where `r_k` is the
//! length of axis `k`. Combination `i` of the (unfiltered, unsampled) grid is line `i` of
//! `manifest.jsonl`.
//!
//! # Ranges
//!
//! * `{ from = 5, to = 50, step = 5 }`: `from + k * step` for `k = 0, 1, ...` while the value
//!   does not pass `to`; `to` is included when it is reached within 1e-9 steps. Integer
//!   bounds and step give integers; otherwise floats, each rounded to the decimal precision
//!   of `from` and `step` (so `0.1 .. 0.3` step `0.1` is exactly `[0.1, 0.2, 0.3]`).
//! * `{ from = 1, to = 2, num = 5 }`: `num` evenly spaced points, both ends included.
//! * `{ from = 0.001, to = 1, num = 4, log = true }`: `num` geometrically spaced points, both
//!   ends included, rounded to 12 significant digits (`[0.001, 0.01, 0.1, 1]`). With integer
//!   `from` and `to` the points are rounded to integers and repeated ones dropped.

use backtest::ParamValue;

/// The most values one axis may have (guards against a typo like `step = 1e-9`).
pub const MAX_AXIS_VALUES: usize = 10_000_000;

/// One axis of the grid: one parameter, or a zipped group of parameters that vary together.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The parameter names of the axis (one, or the members of a zipped group).
    pub names: Vec<String>,
    /// `values[k][m]` is member `m`'s value at position `k` of the axis.
    pub values: Vec<Vec<ParamValue>>,
}

impl Axis {
    /// An axis of one parameter.
    pub fn single(name: &str, values: Vec<ParamValue>) -> Axis {
        Axis {
            names: vec![name.to_string()],
            values: values.into_iter().map(|v| vec![v]).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The full cartesian grid over a list of axes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grid {
    pub axes: Vec<Axis>,
}

impl Grid {
    pub fn new(axes: Vec<Axis>) -> Grid {
        Grid { axes }
    }

    /// Number of combinations (product of the axis lengths; 1 for no axes), or `None` when it
    /// does not fit in a u64.
    pub fn count(&self) -> Option<u64> {
        self.axes
            .iter()
            .try_fold(1u64, |acc, a| acc.checked_mul(a.len() as u64))
    }

    /// The axis positions (digits) of combination `index`; `None` past the end.
    pub fn digits_of(&self, index: u64) -> Option<Vec<usize>> {
        if index >= self.count()? {
            return None;
        }
        let mut digits = vec![0usize; self.axes.len()];
        let mut rest = index;
        for (k, axis) in self.axes.iter().enumerate().rev() {
            let r = axis.len() as u64;
            digits[k] = (rest % r) as usize;
            rest /= r;
        }
        Some(digits)
    }

    /// The combination index of axis positions `digits` (inverse of [`Grid::digits_of`]).
    pub fn index_of(&self, digits: &[usize]) -> u64 {
        self.axes
            .iter()
            .zip(digits)
            .fold(0u64, |acc, (axis, &d)| acc * axis.len() as u64 + d as u64)
    }

    /// Calls `visit` with the digits of every combination in order (an odometer, so nothing
    /// but one digit vector is held in memory). Stops at the first error.
    pub fn try_for_each<E>(
        &self,
        mut visit: impl FnMut(&[usize]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.axes.iter().any(Axis::is_empty) {
            return Ok(());
        }
        let mut digits = vec![0usize; self.axes.len()];
        loop {
            visit(&digits)?;
            // Advance the odometer: the last axis turns fastest.
            let mut k = digits.len();
            loop {
                if k == 0 {
                    return Ok(());
                }
                k -= 1;
                digits[k] += 1;
                if digits[k] < self.axes[k].len() {
                    break;
                }
                digits[k] = 0;
            }
        }
    }

    /// The `(name, value)` pairs of the combination at `digits`.
    pub fn assignments<'a>(
        &'a self,
        digits: &'a [usize],
    ) -> impl Iterator<Item = (&'a str, &'a ParamValue)> + 'a {
        self.axes.iter().zip(digits).flat_map(|(axis, &d)| {
            axis.names
                .iter()
                .map(String::as_str)
                .zip(axis.values[d].iter())
        })
    }
}

/// The number of decimal digits of `x` in its shortest round-trip representation.
fn decimals(x: f64) -> usize {
    let s = format!("{}", x.abs());
    s.find('.').map_or(0, |dot| s.len() - dot - 1)
}

/// Rounds `x` to `digits` decimals through the decimal representation (correctly rounded).
fn round_decimals(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse().unwrap_or(x)
}

/// Rounds `x` to 12 significant digits.
fn round_significant(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}

fn check_len(n: f64) -> Result<usize, String> {
    if !n.is_finite() || n > MAX_AXIS_VALUES as f64 {
        return Err(format!(
            "gives more than {MAX_AXIS_VALUES} values; check `step` / `num`"
        ));
    }
    Ok(n.max(0.0) as usize)
}

/// Integer inclusive range `from, from+step, ...` up to and including `to` when reached.
pub fn int_range(from: i64, to: i64, step: i64) -> Result<Vec<i64>, String> {
    if step == 0 {
        return Err("`step` must not be 0".into());
    }
    if (to - from).signum() * step.signum() < 0 {
        return Err(format!(
            "range from {from} to {to} with step {step} is empty (step has the wrong sign)"
        ));
    }
    let n = check_len(((to - from) / step) as f64 + 1.0)?;
    Ok((0..n as i64).map(|k| from + k * step).collect())
}

/// Float inclusive range without drift: `from + k * step`, rounded to the decimal precision
/// of `from` and `step`; `to` is included when it is reached within 1e-9 steps.
pub fn float_range(from: f64, to: f64, step: f64) -> Result<Vec<f64>, String> {
    if !(from.is_finite() && to.is_finite() && step.is_finite()) {
        return Err("`from`, `to` and `step` must be finite numbers".into());
    }
    if step == 0.0 {
        return Err("`step` must not be 0".into());
    }
    let span = (to - from) / step;
    if span < -1e-9 {
        return Err(format!(
            "range from {from} to {to} with step {step} is empty (step has the wrong sign)"
        ));
    }
    let n = check_len((span + 1e-9).floor() + 1.0)?;
    let digits = decimals(from).max(decimals(step));
    Ok((0..n)
        .map(|k| round_decimals(from + k as f64 * step, digits))
        .collect())
}

/// `num` evenly spaced points from `from` to `to`, both included.
pub fn linspace(from: f64, to: f64, num: usize) -> Result<Vec<f64>, String> {
    check_len(num as f64)?;
    if num == 1 {
        return Ok(vec![from]);
    }
    let digits = decimals(from)
        .max(decimals(to))
        .max(decimals((to - from) / (num - 1) as f64));
    Ok((0..num)
        .map(|k| {
            if k + 1 == num {
                to
            } else {
                round_decimals(
                    from + (to - from) * k as f64 / (num - 1) as f64,
                    digits.min(15),
                )
            }
        })
        .collect())
}

/// `num` geometrically spaced points from `from` to `to` (both > 0), both included, rounded
/// to 12 significant digits.
pub fn logspace(from: f64, to: f64, num: usize) -> Result<Vec<f64>, String> {
    if !(from > 0.0 && to > 0.0 && from.is_finite() && to.is_finite()) {
        return Err(format!(
            "a log range needs `from` and `to` above 0, got {from} and {to}"
        ));
    }
    check_len(num as f64)?;
    if num == 1 {
        return Ok(vec![from]);
    }
    let (a, b) = (from.ln(), to.ln());
    Ok((0..num)
        .map(|k| match k {
            0 => from,
            k if k + 1 == num => to,
            k => round_significant((a + (b - a) * k as f64 / (num - 1) as f64).exp()),
        })
        .collect())
}

/// Python/Hydra `range(start, stop, step)`: `stop` excluded. Integers when all three are
/// integers, else floats rounded like [`float_range`].
pub fn exclusive_range(
    start: &ParamValue,
    stop: &ParamValue,
    step: &ParamValue,
) -> Result<Vec<ParamValue>, String> {
    if let (ParamValue::Int(a), ParamValue::Int(b), ParamValue::Int(s)) = (start, stop, step) {
        if *s == 0 {
            return Err("range step must not be 0".into());
        }
        let n = check_len(((b - a) as f64 / *s as f64).ceil())?;
        return Ok((0..n as i64).map(|k| ParamValue::Int(a + k * s)).collect());
    }
    let num = |v: &ParamValue| {
        v.as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("range arguments must be numbers, got `{v}`"))
    };
    let (a, b, s) = (num(start)?, num(stop)?, num(step)?);
    if s == 0.0 {
        return Err("range step must not be 0".into());
    }
    let n = check_len(((b - a) / s - 1e-9).ceil())?;
    let digits = decimals(a).max(decimals(s));
    Ok((0..n)
        .map(|k| ParamValue::Float(round_decimals(a + k as f64 * s, digits)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ints(v: &[i64]) -> Vec<ParamValue> {
        v.iter().map(|&x| ParamValue::Int(x)).collect()
    }

    #[test]
    fn float_ranges_have_no_drift() {
        assert_eq!(
            float_range(0.1, 0.3, 0.1).expect("range"),
            vec![0.1, 0.2, 0.3]
        );
        assert_eq!(
            float_range(0.0, 1.0, 0.1).expect("range"),
            vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        );
        // `to` not reached exactly: stop before passing it.
        assert_eq!(
            float_range(0.0, 1.0, 0.3).expect("range"),
            vec![0.0, 0.3, 0.6, 0.9]
        );
        assert_eq!(
            float_range(1.0, 0.5, -0.25).expect("range"),
            vec![1.0, 0.75, 0.5]
        );
        assert!(float_range(0.0, 1.0, 0.0).is_err());
        assert!(float_range(1.0, 0.0, 0.1).is_err());
    }

    #[test]
    fn int_ranges_are_inclusive() {
        assert_eq!(int_range(5, 50, 5).expect("range").len(), 10);
        assert_eq!(int_range(2, 7, 2).expect("range"), vec![2, 4, 6]);
        assert_eq!(int_range(3, 3, 1).expect("range"), vec![3]);
        assert!(int_range(5, 1, 1).is_err());
        assert!(int_range(1, 5, 0).is_err());
    }

    #[test]
    fn log_and_linear_spacing() {
        assert_eq!(
            logspace(0.001, 1.0, 4).expect("log"),
            vec![0.001, 0.01, 0.1, 1.0]
        );
        assert_eq!(
            logspace(1.0, 16.0, 5).expect("log"),
            vec![1.0, 2.0, 4.0, 8.0, 16.0]
        );
        assert!(logspace(0.0, 1.0, 3).is_err());
        assert_eq!(
            linspace(0.0, 1.0, 5).expect("lin"),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(linspace(0.1, 0.3, 3).expect("lin"), vec![0.1, 0.2, 0.3]);
    }

    #[test]
    fn hydra_range_excludes_stop() {
        let r = exclusive_range(
            &ParamValue::Int(50),
            &ParamValue::Int(200),
            &ParamValue::Int(50),
        );
        assert_eq!(r.expect("range"), ints(&[50, 100, 150]));
        let r = exclusive_range(
            &ParamValue::Float(0.1),
            &ParamValue::Float(0.4),
            &ParamValue::Float(0.1),
        );
        assert_eq!(
            r.expect("range"),
            vec![
                ParamValue::Float(0.1),
                ParamValue::Float(0.2),
                ParamValue::Float(0.3)
            ]
        );
        let r = exclusive_range(
            &ParamValue::Int(5),
            &ParamValue::Int(0),
            &ParamValue::Int(-2),
        );
        assert_eq!(r.expect("range"), ints(&[5, 3, 1]));
    }

    #[test]
    fn odometer_turns_last_axis_fastest() {
        let g = Grid::new(vec![
            Axis::single("a", ints(&[1, 2])),
            Axis::single("b", ints(&[10, 20, 30])),
        ]);
        let mut seen = Vec::new();
        g.try_for_each::<()>(|d| {
            seen.push(d.to_vec());
            Ok(())
        })
        .expect("visit");
        assert_eq!(
            seen,
            vec![
                vec![0, 0],
                vec![0, 1],
                vec![0, 2],
                vec![1, 0],
                vec![1, 1],
                vec![1, 2]
            ]
        );
        assert_eq!(g.digits_of(4), Some(vec![1, 1]));
        let pairs: Vec<_> = g
            .assignments(&[1, 2])
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), ParamValue::Int(2)),
                ("b".into(), ParamValue::Int(30))
            ]
        );
    }

    #[test]
    fn zipped_axis_moves_members_together() {
        let zipped = Axis {
            names: vec!["fast".into(), "slow".into()],
            values: vec![ints(&[5, 50]), ints(&[10, 100])],
        };
        let g = Grid::new(vec![zipped, Axis::single("x", ints(&[1, 2, 3]))]);
        assert_eq!(g.count(), Some(6));
        let d = g.digits_of(4).expect("digits");
        let pairs: Vec<_> = g.assignments(&d).map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(pairs, vec!["fast=10", "slow=100", "x=2"]);
    }

    proptest! {
        #[test]
        fn count_is_product_and_indices_round_trip(lens in proptest::collection::vec(1usize..6, 0..5)) {
            let axes: Vec<Axis> = lens
                .iter()
                .enumerate()
                .map(|(k, &n)| Axis::single(&format!("p{k}"), (0..n as i64).map(ParamValue::Int).collect()))
                .collect();
            let g = Grid::new(axes);
            let product: u64 = lens.iter().map(|&n| n as u64).product();
            prop_assert_eq!(g.count(), Some(product));
            let mut n = 0u64;
            g.try_for_each::<proptest::test_runner::TestCaseError>(|d| {
                prop_assert_eq!(g.index_of(d), n);
                let back = g.digits_of(n);
                prop_assert_eq!(back.as_deref(), Some(d));
                n += 1;
                Ok(())
            })?;
            prop_assert_eq!(n, product);
            prop_assert_eq!(g.digits_of(product), None);
        }

        #[test]
        fn float_range_ends_at_or_before_to(from in -100i32..100, steps in 1u32..50, tenths in 1u32..20) {
            let step = tenths as f64 / 10.0;
            let from = from as f64 / 10.0;
            let to = from + steps as f64 * step;
            let v = float_range(from, to, step).map_err(TestCaseError::fail)?;
            prop_assert_eq!(v.len() as u32, steps + 1);
            let last = *v.last().expect("non-empty");
            prop_assert!((last - to).abs() < 1e-9);
            for x in &v {
                // Every value is its own shortest decimal with at most 2 decimals.
                prop_assert!(decimals(*x) <= 2, "{}", x);
            }
        }
    }
}
