//! Helpers for tests that run the real binaries as processes: the binary directory (with
//! `bt-worker` and `collect` built beside `sweep`), the `bt-worker` processes of a sweep
//! directory (from `/proc/*/cmdline`), and waiting for a child with a deadline.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The directory of the binaries under test (`target/<profile>/`), with `bt-worker` and
/// `collect` built there first: `cargo test -p sweep` builds only `sweep` itself, and
/// binaries left from an older build would be tested stale. `cargo build` is a no-op when
/// they are up to date; it runs once per test binary.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_BIN_EXE_sweep"))
            .parent()
            .expect("the sweep binary has a directory")
            .to_path_buf();
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_string(),
            Some(other) => other.to_string(),
        };
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "bt-worker",
                "-p",
                "collect",
                "--bins",
                "--profile",
            ])
            .arg(&profile)
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p bt-worker -p collect failed"
        );
        for name in ["sweep", "bt-worker", "collect"] {
            assert!(dir.join(name).is_file(), "no {name} in {}", dir.display());
        }
        dir
    })
}

/// The pids of the `bt-worker` processes whose command line names `sweep_dir`.
pub fn workers_of(sweep_dir: &Path) -> Vec<u32> {
    let wanted = sweep_dir.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_worker = args.first().is_some_and(|a| a.ends_with(b"bt-worker"));
        if is_worker && args.contains(&wanted) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills (SIGKILL) the `bt-worker` processes of `sweep_dir` when dropped: a failing test
/// leaves no worker behind. Returns what it killed from [`WorkerReaper::kill_now`].
pub struct WorkerReaper(pub PathBuf);

impl WorkerReaper {
    pub fn kill_now(&self) -> Vec<u32> {
        let pids = workers_of(&self.0);
        for &pid in &pids {
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: kill(2) takes no pointers; the pids are this test's workers
                // (their command line names this test's temporary sweep directory).
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        pids
    }
}

impl Drop for WorkerReaper {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` at most `limit`; kills it (SIGKILL) and panics past that.
pub fn wait_child(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let mut status = None;
    wait_until(limit, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    match status {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
    }
}

/// Sends `signal` to the process `pid` alone (not its process group).
pub fn signal(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).expect("pid fits i32");
    // SAFETY: kill(2) takes no pointers; `pid` is a child this test started.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
}
