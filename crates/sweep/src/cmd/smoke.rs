//! `sweep smoke`: checks a cluster before a sweep. Renders `smoke.sbatch` (srun one task per
//! node; each writes `<sharedfs>/smoke/<timestamp>/<node>.json` with its host name,
//! bt-worker version and whether the data directory is readable) and, with `--submit`,
//! submits it with `sbatch --wait` and prints one row per node. Exit 1 if any node failed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use serde::Deserialize;
use sweep_core::planner::default_sharedfs;
use sweep_core::spec::SlurmConfig;

use crate::render::{render_smoke, SmokeContext, Templates};
use crate::slurm::{sbatch, SbatchRequest};
use crate::Outcome;

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep install --sharedfs /sharedfs                          # bin/<arch>/, data/, sweeps/
  sweep smoke --nodelist 'node[02-04]' --sharedfs /sharedfs   # renders smoke.sbatch only
  sweep smoke --nodes 3 --partition mycluster --sharedfs /sharedfs --submit   # waits for the job";

/// Arguments of `sweep smoke`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct SmokeArgs {
    /// Number of nodes (one task each).
    #[arg(long, default_value_t = 1, conflicts_with = "nodelist")]
    pub nodes: u32,
    /// Explicit nodes, e.g. `node[02-04]`.
    #[arg(long)]
    pub nodelist: Option<String>,
    /// Partition to run on [default: the cluster's default].
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of the smoke job.
    #[arg(long, default_value = "00:02:00")]
    pub time: String,
    /// Submit the script with `sbatch --wait` and report (else only render it).
    #[arg(long)]
    pub submit: bool,
    /// Root of the shared filesystem [default: $SLURM_SWEEP_SHAREDFS, else ./sharedfs].
    #[arg(long, value_name = "DIR")]
    pub sharedfs: Option<PathBuf>,
    /// Directory of template overrides [default: $SLURM_SWEEP_TEMPLATES, else built-in].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// One node's report (`<node>.json`).
#[derive(Debug, Deserialize)]
pub struct NodeReport {
    pub node: String,
    pub host: String,
    pub arch: String,
    #[serde(default)]
    pub worker: String,
    pub worker_ok: bool,
    #[serde(default)]
    pub worker_version: String,
    pub data_readable: bool,
}

/// Number of hosts in a SLURM host list such as `node[02-04,07],login1`.
pub fn hostlist_len(list: &str) -> Option<u32> {
    let mut total = 0u32;
    let mut depth = 0;
    let mut item = String::new();
    let mut items = Vec::new();
    for c in list.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    for item in items.iter().filter(|i| !i.is_empty()) {
        let Some(open) = item.find('[') else {
            total += 1;
            continue;
        };
        let close = item.rfind(']')?;
        for part in item.get(open + 1..close)?.split(',') {
            total += match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                    b.checked_sub(a)? + 1
                }
                None => {
                    part.parse::<u32>().ok()?;
                    1
                }
            };
        }
    }
    Some(total)
}

/// Reads every `<node>.json` of a smoke run.
pub fn read_reports(dir: &Path) -> anyhow::Result<Vec<NodeReport>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let is_report = path.extension().is_some_and(|e| e == "json")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !is_report {
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let report: NodeReport = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a smoke report", path.display()))?;
        out.push(report);
    }
    out.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(out)
}

fn print_reports(reports: &[NodeReport]) {
    let mut table = comfy_table::Table::new();
    table.set_header([
        "node",
        "host",
        "arch",
        "bt-worker",
        "version",
        "data readable",
    ]);
    for r in reports {
        table.add_row([
            r.node.clone(),
            r.host.clone(),
            r.arch.clone(),
            if r.worker_ok {
                r.worker.clone()
            } else if r.worker.is_empty() {
                "MISSING".to_string()
            } else {
                format!("{} (FAILED)", r.worker)
            },
            r.worker_version.clone(),
            if r.data_readable { "yes" } else { "NO" }.to_string(),
        ]);
    }
    sweep_core::outln!("{table}");
}

pub fn run(args: &SmokeArgs) -> anyhow::Result<Outcome> {
    let sharedfs = args.sharedfs.clone().unwrap_or_else(default_sharedfs);
    let sharedfs = std::fs::canonicalize(&sharedfs)
        .with_context(|| format!("shared filesystem {} not found", sharedfs.display()))?;
    let nodes = match &args.nodelist {
        Some(list) => {
            hostlist_len(list).with_context(|| format!("cannot read the node list `{list}`"))?
        }
        None => args.nodes,
    };
    let out_dir = sharedfs
        .join("smoke")
        .join(Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string());
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let ctx = SmokeContext {
        sharedfs: sharedfs.clone(),
        out_dir: out_dir.clone(),
        data_dir: sweep_core::SharedFs::new(&sharedfs).data_root(),
        nodes,
        nodelist: args.nodelist.clone(),
        time: args.time.clone(),
    };
    let slurm = SlurmConfig {
        partition: args.partition.clone(),
        ..SlurmConfig::default()
    };
    let templates = Templates::from_option_or_env(args.templates.as_deref())?;
    let script = render_smoke(&templates, &slurm, &ctx)?;
    let path = out_dir.join("smoke.sbatch");
    std::fs::write(&path, script).with_context(|| format!("cannot write {}", path.display()))?;
    if !args.submit {
        sweep_core::outln!("rendered {}", path.display());
        sweep_core::outln!(
            "submit it with `sweep smoke --submit` (or `sbatch {}`)",
            path.display()
        );
        return Ok(Outcome::Complete);
    }
    let mut req = SbatchRequest::new(&path);
    req.wait = true;
    req.keep_output_in = Some(out_dir.clone());
    sweep_core::outln!("{} (waiting for the job to end)", req.command_line());
    let outcome = sbatch(&req)?;
    if let Some(id) = &outcome.job_id {
        sweep_core::outln!("smoke job {id} ended");
    }
    let reports = read_reports(&out_dir)?;
    print_reports(&reports);
    let bad = reports
        .iter()
        .filter(|r| !r.worker_ok || !r.data_readable)
        .count();
    let missing = (nodes as usize).saturating_sub(reports.len());
    if missing > 0 {
        sweep_core::outln!(
            "{missing} of {nodes} node(s) wrote no report (see {}/smoke_<job>.err)",
            out_dir.display()
        );
    }
    if bad > 0 {
        sweep_core::outln!(
            "{bad} node(s) cannot run bt-worker or read {}",
            ctx.data_dir.display()
        );
    }
    Ok(if bad == 0 && missing == 0 {
        Outcome::Complete
    } else {
        Outcome::Incomplete
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostlists_count_hosts() {
        assert_eq!(hostlist_len("node[02-04]"), Some(3));
        assert_eq!(hostlist_len("node[02-04,07],login1"), Some(5));
        assert_eq!(hostlist_len("node02,node03"), Some(2));
        assert_eq!(hostlist_len("node[04-02]"), None);
        assert_eq!(hostlist_len("node[x]"), None);
    }
}
