//! The real `collect` binary and CSCV's number of blocks S: a number of splits C(S, S/2)
//! beyond the limit (`--pbo-blocks 40`: 1.4e11 splits, which used to grow memory until the
//! machine ran out), an odd S or S < 2 are refused at once with exit 2 and a message that
//! says what to do; S larger than the returns of a sweep is a note beside the table.

mod util;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use util::*;

/// A 20-combination sweep whose runs kept `days` daily returns each.
fn sweep_with_returns(root: &Path, days: usize) {
    use rand::{Rng, SeedableRng};
    let plan = plan("noise", "b0c5e7f1", 20, 10);
    let dir = write_sweep(root, &plan);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for task in 0..plan.tasks {
        let mut f = result(&plan, task, "node02", time(0), &[]);
        for run in &mut f.runs {
            run.returns = Some((0..days).map(|_| rng.gen_range(-0.02..0.02)).collect());
        }
        write_result(&dir, &f);
    }
}

/// What `collect ARGS` did, run with a deadline: killed after `limit` (so that a regression
/// cannot eat the machine's memory), with its stdout, stderr and wall time.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn collect_within(args: &[&str], limit: Duration) -> Run {
    let tmp = tempfile::tempdir().expect("tmp");
    let (out_path, err_path) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_collect"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("run collect");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for collect") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`collect {}` still running after {:.0} s (killed); stderr so far:\n{}",
                args.join(" "),
                limit.as_secs_f64(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    Run {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).expect("stdout"),
        stderr: std::fs::read_to_string(&err_path).expect("stderr"),
        elapsed,
    }
}

/// The largest resident set of any child this test process has waited for, in bytes
/// (Linux reports kilobytes).
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024
}

#[test]
fn pbo_blocks_40_is_refused_at_once_with_exit_2() {
    let tmp = tempfile::tempdir().expect("tmp");
    sweep_with_returns(tmp.path(), 320);
    let dir = tmp.path().to_str().expect("path");
    let run = collect_within(
        &[dir, "--pbo", "--pbo-blocks", "40"],
        Duration::from_secs(60),
    );
    println!(
        "collect --pbo --pbo-blocks 40: exit {:?} in {:.2} s, peak RSS of children {} MB\n{}",
        run.code,
        run.elapsed.as_secs_f64(),
        children_peak_rss() >> 20,
        run.stderr
    );
    assert_eq!(run.code, Some(2), "stderr:\n{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    assert!(
        children_peak_rss() < 200 << 20,
        "peak RSS {} MB",
        children_peak_rss() >> 20
    );
    assert_eq!(
        run.stderr.trim_end(),
        "error: --pbo-blocks 40: CSCV would evaluate C(40, 20) = 137,846,528,820 splits (1.1 TB \
         for their logits alone, and time in proportion), more than the limit of 1,000,000 \
         splits; use a smaller even number of blocks: at most 22 (705,432 splits); 16 (12,870 \
         splits) is the usual choice"
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn odd_or_fewer_than_2_blocks_are_refused_with_exit_2() {
    let tmp = tempfile::tempdir().expect("tmp");
    sweep_with_returns(tmp.path(), 64);
    let dir = tmp.path().to_str().expect("path");
    for (blocks, says) in [
        (
            "7",
            "--pbo-blocks 7: the number of CSCV blocks S must be even",
        ),
        ("0", "--pbo-blocks 0: CSCV needs at least 2 blocks"),
        ("1", "--pbo-blocks 1: CSCV needs at least 2 blocks"),
    ] {
        let run = collect_within(
            &[dir, "--pbo", "--pbo-blocks", blocks],
            Duration::from_secs(60),
        );
        assert_eq!(run.code, Some(2), "S = {blocks}: {}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!("error: {says}")),
            "S = {blocks}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

#[test]
fn more_blocks_than_returns_is_a_note_beside_the_table() {
    // 10 returns per run, S = 16: the table stands, PBO says why it is absent.
    let tmp = tempfile::tempdir().expect("tmp");
    sweep_with_returns(tmp.path(), 10);
    let dir = tmp.path().to_str().expect("path");
    let run = collect_within(
        &[dir, "--pbo", "--pbo-blocks", "16"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let note = "PBO: not computed: --pbo-blocks 16: PBO needs at least 16 returns per strategy \
                (one per block), the shortest has 10; use an even S of at most 10";
    assert!(run.stderr.contains(note), "{}", run.stderr);
    let run = collect_within(
        &[dir, "--pbo", "--pbo-blocks", "8", "--format", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["overfitting"]["pbo"]["splits"], 70);
    assert!(v["overfitting"]["pbo_note"].is_null());
}
