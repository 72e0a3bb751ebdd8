//! Every example a user reads is run, with the real binaries: the ```sh blocks of
//! README.md and docs/rules.md, and the `Examples:` of every `--help` page of `sweep`,
//! `bt-worker` and `collect` (see examples_runner.rs for how paths are mapped and what SLURM
//! changes).
//! A page without examples, an example that exits otherwise than documented, and an
//! option example in a page's prose that no example uses all fail here. The examples that
//! need a cluster run in tests/examples.rs (`SLURM_SWEEP_E2E=1`); those not run anywhere
//! are `NOT_RUN`, with the reason.

use std::path::{Path, PathBuf};

use crate::examples_runner::{
    commands, expected_code, help_pages, inline_examples, markdown, readme, split_comment, step,
    Example, Mode, Sandbox, Sequence, Step, NOT_RUN,
};
use crate::procs::bin_dir;
use crate::util::real_data;

fn repo() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

fn data() -> PathBuf {
    let data = real_data();
    let data = std::fs::canonicalize(&data)
        .unwrap_or_else(|e| panic!("real data {} (SLURM_SWEEP_DATA): {e}", data.display()));
    assert!(
        data.join("qstrader_examples").join("SPY.csv").is_file(),
        "{} has no qstrader_examples/SPY.csv (set SLURM_SWEEP_DATA)",
        data.display()
    );
    data
}

fn all_help_pages() -> Vec<Sequence> {
    ["sweep", "bt-worker", "collect"]
        .iter()
        .flat_map(|p| help_pages(bin_dir(), p))
        .collect()
}

/// Runs sequences, a few side by side (one sandbox each); panics listing every failure.
fn run_all(sequences: Vec<Sequence>) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(seq) = sequences.get(i) else { break };
                let mut sandbox = Sandbox::new(bin_dir(), &data(), &repo(), Mode::Local);
                let outcome = sandbox.run_sequence(seq);
                failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(outcome.failures);
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(
        failures.is_empty(),
        "{} example(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn readme_examples_run_as_documented() {
    let seq = readme(&repo());
    assert!(
        seq.examples.len() >= 10,
        "README.md: only {} examples found in its ```sh blocks",
        seq.examples.len()
    );
    run_all(vec![seq]);
}

#[test]
fn rules_reference_examples_run_as_documented() {
    let seq = markdown(&repo(), "docs/rules.md");
    assert!(
        seq.examples.len() >= 2,
        "docs/rules.md: only {} examples found in its ```sh blocks",
        seq.examples.len()
    );
    run_all(vec![seq]);
}

#[test]
fn qstrader_example_runs_as_documented() {
    let seq = markdown(&repo(), "examples/qstrader/README.md");
    assert!(
        seq.examples.len() >= 5,
        "examples/qstrader/README.md: only {} examples found in its ```sh blocks",
        seq.examples.len()
    );
    run_all(vec![seq]);
}

#[test]
fn help_examples_run_as_documented() {
    run_all(all_help_pages());
}

#[test]
fn every_help_page_has_examples() {
    let pages = all_help_pages();
    let names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
    for expected in [
        "sweep --help",
        "sweep plan --help",
        "sweep data import --help",
        "bt-worker task --help",
        "collect --help",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not found in {names:?}"
        );
    }
    // The option examples in the prose are found, so that they must be run too.
    let inline = |name: &str| {
        pages
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.inline.clone())
            .unwrap_or_default()
    };
    for name in [
        "sweep plan --help",
        "sweep submit --help",
        "sweep run --help",
    ] {
        assert!(
            inline(name).contains(&"-p slow=50..200:50".to_string()),
            "{name}: {:?}",
            inline(name)
        );
    }
    assert!(inline("collect --help").contains(&"fast,slow".to_string()));
    assert!(inline("sweep smoke --help").contains(&"node[02-04]".to_string()));
    let bare: Vec<&str> = pages
        .iter()
        .filter(|p| p.examples.is_empty())
        .map(|p| p.name.as_str())
        .collect();
    assert!(bare.is_empty(), "help pages without Examples: {bare:?}");
}

/// Every entry of NOT_RUN still matches a documented example (the list stays minimal),
/// and nothing else is left out.
#[test]
fn only_the_listed_examples_are_not_run() {
    let mut all: Vec<Example> = readme(&repo()).examples;
    all.extend(all_help_pages().into_iter().flat_map(|p| p.examples));
    for (prefix, _) in NOT_RUN {
        assert!(
            all.iter().any(|e| e.command.starts_with(prefix)),
            "NOT_RUN lists `{prefix}`, which no example uses any more: remove it"
        );
    }
    let slurm_only: Vec<&str> = all
        .iter()
        .filter(|e| step(Mode::Local, e) == Step::SlurmOnly)
        .map(|e| e.command.as_str())
        .collect();
    assert!(
        slurm_only.iter().all(|c| c.starts_with("sweep ")),
        "{slurm_only:?}"
    );
    for e in &all {
        assert_ne!(
            step(Mode::Slurm, e),
            Step::SlurmOnly,
            "with a cluster every example runs: {e:?}"
        );
    }
}

#[test]
fn examples_are_read_as_a_shell_reads_them() {
    assert_eq!(
        split_comment(r#"collect D --where "a # b" --report   # ranks"#),
        (r#"collect D --where "a # b" --report"#, Some("ranks"))
    );
    assert_eq!(split_comment("sweep demo"), ("sweep demo", None));
    assert_eq!(expected_code(Some("exit 1: tasks are missing")), 1);
    assert_eq!(expected_code(Some("one task per node; exit 1 if ...")), 0);
    assert_eq!(expected_code(None), 0);
    let lines = [
        (
            "a:1".to_string(),
            "cargo build --release && target/release/sweep demo",
        ),
        ("a:2".to_string(), "bt-worker run --strategy x \\"),
        ("a:3".to_string(), "  --symbols SPY   # exit 1: says so"),
    ];
    let ex = commands(&lines);
    let got: Vec<(&str, &str, i32)> = ex
        .iter()
        .map(|e| (e.source.as_str(), e.command.as_str(), e.expect))
        .collect();
    assert_eq!(
        got,
        [
            ("a:1", "cargo build --release", 0),
            ("a:1", "target/release/sweep demo", 0),
            ("a:2", "bt-worker run --strategy x --symbols SPY", 1),
        ]
    );
    let help = "  -p <P>  Override, e.g. `-p fast=5,10,20` or `-p slow=50..200:50`\n  \
                --x  e.g. \"fast,slow\"; see `bt-worker strategies`; `--force`\n  \
                --n  e.g. `node[02-04]`\n\nExamples:\n  sweep plan s.toml -p `-q 1`\n";
    assert_eq!(
        inline_examples(help),
        [
            "-p fast=5,10,20",
            "-p slow=50..200:50",
            "fast,slow",
            "node[02-04]"
        ]
    );
}

#[test]
fn submit_is_replaced_by_a_local_run_without_a_cluster() {
    let ex = |c: &str| Example {
        source: "t".into(),
        command: c.into(),
        expect: 0,
    };
    assert_eq!(
        step(
            Mode::Local,
            &ex("sweep submit /sharedfs/sweeps/x-1a2b3c4d --no-collect")
        ),
        Step::Run(
            "sweep run /sharedfs/sweeps/x-1a2b3c4d --local --no-collect".into(),
            0
        )
    );
    assert_eq!(
        step(Mode::Local, &ex("sweep submit s.toml --dry-run")),
        Step::Run("sweep submit s.toml --dry-run".into(), 0)
    );
    assert_eq!(
        step(Mode::Local, &ex("sweep submit D --test-only")),
        Step::SlurmOnly
    );
    assert_eq!(
        step(Mode::Local, &ex("sweep smoke --nodes 3 --submit")),
        Step::SlurmOnly
    );
    assert_eq!(
        step(Mode::Slurm, &ex("sweep smoke --nodes 3 --submit")),
        Step::Run("sweep smoke --nodes 3 --submit".into(), 0)
    );
    assert!(matches!(
        step(Mode::Local, &ex("docker run --rm x")),
        Step::NotRun(_)
    ));
}
