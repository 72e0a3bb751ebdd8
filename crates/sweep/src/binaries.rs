//! Finding the project's other binaries (`bt-worker`, `collect`): next to the running
//! `sweep` executable first (a `cargo build` puts them all in `target/<profile>/`), then
//! on PATH; and choosing the `bt-worker` of a local run in the order the array script
//! uses (`[slurm] worker`, then `<sharedfs>/bin/<arch>/bt-worker`, then those two).

use std::fmt;
use std::path::{Path, PathBuf};

/// The path of binary `name`, or `None` when it is neither beside this executable nor on PATH.
pub fn find(name: &str) -> Option<PathBuf> {
    beside_this_exe(name).or_else(|| on_path(name))
}

/// `name` in the directory of the running executable, when it is an executable file there.
fn beside_this_exe(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let beside = exe.parent()?.join(name);
    is_executable(&beside).then_some(beside)
}

/// The first executable `name` in a directory of PATH (as `command -v name`).
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// Where the `bt-worker` of a local run was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerSource {
    /// `[slurm] worker` of the spec.
    Explicit,
    /// `<sharedfs>/bin/<arch>/bt-worker`, as `sweep install` puts it.
    SharedFs,
    /// Beside the running `sweep` executable.
    BesideSweep,
    /// On PATH.
    Path,
}

impl fmt::Display for WorkerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkerSource::Explicit => "[slurm] worker",
            WorkerSource::SharedFs => "shared filesystem",
            WorkerSource::BesideSweep => "beside the sweep executable",
            WorkerSource::Path => "from PATH",
        })
    }
}

/// The `bt-worker` binary a local run uses, and where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worker {
    pub path: PathBuf,
    pub source: WorkerSource,
}

/// Why no `bt-worker` could be chosen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkerError {
    #[error("[slurm] worker {} is not an executable on this machine", .0.display())]
    ExplicitMissing(PathBuf),
    #[error(
        "bt-worker not found for architecture {arch}: looked for {}, beside the sweep \
         executable and on PATH; install one with `sweep install` or build it with `cargo build --release`",
        sweep_core::SharedFs::new(.sharedfs).worker(arch).display()
    )]
    NotFound { sharedfs: PathBuf, arch: String },
}

/// An explicit worker as the array script resolves it: a name without `/` is looked up
/// on PATH, anything else must be an executable file.
fn resolve_explicit(worker: &Path) -> Option<PathBuf> {
    let as_text = worker.to_string_lossy();
    if as_text.contains('/') {
        is_executable(worker).then(|| worker.to_path_buf())
    } else {
        on_path(&as_text)
    }
}

/// Chooses the `bt-worker` of a local run the way the rendered array script does:
/// `explicit` (`[slurm] worker`) when given, then `<sharedfs>/bin/<arch>/bt-worker`, then
/// `bt-worker` beside the running executable, then on PATH. An explicit worker that is not
/// executable here is an error, unless `explicit_may_be_absent` (the worker is a path in
/// a container image, which a local run does not use): then the search goes on.
pub fn choose_worker(
    explicit: Option<&Path>,
    explicit_may_be_absent: bool,
    sharedfs: &Path,
    arch: &str,
) -> Result<Worker, WorkerError> {
    let found = |path: PathBuf, source| Worker { path, source };
    if let Some(worker) = explicit {
        match resolve_explicit(worker) {
            Some(path) => return Ok(found(path, WorkerSource::Explicit)),
            None if explicit_may_be_absent => {}
            None => return Err(WorkerError::ExplicitMissing(worker.to_path_buf())),
        }
    }
    let shared = sweep_core::SharedFs::new(sharedfs).worker(arch);
    if is_executable(&shared) {
        return Ok(found(shared, WorkerSource::SharedFs));
    }
    if let Some(path) = beside_this_exe("bt-worker") {
        return Ok(found(path, WorkerSource::BesideSweep));
    }
    if let Some(path) = on_path("bt-worker") {
        return Ok(found(path, WorkerSource::Path));
    }
    Err(WorkerError::NotFound {
        sharedfs: sharedfs.to_path_buf(),
        arch: arch.to_string(),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(path, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[test]
    fn explicit_worker_wins_over_the_shared_filesystem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let explicit = dir.path().join("my/bt-worker");
        executable(&explicit);
        executable(&dir.path().join("bin/x86_64/bt-worker"));
        let w = choose_worker(Some(&explicit), false, dir.path(), "x86_64").expect("found");
        assert_eq!(w.path, explicit);
        assert_eq!(w.source, WorkerSource::Explicit);
    }

    #[test]
    fn shared_filesystem_worker_of_this_arch_wins_over_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = dir.path().join("bin/riscv64/bt-worker");
        executable(&shared);
        executable(&dir.path().join("bin/x86_64/bt-worker"));
        let w = choose_worker(None, false, dir.path(), "riscv64").expect("found");
        assert_eq!(w.path, shared);
        assert_eq!(w.source, WorkerSource::SharedFs);
    }

    #[test]
    fn non_executable_shared_worker_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = dir.path().join("bin/riscv64/bt-worker");
        std::fs::create_dir_all(shared.parent().expect("parent")).expect("mkdir");
        std::fs::write(&shared, "not executable").expect("write");
        match choose_worker(None, false, dir.path(), "riscv64") {
            Ok(w) => assert_ne!(w.source, WorkerSource::SharedFs),
            Err(e) => assert!(matches!(e, WorkerError::NotFound { .. })),
        }
    }

    #[test]
    fn missing_explicit_worker_is_an_error_unless_it_lives_in_a_container() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope/bt-worker");
        let shared = dir.path().join("bin/x86_64/bt-worker");
        executable(&shared);
        assert_eq!(
            choose_worker(Some(&missing), false, dir.path(), "x86_64"),
            Err(WorkerError::ExplicitMissing(missing.clone()))
        );
        let w = choose_worker(Some(&missing), true, dir.path(), "x86_64").expect("found");
        assert_eq!(w.path, shared);
        assert_eq!(w.source, WorkerSource::SharedFs);
    }
}
