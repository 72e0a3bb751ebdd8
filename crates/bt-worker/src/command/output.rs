//! Reading what a command's program wrote to `{result}`, in its declared format:
//!
//! * `qstrader_json`: QSTrader's `JSONStatistics.to_file()` (ours too, `bt-worker run
//!   --json`). Only `strategy.equity_curve` is read, a list of `[epoch milliseconds,
//!   equity]`: every statistic is computed from it as for the worker's own backtests. The
//!   milliseconds are of the date's local midnight where QSTrader ran (UTC when run as the
//!   parity scripts do), so they are read as the nearest UTC midnight. Python's bare
//!   `NaN`/`Infinity` tokens are read as `null`.
//! * `equity_csv`: a header naming a `date` and an `equity` column (any case, other columns
//!   ignored), then one row per day: `YYYY-MM-DD` (a time after the date is allowed) and a
//!   number. Blank lines are skipped.
//! * `metrics_json`: a flat object of the metric table's names (`{"sharpe": 1.2, "cagr":
//!   0.07}`); `null` (or Python's `NaN`) is unknown; a name that is not a metric is an error
//!   (a typo would otherwise be a silent NaN).
//!
//! In every curve the dates ascend strictly and the values are finite. What is wrong is
//! said with the line (CSV) or position (JSON) and an excerpt of at most
//! [`sweep_core::reader::EXCERPT_CHARS`] characters.

use std::path::Path;

use backtest::data::fields::{parse_number, parse_stamp};
use backtest::stats::python_constants_to_null;
use backtest::{Metrics, METRICS};
use chrono::NaiveDate;
use serde::Deserialize;
use sweep_core::command::OutputFormat;
use sweep_core::reader::excerpt;

/// What a program reported.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A daily equity curve: the statistics are computed from it.
    Curve {
        dates: Vec<NaiveDate>,
        equity: Vec<f64>,
    },
    /// Metrics as the program computed them; those it did not give are unknown.
    Metrics(Box<Metrics>),
}

/// Why the output cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputError {
    /// No file at `{result}`.
    Missing,
    /// The file is empty or only white space.
    Empty,
    /// It cannot be read in its format: what and where.
    Unparsable(String),
    /// It exists but cannot be read from disk.
    Unreadable(String),
}

/// Reads `path` as `format`.
pub fn read_output(format: OutputFormat, path: &Path) -> Result<Output, OutputError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OutputError::Missing),
        Err(e) => return Err(OutputError::Unreadable(e.to_string())),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(OutputError::Empty);
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        OutputError::Unparsable(format!("not UTF-8 text (at byte {})", e.valid_up_to()))
    })?;
    parse_output(format, text).map_err(|m| OutputError::Unparsable(excerpt(&m)))
}

/// Parses `text` as `format` (see the module documentation).
pub fn parse_output(format: OutputFormat, text: &str) -> Result<Output, String> {
    match format {
        OutputFormat::QstraderJson => qstrader_curve(text),
        OutputFormat::EquityCsv => equity_csv(text),
        OutputFormat::MetricsJson => metrics_json(text).map(|m| Output::Metrics(Box::new(m))),
    }
}

#[derive(Deserialize)]
struct QsFile {
    strategy: QsStrategy,
}

#[derive(Deserialize)]
struct QsStrategy {
    equity_curve: Vec<(f64, Option<f64>)>,
}

const DAY_MS: f64 = 86_400_000.0;

/// The date of epoch milliseconds of a local midnight: the nearest UTC midnight.
fn date_of_millis(ms: f64) -> Option<NaiveDate> {
    let days = (ms / DAY_MS).round();
    if !days.is_finite() || days.abs() > 1e7 {
        return None;
    }
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days as i64))
}

fn qstrader_curve(text: &str) -> Result<Output, String> {
    let file: QsFile = serde_json::from_str(&python_constants_to_null(text))
        .map_err(|e| format!("not QSTrader's JSONStatistics (`strategy.equity_curve` as [[epoch ms, equity], ...]): {e}"))?;
    let points = file.strategy.equity_curve;
    if points.is_empty() {
        return Err("`strategy.equity_curve` has no points".into());
    }
    let mut dates = Vec::with_capacity(points.len());
    let mut equity = Vec::with_capacity(points.len());
    for (k, (ms, value)) in points.into_iter().enumerate() {
        let date = date_of_millis(ms).ok_or_else(|| {
            format!("`strategy.equity_curve` point {k}: {ms} is not a date in epoch milliseconds")
        })?;
        let value = value.filter(|v| v.is_finite()).ok_or_else(|| {
            format!("`strategy.equity_curve` point {k} ({date}) has no finite equity")
        })?;
        push_point(&mut dates, &mut equity, date, value)
            .map_err(|m| format!("`strategy.equity_curve` point {k}: {m}"))?;
    }
    Ok(Output::Curve { dates, equity })
}

/// Appends a point, checking that the dates ascend strictly.
fn push_point(
    dates: &mut Vec<NaiveDate>,
    equity: &mut Vec<f64>,
    date: NaiveDate,
    value: f64,
) -> Result<(), String> {
    if let Some(last) = dates.last() {
        if date <= *last {
            return Err(format!(
                "{date} does not come after {last}: the dates must ascend, one point per day"
            ));
        }
    }
    dates.push(date);
    equity.push(value);
    Ok(())
}

fn equity_csv(text: &str) -> Result<Output, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err("no header line".into());
    };
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let column = |name: &str| columns.iter().position(|c| c == name);
    let (Some(date_col), Some(equity_col)) = (column("date"), column("equity")) else {
        return Err(format!(
            "line {header_line}: the header `{header}` must name a `date` and an `equity` column \
             (`date,equity`)"
        ));
    };
    let mut dates = Vec::new();
    let mut equity = Vec::new();
    for (n, line) in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let field = |k: usize, name: &str| {
            fields.get(k).copied().ok_or_else(|| {
                format!("line {n}: no `{name}` field (column {}) in `{line}`", k + 1)
            })
        };
        let date_text = field(date_col, "date")?;
        let date = parse_stamp(date_text.trim().trim_matches('"').as_bytes())
            .map_err(|why| format!("line {n}, field `date`: {why}: `{date_text}`"))?
            .date;
        let value_text = field(equity_col, "equity")?;
        let value = parse_number(value_text.as_bytes()).map_err(|_| {
            format!("line {n}, field `equity`: not a finite number: `{value_text}`")
        })?;
        push_point(&mut dates, &mut equity, date, value).map_err(|m| format!("line {n}: {m}"))?;
    }
    if dates.is_empty() {
        return Err(format!("line {header_line}: a header and no rows"));
    }
    Ok(Output::Curve { dates, equity })
}

fn metrics_json(text: &str) -> Result<Metrics, String> {
    let value: serde_json::Value = serde_json::from_str(&python_constants_to_null(text))
        .map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(given) = value else {
        return Err(format!(
            "expected a JSON object of metrics such as {{\"sharpe\": 1.2, \"cagr\": 0.07}}, got {}",
            excerpt(&value.to_string())
        ));
    };
    let names: Vec<&str> = METRICS.iter().map(|d| d.name).collect();
    let mut all = serde_json::Map::new();
    for d in &METRICS {
        all.insert(d.name.to_string(), serde_json::Value::Null);
    }
    for (key, v) in given {
        let Some(d) = METRICS.iter().find(|d| d.name == key) else {
            let hint = backtest::params::closest(&key, &names)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "`{key}` is not a metric{hint}; the metrics are {}",
                names.join(", ")
            ));
        };
        let v = match v {
            serde_json::Value::Null => v,
            serde_json::Value::Number(n) if d.integer => {
                match n
                    .as_f64()
                    .filter(|x| *x >= 0.0 && x.fract() == 0.0 && *x < 9e15)
                {
                    Some(x) => serde_json::Value::from(x as u64),
                    None => {
                        return Err(format!(
                            "`{key}` is a count: a whole number of at least 0, got {n}"
                        ))
                    }
                }
            }
            serde_json::Value::Number(_) => v,
            other => {
                return Err(format!(
                    "`{key}` must be a number or null, got {}",
                    excerpt(&other.to_string())
                ))
            }
        };
        all.insert(key, v);
    }
    Metrics::deserialize(serde_json::Value::Object(all)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn qstrader_json_reads_the_strategy_curve() {
        let text = r#"{"strategy": {"equity_curve": [[1064880000000, 1000000.0], [1064966400000, 1001000.5]],
            "sharpe": NaN, "returns": []}, "benchmark": {"equity_curve": []}, "strategy_id": "x"}"#;
        let Output::Curve { dates, equity } =
            parse_output(OutputFormat::QstraderJson, text).expect("parses")
        else {
            panic!("a curve")
        };
        assert_eq!(dates, [d(2003, 9, 30), d(2003, 10, 1)]);
        assert_eq!(equity, [1000000.0, 1001000.5]);
        // Local midnight east of UTC (22:00 the day before) is still that date.
        assert_eq!(
            date_of_millis(1064880000000.0 - 2.0 * 3_600_000.0),
            Some(d(2003, 9, 30))
        );
        for (bad, want) in [
            ("{}", "missing field `strategy`"),
            (r#"{"strategy": {"equity_curve": []}}"#, "has no points"),
            (
                r#"{"strategy": {"equity_curve": [[1064880000000, null]]}}"#,
                "point 0 (2003-09-30) has no finite equity",
            ),
            (
                r#"{"strategy": {"equity_curve": [[1064966400000, 1], [1064880000000, 2]]}}"#,
                "point 1: 2003-09-30 does not come after 2003-10-01",
            ),
            ("[1, 2", "not QSTrader's JSONStatistics"),
        ] {
            let err = parse_output(OutputFormat::QstraderJson, bad).expect_err(bad);
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    #[test]
    fn equity_csv_names_line_and_field() {
        let text = "Date,Equity,cash\n2020-01-02,100,5\n\n2020-01-03 00:00:00,101.5,5\n";
        assert_eq!(
            parse_output(OutputFormat::EquityCsv, text),
            Ok(Output::Curve {
                dates: vec![d(2020, 1, 2), d(2020, 1, 3)],
                equity: vec![100.0, 101.5],
            })
        );
        for (bad, want) in [
            (
                "when,value\n2020-01-02,1\n",
                "line 1: the header `when,value` must name a `date` and an `equity` column",
            ),
            ("date,equity\n", "line 1: a header and no rows"),
            (
                "date,equity\n2020-01-02,abc\n",
                "line 2, field `equity`: not a finite number: `abc`",
            ),
            (
                "date,equity\n2020-13-02,1\n",
                "line 2, field `date`: no such calendar date",
            ),
            (
                "date,equity\n2020-01-02\n",
                "line 2: no `equity` field (column 2)",
            ),
            (
                "date,equity\n2020-01-03,1\n2020-01-02,1\n",
                "line 3: 2020-01-02 does not come after 2020-01-03",
            ),
        ] {
            let err = parse_output(OutputFormat::EquityCsv, bad).expect_err(bad);
            assert!(err.starts_with(want), "{bad}: {err}");
        }
    }

    #[test]
    fn metrics_json_takes_the_metric_table_and_leaves_the_rest_unknown() {
        let Output::Metrics(m) = parse_output(
            OutputFormat::MetricsJson,
            r#"{"sharpe": 1.5, "trades": 12.0, "sortino": NaN}"#,
        )
        .expect("parses") else {
            panic!("metrics")
        };
        assert_eq!((m.sharpe, m.trades), (1.5, Some(12)));
        assert!(m.sortino.is_nan() && m.cagr.is_nan() && m.n_obs.is_none());
        for (bad, want) in [
            (
                r#"{"sharp": 1}"#,
                "`sharp` is not a metric (did you mean `sharpe`?)",
            ),
            (r#"{"trades": 1.5}"#, "`trades` is a count"),
            (r#"{"sharpe": "high"}"#, "`sharpe` must be a number or null"),
            ("[1]", "expected a JSON object of metrics"),
            ("{", "not JSON"),
        ] {
            let err = parse_output(OutputFormat::MetricsJson, bad).expect_err(bad);
            assert!(err.starts_with(want), "{bad}: {err}");
        }
    }

    #[test]
    fn files_missing_empty_or_unreadable() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("r.csv");
        assert_eq!(
            read_output(OutputFormat::EquityCsv, &path),
            Err(OutputError::Missing)
        );
        std::fs::write(&path, " \n").expect("write");
        assert_eq!(
            read_output(OutputFormat::EquityCsv, &path),
            Err(OutputError::Empty)
        );
        std::fs::write(&path, format!("date,equity\n{}", "x".repeat(5000))).expect("write");
        let Err(OutputError::Unparsable(m)) = read_output(OutputFormat::EquityCsv, &path) else {
            panic!("unparsable")
        };
        assert!(m.len() < 400 && m.contains("more bytes not shown"), "{m}");
    }
}
