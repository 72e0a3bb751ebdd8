//! Where things live: the shared filesystem (`bin/<arch>/`, `data/<dataset>/`, `sweeps/`)
//! and the folder of one planned sweep, with the names of every file in it (result files,
//! their temporary files, logs, array scripts, the quarantine). Every binary asks this
//! module for a path; none builds one itself.
//!
//! ```text
//! <sharedfs>/bin/<arch>/bt-worker
//! <sharedfs>/data/<dataset>/<SYMBOL>.csv
//! <sharedfs>/sweeps/<name>-<hash8>/
//!     spec.toml plan.json manifest.jsonl jobs.jsonl run.lock
//!     array.sbatch array-1.sbatch ... collect.sbatch
//!     logs/<jobid>_<index>.out|.err   logs/local_<task>.out|.err
//!     results/task-<k>.<host>.json    results/.task-<k>.<host>.json.<random>.tmp (a write)
//!     results/task-<k>.<host>.<sha8>.cols  (the binary sidecar a v2 result names)
//!     results/quarantine/<name>.<UTC time>
//!     report/
//! ```

use std::path::{Path, PathBuf};

/// The root of the shared filesystem, mounted at the same path on every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedFs {
    root: PathBuf,
}

impl SharedFs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SharedFs { root: root.into() }
    }

    /// The shared filesystem of a sweep directory `<sharedfs>/sweeps/<name>`; for a
    /// directory elsewhere, its parent.
    pub fn of_sweep_dir(dir: &Path) -> SharedFs {
        let parent = dir.parent().unwrap_or(dir);
        if parent.file_name().is_some_and(|n| n == "sweeps") {
            if let Some(root) = parent.parent() {
                return SharedFs::new(root);
            }
        }
        SharedFs::new(parent)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `bin/`: one folder per CPU architecture.
    pub fn bin_root(&self) -> PathBuf {
        self.root.join("bin")
    }
    /// `bin/<arch>/`: the binaries for one CPU architecture (as `uname -m` names it).
    pub fn bin(&self, arch: &str) -> PathBuf {
        self.bin_root().join(arch)
    }
    /// `bin/<arch>/bt-worker`.
    pub fn worker(&self, arch: &str) -> PathBuf {
        self.bin(arch).join("bt-worker")
    }
    /// `data/`.
    pub fn data_root(&self) -> PathBuf {
        self.root.join("data")
    }
    /// `data/<dataset>/`.
    pub fn dataset(&self, dataset: &str) -> PathBuf {
        self.data_root().join(dataset)
    }
    /// `sweeps/`.
    pub fn sweeps(&self) -> PathBuf {
        self.root.join("sweeps")
    }
    /// `sweeps/<name>-<hash8>/`.
    pub fn sweep(&self, name: &str, hash8: &str) -> SweepDir {
        SweepDir::new(self.sweeps().join(format!("{name}-{hash8}")))
    }
}

/// The folder of one planned sweep (`<sharedfs>/sweeps/<name>-<hash8>/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepDir {
    root: PathBuf,
}

/// Which of a task's two log files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Out,
    Err,
}

impl LogStream {
    fn extension(self) -> &'static str {
        match self {
            LogStream::Out => "out",
            LogStream::Err => "err",
        }
    }
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
    /// The job-array script of array chunk `n` (`array.sbatch`, `array-1.sbatch`, ...).
    pub fn array_script(&self, n: usize) -> PathBuf {
        self.root.join(array_script_name(n))
    }
    pub fn collect_script(&self) -> PathBuf {
        self.root.join("collect.sbatch")
    }
    /// One line per submission.
    pub fn jobs(&self) -> PathBuf {
        self.root.join("jobs.jsonl")
    }
    /// Held by a run of the sweep (`sweep run --local`): two runs cannot both work.
    pub fn run_lock(&self) -> PathBuf {
        self.root.join("run.lock")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// SLURM's log of array index `index` of job `job` (`logs/<job>_<index>.<out|err>`, the
    /// `%A_%a` of the array script).
    pub fn slurm_log(&self, job: &str, index: u64, stream: LogStream) -> PathBuf {
        self.logs()
            .join(format!("{job}_{index}.{}", stream.extension()))
    }
    /// The log of task `task` run by `sweep run --local` (`logs/local_<task>.<out|err>`).
    pub fn local_log(&self, task: u64, stream: LogStream) -> PathBuf {
        self.logs()
            .join(format!("local_{task}.{}", stream.extension()))
    }
    pub fn results(&self) -> PathBuf {
        self.root.join("results")
    }
    /// `results/quarantine/`: result files set aside, never deleted.
    pub fn quarantine(&self) -> PathBuf {
        self.results().join("quarantine")
    }
    pub fn report(&self) -> PathBuf {
        self.root.join("report")
    }
    /// `results/task-<k>.<host>.json`.
    pub fn result_file(&self, task: u64, host: &str) -> PathBuf {
        self.results().join(result_file_name(task, host))
    }
}

/// File name of the job-array script of chunk `n`: `array.sbatch`, `array-1.sbatch`, ...
pub fn array_script_name(n: usize) -> String {
    if n == 0 {
        "array.sbatch".to_string()
    } else {
        format!("array-{n}.sbatch")
    }
}

/// The file name of task `task`'s result written on `host`.
pub fn result_file_name(task: u64, host: &str) -> String {
    format!("task-{task}.{}.json", file_host(host))
}

/// The file name of the column sidecar of task `task`'s result written on `host`, whose
/// content's sha256 starts with `sha8`: `task-<k>.<host>.<sha8>.cols`.
pub fn sidecar_file_name(task: u64, host: &str, sha8: &str) -> String {
    format!("task-{task}.{}.{sha8}.cols", file_host(host))
}

/// Parses `task-<k>.<host>.<sha8>.cols` into `(k, host)`; `None` for any other name.
pub fn parse_sidecar_file_name(name: &str) -> Option<(u64, String)> {
    let rest = name.strip_prefix("task-")?.strip_suffix(".cols")?;
    let (k, rest) = rest.split_once('.')?;
    let (host, sha8) = rest.rsplit_once('.')?;
    if host.is_empty() || sha8.len() != 8 || !sha8.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((k.parse().ok()?, host.to_string()))
}

/// A host name as it appears in file names: anything but ASCII letters, digits, `-` and `_`
/// becomes `_`.
fn file_host(host: &str) -> String {
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The manifest of the sweep whose `results/` holds the result file `path`
/// (`<sweep>/results/<file>` with `<sweep>/manifest.jsonl` present): where a v2 result's
/// parameters are. `None` for a file elsewhere.
pub fn manifest_of_result(path: &Path) -> Option<PathBuf> {
    let results = path.parent()?;
    if results.file_name()? != "results" {
        return None;
    }
    let manifest = SweepDir::new(results.parent()?).manifest();
    manifest.is_file().then_some(manifest)
}

/// Parses `task-<k>.<host>.json` into `(k, host)`; `None` for any other name.
pub fn parse_result_file_name(name: &str) -> Option<(u64, String)> {
    let rest = name.strip_prefix("task-")?.strip_suffix(".json")?;
    let (k, host) = rest.split_once('.')?;
    Some((k.parse().ok()?, host.to_string()))
}

/// Whether `name` is a temporary file of an atomic write (`.<target>.<random>.tmp`, see
/// [`crate::atomic`]): a write in progress, or left behind by a writer that was killed.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// The task a temporary result file (`.task-<k>.<host>.json.<rnd>.tmp`) or sidecar
/// (`.task-<k>.<host>.<sha8>.cols.<rnd>.tmp`) was going to be.
pub fn temp_result_task(name: &str) -> Option<u64> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    if let Some(at) = inner.find(".json.") {
        return parse_result_file_name(&inner[..at + ".json".len()]).map(|(k, _)| k);
    }
    let at = inner.find(".cols.")?;
    parse_sidecar_file_name(&inner[..at + ".cols".len()]).map(|(k, _)| k)
}

/// What `results/` holds, by name alone (nothing is read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResultsListing {
    /// `task-<k>.<host>.json`, sorted.
    pub results: Vec<PathBuf>,
    /// Column sidecars `task-<k>.<host>.<sha8>.cols`, sorted: each is either named by a
    /// result file or a leftover ([`crate::classify`] tells which).
    pub sidecars: Vec<PathBuf>,
    /// Temporary files of atomic writes (in progress, or left by a killed writer).
    pub temp: Vec<PathBuf>,
    /// Anything else (another name, a folder other than `quarantine/`).
    pub other: Vec<PathBuf>,
    /// Files in `quarantine/`.
    pub quarantined: Vec<PathBuf>,
}

impl ResultsListing {
    /// Lists `results/` of `dir`; a missing folder is an empty listing.
    pub fn read(dir: &SweepDir) -> std::io::Result<ResultsListing> {
        let mut out = ResultsListing::default();
        let entries = match std::fs::read_dir(dir.results()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: cannot list: {e}", dir.results().display()),
                ))
            }
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir && name == "quarantine" {
                if let Ok(q) = std::fs::read_dir(&path) {
                    out.quarantined
                        .extend(q.flatten().map(|e| e.path()).filter(|p| p.is_file()));
                }
            } else if is_dir {
                out.other.push(path);
            } else if parse_result_file_name(&name).is_some() {
                out.results.push(path);
            } else if parse_sidecar_file_name(&name).is_some() {
                out.sidecars.push(path);
            } else if is_temp_name(&name) {
                out.temp.push(path);
            } else {
                out.other.push(path);
            }
        }
        for list in [
            &mut out.results,
            &mut out.sidecars,
            &mut out.temp,
            &mut out.other,
            &mut out.quarantined,
        ] {
            list.sort();
        }
        Ok(out)
    }
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
        let c = sidecar_file_name(12, "a.b", "0123abcd");
        assert_eq!(c, "task-12.a_b.0123abcd.cols");
        assert_eq!(parse_sidecar_file_name(&c), Some((12, "a_b".into())));
        assert_eq!(parse_result_file_name(&c), None);
        assert_eq!(parse_sidecar_file_name("task-1.h.xyz.cols"), None);
    }

    #[test]
    fn temp_names_of_atomic_writes_are_recognised() {
        assert!(is_temp_name(".task-3.node02.json.aB12cd.tmp"));
        assert_eq!(temp_result_task(".task-3.node02.json.aB12cd.tmp"), Some(3));
        assert_eq!(temp_result_task(".ranking.csv.x.tmp"), None);
        assert_eq!(
            temp_result_task(".task-4.node02.0a1b2c3d.cols.Xy12.tmp"),
            Some(4)
        );
        assert!(!is_temp_name("task-3.node02.json"));
    }

    #[test]
    fn listing_sorts_files_by_kind() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = SweepDir::new(tmp.path());
        std::fs::create_dir_all(dir.quarantine()).expect("mkdir");
        for name in [
            "task-1.a.json",
            ".task-2.b.json.x1.tmp",
            "notes.txt",
            "task-1.a.0123abcd.cols",
        ] {
            std::fs::write(dir.results().join(name), "x").expect("write");
        }
        std::fs::write(dir.quarantine().join("task-0.a.json.2026"), "x").expect("write");
        let l = ResultsListing::read(&dir).expect("list");
        assert_eq!(l.results, vec![dir.results().join("task-1.a.json")]);
        assert_eq!(l.temp, vec![dir.results().join(".task-2.b.json.x1.tmp")]);
        assert_eq!(l.other, vec![dir.results().join("notes.txt")]);
        assert_eq!(
            l.sidecars,
            vec![dir.results().join("task-1.a.0123abcd.cols")]
        );
        assert_eq!(l.quarantined.len(), 1);
    }

    #[test]
    fn sharedfs_paths() {
        let fs = SharedFs::new("/sharedfs");
        assert_eq!(
            fs.worker("aarch64"),
            Path::new("/sharedfs/bin/aarch64/bt-worker")
        );
        assert_eq!(
            fs.sweep("ma", "1a2b3c4d").root(),
            Path::new("/sharedfs/sweeps/ma-1a2b3c4d")
        );
        assert_eq!(
            SharedFs::of_sweep_dir(Path::new("/sharedfs/sweeps/ma-1")).root(),
            Path::new("/sharedfs")
        );
        let d = fs.sweep("ma", "1");
        assert_eq!(
            d.slurm_log("42", 3, LogStream::Err),
            Path::new("/sharedfs/sweeps/ma-1/logs/42_3.err")
        );
        assert_eq!(
            d.array_script(2),
            Path::new("/sharedfs/sweeps/ma-1/array-2.sbatch")
        );
    }
}
