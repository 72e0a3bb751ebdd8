//! Inputs: finding result files (a sweep directory's `results/` as the contract lists it,
//! or any files and folders), reading the sweep's plan and spec, and reading every file
//! in two passes through the contract's one reader ([`sweep_core::reader`]): a first,
//! parallel pass that keeps only what the completeness checks and the table's columns need
//! ([`scan_all`]), and, for the accepted files, a second pass in task order whose rows are
//! streamed to the accumulators ([`read_rows`], in parallel batches). QSTrader's own
//! `JSONStatistics` files are read once. Daily returns only when PBO asks for them.

use std::borrow::Cow;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Deserialize;

use backtest::{ParamValue, METRICS};
use sweep_core::layout::{is_temp_name, parse_result_file_name, ResultsListing};
use sweep_core::planner::read_plan;
use sweep_core::reader::{excerpt, read_result_bytes, ProblemKind, ResultHeader, ResultProblem};
use sweep_core::{load_plan, Plan, PlanError, RunStatus, Spec, SweepDir};

use crate::fulltable::ParamKind;
use crate::stream::Extras;
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

/// A worker's result file that passed the reader's checks, reduced to what the checks and
/// the table's columns need (first pass; its rows are read again, streamed, when the file
/// is accepted): what the file says about itself, its failed combinations, how many ran
/// ok, its parameter names (file order) and their value types, and whether it has a split.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResult {
    pub header: ResultHeader,
    pub failed: Vec<FailedCombo>,
    /// Successful combinations.
    pub ok: usize,
    pub params: Vec<(String, Option<ParamKind>)>,
    pub split: bool,
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

/// Files handed to the worker threads at a time.
const FILES_PER_BATCH: usize = 64;

/// Rows parsed ahead of the (sequential) accumulators at most, roughly: a batch of files
/// stops growing past this many combinations.
const ROWS_PER_BATCH: u64 = 1 << 16;

fn progress(len: usize, what: &str) -> ProgressBar {
    if std::io::stderr().is_terminal() && len >= 50 {
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{what} {{bar:40}} {{pos}}/{{len}} files {{eta}}"
        )) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    }
}

/// The first pass: parses every file in parallel (rayon) through the contract's reader,
/// keeping per file only what [`TaskResult`] holds (no rows). Daily returns are skipped
/// (QSTrader files keep theirs when `keep_returns`). The result follows `files`.
pub fn scan_all(files: &[PathBuf], keep_returns: bool) -> Vec<Parsed> {
    let bar = progress(files.len(), "checking results");
    let parsed = files
        .par_iter()
        .map(|f| {
            let p = scan_file(f, keep_returns);
            bar.inc(1);
            p
        })
        .collect();
    bar.finish_and_clear();
    parsed
}

/// The parameter names of every parsed result file, in task order (files sorted by the
/// task in their names, then path), each name once, with the type of its values.
pub fn param_columns(parsed: &[Parsed]) -> (Vec<String>, Vec<Option<ParamKind>>) {
    let mut results: Vec<&TaskResult> = parsed
        .iter()
        .filter_map(|p| match p {
            Parsed::Result(r) => Some(r),
            _ => None,
        })
        .collect();
    let task_of = |r: &TaskResult| {
        r.header
            .path
            .file_name()
            .and_then(|n| parse_result_file_name(&n.to_string_lossy()))
            .map(|(t, _)| t)
    };
    results.sort_by(|a, b| (task_of(a), &a.header.path).cmp(&(task_of(b), &b.header.path)));
    let mut names: Vec<String> = Vec::new();
    let mut kinds: Vec<Option<ParamKind>> = Vec::new();
    for r in results {
        for (name, kind) in &r.params {
            let k = match names.iter().position(|n| n == name) {
                Some(k) => k,
                None => {
                    names.push(name.clone());
                    kinds.push(None);
                    names.len() - 1
                }
            };
            kinds[k] = match (kinds[k], kind) {
                (Some(a), Some(b)) => Some(a.join(*b)),
                (a, b) => a.or(*b),
            };
        }
    }
    (names, kinds)
}

/// Reads and classifies one file (first pass).
pub fn scan_file(path: &Path, keep_returns: bool) -> Parsed {
    let bad = |problem: ResultProblem| Parsed::Bad {
        path: path.to_path_buf(),
        problem,
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
            Ok(run) => Parsed::Qstrader(run),
            Err(reason) => bad(ResultProblem {
                kind: ProblemKind::Corrupt,
                message: excerpt(&format!("QSTrader statistics: {reason}")),
            }),
        };
    }
    let mut params: Vec<(String, Option<ParamKind>)> = Vec::new();
    let mut failed = Vec::new();
    let mut ok = 0;
    let mut split = false;
    let read = read_result_bytes(path, &bytes, false, |run| {
        for (j, (name, value)) in run.params.iter().enumerate() {
            let k = if params.get(j).is_some_and(|(n, _)| n == name) {
                j
            } else if let Some(k) = params.iter().position(|(n, _)| n == name) {
                k
            } else {
                params.push((name.to_string(), None));
                params.len() - 1
            };
            let kind = ParamKind::of(value);
            params[k].1 = Some(params[k].1.map_or(kind, |a| a.join(kind)));
        }
        match (run.status, &run.metrics) {
            (RunStatus::Ok, Some(_)) => {
                ok += 1;
                split |= run.in_sample.is_some();
            }
            _ => failed.push(FailedCombo {
                combo: run.i,
                params: params_text(run.params),
                error: run.error.unwrap_or_else(|| "(no message)".into()),
            }),
        }
    });
    match read {
        Ok(header) => Parsed::Result(TaskResult {
            header,
            failed,
            ok,
            params,
            split,
        }),
        Err(problem) => bad(problem),
    }
}

/// One accepted file's runs (second pass), ok and failed, in combination order: rows with
/// their parameters in a flat buffer in table order (`width` per run), so no run allocates
/// a parameter list of its own.
#[derive(Debug, Default)]
pub struct FileRows {
    pub width: usize,
    /// One per run; `params` empty, `task` set, `metrics` NaN for a failed run.
    pub rows: Vec<Row>,
    pub params: Vec<Option<ParamValue>>,
    /// `None` for a run that succeeded.
    pub errors: Vec<Option<String>>,
    pub extras: Vec<Extras>,
    /// Whether the file named its runs' parameters (v2 files do not: they come from the
    /// manifest).
    pub has_params: bool,
}

/// Reads one accepted file's runs for the stream, mapping parameters onto `names`.
pub fn read_rows(
    path: &Path,
    keep_returns: bool,
    names: &[String],
) -> Result<FileRows, ResultProblem> {
    let bytes = fs::read(path).map_err(|e| ResultProblem {
        kind: ProblemKind::Unreadable,
        message: format!("cannot read: {e}"),
    })?;
    let width = names.len();
    let mut out = FileRows {
        width,
        ..FileRows::default()
    };
    // Position of the file's j-th parameter among `names`, learnt from the first run.
    let mut slots: Vec<(String, usize)> = Vec::new();
    let header = read_result_bytes(path, &bytes, keep_returns, |run| {
        let base = out.params.len();
        out.params.resize(base + width, None);
        for (j, (name, value)) in run.params.into_iter().enumerate() {
            let k = match slots.get(j) {
                Some((n, k)) if *n == name => Some(*k),
                _ => names.iter().position(|n| *n == name).inspect(|&k| {
                    if j >= slots.len() {
                        slots.push((name.to_string(), k));
                    }
                }),
            };
            if let Some(k) = k {
                out.params[base + k] = Some(value);
                out.has_params = true;
            }
        }
        let ok = matches!((run.status, &run.metrics), (RunStatus::Ok, Some(_)));
        let metrics = match (&run.metrics, ok) {
            (Some(m), true) => metric_values(m),
            _ => [f64::NAN; METRIC_COUNT],
        };
        out.rows.push(Row {
            combo: run.i,
            plan: 0,
            task: None,
            label: None,
            params: Vec::new(),
            metrics,
            in_sample: run
                .in_sample
                .as_ref()
                .filter(|_| ok)
                .map(|m| Box::new(metric_values(m))),
            out_of_sample: run
                .out_of_sample
                .as_ref()
                .filter(|_| ok)
                .map(|m| Box::new(metric_values(m))),
            returns: run.returns,
        });
        out.errors.push(if ok {
            None
        } else {
            Some(run.error.unwrap_or_else(|| "(no message)".into()))
        });
        out.extras.push(Extras {
            windows: run.windows,
            blocks: run.blocks,
        });
    })?;
    for r in &mut out.rows {
        r.task = Some(header.task);
    }
    Ok(out)
}

/// Groups accepted files into batches for [`read_rows`] in parallel: at most
/// [`FILES_PER_BATCH`] files and about [`ROWS_PER_BATCH`] rows each.
pub fn batches(counts: &[u64]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut rows = 0;
    for (k, &c) in counts.iter().enumerate() {
        if k > start && (k - start >= FILES_PER_BATCH || rows + c > ROWS_PER_BATCH) {
            out.push(start..k);
            start = k;
            rows = 0;
        }
        rows += c;
    }
    if start < counts.len() {
        out.push(start..counts.len());
    }
    out
}

/// Reads a sweep's manifest forwards, for result files that do not name their runs'
/// parameters (line i = combination i).
pub struct ManifestCursor {
    path: PathBuf,
    reader: Option<std::io::BufReader<fs::File>>,
    next: u64,
    line: String,
}

impl ManifestCursor {
    pub fn new(path: PathBuf) -> ManifestCursor {
        ManifestCursor {
            path,
            reader: None,
            next: 0,
            line: String::new(),
        }
    }

    /// Fills `out` (table order, names `names`) with combination `combo`'s parameters.
    pub fn params(
        &mut self,
        combo: u64,
        names: &[String],
        out: &mut [Option<ParamValue>],
    ) -> Result<(), String> {
        use std::io::BufRead;
        if self.reader.is_none() || combo < self.next {
            let f =
                fs::File::open(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
            self.reader = Some(std::io::BufReader::with_capacity(1 << 16, f));
            self.next = 0;
        }
        let Some(reader) = self.reader.as_mut() else {
            return Err("no manifest".into());
        };
        loop {
            self.line.clear();
            let n = reader
                .read_line(&mut self.line)
                .map_err(|e| format!("{}: {e}", self.path.display()))?;
            if n == 0 {
                return Err(format!(
                    "{}: has no line for combination {combo}",
                    self.path.display()
                ));
            }
            self.next += 1;
            if self.next - 1 == combo {
                break;
            }
        }
        let mut de = serde_json::Deserializer::from_str(self.line.trim_end());
        let i = serde::de::DeserializeSeed::deserialize(ManifestLine { names, out }, &mut de)
            .map_err(|e| format!("{}:{}: {e}", self.path.display(), combo + 1))?;
        if i != Some(combo) {
            return Err(format!(
                "{}:{}: holds combination {i:?} where {combo} was expected",
                self.path.display(),
                combo + 1
            ));
        }
        Ok(())
    }
}

/// A manifest line `{"i": 7, "params": {...}}` read straight into a row's parameter
/// slots: keys borrowed, numbers and booleans without allocating (no map is built per
/// line). Returns `i`.
struct ManifestLine<'n, 'o> {
    names: &'n [String],
    out: &'o mut [Option<ParamValue>],
}

impl<'de> serde::de::DeserializeSeed<'de> for ManifestLine<'_, '_> {
    type Value = Option<u64>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ManifestLine<'_, '_> {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a manifest line {\"i\": n, \"params\": {...}}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
        let mut i = None;
        while let Some(key) = map.next_key::<KeyStr<'de>>()? {
            match key.0.as_ref() {
                "i" => i = Some(map.next_value::<u64>()?),
                "params" => map.next_value_seed(ParamSlots {
                    names: self.names,
                    out: &mut *self.out,
                })?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(i)
    }
}

struct ParamSlots<'n, 'o> {
    names: &'n [String],
    out: &'o mut [Option<ParamValue>],
}

impl<'de> serde::de::DeserializeSeed<'de> for ParamSlots<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ParamSlots<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of parameter values")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyStr<'de>>()? {
            let value = map.next_value::<ScalarValue>()?.0;
            if let Some(k) = self.names.iter().position(|n| *n == key.0) {
                self.out[k] = Some(value);
            }
        }
        Ok(())
    }
}

/// A key borrowed from the line when it has no escapes.
struct KeyStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for KeyStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A parameter value read by its JSON type (not through `ParamValue`'s untagged enum).
struct ScalarValue(ParamValue);

impl<'de> Deserialize<'de> for ScalarValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean, number or string")
            }
            fn visit_bool<E>(self, v: bool) -> Result<ScalarValue, E> {
                Ok(ScalarValue(ParamValue::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ScalarValue, E> {
                Ok(ScalarValue(ParamValue::Int(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarValue, E> {
                i64::try_from(v)
                    .map(|v| ScalarValue(ParamValue::Int(v)))
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ScalarValue, E> {
                Ok(ScalarValue(ParamValue::Float(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<ScalarValue, E> {
                Ok(ScalarValue(ParamValue::Str(v.to_string())))
            }
        }
        d.deserialize_any(V)
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
pub(crate) fn params_text(mut pairs: Vec<(Cow<'_, str>, ParamValue)>) -> String {
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
mod pass_tests {
    use super::*;

    fn write_result(dir: &Path) -> PathBuf {
        let json = br#"{"schema": "SCHEMA", "sweep": "s", "plan_hash": "h", "task": 3,
            "first": 6, "count": 2, "host": "node02", "worker_version": "0.1.0",
            "finished": "2026-01-02T03:04:05Z",
            "runs": [
              {"i": 6, "params": {"slow": 50, "fast": 5}, "status": "error", "error": "boom"},
              {"i": 7, "params": {"fast": 6.5, "slow": 60}, "status": "ok",
               "metrics": {"sharpe": 1.25, "sortino": 0, "cagr": 0, "annualised_vol": 0,
                 "max_drawdown": 0, "max_drawdown_duration": 0, "total_return": 0,
                 "calmar": 0, "trades": 4, "turnover": 0, "exposure": 0, "skew": 0,
                 "kurtosis": 0, "n_obs": 10}}
            ]}"#;
        let text =
            String::from_utf8_lossy(json).replace("SCHEMA", sweep_core::result::RESULT_SCHEMA);
        let path = dir.join("task-3.node02.json");
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn first_pass_keeps_columns_and_failures_second_pass_the_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_result(dir.path());
        let Parsed::Result(result) = scan_file(&path, false) else {
            panic!("not a result");
        };
        let h = &result.header;
        assert_eq!((h.task, h.first, h.count, result.ok), (3, 6, 2, 1));
        assert_eq!(
            result.failed,
            vec![FailedCombo {
                combo: 6,
                params: "fast=5 slow=50".into(),
                error: "boom".into()
            }]
        );
        // fast is an int in one run and a float in the other: a float column.
        assert_eq!(
            result.params,
            vec![
                ("slow".to_string(), Some(ParamKind::Int)),
                ("fast".to_string(), Some(ParamKind::Float))
            ]
        );
        let parsed = vec![Parsed::Result(result)];
        let (names, kinds) = param_columns(&parsed);
        assert_eq!(names, vec!["slow", "fast"]);
        assert_eq!(kinds, vec![Some(ParamKind::Int), Some(ParamKind::Float)]);
        // The second pass maps onto the table's order, whatever the file's.
        let table = vec!["fast".to_string(), "slow".to_string()];
        let rows = read_rows(&path, false, &table).expect("rows");
        assert_eq!(rows.rows.len(), 2);
        assert_eq!(rows.errors, vec![Some("boom".to_string()), None]);
        assert_eq!(
            rows.params,
            vec![
                Some(ParamValue::Int(5)),
                Some(ParamValue::Int(50)),
                Some(ParamValue::Float(6.5)),
                Some(ParamValue::Int(60))
            ]
        );
        assert_eq!((rows.rows[1].combo, rows.rows[1].task), (7, Some(3)));
        assert!(rows.rows[0].metrics.iter().all(|v| v.is_nan()));
        assert_eq!(
            rows.rows[1].metrics[metric_index("trades").expect("t")],
            4.0
        );
    }

    #[test]
    fn the_manifest_fills_parameters_in_lockstep() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("manifest.jsonl");
        let lines: String = (0..5)
            .map(|i| {
                format!(
                    "{{\"i\":{i},\"params\":{{\"fast\":{i},\"kind\":\"s\\\"ma\",\"w\":0.5,\"on\":true}}}}\n"
                )
            })
            .collect();
        std::fs::write(&path, lines).expect("write");
        let names: Vec<String> = ["on", "fast", "kind", "w"].map(String::from).to_vec();
        let mut cursor = ManifestCursor::new(path);
        let mut out = vec![None; 4];
        for combo in [1, 3, 4, 0] {
            cursor.params(combo, &names, &mut out).expect("params");
            assert_eq!(
                out,
                vec![
                    Some(ParamValue::Bool(true)),
                    Some(ParamValue::Int(combo as i64)),
                    Some(ParamValue::Str("s\"ma".into())),
                    Some(ParamValue::Float(0.5))
                ]
            );
        }
        assert!(cursor.params(5, &names, &mut out).is_err());
    }

    #[test]
    fn batches_are_bounded_by_files_and_rows() {
        assert_eq!(batches(&[]), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(batches(&[10; 3]), vec![0..3]);
        assert_eq!(batches(&[1; 130]), vec![0..64, 64..128, 128..130]);
        let big = ROWS_PER_BATCH / 2 + 1;
        assert_eq!(batches(&[big, big, big]), vec![0..1, 1..2, 2..3]);
        assert_eq!(batches(&[ROWS_PER_BATCH * 3]), vec![0..1]);
    }
}
