//! Inputs: finding result files (a sweep directory, or any files and folders), reading the
//! sweep's plan and spec, and parsing every file in parallel into lean records: the worker's
//! result files (`results/task-<k>.<host>.json`) and QSTrader's own `JSONStatistics` files.
//! Only what the table needs is kept; daily returns only when PBO asks for them.

use std::borrow::Cow;
use std::fs;
use std::io::IsTerminal;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use backtest::{Metrics, ParamValue};
use sweep_core::planner::read_plan;
use sweep_core::result::{check_run_sequence, RESULT_SCHEMA};
use sweep_core::sweep_dir::parse_result_file_name;
use sweep_core::{load_plan, Plan, PlanError, RunStatus, SlurmIds, Spec, SweepDir};

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
}

impl SweepInput {
    /// Whether the spec asks workers to keep daily returns (`[backtest] keep_returns`).
    pub fn keeps_returns(&self) -> bool {
        self.spec.as_ref().is_some_and(|s| s.backtest.keep_returns)
    }
}

/// What was found on disk before parsing.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    pub sweeps: Vec<SweepInput>,
    /// Files to parse, sorted.
    pub files: Vec<PathBuf>,
    /// Files under a `quarantine/` folder (moved aside by the worker): named and counted.
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
                let results = sweep.dir.results();
                found.sweeps.push(sweep);
                if results.is_dir() {
                    walk(&results, &mut found)?;
                }
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
    Ok(SweepInput {
        dir,
        plan,
        spec,
        spec_problem,
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
        } else if name.ends_with(".json") && !name.starts_with('.') {
            // `.task-…tmp` files are atomic writes in progress, never results.
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

/// A worker's result file that passed the schema and completeness checks, reduced while it
/// was parsed to what `collect` keeps: the file's identity for the completeness checks, its
/// failed combinations, and the table rows of its successful ones. The parsed file itself
/// is dropped as soon as this is built.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResult {
    pub path: PathBuf,
    pub sweep: String,
    pub plan_hash: String,
    pub task: u64,
    pub first: u64,
    pub count: u64,
    pub host: String,
    pub slurm: SlurmIds,
    pub finished: DateTime<Utc>,
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

/// A file that could not be used, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CorruptFile {
    pub path: PathBuf,
    pub reason: String,
}

/// What one file turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Result(TaskResult),
    Qstrader(QstraderRun),
    Corrupt(CorruptFile),
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
    order.sort_by_key(|&k| (task_from_file_name(&files[k]), k));
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

/// Reads and classifies one file (one `fs::read`, one `serde_json::from_slice`); a result
/// file comes with its rows (its `TaskResult::rows` is empty until they join a store).
pub fn parse_file(path: &Path, keep_returns: bool) -> (Parsed, Option<FileRows>) {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let c = CorruptFile {
                path: path.to_path_buf(),
                reason: format!("cannot read: {e}"),
            };
            return (Parsed::Corrupt(c), None);
        }
    };
    let corrupt = |reason: String| {
        let c = CorruptFile {
            path: path.to_path_buf(),
            reason,
        };
        (Parsed::Corrupt(c), None)
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return corrupt("empty file".into());
    }
    if looks_like_qstrader(&bytes) {
        return match parse_qstrader(path, &bytes, keep_returns) {
            Ok(run) => (Parsed::Qstrader(run), None),
            Err(reason) => corrupt(format!("QSTrader statistics: {reason}")),
        };
    }
    let parsed = if keep_returns {
        parse_result::<Vec<f64>>(path, &bytes)
    } else {
        parse_result::<IgnoredAny>(path, &bytes)
    };
    match parsed {
        Ok((result, rows)) => (Parsed::Result(result), Some(rows)),
        Err(reason) => corrupt(reason),
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

/// The returns field, either kept or skipped while parsing.
trait ReturnsField: DeserializeOwned {
    fn into_returns(self) -> Option<Vec<f64>>;
}

impl ReturnsField for Vec<f64> {
    fn into_returns(self) -> Option<Vec<f64>> {
        Some(self)
    }
}

impl ReturnsField for IgnoredAny {
    fn into_returns(self) -> Option<Vec<f64>> {
        None
    }
}

/// A string borrowed from the file's bytes when it has no escapes (parameter names are
/// read once per run: this saves an allocation each time).
struct LeanStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for LeanStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> serde::de::Visitor<'de> for StrVisitor {
            type Value = LeanStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<LeanStr<'de>, E> {
                Ok(LeanStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<LeanStr<'de>, E> {
                Ok(LeanStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<LeanStr<'de>, E> {
                Ok(LeanStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

/// A run's parameters in file order, read without the cost of `ParamValue`'s untagged enum
/// (which tries each variant in turn and builds an error for every miss) and without a map.
struct LeanParams<'a>(Vec<(Cow<'a, str>, ParamValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for LeanParams<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> serde::de::Visitor<'de> for MapVisitor {
            type Value = LeanParams<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of parameter values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LeanParams<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((k, v)) = map.next_entry::<LeanStr<'de>, LeanValue>()? {
                    out.push((k.0, v.0));
                }
                Ok(LeanParams(out))
            }
        }
        d.deserialize_map(MapVisitor)
    }
}

struct LeanValue(ParamValue);

impl<'de> Deserialize<'de> for LeanValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl serde::de::Visitor<'_> for ValueVisitor {
            type Value = LeanValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean, number or string")
            }
            fn visit_bool<E>(self, v: bool) -> Result<LeanValue, E> {
                Ok(LeanValue(ParamValue::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<LeanValue, E> {
                Ok(LeanValue(ParamValue::Int(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<LeanValue, E> {
                i64::try_from(v)
                    .map(|i| LeanValue(ParamValue::Int(i)))
                    .map_err(|_| E::custom(format!("integer {v} is too large")))
            }
            fn visit_f64<E>(self, v: f64) -> Result<LeanValue, E> {
                Ok(LeanValue(ParamValue::Float(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<LeanValue, E> {
                Ok(LeanValue(ParamValue::Str(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<LeanValue, E> {
                Ok(LeanValue(ParamValue::Str(v)))
            }
        }
        d.deserialize_any(ValueVisitor)
    }
}

/// The fields of one run that `collect` reads (serde skips the others).
#[derive(Deserialize)]
#[serde(bound(deserialize = "R: ReturnsField"))]
struct RawRun<'a, R> {
    i: u64,
    #[serde(borrow)]
    params: LeanParams<'a>,
    status: RunStatus,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    metrics: Option<Metrics>,
    #[serde(default)]
    in_sample: Option<Metrics>,
    #[serde(default)]
    out_of_sample: Option<Metrics>,
    #[serde(default = "none")]
    returns: Option<R>,
}

fn none<R>() -> Option<R> {
    None
}

/// The fields of a result file that `collect` reads (worker version, arch, start time and
/// anything unknown are skipped).
#[derive(Deserialize)]
#[serde(bound(deserialize = "R: ReturnsField"))]
struct RawResult<'a, R> {
    #[serde(borrow)]
    schema: LeanStr<'a>,
    sweep: String,
    plan_hash: String,
    task: u64,
    first: u64,
    count: u64,
    #[serde(default)]
    slurm: SlurmIds,
    host: String,
    finished: DateTime<Utc>,
    #[serde(borrow)]
    runs: Vec<RawRun<'a, R>>,
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
struct SchemaProbe {
    schema: Option<String>,
}

fn parse_result<R: ReturnsField>(
    path: &Path,
    bytes: &[u8],
) -> Result<(TaskResult, FileRows), String> {
    let raw: RawResult<R> = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        Err(e) => {
            // A file of another schema version fails on its fields; name the schema instead.
            if let Ok(SchemaProbe {
                schema: Some(schema),
            }) = serde_json::from_slice(bytes)
            {
                if schema != RESULT_SCHEMA {
                    return Err(format!("schema is `{schema}`, expected `{RESULT_SCHEMA}`"));
                }
            }
            let kind = if e.is_eof() {
                "truncated JSON"
            } else {
                "invalid result JSON"
            };
            return Err(format!("{kind}: {e}"));
        }
    };
    if raw.schema.0 != RESULT_SCHEMA {
        return Err(format!(
            "schema is `{}`, expected `{RESULT_SCHEMA}`",
            raw.schema.0
        ));
    }
    check_run_sequence(raw.first, raw.count, raw.runs.iter().map(|run| run.i))
        .map_err(|message| format!("incomplete: {message}"))?;
    for run in &raw.runs {
        if run.status == RunStatus::Ok && run.metrics.is_none() {
            return Err(format!("combination {} is `ok` but has no metrics", run.i));
        }
    }
    let mut param_names: Vec<String> = Vec::new();
    let mut rows = Vec::with_capacity(raw.runs.len());
    let mut failed = Vec::new();
    for run in raw.runs {
        let metrics = match (run.status, run.metrics) {
            (RunStatus::Ok, Some(m)) => metric_values(&m),
            _ => {
                failed.push(FailedCombo {
                    combo: run.i,
                    params: params_text(run.params.0),
                    error: run.error.unwrap_or_else(|| "(no message)".into()),
                });
                continue;
            }
        };
        let mut params: Vec<Option<ParamValue>> = vec![None; param_names.len()];
        for (j, (name, value)) in run.params.0.into_iter().enumerate() {
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
            task: Some(raw.task),
            label: None,
            params,
            metrics,
            in_sample: run.in_sample.as_ref().map(|m| Box::new(metric_values(m))),
            out_of_sample: run
                .out_of_sample
                .as_ref()
                .map(|m| Box::new(metric_values(m))),
            returns: run.returns.and_then(ReturnsField::into_returns),
        });
    }
    let result = TaskResult {
        path: path.to_path_buf(),
        sweep: raw.sweep,
        plan_hash: raw.plan_hash,
        task: raw.task,
        first: raw.first,
        count: raw.count,
        host: raw.host,
        slurm: raw.slurm,
        finished: raw.finished,
        failed,
        rows: 0..0,
    };
    Ok((result, FileRows { param_names, rows }))
}

#[derive(Deserialize)]
struct QsFile {
    strategy_name: Option<String>,
    strategy_id: Option<String>,
    strategy: QsStats,
}

#[derive(Deserialize)]
struct QsStats {
    sharpe: Option<f64>,
    sortino: Option<f64>,
    cagr: Option<f64>,
    annualised_vol: Option<f64>,
    max_drawdown: Option<f64>,
    max_drawdown_duration: Option<f64>,
    #[serde(default)]
    equity_curve: Vec<(f64, Option<f64>)>,
    #[serde(default)]
    returns: Vec<(f64, Option<f64>)>,
}

fn parse_qstrader(path: &Path, bytes: &[u8], keep_returns: bool) -> Result<QstraderRun, String> {
    // Python's json module writes NaN and Infinity, which are not JSON.
    let clean = replace_non_finite(bytes);
    let file: QsFile = serde_json::from_slice(&clean).map_err(|e| e.to_string())?;
    let s = &file.strategy;
    let mut m: MetricValues = [f64::NAN; METRIC_COUNT];
    let mut set = |name: &str, v: Option<f64>| {
        if let (Some(k), Some(v)) = (metric_index(name), v) {
            m[k] = v;
        }
    };
    set("sharpe", s.sharpe);
    set("sortino", s.sortino);
    set("cagr", s.cagr);
    set("annualised_vol", s.annualised_vol);
    set("max_drawdown", s.max_drawdown.map(f64::abs));
    set("max_drawdown_duration", s.max_drawdown_duration);
    let equity: Vec<f64> = s.equity_curve.iter().filter_map(|p| p.1).collect();
    if let (Some(first), Some(last)) = (equity.first(), equity.last()) {
        if *first != 0.0 {
            set("total_return", Some(last / first - 1.0));
        }
    }
    if let (Some(cagr), Some(dd)) = (s.cagr, s.max_drawdown) {
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

/// The task of a result file from its name, for files too broken to say it themselves.
pub fn task_from_file_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    parse_result_file_name(name).map(|(k, _)| k)
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
mod lean_tests {
    use super::*;

    #[test]
    fn lean_params_read_like_param_values() {
        let json = br#"{"a": 5, "b": 0.5, "c": true, "d": "sma", "e": -3}"#;
        let lean: LeanParams = serde_json::from_slice(json).expect("lean");
        let full: backtest::Params = serde_json::from_slice(json).expect("full");
        let lean: backtest::Params = lean
            .0
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v))
            .collect();
        assert_eq!(lean, full);
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
        let text = String::from_utf8_lossy(json).replace("SCHEMA", RESULT_SCHEMA);
        let (result, rows) =
            parse_result::<IgnoredAny>(Path::new("task-3.node02.json"), text.as_bytes())
                .expect("parse");
        assert_eq!((result.task, result.first, result.count), (3, 6, 2));
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
