//! The real `sweep` binary on small sweeps: plan errors, planning twice, submit and
//! resubmit dry runs, status of a hand-made sweep directory, and `run --local` end to end.

use std::path::{Path, PathBuf};
use std::process::Command;

use backtest::synthetic::write_market;
use chrono::{NaiveDate, Utc};
use sweep_core::layout::result_file_name;
use sweep_core::result::RESULT_SCHEMA;
use sweep_core::{ResultFile, Run, RunStatus, SlurmIds};

use crate::util::{show, write_executable};

fn sweep() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sweep"));
    c.env_remove("SLURM_SWEEP_TEMPLATES")
        .env_remove("SLURM_SWEEP_SHAREDFS");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// 3 fast x 2 slow x 2 kinds = 12 combinations, 2 per task = 6 tasks, throttle 2.
const SPEC: &str = r#"name = "small"
strategy = "ma_cross"

[data]
dir = "data"
symbols = ["SYNA"]

[params]
fast = [5, 10, 20]
slow = [50, 100]
kind = ["sma", "ema"]

[slurm]
partition = "mycluster"
time = "00:05:00"
combos_per_task = 2
throttle = 2
"#;

/// A temp dir with synthetic data and the small spec; returns (dir, spec path).
fn small_sweep() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = NaiveDate::from_ymd_opt(2020, 1, 2).expect("date");
    let end = NaiveDate::from_ymd_opt(2021, 12, 31).expect("date");
    write_market(&dir.path().join("data"), &["SYNA"], start, end, 7).expect("market");
    let spec = dir.path().join("small.toml");
    std::fs::write(&spec, SPEC).expect("spec");
    (dir, spec)
}

/// Runs `sweep plan` and returns the sweep directory it printed.
fn plan(spec: &Path, sharedfs: &Path, extra: &[&str]) -> PathBuf {
    let out = sweep()
        .arg("plan")
        .arg(spec)
        .arg("--sharedfs")
        .arg(sharedfs)
        .args(extra)
        .output()
        .expect("run sweep");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    let dir = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("dir:"))
        .unwrap_or_else(|| panic!("no dir line: {stdout}"));
    PathBuf::from(dir.trim())
}

/// Runs `sweep plan`, which must refuse the spec (exit 2); returns its stderr.
fn plan_refused(spec: &Path, sharedfs: &Path, extra: &[&str]) -> String {
    let out = sweep()
        .arg("plan")
        .arg(spec)
        .arg("--sharedfs")
        .arg(sharedfs)
        .args(extra)
        .output()
        .expect("run sweep");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    text(&out.stderr)
}

#[test]
fn bad_spec_exits_2_naming_file_and_field() {
    let (dir, spec) = small_sweep();
    std::fs::write(&spec, SPEC.replace("\"ma_cross\"", "\"ma_crosss\"")).expect("write");
    let stderr = plan_refused(&spec, dir.path(), &[]);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("small.toml"), "{stderr}");
    assert!(stderr.contains("strategy"), "{stderr}");
    assert!(stderr.contains("ma_crosss"), "{stderr}");

    let out = sweep()
        .arg("plan")
        .arg(dir.path().join("nope.toml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(text(&out.stderr).contains("nope.toml"), "{}", show(&out));
}

#[test]
fn an_out_of_range_value_is_reported_once_naming_the_field() {
    let (dir, spec) = small_sweep();
    let stderr = plan_refused(&spec, dir.path(), &["-p", "fast=0"]);
    assert!(stderr.contains("`params.fast`"), "{stderr}");
    assert_eq!(
        stderr.matches("out of range").count(),
        1,
        "the cause is printed once: {stderr}"
    );
}

#[test]
fn a_bad_constraint_exits_2_with_a_caret_at_the_column() {
    let (dir, spec) = small_sweep();
    // Line 3 of the spec, after `strategy`. Each class of error is tested in sweep-core;
    // here: what the binary prints.
    let cases = [
        (
            "fast < slwo",
            "unknown parameter `slwo` (did you mean `slow`?); valid parameters: fast, slow, \
             kind, long_only\nfast < slwo\n       ^^^^",
        ),
        (
            "fast * 2 <= slow)",
            "unexpected `)` after a complete expression\nfast * 2 <= slow)\n                ^",
        ),
        (
            "sma(close, fast) < slow",
            "`sma` works on price series and belongs in [rules], not in a constraint over \
             parameters\nsma(close, fast) < slow\n^^^",
        ),
    ];
    for (constraint, expected) in cases {
        let constraints = format!("constraints = [\"fast < slow\", '{constraint}']");
        let spec_text = SPEC.replace("\n\n[data]", &format!("\n{constraints}\n\n[data]"));
        std::fs::write(&spec, spec_text).expect("write");
        let stderr = plan_refused(&spec, dir.path(), &[]);
        let want = format!("small.toml:3: constraint `{constraint}`: {expected}\n");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(&want),
            "{stderr}\n-- expected --\n{want}"
        );
    }
    // The scalar functions plan: |fast - slow| >= 45 keeps (5, 50), (5, 100), (10, 100),
    // (20, 100): 4 of 6, times 2 kinds.
    let constraints = "constraints = [\"abs(fast - slow) >= 45\"]";
    let spec_text = SPEC.replace("\n\n[data]", &format!("\n{constraints}\n\n[data]"));
    std::fs::write(&spec, spec_text).expect("write");
    let planned = plan(&spec, dir.path(), &[]);
    let plan: sweep_core::Plan = serde_json::from_slice(
        &std::fs::read(sweep_core::SweepDir::new(&planned).plan()).expect("plan"),
    )
    .expect("json");
    assert_eq!(plan.combos, 8);
}

#[test]
fn planning_twice_gives_the_same_directory_and_scripts() {
    let (dir, spec) = small_sweep();
    let first = plan(&spec, dir.path(), &[]);
    let script = std::fs::read_to_string(first.join("array.sbatch")).expect("array.sbatch");
    let second = plan(&spec, dir.path(), &[]);
    assert_eq!(first, second);
    assert_eq!(
        std::fs::read_to_string(second.join("array.sbatch")).expect("array.sbatch"),
        script
    );
    assert!(first.starts_with(std::fs::canonicalize(dir.path()).expect("canon")));
    assert!(script.contains("#SBATCH --array=0-5%2\n"), "{script}");
    assert!(second.join("collect.sbatch").is_file());
    assert!(!second.join("array-1.sbatch").exists());
}

#[test]
fn split_plan_and_submit_dry_run() {
    let (dir, spec) = small_sweep();
    let sweep_dir = plan(&spec, dir.path(), &["--max-array-size", "4"]);
    // 6 tasks, arrays of at most 4: tasks 0-3 and 4-5.
    let second = std::fs::read_to_string(sweep_dir.join("array-1.sbatch")).expect("array-1");
    assert!(second.contains("#SBATCH --array=0-1%2\n"), "{second}");
    assert!(second.contains("export SWEEP_TASK_OFFSET=4\n"), "{second}");

    let out = sweep()
        .arg("submit")
        .arg(&sweep_dir)
        .arg("--dry-run")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let d = sweep_dir.display();
    let expected = format!(
        "sbatch --parsable {d}/array.sbatch\nsbatch --parsable {d}/array-1.sbatch\nsbatch --parsable '--dependency=afterany:<array-0>:<array-1>' {d}/collect.sbatch\n"
    );
    assert_eq!(text(&out.stdout), expected);
    assert!(!sweep_dir.join("jobs.jsonl").exists());
}

fn result(plan_hash: &str, task: u64, first: u64, failed: &[u64]) -> ResultFile {
    let now = Utc::now();
    ResultFile {
        schema: RESULT_SCHEMA.into(),
        sweep: "small".into(),
        plan_hash: plan_hash.into(),
        task,
        first,
        count: 2,
        slurm: SlurmIds::default(),
        host: "node02".into(),
        slurmd_nodename: Some("node02".into()),
        worker_version: "0.1.0".into(),
        arch: "x86_64".into(),
        started: now,
        finished: now,
        runs: (first..first + 2)
            .map(|i| {
                let bad = failed.contains(&i);
                Run {
                    i,
                    params: Default::default(),
                    status: if bad { RunStatus::Error } else { RunStatus::Ok },
                    error: bad.then(|| "data ends before the slow window".to_string()),
                    metrics: (!bad).then(Default::default),
                    in_sample: None,
                    out_of_sample: None,
                    returns: None,
                    windows: None,
                    blocks: None,
                }
            })
            .collect(),
    }
}

/// A planned 6-task sweep (arrays 0-3 and 4-5) with jobs 777 (offset 0) and 778 (offset
/// 4) recorded, results: tasks 0, 1 ok; 2 with a failed run; 3 truncated; 4, 5 none; and a
/// fake squeue saying task 5 (778_1) runs.
fn hand_made_sweep() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (dir, spec) = small_sweep();
    let sweep_dir = plan(&spec, dir.path(), &["--max-array-size", "4"]);
    let plan: sweep_core::Plan =
        serde_json::from_slice(&std::fs::read(sweep_dir.join("plan.json")).expect("plan"))
            .expect("plan json");
    assert_eq!(plan.tasks, 6);
    let results = sweep_dir.join("results");
    std::fs::create_dir_all(&results).expect("mkdir");
    let write = |r: &ResultFile, bytes: Option<Vec<u8>>| {
        let bytes = bytes.unwrap_or_else(|| serde_json::to_vec(r).expect("json"));
        std::fs::write(results.join(result_file_name(r.task, &r.host)), bytes).expect("write");
    };
    write(&result(&plan.hash, 0, 0, &[]), None);
    write(&result(&plan.hash, 1, 2, &[]), None);
    write(&result(&plan.hash, 2, 4, &[5]), None);
    let truncated = serde_json::to_vec(&result(&plan.hash, 3, 6, &[])).expect("json");
    write(
        &result(&plan.hash, 3, 6, &[]),
        Some(truncated[..truncated.len() / 2].to_vec()),
    );
    // A result of another plan for task 4 does not count.
    write(&result("0000other", 4, 8, &[]), None);

    let jobs = format!(
        "{}\n{}\n",
        r#"{"schema":"slurm-sweep/job/v1","job_id":777,"kind":"array","array":"0-3%2","offset":0,"script":"array.sbatch","submitted":"2026-01-02T03:04:05Z"}"#,
        r#"{"schema":"slurm-sweep/job/v1","job_id":778,"kind":"array","array":"0-1%2","offset":4,"script":"array-1.sbatch","submitted":"2026-01-02T03:04:06Z"}"#
    );
    std::fs::write(sweep_dir.join("jobs.jsonl"), jobs).expect("jobs");
    std::fs::write(
        sweep_dir.join("logs/777_2.err"),
        "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nerror: combination 5 failed\n",
    )
    .expect("log");

    let bin = dir.path().join("fakebin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    write_executable(
        &bin.join("squeue"),
        "#!/bin/bash\necho '778_1|RUNNING|node03|None'\necho '779|PENDING||Dependency'\n",
    );
    (dir, sweep_dir, bin)
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn status_counts_done_failed_running_missing() {
    let (_dir, sweep_dir, bin) = hand_made_sweep();
    let out = sweep()
        .arg("status")
        .arg(&sweep_dir)
        .arg("--json")
        .env("PATH", path_with(&bin))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["tasks"], 6);
    assert_eq!(v["done"], 2, "{v}");
    assert_eq!(v["failed"], 1, "{v}");
    assert_eq!(v["running"], 1, "{v}");
    assert_eq!(v["pending"], 0, "{v}");
    // Task 3 has only a truncated file, task 4 only a file of another plan: both are
    // missing a result, and each file is named with what is wrong with it.
    assert_eq!(v["missing"], 2, "{v}");
    let not_done = v["not_done"].as_array().expect("array");
    let task2 = not_done.iter().find(|t| t["task"] == 2).expect("task 2");
    assert_eq!(task2["state"], "failed");
    assert!(task2["log"]
        .as_str()
        .expect("log")
        .ends_with("logs/777_2.err"));
    let tail: Vec<&str> = task2["log_tail"]
        .as_array()
        .expect("tail")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert_eq!(
        tail,
        vec![
            "line 3",
            "line 4",
            "line 5",
            "line 6",
            "error: combination 5 failed"
        ]
    );
    let task3 = not_done.iter().find(|t| t["task"] == 3).expect("task 3");
    assert!(
        task3["files"][0]
            .as_str()
            .is_some_and(|f| f.contains("task-3.node02.json: corrupt: truncated JSON")),
        "{task3}"
    );
    let task4 = not_done.iter().find(|t| t["task"] == 4).expect("task 4");
    assert!(
        task4["files"][0]
            .as_str()
            .is_some_and(|f| f.contains("foreign plan")),
        "{task4}"
    );
    let task5 = not_done.iter().find(|t| t["task"] == 5).expect("task 5");
    assert_eq!(task5["state"], "running");
    assert_eq!(task5["host"], "node03");

    let out = sweep()
        .arg("status")
        .arg(&sweep_dir)
        .env("PATH", path_with(&bin))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("failed tasks: 2\n"), "{stdout}");
    assert!(stdout.contains("missing tasks: 3-4"), "{stdout}");
    assert!(
        stdout.contains("data ends before the slow window"),
        "{stdout}"
    );
}

#[test]
fn resubmit_dry_run_lists_exactly_the_failed_and_missing_tasks() {
    let (_dir, sweep_dir, bin) = hand_made_sweep();
    let d = sweep_dir.display();
    let run = |extra: &[&str]| {
        let out = sweep()
            .arg("resubmit")
            .arg(&sweep_dir)
            .arg("--dry-run")
            .args(extra)
            .env("PATH", path_with(&bin))
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        text(&out.stdout)
    };
    // Task 2 (failed), 3 and 4 (missing: only a corrupt file, only another plan's file);
    // 5 is running. Task 4 = index 0 of array 1.
    assert_eq!(
        run(&[]),
        format!(
            "resubmitting 3 tasks: 2-4\nsbatch --parsable --array=2-3%2 {d}/array.sbatch\nsbatch --parsable --array=0%2 {d}/array-1.sbatch\nsbatch --parsable '--dependency=afterany:<resubmitted>' {d}/collect.sbatch\n"
        )
    );
    assert_eq!(
        run(&["--missing-only", "--no-collect"]),
        format!("resubmitting 2 tasks: 3-4\nsbatch --parsable --array=3%2 {d}/array.sbatch\nsbatch --parsable --array=0%2 {d}/array-1.sbatch\n")
    );
    assert_eq!(
        run(&["--failed-only", "--no-collect"]),
        format!("resubmitting 1 task: 2\nsbatch --parsable --array=2%2 {d}/array.sbatch\n")
    );
    assert!(!std::fs::read_to_string(sweep_dir.join("jobs.jsonl"))
        .expect("jobs")
        .contains("resubmit"));
}

#[test]
fn submit_records_jobs_from_a_fake_sbatch() {
    // A fake sbatch checks argument handling only (not real submission): it prints a job
    // id per call and logs its arguments.
    let (dir, sweep_dir, bin) = hand_made_sweep();
    std::fs::remove_file(sweep_dir.join("jobs.jsonl")).expect("rm jobs");
    let calls = dir.path().join("sbatch-calls");
    write_executable(
        &bin.join("sbatch"),
        &format!(
            "#!/bin/bash\nn=$(( $(wc -l < '{c}' 2>/dev/null || echo 0) + 900 ))\necho \"$*\" >> '{c}'\necho \"$n;slurmsweep\"\necho 'sbatch: note' >&2\n",
            c = calls.display()
        ),
    );
    let out = sweep()
        .arg("submit")
        .arg(&sweep_dir)
        .env("PATH", path_with(&bin))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let d = sweep_dir.display();
    assert_eq!(
        std::fs::read_to_string(&calls).expect("calls"),
        format!(
            "--parsable {d}/array.sbatch\n--parsable {d}/array-1.sbatch\n--parsable --dependency=afterany:900:901 {d}/collect.sbatch\n"
        )
    );
    let records = sweep_core::jobs::read(&sweep_dir.join("jobs.jsonl")).expect("jobs");
    let summary: Vec<(u64, Option<u64>, Option<String>)> = records
        .iter()
        .map(|r| (r.job_id, r.offset, r.array.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (900, Some(0), Some("0-3%2".into())),
            (901, Some(4), Some("0-1%2".into())),
            (902, None, None),
        ]
    );
    assert_eq!(records[2].dependency.as_deref(), Some("afterany:900:901"));
    assert_eq!(
        std::fs::read_to_string(sweep_dir.join("logs/sbatch-1.out")).expect("kept stdout"),
        "901;slurmsweep\n"
    );
    assert_eq!(
        std::fs::read_to_string(sweep_dir.join("logs/sbatch-2.err")).expect("kept stderr"),
        "sbatch: note\n"
    );
}

/// The bt-worker binary beside the sweep binary, built if missing (`cargo test -p sweep`
/// builds only sweep's own binaries).
fn ensure_worker() {
    let dir = Path::new(env!("CARGO_BIN_EXE_sweep"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    if dir.join("bt-worker").is_file() {
        return;
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "bt-worker", "-p", "collect"])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p bt-worker failed");
    assert!(
        dir.join("bt-worker").is_file(),
        "no bt-worker in {}",
        dir.display()
    );
}

#[test]
fn run_local_writes_every_result_and_skips_done_tasks() {
    ensure_worker();
    let (dir, spec) = small_sweep();
    let out = sweep()
        .arg("run")
        .arg(&spec)
        .arg("--local")
        .args(["-j", "2", "--no-collect", "--sharedfs"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("(beside the sweep executable"),
        "{}",
        show(&out)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ran 6 tasks locally"), "{stdout}");
    assert!(
        stdout.contains("6 of 6 tasks done (12 combinations)"),
        "{stdout}"
    );
    let sweep_dir = PathBuf::from(
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("dir:"))
            .expect("dir line")
            .trim(),
    );
    let mut combos = Vec::new();
    for task in 0..6u64 {
        let files: Vec<_> = std::fs::read_dir(sweep_dir.join("results"))
            .expect("results")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("task-{task}.")) && n.ends_with(".json"))
            .collect();
        assert_eq!(files.len(), 1, "task {task}: {files:?}");
        let r = ResultFile::read(&sweep_dir.join("results").join(&files[0])).expect("valid result");
        assert_eq!(r.task, task);
        assert_eq!(
            r.slurm.array_task_id.as_deref(),
            Some(task.to_string().as_str())
        );
        assert!(r
            .slurm
            .array_job_id
            .as_deref()
            .is_some_and(|j| j.starts_with("local-")));
        assert_eq!(r.failed(), 0);
        combos.extend(r.runs.iter().map(|run| run.i));
        assert!(sweep_dir.join(format!("logs/local_{task}.err")).is_file());
    }
    assert_eq!(combos, (0..12).collect::<Vec<u64>>());

    let again = sweep()
        .arg("run")
        .arg(&sweep_dir)
        .args(["--local", "--no-collect"])
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert!(
        text(&again.stdout).contains("ran 0 tasks locally")
            && text(&again.stdout).contains("6 already done"),
        "{}",
        show(&again)
    );

    let status = sweep().arg("status").arg(&sweep_dir).output().expect("run");
    assert_eq!(status.status.code(), Some(0), "{}", show(&status));
}

/// `uname -m`: the name of this machine's `bin/<arch>/` directory, as the array script
/// computes it.
fn uname_m() -> String {
    let out = Command::new("uname").arg("-m").output().expect("run uname");
    assert!(out.status.success());
    text(&out.stdout).trim().to_string()
}

/// A fake bt-worker at `path` that appends its arguments to `calls` and runs the real one.
fn recording_worker(path: &Path, calls: &Path) {
    let real = Path::new(env!("CARGO_BIN_EXE_sweep"))
        .parent()
        .expect("bin dir")
        .join("bt-worker");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    write_executable(
        path,
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            real.display()
        ),
    );
}

fn call_lines(calls: &Path) -> Vec<String> {
    std::fs::read_to_string(calls)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn run_local_uses_the_shared_filesystem_worker_of_this_arch() {
    ensure_worker();
    let (dir, spec) = small_sweep();
    let shared = dir.path().join("bin").join(uname_m()).join("bt-worker");
    let calls = dir.path().join("shared-calls.txt");
    recording_worker(&shared, &calls);
    let out = sweep()
        .arg("run")
        .arg(&spec)
        .args(["--local", "-j", "2", "--no-collect", "--sharedfs"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("6 of 6 tasks done"),
        "{}",
        show(&out)
    );
    let lines = call_lines(&calls);
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.starts_with("task --sweep-dir ")),
        "{lines:?}"
    );
    let stderr = text(&out.stderr);
    let shared = std::fs::canonicalize(&shared).expect("canonical");
    let using: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("using bt-worker"))
        .collect();
    assert_eq!(using.len(), 1, "{stderr}");
    assert!(
        using[0].contains(&format!("{} (shared filesystem", shared.display())),
        "{stderr}"
    );
}

#[test]
fn run_local_prefers_the_explicit_worker_and_fails_when_it_is_missing() {
    ensure_worker();
    let (dir, spec) = small_sweep();
    let shared_calls = dir.path().join("shared-calls.txt");
    recording_worker(
        &dir.path().join("bin").join(uname_m()).join("bt-worker"),
        &shared_calls,
    );
    let explicit = dir.path().join("tools/my-worker");
    let explicit_calls = dir.path().join("explicit-calls.txt");
    recording_worker(&explicit, &explicit_calls);
    let text_of_spec = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(
        &spec,
        format!("{text_of_spec}worker = \"{}\"\n", explicit.display()),
    )
    .expect("spec");
    let out = sweep()
        .arg("run")
        .arg(&spec)
        .args(["--local", "--no-collect", "--sharedfs"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(call_lines(&explicit_calls).len(), 6);
    assert!(call_lines(&shared_calls).is_empty());
    assert!(
        text(&out.stderr).contains(&format!(
            "using bt-worker {} ([slurm] worker",
            explicit.display()
        )),
        "{}",
        show(&out)
    );

    // The explicit worker gone: an error naming it, nothing run (the array script exits
    // 127 in that case rather than falling back).
    std::fs::remove_file(&explicit).expect("remove");
    let out = sweep()
        .arg("run")
        .arg(&spec)
        .args(["--local", "--no-collect", "--sharedfs"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(&explicit.display().to_string()),
        "{}",
        show(&out)
    );
    assert!(call_lines(&shared_calls).is_empty());
}

#[test]
fn run_without_local_is_an_error() {
    let (dir, spec) = small_sweep();
    let out = sweep()
        .arg("run")
        .arg(&spec)
        .arg("--sharedfs")
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(text(&out.stderr).contains("--local"), "{}", show(&out));
}

#[test]
fn resubmit_records_offsets_and_sets_failed_results_aside() {
    let (dir, sweep_dir, bin) = hand_made_sweep();
    let calls = dir.path().join("sbatch-calls");
    write_executable(
        &bin.join("sbatch"),
        &format!(
            "#!/bin/bash\nn=$(( $(wc -l < '{c}' 2>/dev/null || echo 0) + 950 ))\necho \"$*\" >> '{c}'\necho \"$n\"\n",
            c = calls.display()
        ),
    );
    let out = sweep()
        .arg("resubmit")
        .arg(&sweep_dir)
        .env("PATH", path_with(&bin))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let d = sweep_dir.display();
    assert_eq!(
        std::fs::read_to_string(&calls).expect("calls"),
        format!(
            "--parsable --array=2-3%2 {d}/array.sbatch\n--parsable --array=0%2 {d}/array-1.sbatch\n--parsable --dependency=afterany:950:951 {d}/collect.sbatch\n"
        )
    );
    let records = sweep_core::jobs::read(&sweep_dir.join("jobs.jsonl")).expect("jobs");
    let resubmits: Vec<(u64, Option<u64>, Option<String>)> = records
        .iter()
        .filter(|r| r.kind == sweep_core::jobs::JobKind::Resubmit)
        .map(|r| (r.job_id, r.offset, r.array.clone()))
        .collect();
    assert_eq!(
        resubmits,
        vec![
            (950, Some(0), Some("2-3%2".into())),
            (951, Some(4), Some("0%2".into())),
        ]
    );
    // Task 2's result (complete, one failed run) was set aside; task 0's stays.
    let results = sweep_dir.join("results");
    assert!(!results.join("task-2.node02.json").exists());
    assert!(results.join("task-0.node02.json").exists());
    let quarantined: Vec<String> = std::fs::read_dir(results.join("quarantine"))
        .expect("quarantine")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(
        quarantined[0].starts_with("task-2.node02.json."),
        "{quarantined:?}"
    );
}
