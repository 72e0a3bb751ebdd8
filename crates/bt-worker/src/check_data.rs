//! `bt-worker check-data DIR`: reads every price file of a directory with the loader's own
//! parse ([`backtest::data::check_dir_with`]), reports problems (file, line, field) and what
//! loading would skip (the loader's notes) as a table or JSON; exit code 1 when any file has
//! problems. A file this accepts is one planning and the worker load.

use std::path::PathBuf;

use backtest::data::{check_dir_with, FileReport};
use backtest::DataFormat;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::de::IntoDeserializer;
use serde::Deserialize;

/// Arguments of `bt-worker check-data`.
#[derive(Debug, clap::Args)]
pub struct CheckDataArgs {
    /// The directory of `*.csv` price files.
    pub dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Price file format: auto (detect from each file's header), yahoo, pysystemtrade,
    /// ohlcv; the same choice as a spec's `data.format`.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    pub format: DataFormat,
}

fn parse_format(text: &str) -> Result<DataFormat, String> {
    DataFormat::deserialize(text.into_deserializer())
        .map_err(|e: serde::de::value::Error| e.to_string())
}

/// Checks the directory. Exit code 0 when every file is fine, 1 when any has problems.
pub fn run(args: &CheckDataArgs) -> anyhow::Result<u8> {
    if !args.dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.dir.display());
    }
    let reports = check_dir_with(&args.dir, args.format);
    if args.json {
        sweep_core::outln!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        print_table(&reports);
    }
    if reports.is_empty() {
        sweep_core::errln!("no *.csv files in {}", args.dir.display());
    }
    let bad = reports.iter().filter(|r| !r.is_ok()).count();
    Ok(if bad > 0 { 1 } else { 0 })
}

fn print_table(reports: &[FileReport]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "file", "format", "bars", "first", "last", "notes", "problems",
    ]);
    for r in reports {
        let name = r.file.file_name().map_or_else(
            || r.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let format = r.format.map_or_else(
            || "unknown".to_string(),
            |f| format!("{f:?}").to_lowercase(),
        );
        let show =
            |d: Option<chrono::NaiveDate>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
        let mut problems: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
        let unlisted = r.problem_count.saturating_sub(r.problems.len());
        if unlisted > 0 {
            problems.push(format!("... and {unlisted} more"));
        }
        table.add_row([
            name,
            format,
            r.stats.bars.to_string(),
            show(r.first_date),
            show(r.last_date),
            if r.notes.is_empty() {
                "-".to_string()
            } else {
                r.notes.join("\n")
            },
            if problems.is_empty() {
                "OK".to_string()
            } else {
                problems.join("\n")
            },
        ]);
    }
    sweep_core::outln!("{table}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_flag_takes_the_spec_names() {
        assert_eq!(parse_format("auto"), Ok(DataFormat::Auto));
        assert_eq!(parse_format("pysystemtrade"), Ok(DataFormat::Pysystemtrade));
        assert!(parse_format("csv").is_err());
    }
}
