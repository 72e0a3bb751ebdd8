//! Process-level behaviour shared by the three binaries: SIGPIPE, and how a command's
//! outcome becomes its exit status and its error message.

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

/// The exit status of a command that ends with `result`, the one convention of the three
/// binaries: `Ok(code)` is the command's own (0 complete, 1 finished but something is
/// missing or failed); an error is printed on stderr as `error: ...` with each distinct
/// cause once (`Caused by: ...`) and ends with 2, or with 130/143 when planning was stopped
/// by SIGINT/SIGTERM. Output that could not be written to stdout (see [`crate::term`]) turns
/// a success into an error too.
pub fn exit_status(result: Result<u8, &(dyn std::error::Error + 'static)>) -> u8 {
    let err = match result {
        Ok(code) => match crate::term::finish_stdout() {
            Ok(()) => return code,
            Err(e) => {
                print_error(&e);
                return 2;
            }
        },
        Err(e) => e,
    };
    print_error(err);
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(crate::PlanError::Interrupted { status, .. }) = e.downcast_ref() {
            return *status;
        }
        cause = e.source();
    }
    2
}

/// Prints `error: <err>` and each cause in its chain whose text the lines before do not
/// already hold (so a cause is never printed twice).
pub fn print_error(err: &(dyn std::error::Error + 'static)) {
    let mut printed = err.to_string();
    crate::errln!("error: {printed}");
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !printed.contains(&text) {
            crate::errln!("  Caused by: {text}");
            printed.push('\n');
            printed.push_str(&text);
        }
        source = cause.source();
    }
}
