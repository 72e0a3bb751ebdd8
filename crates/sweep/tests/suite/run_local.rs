//! `sweep run --local` as processes see it: SIGINT or SIGTERM to `sweep` alone stops its
//! `bt-worker` children (no orphan keeps writing results) and exits 130 / 143 saying what
//! was left; a second run of the same sweep is refused while the first holds the run lock,
//! and a killed run does not block the next one.
//!
//! The sweep is slow on purpose: `ma_cross` on SPY's whole history (real data from
//! `$SLURM_SWEEP_DATA`), 59,501 window pairs in tasks of 4,000, so that each task runs for
//! seconds and the signal lands while two workers run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::procs::{bin_dir, signal, wait_child, wait_until, workers_of, WorkerReaper};
use crate::util::{real_data, show};

fn sweep() -> Command {
    let mut c = Command::new(bin_dir().join("sweep"));
    c.env_remove("SLURM_SWEEP_TEMPLATES")
        .env_remove("SLURM_SWEEP_SHAREDFS");
    c
}

/// Plans the slow sweep in a temp dir; returns (temp dir, sweep directory).
fn slow_sweep() -> (tempfile::TempDir, PathBuf) {
    plan_ma_cross("slow", 200, 400, 4000)
}

/// Plans an ma_cross sweep over SPY (fast 2..=`fast`, slow 2..=`slow`, fast < slow) in
/// tasks of `per` in a temp dir; returns (temp dir, sweep directory).
fn plan_ma_cross(name: &str, fast: u32, slow: u32, per: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = real_data().join("qstrader_examples");
    assert!(
        data.join("SPY.csv").is_file(),
        "{} has no SPY.csv (set SLURM_SWEEP_DATA)",
        data.display()
    );
    let spec = dir.path().join(format!("{name}.toml"));
    std::fs::write(
        &spec,
        format!(
            "name = \"{name}\"\nstrategy = \"ma_cross\"\nconstraints = [\"fast < slow\"]\n\n\
             [data]\ndir = {data:?}\nsymbols = [\"SPY\"]\n\n\
             [params]\nfast = {{ from = 2, to = {fast}, step = 1 }}\nslow = {{ from = 2, to = {slow}, step = 1 }}\n\n\
             [slurm]\ntime = \"00:10:00\"\ncombos_per_task = {per}\n",
            data = data.display().to_string()
        ),
    )
    .expect("write spec");
    let out = sweep()
        .arg("plan")
        .arg(&spec)
        .arg("--sharedfs")
        .arg(dir.path())
        .output()
        .expect("run sweep plan");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let sweep_dir = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("dir:"))
        .map(|d| PathBuf::from(d.trim()))
        .unwrap_or_else(|| panic!("no dir line: {stdout}"));
    (dir, sweep_dir)
}

/// Starts `sweep run DIR --local -j 2 --no-collect` with its output piped.
fn start_run(sweep_dir: &Path) -> Child {
    sweep()
        .arg("run")
        .arg(sweep_dir)
        .args(["--local", "-j", "2", "--no-collect"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sweep run")
}

/// The result files of the sweep directory.
fn results(sweep_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sweep_dir.join("results"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A finished `sweep run`: its exit code and what it printed.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn show(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Waits at most `limit` for `run` (killed past that) and reads what it printed.
fn finish(mut run: Child, limit: Duration, what: &str) -> Finished {
    use std::io::Read;
    let status = wait_child(&mut run, limit, what);
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = run.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = run.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    Finished {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// Waits until `n` workers of the sweep run; panics (after killing `run`) if they never do.
fn wait_for_workers(run: &mut Child, sweep_dir: &Path, n: usize) {
    if !wait_until(Duration::from_secs(30), || workers_of(sweep_dir).len() >= n) {
        let _ = run.kill();
        let _ = run.wait();
        panic!(
            "{n} bt-worker processes of {} never ran",
            sweep_dir.display()
        );
    }
}

/// Starts a run of `sweep_dir`, waits for one worker, stops the run with SIGTERM: proves
/// the run lock was free.
fn starts_and_stops(sweep_dir: &Path) {
    let mut run = start_run(sweep_dir);
    wait_for_workers(&mut run, sweep_dir, 1);
    signal(run.id(), libc::SIGTERM);
    let done = finish(run, Duration::from_secs(15), "sweep run");
    assert_eq!(done.code, Some(143), "{}", done.show());
}

/// Sends `sig` to `sweep run` alone, then checks it stopped its workers and said so.
fn signal_stops_the_workers(sig: i32, name: &str, code: i32) {
    let (_dir, sweep_dir) = slow_sweep();
    let reaper = WorkerReaper(sweep_dir.clone());
    let mut run = start_run(&sweep_dir);
    wait_for_workers(&mut run, &sweep_dir, 2);
    signal(run.id(), sig);
    let done = finish(run, Duration::from_secs(15), "sweep run");
    // No worker outlives sweep; none is left to write a result later.
    let orphans = reaper.kill_now();
    assert!(
        orphans.is_empty(),
        "bt-worker processes {orphans:?} of {} outlived `sweep run` after {name}:\n{}",
        sweep_dir.display(),
        done.show()
    );
    let after_exit = results(&sweep_dir);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        results(&sweep_dir),
        after_exit,
        "a result file appeared after `sweep run` exited"
    );
    assert_eq!(done.code, Some(code), "{}", done.show());
    for expected in [
        format!("sweep run interrupted by {name}"),
        "interrupted: tasks ".to_string(),
        "they run again on the next `sweep run`".to_string(),
        "not started: tasks".to_string(),
        format!("to finish: sweep run {} --local", sweep_dir.display()),
    ] {
        assert!(
            done.stdout.contains(&expected),
            "missing {expected:?} in:\n{}",
            done.show()
        );
    }
    for expected in [
        format!("{name} received: starting no further task"),
        format!("sweep: interrupted by {name}"),
    ] {
        assert!(
            done.stderr.contains(&expected),
            "missing {expected:?} in:\n{}",
            done.show()
        );
    }
    // The lock went with the run: the next one starts.
    starts_and_stops(&sweep_dir);
    assert!(reaper.kill_now().is_empty());
}

#[test]
fn sigterm_to_sweep_alone_stops_its_workers_and_exits_143() {
    signal_stops_the_workers(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn sigint_to_sweep_alone_stops_its_workers_and_exits_130() {
    signal_stops_the_workers(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn a_second_run_of_the_same_sweep_is_refused_and_a_killed_run_blocks_nothing() {
    let (_dir, sweep_dir) = slow_sweep();
    let reaper = WorkerReaper(sweep_dir.clone());
    let mut first = start_run(&sweep_dir);
    wait_for_workers(&mut first, &sweep_dir, 1);

    // Refused at once (were it to run, it would be killed after 10 s, its workers by the
    // reaper).
    let second = finish(
        start_run(&sweep_dir),
        Duration::from_secs(10),
        "second sweep run",
    );
    assert_eq!(second.code, Some(2), "{}", second.show());
    for expected in [
        format!("error: {} is already being run", sweep_dir.display()),
        format!("pid {} on host ", first.id()),
        ", started 20".to_string(),
        "run.lock".to_string(),
    ] {
        assert!(
            second.stderr.contains(&expected),
            "missing {expected:?} in:\n{}",
            second.show()
        );
    }
    assert!(
        !second.stderr.contains("using bt-worker") && second.stdout.is_empty(),
        "the second run got further than the lock:\n{}",
        second.show()
    );

    // A run killed outright (no chance to clean up) does not block the next one: the
    // kernel releases its lock. Its orphaned workers are this test's to stop.
    first.kill().expect("SIGKILL the first run");
    let _ = first.wait();
    reaper.kill_now();
    assert!(wait_until(Duration::from_secs(5), || workers_of(
        &sweep_dir
    )
    .is_empty()));
    starts_and_stops(&sweep_dir);
}

/// Runs `sweep run DIR --local -j 2 --no-collect` to the end with stderr piped (not a
/// terminal) and the progress line every 50 ms.
fn run_to_end(sweep_dir: &Path) -> Finished {
    let run = sweep()
        .arg("run")
        .arg(sweep_dir)
        .args(["--local", "-j", "2", "--no-collect"])
        .env("SWEEP_PROGRESS_SECONDS", "0.05")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sweep run");
    finish(run, Duration::from_secs(120), "sweep run")
}

/// The workers' stderr logs of the sweep, concatenated in task order.
fn worker_logs(sweep_dir: &Path, tasks: u64) -> String {
    (0..tasks)
        .map(|t| {
            std::fs::read_to_string(sweep_dir.join("logs").join(format!("local_{t}.err")))
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_run_without_a_terminal_prints_plain_progress_lines_and_tasks_seek_their_lines() {
    // 1,225 combinations (fast 2..=50 < slow 2..=51) in 25 tasks of 49.
    let (_dir, sweep_dir) = plan_ma_cross("progress", 50, 51, 49);
    assert!(sweep_dir.join("manifest.idx").is_file());
    let plan = std::fs::read_to_string(sweep_dir.join("plan.json")).expect("plan.json");
    assert!(plan.contains("\"manifest_index\""), "{plan}");
    let done = run_to_end(&sweep_dir);
    assert_eq!(done.code, Some(0), "{}", done.show());
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.starts_with("sweep run: "))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("25 tasks to run (1225 combinations), 2 at once")),
        "{}",
        done.show()
    );
    // Neither bar nor terminal control codes: plain lines only.
    assert!(!done.stderr.contains('\u{1b}'), "{}", done.show());
    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.starts_with("sweep run: 25/25 tasks, 1225/1225 combinations (100.0%), ")
            && last.contains(" combinations/s, ")
            && last.ends_with("done"),
        "{}",
        done.show()
    );
    // Every worker found its lines through the index, and said how long it took to start.
    let logs = worker_logs(&sweep_dir, 25);
    assert_eq!(
        logs.matches("manifest seek by manifest.idx").count(),
        25,
        "{logs}"
    );
    assert!(
        logs.contains("bt-worker: task 24: started in ")
            && logs.contains("(combinations 1176..1225 of 1225, manifest seek by manifest.idx)"),
        "{logs}"
    );
}

#[test]
fn a_sweep_planned_before_the_index_still_runs_by_scanning_and_a_lost_index_is_named() {
    let (_dir, sweep_dir) = plan_ma_cross("noindex", 30, 31, 100);
    // As planned before manifest.idx existed: no record in plan.json, no file.
    let plan_path = sweep_dir.join("plan.json");
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).expect("plan")).expect("json");
    let record = plan
        .as_object_mut()
        .and_then(|o| o.remove("manifest_index"))
        .expect("a manifest_index record");
    std::fs::write(&plan_path, serde_json::to_vec_pretty(&plan).expect("json")).expect("write");
    let idx = std::fs::read(sweep_dir.join("manifest.idx")).expect("manifest.idx");
    std::fs::remove_file(sweep_dir.join("manifest.idx")).expect("rm");
    let done = run_to_end(&sweep_dir);
    assert_eq!(done.code, Some(0), "{}", done.show());
    let logs = worker_logs(&sweep_dir, 5);
    assert_eq!(
        logs.matches("manifest scan (no manifest.idx in the plan)")
            .count(),
        5,
        "{logs}"
    );

    // The record back but the file gone: the task fails, naming the file.
    plan.as_object_mut()
        .expect("object")
        .insert("manifest_index".into(), record);
    std::fs::write(&plan_path, serde_json::to_vec_pretty(&plan).expect("json")).expect("write");
    std::fs::remove_dir_all(sweep_dir.join("results")).expect("rm results");
    let done = run_to_end(&sweep_dir);
    assert_ne!(done.code, Some(0), "{}", done.show());
    let logs = worker_logs(&sweep_dir, 5);
    assert!(
        logs.contains("manifest.idx: is missing (plan.json records a manifest index)"),
        "{logs}"
    );
    // Restored, it runs again.
    std::fs::write(sweep_dir.join("manifest.idx"), idx).expect("write");
    let done = run_to_end(&sweep_dir);
    assert_eq!(done.code, Some(0), "{}", done.show());
}
