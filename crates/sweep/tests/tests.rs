//! Integration tests of the `sweep` command: rendered scripts (snapshots, `bash -n`,
//! hostile values executed for real) and the real binary on hand-made sweep directories.
//! One test binary; the modules live in `suite/`.

#[path = "suite/util.rs"]
mod util;

#[path = "suite/render.rs"]
mod render;

#[path = "suite/cli.rs"]
mod cli;

#[path = "suite/procs.rs"]
mod procs;

#[path = "suite/run_local.rs"]
mod run_local;

#[path = "suite/examples_runner.rs"]
mod examples_runner;

#[path = "suite/examples.rs"]
mod examples;

#[path = "suite/rules.rs"]
mod rules;
