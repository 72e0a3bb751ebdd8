//! The one reader of result files (`results/task-<k>.<host>.json`): every binary that looks
//! inside a result file (`bt-worker task` deciding to skip, `sweep status`, `collect`) reads
//! it here, with the same checks: the schema, that the runs are exactly the task's
//! combinations in order, and that every `ok` run has metrics.
//!
//! Both schemas of [`crate::result`] are read and handed out as the same [`RunRecord`]s:
//! v1 (runs inline) and v2 (JSON header + the binary column sidecar it names, in the same
//! folder). A v2 file is **corrupt**, with a message naming the sidecar, when the sidecar is
//! missing, of another size or sha256 than the JSON says, of another number of rows than
//! the task's combinations, or not what [`crate::columns`] accepts. v2 files hold no
//! parameters: a v2 run's `params` are empty unless the caller names the manifest
//! ([`read_result_bytes_with_params`]); `collect` takes them from the manifest itself.
//!
//! The reader is lean: parameter names are borrowed from the file's bytes, daily returns are
//! skipped unless asked for, and each run is handed to the caller once, by value, after the
//! whole file has passed its checks (so a caller never sees a run of a file that turns out
//! to be bad). What it says about a bad file is capped ([`EXCERPT_CHARS`]): a corrupt file
//! of 100 MB yields a message of a few hundred characters, never the file.

use std::borrow::Cow;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use backtest::{Metrics, ParamValue};

use crate::result::{
    check_run_sequence, BlockMoments, ColumnsRef, RunError, RunStatus, SlurmIds, WindowRuns,
    RESULT_SCHEMA, RESULT_SCHEMA_V2,
};

/// The longest excerpt of a file's content (or of a parser's message about it) that a
/// problem report carries.
pub const EXCERPT_CHARS: usize = 240;

/// What is wrong with a file that is not a usable result file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// It cannot be read from disk.
    Unreadable,
    /// It is empty or only white space.
    Empty,
    /// Not JSON of the result schema (truncated, invalid, another schema).
    Corrupt,
    /// Valid, but its runs are not exactly the task's combinations (a partial result).
    Partial,
}

/// Why a file is not a usable result file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ResultProblem {
    pub kind: ProblemKind,
    /// What is wrong, capped at [`EXCERPT_CHARS`] characters.
    pub message: String,
}

impl ResultProblem {
    fn new(kind: ProblemKind, message: impl AsRef<str>) -> Self {
        ResultProblem {
            kind,
            message: excerpt(message.as_ref()),
        }
    }
}

/// `text` cut to [`EXCERPT_CHARS`] characters, saying how much was left out.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => text.to_string(),
        Some((at, _)) => format!(
            "{}… ({} more bytes not shown)",
            &text[..at],
            text.len() - at
        ),
    }
}

/// One run of a result file, as handed to the caller.
#[derive(Debug)]
pub struct RunRecord<'a> {
    /// Combination index.
    pub i: u64,
    /// Parameters in the file's order (names borrowed from the file when possible).
    ///
    /// **Empty for a v2 file** (it stores no parameters: combination i's are line i of the
    /// sweep's `manifest.jsonl`), unless the reader was given the manifest
    /// ([`read_result_bytes_with_params`]). `collect` reads the manifest in step with the
    /// results and takes them from there.
    pub params: Vec<(Cow<'a, str>, ParamValue)>,
    pub status: RunStatus,
    pub error: Option<String>,
    pub metrics: Option<Metrics>,
    pub in_sample: Option<Metrics>,
    pub out_of_sample: Option<Metrics>,
    /// Daily returns, only when the reader was asked to keep them (a v2 file stores them as
    /// 32-bit floats: these are those values, widened).
    pub returns: Option<Vec<f64>>,
    /// Metrics per walk-forward window, when the plan has windows.
    pub windows: Option<WindowRuns>,
    /// CSCV block moments of the daily returns, when the plan keeps them.
    pub blocks: Option<BlockMoments>,
}

/// What a result file says about itself, after its checks passed.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultHeader {
    pub path: PathBuf,
    pub sweep: String,
    pub plan_hash: String,
    pub task: u64,
    pub first: u64,
    pub count: u64,
    pub host: String,
    pub slurm: SlurmIds,
    pub finished: DateTime<Utc>,
    /// Runs with `status = "error"`.
    pub failed: usize,
    /// The message of the first failed run.
    pub first_error: Option<String>,
    /// A digest of the runs' outcomes (v1: index, status, error, every metric's bits; v2:
    /// the failed combinations and their errors, and the sidecar's sha256, so its whole
    /// content): two files of one task and schema with equal digests hold the same numbers.
    pub digest: u64,
    /// The column sidecar a v2 file names (checked and read); `None` for v1.
    pub sidecar: Option<PathBuf>,
}

/// Reads `path` and hands each run to `on_run` (see the module documentation).
pub fn read_result_file(
    path: &Path,
    keep_returns: bool,
    on_run: impl FnMut(RunRecord<'_>),
) -> Result<ResultHeader, ResultProblem> {
    let bytes = std::fs::read(path)
        .map_err(|e| ResultProblem::new(ProblemKind::Unreadable, format!("cannot read: {e}")))?;
    read_result_bytes(path, &bytes, keep_returns, on_run)
}

/// Like [`read_result_file`] for bytes already read (`path` names them in the header, and
/// a v2 file's sidecar is looked for beside it).
pub fn read_result_bytes(
    path: &Path,
    bytes: &[u8],
    keep_returns: bool,
    on_run: impl FnMut(RunRecord<'_>),
) -> Result<ResultHeader, ResultProblem> {
    read_result_bytes_with_params(path, bytes, keep_returns, None, on_run)
}

/// Like [`read_result_bytes`]; with `manifest` (the sweep's `manifest.jsonl`), a v2
/// file's runs get their parameters from the manifest's lines of the task (a v1 file's
/// come from the file, and the manifest is not read). A manifest that cannot be read for
/// the task is a problem of kind `unreadable` naming it.
pub fn read_result_bytes_with_params(
    path: &Path,
    bytes: &[u8],
    keep_returns: bool,
    manifest: Option<&Path>,
    on_run: impl FnMut(RunRecord<'_>),
) -> Result<ResultHeader, ResultProblem> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ResultProblem::new(ProblemKind::Empty, "empty file"));
    }
    if is_v2(bytes) {
        return parse_v2(path, bytes, keep_returns, manifest, on_run);
    }
    let v1 = if keep_returns {
        parse::<Vec<f64>, _>(path, bytes, on_run)
    } else {
        parse::<IgnoredAny, _>(path, bytes, on_run)
    };
    match v1 {
        Err(NotV1::V2(on_run)) => parse_v2(path, bytes, keep_returns, manifest, on_run),
        Err(NotV1::Problem(p)) => Err(p),
        Ok(h) => Ok(h),
    }
}

/// Whether a file's first bytes say it is v2 (the worker writes `schema` first; a file that
/// has it elsewhere is recognised after the v1 parse fails).
fn is_v2(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(256)];
    let needle = format!("\"{RESULT_SCHEMA_V2}\"");
    head.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Why the v1 parser did not read a file: it is v2 after all (the callback is handed back),
/// or a problem.
enum NotV1<F> {
    V2(F),
    Problem(ResultProblem),
}

impl<F> From<ResultProblem> for NotV1<F> {
    fn from(p: ResultProblem) -> Self {
        NotV1::Problem(p)
    }
}

/// The fields of a v2 file that readers use.
#[derive(Deserialize)]
struct RawV2 {
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
    errors: Vec<RunError>,
    columns: ColumnsRef,
}

fn parse_v2(
    path: &Path,
    bytes: &[u8],
    keep_returns: bool,
    manifest: Option<&Path>,
    mut on_run: impl FnMut(RunRecord<'_>),
) -> Result<ResultHeader, ResultProblem> {
    use sha2::{Digest, Sha256};
    let corrupt = |m: String| ResultProblem::new(ProblemKind::Corrupt, m);
    let raw: RawV2 = serde_json::from_slice(bytes).map_err(|e| {
        let kind = if e.is_eof() {
            "truncated JSON"
        } else {
            "invalid v2 result JSON"
        };
        corrupt(format!("{kind}: {e}"))
    })?;
    if raw.schema != RESULT_SCHEMA_V2 {
        return Err(corrupt(format!(
            "schema is `{}`, expected `{RESULT_SCHEMA_V2}`",
            excerpt(&raw.schema)
        )));
    }
    let end = raw.first.checked_add(raw.count).ok_or_else(|| {
        corrupt(format!(
            "first {} + count {} overflows",
            raw.first, raw.count
        ))
    })?;
    let mut previous = None;
    for e in &raw.errors {
        if !(raw.first..end).contains(&e.i) || previous.is_some_and(|p| p >= e.i) {
            return Err(corrupt(format!(
                "errors: combination {} is not one of the task's {}..{end} in increasing order",
                e.i, raw.first
            )));
        }
        previous = Some(e.i);
    }
    let name = &raw.columns.file;
    let plain = crate::layout::parse_sidecar_file_name(name).is_some();
    if !plain {
        return Err(corrupt(format!(
            "columns.file `{}` is not a sidecar name (task-<k>.<host>.<sha8>.cols)",
            excerpt(name)
        )));
    }
    let sidecar = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.join(name),
        _ => PathBuf::from(name),
    };
    let side = |m: String| corrupt(format!("sidecar {name}: {m}"));
    if raw.columns.rows != raw.count {
        return Err(side(format!(
            "the result says {} rows, its task has {} combinations",
            raw.columns.rows, raw.count
        )));
    }
    let data = match std::fs::read(&sidecar) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(side(
                "missing (the result names it; it is not beside it)".into(),
            ))
        }
        Err(e) => return Err(side(format!("cannot read: {e}"))),
    };
    if data.len() as u64 != raw.columns.bytes {
        return Err(side(format!(
            "is {} bytes, the result says {}",
            data.len(),
            raw.columns.bytes
        )));
    }
    let sha = hex::encode(Sha256::digest(&data));
    if !sha.eq_ignore_ascii_case(&raw.columns.sha256) {
        return Err(side(format!(
            "sha256 is {}, the result says {}",
            &sha[..16],
            excerpt(&raw.columns.sha256)
        )));
    }
    let mut ok = vec![true; raw.count as usize];
    for e in &raw.errors {
        ok[(e.i - raw.first) as usize] = false;
    }
    let rows = crate::columns::decode(&data, name, &ok, keep_returns)
        .map_err(|e| corrupt(format!("sidecar {e}")))?;
    let params: Option<Vec<backtest::Params>> = match manifest {
        None => None,
        Some(m) => {
            let entries = crate::manifest::read_range(m, raw.first..end).map_err(|e| {
                ResultProblem::new(
                    ProblemKind::Unreadable,
                    format!("parameters of the task from the manifest: {e}"),
                )
            })?;
            if let Some((k, e)) = entries
                .iter()
                .enumerate()
                .find(|(k, e)| e.i != raw.first + *k as u64)
            {
                return Err(ResultProblem::new(
                    ProblemKind::Unreadable,
                    format!(
                        "{}: line {} holds combination {}",
                        m.display(),
                        raw.first + k as u64 + 1,
                        e.i
                    ),
                ));
            }
            Some(entries.into_iter().map(|e| e.params).collect())
        }
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    hasher.write(b"v2");
    for e in &raw.errors {
        hasher.write_u64(e.i);
        hasher.write(e.error.as_bytes());
    }
    hasher.write(sha.as_bytes());
    let mut errors = raw.errors.into_iter().peekable();
    let mut params = params.map(Vec::into_iter);
    let first_error = errors.peek().map(|e| excerpt(&e.error));
    let failed = ok.iter().filter(|o| !**o).count();
    for (k, row) in rows.into_iter().enumerate() {
        let i = raw.first + k as u64;
        let params = params
            .as_mut()
            .and_then(Iterator::next)
            .map(|p| p.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect())
            .unwrap_or_default();
        match row {
            Some(v) => on_run(RunRecord {
                i,
                params,
                status: RunStatus::Ok,
                error: None,
                metrics: Some(v.metrics),
                in_sample: v.in_sample,
                out_of_sample: v.out_of_sample,
                returns: v.returns,
                windows: v.windows,
                blocks: v.blocks,
            }),
            None => on_run(RunRecord {
                i,
                params,
                status: RunStatus::Error,
                error: errors.next().map(|e| e.error),
                metrics: None,
                in_sample: None,
                out_of_sample: None,
                returns: None,
                windows: None,
                blocks: None,
            }),
        }
    }
    Ok(ResultHeader {
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
        first_error,
        digest: hasher.finish(),
        sidecar: Some(sidecar),
    })
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

/// A string borrowed from the file's bytes when it has no escapes.
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

/// The fields of one run that readers use (serde skips the others).
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
    #[serde(default)]
    windows: Option<WindowRuns>,
    #[serde(default)]
    blocks: Option<BlockMoments>,
}

fn none<R>() -> Option<R> {
    None
}

/// The fields of a result file that readers use (worker version, arch, start time and
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

#[derive(Deserialize)]
struct SchemaProbe {
    schema: Option<String>,
}

fn digest_metrics(h: &mut impl Hasher, m: Option<&Metrics>) {
    match m {
        None => h.write_u8(0),
        Some(m) => {
            h.write_u8(1);
            for v in m.values() {
                h.write_u64(v.to_bits());
            }
        }
    }
}

fn parse<R: ReturnsField, F: FnMut(RunRecord<'_>)>(
    path: &Path,
    bytes: &[u8],
    mut on_run: F,
) -> Result<ResultHeader, NotV1<F>> {
    let corrupt = |m: String| ResultProblem::new(ProblemKind::Corrupt, m);
    let raw: RawResult<R> = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        Err(e) => {
            // A file of another schema version fails on its fields; name the schema instead.
            if let Ok(SchemaProbe {
                schema: Some(schema),
            }) = serde_json::from_slice(bytes)
            {
                if schema == RESULT_SCHEMA_V2 {
                    return Err(NotV1::V2(on_run));
                }
                if schema != RESULT_SCHEMA {
                    return Err(corrupt(format!(
                        "schema is `{}`, expected `{RESULT_SCHEMA}` or `{RESULT_SCHEMA_V2}`",
                        excerpt(&schema)
                    ))
                    .into());
                }
            }
            let kind = if e.is_eof() {
                "truncated JSON"
            } else {
                "invalid result JSON"
            };
            return Err(corrupt(format!("{kind}: {e}")).into());
        }
    };
    if raw.schema.0 != RESULT_SCHEMA {
        return Err(corrupt(format!(
            "schema is `{}`, expected `{RESULT_SCHEMA}` or `{RESULT_SCHEMA_V2}`",
            excerpt(&raw.schema.0)
        ))
        .into());
    }
    check_run_sequence(raw.first, raw.count, raw.runs.iter().map(|run| run.i))
        .map_err(|m| ResultProblem::new(ProblemKind::Partial, format!("incomplete: {m}")))?;
    if let Some(run) = raw
        .runs
        .iter()
        .find(|r| r.status == RunStatus::Ok && r.metrics.is_none())
    {
        return Err(corrupt(format!("combination {} is `ok` but has no metrics", run.i)).into());
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut failed = 0;
    let mut first_error = None;
    for run in raw.runs {
        hasher.write_u64(run.i);
        hasher.write_u8(u8::from(run.status == RunStatus::Ok));
        hasher.write(run.error.as_deref().unwrap_or("").as_bytes());
        for m in [&run.metrics, &run.in_sample, &run.out_of_sample] {
            digest_metrics(&mut hasher, m.as_ref());
        }
        if let Some(w) = &run.windows {
            for m in w.train.iter().chain(&w.test) {
                digest_metrics(&mut hasher, Some(m));
            }
        }
        if run.status == RunStatus::Error {
            failed += 1;
            if first_error.is_none() {
                first_error = Some(excerpt(run.error.as_deref().unwrap_or("(no message)")));
            }
        }
        on_run(RunRecord {
            i: run.i,
            params: run.params.0,
            status: run.status,
            error: run.error,
            metrics: run.metrics,
            in_sample: run.in_sample,
            out_of_sample: run.out_of_sample,
            returns: run.returns.and_then(ReturnsField::into_returns),
            windows: run.windows,
            blocks: run.blocks,
        });
    }
    Ok(ResultHeader {
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
        first_error,
        digest: hasher.finish(),
        sidecar: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{ResultFile, Run};

    fn file(first: u64, count: u64, sharpe: f64) -> ResultFile {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("date")
            .with_timezone(&Utc);
        ResultFile {
            schema: RESULT_SCHEMA.into(),
            sweep: "s".into(),
            plan_hash: "abc".into(),
            task: 1,
            first,
            count,
            slurm: SlurmIds::default(),
            host: "node02".into(),
            slurmd_nodename: None,
            worker_version: "0.1.0".into(),
            arch: "x86_64".into(),
            started: t,
            finished: t,
            runs: (first..first + count)
                .map(|i| Run {
                    i,
                    params: [("fast".to_string(), ParamValue::Int(i as i64))]
                        .into_iter()
                        .collect(),
                    status: if i == first {
                        RunStatus::Error
                    } else {
                        RunStatus::Ok
                    },
                    error: (i == first).then(|| "boom".to_string()),
                    metrics: (i != first).then(|| Metrics {
                        sharpe,
                        ..Metrics::default()
                    }),
                    in_sample: None,
                    out_of_sample: None,
                    returns: Some(vec![0.01, -0.02]),
                    windows: None,
                    blocks: None,
                })
                .collect(),
        }
    }

    fn read(bytes: &[u8], keep: bool) -> (Result<ResultHeader, ResultProblem>, Vec<u64>) {
        let mut seen = Vec::new();
        let r = read_result_bytes(Path::new("task-1.node02.json"), bytes, keep, |run| {
            assert_eq!(run.returns.is_some(), keep);
            seen.push(run.i)
        });
        (r, seen)
    }

    #[test]
    fn reads_runs_and_counts_failures() {
        let bytes = serde_json::to_vec(&file(4, 3, 1.5)).expect("json");
        let (header, seen) = read(&bytes, false);
        let header = header.expect("valid");
        assert_eq!(seen, [4, 5, 6]);
        assert_eq!((header.task, header.first, header.count), (1, 4, 3));
        assert_eq!(header.failed, 1);
        assert_eq!(header.first_error.as_deref(), Some("boom"));
        let (_, seen) = read(&bytes, true);
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn digests_tell_different_numbers_apart() {
        let a = serde_json::to_vec(&file(0, 3, 1.5)).expect("json");
        let mut other_host = file(0, 3, 1.5);
        other_host.host = "node03".into();
        let b = serde_json::to_vec(&other_host).expect("json");
        let c = serde_json::to_vec(&file(0, 3, 1.25)).expect("json");
        let d = |bytes: &[u8]| read(bytes, false).0.expect("valid").digest;
        assert_eq!(d(&a), d(&b));
        assert_ne!(d(&a), d(&c));
    }

    #[test]
    fn bad_files_are_classified_and_never_echoed_whole() {
        let (r, seen) = read(b"  \n", false);
        assert_eq!(r.expect_err("empty").kind, ProblemKind::Empty);
        assert!(seen.is_empty());

        let bytes = serde_json::to_vec(&file(0, 3, 1.0)).expect("json");
        let (r, _) = read(&bytes[..bytes.len() / 2], false);
        let p = r.expect_err("truncated");
        assert_eq!(p.kind, ProblemKind::Corrupt);
        assert!(p.message.starts_with("truncated JSON"), "{}", p.message);

        let mut short = file(0, 3, 1.0);
        short.runs.pop();
        let (r, seen) = read(&serde_json::to_vec(&short).expect("json"), false);
        assert_eq!(r.expect_err("partial").kind, ProblemKind::Partial);
        assert!(seen.is_empty(), "no run of a bad file is handed out");

        // A huge string where a number belongs: the message stays short.
        let mut v = serde_json::to_value(file(0, 3, 1.0)).expect("value");
        v["task"] = serde_json::Value::String("x".repeat(1_000_000));
        let (r, _) = read(&serde_json::to_vec(&v).expect("json"), false);
        let p = r.expect_err("bad task");
        assert!(
            p.message.len() < 2 * EXCERPT_CHARS + 100,
            "{}",
            p.message.len()
        );

        v["schema"] = serde_json::Value::String("y".repeat(1_000_000));
        let (r, _) = read(&serde_json::to_vec(&v).expect("json"), false);
        let p = r.expect_err("bad schema");
        assert!(
            p.message.starts_with("schema is `yyy"),
            "{}",
            &p.message[..40]
        );
        assert!(
            p.message.len() < 2 * EXCERPT_CHARS + 100,
            "{}",
            p.message.len()
        );
    }

    mod v2 {
        use super::*;
        use crate::result::{write_result, ResultFileV2};

        /// A v2 result of `file(4, 3, ..)` written into a fresh `results/`.
        fn written() -> (tempfile::TempDir, PathBuf, ResultFile) {
            let tmp = tempfile::tempdir().expect("tempdir");
            let results = tmp.path().join("results");
            std::fs::create_dir_all(&results).expect("mkdir");
            let mut f = file(4, 3, 1.5);
            f.schema = crate::result::RESULT_SCHEMA_V2.into();
            for r in &mut f.runs {
                r.blocks = (r.status == RunStatus::Ok).then(|| BlockMoments {
                    count: vec![3, 3],
                    sum: vec![0.5, r.i as f64],
                    sum_sq: vec![0.25, 1.0],
                });
            }
            let path = write_result(&results, &f).expect("write");
            (tmp, path, f)
        }

        fn json(path: &Path) -> ResultFileV2 {
            serde_json::from_slice(&std::fs::read(path).expect("read")).expect("v2 json")
        }

        fn problem(path: &Path) -> ResultProblem {
            read_result_file(path, false, |_| panic!("no run of a bad file")).expect_err("bad file")
        }

        #[test]
        fn round_trip_hands_the_same_records_as_v1() {
            let (_tmp, path, f) = written();
            assert_eq!(path.file_name().expect("name"), "task-1.node02.json");
            let v = json(&path);
            assert_eq!(v.columns.rows, 3);
            assert!(
                v.columns.file.starts_with("task-1.node02."),
                "{}",
                v.columns.file
            );
            assert_eq!(v.errors.len(), 1);
            let mut seen = Vec::new();
            let header = read_result_file(&path, true, |r| {
                seen.push((
                    r.i,
                    r.status,
                    r.error,
                    r.metrics,
                    r.blocks,
                    r.returns,
                    r.params.len(),
                ))
            })
            .expect("valid");
            assert_eq!(header.failed, 1);
            assert_eq!(header.first_error.as_deref(), Some("boom"));
            assert_eq!(
                header.sidecar.as_deref(),
                Some(path.with_file_name(&v.columns.file).as_path())
            );
            for (run, got) in f.runs.iter().zip(&seen) {
                assert_eq!(got.0, run.i);
                assert_eq!(got.1, run.status);
                assert_eq!(got.2, run.error);
                assert_eq!(got.3, run.metrics);
                assert_eq!(got.4, run.blocks);
                // Returns as f32, widened back.
                let want = run
                    .returns
                    .as_ref()
                    .filter(|_| run.status == RunStatus::Ok)
                    .map(|r| r.iter().map(|&x| f64::from(x as f32)).collect::<Vec<_>>());
                assert_eq!(got.5, want);
                assert_eq!(got.6, 0, "v2 files hold no parameters");
            }
            // The same file read into the full type.
            let back = ResultFile::read(&path).expect("read");
            assert_eq!(back.runs.len(), 3);
            assert_eq!(back.runs[1].metrics, f.runs[1].metrics);
            // from_slice refuses v2 (its numbers are elsewhere).
            let e = ResultFile::from_slice(&std::fs::read(&path).expect("read")).expect_err("v2");
            assert!(e.message.contains("ResultFile::read"), "{e}");
        }

        #[test]
        fn parameters_come_from_the_manifest_when_named() {
            let (tmp, path, f) = written();
            let manifest = tmp.path().join("manifest.jsonl");
            let mut text = String::new();
            for i in 0..7u64 {
                text.push_str(&format!("{{\"i\":{i},\"params\":{{\"fast\":{i}}}}}\n"));
            }
            std::fs::write(&manifest, text).expect("manifest");
            let bytes = std::fs::read(&path).expect("read");
            let mut params = Vec::new();
            read_result_bytes_with_params(&path, &bytes, false, Some(&manifest), |r| {
                params.push(
                    r.params
                        .into_iter()
                        .map(|(k, v)| (k.into_owned(), v))
                        .collect::<Vec<_>>(),
                )
            })
            .expect("valid");
            let want: Vec<Vec<(String, ParamValue)>> = f
                .runs
                .iter()
                .map(|r| r.params.clone().into_iter().collect())
                .collect();
            assert_eq!(params, want);
            std::fs::write(&manifest, "{\"i\":0,\"params\":{}}\n").expect("short");
            let p = read_result_bytes_with_params(&path, &bytes, false, Some(&manifest), |_| {})
                .expect_err("short manifest");
            assert_eq!(p.kind, ProblemKind::Unreadable);
            assert!(p.message.contains("manifest"), "{}", p.message);
        }

        #[test]
        fn a_missing_sidecar_is_corrupt_and_named() {
            let (_tmp, path, _) = written();
            let name = json(&path).columns.file;
            std::fs::remove_file(path.with_file_name(&name)).expect("rm");
            let p = problem(&path);
            assert_eq!(p.kind, ProblemKind::Corrupt);
            assert!(
                p.message.starts_with(&format!("sidecar {name}: missing")),
                "{}",
                p.message
            );
        }

        #[test]
        fn a_truncated_sidecar_is_corrupt() {
            let (_tmp, path, _) = written();
            let side = path.with_file_name(json(&path).columns.file);
            let bytes = std::fs::read(&side).expect("read");
            std::fs::write(&side, &bytes[..bytes.len() - 5]).expect("truncate");
            let p = problem(&path);
            assert_eq!(p.kind, ProblemKind::Corrupt);
            assert!(
                p.message.contains("bytes, the result says"),
                "{}",
                p.message
            );
        }

        #[test]
        fn a_changed_sidecar_fails_its_hash() {
            let (_tmp, path, _) = written();
            let side = path.with_file_name(json(&path).columns.file);
            let mut bytes = std::fs::read(&side).expect("read");
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            std::fs::write(&side, &bytes).expect("write");
            let p = problem(&path);
            assert!(p.message.contains("sha256 is"), "{}", p.message);
        }

        #[test]
        fn wrong_rows_are_corrupt() {
            let (_tmp, path, _) = written();
            let mut v = json(&path);
            v.columns.rows = 4;
            std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");
            let p = problem(&path);
            assert_eq!(p.kind, ProblemKind::Corrupt);
            assert!(
                p.message.contains("the result says 4 rows, its task has 3"),
                "{}",
                p.message
            );
        }

        #[test]
        fn a_sidecar_whose_header_lies_is_corrupt_even_with_a_matching_hash() {
            use sha2::{Digest, Sha256};
            let (_tmp, path, _) = written();
            let mut v = json(&path);
            let side = path.with_file_name(&v.columns.file);
            let bytes = std::fs::read(&side).expect("read");
            // Say 2 rows in the sidecar's header (same length: "rows":3 -> "rows":2).
            let mut lied = bytes.clone();
            let at = lied
                .windows(8)
                .position(|w| w == b"\"rows\":3")
                .expect("rows in header");
            lied[at + 7] = b'2';
            assert_eq!(lied.len(), bytes.len());
            std::fs::write(&side, &lied).expect("write");
            v.columns.sha256 = hex::encode(Sha256::digest(&lied));
            std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");
            let p = problem(&path);
            assert!(
                p.message.contains("holds 2 rows, expected 3"),
                "{}",
                p.message
            );
            // A name that is not a sidecar's (e.g. a path elsewhere) is refused.
            v.columns.file = "../../etc/passwd".into();
            std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");
            assert!(problem(&path).message.contains("is not a sidecar name"));
            // Errors outside the task.
            let mut v = json(&path);
            v.columns.file = side.file_name().expect("n").to_string_lossy().into_owned();
            v.errors[0].i = 99;
            std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");
            assert!(problem(&path).message.contains("combination 99"));
        }

        #[test]
        fn digests_cover_the_sidecar() {
            let (tmp, path, f) = written();
            let d1 = read_result_file(&path, false, |_| {}).expect("ok").digest;
            let mut g = f.clone();
            g.runs[2].blocks.as_mut().expect("blocks").sum[0] = 0.75;
            g.host = "node03".into();
            let other = write_result(&tmp.path().join("results"), &g).expect("write");
            let d2 = read_result_file(&other, false, |_| {}).expect("ok").digest;
            assert_ne!(d1, d2);
            let mut h = f;
            h.host = "node04".into();
            let same = write_result(&tmp.path().join("results"), &h).expect("write");
            assert_eq!(
                d1,
                read_result_file(&same, false, |_| {}).expect("ok").digest
            );
        }
    }
}
