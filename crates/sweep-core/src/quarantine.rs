//! The quarantine of a sweep (`results/quarantine/`): result files that must not be used
//! (untrusted, replaced by `--force`, failed and about to run again) are moved there, never
//! deleted, under their own name with the UTC time appended. A v2 result file goes
//! together with the column sidecar it names (when that is beside it), under the same time.

use std::path::{Path, PathBuf};

use crate::layout::SweepDir;

/// Why a file could not be moved to the quarantine.
#[derive(Debug, thiserror::Error)]
#[error("cannot move {} to {}: {error}", .from.display(), .to.display())]
pub struct QuarantineError {
    pub from: PathBuf,
    pub to: PathBuf,
    pub error: std::io::Error,
}

/// Moves `path` (a file of `dir`'s `results/`) to `results/quarantine/<name>.<UTC time>`
/// and returns the new path. When `path` is a v2 result file naming a sidecar that exists
/// beside it, the sidecar is moved too (`<sidecar name>.<the same time>`), first: a JSON
/// is never left in `results/` without its sidecar by this move. A file that cannot be
/// read as JSON names no sidecar; a sidecar of its task then stays and is listed as a
/// leftover.
pub fn quarantine(dir: &SweepDir, path: &Path) -> Result<PathBuf, QuarantineError> {
    let qdir = dir.quarantine();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ").to_string();
    let target_of = |p: &Path| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        qdir.join(format!("{name}.{stamp}"))
    };
    let target = target_of(path);
    let fail = |from: &Path, to: &Path, error| QuarantineError {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        error,
    };
    std::fs::create_dir_all(&qdir).map_err(|e| fail(path, &target, e))?;
    if let Some(sidecar) = named_sidecar(path).filter(|s| s.is_file()) {
        let to = target_of(&sidecar);
        std::fs::rename(&sidecar, &to).map_err(|e| fail(&sidecar, &to, e))?;
    }
    std::fs::rename(path, &target).map_err(|e| fail(path, &target, e))?;
    Ok(target)
}

/// The sidecar a v2 result file names (`columns.file`, a plain sidecar name), beside it.
pub fn named_sidecar(path: &Path) -> Option<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Columns {
        file: String,
    }
    #[derive(serde::Deserialize)]
    struct Probe {
        columns: Option<Columns>,
    }
    let bytes = std::fs::read(path).ok()?;
    if !bytes.windows(9).any(|w| w == b"\"columns\"") {
        return None;
    }
    let probe: Probe = serde_json::from_slice(&bytes).ok()?;
    let name = probe.columns?.file;
    crate::layout::parse_sidecar_file_name(&name)?;
    Some(path.parent()?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_the_file_and_keeps_its_name() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = SweepDir::new(tmp.path());
        std::fs::create_dir_all(dir.results()).expect("mkdir");
        let file = dir.result_file(3, "node02");
        std::fs::write(&file, "x").expect("write");
        let moved = quarantine(&dir, &file).expect("move");
        assert!(!file.exists());
        assert_eq!(std::fs::read(&moved).expect("read"), b"x");
        let name = moved
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with("task-3.node02.json."), "{name}");
        assert_eq!(moved.parent(), Some(dir.quarantine().as_path()));
        let err = quarantine(&dir, &file).expect_err("gone");
        assert!(err.to_string().contains("task-3.node02.json"), "{err}");
    }

    #[test]
    fn a_v2_result_goes_with_its_sidecar() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = SweepDir::new(tmp.path());
        std::fs::create_dir_all(dir.results()).expect("mkdir");
        let sidecar = dir.results().join("task-3.node02.0123abcd.cols");
        let other = dir.results().join("task-3.node02.99999999.cols");
        std::fs::write(&sidecar, "cols").expect("write");
        std::fs::write(&other, "other").expect("write");
        let file = dir.result_file(3, "node02");
        std::fs::write(
            &file,
            r#"{"schema":"slurm-sweep/result/v2","columns":{"file":"task-3.node02.0123abcd.cols"}}"#,
        )
        .expect("write");
        let moved = quarantine(&dir, &file).expect("move");
        assert!(!file.exists() && !sidecar.exists());
        assert!(other.exists(), "only the named sidecar moves");
        let stamp = moved
            .file_name()
            .expect("name")
            .to_string_lossy()
            .trim_start_matches("task-3.node02.json.")
            .to_string();
        let side_moved = dir
            .quarantine()
            .join(format!("task-3.node02.0123abcd.cols.{stamp}"));
        assert_eq!(std::fs::read(&side_moved).expect("kept"), b"cols");
        // A JSON naming a sidecar that is gone still moves.
        std::fs::write(
            &file,
            r#"{"columns":{"file":"task-3.node02.0123abcd.cols"}}"#,
        )
        .expect("write");
        quarantine(&dir, &file).expect("move");
        assert!(!file.exists());
        assert_eq!(std::fs::read_dir(dir.quarantine()).expect("ls").count(), 3);
    }
}
