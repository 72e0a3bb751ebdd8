//! `sweep submit DIR|SPEC`: plans first when given a spec, then `sbatch --parsable` for each
//! array chunk and, unless `--no-collect`, the collect job with
//! `--dependency=afterany:<id1>:<id2>...`. Each submission is recorded in `jobs.jsonl`;
//! sbatch's stdout/stderr are kept as `logs/sbatch-<n>.out|.err`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;

use crate::render::{array_script_name, chunk_array_spec};
use crate::slurm::{sbatch, JobId, SbatchRequest};
use crate::target::{resolve, Loaded, PlanFlags};
use crate::Outcome;
use sweep_core::jobs::{self, JobKind, JobRecord, JOB_SCHEMA};

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep submit sweeps/ma_cross.toml -p fast=5,10,20 -p slow=50..200:50 --dry-run   # prints the sbatch lines
  sweep submit sweeps/sixty_forty.toml --sharedfs /sharedfs   # plans, then submits the arrays and collect
  sweep submit /sharedfs/sweeps/sixty_forty-1a2b3c4d --test-only   # SLURM checks the jobs; queues nothing";

/// Arguments of `sweep submit`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct SubmitArgs {
    /// A planned sweep directory, or a spec to plan first.
    pub target: PathBuf,
    /// Do not submit the collect job.
    #[arg(long)]
    pub no_collect: bool,
    /// Pass `--test-only` to sbatch: SLURM validates the jobs and says when they would
    /// start; nothing is queued or recorded.
    #[arg(long)]
    pub test_only: bool,
    /// Print the sbatch command lines without running them.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub flags: PlanFlags,
}

/// How `submit` and `resubmit` run sbatch.
#[derive(Clone, Copy, Debug)]
pub struct SubmitMode {
    pub dry_run: bool,
    pub test_only: bool,
}

/// Submits one script (or prints it for a dry run) and records it. Returns the job id
/// (`None` for a dry run or `--test-only`).
pub fn submit_one(
    loaded: &Loaded,
    mode: SubmitMode,
    script: &Path,
    options: Vec<String>,
    record: impl FnOnce(&JobId) -> JobRecord,
) -> anyhow::Result<Option<JobId>> {
    let mut req = SbatchRequest::new(script);
    req.options = options;
    req.test_only = mode.test_only;
    req.keep_output_in = Some(loaded.dir.logs());
    if mode.dry_run {
        sweep_core::outln!("{}", req.command_line());
        return Ok(None);
    }
    let out = sbatch(&req)?;
    if mode.test_only {
        let said = format!("{}{}", out.stdout, out.stderr);
        sweep_core::outln!("{}: {}", req.command_line(), said.trim());
        return Ok(None);
    }
    let Some(id) = out.job_id else {
        return Ok(None);
    };
    let rec = record(&id);
    jobs::append(&loaded.dir.jobs(), &rec)?;
    Ok(Some(id))
}

/// Submits the collect job after `ids`.
pub fn submit_collect(
    loaded: &Loaded,
    mode: SubmitMode,
    ids: &[String],
) -> anyhow::Result<Option<JobId>> {
    let dependency = format!("--dependency=afterany:{}", ids.join(":"));
    let script = loaded.dir.collect_script();
    let dep = dependency.clone();
    let id = submit_one(loaded, mode, &script, vec![dependency.clone()], |id| {
        JobRecord {
            schema: JOB_SCHEMA.into(),
            job_id: id.id,
            cluster: id.cluster.clone(),
            kind: JobKind::Collect,
            array: None,
            offset: None,
            script: "collect.sbatch".into(),
            dependency: Some(dep.trim_start_matches("--dependency=").to_string()),
            submitted: Utc::now(),
        }
    })?;
    if let Some(id) = &id {
        sweep_core::outln!(
            "submitted collect job {id} ({})",
            dependency.trim_start_matches("--")
        );
    }
    Ok(id)
}

pub fn run(args: &SubmitArgs) -> anyhow::Result<Outcome> {
    let loaded = resolve(&args.target, &args.flags)?;
    let mode = SubmitMode {
        dry_run: args.dry_run,
        test_only: args.test_only,
    };
    let earlier = jobs::read(&loaded.dir.jobs())?;
    if !earlier.is_empty() && !mode.dry_run {
        sweep_core::errln!(
            "note: {} was submitted before ({} jobs in jobs.jsonl); tasks already done are skipped by the worker. `sweep resubmit` submits only what is missing or failed.",
            loaded.dir.root().display(),
            earlier.len()
        );
    }
    let mut ids = Vec::new();
    let throttle = loaded.plan.throttle.or(loaded.spec.slurm.throttle);
    for (n, chunk) in loaded.plan.arrays.iter().enumerate() {
        let name = array_script_name(n);
        let script = loaded.dir.root().join(&name);
        let array = chunk_array_spec(chunk, throttle);
        let id = submit_one(&loaded, mode, &script, Vec::new(), |id| JobRecord {
            schema: JOB_SCHEMA.into(),
            job_id: id.id,
            cluster: id.cluster.clone(),
            kind: JobKind::Array,
            array: Some(array.clone()),
            offset: Some(chunk.offset),
            script: name.clone(),
            dependency: None,
            submitted: Utc::now(),
        })
        .with_context(|| format!("cannot submit {}", script.display()))?;
        if let Some(id) = id {
            sweep_core::outln!(
                "submitted array job {id} (--array={array}, tasks {} to {})",
                chunk.offset,
                chunk.offset + chunk.count.saturating_sub(1)
            );
            ids.push(id.to_string());
        }
    }
    if !args.no_collect {
        if mode.dry_run {
            let placeholders: Vec<String> = (0..loaded.plan.arrays.len())
                .map(|n| format!("<array-{n}>"))
                .collect();
            submit_collect(&loaded, mode, &placeholders)?;
        } else if !ids.is_empty() {
            submit_collect(&loaded, mode, &ids)?;
        } else if mode.test_only {
            sweep_core::outln!(
                "collect job not tested: its --dependency needs the ids of queued arrays"
            );
        }
    }
    if !mode.dry_run && !mode.test_only {
        sweep_core::outln!("follow with: sweep status {}", loaded.dir.root().display());
    }
    Ok(Outcome::Complete)
}
