//! The simulator: QSTrader 0.3.0 semantics by default (sizing at day D's close, fills at day
//! D+1's adjusted open, whole shares, cash buffer, equity marked at the close).
//!
//! One run, day by day over `MarketData::dates` between the configured start and end:
//!
//! 1. **Open**: orders decided the day before fill at this day's (adjusted) open, sells
//!    before buys. A buy fills `slippage_bps` above the open, a sell below it; each fill
//!    pays `commission_bps` of its notional plus `fee_per_trade`. Cash may go negative (as
//!    in QSTrader, which only warns).
//! 2. **Close**: equity = cash + sum(quantity x close). From the burn-in date on it is
//!    recorded, and on a rebalance day of the strategy's schedule the strategy is asked for
//!    target weights. Targets are whole shares: `floor(equity x (1 - cash_buffer) x |w| /
//!    price)` with the sign of `w` (estimated costs of the order are taken off the dollar
//!    amount first, as QSTrader's sizer does with its fee model). The differences to the
//!    current holdings become the next day's orders.
//!
//! Rebalance days: `end_of_month` is the last weekday of the month (QSTrader's `BME`) or,
//! when the calendar skips it, the last day of the month in the calendar; `weekly` is
//! every Friday or the last calendar day of the ISO week; `daily` every day;
//! `buy_and_hold` only the first day (the burn-in date), at its open: sized with the open
//! and filled at once at that same open (QSTrader's `buy_and_hold` rebalance at a 14:30
//! start time runs at the open event, when its exchange is open).
//!
//! Signals warm up from the start date; decisions and the equity curve begin at the burn-in
//! date (QSTrader does not trade before it either).
//!
//! Deliberate differences from QSTrader: weights are not normalised to sum to 1 (weights
//! summing to less leave the rest in cash), negative weights are allowed (short positions,
//! sized with `|price|` and truncated toward zero), and a symbol with no price yet is not
//! traded instead of raising an error.

use chrono::{Datelike, NaiveDate, Weekday};

use crate::config::{BacktestConfig, ConfigError, Rebalance};
use crate::data::MarketData;
use crate::metrics::Metrics;
use crate::params::{self, ParamError, ParamSpec, ParamValue, Params};
use crate::rules::{RuleError, Rules, RulesTask};
use crate::stats;
use crate::strategy::{registry, Setup, StrategyInfo, WarmUp};

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(
        "unknown strategy `{0}`{hint}; known strategies: {known}",
        hint = strategy_hint(.0),
        known = registry::names()
    )]
    UnknownStrategy(String),
    #[error(transparent)]
    Params(#[from] ParamError),
    /// A `[backtest]` setting out of range ([`BacktestConfig::validate`]).
    #[error("[backtest] {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
    /// A rule of a `rules` strategy that cannot run for this combination (a window that is
    /// not a positive whole number, ...).
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The strategy's warm-up ([`WarmUp`]) is as long as the run's days of prices or longer:
    /// its first signal would come on the last day (an order fills the day after) or never,
    /// so it could never trade.
    #[error(
        "{strategy}: `{param}` = {days} gives a first signal after {days} days of prices and \
         a first fill the day after, but the run has {available} day(s) of prices ({first}..\
         {last}): it could never trade"
    )]
    WarmUp {
        strategy: String,
        param: &'static str,
        days: usize,
        /// Days of prices in the run (from the start, or from the symbol's first price).
        available: usize,
        /// The run's first and last simulated days.
        first: NaiveDate,
        last: NaiveDate,
    },
}

fn strategy_hint(name: &str) -> String {
    registry::suggest(name)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// One executed order.
#[derive(Clone, Debug, PartialEq)]
pub struct Fill {
    pub date: NaiveDate,
    /// Index into `RunOutput::symbols`.
    pub symbol: usize,
    /// Signed number of shares: positive bought, negative sold.
    pub quantity: f64,
    /// Fill price, slippage included.
    pub price: f64,
    /// Commission plus fee paid.
    pub cost: f64,
}

pub use crate::output::{Allocation, Allocations, DateSpan};

/// What one backtest produces.
#[derive(Clone, Debug, Default)]
pub struct RunOutput {
    /// Equity curve dates (from the burn-in date on).
    pub dates: DateSpan,
    /// Equity marked at each date's close.
    pub equity: Vec<f64>,
    pub metrics: Metrics,
    /// Metrics before the split date, when one is set.
    pub in_sample: Option<Metrics>,
    /// Metrics from the split date on, when one is set.
    pub out_of_sample: Option<Metrics>,
    /// The symbols traded (the data's), in column order.
    pub symbols: Vec<String>,
    /// Target weights on each day the strategy rebalanced (QSTrader's target allocations,
    /// before forward filling).
    pub allocations: Allocations,
    /// Every order filled, in order.
    pub fills: Vec<Fill>,
    /// Sum of |quantity x price| over all fills.
    pub traded_notional: f64,
    /// Commissions, fees (and not slippage) paid in total.
    pub costs_paid: f64,
    /// Days of the equity curve with a non-zero position at the close.
    pub exposure_days: u64,
    /// Per equity-curve day, whether a position was held at the close. Only filled when a
    /// split is configured (the split's exposure needs it).
    pub exposed: Vec<bool>,
}

/// The day indices of a run: `start <= trade_from < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub start: usize,
    pub trade_from: usize,
    pub end: usize,
}

/// Where the configured start, burn-in and end fall in `dates`.
pub fn day_range(dates: &[NaiveDate], config: &BacktestConfig) -> Result<DayRange, BacktestError> {
    let start = config
        .start
        .map_or(0, |s| dates.partition_point(|d| *d < s));
    let end = config
        .end
        .map_or(dates.len(), |e| dates.partition_point(|d| *d <= e));
    let trade_from = config
        .burn_in
        .map_or(start, |b| dates.partition_point(|d| *d < b).max(start));
    if start >= end {
        return Err(BacktestError::Invalid(format!(
            "no data between start {} and end {}",
            show(config.start),
            show(config.end)
        )));
    }
    if trade_from >= end {
        return Err(BacktestError::Invalid(format!(
            "the burn-in date {} is after the last simulated day {}",
            show(config.burn_in),
            dates[end - 1]
        )));
    }
    if let Some(split) = config.split {
        // Both parts of the split must have a day of the equity curve.
        let curve = &dates[trade_from..end];
        let at = curve.partition_point(|d| *d < split);
        let empty = if at == 0 {
            Some(("in-sample", "the first day of the equity curve", curve[0]))
        } else if at == curve.len() {
            Some(("out-of-sample", "the last simulated day", curve[at - 1]))
        } else {
            None
        };
        if let Some((part, which, day)) = empty {
            return Err(BacktestError::Invalid(format!(
                "the split date {split} leaves the {part} part empty ({which} is {day})"
            )));
        }
    }
    Ok(DayRange {
        start,
        trade_from,
        end,
    })
}

fn show(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "-".to_string(), |d| d.to_string())
}

/// Which strategy a run uses: a built-in one (by its [`StrategyInfo`]) or rules compiled from
/// a spec.
#[derive(Clone, Copy, Debug)]
pub enum StrategyRef<'a> {
    Builtin(&'static StrategyInfo),
    Rules(&'a Rules),
}

impl<'a> StrategyRef<'a> {
    /// The built-in strategy called `name`.
    pub fn by_name(name: &str) -> Option<StrategyRef<'static>> {
        registry::find(name).map(StrategyRef::Builtin)
    }

    /// The strategy's name: the built-in's, or `rules`.
    pub fn name(&self) -> &str {
        match self {
            StrategyRef::Builtin(info) => info.name,
            StrategyRef::Rules(_) => "rules",
        }
    }

    /// The parameters the strategy declares for `symbols`.
    pub fn params(&self, symbols: &[String]) -> Vec<ParamSpec> {
        match self {
            StrategyRef::Builtin(info) => info.params(symbols),
            StrategyRef::Rules(rules) => rules.params().to_vec(),
        }
    }

    /// Validates `given` against the declarations, fills in defaults and runs the
    /// strategy's cross checks (a built-in's). The windows of rules are checked per
    /// combination by [`preflight_strategy`] ([`Rules::check`]).
    pub fn resolve(&self, symbols: &[String], given: &Params) -> Result<Params, ParamError> {
        match self {
            StrategyRef::Builtin(info) => info.resolve(symbols, given),
            StrategyRef::Rules(rules) => params::resolve("rules", rules.params(), given),
        }
    }
}

/// Checks, without simulating, everything [`run_backtest`] checks before its day loop: the
/// strategy's name and parameters, the data's shape, the settings
/// ([`BacktestConfig::validate`]), the simulated days (start, burn-in, end and split against
/// the data's dates) and the strategy's warm-up against those days
/// ([`BacktestError::WarmUp`]). Cheap (no signal is computed): planning can run it on every
/// combination, and an `Ok` here means the run will not fail on these grounds.
pub fn preflight(
    data: &MarketData,
    strategy: &str,
    params: &Params,
    config: &BacktestConfig,
) -> Result<(), BacktestError> {
    preflight_strategy(data, builtin(strategy)?, params, config)
}

/// [`preflight`] for any strategy: for rules, also [`Rules::check`] on the resolved
/// parameters (windows of this combination).
pub fn preflight_strategy(
    data: &MarketData,
    strategy: StrategyRef<'_>,
    params: &Params,
    config: &BacktestConfig,
) -> Result<(), BacktestError> {
    prepare(data, strategy, params, config).map(|_| ())
}

/// The built-in strategy `name`, or [`BacktestError::UnknownStrategy`].
fn builtin(name: &str) -> Result<StrategyRef<'static>, BacktestError> {
    StrategyRef::by_name(name).ok_or_else(|| BacktestError::UnknownStrategy(name.into()))
}

/// [`preflight`]'s checks; the resolved parameters and the day range.
fn prepare(
    data: &MarketData,
    strategy: StrategyRef<'_>,
    params: &Params,
    config: &BacktestConfig,
) -> Result<(Params, DayRange), BacktestError> {
    let resolved = strategy.resolve(&data.symbols, params)?;
    check_data(data)?;
    config.validate()?;
    let range = day_range(&data.dates, config)?;
    match strategy {
        StrategyRef::Builtin(info) => {
            if let Some(warm_up) = info.warm_up(&resolved)? {
                check_warm_up(data, info.name, warm_up, range)?;
            }
        }
        StrategyRef::Rules(rules) => {
            if let Some(problem) = rules.data_problem(data) {
                return Err(BacktestError::Invalid(problem));
            }
            if config.rebalance == Rebalance::BuyAndHold {
                // That schedule decides at the first day's open, before the close a rule
                // would read: it would look ahead.
                return Err(BacktestError::Invalid(
                    "rules are evaluated after a day's close, and rebalance = \"buy_and_hold\" \
                     decides at the first day's open: use \"daily\", \"weekly\" or \
                     \"end_of_month\""
                        .into(),
                ));
            }
            rules.check(&resolved)?;
            let span = (data.dates[range.start], data.dates[range.end - 1]);
            let values = rules.values(&resolved);
            if let Some(error) = rules.never_defined(&values, range.end - range.start, span) {
                return Err(error.into());
            }
        }
    }
    Ok((resolved, range))
}

/// A [`BacktestError::WarmUp`] when `warm_up` needs as many days of prices as `range` has,
/// or more (counted from the start, or from the symbol's first finite close in the range).
fn check_warm_up(
    data: &MarketData,
    strategy: &str,
    warm_up: WarmUp,
    range: DayRange,
) -> Result<(), BacktestError> {
    let days = range.end - range.start;
    let before_first_price = warm_up
        .from_first_price_of
        .and_then(|symbol| data.close.get(symbol))
        .map_or(0, |closes| {
            closes[range.start..range.end]
                .iter()
                .position(|c| c.is_finite())
                .unwrap_or(days)
        });
    let available = days - before_first_price;
    if warm_up.days < available {
        return Ok(());
    }
    Err(BacktestError::WarmUp {
        strategy: strategy.to_string(),
        param: warm_up.param,
        days: warm_up.days,
        available,
        first: data.dates[range.start],
        last: data.dates[range.end - 1],
    })
}

/// Runs the built-in strategy `strategy` with `params` (validated and completed with
/// defaults) over `data`, after the checks of [`preflight`].
pub fn run_backtest(
    data: &MarketData,
    strategy: &str,
    params: &Params,
    config: &BacktestConfig,
) -> Result<RunOutput, BacktestError> {
    run_strategy(data, builtin(strategy)?, params, config)
}

/// Runs `strategy` with `params` over `data`, after the checks of [`preflight_strategy`].
/// For several combinations over the same data, a [`TaskRunner`] shares the rules'
/// indicators between them.
pub fn run_strategy(
    data: &MarketData,
    strategy: StrategyRef<'_>,
    params: &Params,
    config: &BacktestConfig,
) -> Result<RunOutput, BacktestError> {
    TaskRunner::new(data, strategy, config, std::slice::from_ref(params))?.run(params)
}

/// One task's work: runs combinations of one strategy over one data set and configuration,
/// sharing the indicator series of rules across them (the 20-day SMA that hundreds of
/// combinations use is computed once, not once per combination). `Sync`: rayon threads
/// share one runner.
#[derive(Debug)]
pub struct TaskRunner<'a> {
    data: &'a MarketData,
    strategy: StrategyRef<'a>,
    config: &'a BacktestConfig,
    /// For rules: the run's prices and the shared indicators (`None` when the configured
    /// days do not fit the data: every run reports that).
    rules: Option<RulesTask<'a>>,
}

impl<'a> TaskRunner<'a> {
    /// A runner for the combinations `combos` (the parameter sets the task will run, as
    /// given: they tell which indicators are worth keeping). Nothing is computed yet.
    pub fn new(
        data: &'a MarketData,
        strategy: StrategyRef<'a>,
        config: &'a BacktestConfig,
        combos: &[Params],
    ) -> Result<Self, BacktestError> {
        let rules = match strategy {
            StrategyRef::Rules(rules) => {
                if let Some(problem) = rules.data_problem(data) {
                    return Err(BacktestError::Invalid(problem));
                }
                day_range(&data.dates, config)
                    .ok()
                    .map(|r| RulesTask::new(rules, data, r.start, r.end, combos))
            }
            StrategyRef::Builtin(_) => None,
        };
        Ok(TaskRunner {
            data,
            strategy,
            config,
            rules,
        })
    }

    /// For rules: how many indicator series the task shares between its combinations, and
    /// how many of them have been computed so far (`(0, 0)` for a built-in).
    pub fn shared_series(&self) -> (usize, usize) {
        self.rules.as_ref().map_or((0, 0), RulesTask::cache_stats)
    }

    /// Runs one combination (after the checks of [`preflight_strategy`]).
    pub fn run(&self, params: &Params) -> Result<RunOutput, BacktestError> {
        let (data, config) = (self.data, self.config);
        let (resolved, range) = prepare(data, self.strategy, params, config)?;
        let setup = Setup {
            data,
            config,
            start: range.start,
            trade_from: range.trade_from,
            end: range.end,
        };
        let mut strategy = match (self.strategy, &self.rules) {
            (StrategyRef::Builtin(info), _) => info.build(&setup, &resolved)?,
            (StrategyRef::Rules(rules), Some(task)) => task.strategy(rules, &setup, &resolved),
            (StrategyRef::Rules(_), None) => {
                return Err(BacktestError::Invalid(
                    "the run's days do not fit the data".into(),
                ))
            }
        };
        let mut out = simulate(&setup, strategy.as_mut());
        summarise(&mut out, config);
        Ok(out)
    }
}

/// A buy-and-hold benchmark: `symbol` (one of `data.symbols`) bought with 100% of the
/// cash-buffered equity on the first day (the burn-in date) and held, as QSTrader's
/// examples build their benchmarks.
pub fn run_benchmark(
    data: &MarketData,
    symbol: &str,
    config: &BacktestConfig,
) -> Result<RunOutput, BacktestError> {
    if !data.symbols.iter().any(|s| s == symbol) {
        return Err(BacktestError::Invalid(format!(
            "benchmark symbol `{symbol}` is not in the data ({})",
            data.symbols.join(", ")
        )));
    }
    let params: Params = data
        .symbols
        .iter()
        .map(|s| {
            let w = if s == symbol { 1.0 } else { 0.0 };
            (format!("w_{s}"), ParamValue::Float(w))
        })
        .collect();
    run_backtest(data, "buy_and_hold", &params, config)
}

fn check_data(data: &MarketData) -> Result<(), BacktestError> {
    let n = data.dates.len();
    let ok = data.open.len() == data.symbols.len()
        && data.close.len() == data.symbols.len()
        && data.open.iter().chain(&data.close).all(|c| c.len() == n);
    if !ok {
        return Err(BacktestError::Invalid(
            "market data columns do not match its dates and symbols".into(),
        ));
    }
    if data.symbols.is_empty() {
        return Err(BacktestError::Invalid("market data has no symbols".into()));
    }
    Ok(())
}

/// Whether `dates[day]` is a rebalance day of `schedule`.
pub fn is_rebalance_day(
    schedule: Rebalance,
    dates: &[NaiveDate],
    day: usize,
    first: usize,
) -> bool {
    let date = dates[day];
    let next = dates.get(day + 1);
    match schedule {
        Rebalance::Daily => true,
        Rebalance::BuyAndHold => day == first,
        Rebalance::EndOfMonth => {
            is_last_weekday_of_month(date) || next.is_some_and(|n| n.month() != date.month())
        }
        Rebalance::Weekly => {
            date.weekday() == Weekday::Fri || next.is_some_and(|n| n.iso_week() != date.iso_week())
        }
    }
}

/// Whether `date` is the last Monday-to-Friday day of its month (pandas' `BME`).
pub fn is_last_weekday_of_month(date: NaiveDate) -> bool {
    let gap = match date.weekday() {
        Weekday::Sat | Weekday::Sun => return false,
        Weekday::Fri => 3,
        _ => 1,
    };
    match date.checked_add_days(chrono::Days::new(gap)) {
        Some(next) => next.month() != date.month(),
        None => true,
    }
}

/// The day loop. `setup` must come from [`day_range`] on valid data.
fn simulate(setup: &Setup<'_>, strategy: &mut dyn crate::strategy::Strategy) -> RunOutput {
    let data = setup.data;
    let config = setup.config;
    let n = data.symbols.len();
    let schedule = strategy.schedule(config.rebalance);
    let costs = Costs {
        commission: config.commission_bps * 1e-4,
        fee: config.fee_per_trade,
    };
    let slippage = config.slippage_bps * 1e-4;
    let keep = 1.0 - config.cash_buffer;
    let record_exposure = config.split.is_some();

    let days = setup.end - setup.trade_from;
    let mut out = RunOutput {
        dates: DateSpan::new(data.shared_dates(), setup.trade_from..setup.end),
        equity: Vec::with_capacity(days),
        symbols: data.symbols.clone(),
        ..RunOutput::default()
    };
    let mut cash = config.initial_cash;
    let mut quantity = vec![0.0f64; n];
    let mut orders = vec![0.0f64; n];
    let mut has_orders = false;
    let mut weights = vec![0.0f64; n];
    // Symbols with a position, in the order the positions were opened.
    let mut held: Vec<usize> = Vec::with_capacity(n);
    // Orders of one side fill in symbol-name order (QSTrader sorts them by asset name).
    let mut by_name: Vec<usize> = (0..n).collect();
    by_name.sort_by(|a, b| data.symbols[*a].cmp(&data.symbols[*b]));

    let mut scanner = ScheduleScanner::new(schedule);
    // Before the burn-in date nothing is held or ordered (strategies warm up inside their
    // constructors), so the loop starts there.
    let mut day = setup.trade_from;
    while day < setup.end {
        if schedule == Rebalance::BuyAndHold
            && day == setup.trade_from
            && strategy.decide(day, &mut weights)
        {
            // QSTrader's buy_and_hold rebalance runs at the 14:30 open: sized with the open
            // (equity marked at the open) and filled at once at that same price.
            let prices = |i: usize| finite_or(data.open[i][day], data.close[i][day]);
            let equity = cash + marked(&held, &quantity, prices);
            out.allocations.push(data.dates[day], &weights);
            has_orders = size_orders(
                &weights,
                &quantity,
                &mut orders,
                equity * keep,
                costs,
                prices,
            );
        }
        if has_orders {
            has_orders = false;
            // Sells first, then buys (QSTrader sorts by direction).
            for buys in [false, true] {
                for &i in &by_name {
                    let q = orders[i];
                    if q == 0.0 || (q > 0.0) != buys {
                        continue;
                    }
                    orders[i] = 0.0;
                    let open = data.open[i][day];
                    let open = if open.is_finite() || day == 0 {
                        open
                    } else {
                        data.close[i][day - 1]
                    };
                    if !open.is_finite() {
                        continue;
                    }
                    let price = open + q.signum() * open.abs() * slippage;
                    let notional = (q * price).abs();
                    let cost = notional * costs.commission + costs.fee;
                    cash -= q * price + cost;
                    let before = quantity[i];
                    quantity[i] += q;
                    if before == 0.0 {
                        held.push(i);
                    } else if quantity[i] == 0.0 {
                        held.retain(|&h| h != i);
                    }
                    out.traded_notional += notional;
                    out.costs_paid += cost;
                    out.fills.push(Fill {
                        date: data.dates[day],
                        symbol: i,
                        quantity: q,
                        price,
                        cost,
                    });
                }
            }
        }

        // Summed in the order positions were opened, as QSTrader's position dict does, so
        // equity matches it to the last bit.
        let mut market_value = 0.0;
        for &i in &held {
            market_value += quantity[i] * data.close[i][day];
        }
        let exposed = !held.is_empty();
        let equity = cash + market_value;
        out.equity.push(equity);
        out.exposure_days += u64::from(exposed);
        if record_exposure {
            out.exposed.push(exposed);
        }

        let decided = schedule != Rebalance::BuyAndHold
            && is_rebalance_day(schedule, &data.dates, day, setup.trade_from)
            && strategy.decide(day, &mut weights);
        if decided {
            out.allocations.push(data.dates[day], &weights);
            let prices = |i: usize| data.close[i][day];
            has_orders = size_orders(
                &weights,
                &quantity,
                &mut orders,
                equity * keep,
                costs,
                prices,
            );
        }
        day += 1;
        if has_orders || day >= setup.end {
            continue;
        }
        // Nothing fills tomorrow: skip to the next day the strategy may act on, marking the
        // days in between in bulk (positions and cash are constant there).
        let from = strategy.next_change(day).clamp(day, setup.end);
        let next = scanner.next_rebalance(&data.dates, from, setup.end);
        let segment = Segment {
            from: day,
            to: next,
            cash,
        };
        mark_segment(&mut out, data, &held, &quantity, segment, record_exposure);
        day = next;
    }
    out
}

/// Days `from..to` with constant positions and cash.
#[derive(Clone, Copy, Debug)]
struct Segment {
    from: usize,
    to: usize,
    cash: f64,
}

/// Appends the equity of the days of `segment`: cash + sum(quantity x close), summed in the
/// same order as the day loop (so bit-identical), one symbol at a time over the days.
/// Compiled with AVX2 where the CPU has it (four days per instruction; the same IEEE
/// operations in the same order, so the same bits).
fn mark_segment(
    out: &mut RunOutput,
    data: &MarketData,
    held: &[usize],
    quantity: &[f64],
    segment: Segment,
    record_exposure: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `mark_segment_avx2` only requires the CPU to support AVX2, checked here.
        unsafe { mark_segment_avx2(out, data, held, quantity, segment, record_exposure) };
        return;
    }
    mark_segment_body(out, data, held, quantity, segment, record_exposure);
}

/// [`mark_segment`] compiled with AVX2 enabled (the same code).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mark_segment_avx2(
    out: &mut RunOutput,
    data: &MarketData,
    held: &[usize],
    quantity: &[f64],
    segment: Segment,
    record_exposure: bool,
) {
    mark_segment_body(out, data, held, quantity, segment, record_exposure);
}

#[inline(always)]
fn mark_segment_body(
    out: &mut RunOutput,
    data: &MarketData,
    held: &[usize],
    quantity: &[f64],
    segment: Segment,
    record_exposure: bool,
) {
    let Segment { from, to, cash } = segment;
    if from >= to {
        return;
    }
    let base = out.equity.len();
    match held.split_first() {
        None => out.equity.resize(base + (to - from), cash + 0.0),
        Some((&first, [])) => {
            // One position (a single-symbol strategy): the day loop's sum in one pass.
            let q = quantity[first];
            out.equity.extend(
                data.close[first][from..to]
                    .iter()
                    .map(|c| (0.0 + q * c) + cash),
            );
            out.exposure_days += (to - from) as u64;
        }
        Some((&first, rest)) => {
            let q = quantity[first];
            out.equity
                .extend(data.close[first][from..to].iter().map(|c| 0.0 + q * c));
            for &i in rest {
                let q = quantity[i];
                for (e, c) in out.equity[base..].iter_mut().zip(&data.close[i][from..to]) {
                    *e += q * c;
                }
            }
            for e in &mut out.equity[base..] {
                *e += cash;
            }
            out.exposure_days += (to - from) as u64;
        }
    }
    if record_exposure {
        out.exposed.resize(base + (to - from), !held.is_empty());
    }
}

/// Finds rebalance days scanning forward, with calendar arithmetic once per month (or
/// week) instead of once per day. Agrees with [`is_rebalance_day`] on days after the first.
#[derive(Debug)]
struct ScheduleScanner {
    schedule: Rebalance,
    /// The first date of the period after the current one (next month / next Monday).
    period_end: NaiveDate,
    /// The period's own rebalance date: its last weekday (month) or its Friday (week).
    anchor: NaiveDate,
}

impl ScheduleScanner {
    fn new(schedule: Rebalance) -> ScheduleScanner {
        ScheduleScanner {
            schedule,
            period_end: NaiveDate::MIN,
            anchor: NaiveDate::MIN,
        }
    }

    fn enter(&mut self, date: NaiveDate) {
        match self.schedule {
            Rebalance::EndOfMonth => {
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                self.period_end = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MAX);
                let mut last = self.period_end.pred_opt().unwrap_or(date);
                while matches!(last.weekday(), Weekday::Sat | Weekday::Sun) {
                    last = last.pred_opt().unwrap_or(date);
                }
                self.anchor = last;
            }
            Rebalance::Weekly => {
                let monday =
                    date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()));
                self.anchor = monday + chrono::Days::new(4);
                self.period_end = monday + chrono::Days::new(7);
            }
            Rebalance::Daily | Rebalance::BuyAndHold => {}
        }
    }

    /// The first rebalance day in `from..end`, or `end`.
    fn next_rebalance(&mut self, dates: &[NaiveDate], from: usize, end: usize) -> usize {
        match self.schedule {
            Rebalance::Daily => return from,
            Rebalance::BuyAndHold => return end,
            Rebalance::EndOfMonth | Rebalance::Weekly => {}
        }
        for d in from..end {
            let date = dates[d];
            if date >= self.period_end {
                self.enter(date);
            }
            if date == self.anchor || dates.get(d + 1).is_some_and(|n| *n >= self.period_end) {
                return d;
            }
        }
        end
    }
}

/// Per-order costs as fractions and cash.
#[derive(Clone, Copy, Debug)]
struct Costs {
    /// Commission as a fraction of notional.
    commission: f64,
    /// Fixed fee per order.
    fee: f64,
}

fn finite_or(x: f64, fallback: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        fallback
    }
}

/// Sum of quantity x price over the held positions.
fn marked(held: &[usize], quantity: &[f64], price: impl Fn(usize) -> f64) -> f64 {
    held.iter().map(|&i| quantity[i] * price(i)).sum()
}

/// Whole-share targets for `weights` of `budget` (cash-buffered equity) at `price`, written
/// as orders (target - held). Returns whether any order is non-zero.
fn size_orders(
    weights: &[f64],
    quantity: &[f64],
    orders: &mut [f64],
    budget: f64,
    costs: Costs,
    price: impl Fn(usize) -> f64,
) -> bool {
    let mut any = false;
    for (i, &w) in weights.iter().enumerate() {
        let p = price(i);
        let target = if w == 0.0 || !p.is_finite() || p == 0.0 {
            0.0
        } else {
            // QSTrader's operation order: ((equity * (1 - buffer)) * w - costs) / price.
            let dollars = budget * w.abs();
            let after_costs = (dollars - dollars * costs.commission - costs.fee).max(0.0);
            w.signum() * (after_costs / p.abs()).floor()
        };
        let q = target - quantity[i];
        orders[i] = q;
        any |= q != 0.0;
    }
    any
}

/// Fills `metrics` (and the split's) from the equity curve (`stats::summary`) and the
/// trading counts: trades = orders filled, turnover = traded notional / mean equity per
/// year (252 days), exposure = fraction of days holding a position at the close.
fn summarise(out: &mut RunOutput, config: &BacktestConfig) {
    let (whole, split) = stats::curve_parts(&out.dates, config.split, |r| {
        part_metrics(out, r.start, r.end)
    });
    out.metrics = whole;
    (out.in_sample, out.out_of_sample) = split.unzip();
}

/// The metrics of the equity-curve days `from..to` read as a stand-alone curve.
fn part_metrics(out: &RunOutput, from: usize, to: usize) -> Metrics {
    let equity = &out.equity[from..to];
    let stats::CurveSummary {
        metrics: mut m,
        mean_equity,
    } = stats::curve_summary(equity);
    if equity.is_empty() {
        return m;
    }
    let (first, last) = (out.dates[from], out.dates[to - 1]);
    let whole = from == 0 && to == out.equity.len();
    let (trades, notional) = if whole {
        (out.fills.len() as u64, out.traded_notional)
    } else {
        out.fills
            .iter()
            .filter(|f| f.date >= first && f.date <= last)
            .fold((0u64, 0.0), |(t, n), f| {
                (t + 1, n + (f.quantity * f.price).abs())
            })
    };
    m.trades = Some(trades);
    let years = equity.len() as f64 / stats::PERIODS_PER_YEAR;
    m.turnover = if mean_equity > 0.0 {
        notional / mean_equity / years
    } else {
        0.0
    };
    let exposed = if whole {
        out.exposure_days
    } else {
        out.exposed[from..to].iter().filter(|e| **e).count() as u64
    };
    m.exposure = exposed as f64 / equity.len() as f64;
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Weekday};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn last_weekday_of_month() {
        // 2020-01-31 is a Friday; 2020-02-28 a Friday (29th is a Saturday);
        // 2020-03-31 a Tuesday; 2020-05-29 a Friday (30, 31 weekend).
        assert!(is_last_weekday_of_month(d(2020, 1, 31)));
        assert!(!is_last_weekday_of_month(d(2020, 1, 30)));
        assert!(is_last_weekday_of_month(d(2020, 2, 28)));
        assert!(is_last_weekday_of_month(d(2020, 3, 31)));
        assert!(!is_last_weekday_of_month(d(2020, 3, 30)));
        assert!(is_last_weekday_of_month(d(2020, 5, 29)));
        assert!(!is_last_weekday_of_month(d(2020, 5, 30)));
        assert!(!is_last_weekday_of_month(d(2020, 5, 31)));
        // December, year boundary: 2021-12-31 is a Friday.
        assert!(is_last_weekday_of_month(d(2021, 12, 31)));
    }

    #[test]
    fn day_range_clips_and_checks() {
        let dates = [d(2020, 1, 1), d(2020, 1, 2), d(2020, 1, 3), d(2020, 1, 6)];
        let config = BacktestConfig {
            start: Some(d(2020, 1, 2)),
            burn_in: Some(d(2020, 1, 4)),
            end: Some(d(2020, 1, 5)),
            ..BacktestConfig::default()
        };
        let err = day_range(&dates, &config).unwrap_err();
        assert!(err.to_string().contains("burn-in"), "{err}");
        let config = BacktestConfig {
            end: None,
            ..config
        };
        assert_eq!(
            day_range(&dates, &config).expect("valid"),
            DayRange {
                start: 1,
                trade_from: 3,
                end: 4
            }
        );
    }

    #[test]
    fn scanner_agrees_with_the_day_rule() {
        // Every weekday of 2019-2021, and the same with every 7th day dropped (holes like a
        // trading-day calendar): the scanner's next rebalance day from every day equals
        // the first day at or after it that `is_rebalance_day` accepts.
        let all: Vec<NaiveDate> = d(2019, 1, 1)
            .iter_days()
            .take_while(|x| *x <= d(2021, 12, 31))
            .filter(|x| !matches!(x.weekday(), Weekday::Sat | Weekday::Sun))
            .collect();
        let holes: Vec<NaiveDate> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 7 != 3)
            .map(|(_, x)| *x)
            .collect();
        for dates in [&all, &holes] {
            for schedule in [Rebalance::EndOfMonth, Rebalance::Weekly, Rebalance::Daily] {
                let mut scanner = ScheduleScanner::new(schedule);
                for from in 1..dates.len() {
                    let expected = (from..dates.len())
                        .find(|&k| is_rebalance_day(schedule, dates, k, 0))
                        .unwrap_or(dates.len());
                    let got = scanner.next_rebalance(dates, from, dates.len());
                    assert_eq!(got, expected, "{schedule:?} from {}", dates[from]);
                }
            }
        }
    }

    #[test]
    fn unknown_strategy_suggests() {
        let msg = BacktestError::UnknownStrategy("fixed_weight".into()).to_string();
        assert!(msg.contains("did you mean `fixed_weights`"), "{msg}");
    }
}
