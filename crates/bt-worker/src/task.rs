//! `bt-worker task`: runs the combinations of one array task and writes its result file.

use std::path::PathBuf;

/// Arguments of `bt-worker task`.
#[derive(Debug, clap::Args)]
pub struct TaskArgs {
    /// The sweep directory (holds plan.json, manifest.jsonl, spec.toml).
    #[arg(long)]
    pub sweep_dir: PathBuf,
    /// The task number; defaults to SWEEP_TASK_OFFSET + SLURM_ARRAY_TASK_ID.
    #[arg(long)]
    pub task: Option<u64>,
    /// Run even if a complete result for this plan exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs one task. Exit code: 0 all combinations ran, 1 some failed, 2 error.
pub fn run(args: &TaskArgs) -> anyhow::Result<std::process::ExitCode> {
    let _ = args;
    anyhow::bail!("bt-worker task is not implemented yet")
}
