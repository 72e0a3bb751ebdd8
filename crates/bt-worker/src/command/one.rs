//! `bt-worker command --sweep-dir DIR --combo I [--keep-scratch]`: runs one combination
//! of a command sweep by hand, as its task would (same scratch layout, environment,
//! timeout and parsing), and shows everything: the working directory, the argument vector
//! (shell-quoted, to copy), the variables the worker adds, the program's stdout and stderr,
//! and the parsed metrics or the failure as the task would record it. Nothing is written
//! into `results/`. Exit code 0 when the combination ran, 1 when it failed, 2 error.

use std::path::PathBuf;

use anyhow::{bail, Context};
use backtest::metrics::format_metric;
use backtest::{Metrics, METRICS};
use sweep_core::identity::{check_data_unchanged, check_inputs_unchanged, check_spec_unchanged};
use sweep_core::interrupt::Interrupt;
use sweep_core::layout::SweepDir;
use sweep_core::manifest::read_range;
use sweep_core::plan::load_plan;
use sweep_core::result::RunStatus;

use super::CommandRunner;

/// Arguments of `bt-worker command`.
#[derive(Debug, clap::Args)]
pub struct CommandArgs {
    /// The sweep directory of a planned command sweep.
    #[arg(long)]
    pub sweep_dir: PathBuf,
    /// The combination to run (its line of manifest.jsonl, from 0).
    #[arg(long)]
    pub combo: u64,
    /// Keep the combination's scratch directory (params.json, the result, stdout, stderr).
    #[arg(long)]
    pub keep_scratch: bool,
}

/// A word as a POSIX shell would read it back.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./=:,+-@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Runs the combination. Exit code 0 it ran, 1 it failed.
pub fn run(args: &CommandArgs) -> anyhow::Result<u8> {
    let dir = SweepDir::new(&args.sweep_dir);
    let (plan, spec) = load_plan(&args.sweep_dir).with_context(|| {
        format!(
            "{}: not a planned sweep directory",
            args.sweep_dir.display()
        )
    })?;
    let Some(command) = &spec.command else {
        bail!(
            "{}: strategy `{}` is not a command; `bt-worker command` runs a combination of a \
             `strategy = \"command\"` sweep (for the others: bt-worker run --spec ... -p ...)",
            args.sweep_dir.display(),
            spec.strategy
        );
    };
    check_spec_unchanged(&plan, &spec, &dir.spec())?;
    if args.combo >= plan.combos {
        bail!(
            "combination {} does not exist: the plan of {} has {} (0..={})",
            args.combo,
            plan.name,
            plan.combos,
            plan.combos.saturating_sub(1)
        );
    }
    for changed in [
        check_data_unchanged(&plan, spec.data.as_ref()),
        check_inputs_unchanged(&plan),
    ]
    .into_iter()
    .filter_map(Result::err)
    {
        sweep_core::errln!("note: {changed}; a task would fail every combination (running anyway)");
    }
    let task = args.combo / plan.combos_per_task.max(1);
    let entry = read_range(&dir.manifest(), args.combo..args.combo + 1)?
        .pop()
        .context("the manifest has no such line")?;
    let runner = CommandRunner::new(&spec, &plan, &args.sweep_dir, task, true)?;
    let params: Vec<String> = entry
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    sweep_core::outln!(
        "combination {} of task {task}: {}",
        entry.i,
        params.join(", ")
    );
    sweep_core::outln!("workdir: {}", command.workdir.display());

    let interrupt = Interrupt::install().context("cannot catch SIGINT and SIGTERM")?;
    let ran = runner.run(&entry, Some(&interrupt));
    let argv: Vec<String> = ran
        .argv
        .iter()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect();
    sweep_core::outln!("argv: {}", argv.join(" "));
    sweep_core::outln!("environment added:");
    for (k, v) in &ran.env {
        sweep_core::outln!("  {k}={}", shell_quote(v));
    }
    for (name, path) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        sweep_core::outln!("--- {name} ({} bytes) ---", text.len());
        sweep_core::out!("{text}");
        if !text.is_empty() && !text.ends_with('\n') {
            sweep_core::outln!();
        }
    }
    sweep_core::outln!("--- outcome ({:.3} s) ---", ran.seconds);
    if args.keep_scratch {
        sweep_core::outln!("scratch kept: {}", ran.scratch.display());
    } else {
        let _ = std::fs::remove_dir_all(runner.scratch_root());
    }
    if let Some(sig) = ran.interrupted {
        sweep_core::errln!("stopped by {}", Interrupt::name(sig));
        return Ok(Interrupt::exit_status(sig));
    }
    match (&ran.run.status, &ran.run.metrics) {
        (RunStatus::Ok, Some(m)) => {
            show_metrics("metrics", m);
            if let (Some(a), Some(b)) = (&ran.run.in_sample, &ran.run.out_of_sample) {
                show_metrics("in-sample", a);
                show_metrics("out-of-sample", b);
            }
            Ok(0)
        }
        _ => {
            sweep_core::outln!(
                "error: {}",
                ran.run.error.as_deref().unwrap_or("the combination failed")
            );
            Ok(1)
        }
    }
}

fn show_metrics(label: &str, m: &Metrics) {
    sweep_core::outln!("{label}:");
    for d in &METRICS {
        let text = format_metric(d.name, (d.get)(m));
        sweep_core::outln!("  {:<22} {text}", d.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_reads_back() {
        assert_eq!(shell_quote("--w"), "--w");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(touch x)"), "'$(touch x)'");
        assert_eq!(shell_quote(""), "''");
    }
}
