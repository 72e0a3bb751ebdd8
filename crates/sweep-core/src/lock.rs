//! One local run at a time per sweep directory.
//!
//! Two `sweep run --local` of the same sweep would each run every task that is not done,
//! twice the work for the same results. [`RunLock::acquire`] takes an exclusive `flock(2)`
//! on `<sweep dir>/run.lock` without waiting, and writes who holds it (pid, host, start
//! time) into the file, so that the run that is refused can name the holder. The lock
//! lives as long as the [`RunLock`] (its open file): the kernel releases it when the
//! holder ends in any way, a crash or `kill -9` included, so a dead run never blocks the
//! next one. The file is never removed (removing it would let a third run lock a new
//! file while the second still holds the old one); the holder empties it when it is done.
//!
//! The file is opened close-on-exec (as Rust opens every file), so the workers a run starts
//! do not inherit the lock and cannot keep it after their parent is gone. On NFS, Linux
//! turns `flock` into a POSIX lock that the server arbitrates, so runs on different nodes
//! of a shared filesystem exclude each other too (with the NFS lock service running).
//!
//! ```
//! use sweep_core::lock::{LockError, RunLock};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let first = RunLock::acquire(dir.path(), "node02").unwrap();
//! match RunLock::acquire(dir.path(), "node03") {
//!     Err(LockError::Held { holder: Some(h), .. }) => assert_eq!(h.host, "node02"),
//!     other => panic!("expected the lock to be held, got {other:?}"),
//! }
//! drop(first);
//! assert!(RunLock::acquire(dir.path(), "node03").is_ok());
//! ```

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::layout::SweepDir;

/// The schema id written into the lock file.
pub const LOCK_SCHEMA: &str = "slurm-sweep/run-lock/v1";

/// Who holds a sweep directory's run lock (the content of `run.lock`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub schema: String,
    pub pid: u32,
    pub host: String,
    pub started: DateTime<Utc>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} on host {}, started {}",
            self.pid,
            self.host,
            self.started.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// Why the run lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock; `holder` is what it wrote (`None` when the file is
    /// empty or unreadable, e.g. in the instant between its lock and its write).
    #[error(
        "{} is already being run by another `sweep run` ({}); wait for it to finish, or stop \
         it, then run again (the lock, {}, is released as soon as that process ends)",
        .dir.display(),
        .holder.as_ref().map_or_else(|| "its pid, host and start time are not recorded yet".to_string(), Holder::to_string),
        .path.display()
    )]
    Held {
        dir: PathBuf,
        path: PathBuf,
        holder: Option<Holder>,
    },
    #[error("cannot {action} the run lock {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The exclusive run lock of one sweep directory, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    holder: Holder,
}

impl RunLock {
    /// Takes the run lock of sweep directory `dir` at once, or says who holds it.
    /// `host` is this machine's name, recorded for the message of a refused run.
    pub fn acquire(dir: &Path, host: &str) -> Result<RunLock, LockError> {
        let path = SweepDir::new(dir).run_lock();
        let io = |action, source| LockError::Io {
            action,
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        // SAFETY: flock on a file descriptor this function owns (open above); no memory is
        // passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    holder: read_holder(&mut file),
                    path,
                });
            }
            return Err(io("lock", err));
        }
        let holder = Holder {
            schema: LOCK_SCHEMA.to_string(),
            pid: std::process::id(),
            host: host.to_string(),
            started: Utc::now(),
        };
        let mut text = serde_json::to_string(&holder).map_err(|e| io("write", e.into()))?;
        text.push('\n');
        file.set_len(0).map_err(|e| io("write", e))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(|e| io("write", e))?;
        Ok(RunLock { file, path, holder })
    }

    /// The lock file, `<sweep dir>/run.lock`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What this lock recorded about its holder (this process).
    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Empty the file before the lock goes (with the file) so that it never names a
        // run that is over; the lock itself is released when the file closes.
        let _ = self.file.set_len(0);
    }
}

/// The holder recorded in an open lock file, if it can be read.
fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// The holder recorded in `<dir>/run.lock`, if any (for messages; it does not say whether
/// the lock is still held).
pub fn recorded_holder(dir: &Path) -> Option<Holder> {
    let mut file = File::open(SweepDir::new(dir).run_lock()).ok()?;
    read_holder(&mut file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = RunLock::acquire(dir.path(), "node02").expect("first lock");
        assert_eq!(first.holder().pid, std::process::id());
        assert_eq!(first.path(), SweepDir::new(dir.path()).run_lock());
        assert_eq!(recorded_holder(dir.path()).as_ref(), Some(first.holder()));
        let err = RunLock::acquire(dir.path(), "node03").expect_err("held");
        let text = err.to_string();
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
        assert!(
            text.contains(&format!("pid {} on host node02", std::process::id())),
            "{text}"
        );
        match err {
            LockError::Held { holder, .. } => assert_eq!(holder.as_ref(), Some(first.holder())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dropping_the_lock_releases_and_empties_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(RunLock::acquire(dir.path(), "a").expect("lock"));
        assert_eq!(recorded_holder(dir.path()), None);
        assert!(SweepDir::new(dir.path()).run_lock().is_file());
        let again = RunLock::acquire(dir.path(), "b").expect("lock again");
        assert_eq!(again.holder().host, "b");
    }

    #[test]
    fn an_unrecorded_holder_is_said_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = RunLock::acquire(dir.path(), "a").expect("lock");
        std::fs::write(first.path(), "").expect("empty the file");
        let text = RunLock::acquire(dir.path(), "b")
            .expect_err("held")
            .to_string();
        assert!(text.contains("not recorded yet"), "{text}");
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = dir.path().join("nope");
        let text = RunLock::acquire(&gone, "a")
            .expect_err("no dir")
            .to_string();
        assert!(text.contains("cannot open the run lock"), "{text}");
        assert!(
            text.contains(&SweepDir::new(&gone).run_lock().display().to_string()),
            "{text}"
        );
    }
}
