//! Market data: price files (Yahoo, pysystemtrade, plain OHLCV) loaded, validated and aligned
//! on one simulation calendar.
//!
//! Loading one file ([`load_file`] → [`PriceSeries`]) is separate from aligning several
//! ([`MarketData::from_series`]), so loading time can be measured on its own.
//! [`check_dir`] / [`check_file`] read files without stopping at the first problem, for
//! `bt-worker check-data` and `sweep data import`. Both run the loader's own per-file parse
//! (and its [`PriceSeries::check_has_bars`]), so a file the check accepts also loads, and
//! both say what was skipped with the same [`LoadStats::notes`]; after loading,
//! [`MarketData::notes`] says it per symbol, with the calendar days filled.
//!
//! Alignment rules:
//! - The calendar runs from `config.start` (default: the earliest first date of the symbols)
//!   to `config.end` (default: the latest last date), inclusive. `weekdays` is every
//!   Monday–Friday (QSTrader's); `trading_days` is the union of the files' dates in that range.
//! - A calendar day on which a symbol has no row repeats its last known close as both open
//!   and close (QSTrader pads to the last price); that last close may be from before `start`,
//!   so a holiday on the first day is not NaN. After a symbol's last row its last close is
//!   repeated to the end.
//! - Before a symbol's first row: NaN open and close.
//! - High and low follow the open and close: on a day without a row they repeat the last
//!   close; volume is 0 then (nothing traded; NaN where the file has no volumes).
//! - A symbol with no row between start and end is an error.

mod check;
mod error;
pub mod fields;
mod parse;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;

use crate::config::{BacktestConfig, Calendar, DataConfig, DataFormat};
use parse::count;

pub use check::{
    check_dir, check_dir_with, check_file, FileReport, Problem, MAX_PROBLEMS_PER_FILE,
};
pub use error::DataError;
pub use parse::{
    load_file, LoadStats, PriceSeries, OHLCV_HEADER, PYSYSTEMTRADE_HEADER, YAHOO_HEADER,
};

/// What loading and aligning one symbol did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SymbolStats {
    pub symbol: String,
    /// The format read.
    pub format: DataFormat,
    /// Rows read, kept and skipped by reason.
    pub load: LoadStats,
    /// The file's first and last daily bar (also outside the calendar).
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    /// Calendar days before the symbol's first price (NaN prices).
    pub days_before_first: usize,
    /// Calendar days without a row for the symbol, that repeat its last close.
    pub days_filled: usize,
}

impl SymbolStats {
    /// What loading and aligning this symbol skipped, ignored or filled, one phrase per
    /// kind: [`LoadStats::notes`] and the calendar days filled or without a price. Empty
    /// when the file was used as it is.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self.load.notes();
        if self.days_before_first > 0 {
            let first = self
                .first_date
                .map_or_else(String::new, |d| format!(" ({d})"));
            let days = count(self.days_before_first, "calendar day");
            let verb = if self.days_before_first == 1 {
                "has"
            } else {
                "have"
            };
            notes.push(format!(
                "{days} before its first price{first} {verb} no price (not traded)"
            ));
        }
        if self.days_filled > 0 {
            let days = count(self.days_filled, "calendar day");
            let verb = if self.days_filled == 1 {
                "repeats"
            } else {
                "repeat"
            };
            notes.push(format!("{days} without a row {verb} the last close"));
        }
        notes
    }
}

/// What loading one file did that its user should know (rows skipped, calendar days
/// filled): [`MarketData::notes`]. Shown as `<file>: <phrase>; <phrase>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataNote {
    pub symbol: String,
    pub file: PathBuf,
    /// One phrase per kind, e.g. "skipped 2 `null` rows (every price `null`)".
    pub notes: Vec<String>,
}

impl std::fmt::Display for DataNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.notes.join("; "))
    }
}

/// Prices of several symbols aligned on one calendar. Indexed `[symbol][day]`.
#[derive(Clone, Debug, Default)]
pub struct MarketData {
    /// The simulation calendar, from the configured start to end.
    pub dates: Vec<NaiveDate>,
    pub symbols: Vec<String>,
    /// Adjusted open (Open x Adj Close / Close). NaN before a symbol's first price.
    pub open: Vec<Vec<f64>>,
    /// Adjusted close. NaN before a symbol's first price.
    pub close: Vec<Vec<f64>>,
    /// Adjusted high (as the open). On a calendar day without a row: the last close; NaN
    /// before a symbol's first price. Empty for data built by hand without it.
    pub high: Vec<Vec<f64>>,
    /// Adjusted low, as the high.
    pub low: Vec<Vec<f64>>,
    /// Volume: 0 on a calendar day without a row (nothing traded), NaN before a symbol's
    /// first price and where the file has none. Empty for data built by hand without it.
    pub volume: Vec<Vec<f64>>,
    /// The files read, in symbol order.
    pub files: Vec<PathBuf>,
    /// Per symbol, in symbol order: what loading and aligning it did. Empty for data built
    /// by hand.
    pub stats: Vec<SymbolStats>,
    /// Values derived from the prices on first use and shared by every run over this data
    /// (see [`MarketData::close_sums`]). Reset it (`DerivedCache::default()`) after changing
    /// `close` in place.
    pub derived: DerivedCache,
}

/// Values derived from a [`MarketData`]'s prices, computed once on first use (so a sweep's
/// runs over one loaded data set share them) and cloned with the data.
#[derive(Clone, Debug, Default)]
pub struct DerivedCache {
    close_sums: OnceLock<Vec<CloseSums>>,
    dates: OnceLock<Arc<[NaiveDate]>>,
}

/// Running sums of one symbol's closes: a window's sum is the difference of two of them, in
/// O(1) per day and without a loop-carried dependency.
#[derive(Clone, Debug, PartialEq)]
pub struct CloseSums {
    /// `prefix[k]` = the closes of days `0..k` added in day order (`prefix[0] = 0`), with
    /// non-finite closes taken as 0; one longer than the closes.
    pub prefix: Vec<f64>,
    /// An upper bound of |`prefix[k]` − the exact sum| for every `k` (the rounding errors of
    /// the additions: at most half an ulp of each partial sum).
    pub error_bound: f64,
    /// The largest |close| among the finite closes (0 when there are none).
    pub max_abs: f64,
    /// One past the last day whose close is not finite (0 when every close is finite): sums
    /// over windows that start at or after it are plain sums of the closes.
    pub nonfinite_end: usize,
}

impl CloseSums {
    /// The sums of `closes`.
    pub fn new(closes: &[f64]) -> CloseSums {
        let mut prefix = Vec::with_capacity(closes.len() + 1);
        prefix.push(0.0);
        let (mut sum, mut abs_partials, mut max_abs) = (0.0f64, 0.0f64, 0.0f64);
        let mut nonfinite_end = 0;
        for (day, &c) in closes.iter().enumerate() {
            if c.is_finite() {
                sum += c;
                max_abs = max_abs.max(c.abs());
            } else {
                nonfinite_end = day + 1;
            }
            abs_partials += sum.abs();
            prefix.push(sum);
        }
        // Each addition errs by at most u·|its result| (u = 2^-53); the bound's own
        // additions err by far less than the 1% margin.
        let error_bound = abs_partials * (f64::EPSILON / 2.0) * 1.01;
        CloseSums {
            prefix,
            error_bound,
            max_abs,
            nonfinite_end,
        }
    }
}

impl MarketData {
    /// The calendar as a shared slice (made on the first call), so that runs over this data
    /// hand out their dates without copying them. A fresh copy when the cache no longer
    /// matches `dates` (changed in place without resetting `derived`).
    pub fn shared_dates(&self) -> Arc<[NaiveDate]> {
        let cached = self
            .derived
            .dates
            .get_or_init(|| Arc::from(self.dates.as_slice()));
        let same = cached.len() == self.dates.len()
            && cached.first() == self.dates.first()
            && cached.last() == self.dates.last();
        if same {
            Arc::clone(cached)
        } else {
            Arc::from(self.dates.as_slice())
        }
    }

    /// The [`CloseSums`] of `symbol` (an index into `symbols`), computed for every symbol on
    /// the first call. `None` when `symbol` is out of range or the cache no longer matches
    /// the close columns' lengths.
    pub fn close_sums(&self, symbol: usize) -> Option<&CloseSums> {
        let all = self
            .derived
            .close_sums
            .get_or_init(|| self.close.iter().map(|c| CloseSums::new(c)).collect());
        let sums = all.get(symbol)?;
        let closes = self.close.get(symbol)?;
        (sums.prefix.len() == closes.len() + 1).then_some(sums)
    }

    /// Loads `data.symbols` from `data.dir` and aligns them on `config.calendar` between
    /// `config.start` and `config.end`.
    ///
    /// ```
    /// use backtest::synthetic::{write_market, DEMO_SYMBOLS};
    /// use backtest::{BacktestConfig, Calendar, DataConfig, DataFormat, MarketData};
    /// use chrono::NaiveDate;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (start, end) = (
    ///     NaiveDate::from_ymd_opt(2024, 12, 23).unwrap(),
    ///     NaiveDate::from_ymd_opt(2024, 12, 27).unwrap(),
    /// );
    /// write_market(dir.path(), &DEMO_SYMBOLS, start, end, 1)?;
    /// let data = DataConfig {
    ///     dir: dir.path().to_path_buf(),
    ///     symbols: vec!["SYNA".into(), "SYNB".into()],
    ///     format: DataFormat::Auto,
    /// };
    /// let config = BacktestConfig { calendar: Calendar::Weekdays, ..BacktestConfig::default() };
    /// let market = MarketData::load(&data, &config)?;
    /// // Monday to Friday; the synthetic market is closed on Christmas (Wednesday),
    /// // which repeats Tuesday's close.
    /// assert_eq!(market.dates.len(), 5);
    /// assert_eq!(market.close[0][2], market.close[0][1]);
    /// assert_eq!(market.open[0][2], market.close[0][1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(data: &DataConfig, config: &BacktestConfig) -> Result<MarketData, DataError> {
        check_symbols(&data.symbols)?;
        let series = data
            .symbols
            .iter()
            .map(|symbol| load_file(&data.file_of(symbol), data.format))
            .collect::<Result<Vec<_>, _>>()?;
        MarketData::from_series(&data.symbols, series, config)
    }

    /// Aligns already loaded series (one per symbol, in the same order) on `config.calendar`
    /// between `config.start` and `config.end`.
    pub fn from_series(
        symbols: &[String],
        series: Vec<PriceSeries>,
        config: &BacktestConfig,
    ) -> Result<MarketData, DataError> {
        check_symbols(symbols)?;
        if symbols.len() != series.len() {
            return Err(DataError::Request(format!(
                "{} symbols but {} price series",
                symbols.len(),
                series.len()
            )));
        }
        for one in &series {
            one.check_has_bars()?;
        }
        let start = match config.start {
            Some(start) => start,
            None => series
                .iter()
                .filter_map(PriceSeries::first_date)
                .min()
                .ok_or_else(|| DataError::Request("no data".to_string()))?,
        };
        let end = match config.end {
            Some(end) => end,
            None => series
                .iter()
                .filter_map(PriceSeries::last_date)
                .max()
                .ok_or_else(|| DataError::Request("no data".to_string()))?,
        };
        if start > end {
            return Err(DataError::Request(format!(
                "the start {start} is after the end {end}"
            )));
        }
        for (symbol, one) in symbols.iter().zip(&series) {
            let first_in = one.dates.partition_point(|d| *d < start);
            let in_period = one.dates.get(first_in).is_some_and(|d| *d <= end);
            if let (false, Some(first), Some(last)) = (in_period, one.first_date(), one.last_date())
            {
                return Err(DataError::NoDataInPeriod {
                    file: one.file.clone(),
                    symbol: symbol.clone(),
                    start,
                    end,
                    first,
                    last,
                });
            }
        }
        let dates = match config.calendar {
            Calendar::Weekdays => weekdays(start, end),
            Calendar::TradingDays => trading_days(&series, start, end),
        };
        if dates.is_empty() {
            return Err(DataError::Request(format!(
                "the {:?} calendar has no day between {start} and {end}",
                config.calendar
            )));
        }
        let mut market = MarketData {
            dates,
            symbols: symbols.to_vec(),
            ..MarketData::default()
        };
        for (symbol, one) in symbols.iter().zip(series) {
            let mut stats = SymbolStats {
                symbol: symbol.clone(),
                format: one.format,
                first_date: one.first_date(),
                last_date: one.last_date(),
                ..SymbolStats::default()
            };
            let aligned = align(&one, &market.dates, &mut stats);
            market.open.push(aligned.open);
            market.high.push(aligned.high);
            market.low.push(aligned.low);
            market.close.push(aligned.close);
            market.volume.push(aligned.volume);
            stats.load = one.stats;
            market.stats.push(stats);
            market.files.push(one.file);
        }
        Ok(market)
    }

    /// What loading skipped, ignored or filled, one [`DataNote`] per file that has any (in
    /// symbol order; empty for data built by hand or files used as they are). Loading never
    /// drops or fills a row silently: every caller that loads (planning, `bt-worker run`,
    /// `bt-worker task`) can print these.
    pub fn notes(&self) -> Vec<DataNote> {
        self.stats
            .iter()
            .zip(&self.files)
            .filter_map(|(stats, file)| {
                let notes = stats.notes();
                (!notes.is_empty()).then(|| DataNote {
                    symbol: stats.symbol.clone(),
                    file: file.clone(),
                    notes,
                })
            })
            .collect()
    }

    /// The position of `symbol` in `symbols`.
    pub fn symbol_index(&self, symbol: &str) -> Option<usize> {
        self.symbols.iter().position(|s| s == symbol)
    }

    /// The position of `date` in the calendar.
    pub fn date_index(&self, date: NaiveDate) -> Option<usize> {
        self.dates.binary_search(&date).ok()
    }

    /// Number of calendar days.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }
}

fn check_symbols(symbols: &[String]) -> Result<(), DataError> {
    if symbols.is_empty() {
        return Err(DataError::Request("no symbols requested".to_string()));
    }
    let mut seen = HashSet::new();
    for symbol in symbols {
        if !seen.insert(symbol.as_str()) {
            return Err(DataError::Request(format!(
                "symbol `{symbol}` is listed twice"
            )));
        }
    }
    Ok(())
}

/// Every Monday to Friday from `start` to `end`, inclusive.
pub fn weekdays(start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    start
        .iter_days()
        .take_while(|d| *d <= end)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

/// The union of the series' dates from `start` to `end`, inclusive, sorted.
fn trading_days(series: &[PriceSeries], start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = series
        .iter()
        .flat_map(|one| one.dates.iter().copied())
        .filter(|d| (start..=end).contains(d))
        .collect();
    dates.sort_unstable();
    dates.dedup();
    dates
}

/// `column[row]`, NaN when a series built by hand lacks the column.
fn at(column: &[f64], row: usize) -> f64 {
    column.get(row).copied().unwrap_or(f64::NAN)
}

/// One symbol's columns on the calendar.
struct Aligned {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

/// One symbol's prices on each calendar day (see the module doc for the rules).
fn align(one: &PriceSeries, calendar: &[NaiveDate], stats: &mut SymbolStats) -> Aligned {
    let column = || Vec::with_capacity(calendar.len());
    let mut out = Aligned {
        open: column(),
        high: column(),
        low: column(),
        close: column(),
        volume: column(),
    };
    let mut next = 0;
    let mut last: Option<usize> = None;
    for &day in calendar {
        while next < one.dates.len() && one.dates[next] <= day {
            last = Some(next);
            next += 1;
        }
        let (open, high, low, close, volume) = match last {
            None => {
                stats.days_before_first += 1;
                (f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN)
            }
            Some(row) if one.dates[row] == day => (
                one.open[row],
                at(&one.high, row),
                at(&one.low, row),
                one.close[row],
                at(&one.volume, row),
            ),
            Some(row) => {
                stats.days_filled += 1;
                let c = one.close[row];
                // Nothing traded (where the file has volumes at all).
                let volume = if at(&one.volume, row).is_nan() {
                    f64::NAN
                } else {
                    0.0
                };
                (c, c, c, c, volume)
            }
        };
        out.open.push(open);
        out.high.push(high);
        out.low.push(low);
        out.close.push(close);
        out.volume.push(volume);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn close_sums_by_hand() {
        // 1, 2, NaN, 4: prefix 0, 1, 3, 3, 7; partial sums 1 + 3 + 3 + 7 = 14.
        let sums = CloseSums::new(&[1.0, 2.0, f64::NAN, 4.0]);
        assert_eq!(sums.prefix, [0.0, 1.0, 3.0, 3.0, 7.0]);
        assert_eq!(sums.max_abs, 4.0);
        assert_eq!(sums.nonfinite_end, 3);
        let u = f64::EPSILON / 2.0;
        assert!(sums.error_bound >= 14.0 * u && sums.error_bound < 15.0 * u);
        let market = MarketData {
            close: vec![vec![1.0, 2.0], vec![3.0]],
            ..MarketData::default()
        };
        assert_eq!(
            market.close_sums(1).map(|s| s.prefix.clone()),
            Some(vec![0.0, 3.0])
        );
        assert!(market.close_sums(2).is_none());
    }

    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn series(name: &str, rows: &[(NaiveDate, f64, f64)]) -> PriceSeries {
        PriceSeries {
            file: PathBuf::from(format!("{name}.csv")),
            format: DataFormat::Yahoo,
            dates: rows.iter().map(|r| r.0).collect(),
            open: rows.iter().map(|r| r.1).collect(),
            high: rows.iter().map(|r| r.1).collect(),
            low: rows.iter().map(|r| r.1).collect(),
            close: rows.iter().map(|r| r.2).collect(),
            volume: vec![f64::NAN; rows.len()],
            stats: LoadStats::default(),
        }
    }

    fn symbols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn symbol_notes_count_in_words() {
        let stats = SymbolStats {
            load: LoadStats {
                rows: 40,
                bars: 30,
                null_rows: 1,
                blank_prices: 2,
                intraday_rows: 7,
                dates_without_close: 1,
            },
            first_date: Some(ymd(2003, 9, 29)),
            days_before_first: 5,
            days_filled: 2,
            ..SymbolStats::default()
        };
        assert_eq!(
            stats.notes(),
            [
                "skipped 1 `null` row (every price `null`)",
                "skipped 2 rows with an empty price",
                "ignored 7 intraday rows (the daily close is the 23:00:00 row)",
                "1 date has no daily close (no 23:00:00 row, nor a lone 00:00:00 row) and no bar",
                "5 calendar days before its first price (2003-09-29) have no price (not traded)",
                "2 calendar days without a row repeat the last close",
            ]
        );
        assert!(SymbolStats::default().notes().is_empty());
    }

    #[test]
    fn weekdays_fill_holidays_with_the_last_close() {
        // Fri 2020-01-03, (weekend), Mon 06 missing for A, Tue 07.
        let a = series(
            "A",
            &[(ymd(2020, 1, 3), 1.0, 2.0), (ymd(2020, 1, 7), 3.0, 4.0)],
        );
        let b = series(
            "B",
            &[(ymd(2020, 1, 6), 10.0, 11.0), (ymd(2020, 1, 7), 12.0, 13.0)],
        );
        let config = BacktestConfig::default();
        let market =
            MarketData::from_series(&symbols(&["A", "B"]), vec![a.clone(), b.clone()], &config)
                .expect("aligns");
        assert_eq!(
            market.dates,
            vec![ymd(2020, 1, 3), ymd(2020, 1, 6), ymd(2020, 1, 7)]
        );
        assert_eq!(market.open[0], vec![1.0, 2.0, 3.0]);
        assert_eq!(market.close[0], vec![2.0, 2.0, 4.0]);
        // High and low (the opens here) repeat the last close on the day without a row.
        assert_eq!(market.high[0], vec![1.0, 2.0, 3.0]);
        assert_eq!(market.low[0], vec![1.0, 2.0, 3.0]);
        // No volumes in these files: undefined, also on the filled day.
        assert!(market.volume[0].iter().all(|v| v.is_nan()));
        assert!(market.open[1][0].is_nan() && market.close[1][0].is_nan());
        assert!(market.high[1][0].is_nan() && market.low[1][0].is_nan());
        // With volumes, a filled day traded nothing.
        let mut traded = a.clone();
        traded.volume = vec![100.0, 300.0];
        let alone =
            MarketData::from_series(&symbols(&["A"]), vec![traded], &config).expect("aligns");
        assert_eq!(alone.volume[0], vec![100.0, 0.0, 300.0]);
        assert_eq!(market.close[1][1..], [11.0, 13.0]);
        assert_eq!(market.stats[0].days_filled, 1);
        assert_eq!(market.stats[1].days_before_first, 1);
        assert_eq!(market.symbol_index("B"), Some(1));
        let notes: Vec<String> = market.notes().iter().map(|n| n.to_string()).collect();
        assert_eq!(
            notes,
            [
                "A.csv: 1 calendar day without a row repeats the last close",
                "B.csv: 1 calendar day before its first price (2020-01-06) has no price (not \
                 traded)"
            ]
        );

        let trading = BacktestConfig {
            calendar: Calendar::TradingDays,
            start: Some(ymd(2020, 1, 6)),
            ..BacktestConfig::default()
        };
        let market =
            MarketData::from_series(&symbols(&["A", "B"]), vec![a, b], &trading).expect("aligns");
        assert_eq!(market.dates, vec![ymd(2020, 1, 6), ymd(2020, 1, 7)]);
        // A has no row on the first day: it repeats its close from before the start.
        assert_eq!(market.open[0], vec![2.0, 3.0]);
        assert_eq!(market.close[0], vec![2.0, 4.0]);
    }

    #[test]
    fn a_symbol_without_data_in_the_period_is_an_error() {
        let a = series("A", &[(ymd(2020, 1, 3), 1.0, 2.0)]);
        let config = BacktestConfig {
            start: Some(ymd(2021, 1, 1)),
            end: Some(ymd(2021, 12, 31)),
            ..BacktestConfig::default()
        };
        let error = MarketData::from_series(&symbols(&["A"]), vec![a], &config)
            .expect_err("no data in 2021");
        assert!(matches!(error, DataError::NoDataInPeriod { .. }), "{error}");
        assert!(error.to_string().contains("A.csv"), "{error}");
    }

    #[test]
    fn bad_requests() {
        let a = series("A", &[(ymd(2020, 1, 3), 1.0, 2.0)]);
        let reversed = BacktestConfig {
            start: Some(ymd(2020, 2, 1)),
            end: Some(ymd(2020, 1, 1)),
            ..BacktestConfig::default()
        };
        assert!(MarketData::from_series(&symbols(&["A"]), vec![a.clone()], &reversed).is_err());
        assert!(
            MarketData::from_series(&symbols(&["A", "A"]), vec![a.clone(), a], &reversed).is_err()
        );
        assert!(MarketData::from_series(&[], vec![], &BacktestConfig::default()).is_err());
    }

    #[test]
    fn weekdays_of_a_week() {
        // 2024-07-01 is a Monday; 1..=14 has 10 weekdays.
        let days = weekdays(ymd(2024, 7, 1), ymd(2024, 7, 14));
        assert_eq!(days.len(), 10);
        assert_eq!(days.last(), Some(&ymd(2024, 7, 12)));
    }
}
