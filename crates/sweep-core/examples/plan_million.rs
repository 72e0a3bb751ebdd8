//! Plans a 1,000,000-combination `ma_cross` sweep (fast 1..=1000 x slow 1..=1000 over the
//! real SPY prices) into a temporary shared filesystem and prints the time taken. Run under
//! `/usr/bin/time -v` to see the peak memory:
//!
//! ```text
//! cargo build --release -p sweep-core --example plan_million
//! /usr/bin/time -v target/release/examples/plan_million [constraint|sample]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use sweep_core::plan::{plan_sweep, PlanOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let data = std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("qstrader_examples");
    let tmp = tempfile::tempdir()?;
    let extra = match mode.as_str() {
        "constraint" => "constraints = [\"fast < slow\"]\n",
        "sample" => "constraints = [\"fast < slow\"]\n[sample]\nn = 10000\nseed = 1\n",
        _ => "",
    };
    let (top, sample) = extra
        .split_once("[sample]")
        .map_or((extra, String::new()), |(a, b)| (a, format!("[sample]{b}")));
    let spec = tmp.path().join("million.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"million\"\nstrategy = \"ma_cross\"\n{top}\n{sample}\n[data]\ndir = \"{}\"\nsymbols = [\"SPY\"]\n\n[params]\nfast = {{ from = 1, to = 1000, step = 1 }}\nslow = {{ from = 1, to = 1000, step = 1 }}\n",
            data.display()
        ),
    )?;
    let options = PlanOptions {
        sharedfs: Some(tmp.path().join("sharedfs")),
        ..PlanOptions::default()
    };
    let clock = Instant::now();
    let planned = plan_sweep(&spec, &options)?;
    let first = clock.elapsed();
    let clock = Instant::now();
    let again = plan_sweep(&spec, &options)?;
    let second = clock.elapsed();
    let bytes = std::fs::metadata(planned.dir.manifest())?.len();
    println!("{}", planned.summary);
    println!(
        "planned {} combinations in {:.2} s (manifest {:.1} MB); planned again (reused = {}) in {:.3} s",
        planned.plan.combos,
        first.as_secs_f64(),
        bytes as f64 / 1e6,
        again.summary.reused,
        second.as_secs_f64()
    );
    Ok(())
}
