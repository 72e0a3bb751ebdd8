//! The real `collect` binary on synthetic sweep directories: each completeness case with its
//! exit code, ranking and filters, QSTrader input, and the report in a headless browser.

mod util;

use std::path::Path;

use util::*;

fn csv_combos(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("ranking.csv");
    let mut r = csv::Reader::from_reader(text.as_bytes());
    r.records()
        .map(|rec| rec.expect("record")[1].to_string())
        .collect()
}

#[test]
fn complete_sweep_ranks_and_exits_0() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, _) = complete_sweep(tmp.path(), 100, 10);
    let out = collect(&[tmp.path().to_str().expect("path")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("complete"), "{err}");
    // Best Sharpe values by hand (sharpe_of in Python): 88, 63, 38, 13, 76.
    let combos = csv_combos(&dir.report().join("ranking.csv"));
    assert_eq!(combos.len(), 100);
    assert_eq!(&combos[..5], &["#88", "#63", "#38", "#13", "#76"]);
    let md = std::fs::read_to_string(dir.report().join("ranking.md")).expect("md");
    assert!(md.contains("| 1 | #88 |"), "{md}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("#88") && stdout.contains("1.9680"),
        "{stdout}"
    );
}

#[test]
fn lower_is_better_ascends_with_stable_ties_and_filters() {
    let tmp = tempfile::tempdir().expect("tmp");
    complete_sweep(tmp.path(), 100, 10);
    let p = tmp.path().to_str().expect("path");
    // max_drawdown = 0.05 + (i % 37)/100: combos 0, 37, 74 tie; lower index first.
    let out = collect(&[p, "--by", "max_drawdown", "--format", "csv", "--top", "4"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).expect("col"))
        .collect();
    assert_eq!(names, vec!["#0", "#37", "#74", "#1"]);
    // --desc forces the other way.
    let out = collect(&[
        p,
        "--by",
        "max_drawdown",
        "--desc",
        "--format",
        "csv",
        "--top",
        "1",
    ]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().nth(1).expect("row").contains(",#36,"),
        "{stdout}"
    );
    // Filter by metrics: 33 rows pass (by hand), best 88, 38, 13.
    let out = collect(&[
        p,
        "--where",
        "max_drawdown < 0.2 and trades >= 10",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ranking"]["rows_passing_filter"], 33);
    let rows = v["ranking"]["rows"].as_array().expect("rows");
    let top: Vec<u64> = rows
        .iter()
        .take(3)
        .map(|r| r["combo"].as_u64().expect("combo"))
        .collect();
    assert_eq!(top, vec![88, 38, 13]);
    // ... and by parameters.
    let out = collect(&[
        p,
        "--where",
        "kind == 'sma' and not (fast < 10)",
        "--format",
        "csv",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count() - 1, 50, "{stdout}");
}

#[test]
fn unknown_names_are_errors_listing_valid_ones() {
    let tmp = tempfile::tempdir().expect("tmp");
    complete_sweep(tmp.path(), 20, 10);
    let p = tmp.path().to_str().expect("path");
    let out = collect(&[p, "--where", "trades > 3 and sharp > 1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "--where `trades > 3 and sharp > 1`: unknown name `sharp` (did you mean `sharpe`?); \
             valid names: metrics sharpe, "
        ) && err.contains(
            "; parameters fast, kind, slow\ntrades > 3 and sharp > 1\n               ^^^^^\n"
        ),
        "{err}"
    );
    // Functions: the scalar ones work; a series one or an unknown one is refused, pointed at.
    let out = collect(&[
        p,
        "--where",
        "abs(fast - slow) > 0 and if(kind = 'sma', 1, 0) = 1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = collect(&[p, "--where", "sharpe > sma(sharpe, 5)"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "--where `sharpe > sma(sharpe, 5)`: `sma` works on price series and belongs in \
             [rules], not in a --where filter over metrics and parameters\n\
             sharpe > sma(sharpe, 5)\n         ^^^\n"
        ),
        "{err}"
    );
    let out = collect(&[p, "--where", "clip(sharpe, 0) > 1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "`clip` takes 3 arguments (x, lo, hi), got 2\nclip(sharpe, 0) > 1\n^^^^^^^^^^^^^^^\n"
        ),
        "{err}"
    );
    let out = collect(&[p, "--by", "profit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown metric `profit`"));
}

#[test]
fn missing_task_is_named_with_its_slurm_log_and_exits_1() {
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = plan("ma_test", "a1b2c3d4e5f6", 50, 10);
    let dir = write_sweep(tmp.path(), &plan);
    for task in [0, 1, 2, 4] {
        write_result(&dir, &result(&plan, task, "node02", time(0), &[]));
    }
    // Two submissions: the second covers tasks 3.. with offset 3, so task 3 is array index 0.
    for (job_id, array, offset) in [(100, "0-2", 0), (200, "0-1", 3)] {
        let record = sweep_core::jobs::JobRecord {
            schema: sweep_core::jobs::JOB_SCHEMA.into(),
            job_id,
            cluster: None,
            kind: sweep_core::jobs::JobKind::Array,
            array: Some(array.into()),
            offset: Some(offset),
            script: "array.sbatch".into(),
            dependency: None,
            submitted: time(0),
        };
        sweep_core::jobs::append(&dir.jobs(), &record).expect("jobs");
    }
    std::fs::write(dir.logs().join("100_0.err"), "fine\n").expect("log");
    std::fs::write(
        dir.logs().join("200_0.err"),
        "line 1\nslurmstepd: error: *** JOB 200 ON node03 CANCELLED DUE TO TIME LIMIT ***\n",
    )
    .expect("log");
    let out = collect(&[tmp.path().to_str().expect("path")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("1 missing task"), "{err}");
    assert!(err.contains("task 3 (combos 30..40)"), "{err}");
    assert!(
        err.contains("200_0.err") && err.contains("TIME LIMIT"),
        "{err}"
    );
    // The table is still made from what is there.
    let combos = csv_combos(&dir.report().join("ranking.csv"));
    assert_eq!(combos.len(), 40);
}

#[test]
fn failed_combinations_are_listed_with_error_and_local_log() {
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = plan("ma_test", "a1b2c3d4e5f6", 30, 10);
    let dir = write_sweep(tmp.path(), &plan);
    write_result(&dir, &result(&plan, 0, "node02", time(0), &[]));
    write_result(&dir, &result(&plan, 1, "node02", time(0), &[12, 15]));
    write_result(&dir, &result(&plan, 2, "node02", time(0), &[]));
    std::fs::write(
        dir.logs().join("local_1.err"),
        "warning: combo 12 failed\nwarning: combo 15 failed\n",
    )
    .expect("log");
    let out = collect(&[tmp.path().to_str().expect("path"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let c = &v["completeness"];
    assert_eq!(v["complete"], false);
    assert_eq!(c["combos_failed"], 2);
    assert_eq!(c["failed_runs"][0]["combo"], 12);
    assert_eq!(c["failed_runs"][0]["error"], "slow window 62 too long");
    assert_eq!(c["failed_tasks"][0]["task"], 1);
    assert!(c["failed_tasks"][0]["log"]["lines"][1]
        .as_str()
        .expect("line")
        .contains("combo 15 failed"));
    assert_eq!(v["ranking"]["rows_total"], 28);
}

#[test]
fn duplicate_results_that_agree_keep_the_newest_and_say_so() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, plan) = complete_sweep(tmp.path(), 20, 10);
    // A rerun of task 1 on another host, later, with the same numbers.
    write_result(&dir, &result(&plan, 1, "node04", time(30), &[]));
    let out = collect(&[tmp.path().to_str().expect("path")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("1 duplicate task"), "{err}");
    assert!(
        err.contains("kept /")
            && err.contains("task-1.node04.json")
            && err
                .contains("task-1.node02.json (finished 2026-01-02T03:00:00+00:00, same numbers)"),
        "{err}"
    );
}

#[test]
fn duplicate_results_that_disagree_are_a_conflict_and_exit_1() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, plan) = complete_sweep(tmp.path(), 20, 10);
    // A rerun of task 1 on another host, later, with combo 15 changed.
    let mut newer = result(&plan, 1, "node04", time(30), &[]);
    if let Some(m) = newer.runs[5].metrics.as_mut() {
        m.sharpe = 9.5;
    }
    write_result(&dir, &newer);
    let out = collect(&[
        tmp.path().to_str().expect("path"),
        "--format",
        "csv",
        "--top",
        "1",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("1 task(s) with disagreeing results"), "{err}");
    assert!(
        err.contains("task 1: complete result files disagree in their numbers; kept")
            && err.contains("task-1.node04.json")
            && err.contains(
                "task-1.node02.json (finished 2026-01-02T03:00:00+00:00, DIFFERENT numbers)"
            ),
        "{err}"
    );
    // The newest is the one in the table, but the verdict is partial.
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().nth(1).expect("row").starts_with("1,#15,"),
        "{stdout}"
    );
}

#[test]
fn corrupt_and_quarantined_files_are_named_and_counted() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, plan) = complete_sweep(tmp.path(), 30, 10);
    // Truncate task 2's file.
    let path = dir.result_file(2, "node02");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
    std::fs::create_dir_all(dir.results().join("quarantine")).expect("q");
    std::fs::write(dir.results().join("quarantine/task-0.node03.json"), "{").expect("q file");
    // A file whose runs stop short.
    let mut short = result(&plan, 1, "node05", time(1), &[]);
    short.runs.pop();
    write_result(&dir, &short);
    let out = collect(&[tmp.path().to_str().expect("path")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2 unusable file(s)"), "{err}");
    assert!(
        err.contains("task-2.node02.json: corrupt: truncated JSON"),
        "{err}"
    );
    assert!(
        err.contains("task-1.node05.json: partial: incomplete: 9 runs for 10"),
        "{err}"
    );
    assert!(
        err.contains("1 quarantined file(s)") && err.contains("task-0.node03.json"),
        "{err}"
    );
    assert!(
        err.contains("task 2 (combos 20..30): no complete result: 1 unusable file(s)"),
        "{err}"
    );
}

#[test]
fn a_foreign_plan_file_is_named_and_the_rest_still_ranked() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, _) = complete_sweep(tmp.path(), 20, 10);
    let other = plan("other", "ffff0000ffff", 20, 10);
    let stray = result(&other, 1, "node09", time(0), &[]);
    let stray_path = dir.results().join("task-1.node09.json");
    std::fs::write(&stray_path, serde_json::to_vec(&stray).expect("json")).expect("write");
    let p = tmp.path().to_str().expect("path");
    let out = collect(&[p, "--format", "csv"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "task-1.node09.json: foreign plan: written for plan ffff0000 of sweep `other`"
        ),
        "{err}"
    );
    assert_eq!(text(&out.stdout).lines().count(), 1 + 20);
}

#[test]
fn loose_files_of_several_plans_are_refused_unless_allowed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, _) = complete_sweep(tmp.path(), 20, 10);
    let other = plan("other", "ffff0000ffff", 20, 10);
    let stray = result(&other, 1, "node09", time(0), &[]);
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let stray_path = elsewhere.join("task-1.node09.json");
    std::fs::write(&stray_path, serde_json::to_vec(&stray).expect("json")).expect("write");
    let files = [
        dir.result_file(0, "node02")
            .to_str()
            .expect("p")
            .to_string(),
        stray_path.to_str().expect("p").to_string(),
    ];
    let out = collect(&[&files[0], &files[1]]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("different plans")
            && err.contains("ffff0000")
            && err.contains("task-1.node09.json")
            && err.contains("--allow-mixed"),
        "{err}"
    );
    let out = collect(&[&files[0], &files[1], "--allow-mixed", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1 + 20);
}

#[test]
fn loose_result_files_rank_without_a_plan() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, _) = complete_sweep(tmp.path(), 20, 10);
    let out = collect(&[
        dir.results().to_str().expect("p"),
        "--format",
        "csv",
        "--top",
        "1",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("missing tasks cannot be known"), "{err}");
}

#[test]
fn split_ranks_in_sample_and_reports_spearman() {
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = plan("split", "5p1i7", 5, 5);
    let dir = write_sweep(tmp.path(), &plan);
    let mut file = result(&plan, 0, "node02", time(0), &[]);
    // In-sample Sharpe 1..5, out-of-sample ranks 2,1,4,3,5: Spearman = 0.8 (by hand).
    let oos = [2.0, 1.0, 4.0, 3.0, 5.0];
    for (k, run) in file.runs.iter_mut().enumerate() {
        let mut is = metrics_of(k as u64);
        is.sharpe = k as f64 + 1.0;
        let mut os = metrics_of(k as u64);
        os.sharpe = oos[k] / 10.0;
        run.in_sample = Some(is);
        run.out_of_sample = Some(os);
    }
    write_result(&dir, &file);
    let out = collect(&[tmp.path().to_str().expect("p"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rho = v["spearman_in_sample_out_of_sample"].as_f64().expect("rho");
    assert!((rho - 0.8).abs() < 1e-12, "{rho}");
    assert_eq!(v["ranking"]["rows"][0]["combo"], 4);
    let out = collect(&[tmp.path().to_str().expect("p")]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("is_sharpe") && stdout.contains("oos_sharpe"),
        "{stdout}"
    );
}

#[test]
fn qstrader_statistics_files_are_ranked_by_name() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Two hand-written files shaped like QSTrader 0.3.0's JSONStatistics output.
    let a = r#"{"strategy_id": "sixty_forty", "strategy_name": "60/40 on node02",
        "strategy": {"sharpe": 0.72, "sortino": 0.84, "cagr": 0.076, "annualised_vol": 0.11,
          "max_drawdown": 0.35, "max_drawdown_duration": 802,
          "equity_curve": [[1064880000000, 1000000.0], [1064966400000, 1010000.0], [1065052800000, 1030200.0]],
          "returns": [[1064880000000, 0.0], [1064966400000, 0.01], [1065052800000, 0.02]]},
        "benchmark": {"sharpe": 0.59, "equity_curve": [], "returns": []}}"#;
    let b = r#"{"strategy": {"sharpe": 0.9, "sortino": NaN, "cagr": 0.1, "annualised_vol": 0.12,
          "max_drawdown": 0.2, "max_drawdown_duration": 100,
          "equity_curve": [[1064880000000, 100.0], [1064966400000, 90.0]],
          "returns": [[1064880000000, 0.0], [1064966400000, -0.1]]}}"#;
    std::fs::write(tmp.path().join("node02.json"), a).expect("a");
    std::fs::write(tmp.path().join("momentum_node03.json"), b).expect("b");
    let out = collect(&[tmp.path().to_str().expect("p"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = v["ranking"]["rows"].as_array().expect("rows");
    assert_eq!(rows[0]["name"], "momentum_node03");
    assert_eq!(rows[1]["name"], "60/40 on node02");
    let m = &rows[1]["metrics"];
    // total return 1030200/1000000 - 1; calmar 0.076/0.35; returns 0, .01, .02: skew 0,
    // kurtosis: deviations -.01,0,.01 -> m2 = 2e-4/3, m4 = 2e-8/3 -> 1.5.
    assert!((m["total_return"].as_f64().expect("tr") - 0.0302).abs() < 1e-12);
    assert!((m["calmar"].as_f64().expect("calmar") - 0.076 / 0.35).abs() < 1e-12);
    assert!(m["skew"].as_f64().expect("skew").abs() < 1e-9);
    assert!((m["kurtosis"].as_f64().expect("k") - 1.5).abs() < 1e-9);
    assert_eq!(m["n_obs"], 3.0);
    assert!(m["trades"].is_null());
    assert!(rows[0]["metrics"]["sortino"].is_null());
}

#[test]
fn qstrader_reference_output_when_present() {
    let reference = Path::new("/tmp/qstrader-ref/sixty_forty.json");
    if !reference.exists() {
        eprintln!(
            "SKIPPED: no QSTrader reference output at {}",
            reference.display()
        );
        return;
    }
    let out = collect(&[reference.to_str().expect("p"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = &v["ranking"]["rows"][0];
    assert_eq!(row["name"], "60/40 US Equities/Bonds");
    assert!(row["metrics"]["sharpe"].as_f64().expect("sharpe") > 0.0);
}

#[test]
fn pbo_is_computed_from_kept_returns() {
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = plan("noise", "n015e", 20, 10);
    let dir = write_sweep(tmp.path(), &plan);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for task in 0..2 {
        let mut f = result(&plan, task, "node02", time(0), &[]);
        for run in &mut f.runs {
            run.returns = Some((0..320).map(|_| rng.gen_range(-0.02..0.02)).collect());
        }
        write_result(&dir, &f);
    }
    let out = collect(&[tmp.path().to_str().expect("p"), "--pbo", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let pbo = &v["overfitting"]["pbo"];
    assert_eq!(pbo["splits"], 12_870);
    assert_eq!(pbo["strategies"], 20);
    let p = pbo["pbo"].as_f64().expect("pbo");
    assert!((0.0..=1.0).contains(&p));
    // Without --pbo (and no keep_returns in the spec), PBO is said to be absent.
    let out = collect(&[tmp.path().to_str().expect("p"), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["overfitting"]["pbo"].is_null());
    assert!(v["overfitting"]["pbo_note"]
        .as_str()
        .expect("note")
        .contains("keep_returns"));
    // DSR of the top rows is always there; trials = 20.
    assert_eq!(v["overfitting"]["trials"], 20);
    assert!(v["overfitting"]["top"][0]["dsr"].is_number());
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn report_loads_in_a_headless_browser() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, _) = complete_sweep(tmp.path(), 200, 20);
    std::fs::remove_file(dir.result_file(3, "node02")).expect("make one task missing");
    let out = collect(&[
        tmp.path().to_str().expect("p"),
        "--report",
        "--heatmap",
        "fast,slow",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = dir.report().join("report.html");
    let html = std::fs::read_to_string(&report).expect("report.html");
    // Self-contained: no scripts, no external resources.
    assert!(
        !html.contains("<script")
            && !html.contains("http://www.w3.org/1999")
            && !html.contains("src=")
    );
    assert!(html.contains("Missing tasks") && html.contains("Deflated Sharpe Ratio"));
    // The engine cannot re-run here (no data): the report says so instead of crashing.
    assert!(
        html.contains("could not") || html.contains("panicked"),
        "engine failure not stated"
    );
    let Some(browser) = chromium() else {
        if std::env::var("SLURM_SWEEP_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
            panic!("chromium is required (SLURM_SWEEP_REQUIRE_CHROMIUM=1) but not installed");
        }
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let profile = tempfile::tempdir().expect("profile");
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", report.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        text(&out.stderr)
    );
    let dom = text(&out.stdout);
    let svgs = dom.matches("<svg").count();
    // Heatmap, ranking histogram (equity charts are absent: the engine could not run).
    assert!(svgs >= 2, "{svgs} svg elements in the DOM");
    assert!(dom.contains("<rect"), "SVG shapes missing");
    assert!(
        dom.contains("Ranking") && dom.contains("#"),
        "table missing"
    );
    let console = text(&out.stderr);
    assert!(
        !console.contains("Uncaught") && !console.contains("SyntaxError"),
        "JS errors: {console}"
    );
}

/// `--rank robust` and `--pareto` on a grid sweep (fast × slow × kind, 200 combinations):
/// neighbourhood columns in every format, the robust order by neighbourhood mean, the
/// front in the terminal, JSON and the report; a typo'd metric and a sampled-like sweep
/// are clear errors.
#[test]
fn robust_ranking_and_pareto_front() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, _) = complete_sweep(tmp.path(), 200, 20);
    let p = tmp.path().to_str().expect("path");
    let out = collect(&[
        p,
        "--rank",
        "robust",
        "--pareto",
        "sharpe,max_drawdown",
        "--format",
        "json",
        "--report",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["robust"]["rank"], "robust");
    assert_eq!(v["robust"]["k"], 1);
    let rows = v["ranking"]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 200);
    let means: Vec<f64> = rows
        .iter()
        .map(|r| r["neighbourhood"]["mean"].as_f64().expect("mean"))
        .collect();
    assert!(
        means.windows(2).all(|w| w[0] >= w[1]),
        "ranked by neighbourhood mean"
    );
    // The best row's neighbourhood by hand: fast, slow within one step, same kind.
    let best = &rows[0];
    let combo = best["combo"].as_u64().expect("combo");
    let (f, s, kind) = (combo % 10, combo / 10 % 10, combo / 100);
    let mut vals = Vec::new();
    for df in -1i64..=1 {
        for ds in -1i64..=1 {
            let (nf, ns) = (f as i64 + df, s as i64 + ds);
            if (0..10).contains(&nf) && (0..10).contains(&ns) {
                vals.push(sharpe_of(kind * 100 + ns as u64 * 10 + nf as u64));
            }
        }
    }
    // kind's two values (sma, ema) are neighbours on their axis too.
    for other in 0..2u64 {
        if other == kind {
            continue;
        }
        for df in -1i64..=1 {
            for ds in -1i64..=1 {
                let (nf, ns) = (f as i64 + df, s as i64 + ds);
                if (0..10).contains(&nf) && (0..10).contains(&ns) {
                    vals.push(sharpe_of(other * 100 + ns as u64 * 10 + nf as u64));
                }
            }
        }
    }
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    let got = &best["neighbourhood"];
    assert_eq!(got["n"].as_u64(), Some(vals.len() as u64));
    assert!((got["mean"].as_f64().expect("mean") - mean).abs() < 1e-5);
    assert!((got["peak"].as_f64().expect("peak") - sharpe_of(combo)).abs() < 1e-12);
    // The front: sorted by Sharpe descending, drawdown strictly falling along it.
    let front = v["pareto"]["front"].as_array().expect("front");
    assert!(!front.is_empty());
    assert_eq!(v["pareto"]["candidates"], 200);
    let pts: Vec<(f64, f64)> = front
        .iter()
        .map(|e| {
            (
                e["values"]["sharpe"].as_f64().expect("s"),
                e["values"]["max_drawdown"].as_f64().expect("d"),
            )
        })
        .collect();
    assert!(pts.windows(2).all(|w| w[0].0 >= w[1].0 && w[0].1 >= w[1].1));
    // Brute force over the synthetic metrics.
    let all: Vec<(u64, f64, f64)> = (0..200)
        .map(|i| (i, sharpe_of(i), metrics_of(i).max_drawdown))
        .collect();
    let mut want: Vec<u64> = all
        .iter()
        .filter(|(_, s, d)| {
            !all.iter()
                .any(|(_, s2, d2)| s2 >= s && d2 <= d && (s2 > s || d2 < d))
        })
        .map(|(i, _, _)| *i)
        .collect();
    want.sort_unstable();
    let mut got: Vec<u64> = front
        .iter()
        .map(|e| e["id"].as_u64().expect("id"))
        .collect();
    got.sort_unstable();
    assert_eq!(got, want);
    // The report has both sections.
    let html = std::fs::read_to_string(dir.report().join("report.html")).expect("report");
    assert!(html.contains("id=\"robustness\"") && html.contains("nbhd mean"));
    assert!(html.contains("id=\"pareto\"") && html.contains("<circle"));
    // Terminal: neighbourhood columns and the front after the table.
    let out = collect(&[p, "--rank", "robust", "--pareto", "sharpe,max_drawdown"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("nbhd_mean") && stdout.contains("nbhd_n"),
        "{stdout}"
    );
    assert!(stdout.contains("neighbourhood mean (k = 1)"), "{stdout}");
    assert!(
        stdout
            .contains("Pareto front of sharpe (higher is better), max_drawdown (lower is better)"),
        "{stdout}"
    );
    // CSV: the columns at the end; ranking.csv too.
    let out = collect(&[p, "--format", "csv", "--top", "3", "-q"]);
    let header = text(&out.stdout)
        .lines()
        .next()
        .expect("header")
        .to_string();
    assert!(header.ends_with("nbhd_mean,nbhd_worst,nbhd_n"), "{header}");
    // A typo is an error with a suggestion.
    let out = collect(&[p, "--pareto", "sharpe,max_drawdwn"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean `max_drawdown`?"),
        "{}",
        text(&out.stderr)
    );
}

/// A sweep whose parameters do not form a grid: `--rank robust` says so; peak ranking
/// omits the neighbourhood columns.
#[test]
fn robust_ranking_needs_a_grid() {
    let tmp = tempfile::tempdir().expect("tmp");
    // 20 combinations with fast and slow zipped (fast = 5 + i, slow = 100 + i): a
    // 400-point grid for 20 points.
    let plan = plan("ma_zip", "a1b2c3d4e5f6", 20, 10);
    let dir = write_sweep(tmp.path(), &plan);
    for task in 0..plan.tasks {
        let mut file = result(&plan, task, "node02", time(0), &[]);
        for run in &mut file.runs {
            run.params
                .insert("fast".into(), backtest::ParamValue::Int(5 + run.i as i64));
            run.params
                .insert("slow".into(), backtest::ParamValue::Int(100 + run.i as i64));
        }
        write_result(&dir, &file);
    }
    let p = tmp.path().to_str().expect("path");
    let out = collect(&[p, "--rank", "robust"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("robust ranking needs a grid sweep"), "{err}");
    let out = collect(&[p, "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out.stdout).contains("nbhd_"));
}

/// Result files of schema v2 (what workers write) name no parameters: collect takes each
/// combination's from the manifest, for the ranked rows and for the failed ones it lists.
#[test]
fn v2_results_take_parameters_from_the_manifest_also_for_failed_combinations() {
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = plan("ma_test", "a1b2c3d4e5f6", 30, 10);
    let dir = write_sweep(tmp.path(), &plan);
    let manifest: String = (0..30)
        .map(|i| {
            let params: serde_json::Map<String, serde_json::Value> = params_of(i)
                .into_iter()
                .map(|(k, v)| (k, serde_json::to_value(v).expect("value")))
                .collect();
            format!("{}\n", serde_json::json!({"i": i, "params": params}))
        })
        .collect();
    std::fs::write(dir.manifest(), manifest).expect("manifest");
    for task in 0..3 {
        let failed: &[u64] = if task == 1 { &[12, 15] } else { &[] };
        sweep_core::result::write_result(
            &dir.results(),
            &result(&plan, task, "node02", time(0), failed),
        )
        .expect("v2 result");
    }
    let out = collect(&[tmp.path().to_str().expect("path"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let failed = &v["completeness"]["failed_runs"][0];
    assert_eq!(failed["combo"], 12);
    assert_eq!(failed["params"], "fast=7 kind=sma slow=60", "{failed}");
    let rows = v["ranking"]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 28);
    for row in rows {
        let i = row["combo"].as_u64().expect("combo");
        let want = params_of(i);
        assert_eq!(
            row["params"]["fast"],
            serde_json::to_value(&want["fast"]).expect("v")
        );
        assert_eq!(
            row["params"]["slow"],
            serde_json::to_value(&want["slow"]).expect("v")
        );
    }
}
