//! Writes a synthetic sweep directory for benchmarking `collect`:
//! `cargo run --release -p collect --example synthetic_sweep -- DIR COMBOS TASKS`.
//! Metrics are made from the combination index (clearly synthetic).

#[path = "../tests/util/mod.rs"]
mod util;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: synthetic_sweep DIR COMBOS TASKS");
        std::process::exit(2);
    }
    let root = PathBuf::from(&args[1]);
    let combos: u64 = args[2].parse().unwrap_or(100_000);
    let tasks: u64 = args[3].parse().unwrap_or(1_000).max(1);
    let plan = util::plan("synthetic", "5e5e5e5e5e5e", combos, combos.div_ceil(tasks));
    let dir = util::write_sweep(&root, &plan);
    for task in 0..plan.tasks {
        util::write_result(
            &dir,
            &util::result(&plan, task, "node02", util::time(0), &[]),
        );
    }
    println!(
        "{} combos in {} result files under {}",
        plan.combos,
        plan.tasks,
        root.display()
    );
}
