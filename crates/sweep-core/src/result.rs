//! The result file of one array task (`results/task-<k>.<host>.json`): who ran it, where,
//! when, and each combination's status and metrics.
//!
//! Two schemas are read ([`crate::reader`]); workers write v2:
//!
//! * **v1** (`slurm-sweep/result/v1`, [`ResultFile`] as JSON): one entry per combination in
//!   `runs`, with its parameters, status, metrics and, when kept, its daily returns as
//!   text. Old sweeps and hand-written test files.
//! * **v2** (`slurm-sweep/result/v2`, [`ResultFileV2`]): the same header, `errors` (the
//!   failed combinations with their messages) and `columns`, which names a binary sidecar
//!   in `results/` (`task-<k>.<host>.<sha8>.cols`, see [`crate::columns`]) with its size,
//!   sha256 and number of rows. No parameters: combination i's are line i of the manifest.
//!   [`write_result`] writes the sidecar first, then the JSON, each atomically.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use backtest::{Metrics, Params};

use crate::reader::{ProblemKind, ResultProblem, RunRecord};

/// The schema id of a v1 result file (a [`ResultFile`] serialised as it is, runs inline).
pub const RESULT_SCHEMA: &str = "slurm-sweep/result/v1";

/// The schema id of a v2 result file (JSON header + binary column sidecar), what workers
/// write.
pub const RESULT_SCHEMA_V2: &str = "slurm-sweep/result/v2";

/// SLURM's ids of the job that wrote a result (all `None` for a local run).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlurmIds {
    /// `SLURM_ARRAY_JOB_ID`.
    pub array_job_id: Option<String>,
    /// `SLURM_ARRAY_TASK_ID` (the index inside its array, before any offset).
    pub array_task_id: Option<String>,
    /// `SLURM_JOB_ID`.
    pub job_id: Option<String>,
    /// `SLURM_RESTART_COUNT` (how often the task was requeued).
    pub restart_count: Option<u32>,
}

/// Whether one combination ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    Error,
}

/// One combination's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Combination index (line of manifest.jsonl).
    pub i: u64,
    pub params: Params,
    pub status: RunStatus,
    /// The error message when `status` is `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// Metrics before the split date, when the plan has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_sample: Option<Metrics>,
    /// Metrics from the split date on, when the plan has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_sample: Option<Metrics>,
    /// Daily returns, kept only when the plan asks (`keep_returns`), for overfitting statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<Vec<f64>>,
    /// Metrics of each walk-forward window, when the plan has `[walk_forward]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowRuns>,
    /// The CSCV block moments of the daily returns, when the plan keeps them for PBO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<BlockMoments>,
}

/// One combination's metrics in each walk-forward window (`plan.json` lists the windows):
/// `train[k]` over training window k (in sample), `test[k]` over test window k (out of
/// sample). Both have one entry per window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowRuns {
    pub train: Vec<Metrics>,
    pub test: Vec<Metrics>,
}

/// What CSCV (PBO with the Sharpe ratio as the performance measure) needs of one
/// combination's daily returns: per block b of the S equal blocks, the number of returns,
/// their sum and their sum of squares.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockMoments {
    pub count: Vec<u32>,
    pub sum: Vec<f64>,
    pub sum_sq: Vec<f64>,
}

impl BlockMoments {
    /// The moments of `returns` in the `blocks` CSCV blocks that
    /// [`backtest::stats::cscv::block_ranges`] defines (the blocks `collect` cuts kept daily
    /// returns into); `None` when the series is shorter than S.
    pub fn of(returns: &[f64], blocks: usize) -> Option<BlockMoments> {
        let (count, sum, sum_sq) = backtest::stats::cscv::block_moments(returns, blocks)?;
        Some(BlockMoments { count, sum, sum_sq })
    }

    /// The number of blocks S.
    pub fn blocks(&self) -> usize {
        self.count.len()
    }
}

impl Run {
    /// A combination that failed with `message`.
    pub fn failed(i: u64, params: Params, message: String) -> Run {
        Run {
            i,
            params,
            status: RunStatus::Error,
            error: Some(message),
            metrics: None,
            in_sample: None,
            out_of_sample: None,
            returns: None,
            windows: None,
            blocks: None,
        }
    }
}

/// Everything one array task writes, in memory (and, serialised as it is, a v1 file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub schema: String,
    /// The sweep's name.
    pub sweep: String,
    /// The plan hash the task ran against; `collect` refuses to mix plans.
    pub plan_hash: String,
    /// The array task (chunk) number, after any array offset.
    pub task: u64,
    /// First combination index of the task.
    pub first: u64,
    /// Number of combinations in the task.
    pub count: u64,
    pub slurm: SlurmIds,
    /// The host name the task ran on.
    pub host: String,
    /// `SLURMD_NODENAME`.
    pub slurmd_nodename: Option<String>,
    pub worker_version: String,
    /// CPU architecture of the worker binary (`std::env::consts::ARCH`).
    pub arch: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub runs: Vec<Run>,
}

impl ResultFile {
    /// Parses a result file's bytes into the full type, after the checks of the one reader
    /// ([`crate::reader`]): schema, every combination of the task exactly once in order,
    /// metrics for every `ok` run.
    /// A v2 file is refused here (its numbers are in its sidecar): use [`ResultFile::read`].
    pub fn from_slice(bytes: &[u8]) -> Result<ResultFile, ResultProblem> {
        #[derive(Deserialize)]
        struct Probe {
            schema: Option<String>,
        }
        if let Ok(Probe {
            schema: Some(schema),
        }) = serde_json::from_slice(bytes)
        {
            if schema == RESULT_SCHEMA_V2 {
                return Err(ResultProblem {
                    kind: ProblemKind::Corrupt,
                    message: "a v2 result file: its numbers are in its sidecar; read it with \
                              ResultFile::read(path)"
                        .into(),
                });
            }
        }
        crate::reader::read_result_bytes(std::path::Path::new(""), bytes, false, |_| {})?;
        serde_json::from_slice(bytes).map_err(|e| ResultProblem {
            kind: ProblemKind::Corrupt,
            message: crate::reader::excerpt(&e.to_string()),
        })
    }

    /// Reads a v1 or v2 result file from disk into the full type, after the reader's checks
    /// (for v2 the sidecar beside it is checked and read, daily returns included). A v2
    /// file holds no parameters: its runs' `params` come from the sweep's manifest when the
    /// file is in a sweep's `results/` ([`crate::layout::manifest_of_result`]), else they
    /// are empty.
    pub fn read(path: &std::path::Path) -> Result<ResultFile, ResultProblem> {
        let bytes = std::fs::read(path).map_err(|e| ResultProblem {
            kind: ProblemKind::Unreadable,
            message: format!("cannot read: {e}"),
        })?;
        let mut runs = Vec::new();
        let manifest = crate::layout::manifest_of_result(path);
        let read = crate::reader::read_result_bytes_with_params;
        let header = read(
            path,
            &bytes,
            true,
            manifest.as_deref(),
            |r: RunRecord<'_>| {
                runs.push(Run {
                    i: r.i,
                    params: r
                        .params
                        .into_iter()
                        .map(|(k, v)| (k.into_owned(), v))
                        .collect(),
                    status: r.status,
                    error: r.error,
                    metrics: r.metrics,
                    in_sample: r.in_sample,
                    out_of_sample: r.out_of_sample,
                    returns: r.returns,
                    windows: r.windows,
                    blocks: r.blocks,
                })
            },
        )?;
        let corrupt = |e: serde_json::Error| ResultProblem {
            kind: ProblemKind::Corrupt,
            message: crate::reader::excerpt(&e.to_string()),
        };
        if header.sidecar.is_none() {
            return serde_json::from_slice(&bytes).map_err(corrupt);
        }
        let v2: ResultFileV2 = serde_json::from_slice(&bytes).map_err(corrupt)?;
        Ok(ResultFile {
            schema: v2.schema,
            sweep: v2.sweep,
            plan_hash: v2.plan_hash,
            task: v2.task,
            first: v2.first,
            count: v2.count,
            slurm: v2.slurm,
            host: v2.host,
            slurmd_nodename: v2.slurmd_nodename,
            worker_version: v2.worker_version,
            arch: v2.arch,
            started: v2.started,
            finished: v2.finished,
            runs,
        })
    }

    /// Number of runs that failed.
    pub fn failed(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| r.status == RunStatus::Error)
            .count()
    }
}

/// A failed combination of a v2 result file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunError {
    pub i: u64,
    pub error: String,
}

/// What a v2 result file says about its sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnsRef {
    /// The sidecar's file name, in the same `results/` folder.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The sha256 of its content, hex.
    pub sha256: String,
    /// Its number of rows: the task's combinations.
    pub rows: u64,
}

/// A v2 result file (`slurm-sweep/result/v2`): the header of [`ResultFile`], the failed
/// combinations, and the sidecar that holds every combination's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultFileV2 {
    pub schema: String,
    pub sweep: String,
    pub plan_hash: String,
    pub task: u64,
    pub first: u64,
    pub count: u64,
    pub slurm: SlurmIds,
    pub host: String,
    pub slurmd_nodename: Option<String>,
    pub worker_version: String,
    pub arch: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// The failed combinations, in combination order.
    pub errors: Vec<RunError>,
    pub columns: ColumnsRef,
}

/// Why a result could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Columns(#[from] crate::columns::ColumnsError),
    #[error("{}: cannot write: {source}", .path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialise the result: {0}")]
    Json(#[from] serde_json::Error),
}

/// Writes `file` as a v2 result into `results` (a sweep's `results/` folder): the sidecar
/// `task-<k>.<host>.<sha8>.cols` first (temp file, fsync, rename), then
/// `task-<k>.<host>.json` naming it (the same). Returns the JSON's path. When anything
/// fails, no result JSON is written (a sidecar written before a failing JSON is a leftover
/// that `classify` lists); an existing result of the same name is left as it was.
pub fn write_result(
    results: &std::path::Path,
    file: &ResultFile,
) -> Result<std::path::PathBuf, WriteError> {
    use sha2::{Digest, Sha256};
    let runs_ok = check_run_sequence(file.first, file.count, file.runs.iter().map(|r| r.i));
    if let Err(m) = runs_ok {
        return Err(WriteError::Io {
            path: results.join(crate::layout::result_file_name(file.task, &file.host)),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, m),
        });
    }
    let sidecar_bytes = crate::columns::encode(&file.runs, "the task's column sidecar")?;
    let sha = hex::encode(Sha256::digest(&sidecar_bytes));
    let sidecar_name = crate::layout::sidecar_file_name(file.task, &file.host, &sha[..8]);
    let sidecar = results.join(&sidecar_name);
    crate::atomic::write_atomic(&sidecar, &sidecar_bytes).map_err(|source| WriteError::Io {
        path: sidecar.clone(),
        source,
    })?;
    let v2 = ResultFileV2 {
        schema: RESULT_SCHEMA_V2.to_string(),
        sweep: file.sweep.clone(),
        plan_hash: file.plan_hash.clone(),
        task: file.task,
        first: file.first,
        count: file.count,
        slurm: file.slurm.clone(),
        host: file.host.clone(),
        slurmd_nodename: file.slurmd_nodename.clone(),
        worker_version: file.worker_version.clone(),
        arch: file.arch.clone(),
        started: file.started,
        finished: file.finished,
        errors: file
            .runs
            .iter()
            .filter(|r| r.status == RunStatus::Error)
            .map(|r| RunError {
                i: r.i,
                error: r.error.clone().unwrap_or_else(|| "(no message)".into()),
            })
            .collect(),
        columns: ColumnsRef {
            file: sidecar_name,
            bytes: sidecar_bytes.len() as u64,
            sha256: sha,
            rows: file.count,
        },
    };
    let json = serde_json::to_vec(&v2)?;
    let target = results.join(crate::layout::result_file_name(file.task, &file.host));
    crate::atomic::write_atomic(&target, &json).map_err(|source| WriteError::Io {
        path: target.clone(),
        source,
    })?;
    Ok(target)
}

/// Checks that the combinations of a task's runs, `combos` in file order, are exactly
/// `first`, `first + 1`, ... for `count` runs, as a complete result file's must be (also
/// for readers that parse result files into their own types). The error says what is
/// wrong.
pub fn check_run_sequence(
    first: u64,
    count: u64,
    combos: impl ExactSizeIterator<Item = u64>,
) -> Result<(), String> {
    if combos.len() as u64 != count {
        return Err(format!("{} runs for {count} combinations", combos.len()));
    }
    for (k, combo) in combos.enumerate() {
        let want = first + k as u64;
        if combo != want {
            return Err(format!(
                "run {k} has combination {combo} where {want} was expected"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResultFile {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("date")
            .with_timezone(&Utc);
        ResultFile {
            schema: RESULT_SCHEMA.into(),
            sweep: "s".into(),
            plan_hash: "abc".into(),
            task: 1,
            first: 2,
            count: 2,
            slurm: SlurmIds::default(),
            host: "node02".into(),
            slurmd_nodename: Some("node02".into()),
            worker_version: "0.1.0".into(),
            arch: "x86_64".into(),
            started: t,
            finished: t,
            runs: (2..4)
                .map(|i| Run {
                    i,
                    params: Params::new(),
                    status: RunStatus::Ok,
                    error: None,
                    metrics: Some(Metrics::default()),
                    in_sample: None,
                    out_of_sample: None,
                    returns: None,
                    windows: None,
                    blocks: None,
                })
                .collect(),
        }
    }

    #[test]
    fn round_trips_and_checks_completeness() {
        let f = sample();
        let bytes = serde_json::to_vec(&f).expect("json");
        assert_eq!(ResultFile::from_slice(&bytes).expect("parse"), f);

        let mut short = f.clone();
        short.runs.pop();
        let bytes = serde_json::to_vec(&short).expect("json");
        let err = ResultFile::from_slice(&bytes).expect_err("short");
        assert_eq!(err.kind, ProblemKind::Partial);

        let mut other = f;
        other.schema = "x/v9".into();
        let bytes = serde_json::to_vec(&other).expect("json");
        let err = ResultFile::from_slice(&bytes).expect_err("schema");
        assert!(err.message.starts_with("schema is `x/v9`"), "{err}");
        let err = ResultFile::from_slice(&bytes[..bytes.len() / 2]).expect_err("half");
        assert_eq!(err.kind, ProblemKind::Corrupt);
    }

    #[test]
    fn a_write_error_in_the_sidecar_leaves_no_result() {
        use sha2::{Digest, Sha256};
        let tmp = tempfile::tempdir().expect("tempdir");
        let results = tmp.path().join("results");
        std::fs::create_dir_all(&results).expect("mkdir");
        let f = sample();
        // A directory where the sidecar goes: its rename fails at the very end.
        let bytes = crate::columns::encode(&f.runs, "x").expect("encode");
        let sha = hex::encode(Sha256::digest(&bytes));
        let name = crate::layout::sidecar_file_name(f.task, &f.host, &sha[..8]);
        std::fs::create_dir_all(results.join(&name).join("busy")).expect("dir");
        let err = write_result(&results, &f).expect_err("sidecar cannot be written");
        assert!(err.to_string().contains(&name), "{err}");
        let names: Vec<String> = std::fs::read_dir(&results)
            .expect("ls")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![name.clone()], "no JSON, no temp file");

        // The JSON cannot be written: the sidecar stays as a leftover, no result appears.
        std::fs::remove_dir_all(results.join(&name)).expect("rm");
        let json = results.join(crate::layout::result_file_name(f.task, &f.host));
        std::fs::create_dir_all(json.join("busy")).expect("dir");
        let err = write_result(&results, &f).expect_err("json cannot be written");
        assert!(err.to_string().contains("task-1.node02.json"), "{err}");
        assert!(results.join(&name).is_file());
        let dir = crate::layout::SweepDir::new(tmp.path());
        let listing = crate::layout::ResultsListing::read(&dir).expect("list");
        assert!(listing.results.is_empty());
        assert_eq!(listing.sidecars, vec![results.join(&name)]);
        let judged = crate::classify::SweepResults::new(None, Vec::new(), &listing);
        assert_eq!(judged.tasks[&1].temp, vec![results.join(&name)]);

        // Written whole once the way is clear; an existing result is replaced whole.
        std::fs::remove_dir_all(&json).expect("rm");
        assert_eq!(write_result(&results, &f).expect("write"), json);
        let back = ResultFile::read(&json).expect("read");
        assert_eq!(back.runs.len(), 2);
        assert_eq!(back.runs[0].metrics, f.runs[0].metrics);
    }
}
