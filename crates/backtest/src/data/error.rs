//! [`DataError`]: every problem a price file or a data request can have, each naming the
//! file and, where there is one, the 1-based line (the header is line 1) and the field.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// A problem with a price file, naming file, line and field.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A problem with a whole file that no single line can be blamed for.
    #[error("{file}: {message}")]
    File { file: PathBuf, message: String },
    /// A bad value on one line: not a number, not positive, null, empty, wrong row length.
    #[error("{file}:{line}: field `{field}`: {message}")]
    Field {
        file: PathBuf,
        line: u64,
        field: String,
        message: String,
    },
    /// The file does not exist or cannot be read.
    #[error("{file}: cannot read the file: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The CSV reader could not split a line into fields.
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: PathBuf,
        line: u64,
        message: String,
    },
    /// No header line (line 1), or a header and no data rows.
    #[error("{file}:{line}: empty file: {message}")]
    Empty {
        file: PathBuf,
        line: u64,
        message: String,
    },
    /// The header (line 1) lacks columns the format needs.
    #[error("{file}:1: header: missing column(s) {missing}; expected {expected} (found: {found})")]
    MissingColumn {
        file: PathBuf,
        /// The missing column names, comma-separated.
        missing: String,
        /// The columns the format needs, as a header line.
        expected: String,
        /// The header as read.
        found: String,
    },
    /// A date (or timestamp) equal to an earlier row's.
    #[error(
        "{file}:{line}: field `{field}`: duplicate date {date} (already on line {previous_line})"
    )]
    DuplicateDate {
        file: PathBuf,
        line: u64,
        field: String,
        date: String,
        previous_line: u64,
    },
    /// A date (or timestamp) earlier than the previous row's: rows must be sorted oldest first.
    #[error(
        "{file}:{line}: field `{field}`: date {date} is before {previous} on line \
         {previous_line}; rows must be sorted oldest first"
    )]
    UnsortedDate {
        file: PathBuf,
        line: u64,
        field: String,
        date: String,
        previous: String,
        previous_line: u64,
    },
    /// The symbol's file has no daily price between the requested start and end.
    #[error(
        "{file}: symbol `{symbol}` has no data between {start} and {end} (the file's daily \
         prices run {first}..{last})"
    )]
    NoDataInPeriod {
        file: PathBuf,
        symbol: String,
        start: NaiveDate,
        end: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    },
    /// The request itself is unusable (no symbols, start after end).
    #[error("data request: {0}")]
    Request(String),
}

impl DataError {
    /// The file the problem is in, if it is about a file.
    pub fn file(&self) -> Option<&Path> {
        match self {
            DataError::File { file, .. }
            | DataError::Field { file, .. }
            | DataError::Io { file, .. }
            | DataError::Syntax { file, .. }
            | DataError::Empty { file, .. }
            | DataError::MissingColumn { file, .. }
            | DataError::DuplicateDate { file, .. }
            | DataError::UnsortedDate { file, .. }
            | DataError::NoDataInPeriod { file, .. } => Some(file),
            DataError::Request(_) => None,
        }
    }

    /// The 1-based line of the file the problem is on (the header is line 1), if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            DataError::Field { line, .. }
            | DataError::Syntax { line, .. }
            | DataError::Empty { line, .. }
            | DataError::DuplicateDate { line, .. }
            | DataError::UnsortedDate { line, .. } => Some(*line),
            DataError::MissingColumn { .. } => Some(1),
            _ => None,
        }
    }

    /// The column the problem is in, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            DataError::Field { field, .. }
            | DataError::DuplicateDate { field, .. }
            | DataError::UnsortedDate { field, .. } => Some(field),
            _ => None,
        }
    }
}
