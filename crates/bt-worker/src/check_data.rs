//! `bt-worker check-data DIR`: reads every price file of a directory, reports problems
//! (file, line, field) as a table or JSON; exit code 1 when any file has problems.

use std::path::PathBuf;
use std::process::ExitCode;

use backtest::data::{check_dir, FileReport};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

/// Arguments of `bt-worker check-data`.
#[derive(Debug, clap::Args)]
pub struct CheckDataArgs {
    /// The directory of `*.csv` price files.
    pub dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Checks the directory. Exit code 0 when every file is fine, 1 when any has problems.
pub fn run(args: &CheckDataArgs) -> anyhow::Result<ExitCode> {
    if !args.dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.dir.display());
    }
    let reports = check_dir(&args.dir);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        print_table(&reports);
    }
    if reports.is_empty() {
        eprintln!("no *.csv files in {}", args.dir.display());
    }
    let bad = reports.iter().filter(|r| !r.is_ok()).count();
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_table(reports: &[FileReport]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "file", "format", "bars", "first", "last", "skipped", "problems",
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
            r.stats.skipped_rows().to_string(),
            if problems.is_empty() {
                "OK".to_string()
            } else {
                problems.join("\n")
            },
        ]);
    }
    println!("{table}");
}
