//! End-to-end: walk-forward sweeps with the real `sweep`, `bt-worker` and `collect`
//! binaries on the real data (`SLURM_SWEEP_DATA`); no SLURM (`sweep run --local`), always
//! run.
//!
//! - **The direct definition.** For every combination and every window, the metrics the
//!   worker stored equal those of a separate `bt-worker run --spec SPEC -p ... --start
//!   <spec start> --burn-in <window first day> --end <window last day>`, exactly.
//! - **Independent recomputation.** The per-window choices (best training-window Sharpe,
//!   ties to the lowest combination) and the stitched out-of-sample curve (each chosen
//!   combination's test-window equity curve from a separate `bt-worker run --equity-csv`,
//!   rescaled and concatenated here, its Sharpe, CAGR, total return and maximum drawdown
//!   computed here) agree with `collect --format json`'s `walk_forward`.
//! - Status, skip on rerun and the rerun of a missing task work as for any sweep.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use e2e::{bin, collect, data_dir, run_quiet, scratch, status, sweep};
use serde_json::Value;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

const START: &str = "2003-01-02";

/// A walk-forward ma_cross spec over SPY: 2-year training, 1-year test windows, rolling,
/// from 2005 to 2010 (4 windows), 5 combinations (fast < slow).
fn spec_text(name: &str) -> String {
    let data = data_dir().join("qstrader_examples");
    format!(
        r#"# Written by slurm-sweep's end-to-end tests.
name = "{name}"
strategy = "ma_cross"
constraints = ["fast < slow"]

[data]
dir = "{data}"
symbols = ["SPY"]

[backtest]
start = {START}
burn_in = 2005-01-03
end = 2011-01-07
commission_bps = 5.0

[walk_forward]
train = "2y"
test = "1y"

[params]
fast = [5, 20, 50]
slow = [30, 100]

[slurm]
time = "00:05:00"
combos_per_task = 4
"#,
        data = data.display()
    )
}

/// Plans `text` into `dir/fs`; returns (spec path, sweep directory, `sweep plan` stdout).
fn plan(dir: &Path, text: &str) -> (PathBuf, PathBuf, String) {
    let spec = dir.join("wf.toml");
    std::fs::write(&spec, text).expect("write spec");
    let out = sweep(&[
        os("plan"),
        spec.as_os_str(),
        os("--sharedfs"),
        dir.join("fs").as_os_str(),
    ]);
    out.expect_code(0);
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("dir:"))
        .unwrap_or_else(|| panic!("no dir line in {}", out.stdout));
    (spec, PathBuf::from(line.trim()), out.stdout.clone())
}

/// `bt-worker run --spec SPEC -p k=v ... --start START --burn-in FROM --end TO` with
/// `extra` arguments.
fn worker_run(
    spec: &Path,
    params: &serde_json::Map<String, Value>,
    from: &str,
    to: &str,
    extra: &[&OsStr],
) {
    let mut args: Vec<std::ffi::OsString> = vec!["run".into(), "--spec".into(), spec.into()];
    for (k, v) in params {
        let v = match v {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        args.push("-p".into());
        args.push(format!("{k}={v}").into());
    }
    for a in ["--start", START, "--burn-in", from, "--end", to] {
        args.push(a.into());
    }
    args.extend(extra.iter().map(|a| a.to_os_string()));
    let out = run_quiet(bin("bt-worker"), &args);
    out.expect_code(0);
}

/// The metrics of a separate run over `from ..= to`.
fn direct_metrics(
    dir: &Path,
    spec: &Path,
    params: &serde_json::Map<String, Value>,
    from: &str,
    to: &str,
) -> Value {
    let file = dir.join("metrics.json");
    worker_run(
        spec,
        params,
        from,
        to,
        &[os("--metrics-json"), file.as_os_str()],
    );
    serde_json::from_slice(&std::fs::read(&file).expect("metrics")).expect("metrics json")
}

/// The equity curve of a separate run over `from ..= to`.
fn direct_equity(
    dir: &Path,
    spec: &Path,
    params: &serde_json::Map<String, Value>,
    from: &str,
    to: &str,
) -> Vec<(String, f64)> {
    let file = dir.join("equity.csv");
    worker_run(
        spec,
        params,
        from,
        to,
        &[os("--equity-csv"), file.as_os_str()],
    );
    std::fs::read_to_string(&file)
        .expect("equity")
        .lines()
        .skip(1)
        .map(|l| {
            let (d, e) = l.split_once(',').expect("date,equity");
            (d.to_string(), e.parse().expect("equity value"))
        })
        .collect()
}

/// Every run of the sweep's result files (read by the one reader, v2 columns included),
/// by combination, as JSON values.
fn runs(sweep_dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(sweep_dir.join("results")).expect("results") {
        let path = entry.expect("entry").path();
        if path.extension() == Some(OsStr::new("json")) {
            let file = sweep_core::result::ResultFile::read(&path).expect("result file");
            out.extend(
                file.runs
                    .iter()
                    .map(|r| serde_json::to_value(r).expect("run json")),
            );
        }
    }
    out.sort_by_key(|r| r["i"].as_u64());
    out
}

fn date_pair(v: &Value) -> (String, String) {
    (
        v[0].as_str().expect("from").to_string(),
        v[1].as_str().expect("to").to_string(),
    )
}

/// QSTrader's Sharpe, CAGR and total return of an equity curve, computed here: returns
/// `pct_change().fillna(0)` (n of them, the first 0), mean / std (ddof 0) · √252,
/// (last/first)^(252/n) − 1; and the maximum drawdown from the running peak.
fn curve_stats(equity: &[f64]) -> (f64, f64, f64, f64) {
    let n = equity.len() as f64;
    let returns: Vec<f64> = std::iter::once(0.0)
        .chain(equity.windows(2).map(|w| w[1] / w[0] - 1.0))
        .collect();
    let mean = returns.iter().sum::<f64>() / n;
    let var = returns.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n;
    let sharpe = 252f64.sqrt() * mean / var.sqrt();
    let growth = equity[equity.len() - 1] / equity[0];
    let cagr = growth.powf(252.0 / n) - 1.0;
    let mut peak = f64::MIN;
    let mut dd = 0.0f64;
    for &e in equity {
        peak = peak.max(e);
        dd = dd.max((peak - e) / peak);
    }
    (sharpe, cagr, growth - 1.0, dd)
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs())),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn walk_forward_agrees_with_separate_backtests() {
    let dir = scratch("walk-forward");
    let (spec, sweep_dir, plan_out) = plan(&dir, &spec_text("wf_e2e"));
    // `sweep plan` prints the windows.
    assert!(
        plan_out.contains("walk-forward: 4 windows, rolling, train 2y, test 1y"),
        "{plan_out}"
    );
    assert!(
        plan_out.contains("window 1: train 2005-01-03 .. 2007-01-02 ("),
        "{plan_out}"
    );
    let plan_json: Value =
        serde_json::from_slice(&std::fs::read(sweep_dir.join("plan.json")).expect("plan"))
            .expect("plan json");
    let windows = plan_json["walk_forward"]["windows"]
        .as_array()
        .expect("windows")
        .clone();
    assert_eq!(windows.len(), 4);

    sweep(&[os("run"), sweep_dir.as_os_str(), os("--local")]).expect_code(0);
    let (code, _) = status(&sweep_dir);
    assert_eq!(code, Some(0), "sweep status after the run");

    // (a) The direct definition, for every combination and window.
    let all = runs(&sweep_dir);
    assert_eq!(all.len(), 5);
    let mut train_sharpe = vec![vec![f64::NAN; windows.len()]; all.len()];
    for (c, r) in all.iter().enumerate() {
        assert_eq!(r["status"], "ok", "{r}");
        let params = r["params"].as_object().expect("params");
        for (k, w) in windows.iter().enumerate() {
            for (part, stored) in [
                ("train", &r["windows"]["train"][k]),
                ("test", &r["windows"]["test"][k]),
            ] {
                let (from, to) = date_pair(&w[part]);
                let direct = direct_metrics(&dir, &spec, params, &from, &to);
                assert_eq!(
                    &direct,
                    stored,
                    "combination {c} {part} window {} ({from} .. {to}): worker vs bt-worker run",
                    k + 1
                );
                if part == "train" {
                    train_sharpe[c][k] = direct["sharpe"].as_f64().unwrap_or(f64::NAN);
                }
            }
        }
    }

    // (b) Choices and the stitched curve, recomputed from separate backtests.
    let out = collect(&[sweep_dir.as_os_str(), os("--format"), os("json")]);
    out.expect_code(0);
    let doc: Value = serde_json::from_str(&out.stdout).expect("collect json");
    let wf = &doc["walk_forward"];
    assert_eq!(wf["trials"], 5);
    let mut stitched: Vec<f64> = Vec::new();
    let mut chosen_combos = Vec::new();
    for (k, w) in windows.iter().enumerate() {
        let mut best: Option<(usize, f64)> = None;
        for (c, s) in train_sharpe.iter().enumerate() {
            let v = s[k];
            if v.is_finite() && best.is_none_or(|(_, b)| v > b) {
                best = Some((c, v));
            }
        }
        let (c, v) = best.expect("a choice");
        chosen_combos.push(all[c]["i"].as_u64().expect("i"));
        let got = &wf["windows"][k];
        assert_eq!(got["chosen"]["combo"], all[c]["i"], "window {}", k + 1);
        assert_eq!(
            got["chosen"]["params"],
            all[c]["params"],
            "window {}",
            k + 1
        );
        close(
            got["in_sample"].as_f64().expect("is"),
            v,
            "in-sample sharpe",
        );
        let (from, to) = date_pair(&w["test"]);
        assert_eq!(date_pair(&got["test"]), (from.clone(), to.clone()));
        let curve = direct_equity(
            &dir,
            &spec,
            all[c]["params"].as_object().expect("params"),
            &from,
            &to,
        );
        assert_eq!(curve.first().map(|x| x.0.as_str()), Some(from.as_str()));
        assert_eq!(curve.last().map(|x| x.0.as_str()), Some(to.as_str()));
        let first = curve[0].1;
        let scale = stitched.last().copied().unwrap_or(first);
        stitched.extend(curve.iter().map(|(_, e)| e * scale / first));
    }
    let (sharpe, cagr, total, dd) = curve_stats(&stitched);
    let s = &wf["stitched"];
    assert_eq!(s["n_obs"].as_u64(), Some(stitched.len() as u64));
    close(
        s["sharpe"].as_f64().expect("sharpe"),
        sharpe,
        "stitched sharpe",
    );
    close(s["cagr"].as_f64().expect("cagr"), cagr, "stitched cagr");
    close(
        s["total_return"].as_f64().expect("total"),
        total,
        "stitched total return",
    );
    close(
        s["max_drawdown"].as_f64().expect("dd"),
        dd,
        "stitched max drawdown",
    );
    let changes = chosen_combos.windows(2).filter(|p| p[0] != p[1]).count();
    assert_eq!(wf["changes"].as_u64(), Some(changes as u64));
    assert!(wf["dsr"].is_number(), "{wf}");
    assert!(wf["baseline"]["combo"].is_number(), "{wf}");
    assert!(wf["problems"].as_array().is_some_and(Vec::is_empty), "{wf}");

    // The terminal and the report carry it too.
    let out = collect(&[sweep_dir.as_os_str(), os("--report")]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("stitched out-of-sample 2007-01-03 .."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("walk-forward efficiency"),
        "{}",
        out.stdout
    );
    let html =
        std::fs::read_to_string(sweep_dir.join("report").join("report.html")).expect("report");
    assert!(html.contains("<h2 id=\"walk-forward\">Walk-forward</h2>"));

    // Skip on rerun, and a missing task runs again with its windows.
    let before = runs(&sweep_dir);
    let rerun = sweep(&[os("run"), sweep_dir.as_os_str(), os("--local")]);
    rerun.expect_code(0);
    assert_eq!(runs(&sweep_dir), before);
    let task0: Vec<PathBuf> = std::fs::read_dir(sweep_dir.join("results"))
        .expect("results")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("task-0."))
                && p.extension() == Some(OsStr::new("json"))
        })
        .collect();
    assert_eq!(task0.len(), 1);
    std::fs::remove_file(&task0[0]).expect("remove task 0");
    let (code, _) = status(&sweep_dir);
    assert_ne!(code, Some(0), "a missing task is not done");
    sweep(&[os("run"), sweep_dir.as_os_str(), os("--local")]).expect_code(0);
    assert_eq!(runs(&sweep_dir), before);
}

#[test]
fn too_few_windows_fail_the_plan_naming_the_field() {
    let dir = scratch("walk-forward-errors");
    let text = spec_text("wf_e2e_short").replace("train = \"2y\"", "train = \"5y\"");
    let spec = dir.join("wf.toml");
    std::fs::write(&spec, text).expect("write spec");
    let out = sweep(&[
        os("plan"),
        spec.as_os_str(),
        os("--sharedfs"),
        dir.join("fs").as_os_str(),
    ]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("`walk_forward.train`: expected at least two windows"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("wf.toml:"), "{}", out.stderr);
}
