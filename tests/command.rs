//! End-to-end: `strategy = "command"` sweeps with the real `sweep`, `bt-worker` and
//! `collect` binaries and real programs (small shell scripts this test writes into its
//! scratch directory, run through `argv` like any program). No SLURM: these always run.
//!
//! - each failure kind of a combination (non-zero exit, timeout with a grandchild that must
//!   die too, result missing, empty, unparsable) is recorded with its message and the tail
//!   of the program's stderr; the task's other combinations still run; `sweep status` and
//!   `collect` report the task as failed (exit 1);
//! - hostile parameter values reach the program as plain arguments and variables, byte for
//!   byte, and nothing they spell is run;
//! - an equity-curve command (`bt-worker run ... --equity-csv {result}`) ranks exactly like
//!   the built-in `fixed_weights` sweep of the same grid: every statistic of the curve, the
//!   in-sample/out-of-sample split and PBO are equal; trades, turnover and exposure are
//!   unknown for the command (an equity curve does not tell them).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::{bin, collect, data_dir, result_files, scratch, status, status_states, sweep, Csv};
use sweep_core::result::{ResultFile, RunStatus};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Writes an executable script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Writes `text` to `<dir>/<file>` and plans it: `sweep plan SPEC --sharedfs <dir>/fs`;
/// returns the sweep directory.
fn plan(dir: &Path, file: &str, text: &str) -> PathBuf {
    let spec = dir.join(file);
    std::fs::write(&spec, text).expect("write spec");
    let out = sweep(&[
        os("plan"),
        spec.as_os_str(),
        os("--sharedfs"),
        dir.join("fs").as_os_str(),
    ]);
    out.expect_code(0);
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("dir:"))
        .unwrap_or_else(|| panic!("no dir line in {}", out.stdout));
    PathBuf::from(line.trim())
}

/// `bt-worker task --sweep-dir DIR --task 0` with `env`.
fn task0(sweep_dir: &Path, env: &[(&str, &str)]) -> e2e::Output {
    let mut cmd = std::process::Command::new(bin("bt-worker"));
    cmd.args([os("task"), os("--sweep-dir"), sweep_dir.as_os_str()])
        .args(["--task", "0"])
        .env_remove("SLURM_CPUS_PER_TASK")
        .envs(env.iter().copied());
    let out = cmd.output().expect("run bt-worker");
    let o = e2e::Output {
        command: format!(
            "bt-worker task --sweep-dir {} --task 0",
            sweep_dir.display()
        ),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    println!(
        "$ {}   # exit {:?}\n{}{}",
        o.command, o.code, o.stdout, o.stderr
    );
    o
}

fn only_result(sweep_dir: &Path) -> ResultFile {
    let mut files = result_files(sweep_dir);
    assert_eq!(files.len(), 1, "one result file");
    files.remove(0).1
}

/// The program of the failure tests: `mode` chooses what it does; it always says
/// something on stderr first, so every failure has a tail to show.
const FAULTY: &str = r#"#!/bin/sh
mode="$1"; result="$2"; here="$3"
echo "combo $SWEEP_COMBO starts in mode $mode" >&2
case "$mode" in
  ok)
    printf 'date,equity\n2020-01-01,100\n2020-01-02,101\n2020-01-03,100.5\n2020-01-06,102\n' > "$result" ;;
  exit3)
    echo "boom: cannot reach the data server" >&2
    exit 3 ;;
  timeout)
    sleep 300 &
    echo $! > "$here/grandchild.pid"
    echo "waiting for my grandchild $!" >&2
    wait ;;
  missing)
    echo "forgot to write the result" >&2 ;;
  empty)
    : > "$result"
    echo "wrote an empty file" >&2 ;;
  unparsable)
    printf 'date,equity\n2020-01-01,100\n2020-01-02,abc\n' > "$result"
    echo "wrote a bad number" >&2 ;;
esac
"#;

/// Plans and runs a 3-combination task whose middle combination runs in `mode`; returns
/// the sweep directory, the scratch directory and the result file.
fn faulty_sweep(mode: &str) -> (PathBuf, PathBuf, ResultFile) {
    let dir = scratch(&format!("command-{mode}"));
    let program = script(&dir, "faulty.sh", FAULTY);
    let sweep_dir = plan(
        &dir,
        "faulty.toml",
        &format!(
            r#"name = "faulty"
strategy = "command"

[command]
argv = ["{program}", "{{mode}}", "{{result}}", "{here}"]
timeout = "1s"
output = "equity_csv"

[command.params]
mode = {{ type = "choice", choices = ["ok", "exit3", "timeout", "missing", "empty", "unparsable"], default = "ok" }}
n = {{ type = "int", default = 0, min = 0, max = 9 }}

[params]
mode = ["ok", "{mode}", "ok"]
n = [1]
"#,
            program = program.display(),
            here = dir.display(),
        ),
    );
    task0(&sweep_dir, &[]).expect_code(1);
    let file = only_result(&sweep_dir);
    (sweep_dir, dir, file)
}

/// Checks the failed combination (1) and that 0 and 2 ran; then that `sweep status` and
/// `collect` say the task failed (exit 1). Returns the failure message.
fn check_failure(sweep_dir: &Path, file: &ResultFile, want: &[&str]) -> String {
    assert_eq!(file.runs.len(), 3);
    for k in [0, 2] {
        let run = &file.runs[k];
        assert_eq!(
            run.status,
            RunStatus::Ok,
            "combination {k}: {:?}",
            run.error
        );
        let m = run.metrics.as_ref().expect("metrics");
        assert_eq!(m.n_obs, Some(4));
        assert!(m.sharpe.is_finite() && m.trades.is_none() && m.exposure.is_nan());
    }
    let failed = &file.runs[1];
    assert_eq!(failed.status, RunStatus::Error);
    assert!(failed.metrics.is_none());
    let message = failed.error.clone().expect("a message");
    println!("recorded message of combination 1:\n{message}");
    for w in want {
        assert!(message.contains(w), "`{w}` not in:\n{message}");
    }
    assert!(
        message.contains("stderr (last lines):\n  combo 1 starts in mode"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "(run it alone: bt-worker command --sweep-dir {} --combo 1)",
            sweep_dir.display()
        )),
        "{message}"
    );

    let (code, s) = status(sweep_dir);
    assert_eq!(code, Some(1), "{s}");
    assert_eq!(status_states(&s), [(0, "failed".to_string())], "{s}");
    let out = collect(&[sweep_dir.as_os_str(), os("--format"), os("csv")]);
    out.expect_code(1);
    let csv = Csv::parse(&out.stdout);
    assert_eq!(
        csv.combos().into_iter().collect::<Vec<_>>(),
        [0, 2],
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("PARTIAL: 1 failed combination(s)"),
        "{}",
        out.stderr
    );
    message
}

#[test]
fn a_non_zero_exit_is_recorded_with_its_code_and_stderr() {
    let (sweep_dir, _, file) = faulty_sweep("exit3");
    check_failure(
        &sweep_dir,
        &file,
        &[
            "the program exited with code 3 after",
            "  boom: cannot reach the data server",
        ],
    );
}

#[test]
fn a_timeout_kills_the_process_group_grandchild_included() {
    let started = Instant::now();
    let (sweep_dir, dir, file) = faulty_sweep("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the task waited for the 300 s sleep"
    );
    let message = check_failure(
        &sweep_dir,
        &file,
        &[
            "timed out after 1 s (`timeout`): the program's process group was killed (SIGTERM)",
            "  waiting for my grandchild",
        ],
    );
    // The grandchild (a `sleep 300` in the program's group) is gone: no process, or a
    // zombie waiting for its new parent to reap it.
    let pid = std::fs::read_to_string(dir.join("grandchild.pid")).expect("the grandchild started");
    let pid = pid.trim();
    assert!(message.contains(&format!("waiting for my grandchild {pid}")));
    let stat = Path::new("/proc").join(pid).join("stat");
    let alive = std::fs::read_to_string(&stat)
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| !r.trim().starts_with('Z')))
        .unwrap_or(false);
    assert!(
        !alive,
        "grandchild {pid} still runs: {:?}",
        std::fs::read_to_string(&stat)
    );
    println!(
        "grandchild {pid}: {}",
        if stat.exists() {
            "a zombie"
        } else {
            "gone from /proc"
        }
    );
}

#[test]
fn a_missing_result_is_recorded() {
    let (sweep_dir, _, file) = faulty_sweep("missing");
    check_failure(
        &sweep_dir,
        &file,
        &[
            "the program exited with code 0 but wrote no result: ",
            "/combo-1/equity.csv does not exist (output = \"equity_csv\"; write it to {result} or $SWEEP_RESULT)",
            "  forgot to write the result",
        ],
    );
}

#[test]
fn an_empty_result_is_recorded() {
    let (sweep_dir, _, file) = faulty_sweep("empty");
    check_failure(
        &sweep_dir,
        &file,
        &[
            "/combo-1/equity.csv is empty (output = \"equity_csv\")",
            "  wrote an empty file",
        ],
    );
}

#[test]
fn an_unparsable_result_is_recorded_with_line_and_field() {
    let (sweep_dir, _, file) = faulty_sweep("unparsable");
    check_failure(
        &sweep_dir,
        &file,
        &[
            "/combo-1/equity.csv is not valid equity_csv: line 3, field `equity`: not a finite number: `abc`",
            "  wrote a bad number",
        ],
    );
}

#[test]
fn hostile_values_reach_the_program_as_plain_arguments() {
    let dir = scratch("command-hostile");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    // Writes its arguments back one per line, and the variable; then a valid result.
    let program = script(
        &dir,
        "echo-args.sh",
        r#"#!/bin/sh
out="$1"; shift
for a in "$@"; do printf '%s\n' "$a"; done > "$out/argv-$SWEEP_COMBO"
printf '%s' "$SWEEP_PARAM_v" > "$out/env-$SWEEP_COMBO"
printf 'date,equity\n2020-01-01,100\n2020-01-02,101\n' > "$SWEEP_RESULT"
"#,
    );
    let values = [
        "$(touch pwned)",
        "; rm -rf /",
        "a b",
        "'\"",
        "-rf",
        "`touch pwned`",
        "&& touch pwned",
        "*",
    ];
    let toml_list = values
        .iter()
        .map(|v| format!("{:?}", v))
        .collect::<Vec<_>>()
        .join(", ");
    let sweep_dir = plan(
        &dir,
        "hostile.toml",
        &format!(
            r#"name = "hostile"
strategy = "command"

[command]
argv = ["{program}", "{out}", "{{v}}", "--", "{{v}}"]
workdir = "work"
output = "equity_csv"

[command.params]
v = {{ type = "choice", choices = [{toml_list}], default = "a b" }}

[params]
v = [{toml_list}]

[slurm]
combos_per_task = 100
"#,
            program = program.display(),
            out = dir.display(),
        ),
    );
    task0(&sweep_dir, &[]).expect_code(0);
    let file = only_result(&sweep_dir);
    assert_eq!(file.failed(), 0);
    for run in &file.runs {
        let v = run.params["v"].to_string();
        let argv = std::fs::read(dir.join(format!("argv-{}", run.i))).expect("argv file");
        assert_eq!(
            argv,
            format!("{v}\n--\n{v}\n").into_bytes(),
            "combination {} ({v:?})",
            run.i
        );
        let env = std::fs::read(dir.join(format!("env-{}", run.i))).expect("env file");
        assert_eq!(env, v.as_bytes(), "SWEEP_PARAM_v of combination {}", run.i);
        println!("combination {}: {v:?} arrived as is", run.i);
    }
    let values_seen: Vec<String> = file
        .runs
        .iter()
        .map(|r| r.params["v"].to_string())
        .collect();
    assert_eq!(values_seen, values);
    for place in [
        &dir,
        &work,
        &sweep_dir,
        &std::env::current_dir().expect("cwd"),
    ] {
        assert!(
            !place.join("pwned").exists(),
            "{} has a file `pwned`",
            place.display()
        );
    }
    assert!(sweep_dir.join("plan.json").is_file(), "nothing was removed");
    // The values are in the manifest as given, and `sweep status` is content.
    let (code, _) = status(&sweep_dir);
    assert_eq!(code, Some(0));
}

/// A spec over SPY and AGG (2003-09-29 .. 2020-12-31) split at 2012-01-03 with returns
/// kept: `strategy` and `extra` make it the built-in or the command.
fn sixty_forty_spec(name: &str, strategy: &str, extra: &str) -> String {
    let data = data_dir().join("qstrader_examples");
    format!(
        r#"name = "{name}"
strategy = "{strategy}"
constraints = ["w_SPY + w_AGG <= 1"]

[data]
dir = "{data}"
symbols = ["SPY", "AGG"]

{extra}

[params]
w_SPY = [0.0, 0.3, 0.6, 1.0]
w_AGG = [0.0, 0.4]

[slurm]
combos_per_task = 3
"#,
        data = data.display()
    )
}

#[test]
fn an_equity_curve_command_ranks_like_the_builtin() {
    let dir = scratch("command-equal");
    let data = data_dir().join("qstrader_examples");
    let builtin = sixty_forty_spec(
        "builtin",
        "fixed_weights",
        "[backtest]\nstart = 2003-09-29\nend = 2020-12-31\nsplit = 2012-01-03\nkeep_returns = true",
    );
    let command = sixty_forty_spec(
        "command",
        "command",
        &format!(
            r#"[backtest]
split = 2012-01-03
keep_returns = true

[command]
argv = ["{worker}", "run", "--strategy", "fixed_weights", "--data-dir", "{data}",
  "--symbols", "SPY,AGG", "--start", "2003-09-29", "--end", "2020-12-31",
  "--params-json", "{{params_json}}", "--equity-csv", "{{result}}"]
timeout = "2m"
output = "equity_csv"

[command.params]
w_SPY = {{ type = "float", default = 0.6, min = 0.0, max = 1.0 }}
w_AGG = {{ type = "float", default = 0.4, min = 0.0, max = 1.0 }}"#,
            worker = bin("bt-worker").display(),
            data = data.display(),
        ),
    );
    let mut tables = Vec::new();
    for (file, text) in [("builtin.toml", &builtin), ("command.toml", &command)] {
        let sweep_dir = plan(&dir, file, text);
        sweep(&[
            os("run"),
            sweep_dir.as_os_str(),
            os("--local"),
            os("--no-collect"),
        ])
        .expect_code(0);
        let out = collect(&[sweep_dir.as_os_str(), os("--format"), os("csv")]);
        out.expect_code(0);
        tables.push((Csv::parse(&out.stdout), out.stderr));
    }
    let (b, b_err) = &tables[0];
    let (c, c_err) = &tables[1];
    assert_eq!(b.rows.len(), 7, "7 combinations pass the constraint");
    assert_eq!(b.header, c.header);
    assert_eq!(b.combos(), c.combos());
    let unknown = ["trades", "turnover", "exposure"];
    let mut compared = Vec::new();
    for (k, name) in b.header.iter().enumerate() {
        let col_b: Vec<&String> = b.rows.iter().map(|r| &r[k]).collect();
        let col_c: Vec<&String> = c.rows.iter().map(|r| &r[k]).collect();
        if unknown.iter().any(|u| name.ends_with(u)) {
            assert!(
                col_b.iter().all(|v| !v.is_empty()),
                "{name}: built-in has it"
            );
            assert!(
                col_c.iter().all(|v| v.is_empty()),
                "{name}: unknown for the command: {col_c:?}"
            );
            continue;
        }
        // The same text: the same f64, bit for bit (CSV writes the shortest round-trip).
        assert_eq!(col_b, col_c, "column `{name}`");
        compared.push(name.as_str());
    }
    println!("equal in every row: {}", compared.join(", "));
    for metric in [
        "sharpe",
        "cagr",
        "max_drawdown",
        "skew",
        "kurtosis",
        "n_obs",
    ] {
        assert!(compared.contains(&metric), "{metric} compared");
    }
    assert!(
        compared
            .iter()
            .any(|c| c.contains("sharpe") && *c != "sharpe"),
        "the split's columns are compared: {compared:?}"
    );
    // The overfitting figures (DSR, PBO over the kept returns) are the same lines.
    let figures = |err: &str| -> Vec<String> {
        err.lines()
            .filter(|l| {
                l.contains("Deflated Sharpe") || l.contains("PBO") || l.contains("V[Sharpe]")
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(figures(b_err), figures(c_err));
    assert!(
        figures(c_err).iter().any(|l| l.contains("PBO (CSCV")),
        "{c_err}"
    );
    assert!(
        c_err.contains("cannot be computed from these results (shown as -): trades, turnover, exposure (strategy `command`, output = \"equity_csv\": an equity curve does not tell them)"),
        "{c_err}"
    );
    let files = result_files(&only_sweep(&dir, "command"));
    let run = &files[0].1.runs[0];
    assert_eq!(run.metrics.as_ref().and_then(|m| m.trades), None);
    // `keep_returns = true`: the CSCV block moments (S = 16) of its 4,000+ daily returns.
    assert!(run.returns.is_none());
    assert!(run
        .blocks
        .as_ref()
        .is_some_and(|b| b.count.len() == 16 && b.count[0] > 250));
}

fn only_sweep(dir: &Path, name: &str) -> PathBuf {
    std::fs::read_dir(dir.join("fs").join("sweeps"))
        .expect("sweeps")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}-")))
        })
        .unwrap_or_else(|| panic!("no sweep {name}"))
}
