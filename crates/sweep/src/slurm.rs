//! The SLURM subprocess layer: `sbatch --parsable`, `squeue`, `scontrol show config`,
//! `scancel`. Commands run as plain subprocesses; what sbatch said is kept next to the job
//! (`logs/sbatch-<n>.out|.err`); errors carry the exit code and stderr. Parsers of SLURM's
//! output are pure functions, tested on output pasted from a real cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A SLURM job id (of an array: the array's job id), with the cluster sbatch named.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId {
    pub id: u64,
    pub cluster: Option<String>,
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)
    }
}

/// What went wrong talking to SLURM.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("cannot run `{program}` (is SLURM installed and on PATH?)")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed with {status}: {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("cannot parse the output of `{command}`: {message}: {output:?}")]
    Parse {
        command: String,
        message: String,
        output: String,
    },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Formats a command line for messages and `--dry-run`, quoting arguments that need it.
pub fn display_command(program: &str, args: &[String]) -> String {
    let mut out = program.to_string();
    for a in args {
        out.push(' ');
        let plain = !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._/:%@+=,-".contains(c));
        if plain {
            out.push_str(a);
        } else {
            out.push_str(&crate::render::shell_quote(a));
        }
    }
    out
}

fn run(program: &str, args: &[String]) -> Result<Output, SlurmError> {
    Command::new(program)
        .args(args)
        .output()
        .map_err(|source| SlurmError::Spawn {
            program: program.to_string(),
            source,
        })
}

fn check(program: &str, args: &[String], out: &Output) -> Result<(), SlurmError> {
    if out.status.success() {
        return Ok(());
    }
    Err(SlurmError::Failed {
        command: display_command(program, args),
        status: match out.status.code() {
            Some(c) => format!("exit code {c}"),
            None => "a signal".to_string(),
        },
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Parses `sbatch --parsable`'s output: `jobid` or `jobid;cluster`.
pub fn parse_parsable(stdout: &str) -> Option<JobId> {
    let line = stdout.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let (id, cluster) = match line.split_once(';') {
        Some((id, c)) => (id, Some(c.trim().to_string())),
        None => (line, None),
    };
    Some(JobId {
        id: id.trim().parse().ok()?,
        cluster,
    })
}

/// One `sbatch` call: the script, its extra options, and where to keep what sbatch said.
#[derive(Clone, Debug)]
pub struct SbatchRequest {
    pub script: PathBuf,
    /// Options placed before the script (`--array=...`, `--dependency=...`).
    pub options: Vec<String>,
    /// `--test-only`: SLURM checks the job and says when it would start; nothing is queued.
    pub test_only: bool,
    /// `--wait`: sbatch returns when the job ended.
    pub wait: bool,
    /// Directory for `sbatch-<n>.out|.err`, `<n>` = the first unused number.
    pub keep_output_in: Option<PathBuf>,
}

impl SbatchRequest {
    pub fn new(script: impl Into<PathBuf>) -> SbatchRequest {
        SbatchRequest {
            script: script.into(),
            options: Vec::new(),
            test_only: false,
            wait: false,
            keep_output_in: None,
        }
    }

    /// The arguments passed to `sbatch`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["--parsable".to_string()];
        if self.test_only {
            args.push("--test-only".into());
        }
        if self.wait {
            args.push("--wait".into());
        }
        args.extend(self.options.iter().cloned());
        args.push(self.script.to_string_lossy().into_owned());
        args
    }

    /// The command line, for `--dry-run`.
    pub fn command_line(&self) -> String {
        display_command("sbatch", &self.args())
    }
}

/// What one sbatch call returned.
#[derive(Clone, Debug)]
pub struct SbatchOutcome {
    /// `None` for `--test-only` (nothing was queued).
    pub job_id: Option<JobId>,
    pub stdout: String,
    pub stderr: String,
}

fn keep_output(dir: &Path, stdout: &[u8], stderr: &[u8]) -> Result<(), SlurmError> {
    let io = |path: PathBuf| move |source| SlurmError::Io { path, source };
    std::fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
    let mut n = 0;
    while dir.join(format!("sbatch-{n}.out")).exists() {
        n += 1;
    }
    let out = dir.join(format!("sbatch-{n}.out"));
    std::fs::write(&out, stdout).map_err(io(out.clone()))?;
    let err = dir.join(format!("sbatch-{n}.err"));
    std::fs::write(&err, stderr).map_err(io(err.clone()))?;
    Ok(())
}

/// Runs `sbatch --parsable ...`; keeps its stdout/stderr; returns the job id.
pub fn sbatch(req: &SbatchRequest) -> Result<SbatchOutcome, SlurmError> {
    let args = req.args();
    let out = run("sbatch", &args)?;
    if let Some(dir) = &req.keep_output_in {
        keep_output(dir, &out.stdout, &out.stderr)?;
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if req.wait && !out.status.success() {
        // With --wait, sbatch's exit code is the job's: the job id is still on stdout.
        if let Some(job_id) = parse_parsable(&stdout) {
            return Ok(SbatchOutcome {
                job_id: Some(job_id),
                stdout,
                stderr,
            });
        }
    }
    check("sbatch", &args, &out)?;
    if req.test_only {
        return Ok(SbatchOutcome {
            job_id: None,
            stdout,
            stderr,
        });
    }
    let job_id = parse_parsable(&stdout).ok_or_else(|| SlurmError::Parse {
        command: display_command("sbatch", &args),
        message: "expected `jobid` or `jobid;cluster`".into(),
        output: stdout.clone(),
    })?;
    Ok(SbatchOutcome {
        job_id: Some(job_id),
        stdout,
        stderr,
    })
}

/// The state of one queued job or array task, from `squeue`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueEntry {
    pub job_id: u64,
    /// The array index, for array tasks.
    pub array_index: Option<u64>,
    /// `PENDING`, `RUNNING`, `COMPLETING`, ...
    pub state: String,
    pub nodes: String,
    pub reason: String,
}

/// The `-o` format of [`squeue`].
pub const SQUEUE_FORMAT: &str = "%i|%T|%N|%r";

/// Expands an array index expression as squeue prints it: `7`, `[3-5,9%2]`.
fn expand_indices(expr: &str) -> Option<Vec<u64>> {
    let inner = expr.trim_start_matches('[').trim_end_matches(']');
    let inner = inner.split('%').next().unwrap_or(inner);
    let mut out = Vec::new();
    for part in inner.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Parses `squeue --noheader --array -o '%i|%T|%N|%r'`. Lines look like
/// `4242_7|RUNNING|node03|None`, `4242_[8-10%2]|PENDING||JobArrayTaskLimit` or
/// `4243|PENDING||Dependency`.
pub fn parse_squeue(text: &str) -> Result<Vec<QueueEntry>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        if fields.len() < 4 {
            return Err(format!(
                "line {}: expected 4 `|`-separated fields: {line:?}",
                n + 1
            ));
        }
        let bad = || format!("line {}: bad job id {:?}", n + 1, fields[0]);
        let (job, indices) = match fields[0].split_once('_') {
            Some((job, idx)) => (job, Some(expand_indices(idx).ok_or_else(bad)?)),
            None => (fields[0], None),
        };
        let job_id: u64 = job.parse().map_err(|_| bad())?;
        let entry = |array_index| QueueEntry {
            job_id,
            array_index,
            state: fields[1].to_string(),
            nodes: fields[2].to_string(),
            reason: fields[3].to_string(),
        };
        match indices {
            Some(list) => out.extend(list.into_iter().map(|i| entry(Some(i)))),
            None => out.push(entry(None)),
        }
    }
    Ok(out)
}

/// Asks `squeue` about `jobs` (one line per array task). Jobs that left the queue are
/// simply absent.
pub fn squeue(jobs: &[u64]) -> Result<Vec<QueueEntry>, SlurmError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = jobs.iter().map(u64::to_string).collect();
    let args = vec![
        "--noheader".to_string(),
        "--array".into(),
        "-j".into(),
        ids.join(","),
        "-o".into(),
        SQUEUE_FORMAT.into(),
    ];
    let out = run("squeue", &args)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("Invalid job id") {
        return Ok(Vec::new());
    }
    check("squeue", &args, &out)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    parse_squeue(&stdout).map_err(|message| SlurmError::Parse {
        command: display_command("squeue", &args),
        message,
        output: stdout.into_owned(),
    })
}

/// Parses `scontrol show config` into its `Key = Value` pairs.
pub fn parse_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty() && !k.contains(' '))
        .collect()
}

/// MaxArraySize from `scontrol show config` output.
pub fn parse_max_array_size(text: &str) -> Option<u64> {
    parse_config(text).get("MaxArraySize")?.parse().ok()
}

/// The cluster's MaxArraySize, or `None` when `scontrol` does not answer.
pub fn max_array_size() -> Option<u64> {
    let args = vec!["show".to_string(), "config".into()];
    let out = run("scontrol", &args).ok()?;
    if !out.status.success() {
        return None;
    }
    parse_max_array_size(&String::from_utf8_lossy(&out.stdout))
}

/// Cancels jobs.
pub fn scancel(jobs: &[u64]) -> Result<(), SlurmError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let args: Vec<String> = jobs.iter().map(u64::to_string).collect();
    let out = run("scancel", &args)?;
    check("scancel", &args, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsable_output() {
        assert_eq!(
            parse_parsable("4242\n"),
            Some(JobId {
                id: 4242,
                cluster: None
            })
        );
        assert_eq!(
            parse_parsable("4243;mycluster\n"),
            Some(JobId {
                id: 4243,
                cluster: Some("mycluster".into())
            })
        );
        assert_eq!(parse_parsable("Submitted batch job 12\n"), None);
        assert_eq!(parse_parsable(""), None);
    }

    // Pasted from `squeue --noheader --array -j 33,34 -o '%i|%T|%N|%r'` on the local
    // three-node cluster (slurm-wlm 22.05): array 33 = `--array=0-6%2`, 34 depends on it.
    const SQUEUE: &str = "\
33_2|PENDING||JobArrayTaskLimit
33_3|PENDING||JobArrayTaskLimit
33_4|PENDING||JobArrayTaskLimit
33_5|PENDING||JobArrayTaskLimit
33_6|PENDING||JobArrayTaskLimit
34|PENDING||Dependency
33_0|RUNNING|node03|None
33_1|RUNNING|node03|None
";

    #[test]
    fn squeue_lines_expand_to_tasks() {
        let q = parse_squeue(SQUEUE).expect("parse");
        let tasks: Vec<(u64, Option<u64>, &str)> = q
            .iter()
            .map(|e| (e.job_id, e.array_index, e.state.as_str()))
            .collect();
        let mut want: Vec<(u64, Option<u64>, &str)> =
            (2..7).map(|i| (33, Some(i), "PENDING")).collect();
        want.push((34, None, "PENDING"));
        want.push((33, Some(0), "RUNNING"));
        want.push((33, Some(1), "RUNNING"));
        assert_eq!(tasks, want);
        assert_eq!(q[6].nodes, "node03");
        assert_eq!(q[5].reason, "Dependency");
        // The compact form squeue prints without --array.
        let compact = parse_squeue("35_[4-6%2]|PENDING||JobArrayTaskLimit\n").expect("parse");
        let idx: Vec<Option<u64>> = compact.iter().map(|e| e.array_index).collect();
        assert_eq!(idx, vec![Some(4), Some(5), Some(6)]);
        assert!(parse_squeue("x|y\n").is_err());
        assert!(parse_squeue("abc_1|RUNNING|n|None\n").is_err());
    }

    // Lines of `scontrol show config` on the local cluster (slurm-wlm 22.05).
    const CONFIG: &str = "\
Configuration data as of 2026-11-21T22:42:42
AccountingStorageEnforce = none
ClusterName             = slurmsweep
MaxArraySize            = 1001
MaxJobCount             = 100000
";

    #[test]
    fn max_array_size_from_config() {
        assert_eq!(parse_max_array_size(CONFIG), Some(1001));
        assert_eq!(
            parse_config(CONFIG).get("ClusterName").map(String::as_str),
            Some("slurmsweep")
        );
        assert_eq!(parse_max_array_size("MaxJobCount = 5\n"), None);
    }

    #[test]
    fn command_lines_quote_what_needs_it() {
        let mut req = SbatchRequest::new("/s/a b/array.sbatch");
        req.options.push("--array=3,7,12-15%4".into());
        assert_eq!(
            req.command_line(),
            "sbatch --parsable --array=3,7,12-15%4 '/s/a b/array.sbatch'"
        );
    }
}
