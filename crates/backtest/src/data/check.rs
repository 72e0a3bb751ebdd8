//! Checking price files without stopping at the first problem: one [`FileReport`] per file
//! (format, dates, rows, rows skipped by reason, every problem up to a cap). Backs
//! `bt-worker check-data DIR` and `sweep data import`.
//!
//! The check is the loader's own parse ([`parse_file`], which [`load_file`] runs too) with a
//! collector that keeps going: the first problem a check reports is the error loading the
//! file gives, and a file without problems loads.
//!
//! [`load_file`]: super::load_file

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use super::error::DataError;
use super::parse::{parse_file, LoadStats, Problems};
use crate::config::DataFormat;

/// At most this many problems are listed per file; the rest are only counted.
pub const MAX_PROBLEMS_PER_FILE: usize = 20;

/// One problem found in a file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// 1-based line (the header is line 1), when the problem is on one line.
    pub line: Option<u64>,
    /// The column, when the problem is in one field.
    pub field: Option<String>,
    /// The full message, naming file, line and field.
    pub message: String,
}

impl From<&DataError> for Problem {
    fn from(error: &DataError) -> Problem {
        Problem {
            line: error.line(),
            field: error.field().map(str::to_string),
            message: error.to_string(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What checking one file found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileReport {
    pub file: PathBuf,
    /// The detected (or forced) format; `None` when the header was not understood or the
    /// file could not be read.
    pub format: Option<DataFormat>,
    /// First and last daily bar kept.
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    /// Rows read, bars kept, rows skipped by reason.
    pub stats: LoadStats,
    /// What was skipped, in words ([`LoadStats::notes`], the loader's wording).
    pub notes: Vec<String>,
    /// The first [`MAX_PROBLEMS_PER_FILE`] problems, in file order.
    pub problems: Vec<Problem>,
    /// All problems found (may exceed `problems.len()`).
    pub problem_count: usize,
}

impl FileReport {
    /// True when the file has no problem.
    pub fn is_ok(&self) -> bool {
        self.problem_count == 0
    }
}

fn format_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Auto => "auto",
        DataFormat::Yahoo => "yahoo",
        DataFormat::Pysystemtrade => "pysystemtrade",
        DataFormat::Ohlcv => "ohlcv",
    }
}

impl fmt::Display for FileReport {
    /// One line of summary, then one indented line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = &self.stats;
        write!(f, "{}: ", self.file.display())?;
        match self.format {
            Some(format) => write!(f, "{}", format_name(format))?,
            None => write!(f, "unknown format")?,
        }
        write!(f, ", {} rows, {} daily bars", stats.rows, stats.bars)?;
        if let (Some(first), Some(last)) = (self.first_date, self.last_date) {
            write!(f, " {first}..{last}")?;
        }
        if !self.notes.is_empty() {
            write!(f, "; {}", self.notes.join("; "))?;
        }
        if self.is_ok() {
            return write!(f, ": OK");
        }
        write!(f, ": {} problem(s)", self.problem_count)?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        let unlisted = self.problem_count.saturating_sub(self.problems.len());
        if unlisted > 0 {
            write!(f, "\n  ... and {unlisted} more")?;
        }
        Ok(())
    }
}

/// Checks one file, detecting its format from the header unless `format` forces one.
pub fn check_file(path: &Path, format: DataFormat) -> FileReport {
    let mut problems = Problems::collect(MAX_PROBLEMS_PER_FILE);
    let series = parse_file(path, format, &mut problems);
    FileReport {
        file: path.to_path_buf(),
        format: (series.format != DataFormat::Auto).then_some(series.format),
        first_date: series.first_date(),
        last_date: series.last_date(),
        notes: series.stats.notes(),
        stats: series.stats,
        problems: problems.list.iter().map(Problem::from).collect(),
        problem_count: problems.total,
    }
}

/// Checks every `*.csv` file of `dir` (not recursive), in name order, detecting each
/// format. A directory that cannot be read gives one report for the directory with the
/// problem; a directory without CSV files gives no report.
pub fn check_dir(dir: &Path) -> Vec<FileReport> {
    check_dir_with(dir, DataFormat::Auto)
}

/// [`check_dir`] with a forced format (`Auto` detects each file's).
pub fn check_dir_with(dir: &Path, format: DataFormat) -> Vec<FileReport> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) => {
            let error = DataError::Io {
                file: dir.to_path_buf(),
                source,
            };
            return vec![FileReport {
                file: dir.to_path_buf(),
                format: None,
                first_date: None,
                last_date: None,
                stats: LoadStats::default(),
                notes: Vec::new(),
                problems: vec![Problem::from(&error)],
                problem_count: 1,
            }];
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"))
        })
        .collect();
    files.sort();
    files.iter().map(|file| check_file(file, format)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_all_problems_and_summarises() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = String::from("Date,Open,High,Low,Close,Adj Close,Volume\n");
        for day in 1..=25 {
            text.push_str(&format!("2020-01-{day:02},1,1,1,abc,1,1\n"));
        }
        std::fs::write(dir.path().join("BAD.csv"), text).expect("write");
        std::fs::write(
            dir.path().join("GOOD.csv"),
            "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,1,1,1,1,1\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("notes.txt"), "not data").expect("write");
        let reports = check_dir(dir.path());
        assert_eq!(reports.len(), 2);
        let bad = &reports[0];
        assert!(bad.file.ends_with("BAD.csv"));
        assert_eq!(bad.problem_count, 25);
        assert_eq!(bad.problems.len(), MAX_PROBLEMS_PER_FILE);
        assert_eq!(bad.problems[0].line, Some(2));
        assert_eq!(bad.problems[0].field.as_deref(), Some("Close"));
        let shown = bad.to_string();
        assert!(shown.contains("25 problem(s)"), "{shown}");
        assert!(shown.contains("... and 5 more"), "{shown}");
        let good = &reports[1];
        assert!(good.is_ok());
        assert_eq!(good.format, Some(DataFormat::Yahoo));
        assert!(good.to_string().ends_with(": OK"), "{good}");
        let json = serde_json::to_value(good).expect("serialises");
        assert_eq!(json["format"], "yahoo");
        assert_eq!(json["stats"]["bars"], 1);
    }

    #[test]
    fn unreadable_directory_gives_one_report() {
        let reports = check_dir(Path::new("/nonexistent/slurm-sweep-data"));
        assert_eq!(reports.len(), 1);
        assert!(!reports[0].is_ok());
    }
}
