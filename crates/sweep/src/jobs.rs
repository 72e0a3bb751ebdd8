//! The submission log of a sweep (`jobs.jsonl`): one JSON line per `sbatch` that queued
//! something: the job id, its kind, the `--array` spec and the offset of its array chunk,
//! so an array index in a log name or in `squeue` maps back to a task number.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
}
