//! The state of every array task of a planned sweep, from its result files (a complete
//! result for this plan with no failed run = done; with failed runs = failed), the queue
//! (`squeue`, when SLURM answers) and the submission log; and the logs of a task.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sweep_core::sweep_dir::parse_result_file_name;
use sweep_core::{Plan, ResultFile, SweepDir};

use crate::jobs::{JobKind, JobRecord};
use crate::slurm::QueueEntry;

/// Where one task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Done,
    Running,
    Pending,
    Failed,
    Missing,
}

impl TaskState {
    pub fn label(self) -> &'static str {
        match self {
            TaskState::Done => "done",
            TaskState::Running => "running",
            TaskState::Pending => "pending",
            TaskState::Failed => "failed",
            TaskState::Missing => "missing",
        }
    }
}

/// What the result files say about one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultState {
    /// Complete, every run ok.
    Ok { host: String },
    /// Complete, some runs failed.
    Failed {
        host: String,
        failed_runs: usize,
        first_error: Option<String>,
    },
    /// A result file for this plan that cannot be read or is incomplete.
    Broken { file: PathBuf, message: String },
}

/// Reads `results/`: the best result of each task for this plan (ok over failed over
/// broken). Files of other plans (another plan hash) are ignored.
pub fn scan_results(dir: &SweepDir, plan: &Plan) -> std::io::Result<BTreeMap<u64, ResultState>> {
    let mut out: BTreeMap<u64, ResultState> = BTreeMap::new();
    let entries = match std::fs::read_dir(dir.results()) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((task, _)) = parse_result_file_name(&name) else {
            continue;
        };
        if task >= plan.tasks {
            continue;
        }
        let path = entry.path();
        let state = match std::fs::read(&path) {
            Err(e) => ResultState::Broken {
                file: path,
                message: e.to_string(),
            },
            Ok(bytes) => match ResultFile::from_slice(&bytes) {
                Ok(r) if r.plan_hash != plan.hash => continue,
                Ok(r) if r.task != task => ResultState::Broken {
                    file: path,
                    message: format!("holds task {} under the name of task {task}", r.task),
                },
                Ok(r) => match r.failed() {
                    0 => ResultState::Ok { host: r.host },
                    n => ResultState::Failed {
                        first_error: r.runs.iter().find_map(|run| run.error.clone()),
                        host: r.host,
                        failed_runs: n,
                    },
                },
                Err(e) => ResultState::Broken {
                    file: path,
                    message: e.to_string(),
                },
            },
        };
        let rank = |s: &ResultState| match s {
            ResultState::Ok { .. } => 0,
            ResultState::Failed { .. } => 1,
            ResultState::Broken { .. } => 2,
        };
        match out.get(&task) {
            Some(old) if rank(old) <= rank(&state) => {}
            _ => {
                out.insert(task, state);
            }
        }
    }
    Ok(out)
}

/// Maps queue entries of the sweep's array jobs to task numbers: task -> (state, nodes).
pub fn queued_tasks(jobs: &[JobRecord], queue: &[QueueEntry]) -> HashMap<u64, (TaskState, String)> {
    let offsets: HashMap<u64, u64> = jobs
        .iter()
        .filter(|j| matches!(j.kind, JobKind::Array | JobKind::Resubmit))
        .map(|j| (j.job_id, j.offset.unwrap_or(0)))
        .collect();
    let mut out = HashMap::new();
    for e in queue {
        let (Some(offset), Some(index)) = (offsets.get(&e.job_id), e.array_index) else {
            continue;
        };
        let state = if e.state == "PENDING" || e.state == "REQUEUED" || e.state == "CONFIGURING" {
            TaskState::Pending
        } else {
            TaskState::Running
        };
        out.insert(offset + index, (state, e.nodes.clone()));
    }
    out
}

/// One task's state with what explains it.
#[derive(Clone, Debug, Serialize)]
pub struct TaskStatus {
    pub task: u64,
    pub state: TaskState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The state of every task `0..plan.tasks`: a complete ok result wins; then the queue;
/// then a failed or broken result; else missing.
pub fn task_states(
    plan: &Plan,
    results: &BTreeMap<u64, ResultState>,
    queued: &HashMap<u64, (TaskState, String)>,
) -> Vec<TaskStatus> {
    (0..plan.tasks)
        .map(|task| {
            let status = |state, host: Option<String>, detail: Option<String>| TaskStatus {
                task,
                state,
                host,
                detail,
            };
            match (results.get(&task), queued.get(&task)) {
                (Some(ResultState::Ok { host }), _) => {
                    status(TaskState::Done, Some(host.clone()), None)
                }
                (_, Some((state, nodes))) => {
                    status(*state, (!nodes.is_empty()).then(|| nodes.clone()), None)
                }
                (
                    Some(ResultState::Failed {
                        host,
                        failed_runs,
                        first_error,
                    }),
                    None,
                ) => status(
                    TaskState::Failed,
                    Some(host.clone()),
                    Some(match first_error {
                        Some(e) => format!("{failed_runs} runs failed; first error: {e}"),
                        None => format!("{failed_runs} runs failed"),
                    }),
                ),
                (Some(ResultState::Broken { file, message }), None) => status(
                    TaskState::Failed,
                    None,
                    Some(format!("{}: {message}", file.display())),
                ),
                (None, None) => status(TaskState::Missing, None, None),
            }
        })
        .collect()
}

/// The stderr logs that may belong to `task`, newest submission first:
/// `logs/<jobid>_<index>.err` of each array job holding it, then `logs/local_<task>.err`.
pub fn error_logs(dir: &SweepDir, jobs: &[JobRecord], task: u64) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for j in jobs.iter().rev() {
        if !matches!(j.kind, JobKind::Array | JobKind::Resubmit) {
            continue;
        }
        let offset = j.offset.unwrap_or(0);
        if task < offset {
            continue;
        }
        let path = dir
            .logs()
            .join(format!("{}_{}.err", j.job_id, task - offset));
        if path.is_file() {
            out.push(path);
        }
    }
    let local = dir.logs().join(format!("local_{task}.err"));
    if local.is_file() {
        out.push(local);
    }
    out
}

/// The last `n` lines of a text file (lossy UTF-8), or `None` if it cannot be read.
pub fn tail(path: &Path, n: usize) -> Option<Vec<String>> {
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    Some(
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.to_string())
            .collect(),
    )
}

/// Counts of each state.
pub fn counts(states: &[TaskStatus]) -> BTreeMap<TaskState, u64> {
    let mut out = BTreeMap::new();
    for s in states {
        *out.entry(s.state).or_insert(0) += 1;
    }
    out
}

/// Moves the complete-but-failed result files of `task` (this plan) to
/// `results/quarantine/<name>.<UTC time>`, so a resubmitted worker runs the task again
/// instead of skipping it as done. Returns the new paths.
pub fn set_aside_failed(dir: &SweepDir, plan: &Plan, task: u64) -> std::io::Result<Vec<PathBuf>> {
    let mut moved = Vec::new();
    let quarantine = dir.results().join("quarantine");
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    for entry in std::fs::read_dir(dir.results())? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if parse_result_file_name(&name).map(|(k, _)| k) != Some(task) {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let Ok(r) = ResultFile::from_slice(&bytes) else {
            continue;
        };
        if r.plan_hash == plan.hash && r.failed() > 0 {
            std::fs::create_dir_all(&quarantine)?;
            let to = quarantine.join(format!("{name}.{stamp}"));
            std::fs::rename(entry.path(), &to)?;
            moved.push(to);
        }
    }
    Ok(moved)
}
