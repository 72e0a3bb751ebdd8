//! The manifest (`manifest.jsonl`): one line per combination, `{"i": 0, "params": {...}}`,
//! line i = combination i. Written and read as a stream so 10^6 combinations stay cheap.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use backtest::Params;

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub i: u64,
    pub params: Params,
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
}

/// Reads the combinations `range` (line numbers = combination indices) from a manifest,
/// streaming past the lines before it.
pub fn read_range(path: &Path, range: Range<u64>) -> Result<Vec<ManifestEntry>, ManifestError> {
    let io = |source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut out = Vec::with_capacity((range.end - range.start) as usize);
    let mut line = String::new();
    let mut n: u64 = 0;
    while n < range.end {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            return Err(ManifestError::Short {
                path: path.to_path_buf(),
                lines: n,
                wanted: range,
            });
        }
        if n >= range.start {
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
        }
        n += 1;
    }
    Ok(out)
}
