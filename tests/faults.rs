//! End-to-end: the plain faults of a hostile user against the sweep-directory contract,
//! each with the real `sweep`, `bt-worker` and `collect` binaries and real price data
//! (SPY and the sector SPDRs of `$SLURM_SWEEP_DATA/qstrader_examples`). No SLURM: these
//! always run.
//!
//! - a spec edited inside a planned sweep directory is refused by the worker;
//! - a grid of 10^9 combinations is refused before anything is written; planning stopped
//!   by SIGINT/SIGTERM, or failing halfway, leaves no sweep directory and no temporary
//!   file; the manifest is world-readable like every other file;
//! - `[slurm]` and `[backtest]` values that cannot work are refused at plan time with the
//!   spec's file and line;
//! - `sweep status` and `collect` agree on every task of a sweep that holds one of each
//!   kind of result problem.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{bin, collect, data_dir, path_env, run, scratch, status, status_states, sweep};

/// A ma_cross spec over SPY (2010-2014) with `params` and `extra` lines appended to the
/// top level (before `[data]`) and `slurm` lines under `[slurm]`.
fn spy_spec(name: &str, params: &str, backtest: &str, slurm: &str) -> String {
    let data = data_dir().join("qstrader_examples");
    format!(
        r#"name = "{name}"
strategy = "ma_cross"

[data]
dir = "{data}"
symbols = ["SPY"]

[backtest]
start = "2010-01-04"
end = "2014-12-31"
{backtest}

[params]
{params}

[slurm]
worker = "{worker}"
{slurm}
"#,
        data = data.display(),
        worker = bin("bt-worker").display(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write spec");
    path
}

/// Everything under `dir`, relative, sorted (hidden files included).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `sweep plan SPEC --sharedfs FS`.
fn sweep_plan(spec: &Path, sharedfs: &Path) -> e2e::Output {
    sweep(&[
        os("plan"),
        spec.as_os_str(),
        os("--sharedfs"),
        sharedfs.as_os_str(),
    ])
}

/// `sweep plan SPEC --sharedfs FS`; returns the sweep directory from its output.
fn plan(spec: &Path, sharedfs: &Path) -> PathBuf {
    let out = sweep_plan(spec, sharedfs);
    out.expect_code(0);
    let dir = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("dir:"))
        .unwrap_or_else(|| panic!("no dir line in {}", out.stdout));
    PathBuf::from(dir.trim())
}

#[test]
fn a_spec_edited_after_planning_is_refused_by_the_worker() {
    let work = scratch("edited-spec");
    let spec = write(
        &work,
        "edited.toml",
        &spy_spec("edited", "fast = [10, 20]\nslow = [50, 100]", "", ""),
    );
    let dir = plan(&spec, &work.join("fs"));
    let planned = dir.join("spec.toml");
    let text = std::fs::read_to_string(&planned).expect("spec.toml");
    assert!(text.contains("commission_bps = 0.0"), "{text}");
    std::fs::write(
        &planned,
        text.replace("commission_bps = 0.0", "commission_bps = 25.0"),
    )
    .expect("edit");
    let out = run(
        bin("bt-worker"),
        &[
            os("task"),
            os("--sweep-dir"),
            dir.as_os_str(),
            os("--task"),
            os("0"),
        ],
    );
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("spec.toml: the spec changed since planning")
            && out.stderr.contains("Plan the edited spec as a new sweep"),
        "{}",
        out.stderr
    );
    assert!(
        tree(&dir.join("results")).is_empty(),
        "no result may be computed with the edited spec"
    );
    // A local run of the sweep fails the same way and collect says nothing is complete.
    let out = sweep(&[os("run"), dir.as_os_str(), os("--local")]);
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    assert!(tree(&dir.join("results")).is_empty());
}

#[test]
fn a_billion_combinations_is_refused_before_anything_is_written() {
    let work = scratch("billion");
    let fs = work.join("fs");
    // 1,000 x 4,000 x 250 = 10^9 combinations of ewmac's parameters.
    let data = data_dir().join("pysystemtrade").join("adjusted_prices_csv");
    let spec = write(
        &work,
        "billion.toml",
        &format!(
            r#"name = "billion"
strategy = "ewmac"
[data]
dir = "{}"
symbols = ["SP500"]
[params]
fast = {{ from = 1, to = 1000, step = 1 }}
slow = {{ from = 0, to = 3999, step = 1 }}
vol_target = {{ from = 0.01, to = 1.0, num = 250 }}
"#,
            data.display()
        ),
    );
    let started = Instant::now();
    let out = sweep_plan(&spec, &fs);
    out.expect_code(2);
    assert!(started.elapsed() < Duration::from_secs(20), "refused late");
    assert!(
        out.stderr.contains("billion.toml:")
            && out.stderr.contains("the grid has 1000000000 combinations")
            && out.stderr.contains("more than the limit of 50000000")
            && out.stderr.contains("--max-combos"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("manifest about"), "{}", out.stderr);
    let left = tree(&fs);
    assert!(left.is_empty() || left == ["sweeps"], "{left:?}");
}

/// Starts `sweep plan` of a 10^7-combination grid, sends `signal` once it has worked for a
/// while, and checks it stopped with 128 + signal, leaving nothing behind.
fn interrupted_plan(signal: i32, want: i32) {
    let work = scratch(&format!("interrupted-{signal}"));
    let fs = work.join("fs");
    let spec = write(
        &work,
        "big.toml",
        // SPY's whole history (8,041 bars), so every window fits and planning runs long.
        &spy_spec(
            "big",
            "fast = { from = 1, to = 2000, step = 1 }\nslow = { from = 1, to = 5000, step = 1 }",
            "",
            "",
        )
        .replace("start = \"2010-01-04\"", "start = \"1993-01-29\"")
        .replace("end = \"2014-12-31\"", "end = \"2025-01-06\""),
    );
    let mut child = Command::new(bin("sweep"))
        .args([
            os("plan"),
            spec.as_os_str(),
            os("--sharedfs"),
            fs.as_os_str(),
        ])
        .env("PATH", path_env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sweep plan");
    // Wait until the manifest is being written (its temporary file exists).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let writing = tree(&fs).iter().any(|p| p.contains("manifest.jsonl."));
        if writing {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "sweep plan ended before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "the manifest was never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "sweep plan finished before the signal"
    );
    let killed = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill failed");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(want), "{stderr}");
    assert!(
        stderr.contains("planning stopped by") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    let left = tree(&fs);
    assert!(left.is_empty() || left == ["sweeps"], "{left:?}");
}

#[test]
fn planning_stopped_by_sigint_leaves_nothing() {
    interrupted_plan(2, 130);
}

#[test]
fn planning_stopped_by_sigterm_leaves_nothing() {
    interrupted_plan(15, 143);
}

#[test]
fn an_error_halfway_through_planning_leaves_nothing() {
    let work = scratch("halfway");
    let fs = work.join("fs");
    let data = data_dir().join("qstrader_examples");
    // top_n = 5 of three symbols is refused by momentum_taa, after the first combinations
    // were written to the manifest.
    let spec = write(
        &work,
        "halfway.toml",
        &format!(
            r#"name = "halfway"
strategy = "momentum_taa"
[data]
dir = "{}"
symbols = ["XLB", "XLE", "XLF"]
[params]
lookback = [20, 60, 120]
top_n = [1, 2, 5]
"#,
            data.display()
        ),
    );
    let out = sweep_plan(&spec, &fs);
    out.expect_code(2);
    assert!(
        out.stderr.contains("combination 2 (lookback=20, top_n=5)"),
        "{}",
        out.stderr
    );
    let left = tree(&fs);
    assert!(left.is_empty() || left == ["sweeps"], "{left:?}");
}

#[test]
fn the_sweep_directory_is_world_readable() {
    let work = scratch("modes");
    let spec = write(
        &work,
        "modes.toml",
        &spy_spec("modes", "fast = [10]\nslow = [50]", "", ""),
    );
    let dir = plan(&spec, &work.join("fs"));
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o755, "{}", dir.display());
    for f in ["manifest.jsonl", "plan.json", "spec.toml"] {
        assert_eq!(mode(&dir.join(f)), 0o644, "{f}");
    }
    assert_eq!(mode(&dir.join("array.sbatch")), 0o755);
}

#[test]
fn slurm_and_backtest_values_are_refused_at_plan_time() {
    let work = scratch("values");
    let cases: [(&str, &str, &str, &str); 9] = [
        (
            "",
            "throttle = 0",
            "`slurm.throttle`",
            "expected a whole number of at least 1",
        ),
        (
            "",
            "combos_per_task = 0",
            "`slurm.combos_per_task`",
            "at least 1",
        ),
        (
            "",
            "time = \"ten minutes\"",
            "`slurm.time`",
            "expected a SLURM time limit",
        ),
        ("", "mem = \"4 GB\"", "`slurm.mem`", "expected a size"),
        ("cash_buffer = 5.0", "", "cash_buffer", "[0, 1)"),
        ("commission_bps = -1.0", "", "commission_bps", "-1"),
        (
            "pbo_blocks = 7",
            "",
            "`backtest.pbo_blocks`",
            "an even number of CSCV blocks",
        ),
        ("pbo_blocks = 24", "", "`backtest.pbo_blocks`", "at most 22"),
        ("keep_returns = \"weekly\"", "", "keep_returns", "\"daily\""),
    ];
    for (backtest, slurm, field, expected) in cases {
        let spec = write(
            &work,
            "values.toml",
            &spy_spec("values", "fast = [10]\nslow = [50]", backtest, slurm),
        );
        let fs = work.join("fs");
        let out = sweep_plan(&spec, &fs);
        out.expect_code(2);
        let line = std::fs::read_to_string(&spec)
            .expect("spec")
            .lines()
            .position(|l| !l.is_empty() && (l == backtest || l == slurm))
            .map(|n| n + 1)
            .expect("line");
        let at = format!("values.toml:{line}: ");
        assert!(
            out.stderr.contains(&at) && out.stderr.contains(field) && out.stderr.contains(expected),
            "{backtest}{slurm}: want {at}{field} ... {expected}\n{}",
            out.stderr
        );
        assert!(tree(&fs.join("sweeps")).is_empty());
    }
}

fn tasks_of(list: &serde_json::Value) -> BTreeSet<u64> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|t| t["task"].as_u64().expect("task"))
        .collect()
}

#[test]
fn status_and_collect_agree_on_every_kind_of_result_problem() {
    let work = scratch("agree");
    // 9 tasks of 2 combinations.
    let spec = write(
        &work,
        "agree.toml",
        &spy_spec(
            "agree",
            "fast = [5, 10, 15]\nslow = [50, 100, 150, 200, 250, 300]",
            "",
            "combos_per_task = 2",
        ),
    );
    let dir = plan(&spec, &work.join("fs"));
    sweep(&[
        os("run"),
        dir.as_os_str(),
        os("--local"),
        os("--no-collect"),
    ])
    .expect_code(0);
    let results = dir.join("results");
    let file_of = |task: u64| -> PathBuf {
        std::fs::read_dir(&results)
            .expect("ls")
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with(&format!("task-{task}.")) && n.ends_with(".json")
                })
            })
            .unwrap_or_else(|| panic!("no result of task {task}"))
    };
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json")
    };
    let put = |p: &Path, v: &serde_json::Value| {
        std::fs::write(p, serde_json::to_vec(v).expect("json")).expect("write")
    };
    // Task 0: done. Task 1: a failed run (v2 lists failed combinations in `errors`).
    let mut v = read(&file_of(1));
    assert_eq!(v["schema"], "slurm-sweep/result/v2");
    v["errors"] = serde_json::json!([{"i": v["first"].clone(), "error": "boom"}]);
    put(&file_of(1), &v);
    // Task 2: partial (a run missing), as a v1 file says it: the reader reads both.
    let v = read(&file_of(2));
    let metrics: serde_json::Map<String, serde_json::Value> = [
        "sharpe",
        "sortino",
        "cagr",
        "annualised_vol",
        "max_drawdown",
        "max_drawdown_duration",
        "total_return",
        "calmar",
        "trades",
        "turnover",
        "exposure",
        "skew",
        "kurtosis",
        "n_obs",
    ]
    .iter()
    .map(|m| (m.to_string(), serde_json::Value::from(1)))
    .collect();
    let mut v1 = v.clone();
    let fields = v1.as_object_mut().expect("object");
    fields.remove("errors");
    fields.remove("columns");
    fields.insert("schema".into(), "slurm-sweep/result/v1".into());
    fields.insert(
        "runs".into(),
        serde_json::json!([{"i": v["first"].clone(), "params": {}, "status": "ok", "metrics": metrics}]),
    );
    put(&file_of(2), &v1);
    // Task 3: corrupt (truncated).
    let bytes = std::fs::read(file_of(3)).expect("read");
    std::fs::write(file_of(3), &bytes[..bytes.len() / 3]).expect("truncate");
    // Task 4: written for another plan.
    let mut v = read(&file_of(4));
    v["plan_hash"] = "0".repeat(64).into();
    put(&file_of(4), &v);
    // Task 5: a duplicate with the same numbers (the same sidecar), from another host.
    let mut v = read(&file_of(5));
    v["host"] = "node09".into();
    put(&results.join("task-5.node09.json"), &v);
    // Task 6: a duplicate with other numbers (a failed run), finished later.
    let mut v = read(&file_of(6));
    v["host"] = "node08".into();
    v["finished"] = "2099-01-01T00:00:00Z".into();
    v["errors"] = serde_json::json!([{"i": v["first"].clone(), "error": "boom"}]);
    put(&results.join("task-6.node08.json"), &v);
    // Task 7: only the temporary file of a write that was killed (and the sidecar it had
    // written before: a leftover).
    std::fs::remove_file(file_of(7)).expect("rm");
    std::fs::write(results.join(".task-7.node02.json.x1Y2z3.tmp"), b"{\"sch").expect("tmp");
    // Task 8: missing (its sidecar left over too).
    std::fs::remove_file(file_of(8)).expect("rm");
    // Leftover sidecars: those no complete result names (tasks 2, 3, 4, 7 and 8).
    let leftovers = 5;

    let (code, s) = status(&dir);
    assert_eq!(code, Some(1));
    let states = status_states(&s);
    assert_eq!(
        states,
        [
            (1, "failed".to_string()),
            (2, "missing".into()),
            (3, "missing".into()),
            (4, "missing".into()),
            (6, "conflict".into()),
            (7, "missing".into()),
            (8, "missing".into()),
        ],
        "{s}"
    );
    assert_eq!(s["done"], 2, "tasks 0 and 5: {s}");
    let temp = s["temp_files"].as_array().expect("temp files");
    assert_eq!(temp.len(), 1 + leftovers, "{s}");
    let cols = temp
        .iter()
        .filter(|t| t.as_str().is_some_and(|t| t.ends_with(".cols")))
        .count();
    assert_eq!(cols, leftovers, "{s}");

    let out = collect(&[dir.as_os_str(), os("--format"), os("json")]);
    out.expect_code(1);
    let c: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let c = &c["completeness"];
    let of = |state: &str| -> BTreeSet<u64> {
        states
            .iter()
            .filter(|(_, s)| s == state)
            .map(|(t, _)| *t)
            .collect()
    };
    assert_eq!(tasks_of(&c["missing_tasks"]), of("missing"), "{c}");
    assert_eq!(tasks_of(&c["failed_tasks"]), of("failed"), "{c}");
    assert_eq!(tasks_of(&c["conflict_tasks"]), of("conflict"), "{c}");
    let kinds: Vec<(String, String)> = c["corrupt"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let name = Path::new(f["path"].as_str().expect("path"))
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, f["kind"].as_str().expect("kind").to_string())
        })
        .collect();
    let has = |prefix: &str, kind: &str| {
        kinds
            .iter()
            .any(|(n, k)| n.starts_with(prefix) && k == kind)
    };
    assert!(has("task-2.", "partial"), "{kinds:?}");
    assert!(has("task-3.", "corrupt"), "{kinds:?}");
    assert!(has("task-4.", "foreign plan"), "{kinds:?}");
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    // Status lists the same unusable files.
    let unusable: BTreeSet<String> = s["unusable_files"]
        .as_array()
        .expect("unusable files")
        .iter()
        .map(|f| f.as_str().expect("text").to_string())
        .collect();
    assert_eq!(unusable.len(), 3, "{s}");
    for (name, kind) in &kinds {
        assert!(
            unusable
                .iter()
                .any(|u| u.contains(name.as_str()) && u.contains(&format!(": {kind}"))),
            "{name} {kind} not in {unusable:?}"
        );
    }
    // The same files are named by status, on the same tasks.
    for (task, prefix) in [(2, "task-2."), (3, "task-3."), (4, "task-4.")] {
        let t = s["not_done"]
            .as_array()
            .expect("not_done")
            .iter()
            .find(|t| t["task"] == task)
            .expect("task");
        assert!(
            t["files"][0].as_str().is_some_and(|f| f.contains(prefix)),
            "{t}"
        );
    }
    assert_eq!(
        c["temp_files"].as_array().expect("temp").len(),
        1 + leftovers,
        "{c}"
    );
    let dups = c["duplicates"].as_array().expect("duplicates");
    assert_eq!(dups.len(), 2, "{c}");
    let agrees = |task: u64| {
        dups.iter().find(|d| d["task"] == task).expect("dup")["dropped"][0]["agrees"]
            .as_bool()
            .expect("agrees")
    };
    assert!(agrees(5));
    assert!(!agrees(6));
}

#[test]
fn a_window_longer_than_the_data_is_refused_at_plan_time() {
    let work = scratch("window");
    let fs = work.join("fs");
    // 2010-2014 is 1,305 weekdays: slow = 5000 can never trade.
    let spec = write(
        &work,
        "window.toml",
        &spy_spec("window", "fast = [10]\nslow = [50, 5000]", "", ""),
    );
    let out = sweep_plan(&spec, &fs);
    out.expect_code(2);
    assert!(
        out.stderr.contains("window.toml:")
            && out.stderr.contains("combination 1 (fast=10, kind=sma, long_only=true, slow=5000) cannot run on this data")
            && out.stderr.contains("`slow` = 5000")
            && out.stderr.contains("could never trade"),
        "{}",
        out.stderr
    );
    assert!(tree(&fs.join("sweeps")).is_empty());
}

#[test]
fn a_stray_file_beside_a_done_task_makes_status_and_collect_say_partial() {
    let work = scratch("stray");
    let spec = write(
        &work,
        "stray.toml",
        &spy_spec(
            "stray",
            "fast = [5, 10]\nslow = [50]",
            "",
            "combos_per_task = 1",
        ),
    );
    let dir = plan(&spec, &work.join("fs"));
    sweep(&[
        os("run"),
        dir.as_os_str(),
        os("--local"),
        os("--no-collect"),
    ])
    .expect_code(0);
    let results = dir.join("results");
    let first = std::fs::read_dir(&results)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("task-0.") && n.to_string_lossy().ends_with(".json")
            })
        })
        .expect("task 0");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&first).expect("read")).expect("json");
    v["plan_hash"] = "e".repeat(64).into();
    std::fs::write(
        results.join("task-0.node07.json"),
        serde_json::to_vec(&v).expect("json"),
    )
    .expect("write");
    let (code, s) = status(&dir);
    assert_eq!((code, &s["done"]), (Some(1), &serde_json::json!(2)), "{s}");
    let out = collect(&[dir.as_os_str()]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("task-0.node07.json: foreign plan"),
        "{}",
        out.stderr
    );
}
