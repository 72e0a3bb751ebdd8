//! Walk-forward windows: the `[walk_forward]` lengths of a spec (`"3y"`, `"18m"`,
//! `"250d"`), the training/test windows they lay on the days a backtest simulates, and the
//! runs of one combination over every window.
//!
//! **Layout.** Let `days` be the simulated days (the data's dates on the spec's calendar
//! from `burn_in` (else `start`) to `end`: [`simulated_days`]) and t0 = `days[0]`. Window k
//! (k = 0, 1, ...) starts its training at the first day on or after t0 + k·step (rolling)
//! or at t0 (anchored); training lasts `train` counted from t0 + k·step (both modes, so an
//! anchored window's training grows by `step` each time); the test window starts `gap`
//! after the training's end and lasts `test`. A calendar length (`y`, `m`) added to a
//! boundary covers the days d with boundary <= d < boundary + length (chrono's
//! `checked_add_months`); a `d` length counts simulated days. A window is formed only when
//! its whole test window lies within the data (its end boundary is at most the day after
//! the last simulated day); fewer than two windows, an empty window, or test windows that
//! overlap (step shorter than test) are errors naming the field.
//!
//! **Runs.** Each window is a backtest of its own ([`window_config`]): the spec's `start`
//! (indicators warm up on all the data from there), `burn_in` = the window's first day
//! (the equity curve starts there, flat, in cash), `end` = the window's last day; orders
//! fill at the next day's open as always, so an order decided on the last day does not
//! fill. [`WindowRunners`] holds one [`TaskRunner`] per window, built once per task.

use std::fmt;
use std::str::FromStr;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::config::{BacktestConfig, KeepReturns};
use crate::data::MarketData;
use crate::metrics::Metrics;
use crate::params::Params;
use crate::simulator::{day_range, BacktestError, StrategyRef, TaskRunner};

/// A window length: calendar years or months, or simulated (trading) days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    Years(u32),
    Months(u32),
    Days(u32),
}

impl Length {
    /// Zero length (a `gap` of `"0d"`).
    pub const ZERO: Length = Length::Days(0);

    fn is_zero(self) -> bool {
        matches!(self, Length::Years(0) | Length::Months(0) | Length::Days(0))
    }

    /// Calendar months of a `y`/`m` length; `None` for days.
    fn months(self) -> Option<u32> {
        match self {
            Length::Years(n) => n.checked_mul(12),
            Length::Months(n) => Some(n),
            Length::Days(_) => None,
        }
    }
}

impl fmt::Display for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Length::Years(n) => write!(f, "{n}y"),
            Length::Months(n) => write!(f, "{n}m"),
            Length::Days(n) => write!(f, "{n}d"),
        }
    }
}

impl FromStr for Length {
    type Err = String;

    /// `<n>y`, `<n>m` or `<n>d` with a whole number n.
    fn from_str(text: &str) -> Result<Length, String> {
        let expected = || {
            format!(
                "expected a length like \"3y\" (years), \"18m\" (calendar months) or \"250d\" \
                 (trading days), got \"{text}\""
            )
        };
        let t = text.trim();
        let (digits, unit) = t.split_at(t.len().saturating_sub(1));
        let n: u32 = digits.parse().map_err(|_| expected())?;
        match unit {
            "y" | "Y" => Ok(Length::Years(n)),
            "m" | "M" => Ok(Length::Months(n)),
            "d" | "D" => Ok(Length::Days(n)),
            _ => Err(expected()),
        }
    }
}

impl Serialize for Length {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Length {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Length, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Rolling (fixed-length) or anchored (expanding) training windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Rolling,
    Anchored,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Rolling => "rolling",
            Mode::Anchored => "anchored",
        }
    }
}

/// The `[walk_forward]` table of a spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkForwardConfig {
    pub train: Length,
    pub test: Length,
    /// `None`: equal to `test`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Length>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Length>,
}

impl WalkForwardConfig {
    /// The step (default: the test length).
    pub fn step(&self) -> Length {
        self.step.unwrap_or(self.test)
    }

    /// The gap (default: none).
    pub fn gap(&self) -> Length {
        self.gap.unwrap_or(Length::ZERO)
    }

    /// The checks that need no data: positive train, test and step.
    pub fn check(&self) -> Result<(), WalkForwardError> {
        for (field, len) in [
            ("train", self.train),
            ("test", self.test),
            ("step", self.step()),
        ] {
            if len.is_zero() {
                return Err(WalkForwardError::new(
                    field,
                    format!("expected a positive length, got \"{len}\""),
                ));
            }
        }
        Ok(())
    }
}

/// One window, dates inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First and last day of the training (in-sample) window.
    pub train: [NaiveDate; 2],
    /// First and last day of the test (out-of-sample) window.
    pub test: [NaiveDate; 2],
}

/// A window with the number of simulated days in each part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaidWindow {
    pub window: Window,
    pub train_days: usize,
    pub test_days: usize,
}

impl fmt::Display for LaidWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.window;
        write!(
            f,
            "train {} .. {} ({} days), test {} .. {} ({} days)",
            w.train[0], w.train[1], self.train_days, w.test[0], w.test[1], self.test_days
        )
    }
}

/// A `[walk_forward]` that does not fit: the field at fault and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("[walk_forward] `{field}`: {message}")]
pub struct WalkForwardError {
    /// `train`, `test`, `step`, `mode` or `gap`.
    pub field: &'static str,
    pub message: String,
}

impl WalkForwardError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        WalkForwardError {
            field,
            message: message.into(),
        }
    }
}

/// The simulated days of `config` over `dates` (the data's dates on its calendar): from the
/// burn-in (else the start) to the end, as the simulator's equity curve has them.
pub fn simulated_days<'d>(
    dates: &'d [NaiveDate],
    config: &BacktestConfig,
) -> Result<&'d [NaiveDate], BacktestError> {
    let r = day_range(dates, config)?;
    Ok(&dates[r.trade_from..r.end])
}

/// The index of the first day on or after `date` (`days.len()` when none).
fn first_on_or_after(days: &[NaiveDate], date: NaiveDate) -> usize {
    days.partition_point(|d| *d < date)
}

/// A boundary after adding `len` to the boundary `(index, date)`: the calendar date for
/// `y`/`m` (with the index of the first day on or after it), the index for `d`. `None`
/// when the date overflows.
fn advance(days: &[NaiveDate], at: (usize, NaiveDate), len: Length) -> Option<(usize, NaiveDate)> {
    if len.is_zero() {
        return Some(at);
    }
    match len.months() {
        Some(m) => {
            let date = at.1.checked_add_months(Months::new(m))?;
            Some((first_on_or_after(days, date), date))
        }
        None => {
            let Length::Days(n) = len else { return None };
            let i = at.0.checked_add(n as usize)?;
            // A boundary past the last day: the day after it, as far as dates go.
            let date = match days.get(i) {
                Some(d) => *d,
                None => days.last()?.succ_opt()?,
            };
            Some((i, date))
        }
    }
}

/// Lays the windows of `config` on `days` (the simulated days, ascending). See the module
/// documentation for the rules; errors name the field.
pub fn layout(
    config: &WalkForwardConfig,
    days: &[NaiveDate],
) -> Result<Vec<LaidWindow>, WalkForwardError> {
    config.check()?;
    let (Some(&t0), Some(&last)) = (days.first(), days.last()) else {
        return Err(WalkForwardError::new(
            "train",
            "expected simulated days to lay windows on, but the backtest has none",
        ));
    };
    let n = days.len();
    // The test window fits when its end boundary is at most the day after the last day.
    let fits = |b: (usize, NaiveDate)| b.0 <= n && last.succ_opt().is_some_and(|d| b.1 <= d);
    let step = config.step();
    let mut out: Vec<LaidWindow> = Vec::new();
    for k in 0u32.. {
        // t0 + k·step, counted from t0 (no drift from snapping to trading days).
        let anchor = match step {
            Length::Days(s) => {
                let i = (k as usize).checked_mul(s as usize);
                match i {
                    Some(i) if i < n => (i, days[i]),
                    _ => break,
                }
            }
            _ => {
                let months = step.months().and_then(|m| m.checked_mul(k));
                match months.and_then(|m| t0.checked_add_months(Months::new(m))) {
                    Some(date) => (first_on_or_after(days, date), date),
                    None => break,
                }
            }
        };
        if anchor.0 >= n {
            break;
        }
        let train_start = match config.mode {
            Mode::Rolling => anchor.0,
            Mode::Anchored => 0,
        };
        let Some(train_end) = advance(days, anchor, config.train) else {
            break;
        };
        let Some(test_start) = advance(days, train_end, config.gap()) else {
            break;
        };
        let Some(test_end) = advance(days, test_start, config.test) else {
            break;
        };
        if !fits(test_end) || test_start.0 >= n {
            break;
        }
        let (train_days, test_days) = (
            train_end.0.saturating_sub(train_start),
            test_end.0.saturating_sub(test_start.0),
        );
        if train_days == 0 {
            return Err(WalkForwardError::new(
                "train",
                format!(
                    "expected every training window to hold a simulated day, but window {} \
                     ({} .. {}) holds none",
                    k + 1,
                    anchor.1,
                    train_end.1
                ),
            ));
        }
        if test_days == 0 {
            return Err(WalkForwardError::new(
                "test",
                format!(
                    "expected every test window to hold a simulated day, but window {} \
                     ({} .. {}) holds none",
                    k + 1,
                    test_start.1,
                    test_end.1
                ),
            ));
        }
        let window = Window {
            train: [days[train_start], days[train_end.0 - 1]],
            test: [days[test_start.0], days[test_end.0 - 1]],
        };
        if let Some(prev) = out.last() {
            if window.test[0] <= prev.window.test[1] {
                return Err(WalkForwardError::new(
                    "step",
                    format!(
                        "expected a step at least as long as `test` (\"{}\") so that test \
                         windows do not overlap, got \"{step}\"",
                        config.test
                    ),
                ));
            }
        }
        out.push(LaidWindow {
            window,
            train_days,
            test_days,
        });
    }
    if out.len() < 2 {
        return Err(WalkForwardError::new(
            "train",
            format!(
                "expected at least two windows of train \"{}\" + gap \"{}\" + test \"{}\" \
                 (step \"{step}\") within the simulated days {t0} .. {last} ({n} days), but {} \
                 fit{}; shorten the windows or widen start/burn_in/end",
                config.train,
                config.gap(),
                config.test,
                out.len(),
                if out.len() == 1 { "s" } else { "" }
            ),
        ));
    }
    Ok(out)
}

/// The backtest settings of the window `from ..= to`: `base` with `burn_in = from` and
/// `end = to` (its `start` kept, so indicators warm up from there), no split and no kept
/// returns.
pub fn window_config(base: &BacktestConfig, from: NaiveDate, to: NaiveDate) -> BacktestConfig {
    BacktestConfig {
        burn_in: Some(from),
        end: Some(to),
        split: None,
        keep_returns: KeepReturns::No,
        ..base.clone()
    }
}

/// The settings of every window of a plan, training then test (built once; runners borrow
/// them).
#[derive(Clone, Debug)]
pub struct WindowConfigs {
    pub windows: Vec<Window>,
    pub train: Vec<BacktestConfig>,
    pub test: Vec<BacktestConfig>,
}

impl WindowConfigs {
    pub fn new(base: &BacktestConfig, windows: &[Window]) -> WindowConfigs {
        WindowConfigs {
            windows: windows.to_vec(),
            train: windows
                .iter()
                .map(|w| window_config(base, w.train[0], w.train[1]))
                .collect(),
            test: windows
                .iter()
                .map(|w| window_config(base, w.test[0], w.test[1]))
                .collect(),
        }
    }

    /// One runner per window config for the combinations `combos` (see [`TaskRunner::new`]).
    pub fn runners<'a>(
        &'a self,
        data: &'a MarketData,
        strategy: StrategyRef<'a>,
        combos: &[Params],
    ) -> Result<WindowRunners<'a>, BacktestError> {
        let build = |configs: &'a [BacktestConfig]| {
            configs
                .iter()
                .map(|c| TaskRunner::new(data, strategy, c, combos))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(WindowRunners {
            windows: &self.windows,
            train: build(&self.train)?,
            test: build(&self.test)?,
        })
    }
}

/// One [`TaskRunner`] per training and per test window.
#[derive(Debug)]
pub struct WindowRunners<'a> {
    windows: &'a [Window],
    pub train: Vec<TaskRunner<'a>>,
    pub test: Vec<TaskRunner<'a>>,
}

/// The metrics of one combination over every window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowMetrics {
    pub train: Vec<Metrics>,
    pub test: Vec<Metrics>,
}

impl WindowRunners<'_> {
    /// Runs `params` over every training and test window; the first failure is an error
    /// naming the window (`training window 3 (2001-01-01 .. 2003-12-31): ...`).
    pub fn run(&self, params: &Params) -> Result<WindowMetrics, String> {
        let mut out = WindowMetrics {
            train: Vec::with_capacity(self.train.len()),
            test: Vec::with_capacity(self.test.len()),
        };
        for (k, w) in self.windows.iter().enumerate() {
            for (part, runner, span, into) in [
                ("training", &self.train[k], w.train, &mut out.train),
                ("test", &self.test[k], w.test, &mut out.test),
            ] {
                let run = runner.run(params).map_err(|e| {
                    format!("{part} window {} ({} .. {}): {e}", k + 1, span[0], span[1])
                })?;
                into.push(run.metrics);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    /// Weekdays from `from` to `to` inclusive.
    fn weekdays(from: &str, to: &str) -> Vec<NaiveDate> {
        use chrono::Datelike;
        let (mut x, end) = (d(from), d(to));
        let mut out = Vec::new();
        while x <= end {
            if x.weekday().num_days_from_monday() < 5 {
                out.push(x);
            }
            x = x.succ_opt().expect("date");
        }
        out
    }

    fn cfg(train: &str, test: &str) -> WalkForwardConfig {
        WalkForwardConfig {
            train: train.parse().expect("train"),
            test: test.parse().expect("test"),
            step: None,
            mode: Mode::Rolling,
            gap: None,
        }
    }

    #[test]
    fn lengths_parse_and_print() {
        assert_eq!("3y".parse::<Length>(), Ok(Length::Years(3)));
        assert_eq!("18m".parse::<Length>(), Ok(Length::Months(18)));
        assert_eq!("250d".parse::<Length>(), Ok(Length::Days(250)));
        assert_eq!(Length::Months(6).to_string(), "6m");
        for bad in ["", "y", "3", "3w", "-1y", "1.5y", "three y"] {
            let e = bad.parse::<Length>().expect_err(bad);
            assert!(e.starts_with("expected a length like"), "{e}");
            assert!(e.contains(&format!("got \"{bad}\"")), "{e}");
        }
    }

    #[test]
    fn rolling_years() {
        let days = weekdays("2000-01-03", "2005-01-07");
        let w = layout(&cfg("2y", "1y"), &days).expect("layout");
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].window.train, [d("2000-01-03"), d("2002-01-02")]);
        assert_eq!(w[0].window.test, [d("2002-01-03"), d("2003-01-02")]);
        assert_eq!(w[1].window.train, [d("2001-01-03"), d("2003-01-02")]);
        // Training ends at the boundary 2004-01-03 (a Saturday): the test starts on the
        // next day there is and ends before 2004-01-03 + 1y.
        assert_eq!(w[2].window.test, [d("2004-01-05"), d("2004-12-31")]);
        // Every day of a part is counted.
        let count =
            |a: NaiveDate, b: NaiveDate| days.iter().filter(|x| **x >= a && **x <= b).count();
        for lw in &w {
            assert_eq!(lw.train_days, count(lw.window.train[0], lw.window.train[1]));
            assert_eq!(lw.test_days, count(lw.window.test[0], lw.window.test[1]));
        }
    }

    #[test]
    fn a_partial_last_test_window_is_not_formed() {
        // Data to 2004-12-31: the third test window (2004-01-03 .. 2005-01-02) does not fit.
        let days = weekdays("2000-01-03", "2004-12-30");
        assert_eq!(layout(&cfg("2y", "1y"), &days).expect("layout").len(), 2);
        // Data up to the boundary's day: fits.
        let days = weekdays("2000-01-03", "2005-01-03");
        assert_eq!(layout(&cfg("2y", "1y"), &days).expect("layout").len(), 3);
    }

    #[test]
    fn anchored_training_grows() {
        let days = weekdays("2000-01-03", "2005-01-07");
        let mut c = cfg("2y", "1y");
        c.mode = Mode::Anchored;
        let w = layout(&c, &days).expect("layout");
        assert_eq!(w.len(), 3);
        for lw in &w {
            assert_eq!(lw.window.train[0], d("2000-01-03"));
        }
        assert_eq!(w[2].window.train[1], d("2004-01-02"));
        assert!(w[0].train_days < w[1].train_days && w[1].train_days < w[2].train_days);
    }

    #[test]
    fn trading_days_and_gap() {
        let days = weekdays("2000-01-03", "2000-12-29");
        let mut c = cfg("100d", "20d");
        c.gap = Some(Length::Days(5));
        let w = layout(&c, &days).expect("layout");
        assert_eq!(w[0].window.train, [days[0], days[99]]);
        assert_eq!(w[0].window.test, [days[105], days[124]]);
        assert_eq!(w[1].window.train, [days[20], days[119]]);
        assert_eq!(w[1].window.test, [days[125], days[144]]);
        assert!(w
            .iter()
            .all(|lw| lw.train_days == 100 && lw.test_days == 20));
        // The last test window ends on or before the last day.
        let last = w.last().expect("windows");
        assert!(last.window.test[1] <= *days.last().expect("days"));
        assert_eq!(w.len(), (days.len() - 125) / 20 + 1);
    }

    #[test]
    fn months_step() {
        let days = weekdays("2000-01-03", "2001-12-31");
        let mut c = cfg("6m", "3m");
        c.step = Some(Length::Months(6));
        let w = layout(&c, &days).expect("layout");
        assert_eq!(w[0].window.test, [d("2000-07-03"), d("2000-10-02")]);
        assert_eq!(w[1].window.train[0], d("2000-07-03"));
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn errors_name_the_field() {
        let days = weekdays("2000-01-03", "2002-06-28");
        let e = layout(&cfg("2y", "1y"), &days).expect_err("too few");
        assert_eq!(e.field, "train");
        assert!(e.to_string().contains("at least two windows"), "{e}");
        assert!(e.to_string().contains("but 0 fit"), "{e}");

        let days = weekdays("2000-01-03", "2005-01-07");
        let mut c = cfg("1y", "1y");
        c.step = Some(Length::Months(6));
        let e = layout(&c, &days).expect_err("overlap");
        assert_eq!(e.field, "step");
        assert!(e.message.contains("at least as long as `test`"), "{e}");

        let e = layout(&cfg("0y", "1y"), &days).expect_err("zero");
        assert_eq!(e.field, "train");
        assert!(e
            .to_string()
            .starts_with("[walk_forward] `train`: expected a positive"));

        // A gap over a holiday-free stretch still leaves days; a window without days:
        let sparse = vec![
            d("2000-01-03"),
            d("2000-01-04"),
            d("2003-01-06"),
            d("2004-06-01"),
        ];
        let e = layout(&cfg("1m", "1m"), &sparse).expect_err("empty");
        assert!(e.field == "test" || e.field == "train", "{e}");
        assert!(e.message.contains("holds none"), "{e}");
    }

    #[test]
    fn window_config_keeps_start() {
        let base = BacktestConfig {
            start: Some(d("1999-01-04")),
            split: Some(d("2003-01-01")),
            keep_returns: KeepReturns::Moments,
            ..BacktestConfig::default()
        };
        let c = window_config(&base, d("2001-01-02"), d("2001-12-31"));
        assert_eq!(c.start, Some(d("1999-01-04")));
        assert_eq!(c.burn_in, Some(d("2001-01-02")));
        assert_eq!(c.end, Some(d("2001-12-31")));
        assert_eq!((c.split, c.keep_returns), (None, KeepReturns::No));
    }
}
