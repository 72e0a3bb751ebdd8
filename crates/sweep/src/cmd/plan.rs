//! `sweep plan SPEC`: plans the sweep (sweep-core), renders `array.sbatch` (one per array
//! chunk) and `collect.sbatch` into the sweep directory, and prints the summary.

use std::path::PathBuf;

use crate::target::{plan_spec, PlanFlags};
use crate::Outcome;

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep plan sweeps/ma_cross.toml --sharedfs /sharedfs
  sweep plan sweeps/ma_cross.toml -p fast=5,10,20 -p slow=50..200:50   # a list; an inclusive range
  sweep plan sweeps/ma_cross.toml -p 'fast=range(5,50,5)' --combos-per-task 50   # Hydra's range: 50 left out
  sweep plan sweeps/rules_donchian.toml -p entry_days=20,40   # strategy = \"rules\": rules checked first";

/// Arguments of `sweep plan`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct PlanArgs {
    /// The sweep spec (TOML).
    pub spec: PathBuf,
    #[command(flatten)]
    pub flags: PlanFlags,
}

pub fn run(args: &PlanArgs) -> anyhow::Result<Outcome> {
    let (loaded, scripts, summary) = plan_spec(&args.spec, &args.flags)?;
    sweep_core::outln!("{summary}");
    for s in &scripts {
        let name = s.strip_prefix(loaded.dir.root()).unwrap_or(s);
        sweep_core::outln!("  script:   {}", name.display());
    }
    sweep_core::outln!(
        "next: sweep submit {}   (or: sweep run {} --local)",
        loaded.dir.root().display(),
        loaded.dir.root().display()
    );
    Ok(Outcome::Complete)
}
