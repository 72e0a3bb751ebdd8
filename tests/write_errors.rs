//! End-to-end: no binary panics when it cannot write. Each of `sweep plan`,
//! `sweep run --local`, `bt-worker task`, `bt-worker run` and `collect` runs
//!
//! - with stdout, stderr, or both on `/dev/full` (every write fails with ENOSPC): it must
//!   not panic (exit code 101, "panicked" in what it printed or in the task logs), and it
//!   must end as it ends normally, except that when it prints something on stdout, losing
//!   that output is an error (exit 2, and "stdout" named on stderr when stderr works);
//!   a lost stderr changes nothing (the rule of `sweep_core::term`);
//! - on a full filesystem (a tmpfs mounted in a private mount namespace with `unshare
//!   --mount`, filled up after the command's inputs are in place): exit 2 with an error that
//!   names the file it could not write and says "No space left on device".
//!
//! These tests do not use SLURM and always run. The full-disk ones need root (mount);
//! without it they fail, saying so, unless `SLURM_SWEEP_SKIP_FULL_DISK=1` skips them
//! explicitly (loudly, never silently).

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{bin, data_dir, path_env, scratch};

/// The longest any command here may take (debug binaries, two shared cores).
const TIMEOUT: Duration = Duration::from_secs(300);

/// Set to 1 to skip the full-disk tests (they need root).
const SKIP_FULL_DISK: &str = "SLURM_SWEEP_SKIP_FULL_DISK";

/// Where a stream of the command goes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sink {
    /// A file of the test, read afterwards.
    Capture,
    /// `/dev/full`: every write fails with ENOSPC.
    DevFull,
}

/// What a command did.
#[derive(Debug)]
struct Outcome {
    command: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn show(&self) -> String {
        format!(
            "$ {}   # exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

fn sink(kind: Sink, capture: &Path) -> Stdio {
    match kind {
        Sink::Capture => File::create(capture)
            .unwrap_or_else(|e| panic!("{}: {e}", capture.display()))
            .into(),
        Sink::DevFull => std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full")
            .into(),
    }
}

/// Runs `program args` with stdout and stderr as given (PATH with the binaries under test
/// first), killed after [`TIMEOUT`].
fn run(program: &Path, args: &[OsString], stdout: Sink, stderr: Sink, work: &Path) -> Outcome {
    let command = std::iter::once(program.display().to_string())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let captures = tempfile::tempdir_in(work).expect("capture dir");
    let (out_path, err_path) = (captures.path().join("out"), captures.path().join("err"));
    let mut child = Command::new(program)
        .args(args)
        .env("PATH", path_env())
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(sink(stdout, &out_path))
        .stderr(sink(stderr, &err_path))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{command}`: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{command}` still running after {TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let outcome = Outcome {
        command: format!("{command}{}{}", redirect(1, stdout), redirect(2, stderr)),
        code: status.code(),
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    println!("{}", outcome.show());
    outcome
}

fn redirect(fd: u8, kind: Sink) -> &'static str {
    match (fd, kind) {
        (_, Sink::Capture) => "",
        (1, Sink::DevFull) => " >/dev/full",
        _ => " 2>/dev/full",
    }
}

/// "panicked" in any log file under `dir` (the task logs of `sweep run --local`).
fn panics_in_logs(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.parent().and_then(Path::file_name) == Some("logs".as_ref()) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if text.contains("panicked") {
                    found.push(format!("{}:\n{text}", path.display()));
                }
            }
        }
    }
    found
}

/// A small real-data sweep: ma_cross on SPY 2015-2019, 4 combinations in 2 tasks.
fn write_spec(dir: &Path) -> PathBuf {
    let path = dir.join("write_errors.toml");
    let spec = format!(
        r#"# Written by slurm-sweep's end-to-end tests (write_errors.rs).
name = "write_errors"
strategy = "ma_cross"

[data]
dir = "{data}"
symbols = ["SPY"]

[backtest]
start = 2015-01-02
end = 2019-12-31

[params]
fast = [10, 20]
slow = [50, 100]

[slurm]
combos_per_task = 2
max_array_size = 1001
"#,
        data = data_dir().join("qstrader_examples").display()
    );
    std::fs::write(&path, spec).expect("spec");
    path
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn os_path(p: &Path) -> OsString {
    p.as_os_str().to_owned()
}

/// `sweep plan SPEC --sharedfs ROOT` (output shown), returning the sweep directory.
fn plan(spec: &Path, sharedfs: &Path) -> PathBuf {
    let out = run(
        &bin("sweep"),
        &[
            os(&["plan"]),
            vec![os_path(spec), "--sharedfs".into(), os_path(sharedfs)],
        ]
        .concat(),
        Sink::Capture,
        Sink::Capture,
        sharedfs.parent().unwrap_or(sharedfs),
    );
    assert_eq!(
        out.code,
        Some(0),
        "setup: sweep plan failed\n{}",
        out.show()
    );
    e2e::only_sweep_dir(sharedfs)
}

/// `sweep run --local --no-collect DIR` (output shown).
fn run_local(sweep_dir: &Path) {
    let out = run(
        &bin("sweep"),
        &[
            os(&["run", "--local", "--no-collect"]),
            vec![os_path(sweep_dir)],
        ]
        .concat(),
        Sink::Capture,
        Sink::Capture,
        sweep_dir,
    );
    assert_eq!(
        out.code,
        Some(0),
        "setup: sweep run --local failed\n{}",
        out.show()
    );
}

/// A command of one case: the program and its arguments, and the directory to look for
/// task logs in.
struct Case {
    program: PathBuf,
    args: Vec<OsString>,
    work: PathBuf,
}

/// Runs the command normally, then with stdout, stderr and both on /dev/full; each run
/// gets a fresh `prepare`d state (in a new scratch directory). Panics with every broken
/// expectation at once.
fn streams(name: &str, prepare: impl Fn(&Path) -> Case) {
    let mut broken = Vec::new();
    let fresh = |variant: &str| {
        let root = scratch(&format!("write-errors-{name}-{variant}"));
        prepare(&root)
    };
    let case = fresh("baseline");
    let baseline = run(
        &case.program,
        &case.args,
        Sink::Capture,
        Sink::Capture,
        &case.work,
    );
    assert_eq!(
        baseline.code,
        Some(0),
        "the command must succeed with working streams\n{}",
        baseline.show()
    );
    let prints = !baseline.stdout.trim().is_empty();
    for (stdout, stderr) in [
        (Sink::DevFull, Sink::Capture),
        (Sink::Capture, Sink::DevFull),
        (Sink::DevFull, Sink::DevFull),
    ] {
        let case = fresh(match (stdout, stderr) {
            (Sink::DevFull, Sink::Capture) => "stdout-full",
            (Sink::Capture, Sink::DevFull) => "stderr-full",
            _ => "both-full",
        });
        let out = run(&case.program, &case.args, stdout, stderr, &case.work);
        let mut problems = Vec::new();
        if out.code == Some(101) {
            problems.push("exit code 101: it panicked".to_string());
        }
        if out.code.is_none() {
            problems.push("killed by a signal".to_string());
        }
        if out.stdout.contains("panicked") || out.stderr.contains("panicked") {
            problems.push("\"panicked\" in its output".to_string());
        }
        for log in panics_in_logs(&case.work) {
            problems.push(format!("\"panicked\" in a task log: {log}"));
        }
        let stdout_lost = stdout == Sink::DevFull && prints;
        let want = if stdout_lost { 2 } else { 0 };
        if out.code != Some(want) && out.code != Some(101) {
            problems.push(format!(
                "exit code {:?}, expected {want} ({})",
                out.code,
                if stdout_lost {
                    "its stdout output was lost"
                } else {
                    "what it writes on stdout and to files was written"
                }
            ));
        }
        if stdout_lost && stderr == Sink::Capture && !out.stderr.contains("stdout") {
            problems.push("stderr does not say that stdout could not be written".into());
        }
        if !problems.is_empty() {
            broken.push(format!("- {}\n  {}", out.command, problems.join("\n  ")));
        }
    }
    assert!(
        broken.is_empty(),
        "{name}: write errors on stdout/stderr are not handled:\n{}",
        broken.join("\n")
    );
}

/// Whether the full-disk tests can run: root and a private mount namespace. Not root:
/// a failure, unless [`SKIP_FULL_DISK`] asks to skip (printed loudly).
fn full_disk_available(test: &str) -> bool {
    if std::env::var(SKIP_FULL_DISK).as_deref() == Ok("1") {
        let message =
            format!("{test}: SKIPPED (not run): {SKIP_FULL_DISK}=1 skips the full-disk tests");
        let line = "=".repeat(message.len());
        // Past the test harness's capture, so that the skip shows in every run.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{line}\n{message}\n{line}");
        return false;
    }
    let uid = Command::new("id").arg("-u").output().expect("run `id -u`");
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    assert_eq!(
        uid, "0",
        "{test} needs root: it mounts a tiny tmpfs in a private mount namespace (unshare --mount) to fill a filesystem up; run the tests as root, or set {SKIP_FULL_DISK}=1 to skip the full-disk tests explicitly"
    );
    true
}

/// Single-quotes `s` for sh.
fn sh_quote(s: &Path) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"))
}

/// Runs, in a private mount namespace, a tmpfs of `size` on `mnt`, then `setup` (shell
/// lines, their output discarded), then fills the tmpfs up and execs `program args`.
fn on_full_disk(
    mnt: &Path,
    size: &str,
    setup: &[String],
    program: &Path,
    args: &[OsString],
) -> Outcome {
    let mut script = format!(
        "mount -t tmpfs -o size={size} tmpfs {m} || {{ echo 'setup: mount failed' >&2; exit 91; }}\n",
        m = sh_quote(mnt)
    );
    for line in setup {
        script.push_str(&format!(
            "{line} >/dev/null 2>&1 || {{ echo 'setup failed: {}' >&2; exit 92; }}\n",
            line.replace('\'', "")
        ));
    }
    script.push_str(&format!(
        "dd if=/dev/zero of={}/.filler bs=4096 >/dev/null 2>&1\nexec {}",
        sh_quote(mnt),
        std::iter::once(sh_quote(program))
            .chain(args.iter().map(|a| sh_quote(Path::new(a))))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let work = mnt.parent().expect("mnt has a parent");
    let mut out = run(
        Path::new("unshare"),
        &[
            os(&["--mount", "--propagation", "private", "sh", "-c"]),
            vec![script.into()],
        ]
        .concat(),
        Sink::Capture,
        Sink::Capture,
        work,
    );
    assert!(
        !matches!(out.code, Some(91 | 92)) && !out.stderr.starts_with("unshare:"),
        "the full-disk setup failed (root, mount namespaces and tmpfs are needed)\n{}",
        out.show()
    );
    out.command = format!(
        "{} {}   (on a full tmpfs at {})",
        program.display(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        mnt.display()
    );
    out
}

/// Exit 2, no panic, and an error naming `file` (a path, or the start of one) with the
/// cause.
fn expect_clear_full_disk_error(out: &Outcome, file: &Path) {
    let mut problems = Vec::new();
    if out.code == Some(101) || out.stderr.contains("panicked") || out.stdout.contains("panicked") {
        problems.push("it panicked".to_string());
    }
    if out.code != Some(2) {
        problems.push(format!("exit code {:?}, expected 2", out.code));
    }
    let file = file.to_string_lossy();
    if !out.stderr.contains(file.as_ref()) {
        problems.push(format!("stderr does not name the file ({file}...)"));
    }
    if !out.stderr.contains("No space left on device") {
        problems.push("stderr does not say \"No space left on device\"".to_string());
    }
    assert!(
        problems.is_empty(),
        "a full disk is not reported clearly: {}\n{}",
        problems.join("; "),
        out.show()
    );
}

/// The sweep directory name `sweep plan` gives the test spec (the same wherever it is
/// planned).
fn planned_name(root: &Path, spec: &Path) -> OsString {
    let sweep_dir = plan(spec, &root.join("probe-sharedfs"));
    sweep_dir.file_name().expect("name").to_owned()
}

fn sweep_line(args: &[&Path]) -> String {
    std::iter::once(sh_quote(&bin("sweep")))
        .chain(args.iter().map(|a| sh_quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------
// sweep plan

#[test]
fn sweep_plan_to_dev_full() {
    streams("sweep-plan", |root| {
        let spec = write_spec(root);
        Case {
            program: bin("sweep"),
            args: [
                os(&["plan"]),
                vec![
                    os_path(&spec),
                    "--sharedfs".into(),
                    os_path(&root.join("sfs")),
                ],
            ]
            .concat(),
            work: root.to_path_buf(),
        }
    });
}

#[test]
fn sweep_plan_on_full_disk() {
    if !full_disk_available("sweep_plan_on_full_disk") {
        return;
    }
    let root = scratch("write-errors-sweep-plan-full");
    let spec = write_spec(&root);
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mnt");
    let out = on_full_disk(
        &mnt,
        "64k",
        &[],
        &bin("sweep"),
        &[
            os(&["plan"]),
            vec![os_path(&spec), "--sharedfs".into(), os_path(&mnt)],
        ]
        .concat(),
    );
    expect_clear_full_disk_error(&out, &mnt.join("sweeps"));
}

// ---------------------------------------------------------------------------------------
// sweep run --local (its tasks' stdout and stderr go to logs/local_<task>.out|.err)

#[test]
fn sweep_run_local_to_dev_full() {
    streams("sweep-run-local", |root| {
        let spec = write_spec(root);
        let sweep_dir = plan(&spec, &root.join("sfs"));
        Case {
            program: bin("sweep"),
            args: [os(&["run", "--local"]), vec![os_path(&sweep_dir)]].concat(),
            work: root.to_path_buf(),
        }
    });
}

/// Plans the test sweep on a 4m tmpfs, fills it, runs `program` with `args(sweep_dir)`
/// there and expects a clear error naming `expected(sweep_dir)`.
fn on_full_disk_after_planning(
    test: &str,
    scenario: &str,
    program: &Path,
    args: impl Fn(&Path) -> Vec<OsString>,
    expected: impl Fn(&Path) -> PathBuf,
) {
    if !full_disk_available(test) {
        return;
    }
    let root = scratch(scenario);
    let spec = write_spec(&root);
    let name = planned_name(&root, &spec);
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mnt");
    let sweep_dir = mnt.join("sweeps").join(&name);
    let out = on_full_disk(
        &mnt,
        "4m",
        &[
            sweep_line(&[Path::new("plan"), &spec, Path::new("--sharedfs"), &mnt]),
            format!("test -d {}", sh_quote(&sweep_dir)),
        ],
        program,
        &args(&sweep_dir),
    );
    expect_clear_full_disk_error(&out, &expected(&sweep_dir));
}

#[test]
fn sweep_run_local_on_full_disk() {
    on_full_disk_after_planning(
        "sweep_run_local_on_full_disk",
        "write-errors-sweep-run-full",
        &bin("sweep"),
        |dir| [os(&["run", "--local"]), vec![os_path(dir)]].concat(),
        |dir| dir.to_path_buf(),
    );
}

// ---------------------------------------------------------------------------------------
// bt-worker task

#[test]
fn bt_worker_task_to_dev_full() {
    streams("bt-worker-task", |root| {
        let spec = write_spec(root);
        let sweep_dir = plan(&spec, &root.join("sfs"));
        Case {
            program: bin("bt-worker"),
            args: [
                os(&["task", "--task", "0", "--sweep-dir"]),
                vec![os_path(&sweep_dir)],
            ]
            .concat(),
            work: root.to_path_buf(),
        }
    });
}

#[test]
fn bt_worker_task_on_full_disk() {
    on_full_disk_after_planning(
        "bt_worker_task_on_full_disk",
        "write-errors-bt-worker-task-full",
        &bin("bt-worker"),
        |dir| {
            [
                os(&["task", "--task", "0", "--sweep-dir"]),
                vec![os_path(dir)],
            ]
            .concat()
        },
        |dir| dir.join("results").join("task-0."),
    );
}

// ---------------------------------------------------------------------------------------
// bt-worker run (statistics on stdout, QSTrader JSON and CSV files)

fn bt_worker_run_args(out_dir: &Path) -> Vec<OsString> {
    [
        os(&["run", "--strategy", "ma_cross", "--data-dir"]),
        vec![os_path(&data_dir().join("qstrader_examples"))],
        os(&[
            "--symbols",
            "SPY",
            "--start",
            "2015-01-02",
            "--end",
            "2019-12-31",
            "-p",
            "fast=10",
            "-p",
            "slow=50",
            "--json",
        ]),
        vec![os_path(&out_dir.join("stats.json"))],
        os(&["--equity-csv"]),
        vec![os_path(&out_dir.join("equity.csv"))],
    ]
    .concat()
}

#[test]
fn bt_worker_run_to_dev_full() {
    streams("bt-worker-run", |root| Case {
        program: bin("bt-worker"),
        args: bt_worker_run_args(root),
        work: root.to_path_buf(),
    });
}

#[test]
fn bt_worker_run_on_full_disk() {
    if !full_disk_available("bt_worker_run_on_full_disk") {
        return;
    }
    let root = scratch("write-errors-bt-worker-run-full");
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mnt");
    let out = on_full_disk(
        &mnt,
        "64k",
        &[],
        &bin("bt-worker"),
        &bt_worker_run_args(&mnt),
    );
    expect_clear_full_disk_error(&out, &mnt.join("stats.json"));
}

// ---------------------------------------------------------------------------------------
// collect (the table on stdout, report/ranking.csv and ranking.md in the sweep)

#[test]
fn collect_to_dev_full() {
    streams("collect", |root| {
        let spec = write_spec(root);
        let sweep_dir = plan(&spec, &root.join("sfs"));
        run_local(&sweep_dir);
        Case {
            program: bin("collect"),
            args: vec![os_path(&sweep_dir)],
            work: root.to_path_buf(),
        }
    });
}

#[test]
fn collect_on_full_disk() {
    if !full_disk_available("collect_on_full_disk") {
        return;
    }
    let root = scratch("write-errors-collect-full");
    let spec = write_spec(&root);
    let name = planned_name(&root, &spec);
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mnt");
    let sweep_dir = mnt.join("sweeps").join(&name);
    let out = on_full_disk(
        &mnt,
        "4m",
        &[
            sweep_line(&[Path::new("plan"), &spec, Path::new("--sharedfs"), &mnt]),
            sweep_line(&[
                Path::new("run"),
                Path::new("--local"),
                Path::new("--no-collect"),
                &sweep_dir,
            ]),
        ],
        &bin("collect"),
        &[os_path(&sweep_dir)],
    );
    expect_clear_full_disk_error(&out, &sweep_dir.join("report"));
}
