//! End-to-end: the documented examples that need a SLURM cluster, run as documented on a
//! real one (`scripts/local-cluster.sh up`; nodes node02-04 in partition `mycluster`). The
//! README's sweep walk-through (plan, submit, status, resubmit, collect, run --local) and
//! every `--help` page with an example that submits (`sweep submit`, `--test-only`,
//! `sweep smoke --submit`) run in order, each in its own sandbox, every example as
//! written; after a submission the runner waits until its jobs have left the queue.
//!
//! The same sequences run without a cluster in crates/sweep/tests/suite/examples.rs, with
//! `sweep submit` replaced by a local run; both use that directory's examples_runner.rs.
//! Runs only with `SLURM_SWEEP_E2E=1`.

#[path = "../crates/sweep/tests/suite/examples_runner.rs"]
mod examples_runner;

use examples_runner::{help_pages, readme, step, Mode, Sandbox, Sequence};

/// Whether a sequence runs differently with a cluster (it submits, or needs SLURM).
fn needs_the_cluster(seq: &Sequence) -> bool {
    seq.examples
        .iter()
        .any(|e| step(Mode::Local, e) != step(Mode::Slurm, e))
}

#[test]
fn slurm_examples_run_as_documented() {
    if !e2e::enabled("slurm_examples_run_as_documented") {
        return;
    }
    e2e::banner("scenario: the documented examples that need SLURM");
    let bin = e2e::bin_dir();
    let data = e2e::data_dir();
    let repo = e2e::repo_root();
    let mut sequences = vec![readme(&repo)];
    for program in ["sweep", "bt-worker", "collect"] {
        sequences.extend(help_pages(bin, program));
    }
    sequences.retain(needs_the_cluster);
    let names: Vec<&str> = sequences.iter().map(|s| s.name.as_str()).collect();
    println!("sequences that need the cluster: {names:?}");
    for expected in ["README.md", "sweep submit --help", "sweep smoke --help"] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    let mut failures = Vec::new();
    for seq in &sequences {
        let mut sandbox = Sandbox::new(bin, &data, &repo, Mode::Slurm);
        failures.extend(sandbox.run_sequence(seq).failures);
    }
    assert!(
        failures.is_empty(),
        "{} example(s) failed on the cluster:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
