//! QSTrader 0.3.0's `JSONStatistics` output: the same keys, nesting, order and value types,
//! so tools that read QSTrader's statistics file read ours (and `collect` reads theirs).
//!
//! Dates are written as QSTrader writes them under `TZ=UTC`: epoch milliseconds of the date's
//! midnight, as integers. Where Python would write `NaN` or `Infinity` (invalid JSON) for a
//! scalar statistic, this writes `null` and reads `null` back as NaN.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::aggregate::{monthly_returns, quantiles, yearly_returns, Quantiles};
use super::drawdown::drawdowns;
use super::summary::PERIODS_PER_YEAR;

/// Why statistics could not be computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StatsError {
    #[error("the {what} equity curve is empty")]
    Empty { what: &'static str },
    #[error("the {what} equity curve has {dates} dates but {values} values")]
    LengthMismatch {
        what: &'static str,
        dates: usize,
        values: usize,
    },
    #[error("the {what} dates are not strictly ascending at position {index} ({date})")]
    NotAscending {
        what: &'static str,
        index: usize,
        date: NaiveDate,
    },
    #[error("target allocation row {row} ({date}) has {values} weights for {symbols} symbols")]
    AllocationWidth {
        row: usize,
        date: NaiveDate,
        values: usize,
        symbols: usize,
    },
}

/// A daily equity curve: one value per date, dates strictly ascending.
#[derive(Clone, Copy, Debug)]
pub struct EquityCurve<'a> {
    pub dates: &'a [NaiveDate],
    pub equity: &'a [f64],
}

/// The target weights a strategy set at each rebalance, as QSTrader records them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetAllocations {
    /// Column names, in output order; a leading `EQ:` is removed on output, as QSTrader does.
    pub symbols: Vec<String>,
    /// One row per rebalance, ascending by date: the date and one weight per symbol (NaN: the
    /// symbol was not part of that rebalance, written as 0).
    pub rows: Vec<(NaiveDate, Vec<f64>)>,
}

/// The optional names QSTrader writes at the top level.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StrategyNames {
    pub strategy_id: Option<String>,
    pub strategy_name: Option<String>,
    pub benchmark_id: Option<String>,
    pub benchmark_name: Option<String>,
}

/// QSTrader's statistics file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonStatistics {
    pub strategy: CurveStatistics,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<CurveStatistics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark_name: Option<String>,
}

impl JsonStatistics {
    /// Reads a statistics file, ours or QSTrader's. Python's `json.dump` writes `NaN`,
    /// `Infinity` and `-Infinity` (e.g. a Sortino ratio without negative returns), which
    /// are not JSON: outside strings they are read as `null` (NaN for the scalar fields).
    pub fn from_json_str(text: &str) -> Result<JsonStatistics, serde_json::Error> {
        serde_json::from_str(&python_constants_to_null(text))
    }
}

/// Replaces the bare tokens `NaN`, `Infinity` and `-Infinity` outside JSON strings by `null`.
pub fn python_constants_to_null(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else {
            let token = ["-Infinity", "Infinity", "NaN"]
                .into_iter()
                .find(|t| rest.starts_with(t));
            if let Some(t) = token {
                out.push_str("null");
                rest = &rest[t.len()..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// `(epoch milliseconds, value)` pairs, as QSTrader's `_series_to_tuple_list`.
pub type DatedSeries = Vec<(i64, f64)>;

/// The statistics of one curve (QSTrader's `_calculate_statistics`), in QSTrader's key order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurveStatistics {
    pub equity_curve: DatedSeries,
    /// `pct_change().fillna(0.0)`: the first day is 0.
    pub returns: DatedSeries,
    /// `exp(cumsum(log(1 + returns)))`.
    pub cum_returns: DatedSeries,
    /// `[[year, month], return]`, month 1–12, return 0.01 = 1%.
    pub monthly_agg_returns: Vec<((i32, u32), f64)>,
    /// Highcharts heat map cells `[month 0–11, year index, return in %]`, by month then year.
    pub monthly_agg_returns_hc: Vec<(u32, usize, f64)>,
    /// `[year, return]`.
    pub yearly_agg_returns: Vec<(i32, f64)>,
    /// The yearly returns in %.
    pub yearly_agg_returns_hc: Vec<f64>,
    pub returns_quantiles: ReturnsQuantiles,
    /// `[daily, monthly, yearly]` × `[min, lq, med, uq, max]`, in %.
    pub returns_quantiles_hc: Vec<Vec<f64>>,
    pub drawdowns: DatedSeries,
    #[serde(with = "crate::nullable_f64")]
    pub max_drawdown: f64,
    pub max_drawdown_duration: u64,
    #[serde(with = "crate::nullable_f64")]
    pub mean_returns: f64,
    #[serde(with = "crate::nullable_f64")]
    pub stdev_returns: f64,
    #[serde(with = "crate::nullable_f64")]
    pub cagr: f64,
    #[serde(with = "crate::nullable_f64")]
    pub annualised_vol: f64,
    #[serde(with = "crate::nullable_f64")]
    pub sharpe: f64,
    #[serde(with = "crate::nullable_f64")]
    pub sortino: f64,
    /// The strategy's target weights on every equity date (absent for the benchmark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_allocations: Option<Vec<NamedSeries>>,
}

/// Quantiles of the daily, monthly and yearly returns.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReturnsQuantiles {
    pub daily: Quantiles,
    pub monthly: Quantiles,
    pub yearly: Quantiles,
}

/// One column of the target allocations: `{"name": ..., "data": [[ms, weight], ...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedSeries {
    pub name: String,
    pub data: DatedSeries,
}

/// Milliseconds since the Unix epoch of `date`'s midnight UTC (QSTrader's timestamps when it
/// runs with `TZ=UTC`).
pub fn epoch_millis(date: NaiveDate) -> i64 {
    const DAY_MS: i64 = 86_400_000;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    (date - epoch).num_days() * DAY_MS
}

/// Builds QSTrader's `JSONStatistics` for a strategy curve, its target allocations (`None`
/// writes an empty list) and an optional benchmark curve.
pub fn json_statistics(
    strategy: EquityCurve<'_>,
    allocations: Option<&TargetAllocations>,
    benchmark: Option<EquityCurve<'_>>,
    names: &StrategyNames,
) -> Result<JsonStatistics, StatsError> {
    let mut strategy_stats = curve_statistics(strategy, "strategy")?;
    strategy_stats.target_allocations = Some(match allocations {
        Some(a) => allocation_columns(a, strategy.dates)?,
        None => Vec::new(),
    });
    let benchmark = benchmark
        .map(|b| curve_statistics(b, "benchmark"))
        .transpose()?;
    Ok(JsonStatistics {
        strategy: strategy_stats,
        benchmark,
        strategy_id: names.strategy_id.clone(),
        strategy_name: names.strategy_name.clone(),
        benchmark_id: names.benchmark_id.clone(),
        benchmark_name: names.benchmark_name.clone(),
    })
}

fn check_curve(curve: EquityCurve<'_>, what: &'static str) -> Result<(), StatsError> {
    if curve.dates.len() != curve.equity.len() {
        return Err(StatsError::LengthMismatch {
            what,
            dates: curve.dates.len(),
            values: curve.equity.len(),
        });
    }
    if curve.dates.is_empty() {
        return Err(StatsError::Empty { what });
    }
    if let Some(i) = curve.dates.windows(2).position(|w| w[0] >= w[1]) {
        return Err(StatsError::NotAscending {
            what,
            index: i + 1,
            date: curve.dates[i + 1],
        });
    }
    Ok(())
}

/// QSTrader's `_calculate_statistics` of one curve (without target allocations).
pub fn curve_statistics(
    curve: EquityCurve<'_>,
    what: &'static str,
) -> Result<CurveStatistics, StatsError> {
    check_curve(curve, what)?;
    let dates = curve.dates;
    let equity = curve.equity;
    let n = equity.len();
    let millis: Vec<i64> = dates.iter().map(|d| epoch_millis(*d)).collect();

    let mut returns = Vec::with_capacity(n);
    returns.push(0.0);
    for w in equity.windows(2) {
        let r = w[1] / w[0] - 1.0;
        returns.push(if r.is_nan() { 0.0 } else { r });
    }
    let mut cum = Vec::with_capacity(n);
    let mut log_sum = 0.0;
    for r in &returns {
        log_sum += (1.0 + r).ln();
        cum.push(log_sum.exp());
    }
    // QSTrader's exp(cumsum(log(1 + r))) has no value once the equity reaches or crosses
    // zero (the log of a loss of 100% or more): there the cumulative returns are the equity
    // over its first day, and the drawdowns are those of the equity itself, as the summary
    // metrics measure them (the same bits as `summary`'s maximum drawdown).
    let through_zero = equity.iter().any(|e| *e <= 0.0);
    if through_zero && equity[0] > 0.0 {
        cum = equity.iter().map(|e| e / equity[0]).collect();
    }
    let dd = if through_zero {
        drawdowns(equity)
    } else {
        drawdowns(&cum)
    };

    let monthly = monthly_returns(dates, &returns);
    let yearly = yearly_returns(dates, &returns);
    let monthly_values: Vec<f64> = monthly.iter().map(|m| m.1).collect();
    let yearly_values: Vec<f64> = yearly.iter().map(|y| y.1).collect();
    let returns_quantiles = ReturnsQuantiles {
        daily: quantiles(&returns),
        monthly: quantiles(&monthly_values),
        yearly: quantiles(&yearly_values),
    };
    let pct = |q: &Quantiles| {
        vec![
            q.min * 100.0,
            q.lq * 100.0,
            q.med * 100.0,
            q.uq * 100.0,
            q.max * 100.0,
        ]
    };
    let returns_quantiles_hc = vec![
        pct(&returns_quantiles.daily),
        pct(&returns_quantiles.monthly),
        pct(&returns_quantiles.yearly),
    ];

    let mean = mean(&returns);
    let std = std_dev(&returns);
    let negatives: Vec<f64> = returns.iter().copied().filter(|r| *r < 0.0).collect();
    let neg_std = std_dev(&negatives);
    let ann = PERIODS_PER_YEAR.sqrt();
    let years = n as f64 / PERIODS_PER_YEAR;

    let dated = |values: &[f64]| -> DatedSeries {
        millis
            .iter()
            .zip(values)
            .map(|(t, v)| (*t, if v.is_nan() { 0.0 } else { *v }))
            .collect()
    };
    Ok(CurveStatistics {
        equity_curve: dated(equity),
        returns: dated(&returns),
        cum_returns: dated(&cum),
        monthly_agg_returns_hc: monthly_heat_map(&monthly),
        monthly_agg_returns: monthly,
        yearly_agg_returns_hc: yearly_values.iter().map(|y| y * 100.0).collect(),
        yearly_agg_returns: yearly,
        returns_quantiles,
        returns_quantiles_hc,
        drawdowns: dated(&dd.series),
        max_drawdown: dd.max,
        max_drawdown_duration: dd.duration,
        mean_returns: mean,
        stdev_returns: std,
        cagr: cum[n - 1].powf(1.0 / years) - 1.0,
        annualised_vol: std * ann,
        sharpe: ann * mean / std,
        sortino: ann * mean / neg_std,
        target_allocations: None,
    })
}

/// QSTrader's `_calculate_monthly_aggregated_returns_hc`: for month 0–11, for each year index
/// (into the sorted distinct years), the cell when that month has data.
fn monthly_heat_map(monthly: &[((i32, u32), f64)]) -> Vec<(u32, usize, f64)> {
    let mut years: Vec<i32> = monthly.iter().map(|m| m.0 .0).collect();
    years.dedup();
    let mut cells = Vec::with_capacity(monthly.len());
    for month in 1..=12u32 {
        for (year_index, year) in years.iter().enumerate() {
            if let Some(m) = monthly.iter().find(|m| m.0 == (*year, month)) {
                cells.push((month - 1, year_index, 100.0 * m.1));
            }
        }
    }
    cells
}

/// The target weights forward-filled onto `dates` (pandas `reindex(method="ffill")`): each
/// date takes the last rebalance on or before it; dates before the first rebalance, and NaN
/// weights, are 0.
fn allocation_columns(
    allocations: &TargetAllocations,
    dates: &[NaiveDate],
) -> Result<Vec<NamedSeries>, StatsError> {
    let width = allocations.symbols.len();
    for (row, (date, weights)) in allocations.rows.iter().enumerate() {
        if weights.len() != width {
            return Err(StatsError::AllocationWidth {
                row,
                date: *date,
                values: weights.len(),
                symbols: width,
            });
        }
    }
    if let Some(i) = allocations.rows.windows(2).position(|w| w[0].0 > w[1].0) {
        return Err(StatsError::NotAscending {
            what: "target allocation",
            index: i + 1,
            date: allocations.rows[i + 1].0,
        });
    }
    // For each date, the row in force (index into rows), if any.
    let rows = &allocations.rows;
    let in_force: Vec<Option<usize>> = dates
        .iter()
        .map(|d| rows.partition_point(|r| r.0 <= *d).checked_sub(1))
        .collect();
    Ok(allocations
        .symbols
        .iter()
        .enumerate()
        .map(|(col, symbol)| NamedSeries {
            name: symbol.replace("EQ:", ""),
            data: dates
                .iter()
                .zip(&in_force)
                .map(|(d, row)| {
                    let w = row.map_or(0.0, |r| rows[r].1[col]);
                    (epoch_millis(*d), if w.is_nan() { 0.0 } else { w })
                })
                .collect(),
        })
        .collect())
}

/// numpy's mean (NaN for an empty slice).
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// numpy's `std` with ddof 0: `sqrt(mean(|x − mean|²))` (NaN for an empty slice).
fn std_dev(values: &[f64]) -> f64 {
    let m = mean(values);
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn equity_through_zero_has_its_drawdown_and_cumulative_returns() {
        // QSTrader's log-sum cumulative returns have no value below zero (and wrote its
        // drawdown from them: 50% here, the loss before the curve crossed zero).
        let dates: Vec<NaiveDate> = (1..=6)
            .map(|d| NaiveDate::from_ymd_opt(2024, 1, d).expect("date"))
            .collect();
        let equity = [100.0, 120.0, 60.0, -30.0, -60.0, 10.0];
        let s = curve_statistics(
            EquityCurve {
                dates: &dates,
                equity: &equity,
            },
            "strategy",
        )
        .expect("statistics");
        assert_eq!(s.max_drawdown, 1.5);
        assert_eq!(
            s.max_drawdown.to_bits(),
            crate::stats::summary(&equity).max_drawdown.to_bits()
        );
        assert_eq!(s.max_drawdown_duration, 4);
        let dd: Vec<f64> = s.drawdowns.iter().map(|d| d.1).collect();
        assert_eq!(dd, [0.0, 0.0, 0.5, 1.25, 1.5, 110.0 / 120.0]);
        let cum: Vec<f64> = s.cum_returns.iter().map(|c| c.1).collect();
        assert_eq!(cum, [1.0, 1.2, 0.6, -0.3, -0.6, 0.1]);
    }

    #[test]
    fn epoch_millis_of_known_dates() {
        assert_eq!(epoch_millis(d("1970-01-01")), 0);
        // date -u -d 2004-11-19 +%s -> 1100822400
        assert_eq!(epoch_millis(d("2004-11-19")), 1_100_822_400_000);
    }

    #[test]
    fn allocations_forward_fill_onto_equity_dates() {
        let dates = [
            d("2020-01-01"),
            d("2020-01-02"),
            d("2020-01-03"),
            d("2020-01-06"),
        ];
        let a = TargetAllocations {
            symbols: vec!["EQ:SPY".into(), "EQ:AGG".into()],
            rows: vec![
                (d("2020-01-02"), vec![0.6, 0.4]),
                (d("2020-01-04"), vec![1.0, f64::NAN]),
            ],
        };
        let cols = allocation_columns(&a, &dates).expect("columns");
        assert_eq!(cols[0].name, "SPY");
        assert_eq!(cols[1].name, "AGG");
        let w: Vec<f64> = cols[0].data.iter().map(|x| x.1).collect();
        assert_eq!(w, vec![0.0, 0.6, 0.6, 1.0]);
        let w: Vec<f64> = cols[1].data.iter().map(|x| x.1).collect();
        assert_eq!(w, vec![0.0, 0.4, 0.4, 0.0]);
    }

    #[test]
    fn bad_curves_are_errors() {
        let dates = [d("2020-01-02"), d("2020-01-02")];
        let e = json_statistics(
            EquityCurve {
                dates: &dates,
                equity: &[1.0, 2.0],
            },
            None,
            None,
            &StrategyNames::default(),
        );
        assert!(matches!(e, Err(StatsError::NotAscending { index: 1, .. })));
        let e = json_statistics(
            EquityCurve {
                dates: &dates,
                equity: &[1.0],
            },
            None,
            None,
            &StrategyNames::default(),
        );
        assert!(matches!(e, Err(StatsError::LengthMismatch { .. })));
    }

    #[test]
    fn python_constants_read_as_null_outside_strings() {
        let text = r#"{"a": NaN, "b": [-Infinity, Infinity], "c": "NaN \" Infinity"}"#;
        assert_eq!(
            python_constants_to_null(text),
            r#"{"a": null, "b": [null, null], "c": "NaN \" Infinity"}"#
        );
    }

    #[test]
    fn nan_scalars_round_trip_as_null() {
        let dates = [d("2020-01-02"), d("2020-01-03")];
        let s = json_statistics(
            EquityCurve {
                dates: &dates,
                equity: &[1.0, 1.0],
            },
            None,
            None,
            &StrategyNames::default(),
        )
        .expect("stats");
        let text = serde_json::to_string(&s).expect("json");
        assert!(text.contains("\"sharpe\":null"), "{text}");
        let back: JsonStatistics = serde_json::from_str(&text).expect("parse");
        assert!(back.strategy.sharpe.is_nan());
        // As Python writes it.
        let python = text.replace("\"sharpe\":null", "\"sharpe\":NaN");
        let back = JsonStatistics::from_json_str(&python).expect("parse Python's NaN");
        assert!(back.strategy.sharpe.is_nan());
    }
}
