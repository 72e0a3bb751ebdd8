//! Statistics of an equity curve, with QSTrader 0.3.0's definitions: the summary
//! [`Metrics`](crate::Metrics) a sweep ranks by ([`summary`], [`summary_split`]) and QSTrader's
//! `JSONStatistics` file ([`json_statistics`]).
//!
//! Both read the equity curve the way QSTrader's `JSONStatistics` does: the daily returns are
//! `equity.pct_change().fillna(0.0)`, so the first day has a return of 0 and counts as an
//! observation; periods per year = 252; standard deviations are population ones (`np.std`,
//! ddof 0); Sharpe and Sortino use no risk-free rate; CAGR counts years as rows / 252; and
//! the drawdown's high-water mark starts on the second day (QSTrader's `create_drawdowns`
//! never lets day 0 set it; where that day is not positive, QSTrader divides by zero and
//! these start from day 0 instead, so a loss through zero is a drawdown of 100% or more).
//!
//! ```
//! use backtest::stats::summary;
//!
//! let m = summary(&[100.0, 110.0, 99.0, 104.5, 121.0]);
//! assert_eq!(m.n_obs, Some(5));
//! assert!((m.max_drawdown - 0.1).abs() < 1e-12); // 110 -> 99
//! assert_eq!(m.max_drawdown_duration, Some(2)); // the days at 99 and 104.5
//! assert!(m.trades.is_none() && m.turnover.is_nan()); // not known from a curve
//! assert!((m.total_return - 0.21).abs() < 1e-12);
//! ```

mod aggregate;
pub mod cscv;
mod drawdown;
mod json;
mod summary;

pub use aggregate::{monthly_returns, quantiles, yearly_returns, Quantiles};
pub use drawdown::{drawdowns, Drawdowns};
pub use json::{
    curve_statistics, epoch_millis, json_statistics, python_constants_to_null, CurveStatistics,
    DatedSeries, EquityCurve, JsonStatistics, NamedSeries, ReturnsQuantiles, StatsError,
    StrategyNames, TargetAllocations,
};
pub use summary::{
    curve_parts, curve_summary, split_index, summary, summary_split, CurveSummary, PERIODS_PER_YEAR,
};
