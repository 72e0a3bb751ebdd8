//! Process-level behaviour shared by the three binaries.

/// Restores the default action of SIGPIPE, so that `sweep status | head` or
/// `bt-worker strategies | less` end quietly when the reader goes away, as other Unix
/// tools do, instead of panicking on a failed write to stdout (Rust ignores SIGPIPE by
/// default). Call it first thing in `main`.
pub fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called at the start of `main`, before any thread is spawned; setting a
    // signal's disposition to SIG_DFL has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
