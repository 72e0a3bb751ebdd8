//! End-to-end scenarios on a real SLURM cluster (`scripts/local-cluster.sh up`: slurmctld
//! and the nodes node02, node03, node04 in partition `mycluster`), with the real `sweep`,
//! `bt-worker` and `collect` binaries and the real sector-SPDR data:
//!
//! * **smoke**: `sweep smoke --nodes 3 --submit` reports every node;
//! * **sweep**: a 12-combination momentum sweep in 4 array tasks runs on at least two
//!   nodes, the collect job runs after it through its `afterany` dependency, and the ranked
//!   table equals, number for number, `sweep run --local` of the same spec;
//! * **cancelled task**: a cancelled array task is reported missing, `sweep resubmit`
//!   submits exactly that index, and the sweep completes;
//! * **failing task**: a combination the strategy rejects at run time is reported failed
//!   with the worker's error, by `sweep status` and `collect` (exit 1), and nothing else
//!   is lost;
//! * **lost node**: node03 crashes mid-sweep; every combination stays accounted for, and
//!   after the node is back and `sweep resubmit`, each is present exactly once. Twice: with
//!   SLURM's requeue of the node's tasks, and with `--no-requeue` (its tasks are missing
//!   and `sweep resubmit` submits exactly them).
//!
//! They run only with `SLURM_SWEEP_E2E=1`, one after the other in one `#[test]` (they share
//! the cluster, and the lost-node scenario takes a node away). `SLURM_SWEEP_E2E_ONLY=a,b`
//! runs only the named scenarios.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use e2e::{
    all_job_ids, banner, bin_dir, collect, job_ids, job_records, local_cluster, only_sweep_dir,
    queued, result_files, scontrol_job, scontrol_values, scratch, sector_spec, status, sweep,
    wait_for, wait_jobs_gone, Csv,
};

const NODES: [&str; 3] = ["node02", "node03", "node04"];

/// `lookback` × `top_n`: 4 × 3 = 12 combinations, numbered in that order (top_n fastest).
const MOMENTUM_GRID: &str = "lookback = [63, 126, 189, 252]\ntop_n = [1, 2, 3]";

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn write_spec(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).expect("write spec");
    println!("spec {}:\n{text}", path.display());
    path
}

/// `sweep submit SPEC --sharedfs DIR`; returns the sweep directory.
fn submit_spec(spec: &Path, sharedfs: &Path) -> std::path::PathBuf {
    sweep(&[
        os("submit"),
        spec.as_os_str(),
        os("--sharedfs"),
        sharedfs.as_os_str(),
    ])
    .expect_code(0);
    only_sweep_dir(sharedfs)
}

fn smoke() {
    let root = scratch("smoke");
    // The shared filesystem as `sweep smoke` expects it: data/ beside the sweeps.
    let sharedfs = root.join("sharedfs");
    std::fs::create_dir_all(&sharedfs).expect("mkdir");
    std::os::unix::fs::symlink(e2e::data_dir(), sharedfs.join("data")).expect("symlink data");
    let out = sweep(&[
        os("smoke"),
        os("--nodes"),
        os("3"),
        os("--submit"),
        os("--partition"),
        os("mycluster"),
        os("--sharedfs"),
        sharedfs.as_os_str(),
    ]);
    out.expect_code(0);
    let version = e2e::run_quiet(e2e::bin("bt-worker"), &["--version"]);
    let version = version.stdout.trim();
    assert!(
        version.starts_with("bt-worker "),
        "bt-worker --version: {version}"
    );
    let worker = e2e::bin("bt-worker").display().to_string();
    for node in NODES {
        let row = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == node))
            .unwrap_or_else(|| panic!("no row for {node} in the smoke table"));
        // node column and host column: each node reports its own host name.
        let cells: Vec<&str> = row
            .split(['│', '┆', '|'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert!(cells.len() >= 6, "smoke row of {node}: {row}");
        assert_eq!(cells[0], node, "node column: {row}");
        assert_eq!(
            cells[1], node,
            "host column (hostname inside the job): {row}"
        );
        assert_eq!(cells[3], worker, "bt-worker path: {row}");
        assert_eq!(cells[4], version, "worker version: {row}");
        assert_eq!(cells[5], "yes", "data directory readable: {row}");
    }
}

fn sweep_matches_local() {
    let root = scratch("sweep");
    // cpus_per_task = 2 on nodes of 4 CPUs: at most two tasks per node, and `sleep 2`
    // keeps the four tasks running together, so they spread over at least two nodes.
    let spec = write_spec(
        &root,
        &sector_spec(
            "e2e_momentum",
            "momentum_taa",
            MOMENTUM_GRID,
            "combos_per_task = 3\ncpus_per_task = 2\nsetup = [\"sleep 2\"]",
        ),
    );
    let slurm_fs = root.join("slurm-fs");
    let started = Instant::now();
    let dir = submit_spec(&spec, &slurm_fs);

    // jobs.jsonl: one array of 4 tasks, then the collect job after it.
    let records = job_records(&dir);
    println!(
        "jobs.jsonl:\n{}",
        std::fs::read_to_string(dir.join("jobs.jsonl")).expect("read")
    );
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["kind"], "array");
    assert_eq!(records[0]["array"], "0-3");
    let array_id = records[0]["job_id"].as_u64().expect("id");
    assert_eq!(records[1]["kind"], "collect");
    let collect_id = records[1]["job_id"].as_u64().expect("id");
    assert_eq!(records[1]["dependency"], format!("afterany:{array_id}"));
    // SLURM holds the collect job on that dependency (the tasks sleep 2 s, so it is
    // still unfulfilled now).
    let pending = scontrol_job(collect_id);
    let dependency = scontrol_values(&pending, "Dependency");
    println!(
        "scontrol show job {collect_id}: Dependency={dependency:?} JobState={:?}",
        scontrol_values(&pending, "JobState")
    );
    assert!(
        dependency
            .iter()
            .any(|d| d.starts_with(&format!("afterany:{array_id}"))),
        "collect job {collect_id} does not depend on array {array_id}: {pending}"
    );

    wait_jobs_gone(&[array_id, collect_id], Duration::from_secs(180));
    println!("SLURM run took {:.0} s", started.elapsed().as_secs_f64());

    // The collect job ran after every array task ended.
    let array_end = scontrol_values(&scontrol_job(array_id), "EndTime");
    let collect_job = scontrol_job(collect_id);
    let collect_start = scontrol_values(&collect_job, "StartTime");
    assert_eq!(array_end.len(), 4, "one record per array task");
    assert_eq!(
        scontrol_values(&collect_job, "JobState"),
        ["COMPLETED"],
        "{collect_job}"
    );
    let last_end = array_end.iter().max().expect("ends");
    assert!(
        collect_start[0] >= *last_end,
        "collect started {} before the last array task ended {last_end}",
        collect_start[0]
    );
    println!(
        "array tasks ended {array_end:?}; collect job started {}",
        collect_start[0]
    );
    let ranking = dir.join("report").join("ranking.csv");
    assert!(
        ranking.is_file(),
        "the collect job wrote no {}",
        ranking.display()
    );

    // Four result files, from at least two nodes, each naming where and in which job it ran.
    let results = result_files(&dir);
    let hosts: BTreeSet<&str> = results.iter().map(|(_, f)| f.host.as_str()).collect();
    for (name, f) in &results {
        println!(
            "{name}: task {} host {} SLURMD_NODENAME {:?} job {:?} array task {:?}",
            f.task, f.host, f.slurmd_nodename, f.slurm.job_id, f.slurm.array_task_id
        );
        assert!(NODES.contains(&f.host.as_str()), "{name}: host {}", f.host);
        assert_eq!(
            f.slurmd_nodename.as_deref(),
            Some(f.host.as_str()),
            "{name}"
        );
        assert_eq!(f.slurm.array_job_id, Some(array_id.to_string()), "{name}");
        assert_eq!(f.slurm.array_task_id, Some(f.task.to_string()), "{name}");
        assert_eq!(name, &format!("task-{}.{}.json", f.task, f.host));
        assert_eq!(f.failed(), 0, "{name}");
    }
    assert_eq!(
        results.iter().map(|(_, f)| f.task).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(hosts.len() >= 2, "all tasks ran on {hosts:?}");

    let (code, st) = status(&dir);
    assert_eq!(code, Some(0));
    assert_eq!(
        (st["done"].as_u64(), st["tasks"].as_u64()),
        (Some(4), Some(4))
    );

    // The same spec, run locally in another shared filesystem.
    let local_fs = root.join("local-fs");
    sweep(&[
        os("run"),
        spec.as_os_str(),
        os("--local"),
        os("-j"),
        os("2"),
        os("--sharedfs"),
        local_fs.as_os_str(),
    ])
    .expect_code(0);
    let local_dir = only_sweep_dir(&local_fs);
    assert_eq!(
        dir.file_name(),
        local_dir.file_name(),
        "the same spec and data plan to the same sweep name and hash"
    );

    collect(&[dir.as_os_str()]).expect_code(0);
    let slurm_csv = collect(&[dir.as_os_str(), os("--format"), os("csv"), os("--quiet")]);
    slurm_csv.expect_code(0);
    let local_csv = e2e::run_quiet(
        e2e::bin("collect"),
        &[
            local_dir.as_os_str(),
            os("--format"),
            os("csv"),
            os("--quiet"),
        ],
    );
    local_csv.expect_code(0);
    let (slurm_table, local_table) = (
        Csv::parse(&slurm_csv.stdout).without_host_columns(),
        Csv::parse(&local_csv.stdout).without_host_columns(),
    );
    assert_eq!(slurm_table.rows.len(), 12);
    assert_eq!(slurm_table.combos(), (0..12).collect());
    assert_eq!(
        slurm_table, local_table,
        "the SLURM ranking differs from the local one"
    );
    println!(
        "SLURM and local rankings are identical: 12 rows x {} columns",
        slurm_table.header.len()
    );
    // The collect job's report holds the same ranking.
    let report = Csv::parse(&std::fs::read_to_string(&ranking).expect("ranking.csv"));
    assert_eq!(
        report.without_host_columns(),
        slurm_table,
        "report/ranking.csv"
    );
}

fn cancelled_task() {
    let root = scratch("cancel");
    // throttle = 1: the four tasks run one after another, so task 3 is still pending
    // when it is cancelled.
    let spec = write_spec(
        &root,
        &sector_spec(
            "e2e_cancel",
            "momentum_taa",
            MOMENTUM_GRID,
            "combos_per_task = 3\nthrottle = 1\nsetup = [\"sleep 1\"]",
        ),
    );
    let dir = submit_spec(&spec, &root.join("fs"));
    let array_id = job_ids(&dir, "array")[0];
    assert_eq!(job_records(&dir)[0]["array"], "0-3%1");
    let state = e2e::run(
        "squeue",
        &["-h", "-r", "-j", &array_id.to_string(), "-o", "%i %t %r"],
    );
    assert!(
        state.stdout.contains(&format!("{array_id}_3 PD")),
        "task 3 should still be pending: {}",
        state.stdout
    );
    e2e::run("scancel", &[format!("{array_id}_3")]).expect_code(0);
    wait_jobs_gone(&all_job_ids(&dir), Duration::from_secs(180));

    let (code, st) = status(&dir);
    assert_eq!(code, Some(1), "status of an incomplete sweep exits 1");
    assert_eq!(st["done"], 3);
    assert_eq!(st["missing"], 1);
    assert_eq!(st["failed"], 0);
    assert_eq!(st["not_done"][0]["task"], 3);
    assert_eq!(st["not_done"][0]["state"], "missing");
    collect(&[dir.as_os_str()]).expect_code(1);

    let out = sweep(&[os("resubmit"), dir.as_os_str()]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("--array=3%1"),
        "resubmit printed: {}",
        out.stdout
    );
    let resubmits: Vec<_> = job_records(&dir)
        .into_iter()
        .filter(|r| r["kind"] == "resubmit")
        .collect();
    assert_eq!(resubmits.len(), 1, "{resubmits:?}");
    assert_eq!(
        resubmits[0]["array"], "3%1",
        "only task 3, throttled as planned"
    );
    assert_eq!(resubmits[0]["offset"], 0);
    wait_jobs_gone(&all_job_ids(&dir), Duration::from_secs(120));

    let (code, st) = status(&dir);
    assert_eq!((code, st["done"].as_u64()), (Some(0), Some(4)));
    let results = result_files(&dir);
    assert_eq!(results.len(), 4);
    let resubmit_id = resubmits[0]["job_id"].as_u64().expect("id").to_string();
    assert_eq!(
        results[3].1.slurm.array_job_id.as_deref(),
        Some(resubmit_id.as_str())
    );
    collect(&[dir.as_os_str()]).expect_code(0);
    let csv = e2e::run_quiet(
        e2e::bin("collect"),
        &[dir.as_os_str(), os("--format"), os("csv"), os("--quiet")],
    );
    assert_eq!(Csv::parse(&csv.stdout).combos(), (0..12).collect());
}

fn failing_task() {
    let root = scratch("failing");
    let spec = write_spec(
        &root,
        &sector_spec(
            "e2e_failing",
            "momentum_taa",
            MOMENTUM_GRID,
            "combos_per_task = 3",
        ),
    );
    let sharedfs = root.join("fs");
    sweep(&[
        os("plan"),
        spec.as_os_str(),
        os("--sharedfs"),
        sharedfs.as_os_str(),
    ])
    .expect_code(0);
    let dir = only_sweep_dir(&sharedfs);
    // Combination 4 (lookback 126, top_n 2) becomes top_n = 99: inside the parameter's
    // declared range [1, 1000], so the worker starts it, but more than the 9 symbols, which
    // the strategy rejects when it runs. (The planner refuses such a value, so the manifest
    // is edited after planning; the worker reads the parameters from the manifest only.)
    let manifest = dir.join("manifest.jsonl");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(lines[4], r#"{"i":4,"params":{"lookback":126,"top_n":2}}"#);
    lines[4] = r#"{"i":4,"params":{"lookback":126,"top_n":99}}"#.to_string();
    std::fs::write(&manifest, lines.join("\n") + "\n").expect("write manifest");
    // The edit moved the later lines by a byte: planning again keeps the edited manifest
    // and indexes it anew (manifest.idx), as a task's seek would otherwise land mid-line.
    sweep(&[
        os("plan"),
        spec.as_os_str(),
        os("--sharedfs"),
        sharedfs.as_os_str(),
    ])
    .expect_code(0);

    sweep(&[os("submit"), dir.as_os_str()]).expect_code(0);
    wait_jobs_gone(&all_job_ids(&dir), Duration::from_secs(120));

    let (code, st) = status(&dir);
    assert_eq!(code, Some(1));
    assert_eq!(
        (st["done"].as_u64(), st["failed"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(
        st["not_done"][0]["task"], 1,
        "combination 4 is in task 1 (combos 3..6)"
    );
    assert_eq!(st["not_done"][0]["state"], "failed");
    let detail = st["not_done"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("top_n = 99"),
        "status names the worker's error: {detail}"
    );

    let results = result_files(&dir);
    assert_eq!(results.len(), 4);
    for (name, f) in &results {
        for run in &f.runs {
            if run.i == 4 {
                assert_eq!(run.status, sweep_core::result::RunStatus::Error, "{name}");
                let error = run.error.as_deref().unwrap_or_default();
                assert!(
                    error.contains("top_n = 99 is more than the 9 symbols"),
                    "{error}"
                );
                assert!(run.metrics.is_none());
            } else {
                assert_eq!(
                    run.status,
                    sweep_core::result::RunStatus::Ok,
                    "{name} #{}",
                    run.i
                );
                assert!(run.metrics.is_some());
            }
        }
    }

    let out = collect(&[dir.as_os_str(), os("--format"), os("csv")]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("#4") && out.stderr.contains("top_n = 99"),
        "collect names the failed combination and its error: {}",
        out.stderr
    );
    let mut others: BTreeSet<u64> = (0..12).collect();
    others.remove(&4);
    assert_eq!(
        Csv::parse(&out.stdout).combos(),
        others,
        "every other combination is ranked"
    );
    // The collect job of the submission reported the same partial sweep.
    let collect_id = job_ids(&dir, "collect")[0];
    let log = dir.join("logs").join(format!("collect_{collect_id}.err"));
    let log = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(
        log.contains("PARTIAL") && log.contains("exited with status 1"),
        "{log}"
    );
}

/// Brings node03 back however the lost-node scenario ends.
struct NodeBack(&'static str);

impl Drop for NodeBack {
    fn drop(&mut self) {
        let out = local_cluster(&["node-start", self.0], &[], &[]);
        if out.code != Some(0) {
            eprintln!("warning: could not restart {}: {}", self.0, out.stderr);
        }
    }
}

fn lost_node() {
    lost_node_with(Requeue::Yes);
}

fn lost_node_no_requeue() {
    lost_node_with(Requeue::No);
}

/// Whether SLURM may requeue the tasks of a crashed node (its default, `JobRequeue=1`), or
/// not (`--no-requeue`, as on clusters configured with `JobRequeue=0`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Requeue {
    Yes,
    No,
}

fn lost_node_with(requeue: Requeue) {
    let root = scratch(match requeue {
        Requeue::Yes => "lost-node",
        Requeue::No => "lost-node-no-requeue",
    });
    // 12 tasks of one combination, 2 CPUs each (two per node), 8 s each: node03 is busy
    // when it crashes.
    let extra = match requeue {
        Requeue::Yes => "",
        Requeue::No => "\nextra = [\"--no-requeue\"]",
    };
    let spec = write_spec(
        &root,
        &sector_spec(
            "e2e_lost_node",
            "momentum_taa",
            MOMENTUM_GRID,
            &format!("combos_per_task = 1\ncpus_per_task = 2\nsetup = [\"sleep 8\"]{extra}"),
        ),
    );
    let dir = submit_spec(&spec, &root.join("fs"));
    let array_id = job_ids(&dir, "array")[0];
    let on_node03 = wait_for(
        "a task running on node03",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let lines: Vec<String> = queued(&[array_id])
                .into_iter()
                .filter(|l| l.contains(" R node03"))
                .collect();
            (!lines.is_empty()).then_some(lines)
        },
    );
    println!("running on node03 when it crashes: {on_node03:?}");
    let crashed = Instant::now();
    let _back = NodeBack("node03");
    local_cluster(&["node-stop", "node03"], &[], &[]).expect_code(0);
    // slurmctld notices after SlurmdTimeout and requeues node03's tasks, which run again
    // (elsewhere) once the requeue delay is over, or, with --no-requeue, ends them
    // (NODE_FAIL); the other tasks keep running.
    wait_jobs_gone(&all_job_ids(&dir), Duration::from_secs(240));
    println!(
        "queue drained {:.0} s after the crash",
        crashed.elapsed().as_secs_f64()
    );
    e2e::run("sinfo", &["-N", "-o", "%N %t %E"]);

    // Every combination is accounted for: done, or missing (never lost silently).
    let (_, st) = status(&dir);
    let n = |k: &str| st[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(n("done") + n("missing"), 12, "{st}");
    assert_eq!((n("running"), n("pending"), n("failed")), (0, 0, 0), "{st}");
    let csv = collect(&[dir.as_os_str(), os("--format"), os("csv")]);
    assert_eq!(csv.code, Some(if n("missing") == 0 { 0 } else { 1 }));
    assert_eq!(Csv::parse(&csv.stdout).combos().len() as u64, n("done"));
    let missing: Vec<u64> = st["not_done"]
        .as_array()
        .expect("not_done")
        .iter()
        .map(|t| t["task"].as_u64().expect("task"))
        .collect();
    if requeue == Requeue::No {
        // Exactly the tasks that were running on node03 are missing.
        let mut on03: Vec<u64> = on_node03
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .filter_map(|id| id.split('_').nth(1))
            .filter_map(|k| k.parse().ok())
            .collect();
        on03.sort_unstable();
        assert_eq!(missing, on03, "without requeue, node03's tasks are missing");
    }

    local_cluster(&["node-start", "node03"], &[], &[]).expect_code(0);
    let resubmit = sweep(&[os("resubmit"), dir.as_os_str()]);
    resubmit.expect_code(0);
    let resubmitted = job_ids(&dir, "resubmit");
    if !missing.is_empty() {
        let records = job_records(&dir);
        let record = records
            .iter()
            .find(|r| r["kind"] == "resubmit")
            .expect("a resubmit record");
        let list: Vec<String> = missing.iter().map(u64::to_string).collect();
        println!(
            "missing {missing:?}; resubmitted --array={}",
            record["array"]
        );
        // Contiguous indices may be written as a range (2,3 -> 2-3).
        let array = record["array"].as_str().expect("array");
        assert!(
            array == list.join(",") || expand_index_list(array) == missing,
            "resubmitted --array={array} for missing tasks {missing:?}"
        );
    }
    assert_eq!(
        resubmitted.is_empty(),
        n("missing") == 0,
        "resubmit submits only what is missing"
    );
    wait_jobs_gone(&all_job_ids(&dir), Duration::from_secs(120));

    let (code, st) = status(&dir);
    assert_eq!((code, st["done"].as_u64()), (Some(0), Some(12)), "{st}");
    let results = result_files(&dir);
    let tasks: Vec<u64> = results.iter().map(|(_, f)| f.task).collect();
    assert_eq!(
        tasks,
        (0..12).collect::<Vec<_>>(),
        "one result per task: {results:?}"
    );
    let rerun: Vec<String> = results
        .iter()
        .filter(|(_, f)| {
            f.slurm.restart_count.unwrap_or(0) > 0
                || resubmitted
                    .iter()
                    .any(|id| f.slurm.array_job_id == Some(id.to_string()))
        })
        .map(|(name, f)| {
            format!(
                "{name} (restart count {:?}, job {:?})",
                f.slurm.restart_count, f.slurm.job_id
            )
        })
        .collect();
    println!("tasks that ran again after the crash: {rerun:?}");
    assert!(!rerun.is_empty(), "the crash of node03 hit no task");
    let out = collect(&[dir.as_os_str(), os("--format"), os("csv")]);
    out.expect_code(0);
    assert_eq!(
        Csv::parse(&out.stdout).combos(),
        (0..12).collect(),
        "every combination exactly once"
    );
}

/// `3,7,12-15` -> [3, 7, 12, 13, 14, 15] (a throttle suffix `%N` is ignored).
fn expand_index_list(list: &str) -> Vec<u64> {
    let list = list.split('%').next().unwrap_or_default();
    let mut out = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.parse().expect("index"), b.parse().expect("index"));
                out.extend(a..=b);
            }
            None => out.push(part.parse().expect("index")),
        }
    }
    out
}

#[test]
fn index_lists_expand() {
    assert_eq!(expand_index_list("3,7,12-15%2"), [3, 7, 12, 13, 14, 15]);
    assert_eq!(expand_index_list("2-3"), [2, 3]);
}

#[test]
fn slurm_scenarios() {
    if !e2e::enabled("slurm_scenarios") {
        return;
    }
    bin_dir();
    let only: Option<Vec<String>> = std::env::var("SLURM_SWEEP_E2E_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let scenarios: [(&str, fn()); 6] = [
        ("smoke", smoke),
        ("sweep", sweep_matches_local),
        ("cancelled_task", cancelled_task),
        ("failing_task", failing_task),
        ("lost_node", lost_node),
        ("lost_node_no_requeue", lost_node_no_requeue),
    ];
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for (name, scenario) in scenarios {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        banner(&format!("scenario: {name}"));
        let t = Instant::now();
        let result = std::panic::catch_unwind(scenario);
        let secs = t.elapsed().as_secs_f64();
        match &result {
            Ok(()) => println!("\nPASSED {name} ({secs:.0} s)"),
            Err(_) => println!("\nFAILED {name} ({secs:.0} s): see the panic message above"),
        }
        outcomes.push((name, result.is_ok(), secs));
    }
    banner("summary");
    for (name, ok, secs) in &outcomes {
        println!(
            "{:<16} {} ({secs:.0} s)",
            name,
            if *ok { "PASSED" } else { "FAILED" }
        );
    }
    println!("total {:.0} s", started.elapsed().as_secs_f64());
    let failed: Vec<&str> = outcomes.iter().filter(|o| !o.1).map(|o| o.0).collect();
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
}
