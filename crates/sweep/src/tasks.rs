//! The state of every array task of a planned sweep: what its result files say (the
//! contract's one classification, [`sweep_core::classify`]), overlaid with the queue
//! (`squeue`, when SLURM answers) for tasks without a complete result.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Serialize;
use sweep_core::classify::{SweepResults, TaskVerdict};
use sweep_core::jobs::{JobKind, JobRecord};
use sweep_core::quarantine::quarantine;
use sweep_core::SweepDir;

use crate::slurm::QueueEntry;

/// Where one task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Done,
    Running,
    Pending,
    Failed,
    /// Complete result files that disagree in their numbers.
    Conflict,
    Missing,
}

impl TaskState {
    pub fn label(self) -> &'static str {
        match self {
            TaskState::Done => "done",
            TaskState::Running => "running",
            TaskState::Pending => "pending",
            TaskState::Failed => "failed",
            TaskState::Conflict => "conflict",
            TaskState::Missing => "missing",
        }
    }
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
    /// Result files of the task that are not used, each with why (`corrupt: ...`,
    /// `duplicate (agrees): ...`, `temporary file of an interrupted write`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// What the files of a task say, beside its verdict.
fn file_notes(results: &SweepResults, task: u64) -> Vec<String> {
    let Some(t) = results.tasks.get(&task) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    out.extend(t.problems.iter().map(|p| p.to_string()));
    for d in &t.duplicates {
        out.push(format!(
            "{}: duplicate that {} with the kept file",
            d.path.display(),
            if d.agrees { "agrees" } else { "DISAGREES" }
        ));
    }
    for tmp in &t.temp {
        out.push(format!(
            "{}: temporary file of a write that did not finish",
            tmp.display()
        ));
    }
    out
}

/// The state of every task `0..tasks`: a done result wins; then the queue; then a
/// failed or conflicting result; else missing.
pub fn task_states(
    tasks: u64,
    results: &SweepResults,
    queued: &HashMap<u64, (TaskState, String)>,
) -> Vec<TaskStatus> {
    (0..tasks)
        .map(|task| {
            let kept_host = results
                .tasks
                .get(&task)
                .and_then(|t| t.kept.as_ref())
                .map(|k| k.host.clone());
            let files = file_notes(results, task);
            let status = |state, host: Option<String>, detail: Option<String>| TaskStatus {
                task,
                state,
                host,
                detail,
                files: files.clone(),
            };
            match (results.verdict(task), queued.get(&task)) {
                (TaskVerdict::Done, _) => status(TaskState::Done, kept_host, None),
                (_, Some((state, nodes))) => {
                    status(*state, (!nodes.is_empty()).then(|| nodes.clone()), None)
                }
                (
                    TaskVerdict::Failed {
                        failed_runs,
                        first_error,
                    },
                    None,
                ) => status(
                    TaskState::Failed,
                    kept_host,
                    Some(match first_error {
                        Some(e) => format!("{failed_runs} runs failed; first error: {e}"),
                        None => format!("{failed_runs} runs failed"),
                    }),
                ),
                (TaskVerdict::Conflict, None) => status(
                    TaskState::Conflict,
                    kept_host,
                    Some("complete result files disagree in their numbers".into()),
                ),
                (TaskVerdict::Missing, None) => {
                    let detail = (!files.is_empty()).then(|| {
                        format!(
                            "no complete result ({} unusable file{})",
                            files.len(),
                            if files.len() == 1 { "" } else { "s" }
                        )
                    });
                    status(TaskState::Missing, None, detail)
                }
            }
        })
        .collect()
}

/// Counts of each state.
pub fn counts(states: &[TaskStatus]) -> BTreeMap<TaskState, u64> {
    let mut out = BTreeMap::new();
    for s in states {
        *out.entry(s.state).or_insert(0) += 1;
    }
    out
}

/// Moves the complete result files of `task` (failed runs, or disagreeing duplicates) to
/// the quarantine, so a resubmitted worker runs the task again instead of skipping it.
/// Returns the new paths.
pub fn set_aside(
    dir: &SweepDir,
    results: &SweepResults,
    task: u64,
) -> Result<Vec<PathBuf>, sweep_core::quarantine::QuarantineError> {
    let Some(t) = results.tasks.get(&task) else {
        return Ok(Vec::new());
    };
    let files = t
        .kept
        .iter()
        .map(|k| k.path.clone())
        .chain(t.duplicates.iter().map(|d| d.path.clone()));
    files.map(|p| quarantine(dir, &p)).collect()
}
