//! `sweep resubmit DIR`: submits again only the tasks that are missing or failed (not those
//! still pending or running in squeue), as an explicit `--array=3,7,12-15%throttle` list per
//! array chunk (indices relative to the chunk, whose script exports its offset), records
//! the jobs in `jobs.jsonl`, then a new collect job after them. Results with failed runs
//! are moved to `results/quarantine/` first (bt-worker skips a task whose complete result
//! exists, failed runs or not).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use sweep_core::jobs::{JobKind, JobRecord, JOB_SCHEMA};
use sweep_core::plan::format_index_list;

use crate::cmd::status::compute;
use crate::cmd::submit::{submit_collect, submit_one, SubmitMode};
use crate::render::{array_script_name, with_throttle};
use crate::target::load_dir;
use crate::tasks::{set_aside, TaskState};
use crate::Outcome;

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep plan sweeps/sixty_forty.toml --sharedfs /sharedfs
  sweep resubmit /sharedfs/sweeps/sixty_forty-1a2b3c4d --dry-run       # the sbatch lines of the missing tasks
  sweep resubmit /sharedfs/sweeps/sixty_forty-1a2b3c4d --failed-only   # none failed: nothing to resubmit";

/// Arguments of `sweep resubmit`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ResubmitArgs {
    /// The sweep directory.
    pub dir: PathBuf,
    /// Print the sbatch command lines without running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Only tasks whose result has failed runs.
    #[arg(long, conflicts_with = "missing_only")]
    pub failed_only: bool,
    /// Only tasks without a result.
    #[arg(long)]
    pub missing_only: bool,
    /// Do not submit a new collect job.
    #[arg(long)]
    pub no_collect: bool,
}

/// Which tasks of which chunk to submit again: chunk number -> indices inside the chunk.
pub fn select(plan: &sweep_core::Plan, tasks: &[u64]) -> anyhow::Result<BTreeMap<usize, Vec<u64>>> {
    let mut by_chunk: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for &task in tasks {
        let (chunk, index) = plan
            .array_of(task)
            .with_context(|| format!("task {task} is in no array of the plan"))?;
        by_chunk.entry(chunk).or_default().push(index);
    }
    Ok(by_chunk)
}

pub fn run(args: &ResubmitArgs) -> anyhow::Result<Outcome> {
    let loaded = load_dir(&args.dir)?;
    let (status, states, results) = compute(&loaded, 0)?;
    if let Some(note) = &status.queue_note {
        sweep_core::errln!("note: {note}");
    }
    let wanted = |s: TaskState| match (args.failed_only, args.missing_only) {
        (true, _) => matches!(s, TaskState::Failed | TaskState::Conflict),
        (_, true) => s == TaskState::Missing,
        _ => matches!(
            s,
            TaskState::Failed | TaskState::Conflict | TaskState::Missing
        ),
    };
    let tasks: Vec<u64> = states
        .iter()
        .filter(|s| wanted(s.state))
        .map(|s| s.task)
        .collect();
    if tasks.is_empty() {
        sweep_core::outln!(
            "nothing to resubmit: {} done, {} running, {} pending, {} failed, {} missing",
            status.done,
            status.running,
            status.pending,
            status.failed,
            status.missing
        );
        return Ok(Outcome::Complete);
    }
    sweep_core::outln!(
        "resubmitting {} task{}: {}",
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" },
        format_index_list(&tasks)
    );
    if !args.dry_run {
        // The worker skips a task whose complete result exists, even with failed runs:
        // set those results aside so the task runs again.
        for s in states.iter().filter(|s| {
            matches!(s.state, TaskState::Failed | TaskState::Conflict) && wanted(s.state)
        }) {
            for moved in set_aside(&loaded.dir, &results, s.task)? {
                sweep_core::outln!(
                    "task {}: {} result moved to {}",
                    s.task,
                    s.state.label(),
                    moved.display()
                );
            }
        }
    }
    let mode = SubmitMode {
        dry_run: args.dry_run,
        test_only: false,
    };
    let throttle = loaded.plan.throttle.or(loaded.spec.slurm.throttle);
    let mut ids = Vec::new();
    for (chunk, indices) in select(&loaded.plan, &tasks)? {
        let offset = loaded.plan.arrays[chunk].offset;
        let name = array_script_name(chunk);
        let script = loaded.dir.root().join(&name);
        let array = with_throttle(&format_index_list(&indices), throttle);
        let option = format!("--array={array}");
        let id = submit_one(&loaded, mode, &script, vec![option], |id| JobRecord {
            schema: JOB_SCHEMA.into(),
            job_id: id.id,
            cluster: id.cluster.clone(),
            kind: JobKind::Resubmit,
            array: Some(array.clone()),
            offset: Some(offset),
            script: name.clone(),
            dependency: None,
            submitted: Utc::now(),
        })?;
        if let Some(id) = id {
            sweep_core::outln!(
                "submitted array job {id} (--array={array}, SWEEP_TASK_OFFSET={offset})"
            );
            ids.push(id.to_string());
        }
    }
    if !args.no_collect {
        if args.dry_run {
            submit_collect(&loaded, mode, &["<resubmitted>".to_string()])?;
        } else if !ids.is_empty() {
            submit_collect(&loaded, mode, &ids)?;
        }
    }
    Ok(Outcome::Complete)
}
