//! Running one program to its end: in a process group of its own (so that a timeout, or a
//! SIGINT/SIGTERM to the worker, ends everything it started), stdin from `/dev/null`,
//! stdout and stderr to files, with a timeout that sends the group SIGTERM and, after a
//! grace period, SIGKILL.
//!
//! The program is waited for without reaping it first (`waitid(WNOWAIT)` in a thread), so
//! that whatever it leaves behind in its group is killed while its process id still names
//! the group; only then is it reaped. A program that leaves its group (`setsid`) escapes
//! this, as it escapes any process-group based job control; SLURM's own process tracking
//! still ends it with the job.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sweep_core::interrupt::Interrupt;

/// How long a timed-out or interrupted program has between SIGTERM and SIGKILL, by
/// default.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// The grace period when the worker itself is stopping: `sweep run` sends SIGKILL to a
/// worker that is still there 2 s after its SIGTERM, and the programs must be gone first.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(1);

/// How often a wait looks at the interrupt flag.
const POLL: Duration = Duration::from_millis(50);

/// How long a program may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `None`: no limit.
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// How a program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it (not one the worker sent).
    Signalled(i32),
    /// It ran past its timeout and its group was killed; `killed` says whether SIGKILL was
    /// needed after the grace period.
    TimedOut { killed: bool },
    /// The worker received this signal (SIGINT, SIGTERM) and ended the group.
    Interrupted(i32),
}

/// The name of a signal for messages: `SIGKILL`.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        _ => return format!("signal {sig}"),
    };
    format!("{name} ({sig})")
}

/// Sends `sig` to process group `pgid`; a group that no longer exists is not an error.
fn kill_group(pgid: i32, sig: i32) {
    // SAFETY: killpg only sends a signal; a negative result (ESRCH: nothing left) is fine.
    unsafe {
        libc::killpg(pgid, sig);
    }
}

/// Waits until child `pid` has exited, without reaping it.
fn wait_exited(pid: i32) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data; waitid fills it. P_PID with our own child's id.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A started program.
struct Running {
    child: Child,
    pgid: i32,
    exited: mpsc::Receiver<io::Result<()>>,
    grace: Duration,
}

impl Running {
    /// Waits up to `limit` for the program to exit; true when it has.
    fn wait_for(&self, limit: Duration, interrupt: Option<&Interrupt>) -> io::Result<Wait> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(sig) = interrupt.and_then(Interrupt::received) {
                return Ok(Wait::Interrupted(sig));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Wait::Running);
            }
            let slice = if interrupt.is_some() {
                left.min(POLL)
            } else {
                left
            };
            match self.exited.recv_timeout(slice) {
                Ok(r) => return r.map(|()| Wait::Exited),
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the waiting thread ended"))
                }
            }
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`; true when SIGKILL was needed.
    fn end_group(&self, grace: Duration) -> io::Result<bool> {
        kill_group(self.pgid, libc::SIGTERM);
        let exited = matches!(self.wait_for(grace, None)?, Wait::Exited);
        if !exited {
            kill_group(self.pgid, libc::SIGKILL);
            self.exited
                .recv()
                .map_err(|_| io::Error::other("the waiting thread ended"))??;
        }
        Ok(!exited)
    }

    /// Ends what is left of the group and reaps the program.
    fn reap(mut self) -> io::Result<ExitStatus> {
        kill_group(self.pgid, libc::SIGKILL);
        self.child.wait()
    }
}

enum Wait {
    Exited,
    Running,
    Interrupted(i32),
}

/// Runs `command` (its program, arguments, directory and environment set by the caller)
/// to its end, in a process group of its own, stdin null, stdout and stderr to the given
/// files; `limits.timeout` ends it (the group: SIGTERM, then SIGKILL after
/// `limits.grace`), as does a SIGINT or SIGTERM to the worker when `interrupt` is given.
/// An error only when the program cannot be started or waited for.
pub fn run_to_end(
    command: &mut Command,
    stdout: std::fs::File,
    stderr: std::fs::File,
    limits: Limits,
    interrupt: Option<&Interrupt>,
) -> io::Result<Ended> {
    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    let child = command.spawn()?;
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("wait-{pid}"))
        .spawn(move || {
            let _ = tx.send(wait_exited(pid));
        })?;
    let running = Running {
        child,
        pgid: pid,
        exited: rx,
        grace: limits.grace,
    };
    // Years: "no timeout" without overflowing an Instant.
    let limit = limits.timeout.unwrap_or(Duration::from_secs(1 << 32));
    let ended = match running.wait_for(limit, interrupt)? {
        Wait::Exited => None,
        Wait::Running => Some(Ended::TimedOut {
            killed: running.end_group(running.grace)?,
        }),
        Wait::Interrupted(sig) => {
            running.end_group(running.grace.min(INTERRUPT_GRACE))?;
            Some(Ended::Interrupted(sig))
        }
    };
    let status = running.reap()?;
    Ok(
        ended.unwrap_or_else(|| match (status.code(), status.signal()) {
            (Some(code), _) => Ended::Exited(code),
            (None, Some(sig)) => Ended::Signalled(sig),
            (None, None) => Ended::Exited(-1),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Option<Duration>) -> (Ended, String) {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("out");
        let err = dir.path().join("err");
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        let ended = run_to_end(
            &mut c,
            std::fs::File::create(&out).expect("out"),
            std::fs::File::create(&err).expect("err"),
            Limits {
                timeout,
                grace: Duration::from_millis(300),
            },
            None,
        )
        .expect("runs");
        (ended, std::fs::read_to_string(&out).expect("read"))
    }

    #[test]
    fn exit_codes_and_signals() {
        assert_eq!(sh("echo hi", None), (Ended::Exited(0), "hi\n".into()));
        assert_eq!(sh("exit 3", None).0, Ended::Exited(3));
        assert_eq!(sh("kill -SEGV $$", None).0, Ended::Signalled(libc::SIGSEGV));
        assert_eq!(signal_name(9), "SIGKILL (9)");
    }

    #[test]
    fn a_timeout_ends_the_group_even_when_sigterm_is_ignored() {
        let started = Instant::now();
        let (ended, _) = sh("sleep 30 & sleep 30", Some(Duration::from_millis(200)));
        assert_eq!(ended, Ended::TimedOut { killed: false });
        assert!(started.elapsed() < Duration::from_secs(3));
        let (ended, _) = sh("trap '' TERM; sleep 30", Some(Duration::from_millis(100)));
        assert_eq!(ended, Ended::TimedOut { killed: true });
    }
}
