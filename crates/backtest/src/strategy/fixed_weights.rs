//! `fixed_weights`: constant target weights (`w_<SYMBOL>`), rebalanced on the configured
//! schedule. QSTrader's `FixedSignalsAlphaModel`; 60/40 is `w_SPY = 0.6, w_AGG = 0.4`.
//!
//! Unlike QSTrader, weights are not normalised to sum to 1: they must be >= 0 and sum to at
//! most 1, and whatever they leave is held in cash (weights summing to 1 behave exactly as
//! in QSTrader).

use super::{
    check_weight_sum, no_warm_up, weight_params, weights_of, BuildFn, Setup, Strategy, StrategyInfo,
};
use crate::params::Params;
use crate::simulator::BacktestError;

pub const INFO: StrategyInfo = weights_strategy(
    "fixed_weights",
    "constant target weights per symbol (w_<SYMBOL>), rebalanced on schedule",
    build,
);

/// The description of a strategy whose parameters are target weights `w_<SYMBOL>`
/// ([`weight_params`], summing to at most 1: [`check_weight_sum`]); `fixed_weights` and
/// `buy_and_hold` differ only in name, summary and how `build_fn` trades them.
pub(super) const fn weights_strategy(
    name: &'static str,
    summary: &'static str,
    build_fn: BuildFn,
) -> StrategyInfo {
    StrategyInfo {
        name,
        summary,
        declare_fn: weight_params,
        check_fn: check_weight_sum,
        warm_up_fn: no_warm_up,
        build_fn,
    }
}

fn build<'a>(
    setup: &Setup<'a>,
    resolved: &Params,
) -> Result<Box<dyn Strategy + 'a>, BacktestError> {
    let weights = weights_of(&setup.data.symbols, resolved)?;
    Ok(Box::new(FixedWeights { weights }))
}

/// Rebalances to the same weights on every scheduled day.
#[derive(Debug)]
pub struct FixedWeights {
    weights: Vec<f64>,
}

impl Strategy for FixedWeights {
    fn decide(&mut self, _day: usize, weights: &mut [f64]) -> bool {
        weights.copy_from_slice(&self.weights);
        true
    }
}
