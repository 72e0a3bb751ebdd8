//! What a command works on: a planned sweep directory, or a spec to plan first. Holds the
//! planning flags shared by `plan`, `submit` and `run`, and writes the rendered scripts
//! into the sweep directory.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sweep_core::planner::{load_plan, plan_sweep_with, PlanOptions};
use sweep_core::spec::Spec;
use sweep_core::{Plan, SweepDir};

use crate::render::{render_array, render_collect, RenderContext, Templates};

/// Flags used when a spec is planned.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PlanFlags {
    /// Root of the shared filesystem; the sweep goes to `<DIR>/sweeps/<name>-<hash8>/`
    /// [default: $SLURM_SWEEP_SHAREDFS, else ./sharedfs].
    #[arg(long, value_name = "DIR")]
    pub sharedfs: Option<PathBuf>,
    /// Override or add a parameter's values, e.g. `-p fast=5,10,20` or `-p slow=50..200:50`.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUES")]
    pub params: Vec<String>,
    /// MaxArraySize to plan for [default: [slurm] max_array_size, else `scontrol show
    /// config`, else 1001].
    #[arg(long, value_name = "N")]
    pub max_array_size: Option<u64>,
    /// Combinations per array task [default: [slurm] combos_per_task, else from
    /// target_task_seconds].
    #[arg(long, value_name = "N")]
    pub combos_per_task: Option<u64>,
    /// Largest grid to plan, in combinations before constraints and sampling
    /// [default: 50,000,000]; a larger grid is refused before anything is written.
    #[arg(long, value_name = "N")]
    pub max_combos: Option<u64>,
    /// Directory of template overrides (array.sbatch.tera, collect.sbatch.tera,
    /// smoke.sbatch.tera) [default: $SLURM_SWEEP_TEMPLATES, else built-in].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// A planned sweep, loaded or just planned.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub dir: SweepDir,
    pub plan: Plan,
    pub spec: Spec,
}

/// The shared filesystem root of a sweep directory `<sharedfs>/sweeps/<name>`; for a
/// directory elsewhere, its parent.
pub fn sharedfs_of(dir: &Path) -> PathBuf {
    sweep_core::SharedFs::of_sweep_dir(dir).root().to_path_buf()
}

/// Plans `spec` and renders its scripts; prints nothing.
pub fn plan_spec(spec: &Path, flags: &PlanFlags) -> anyhow::Result<(Loaded, Vec<PathBuf>, String)> {
    let cluster_max_array_size = if flags.max_array_size.is_some() {
        None
    } else {
        crate::slurm::max_array_size()
    };
    let options = PlanOptions {
        sharedfs: flags.sharedfs.clone(),
        overrides: flags.params.clone(),
        max_array_size: flags.max_array_size,
        cluster_max_array_size,
        combos_per_task: flags.combos_per_task,
        max_combos: flags.max_combos,
        ..PlanOptions::default()
    };
    let templates = Templates::from_option_or_env(flags.templates.as_deref())?;
    // The scripts are written into the sweep directory before it appears.
    let scripts = std::cell::RefCell::new(Vec::new());
    let finish = |into: &SweepDir, planned: &sweep_core::PlannedSweep| {
        let loaded = Loaded {
            dir: planned.dir.clone(),
            plan: planned.plan.clone(),
            spec: planned.spec.clone(),
        };
        let written =
            write_scripts_into(into, &loaded, &templates).map_err(|e| format!("{e:#}"))?;
        *scripts.borrow_mut() = written;
        Ok(())
    };
    let planned = plan_sweep_with(spec, &options, &finish)
        .with_context(|| format!("cannot plan {}", spec.display()))?;
    let loaded = Loaded {
        dir: planned.dir,
        plan: planned.plan,
        spec: planned.spec,
    };
    let scripts = scripts
        .into_inner()
        .into_iter()
        .filter_map(|p| p.file_name().map(|n| loaded.dir.root().join(n)))
        .collect();
    Ok((loaded, scripts, planned.summary.to_string()))
}

/// Renders `array.sbatch` (one per array chunk: `array.sbatch`, `array-1.sbatch`, ...) and
/// `collect.sbatch` into the sweep directory.
pub fn write_scripts(loaded: &Loaded, templates: &Templates) -> anyhow::Result<Vec<PathBuf>> {
    write_scripts_into(&loaded.dir, loaded, templates)
}

/// Renders the scripts of `loaded` (whose directory is where they will run) into `into`.
fn write_scripts_into(
    into: &SweepDir,
    loaded: &Loaded,
    templates: &Templates,
) -> anyhow::Result<Vec<PathBuf>> {
    let root = loaded.dir.root();
    let sweep_dir = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let ctx = RenderContext {
        sharedfs: sharedfs_of(&sweep_dir),
        sweep_dir,
    };
    let slurm = &loaded.spec.slurm;
    let mut written = Vec::new();
    for n in 0..loaded.plan.arrays.len() {
        let text = render_array(templates, &loaded.plan, slurm, &ctx, n)
            .with_context(|| format!("cannot render the job-array script of {}", root.display()))?;
        let path = into.array_script(n);
        write_script(&path, &text)?;
        written.push(path);
    }
    let text = render_collect(templates, &loaded.plan, slurm, &ctx)
        .with_context(|| format!("cannot render the collect script of {}", root.display()))?;
    let path = into.collect_script();
    write_script(&path, &text)?;
    written.push(path);
    Ok(written)
}

fn write_script(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    sweep_core::atomic::write_atomic(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

/// Loads a sweep directory (plan.json + spec.toml).
pub fn load_dir(dir: &Path) -> anyhow::Result<Loaded> {
    let (plan, spec) =
        load_plan(dir).with_context(|| format!("cannot load the sweep in {}", dir.display()))?;
    Ok(Loaded {
        dir: SweepDir::new(dir),
        plan,
        spec,
    })
}

/// `DIR|SPEC`: loads a directory holding plan.json, or plans a spec file (printing the
/// summary). Renders the scripts when the directory has none.
pub fn resolve(target: &Path, flags: &PlanFlags) -> anyhow::Result<Loaded> {
    if target.is_dir() {
        let loaded = load_dir(target)?;
        if !loaded.dir.array_script(0).exists() {
            let templates = Templates::from_option_or_env(flags.templates.as_deref())?;
            write_scripts(&loaded, &templates)?;
        }
        Ok(loaded)
    } else if target.is_file() {
        let (loaded, _, summary) = plan_spec(target, flags)?;
        sweep_core::outln!("{summary}");
        Ok(loaded)
    } else {
        anyhow::bail!("{}: no such sweep directory or spec file", target.display())
    }
}
