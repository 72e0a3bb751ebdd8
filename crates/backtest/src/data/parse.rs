//! Reading one price file into a daily [`PriceSeries`]: format detection from the header and
//! the three parsers (Yahoo, pysystemtrade adjusted prices, plain OHLCV). One reused
//! `csv::ByteRecord`, no allocation per row.
//!
//! The parsers report problems to a [`Problems`] collector: [`load_file`] stops at the first,
//! the checker (`check_file`) keeps going and collects them all.
//!
//! Format rules:
//! - **Yahoo** (`Date,Open,High,Low,Close,Adj Close,Volume`): a row whose prices are all
//!   `null` is skipped and counted; a `null` in only some prices is an error. Prices must be
//!   positive. Open, high and low are scaled by `Adj Close / Close`; the close is
//!   `Adj Close`. Volume may be empty or `null` (NaN) but not negative.
//! - **pysystemtrade** (`DATETIME,price`, back-adjusted): the daily close of a date is its
//!   row stamped exactly `23:00:00` (a row with no time counts the same); a `00:00:00` row is
//!   the close only when it is the date's only row (older, purely daily history; in the
//!   intraday era midnight rows are intraday prices). Every other row is intraday and
//!   dropped (counted). A date with no such row, or whose 23:00:00 price is empty, gets no
//!   bar: it is skipped and counted in `dates_without_close`, rather than taking an intraday
//!   price as the close. Empty prices are skipped and counted. Prices may be zero or
//!   negative. Open = high = low = close. Timestamps must be strictly increasing.
//! - **OHLCV** (a date column named date/datetime/timestamp/time, or an unnamed first
//!   column as pandas writes its index, and open/high/low/close, optionally adj close and
//!   volume; names case-insensitive): like Yahoo. A time part on the dates is accepted and
//!   dropped; two rows on one date (intraday bars) are a duplicate-date error.
//! - In every format dates must be strictly increasing (sorted oldest first, no duplicates).

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use super::error::DataError;
use super::fields::{self, PriceProblem, Stamp, DAILY_CLOSE_TIME};
use crate::config::DataFormat;

/// The header of each format, for error messages.
pub const YAHOO_HEADER: &str = "Date,Open,High,Low,Close,Adj Close,Volume";
pub const PYSYSTEMTRADE_HEADER: &str = "DATETIME,price";
pub const OHLCV_HEADER: &str = "date,open,high,low,close[,adj close][,volume]";

/// Names accepted for the date column (case-insensitive); an unnamed first column (a pandas
/// index written by `to_csv`) is accepted too.
const DATE_NAMES: [&str; 4] = ["date", "datetime", "timestamp", "time"];

/// Counts of what reading one file kept and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LoadStats {
    /// Data rows read (lines after the header, blank lines excepted).
    pub rows: usize,
    /// Daily bars kept.
    pub bars: usize,
    /// Yahoo `null` rows (every price `null`), skipped.
    pub null_rows: usize,
    /// pysystemtrade rows with an empty price, skipped.
    pub blank_prices: usize,
    /// pysystemtrade rows at a time other than the daily close (23:00:00), dropped.
    pub intraday_rows: usize,
    /// pysystemtrade dates with no usable daily-close row (only intraday rows, or an empty
    /// 23:00:00 price), skipped: no bar for that date.
    pub dates_without_close: usize,
}

impl LoadStats {
    /// Rows read but not turned into bars, for any reason.
    pub fn skipped_rows(&self) -> usize {
        self.null_rows + self.blank_prices + self.intraday_rows
    }

    /// What reading the file skipped, ignored or left without a bar, one phrase per kind
    /// (empty when every row became a bar). The wording every caller prints: `bt-worker
    /// check-data`, `sweep data import`, and, through [`MarketData::notes`], planning and
    /// the worker.
    ///
    /// [`MarketData::notes`]: super::MarketData::notes
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.null_rows > 0 {
            notes.push(format!(
                "skipped {} (every price `null`)",
                count(self.null_rows, "`null` row")
            ));
        }
        if self.blank_prices > 0 {
            notes.push(format!(
                "skipped {} with an empty price",
                count(self.blank_prices, "row")
            ));
        }
        if self.intraday_rows > 0 {
            notes.push(format!(
                "ignored {} (the daily close is the 23:00:00 row)",
                count(self.intraday_rows, "intraday row")
            ));
        }
        if self.dates_without_close > 0 {
            notes.push(format!(
                "{} no daily close (no 23:00:00 row, nor a lone 00:00:00 row) and no bar",
                count_verb(self.dates_without_close, "date", "has", "have")
            ));
        }
        notes
    }
}

/// `1 row`, `2 rows`.
pub(crate) fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `1 date has`, `2 dates have`: `n` `what`s and the verb agreeing with them.
pub(crate) fn count_verb(n: usize, what: &str, one: &str, many: &str) -> String {
    format!("{} {}", count(n, what), if n == 1 { one } else { many })
}

/// One file's daily bars, oldest first, prices adjusted (`x Adj Close / Close` when the file
/// has an adjusted close).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceSeries {
    pub file: PathBuf,
    /// The format read (never `Auto`).
    pub format: DataFormat,
    pub dates: Vec<NaiveDate>,
    /// Adjusted open; equal to the close for pysystemtrade's single price.
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    /// Adjusted close (Yahoo's `Adj Close`).
    pub close: Vec<f64>,
    /// Volume; NaN where the file has none.
    pub volume: Vec<f64>,
    pub stats: LoadStats,
}

impl PriceSeries {
    fn new(file: &Path) -> PriceSeries {
        PriceSeries {
            file: file.to_path_buf(),
            ..PriceSeries::default()
        }
    }

    fn push(&mut self, date: NaiveDate, open: f64, high: f64, low: f64, close: f64, volume: f64) {
        self.dates.push(date);
        self.open.push(open);
        self.high.push(high);
        self.low.push(low);
        self.close.push(close);
        self.volume.push(volume);
        self.stats.bars += 1;
    }

    pub fn len(&self) -> usize {
        self.dates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    pub fn first_date(&self) -> Option<NaiveDate> {
        self.dates.first().copied()
    }

    pub fn last_date(&self) -> Option<NaiveDate> {
        self.dates.last().copied()
    }

    /// An error when the file has data rows but none became a daily bar (every row skipped:
    /// all `null`, empty prices, or a pysystemtrade file without a daily-close row on any
    /// date), saying what was skipped. The one rule that loading ([`load_file`]), checking
    /// (`check_file`, `check_dir`) and aligning (`MarketData::from_series`) share, so a file
    /// that passes the check also loads.
    pub fn check_has_bars(&self) -> Result<(), DataError> {
        if !self.is_empty() {
            return Ok(());
        }
        let mut message = format!("no daily prices in {}", count(self.stats.rows, "data row"));
        let notes = self.stats.notes();
        if !notes.is_empty() {
            message.push_str(": ");
            message.push_str(&notes.join("; "));
        }
        Err(DataError::File {
            file: self.file.clone(),
            message,
        })
    }
}

/// Collects problems; says whether parsing should go on.
pub(crate) struct Problems {
    pub list: Vec<DataError>,
    /// All problems found, including those over the cap.
    pub total: usize,
    cap: usize,
    stop_at_cap: bool,
}

impl Problems {
    /// Stop at the first problem (loading).
    pub fn first_only() -> Problems {
        Problems {
            list: Vec::new(),
            total: 0,
            cap: 1,
            stop_at_cap: true,
        }
    }

    /// Keep `cap` problems and count the rest (checking).
    pub fn collect(cap: usize) -> Problems {
        Problems {
            list: Vec::new(),
            total: 0,
            cap,
            stop_at_cap: false,
        }
    }

    /// Records `error`; returns false when parsing should stop.
    fn push(&mut self, error: DataError) -> bool {
        self.total += 1;
        if self.list.len() < self.cap {
            self.list.push(error);
        }
        !(self.stop_at_cap && self.total >= self.cap)
    }

    fn is_done(&self) -> bool {
        self.stop_at_cap && self.total >= self.cap
    }
}

/// Reads one price file into daily bars. `DataFormat::Auto` detects the format from the
/// header. Fails on the first problem, naming file, line and field.
pub fn load_file(path: &Path, format: DataFormat) -> Result<PriceSeries, DataError> {
    let mut problems = Problems::first_only();
    let series = parse_file(path, format, &mut problems);
    match problems.list.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(series),
    }
}

/// Reads `path`, reporting every problem to `problems`; returns what could be read.
pub(crate) fn parse_file(path: &Path, format: DataFormat, problems: &mut Problems) -> PriceSeries {
    let mut series = PriceSeries::new(path);
    let file = match File::open(path) {
        Ok(file) => file,
        Err(source) => {
            problems.push(DataError::Io {
                file: path.to_path_buf(),
                source,
            });
            return series;
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(64 * 1024)
        .from_reader(file);
    let mut record = csv::ByteRecord::new();
    let mut ctx = Context {
        file: path,
        problems,
    };
    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            ctx.problems.push(DataError::Empty {
                file: path.to_path_buf(),
                line: 1,
                message: "no header line".to_string(),
            });
            return series;
        }
        Err(error) => {
            ctx.csv_error(error);
            return series;
        }
    }
    let header: Vec<String> = record
        .iter()
        .map(|name| String::from_utf8_lossy(name.trim_ascii()).into_owned())
        .collect();
    let Some(layout) = ctx.layout(&header, format) else {
        return series;
    };
    match layout {
        Layout::Bars(columns) => {
            series.format = columns.format;
            read_bars(&mut reader, &mut record, &columns, &mut series, &mut ctx);
        }
        Layout::Pysystemtrade { datetime, price } => {
            series.format = DataFormat::Pysystemtrade;
            let columns = PysysColumns {
                datetime,
                price,
                count: header.len(),
                datetime_name: &header[datetime],
                price_name: &header[price],
            };
            read_pysystemtrade(&mut reader, &mut record, &columns, &mut series, &mut ctx);
        }
    }
    if ctx.problems.is_done() {
        return series;
    }
    if series.stats.rows == 0 {
        ctx.problems.push(DataError::Empty {
            file: path.to_path_buf(),
            line: 2,
            message: "a header and no data rows".to_string(),
        });
    } else if ctx.problems.total == 0 {
        // (A file with bad rows already fails; that none of its rows made a bar adds
        // nothing.)
        if let Err(error) = series.check_has_bars() {
            ctx.problems.push(error);
        }
    }
    series
}

/// The columns of a file with one bar per row (Yahoo, OHLCV).
struct BarColumns {
    format: DataFormat,
    date: usize,
    /// Open, high, low, close and, when present, adjusted close.
    prices: Vec<usize>,
    adj_close: Option<usize>,
    volume: Option<usize>,
    names: Vec<String>,
}

/// Where the columns are, per format.
enum Layout {
    Bars(BarColumns),
    Pysystemtrade { datetime: usize, price: usize },
}

struct PysysColumns<'a> {
    datetime: usize,
    price: usize,
    count: usize,
    datetime_name: &'a str,
    price_name: &'a str,
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
}

fn find_date(header: &[String]) -> Option<usize> {
    find(header, &DATE_NAMES).or_else(|| match header.first() {
        Some(first) if first.is_empty() => Some(0),
        _ => None,
    })
}

struct Context<'a> {
    file: &'a Path,
    problems: &'a mut Problems,
}

impl Context<'_> {
    fn field(&mut self, line: u64, field: &str, message: String) -> bool {
        self.problems.push(DataError::Field {
            file: self.file.to_path_buf(),
            line,
            field: field.to_string(),
            message,
        })
    }

    fn csv_error(&mut self, error: csv::Error) -> bool {
        let line = error.position().map(|p| p.line()).unwrap_or(0);
        let message = error.to_string();
        let file = self.file.to_path_buf();
        let problem = match error.into_kind() {
            csv::ErrorKind::Io(source) => DataError::Io { file, source },
            _ => DataError::Syntax {
                file,
                line,
                message,
            },
        };
        self.problems.push(problem)
    }

    fn missing(&mut self, header: &[String], missing: &[&str], expected: &str) {
        self.problems.push(DataError::MissingColumn {
            file: self.file.to_path_buf(),
            missing: missing.join(", "),
            expected: expected.to_string(),
            found: header.join(","),
        });
    }

    /// Finds the columns of `format` (detected from the header when `Auto`).
    fn layout(&mut self, header: &[String], format: DataFormat) -> Option<Layout> {
        let has = |names: &[&str]| find(header, names).is_some();
        let format = match format {
            DataFormat::Auto => {
                if has(&["price"]) && !has(&["close"]) {
                    DataFormat::Pysystemtrade
                } else if has(&["adj close", "adj_close"]) {
                    DataFormat::Yahoo
                } else if has(&["open", "high", "low", "close"]) {
                    DataFormat::Ohlcv
                } else {
                    self.missing(
                        header,
                        &["(no known price header)"],
                        &format!(
                            "one of `{YAHOO_HEADER}` (Yahoo), `{PYSYSTEMTRADE_HEADER}` \
                             (pysystemtrade), `{OHLCV_HEADER}` (OHLCV)"
                        ),
                    );
                    return None;
                }
            }
            forced => forced,
        };
        if format == DataFormat::Pysystemtrade {
            let datetime = find_date(header);
            let price = find(header, &["price"]);
            return match (datetime, price) {
                (Some(datetime), Some(price)) => Some(Layout::Pysystemtrade { datetime, price }),
                _ => {
                    let mut missing = Vec::new();
                    if datetime.is_none() {
                        missing.push("DATETIME");
                    }
                    if price.is_none() {
                        missing.push("price");
                    }
                    self.missing(header, &missing, PYSYSTEMTRADE_HEADER);
                    None
                }
            };
        }
        let yahoo = format == DataFormat::Yahoo;
        let mut wanted: Vec<(&str, &[&str])> = vec![
            ("Date", &DATE_NAMES[..]),
            ("Open", &["open"][..]),
            ("High", &["high"][..]),
            ("Low", &["low"][..]),
            ("Close", &["close"][..]),
        ];
        if yahoo {
            wanted.push(("Adj Close", &["adj close", "adj_close"][..]));
        }
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (index, (canonical, names)) in wanted.iter().enumerate() {
            let column = if index == 0 {
                find_date(header)
            } else {
                find(header, names)
            };
            match column {
                Some(column) => found.push(column),
                None => missing.push(*canonical),
            }
        }
        if !missing.is_empty() {
            let expected = if yahoo { YAHOO_HEADER } else { OHLCV_HEADER };
            self.missing(header, &missing, expected);
            return None;
        }
        let adj_close = find(header, &["adj close", "adj_close"]);
        let mut prices = found[1..5].to_vec();
        if let Some(adj) = adj_close {
            prices.push(adj);
        }
        Some(Layout::Bars(BarColumns {
            format,
            date: found[0],
            prices,
            adj_close,
            volume: find(header, &["volume"]),
            names: header.to_vec(),
        }))
    }

    /// Checks the row has as many fields as the header; reports the first missing column.
    fn row_length(&mut self, line: u64, len: usize, header: &[&str]) -> bool {
        if len == header.len() {
            return true;
        }
        let field = header.get(len).copied().unwrap_or("(row)");
        self.field(
            line,
            field,
            format!(
                "the row has {len} field(s), the header has {}",
                header.len()
            ),
        );
        false
    }
}

/// The previous accepted row's timestamp and line, for the order check.
struct Previous {
    stamp: Stamp,
    text_len: usize,
    text: [u8; 32],
    line: u64,
}

impl Previous {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.text[..self.text_len]).into_owned()
    }
}

/// Checks `stamp` is after the previous row's; `key` says what is compared (the date for
/// bars, the full timestamp for pysystemtrade). Returns false if it is not.
fn check_order(
    ctx: &mut Context<'_>,
    previous: &mut Option<Previous>,
    stamp: Stamp,
    raw: &[u8],
    line: u64,
    field: &str,
    key: fn(&Stamp) -> (NaiveDate, u32),
) -> bool {
    if let Some(prev) = previous.as_ref() {
        let (now, before) = (key(&stamp), key(&prev.stamp));
        if now <= before {
            let date = String::from_utf8_lossy(raw.trim_ascii()).into_owned();
            let error = if now == before {
                DataError::DuplicateDate {
                    file: ctx.file.to_path_buf(),
                    line,
                    field: field.to_string(),
                    date,
                    previous_line: prev.line,
                }
            } else {
                DataError::UnsortedDate {
                    file: ctx.file.to_path_buf(),
                    line,
                    field: field.to_string(),
                    date,
                    previous: prev.text(),
                    previous_line: prev.line,
                }
            };
            ctx.problems.push(error);
            return false;
        }
    }
    let raw = raw.trim_ascii();
    let text_len = raw.len().min(32);
    let mut text = [0u8; 32];
    text[..text_len].copy_from_slice(&raw[..text_len]);
    *previous = Some(Previous {
        stamp,
        text_len,
        text,
        line,
    });
    true
}

fn shown(raw: &[u8]) -> String {
    let raw = raw.trim_ascii();
    let cut = &raw[..raw.len().min(40)];
    String::from_utf8_lossy(cut).into_owned()
}

/// The row loop every format shares: reads records until the end of the file, the
/// problem limit, or a CSV error that stops the read; counts each row and hands it, with its
/// line number, to `row`, which returns false to stop reading. True when the whole file was
/// read.
fn for_each_row<'a>(
    reader: &mut csv::Reader<File>,
    record: &mut csv::ByteRecord,
    series: &mut PriceSeries,
    ctx: &mut Context<'a>,
    mut row: impl FnMut(&csv::ByteRecord, u64, &mut PriceSeries, &mut Context<'a>) -> bool,
) -> bool {
    loop {
        if ctx.problems.is_done() {
            return false;
        }
        match reader.read_byte_record(record) {
            Ok(true) => {}
            Ok(false) => return true,
            Err(error) => {
                if ctx.csv_error(error) {
                    continue;
                }
                return false;
            }
        }
        series.stats.rows += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if !row(record, line, series, ctx) {
            return false;
        }
    }
}

/// The row's date or timestamp (`raw`, in column `field`) when it parses and comes after
/// the previous row's ([`check_order`], comparing `key`); `None`, with the problem
/// reported, when the row must be skipped.
fn row_stamp(
    ctx: &mut Context<'_>,
    previous: &mut Option<Previous>,
    raw: &[u8],
    line: u64,
    field: &str,
    key: fn(&Stamp) -> (NaiveDate, u32),
) -> Option<Stamp> {
    let stamp = match fields::parse_stamp(raw) {
        Ok(stamp) => stamp,
        Err(reason) => {
            ctx.field(line, field, format!("{reason}: `{}`", shown(raw)));
            return None;
        }
    };
    check_order(ctx, previous, stamp, raw, line, field, key).then_some(stamp)
}

fn not_a_number(raw: &[u8]) -> String {
    format!("not a number: `{}`", shown(raw))
}

fn read_bars(
    reader: &mut csv::Reader<File>,
    record: &mut csv::ByteRecord,
    columns: &BarColumns,
    series: &mut PriceSeries,
    ctx: &mut Context<'_>,
) {
    let names: Vec<&str> = columns.names.iter().map(String::as_str).collect();
    let date_name = names[columns.date];
    let mut previous: Option<Previous> = None;
    let mut values = [0.0f64; 5];
    let mut problems_on_row: [Option<PriceProblem>; 5] = [None; 5];
    for_each_row(reader, record, series, ctx, |record, line, series, ctx| {
        if !ctx.row_length(line, record.len(), &names) {
            return true;
        }
        let raw_date = &record[columns.date];
        let Some(stamp) = row_stamp(ctx, &mut previous, raw_date, line, date_name, |s| {
            (s.date, 0)
        }) else {
            return true;
        };
        let count = columns.prices.len();
        let mut nulls = 0;
        for (slot, &column) in columns.prices.iter().enumerate() {
            match fields::parse_number(&record[column]) {
                Ok(value) => {
                    values[slot] = value;
                    problems_on_row[slot] = None;
                }
                Err(problem) => {
                    if problem == PriceProblem::Null {
                        nulls += 1;
                    }
                    problems_on_row[slot] = Some(problem);
                }
            }
        }
        if nulls == count {
            series.stats.null_rows += 1;
            return true;
        }
        let mut row_ok = true;
        for (slot, &column) in columns.prices.iter().enumerate() {
            let message = match problems_on_row[slot] {
                Some(PriceProblem::Null) => {
                    "null value while other prices on the row are present".to_string()
                }
                Some(PriceProblem::Blank) => "empty value; a price is required".to_string(),
                Some(PriceProblem::NotANumber) => not_a_number(&record[column]),
                None if values[slot] <= 0.0 => {
                    format!("price must be positive, found {}", values[slot])
                }
                None => continue,
            };
            row_ok = false;
            if !ctx.field(line, names[column], message) {
                return false;
            }
        }
        let volume = match columns.volume {
            None => f64::NAN,
            Some(column) => match fields::parse_number(&record[column]) {
                Ok(volume) if volume >= 0.0 => volume,
                Ok(volume) => {
                    row_ok = false;
                    ctx.field(
                        line,
                        names[column],
                        format!("volume must not be negative, found {volume}"),
                    );
                    f64::NAN
                }
                Err(PriceProblem::Blank | PriceProblem::Null) => f64::NAN,
                Err(PriceProblem::NotANumber) => {
                    row_ok = false;
                    ctx.field(line, names[column], not_a_number(&record[column]));
                    f64::NAN
                }
            },
        };
        if !row_ok {
            return true;
        }
        let [open, high, low, close, adj] = values;
        let (ratio, adjusted_close) = match columns.adj_close {
            Some(_) => (adj / close, adj),
            None => (1.0, close),
        };
        series.push(
            stamp.date,
            open * ratio,
            high * ratio,
            low * ratio,
            adjusted_close,
            volume,
        );
        true
    });
}

/// The rows of one calendar date of a pysystemtrade file.
#[derive(Default)]
struct DateGroup {
    date: Option<NaiveDate>,
    /// The 23:00:00 (or date-only) price.
    close: Option<f64>,
    /// A 00:00:00 price (the daily close of older history when it is the date's only row).
    midnight: Option<f64>,
    /// Rows with a price.
    priced: usize,
    /// All rows, including empty prices.
    rows: usize,
}

impl DateGroup {
    fn finish(&mut self, series: &mut PriceSeries) {
        let Some(date) = self.date else {
            return;
        };
        let daily = match (self.close, self.midnight) {
            (Some(close), _) => Some(close),
            (None, Some(midnight)) if self.rows == 1 => Some(midnight),
            _ => None,
        };
        match daily {
            Some(price) => {
                series.stats.intraday_rows += self.priced - 1;
                series.push(date, price, price, price, price, f64::NAN);
            }
            None => {
                series.stats.intraday_rows += self.priced;
                series.stats.dates_without_close += 1;
            }
        }
        *self = DateGroup::default();
    }
}

fn read_pysystemtrade(
    reader: &mut csv::Reader<File>,
    record: &mut csv::ByteRecord,
    columns: &PysysColumns<'_>,
    series: &mut PriceSeries,
    ctx: &mut Context<'_>,
) {
    let mut previous: Option<Previous> = None;
    let mut group = DateGroup::default();
    let read_all = for_each_row(reader, record, series, ctx, |record, line, series, ctx| {
        if record.len() != columns.count {
            let field = if record.len() <= columns.price {
                columns.price_name
            } else {
                "(row)"
            };
            ctx.field(
                line,
                field,
                format!(
                    "the row has {} field(s), the header has {}",
                    record.len(),
                    columns.count
                ),
            );
            return true;
        }
        let raw = &record[columns.datetime];
        let Some(stamp) = row_stamp(
            ctx,
            &mut previous,
            raw,
            line,
            columns.datetime_name,
            Stamp::key,
        ) else {
            return true;
        };
        if group.date != Some(stamp.date) {
            group.finish(series);
            group.date = Some(stamp.date);
        }
        group.rows += 1;
        let price = match fields::parse_number(&record[columns.price]) {
            Ok(price) => price,
            Err(PriceProblem::Blank) => {
                series.stats.blank_prices += 1;
                return true;
            }
            Err(_) => {
                let message = not_a_number(&record[columns.price]);
                ctx.field(line, columns.price_name, message);
                return true;
            }
        };
        group.priced += 1;
        match stamp.time {
            None | Some(DAILY_CLOSE_TIME) => {
                if group.close.is_some() {
                    // A date-only row followed by a 23:00:00 row: the later one is the close.
                    series.stats.intraday_rows += 1;
                    group.priced -= 1;
                }
                group.close = Some(price);
            }
            Some(0) => group.midnight = Some(price),
            Some(_) => {}
        }
        true
    });
    if read_all {
        group.finish(series);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut file = File::create(&path).expect("create");
        file.write_all(text.as_bytes()).expect("write");
        path
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn yahoo_adjusts_and_skips_null_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "X.csv",
            "Date,Open,High,Low,Close,Adj Close,Volume\n\
             2020-01-02,10,12,8,11,5.5,100\n\
             2020-01-03,null,null,null,null,null,null\n\
             2020-01-06,20,20,20,20,20,0\n",
        );
        let series = load_file(&path, DataFormat::Auto).expect("loads");
        assert_eq!(series.format, DataFormat::Yahoo);
        assert_eq!(series.dates, vec![ymd(2020, 1, 2), ymd(2020, 1, 6)]);
        // ratio 5.5 / 11 = 0.5
        assert_eq!(series.open, vec![5.0, 20.0]);
        assert_eq!(series.high, vec![6.0, 20.0]);
        assert_eq!(series.low, vec![4.0, 20.0]);
        assert_eq!(series.close, vec![5.5, 20.0]);
        assert_eq!(series.volume, vec![100.0, 0.0]);
        assert_eq!(series.stats.rows, 3);
        assert_eq!(series.stats.null_rows, 1);
        assert_eq!(series.stats.bars, 2);
    }

    #[test]
    fn pysystemtrade_keeps_the_23_00_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "F.csv",
            "DATETIME,price\n\
             1990-01-02 00:00:00,-1.5\n\
             1990-01-03 23:00:00,0\n\
             2020-04-21 00:00:00,28.66\n\
             2020-04-21 21:30:00,24.27\n\
             2020-04-21 23:00:00,28.95\n\
             2020-04-21 23:30:00,24.52\n\
             2020-04-22 10:00:00,20\n\
             2020-04-22 11:00:00,\n\
             2020-04-23 23:00:00,\n\
             2020-04-24 23:00:00,30\n",
        );
        let series = load_file(&path, DataFormat::Auto).expect("loads");
        assert_eq!(series.format, DataFormat::Pysystemtrade);
        assert_eq!(
            series.dates,
            vec![
                ymd(1990, 1, 2),
                ymd(1990, 1, 3),
                ymd(2020, 4, 21),
                ymd(2020, 4, 24)
            ]
        );
        assert_eq!(series.close, vec![-1.5, 0.0, 28.95, 30.0]);
        assert_eq!(series.open, series.close);
        let stats = &series.stats;
        assert_eq!(stats.rows, 10);
        assert_eq!(stats.blank_prices, 2);
        // 2020-04-21: 00:00, 21:30, 23:30; 2020-04-22: 10:00.
        assert_eq!(stats.intraday_rows, 4);
        // 2020-04-22 (intraday only) and 2020-04-23 (empty 23:00 price).
        assert_eq!(stats.dates_without_close, 2);
    }

    #[test]
    fn ohlcv_with_pandas_index_and_times() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "G.csv",
            ",Open,High,Low,Close,Volume\n\
             2004-08-19 00:00:00,100,104.06,95.96,100.34,22351900\n\
             2004-08-20 00:00:00,101.01,109.08,100.5,108.31,11428600\n",
        );
        let series = load_file(&path, DataFormat::Auto).expect("loads");
        assert_eq!(series.format, DataFormat::Ohlcv);
        assert_eq!(series.dates, vec![ymd(2004, 8, 19), ymd(2004, 8, 20)]);
        assert_eq!(series.open, vec![100.0, 101.01]);
        assert_eq!(series.close, vec![100.34, 108.31]);
    }

    #[test]
    fn ohlcv_adj_close_column_adjusts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "H.csv",
            "timestamp,OPEN,high,low,close,adj_close\n2021-03-04,8,9,7,8,2\n",
        );
        let series = load_file(&path, DataFormat::Ohlcv).expect("loads");
        assert_eq!(series.open, vec![2.0]);
        assert_eq!(series.close, vec![2.0]);
        assert!(series.volume[0].is_nan());
    }

    #[test]
    fn byte_order_mark_and_crlf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "W.csv",
            "\u{feff}Date,Open,High,Low,Close,Adj Close,Volume\r\n2020-01-02,2,2,2,2,1,7\r\n",
        );
        let series = load_file(&path, DataFormat::Auto).expect("loads");
        assert_eq!(series.format, DataFormat::Yahoo);
        assert_eq!(
            (series.open[0], series.close[0], series.volume[0]),
            (1.0, 1.0, 7.0)
        );
    }

    #[test]
    fn collects_every_problem_when_checking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "B.csv",
            "Date,Open,High,Low,Close,Adj Close,Volume\n\
             2020-01-02,x,12,8,11,5.5,100\n\
             2020-01-03,10,12,8,-1,5.5,100\n\
             2020-01-03,10,12,8,11,5.5,100\n",
        );
        let mut problems = Problems::collect(20);
        let series = parse_file(&path, DataFormat::Auto, &mut problems);
        assert_eq!(problems.total, 3);
        let lines: Vec<_> = problems.list.iter().map(|p| p.line()).collect();
        assert_eq!(lines, vec![Some(2), Some(3), Some(4)]);
        assert!(series.is_empty());
    }
}
