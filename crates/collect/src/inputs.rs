//! Inputs: finding result files (a sweep directory, or any files and folders), reading the
//! sweep's plan and spec, and parsing every file in parallel into lean records: the worker's
//! result files (`results/task-<k>.<host>.json`) and QSTrader's own `JSONStatistics` files.
//! Only what the table needs is kept; daily returns only when PBO asks for them.

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use backtest::{Metrics, ParamValue, Params};
use sweep_core::result::RESULT_SCHEMA;
use sweep_core::sweep_dir::parse_result_file_name;
use sweep_core::{Plan, RunStatus, SlurmIds, SweepDir};

use crate::table::{metric_index, metric_values, MetricValues, METRIC_COUNT};
use crate::CollectError;

/// A sweep directory given as input, with its plan and (when readable) its spec.
#[derive(Clone, Debug)]
pub struct SweepInput {
    pub dir: SweepDir,
    pub plan: Plan,
    /// The planned spec as a TOML table; `None` when `spec.toml` is missing or unreadable.
    pub spec: Option<toml::Table>,
    /// Why the spec could not be read.
    pub spec_problem: Option<String>,
}

impl SweepInput {
    /// Whether the spec asks workers to keep daily returns (`[backtest] keep_returns`).
    pub fn keeps_returns(&self) -> bool {
        self.spec
            .as_ref()
            .and_then(|s| s.get("backtest"))
            .and_then(|b| b.get("keep_returns"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
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

fn read_sweep(root: &Path) -> Result<SweepInput, CollectError> {
    let dir = SweepDir::new(root);
    let plan_path = dir.plan();
    let bytes = fs::read(&plan_path).map_err(|source| CollectError::Io {
        path: plan_path.clone(),
        source,
    })?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| CollectError::Plan {
        path: plan_path.clone(),
        message: e.to_string(),
    })?;
    if plan.schema != sweep_core::plan::PLAN_SCHEMA {
        return Err(CollectError::Plan {
            path: plan_path,
            message: format!(
                "schema is `{}`, expected `{}`",
                plan.schema,
                sweep_core::plan::PLAN_SCHEMA
            ),
        });
    }
    let (spec, spec_problem) = match fs::read_to_string(dir.spec()) {
        Ok(text) => match text.parse::<toml::Table>() {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(format!("{}: {e}", dir.spec().display()))),
        },
        Err(e) => (None, Some(format!("{}: {e}", dir.spec().display()))),
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

/// One combination of a result file, as far as the table needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct LeanRun {
    pub i: u64,
    pub params: Params,
    pub status: RunStatus,
    pub error: Option<String>,
    pub metrics: Option<MetricValues>,
    pub in_sample: Option<MetricValues>,
    pub out_of_sample: Option<MetricValues>,
    pub returns: Option<Vec<f64>>,
}

/// A worker's result file that passed the schema and completeness checks.
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
    pub runs: Vec<LeanRun>,
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

/// Parses every file in parallel (rayon), in the order given. `keep_returns` keeps the
/// daily returns of each run (for PBO); otherwise they are skipped without being stored.
/// A progress bar is drawn on stderr when it is a terminal and there are many files.
pub fn parse_all(files: &[PathBuf], keep_returns: bool) -> Vec<Parsed> {
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
    let parsed = files
        .par_iter()
        .map(|path| {
            let out = parse_file(path, keep_returns);
            bar.inc(1);
            out
        })
        .collect();
    bar.finish_and_clear();
    parsed
}

/// Reads and classifies one file.
pub fn parse_file(path: &Path, keep_returns: bool) -> Parsed {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Parsed::Corrupt(CorruptFile {
                path: path.to_path_buf(),
                reason: format!("cannot read: {e}"),
            })
        }
    };
    let corrupt = |reason: String| {
        Parsed::Corrupt(CorruptFile {
            path: path.to_path_buf(),
            reason,
        })
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return corrupt("empty file".into());
    }
    if looks_like_qstrader(&bytes) {
        return match parse_qstrader(path, &bytes, keep_returns) {
            Ok(run) => Parsed::Qstrader(run),
            Err(reason) => corrupt(format!("QSTrader statistics: {reason}")),
        };
    }
    let parsed = if keep_returns {
        parse_result::<Vec<f64>>(path, &bytes)
    } else {
        parse_result::<IgnoredAny>(path, &bytes)
    };
    match parsed {
        Ok(result) => Parsed::Result(result),
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

/// A run's parameters, read without the cost of `ParamValue`'s untagged enum (which tries
/// each variant in turn and builds an error for every miss).
struct LeanParams(Params);

impl<'de> Deserialize<'de> for LeanParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> serde::de::Visitor<'de> for MapVisitor {
            type Value = LeanParams;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of parameter values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LeanParams, A::Error> {
                let mut out = Params::new();
                while let Some((k, v)) = map.next_entry::<String, LeanValue>()? {
                    out.insert(k, v.0);
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

#[derive(Deserialize)]
#[serde(bound = "R: ReturnsField")]
struct RawRun<R> {
    i: u64,
    params: LeanParams,
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

#[derive(Deserialize)]
#[serde(bound = "R: ReturnsField")]
struct RawResult<R> {
    schema: String,
    sweep: String,
    plan_hash: String,
    task: u64,
    first: u64,
    count: u64,
    #[serde(default)]
    slurm: SlurmIds,
    host: String,
    finished: DateTime<Utc>,
    runs: Vec<RawRun<R>>,
}

#[derive(Deserialize)]
struct SchemaProbe {
    schema: Option<String>,
}

fn parse_result<R: ReturnsField>(path: &Path, bytes: &[u8]) -> Result<TaskResult, String> {
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
    if raw.schema != RESULT_SCHEMA {
        return Err(format!(
            "schema is `{}`, expected `{RESULT_SCHEMA}`",
            raw.schema
        ));
    }
    if raw.runs.len() as u64 != raw.count {
        return Err(format!(
            "incomplete: {} runs for {} combinations",
            raw.runs.len(),
            raw.count
        ));
    }
    for (k, run) in raw.runs.iter().enumerate() {
        let want = raw.first + k as u64;
        if run.i != want {
            return Err(format!(
                "incomplete: run {k} has combination {} where {want} was expected",
                run.i
            ));
        }
        if run.status == RunStatus::Ok && run.metrics.is_none() {
            return Err(format!("combination {} is `ok` but has no metrics", run.i));
        }
    }
    Ok(TaskResult {
        path: path.to_path_buf(),
        sweep: raw.sweep,
        plan_hash: raw.plan_hash,
        task: raw.task,
        first: raw.first,
        count: raw.count,
        host: raw.host,
        slurm: raw.slurm,
        finished: raw.finished,
        runs: raw
            .runs
            .into_iter()
            .map(|r| LeanRun {
                i: r.i,
                params: r.params.0,
                status: r.status,
                error: r.error,
                metrics: r.metrics.as_ref().map(metric_values),
                in_sample: r.in_sample.as_ref().map(metric_values),
                out_of_sample: r.out_of_sample.as_ref().map(metric_values),
                returns: r.returns.and_then(ReturnsField::into_returns),
            })
            .collect(),
    })
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
        let full: Params = serde_json::from_slice(json).expect("full");
        assert_eq!(lean.0, full);
    }
}
