//! Inputs: finding result files (a sweep directory's `results/` as the contract lists it,
//! or any files and folders), reading the sweep's plan and spec, and parsing every file in
//! parallel: the worker's result files through the contract's one reader
//! ([`sweep_core::reader`]), each straight into table rows, and QSTrader's own
//! `JSONStatistics` files. Only what the table needs is kept; daily returns only when PBO
//! asks for them.

use std::borrow::Cow;
use std::fs;
use std::io::IsTerminal;
use std::ops::Range;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Deserialize;

use backtest::{ParamValue, METRICS};
use sweep_core::layout::{is_temp_name, parse_result_file_name, ResultsListing};
use sweep_core::planner::read_plan;
use sweep_core::reader::{
    excerpt, read_result_bytes_with_params, ProblemKind, ResultHeader, ResultProblem,
};
use sweep_core::{load_plan, Plan, PlanError, RunStatus, Spec, SweepDir};

use crate::table::{metric_index, metric_values, MetricValues, Row, METRIC_COUNT};
use crate::CollectError;

/// A sweep directory given as input, with its plan and (when readable) its spec.
#[derive(Clone, Debug)]
pub struct SweepInput {
    pub dir: SweepDir,
    pub plan: Plan,
    /// The planned spec (`data.dir` resolved); `None` when `spec.toml` is missing or
    /// unreadable.
    pub spec: Option<Spec>,
    /// Why the spec could not be read.
    pub spec_problem: Option<String>,
    /// What its `results/` holds, by name.
    pub listing: ResultsListing,
}

impl SweepInput {
    /// Whether the spec asks workers to keep daily returns (`[backtest] keep_returns`).
    pub fn keeps_returns(&self) -> bool {
        self.spec
            .as_ref()
            .is_some_and(|s| s.backtest.keep_returns.any())
    }
}

/// What was found on disk before parsing.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    pub sweeps: Vec<SweepInput>,
    /// Files to parse (the sweeps' result files and the loose ones), sorted.
    pub files: Vec<PathBuf>,
    /// Files under a `quarantine/` folder outside a sweep directory: named and counted.
    pub quarantined: Vec<PathBuf>,
}

/// Finds the inputs. A directory with a `plan.json` is a sweep directory (its `results/`
/// are read); any other directory is searched recursively for `*.json`; files are taken as
/// they are.
pub fn discover(paths: &[PathBuf]) -> Result<Discovered, CollectError> {
    let mut found = Discovered::default();
    for path in paths {
        if path.is_dir() {
            let plan_path = path.join("plan.json");
            if plan_path.is_file() {
                let sweep = read_sweep(path)?;
                found.files.extend(sweep.listing.results.iter().cloned());
                found.sweeps.push(sweep);
            } else {
                walk(path, &mut found)?;
            }
        } else if path.is_file() {
            found.files.push(path.clone());
        } else {
            return Err(CollectError::NoSuchInput(path.clone()));
        }
    }
    found.files.sort();
    found.files.dedup();
    found.quarantined.sort();
    found.quarantined.dedup();
    Ok(found)
}

/// Reads a sweep directory's plan and spec with [`sweep_core::load_plan`]. A plan that
/// cannot be read is an error; a spec that cannot be read is only noted (the table does
/// not need it, the equity curves of the report do).
fn read_sweep(root: &Path) -> Result<SweepInput, CollectError> {
    let dir = SweepDir::new(root);
    let plan_error = |e: PlanError| match e {
        PlanError::Io { path, error } => CollectError::Io {
            path,
            source: error,
        },
        PlanError::BadPlan { message, .. } => CollectError::Plan {
            path: dir.plan(),
            message,
        },
        other => CollectError::Plan {
            path: dir.plan(),
            message: other.to_string(),
        },
    };
    let (plan, spec, spec_problem) = match load_plan(root) {
        Ok((plan, spec)) => (plan, Some(spec), None),
        Err(PlanError::Spec(e)) => (
            read_plan(&dir.plan()).map_err(plan_error)?,
            None,
            Some(e.to_string()),
        ),
        Err(e) => return Err(plan_error(e)),
    };
    let listing = ResultsListing::read(&dir).map_err(|source| CollectError::Io {
        path: dir.results(),
        source,
    })?;
    Ok(SweepInput {
        dir,
        plan,
        spec,
        spec_problem,
        listing,
    })
}

fn walk(dir: &Path, found: &mut Discovered) -> Result<(), CollectError> {
    let entries = fs::read_dir(dir).map_err(|source| CollectError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| CollectError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name == "quarantine" {
                collect_quarantine(&path, found)?;
            } else {
                walk(&path, found)?;
            }
        } else if name.ends_with(".json") && !is_temp_name(&name) {
            found.files.push(path);
        }
    }
    Ok(())
}

fn collect_quarantine(dir: &Path, found: &mut Discovered) -> Result<(), CollectError> {
    let entries = fs::read_dir(dir).map_err(|source| CollectError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        if entry.path().is_file() {
            found.quarantined.push(entry.path());
        }
    }
    Ok(())
}

/// A combination of a result file that ran and failed, as the completeness account shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedCombo {
    pub combo: u64,
    /// `name=value` pairs, space separated.
    pub params: String,
    pub error: String,
}

/// A worker's result file that passed the reader's checks, reduced while it was parsed to
/// what `collect` keeps: what the file says about itself, its failed combinations, and the
/// table rows of its successful ones. The parsed file itself is dropped as soon as this is
/// built.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResult {
    pub header: ResultHeader,
    pub failed: Vec<FailedCombo>,
    /// Where this file's rows (one per successful combination, in combination order) are
    /// in [`RowStore::rows`].
    pub rows: Range<usize>,
}

/// The table rows of one result file, before they join the [`RowStore`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileRows {
    /// Parameter names in the order of the rows' `params` (the file's own order).
    pub param_names: Vec<String>,
    pub rows: Vec<Row>,
}

/// The rows of every result file read, appended file by file as the files are parsed, with
/// parameters in the order of one shared list of names. Each [`TaskResult`] says which
/// range is its own; the table keeps the ranges of the files it accepts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowStore {
    pub param_names: Vec<String>,
    pub rows: Vec<Row>,
}

impl RowStore {
    /// Appends one file's rows, mapping its parameters onto the shared names (rows of
    /// earlier files are widened by [`RowStore::finish`] when a file brings a new name).
    pub fn append(&mut self, file: FileRows) -> Range<usize> {
        let columns: Vec<usize> = file
            .param_names
            .iter()
            .map(
                |name| match self.param_names.iter().position(|n| n == name) {
                    Some(k) => k,
                    None => {
                        self.param_names.push(name.clone());
                        self.param_names.len() - 1
                    }
                },
            )
            .collect();
        let in_order = columns.iter().enumerate().all(|(j, &k)| j == k);
        let width = self.param_names.len();
        let start = self.rows.len();
        for mut row in file.rows {
            if in_order {
                row.params.resize(width, None);
            } else {
                let mut params = vec![None; width];
                for (j, value) in row.params.into_iter().enumerate() {
                    if let Some(&k) = columns.get(j) {
                        params[k] = value;
                    }
                }
                row.params = params;
            }
            self.rows.push(row);
        }
        start..self.rows.len()
    }

    /// Gives every row the full width of [`RowStore::param_names`].
    pub fn finish(&mut self) {
        let width = self.param_names.len();
        for row in &mut self.rows {
            if row.params.len() != width {
                row.params.resize(width, None);
            }
        }
    }
}

/// One QSTrader `JSONStatistics` file: its strategy's statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct QstraderRun {
    pub path: PathBuf,
    /// `strategy_name`, else `strategy_id`, else the file name.
    pub name: String,
    pub metrics: MetricValues,
    pub returns: Option<Vec<f64>>,
}

/// What one file turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Result(TaskResult),
    Qstrader(QstraderRun),
    /// Not a usable result file (nor a QSTrader file), and why.
    Bad {
        path: PathBuf,
        problem: ResultProblem,
    },
}

/// How many files are parsed in parallel before their rows are moved into the store: small
/// enough that the per-file row buffers awaiting the move stay a sliver of the table (the
/// next batch reuses their memory), large enough to keep every core busy.
const FILES_PER_BATCH: usize = 64;

/// Parses every file in parallel (rayon), batch by batch, each file straight into its table
/// rows, which are then moved into one [`RowStore`] (the file's bytes and parsed form are
/// freed as soon as its rows are built). Files are parsed in task order (from their names)
/// so the store's rows come out in combination order; the returned list follows `files`.
/// `keep_returns` keeps the daily returns of each run (for PBO); otherwise they are
/// skipped without being stored. A progress bar is drawn on stderr when it is a terminal
/// and there are many files.
pub fn parse_all(files: &[PathBuf], keep_returns: bool) -> (Vec<Parsed>, RowStore) {
    let bar = if std::io::stderr().is_terminal() && files.len() >= 50 {
        let bar =
            ProgressBar::with_draw_target(Some(files.len() as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("reading results {bar:40} {pos}/{len} files {eta}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&k| {
        let task = files[k]
            .file_name()
            .and_then(|n| parse_result_file_name(&n.to_string_lossy()))
            .map(|(t, _)| t);
        (task, k)
    });
    let mut parsed: Vec<Option<Parsed>> = vec![None; files.len()];
    let mut store = RowStore::default();
    for batch in order.chunks(FILES_PER_BATCH) {
        let outcomes: Vec<(Parsed, Option<FileRows>)> = batch
            .par_iter()
            .map(|&k| {
                let out = parse_file(&files[k], keep_returns);
                bar.inc(1);
                out
            })
            .collect();
        for (&k, (mut p, rows)) in batch.iter().zip(outcomes) {
            if let (Parsed::Result(r), Some(rows)) = (&mut p, rows) {
                r.rows = store.append(rows);
            }
            parsed[k] = Some(p);
        }
    }
    store.finish();
    bar.finish_and_clear();
    (parsed.into_iter().flatten().collect(), store)
}

/// Reads and classifies one file (one `fs::read`, one parse); a result file comes with its
/// rows (its `TaskResult::rows` is empty until they join a store).
pub fn parse_file(path: &Path, keep_returns: bool) -> (Parsed, Option<FileRows>) {
    let bad = |problem: ResultProblem| {
        let p = Parsed::Bad {
            path: path.to_path_buf(),
            problem,
        };
        (p, None)
    };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return bad(ResultProblem {
                kind: ProblemKind::Unreadable,
                message: format!("cannot read: {e}"),
            })
        }
    };
    if looks_like_qstrader(&bytes) {
        return match parse_qstrader(path, &bytes, keep_returns) {
            Ok(run) => (Parsed::Qstrader(run), None),
            Err(reason) => bad(ResultProblem {
                kind: ProblemKind::Corrupt,
                message: excerpt(&format!("QSTrader statistics: {reason}")),
            }),
        };
    }
    let mut param_names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    // A v2 result file holds no parameters: they come from its sweep's manifest.
    let manifest = sweep_core::layout::manifest_of_result(path);
    let read =
        read_result_bytes_with_params(path, &bytes, keep_returns, manifest.as_deref(), |run| {
            let metrics = match (run.status, &run.metrics) {
                (RunStatus::Ok, Some(m)) => metric_values(m),
                _ => {
                    failed.push(FailedCombo {
                        combo: run.i,
                        params: params_text(run.params),
                        error: run.error.unwrap_or_else(|| "(no message)".into()),
                    });
                    return;
                }
            };
            let mut params: Vec<Option<ParamValue>> = vec![None; param_names.len()];
            for (j, (name, value)) in run.params.into_iter().enumerate() {
                // Every run of a file names the same parameters in the same order: check the
                // expected position first.
                let k = if param_names.get(j).is_some_and(|n| *n == name) {
                    j
                } else if let Some(k) = param_names.iter().position(|n| *n == name) {
                    k
                } else {
                    param_names.push(name.into_owned());
                    params.resize(param_names.len(), None);
                    param_names.len() - 1
                };
                params[k] = Some(value);
            }
            rows.push(Row {
                combo: run.i,
                plan: 0,
                task: None,
                label: None,
                params,
                metrics,
                in_sample: run.in_sample.as_ref().map(|m| Box::new(metric_values(m))),
                out_of_sample: run
                    .out_of_sample
                    .as_ref()
                    .map(|m| Box::new(metric_values(m))),
                returns: run.returns,
                blocks: run.blocks.map(Box::new),
            });
        });
    match read {
        Ok(header) => {
            for r in &mut rows {
                r.task = Some(header.task);
            }
            let result = TaskResult {
                header,
                failed,
                rows: 0..0,
            };
            (Parsed::Result(result), Some(FileRows { param_names, rows }))
        }
        Err(problem) => bad(problem),
    }
}

/// QSTrader files have a `strategy` object and no `schema` field.
fn looks_like_qstrader(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1 << 16)];
    !contains(head, b"\"schema\"") && contains(bytes, b"\"strategy\"")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `name=value` pairs sorted by name, space separated.
fn params_text(mut pairs: Vec<(Cow<'_, str>, ParamValue)>) -> String {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Deserialize)]
struct QsFile {
    strategy_name: Option<String>,
    strategy_id: Option<String>,
    strategy: QsStats,
}

#[derive(Deserialize)]
struct QsStats {
    #[serde(default)]
    equity_curve: Vec<(f64, Option<f64>)>,
    #[serde(default)]
    returns: Vec<(f64, Option<f64>)>,
    /// The other statistics (`sharpe`, `cagr`, ...).
    #[serde(flatten)]
    stats: std::collections::HashMap<String, serde_json::Value>,
}

impl QsStats {
    /// A scalar statistic; `None` when absent, null or not a number.
    fn stat(&self, key: &str) -> Option<f64> {
        self.stats.get(key).and_then(serde_json::Value::as_f64)
    }
}

fn parse_qstrader(path: &Path, bytes: &[u8], keep_returns: bool) -> Result<QstraderRun, String> {
    // Python's json module writes NaN and Infinity, which are not JSON.
    let clean = replace_non_finite(bytes);
    let file: QsFile = serde_json::from_slice(&clean).map_err(|e| e.to_string())?;
    let s = &file.strategy;
    let mut m: MetricValues = [f64::NAN; METRIC_COUNT];
    // The statistics QSTrader states, by the metric table's QSTrader names (QSTrader's
    // drawdown is negative).
    for (k, d) in METRICS.iter().enumerate() {
        if let Some(v) = d.qstrader.and_then(|key| s.stat(key)) {
            m[k] = if d.name == "max_drawdown" { v.abs() } else { v };
        }
    }
    let mut set = |name: &str, v: Option<f64>| {
        if let (Some(k), Some(v)) = (metric_index(name), v) {
            m[k] = v;
        }
    };
    let equity: Vec<f64> = s.equity_curve.iter().filter_map(|p| p.1).collect();
    if let (Some(first), Some(last)) = (equity.first(), equity.last()) {
        if *first != 0.0 {
            set("total_return", Some(last / first - 1.0));
        }
    }
    if let (Some(cagr), Some(dd)) = (s.stat("cagr"), s.stat("max_drawdown")) {
        set(
            "calmar",
            Some(if dd == 0.0 { 0.0 } else { cagr / dd.abs() }),
        );
    }
    let returns: Vec<f64> = s.returns.iter().filter_map(|p| p.1).collect();
    let (skew, kurtosis) = moments(&returns);
    set("skew", Some(skew));
    set("kurtosis", Some(kurtosis));
    set("n_obs", Some(returns.len() as f64));
    let name = file.strategy_name.or(file.strategy_id).unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(QstraderRun {
        path: path.to_path_buf(),
        name,
        metrics: m,
        returns: keep_returns.then_some(returns),
    })
}

/// Population skewness and Pearson kurtosis (normal = 3); NaN for fewer than 2 values or
/// no variance.
pub fn moments(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for x in xs {
        let d = x - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
    if m2 <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    (m3 / m2.powf(1.5), m4 / (m2 * m2))
}

/// Replaces the bare tokens `NaN`, `Infinity` and `-Infinity` outside strings by `null`.
fn replace_non_finite(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut k = 0;
    while k < bytes.len() {
        let b = bytes[k];
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            k += 1;
            continue;
        }
        let rest = &bytes[k..];
        if b == b'"' {
            in_string = true;
        } else if let Some(len) = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .iter()
            .find(|t| rest.starts_with(t))
            .map(|t| t.len())
        {
            out.extend_from_slice(b"null");
            k += len;
            continue;
        }
        out.push(b);
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_tokens_become_null_outside_strings() {
        let s = br#"{"a": NaN, "b": [-Infinity, Infinity], "c": "NaN"}"#;
        let out = String::from_utf8(replace_non_finite(s)).expect("utf8");
        assert_eq!(out, r#"{"a": null, "b": [null, null], "c": "NaN"}"#);
    }

    #[test]
    fn moments_of_a_known_sample() {
        // 1, 2, 3, 10: mean 4, deviations -3 -2 -1 6; m2 = 50/4, m3 = 180/4, m4 = 1394/4.
        let (skew, kurt) = moments(&[1.0, 2.0, 3.0, 10.0]);
        let m2: f64 = 12.5;
        assert!((skew - 45.0 / m2.powf(1.5)).abs() < 1e-12);
        assert!((kurt - 348.5 / (m2 * m2)).abs() < 1e-12);
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;

    fn row(combo: u64, params: Vec<Option<ParamValue>>) -> Row {
        Row {
            combo,
            plan: 0,
            task: Some(0),
            label: None,
            params,
            metrics: [0.0; METRIC_COUNT],
            in_sample: None,
            out_of_sample: None,
            returns: None,
            blocks: None,
        }
    }

    #[test]
    fn files_with_other_parameter_orders_map_onto_one_list() {
        let mut store = RowStore::default();
        let first = store.append(FileRows {
            param_names: vec!["a".into(), "b".into()],
            rows: vec![row(
                0,
                vec![Some(ParamValue::Int(1)), Some(ParamValue::Int(2))],
            )],
        });
        // Same names in another order, plus a new one: `c` becomes the third column.
        let second = store.append(FileRows {
            param_names: vec!["b".into(), "c".into(), "a".into()],
            rows: vec![
                row(
                    1,
                    vec![
                        Some(ParamValue::Int(20)),
                        Some(ParamValue::Str("x".into())),
                        Some(ParamValue::Int(10)),
                    ],
                ),
                row(2, vec![Some(ParamValue::Int(21))]),
            ],
        });
        store.finish();
        assert_eq!((first, second), (0..1, 1..3));
        assert_eq!(store.param_names, vec!["a", "b", "c"]);
        let params: Vec<&[Option<ParamValue>]> =
            store.rows.iter().map(|r| r.params.as_slice()).collect();
        assert_eq!(
            params,
            vec![
                &[Some(ParamValue::Int(1)), Some(ParamValue::Int(2)), None][..],
                &[
                    Some(ParamValue::Int(10)),
                    Some(ParamValue::Int(20)),
                    Some(ParamValue::Str("x".into()))
                ][..],
                &[None, Some(ParamValue::Int(21)), None][..],
            ]
        );
    }

    #[test]
    fn a_result_file_becomes_rows_and_failures() {
        let json = br#"{"schema": "SCHEMA", "sweep": "s", "plan_hash": "h", "task": 3,
            "first": 6, "count": 2, "host": "node02", "worker_version": "0.1.0",
            "finished": "2026-01-02T03:04:05Z",
            "runs": [
              {"i": 6, "params": {"slow": 50, "fast": 5}, "status": "error", "error": "boom"},
              {"i": 7, "params": {"fast": 6, "slow": 60}, "status": "ok",
               "metrics": {"sharpe": 1.25, "sortino": 0, "cagr": 0, "annualised_vol": 0,
                 "max_drawdown": 0, "max_drawdown_duration": 0, "total_return": 0,
                 "calmar": 0, "trades": 4, "turnover": 0, "exposure": 0, "skew": 0,
                 "kurtosis": 0, "n_obs": 10}}
            ]}"#;
        let text =
            String::from_utf8_lossy(json).replace("SCHEMA", sweep_core::result::RESULT_SCHEMA);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("task-3.node02.json");
        std::fs::write(&path, text).expect("write");
        let (Parsed::Result(result), Some(rows)) = parse_file(&path, false) else {
            panic!("not a result");
        };
        let h = &result.header;
        assert_eq!((h.task, h.first, h.count), (3, 6, 2));
        assert_eq!(
            result.failed,
            vec![FailedCombo {
                combo: 6,
                params: "fast=5 slow=50".into(),
                error: "boom".into()
            }]
        );
        assert_eq!(rows.param_names, vec!["fast", "slow"]);
        assert_eq!(rows.rows.len(), 1);
        let r = &rows.rows[0];
        assert_eq!((r.combo, r.task), (7, Some(3)));
        assert_eq!(
            r.params,
            vec![Some(ParamValue::Int(6)), Some(ParamValue::Int(60))]
        );
        assert_eq!(r.metrics[metric_index("sharpe").expect("sharpe")], 1.25);
        assert_eq!(r.metrics[metric_index("trades").expect("trades")], 4.0);
    }
}
