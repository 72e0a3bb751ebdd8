//! End-to-end: a sweep that needs more array tasks than the cluster's MaxArraySize. The
//! cluster is restarted with `MaxArraySize=50` (`SLURM_SWEEP_MAX_ARRAY_SIZE=50
//! scripts/local-cluster.sh up`), a 120-task ma_cross sweep is submitted, and it must be
//! split into several arrays (indices below 50, each script exporting its task offset)
//! with every combination run exactly once. The cluster's MaxArraySize is restored
//! afterwards, whatever happens.
//!
//! Its own test binary, so that the restart never overlaps the scenarios of `slurm.rs`
//! (cargo runs test binaries one after another). Runs only with `SLURM_SWEEP_E2E=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::time::{Duration, Instant};

use e2e::{
    all_job_ids, banner, bin, collect, data_dir, job_records, local_cluster, only_sweep_dir,
    result_files, run_quiet, scratch, status, sweep, wait_jobs_gone, Csv,
};

const LIMIT: u64 = 50;

/// Puts the cluster back to the MaxArraySize it is normally run with.
struct RestoreCluster;

impl Drop for RestoreCluster {
    fn drop(&mut self) {
        banner("restoring the cluster's MaxArraySize");
        let out = match std::env::var("SLURM_SWEEP_MAX_ARRAY_SIZE") {
            Ok(v) => local_cluster(&["up"], &[("SLURM_SWEEP_MAX_ARRAY_SIZE", &v)], &[]),
            Err(_) => local_cluster(&["up"], &[], &["SLURM_SWEEP_MAX_ARRAY_SIZE"]),
        };
        if out.code != Some(0) {
            eprintln!("warning: could not restore the cluster: {}", out.stderr);
        }
        println!("MaxArraySize now {:?}", max_array_size());
    }
}

fn max_array_size() -> Option<u64> {
    let out = run_quiet("scontrol", &["show", "config"]);
    out.stdout
        .lines()
        .find(|l| l.trim_start().starts_with("MaxArraySize"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn sweep_larger_than_max_array_size_is_split() {
    if !e2e::enabled("sweep_larger_than_max_array_size_is_split") {
        return;
    }
    banner("scenario: array_limits (MaxArraySize = 50, 120 tasks)");
    let started = Instant::now();
    println!("binaries under test: {}", e2e::bin_dir().display());
    let _restore = RestoreCluster;
    local_cluster(&["up"], &[("SLURM_SWEEP_MAX_ARRAY_SIZE", "50")], &[]).expect_code(0);
    assert_eq!(max_array_size(), Some(LIMIT), "scontrol show config");
    // The limit is real: SLURM itself refuses an array of 120 indices now.
    let refused = e2e::run(
        "sbatch",
        &[
            "--test-only",
            "--partition=mycluster",
            "--array=0-119",
            "--wrap=true",
        ],
    );
    assert_ne!(
        refused.code,
        Some(0),
        "sbatch accepted --array=0-119 with MaxArraySize=50"
    );

    let root = scratch("array-limits");
    // 6 x 20 = 120 combinations, one per task.
    let spec_text = format!(
        r#"# Written by slurm-sweep's end-to-end tests.
name = "e2e_array_limits"
strategy = "ma_cross"

[data]
dir = "{data}"
symbols = ["SPY"]

[backtest]
start = "2015-01-02"
end = "2019-12-31"

[params]
fast = [5, 10, 15, 20, 25, 30]
slow = {{ from = 100, to = 290, step = 10 }}

[slurm]
partition = "mycluster"
time = "00:05:00"
combos_per_task = 1
worker = "{worker}"
"#,
        data = data_dir().join("qstrader_examples").display(),
        worker = bin("bt-worker").display(),
    );
    let spec = root.join("spec.toml");
    std::fs::write(&spec, &spec_text).expect("write spec");
    println!("spec {}:\n{spec_text}", spec.display());
    let sharedfs = root.join("fs");
    sweep(&[
        OsStr::new("submit"),
        spec.as_os_str(),
        OsStr::new("--sharedfs"),
        sharedfs.as_os_str(),
    ])
    .expect_code(0);
    let dir = only_sweep_dir(&sharedfs);

    // Three arrays: tasks 0-49, 50-99, 100-119, every index below MaxArraySize.
    let records = job_records(&dir);
    let arrays: Vec<&serde_json::Value> = records.iter().filter(|r| r["kind"] == "array").collect();
    let specs: Vec<(String, u64)> = arrays
        .iter()
        .map(|r| {
            (
                r["array"].as_str().expect("array spec").to_string(),
                r["offset"].as_u64().expect("offset"),
            )
        })
        .collect();
    println!("arrays (spec, offset): {specs:?}");
    assert_eq!(
        specs,
        [
            ("0-49".to_string(), 0),
            ("0-49".to_string(), 50),
            ("0-19".to_string(), 100)
        ]
    );
    let offset_of: BTreeMap<String, u64> = arrays
        .iter()
        .map(|r| {
            (
                r["job_id"].to_string(),
                r["offset"].as_u64().expect("offset"),
            )
        })
        .collect();
    let collect_job = records
        .iter()
        .find(|r| r["kind"] == "collect")
        .expect("collect job");
    let array_ids: Vec<String> = arrays.iter().map(|r| r["job_id"].to_string()).collect();
    assert_eq!(
        collect_job["dependency"],
        format!("afterany:{}", array_ids.join(":")),
        "the collect job waits for all three arrays"
    );

    wait_jobs_gone(&all_job_ids(&dir), Duration::from_secs(420));
    println!("120 tasks ran in {:.0} s", started.elapsed().as_secs_f64());

    // Every task exactly once, written by array task (k - offset) of the array holding k.
    let results = result_files(&dir);
    let tasks: Vec<u64> = results.iter().map(|(_, f)| f.task).collect();
    assert_eq!(tasks, (0..120).collect::<Vec<_>>(), "one result per task");
    let mut hosts = BTreeSet::new();
    for (name, f) in &results {
        let job = f.slurm.array_job_id.clone().expect("array job id");
        let offset = offset_of[&job];
        let index: u64 = f
            .slurm
            .array_task_id
            .as_deref()
            .and_then(|i| i.parse().ok())
            .expect("array task id");
        assert!(index < LIMIT, "{name}: array index {index}");
        assert_eq!(offset + index, f.task, "{name}: job {job} index {index}");
        assert_eq!((f.first, f.count), (f.task, 1), "{name}");
        hosts.insert(f.host.clone());
    }
    println!("results from hosts {hosts:?}");

    let (code, st) = status(&dir);
    assert_eq!((code, st["done"].as_u64()), (Some(0), Some(120)), "{st}");
    let out = collect(&[
        dir.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("csv"),
        OsStr::new("--quiet"),
    ]);
    out.expect_code(0);
    let table = Csv::parse(&out.stdout);
    assert_eq!(
        table.combos(),
        (0..120).collect(),
        "every combination exactly once"
    );
    collect(&[dir.as_os_str(), OsStr::new("--top"), OsStr::new("10")]).expect_code(0);
    assert!(
        dir.join("report").join("ranking.csv").is_file(),
        "the collect job ran"
    );
}
