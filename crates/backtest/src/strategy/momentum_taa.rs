//! `momentum_taa`: QSTrader's `TopNMomentumAlphaModel` (examples/momentum_taa.py). On each
//! rebalance day, ranks the symbols by their holding-period return over the last
//! `lookback` closes and holds the `top_n` best in equal weights (`1 / top_n` each).
//!
//! QSTrader details kept: the price buffer holds `lookback + 1` closes, so the return is
//! `close[d] / close[d - lookback] - 1`, counted in simulated days (holidays of the
//! `weekdays` calendar repeat the last close and count); before `lookback` days have been
//! seen since the start, all weights are zero (a run of no more than `lookback` days could
//! never trade: [`BacktestError::WarmUp`]); ties keep the universe order. A symbol without
//! a price yet (NaN) is never selected.

use super::{int_param, no_check, Setup, Strategy, StrategyInfo, WarmUp};
use crate::params::{ParamError, ParamSpec, Params};
use crate::simulator::BacktestError;

pub const INFO: StrategyInfo = StrategyInfo {
    name: "momentum_taa",
    summary: "top_n symbols by lookback-day return, equal weights (QSTrader's momentum example)",
    declare_fn: declare,
    check_fn: check,
    warm_up_fn: warm_up,
    build_fn: build,
};

fn declare(_symbols: &[String]) -> Vec<ParamSpec> {
    vec![
        ParamSpec::int(
            "lookback",
            126,
            1,
            5000,
            "momentum lookback in days: return from close[d - lookback] to close[d]",
        ),
        ParamSpec::int(
            "top_n",
            3,
            1,
            1000,
            "number of symbols held (equal weights); at most the number of symbols",
        ),
    ]
}

fn check(symbols: &[String], resolved: &Params) -> Result<(), ParamError> {
    no_check(symbols, resolved)?;
    let top_n = int_param(resolved, "top_n")?;
    if top_n as usize > symbols.len() {
        return Err(ParamError::Invalid(format!(
            "top_n = {top_n} is more than the {} symbols of the universe",
            symbols.len()
        )));
    }
    Ok(())
}

/// The first weights come on the `lookback`-th day from the start (QSTrader's warm-up counts
/// the days seen, whatever the symbols' prices).
fn warm_up(resolved: &Params) -> Result<Option<WarmUp>, ParamError> {
    let lookback = int_param(resolved, "lookback")?;
    Ok(Some(WarmUp {
        param: "lookback",
        days: usize::try_from(lookback).unwrap_or(usize::MAX),
        from_first_price_of: None,
    }))
}

fn build<'a>(
    setup: &Setup<'a>,
    resolved: &Params,
) -> Result<Box<dyn Strategy + 'a>, BacktestError> {
    let lookback = int_param(resolved, "lookback")? as usize;
    let top_n = int_param(resolved, "top_n")? as usize;
    if top_n > setup.n_symbols() {
        return Err(BacktestError::Invalid(format!(
            "top_n = {top_n} is more than the {} symbols",
            setup.n_symbols()
        )));
    }
    let n = setup.n_symbols();
    Ok(Box::new(MomentumTaa {
        close: &setup.data.close,
        start: setup.start,
        lookback,
        top_n,
        momenta: Vec::with_capacity(n),
    }))
}

/// Ranks by lookback return on each decision day.
#[derive(Debug)]
pub struct MomentumTaa<'a> {
    close: &'a [Vec<f64>],
    start: usize,
    lookback: usize,
    top_n: usize,
    /// Scratch: (momentum, symbol index), reused across decisions.
    momenta: Vec<(f64, usize)>,
}

impl Strategy for MomentumTaa<'_> {
    fn decide(&mut self, day: usize, weights: &mut [f64]) -> bool {
        weights.fill(0.0);
        // QSTrader's SignalsCollection.warmup counts the days seen, this one included.
        let seen = day + 1 - self.start;
        if seen < self.lookback {
            return true;
        }
        let from = day.saturating_sub(self.lookback).max(self.start);
        self.momenta.clear();
        for (i, closes) in self.close.iter().enumerate() {
            let momentum = closes[day] / closes[from] - 1.0;
            if momentum.is_finite() {
                self.momenta.push((momentum, i));
            }
        }
        // Stable sort, descending: ties keep the universe order, as Python's sorted().
        self.momenta
            .sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        let weight = 1.0 / self.top_n as f64;
        for &(_, i) in self.momenta.iter().take(self.top_n) {
            weights[i] = weight;
        }
        true
    }
}
