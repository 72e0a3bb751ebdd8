//! Walk-forward analysis of a sweep whose plan has `[walk_forward]` windows: which
//! combination each training window chooses, the stitched out-of-sample curve of those
//! choices, walk-forward efficiency, the best static combination as a baseline, the
//! Deflated Sharpe Ratio of the stitched curve, and their renderings (terminal text,
//! `--format json`, an HTML section).
//!
//! * **Choice.** [`Selector`] is fed one ok row at a time, in any order (streaming). For
//!   window k the chosen combination is the best by the ranking metric (its direction) of
//!   its *training-window* k metrics among the rows whose training-window metrics pass the
//!   filter (what was known at selection time); NaN is never chosen; ties go to the lowest
//!   combination index. The baseline is the best by the full-period metric among the rows
//!   whose full-period metrics pass the filter (hindsight: the top of the ranking).
//! * **Stitching.** [`stitch`] re-runs the chosen combinations over their test windows
//!   through the engine (the planned spec's strategy and data, as
//!   [`crate::regenerate`] does; each window a backtest of its own:
//!   [`backtest::walk_forward::window_config`]), rescales each window's equity curve to
//!   start where the previous one ended and concatenates them; the metrics come from
//!   [`backtest::stats::summary`]. A window without a choice (no row passed the filter)
//!   holds cash. The baseline is stitched the same way over the same test windows.
//! * **WFE** (Pardo): the mean over windows of the chosen combination's test-window value
//!   divided by the mean of its training-window value; per window, the ratio of the two.
//! * **DSR** of the stitched curve: its Sharpe, skew, kurtosis and number of returns, with
//!   N = every combination that ran (each window chose among all of them) and the variance
//!   of their full-period Sharpe ratios (per period), as [`crate::overfitting`] defines it.

use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;

use backtest::walk_forward::{simulated_days, window_config, Window};
use backtest::{MarketData, Metrics, ParamValue, Params, TaskRunner};
use sweep_core::plan::WalkForwardPlan;
use sweep_core::result::WindowRuns;
use sweep_core::{Spec, SpecStrategy};

use crate::overfitting::{deflated_sharpe, per_period_sharpe, DsrInput, PERIODS_PER_YEAR};
use crate::ranking::Direction;
use crate::regenerate::guarded;
use crate::svg::{self, escape, Series};
use crate::table::{metric_index, metric_values, MetricValues};

/// One candidate for a window (or the baseline).
#[derive(Clone, Debug, PartialEq)]
pub struct Pick {
    pub combo: u64,
    pub params: Vec<(String, ParamValue)>,
    /// The value it was chosen by.
    pub value: f64,
    /// Its training-window and test-window metrics (for the baseline: of window 0; unused).
    pub train: Option<Metrics>,
    pub test: Option<Metrics>,
}

/// The selector accumulator: fed one ok row at a time with [`Selector::push`].
#[derive(Clone, Debug)]
pub struct Selector {
    metric: usize,
    direction: Direction,
    windows: usize,
    best: Vec<Option<Pick>>,
    baseline: Option<Pick>,
    /// Ok rows pushed.
    trials: u64,
    /// Welford sums of the finite per-period full-period Sharpe ratios.
    sharpe_n: f64,
    sharpe_mean: f64,
    sharpe_m2: f64,
}

/// Why walk-forward cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WalkForwardError {
    #[error("--by: unknown metric `{0}`")]
    UnknownMetric(String),
    #[error("combination {combo} has {got} walk-forward windows where the plan has {want}")]
    WindowCount { combo: u64, got: usize, want: usize },
}

/// `a` better than `b` in `direction` (NaN never better).
fn better(a: f64, b: f64, direction: Direction) -> bool {
    if a.is_nan() {
        return false;
    }
    if b.is_nan() {
        return true;
    }
    match direction {
        Direction::Descending => a > b,
        Direction::Ascending => a < b,
    }
}

/// Whether `(value, combo)` should replace `current`.
fn replaces(current: &Option<Pick>, value: f64, combo: u64, direction: Direction) -> bool {
    if value.is_nan() {
        return false;
    }
    match current {
        None => true,
        Some(p) => better(value, p.value, direction) || (value == p.value && combo < p.combo),
    }
}

impl Selector {
    /// A selector for `windows` windows ranking by `metric` in `direction` (`None`: the
    /// metric's own).
    pub fn new(
        metric: &str,
        direction: Option<Direction>,
        windows: usize,
    ) -> Result<Selector, WalkForwardError> {
        let k =
            metric_index(metric).ok_or_else(|| WalkForwardError::UnknownMetric(metric.into()))?;
        Ok(Selector {
            metric: k,
            direction: direction.unwrap_or_else(|| Direction::default_for(metric)),
            windows,
            best: vec![None; windows],
            baseline: None,
            trials: 0,
            sharpe_n: 0.0,
            sharpe_mean: 0.0,
            sharpe_m2: 0.0,
        })
    }

    /// Feeds one ok row: its combination, parameters, full-period metrics and window runs;
    /// `passes` is the `--where` filter applied to a set of metric values (the row's
    /// full-period values for the baseline, each training window's for that window's
    /// choice). Failed rows are not pushed.
    pub fn push(
        &mut self,
        combo: u64,
        params: &[(String, ParamValue)],
        metrics: &MetricValues,
        windows: &WindowRuns,
        passes: &dyn Fn(&MetricValues) -> bool,
    ) -> Result<(), WalkForwardError> {
        if windows.train.len() != self.windows || windows.test.len() != self.windows {
            return Err(WalkForwardError::WindowCount {
                combo,
                got: windows.train.len().min(windows.test.len()),
                want: self.windows,
            });
        }
        self.trials += 1;
        let k_sharpe = metric_index("sharpe").unwrap_or(0);
        let daily = per_period_sharpe(metrics[k_sharpe]);
        if daily.is_finite() {
            self.sharpe_n += 1.0;
            let delta = daily - self.sharpe_mean;
            self.sharpe_mean += delta / self.sharpe_n;
            self.sharpe_m2 += delta * (daily - self.sharpe_mean);
        }
        let value = metrics[self.metric];
        if replaces(&self.baseline, value, combo, self.direction) && passes(metrics) {
            self.baseline = Some(Pick {
                combo,
                params: params.to_vec(),
                value,
                train: None,
                test: None,
            });
        }
        for (w, (train, test)) in windows.train.iter().zip(&windows.test).enumerate() {
            let values = metric_values(train);
            let value = values[self.metric];
            if replaces(&self.best[w], value, combo, self.direction) && passes(&values) {
                self.best[w] = Some(Pick {
                    combo,
                    params: params.to_vec(),
                    value,
                    train: Some(train.clone()),
                    test: Some(test.clone()),
                });
            }
        }
        Ok(())
    }

    /// The sample variance (ddof 1) of the per-period full-period Sharpe ratios pushed.
    pub fn sharpe_variance(&self) -> f64 {
        if self.sharpe_n < 2.0 {
            f64::NAN
        } else {
            self.sharpe_m2 / (self.sharpe_n - 1.0)
        }
    }

    /// The choices: per window the chosen pick (`None`: no row passed), and the baseline.
    pub fn finish(self) -> Choices {
        let sharpe_variance = self.sharpe_variance();
        Choices {
            metric: backtest::METRICS[self.metric].name.to_string(),
            metric_index: self.metric,
            direction: self.direction,
            chosen: self.best,
            baseline: self.baseline,
            trials: self.trials,
            sharpe_variance,
        }
    }
}

/// What the selector decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Choices {
    pub metric: String,
    pub metric_index: usize,
    pub direction: Direction,
    pub chosen: Vec<Option<Pick>>,
    pub baseline: Option<Pick>,
    pub trials: u64,
    /// Variance of the per-period full-period Sharpe ratios across the trials (ddof 1).
    pub sharpe_variance: f64,
}

/// A stitched equity curve.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curve {
    pub dates: Vec<NaiveDate>,
    pub equity: Vec<f64>,
    /// Each window's index range in `dates`.
    pub spans: Vec<std::ops::Range<usize>>,
}

/// One window's equity curve: its dates and equity.
pub type Part = (Vec<NaiveDate>, Vec<f64>);

/// Concatenates per-window curves, each rescaled to start where the previous one ended
/// (the first starts at its own first value).
pub fn concatenate(parts: &[Part]) -> Curve {
    let mut out = Curve::default();
    for (dates, equity) in parts {
        let Some(&first) = equity.first() else {
            out.spans.push(out.dates.len()..out.dates.len());
            continue;
        };
        // e · last / first: the window's first value becomes exactly the previous last.
        let prev = match out.equity.last() {
            Some(&last) if first != 0.0 => Some(last),
            _ => None,
        };
        let from = out.dates.len();
        out.dates.extend_from_slice(dates);
        match prev {
            Some(last) => out.equity.extend(equity.iter().map(|e| e * last / first)),
            None => out.equity.extend_from_slice(equity),
        }
        out.spans.push(from..out.dates.len());
    }
    out
}

/// The engine's side of stitching: the planned spec's data and strategy, loaded once.
pub struct Engine {
    spec: Spec,
    market: MarketData,
    strategy: SpecStrategy,
}

impl Engine {
    /// Loads the data and prepares the strategy of a planned `spec` (as the worker does).
    pub fn load(spec: &Spec) -> Result<Engine, String> {
        guarded(|| {
            let strategy = SpecStrategy::of(spec).map_err(|e| e.to_string())?;
            if strategy.engine().is_none() {
                return Err(format!(
                    "strategy `{}` runs a program per combination: its windows cannot be re-run",
                    strategy.name()
                ));
            }
            let data = spec.data().map_err(|e| e.to_string())?;
            let market = MarketData::load(data, &spec.backtest)
                .map_err(|e| format!("the market data could not be loaded: {e}"))?;
            Ok(Engine {
                spec: spec.clone(),
                market,
                strategy,
            })
        })
    }

    /// The test-window curves of `params` per window (`None`: hold cash over the window).
    pub fn test_curves(
        &self,
        windows: &[Window],
        params: &[Option<Params>],
    ) -> Result<Vec<Part>, String> {
        let Some(engine) = self.strategy.engine() else {
            return Err("the strategy is not the engine's".into());
        };
        let mut out = Vec::with_capacity(windows.len());
        for (k, (w, p)) in windows.iter().zip(params).enumerate() {
            let config = window_config(&self.spec.backtest, w.test[0], w.test[1]);
            let what = |e: String| {
                format!(
                    "test window {} ({} .. {}): {e}",
                    k + 1,
                    w.test[0],
                    w.test[1]
                )
            };
            let part = match p {
                Some(p) => guarded(|| {
                    let runner =
                        TaskRunner::new(&self.market, engine, &config, std::slice::from_ref(p))
                            .map_err(|e| e.to_string())?;
                    let run = runner.run(p).map_err(|e| e.to_string())?;
                    Ok((run.dates.to_vec(), run.equity))
                })
                .map_err(what)?,
                None => {
                    let days = simulated_days(&self.market.dates, &config)
                        .map_err(|e| what(e.to_string()))?;
                    let cash = config.initial_cash;
                    (days.to_vec(), vec![cash; days.len()])
                }
            };
            out.push(part);
        }
        Ok(out)
    }
}

/// The statistics of a stitched curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CurveStats {
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub cagr: Option<f64>,
    pub annualised_vol: Option<f64>,
    pub max_drawdown: Option<f64>,
    pub total_return: Option<f64>,
    pub calmar: Option<f64>,
    pub skew: Option<f64>,
    pub kurtosis: Option<f64>,
    pub n_obs: u64,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl CurveStats {
    fn of(curve: &Curve) -> (CurveStats, Metrics) {
        let m = backtest::stats::summary(&curve.equity);
        (
            CurveStats {
                sharpe: finite(m.sharpe),
                sortino: finite(m.sortino),
                cagr: finite(m.cagr),
                annualised_vol: finite(m.annualised_vol),
                max_drawdown: finite(m.max_drawdown),
                total_return: finite(m.total_return),
                calmar: finite(m.calmar),
                skew: finite(m.skew),
                kurtosis: finite(m.kurtosis),
                n_obs: m.n_obs.unwrap_or(0),
                from: curve.dates.first().copied(),
                to: curve.dates.last().copied(),
            },
            m,
        )
    }
}

/// A combination as shown: its index and parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chosen {
    pub combo: u64,
    pub params: serde_json::Map<String, serde_json::Value>,
}

fn chosen(p: &Pick) -> Chosen {
    Chosen {
        combo: p.combo,
        params: p
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect(),
    }
}

/// One window of the result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowResult {
    /// 1-based.
    pub window: usize,
    pub train: [NaiveDate; 2],
    pub test: [NaiveDate; 2],
    /// `None` when no combination passed the filter (the window holds cash).
    pub chosen: Option<Chosen>,
    /// The chosen combination's ranking metric over the training window.
    pub in_sample: Option<f64>,
    /// ... and over the test window (as the worker computed it).
    pub out_of_sample: Option<f64>,
    /// out_of_sample / in_sample.
    pub wfe: Option<f64>,
    /// The window's return in the stitched curve.
    pub stitched_return: Option<f64>,
}

/// The baseline: the best static combination over the same test windows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Baseline {
    pub combo: u64,
    pub params: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    pub stats: CurveStats,
}

/// The whole walk-forward result (`--format json`'s `walk_forward`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WalkForwardResult {
    pub metric: String,
    pub direction: Direction,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub mode: String,
    pub train_length: String,
    pub test_length: String,
    pub step: String,
    pub gap: String,
    pub windows: Vec<WindowResult>,
    pub stitched: CurveStats,
    pub baseline: Option<Baseline>,
    /// Overall walk-forward efficiency: mean OOS value / mean IS value of the choices.
    pub wfe: Option<f64>,
    pub mean_in_sample: Option<f64>,
    pub mean_out_of_sample: Option<f64>,
    /// Windows whose in-sample and out-of-sample values are both defined (the means'
    /// windows; a test window without a trade has no Sharpe ratio, for instance).
    pub wfe_windows: usize,
    pub dsr: Option<f64>,
    pub trials: u64,
    /// Windows whose choice differs from the previous window's.
    pub changes: usize,
    /// What could not be done (a window the engine could not re-run, ...).
    pub problems: Vec<String>,
    #[serde(skip)]
    pub curve: Curve,
    #[serde(skip)]
    pub baseline_curve: Option<Curve>,
    /// The parameter names, in order of first appearance.
    #[serde(skip)]
    pub param_names: Vec<String>,
}

/// Stitches the choices of `plan`'s windows through `engine` (see the module docs).
pub fn stitch(
    plan: &WalkForwardPlan,
    choices: &Choices,
    engine: Result<&Engine, String>,
    filter: Option<&str>,
) -> WalkForwardResult {
    let mut problems = Vec::new();
    let params_of = |p: &Pick| -> Params { p.params.iter().cloned().collect() };
    let chosen_params: Vec<Option<Params>> = choices
        .chosen
        .iter()
        .map(|c| c.as_ref().map(params_of))
        .collect();
    let curve = match &engine {
        Ok(e) => match e.test_curves(&plan.windows, &chosen_params) {
            Ok(parts) => concatenate(&parts),
            Err(m) => {
                problems.push(format!("the stitched curve could not be made: {m}"));
                Curve::default()
            }
        },
        Err(m) => {
            problems.push(format!("the stitched curve could not be made: {m}"));
            Curve::default()
        }
    };
    let baseline_curve = match (&engine, &choices.baseline) {
        (Ok(e), Some(b)) => {
            let same = vec![Some(params_of(b)); plan.windows.len()];
            match e.test_curves(&plan.windows, &same) {
                Ok(parts) => Some(concatenate(&parts)),
                Err(m) => {
                    problems.push(format!("the baseline could not be stitched: {m}"));
                    None
                }
            }
        }
        _ => None,
    };
    let k = choices.metric_index;
    let get = |m: &Option<Metrics>| m.as_ref().map(|m| metric_values(m)[k]);
    let mut windows = Vec::with_capacity(plan.windows.len());
    let (mut is_sum, mut oos_sum, mut n) = (0.0, 0.0, 0.0);
    for (w, (win, pick)) in plan.windows.iter().zip(&choices.chosen).enumerate() {
        let is = pick.as_ref().and_then(|p| get(&p.train));
        let oos = pick.as_ref().and_then(|p| get(&p.test));
        if let (Some(a), Some(b)) = (is, oos) {
            if a.is_finite() && b.is_finite() {
                is_sum += a;
                oos_sum += b;
                n += 1.0;
            }
        }
        let stitched_return = curve.spans.get(w).and_then(|r| {
            let (a, b) = (
                curve.equity.get(r.start)?,
                curve.equity.get(r.end.checked_sub(1)?)?,
            );
            finite(b / a - 1.0)
        });
        windows.push(WindowResult {
            window: w + 1,
            train: win.train,
            test: win.test,
            chosen: pick.as_ref().map(chosen),
            in_sample: is.and_then(finite),
            out_of_sample: oos.and_then(finite),
            wfe: is.zip(oos).and_then(|(a, b)| finite(b / a)),
            stitched_return,
        });
    }
    let changes = choices
        .chosen
        .windows(2)
        .filter(|p| p[0].as_ref().map(|x| x.combo) != p[1].as_ref().map(|x| x.combo))
        .count();
    let (stitched, m) = CurveStats::of(&curve);
    let dsr = (choices.sharpe_variance.is_finite() && !curve.equity.is_empty())
        .then(|| {
            deflated_sharpe(&DsrInput {
                sharpe: per_period_sharpe(m.sharpe),
                variance_across_trials: choices.sharpe_variance,
                trials: choices.trials as f64,
                n_obs: m.n_obs.unwrap_or(0) as f64,
                skew: m.skew,
                kurtosis: m.kurtosis,
            })
        })
        .and_then(finite);
    let baseline = choices
        .baseline
        .as_ref()
        .zip(baseline_curve.as_ref())
        .map(|(b, curve)| {
            let c = chosen(b);
            Baseline {
                combo: c.combo,
                params: c.params,
                stats: CurveStats::of(curve).0,
            }
        });
    let mut param_names: Vec<String> = Vec::new();
    for p in choices
        .chosen
        .iter()
        .flatten()
        .chain(choices.baseline.as_ref())
    {
        for (name, _) in &p.params {
            if !param_names.contains(name) {
                param_names.push(name.clone());
            }
        }
    }
    let mean = |s: f64| (n > 0.0).then(|| s / n).and_then(finite);
    WalkForwardResult {
        metric: choices.metric.clone(),
        direction: choices.direction,
        filter: filter.map(str::to_string),
        mode: plan.mode.name().to_string(),
        train_length: plan.train.to_string(),
        test_length: plan.test.to_string(),
        step: plan.step.to_string(),
        gap: plan.gap.to_string(),
        windows,
        stitched,
        baseline,
        wfe: mean(oos_sum)
            .zip(mean(is_sum))
            .and_then(|(o, i)| finite(o / i)),
        mean_in_sample: mean(is_sum),
        mean_out_of_sample: mean(oos_sum),
        wfe_windows: n as usize,
        dsr,
        trials: choices.trials,
        changes,
        problems,
        curve,
        baseline_curve,
        param_names,
    }
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.2}%", 100.0 * v))
}

fn param_text(c: &Chosen, names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| match c.params.get(n) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "-".to_string(),
        })
        .collect()
}

/// The parameters that differ between the choices (the ones worth a column).
fn varying(r: &WalkForwardResult) -> Vec<String> {
    r.param_names
        .iter()
        .filter(|n| {
            let mut vals = r
                .windows
                .iter()
                .filter_map(|w| w.chosen.as_ref()?.params.get(*n));
            let first = vals.next();
            vals.any(|v| Some(v) != first)
                || r.baseline
                    .as_ref()
                    .is_some_and(|b| b.params.get(*n) != first)
        })
        .cloned()
        .collect()
}

fn stats_line(s: &CurveStats) -> String {
    format!(
        "sharpe {}, cagr {}, max drawdown {}, total return {}, {} returns",
        num(s.sharpe, 4),
        pct(s.cagr),
        pct(s.max_drawdown),
        pct(s.total_return),
        s.n_obs
    )
}

/// The terminal text of a walk-forward result.
pub fn to_text(r: &WalkForwardResult) -> String {
    let mut t = String::new();
    let names = varying(r);
    let _ = writeln!(
        t,
        "walk-forward: {} windows ({}, train {}, test {}, step {}, gap {}), each chosen by in-sample {}{}",
        r.windows.len(),
        r.mode,
        r.train_length,
        r.test_length,
        r.step,
        r.gap,
        r.metric,
        r.filter
            .as_ref()
            .map(|f| format!(" among training windows passing `{f}`"))
            .unwrap_or_default()
    );
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header: Vec<String> = ["window", "train", "test", "combo"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(names.iter().cloned());
    header.extend([
        format!("IS {}", r.metric),
        format!("OOS {}", r.metric),
        "WFE".into(),
        "OOS return".into(),
    ]);
    table.set_header(header);
    for w in &r.windows {
        let mut row = vec![
            w.window.to_string(),
            format!("{} .. {}", w.train[0], w.train[1]),
            format!("{} .. {}", w.test[0], w.test[1]),
        ];
        match &w.chosen {
            Some(c) => {
                row.push(format!("#{}", c.combo));
                row.extend(param_text(c, &names));
            }
            None => {
                row.push("cash".into());
                row.extend(names.iter().map(|_| "-".to_string()));
            }
        }
        row.extend([
            num(w.in_sample, 4),
            num(w.out_of_sample, 4),
            num(w.wfe, 2),
            pct(w.stitched_return),
        ]);
        table.add_row(row);
    }
    let _ = writeln!(t, "{table}");
    let _ = writeln!(
        t,
        "stitched out-of-sample {} .. {}: {}",
        r.stitched.from.map_or("-".into(), |d| d.to_string()),
        r.stitched.to.map_or("-".into(), |d| d.to_string()),
        stats_line(&r.stitched)
    );
    if let Some(b) = &r.baseline {
        let params: Vec<String> = b
            .params
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                v => format!("{k}={v}"),
            })
            .collect();
        let _ = writeln!(
            t,
            "best static (#{} {}, by full-period {}), same test windows: {}",
            b.combo,
            params.join(" "),
            r.metric,
            stats_line(&b.stats)
        );
    }
    let _ = writeln!(
        t,
        "walk-forward efficiency: {} (mean OOS {} {} / mean IS {}, over the {} of {} windows where both are defined)",
        num(r.wfe, 3),
        r.metric,
        num(r.mean_out_of_sample, 4),
        num(r.mean_in_sample, 4),
        r.wfe_windows,
        r.windows.len()
    );
    let _ = writeln!(
        t,
        "Deflated Sharpe Ratio of the stitched curve: {} (N = {} trials)",
        num(r.dsr, 4),
        r.trials
    );
    let _ = writeln!(
        t,
        "choice changed at {} of {} window boundaries",
        r.changes,
        r.windows.len().saturating_sub(1)
    );
    for p in &r.problems {
        let _ = writeln!(t, "problem: {p}");
    }
    t
}

/// Year labels of a date axis (at most about ten).
fn year_labels(dates: &[NaiveDate]) -> Vec<(usize, String)> {
    use chrono::Datelike;
    let mut labels = Vec::new();
    let mut last = None;
    for (i, d) in dates.iter().enumerate() {
        if Some(d.year()) != last {
            last = Some(d.year());
            labels.push((i, d.year().to_string()));
        }
    }
    let every = (labels.len() / 10).max(1);
    labels.into_iter().step_by(every).collect()
}

/// The report's walk-forward section (HTML, with inline SVG charts).
pub fn to_html(r: &WalkForwardResult) -> String {
    let mut h = String::new();
    h.push_str("<h2 id=\"walk-forward\">Walk-forward</h2>");
    let _ = write!(
        h,
        "<p class=\"note\">{} windows ({}, train {}, test {}, step {}, gap {}). Each window is a backtest of its own: indicators warm up from the spec's start, positions start flat in cash on the window's first day, orders fill at the next open. For each window the combination best by in-sample {}{} is traded on the test window; the test windows' equity curves, each rescaled to start where the previous ended, make the stitched out-of-sample curve.</p>",
        r.windows.len(),
        escape(&r.mode),
        escape(&r.train_length),
        escape(&r.test_length),
        escape(&r.step),
        escape(&r.gap),
        escape(&r.metric),
        r.filter
            .as_ref()
            .map(|f| format!(" among training windows passing <code>{}</code>", escape(f)))
            .unwrap_or_default()
    );
    h.push_str("<div class=\"cards\">");
    let card = |h: &mut String, k: &str, v: String| {
        let _ = write!(
            h,
            "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>",
            escape(k),
            escape(&v)
        );
    };
    card(&mut h, "stitched OOS Sharpe", num(r.stitched.sharpe, 3));
    card(&mut h, "stitched OOS CAGR", pct(r.stitched.cagr));
    card(
        &mut h,
        "stitched max drawdown",
        pct(r.stitched.max_drawdown),
    );
    if let Some(b) = &r.baseline {
        card(&mut h, "best static Sharpe", num(b.stats.sharpe, 3));
        card(&mut h, "best static CAGR", pct(b.stats.cagr));
    }
    card(&mut h, "WFE", num(r.wfe, 3));
    card(&mut h, &format!("DSR (N = {})", r.trials), num(r.dsr, 4));
    card(
        &mut h,
        "choice changes",
        format!("{} of {}", r.changes, r.windows.len().saturating_sub(1)),
    );
    h.push_str("</div>");
    for p in &r.problems {
        let _ = write!(h, "<p class=\"bad\">{}</p>", escape(p));
    }
    // Equity: stitched against the baseline.
    if !r.curve.equity.is_empty() {
        let norm = |c: &Curve| -> Vec<f64> {
            let first = c
                .equity
                .first()
                .copied()
                .filter(|v| *v != 0.0)
                .unwrap_or(1.0);
            c.equity.iter().map(|v| v / first).collect()
        };
        let stitched = norm(&r.curve);
        let base = r.baseline_curve.as_ref().map(norm);
        let mut series = vec![Series {
            name: "walk-forward (OOS)",
            y: &stitched,
        }];
        if let Some(b) = &base {
            series.push(Series {
                name: "best static",
                y: b,
            });
        }
        h.push_str(&svg::line_chart(
            "stitched out-of-sample equity (growth of 1)",
            &series,
            &year_labels(&r.curve.dates),
            1100.0,
            340.0,
        ));
    }
    // The chosen parameters per window.
    let names = r.param_names.clone();
    h.push_str("<h3>Chosen parameters per window</h3><table><tr><th>window</th><th class=\"l\">train</th><th class=\"l\">test</th><th>combo</th>");
    for n in &names {
        let _ = write!(h, "<th>{}</th>", escape(n));
    }
    let _ = write!(
        h,
        "<th>IS {m}</th><th>OOS {m}</th><th>WFE</th><th>OOS return</th></tr>",
        m = escape(&r.metric)
    );
    for w in &r.windows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{} .. {}</td><td class=\"l\">{} .. {}</td>",
            w.window, w.train[0], w.train[1], w.test[0], w.test[1]
        );
        match &w.chosen {
            Some(c) => {
                let _ = write!(h, "<td>#{}</td>", c.combo);
                for v in param_text(c, &names) {
                    let _ = write!(h, "<td>{}</td>", escape(&v));
                }
            }
            None => {
                let _ = write!(h, "<td>cash</td>");
                for _ in &names {
                    h.push_str("<td>-</td>");
                }
            }
        }
        let _ = write!(
            h,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            num(w.in_sample, 4),
            num(w.out_of_sample, 4),
            num(w.wfe, 2),
            pct(w.stitched_return)
        );
    }
    h.push_str("</table>");
    // One chart per numeric parameter across windows.
    let labels: Vec<(usize, String)> = r
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| (i, w.test[0].format("%Y").to_string()))
        .step_by((r.windows.len() / 12).max(1))
        .collect();
    for n in &names {
        let ys: Vec<f64> = r
            .windows
            .iter()
            .map(|w| {
                w.chosen
                    .as_ref()
                    .and_then(|c| c.params.get(n))
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(f64::NAN)
            })
            .collect();
        if ys.iter().any(|y| y.is_finite()) {
            h.push_str(&svg::line_chart(
                &format!("chosen {n} per window (by test year)"),
                &[Series { name: n, y: &ys }],
                &labels,
                1100.0,
                200.0,
            ));
        }
    }
    let _ = write!(
        h,
        "<p class=\"note\">Stability: the choice changed at {} of {} window boundaries. WFE (Pardo) = mean out-of-sample {m} / mean in-sample {m} of the chosen combinations, over the {} windows where both are defined. DSR: the stitched curve's Sharpe ratio (daily: annualised / √{}) deflated for N = {} trials (every combination that ran), with the variance of their full-period Sharpe ratios.</p>",
        r.changes,
        r.windows.len().saturating_sub(1),
        r.wfe_windows,
        PERIODS_PER_YEAR,
        r.trials,
        m = escape(&r.metric)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(sharpe: f64) -> Metrics {
        Metrics {
            sharpe,
            ..Metrics::default()
        }
    }

    fn runs(train: &[f64], test: &[f64]) -> WindowRuns {
        WindowRuns {
            train: train.iter().map(|&s| metrics(s)).collect(),
            test: test.iter().map(|&s| metrics(s)).collect(),
        }
    }

    fn full(sharpe: f64) -> MetricValues {
        metric_values(&metrics(sharpe))
    }

    #[test]
    fn chooses_the_best_training_value_per_window_lowest_combo_on_ties() {
        let mut s = Selector::new("sharpe", None, 2).expect("selector");
        let all = |_: &MetricValues| true;
        // Pushed out of order: ties go to the lower combination either way.
        s.push(3, &[], &full(0.5), &runs(&[1.0, 0.2], &[0.1, 0.1]), &all)
            .expect("push");
        s.push(
            1,
            &[],
            &full(0.9),
            &runs(&[1.0, f64::NAN], &[0.3, 0.3]),
            &all,
        )
        .expect("push");
        s.push(2, &[], &full(0.9), &runs(&[0.5, 0.1], &[0.4, 0.4]), &all)
            .expect("push");
        let c = s.finish();
        let combos: Vec<Option<u64>> = c
            .chosen
            .iter()
            .map(|p| p.as_ref().map(|p| p.combo))
            .collect();
        assert_eq!(combos, [Some(1), Some(3)]);
        assert_eq!(c.baseline.as_ref().map(|b| b.combo), Some(1));
        assert_eq!(c.trials, 3);
    }

    #[test]
    fn the_filter_sees_training_metrics_and_lower_is_better_works() {
        let mut s = Selector::new("max_drawdown", None, 1).expect("selector");
        let dd = |x: f64| Metrics {
            max_drawdown: x,
            sharpe: 1.0,
            ..Metrics::default()
        };
        let k = metric_index("max_drawdown").expect("metric");
        let pass = |m: &MetricValues| m[k] > 0.1;
        for (combo, x) in [(0u64, 0.05), (1, 0.2), (2, 0.15)] {
            let w = WindowRuns {
                train: vec![dd(x)],
                test: vec![dd(x)],
            };
            s.push(combo, &[], &metric_values(&dd(x)), &w, &pass)
                .expect("push");
        }
        let c = s.finish();
        assert_eq!(c.chosen[0].as_ref().map(|p| p.combo), Some(2));
        assert_eq!(c.baseline.as_ref().map(|p| p.combo), Some(2));
    }

    #[test]
    fn window_count_mismatch_is_an_error() {
        let mut s = Selector::new("sharpe", None, 2).expect("selector");
        let e = s
            .push(0, &[], &full(1.0), &runs(&[1.0], &[1.0]), &|_| true)
            .expect_err("mismatch");
        assert!(e
            .to_string()
            .contains("1 walk-forward windows where the plan has 2"));
        assert!(Selector::new("sharp", None, 1).is_err());
    }

    #[test]
    fn variance_matches_the_overfitting_definition() {
        let mut s = Selector::new("sharpe", None, 1).expect("selector");
        let xs = [0.5, 1.0, -0.2, 0.7];
        for (i, x) in xs.iter().enumerate() {
            s.push(i as u64, &[], &full(*x), &runs(&[*x], &[*x]), &|_| true)
                .expect("push");
        }
        let want = crate::overfitting::sample_variance(xs.iter().map(|x| per_period_sharpe(*x)));
        assert!((s.sharpe_variance() - want).abs() < 1e-15);
    }

    #[test]
    fn concatenation_rescales_each_window_to_the_previous_end() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        let c = concatenate(&[
            (vec![d("2000-01-03"), d("2000-01-04")], vec![100.0, 110.0]),
            (vec![d("2000-01-05"), d("2000-01-06")], vec![100.0, 90.0]),
        ]);
        assert_eq!(c.equity, [100.0, 110.0, 110.0, 99.0]);
        assert_eq!(c.spans, [0..2, 2..4]);
        assert_eq!(c.dates.len(), 4);
    }
}
