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
    let signal = match kind {
        "ema" => ema_signal(closes, fast, slow, long_only),
        _ => sma_signal(closes, fast, slow, long_only),
    };
    Ok(Box::new(MaCross {
        signal,
        start: setup.start,
        last: None,
    }))
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

/// Looks up the precomputed signal; trades on changes.
#[derive(Debug)]
pub struct MaCross {
    signal: Vec<i8>,
    start: usize,
    last: Option<i8>,
}

impl Strategy for MaCross {
    fn decide(&mut self, day: usize, weights: &mut [f64]) -> bool {
        let s = self.signal[day - self.start];
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
        let from = day.saturating_sub(self.start).min(self.signal.len());
        let rest = &self.signal[from..];
        self.start + from + rest.iter().position(|s| *s != last).unwrap_or(rest.len())
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
}
