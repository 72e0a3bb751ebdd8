//! Strategies behind one trait, and the registry that names them.
//!
//! A strategy is two things:
//!
//! * a [`StrategyInfo`]: its name, a one-line summary, the parameters it declares for a
//!   universe of symbols, cross checks between them, and a constructor;
//! * a [`Strategy`]: the per-run object the constructor returns. The simulator asks it for
//!   target weights on each rebalance day, after that day's close.
//!
//! Adding a strategy is one new file in this directory (a `pub const INFO: StrategyInfo`
//! plus a type implementing [`Strategy`]) and one line in [`registry::ALL`].
//!
//! Constructors get the whole [`MarketData`] and the simulated day range ([`Setup`]), so
//! they precompute their signals over all days once (moving averages, momentum, ...);
//! [`Strategy::decide`] is then a lookup. `MarketData` is shared by reference: a sweep runs
//! many strategies over one loaded data set from several threads.

use crate::config::{BacktestConfig, Rebalance};
use crate::data::MarketData;
use crate::params::{self, ParamError, ParamSpec, ParamValue, Params};
use crate::simulator::BacktestError;

pub mod buy_and_hold;
pub mod ewmac;
pub mod fixed_weights;
pub mod ma_cross;
pub mod momentum_taa;

/// The per-run part of a strategy.
///
/// Weights are signed fractions of equity, one per symbol in `MarketData::symbols` order:
/// `0.6` means 60% of (cash-buffered) equity long, `-1.0` a short position of 100% of it.
/// The simulator turns them into whole-share targets at the decision day's close and fills
/// the differences at the next day's open (QSTrader 0.3.0 semantics).
pub trait Strategy {
    /// Decides the target weights at the close of day `day` (an index into
    /// `MarketData::dates`, with `setup.trade_from <= day < setup.end`). `weights` holds the
    /// previous targets (all zero before the first decision): overwrite it and return
    /// `true` to rebalance to it, or return `false` to leave the portfolio as it is.
    fn decide(&mut self, day: usize, weights: &mut [f64]) -> bool;

    /// The schedule this strategy is evaluated on, given the configured one. The default
    /// follows the configuration; a strategy whose signal must be checked every day
    /// (`ma_cross`) or only once (`buy_and_hold`) overrides it.
    fn schedule(&self, configured: Rebalance) -> Rebalance {
        configured
    }

    /// A hint for speed: the first day `>= day` on which [`Strategy::decide`] may return
    /// `true`. The simulator marks the days before it in bulk without asking. The default,
    /// `day`, asks on every scheduled day; `ma_cross` returns its next signal change.
    fn next_change(&self, day: usize) -> usize {
        day
    }
}

/// What a strategy constructor sees: the data and the day range of the run.
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a> {
    pub data: &'a MarketData,
    pub config: &'a BacktestConfig,
    /// First simulated day (index into `data.dates`): signals warm up from here.
    pub start: usize,
    /// First day on which decisions are made and equity is recorded (the burn-in date).
    pub trade_from: usize,
    /// One past the last simulated day.
    pub end: usize,
}

impl Setup<'_> {
    /// The number of symbols (columns) of the data.
    pub fn n_symbols(&self) -> usize {
        self.data.symbols.len()
    }
}

/// How many days of prices a strategy needs before its first signal, and which parameter
/// sets that: a run whose days cannot cover it would never trade
/// ([`BacktestError::WarmUp`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarmUp {
    /// The parameter that sets it (`slow`, `lookback`).
    pub param: &'static str,
    /// The first signal comes on this day of prices (1-based: `days = 1` signals on the
    /// first day).
    pub days: usize,
    /// Counted from this symbol's first price (an index into the data's symbols) rather
    /// than from the start of the run.
    pub from_first_price_of: Option<usize>,
}

/// A strategy's [`WarmUp`] for a resolved parameter set (`None`: it can signal on the first
/// day). Cheap: no data is read.
pub type WarmUpFn = fn(resolved: &Params) -> Result<Option<WarmUp>, ParamError>;

/// A strategy without a warm-up.
pub fn no_warm_up(_resolved: &Params) -> Result<Option<WarmUp>, ParamError> {
    Ok(None)
}

/// Builds a strategy's per-run object from its resolved parameters.
pub type BuildFn = for<'a> fn(&Setup<'a>, &Params) -> Result<Box<dyn Strategy + 'a>, BacktestError>;

/// A named strategy: its declarations and its constructor.
pub struct StrategyInfo {
    pub name: &'static str,
    /// One line describing what the strategy does.
    pub summary: &'static str,
    /// The parameters declared for a universe of symbols (some strategies declare one
    /// parameter per symbol, e.g. `w_SPY`).
    pub declare_fn: fn(symbols: &[String]) -> Vec<ParamSpec>,
    /// Checks between parameters (or between parameters and the universe) that single
    /// declarations cannot express, run on the resolved set.
    pub check_fn: fn(symbols: &[String], resolved: &Params) -> Result<(), ParamError>,
    /// How many days of prices the strategy needs before its first signal.
    pub warm_up_fn: WarmUpFn,
    pub build_fn: BuildFn,
}

impl std::fmt::Debug for StrategyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategyInfo")
            .field("name", &self.name)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl StrategyInfo {
    /// The parameters this strategy declares for `symbols`.
    pub fn params(&self, symbols: &[String]) -> Vec<ParamSpec> {
        (self.declare_fn)(symbols)
    }

    /// Validates `given` against the declarations (unknown names, types, ranges), fills in
    /// defaults, then runs the strategy's own cross checks. Returns the complete set.
    pub fn resolve(&self, symbols: &[String], given: &Params) -> Result<Params, ParamError> {
        let resolved = params::resolve(self.name, &self.params(symbols), given)?;
        (self.check_fn)(symbols, &resolved)?;
        Ok(resolved)
    }

    /// The warm-up of a parameter set returned by [`StrategyInfo::resolve`].
    pub fn warm_up(&self, resolved: &Params) -> Result<Option<WarmUp>, ParamError> {
        (self.warm_up_fn)(resolved)
    }

    /// Builds the per-run object from a parameter set returned by [`StrategyInfo::resolve`].
    pub fn build<'a>(
        &self,
        setup: &Setup<'a>,
        resolved: &Params,
    ) -> Result<Box<dyn Strategy + 'a>, BacktestError> {
        (self.build_fn)(setup, resolved)
    }
}

/// A cross check that accepts everything.
pub fn no_check(_symbols: &[String], _resolved: &Params) -> Result<(), ParamError> {
    Ok(())
}

/// An integer parameter of a resolved set (resolution guarantees presence and type).
pub fn int_param(resolved: &Params, name: &str) -> Result<i64, ParamError> {
    resolved
        .get(name)
        .and_then(ParamValue::as_i64)
        .ok_or_else(|| ParamError::Invalid(format!("`{name}` is missing or not an integer")))
}

/// A float parameter of a resolved set.
pub fn float_param(resolved: &Params, name: &str) -> Result<f64, ParamError> {
    resolved
        .get(name)
        .and_then(ParamValue::as_f64)
        .ok_or_else(|| ParamError::Invalid(format!("`{name}` is missing or not a number")))
}

/// A boolean parameter of a resolved set.
pub fn bool_param(resolved: &Params, name: &str) -> Result<bool, ParamError> {
    resolved
        .get(name)
        .and_then(ParamValue::as_bool)
        .ok_or_else(|| ParamError::Invalid(format!("`{name}` is missing or not a boolean")))
}

/// A string (choice) parameter of a resolved set.
pub fn str_param<'p>(resolved: &'p Params, name: &str) -> Result<&'p str, ParamError> {
    resolved
        .get(name)
        .and_then(ParamValue::as_str)
        .ok_or_else(|| ParamError::Invalid(format!("`{name}` is missing or not a string")))
}

/// The name of the weight parameter of `symbol` (`w_SPY`).
pub fn weight_param_name(symbol: &str) -> String {
    format!("w_{symbol}")
}

/// One weight parameter per symbol, `w_<SYMBOL>` in [0, 1], defaulting to equal weights.
pub fn weight_params(symbols: &[String]) -> Vec<ParamSpec> {
    let equal = if symbols.is_empty() {
        0.0
    } else {
        1.0 / symbols.len() as f64
    };
    symbols
        .iter()
        .map(|s| {
            ParamSpec::float(
                &weight_param_name(s),
                equal,
                0.0,
                1.0,
                &format!("target weight of {s} (fraction of equity; default 1/n)"),
            )
        })
        .collect()
}

/// Checks that the `w_<SYMBOL>` weights sum to at most 1 (the rest stays in cash).
pub fn check_weight_sum(symbols: &[String], resolved: &Params) -> Result<(), ParamError> {
    let mut sum = 0.0;
    for s in symbols {
        sum += float_param(resolved, &weight_param_name(s))?;
    }
    if sum > 1.0 + 1e-9 {
        return Err(ParamError::Invalid(format!(
            "weights sum to {sum}, more than 1 (the weights are fractions of equity; \
             whatever they leave is held in cash)"
        )));
    }
    Ok(())
}

/// The `w_<SYMBOL>` weights of a resolved set, in symbol order.
pub fn weights_of(symbols: &[String], resolved: &Params) -> Result<Vec<f64>, ParamError> {
    symbols
        .iter()
        .map(|s| float_param(resolved, &weight_param_name(s)))
        .collect()
}

pub mod registry {
    //! The list of strategies: adding one is one line here.

    use super::{buy_and_hold, ewmac, fixed_weights, ma_cross, momentum_taa, StrategyInfo};
    use crate::params::closest;

    /// Every strategy, in display order.
    pub static ALL: &[StrategyInfo] = &[
        fixed_weights::INFO,
        buy_and_hold::INFO,
        momentum_taa::INFO,
        ma_cross::INFO,
        ewmac::INFO,
    ];

    /// Every strategy, in display order.
    pub fn all() -> &'static [StrategyInfo] {
        ALL
    }

    /// The strategy called `name`.
    pub fn find(name: &str) -> Option<&'static StrategyInfo> {
        ALL.iter().find(|s| s.name == name)
    }

    /// The registered name closest to `name` (a likely typo), if any is close enough.
    pub fn suggest(name: &str) -> Option<&'static str> {
        let names: Vec<&'static str> = ALL.iter().map(|s| s.name).collect();
        closest(name, &names)
    }

    /// The registered names, comma separated (for error messages).
    pub fn names() -> String {
        ALL.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_finds_and_suggests() {
        assert!(registry::find("fixed_weights").is_some());
        assert!(registry::find("nope").is_none());
        assert_eq!(registry::suggest("momentum_tax"), Some("momentum_taa"));
        assert_eq!(registry::suggest("ma_cros"), Some("ma_cross"));
        let mut names: Vec<_> = registry::all().iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), registry::all().len(), "names are unique");
    }

    #[test]
    fn weight_params_are_per_symbol_and_sum_is_checked() {
        let symbols = vec!["SPY".to_string(), "AGG".to_string()];
        let info = registry::find("fixed_weights").expect("registered");
        let specs = info.params(&symbols);
        let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["w_SPY", "w_AGG"]);
        let mut given = Params::new();
        given.insert("w_SPY".into(), ParamValue::Float(0.6));
        // 0.6 + the default 1/2 = 1.1 > 1
        let err = info.resolve(&symbols, &given).unwrap_err();
        assert!(err.to_string().contains("more than 1"), "{err}");
        given.insert("w_AGG".into(), ParamValue::Float(0.4));
        let resolved = info.resolve(&symbols, &given).expect("0.6 + 0.4");
        assert_eq!(resolved["w_AGG"], ParamValue::Float(0.4));
        given.insert("w_QQQ".into(), ParamValue::Float(0.0));
        assert!(matches!(
            info.resolve(&symbols, &given),
            Err(ParamError::Unknown { .. })
        ));
    }
}
