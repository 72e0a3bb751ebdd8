//! A reader that goes away (`bt-worker strategies | head -1`) ends the worker quietly, by
//! SIGPIPE as other Unix tools do, not with a panic about a failed write to stdout.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// SIGPIPE is 13 on Linux and the BSDs.
const SIGPIPE: i32 = 13;

#[test]
fn closed_stdout_ends_quietly() {
    // A pipe whose read end is closed before the worker writes anything: its first write
    // to stdout fails, deterministically.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_bt-worker"))
        .arg("strategies")
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bt-worker");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert_eq!(
        status.signal(),
        Some(SIGPIPE),
        "status {status:?}, stderr: {stderr}"
    );
}
