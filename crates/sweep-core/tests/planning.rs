//! Planning sweeps into temporary shared filesystems over the real data in
//! `$SLURM_SWEEP_DATA` (default `<workspace>/../shared/data`): manifest contents, identity
//! of the sweep directory, results left alone, sampling, chunking, and one test per kind of
//! bad spec (each error names the spec file, the field and, where it has one, the line).

use std::path::{Path, PathBuf};

use backtest::ParamValue;
use sweep_core::manifest::{read_range, read_task, ManifestEntry, Reached};
use sweep_core::plan::{load_plan, plan_sweep, PlanError, PlanOptions};

fn data_root() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn sharedfs(&self) -> PathBuf {
        self.dir.path().join("sharedfs")
    }

    /// Writes `body` after a `[data]` table for `symbols` of the qstrader examples.
    fn spec(&self, file: &str, head: &str, symbols: &str, body: &str) -> PathBuf {
        let data = data_root().join("qstrader_examples");
        let text = format!(
            "{head}\n[data]\ndir = \"{}\"\nsymbols = {symbols}\n\n{body}",
            data.display()
        );
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).expect("write spec");
        path
    }

    fn options(&self) -> PlanOptions {
        PlanOptions {
            sharedfs: Some(self.sharedfs()),
            check_data: false,
            ..PlanOptions::default()
        }
    }

    fn sweep_dirs(&self) -> Vec<String> {
        match std::fs::read_dir(self.sharedfs().join("sweeps")) {
            Ok(rd) => rd
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

const MA_HEAD: &str = "name = \"ma\"\nstrategy = \"ma_cross\"\nconstraints = [\"fast < slow\"]\n";
const MA_PARAMS: &str = "[params]\nfast = { from = 2, to = 101, step = 1 }\nslow = { from = 2, to = 101, step = 1 }\n\n[slurm]\ncombos_per_task = 1000\nthrottle = 4\n";

fn int(p: &ManifestEntry, k: &str) -> i64 {
    p.params[k].as_i64().expect("int param")
}

#[test]
fn ma_cross_grid_with_constraint_has_4950_combos_in_order() {
    let fx = Fixture::new();
    let spec = fx.spec("ma.toml", MA_HEAD, "[\"SPY\"]", MA_PARAMS);
    let planned = plan_sweep(&spec, &fx.options()).expect("plan");
    // 100 values each, fast < slow: C(100, 2) = 100 * 99 / 2 = 4950.
    assert_eq!(planned.plan.combos, 4950);
    assert_eq!(planned.summary.grid_combos, 10_000);
    assert_eq!(planned.plan.combos_per_task, 1000);
    assert_eq!(planned.plan.tasks, 5);
    assert_eq!(planned.plan.array_spec(0), "0-4%4");
    let all = read_range(&planned.dir.manifest(), 0..4950).expect("manifest");
    // The first combination: fast = 2, slow = 3; slow varies fastest.
    assert_eq!((int(&all[0], "fast"), int(&all[0], "slow")), (2, 3));
    assert_eq!((int(&all[1], "fast"), int(&all[1], "slow")), (2, 4));
    // fast = 2 pairs with slow 3..=101 (99 combos), so combo 99 is fast = 3, slow = 4.
    assert_eq!((int(&all[99], "fast"), int(&all[99], "slow")), (3, 4));
    assert_eq!(
        (int(&all[4949], "fast"), int(&all[4949], "slow")),
        (100, 101)
    );
    // Defaults of parameters the grid does not vary are written out.
    assert_eq!(all[0].params["kind"], ParamValue::Str("sma".into()));
    assert_eq!(all[0].params["long_only"], ParamValue::Bool(true));
    // Exactly 4950 lines.
    let text = std::fs::read_to_string(planned.dir.manifest()).expect("read");
    assert_eq!(text.lines().count(), 4950);
    assert!(planned.dir.logs().is_dir() && planned.dir.results().is_dir());
    let shown = planned.summary.to_string();
    assert!(
        shown.contains("4950 combinations (of a grid of 10000) in 5 tasks"),
        "{shown}"
    );
    assert!(shown.contains("--array=0-4%4"), "{shown}");
}

#[test]
fn planning_twice_reuses_the_directory_and_keeps_results() {
    let fx = Fixture::new();
    let spec = fx.spec("ma.toml", MA_HEAD, "[\"SPY\"]", MA_PARAMS);
    let first = plan_sweep(&spec, &fx.options()).expect("plan");
    let result = first.dir.result_file(0, "node02");
    std::fs::write(&result, b"{\"partial\": true}").expect("fake result");
    let manifest_before = std::fs::metadata(first.dir.manifest())
        .expect("meta")
        .modified()
        .expect("mtime");

    // Changing only [slurm] keeps the identity.
    let spec2 = fx.spec(
        "ma.toml",
        MA_HEAD,
        "[\"SPY\"]",
        &MA_PARAMS.replace("throttle = 4", "throttle = 2\ntime = \"00:30:00\""),
    );
    let second = plan_sweep(&spec2, &fx.options()).expect("plan again");
    assert_eq!(second.dir, first.dir);
    assert_eq!(second.plan.hash, first.plan.hash);
    assert_eq!(second.plan.created, first.plan.created);
    assert_eq!(second.plan.throttle, Some(2));
    assert!(second.summary.reused);
    assert_eq!(second.summary.existing_results, 1);
    assert_eq!(
        std::fs::read(&result).expect("result kept"),
        b"{\"partial\": true}"
    );
    let manifest_after = std::fs::metadata(first.dir.manifest())
        .expect("meta")
        .modified()
        .expect("mtime");
    assert_eq!(manifest_before, manifest_after, "manifest rewritten");
    assert_eq!(fx.sweep_dirs().len(), 1);

    // With results present, a different chunking request keeps the old one.
    let mut opts = fx.options();
    opts.combos_per_task = Some(10);
    let third = plan_sweep(&spec2, &opts).expect("plan with other chunking");
    assert_eq!(third.plan.combos_per_task, 1000);
    assert!(third
        .summary
        .notes
        .iter()
        .any(|n| n.contains("kept combos_per_task")));

    // An override changes the identity.
    let mut opts = fx.options();
    opts.overrides = vec!["fast=5,10".into()];
    let other = plan_sweep(&spec2, &opts).expect("override");
    assert_ne!(other.dir, first.dir);
    assert_eq!(other.plan.combos, 96 + 91); // slow in 6..=101 and 11..=101
    assert_eq!(fx.sweep_dirs().len(), 2);

    let (plan, spec) = load_plan(first.dir.root()).expect("load_plan");
    assert_eq!(plan.hash, first.plan.hash);
    assert_eq!(spec.strategy, "ma_cross");
    assert_eq!(spec.slurm.throttle, Some(2));
    assert_eq!(spec.params[0].axis.expand().expect("values").len(), 100);
}

#[test]
fn sampling_is_deterministic_and_keeps_grid_order() {
    let fx = Fixture::new();
    let body = |seed: u64| format!("{MA_PARAMS}\n[sample]\nn = 50\nseed = {seed}\n");
    let run = |seed: u64, name: &str| {
        let spec = fx.spec(name, MA_HEAD, "[\"SPY\"]", &body(seed));
        let p = plan_sweep(&spec, &fx.options()).expect("plan");
        assert_eq!(p.plan.combos, 50);
        read_range(&p.dir.manifest(), 0..50).expect("manifest")
    };
    let a = run(7, "a.toml");
    let b = run(7, "b.toml");
    let c = run(8, "c.toml");
    let pairs = |m: &[ManifestEntry]| {
        m.iter()
            .map(|e| (int(e, "fast"), int(e, "slow")))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&a), pairs(&b));
    assert_ne!(pairs(&a), pairs(&c));
    let pa = pairs(&a);
    assert!(pa.iter().all(|(f, s)| f < s), "constraint kept");
    assert!(
        pa.windows(2).all(|w| w[0] < w[1]),
        "grid order, no repeats: {pa:?}"
    );
}

#[test]
fn chunking_splits_arrays_at_max_array_size() {
    let fx = Fixture::new();
    let spec = fx.spec(
        "ma.toml",
        MA_HEAD,
        "[\"SPY\"]",
        &MA_PARAMS.replace("combos_per_task = 1000", "combos_per_task = 100"),
    );
    let mut opts = fx.options();
    opts.cluster_max_array_size = Some(20);
    let p = plan_sweep(&spec, &opts).expect("plan");
    assert_eq!(p.plan.tasks, 50); // ceil(4950 / 100)
    let counts: Vec<u64> = p.plan.arrays.iter().map(|a| a.count).collect();
    assert_eq!(counts, vec![20, 20, 10]);
    assert_eq!(p.plan.task_range(49), 4900..4950);

    // Too many tasks for 10 arrays of 20: combos per task grows to ceil(4950 / 200) = 25.
    let spec = fx.spec(
        "ma1.toml",
        MA_HEAD,
        "[\"SPY\"]",
        &MA_PARAMS.replace("combos_per_task = 1000", "combos_per_task = 1"),
    );
    let p = plan_sweep(&spec, &opts).expect("plan");
    assert_eq!(p.plan.combos_per_task, 25);
    assert_eq!(p.plan.tasks, 198);
}

#[test]
fn zip_groups_vary_together() {
    let fx = Fixture::new();
    let head = "name = \"z\"\nstrategy = \"ma_cross\"\nzip = [[\"fast\", \"slow\"]]\n";
    let body = "[params]\nkind = [\"sma\", \"ema\"]\nfast = [5, 10, 20]\nslow = [50, 100, 200]\n";
    let spec = fx.spec("z.toml", head, "[\"SPY\"]", body);
    let p = plan_sweep(&spec, &fx.options()).expect("plan");
    assert_eq!(p.plan.combos, 6);
    let m = read_range(&p.dir.manifest(), 0..6).expect("manifest");
    let got: Vec<String> = m
        .iter()
        .map(|e| format!("{}:{}/{}", e.params["kind"], int(e, "fast"), int(e, "slow")))
        .collect();
    assert_eq!(
        got,
        [
            "sma:5/50",
            "sma:10/100",
            "sma:20/200",
            "ema:5/50",
            "ema:10/100",
            "ema:20/200"
        ]
    );
}

/// Plans `body` and returns the error text; checks nothing was written.
fn plan_error(fx: &Fixture, head: &str, symbols: &str, body: &str) -> (PlanError, String) {
    let spec = fx.spec("bad.toml", head, symbols, body);
    let err = plan_sweep(&spec, &fx.options()).expect_err("should fail");
    assert!(
        fx.sweep_dirs().is_empty(),
        "nothing written: {:?}",
        fx.sweep_dirs()
    );
    let msg = err.to_string();
    assert!(msg.contains("bad.toml"), "names the spec file: {msg}");
    (err, msg)
}

#[test]
fn bad_specs_are_clear_errors() {
    let fx = Fixture::new();
    let (e, msg) = plan_error(
        &fx,
        "name = \"x\"\nstrategy = \"ma_cros\"\n",
        "[\"SPY\"]",
        "",
    );
    assert!(matches!(e, PlanError::UnknownStrategy { .. }));
    assert!(
        msg.contains("bad.toml:2: `strategy`") && msg.contains("did you mean `ma_cross`"),
        "{msg}"
    );
    assert!(msg.contains("momentum_taa"), "lists valid ones: {msg}");

    // Lines: 1 name, 2 strategy, 3 blank, 4 [data], 5 dir, 6 symbols, 7 blank, 8 [params], 9..
    let head = "name = \"x\"\nstrategy = \"ma_cross\"\n";
    let (e, msg) = plan_error(&fx, head, "[\"SPY\"]", "[params]\nfsat = [1, 2]\n");
    assert!(matches!(e, PlanError::Param { .. }));
    assert!(
        msg.contains("bad.toml:9: `params.fsat`") && msg.contains("did you mean `fast`"),
        "{msg}"
    );
    assert!(msg.contains("fast, slow, kind, long_only"), "{msg}");

    let (_, msg) = plan_error(
        &fx,
        head,
        "[\"SPY\"]",
        "[params]\nfast = [1, 2]\nslow = [10, 0]\n",
    );
    assert!(
        msg.contains("bad.toml:10: `params.slow`") && msg.contains("= 0 is out of range"),
        "{msg}"
    );

    let (_, msg) = plan_error(&fx, head, "[\"SPY\"]", "[params]\nfast = [1.5]\n");
    assert!(
        msg.contains("`params.fast`") && msg.contains("expected int, got float `1.5`"),
        "{msg}"
    );

    let (_, msg) = plan_error(
        &fx,
        head,
        "[\"SPY\"]",
        "[params]\nkind = [\"sma\", \"wma\"]\n",
    );
    assert!(
        msg.contains("`params.kind`") && msg.contains("wma"),
        "{msg}"
    );

    let (e, msg) = plan_error(&fx, head, "[\"SPY\"]", "[params]\nfast = []\n");
    assert!(matches!(e, PlanError::EmptyGrid { .. }), "{msg}");
    assert!(
        msg.contains("bad.toml:9: `params.fast` has no values"),
        "{msg}"
    );

    let head_c =
        "name = \"x\"\nstrategy = \"ma_cross\"\nconstraints = [\"fast > slow\", \"fast < 3\"]\n";
    let (e, msg) = plan_error(
        &fx,
        head_c,
        "[\"SPY\"]",
        "[params]\nfast = [1, 2, 5]\nslow = [4, 10]\n",
    );
    assert!(matches!(e, PlanError::NothingLeft { .. }), "{msg}");
    // fast > slow keeps (5, 4) only; fast < 3 keeps 1 and 2 with either slow: 4.
    assert!(
        msg.contains("`fast > slow` alone keeps 1") && msg.contains("`fast < 3` alone keeps 4"),
        "{msg}"
    );
    assert!(msg.contains("bad.toml:3"), "{msg}");

    let head_u = "name = \"x\"\nstrategy = \"ma_cross\"\nconstraints = [\"fast < slwo\"]\n";
    let (e, msg) = plan_error(
        &fx,
        head_u,
        "[\"SPY\"]",
        "[params]\nfast = [1, 2]\nslow = [4, 10]\n",
    );
    assert!(matches!(e, PlanError::Constraint { .. }));
    assert!(
        msg.ends_with(
            "bad.toml:3: constraint `fast < slwo`: unknown parameter `slwo` (did you mean \
             `slow`?); valid parameters: fast, slow, kind, long_only\nfast < slwo\n       ^^^^"
        ),
        "{msg}"
    );

    let (e, msg) = plan_error(
        &fx,
        head,
        "[\"SPY\", \"NOPE\"]",
        "[params]\nfast = [1, 2]\n",
    );
    assert!(matches!(e, PlanError::MissingData { .. }), "{msg}");
    assert!(
        msg.contains("NOPE.csv does not exist") && msg.contains("bad.toml:4: `data.symbols`"),
        "{msg}"
    );

    let (e, msg) = plan_error(&fx, head, "[\"SPY\"]", "[params]\nfast = [1, 2\n");
    assert!(matches!(e, PlanError::Spec(_)));
    assert!(msg.contains("line 9, column"), "{msg}");

    let head_z = "name = \"x\"\nstrategy = \"ma_cross\"\nzip = [[\"fast\", \"slow\"]]\n";
    let (e, msg) = plan_error(
        &fx,
        head_z,
        "[\"SPY\"]",
        "[params]\nfast = [1, 2]\nslow = [4, 10, 20]\n",
    );
    assert!(matches!(e, PlanError::Zip { .. }));
    assert!(
        msg.contains("bad.toml:3: `zip`") && msg.contains("`fast` has 2, `slow` has 3"),
        "{msg}"
    );

    let mut opts = fx.options();
    opts.overrides = vec!["fast=".into()];
    let spec = fx.spec("bad.toml", head, "[\"SPY\"]", "");
    let err = plan_sweep(&spec, &opts).expect_err("bad override");
    assert!(matches!(err, PlanError::Override(_)), "{err}");

    // A combination the strategy rejects (weights summing over 1) names the combination.
    let head_w = "name = \"x\"\nstrategy = \"fixed_weights\"\n";
    let (e, msg) = plan_error(
        &fx,
        head_w,
        "[\"SPY\", \"AGG\"]",
        "[params]\nw_SPY = [0.6, 0.7]\nw_AGG = 0.4\n",
    );
    assert!(matches!(e, PlanError::Combo { index: 1, .. }), "{msg}");
    assert!(msg.contains("w_SPY=0.7"), "{msg}");
}

#[test]
fn data_dir_expands_environment_and_is_relative_to_the_spec() {
    let fx = Fixture::new();
    let sub = fx.dir.path().join("specs");
    std::fs::create_dir(&sub).expect("mkdir");
    let text = format!(
        "name = \"e\"\nstrategy = \"buy_and_hold\"\n[data]\ndir = \"${{SLURM_SWEEP_TEST_NOT_SET:-{}}}/qstrader_examples\"\nsymbols = [\"SPY\"]\n",
        data_root().display()
    );
    let path = sub.join("e.toml");
    std::fs::write(&path, text).expect("write");
    let mut opts = fx.options();
    opts.check_data = true;
    let p = plan_sweep(&path, &opts).expect("plan");
    assert_eq!(p.plan.combos, 1);
    assert!(p.spec.data.as_ref().expect("data").dir.is_absolute());
    assert_eq!(
        p.plan.data[0].sha256,
        "82be3fad477b11107818cd24e56791eb03e3669b60002f5acc99f28ad2d8e735"
    );
}

#[test]
fn default_chunking_follows_the_target_time() {
    let fx = Fixture::new();
    let body = MA_PARAMS.replace("combos_per_task = 1000", "target_task_seconds = 0.05");
    let spec = fx.spec("ma.toml", MA_HEAD, "[\"SPY\"]", &body);
    let p = plan_sweep(&spec, &fx.options()).expect("plan");
    // 0.05 s / 50 us = 1000 combinations per task.
    assert_eq!(p.plan.combos_per_task, 1000);
    // No target: 60 s / 50 us = 1.2 million, capped at 10,000.
    let body = MA_PARAMS.replace("combos_per_task = 1000\n", "");
    let spec = fx.spec("ma2.toml", MA_HEAD, "[\"SPY\"]", &body);
    let p = plan_sweep(&spec, &fx.options()).expect("plan");
    assert_eq!((p.plan.combos_per_task, p.plan.tasks), (10_000, 1));
}

/// The example specs of `sweeps/` plan (with the data loaded) to the counts their comments
/// state. `ewmac` needs its strategy: until it is registered the error must say so.
#[test]
fn example_specs_plan() {
    let sweeps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sweeps");
    let fx = Fixture::new();
    let mut opts = fx.options();
    opts.check_data = true;
    for (file, combos) in [
        ("sixty_forty.toml", 66u64), // pairs of tenths with i + j <= 10: 11 * 12 / 2
        ("momentum_taa.toml", 45),   // 5 lookbacks x 9 top_n
        ("ma_cross.toml", 4950),     // C(100, 2)
        ("ewmac.toml", 6),           // 6 zipped span pairs
        ("wf_momentum_sectors.toml", 63), // 7 lookbacks x 9 top_n
        ("wf_ma_cross_spy.toml", 998), // 2 x fast < slow pairs
    ] {
        match plan_sweep(&sweeps.join(file), &opts) {
            Ok(p) => assert_eq!(p.plan.combos, combos, "{file}"),
            Err(PlanError::UnknownStrategy { name, .. }) if name == "ewmac" => {
                assert!(backtest::registry::find("ewmac").is_none());
            }
            Err(e) => panic!("{file}: {e}"),
        }
    }
}

/// The error of planning `[params] fast = [1, 2], slow = [4, 10]` under `constraint`.
fn constraint_error(fx: &Fixture, constraint: &str) -> String {
    let head = format!(
        "name = \"x\"\nstrategy = \"ma_cross\"\nconstraints = [{}]\n",
        toml_string(constraint)
    );
    let (e, msg) = plan_error(
        fx,
        &head,
        "[\"SPY\"]",
        "[params]\nfast = [1, 2]\nslow = [4, 10]\n",
    );
    assert!(matches!(e, PlanError::Constraint { .. }), "{msg}");
    msg
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn constraint_errors_point_at_the_column() {
    let fx = Fixture::new();
    let cases = [
        (
            "fast < slow and",
            "the expression ends too early\nfast < slow and\n               ^",
        ),
        (
            "fast = slow",
            "`=` is not a comparison; use `==`\nfast = slow\n     ^",
        ),
        (
            "sma(close, fast) < slow",
            "`sma` works on price series and belongs in [rules], not in a constraint over \
             parameters\nsma(close, fast) < slow\n^^^",
        ),
        (
            "fast < lag(slow, 1)",
            "`lag` works on price series and belongs in [rules], not in a constraint over \
             parameters\nfast < lag(slow, 1)\n       ^^^",
        ),
        (
            "absx(fast - slow) > 2",
            "unknown function `absx` (did you mean `abs`?); functions here: abs(x), \
             min(a, b), max(a, b), sign(x), clip(x, lo, hi), log(x), if(c, a, b)\n\
             absx(fast - slow) > 2\n^^^^",
        ),
        (
            "min(fast) < slow",
            "`min` takes 2 arguments (a, b), got 1\nmin(fast) < slow\n^^^^^^^^^",
        ),
        (
            "if(fast < slow, 1) == 1",
            "`if` takes 3 arguments (c, a, b), got 2\nif(fast < slow, 1) == 1\n^^^^^^^^^^^^^^^^^^",
        ),
        // Found when the grid is evaluated: the part at fault is shown.
        (
            "fast < slow and kind",
            "`and` needs a bool, got string 'sma'\nfast < slow and kind\n                ^^^^",
        ),
        (
            "abs(kind) < 3",
            "`abs` needs a number, got string 'sma'\nabs(kind) < 3\n    ^^^^",
        ),
    ];
    for (constraint, expected) in cases {
        let msg = constraint_error(&fx, constraint);
        let want = format!("bad.toml:3: constraint `{constraint}`: {expected}");
        assert!(msg.ends_with(&want), "{msg}\n-- expected --\n{want}");
    }
}

#[test]
fn constraints_use_scalar_functions() {
    let fx = Fixture::new();
    let count = |constraint: &str| {
        let head = format!(
            "name = \"x\"\nstrategy = \"ma_cross\"\nconstraints = [{}]\n",
            toml_string(constraint)
        );
        let spec = fx.spec(
            "f.toml",
            &head,
            "[\"SPY\"]",
            "[params]\nfast = [1, 2, 3]\nslow = [4, 5, 6]\n",
        );
        let mut spec = sweep_core::spec::Spec::load(&spec).expect("spec");
        sweep_core::planner::SweepGrid::compile(&mut spec)
            .expect("compile")
            .filtered_count()
            .expect("count")
    };
    assert_eq!(count("abs(fast - slow) >= 3"), 6); // (1,4) (1,5) (1,6) (2,5) (2,6) (3,6)
                                                   // fast 1 or 2 with slow 5 or 6; and (3, 4).
    assert_eq!(count("max(fast, 2) + min(slow, 5) == 7"), 5);
    assert_eq!(count("sign(slow - 2 * fast) == 0"), 2); // (2, 4), (3, 6)
    assert_eq!(count("sign(slow - 2 * fast) == -1"), 2); // (3, 4), (3, 5)
    assert_eq!(count("clip(slow, 5, 5) == 5 and fast == 1"), 3);
    assert_eq!(count("log(slow) > log(5)"), 3);
    assert_eq!(count("if(fast == 1, slow == 4, slow == 6)"), 3);
}

/// A command sweep: the program, workdir and inputs are checked on the planning machine
/// with the spec's line; inputs and `[data]` are hashed into the identity (the data is not
/// loaded: a file that is no price file plans); the chunking assumes seconds per run.
#[test]
fn command_sweeps_are_checked_and_hashed_at_plan_time() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let dir = f.dir.path();
    let program = dir.join("run.sh");
    std::fs::write(&program, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(dir.join("model.txt"), "v1").expect("write");
    std::fs::create_dir(dir.join("data")).expect("mkdir");
    std::fs::write(dir.join("data/X.csv"), "not prices at all").expect("write");
    let spec = |argv0: &str, workdir: &str, input: &str, slurm: &str| -> PathBuf {
        let path = dir.join("cmd.toml");
        std::fs::write(
            &path,
            format!(
                r#"name = "cmd"
strategy = "command"

[data]
dir = "data"
symbols = ["X"]

[command]
argv = ["{argv0}", "{{w}}", "{{result}}"]
workdir = "{workdir}"
output = "equity_csv"
inputs = ["{input}"]

[command.params]
w = {{ type = "float", default = 0.5, min = 0, max = 1 }}

[params]
w = {{ from = 0.0, to = 1.0, step = 0.1 }}
{slurm}"#
            ),
        )
        .expect("write spec");
        path
    };
    let planned = plan_sweep(&spec("./run.sh", ".", "model.txt", ""), &f.options()).expect("plans");
    assert_eq!(planned.plan.combos, 11);
    assert_eq!(
        planned.plan.combos_per_task, 6,
        "60 s at an assumed 10 s per run"
    );
    assert_eq!(planned.plan.data.len(), 1, "[data] hashed");
    assert_eq!(planned.plan.inputs.len(), 1);
    assert_eq!(planned.plan.inputs[0].input, "model.txt");
    let notes = planned.summary.notes.join("\n");
    assert!(notes.contains("assumes 10 s per run"), "{notes}");
    assert!(notes.contains("no `timeout`"), "{notes}");
    let hash = planned.plan.hash.clone();
    std::fs::write(dir.join("model.txt"), "v2").expect("edit");
    let again = plan_sweep(&spec("./run.sh", ".", "model.txt", ""), &f.options()).expect("plans");
    assert_ne!(again.plan.hash, hash, "a new input is a new sweep");

    for (argv0, workdir, input, want) in [
        (
            "./nope.sh",
            ".",
            "model.txt",
            "cmd.toml:9: `command.argv`: the program /",
        ),
        (
            "nope-not-on-path",
            ".",
            "model.txt",
            "cmd.toml:9: `command.argv`: the program `nope-not-on-path` is not on PATH",
        ),
        (
            "./run.sh",
            "missing",
            "model.txt",
            "cmd.toml:10: `command.workdir`: the working directory ",
        ),
        (
            "./run.sh",
            ".",
            "gone.txt",
            "cmd.toml:12: `command.inputs`: input `gone.txt`: ",
        ),
    ] {
        let err = plan_sweep(&spec(argv0, workdir, input, ""), &f.options())
            .expect_err(want)
            .to_string();
        assert!(err.contains(want), "{want}:\n{err}");
    }
    // Under [slurm.container] the program may be in the image only.
    let planned = plan_sweep(
        &spec(
            "nope-not-on-path",
            ".",
            "model.txt",
            "\n[slurm]\ntime = \"00:10:00\"\n\n[slurm.container]\nruntime = \"podman\"\nimage = \"localhost/bt:1\"\n",
        ),
        &f.options(),
    )
    .expect("plans");
    let notes = planned.summary.notes.join("\n");
    assert!(
        notes.contains("the image `localhost/bt:1`, which must have it"),
        "{notes}"
    );
}

/// Each task's first combination, read by seeking with the plan's index.
fn task_firsts(planned: &sweep_core::plan::PlannedSweep) -> Vec<u64> {
    let plan = &planned.plan;
    (0..plan.tasks)
        .map(|t| {
            let range = plan.task_range(t);
            let (entries, how) = read_task(
                &planned.dir.manifest(),
                plan.manifest_index.as_ref(),
                t,
                range.clone(),
            )
            .expect("read task");
            assert_eq!(how, Reached::Index);
            assert_eq!(
                entries,
                read_range(&planned.dir.manifest(), range).expect("scan")
            );
            entries[0].i
        })
        .collect()
}

#[test]
fn the_manifest_index_gives_each_task_its_first_line_and_follows_the_chunking() {
    let fx = Fixture::new();
    let spec = fx.spec("ma.toml", MA_HEAD, "[\"SPY\"]", MA_PARAMS);
    let first = plan_sweep(&spec, &fx.options()).expect("plan");
    let idx = first.dir.root().join("manifest.idx");
    let record = first.plan.manifest_index.clone().expect("an index record");
    let bytes = std::fs::read(&idx).expect("manifest.idx");
    assert_eq!(record.file, "manifest.idx");
    assert_eq!(record.bytes, 6 * 8, "5 tasks + the manifest length");
    assert_eq!(bytes.len() as u64, record.bytes);
    let manifest_len = std::fs::metadata(first.dir.manifest()).expect("meta").len();
    assert_eq!(record.manifest_bytes, manifest_len);
    assert_eq!(bytes[40..], manifest_len.to_le_bytes());
    let plan_json = std::fs::read_to_string(first.dir.plan()).expect("plan.json");
    assert!(plan_json.contains(&record.sha256), "{plan_json}");
    assert_eq!(task_firsts(&first), [0, 1000, 2000, 3000, 4000]);

    // Planned again with other chunking (no results yet): the index follows it.
    let mut opts = fx.options();
    opts.combos_per_task = Some(700);
    let second = plan_sweep(&spec, &opts).expect("plan again");
    assert!(second.summary.reused);
    assert_eq!(second.plan.tasks, 8);
    assert_eq!(
        task_firsts(&second),
        [0, 700, 1400, 2100, 2800, 3500, 4200, 4900]
    );
    let (plan, _) = load_plan(second.dir.root()).expect("load");
    assert_eq!(plan.manifest_index, second.plan.manifest_index);

    // A plan of before the index (no record, no file) gets one when planned again.
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(second.dir.plan()).expect("read"))
            .expect("json");
    old.as_object_mut()
        .expect("object")
        .remove("manifest_index");
    std::fs::write(second.dir.plan(), old.to_string()).expect("write");
    std::fs::remove_file(&idx).expect("rm");
    let (plan, _) = load_plan(second.dir.root()).expect("an old plan loads");
    assert_eq!(plan.manifest_index, None);
    let third = plan_sweep(&spec, &opts).expect("plan an old sweep again");
    assert_eq!(third.plan.manifest_index, second.plan.manifest_index);
    assert_eq!(task_firsts(&third).len(), 8);
}

#[test]
fn the_index_of_a_sampled_grid_points_at_the_renumbered_lines() {
    let fx = Fixture::new();
    let body = MA_PARAMS.replace("[slurm]", "[sample]\nn = 333\nseed = 7\n\n[slurm]");
    let spec = fx.spec("ma.toml", MA_HEAD, "[\"SPY\"]", &body);
    let mut opts = fx.options();
    opts.combos_per_task = Some(100);
    let planned = plan_sweep(&spec, &opts).expect("plan");
    assert_eq!(planned.plan.combos, 333);
    assert_eq!(task_firsts(&planned), [0, 100, 200, 300]);
}

/// `[walk_forward]`: the windows are laid on the data even with `check_data` off, written
/// into plan.json (read back equal), printed by the summary, and change the plan hash; a
/// layout that does not fit names the field and the line.
#[test]
fn walk_forward_windows_are_planned_printed_and_checked() {
    let fx = Fixture::new();
    let body = "[backtest]\nstart = 2003-01-02\nburn_in = 2005-01-03\nend = 2011-01-07\n\n\
                [walk_forward]\ntrain = \"2y\"\ntest = \"1y\"\n\n\
                [params]\nfast = [5, 20]\nslow = [30, 100]\n";
    let spec = fx.spec("wf.toml", MA_HEAD, "[\"SPY\"]", body);
    let planned = plan_sweep(&spec, &fx.options()).expect("plan");
    let wf = planned.plan.walk_forward.as_ref().expect("windows");
    assert_eq!(wf.windows.len(), 4);
    let d = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
    assert_eq!(wf.windows[0].train, [d("2005-01-03"), d("2007-01-02")]);
    assert_eq!(wf.windows[0].test, [d("2007-01-03"), d("2008-01-02")]);
    assert_eq!(wf.windows[3].test[1], d("2010-12-31"));
    let (plan, _) = load_plan(planned.dir.root()).expect("load");
    assert_eq!(plan.walk_forward.as_ref(), Some(wf));
    let shown = planned.summary.to_string();
    assert!(
        shown.contains("walk-forward: 4 windows, rolling, train 2y, test 1y, step 1y, gap 0d"),
        "{shown}"
    );
    assert!(
        shown.contains("window 1: train 2005-01-03 .. 2007-01-02 (522 days), test 2007-01-03 .. 2008-01-02 (261 days)"),
        "{shown}"
    );
    // The same spec without windows is another sweep.
    let plain = fx.spec(
        "plain.toml",
        MA_HEAD,
        "[\"SPY\"]",
        &body.replace("[walk_forward]\ntrain = \"2y\"\ntest = \"1y\"\n", ""),
    );
    let other = plan_sweep(&plain, &fx.options()).expect("plan");
    assert_ne!(other.plan.hash, planned.plan.hash);
    assert!(other.plan.walk_forward.is_none());

    for (from, to, field) in [
        ("train = \"2y\"", "train = \"6y\"", "walk_forward.train"),
        (
            "test = \"1y\"",
            "test = \"1y\"\nstep = \"6m\"",
            "walk_forward.step",
        ),
    ] {
        let spec = fx.spec("bad.toml", MA_HEAD, "[\"SPY\"]", &body.replace(from, to));
        let e = plan_sweep(&spec, &fx.options())
            .expect_err(field)
            .to_string();
        assert!(e.contains("bad.toml:"), "{e}");
        assert!(e.contains(&format!("`{field}`: expected")), "{e}");
    }
}
