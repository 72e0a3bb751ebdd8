//! The one reader of result files (`results/task-<k>.<host>.json`): every binary that looks
//! inside a result file (`bt-worker task` deciding to skip, `sweep status`, `collect`) reads
//! it here, with the same checks: the schema, that the runs are exactly the task's
//! combinations in order, and that every `ok` run has metrics.
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
    check_run_sequence, BlockMoments, RunStatus, SlurmIds, WindowRuns, RESULT_SCHEMA,
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
    pub params: Vec<(Cow<'a, str>, ParamValue)>,
    pub status: RunStatus,
    pub error: Option<String>,
    pub metrics: Option<Metrics>,
    pub in_sample: Option<Metrics>,
    pub out_of_sample: Option<Metrics>,
    /// Daily returns, only when the reader was asked to keep them.
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
    /// A digest of the runs' outcomes (index, status, error, every metric's bits): two
    /// files of one task with equal digests hold the same numbers.
    pub digest: u64,
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

/// Like [`read_result_file`] for bytes already read (`path` names them in the header).
pub fn read_result_bytes(
    path: &Path,
    bytes: &[u8],
    keep_returns: bool,
    on_run: impl FnMut(RunRecord<'_>),
) -> Result<ResultHeader, ResultProblem> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ResultProblem::new(ProblemKind::Empty, "empty file"));
    }
    if keep_returns {
        parse::<Vec<f64>>(path, bytes, on_run)
    } else {
        parse::<IgnoredAny>(path, bytes, on_run)
    }
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

fn digest_metrics(h: &mut impl Hasher, m: &Option<Metrics>) {
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

fn parse<R: ReturnsField>(
    path: &Path,
    bytes: &[u8],
    mut on_run: impl FnMut(RunRecord<'_>),
) -> Result<ResultHeader, ResultProblem> {
    let corrupt = |m: String| ResultProblem::new(ProblemKind::Corrupt, m);
    let raw: RawResult<R> = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        Err(e) => {
            // A file of another schema version fails on its fields; name the schema instead.
            if let Ok(SchemaProbe {
                schema: Some(schema),
            }) = serde_json::from_slice(bytes)
            {
                if schema != RESULT_SCHEMA {
                    return Err(corrupt(format!(
                        "schema is `{}`, expected `{RESULT_SCHEMA}`",
                        excerpt(&schema)
                    )));
                }
            }
            let kind = if e.is_eof() {
                "truncated JSON"
            } else {
                "invalid result JSON"
            };
            return Err(corrupt(format!("{kind}: {e}")));
        }
    };
    if raw.schema.0 != RESULT_SCHEMA {
        return Err(corrupt(format!(
            "schema is `{}`, expected `{RESULT_SCHEMA}`",
            excerpt(&raw.schema.0)
        )));
    }
    check_run_sequence(raw.first, raw.count, raw.runs.iter().map(|run| run.i))
        .map_err(|m| ResultProblem::new(ProblemKind::Partial, format!("incomplete: {m}")))?;
    if let Some(run) = raw
        .runs
        .iter()
        .find(|r| r.status == RunStatus::Ok && r.metrics.is_none())
    {
        return Err(corrupt(format!(
            "combination {} is `ok` but has no metrics",
            run.i
        )));
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut failed = 0;
    let mut first_error = None;
    for run in raw.runs {
        hasher.write_u64(run.i);
        hasher.write_u8(u8::from(run.status == RunStatus::Ok));
        hasher.write(run.error.as_deref().unwrap_or("").as_bytes());
        for m in [&run.metrics, &run.in_sample, &run.out_of_sample] {
            digest_metrics(&mut hasher, m);
        }
        if let Some(w) = &run.windows {
            for m in w.train.iter().chain(&w.test) {
                digest_metrics(&mut hasher, &Some(m.clone())); // small: one per window
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
}
