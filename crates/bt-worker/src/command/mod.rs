//! A `strategy = "command"` sweep in the worker: each combination runs the spec's program
//! (see `sweep_core::command` for the spec and the placeholders) and becomes a run of the
//! task's result file like a built-in's.
//!
//! * **One run.** The combination gets a scratch directory of its own under the task's
//!   scratch root (`$TMPDIR`, else `/tmp`: node-local, not the shared filesystem), holding
//!   `params.json` (`{params_json}`), the `{result}` file and the program's `stdout` and
//!   `stderr`. The program starts in `workdir`, in a process group of its own, stdin from
//!   `/dev/null`, with the worker's environment plus `SWEEP_PARAM_<name>` for every
//!   parameter, `SWEEP_PARAMS_JSON`, `SWEEP_RESULT`, `SWEEP_OUTPUT`, `SWEEP_SCRATCH`,
//!   `SWEEP_COMBO`, `SWEEP_TASK` and the spec's `env` (its `${VAR}` expanded here). The
//!   scratch directory is removed afterwards.
//! * **Statistics.** From an equity curve (`qstrader_json`, `equity_csv`) the same as for
//!   the worker's own backtests (`backtest::stats`: the summary, the in-sample/out-of-sample
//!   split, the CSCV block moments or daily returns as `keep_returns` says); trades,
//!   turnover and exposure cannot be known from a curve and are unknown (NaN, `null`).
//!   From `metrics_json`, what it gives.
//! * **Failures** are the combination's: a non-zero exit (code or signal), a timeout (the
//!   process group killed), a result missing, empty or unparsable; each message ends with
//!   the last lines of the program's stderr. The task's other combinations still run.
//! * **Interruption.** On SIGINT or SIGTERM the worker ends the running programs' groups
//!   (SIGTERM, then SIGKILL after 1 s), writes no result (the task runs again later) and exits
//!   130/143.
//! * **`bt-worker command --sweep-dir DIR --combo I`** runs one combination by hand,
//!   printing the argument vector, the environment it adds, the program's output and the
//!   parsed metrics; it writes nothing into `results/`.

pub mod one;
pub mod output;
pub mod process;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use backtest::stats::{curve_parts, summary};
use backtest::{Metrics, Params};
use chrono::NaiveDate;
use sweep_core::command::{duration_text, CommandSpec, RunPaths};
use sweep_core::interrupt::Interrupt;
use sweep_core::manifest::ManifestEntry;
use sweep_core::result::{Run, RunStatus};
use sweep_core::{Plan, Spec};

use output::{read_output, Output, OutputError};
use process::{run_to_end, signal_name, Ended, Limits, KILL_GRACE};

/// How many of the last lines of the program's stderr a failure message keeps.
pub const TAIL_LINES: usize = 10;
/// At most this many bytes of them.
pub const TAIL_BYTES: usize = 1500;

/// The command of a sweep, ready to run the combinations of one task.
pub struct CommandRunner<'a> {
    command: &'a CommandSpec,
    /// The program found on this machine, or why not (then every combination fails so).
    program: Result<PathBuf, String>,
    /// `env` expanded, or why it cannot be.
    env: Result<Vec<(String, String)>, String>,
    task: u64,
    sweep_dir: PathBuf,
    split: Option<NaiveDate>,
    keep_returns: crate::task::Keep,
    scratch_root: PathBuf,
    limits: Limits,
    keep_scratch: bool,
}

/// One combination's run, with what `bt-worker command` shows.
#[derive(Debug)]
pub struct ComboRun {
    pub run: Run,
    pub argv: Vec<OsString>,
    /// The variables the worker added (its own, then `env`).
    pub env: Vec<(String, String)>,
    pub scratch: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub seconds: f64,
    /// The worker was interrupted (SIGINT/SIGTERM) while it ran: its run is not a result.
    pub interrupted: Option<i32>,
}

impl<'a> CommandRunner<'a> {
    /// Prepares the command of `spec` (a command sweep planned in `sweep_dir`) for task
    /// `task`: finds the program, expands `env`, creates the task's scratch root.
    pub fn new(
        spec: &'a Spec,
        plan: &Plan,
        sweep_dir: &Path,
        task: u64,
        keep_scratch: bool,
    ) -> anyhow::Result<CommandRunner<'a>> {
        let Some(command) = spec.command.as_ref() else {
            bail!(
                "{}: not a command sweep (strategy `{}`)",
                sweep_dir.display(),
                spec.strategy
            );
        };
        // Not canonicalised: a virtual environment's `bin/python` is a link, and Python
        // finds its environment from the path it was started as.
        let program = command
            .find_program(std::env::var_os("PATH").as_deref())
            .map_err(|m| format!("{m} (on {})", crate::task::host_name()));
        let env = command.expanded_env(|v| std::env::var(v).ok());
        let base = std::env::var_os("TMPDIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let scratch_root = base.join(format!(
            "slurm-sweep-{}-{}-task{task}-{}",
            plan.name,
            plan.hash8(),
            std::process::id()
        ));
        std::fs::create_dir_all(&scratch_root).with_context(|| {
            format!(
                "cannot create the scratch directory {}",
                scratch_root.display()
            )
        })?;
        Ok(CommandRunner {
            command,
            program,
            env,
            task,
            sweep_dir: sweep_dir.to_path_buf(),
            split: spec.backtest.split,
            keep_returns: crate::task::Keep::of(&spec.backtest),
            scratch_root,
            limits: Limits {
                timeout: command.timeout.map(Duration::from_secs_f64),
                grace: KILL_GRACE,
            },
            keep_scratch,
        })
    }

    /// Changes the grace period between SIGTERM and SIGKILL.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.limits.grace = grace;
        self
    }

    /// The task's scratch root.
    pub fn scratch_root(&self) -> &Path {
        &self.scratch_root
    }

    /// Runs one combination (see the module documentation); never fails: what goes wrong
    /// is the run's error.
    pub fn run(&self, entry: &ManifestEntry, interrupt: Option<&Interrupt>) -> ComboRun {
        let clock = Instant::now();
        let received = interrupt.and_then(Interrupt::received);
        let scratch = self.scratch_root.join(format!("combo-{}", entry.i));
        let result = scratch.join(self.command.output.file_name());
        let params_json = scratch.join("params.json");
        let paths = RunPaths {
            result: &result,
            scratch: &scratch,
            params_json: &params_json,
            combo: entry.i,
            task: self.task,
        };
        let argv = self.command.argv_for(&entry.params, &paths);
        let mut env = self.command.sweep_env(&entry.params, &paths);
        if let Ok(extra) = &self.env {
            env.extend(extra.iter().cloned());
        }
        let (stdout, stderr) = (scratch.join("stdout"), scratch.join("stderr"));
        let mut out = ComboRun {
            run: failed_run(entry, String::new()),
            argv,
            env,
            scratch: scratch.clone(),
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            seconds: 0.0,
            interrupted: None,
        };
        let outcome = match received {
            // Stopping: start nothing more.
            Some(sig) => Ok(Ended::Interrupted(sig)),
            None => self.run_program(&out, &params_json, &entry.params, interrupt),
        };
        out.seconds = clock.elapsed().as_secs_f64();
        let tail = stderr_tail(&stderr);
        out.run = match outcome {
            Ok(Ended::Exited(0)) => match read_output(self.command.output, &result) {
                Ok(parsed) => self
                    .ok_run(entry, parsed)
                    .unwrap_or_else(|m| failed_run(entry, self.message(entry, &m, &tail))),
                Err(e) => {
                    let what = self.output_problem(&result, e);
                    failed_run(entry, self.message(entry, &what, &tail))
                }
            },
            Ok(Ended::Exited(code)) => failed_run(
                entry,
                self.message(
                    entry,
                    &format!(
                        "the program exited with code {code} after {:.1} s",
                        out.seconds
                    ),
                    &tail,
                ),
            ),
            Ok(Ended::Signalled(sig)) => failed_run(
                entry,
                self.message(
                    entry,
                    &format!(
                        "the program was killed by {} after {:.1} s",
                        signal_name(sig),
                        out.seconds
                    ),
                    &tail,
                ),
            ),
            Ok(Ended::TimedOut { killed }) => {
                let timeout = self.command.timeout.unwrap_or_default();
                let how = if killed {
                    format!(
                        "SIGTERM, then SIGKILL after {}",
                        duration_text(self.limits.grace.as_secs_f64())
                    )
                } else {
                    "SIGTERM".to_string()
                };
                failed_run(
                    entry,
                    self.message(
                        entry,
                        &format!(
                            "timed out after {} (`timeout`): the program's process group was killed ({how})",
                            duration_text(timeout)
                        ),
                        &tail,
                    ),
                )
            }
            Ok(Ended::Interrupted(sig)) => {
                out.interrupted = Some(sig);
                failed_run(
                    entry,
                    format!(
                        "interrupted by {}: the program's process group was ended",
                        signal_name(sig)
                    ),
                )
            }
            Err(message) => failed_run(entry, self.message(entry, &message, &tail)),
        };
        if !self.keep_scratch {
            let _ = std::fs::remove_dir_all(&scratch);
        }
        out
    }

    /// Starts the program in a fresh scratch directory and waits for it.
    fn run_program(
        &self,
        run: &ComboRun,
        params_json: &Path,
        params: &Params,
        interrupt: Option<&Interrupt>,
    ) -> Result<Ended, String> {
        let program = self.program.as_ref().map_err(String::clone)?;
        self.env.as_ref().map_err(String::clone)?;
        let _ = std::fs::remove_dir_all(&run.scratch);
        std::fs::create_dir_all(&run.scratch).map_err(|e| {
            format!(
                "cannot create the scratch directory {}: {e}",
                run.scratch.display()
            )
        })?;
        let json = serde_json::to_vec(params).map_err(|e| e.to_string())?;
        std::fs::write(params_json, json)
            .map_err(|e| format!("cannot write {}: {e}", params_json.display()))?;
        let file = |p: &Path| {
            std::fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))
        };
        let mut command = Command::new(program);
        command
            .args(&run.argv[1..])
            .current_dir(&self.command.workdir)
            .envs(run.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        run_to_end(
            &mut command,
            file(&run.stdout)?,
            file(&run.stderr)?,
            self.limits,
            interrupt,
        )
        .map_err(|e| format!("cannot run the program {}: {e}", program.display()))
    }

    /// What is wrong with the result file.
    fn output_problem(&self, result: &Path, e: OutputError) -> String {
        let format = self.command.output.name();
        match e {
            OutputError::Missing => format!(
                "the program exited with code 0 but wrote no result: {} does not exist \
                 (output = \"{format}\"; write it to {{result}} or $SWEEP_RESULT)",
                result.display()
            ),
            OutputError::Empty => format!(
                "the result {} is empty (output = \"{format}\")",
                result.display()
            ),
            OutputError::Unreadable(m) => {
                format!("the result {} cannot be read: {m}", result.display())
            }
            OutputError::Unparsable(m) => {
                format!("the result {} is not valid {format}: {m}", result.display())
            }
        }
    }

    /// A failure message: what happened, the stderr tail, how to look closer.
    fn message(&self, entry: &ManifestEntry, what: &str, tail: &str) -> String {
        let mut m = what.to_string();
        if tail.is_empty() {
            m.push_str("; stderr was empty");
        } else {
            m.push_str(&format!("; stderr (last lines):\n{tail}"));
        }
        m.push_str(&format!(
            "\n(run it alone: bt-worker command --sweep-dir {} --combo {})",
            self.sweep_dir.display(),
            entry.i
        ));
        m
    }

    /// The run of a program that reported `output`.
    fn ok_run(&self, entry: &ManifestEntry, output: Output) -> Result<Run, String> {
        let (metrics, split, (returns, blocks)) = match output {
            Output::Metrics(m) => (*m, None, (None, None)),
            Output::Curve { dates, equity } => {
                let (metrics, split) = curve_metrics(&dates, &equity, self.split)?;
                (metrics, split, self.keep_returns.of_curve(&equity))
            }
        };
        let (in_sample, out_of_sample) = split.unzip();
        Ok(Run {
            i: entry.i,
            params: entry.params.clone(),
            status: RunStatus::Ok,
            error: None,
            metrics: Some(metrics),
            in_sample,
            out_of_sample,
            returns,
            windows: None,
            blocks,
        })
    }
}

impl Drop for CommandRunner<'_> {
    fn drop(&mut self) {
        if !self.keep_scratch {
            let _ = std::fs::remove_dir_all(&self.scratch_root);
        }
    }
}

/// The metrics of a reported equity curve, and of its parts with a split date: the same
/// statistics as the simulator's (`backtest::stats`), with the trading figures unknown.
pub fn curve_metrics(
    dates: &[NaiveDate],
    equity: &[f64],
    split: Option<NaiveDate>,
) -> Result<(Metrics, Option<(Metrics, Metrics)>), String> {
    if let (Some(d), Some(first), Some(last)) = (split, dates.first(), dates.last()) {
        if d <= *first || d > *last {
            return Err(format!(
                "the split date {d} leaves a part of the reported curve ({first} to {last}) empty"
            ));
        }
    }
    Ok(curve_parts(dates, split, |r| summary(&equity[r])))
}

/// A run that failed with `message`.
fn failed_run(entry: &ManifestEntry, message: String) -> Run {
    Run::failed(entry.i, entry.params.clone(), message)
}

/// The last [`TAIL_LINES`] lines of the file, at most [`TAIL_BYTES`] bytes, each indented
/// by two spaces; empty when the file is.
pub fn stderr_tail(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(4 * TAIL_BYTES as u64);
    let mut bytes = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut size = 0;
    for line in lines.iter().rev().take(TAIL_LINES) {
        if size + line.len() > TAIL_BYTES {
            if kept.is_empty() {
                // One long line: its end.
                let mut at = line.len() - TAIL_BYTES;
                while !line.is_char_boundary(at) {
                    at += 1;
                }
                kept.push(&line[at..]);
            }
            break;
        }
        size += line.len() + 1;
        kept.push(line);
    }
    kept.reverse();
    kept.iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
