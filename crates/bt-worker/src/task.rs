//! `bt-worker task`: runs the combinations of one array task and writes its result
//! (schema v2: the column sidecar `results/task-<k>.<host>.<sha8>.cols`, then
//! `results/task-<k>.<host>.json` naming it, each atomically; see `sweep_core::result`).
//!
//! * **Task number.** `--task K`, else `SWEEP_TASK_OFFSET` (default 0) +
//!   `SLURM_ARRAY_TASK_ID`; neither is an error.
//! * **Work.** The data is loaded once and the strategy prepared once (a `rules` spec's
//!   rules compiled once per task); the task's manifest lines then run through one
//!   [`TaskRunner`] (which shares the indicators of rules across the task's combinations)
//!   on a local rayon pool of `SLURM_CPUS_PER_TASK` threads (default 1). A combination
//!   whose backtest returns an error or panics is recorded as `status = "error"` with the
//!   message; the others still run. Rules that do not compile (a spec.toml written by
//!   another version) fail every run of the task the same way as data that cannot load.
//! * **Walk-forward.** When plan.json has `walk_forward` windows, each combination also
//!   runs over every training and test window as a backtest of its own
//!   ([`backtest::walk_forward`]: the spec's start, burn-in = the window's first day, end =
//!   its last day), through one runner per window built once per task; its metrics go to
//!   `windows`. A window that fails fails the combination, the message naming the window.
//! * **Data that cannot be loaded** is not a crash: every run of the task is recorded as an
//!   error carrying the loading error (so `collect` can name it), and the exit code is 1.
//! * **Data that changed since planning** is treated the same way: before loading, each
//!   data file is hashed and compared with the sha256 recorded in `plan.json`; on a
//!   mismatch (e.g. after `sweep data import --replace`) every run is an error naming the
//!   file and both hash prefixes, so no result is computed on data the plan did not see.
//! * **Skip rule.** A complete result file of the same plan hash and task (from any host)
//!   means the task is done: it is skipped unless `--force`. Result files of the task that
//!   cannot be trusted (unparsable, wrong schema or plan hash, incomplete, a sidecar
//!   missing or not matching) are never used and never deleted: they are moved (with the
//!   sidecar they name) to `results/quarantine/<file name>.<UTC time>` with a message on
//!   stderr. With `--force`, earlier complete results of the task are moved there
//!   too, just before the new one is written, so one result per task remains.
//! * **Exit code.** 0 every combination ran, 1 some failed (or were skipped because the data
//!   could not be loaded), 2 error (no plan, bad manifest, unwritable results).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use rayon::prelude::*;

use backtest::walk_forward::{WindowConfigs, WindowMetrics, WindowRunners};
use backtest::{KeepReturns, MarketData, Params, RunOutput, TaskRunner};
use sweep_core::classify::{check_file, FileVerdict};
use sweep_core::identity::{check_data_unchanged, check_inputs_unchanged, check_spec_unchanged};
use sweep_core::interrupt::Interrupt;
use sweep_core::layout::{parse_result_file_name, ResultsListing, SweepDir};
use sweep_core::manifest::{read_task, ManifestEntry};
use sweep_core::plan::load_plan;
use sweep_core::quarantine::quarantine;
use sweep_core::reader::read_result_file;
use sweep_core::result::{
    write_result, BlockMoments, ResultFile, Run, RunStatus, SlurmIds, WindowRuns, RESULT_SCHEMA_V2,
};
use sweep_core::{Plan, SpecStrategy};

/// Arguments of `bt-worker task`.
#[derive(Debug, clap::Args)]
pub struct TaskArgs {
    /// The sweep directory (holds plan.json, manifest.jsonl, spec.toml).
    #[arg(long)]
    pub sweep_dir: PathBuf,
    /// The task number; defaults to SWEEP_TASK_OFFSET + SLURM_ARRAY_TASK_ID.
    #[arg(long)]
    pub task: Option<u64>,
    /// Run even if a complete result for this plan exists.
    #[arg(long)]
    pub force: bool,
}

/// What one task did.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutcome {
    /// A complete result already existed; nothing ran.
    Skipped { existing: PathBuf },
    /// The task ran and wrote `file`.
    Ran {
        file: PathBuf,
        combos: u64,
        failed: u64,
    },
    /// SIGINT or SIGTERM stopped a command sweep's task: its programs were ended and no
    /// result was written (it runs again later).
    Interrupted { signal: i32 },
}

impl TaskOutcome {
    /// 0 when nothing failed, 1 when some combinations failed, 128 + the signal when
    /// interrupted.
    pub fn exit_code(&self) -> u8 {
        match self {
            TaskOutcome::Ran { failed, .. } if *failed > 0 => 1,
            TaskOutcome::Interrupted { signal } => Interrupt::exit_status(*signal),
            _ => 0,
        }
    }
}

/// Runs one task. Exit code: 0 all combinations ran, 1 some failed, 2 error.
pub fn run(args: &TaskArgs) -> anyhow::Result<u8> {
    let task = match args.task {
        Some(k) => k,
        None => task_from_env(&|v| std::env::var(v).ok())?,
    };
    let threads = threads_from_env(&|v| std::env::var(v).ok())?;
    Ok(run_task(&args.sweep_dir, task, args.force, threads)?.exit_code())
}

/// `SWEEP_TASK_OFFSET` (default 0) + `SLURM_ARRAY_TASK_ID`.
pub fn task_from_env(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<u64> {
    let Some(id) = env("SLURM_ARRAY_TASK_ID") else {
        bail!("no task number: pass --task K, or run inside a SLURM job array (SLURM_ARRAY_TASK_ID is not set)");
    };
    let id: u64 = id
        .trim()
        .parse()
        .with_context(|| format!("SLURM_ARRAY_TASK_ID = `{id}` is not a task number"))?;
    let offset: u64 = match env("SWEEP_TASK_OFFSET") {
        None => 0,
        Some(o) if o.trim().is_empty() => 0,
        Some(o) => o
            .trim()
            .parse()
            .with_context(|| format!("SWEEP_TASK_OFFSET = `{o}` is not a number"))?,
    };
    offset
        .checked_add(id)
        .context("SWEEP_TASK_OFFSET + SLURM_ARRAY_TASK_ID overflows")
}

/// `SLURM_CPUS_PER_TASK`, default 1.
pub fn threads_from_env(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<usize> {
    match env("SLURM_CPUS_PER_TASK") {
        None => Ok(1),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => bail!("SLURM_CPUS_PER_TASK = `{v}` is not a positive number"),
        },
    }
}

/// This machine's host name: `/proc/sys/kernel/hostname`, else the `hostname` command,
/// else `$HOSTNAME`, else `unknown`.
pub fn host_name() -> String {
    let clean = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(clean)
        .or_else(|| {
            std::process::Command::new("hostname")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(clean)
        })
        .or_else(|| std::env::var("HOSTNAME").ok().and_then(clean))
        .unwrap_or_else(|| "unknown".to_string())
}

fn slurm_ids() -> (SlurmIds, Option<String>) {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    (
        SlurmIds {
            array_job_id: var("SLURM_ARRAY_JOB_ID"),
            array_task_id: var("SLURM_ARRAY_TASK_ID"),
            job_id: var("SLURM_JOB_ID"),
            restart_count: var("SLURM_RESTART_COUNT").and_then(|v| v.trim().parse().ok()),
        },
        var("SLURMD_NODENAME"),
    )
}

/// The result files of `task` already in `results/`, judged by the contract's one
/// classification: the complete ones of this plan, and the others with the reason.
struct Existing {
    complete: Vec<PathBuf>,
    untrusted: Vec<(PathBuf, String)>,
}

fn existing_results(dir: &SweepDir, plan: &Plan, task: u64) -> anyhow::Result<Existing> {
    let listing = ResultsListing::read(dir)?;
    let mut out = Existing {
        complete: Vec::new(),
        untrusted: Vec::new(),
    };
    for path in listing.results {
        let named = path
            .file_name()
            .and_then(|n| parse_result_file_name(&n.to_string_lossy()))
            .map(|(k, _)| k);
        if named != Some(task) {
            continue;
        }
        let read = read_result_file(&path, false, |_| {});
        let check = check_file(Some(plan), &path, read);
        match check.verdict {
            FileVerdict::Complete => out.complete.push(path),
            v => out.untrusted.push((
                path,
                format!("{}: {}", v.label(), v.reason().unwrap_or_default()),
            )),
        }
    }
    Ok(out)
}

/// Moves `path` to the quarantine, saying why on stderr.
fn set_aside(dir: &SweepDir, path: &Path, reason: &str) -> anyhow::Result<PathBuf> {
    let target = quarantine(dir, path)?;
    sweep_core::errln!(
        "bt-worker: {} {reason}; moved to {}",
        path.display(),
        target.display()
    );
    Ok(target)
}

/// Daily simple returns of an equity curve.
pub(crate) fn daily_returns(equity: &[f64]) -> Vec<f64> {
    equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

/// What a run keeps of its daily returns (`[backtest] keep_returns`, `pbo_blocks`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keep {
    pub mode: KeepReturns,
    pub blocks: usize,
}

impl Keep {
    pub(crate) fn of(config: &backtest::BacktestConfig) -> Keep {
        Keep {
            mode: config.keep_returns,
            blocks: config.pbo_blocks,
        }
    }

    /// The daily returns (`"daily"`) or their CSCV block moments (`true`) of `equity`, as
    /// a run keeps them. A series shorter than S keeps no moments (PBO then says so).
    pub(crate) fn of_curve(self, equity: &[f64]) -> (Option<Vec<f64>>, Option<BlockMoments>) {
        match self.mode {
            KeepReturns::No => (None, None),
            KeepReturns::Daily => (Some(daily_returns(equity)), None),
            KeepReturns::Moments => (None, BlockMoments::of(&daily_returns(equity), self.blocks)),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs one combination over the full period and, for a walk-forward plan, over each of
/// its windows (`windows`: one runner per window); errors and panics become
/// `status = "error"` (a window's error names the window).
fn run_one(
    runner: &TaskRunner<'_>,
    windows: Option<&WindowRunners<'_>>,
    keep_returns: Keep,
    entry: ManifestEntry,
) -> Run {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let out = runner.run(&entry.params).map_err(|e| e.to_string())?;
        let runs = windows.map(|w| w.run(&entry.params)).transpose()?;
        Ok::<_, String>((out, runs))
    }));
    let failed = |message: String| Run::failed(entry.i, entry.params.clone(), message);
    match outcome {
        Ok(Ok((out, runs))) => ok_run(entry.i, entry.params.clone(), out, runs, keep_returns),
        Ok(Err(e)) => failed(e),
        Err(payload) => failed(format!("panic: {}", panic_message(payload.as_ref()))),
    }
}

fn ok_run(
    i: u64,
    params: backtest::Params,
    out: RunOutput,
    windows: Option<WindowMetrics>,
    keep_returns: Keep,
) -> Run {
    let (returns, blocks) = keep_returns.of_curve(&out.equity);
    Run {
        i,
        params,
        status: RunStatus::Ok,
        error: None,
        returns,
        metrics: Some(out.metrics),
        in_sample: out.in_sample,
        out_of_sample: out.out_of_sample,
        windows: windows.map(|w| WindowRuns {
            train: w.train,
            test: w.test,
        }),
        blocks,
    }
}

/// Every combination of `entries` as failed with `message` (nothing could run).
fn failed_runs(entries: Vec<ManifestEntry>, message: &str) -> Vec<Run> {
    entries
        .into_iter()
        .map(|e| Run::failed(e.i, e.params, message.to_string()))
        .collect()
}

/// Runs task `task` of the sweep in `sweep_dir` on `threads` threads and writes its result
/// file (see the module documentation for the skip and quarantine rules).
pub fn run_task(
    sweep_dir: &Path,
    task: u64,
    force: bool,
    threads: usize,
) -> anyhow::Result<TaskOutcome> {
    let clock = Instant::now();
    let started: DateTime<Utc> = Utc::now();
    let dir = SweepDir::new(sweep_dir);
    let (plan, spec) = load_plan(sweep_dir)
        .with_context(|| format!("{}: not a planned sweep directory", sweep_dir.display()))?;
    if task >= plan.tasks {
        bail!(
            "task {task} does not exist: the plan of {} has {} task{} (0..={})",
            plan.name,
            plan.tasks,
            if plan.tasks == 1 { "" } else { "s" },
            plan.tasks.saturating_sub(1)
        );
    }

    let existing = existing_results(&dir, &plan, task)?;
    for (path, reason) in &existing.untrusted {
        set_aside(&dir, path, &format!("cannot be trusted ({reason})"))?;
    }
    if let Some(done) = existing.complete.first() {
        if !force {
            sweep_core::errln!(
                "bt-worker: task {task}: a complete result exists ({}); skipped (--force runs it again)",
                done.display()
            );
            return Ok(TaskOutcome::Skipped {
                existing: done.clone(),
            });
        }
    }

    let range = plan.task_range(task);
    let (entries, reached) = read_task(
        &dir.manifest(),
        plan.manifest_index.as_ref(),
        task,
        range.clone(),
    )
    .with_context(|| format!("task {task}: cannot read its combinations"))?;
    sweep_core::errln!(
        "bt-worker: task {task}: started in {:.3} s (combinations {}..{} of {}, manifest {})",
        clock.elapsed().as_secs_f64(),
        range.start,
        range.end,
        plan.combos,
        reached.label()
    );
    check_spec_unchanged(&plan, &spec, &dir.spec())?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .context("cannot start the worker threads")?;
    let runs = if spec.command.is_some() {
        match command_runs(sweep_dir, &plan, &spec, task, &pool, entries)? {
            Ok(runs) => runs,
            Err(signal) => {
                sweep_core::errln!(
                    "bt-worker: task {task}: stopped by {}: the running programs were ended; no result written (the task runs again later)",
                    Interrupt::name(signal)
                );
                return Ok(TaskOutcome::Interrupted { signal });
            }
        }
    } else {
        builtin_runs(&spec, &plan, task, &pool, entries)
    };
    finish_task(
        &dir, &plan, task, range, runs, force, &existing, started, clock,
    )
}

/// The runs of a built-in or rules task: data loaded once, the strategy prepared once,
/// the combinations through one [`TaskRunner`] on `pool`.
fn builtin_runs(
    spec: &sweep_core::Spec,
    plan: &Plan,
    task: u64,
    pool: &rayon::ThreadPool,
    entries: Vec<ManifestEntry>,
) -> Vec<Run> {
    let data = spec
        .data()
        .map_err(|e| e.to_string())
        .and_then(|data| {
            check_data_unchanged(plan, Some(data))
                .map_err(|e| e.to_string())
                .map(|()| data)
        })
        .and_then(|data| {
            MarketData::load(data, &spec.backtest)
                .map_err(|e| format!("data could not be loaded: {e}"))
        });
    if let Ok(market) = &data {
        for note in market.notes() {
            sweep_core::errln!("bt-worker: task {task}: note: {note}");
        }
    }
    // The strategy, once per task: a rules spec's rules are compiled here.
    let prepared = data.and_then(|data| {
        SpecStrategy::of(spec)
            .map_err(|e| e.to_string())
            .and_then(|strategy| match strategy.engine() {
                Some(_) => Ok((data, strategy)),
                None => Err(format!(
                    "strategy `{}` is not the engine's",
                    strategy.name()
                )),
            })
            .map_err(|e| format!("the strategy cannot be prepared: {e}"))
    });
    match prepared {
        Ok((data, strategy)) => {
            let config = &spec.backtest;
            let combos: Vec<Params> = entries.iter().map(|e| e.params.clone()).collect();
            let Some(engine) = strategy.engine() else {
                return failed_runs(entries, "the strategy is not the engine's");
            };
            // Walk-forward: one runner per window, built once for the task.
            let window_configs = plan
                .walk_forward
                .as_ref()
                .map(|wf| WindowConfigs::new(config, &wf.windows));
            let runners = TaskRunner::new(&data, engine, config, &combos).and_then(|runner| {
                let windows = window_configs
                    .as_ref()
                    .map(|w| w.runners(&data, engine, &combos))
                    .transpose()?;
                Ok((runner, windows))
            });
            match runners {
                Ok((runner, windows)) => pool.install(|| {
                    entries
                        .into_par_iter()
                        .map(|e| run_one(&runner, windows.as_ref(), Keep::of(config), e))
                        .collect()
                }),
                Err(e) => {
                    let message = format!("the task's runs cannot be prepared: {e}");
                    sweep_core::errln!("bt-worker: task {task}: {message}");
                    failed_runs(entries, &message)
                }
            }
        }
        Err(message) => {
            sweep_core::errln!("bt-worker: task {task}: {message}");
            failed_runs(entries, &message)
        }
    }
}

/// The runs of a command sweep's task: the inputs and data checked against the plan, then
/// each combination's program on `pool` (as many at once as it has threads). `Err(signal)`
/// when SIGINT or SIGTERM stopped it.
fn command_runs(
    sweep_dir: &Path,
    plan: &Plan,
    spec: &sweep_core::Spec,
    task: u64,
    pool: &rayon::ThreadPool,
    entries: Vec<ManifestEntry>,
) -> anyhow::Result<Result<Vec<Run>, i32>> {
    let interrupt = Interrupt::install().context("cannot catch SIGINT and SIGTERM")?;
    let checked = check_data_unchanged(plan, spec.data.as_ref())
        .and_then(|()| check_inputs_unchanged(plan))
        .map_err(|e| e.to_string());
    let runner = crate::command::CommandRunner::new(spec, plan, sweep_dir, task, false)?;
    let runs = match checked {
        Ok(()) => pool.install(|| {
            entries
                .into_par_iter()
                .map(|e| runner.run(&e, Some(&interrupt)).run)
                .collect()
        }),
        Err(message) => {
            sweep_core::errln!("bt-worker: task {task}: {message}");
            failed_runs(entries, &message)
        }
    };
    Ok(match interrupt.received() {
        Some(sig) => Err(sig),
        None => Ok(runs),
    })
}

/// Writes the result file of `task` (see the module documentation for the skip and
/// quarantine rules).
#[allow(clippy::too_many_arguments)]
fn finish_task(
    dir: &SweepDir,
    plan: &Plan,
    task: u64,
    range: std::ops::Range<u64>,
    runs: Vec<Run>,
    force: bool,
    existing: &Existing,
    started: DateTime<Utc>,
    clock: Instant,
) -> anyhow::Result<TaskOutcome> {
    let host = host_name();
    let (slurm, slurmd_nodename) = slurm_ids();
    let file = ResultFile {
        schema: RESULT_SCHEMA_V2.to_string(),
        sweep: plan.name.clone(),
        plan_hash: plan.hash.clone(),
        task,
        first: range.start,
        count: range.end - range.start,
        slurm,
        host: host.clone(),
        slurmd_nodename,
        worker_version: env!("CARGO_PKG_VERSION").to_string(),
        arch: std::env::consts::ARCH.to_string(),
        started,
        finished: Utc::now(),
        runs,
    };
    let failed = file.failed() as u64;
    let target = dir.result_file(task, &host);
    if force {
        for old in existing.complete.iter().filter(|p| **p != target) {
            set_aside(dir, old, "is replaced (--force)")?;
        }
        if target.exists() {
            set_aside(dir, &target, "is replaced (--force)")?;
        }
    }
    // The column sidecar first, then the JSON that names it, each atomically.
    let written = write_result(&dir.results(), &file)
        .with_context(|| format!("{}: cannot write the result", target.display()))?;
    debug_assert_eq!(written, target);
    sweep_core::errln!(
        "bt-worker: task {task}: {} combinations, {} ok, {failed} failed, {:.2} s -> {}",
        file.count,
        file.count - failed,
        clock.elapsed().as_secs_f64(),
        target.display()
    );
    Ok(TaskOutcome::Ran {
        file: target,
        combos: file.count,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn task_number_from_array_id_and_offset() {
        assert_eq!(
            task_from_env(&env(&[("SLURM_ARRAY_TASK_ID", "7")])).expect("id"),
            7
        );
        assert_eq!(
            task_from_env(&env(&[
                ("SLURM_ARRAY_TASK_ID", "7"),
                ("SWEEP_TASK_OFFSET", "1001")
            ]))
            .expect("id"),
            1008
        );
        let err = task_from_env(&env(&[]))
            .expect_err("nothing set")
            .to_string();
        assert!(err.contains("--task"), "{err}");
        assert!(task_from_env(&env(&[("SLURM_ARRAY_TASK_ID", "x")])).is_err());
        assert!(task_from_env(&env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SWEEP_TASK_OFFSET", "-1")
        ]))
        .is_err());
    }

    #[test]
    fn threads_default_to_one() {
        assert_eq!(threads_from_env(&env(&[])).expect("default"), 1);
        assert_eq!(
            threads_from_env(&env(&[("SLURM_CPUS_PER_TASK", "4")])).expect("4"),
            4
        );
        assert!(threads_from_env(&env(&[("SLURM_CPUS_PER_TASK", "0")])).is_err());
    }

    #[test]
    fn returns_from_equity() {
        let r = daily_returns(&[100.0, 110.0, 99.0]);
        assert_eq!(r.len(), 2);
        assert!(
            (r[0] - 0.1).abs() < 1e-12 && (r[1] + 0.1).abs() < 1e-12,
            "{r:?}"
        );
    }
}
