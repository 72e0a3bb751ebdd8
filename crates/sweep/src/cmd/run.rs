//! `sweep run DIR|SPEC --local [-j N]`: runs every array task that is not done as a local
//! `bt-worker task` process (the worker chosen as the array script chooses it:
//! `[slurm] worker`, `<sharedfs>/bin/<arch>/bt-worker`, beside `sweep`, PATH), with the
//! environment SLURM would give it (`SLURM_ARRAY_TASK_ID`, `SWEEP_TASK_OFFSET`,
//! `SLURM_ARRAY_JOB_ID=local-<pid>`, ...), at most N at once, stdout/stderr to
//! `logs/local_<task>.out|.err`. The sweep directory ends up exactly as after a SLURM run.
//! Then runs `collect DIR` when that binary exists.
//!
//! * **One run per sweep**: the run holds `<sweep dir>/run.lock`
//!   ([`sweep_core::lock::RunLock`]); a second `sweep run` of the same sweep is refused at
//!   once (exit 2), naming the holder's pid, host and start time.
//! * **Stopping**: each worker (and `collect`) runs in its own process group. On SIGINT or
//!   SIGTERM (to `sweep` alone, or Ctrl-C to the terminal's foreground group) no further
//!   task starts, each running worker's process group gets SIGTERM, then SIGKILL after
//!   2 s; `sweep` waits for them, prints which tasks finished, which were interrupted (they
//!   run again on the next `sweep run`) and which never started, and exits 130 (SIGINT) or
//!   143 (SIGTERM). Nothing keeps writing into the sweep directory after it exits.
//! * **Progress** on stderr ([`Progress`]): tasks done of total, combinations per second and
//!   an ETA, as an indicatif bar when stderr is a terminal, else as a plain line at the
//!   start, about every 10 s (`SWEEP_PROGRESS_SECONDS` sets the interval) and at the end.
//!   The supervisor keeps per-task state only (which tasks are queued, running, finished):
//!   nothing per combination, so a 10^7-combination run takes the memory of a small one.

use std::fs::File;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use signal_hook::consts::{SIGCHLD, SIGINT, SIGKILL, SIGTERM};
use signal_hook::iterator::Signals;
use sweep_core::lock::RunLock;
use sweep_core::plan::format_index_list;

use crate::binaries::{self, Worker};
use crate::target::{resolve, sharedfs_of, Loaded, PlanFlags};
use crate::Outcome;
use sweep_core::classify::{scan, TaskVerdict};
use sweep_core::interrupt::Interrupt;
use sweep_core::layout::LogStream;

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
One run per sweep directory at a time (a second one is refused, naming the first). Ctrl-C
(SIGINT) or SIGTERM stops the running workers, says which tasks finished and which will run
again, and exits 130 or 143.

Examples:
  sweep run sweeps/ma_cross.toml --local -j 2 -p fast=5,10,20 -p slow=50..200:50
  sweep run sweeps/sixty_forty.toml --local --sharedfs /sharedfs --no-collect
  sweep run /sharedfs/sweeps/sixty_forty-1a2b3c4d --local   # again: done tasks are skipped";

/// Arguments of `sweep run`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
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
    /// The tasks this run started and saw end (whatever their exit status).
    pub finished: Vec<u64>,
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
    sweep_core::errln!(
        "sweep run: using bt-worker {} ({}; {arch})",
        worker.path.display(),
        worker.source
    );
    Ok(worker)
}

/// Starts the worker of `task` in its own process group (so that a signal meant for
/// `sweep` alone does not reach it, and stopping it stops everything it started), with
/// the environment SLURM would give it and its output in `logs/local_<task>.out|.err`.
fn spawn_task(
    worker: &Path,
    loaded: &Loaded,
    task: u64,
    job_id: &str,
    host: &str,
) -> Result<Child, String> {
    let (chunk, index) = loaded
        .plan
        .array_of(task)
        .ok_or_else(|| format!("task {task} is in no array"))?;
    let offset = loaded.plan.arrays[chunk].offset;
    let log = |stream| {
        let path = loaded.dir.local_log(task, stream);
        File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))
    };
    let out = log(LogStream::Out)?;
    let err = log(LogStream::Err)?;
    Command::new(worker)
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
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", worker.display()))
}

/// The signals that stop a local run, and SIGCHLD, which wakes it when a child ends.
/// Installed once, on the first local run or collect of this process, and kept until it
/// exits: from then on SIGINT and SIGTERM stop the run in order (children killed, what
/// was left printed, exit 130 or 143) instead of killing `sweep` alone.
struct Supervisor {
    signals: Signals,
    stop: Option<i32>,
    /// Keeps SIGINT and SIGTERM from taking their default action (ending `sweep` at once)
    /// for as long as the supervisor lives, which is until the process exits.
    _caught: Interrupt,
}

static SUPERVISOR: Mutex<Option<Supervisor>> = Mutex::new(None);

/// The process's [`Supervisor`], installed on first use.
fn supervisor() -> anyhow::Result<MutexGuard<'static, Option<Supervisor>>> {
    let mut guard = SUPERVISOR.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let signals = Signals::new([SIGINT, SIGTERM, SIGCHLD])
            .context("cannot install the SIGINT/SIGTERM handlers of the local run")?;
        let caught = Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
        *guard = Some(Supervisor {
            signals,
            stop: None,
            _caught: caught,
        });
    }
    Ok(guard)
}

impl Supervisor {
    fn note(&mut self, signal: i32) {
        if signal != SIGCHLD && self.stop.is_none() {
            self.stop = Some(signal);
        }
    }

    /// The stop signal received so far, without waiting.
    fn stop_signal(&mut self) -> Option<i32> {
        let pending: Vec<i32> = self.signals.pending().collect();
        for s in pending {
            self.note(s);
        }
        self.stop
    }

    /// Blocks until a signal arrives: a child ended (SIGCHLD), or SIGINT/SIGTERM.
    fn wait(&mut self) {
        let arrived: Vec<i32> = self.signals.wait().collect();
        for s in arrived {
            self.note(s);
        }
    }
}

/// A local run (or its collect) stopped by SIGINT or SIGTERM. `main` exits with
/// [`Interrupted::exit_code`] (130 for SIGINT, 143 for SIGTERM, as shells report them).
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}", Interrupt::name(*.signal))]
pub struct Interrupted {
    pub signal: i32,
}

impl Interrupted {
    pub fn exit_code(&self) -> u8 {
        Interrupt::exit_status(self.signal)
    }
}

/// How long stopped children get between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Stops running children: SIGTERM to each one's process group, SIGKILL to the groups
/// still alive after [`STOP_GRACE`], then waits for every child. Returns each child's
/// exit code (`None` when a signal ended it).
fn stop_children<T: Copy>(running: Vec<(T, Child)>) -> Vec<(T, Option<i32>)> {
    let kill_group = |child: &Child, signal: i32| {
        if let Ok(pgid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) takes no pointers. The child is not reaped yet, so its pid
            // (its process group's id, from process_group(0)) is not reused.
            unsafe {
                libc::kill(-pgid, signal);
            }
        }
    };
    for (_, child) in &running {
        kill_group(child, SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    let mut alive = running;
    let mut ended = Vec::new();
    while !alive.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for (t, mut child) in alive {
            match child.try_wait() {
                Ok(Some(status)) => ended.push((t, status.code())),
                Ok(None) => still.push((t, child)),
                Err(_) => ended.push((t, None)),
            }
        }
        alive = still;
        if !alive.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for (t, mut child) in alive {
        kill_group(&child, SIGKILL);
        ended.push((t, child.wait().ok().and_then(|s| s.code())));
    }
    ended
}

/// Reaps the children that ended; returns whether any did.
fn reap(
    running: &mut Vec<(u64, Child)>,
    finished: &mut Vec<(u64, Result<i32, String>)>,
    progress: &Progress,
) -> bool {
    let before = finished.len();
    let mut still = Vec::with_capacity(running.len());
    for (task, mut child) in running.drain(..) {
        let r = match child.try_wait() {
            Ok(None) => {
                still.push((task, child));
                continue;
            }
            Ok(Some(status)) => match status.code() {
                Some(code) => Ok(code),
                None => Err(format!("bt-worker was killed ({status})")),
            },
            Err(e) => Err(format!("cannot wait for bt-worker: {e}")),
        };
        progress.task_ended(task, !matches!(r, Ok(0)));
        finished.push((task, r));
    }
    *running = still;
    finished.len() > before
}

/// Runs every task of the sweep that is not done, `jobs` at once, holding the sweep
/// directory's run lock (a second local run of the same sweep is refused, naming this
/// one). On SIGINT or SIGTERM it starts no further task, stops the running ones (their
/// whole process groups), prints which tasks finished and which were interrupted, and
/// returns [`Interrupted`].
pub fn run_local(loaded: &Loaded, worker: &Path, jobs: usize) -> anyhow::Result<LocalRun> {
    let lock = RunLock::acquire(loaded.dir.root(), &binaries::host_name())?;
    run_local_locked(loaded, worker, jobs, &lock)
}

/// [`run_local`] under a run lock the caller took (the lock is only borrowed as proof).
fn run_local_locked(
    loaded: &Loaded,
    worker: &Path,
    jobs: usize,
    lock: &RunLock,
) -> anyhow::Result<LocalRun> {
    let host = lock.holder().host.clone();
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
    let mut guard = supervisor()?;
    let Some(sup) = guard.as_mut() else {
        anyhow::bail!("the signal handlers of the local run are not installed");
    };
    let job_id = format!("local-{}", std::process::id());
    let jobs = jobs.max(1);
    let progress = Progress::start(
        &loaded.plan,
        &todo,
        jobs,
        std::io::stderr().is_terminal(),
        progress_interval(),
    );
    let mut queue = todo.iter().copied();
    let mut running: Vec<(u64, Child)> = Vec::new();
    let mut finished: Vec<(u64, Result<i32, String>)> = Vec::new();
    let started = Instant::now();
    let stop = loop {
        if let Some(signal) = sup.stop_signal() {
            break Some(signal);
        }
        while running.len() < jobs {
            let Some(task) = queue.next() else { break };
            match spawn_task(worker, loaded, task, &job_id, &host) {
                Ok(child) => running.push((task, child)),
                Err(e) => {
                    progress.task_ended(task, true);
                    finished.push((task, Err(e)));
                }
            }
        }
        if running.is_empty() {
            break None;
        }
        if !reap(&mut running, &mut finished, &progress) {
            sup.wait();
        }
    };
    progress.finish(stop.is_some());
    let mut interrupted = Vec::new();
    if let Some(signal) = stop {
        sweep_core::errln!(
            "sweep run: {} received: starting no further task; stopping the {} running \
             (SIGTERM, then SIGKILL after {} s)",
            Interrupt::name(signal),
            running.len(),
            STOP_GRACE.as_secs()
        );
        for (task, code) in stop_children(std::mem::take(&mut running)) {
            match code {
                // The worker finished (and wrote its result) before it was stopped.
                Some(code @ (0 | 1)) => finished.push((task, Ok(code))),
                _ => interrupted.push(task),
            }
        }
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    finished.sort_by_key(|(t, _)| *t);
    for (task, r) in finished {
        outcome.ran += 1;
        outcome.finished.push(task);
        match r {
            Ok(0) => {}
            Ok(1) => outcome.with_failures.push(task),
            Ok(code) => outcome
                .errors
                .push((task, format!("bt-worker exited with status {code}"))),
            Err(e) => outcome.errors.push((task, e)),
        }
    }
    if let Some(signal) = stop {
        interrupted.sort_unstable();
        let not_started: Vec<u64> = queue.collect();
        report_interrupted(loaded, &outcome, &interrupted, &not_started, signal)?;
        return Err(Interrupted { signal }.into());
    }
    Ok(outcome)
}

/// How often the plain progress line is printed when stderr is not a terminal:
/// `SWEEP_PROGRESS_SECONDS` (seconds, > 0), else 10 s.
fn progress_interval() -> Duration {
    std::env::var("SWEEP_PROGRESS_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

/// Counters a progress line is made of (shared with the ticker thread).
#[derive(Debug, Default)]
struct Counts {
    tasks_done: AtomicU64,
    combos_done: AtomicU64,
    failed: AtomicU64,
}

/// The progress of a local run on stderr: an indicatif bar over the combinations when
/// stderr is a terminal, else a plain line from a ticker thread every `interval` (and one
/// at the start and at the end). Holds counters, not per-task or per-combination records.
struct Progress {
    tasks: u64,
    combos: u64,
    /// Combinations per task (all but the last task of the plan have this many).
    per: u64,
    plan_combos: u64,
    started: Instant,
    counts: Arc<Counts>,
    bar: Option<ProgressBar>,
    ticker: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Progress {
    fn start(
        plan: &sweep_core::Plan,
        todo: &[u64],
        jobs: usize,
        terminal: bool,
        interval: Duration,
    ) -> Progress {
        let combos: u64 = todo
            .iter()
            .map(|&t| {
                let r = plan.task_range(t);
                r.end - r.start
            })
            .sum();
        let mut progress = Progress {
            tasks: todo.len() as u64,
            combos,
            per: plan.combos_per_task.max(1),
            plan_combos: plan.combos,
            started: Instant::now(),
            counts: Arc::new(Counts::default()),
            bar: None,
            ticker: None,
        };
        if terminal {
            let bar = ProgressBar::new(combos);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} combinations \
                 ({rate} combinations/s, ETA {eta}) {msg}",
            ) {
                let style = style.with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}", state.per_sec());
                    },
                );
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(format!("0/{} tasks", progress.tasks));
            bar.enable_steady_tick(Duration::from_millis(500));
            progress.bar = Some(bar);
        } else {
            sweep_core::errln!(
                "sweep run: {} task{} to run ({combos} combinations), {jobs} at once",
                progress.tasks,
                if progress.tasks == 1 { "" } else { "s" },
            );
            let (tx, rx) = mpsc::channel::<()>();
            let line = progress.liner();
            let handle = std::thread::spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                    sweep_core::errln!("{}", line());
                }
            });
            progress.ticker = Some((tx, handle));
        }
        progress
    }

    /// A function giving the plain progress line now.
    fn liner(&self) -> impl Fn() -> String + Send + 'static {
        let (tasks, combos, started) = (self.tasks, self.combos, self.started);
        let counts = Arc::clone(&self.counts);
        move || {
            progress_line(
                counts.tasks_done.load(Ordering::Relaxed),
                tasks,
                counts.combos_done.load(Ordering::Relaxed),
                combos,
                counts.failed.load(Ordering::Relaxed),
                started.elapsed(),
            )
        }
    }

    /// Task `task` ended (`failed`: not with exit 0).
    fn task_ended(&self, task: u64, failed: bool) {
        let n = task_size(self.plan_combos, self.per, task);
        let done = self.counts.tasks_done.fetch_add(1, Ordering::Relaxed) + 1;
        self.counts.combos_done.fetch_add(n, Ordering::Relaxed);
        if failed {
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.inc(n);
            let failed = self.counts.failed.load(Ordering::Relaxed);
            bar.set_message(if failed > 0 {
                format!(
                    "{done}/{} tasks, {failed} failed (task {task} last)",
                    self.tasks
                )
            } else {
                format!("{done}/{} tasks", self.tasks)
            });
        }
    }

    /// Stops the bar or the ticker; a plain run ends with a last line.
    fn finish(mut self, stopped: bool) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some((tx, handle)) = self.ticker.take() {
            drop(tx);
            let _ = handle.join();
            if !stopped {
                sweep_core::errln!("{}", (self.liner())());
            }
        }
    }
}

/// Combinations of task `task` when `combos` are cut into tasks of `per`.
fn task_size(combos: u64, per: u64, task: u64) -> u64 {
    let r = sweep_core::plan::task_range(combos, per, task);
    r.end - r.start
}

/// `sweep run: 12/400 tasks, 120000/4000000 combinations (3.0%), 95000 combinations/s,
/// ETA 41 s`.
fn progress_line(
    tasks_done: u64,
    tasks: u64,
    combos_done: u64,
    combos: u64,
    failed: u64,
    elapsed: Duration,
) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        combos_done as f64 / secs
    } else {
        0.0
    };
    let pct = if combos > 0 {
        100.0 * combos_done as f64 / combos as f64
    } else {
        100.0
    };
    let eta = if combos_done >= combos {
        "done".to_string()
    } else if rate > 0.0 {
        format!(
            "ETA {}",
            short_duration((combos - combos_done) as f64 / rate)
        )
    } else {
        "ETA unknown".to_string()
    };
    let failed = if failed > 0 {
        format!(", {failed} with errors or failed combinations")
    } else {
        String::new()
    };
    format!(
        "sweep run: {tasks_done}/{tasks} tasks, {combos_done}/{combos} combinations \
         ({pct:.1}%), {rate:.0} combinations/s, {} elapsed, {eta}{failed}",
        short_duration(secs)
    )
}

/// `41 s`, `3 min 05 s`, `1 h 02 min`.
fn short_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

fn tasks_phrase(tasks: &[u64]) -> String {
    match tasks.len() {
        0 => "none".to_string(),
        1 => format!("task {}", format_index_list(tasks)),
        n => format!("tasks {} ({n})", format_index_list(tasks)),
    }
}

/// Prints what an interrupted local run left behind.
fn report_interrupted(
    loaded: &Loaded,
    run: &LocalRun,
    interrupted: &[u64],
    not_started: &[u64],
    signal: i32,
) -> anyhow::Result<()> {
    let failed: Vec<u64> = run.errors.iter().map(|(t, _)| *t).collect();
    let mut finished: Vec<u64> = run.finished.clone();
    finished.retain(|t| !failed.contains(t));
    sweep_core::outln!(
        "sweep run interrupted by {} after {:.1} s:",
        Interrupt::name(signal),
        run.seconds
    );
    sweep_core::outln!(
        "  finished:    {} (results kept{})",
        tasks_phrase(&finished),
        if run.with_failures.is_empty() {
            String::new()
        } else {
            format!(
                "; with failed combinations: {}",
                format_index_list(&run.with_failures)
            )
        }
    );
    sweep_core::outln!(
        "  interrupted: {} (stopped, no result written; they run again on the next `sweep run`)",
        tasks_phrase(interrupted)
    );
    sweep_core::outln!("  not started: {}", tasks_phrase(not_started));
    if !failed.is_empty() {
        sweep_core::outln!(
            "  errors:      {} (see logs/local_<task>.err)",
            tasks_phrase(&failed)
        );
    }
    let results = scan(&loaded.dir, &loaded.plan)?;
    let done = (0..loaded.plan.tasks)
        .filter(|&t| results.verdict(t) == &TaskVerdict::Done)
        .count();
    sweep_core::outln!(
        "{done} of {} tasks done ({} before this run); to finish: sweep run {} --local",
        loaded.plan.tasks,
        run.skipped,
        loaded.dir.root().display()
    );
    Ok(())
}

/// Runs `collect DIR` when the binary exists; prints its output. `None` when absent.
pub fn run_collect(dir: &Path) -> anyhow::Result<Option<i32>> {
    let Some(collect) = binaries::find("collect") else {
        sweep_core::outln!(
            "collect not found beside the sweep executable nor on PATH: results not merged"
        );
        return Ok(None);
    };
    use std::io::Write;
    // Flush what this process printed so collect's table comes after it.
    let _ = std::io::stdout().flush();
    let mut guard = supervisor()?;
    let Some(sup) = guard.as_mut() else {
        anyhow::bail!("the signal handlers of the local run are not installed");
    };
    if let Some(signal) = sup.stop_signal() {
        return Err(Interrupted { signal }.into());
    }
    let mut child = Command::new(&collect)
        .arg(dir)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {}", collect.display()))?;
    loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("cannot wait for {}", collect.display()))?
        {
            return Ok(Some(status.code().unwrap_or(-1)));
        }
        if let Some(signal) = sup.stop_signal() {
            stop_children(vec![((), child)]);
            sweep_core::errln!("sweep run: {}: collect stopped", Interrupt::name(signal));
            return Err(Interrupted { signal }.into());
        }
        sup.wait();
    }
}

/// The stop signal received since the first local run or collect of this process, if any.
pub fn stop_received() -> Option<i32> {
    SUPERVISOR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(Supervisor::stop_signal)
}

/// Prints what a local run did; returns whether every task is done now.
pub fn report(loaded: &Loaded, run: &LocalRun) -> anyhow::Result<bool> {
    sweep_core::outln!(
        "ran {} task{} locally in {:.1} s ({} already done, skipped)",
        run.ran,
        if run.ran == 1 { "" } else { "s" },
        run.seconds,
        run.skipped
    );
    if !run.with_failures.is_empty() {
        sweep_core::outln!(
            "tasks with failed combinations: {} (see logs/local_<task>.err)",
            format_index_list(&run.with_failures)
        );
    }
    for (task, e) in &run.errors {
        let log = loaded.dir.local_log(*task, LogStream::Err);
        sweep_core::outln!("task {task}: {e}");
        for l in sweep_core::jobs::tail_lines(&log, 3) {
            sweep_core::outln!("  | {l}");
        }
    }
    let results = scan(&loaded.dir, &loaded.plan)?;
    let done = (0..loaded.plan.tasks)
        .filter(|&t| results.verdict(t) == &TaskVerdict::Done)
        .count() as u64;
    sweep_core::outln!(
        "{done} of {} tasks done ({} combinations)",
        loaded.plan.tasks,
        loaded.plan.combos
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
    // Refuse a second run of the same sweep before anything else is said or done.
    let lock = RunLock::acquire(loaded.dir.root(), &binaries::host_name())?;
    let worker = choose_local_worker(&loaded)?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let outcome = run_local_locked(&loaded, &worker.path, jobs, &lock)?;
    drop(lock);
    let complete = report(&loaded, &outcome)?;
    let collect_code = if args.no_collect {
        None
    } else {
        run_collect(loaded.dir.root())?
    };
    if let Some(signal) = stop_received() {
        return Err(Interrupted { signal }.into());
    }
    // A worker or collect that failed outright (exit 2: nothing it could write, a refused
    // spec) makes the run an error, not merely incomplete.
    if !outcome.errors.is_empty() {
        let tasks: Vec<u64> = outcome.errors.iter().map(|(t, _)| *t).collect();
        anyhow::bail!(
            "{} task(s) ended with an error ({}): see what they printed above and in logs/local_<task>.err",
            tasks.len(),
            format_index_list(&tasks)
        );
    }
    if collect_code.is_some_and(|c| c >= 2) {
        anyhow::bail!(
            "collect ended with an error (exit {collect_code:?}); see what it printed above"
        );
    }
    let collect_ok = matches!(collect_code, Some(0) | None);
    Ok(if complete && collect_ok {
        Outcome::Complete
    } else {
        Outcome::Incomplete
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_says_tasks_rate_and_eta() {
        let line = progress_line(3, 10, 3000, 10_000, 0, Duration::from_secs(2));
        assert_eq!(
            line,
            "sweep run: 3/10 tasks, 3000/10000 combinations (30.0%), 1500 combinations/s, \
             2 s elapsed, ETA 5 s"
        );
        let line = progress_line(0, 4, 0, 400, 0, Duration::from_secs(1));
        assert!(line.ends_with("ETA unknown"), "{line}");
        let line = progress_line(4, 4, 400, 400, 1, Duration::from_secs(1));
        assert!(
            line.ends_with("done, 1 with errors or failed combinations"),
            "{line}"
        );
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(41.4), "41 s");
        assert_eq!(short_duration(185.0), "3 min 05 s");
        assert_eq!(short_duration(3720.0), "1 h 02 min");
    }

    #[test]
    fn task_sizes_follow_the_chunking() {
        assert_eq!(task_size(1003, 250, 0), 250);
        assert_eq!(task_size(1003, 250, 4), 3);
        assert_eq!(task_size(1003, 250, 5), 0);
    }
}
