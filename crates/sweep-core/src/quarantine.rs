//! The quarantine of a sweep (`results/quarantine/`): result files that must not be used
//! (untrusted, replaced by `--force`, failed and about to run again) are moved there, never
//! deleted, under their own name with the UTC time appended.

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
/// and returns the new path.
pub fn quarantine(dir: &SweepDir, path: &Path) -> Result<PathBuf, QuarantineError> {
    let qdir = dir.quarantine();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let target = qdir.join(format!("{name}.{stamp}"));
    let fail = |error| QuarantineError {
        from: path.to_path_buf(),
        to: target.clone(),
        error,
    };
    std::fs::create_dir_all(&qdir).map_err(fail)?;
    std::fs::rename(path, &target).map_err(fail)?;
    Ok(target)
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
}
