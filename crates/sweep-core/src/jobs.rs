//! The jobs record of a sweep (`jobs.jsonl`): one JSON line per `sbatch` that queued
//! something: the job id, its kind, the `--array` spec and the offset of its array chunk,
//! so an array index in a log name or in `squeue` maps back to a task number; and, from it,
//! the log files of a task.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::layout::{LogStream, SweepDir};

/// The schema id of one jobs.jsonl line.
pub const JOB_SCHEMA: &str = "slurm-sweep/job/v1";

/// What a submission was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A whole array chunk, from `sweep submit`.
    Array,
    /// Some tasks of an array chunk again, from `sweep resubmit`.
    Resubmit,
    /// The collect job.
    Collect,
}

/// One line of jobs.jsonl.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub schema: String,
    pub job_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub kind: JobKind,
    /// The `--array` spec (array and resubmit jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<String>,
    /// Task number of array index 0 (array and resubmit jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The script submitted, relative to the sweep directory.
    pub script: String,
    /// `--dependency=...` when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    pub submitted: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("cannot read or write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a job record: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Appends one record (one `write` of one line, so concurrent appends do not interleave).
pub fn append(path: &Path, record: &JobRecord) -> Result<(), JobsError> {
    let io = |source| JobsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut line = serde_json::to_string(record).map_err(|e| JobsError::Line {
        path: path.to_path_buf(),
        line: 0,
        message: e.to_string(),
    })?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(line.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads every record; a missing file is an empty log.
pub fn read(path: &Path) -> Result<Vec<JobRecord>, JobsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(JobsError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| JobsError::Line {
                path: path.to_path_buf(),
                line: n + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// The stderr logs that may belong to `task`, newest first: `logs/<job>_<index>.err` of
/// every array job of `records` holding the task, and `logs/local_<task>.err` of a local
/// run. Without any array record (scripts submitted by hand), any `<digits>_<task>.err`.
pub fn task_err_logs(dir: &SweepDir, records: &[JobRecord], task: u64) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let arrays: Vec<&JobRecord> = records
        .iter()
        .filter(|j| matches!(j.kind, JobKind::Array | JobKind::Resubmit))
        .collect();
    for j in &arrays {
        let offset = j.offset.unwrap_or(0);
        if task >= offset {
            found.push(dir.slurm_log(&j.job_id.to_string(), task - offset, LogStream::Err));
        }
    }
    if arrays.is_empty() {
        let suffix = format!("_{task}.err");
        if let Ok(entries) = std::fs::read_dir(dir.logs()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(job) = name.strip_suffix(&suffix) {
                    if !job.is_empty() && job.bytes().all(|b| b.is_ascii_digit()) {
                        found.push(e.path());
                    }
                }
            }
        }
    }
    found.push(dir.local_log(task, LogStream::Err));
    let mut existing: Vec<(std::time::SystemTime, PathBuf)> = found
        .into_iter()
        .filter_map(|p| {
            let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            Some((modified, p))
        })
        .collect();
    existing.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    existing.dedup_by(|a, b| a.1 == b.1);
    existing.into_iter().map(|(_, p)| p).collect()
}

/// The last `n` non-empty lines of a text file (lossy UTF-8; reads at most its last 16 KiB);
/// empty when it cannot be read.
pub fn tail_lines(path: &Path, n: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(16 * 1024);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_then_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jobs.jsonl");
        assert!(read(&path).expect("empty").is_empty());
        let r = JobRecord {
            schema: JOB_SCHEMA.into(),
            job_id: 42,
            cluster: None,
            kind: JobKind::Resubmit,
            array: Some("3,7%2".into()),
            offset: Some(1001),
            script: "array-1.sbatch".into(),
            dependency: None,
            submitted: Utc::now(),
        };
        append(&path, &r).expect("append");
        append(&path, &r).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"kind\":\"resubmit\""), "{text}");
        assert_eq!(read(&path).expect("read"), vec![r.clone(), r]);
        std::fs::write(&path, "{\"x\":1}\n").expect("write");
        let err = read(&path).expect_err("bad line");
        assert!(err.to_string().contains("jobs.jsonl:1"), "{err}");
    }

    #[test]
    fn logs_of_a_task_come_from_the_records() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = SweepDir::new(tmp.path());
        std::fs::create_dir_all(dir.logs()).expect("mkdir");
        let record = |job_id, offset| JobRecord {
            schema: JOB_SCHEMA.into(),
            job_id,
            cluster: None,
            kind: JobKind::Array,
            array: None,
            offset: Some(offset),
            script: "array.sbatch".into(),
            dependency: None,
            submitted: Utc::now(),
        };
        for name in ["7_3.err", "9_1.err", "8_3.err"] {
            std::fs::write(dir.logs().join(name), "x\n").expect("write");
        }
        // Task 1003 is index 3 of job 7 (offset 1000); job 9 starts at task 1002.
        let records = [record(7, 1000), record(9, 1002)];
        let logs = task_err_logs(&dir, &records, 1003);
        let mut names: Vec<_> = logs
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["7_3.err", "9_1.err"]);
        // Without records: any job's log of that index.
        assert_eq!(task_err_logs(&dir, &[], 3).len(), 2);
    }
}
