//! `sweep run DIR|SPEC --local [-j N]`: runs every array task that is not done as a local
//! `bt-worker task` process (the worker chosen as the array script chooses it:
//! `[slurm] worker`, `<sharedfs>/bin/<arch>/bt-worker`, beside `sweep`, PATH), with the environment SLURM would give it
//! (`SLURM_ARRAY_TASK_ID`, `SWEEP_TASK_OFFSET`, `SLURM_ARRAY_JOB_ID=local-<pid>`, ...), at
//! most N at once, stdout/stderr to `logs/local_<task>.out|.err`. The sweep directory ends
//! up exactly as after a SLURM run. Then runs `collect DIR` when that binary exists.

use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sweep_core::plan::format_index_list;

use crate::binaries::{self, Worker};
use crate::target::{resolve, sharedfs_of, Loaded, PlanFlags};
use crate::Outcome;
use sweep_core::classify::{scan, TaskVerdict};

/// Arguments of `sweep run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A planned sweep directory, or a spec to plan first.
    pub target: PathBuf,
    /// Run the tasks on this machine (the only mode of `run`; `sweep submit` uses SLURM).
    #[arg(long)]
    pub local: bool,
    /// At most N tasks at once [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Do not run `collect` afterwards.
    #[arg(long)]
    pub no_collect: bool,
    #[command(flatten)]
    pub flags: PlanFlags,
}

/// What a local run did.
#[derive(Debug, Default)]
pub struct LocalRun {
    pub skipped: u64,
    pub ran: u64,
    /// Tasks whose worker exited with 1 (some combinations failed).
    pub with_failures: Vec<u64>,
    /// Tasks whose worker exited with another non-zero status or could not start.
    pub errors: Vec<(u64, String)>,
    pub seconds: f64,
}

/// The worker binary: `bt-worker` beside this executable, else on PATH.
pub fn find_worker() -> anyhow::Result<PathBuf> {
    binaries::find("bt-worker").with_context(|| {
        "bt-worker not found beside the sweep executable nor on PATH; build it with \
         `cargo build --release` (builds every binary of the workspace) or put it on PATH"
    })
}

/// The worker of a local run of `loaded`, chosen in the array script's order:
/// `[slurm] worker`, then `<sharedfs>/bin/<arch>/bt-worker` (arch as `uname -m` names it),
/// then beside this executable, then on PATH. Prints which one on stderr.
pub fn choose_local_worker(loaded: &Loaded) -> anyhow::Result<Worker> {
    let root = loaded.dir.root();
    let sweep_dir = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let sharedfs = sharedfs_of(&sweep_dir);
    let arch = crate::cmd::install::host_arch();
    let slurm = &loaded.spec.slurm;
    // With [slurm.container], an explicit worker is a path inside the image, which a
    // local run does not use: when it is not on this machine, look further.
    let worker = binaries::choose_worker(
        slurm.worker.as_deref(),
        slurm.container.is_some(),
        &sharedfs,
        arch,
    )?;
    eprintln!(
        "sweep run: using bt-worker {} ({}; {arch})",
        worker.path.display(),
        worker.source
    );
    Ok(worker)
}

fn run_task(
    worker: &Path,
    loaded: &Loaded,
    task: u64,
    job_id: &str,
    host: &str,
) -> Result<i32, String> {
    let (chunk, index) = loaded
        .plan
        .array_of(task)
        .ok_or_else(|| format!("task {task} is in no array"))?;
    let offset = loaded.plan.arrays[chunk].offset;
    let logs = loaded.dir.logs();
    let out = File::create(logs.join(format!("local_{task}.out")))
        .map_err(|e| format!("cannot create logs/local_{task}.out: {e}"))?;
    let err = File::create(logs.join(format!("local_{task}.err")))
        .map_err(|e| format!("cannot create logs/local_{task}.err: {e}"))?;
    let status = Command::new(worker)
        .arg("task")
        .arg("--sweep-dir")
        .arg(loaded.dir.root())
        .env("SLURM_ARRAY_TASK_ID", index.to_string())
        .env("SWEEP_TASK_OFFSET", offset.to_string())
        .env("SLURM_ARRAY_JOB_ID", job_id)
        .env("SLURM_JOB_ID", format!("{job_id}_{task}"))
        .env(
            "SLURM_ARRAY_TASK_COUNT",
            loaded.plan.arrays[chunk].count.to_string(),
        )
        .env("SLURM_RESTART_COUNT", "0")
        .env("SLURM_CPUS_PER_TASK", "1")
        .env("SLURMD_NODENAME", host)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", worker.display()))?;
    Ok(status.code().unwrap_or(-1))
}

/// Runs every task of the sweep that is not done, `jobs` at once.
pub fn run_local(loaded: &Loaded, worker: &Path, jobs: usize) -> anyhow::Result<LocalRun> {
    std::fs::create_dir_all(loaded.dir.logs())
        .with_context(|| format!("cannot create {}", loaded.dir.logs().display()))?;
    std::fs::create_dir_all(loaded.dir.results())
        .with_context(|| format!("cannot create {}", loaded.dir.results().display()))?;
    let results = scan(&loaded.dir, &loaded.plan)?;
    let todo: Vec<u64> = (0..loaded.plan.tasks)
        .filter(|&t| results.verdict(t) != &TaskVerdict::Done)
        .collect();
    let mut outcome = LocalRun {
        skipped: loaded.plan.tasks - todo.len() as u64,
        ..LocalRun::default()
    };
    if todo.is_empty() {
        return Ok(outcome);
    }
    let job_id = format!("local-{}", std::process::id());
    let host = binaries::host_name();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(todo.len() as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} tasks ({eta} left) {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let next = AtomicUsize::new(0);
    let finished: Mutex<Vec<(u64, Result<i32, String>)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(todo.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&task) = todo.get(i) else { break };
                let r = run_task(worker, loaded, task, &job_id, &host);
                if !matches!(r, Ok(0)) {
                    bar.set_message(format!("task {task} failed"));
                }
                bar.inc(1);
                if let Ok(mut f) = finished.lock() {
                    f.push((task, r));
                }
            });
        }
    });
    bar.finish_and_clear();
    outcome.seconds = started.elapsed().as_secs_f64();
    let mut finished = finished.into_inner().unwrap_or_default();
    finished.sort_by_key(|(t, _)| *t);
    for (task, r) in finished {
        outcome.ran += 1;
        match r {
            Ok(0) => {}
            Ok(1) => outcome.with_failures.push(task),
            Ok(code) => outcome
                .errors
                .push((task, format!("bt-worker exited with status {code}"))),
            Err(e) => outcome.errors.push((task, e)),
        }
    }
    Ok(outcome)
}

/// Runs `collect DIR` when the binary exists; prints its output. `None` when absent.
pub fn run_collect(dir: &Path) -> anyhow::Result<Option<i32>> {
    let Some(collect) = binaries::find("collect") else {
        println!("collect not found beside the sweep executable nor on PATH: results not merged");
        return Ok(None);
    };
    use std::io::Write;
    // Flush what this process printed so collect's table comes after it.
    let _ = std::io::stdout().flush();
    let status = Command::new(&collect)
        .arg(dir)
        .status()
        .with_context(|| format!("cannot run {}", collect.display()))?;
    Ok(Some(status.code().unwrap_or(-1)))
}

/// Prints what a local run did; returns whether every task is done now.
pub fn report(loaded: &Loaded, run: &LocalRun) -> anyhow::Result<bool> {
    println!(
        "ran {} task{} locally in {:.1} s ({} already done, skipped)",
        run.ran,
        if run.ran == 1 { "" } else { "s" },
        run.seconds,
        run.skipped
    );
    if !run.with_failures.is_empty() {
        println!(
            "tasks with failed combinations: {} (see logs/local_<task>.err)",
            format_index_list(&run.with_failures)
        );
    }
    for (task, e) in &run.errors {
        let log = loaded.dir.logs().join(format!("local_{task}.err"));
        println!("task {task}: {e}");
        for l in sweep_core::jobs::tail_lines(&log, 3) {
            println!("  | {l}");
        }
    }
    let results = scan(&loaded.dir, &loaded.plan)?;
    let done = (0..loaded.plan.tasks)
        .filter(|&t| results.verdict(t) == &TaskVerdict::Done)
        .count() as u64;
    println!(
        "{done} of {} tasks done ({} combinations)",
        loaded.plan.tasks, loaded.plan.combos
    );
    Ok(done == loaded.plan.tasks)
}

pub fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    if !args.local {
        anyhow::bail!(
            "`sweep run` needs --local (runs the tasks on this machine); use `sweep submit` to run them on SLURM"
        );
    }
    let loaded = resolve(&args.target, &args.flags)?;
    let worker = choose_local_worker(&loaded)?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let outcome = run_local(&loaded, &worker.path, jobs)?;
    let complete = report(&loaded, &outcome)?;
    let collect_ok = if args.no_collect {
        true
    } else {
        matches!(run_collect(loaded.dir.root())?, Some(0) | None)
    };
    Ok(if complete && collect_ok {
        Outcome::Complete
    } else {
        Outcome::Incomplete
    })
}
