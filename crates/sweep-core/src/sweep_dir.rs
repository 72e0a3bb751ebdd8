//! The sweep directory on the shared filesystem: where every file of one planned sweep lives.

use std::path::{Path, PathBuf};

/// The folder of one planned sweep (`<sharedfs>/sweeps/<name>-<hash8>/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepDir {
    root: PathBuf,
}

impl SweepDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SweepDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The spec as planned (normalised TOML).
    pub fn spec(&self) -> PathBuf {
        self.root.join("spec.toml")
    }
    pub fn plan(&self) -> PathBuf {
        self.root.join("plan.json")
    }
    pub fn manifest(&self) -> PathBuf {
        self.root.join("manifest.jsonl")
    }
    pub fn array_script(&self) -> PathBuf {
        self.root.join("array.sbatch")
    }
    pub fn collect_script(&self) -> PathBuf {
        self.root.join("collect.sbatch")
    }
    /// One line per submission.
    pub fn jobs(&self) -> PathBuf {
        self.root.join("jobs.jsonl")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn results(&self) -> PathBuf {
        self.root.join("results")
    }
    pub fn report(&self) -> PathBuf {
        self.root.join("report")
    }
    /// `results/task-<k>.<host>.json`.
    pub fn result_file(&self, task: u64, host: &str) -> PathBuf {
        self.results().join(result_file_name(task, host))
    }
}

/// The file name of task `task`'s result written on `host`.
pub fn result_file_name(task: u64, host: &str) -> String {
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("task-{task}.{host}.json")
}

/// Parses `task-<k>.<host>.json` into `(k, host)`; `None` for any other name.
pub fn parse_result_file_name(name: &str) -> Option<(u64, String)> {
    let rest = name.strip_prefix("task-")?.strip_suffix(".json")?;
    let (k, host) = rest.split_once('.')?;
    Some((k.parse().ok()?, host.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_names_round_trip_and_sanitise_host() {
        let n = result_file_name(12, "node02");
        assert_eq!(n, "task-12.node02.json");
        assert_eq!(parse_result_file_name(&n), Some((12, "node02".into())));
        assert_eq!(result_file_name(1, "a/b c"), "task-1.a_b_c.json");
        assert_eq!(parse_result_file_name("task-x.h.json"), None);
        assert_eq!(parse_result_file_name(".task-1.h.json.tmp"), None);
    }
}
