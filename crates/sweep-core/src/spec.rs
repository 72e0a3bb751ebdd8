//! The sweep spec (TOML): name, strategy, data, backtest settings, the parameter grid,
//! constraints, sampling, and the `[slurm]` settings of the job array.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which container runtime wraps the task's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerRuntime {
    Apptainer,
    Docker,
}

/// `[slurm.container]`: run the worker inside an image, with the shared filesystem bound.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    pub runtime: ContainerRuntime,
    /// Image reference (docker) or `.sif` path (apptainer).
    pub image: String,
    /// Extra arguments for `apptainer exec` / `docker run`.
    #[serde(default)]
    pub args: Vec<String>,
}

/// `[slurm]`: how the job array is submitted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmConfig {
    /// `--job-name`; defaults to the sweep name.
    pub job_name: Option<String>,
    pub partition: Option<String>,
    /// `--time`, e.g. `"00:10:00"`.
    pub time: Option<String>,
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. `"1G"`.
    pub mem: Option<String>,
    pub nodes: Option<u32>,
    pub account: Option<String>,
    pub qos: Option<String>,
    pub constraint: Option<String>,
    /// `%N` of `--array`: at most N tasks at once.
    pub throttle: Option<u32>,
    /// Combinations per array task; if unset, derived from `target_task_seconds`.
    pub combos_per_task: Option<u64>,
    /// Wanted wall time of one task, used to choose `combos_per_task`.
    pub target_task_seconds: Option<f64>,
    /// Overrides the cluster's MaxArraySize (else read from `scontrol show config`, else 1001).
    pub max_array_size: Option<u64>,
    /// Extra `#SBATCH` directives, e.g. `["--exclusive"]`.
    pub extra: Vec<String>,
    /// Shell lines run before the worker (module loads and the like).
    pub setup: Vec<String>,
    pub container: Option<ContainerConfig>,
    /// Explicit path of the `bt-worker` binary on the nodes; else `bin/<arch>/bt-worker` on
    /// the shared filesystem, else `bt-worker` on PATH.
    pub worker: Option<PathBuf>,
}
