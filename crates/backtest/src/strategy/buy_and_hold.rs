//! `buy_and_hold`: buys the target weights (`w_<SYMBOL>`, equal by default) once, on the
//! first trading day, and never trades again, whatever the configured rebalance schedule.
//!
//! As QSTrader's `buy_and_hold` rebalance with a 14:30 start time: the orders are sized
//! with the first day's open and filled at that same open.

use super::fixed_weights::weights_strategy;
use super::{weights_of, Setup, Strategy, StrategyInfo};
use crate::config::Rebalance;
use crate::params::Params;
use crate::simulator::BacktestError;

pub const INFO: StrategyInfo = weights_strategy(
    "buy_and_hold",
    "buys the weights w_<SYMBOL> (equal by default) on the first day and holds",
    build,
);

fn build<'a>(
    setup: &Setup<'a>,
    resolved: &Params,
) -> Result<Box<dyn Strategy + 'a>, BacktestError> {
    let weights = weights_of(&setup.data.symbols, resolved)?;
    Ok(Box::new(BuyAndHold {
        weights,
        bought: false,
    }))
}

/// Buys once.
#[derive(Debug)]
pub struct BuyAndHold {
    weights: Vec<f64>,
    bought: bool,
}

impl Strategy for BuyAndHold {
    fn decide(&mut self, _day: usize, weights: &mut [f64]) -> bool {
        if self.bought {
            return false;
        }
        self.bought = true;
        weights.copy_from_slice(&self.weights);
        true
    }

    fn schedule(&self, _configured: Rebalance) -> Rebalance {
        Rebalance::BuyAndHold
    }
}
