//! Test helpers: synthetic sweep directories (plan.json, spec.toml, result files with
//! metrics made from the combination index), and the real `collect` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
#[cfg(test)]
use std::process::{Command, Output};

use backtest::{Metrics, ParamValue, Params};
use chrono::{DateTime, TimeZone, Utc};
use sweep_core::plan::{split_arrays, task_count, PLAN_SCHEMA};
use sweep_core::result::RESULT_SCHEMA;
use sweep_core::{Plan, ResultFile, Run, RunStatus, SlurmIds, SweepDir};

/// A plan of `combos` combinations in tasks of `per_task`.
pub fn plan(name: &str, hash: &str, combos: u64, per_task: u64) -> Plan {
    let tasks = task_count(combos, per_task);
    Plan {
        schema: PLAN_SCHEMA.into(),
        name: name.into(),
        hash: hash.into(),
        spec_hash: "spec".into(),
        data: vec![],
        inputs: vec![],
        strategy: "ma_cross".into(),
        combos,
        combos_per_task: per_task,
        tasks,
        manifest_index: None,
        max_array_size: 1001,
        arrays: split_arrays(tasks, 1001),
        throttle: None,
        tool_version: "0.1.0".into(),
        created: Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("date"),
        walk_forward: None,
    }
}

/// The synthetic Sharpe of combination `i`: a fixed scrambling of the index into [-1, 2),
/// with ties on purpose (every value repeats for i and i + 7919).
pub fn sharpe_of(i: u64) -> f64 {
    ((i % 7919) * 2_654_435_761 % 3000) as f64 / 1000.0 - 1.0
}

/// Parameters of combination `i`: fast = 5 + i % 10, slow = 50 + 10 · (i / 10 % 10),
/// kind = sma/ema alternating per 100.
pub fn params_of(i: u64) -> Params {
    let mut p = Params::new();
    p.insert("fast".into(), ParamValue::Int(5 + (i % 10) as i64));
    p.insert(
        "slow".into(),
        ParamValue::Int(50 + 10 * ((i / 10) % 10) as i64),
    );
    p.insert(
        "kind".into(),
        ParamValue::Str(if (i / 100) & 1 == 0 { "sma" } else { "ema" }.into()),
    );
    p
}

/// Synthetic metrics of combination `i`.
pub fn metrics_of(i: u64) -> Metrics {
    let sharpe = sharpe_of(i);
    Metrics {
        sharpe,
        sortino: sharpe * 1.3,
        cagr: sharpe * 0.05,
        annualised_vol: 0.1 + (i % 13) as f64 / 100.0,
        max_drawdown: 0.05 + (i % 37) as f64 / 100.0,
        max_drawdown_duration: Some(10 + i % 300),
        total_return: sharpe * 0.4,
        calmar: sharpe * 0.05 / (0.05 + (i % 37) as f64 / 100.0),
        trades: Some(i % 50),
        turnover: 1.5,
        skew: -0.2,
        kurtosis: 5.0,
        n_obs: Some(2520),
        // Metrics added later keep their defaults here.
        ..Metrics::default()
    }
}

pub fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, minute, 0)
        .single()
        .expect("date")
}

/// The result file of `task` with every run ok except `failed` combinations.
pub fn result(
    plan: &Plan,
    task: u64,
    host: &str,
    finished: DateTime<Utc>,
    failed: &[u64],
) -> ResultFile {
    let range = plan.task_range(task);
    ResultFile {
        schema: RESULT_SCHEMA.into(),
        sweep: plan.name.clone(),
        plan_hash: plan.hash.clone(),
        task,
        first: range.start,
        count: range.end - range.start,
        slurm: SlurmIds::default(),
        host: host.into(),
        slurmd_nodename: Some(host.into()),
        worker_version: "0.1.0".into(),
        arch: "x86_64".into(),
        started: finished,
        finished,
        runs: range
            .map(|i| {
                let fail = failed.contains(&i);
                Run {
                    i,
                    params: params_of(i),
                    status: if fail {
                        RunStatus::Error
                    } else {
                        RunStatus::Ok
                    },
                    error: fail.then(|| format!("slow window {} too long", 50 + i)),
                    metrics: (!fail).then(|| metrics_of(i)),
                    in_sample: None,
                    out_of_sample: None,
                    returns: None,
                    windows: None,
                    blocks: None,
                }
            })
            .collect(),
    }
}

/// Writes plan.json and a spec.toml into a new sweep directory.
pub fn write_sweep(root: &Path, plan: &Plan) -> SweepDir {
    let dir = SweepDir::new(root);
    std::fs::create_dir_all(dir.results()).expect("results dir");
    std::fs::create_dir_all(dir.logs()).expect("logs dir");
    std::fs::write(
        dir.plan(),
        serde_json::to_vec_pretty(plan).expect("plan json"),
    )
    .expect("plan");
    std::fs::write(
        dir.spec(),
        format!(
            "name = \"{}\"\nstrategy = \"ma_cross\"\n\n[data]\ndir = \"/nonexistent-data\"\nsymbols = [\"SPY\"]\n\n[backtest]\ninitial_cash = 100000.0\n",
            plan.name
        ),
    )
    .expect("spec");
    dir
}

/// Writes `file` as `results/task-<k>.<host>.json`.
pub fn write_result(dir: &SweepDir, file: &ResultFile) -> PathBuf {
    let path = dir.result_file(file.task, &file.host);
    std::fs::write(&path, serde_json::to_vec(file).expect("json")).expect("write result");
    path
}

/// A complete sweep: every task written.
pub fn complete_sweep(root: &Path, combos: u64, per_task: u64) -> (SweepDir, Plan) {
    let plan = plan("ma_test", "a1b2c3d4e5f6", combos, per_task);
    let dir = write_sweep(root, &plan);
    for task in 0..plan.tasks {
        write_result(&dir, &result(&plan, task, "node02", time(0), &[]));
    }
    (dir, plan)
}

/// Runs the real binary (only in tests: examples have no `CARGO_BIN_EXE_collect`).
#[cfg(test)]
pub fn collect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_collect"))
        .args(args)
        .output()
        .expect("run collect")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
