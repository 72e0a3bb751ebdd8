//! Helpers of slurm-sweep's end-to-end tests: whether to run at all (`SLURM_SWEEP_E2E=1`),
//! where the real binaries and the real data are, running a command while showing what it
//! printed, waiting for SLURM jobs, and reading what a sweep directory holds (jobs.jsonl,
//! result files, collect's CSV).
//!
//! The tests talk to whatever cluster `SLURM_CONF` names (the one of
//! `scripts/local-cluster.sh up`) and drive it with `scripts/local-cluster.sh` (node loss,
//! MaxArraySize), so the variables that script reads (`SLURM_SWEEP_CLUSTER_DIR`, ports) are
//! passed through unchanged.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sweep_core::result::ResultFile;

/// Printed (loudly) by every end-to-end test that does not run.
pub const SKIP_MESSAGE: &str = "SKIPPED (not run): SLURM end-to-end tests need SLURM_SWEEP_E2E=1 and a running cluster: scripts/local-cluster.sh up";

/// Whether the SLURM tests run: `SLURM_SWEEP_E2E=1`. When unset, prints [`SKIP_MESSAGE`]
/// and returns false. When set, the cluster must answer (`sinfo`): a silent cluster is a
/// failure, never a skip.
pub fn enabled(test: &str) -> bool {
    if std::env::var("SLURM_SWEEP_E2E").as_deref() != Ok("1") {
        let line = "=".repeat(SKIP_MESSAGE.len());
        // Written to the real stderr, past the test harness's output capture, so that
        // the skip shows in every `cargo test` run, not only with --nocapture.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{line}\n{test}: {SKIP_MESSAGE}\n{line}");
        return false;
    }
    let sinfo = Command::new("sinfo")
        .args(["-h", "-N", "-o", "%N %P %t"])
        .output();
    match sinfo {
        Ok(out) if out.status.success() => {
            println!(
                "{test}: SLURM_CONF={}; sinfo:\n{}",
                std::env::var("SLURM_CONF").unwrap_or_else(|_| "(unset)".into()),
                String::from_utf8_lossy(&out.stdout).trim_end()
            );
            true
        }
        Ok(out) => panic!(
            "SLURM_SWEEP_E2E=1 but `sinfo` does not answer (exit {:?}): {}\nstart the cluster: eval \"$(scripts/local-cluster.sh up)\"",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "SLURM_SWEEP_E2E=1 but `sinfo` cannot run ({e}); install SLURM and start the cluster: eval \"$(scripts/local-cluster.sh up)\""
        ),
    }
}

/// The workspace root (the parent of this package's directory).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The real data: `$SLURM_SWEEP_DATA`, else `<workspace root>/../shared/data`.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("SLURM_SWEEP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("..").join("shared").join("data"));
    let dir = std::fs::canonicalize(&dir)
        .unwrap_or_else(|e| panic!("data directory {} (SLURM_SWEEP_DATA): {e}", dir.display()));
    assert!(
        dir.join("qstrader_examples").join("XLK.csv").is_file(),
        "{} does not hold qstrader_examples/XLK.csv (set SLURM_SWEEP_DATA)",
        dir.display()
    );
    dir
}

/// Directory of the `sweep`, `bt-worker` and `collect` binaries under test:
/// `$SLURM_SWEEP_BIN_DIR`, else the cargo profile directory this test runs from
/// (`target/<profile>/deps/<test>` -> `target/<profile>`), where they are built first with
/// `cargo build -p sweep -p bt-worker -p collect` (a no-op when up to date) so that
/// `cargo test -p e2e` never tests stale binaries.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("SLURM_SWEEP_BIN_DIR") {
            let dir = PathBuf::from(dir);
            check_bins(&dir);
            return dir;
        }
        let exe = std::env::current_exe().expect("current_exe");
        let deps = exe.parent().expect("test executable has a directory");
        let profile_dir = if deps.file_name() == Some(OsStr::new("deps")) {
            deps.parent().expect("deps has a parent")
        } else {
            deps
        };
        build_bins(profile_dir);
        check_bins(profile_dir);
        profile_dir.to_path_buf()
    })
}

fn build_bins(profile_dir: &Path) {
    let (Some(profile), Some(target)) = (profile_dir.file_name(), profile_dir.parent()) else {
        return;
    };
    let profile = match profile.to_string_lossy().as_ref() {
        "debug" => "dev".to_string(),
        other => other.to_string(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let status = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "sweep",
            "-p",
            "bt-worker",
            "-p",
            "collect",
            "--bins",
        ])
        .arg("--profile")
        .arg(&profile)
        .env("CARGO_TARGET_DIR", target)
        .current_dir(repo_root())
        .status();
    match status {
        Ok(s) if s.success() => println!(
            "binaries under test: {} (cargo build --profile {profile}: {:.1} s)",
            profile_dir.display(),
            started.elapsed().as_secs_f64()
        ),
        Ok(s) => {
            let line = "!".repeat(78);
            println!(
                "{line}\nWARNING: cargo build of sweep, bt-worker and collect failed ({s}); testing the binaries already in {} (they may be stale)\n{line}",
                profile_dir.display()
            );
        }
        Err(e) => println!(
            "warning: cannot run cargo ({e}); testing the binaries already in {}",
            profile_dir.display()
        ),
    }
}

fn check_bins(dir: &Path) {
    for name in ["sweep", "bt-worker", "collect"] {
        assert!(
            dir.join(name).is_file(),
            "{} is missing; build the workspace (`cargo build --workspace`) or set SLURM_SWEEP_BIN_DIR",
            dir.join(name).display()
        );
    }
}

/// The path of binary `name` under test.
pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// `PATH` with the binaries under test first, so that jobs submitted with SLURM's default
/// `--export=ALL` find the same `bt-worker` and `collect`.
pub fn path_env() -> std::ffi::OsString {
    let mut dirs = vec![bin_dir().to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("PATH")
}

/// What a command did.
#[derive(Debug)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics, showing everything, unless the exit code is `want`.
    pub fn expect_code(&self, want: i32) -> &Output {
        assert_eq!(
            self.code,
            Some(want),
            "`{}` exited with {:?}, expected {want}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
}

fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,%+@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs `program` with `args` (PATH as [`path_env`]) and prints the command line and what
/// it printed, indented, as a person running it would see it.
pub fn run<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S]) -> Output {
    let out = run_quiet(program, args);
    println!("$ {}   # exit {:?}", out.command, out.code);
    for line in out.stdout.lines() {
        println!("  {line}");
    }
    for line in out.stderr.lines() {
        println!("  [stderr] {line}");
    }
    out
}

/// [`run`] without printing.
pub fn run_quiet<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S]) -> Output {
    let program = program.as_ref();
    let shown = Path::new(program)
        .file_name()
        .unwrap_or(program)
        .to_string_lossy()
        .into_owned();
    let command = std::iter::once(shown)
        .chain(
            args.iter()
                .map(|a| shell_word(&a.as_ref().to_string_lossy())),
        )
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(args)
        .env("PATH", path_env())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{command}`: {e}"));
    Output {
        command,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `sweep ARGS` (the binary under test).
pub fn sweep<S: AsRef<OsStr>>(args: &[S]) -> Output {
    run(bin("sweep"), args)
}

/// Runs `collect ARGS` (the binary under test).
pub fn collect<S: AsRef<OsStr>>(args: &[S]) -> Output {
    run(bin("collect"), args)
}

/// Runs `scripts/local-cluster.sh ARGS` with `extra_env` set and `remove_env` unset.
pub fn local_cluster(args: &[&str], extra_env: &[(&str, &str)], remove_env: &[&str]) -> Output {
    let script = repo_root().join("scripts").join("local-cluster.sh");
    let mut cmd = Command::new(&script);
    cmd.args(args);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    for k in remove_env {
        cmd.env_remove(k);
    }
    let command = format!("scripts/local-cluster.sh {}", args.join(" "));
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{command}`: {e}"));
    let out = Output {
        command,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    println!("$ {}   # exit {:?}", out.command, out.code);
    for line in out.stderr.lines().chain(out.stdout.lines()) {
        println!("  {line}");
    }
    out
}

/// A banner between scenarios.
pub fn banner(title: &str) {
    let line = "#".repeat(78);
    println!("\n{line}\n# {title}\n{line}");
}

/// Polls `check` every `every` until it returns `Some`, or panics after `timeout` naming
/// `what`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if started.elapsed() > timeout {
            let queue = run_quiet("squeue", &["-o", "%i %t %N %r"]);
            panic!(
                "timed out after {:.0} s waiting for {what}\nsqueue:\n{}",
                timeout.as_secs_f64(),
                queue.stdout
            );
        }
        std::thread::sleep(every);
    }
}

/// `squeue` lines (`jobid state node reason`) of these jobs (array tasks included) that are
/// still queued, running or completing.
pub fn queued(job_ids: &[u64]) -> Vec<String> {
    if job_ids.is_empty() {
        return Vec::new();
    }
    let ids: Vec<String> = job_ids.iter().map(u64::to_string).collect();
    let out = run_quiet(
        "squeue",
        &["-h", "-r", "-j", &ids.join(","), "-o", "%i %t %N %r"],
    );
    assert_eq!(out.code, Some(0), "squeue failed: {}", out.stderr);
    out.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Waits until none of `job_ids` is in the queue any more.
pub fn wait_jobs_gone(job_ids: &[u64], timeout: Duration) {
    let started = Instant::now();
    wait_for(
        &format!("jobs {job_ids:?} to leave the queue"),
        timeout,
        Duration::from_secs(1),
        || queued(job_ids).is_empty().then_some(()),
    );
    println!(
        "jobs {job_ids:?} left the queue after {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// `scontrol show job ID` (one record per array task for an array job).
pub fn scontrol_job(id: u64) -> String {
    let out = run_quiet("scontrol", &["show", "job", &id.to_string()]);
    assert_eq!(out.code, Some(0), "scontrol show job {id}: {}", out.stderr);
    out.stdout
}

/// Every value of `Key=value` in scontrol output (one per record).
pub fn scontrol_values(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

/// The lines of `<sweep>/jobs.jsonl` as JSON.
pub fn job_records(sweep_dir: &Path) -> Vec<serde_json::Value> {
    let path = sweep_dir.join("jobs.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Job ids of the records of `kind` (`array`, `resubmit`, `collect`) in jobs.jsonl.
pub fn job_ids(sweep_dir: &Path, kind: &str) -> Vec<u64> {
    job_records(sweep_dir)
        .iter()
        .filter(|r| r["kind"] == kind)
        .map(|r| r["job_id"].as_u64().expect("job_id is a number"))
        .collect()
}

/// Every job id in jobs.jsonl.
pub fn all_job_ids(sweep_dir: &Path) -> Vec<u64> {
    job_records(sweep_dir)
        .iter()
        .map(|r| r["job_id"].as_u64().expect("job_id is a number"))
        .collect()
}

/// The result files in `<sweep>/results/` (not the quarantine), by file name, parsed and
/// checked by [`ResultFile::read`] (v1 or v2; a v2 file's parameters from the manifest).
pub fn result_files(sweep_dir: &Path) -> Vec<(String, ResultFile)> {
    let dir = sweep_dir.join("results");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if !path.is_file() || !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let file = ResultFile::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push((name, file));
    }
    out.sort_by_key(|(_, f)| f.task);
    out
}

/// The one sweep directory under `<sharedfs>/sweeps/`.
pub fn only_sweep_dir(sharedfs: &Path) -> PathBuf {
    let sweeps = sharedfs.join("sweeps");
    let dirs: Vec<PathBuf> = std::fs::read_dir(&sweeps)
        .unwrap_or_else(|e| panic!("{}: {e}", sweeps.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "expected one sweep in {}: {dirs:?}",
        sweeps.display()
    );
    dirs.into_iter().next().expect("one")
}

/// A scratch directory for one scenario, kept after the test (its path is printed) so that
/// a failure can be inspected: `/tmp/slurm-sweep-e2e/<scenario>-XXXXXX`.
pub fn scratch(scenario: &str) -> PathBuf {
    let root = std::env::temp_dir().join("slurm-sweep-e2e");
    std::fs::create_dir_all(&root).expect("create scratch root");
    let dir = tempfile::Builder::new()
        .prefix(&format!("{scenario}-"))
        .tempdir_in(&root)
        .expect("scratch dir")
        .keep();
    println!("scratch directory: {}", dir.display());
    dir
}

/// A parsed `collect --format csv` table: header and rows (no quoted fields in these
/// sweeps: parameters are numbers).
#[derive(Debug, PartialEq)]
pub struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    pub fn parse(text: &str) -> Csv {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let split = |l: &str| l.split(',').map(str::to_string).collect::<Vec<_>>();
        let header = lines.next().map(split).unwrap_or_default();
        let rows = lines.map(split).collect();
        Csv { header, rows }
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Vec<String> {
        let k = self
            .header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column `{name}` in {:?}", self.header));
        self.rows.iter().map(|r| r[k].clone()).collect()
    }

    /// The combination indices of the rows (`#4` -> 4); panics when one repeats.
    pub fn combos(&self) -> BTreeSet<u64> {
        self.try_combos().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The combination indices of the rows, or why they are not a set of `#<number>`.
    pub fn try_combos(&self) -> Result<BTreeSet<u64>, String> {
        let list = self
            .column("combo")
            .iter()
            .map(|c| {
                c.trim_start_matches('#')
                    .parse()
                    .map_err(|_| format!("combo `{c}` is not #<number>"))
            })
            .collect::<Result<Vec<u64>, String>>()?;
        let set: BTreeSet<u64> = list.iter().copied().collect();
        if set.len() != list.len() {
            return Err(format!("a combination appears twice: {list:?}"));
        }
        Ok(set)
    }

    /// The table without the columns whose name contains `host`.
    pub fn without_host_columns(&self) -> Csv {
        let keep: Vec<usize> = (0..self.header.len())
            .filter(|&k| !self.header[k].contains("host"))
            .collect();
        let pick = |r: &Vec<String>| keep.iter().map(|&k| r[k].clone()).collect::<Vec<_>>();
        Csv {
            header: pick(&self.header),
            rows: self.rows.iter().map(pick).collect(),
        }
    }
}

/// `sweep status DIR --json`, parsed, with its exit code; also prints the text form.
pub fn status(sweep_dir: &Path) -> (Option<i32>, serde_json::Value) {
    sweep(&[OsStr::new("status"), sweep_dir.as_os_str()]);
    let out = run_quiet(
        bin("sweep"),
        &[
            OsStr::new("status"),
            sweep_dir.as_os_str(),
            OsStr::new("--json"),
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "`sweep status --json` printed no JSON ({e}):\n{}\n{}",
            out.stdout, out.stderr
        )
    });
    (out.code, json)
}

/// Each task that is not done in `sweep status --json` with its state, by task.
pub fn status_states(v: &serde_json::Value) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = v["not_done"]
        .as_array()
        .expect("not_done")
        .iter()
        .map(|t| {
            (
                t["task"].as_u64().expect("task"),
                t["state"].as_str().expect("state").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A spec for the sector SPDRs of qstrader_examples, with `params` and `slurm` lines.
pub fn sector_spec(name: &str, strategy: &str, params: &str, slurm: &str) -> String {
    let data = data_dir().join("qstrader_examples");
    format!(
        r#"# Written by slurm-sweep's end-to-end tests.
name = "{name}"
strategy = "{strategy}"

[data]
dir = "{data}"
symbols = ["XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY"]

[backtest]
start = "2015-01-02"
end = "2019-12-31"

[params]
{params}

[slurm]
partition = "mycluster"
time = "00:05:00"
worker = "{worker}"
{slurm}
"#,
        data = data.display(),
        worker = bin("bt-worker").display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_parses_and_finds_repeated_combos() {
        let csv = Csv::parse("rank,combo,host,sharpe\n1,#3,node02,0.5\n2,#1,node03,0.4\n");
        assert_eq!(csv.column("sharpe"), ["0.5", "0.4"]);
        assert_eq!(csv.combos(), BTreeSet::from([1, 3]));
        let plain = csv.without_host_columns();
        assert_eq!(plain.header, ["rank", "combo", "sharpe"]);
        assert_eq!(plain.rows[1], ["2", "#1", "0.4"]);
        let twice = Csv::parse("rank,combo\n1,#3\n2,#3\n");
        assert!(twice.try_combos().expect_err("#3 twice").contains("twice"));
        let bad = Csv::parse("rank,combo\n1,x\n");
        assert!(bad.try_combos().is_err());
    }

    #[test]
    fn scontrol_values_reads_every_record() {
        let text = "JobId=5 ArrayJobId=5 ArrayTaskId=0\n   EndTime=2026-01-01T00:00:03 Deadline=N/A\n\nJobId=6 ArrayTaskId=1\n   EndTime=2026-01-01T00:00:09\n";
        assert_eq!(
            scontrol_values(text, "EndTime"),
            ["2026-01-01T00:00:03", "2026-01-01T00:00:09"]
        );
        assert_eq!(scontrol_values(text, "ArrayTaskId"), ["0", "1"]);
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("--array=3%1"), "--array=3%1");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
