//! `bt-worker task` as a real binary: plans small sweeps over the real SPY prices (from
//! `$SLURM_SWEEP_DATA`, default `<workspace>/../shared/data`) into temporary directories and
//! checks the result files, the skip/force rules, quarantine of untrusted files, failing
//! combinations, unreadable data, data changed since planning, and the task number from
//! SLURM's environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sweep_core::layout::SweepDir;
use sweep_core::plan::{plan_sweep, PlanOptions};
use sweep_core::result::{ResultFile, RunStatus};

fn data_root() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// Plans a 6-combination ma_cross sweep (3 fast x 2 slow, 4 per task: tasks of 4 and 2)
/// over `data_dir` and returns its directory.
fn plan(root: &Path, data_dir: &Path) -> SweepDir {
    plan_with(root, data_dir, "")
}

/// [`plan`] with `extra` lines in `[backtest]`.
fn plan_with(root: &Path, data_dir: &Path, extra: &str) -> SweepDir {
    let spec = root.join("ma.toml");
    std::fs::write(
        &spec,
        format!(
            r#"name = "ma"
strategy = "ma_cross"

[data]
dir = "{}"
symbols = ["SPY"]

[backtest]
start = 2015-01-02
end = 2019-12-31
commission_bps = 5.0
{extra}
[params]
fast = [5, 10, 20]
slow = [50, 100]

[slurm]
combos_per_task = 4
"#,
            data_dir.display()
        ),
    )
    .expect("write spec");
    let options = PlanOptions {
        sharedfs: Some(root.join("sharedfs")),
        check_data: false,
        ..PlanOptions::default()
    };
    let planned = plan_sweep(&spec, &options).expect("plan");
    assert_eq!(planned.plan.tasks, 2);
    planned.dir
}

fn worker(dir: &SweepDir, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bt-worker"));
    cmd.arg("task")
        .arg("--sweep-dir")
        .arg(dir.root())
        .args(args);
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SWEEP_TASK_OFFSET",
        "SLURM_ARRAY_JOB_ID",
        "SLURM_JOB_ID",
        "SLURM_RESTART_COUNT",
        "SLURMD_NODENAME",
        "SLURM_CPUS_PER_TASK",
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run bt-worker")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The result files of `task` in results/ (not the quarantine).
fn results_of(dir: &SweepDir, task: u64) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.results())
        .expect("ls results")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(sweep_core::layout::parse_result_file_name)
                .is_some_and(|(k, _)| k == task)
        })
        .collect();
    v.sort();
    v
}

fn quarantined(dir: &SweepDir) -> Vec<String> {
    match std::fs::read_dir(dir.results().join("quarantine")) {
        Ok(rd) => rd
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn read_result(path: &Path) -> ResultFile {
    ResultFile::read(path).expect("valid result")
}

#[test]
fn runs_a_task_then_skips_it_then_forces_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = plan(tmp.path(), &data_root().join("qstrader_examples"));

    let out = worker(&dir, &["--task", "0"], &[("SLURM_CPUS_PER_TASK", "2")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let files = results_of(&dir, 0);
    assert_eq!(files.len(), 1, "{files:?}");
    let r = read_result(&files[0]);
    let plan: sweep_core::Plan =
        serde_json::from_slice(&std::fs::read(dir.plan()).expect("plan")).expect("plan json");
    assert_eq!(r.plan_hash, plan.hash);
    assert_eq!((r.task, r.first, r.count), (0, 0, 4));
    assert_eq!(r.sweep, "ma");
    assert_eq!(r.arch, std::env::consts::ARCH);
    assert!(!r.host.is_empty() && r.slurm.job_id.is_none());
    assert!(r.finished >= r.started);
    // Combos 0..4 in manifest order: (5,50) (5,100) (10,50) (10,100).
    let pairs: Vec<(i64, i64)> = r
        .runs
        .iter()
        .map(|run| {
            (
                run.params["fast"].as_i64().expect("fast"),
                run.params["slow"].as_i64().expect("slow"),
            )
        })
        .collect();
    assert_eq!(pairs, vec![(5, 50), (5, 100), (10, 50), (10, 100)]);
    for run in &r.runs {
        assert_eq!(run.status, RunStatus::Ok, "{:?}", run.error);
        let m = run.metrics.as_ref().expect("metrics");
        // 2015-01-02 .. 2019-12-31 is 1,303 weekdays; the curve has about that many points.
        let n = m.n_obs.expect("n_obs");
        assert!(n > 1200 && n < 1310, "n_obs {n}");
        assert!(m.sharpe.is_finite());
    }
    assert!(
        stderr(&out).contains("task 0: 4 combinations, 4 ok, 0 failed"),
        "{}",
        stderr(&out)
    );
    let before = std::fs::read(&files[0]).expect("read");

    // Again: skipped, file untouched.
    let out = worker(&dir, &["--task", "0"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("skipped"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&files[0]).expect("read"), before);

    // A complete result from another host also counts.
    let other = dir.result_file(0, "othernode");
    std::fs::rename(&files[0], &other).expect("rename");
    let out = worker(&dir, &["--task", "0"], &[]);
    assert!(stderr(&out).contains("skipped"), "{}", stderr(&out));
    assert!(quarantined(&dir).is_empty());

    // --force: runs again; the earlier result is moved aside, not deleted.
    let out = worker(&dir, &["--task", "0", "--force"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let files = results_of(&dir, 0);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_ne!(files[0], other);
    // The v2 result went with the sidecar it names (same content: same sidecar name as
    // the new one's, which is back in results/).
    let mut q = quarantined(&dir);
    q.sort();
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(q[0].starts_with("task-0.othernode.json."), "{q:?}");
    assert!(
        q[1].starts_with("task-0.") && q[1].contains(".cols."),
        "{q:?}"
    );
    let r = read_result(&files[0]);
    assert_eq!(r.runs.len(), 4);
}

#[test]
fn untrusted_files_are_quarantined_and_failures_recorded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = plan(tmp.path(), &data_root().join("qstrader_examples"));

    // A half-written result of task 1 from an earlier attempt.
    let partial = dir.result_file(1, "node03");
    std::fs::write(
        &partial,
        b"{\"schema\": \"slurm-sweep/result/v1\", \"runs\": [",
    )
    .expect("write");

    // Make combination 5 (the second of task 1) invalid: fast = 0 is out of range.
    let manifest = std::fs::read_to_string(dir.manifest()).expect("manifest");
    let mut lines: Vec<String> = manifest.lines().map(String::from).collect();
    assert_eq!(lines.len(), 6);
    lines[5] = lines[5].replace("\"fast\":20", "\"fast\":0");
    assert!(lines[5].contains("\"fast\":0"), "{}", lines[5]);
    std::fs::write(dir.manifest(), lines.join("\n") + "\n").expect("write manifest");

    // Task number from the array environment: offset 1 + array index 0.
    let out = worker(
        &dir,
        &[],
        &[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SWEEP_TASK_OFFSET", "1"),
            ("SLURM_ARRAY_JOB_ID", "41"),
            ("SLURM_JOB_ID", "42"),
            ("SLURM_RESTART_COUNT", "2"),
            ("SLURMD_NODENAME", "node03"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot be trusted"), "{err}");
    assert!(!partial.exists(), "partial file moved away");
    let q = quarantined(&dir);
    assert_eq!(q.len(), 1);
    assert!(q[0].starts_with("task-1.node03.json."), "{q:?}");
    assert!(
        err.contains("task 1: 2 combinations, 1 ok, 1 failed"),
        "{err}"
    );

    let files = results_of(&dir, 1);
    assert_eq!(files.len(), 1);
    let r = read_result(&files[0]);
    assert_eq!((r.task, r.first, r.count), (1, 4, 2));
    assert_eq!(r.slurm.array_job_id.as_deref(), Some("41"));
    assert_eq!(r.slurm.array_task_id.as_deref(), Some("0"));
    assert_eq!(r.slurm.job_id.as_deref(), Some("42"));
    assert_eq!(r.slurm.restart_count, Some(2));
    assert_eq!(r.slurmd_nodename.as_deref(), Some("node03"));
    assert_eq!(r.runs[0].status, RunStatus::Ok);
    assert_eq!(r.runs[1].status, RunStatus::Error);
    let msg = r.runs[1].error.as_deref().unwrap_or_default();
    assert!(msg.contains("fast"), "{msg}");
    assert!(r.runs[1].metrics.is_none());
}

#[test]
fn unreadable_data_fails_every_combination_with_the_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    // Corrupt before planning (planned without checking the data), so the plan's hash
    // matches and the failure is the loading itself.
    std::fs::write(
        data.join("SPY.csv"),
        "Date,Open,High,Low,Close,Adj Close,Volume\n2015-01-02,x,1,1,1,1,1\n",
    )
    .expect("corrupt");
    let dir = plan(tmp.path(), &data);
    let out = worker(&dir, &["--task", "1"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = read_result(&results_of(&dir, 1)[0]);
    assert_eq!(r.runs.len(), 2);
    for run in &r.runs {
        assert_eq!(run.status, RunStatus::Error);
        let msg = run.error.as_deref().unwrap_or_default();
        assert!(
            msg.contains("data could not be loaded") && msg.contains("SPY.csv"),
            "{msg}"
        );
    }
}

/// sha256 (hex) of a file, by the system's `sha256sum` (independent of the code under test).
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum failed");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_string()
}

#[test]
fn data_changed_since_planning_fails_every_combination_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let spy = data.join("SPY.csv");
    std::fs::copy(data_root().join("qstrader_examples/SPY.csv"), &spy).expect("copy");
    let planned_hash = sha256sum(&spy);
    let dir = plan(tmp.path(), &data);

    // Still valid data, but not the data the plan saw: the last close nudged by a cent.
    let text = std::fs::read_to_string(&spy).expect("read");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let last = lines.last_mut().expect("a row");
    let mut cells: Vec<String> = last.split(',').map(String::from).collect();
    let close: f64 = cells[4].parse().expect("close");
    cells[4] = format!("{:.6}", close + 0.01);
    *last = cells.join(",");
    std::fs::write(&spy, lines.join("\n") + "\n").expect("rewrite");
    let current_hash = sha256sum(&spy);
    assert_ne!(planned_hash, current_hash);

    let out = worker(&dir, &["--task", "0"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("changed since planning"), "{err}");
    let files = results_of(&dir, 0);
    assert_eq!(files.len(), 1, "{files:?}");
    let r = read_result(&files[0]);
    assert_eq!(r.runs.len(), 4);
    for run in &r.runs {
        assert_eq!(run.status, RunStatus::Error);
        assert!(run.metrics.is_none());
        let msg = run.error.as_deref().unwrap_or_default();
        assert!(msg.contains(&spy.display().to_string()), "{msg}");
        assert!(msg.contains(&planned_hash[..12]), "{msg}");
        assert!(msg.contains(&current_hash[..12]), "{msg}");
    }

    // Restoring the planned content makes the task run normally again.
    std::fs::copy(data_root().join("qstrader_examples/SPY.csv"), &spy).expect("restore");
    let out = worker(&dir, &["--task", "0", "--force"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn missing_task_number_and_bad_task_are_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = plan(tmp.path(), &data_root().join("qstrader_examples"));
    let out = worker(&dir, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--task"), "{}", stderr(&out));
    let out = worker(&dir, &["--task", "2"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("task 2 does not exist"),
        "{}",
        stderr(&out)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_bt-worker"))
        .args(["task", "--task", "0", "--sweep-dir"])
        .arg(tmp.path().join("nope"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a planned sweep directory"),
        "{}",
        stderr(&out)
    );
}

/// The sidecars of `task` in `results/`.
fn sidecars_of(dir: &SweepDir, task: u64) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir.results())
        .expect("results")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                sweep_core::layout::parse_sidecar_file_name(&n.to_string_lossy())
                    .is_some_and(|(k, _)| k == task)
            })
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_rerun_never_destroys_a_good_v2_result_and_a_broken_one_is_set_aside_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = plan(tmp.path(), &data_root().join("qstrader_examples"));
    let out = worker(&dir, &["--task", "0"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json = results_of(&dir, 0).pop().expect("result");
    let sidecars = sidecars_of(&dir, 0);
    assert_eq!(sidecars.len(), 1, "{sidecars:?}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("read")).expect("json");
    assert_eq!(v["schema"], "slurm-sweep/result/v2");
    assert_eq!(
        v["columns"]["file"].as_str(),
        sidecars[0].file_name().and_then(|n| n.to_str())
    );
    let (json_bytes, side_bytes) = (
        std::fs::read(&json).expect("read"),
        std::fs::read(&sidecars[0]).expect("read"),
    );

    // A leftover sidecar of an earlier attempt is never touched.
    let leftover = dir.results().join("task-0.oldnode.0badc0de.cols");
    std::fs::write(&leftover, b"half").expect("leftover");
    let out = worker(&dir, &["--task", "0"], &[]);
    assert!(stderr(&out).contains("skipped"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&json).expect("read"), json_bytes);
    assert_eq!(std::fs::read(&sidecars[0]).expect("read"), side_bytes);
    assert!(leftover.exists());
    assert!(quarantined(&dir).is_empty());

    // The sidecar changed behind the result's back: the result is corrupt, set aside with
    // its sidecar (never deleted), and the task runs again.
    let mut changed = side_bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 0xff;
    std::fs::write(&sidecars[0], &changed).expect("write");
    let out = worker(&dir, &["--task", "0"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("sha256"), "{}", stderr(&out));
    let mut q = quarantined(&dir);
    q.sort();
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(q.iter().any(|n| n.contains(".json.")) && q.iter().any(|n| n.contains(".cols.")));
    let moved_side = q.iter().find(|n| n.contains(".cols.")).expect("sidecar");
    assert_eq!(
        std::fs::read(dir.quarantine().join(moved_side)).expect("read"),
        changed
    );
    // The new result is the same numbers: the same sidecar content and name.
    assert_eq!(std::fs::read(&sidecars[0]).expect("read"), side_bytes);
    assert_eq!(read_result(&json).runs.len(), 4);
    assert!(leftover.exists());

    // Its sidecar gone: corrupt, naming the sidecar.
    std::fs::remove_file(&sidecars[0]).expect("rm");
    let out = worker(&dir, &["--task", "0"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing"), "{}", stderr(&out));
    assert_eq!(quarantined(&dir).len(), 3);
    assert!(sidecars[0].exists() && json.exists());
}

#[test]
fn keep_returns_true_keeps_block_moments_and_daily_keeps_f32_returns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = data_root().join("qstrader_examples");
    for (keep, blocks) in [("true", "8"), ("\"daily\"", "16")] {
        let root = tmp.path().join(keep.trim_matches('"'));
        std::fs::create_dir_all(&root).expect("mkdir");
        let dir = plan_with(
            &root,
            &data,
            &format!("keep_returns = {keep}\npbo_blocks = {blocks}\n"),
        );
        let out = worker(&dir, &["--task", "0"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let r = read_result(&results_of(&dir, 0)[0]);
        for run in &r.runs {
            let n = run.metrics.as_ref().and_then(|m| m.n_obs).expect("n_obs") as usize;
            if keep == "true" {
                let b = run.blocks.as_ref().expect("moments");
                assert_eq!(b.count.len(), 8);
                // n_obs counts the first day's 0 return; the returns are one fewer.
                assert_eq!(b.count[0] as usize, (n - 1) / 8);
                assert!(run.returns.is_none());
            } else {
                let r = run.returns.as_ref().expect("returns");
                assert_eq!(r.len(), n - 1);
                assert!(r.iter().all(|x| f64::from(*x as f32) == *x), "f32 values");
                assert!(run.blocks.is_none());
            }
        }
    }
}
