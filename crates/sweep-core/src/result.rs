//! The result file of one array task (`results/task-<k>.<host>.json`): who ran it, where,
//! when, and one entry per combination of the task with its status and metrics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use backtest::{Metrics, Params};

use crate::reader::{ProblemKind, ResultProblem};

/// The schema id written into every result file.
pub const RESULT_SCHEMA: &str = "slurm-sweep/result/v1";

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

/// Everything one array task writes.
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
    pub fn from_slice(bytes: &[u8]) -> Result<ResultFile, ResultProblem> {
        crate::reader::read_result_bytes(std::path::Path::new(""), bytes, false, |_| {})?;
        serde_json::from_slice(bytes).map_err(|e| ResultProblem {
            kind: ProblemKind::Corrupt,
            message: crate::reader::excerpt(&e.to_string()),
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
}
