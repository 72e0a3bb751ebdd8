//! `sweep data import FILES_OR_DIR... --dataset NAME [--sharedfs DIR]`: validates price
//! files with the same check as `bt-worker check-data` ([`backtest::data::check_file`], the
//! loader's own per-file parse, so an imported file is one that planning and the worker
//! load) and copies the good ones into `<sharedfs>/data/<NAME>/`, atomically (temp file in
//! the directory, fsync, rename) and read-only (`0444`). What loading will skip in a file
//! (`null` rows, intraday rows, dates without a daily close) is printed as a note.
//!
//! A file with any problem is refused with every problem (file, line, field); the good files
//! are imported anyway and the exit code is 1. A file already in the dataset with the same
//! content is skipped; with other content it is refused unless `--replace`, because a sweep
//! records the sha256 of every data file it reads in its plan, so replacing data changes
//! the plans (and sweep directories) of every sweep planned afterwards.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use backtest::data::{check_file, FileReport};
use backtest::DataFormat;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::de::IntoDeserializer;
use serde::Deserialize;
use sweep_core::planner::{default_sharedfs, sha256_file};

use crate::cmd::install::{ensure_dir, install_file, DIR_MODE};
use crate::Outcome;

/// Mode of imported data files: readable by every job user, writable by nobody (an
/// import replaces a file by rename, which needs only the directory to be writable).
pub const DATA_FILE_MODE: u32 = 0o444;

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const DATA_EXAMPLES: &str = "\
Examples:
  sweep data import ~/prices --dataset etfs --sharedfs /sharedfs";

/// Arguments of `sweep data`.
#[derive(Debug, clap::Args)]
#[command(after_help = DATA_EXAMPLES)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The subcommands of `sweep data`.
#[derive(Debug, clap::Subcommand)]
pub enum DataCommand {
    /// Validate price files and copy them into <sharedfs>/data/<dataset>/.
    Import(ImportArgs),
}

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const IMPORT_EXAMPLES: &str = "\
Examples:
  sweep data import ~/prices/*.csv --dataset etfs --sharedfs /sharedfs --dry-run
  sweep data import ~/prices --dataset etfs --sharedfs /sharedfs   # a directory: its *.csv files";

/// Arguments of `sweep data import`.
#[derive(Debug, clap::Args)]
#[command(after_help = IMPORT_EXAMPLES)]
pub struct ImportArgs {
    /// Price files (`<SYMBOL>.csv`) or directories of them (their `*.csv`, not recursive).
    #[arg(required = true, value_name = "FILES_OR_DIR")]
    pub inputs: Vec<PathBuf>,
    /// The dataset: files go to <sharedfs>/data/<NAME>/.
    #[arg(long, value_name = "NAME")]
    pub dataset: String,
    /// Root of the shared filesystem [default: $SLURM_SWEEP_SHAREDFS, else ./sharedfs].
    #[arg(long, value_name = "DIR")]
    pub sharedfs: Option<PathBuf>,
    /// Price file format: auto (detect from each file's header), yahoo, pysystemtrade, ohlcv.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    pub format: DataFormat,
    /// Replace files of the dataset whose content differs (sweeps planned afterwards record
    /// the new data hashes, so they get new plans).
    #[arg(long)]
    pub replace: bool,
    /// Check and show what would be imported; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_format(text: &str) -> Result<DataFormat, String> {
    DataFormat::deserialize(text.into_deserializer())
        .map_err(|e: serde::de::value::Error| e.to_string())
}

/// Why a dataset name is not acceptable, if it is not.
pub fn check_dataset_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." || name.starts_with('.') {
        return Err(format!(
            "dataset name `{name}` must not be empty or start with a dot"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "dataset name `{name}` has `{c}`; use letters, digits, `_`, `-` and `.`"
        ));
    }
    Ok(())
}

/// What happened to one input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportAction {
    Imported,
    /// Replaced a file of the dataset with other content (`--replace`).
    Replaced {
        old_sha256: String,
    },
    /// The dataset has this file with the same content.
    AlreadyPresent,
    /// `--dry-run`: would be imported (or replace, with `--replace`).
    WouldImport,
    /// Not imported, with why (every problem, one per line, for a bad file).
    Refused(String),
}

impl ImportAction {
    pub fn is_refused(&self) -> bool {
        matches!(self, ImportAction::Refused(_))
    }
}

/// One input file and what became of it.
#[derive(Clone, Debug)]
pub struct ImportLine {
    pub source: PathBuf,
    pub dest: PathBuf,
    /// The check's report; `None` when the file was refused before checking.
    pub report: Option<FileReport>,
    pub sha256: String,
    pub action: ImportAction,
}

/// Everything an import did.
#[derive(Clone, Debug)]
pub struct ImportReport {
    pub dataset_dir: PathBuf,
    pub lines: Vec<ImportLine>,
}

impl ImportReport {
    pub fn refused(&self) -> usize {
        self.lines.iter().filter(|l| l.action.is_refused()).count()
    }
}

/// The files named by the inputs: files as given, directories' `*.csv` in name order.
fn expand_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = fs::read_dir(input)
                .with_context(|| format!("cannot read {}", input.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                anyhow::bail!("{} holds no *.csv file", input.display());
            }
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Checks and imports `inputs` into `<sharedfs>/data/<dataset>/`.
pub fn import(
    sharedfs: &Path,
    dataset: &str,
    inputs: &[PathBuf],
    format: DataFormat,
    replace: bool,
    dry_run: bool,
) -> anyhow::Result<ImportReport> {
    check_dataset_name(dataset).map_err(anyhow::Error::msg)?;
    let dataset_dir = sharedfs.join("data").join(dataset);
    let files = expand_inputs(inputs)?;
    if !dry_run {
        crate::cmd::install::lay_out(sharedfs)
            .with_context(|| format!("cannot lay out {}", sharedfs.display()))?;
        ensure_dir(&dataset_dir, DIR_MODE)
            .with_context(|| format!("cannot create {}", dataset_dir.display()))?;
    }
    // Destination name -> the first input that claimed it.
    let mut claimed: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut lines = Vec::new();
    for source in files {
        let mut line = ImportLine {
            dest: PathBuf::new(),
            source: source.clone(),
            report: None,
            sha256: String::new(),
            action: ImportAction::Imported,
        };
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if source.extension().and_then(|e| e.to_str()) != Some("csv") {
            line.action = ImportAction::Refused(format!(
                "{}: not a `.csv` file; a sweep reads symbol S from <dataset>/S.csv",
                source.display()
            ));
            lines.push(line);
            continue;
        }
        line.dest = dataset_dir.join(&name);
        if let Some(first) = claimed.get(&name) {
            line.action = ImportAction::Refused(format!(
                "{}: same name as {}, imported from this run already",
                source.display(),
                first.display()
            ));
            lines.push(line);
            continue;
        }
        claimed.insert(name.clone(), source.clone());
        let report = check_file(&source, format);
        let ok = report.is_ok();
        if !ok {
            line.action = ImportAction::Refused(report.to_string());
        }
        line.report = Some(report);
        if !ok {
            lines.push(line);
            continue;
        }
        let (sha, _) = match sha256_file(&source) {
            Ok(x) => x,
            Err(e) => {
                line.action = ImportAction::Refused(format!("{}: {e}", source.display()));
                lines.push(line);
                continue;
            }
        };
        line.sha256 = sha;
        let existing = if line.dest.is_file() {
            Some(
                sha256_file(&line.dest)
                    .with_context(|| format!("cannot read {}", line.dest.display()))?
                    .0,
            )
        } else {
            None
        };
        line.action = match existing {
            Some(old) if old == line.sha256 => {
                if !dry_run {
                    fs::set_permissions(&line.dest, fs::Permissions::from_mode(DATA_FILE_MODE))
                        .with_context(|| format!("cannot chmod {}", line.dest.display()))?;
                }
                ImportAction::AlreadyPresent
            }
            Some(old) if !replace => ImportAction::Refused(format!(
                "{}: {} exists with other content (sha256 {} there, {} here); pass --replace \
                 to overwrite it",
                source.display(),
                line.dest.display(),
                &old[..12.min(old.len())],
                &line.sha256[..12.min(line.sha256.len())]
            )),
            _ if dry_run => ImportAction::WouldImport,
            old => {
                install_file(&source, &line.dest, DATA_FILE_MODE).with_context(|| {
                    format!(
                        "cannot copy {} to {}",
                        source.display(),
                        line.dest.display()
                    )
                })?;
                match old {
                    Some(old_sha256) => ImportAction::Replaced { old_sha256 },
                    None => ImportAction::Imported,
                }
            }
        };
        lines.push(line);
    }
    Ok(ImportReport { dataset_dir, lines })
}

fn format_name(format: Option<DataFormat>) -> String {
    match format {
        Some(DataFormat::Yahoo) => "yahoo",
        Some(DataFormat::Pysystemtrade) => "pysystemtrade",
        Some(DataFormat::Ohlcv) => "ohlcv",
        Some(DataFormat::Auto) | None => "-",
    }
    .to_string()
}

/// The import table: file, format, bars, dates, sha256 prefix, what happened.
pub fn table(report: &ImportReport) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "file", "format", "bars", "first", "last", "sha256", "action",
    ]);
    for l in &report.lines {
        let name = l.source.file_name().map_or_else(
            || l.source.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let show =
            |d: Option<chrono::NaiveDate>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
        let (format, bars, first, last) = match &l.report {
            Some(r) => (
                format_name(r.format),
                r.stats.bars.to_string(),
                show(r.first_date),
                show(r.last_date),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let action = match &l.action {
            ImportAction::Imported => "imported".to_string(),
            ImportAction::Replaced { old_sha256 } => {
                format!("REPLACED (was {})", &old_sha256[..12.min(old_sha256.len())])
            }
            ImportAction::AlreadyPresent => "already present (same sha256)".to_string(),
            ImportAction::WouldImport => "would import (dry run)".to_string(),
            ImportAction::Refused(_) => "REFUSED (see below)".to_string(),
        };
        table.add_row([
            name,
            format,
            bars,
            first,
            last,
            l.sha256.get(..12).unwrap_or("-").to_string(),
            action,
        ]);
    }
    table
}

/// `sweep data import`.
pub fn run_import(args: &ImportArgs) -> anyhow::Result<Outcome> {
    let sharedfs = args.sharedfs.clone().unwrap_or_else(default_sharedfs);
    let report = import(
        &sharedfs,
        &args.dataset,
        &args.inputs,
        args.format,
        args.replace,
        args.dry_run,
    )?;
    let dir = fs::canonicalize(&report.dataset_dir).unwrap_or_else(|_| report.dataset_dir.clone());
    sweep_core::outln!(
        "{}dataset {}",
        if args.dry_run { "dry run: " } else { "" },
        dir.display()
    );
    sweep_core::outln!("{}", table(&report));
    for l in &report.lines {
        match (&l.action, &l.report) {
            (ImportAction::Refused(why), _) => sweep_core::outln!("refused: {why}"),
            (_, Some(r)) if !r.notes.is_empty() => {
                sweep_core::outln!("note: {}: {}", l.source.display(), r.notes.join("; "));
            }
            _ => {}
        }
    }
    if report
        .lines
        .iter()
        .any(|l| matches!(l.action, ImportAction::Replaced { .. }))
    {
        sweep_core::outln!(
            "note: replaced data changes the data hashes recorded in plans: sweeps planned from \
             now on get new plans and sweep directories; sweeps planned before still record the \
             old hashes, and their tasks that have not run yet will read the new files (plan \
             them again to be consistent)"
        );
    }
    // Every symbol of the dataset now, not only those of this import.
    let mut symbols: Vec<String> = fs::read_dir(&report.dataset_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "csv"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    symbols.sort();
    if !symbols.is_empty() && !args.dry_run {
        sweep_core::outln!(
            "use it in a spec:\n  [data]\n  dir = \"{}\"\n  symbols = [{}]",
            dir.display(),
            symbols
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let refused = report.refused();
    if refused > 0 {
        sweep_core::outln!(
            "{refused} of {} file{} refused",
            report.lines.len(),
            if report.lines.len() == 1 { "" } else { "s" }
        );
        Ok(Outcome::Incomplete)
    } else {
        Ok(Outcome::Complete)
    }
}

/// `sweep data ...`.
pub fn run(args: &DataArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        DataCommand::Import(a) => run_import(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_names_are_one_safe_path_component() {
        assert!(check_dataset_name("etfs-2020_v1.2").is_ok());
        for bad in ["", ".", "..", ".hidden", "a/b", "../x", "a b"] {
            assert!(check_dataset_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn format_flag_accepts_the_four_names() {
        assert_eq!(parse_format("auto"), Ok(DataFormat::Auto));
        assert_eq!(parse_format("yahoo"), Ok(DataFormat::Yahoo));
        assert_eq!(parse_format("pysystemtrade"), Ok(DataFormat::Pysystemtrade));
        assert_eq!(parse_format("ohlcv"), Ok(DataFormat::Ohlcv));
        assert!(parse_format("parquet").is_err());
    }
}
