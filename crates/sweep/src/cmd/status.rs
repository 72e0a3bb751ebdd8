//! `sweep status DIR [--json]`: how many tasks are done, running, pending, failed or
//! missing, from the result files and `squeue` (when SLURM answers; `sacct` is not used);
//! for failed tasks, the last lines of their `.err` log; every unusable result file and
//! unfinished write. Exit 0 when every task is done and no result file is unusable (the
//! same verdict as `collect`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Serialize;
use sweep_core::plan::format_index_list;

use sweep_core::classify::{scan, SweepResults};
use sweep_core::jobs::{self, tail_lines, task_err_logs, JobKind};

use crate::slurm;
use crate::target::{load_dir, Loaded};
use crate::tasks::{counts, queued_tasks, task_states, TaskState, TaskStatus};
use crate::Outcome;

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep plan sweeps/sixty_forty.toml --sharedfs /sharedfs
  sweep status /sharedfs/sweeps/sixty_forty-1a2b3c4d          # exit 1: tasks are missing
  sweep run /sharedfs/sweeps/sixty_forty-1a2b3c4d --local --no-collect
  sweep status /sharedfs/sweeps/sixty_forty-1a2b3c4d --json   # exit 0: every task is done";

/// Arguments of `sweep status`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct StatusArgs {
    /// The sweep directory.
    pub dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Lines of each failed task's log to show.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub log_lines: usize,
}

/// The state of a sweep's tasks.
#[derive(Debug, Serialize)]
pub struct SweepStatus {
    pub schema: &'static str,
    pub sweep: String,
    pub dir: PathBuf,
    pub plan_hash: String,
    pub tasks: u64,
    pub combos: u64,
    pub done: u64,
    pub running: u64,
    pub pending: u64,
    pub failed: u64,
    pub conflict: u64,
    pub missing: u64,
    /// Temporary files of result writes that did not finish (a killed worker, or one still
    /// writing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub temp_files: Vec<PathBuf>,
    /// Every result file that is not used: partial, corrupt, or of another plan (also those
    /// beside a done task's result, and those of no task of this plan).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unusable_files: Vec<String>,
    /// Files set aside in results/quarantine/.
    pub quarantined: usize,
    /// Why the queue is unknown, when squeue did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_note: Option<String>,
    /// Every task that is not done.
    pub not_done: Vec<TaskDetail>,
}

/// A task that is not done, with its log's last lines when it failed.
#[derive(Debug, Serialize)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub status: TaskStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<String>,
}

/// The task states of a sweep plus the jobs log and the judged result files; asks squeue
/// when jobs were submitted.
pub fn compute(
    loaded: &Loaded,
    log_lines: usize,
) -> anyhow::Result<(SweepStatus, Vec<TaskStatus>, SweepResults)> {
    let records = jobs::read(&loaded.dir.jobs())?;
    let array_jobs: Vec<u64> = records
        .iter()
        .filter(|r| matches!(r.kind, JobKind::Array | JobKind::Resubmit))
        .map(|r| r.job_id)
        .collect();
    let (queue, queue_note) = if array_jobs.is_empty() {
        (Vec::new(), None)
    } else {
        match slurm::squeue(&array_jobs) {
            Ok(q) => (q, None),
            Err(e) => (
                Vec::new(),
                Some(format!("squeue did not answer, queue unknown: {e}")),
            ),
        }
    };
    let results = scan(&loaded.dir, &loaded.plan)?;
    let queued: HashMap<u64, (TaskState, String)> = queued_tasks(&records, &queue);
    let states = task_states(loaded.plan.tasks, &results, &queued);
    let c = counts(&states);
    let n = |s| c.get(&s).copied().unwrap_or(0);
    let not_done = states
        .iter()
        .filter(|s| s.state != TaskState::Done)
        .map(|s| {
            let log = if matches!(s.state, TaskState::Failed | TaskState::Missing) {
                task_err_logs(&loaded.dir, &records, s.task)
                    .into_iter()
                    .next()
            } else {
                None
            };
            TaskDetail {
                status: s.clone(),
                log_tail: log
                    .as_deref()
                    .map(|p| tail_lines(p, log_lines))
                    .unwrap_or_default(),
                log,
            }
        })
        .collect();
    let status = SweepStatus {
        schema: "slurm-sweep/status/v1",
        sweep: format!("{}-{}", loaded.plan.name, loaded.plan.hash8()),
        dir: loaded.dir.root().to_path_buf(),
        plan_hash: loaded.plan.hash.clone(),
        tasks: loaded.plan.tasks,
        combos: loaded.plan.combos,
        done: n(TaskState::Done),
        running: n(TaskState::Running),
        pending: n(TaskState::Pending),
        failed: n(TaskState::Failed),
        conflict: n(TaskState::Conflict),
        missing: n(TaskState::Missing),
        temp_files: results.all_temp().cloned().collect(),
        unusable_files: results.all_problems().map(|p| p.to_string()).collect(),
        quarantined: results.quarantined.len(),
        queue_note,
        not_done,
    };
    Ok((status, states, results))
}

fn print_text(s: &SweepStatus) {
    sweep_core::outln!(
        "sweep {}: {} tasks ({} combinations)",
        s.sweep,
        s.tasks,
        s.combos
    );
    for (label, n) in [
        ("done", s.done),
        ("running", s.running),
        ("pending", s.pending),
        ("failed", s.failed),
        ("conflict", s.conflict),
        ("missing", s.missing),
    ] {
        sweep_core::outln!("  {label:<8} {n:>7}");
    }
    if let Some(note) = &s.queue_note {
        sweep_core::outln!("note: {note}");
    }
    let mut by_state: BTreeMap<TaskState, Vec<u64>> = BTreeMap::new();
    for d in &s.not_done {
        by_state
            .entry(d.status.state)
            .or_default()
            .push(d.status.task);
    }
    for (state, list) in &by_state {
        sweep_core::outln!("{} tasks: {}", state.label(), format_index_list(list));
    }
    for d in s.not_done.iter().filter(|d| {
        matches!(d.status.state, TaskState::Failed | TaskState::Conflict)
            || !d.status.files.is_empty()
    }) {
        let host = d.status.host.as_deref().unwrap_or("?");
        sweep_core::outln!(
            "task {} (on {host}): {}",
            d.status.task,
            d.status
                .detail
                .as_deref()
                .unwrap_or(d.status.state.label())
                .replace('\n', "\n  ")
        );
        for f in &d.status.files {
            sweep_core::outln!("  file {f}");
        }
        if let Some(log) = &d.log {
            sweep_core::outln!("  last lines of {}:", log.display());
            for line in &d.log_tail {
                sweep_core::outln!("  | {line}");
            }
        }
    }
    if !s.unusable_files.is_empty() {
        sweep_core::outln!(
            "{} unusable result file(s) (not counted for any task):",
            s.unusable_files.len()
        );
        for f in &s.unusable_files {
            sweep_core::outln!("  {f}");
        }
    }
    if !s.temp_files.is_empty() {
        sweep_core::outln!(
            "{} temporary file(s) of result writes that did not finish (a worker killed while writing, or still writing):",
            s.temp_files.len()
        );
        for f in &s.temp_files {
            sweep_core::outln!("  {}", f.display());
        }
    }
    if s.quarantined > 0 {
        sweep_core::outln!("{} file(s) set aside in results/quarantine/", s.quarantined);
    }
}

pub fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let loaded = load_dir(&args.dir)?;
    let (status, _, _) = compute(&loaded, args.log_lines)?;
    if args.json {
        sweep_core::outln!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_text(&status);
    }
    Ok(
        if status.done == status.tasks && status.unusable_files.is_empty() {
            Outcome::Complete
        } else {
            Outcome::Incomplete
        },
    )
}
