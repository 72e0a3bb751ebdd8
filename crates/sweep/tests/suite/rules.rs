//! `strategy = "rules"` with the real binaries: a test per error class of issue #11 point 2
//! (`sweep plan` on a spec file: the message names the file, the rule's line and the rule,
//! then shows the expression with a caret under the column at fault), a rule edited in a
//! planned sweep is refused by the worker, `bt-worker run --spec` runs a rules spec, the
//! five worked examples of docs/rules.md (sweeps/rules_*.toml) run with `sweep run --local`
//! on the real data and rank, and docs/rules.md names every function of the engine's table.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use backtest::synthetic::write_market;
use chrono::NaiveDate;

use crate::procs::bin_dir;
use crate::util::{real_data, show};

fn sweep() -> Command {
    let mut c = Command::new(bin_dir().join("sweep"));
    c.env_remove("SLURM_SWEEP_TEMPLATES")
        .env_remove("SLURM_SWEEP_SHAREDFS");
    c
}

fn repo() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// A rules spec over two synthetic symbols; `{RULES}` is replaced by the `[rules]` lines.
const SPEC: &str = r#"name = "rules_errors"
strategy = "rules"

[data]
dir = "data"
symbols = ["SYNA", "SYNB"]

[backtest]
rebalance = "daily"

[rules]
{RULES}

[rules.params]
fast = { type = "int", default = 10, min = 1, max = 500, help = "fast window" }
slow = { type = "int", default = 50, min = 1, max = 500, help = "slow window" }
long_only = { type = "bool", default = true }

[params]
fast = [5, 10, 20]
slow = [50, 100]
"#;

/// A temp dir with two years of synthetic data and the spec with `rules`; returns (dir,
/// spec path, spec text).
fn rules_spec(rules: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = NaiveDate::from_ymd_opt(2020, 1, 2).expect("date");
    let end = NaiveDate::from_ymd_opt(2021, 12, 31).expect("date");
    write_market(&dir.path().join("data"), &["SYNA", "SYNB"], start, end, 7).expect("market");
    let spec = dir.path().join("rules.toml");
    let text = SPEC.replace("{RULES}", rules);
    std::fs::write(&spec, &text).expect("spec");
    (dir, spec, text)
}

/// Runs `sweep plan` on `spec` into `dir`.
fn plan(spec: &Path, dir: &Path) -> Output {
    sweep()
        .arg("plan")
        .arg(spec)
        .arg("--sharedfs")
        .arg(dir)
        .output()
        .expect("run sweep plan")
}

/// The 1-based line of `text` that starts with `start`.
fn line_starting(text: &str, start: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(start))
        .map(|n| n + 1)
        .unwrap_or_else(|| panic!("no line starting {start:?} in\n{text}"))
}

/// Plans `rules` and checks the error: exit 2; `Caused by: <spec>:<line of the rule
/// key>: <head>` where `head` starts with what is given; then the rule's text and a caret
/// under `under` (the `nth` occurrence, from 0) of it. Returns the three lines.
fn rule_error(rules: &str, rule: &str, head: &str, under: &str, nth: usize) -> String {
    let (dir, spec, text) = rules_spec(rules);
    let out = plan(&spec, dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = line_starting(&text, &format!("{rule} ="));
    let want = format!("  Caused by: {}:{line}: {head}", spec.display());
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&want))
        .unwrap_or_else(|| panic!("no line starting {want:?} in:\n{stderr}"));
    let expression = rule_text(rules, rule);
    assert_eq!(
        lines.get(at + 1).copied(),
        Some(format!("    {expression}").as_str()),
        "the rule's text follows the message:\n{stderr}"
    );
    let column = expression
        .match_indices(under)
        .nth(nth)
        .map(|(b, _)| expression[..b].chars().count())
        .unwrap_or_else(|| panic!("{under:?} is not in {expression:?}"));
    let caret = lines.get(at + 2).copied().unwrap_or_default();
    let carets = caret.trim_start().len();
    assert!(
        caret.starts_with(&format!("    {}^", " ".repeat(column)))
            && caret.trim_start().chars().all(|c| c == '^')
            && carets >= 1
            && carets <= under.chars().count(),
        "the caret is under {under:?} (column {column}):\n{stderr}"
    );
    lines[at..at + 3].join("\n")
}

/// The text of rule `rule` in the `[rules]` lines.
fn rule_text(rules: &str, rule: &str) -> String {
    let line = rules
        .lines()
        .find(|l| l.starts_with(&format!("{rule} =")))
        .unwrap_or_else(|| panic!("no rule {rule} in {rules}"));
    let (_, quoted) = line.split_once('=').expect("key = value");
    quoted
        .trim()
        .trim_matches('"')
        .replace("\\\"", "\"")
        .to_string()
}

#[test]
fn unknown_function_suggests_the_closest() {
    let shown = rule_error(
        "position = \"smaa(close, fast) > sma(close, slow)\"",
        "position",
        "rule `position`: unknown function `smaa` (did you mean `sma`?)",
        "smaa",
        0,
    );
    eprintln!("{shown}");
}

#[test]
fn unknown_name_suggests_the_closest() {
    let shown = rule_error(
        "position = \"sma(clsoe, fast) > sma(close, slow)\"",
        "position",
        "rule `position`: unknown name `clsoe` (did you mean `close`?)",
        "clsoe",
        0,
    );
    eprintln!("{shown}");
}

#[test]
fn wrong_number_of_arguments() {
    let shown = rule_error(
        "position = \"sma(close) > sma(close, slow)\"",
        "position",
        "rule `position`: `sma` takes 2 arguments (sma(x, n)), got 1",
        "sma(close)",
        0,
    );
    eprintln!("{shown}");
}

#[test]
fn a_bool_where_a_number_is_needed() {
    let shown = rule_error(
        "position = \"sma(close > open, fast) > 0.5\"",
        "position",
        "rule `position`: `close > open` is a bool where a number is needed (argument `x` of sma(x, n))",
        "close > open",
        0,
    );
    eprintln!("{shown}");
}

#[test]
fn a_number_where_a_bool_is_needed() {
    let shown = rule_error(
        "entry = \"close > sma(close, slow) and sma(close, fast)\"\nexit = \"close < sma(close, slow)\"",
        "entry",
        "rule `entry`: `sma(close, fast)` is a number where a bool is needed (`and` combines two bools)",
        "sma(close, fast)",
        0,
    );
    eprintln!("{shown}");
}

#[test]
fn a_window_that_is_not_a_positive_whole_number_for_a_combination() {
    // fast - 5 is 0 for the first combination (fast = 5, slow = 50).
    let shown = rule_error(
        "position = \"sma(close, fast - 5) > sma(close, slow)\"",
        "position",
        "combination 0 (fast=5, long_only=true, slow=50) cannot run: rule `position`: \
         the window `n` of sma(x, n) is `fast - 5` = 0 for fast = 5: ",
        "fast - 5",
        0,
    );
    eprintln!("{shown}");
    // A fractional window: fast / 2 is 2.5 for fast = 5.
    let shown = rule_error(
        "position = \"sma(close, fast / 2) > sma(close, slow)\"",
        "position",
        "combination 0 (fast=5, long_only=true, slow=50) cannot run: rule `position`: \
         the window `n` of sma(x, n) is `fast / 2` = 2.5 for fast = 5: ",
        "fast / 2",
        0,
    );
    eprintln!("{shown}");
}

#[test]
fn a_window_that_is_a_series() {
    let shown = rule_error(
        "position = \"sma(close, volume) > sma(close, slow)\"",
        "position",
        "rule `position`: the window `n` of sma(x, n) must be a number fixed for the run \
         (parameters and literals), but `volume` is a series",
        "volume",
        0,
    );
    eprintln!("{shown}");
}

#[test]
fn a_parameter_used_but_not_declared() {
    let shown = rule_error(
        "position = \"sma(close, fast) > sma(close, lookback)\"",
        "position",
        "rule `position`: unknown name `lookback`: a parameter must be declared in \
         [rules.params] (declared: fast, slow, long_only)",
        "lookback",
        0,
    );
    eprintln!("{shown}");
}

/// Runs `sweep run <spec> --local` with the real data; returns the output and the seconds
/// it took.
fn run_local(spec: &Path, sharedfs: &Path) -> (Output, f64) {
    let clock = Instant::now();
    let out = sweep()
        .arg("run")
        .arg(spec)
        .arg("--local")
        .arg("--sharedfs")
        .arg(sharedfs)
        .env("SLURM_SWEEP_DATA", real_data())
        .output()
        .expect("run sweep run --local");
    (out, clock.elapsed().as_secs_f64())
}

/// The five worked examples of docs/rules.md, from a clean sharedfs, each planned, run by
/// the real workers and ranked by collect: exit 0, every combination ok, a ranked table
/// showing the rules; then `collect --report` writes the HTML report with the rules in its
/// header and the equity curves of the best rows regenerated through the rules.
#[test]
fn the_five_rules_examples_run_locally_and_rank() {
    let examples = [
        "rules_ma_cross",
        "rules_rsi",
        "rules_donchian",
        "rules_dual_momentum",
        "rules_vol_trend",
    ];
    let mut timings = Vec::new();
    for name in examples {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = repo().join("sweeps").join(format!("{name}.toml"));
        let (out, seconds) = run_local(&spec, dir.path());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}:\n{}", show(&out));
        assert!(
            stdout.contains(&format!("rules of {name}: ")),
            "{name}: the ranking names the rules:\n{stdout}"
        );
        assert!(
            stdout.contains("│ 1 ") || stdout.contains("| 1 "),
            "{name}: a ranked table:\n{stdout}"
        );
        assert!(
            !stderr.contains(" failed") || stderr.contains(" 0 failed"),
            "{name}:\n{stderr}"
        );
        timings.push(format!("{name} {seconds:.1} s"));

        let sweep_dir = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("dir:"))
            .map(|d| PathBuf::from(d.trim()))
            .unwrap_or_else(|| panic!("{name}: no dir line:\n{stdout}"));
        let out = Command::new(bin_dir().join("collect"))
            .arg(&sweep_dir)
            .args(["--report", "--quiet"])
            .output()
            .expect("run collect --report");
        assert_eq!(out.status.code(), Some(0), "{name}:\n{}", show(&out));
        let html = std::fs::read_to_string(sweep_dir.join("report").join("report.html"))
            .expect("report.html");
        assert!(
            html.contains(&format!("Strategy <code>rules</code> of {name}")),
            "{name}: the rules in the report header"
        );
        let spec = std::fs::read_to_string(&spec).expect("spec");
        let first_rule = spec
            .lines()
            .skip_while(|l| *l != "[rules]")
            .nth(1)
            .and_then(|l| l.split_once(" = "))
            .map(|(_, v)| {
                v.trim_matches('"')
                    .replace('>', "&gt;")
                    .replace('<', "&lt;")
            })
            .expect("a rule after [rules]");
        assert!(
            html.contains(&first_rule),
            "{name}: {first_rule} in the report"
        );
        assert!(
            !html.contains("could not") && !html.contains("No equity curve"),
            "{name}: every equity curve regenerated"
        );
    }
    eprintln!("rules examples: {}", timings.join(", "));
}

/// spec.toml of a planned rules sweep carries [rules] and [rules.params]; a worker refuses
/// a sweep whose rule was edited after planning (the plan hash covers the rules).
#[test]
fn an_edited_rule_is_refused_by_the_worker() {
    let (dir, spec, _) = rules_spec("position = \"sma(close, fast) > sma(close, slow)\"");
    let out = plan(&spec, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let sweep_dir = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("dir:"))
        .map(|d| PathBuf::from(d.trim()))
        .unwrap_or_else(|| panic!("no dir line: {stdout}"));
    let planned = std::fs::read_to_string(sweep_dir.join("spec.toml")).expect("spec.toml");
    assert!(
        planned.contains("[rules]") && planned.contains("[rules.params.fast]"),
        "{planned}"
    );
    let edited = planned.replace("sma(close, slow)", "ema(close, slow)");
    assert_ne!(edited, planned);
    std::fs::write(sweep_dir.join("spec.toml"), edited).expect("edit spec.toml");
    let out = Command::new(bin_dir().join("bt-worker"))
        .args(["task", "--task", "0", "--sweep-dir"])
        .arg(&sweep_dir)
        .output()
        .expect("run bt-worker task");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the spec changed since planning"),
        "{stderr}"
    );
    let results: Vec<_> = std::fs::read_dir(sweep_dir.join("results"))
        .expect("results")
        .flatten()
        .filter(|e| e.path().is_file())
        .collect();
    assert!(results.is_empty(), "nothing computed: {results:?}");
}

/// docs/rules.md documents every function of the engine's table (they cannot drift), and
/// every series.
#[test]
fn the_language_reference_lists_every_function() {
    let doc = std::fs::read_to_string(repo().join("docs/rules.md")).expect("docs/rules.md");
    let missing: Vec<&str> = backtest::rules::functions()
        .iter()
        .filter(|f| !doc.contains(&format!("`{}`", f.signature)))
        .map(|f| f.signature)
        .collect();
    assert!(missing.is_empty(), "docs/rules.md lacks {missing:?}");
    for (series, _) in backtest::rules::SERIES {
        assert!(doc.contains(&format!("`{series}`")), "{series}");
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    assert!(
        readme.contains("(docs/rules.md)"),
        "README links the reference"
    );
    for name in [
        "rules_ma_cross",
        "rules_rsi",
        "rules_donchian",
        "rules_dual_momentum",
        "rules_vol_trend",
    ] {
        assert!(
            doc.contains(&format!("sweeps/{name}.toml")),
            "docs/rules.md shows {name}"
        );
    }
}

/// The collect CSV of a sweep directory, as rows of `column -> value`.
fn ranking_csv(sweep_dir: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let out = Command::new(bin_dir().join("collect"))
        .arg(sweep_dir)
        .args(["--format", "csv", "--quiet"])
        .output()
        .expect("run collect");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The same grid as the built-in `ma_cross` and as rules, each with `sweep run --local`:
/// collect ranks them alike, every metric of every combination the same.
#[test]
fn a_rules_sweep_ranks_like_the_built_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = real_data().join("qstrader_examples");
    let common = format!(
        "constraints = [\"fast < slow\"]\n\n[data]\ndir = {:?}\nsymbols = [\"SPY\"]\n\n\
         [backtest]\nstart = 2000-01-03\nend = 2020-12-31\nrebalance = \"daily\"\n\
         commission_bps = 5.0\n",
        data.display().to_string()
    );
    let grid = "[params]\nfast = [5, 10, 20, 50]\nslow = [20, 100, 200]\n";
    let builtin = format!("name = \"builtin\"\nstrategy = \"ma_cross\"\n{common}\n{grid}");
    let rules = format!(
        "name = \"rules\"\nstrategy = \"rules\"\n{common}\n[rules]\n\
         position = \"sma(close, fast) > sma(close, slow)\"\n\n[rules.params]\n\
         fast = {{ type = \"int\", default = 50, min = 1 }}\n\
         slow = {{ type = \"int\", default = 200, min = 1 }}\n\n{grid}"
    );
    let mut rankings = Vec::new();
    for (name, text) in [("builtin", builtin), ("rules", rules)] {
        let spec = dir.path().join(format!("{name}.toml"));
        std::fs::write(&spec, text).expect("spec");
        let (out, _) = run_local(&spec, &dir.path().join(name));
        assert_eq!(out.status.code(), Some(0), "{name}:\n{}", show(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let sweep_dir = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("dir:"))
            .map(|d| PathBuf::from(d.trim()))
            .unwrap_or_else(|| panic!("{name}: no dir line:\n{stdout}"));
        rankings.push(ranking_csv(&sweep_dir));
    }
    let (builtin, rules) = (&rankings[0], &rankings[1]);
    assert_eq!(builtin.len(), 10, "4 x 3 windows with fast < slow");
    assert_eq!(rules.len(), builtin.len());
    for (b, r) in builtin.iter().zip(rules) {
        assert_eq!(
            (&b["fast"], &b["slow"]),
            (&r["fast"], &r["slow"]),
            "the same order"
        );
        for metric in backtest::METRICS.iter().map(|m| m.name) {
            if let (Some(x), Some(y)) = (b.get(metric), r.get(metric)) {
                assert_eq!(x, y, "{metric} of fast={} slow={}", b["fast"], b["slow"]);
            }
        }
    }
}
