//! The plan of a sweep (`plan.json`): hashes of the spec and the data, the number of
//! combinations, and how they are chunked into array tasks and split into arrays that fit
//! the cluster's MaxArraySize.

use std::ops::Range;

use backtest::walk_forward::{LaidWindow, Length, Mode, WalkForwardConfig, Window};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::planner::{
    default_sharedfs, load_plan, plan_sweep, read_plan, PlanError, PlanOptions, PlanSummary,
    PlannedSweep,
};

/// The schema id written into plan.json.
pub const PLAN_SCHEMA: &str = "slurm-sweep/plan/v1";

/// SLURM's default MaxArraySize: array indices run from 0 to 1000.
pub const DEFAULT_MAX_ARRAY_SIZE: u64 = 1001;

/// One data file the sweep reads, with its content hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataFileHash {
    pub symbol: String,
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// One input file of a command sweep (`[command] inputs`), with its content hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputFileHash {
    /// As written in the spec (relative to the command's workdir).
    pub input: String,
    /// The file hashed.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// One `sbatch --array` submission: tasks `offset .. offset + count`, submitted as array
/// indices `0 .. count` with the offset passed to the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayChunk {
    pub offset: u64,
    pub count: u64,
}

/// What `sweep plan` decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema: String,
    pub name: String,
    /// sha256 (hex) of the normalised spec, the data-file hashes and a command's input-file
    /// hashes: the sweep's identity.
    pub hash: String,
    /// sha256 (hex) of the normalised spec alone.
    pub spec_hash: String,
    pub data: Vec<DataFileHash>,
    /// The input files of a command sweep (absent for the others).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputFileHash>,
    pub strategy: String,
    pub combos: u64,
    pub combos_per_task: u64,
    pub tasks: u64,
    /// The manifest's offset index (`manifest.idx`: each task's first line); absent in
    /// plans made before it existed, whose tasks scan the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_index: Option<crate::manifest::ManifestIndex>,
    pub max_array_size: u64,
    pub arrays: Vec<ArrayChunk>,
    /// `%N` of the `--array` spec: at most N tasks at once.
    pub throttle: Option<u32>,
    pub tool_version: String,
    pub created: DateTime<Utc>,
    /// The walk-forward windows, when the spec has `[walk_forward]`: laid once, at plan
    /// time; the worker and `collect` read them from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_forward: Option<WalkForwardPlan>,
}

/// `plan.json`'s `walk_forward`: the spec's `[walk_forward]` settings and the windows they
/// lay on the data (dates inclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardPlan {
    pub train: Length,
    pub test: Length,
    pub step: Length,
    pub mode: Mode,
    pub gap: Length,
    pub windows: Vec<Window>,
}

impl WalkForwardPlan {
    /// The plan of `config` with its laid `windows`.
    pub fn new(config: &WalkForwardConfig, windows: &[LaidWindow]) -> WalkForwardPlan {
        WalkForwardPlan {
            train: config.train,
            test: config.test,
            step: config.step(),
            mode: config.mode,
            gap: config.gap(),
            windows: windows.iter().map(|w| w.window).collect(),
        }
    }
}

impl Plan {
    /// The first 8 hex digits of the hash, used in the sweep directory's name.
    pub fn hash8(&self) -> &str {
        &self.hash[..self.hash.len().min(8)]
    }

    /// The combination indices of task `task`.
    pub fn task_range(&self, task: u64) -> Range<u64> {
        task_range(self.combos, self.combos_per_task, task)
    }

    /// The `--array` value of array `n`: `0-<count-1>`, plus `%<throttle>` when set.
    pub fn array_spec(&self, n: usize) -> String {
        let count = self.arrays.get(n).map_or(0, |a| a.count);
        let range = match count {
            0 => String::new(),
            1 => "0".to_string(),
            c => format!("0-{}", c - 1),
        };
        match self.throttle {
            Some(t) => format!("{range}%{t}"),
            None => range,
        }
    }

    /// The array chunk that holds task `task`, with the task's index inside that array.
    pub fn array_of(&self, task: u64) -> Option<(usize, u64)> {
        self.arrays
            .iter()
            .enumerate()
            .find(|(_, a)| task >= a.offset && task < a.offset + a.count)
            .map(|(n, a)| (n, task - a.offset))
    }
}

/// The combination indices of task `task` when `combos` are cut into tasks of
/// `combos_per_task` (the last task may be shorter; tasks past the end are empty).
pub fn task_range(combos: u64, combos_per_task: u64, task: u64) -> Range<u64> {
    let per = combos_per_task.max(1);
    let start = task.saturating_mul(per).min(combos);
    let end = start.saturating_add(per).min(combos);
    start..end
}

/// Number of tasks needed for `combos` at `combos_per_task`.
pub fn task_count(combos: u64, combos_per_task: u64) -> u64 {
    combos.div_ceil(combos_per_task.max(1))
}

/// Splits `tasks` into arrays whose indices stay below `max_array_size`.
pub fn split_arrays(tasks: u64, max_array_size: u64) -> Vec<ArrayChunk> {
    let per = max_array_size.max(1);
    (0..tasks.div_ceil(per))
        .map(|n| {
            let offset = n * per;
            ArrayChunk {
                offset,
                count: per.min(tasks - offset),
            }
        })
        .collect()
}

/// Formats task indices as a compact SLURM `--array` list: `3,7,12-15`.
pub fn format_index_list(indices: &[u64]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn index_lists_are_compact() {
        assert_eq!(format_index_list(&[15, 3, 12, 13, 7, 14]), "3,7,12-15");
        assert_eq!(format_index_list(&[0]), "0");
        assert_eq!(format_index_list(&[]), "");
    }

    #[test]
    fn arrays_respect_max_size() {
        let a = split_arrays(120, 50);
        assert_eq!(
            a,
            vec![
                ArrayChunk {
                    offset: 0,
                    count: 50
                },
                ArrayChunk {
                    offset: 50,
                    count: 50
                },
                ArrayChunk {
                    offset: 100,
                    count: 20
                }
            ]
        );
        assert!(split_arrays(0, 50).is_empty());
    }

    proptest! {
        #[test]
        fn every_combo_lands_in_exactly_one_task_and_array(
            combos in 0u64..5000, per in 1u64..300, max in 1u64..60
        ) {
            let tasks = task_count(combos, per);
            let arrays = split_arrays(tasks, max);
            let mut seen = vec![0u32; combos as usize];
            for chunk in &arrays {
                prop_assert!(chunk.count <= max && chunk.count > 0);
                for local in 0..chunk.count {
                    let task = chunk.offset + local;
                    prop_assert!(task < tasks);
                    for i in task_range(combos, per, task) {
                        seen[i as usize] += 1;
                    }
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1));
            let covered: u64 = arrays.iter().map(|a| a.count).sum();
            prop_assert_eq!(covered, tasks);
        }
    }
}
