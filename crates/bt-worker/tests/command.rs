//! `bt-worker task` and `bt-worker command` on command sweeps, as real binaries: the
//! output formats (QSTrader's JSONStatistics as `bt-worker run --json` writes it, Python's
//! `NaN` tokens, a flat metrics file), combinations in parallel up to
//! `SLURM_CPUS_PER_TASK`, one combination by hand, inputs changed since planning, a program
//! missing where the task runs, and SIGTERM to the worker. (Each failure kind, hostile
//! values and the equality with a built-in are in tests/command.rs with every binary.)

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sweep_core::layout::SweepDir;
use sweep_core::plan::{plan_sweep, PlanOptions};
use sweep_core::result::{ResultFile, RunStatus};

fn data_root() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

fn worker() -> &'static str {
    env!("CARGO_BIN_EXE_bt-worker")
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Plans `spec_text` (written to `<root>/spec.toml`) into `<root>/sharedfs`.
fn plan(root: &Path, spec_text: &str) -> SweepDir {
    let spec = root.join("spec.toml");
    std::fs::write(&spec, spec_text).expect("write spec");
    let options = PlanOptions {
        sharedfs: Some(root.join("sharedfs")),
        ..PlanOptions::default()
    };
    plan_sweep(&spec, &options).expect("plan").dir
}

fn bt(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Output {
    let out = Command::new(worker())
        .args(args)
        .env_remove("SLURM_CPUS_PER_TASK")
        .envs(env.iter().copied())
        .output()
        .expect("run bt-worker");
    println!(
        "bt-worker {:?}: {:?}\n{}{}",
        args,
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn task0(dir: &SweepDir, env: &[(&str, &str)]) -> Output {
    bt(
        &[
            "task".as_ref(),
            "--sweep-dir".as_ref(),
            dir.root().as_os_str(),
            "--task".as_ref(),
            "0".as_ref(),
        ],
        env,
    )
}

fn result(dir: &SweepDir) -> (ResultFile, serde_json::Value) {
    let path = std::fs::read_dir(dir.results())
        .expect("results")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a result file");
    let bytes = std::fs::read(&path).expect("read");
    (
        ResultFile::read(&path).expect("valid"),
        serde_json::from_slice(&bytes).expect("json"),
    )
}

fn command_spec(argv: &str, output: &str, params: &str, grid: &str) -> String {
    format!(
        "name = \"c\"\nstrategy = \"command\"\n\n[command]\nargv = {argv}\noutput = \"{output}\"\n\n[command.params]\n{params}\n\n[params]\n{grid}\n"
    )
}

/// Plans in `root` a sweep whose program is the script `body`, run without arguments,
/// writing `output`, over the parameter `k` (an int) with values `ks`.
fn script_plan(root: &Path, body: &str, output: &str, ks: &str) -> SweepDir {
    let program = script(root, "program.sh", body);
    plan(
        root,
        &command_spec(
            &format!("[\"{}\"]", program.display()),
            output,
            "k = { type = \"int\", default = 1, min = 0, max = 9 }",
            &format!("k = [{ks}]"),
        ),
    )
}

/// [`script_plan`] in a new directory, then task 0, which must exit 0.
fn script_sweep(body: &str, output: &str, ks: &str) -> (ResultFile, serde_json::Value) {
    let root = tempfile::tempdir().expect("tmp");
    let dir = script_plan(root.path(), body, output, ks);
    assert_eq!(task0(&dir, &[]).status.code(), Some(0));
    result(&dir)
}

#[test]
fn qstrader_json_from_bt_worker_run_gives_the_statistics_it_states() {
    let root = tempfile::tempdir().expect("tmp");
    let data = data_root().join("qstrader_examples");
    let argv = format!(
        r#"["{}", "run", "--strategy", "fixed_weights", "--data-dir", "{}", "--symbols", "SPY,AGG",
  "--start", "2015-01-02", "--end", "2019-12-31", "--params-json", "{{params_json}}", "--json", "{{result}}"]"#,
        worker(),
        data.display()
    );
    let dir = plan(
        root.path(),
        &command_spec(
            &argv,
            "qstrader_json",
            "w_SPY = { type = \"float\", default = 0.6, min = 0, max = 1 }\nw_AGG = { type = \"float\", default = 0.4, min = 0, max = 1 }",
            "w_SPY = [0.6, 0.2]",
        ),
    );
    let out = task0(&dir, &[]);
    assert_eq!(out.status.code(), Some(0));
    let (file, _) = result(&dir);
    // The same program writing QSTrader's file by hand: the worker's statistics of its
    // equity curve are those it states (the same code computes both).
    for run in &file.runs {
        let m = run.metrics.as_ref().expect("metrics");
        let json = root.path().join(format!("check-{}.json", run.i));
        let w = run.params["w_SPY"].to_string();
        let status = Command::new(worker())
            .args(["run", "--strategy", "fixed_weights", "--data-dir"])
            .arg(&data)
            .args([
                "--symbols",
                "SPY,AGG",
                "--start",
                "2015-01-02",
                "--end",
                "2019-12-31",
            ])
            .args(["-p", &format!("w_SPY={w}"), "-p", "w_AGG=0.4", "--json"])
            .arg(&json)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run");
        assert!(status.success());
        let stated: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).expect("read")).expect("json");
        let s = &stated["strategy"];
        for (name, ours) in [
            ("sharpe", m.sharpe),
            ("sortino", m.sortino),
            ("cagr", m.cagr),
            ("annualised_vol", m.annualised_vol),
            ("max_drawdown", m.max_drawdown),
        ] {
            let theirs = s[name].as_f64().expect(name);
            assert!(
                (ours - theirs).abs() <= 1e-12 * theirs.abs().max(1.0),
                "combination {} {name}: {ours} vs stated {theirs}",
                run.i
            );
        }
        assert_eq!(m.max_drawdown_duration, s["max_drawdown_duration"].as_u64());
        assert_eq!(
            m.n_obs,
            Some(s["equity_curve"].as_array().expect("curve").len() as u64)
        );
        assert_eq!((m.trades, m.turnover.is_nan()), (None, true));
    }
}

#[test]
fn qstrader_json_as_python_writes_it_and_metrics_json() {
    // json.dump of QSTrader's statistics: NaN as a bare token, epoch ms as integers, a
    // benchmark and other keys the worker does not need.
    let (file, _) = script_sweep(
        r#"#!/bin/sh
cat > "$SWEEP_RESULT" <<'EOF'
{"strategy": {"equity_curve": [[1577923200000, 1000000.0], [1578009600000, 1010000.0], [1578268800000, 1005000.0], [1578355200000, 1020000.0]], "returns": [], "sortino": NaN, "max_drawdown_duration": 1, "target_allocations": []}, "benchmark": {"equity_curve": [[1577923200000, NaN]]}, "strategy_id": "x", "strategy_name": "X"}
EOF
"#,
        "qstrader_json",
        "1",
    );
    let m = file.runs[0].metrics.as_ref().expect("metrics");
    let want = backtest::stats::summary(&[1000000.0, 1010000.0, 1005000.0, 1020000.0]);
    assert_eq!(m.sharpe.to_bits(), want.sharpe.to_bits());
    assert_eq!(m.n_obs, Some(4));

    let (file, raw) = script_sweep(
        "#!/bin/sh\nprintf '{\"sharpe\": %s.5, \"cagr\": 0.07, \"trades\": 12, \"sortino\": NaN}' \"$SWEEP_PARAM_k\" > \"$SWEEP_RESULT\"\n",
        "metrics_json",
        "1, 0",
    );
    let m = file.runs[0].metrics.as_ref().expect("metrics");
    assert_eq!((m.sharpe, m.cagr, m.trades), (1.5, 0.07, Some(12)));
    // What the file did not give is unknown (NaN / u32::MAX in the sidecar), never 0.
    assert_eq!(raw["schema"], "slurm-sweep/result/v2");
    assert!(raw.get("runs").is_none(), "v2: no runs in the JSON");
    for name in ["sortino", "max_drawdown", "turnover"] {
        let k = backtest::metric_index(name).expect("metric");
        assert!((backtest::METRICS[k].get)(m).is_nan(), "{name}: {m:?}");
    }
    assert_eq!((m.max_drawdown_duration, m.n_obs), (None, None));
    assert!(file.runs[0].returns.is_none());
}

#[test]
fn combinations_run_in_parallel_up_to_the_task_cpus() {
    let root = tempfile::tempdir().expect("tmp");
    let dir = script_plan(
        root.path(),
        "#!/bin/sh\nsleep 1\nprintf 'date,equity\\n2020-01-01,1\\n2020-01-02,1.1\\n' > \"$SWEEP_RESULT\"\n",
        "equity_csv",
        "1, 2, 3, 4",
    );
    let started = Instant::now();
    assert_eq!(
        task0(&dir, &[("SLURM_CPUS_PER_TASK", "4")]).status.code(),
        Some(0)
    );
    let wall = started.elapsed();
    println!("4 programs of 1 s on 4 CPUs: {wall:?}");
    assert!(
        wall < Duration::from_millis(3000),
        "{wall:?}: not in parallel"
    );
}

#[test]
fn one_combination_by_hand_shows_everything_and_writes_no_result() {
    let root = tempfile::tempdir().expect("tmp");
    let program = script(
        root.path(),
        "p.sh",
        r#"#!/bin/sh
echo "hello from $SWEEP_COMBO with $1"
echo "a warning" >&2
[ "$1" = "bad" ] && exit 7
printf 'date,equity\n2020-01-01,100\n2020-01-02,103\n2020-01-03,101\n' > "$2"
"#,
    );
    let dir = plan(
        root.path(),
        &command_spec(
            &format!("[\"{}\", \"{{v}}\", \"{{result}}\"]", program.display()),
            "equity_csv",
            "v = { type = \"choice\", choices = [\"good\", \"bad\", \"a b\"], default = \"good\" }",
            "v = [\"good\", \"bad\", \"a b\"]",
        ),
    );
    let by_hand = |combo: &str, extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "command".as_ref(),
            "--sweep-dir".as_ref(),
            dir.root().as_os_str(),
            "--combo".as_ref(),
            combo.as_ref(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        bt(&args, &[])
    };
    let out = by_hand("2", &["--keep-scratch"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "combination 2 of task 0: v=a b",
        &format!("argv: {} 'a b' /", program.display()),
        "  SWEEP_PARAM_v='a b'",
        "  SWEEP_COMBO=2",
        "--- stdout (",
        "hello from 2 with a b",
        "--- stderr (",
        "a warning",
        "scratch kept: ",
        "  sharpe ",
        "  trades                 -",
        "  n_obs                  3",
    ] {
        assert!(text.contains(want), "`{want}` not in:\n{text}");
    }
    let kept = text
        .lines()
        .find_map(|l| l.strip_prefix("scratch kept: "))
        .expect("kept");
    assert!(Path::new(kept).join("equity.csv").is_file());
    assert!(Path::new(kept).join("params.json").is_file());
    let out = by_hand("1", &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error: the program exited with code 7")
            && text.contains("stderr (last lines):\n  a warning"),
        "{text}"
    );
    assert_eq!(
        by_hand("3", &[]).status.code(),
        Some(2),
        "no such combination"
    );
    assert_eq!(
        std::fs::read_dir(dir.results()).expect("results").count(),
        0,
        "nothing written into results/"
    );
}

/// A spec whose program reads `model.txt`, an input, with `LEVEL = "<level>"` in `env`.
fn with_input(root: &Path, level: &str) -> (SweepDir, PathBuf) {
    let program = script(
        root,
        "run.sh",
        "#!/bin/sh\nprintf 'date,equity\\n2020-01-01,1\\n2020-01-02,1.1\\n' > \"$SWEEP_RESULT\"\n",
    );
    let input = root.join("model.txt");
    std::fs::write(&input, "v1").expect("write input");
    let spec = format!(
        "name = \"c\"\nstrategy = \"command\"\n\n[command]\nargv = [\"{}\"]\noutput = \"equity_csv\"\ninputs = [\"model.txt\"]\nenv = {{ LEVEL = \"{level}\" }}\n\n[command.params]\nk = {{ type = \"int\", default = 1, min = 0, max = 9 }}\n\n[params]\nk = [1, 2]\n",
        program.display()
    );
    (plan(root, &spec), program)
}

#[test]
fn an_input_changed_since_planning_fails_every_combination() {
    let root = tempfile::tempdir().expect("tmp");
    let (dir, _) = with_input(root.path(), "3");
    let plan_json = std::fs::read_to_string(dir.plan()).expect("plan");
    assert!(
        plan_json.contains("\"inputs\"") && plan_json.contains("model.txt"),
        "{plan_json}"
    );
    std::fs::write(root.path().join("model.txt"), "v2").expect("edit");
    let out = task0(&dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    let (file, _) = result(&dir);
    for run in &file.runs {
        assert_eq!(run.status, RunStatus::Error);
        let e = run.error.as_deref().unwrap_or_default();
        assert!(
            e.starts_with("input file ") && e.contains("model.txt changed since planning"),
            "{e}"
        );
    }
}

#[test]
fn a_program_missing_where_the_task_runs_fails_every_combination_with_the_reason() {
    let root = tempfile::tempdir().expect("tmp");
    let (dir, program) = with_input(root.path(), "3");
    std::fs::remove_file(&program).expect("rm");
    assert_eq!(task0(&dir, &[]).status.code(), Some(1));
    let (file, _) = result(&dir);
    let e = file.runs[1].error.as_deref().unwrap_or_default();
    assert!(
        e.starts_with(&format!(
            "the program {} does not exist (on ",
            program.display()
        )),
        "{e}"
    );
}

#[test]
fn sigterm_to_the_worker_ends_the_programs_and_writes_no_result() {
    let root = tempfile::tempdir().expect("tmp");
    let dir = script_plan(
        root.path(),
        &format!(
            "#!/bin/sh\nsleep 300 &\necho $! > {}/child-$SWEEP_COMBO\nwait\n",
            root.path().display()
        ),
        "equity_csv",
        "1, 2, 3",
    );
    let mut child = Command::new(worker())
        .args(["task", "--task", "0", "--sweep-dir"])
        .arg(dir.root())
        .env("SLURM_CPUS_PER_TASK", "2")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let pids = |n: usize| -> Vec<i32> {
        (0..n)
            .filter_map(|k| std::fs::read_to_string(root.path().join(format!("child-{k}"))).ok())
            .filter_map(|t| t.trim().parse().ok())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids(2).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = pids(2);
    assert_eq!(started.len(), 2, "two programs run at once");
    // SAFETY: kill(2) with the worker's own pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let t = Instant::now();
    let status = child.wait().expect("wait");
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    println!("{err}");
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(err.contains("stopped by SIGTERM"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.results()).expect("results").count(),
        0,
        "no result file: the task runs again"
    );
    assert!(pids(3).len() == 2, "the third combination never started");
    for pid in started {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.trim().chars().next());
        assert!(
            state.is_none() || state == Some('Z'),
            "grandchild {pid} still runs: {stat}"
        );
    }
}

#[test]
fn env_is_expanded_on_the_node_and_an_unset_variable_fails_every_combination() {
    let root = tempfile::tempdir().expect("tmp");
    let (dir, _) = with_input(root.path(), "${SWEEP_TEST_LEVEL:-3}");
    let spec = std::fs::read_to_string(dir.spec()).expect("spec");
    assert!(
        spec.contains("${SWEEP_TEST_LEVEL:-3}"),
        "kept as written: {spec}"
    );
    assert_eq!(
        task0(&dir, &[]).status.code(),
        Some(0),
        "the default applies"
    );

    let root = tempfile::tempdir().expect("tmp");
    let (dir, _) = with_input(root.path(), "${SWEEP_TEST_NOT_SET_ANYWHERE}");
    assert_eq!(task0(&dir, &[]).status.code(), Some(1));
    let (file, _) = result(&dir);
    for run in &file.runs {
        let e = run.error.as_deref().unwrap_or_default();
        assert!(
            e.starts_with("[command] env `LEVEL`: environment variable `SWEEP_TEST_NOT_SET_ANYWHERE` is not set"),
            "{e}"
        );
    }
}
