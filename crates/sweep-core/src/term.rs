//! Printing to stdout and stderr that never panics.
//!
//! `println!` and `eprintln!` panic when a write fails: a full disk under `> out.txt`, a
//! stderr on `/dev/full`, a SLURM log on a full shared filesystem. The binary then dies
//! with exit code 101 in the middle of its work and leaves an empty log. These macros take
//! the same arguments and never panic:
//!
//! | instead of   | use                   |
//! |--------------|-----------------------|
//! | `println!`   | `sweep_core::outln!`  |
//! | `print!`     | `sweep_core::out!`    |
//! | `eprintln!`  | `sweep_core::errln!`  |
//! | `eprint!`    | `sweep_core::err!`    |
//!
//! # The rule
//!
//! - **stderr** carries diagnostics, and there is nowhere to report that they could not be
//!   written: a failed write to stderr is ignored, and the command goes on (its exit code
//!   still says how it ended). Each message is tried on its own.
//! - **stdout** carries what the command produces (a table, CSV, JSON), so losing it is an
//!   error, reported when the command ends:
//!   - the first failed write (other than a broken pipe) is recorded, and everything
//!     written to stdout after it is dropped, so that what did reach the file is a clean
//!     prefix of the output rather than output with holes;
//!   - the command carries on with its work (result files, reports), and `main` calls
//!     [`finish_stdout`] last: it flushes stdout and returns the recorded failure as a
//!     [`StdoutError`], which `main` prints on stderr (`error: cannot write to stdout`,
//!     `Caused by: No space left on device`) and turns into exit code 2;
//!   - a broken pipe (`EPIPE`: the reader went away, as in `sweep status | head`) is not
//!     a failure: the reader wanted no more. Stdout writes stop and nothing is reported.
//!     (With [`crate::process::restore_default_sigpipe`] called first in `main`, SIGPIPE
//!     normally ends the process before it sees `EPIPE`.)
//!
//! A closed stdout or stderr (`>&-`) is already treated as a successful write by the
//! standard library. Like `format!`, the macros still panic on a `Display` implementation
//! that returns an error without the stream failing: that is a bug, not a write error. Unlike `println!`, these macros write to the process's real streams
//! even inside `cargo test` (the test harness's output capture is not public).
//!
//! ```
//! use std::process::ExitCode;
//! use sweep_core::{errln, outln};
//!
//! fn main() -> ExitCode {
//!     outln!("{} of {} tasks done", 3, 4);
//!     errln!("warning: task {} has no result", 3);
//!     match sweep_core::term::finish_stdout() {
//!         Ok(()) => ExitCode::SUCCESS,
//!         Err(e) => {
//!             errln!("error: {e}");
//!             if let Some(cause) = std::error::Error::source(&e) {
//!                 errln!("  Caused by: {cause}");
//!             }
//!             ExitCode::from(2)
//!         }
//!     }
//! }
//! ```

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

/// Writes to stdout like `println!`, without panicking; see the [module](crate::term)
/// for what happens when the write fails.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::term::write_stdout(::std::format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::term::write_stdout(::std::format_args!($($arg)*), true)
    };
}

/// Writes to stdout like `print!`, without panicking (flushed at the next line or by
/// [`term::finish_stdout`](crate::term::finish_stdout)).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::term::write_stdout(::std::format_args!($($arg)*), false)
    };
}

/// Writes to stderr like `eprintln!`; a failed write is ignored.
#[macro_export]
macro_rules! errln {
    () => {
        $crate::term::write_stderr(::std::format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::term::write_stderr(::std::format_args!($($arg)*), true)
    };
}

/// Writes to stderr like `eprint!`; a failed write is ignored.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::term::write_stderr(::std::format_args!($($arg)*), false)
    };
}

/// What was written to stdout could not all be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout")]
pub struct StdoutError(#[source] pub io::Error);

/// Writes still go out.
const OPEN: u8 = 0;
/// The reader went away (EPIPE): writes stop, nothing to report.
const READER_GONE: u8 = 1;
/// A write failed: writes stop, the failure is reported at the end.
const FAILED: u8 = 2;

/// The record of an output stream under the rule above: whether its writes still go out,
/// and its first failure.
#[derive(Debug)]
pub struct Stream {
    state: AtomicU8,
    failure: Mutex<Option<io::Error>>,
}

impl Stream {
    /// A stream nothing has been written to yet.
    pub const fn new() -> Stream {
        Stream {
            state: AtomicU8::new(OPEN),
            failure: Mutex::new(None),
        }
    }

    /// Writes `args` (and a newline) into `w` unless an earlier write failed or found the
    /// reader gone; records what goes wrong.
    pub fn write(&self, w: &mut impl Write, args: fmt::Arguments<'_>, newline: bool) {
        if self.state.load(Ordering::Acquire) != OPEN {
            return;
        }
        let written = w
            .write_fmt(args)
            .and_then(|()| if newline { w.write_all(b"\n") } else { Ok(()) });
        if let Err(e) = written {
            self.record(e);
        }
    }

    /// Flushes `w` (unless writes have stopped) and returns the first failure, if any.
    pub fn finish(&self, w: &mut impl Write) -> Result<(), io::Error> {
        if self.state.load(Ordering::Acquire) == OPEN {
            if let Err(e) = w.flush() {
                self.record(e);
            }
        }
        match self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            Some(e) => Err(duplicate(e)),
            None => Ok(()),
        }
    }

    fn record(&self, e: io::Error) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            // Never downgrades an earlier failure.
            let _ =
                self.state
                    .compare_exchange(OPEN, READER_GONE, Ordering::AcqRel, Ordering::Acquire);
            return;
        }
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            *failure = Some(e);
        }
        self.state.store(FAILED, Ordering::Release);
    }
}

impl Default for Stream {
    fn default() -> Stream {
        Stream::new()
    }
}

/// A copy of `e` (io::Error is not Clone): the same OS error, or the same kind and text.
fn duplicate(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The process's stdout record.
static STDOUT: Stream = Stream::new();

/// What [`outln!`](crate::outln) and [`out!`](crate::out) call.
#[doc(hidden)]
pub fn write_stdout(args: fmt::Arguments<'_>, newline: bool) {
    // One lock for the text and its newline, so that lines of threads do not interleave.
    STDOUT.write(&mut io::stdout().lock(), args, newline);
}

/// What [`errln!`](crate::errln) and [`err!`](crate::err) call: stderr is unbuffered, every
/// message is tried, and a failure is ignored.
#[doc(hidden)]
pub fn write_stderr(args: fmt::Arguments<'_>, newline: bool) {
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_fmt(args).and_then(|()| {
        if newline {
            stderr.write_all(b"\n")
        } else {
            Ok(())
        }
    });
}

/// Flushes stdout and returns the first write to it that failed (other than a broken
/// pipe) since the process started. Call it last in `main` and exit with 2 on an error.
pub fn finish_stdout() -> Result<(), StdoutError> {
    STDOUT.finish(&mut io::stdout().lock()).map_err(StdoutError)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that accepts `room` bytes, then fails every write with `error`.
    struct Limited {
        written: Vec<u8>,
        room: usize,
        error: fn() -> io::Error,
        flushes: usize,
    }

    impl Limited {
        fn new(room: usize, error: fn() -> io::Error) -> Limited {
            Limited {
                written: Vec::new(),
                room,
                error,
                flushes: 0,
            }
        }
    }

    impl Write for Limited {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.room - self.written.len());
            if n == 0 && !buf.is_empty() {
                return Err((self.error)());
            }
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushes += 1;
            Ok(())
        }
    }

    fn full() -> io::Error {
        io::Error::from_raw_os_error(libc::ENOSPC)
    }

    fn broken_pipe() -> io::Error {
        io::Error::from_raw_os_error(libc::EPIPE)
    }

    #[test]
    fn lines_are_written_like_println() {
        let stream = Stream::new();
        let mut w = Limited::new(1 << 10, full);
        stream.write(&mut w, format_args!("{} of {}", 3, 4), true);
        stream.write(&mut w, format_args!("a"), false);
        stream.write(&mut w, format_args!("b"), true);
        assert_eq!(String::from_utf8_lossy(&w.written), "3 of 4\nab\n");
        assert!(stream.finish(&mut w).is_ok());
        assert_eq!(w.flushes, 1);
    }

    #[test]
    fn a_full_disk_is_recorded_and_later_writes_are_dropped() {
        let stream = Stream::new();
        let mut w = Limited::new(10, full);
        stream.write(&mut w, format_args!("first line"), true);
        stream.write(&mut w, format_args!("second"), true);
        // Room again (space freed): the output stays a prefix, without holes.
        w.room = 1 << 10;
        stream.write(&mut w, format_args!("third"), true);
        assert_eq!(String::from_utf8_lossy(&w.written), "first line");
        let e = stream.finish(&mut w).expect_err("the disk was full");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(w.flushes, 0, "no flush after a failure");
        // Asked again, the same failure.
        let again = stream.finish(&mut w).expect_err("still failed");
        assert_eq!(again.raw_os_error(), Some(libc::ENOSPC));
    }

    #[test]
    fn a_broken_pipe_stops_writes_quietly() {
        let stream = Stream::new();
        let mut w = Limited::new(4, broken_pipe);
        stream.write(&mut w, format_args!("one"), true);
        stream.write(&mut w, format_args!("two"), true);
        w.room = 1 << 10;
        stream.write(&mut w, format_args!("three"), true);
        assert_eq!(String::from_utf8_lossy(&w.written), "one\n");
        assert!(stream.finish(&mut w).is_ok());
    }

    #[test]
    fn a_failure_is_kept_after_a_broken_pipe_is_not() {
        let stream = Stream::new();
        let mut w = Limited::new(0, full);
        stream.write(&mut w, format_args!("x"), true);
        stream.record(broken_pipe());
        let e = stream.finish(&mut w).expect_err("full disk first");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
    }

    #[test]
    fn the_error_names_stdout_and_keeps_its_cause() {
        let e = StdoutError(full());
        assert_eq!(e.to_string(), "cannot write to stdout");
        let cause = std::error::Error::source(&e).expect("cause").to_string();
        assert!(cause.contains("No space left on device"), "{cause}");
    }

    #[test]
    fn the_macros_take_println_arguments() {
        // Written to the test process's real stdout and stderr.
        let n = 3;
        crate::outln!();
        crate::outln!("term: outln {n} {}", "ok");
        crate::out!("term: out {n:>3}\n");
        crate::errln!();
        crate::errln!("term: errln {}", n);
        crate::err!("term: err {n}\n");
        crate::outln!("term: trailing comma {}", n,);
        assert!(finish_stdout().is_ok());
    }

    /// Runs this test binary again, only test `name`, with `CHILD` set: the child redirects
    /// its own stdout and stderr and reports by exit code.
    fn run_child(name: &str) -> std::process::Output {
        let exe = std::env::current_exe().expect("test executable");
        std::process::Command::new(exe)
            .args(["--exact", name, "--test-threads=1", "--nocapture"])
            .env(CHILD, "1")
            .output()
            .expect("run the test binary")
    }

    const CHILD: &str = "SWEEP_CORE_TERM_TEST_CHILD";

    /// Points the process's fd `fd` at `file`.
    fn redirect(fd: i32, file: &std::fs::File) {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 on two open descriptors; the child process exits right after.
        let rc = unsafe { libc::dup2(file.as_raw_fd(), fd) };
        assert!(rc >= 0, "dup2: {}", io::Error::last_os_error());
    }

    #[test]
    fn dev_full_ends_with_an_error_not_a_panic() {
        if std::env::var_os(CHILD).is_some() {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full");
            redirect(1, &full);
            redirect(2, &full);
            crate::errln!("to a full stderr");
            crate::outln!("to a full stdout {}", 1);
            crate::out!("and more");
            crate::errln!("to a full stderr again");
            let code = match finish_stdout() {
                Err(StdoutError(e)) if e.raw_os_error() == Some(libc::ENOSPC) => 2,
                Err(_) => 3,
                Ok(()) => 4,
            };
            std::process::exit(code);
        }
        let out = run_child("term::tests::dev_full_ends_with_an_error_not_a_panic");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    #[test]
    fn a_closed_pipe_is_not_an_error() {
        if std::env::var_os(CHILD).is_some() {
            let mut fds = [0i32; 2];
            // SAFETY: pipe fills the two descriptors it is given.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            // SAFETY: both descriptors were just opened by pipe; the test binary ignores
            // SIGPIPE (Rust's runtime does), so the write gets EPIPE.
            unsafe {
                libc::close(fds[0]);
                libc::dup2(fds[1], 1);
            }
            crate::outln!("nobody reads this");
            crate::outln!("nor this");
            let code = match finish_stdout() {
                Ok(()) => 0,
                Err(_) => 3,
            };
            std::process::exit(code);
        }
        let out = run_child("term::tests::a_closed_pipe_is_not_an_error");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
