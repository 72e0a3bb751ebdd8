//! Atomic file writes: a temporary file in the target's directory, fsync, then rename, so a
//! reader (or a node dying mid-write) never sees a half-written file.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically. The directory must exist. The file is readable by
/// everyone (0644), as results on a shared filesystem must be, whatever the umask of the
/// temporary file would have been.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with_mode(path, bytes, 0o644)
}

/// Writes `bytes` to `path` atomically with permissions `mode` (e.g. 0755 for a binary,
/// 0444 for a read-only data file). The directory must exist.
pub fn write_atomic_with_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_with(path, mode, |file, _| file.write_all(bytes))
}

/// Replaces `path` atomically with what `fill` writes: a temporary file in `path`'s
/// directory is created with permissions `mode` (set again after creation, so the umask
/// does not narrow them), `fill` writes into it (it also gets the temporary file's path,
/// e.g. to check what was written), then the file is fsynced and renamed over `path`.
/// When `fill` fails, the temporary file is removed and `path` is left as it was. A
/// process that has the old `path` open, or is executing it, keeps the old file.
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    // The mode given at creation is narrowed by the umask; chmod is not.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))?;
    let tmp_path = tmp.path().to_path_buf();
    fill(tmp.as_file_mut(), &tmp_path)?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable where the platform allows it.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.json");
        write_atomic(&p, b"first").expect("write");
        write_atomic(&p, b"second").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn written_files_are_world_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x");
        write_atomic(&p, b"a").expect("write");
        let mode = std::fs::metadata(&p).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn mode_is_set_before_the_rename_even_read_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ro.csv");
        write_atomic_with_mode(&p, b"a,b\n", 0o444).expect("write");
        let mode = std::fs::metadata(&p).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
        // A read-only file is still replaced: the rename needs only the directory.
        write_atomic_with_mode(&p, b"c,d\n", 0o755).expect("replace");
        assert_eq!(std::fs::read(&p).expect("read"), b"c,d\n");
        let mode = std::fs::metadata(&p).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn a_failing_fill_leaves_the_old_file_and_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("bin");
        write_atomic(&p, b"old").expect("write");
        let err = write_atomic_with(&p, 0o755, |file, tmp| {
            assert!(tmp.starts_with(dir.path()), "{}", tmp.display());
            file.write_all(b"half")?;
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "changed meanwhile",
            ))
        })
        .expect_err("fill failed");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(std::fs::read(&p).expect("read"), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }
}
