//! Backtest settings and data selection: the `[backtest]` and `[data]` tables of a sweep
//! spec, also built from `bt-worker run` flags. Defaults follow QSTrader 0.3.0.
//!
//! [`BacktestConfig::validate`] is the one check of the settings: the simulator runs it
//! before every backtest, and planning and `bt-worker run` run it before loading anything,
//! so a bad value fails once, naming the field, instead of failing every combination.

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Which days the simulation steps over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calendar {
    /// Every Monday to Friday, as QSTrader does; a holiday repeats the last known price.
    #[default]
    Weekdays,
    /// The union of the dates present in the data files.
    TradingDays,
}

/// When target weights are recomputed and orders sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rebalance {
    /// The last weekday of each month (QSTrader's `end_of_month`).
    #[default]
    EndOfMonth,
    /// Every Friday, or the last calendar day of the week.
    Weekly,
    /// Every day.
    Daily,
    /// Once, on the first day, then never again.
    BuyAndHold,
}

/// Price file format; `Auto` detects it from the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    #[default]
    Auto,
    /// `Date,Open,High,Low,Close,Adj Close,Volume`.
    Yahoo,
    /// pysystemtrade adjusted prices: `DATETIME,price`.
    Pysystemtrade,
    /// Plain OHLCV with a date column.
    Ohlcv,
}

/// Where the prices come from: `<dir>/<SYMBOL>.csv` for each symbol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dir: PathBuf,
    pub symbols: Vec<String>,
    #[serde(default)]
    pub format: DataFormat,
}

impl DataConfig {
    /// The file that holds `symbol`'s prices.
    pub fn file_of(&self, symbol: &str) -> PathBuf {
        self.dir.join(format!("{symbol}.csv"))
    }
}

/// Simulation settings. Every field has a QSTrader-compatible default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BacktestConfig {
    /// First day of the simulation (signals warm up from here). `None`: the data's first date.
    pub start: Option<NaiveDate>,
    /// Last day of the simulation. `None`: the data's last date.
    pub end: Option<NaiveDate>,
    /// The equity curve and statistics start here; before it strategies only warm up.
    pub burn_in: Option<NaiveDate>,
    pub initial_cash: f64,
    pub rebalance: Rebalance,
    /// Fraction of equity kept in cash when sizing (QSTrader's `cash_buffer_percentage`).
    pub cash_buffer: f64,
    /// Commission in basis points of traded notional.
    pub commission_bps: f64,
    /// Fixed fee per trade (per order filled), in cash.
    pub fee_per_trade: f64,
    /// Slippage in basis points: buys fill this much above, sells below, the open.
    pub slippage_bps: f64,
    pub calendar: Calendar,
    /// Optional in-sample / out-of-sample split: metrics are also computed for dates before
    /// and from this date.
    pub split: Option<NaiveDate>,
    /// What each run keeps of its daily returns for overfitting statistics (PBO):
    /// `false` nothing, `true` the CSCV block moments, `"daily"` the returns themselves.
    pub keep_returns: KeepReturns,
    /// The number of CSCV blocks S the block moments are kept for (`keep_returns = true`):
    /// even, at least 2, at most C(S, S/2) = 1,000,000 splits. Written to the planned spec
    /// only when it is not the default 16.
    #[serde(skip_serializing_if = "is_default_blocks")]
    pub pbo_blocks: usize,
}

fn is_default_blocks(s: &usize) -> bool {
    *s == crate::stats::cscv::DEFAULT_BLOCKS
}

/// `[backtest] keep_returns`: what a run keeps of its daily returns.
///
/// ```
/// use backtest::config::KeepReturns;
/// #[derive(serde::Deserialize)]
/// struct T { k: KeepReturns }
/// let k = |s: &str| toml::from_str::<T>(s).map(|t| t.k);
/// assert_eq!(k("k = true").unwrap(), KeepReturns::Moments);
/// assert_eq!(k("k = false").unwrap(), KeepReturns::No);
/// assert_eq!(k("k = \"daily\"").unwrap(), KeepReturns::Daily);
/// assert!(k("k = \"weekly\"").is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeepReturns {
    /// `false`: nothing (no PBO).
    #[default]
    No,
    /// `true`: per run, the count, sum and sum of squares of the daily returns in each of
    /// the `pbo_blocks` CSCV blocks: exact PBO at a few hundred bytes per run.
    Moments,
    /// `"daily"`: every daily return (stored as 32-bit floats).
    Daily,
}

impl KeepReturns {
    /// Whether anything is kept.
    pub fn any(self) -> bool {
        self != KeepReturns::No
    }
}

impl Serialize for KeepReturns {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            KeepReturns::No => s.serialize_bool(false),
            KeepReturns::Moments => s.serialize_bool(true),
            KeepReturns::Daily => s.serialize_str("daily"),
        }
    }
}

impl<'de> Deserialize<'de> for KeepReturns {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = KeepReturns;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`keep_returns` = true (CSCV block moments), false or \"daily\"")
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeepReturns, E> {
                Ok(if v {
                    KeepReturns::Moments
                } else {
                    KeepReturns::No
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeepReturns, E> {
                match v {
                    "daily" => Ok(KeepReturns::Daily),
                    other => Err(E::custom(format!(
                        "`keep_returns` = \"{other}\": expected true (CSCV block moments), \
                         false or \"daily\" (every daily return)"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig {
            start: None,
            end: None,
            burn_in: None,
            initial_cash: 1_000_000.0,
            rebalance: Rebalance::EndOfMonth,
            cash_buffer: 0.01,
            commission_bps: 0.0,
            fee_per_trade: 0.0,
            slippage_bps: 0.0,
            calendar: Calendar::Weekdays,
            split: None,
            keep_returns: KeepReturns::No,
            pbo_blocks: crate::stats::cscv::DEFAULT_BLOCKS,
        }
    }
}

/// A `[backtest]` setting outside what the simulator accepts, naming the field, the value
/// and what was expected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A number outside its range (or not finite).
    #[error("`{field}` = {value}: expected {expected}")]
    Number {
        field: &'static str,
        value: f64,
        expected: &'static str,
    },
    /// A date out of order with another one.
    #[error("`{field}` = {value}: expected a date {relation} `{other}` = {other_value}")]
    DateOrder {
        field: &'static str,
        value: NaiveDate,
        /// "on or after", "after", "on or before".
        relation: &'static str,
        other: &'static str,
        other_value: NaiveDate,
    },
}

impl ConfigError {
    /// The field (`[backtest]` key) the problem is in.
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Number { field, .. } | ConfigError::DateOrder { field, .. } => field,
        }
    }
}

impl BacktestConfig {
    /// Checks every setting the simulator relies on; the first problem names the field, its
    /// value and what was expected:
    ///
    /// - `initial_cash`: finite and > 0;
    /// - `cash_buffer`: a fraction in [0, 1);
    /// - `commission_bps`, `fee_per_trade`, `slippage_bps`: finite and >= 0;
    /// - `pbo_blocks`: what [`crate::stats::cscv::check_blocks`] accepts (the check
    ///   `collect --pbo-blocks` makes);
    /// - `start` <= `end`; `burn_in` within [`start`, `end`]; `split` after `start` and
    ///   after `burn_in` (else the in-sample part is empty) and on or before `end` (checked
    ///   against the dates that are set; the data's own first and last dates are checked when
    ///   a run selects its days).
    ///
    /// ```
    /// use backtest::BacktestConfig;
    ///
    /// assert!(BacktestConfig::default().validate().is_ok());
    /// let bad = BacktestConfig { cash_buffer: 5.0, ..BacktestConfig::default() };
    /// assert_eq!(
    ///     bad.validate().unwrap_err().to_string(),
    ///     "`cash_buffer` = 5: expected a fraction in [0, 1)"
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let number = |field, value: f64, ok: bool, expected| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::Number {
                    field,
                    value,
                    expected,
                })
            }
        };
        let cash = self.initial_cash;
        number(
            "initial_cash",
            cash,
            cash.is_finite() && cash > 0.0,
            "a finite amount greater than 0",
        )?;
        let buffer = self.cash_buffer;
        number(
            "cash_buffer",
            buffer,
            (0.0..1.0).contains(&buffer),
            "a fraction in [0, 1)",
        )?;
        for (field, value) in [
            ("commission_bps", self.commission_bps),
            ("fee_per_trade", self.fee_per_trade),
            ("slippage_bps", self.slippage_bps),
        ] {
            number(
                field,
                value,
                value.is_finite() && value >= 0.0,
                "a finite number >= 0",
            )?;
        }
        let blocks = self.pbo_blocks;
        number(
            "pbo_blocks",
            blocks as f64,
            crate::stats::cscv::check_blocks(blocks).is_ok(),
            "an even number of CSCV blocks >= 2 with at most 1,000,000 splits C(S, S/2) \
             (at most 22; 16 is the usual choice)",
        )?;
        let (start, end, burn_in, split) = (self.start, self.end, self.burn_in, self.split);
        date_order("start", start, ON_OR_BEFORE, "end", end)?;
        date_order("burn_in", burn_in, ON_OR_AFTER, "start", start)?;
        date_order("burn_in", burn_in, ON_OR_BEFORE, "end", end)?;
        date_order("split", split, AFTER, "start", start)?;
        date_order("split", split, AFTER, "burn_in", burn_in)?;
        date_order("split", split, ON_OR_BEFORE, "end", end)?;
        Ok(())
    }
}

/// How one date must compare with another: the words of the message and the test.
type Relation = (&'static str, fn(&NaiveDate, &NaiveDate) -> bool);
const AFTER: Relation = ("after", NaiveDate::gt);
const ON_OR_AFTER: Relation = ("on or after", NaiveDate::ge);
const ON_OR_BEFORE: Relation = ("on or before", NaiveDate::le);

/// Checks `field` `relation` `other` when both dates are set.
fn date_order(
    field: &'static str,
    value: Option<NaiveDate>,
    (relation, holds): Relation,
    other: &'static str,
    other_value: Option<NaiveDate>,
) -> Result<(), ConfigError> {
    match (value, other_value) {
        (Some(value), Some(other_value)) if !holds(&value, &other_value) => {
            Err(ConfigError::DateOrder {
                field,
                value,
                relation,
                other,
                other_value,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn error(config: BacktestConfig) -> String {
        config.validate().expect_err("invalid").to_string()
    }

    #[test]
    fn pbo_blocks_are_checked_as_collect_checks_them() {
        for ok in [2, 16, 22] {
            let c = BacktestConfig {
                pbo_blocks: ok,
                ..BacktestConfig::default()
            };
            assert!(c.validate().is_ok(), "S = {ok}");
        }
        for bad in [0, 1, 7, 24] {
            let e = error(BacktestConfig {
                pbo_blocks: bad,
                ..BacktestConfig::default()
            });
            assert!(
                e.starts_with(&format!("`pbo_blocks` = {bad}: expected an even number")),
                "{e}"
            );
        }
    }

    #[test]
    fn defaults_and_edges_are_valid() {
        assert_eq!(BacktestConfig::default().validate(), Ok(()));
        let edges = BacktestConfig {
            cash_buffer: 0.0,
            commission_bps: 0.0,
            start: Some(ymd(2020, 1, 1)),
            burn_in: Some(ymd(2020, 1, 1)),
            split: Some(ymd(2020, 12, 31)),
            end: Some(ymd(2020, 12, 31)),
            ..BacktestConfig::default()
        };
        assert_eq!(edges.validate(), Ok(()));
    }

    #[test]
    fn numbers_name_field_value_and_expectation() {
        let base = BacktestConfig::default;
        let cases = [
            (
                BacktestConfig {
                    cash_buffer: 5.0,
                    ..base()
                },
                "`cash_buffer` = 5: expected a fraction in [0, 1)",
            ),
            (
                BacktestConfig {
                    cash_buffer: 1.0,
                    ..base()
                },
                "`cash_buffer` = 1: expected a fraction in [0, 1)",
            ),
            (
                BacktestConfig {
                    cash_buffer: -0.01,
                    ..base()
                },
                "`cash_buffer` = -0.01: expected a fraction in [0, 1)",
            ),
            (
                BacktestConfig {
                    commission_bps: -1.0,
                    ..base()
                },
                "`commission_bps` = -1: expected a finite number >= 0",
            ),
            (
                BacktestConfig {
                    fee_per_trade: -0.5,
                    ..base()
                },
                "`fee_per_trade` = -0.5: expected a finite number >= 0",
            ),
            (
                BacktestConfig {
                    slippage_bps: f64::NAN,
                    ..base()
                },
                "`slippage_bps` = NaN: expected a finite number >= 0",
            ),
            (
                BacktestConfig {
                    initial_cash: 0.0,
                    ..base()
                },
                "`initial_cash` = 0: expected a finite amount greater than 0",
            ),
            (
                BacktestConfig {
                    initial_cash: f64::INFINITY,
                    ..base()
                },
                "`initial_cash` = inf: expected a finite amount greater than 0",
            ),
        ];
        for (config, want) in cases {
            assert_eq!(error(config), want);
        }
    }

    #[test]
    fn dates_must_be_in_order() {
        let base = || BacktestConfig {
            start: Some(ymd(2020, 1, 1)),
            end: Some(ymd(2020, 12, 31)),
            ..BacktestConfig::default()
        };
        let reversed = BacktestConfig {
            start: Some(ymd(2021, 1, 1)),
            ..base()
        };
        assert_eq!(
            error(reversed),
            "`start` = 2021-01-01: expected a date on or before `end` = 2020-12-31"
        );
        let early = BacktestConfig {
            burn_in: Some(ymd(2019, 6, 1)),
            ..base()
        };
        assert_eq!(
            error(early),
            "`burn_in` = 2019-06-01: expected a date on or after `start` = 2020-01-01"
        );
        let late = BacktestConfig {
            burn_in: Some(ymd(2021, 6, 1)),
            ..base()
        };
        assert_eq!(
            error(late),
            "`burn_in` = 2021-06-01: expected a date on or before `end` = 2020-12-31"
        );
        let split_late = BacktestConfig {
            split: Some(ymd(2021, 6, 1)),
            ..base()
        };
        assert_eq!(
            error(split_late),
            "`split` = 2021-06-01: expected a date on or before `end` = 2020-12-31"
        );
        let split_at_start = BacktestConfig {
            split: Some(ymd(2020, 1, 1)),
            ..base()
        };
        assert_eq!(
            error(split_at_start),
            "`split` = 2020-01-01: expected a date after `start` = 2020-01-01"
        );
        let split_before_burn_in = BacktestConfig {
            burn_in: Some(ymd(2020, 6, 1)),
            split: Some(ymd(2020, 3, 1)),
            ..base()
        };
        let err = split_before_burn_in
            .validate()
            .expect_err("empty in-sample");
        assert_eq!(err.field(), "split");
        assert!(
            err.to_string().contains("after `burn_in` = 2020-06-01"),
            "{err}"
        );
        // Only the dates that are set are compared.
        let open_ended = BacktestConfig {
            burn_in: Some(ymd(2030, 1, 1)),
            split: Some(ymd(2031, 1, 1)),
            ..BacktestConfig::default()
        };
        assert_eq!(open_ended.validate(), Ok(()));
    }
}
