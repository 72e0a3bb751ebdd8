//! The manifest (`manifest.jsonl`): one line per combination, `{"i": 0, "params": {...}}`,
//! line i = combination i. Written and read as a stream so 10^6 combinations stay cheap.
//!
//! Also owns the manifest's offset index (`manifest.idx`, beside it), written at plan
//! time: for each array task k the byte offset of its first line (combination
//! `k * combos_per_task`), then the manifest's length, each a u64 little-endian, so
//! `(tasks + 1) * 8` bytes. plan.json records it ([`ManifestIndex`]: the index's sha256
//! and size, the manifest's size). A task seeks to its line instead of reading the lines
//! before it ([`read_task`]), so the last task of a 10^7 grid starts as fast as the
//! first. A plan without the record (planned before the index existed) is read by
//! scanning, as before; a plan with it whose index is missing, short or disagrees is an
//! error naming the file (not a silent scan: a fallback would hide a broken sweep
//! directory behind a slow start on every task).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use backtest::Params;

/// The index's file name, beside `manifest.jsonl`.
pub const INDEX_FILE: &str = "manifest.idx";

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub i: u64,
    pub params: Params,
}

/// What plan.json records about `manifest.idx`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestIndex {
    /// The index's file name in the sweep directory (`manifest.idx`).
    pub file: String,
    /// sha256 (hex) of the index file.
    pub sha256: String,
    /// Size of the index file: `(tasks + 1) * 8`.
    pub bytes: u64,
    /// Size of `manifest.jsonl` when it was indexed.
    pub manifest_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: has {lines} lines, combinations {wanted:?} were asked for")]
    Short {
        path: PathBuf,
        lines: u64,
        wanted: Range<u64>,
    },
    /// The offset index is missing, short, or does not fit the manifest.
    #[error("{path}: {message}; plan the sweep again (`sweep plan`) to rewrite the index")]
    Index { path: PathBuf, message: String },
}

/// How [`read_task`] reached the task's first line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reached {
    /// Seeked to the offset from `manifest.idx`.
    Index,
    /// Read the lines before it (a plan without an index).
    Scan,
}

impl Reached {
    pub fn label(self) -> &'static str {
        match self {
            Reached::Index => "seek by manifest.idx",
            Reached::Scan => "scan (no manifest.idx in the plan)",
        }
    }
}

/// The index's path beside `manifest`.
pub fn index_path(manifest: &Path) -> PathBuf {
    manifest.with_file_name(INDEX_FILE)
}

fn io_at(path: &Path) -> impl Fn(std::io::Error) -> ManifestError + '_ {
    move |source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the combinations `range` (line numbers = combination indices) from a manifest,
/// streaming past the lines before it.
pub fn read_range(path: &Path, range: Range<u64>) -> Result<Vec<ManifestEntry>, ManifestError> {
    let file = File::open(path).map_err(io_at(path))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    // Skip the earlier lines as bytes (no UTF-8 check, no parse).
    let mut skip = Vec::new();
    let mut n: u64 = 0;
    while n < range.start {
        skip.clear();
        if reader.read_until(b'\n', &mut skip).map_err(io_at(path))? == 0 {
            return Err(ManifestError::Short {
                path: path.to_path_buf(),
                lines: n,
                wanted: range,
            });
        }
        n += 1;
    }
    read_lines(path, &mut reader, range.start, range)
}

/// Reads the lines of combinations `range` from `reader`, positioned at the start of line
/// `range.start` (1-based line `at + 1` of the file), checking each line's `i`.
fn read_lines(
    path: &Path,
    reader: &mut impl BufRead,
    at: u64,
    range: Range<u64>,
) -> Result<Vec<ManifestEntry>, ManifestError> {
    let mut out = Vec::with_capacity((range.end - range.start) as usize);
    let mut line = String::new();
    let mut n = at;
    while n < range.end {
        line.clear();
        if reader.read_line(&mut line).map_err(io_at(path))? == 0 {
            return Err(ManifestError::Short {
                path: path.to_path_buf(),
                lines: n,
                wanted: range,
            });
        }
        let entry: ManifestEntry =
            serde_json::from_str(line.trim_end()).map_err(|e| ManifestError::Line {
                path: path.to_path_buf(),
                line: n + 1,
                message: e.to_string(),
            })?;
        if entry.i != n {
            return Err(ManifestError::Line {
                path: path.to_path_buf(),
                line: n + 1,
                message: format!("holds combination {} where {n} was expected", entry.i),
            });
        }
        out.push(entry);
        n += 1;
    }
    Ok(out)
}

/// Reads the combinations `range` of array task `task` from `manifest`. With `index`
/// (plan.json's record) it seeks to the task's offset in `manifest.idx` beside the
/// manifest and checks that the line found there is combination `range.start`; without
/// it, it scans ([`read_range`]).
pub fn read_task(
    manifest: &Path,
    index: Option<&ManifestIndex>,
    task: u64,
    range: Range<u64>,
) -> Result<(Vec<ManifestEntry>, Reached), ManifestError> {
    let Some(index) = index else {
        return read_range(manifest, range).map(|e| (e, Reached::Scan));
    };
    let idx_path = manifest.with_file_name(&index.file);
    let bad = |message: String| ManifestError::Index {
        path: idx_path.clone(),
        message,
    };
    let offset = read_offset(&idx_path, index, task)?;
    let mut file = File::open(manifest).map_err(io_at(manifest))?;
    // The manifest may have been edited by hand since (a test making a combination fail,
    // say): what matters is that the offset still lands on the task's first line, checked
    // below, and that every line read is the combination expected.
    let len = file.metadata().map_err(io_at(manifest))?.len();
    if offset > len || (offset == len && !range.is_empty()) {
        return Err(bad(format!(
            "task {task}'s offset {offset} is past the end of {} ({len} bytes)",
            manifest.display()
        )));
    }
    file.seek(SeekFrom::Start(offset))
        .map_err(io_at(manifest))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    if range.is_empty() {
        return Ok((Vec::new(), Reached::Index));
    }
    // The line at the offset must be the task's first combination.
    let mut first = String::new();
    reader.read_line(&mut first).map_err(io_at(manifest))?;
    let found = serde_json::from_str::<ManifestEntry>(first.trim_end()).ok();
    match found {
        Some(entry) if entry.i == range.start => {
            let mut out = Vec::with_capacity((range.end - range.start) as usize);
            out.push(entry);
            out.extend(read_lines(
                manifest,
                &mut reader,
                range.start + 1,
                range.start + 1..range.end,
            )?);
            Ok((out, Reached::Index))
        }
        Some(entry) => Err(bad(format!(
            "task {task}'s offset {offset} lands on combination {} of {} where {} was expected",
            entry.i,
            manifest.display(),
            range.start
        ))),
        None => Err(bad(format!(
            "task {task}'s offset {offset} does not land on the start of a manifest line of {} (expected combination {})",
            manifest.display(),
            range.start
        ))),
    }
}

/// Offset of task `task`'s first line, from the index file checked against plan.json's
/// record (size and manifest length; the sha256 is for audits and `sweep plan`).
fn read_offset(idx_path: &Path, index: &ManifestIndex, task: u64) -> Result<u64, ManifestError> {
    let bad = |message: String| ManifestError::Index {
        path: idx_path.to_path_buf(),
        message,
    };
    let mut file = File::open(idx_path).map_err(|e| {
        bad(match e.kind() {
            std::io::ErrorKind::NotFound => {
                "is missing (plan.json records a manifest index)".to_string()
            }
            _ => format!("cannot be read: {e}"),
        })
    })?;
    let len = file
        .metadata()
        .map_err(|e| bad(format!("cannot be read: {e}")))?
        .len();
    if len != index.bytes || !len.is_multiple_of(8) || len < 8 {
        return Err(bad(format!(
            "has {len} bytes where plan.json recorded {}",
            index.bytes
        )));
    }
    let entries = len / 8;
    if task + 1 >= entries {
        return Err(bad(format!(
            "is short: it indexes {} task(s), task {task} was asked for",
            entries - 1
        )));
    }
    let mut last = [0u8; 8];
    file.seek(SeekFrom::Start(len - 8))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    if u64::from_le_bytes(last) != index.manifest_bytes {
        return Err(bad(format!(
            "ends with a manifest length of {} where plan.json recorded {}",
            u64::from_le_bytes(last),
            index.manifest_bytes
        )));
    }
    let mut word = [0u8; 8];
    file.seek(SeekFrom::Start(task * 8))
        .and_then(|_| file.read_exact(&mut word))
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    Ok(u64::from_le_bytes(word))
}

/// The bytes of `manifest.idx` for the task offsets `starts` (one per task, the first
/// line's byte offset) and the manifest's length.
pub fn index_bytes(starts: &[u64], manifest_bytes: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity((starts.len() + 1) * 8);
    for o in starts.iter().chain(std::iter::once(&manifest_bytes)) {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out
}

/// plan.json's record of an index file holding `bytes`.
pub fn index_record(bytes: &[u8], manifest_bytes: u64) -> ManifestIndex {
    ManifestIndex {
        file: INDEX_FILE.to_string(),
        sha256: hex::encode(Sha256::digest(bytes)),
        bytes: bytes.len() as u64,
        manifest_bytes,
    }
}

/// Scans `manifest` for the byte offsets of lines `0, per, 2 * per, ...` (the first line
/// of each task for `combos` combinations in tasks of `per`); returns them and the
/// manifest's length. Used when the offsets were not taken while writing (a manifest kept
/// from an earlier plan, or chunking that changed after the manifest was written).
pub fn scan_task_starts(
    manifest: &Path,
    combos: u64,
    per: u64,
) -> Result<(Vec<u64>, u64), ManifestError> {
    let per = per.max(1);
    let file = File::open(manifest).map_err(io_at(manifest))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut starts = Vec::with_capacity(combos.div_ceil(per) as usize);
    let mut pos = 0u64;
    let mut n = 0u64;
    let mut at_start = true;
    loop {
        let buf = reader.fill_buf().map_err(io_at(manifest))?;
        if buf.is_empty() {
            break;
        }
        let mut k = 0usize;
        while k < buf.len() {
            if at_start {
                if n < combos && n.is_multiple_of(per) {
                    starts.push(pos + k as u64);
                }
                at_start = false;
            }
            match buf[k..].iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    k += nl + 1;
                    n += 1;
                    at_start = true;
                }
                None => k = buf.len(),
            }
        }
        let len = buf.len();
        pos += len as u64;
        reader.consume(len);
    }
    if n != combos {
        return Err(ManifestError::Short {
            path: manifest.to_path_buf(),
            lines: n,
            wanted: 0..combos,
        });
    }
    Ok((starts, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtest::ParamValue;

    /// A manifest of `n` combinations in `dir`; returns its path.
    fn manifest(dir: &Path, n: u64) -> PathBuf {
        let path = dir.join("manifest.jsonl");
        let mut text = String::new();
        for i in 0..n {
            let mut params = Params::new();
            params.insert("fast".to_string(), ParamValue::Int(i as i64 % 97));
            params.insert("slow".to_string(), ParamValue::Int(1000 + i as i64));
            text.push_str(&serde_json::to_string(&ManifestEntry { i, params }).expect("json"));
            text.push('\n');
        }
        std::fs::write(&path, text).expect("write manifest");
        path
    }

    /// Writes the index of `manifest` for tasks of `per`; returns plan.json's record.
    fn index(manifest: &Path, combos: u64, per: u64) -> ManifestIndex {
        let (starts, len) = scan_task_starts(manifest, combos, per).expect("scan");
        let bytes = index_bytes(&starts, len);
        std::fs::write(index_path(manifest), &bytes).expect("write index");
        index_record(&bytes, len)
    }

    #[test]
    fn seeking_reads_what_scanning_reads() {
        let tmp = tempfile::tempdir().expect("tmp");
        let m = manifest(tmp.path(), 1003);
        for per in [1, 7, 250, 1003, 5000] {
            let record = index(&m, 1003, per);
            let tasks = 1003u64.div_ceil(per);
            assert_eq!(record.bytes, (tasks + 1) * 8);
            for task in 0..tasks {
                let range = task * per..((task + 1) * per).min(1003);
                let (seek, how) = read_task(&m, Some(&record), task, range.clone()).expect("seek");
                assert_eq!(how, Reached::Index);
                let (scan, how) = read_task(&m, None, task, range.clone()).expect("scan");
                assert_eq!(how, Reached::Scan);
                assert_eq!(seek, scan, "per {per} task {task}");
                assert_eq!(seek.first().map(|e| e.i), Some(range.start));
            }
        }
    }

    #[test]
    fn a_scan_across_buffer_boundaries_finds_every_task_start() {
        let tmp = tempfile::tempdir().expect("tmp");
        // 60,000 lines of ~60 bytes: several 1 MiB buffers, lines split across them.
        let m = manifest(tmp.path(), 60_000);
        let (starts, len) = scan_task_starts(&m, 60_000, 1).expect("scan");
        let text = std::fs::read(&m).expect("read");
        assert_eq!(len, text.len() as u64);
        let mut expected = vec![0u64];
        expected.extend(
            text.iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(k, _)| k as u64 + 1)
                .take(59_999),
        );
        assert_eq!(starts, expected);
        let short = scan_task_starts(&m, 60_001, 10).expect_err("short");
        assert!(short.to_string().contains("60000 lines"), "{short}");
    }

    #[test]
    fn a_missing_short_or_wrong_index_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let m = manifest(tmp.path(), 100);
        let record = index(&m, 100, 10);
        let idx = index_path(&m);
        let err = |record: &ManifestIndex, task: u64| {
            read_task(&m, Some(record), task, task * 10..task * 10 + 10)
                .expect_err("error")
                .to_string()
        };

        // Offsets pointing one line off: lands on the wrong combination.
        let (mut starts, len) = scan_task_starts(&m, 100, 10).expect("scan");
        starts.swap(3, 4);
        let bytes = index_bytes(&starts, len);
        std::fs::write(&idx, &bytes).expect("write");
        let wrong = index_record(&bytes, len);
        let e = err(&wrong, 3);
        assert!(
            e.contains("manifest.idx") && e.contains("lands on combination 40"),
            "{e}"
        );
        assert!(e.contains("where 30 was expected"), "{e}");
        // Into the middle of a line.
        starts.swap(3, 4);
        starts[5] += 3;
        let bytes = index_bytes(&starts, len);
        std::fs::write(&idx, &bytes).expect("write");
        let e = err(&index_record(&bytes, len), 5);
        assert!(
            e.contains("manifest.idx") && e.contains("does not land"),
            "{e}"
        );

        // Short: fewer bytes than plan.json recorded.
        std::fs::write(&idx, index_bytes(&starts[..4], len)).expect("write");
        let e = err(&record, 2);
        assert!(
            e.contains("manifest.idx") && e.contains("has 40 bytes where plan.json recorded 88"),
            "{e}"
        );

        // Missing.
        std::fs::remove_file(&idx).expect("rm");
        let e = err(&record, 0);
        assert!(e.contains("manifest.idx: is missing"), "{e}");
        assert!(e.contains("sweep plan"), "{e}");

        // The manifest edited after it was indexed: a line of task 0 made longer. Task 0
        // still reads (its offset is unmoved), task 1's offset lands inside a line.
        let record = index(&m, 100, 10);
        let text = std::fs::read_to_string(&m).expect("read");
        std::fs::write(&m, text.replacen("\"fast\":3,", "\"fast\":333,", 1)).expect("write");
        let (entries, _) = read_task(&m, Some(&record), 0, 0..10).expect("task 0");
        assert_eq!(entries[3].params["fast"], ParamValue::Int(333));
        let e = err(&record, 1);
        assert!(
            e.contains("manifest.idx") && e.contains("does not land"),
            "{e}"
        );
        assert!(e.contains("sweep plan"), "{e}");
    }
}
