//! `ewmac`: Carver-style trend following, pysystemtrade's chapter-15 EWMAC rule with
//! volatility targeting, long/short over several instruments at equal weight (meant for
//! back-adjusted futures prices).
//!
//! For each instrument, on each day's close (data from the simulation start up to that day):
//!
//! 1. **Raw forecast** (pysystemtrade `systems/provided/futures_chapter15/rules.py::ewmac`):
//!    `(EWMA_fast(price) − EWMA_slow(price)) / σ`, where the EWMAs are pandas'
//!    `ewm(span=…).mean()` with `adjust=True` (the pandas default, which pysystemtrade uses)
//!    and `σ` is the daily price-change volatility: pysystemtrade's `robust_vol_calc`
//!    without its vol floor, i.e. `price.diff().ewm(span=vol_span, adjust=True,
//!    min_periods=10).std()` (bias-corrected), at least 1e-10, forward-filled.
//! 2. **Forecast** = raw × `forecast_scalar`, capped to ±`cap`. The default scalar 4.1 is
//!    Carver's later estimate for EWMAC 16/64 (the chapter-15 config of pysystemtrade uses
//!    3.75); change it with `fast`.
//! 3. **Position**: pysystemtrade's vol targeting with a contract multiplier of 1 and no
//!    instrument diversification multiplier: hold `forecast / 10 × equity × vol_target / 16
//!    / σ / n` units (16 = √256, pysystemtrade's business days per year), `n` = the number of
//!    instruments with a forecast that day (equal weights among the live ones).
//!
//! The simulator takes signed weights and holds `|w| × equity / |price|` units with the sign
//! of `w`, so the weight handed to it is `forecast / 10 × vol_target / 16 × |price| / σ / n`
//! — the brief's `forecast/10 × vol_target / annualised return vol / n` with the return vol
//! taken as `16 σ / |price|`. The price level cancels out of the position, so back-adjusted
//! prices near zero or below it (US10 and CRUDE_W go negative) size correctly: a long forecast
//! is a long position whatever the sign of the price. Sizing uses current equity (the
//! simulator compounds), where pysystemtrade uses a fixed notional capital.
//!
//! The strategy follows the configured rebalance schedule (`daily` is the natural one for a
//! trend follower). On a scheduled day it rebalances only when some instrument's target
//! position (in units per unit of equity) has moved more than `buffer` × its average
//! position (the position at forecast 10) since the last rebalance, pysystemtrade's position
//! buffering; the simulator then re-sizes every instrument, where pysystemtrade would trade
//! only the ones outside their buffer. An instrument is flat until its volatility has 10
//! price changes, and while its price is missing.

use super::{float_param, int_param, no_warm_up, Setup, Strategy, StrategyInfo};
use crate::params::{ParamError, ParamSpec, Params};
use crate::simulator::BacktestError;

pub const INFO: StrategyInfo = StrategyInfo {
    name: "ewmac",
    summary: "EWMA crossover trend following with volatility targeting (pysystemtrade chapter 15)",
    declare_fn: declare,
    check_fn: check,
    warm_up_fn: no_warm_up,
    build_fn: build,
};

/// pysystemtrade's `robust_vol_calc` default: no volatility before 10 observations.
pub const VOL_MIN_PERIODS: usize = 10;
/// pysystemtrade's `vol_abs_min`.
pub const VOL_ABS_MIN: f64 = 1e-10;
/// √(business days per year) as pysystemtrade annualises (`ROOT_BDAYS_INYEAR`).
pub const ROOT_DAYS_IN_YEAR: f64 = 16.0;
/// pysystemtrade's average absolute forecast.
pub const AVERAGE_FORECAST: f64 = 10.0;

fn declare(_symbols: &[String]) -> Vec<ParamSpec> {
    vec![
        ParamSpec::int("fast", 16, 1, 1000, "fast EWMA span, in days"),
        ParamSpec::int(
            "slow",
            0,
            0,
            4000,
            "slow EWMA span, in days (0: 4 x fast, Carver's ratio)",
        ),
        ParamSpec::float(
            "vol_target",
            0.20,
            0.001,
            5.0,
            "annualised volatility target of the portfolio (0.2 = 20%)",
        ),
        ParamSpec::float(
            "forecast_scalar",
            4.1,
            0.0,
            1000.0,
            "multiplies the raw forecast so its average absolute value is about 10 \
             (4.1 for 16/64; pysystemtrade's chapter-15 config: 10.6 for 2/8, 7.5 for 4/16, \
             5.3 for 8/32, 3.75 for 16/64, 2.65 for 32/128, 1.87 for 64/256)",
        ),
        ParamSpec::float("cap", 20.0, 0.0, 1000.0, "forecasts are capped to +/- cap"),
        ParamSpec::int(
            "vol_span",
            35,
            2,
            1000,
            "span of the EWMA volatility of daily price changes, in days",
        ),
        ParamSpec::float(
            "buffer",
            0.1,
            0.0,
            10.0,
            "rebalance only when an instrument's target moved by more than this fraction of \
             its average position (the position at forecast 10; pysystemtrade's buffer_size); \
             0: whenever a target changes",
        ),
    ]
}

fn check(symbols: &[String], _resolved: &Params) -> Result<(), ParamError> {
    if symbols.is_empty() {
        return Err(ParamError::Invalid(
            "ewmac needs at least one symbol".to_string(),
        ));
    }
    Ok(())
}

/// The resolved parameters of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EwmacParams {
    pub fast: usize,
    /// The slow span actually used (`4 × fast` when the parameter is 0).
    pub slow: usize,
    pub vol_target: f64,
    pub forecast_scalar: f64,
    pub cap: f64,
    pub vol_span: usize,
    /// Rebalance only when a target moves more than this many average positions.
    pub buffer: f64,
}

impl EwmacParams {
    /// Reads a resolved parameter set.
    pub fn from_params(resolved: &Params) -> Result<EwmacParams, ParamError> {
        let fast = positive(int_param(resolved, "fast")?, "fast")?;
        let slow = match int_param(resolved, "slow")? {
            0 => 4 * fast,
            s => positive(s, "slow")?,
        };
        Ok(EwmacParams {
            fast,
            slow,
            vol_target: float_param(resolved, "vol_target")?,
            forecast_scalar: float_param(resolved, "forecast_scalar")?,
            cap: float_param(resolved, "cap")?,
            vol_span: positive(int_param(resolved, "vol_span")?, "vol_span")?,
            buffer: float_param(resolved, "buffer")?,
        })
    }
}

fn positive(value: i64, name: &str) -> Result<usize, ParamError> {
    usize::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ParamError::Invalid(format!("`{name}` must be a positive integer")))
}

fn build<'a>(
    setup: &Setup<'a>,
    resolved: &Params,
) -> Result<Box<dyn Strategy + 'a>, BacktestError> {
    check(&setup.data.symbols, resolved)?;
    let params = EwmacParams::from_params(resolved)?;
    let closes: Vec<&[f64]> = setup
        .data
        .close
        .iter()
        .map(|c| &c[setup.start..setup.end])
        .collect();
    Ok(Box::new(Ewmac {
        targets: targets(&closes, &params),
        n_symbols: closes.len(),
        start: setup.start,
        buffer: params.buffer,
        last_units: None,
    }))
}

/// pandas `Series.ewm(span=span, adjust=True).mean()` (`ignore_na=False`, `min_periods=0`),
/// the same recurrence as pandas' `ewm` kernel: NaN until the first observation; a NaN
/// later keeps the last value and still decays the weights.
pub fn ewma(values: &[f64], span: f64) -> Vec<f64> {
    let alpha = 2.0 / (span + 1.0);
    let old_wt_factor = 1.0 - alpha;
    let new_wt = 1.0;
    let mut out = Vec::with_capacity(values.len());
    let mut weighted = f64::NAN;
    let mut old_wt = 1.0;
    for &cur in values {
        let is_observation = !cur.is_nan();
        if !weighted.is_nan() {
            old_wt *= old_wt_factor;
            if is_observation {
                // pandas: "avoid numerical errors on constant series"
                if weighted != cur {
                    weighted = (old_wt * weighted + new_wt * cur) / (old_wt + new_wt);
                }
                old_wt += new_wt;
            }
        } else if is_observation {
            weighted = cur;
        }
        out.push(weighted);
    }
    out
}

/// pandas `Series.ewm(span=span, adjust=True, min_periods=min_periods).std()` (bias-corrected,
/// `ignore_na=False`): the same recurrence as pandas' `ewmcov` kernel, then the square root
/// (negative variances from rounding give 0). NaN until `min_periods` observations.
pub fn ewm_std(values: &[f64], span: f64, min_periods: usize) -> Vec<f64> {
    let alpha = 2.0 / (span + 1.0);
    let old_wt_factor = 1.0 - alpha;
    let new_wt = 1.0;
    let min_periods = min_periods.max(1);
    let mut out = Vec::with_capacity(values.len());
    let mut mean = f64::NAN;
    let mut cov = 0.0;
    let mut sum_wt = 1.0;
    let mut sum_wt2 = 1.0;
    let mut old_wt = 1.0;
    let mut nobs = 0usize;
    for (i, &cur) in values.iter().enumerate() {
        let is_observation = !cur.is_nan();
        nobs += usize::from(is_observation);
        if i == 0 {
            mean = cur;
        } else if !mean.is_nan() {
            sum_wt *= old_wt_factor;
            sum_wt2 *= old_wt_factor * old_wt_factor;
            old_wt *= old_wt_factor;
            if is_observation {
                let old_mean = mean;
                if mean != cur {
                    mean = (old_wt * old_mean + new_wt * cur) / (old_wt + new_wt);
                }
                cov = (old_wt * (cov + (old_mean - mean) * (old_mean - mean))
                    + new_wt * (cur - mean) * (cur - mean))
                    / (old_wt + new_wt);
                sum_wt += new_wt;
                sum_wt2 += new_wt * new_wt;
                old_wt += new_wt;
            }
        } else if is_observation {
            mean = cur;
        }
        let var = if nobs >= min_periods {
            let numerator = sum_wt * sum_wt;
            let denominator = numerator - sum_wt2;
            if denominator > 0.0 {
                numerator / denominator * cov
            } else {
                f64::NAN
            }
        } else {
            f64::NAN
        };
        out.push(if var.is_nan() {
            var
        } else {
            var.max(0.0).sqrt()
        });
    }
    out
}

/// The daily price-change volatility: pysystemtrade's `robust_vol_calc` without the vol
/// floor (`price.diff().ewm(span, adjust=True, min_periods=10).std()`, at least 1e-10),
/// forward-filled as the chapter-15 rule does (`vol.ffill()`).
pub fn price_change_vol(prices: &[f64], span: usize) -> Vec<f64> {
    let mut diffs = Vec::with_capacity(prices.len());
    diffs.push(f64::NAN);
    diffs.extend(prices.windows(2).map(|w| w[1] - w[0]));
    let mut vol = ewm_std(&diffs, span as f64, VOL_MIN_PERIODS);
    let mut last = f64::NAN;
    for v in &mut vol {
        if v.is_nan() {
            *v = last;
        } else {
            *v = v.max(VOL_ABS_MIN);
            last = *v;
        }
    }
    vol
}

/// The scaled, capped forecast of one instrument on each day (NaN while it has none).
pub fn forecast(prices: &[f64], params: &EwmacParams) -> Vec<f64> {
    let vol = price_change_vol(prices, params.vol_span);
    forecast_given_vol(prices, &vol, params)
}

/// [`forecast`] with the volatility ([`price_change_vol`]) already computed.
fn forecast_given_vol(prices: &[f64], vol: &[f64], params: &EwmacParams) -> Vec<f64> {
    let fast = ewma(prices, params.fast as f64);
    let slow = ewma(prices, params.slow as f64);
    fast.iter()
        .zip(&slow)
        .zip(vol)
        .map(|((f, s), v)| {
            let scaled = (f - s) / v * params.forecast_scalar;
            if scaled.is_nan() {
                scaled
            } else {
                scaled.clamp(-params.cap, params.cap)
            }
        })
        .collect()
}

/// What the strategy trades towards on every day, day-major (`[day × n + symbol]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targets {
    /// Simulator weights: `forecast / 10 × vol_target / 16 × |price| / σ / n_live`.
    pub weights: Vec<f64>,
    /// Units held per unit of equity: `forecast / 10 × vol_target / 16 / σ / n_live`.
    pub units: Vec<f64>,
    /// The units of an average forecast (10): `vol_target / 16 / σ / n_live`, the scale of
    /// the position buffer. 0 where the instrument has no forecast.
    pub average_units: Vec<f64>,
}

/// The targets of every instrument on every day (see the module docs).
pub fn targets(closes: &[&[f64]], params: &EwmacParams) -> Targets {
    let n_symbols = closes.len();
    let n_days = closes.iter().map(|c| c.len()).min().unwrap_or(0);
    // Per instrument and day: (forecast, vol, |price|), live when all are finite.
    let mut per_instrument: Vec<(Vec<f64>, Vec<f64>)> = Vec::with_capacity(n_symbols);
    for prices in closes {
        let prices = &prices[..n_days];
        let vol = price_change_vol(prices, params.vol_span);
        let fc = forecast_given_vol(prices, &vol, params);
        per_instrument.push((fc, vol));
    }
    let is_live = |i: usize, day: usize| {
        let (fc, vol) = &per_instrument[i];
        fc[day].is_finite() && vol[day].is_finite() && closes[i][day].is_finite()
    };
    let mut out = Targets {
        weights: vec![0.0; n_days * n_symbols],
        units: vec![0.0; n_days * n_symbols],
        average_units: vec![0.0; n_days * n_symbols],
    };
    for day in 0..n_days {
        let live = (0..n_symbols).filter(|&i| is_live(i, day)).count();
        for i in (0..n_symbols).filter(|&i| is_live(i, day)) {
            let (fc, vol) = &per_instrument[i];
            let average = params.vol_target / ROOT_DAYS_IN_YEAR / vol[day] / live as f64;
            let units = fc[day] / AVERAGE_FORECAST * average;
            let k = day * n_symbols + i;
            out.average_units[k] = average;
            out.units[k] = units;
            out.weights[k] = units * closes[i][day].abs();
        }
    }
    out
}

/// The simulator weights of [`targets`].
pub fn target_weights(closes: &[&[f64]], params: &EwmacParams) -> Vec<f64> {
    targets(closes, params).weights
}

/// Looks up the precomputed targets of the decision day and rebalances when one
/// instrument's target has left its buffer.
#[derive(Debug)]
pub struct Ewmac {
    targets: Targets,
    n_symbols: usize,
    start: usize,
    buffer: f64,
    /// The units per unit of equity of the last rebalance.
    last_units: Option<Vec<f64>>,
}

impl Ewmac {
    /// Whether any instrument's target moved more than `buffer` average positions from the
    /// last rebalance (or started or stopped having a forecast).
    fn outside_buffer(&self, from: usize) -> bool {
        let Some(last) = &self.last_units else {
            return self.targets.units[from..from + self.n_symbols]
                .iter()
                .any(|u| *u != 0.0);
        };
        (0..self.n_symbols).any(|i| {
            let (u, l) = (self.targets.units[from + i], last[i]);
            let average = self.targets.average_units[from + i];
            if u == l {
                false
            } else if average > 0.0 && l != 0.0 {
                (u - l).abs() > self.buffer * average
            } else {
                // Starts or stops trading: beyond the buffer of a flat position?
                average <= 0.0 || u.abs() > self.buffer * average
            }
        })
    }
}

impl Strategy for Ewmac {
    fn decide(&mut self, day: usize, weights: &mut [f64]) -> bool {
        let from = (day - self.start) * self.n_symbols;
        if from + self.n_symbols > self.targets.weights.len() || !self.outside_buffer(from) {
            return false;
        }
        weights.copy_from_slice(&self.targets.weights[from..from + self.n_symbols]);
        self.last_units = Some(self.targets.units[from..from + self.n_symbols].to_vec());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_by_hand() {
        // span 3: alpha 0.5, adjust=True weights 1, 0.5, 0.25 (newest first).
        // [1, 2, 4]: 1; (0.5*1 + 2)/1.5 = 5/3; (0.25*1 + 0.5*2 + 4)/1.75 = 3.
        let e = ewma(&[1.0, 2.0, 4.0], 3.0);
        assert_eq!(e[0], 1.0);
        assert!((e[1] - 5.0 / 3.0).abs() < 1e-15);
        assert!((e[2] - 3.0).abs() < 1e-15);
    }

    #[test]
    fn ewm_std_of_two_points() {
        // Two observations with equal weight factor: pandas ewm(span=3).std() of [1, 3] is
        // weights 0.5, 1: mean 7/3, biased var = (0.5*(4/3)^2 + (2/3)^2)/1.5 = 8/9,
        // correction 1.5^2 / (1.5^2 - 1.25) = 2.25: var 2 -> std sqrt(2).
        let s = ewm_std(&[1.0, 3.0], 3.0, 1);
        assert!(s[0].is_nan());
        assert!((s[1] - 2f64.sqrt()).abs() < 1e-15, "{}", s[1]);
    }

    #[test]
    fn buffer_by_hand() {
        // One instrument, average position 1 unit: targets 0, 0.5, 0.52, 0.7, 0.65 units
        // (weights = units x price 2). Buffer 0.1: day 0 flat (nothing to do), day 1 trades
        // (0.5 from flat), day 2 is inside the buffer (0.02), day 3 leaves it (0.2 from the
        // 0.5 traded), day 4 is inside it again (0.05 from 0.7).
        let units = vec![0.0, 0.5, 0.52, 0.7, 0.65];
        let mut strategy = Ewmac {
            targets: Targets {
                weights: units.iter().map(|u| u * 2.0).collect(),
                average_units: vec![0.0, 1.0, 1.0, 1.0, 1.0],
                units,
            },
            n_symbols: 1,
            start: 0,
            buffer: 0.1,
            last_units: None,
        };
        let mut w = [0.0];
        let decided: Vec<bool> = (0..5).map(|d| strategy.decide(d, &mut w)).collect();
        assert_eq!(decided, [false, true, false, true, false]);
        assert_eq!(w, [1.4]);
    }

    #[test]
    fn slow_zero_means_four_times_fast() {
        let mut p = Params::new();
        for s in declare(&[]) {
            p.insert(s.name.clone(), s.default.clone());
        }
        let e = EwmacParams::from_params(&p).expect("defaults");
        assert_eq!((e.fast, e.slow, e.vol_span), (16, 64, 35));
        assert_eq!((e.vol_target, e.forecast_scalar, e.cap), (0.2, 4.1, 20.0));
        assert_eq!(e.buffer, 0.1);
    }
}
