//! `collect`: merges the result files of a sweep into one ranked table, says plainly what
//! is missing, failed, duplicated or corrupt, states the overfitting figures (Deflated
//! Sharpe Ratio, PBO) and writes reports.
//!
//! The binary parses flags into [`Options`] and calls [`run`], which returns the
//! [`Verdict`] that becomes the exit code: 0 complete, 1 partial, 2 error.
//!
//! ```no_run
//! let options = collect::Options::new(vec!["sweeps/ma_cross-1a2b3c4d".into()]);
//! let verdict = collect::run(&options)?;
//! std::process::exit(verdict.exit_code());
//! # Ok::<(), collect::CollectError>(())
//! ```

pub mod completeness;
pub mod filter;
pub mod inputs;
pub mod normal;
pub mod output;
pub mod overfitting;
pub mod pareto;
pub mod ranking;
pub mod regenerate;
pub mod report;
pub mod robust;
pub mod sensitivity;
pub mod svg;
pub mod table;
pub mod walk_forward;

use std::io::Write;
use std::path::PathBuf;

use completeness::Completeness;
use filter::Filter;
use overfitting::Overfitting;
use ranking::{Direction, Ranking};
use sensitivity::{CellStat, Heatmap, ParamSensitivity};
use table::Table;

/// Everything that stops `collect` from producing a table (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("no such file or directory: {0}")]
    NoSuchInput(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot read the plan: {message}")]
    Plan { path: PathBuf, message: String },
    #[error("the files belong to different plans ({0}); pass --allow-mixed to merge them anyway")]
    MixedPlans(String),
    #[error("no result files found in the inputs")]
    NoResults,
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
    #[error(transparent)]
    Rank(#[from] ranking::RankError),
    #[error(transparent)]
    Sensitivity(#[from] sensitivity::SensitivityError),
    #[error(transparent)]
    Pbo(#[from] overfitting::PboError),
    #[error("cannot write {what}: {message}")]
    Output { what: String, message: String },
}

/// Output format of the ranked table on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A terminal table (comfy-table).
    Table,
    Csv,
    Json,
    Markdown,
}

/// Whether to compute PBO (it needs every run's daily returns in memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PboMode {
    /// When a sweep's spec says `keep_returns = true`.
    Auto,
    Always,
    Never,
}

/// What `collect` was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// A sweep directory, or result files and folders of them.
    pub inputs: Vec<PathBuf>,
    /// The metric to rank by.
    pub by: String,
    /// Forced direction; `None`: by the metric.
    pub direction: Option<Direction>,
    /// `--where` expression.
    pub filter: Option<String>,
    /// Rows to print; `None`: 20 for the terminal table, all for csv/json/md.
    pub top: Option<usize>,
    pub format: Format,
    pub allow_mixed: bool,
    /// Write `report/report.html`.
    pub report: bool,
    /// Where the HTML report goes when the input is not a sweep directory.
    pub report_path: Option<PathBuf>,
    /// `a,b` parameters of the heatmap; `None`: the two with the most values.
    pub heatmap: Option<String>,
    pub heatmap_stat: CellStat,
    pub pbo: PboMode,
    /// CSCV blocks S.
    pub pbo_blocks: usize,
    /// Rows whose DSR is reported.
    pub dsr_top: usize,
    /// Rows whose equity curves are regenerated for the report.
    pub equity_top: usize,
    /// Do not print the completeness account on stderr.
    pub quiet: bool,
    /// `--rank`: by the value itself, or by its grid neighbourhood's mean.
    pub rank: robust::RankBy,
    /// `--robust-k`: neighbourhood radius in steps on every axis.
    pub robust_k: usize,
    /// `--pareto m1,m2[,m3]`.
    pub pareto: Option<String>,
}

impl Options {
    /// Defaults for `inputs`: rank by Sharpe, terminal table.
    pub fn new(inputs: Vec<PathBuf>) -> Options {
        Options {
            inputs,
            by: "sharpe".into(),
            direction: None,
            filter: None,
            top: None,
            format: Format::Table,
            allow_mixed: false,
            report: false,
            report_path: None,
            heatmap: None,
            heatmap_stat: CellStat::Best,
            pbo: PboMode::Auto,
            pbo_blocks: 16,
            dsr_top: 10,
            equity_top: 5,
            quiet: false,
            rank: robust::RankBy::Peak,
            robust_k: 1,
            pareto: None,
        }
    }
}

/// Whether the table is whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Complete,
    Partial,
}

impl Verdict {
    /// 0 complete, 1 partial (2 is for errors).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Complete => 0,
            Verdict::Partial => 1,
        }
    }
}

/// Everything computed from the inputs.
#[derive(Debug)]
pub struct Analysis {
    pub sweeps: Vec<inputs::SweepInput>,
    pub completeness: Completeness,
    pub table: Table,
    pub ranking: Ranking,
    pub filter: Option<String>,
    pub overfitting: Overfitting,
    pub sensitivity: Vec<ParamSensitivity>,
    pub heatmap: Option<Heatmap>,
    /// Spearman correlation of in-sample and out-of-sample ranking values, with a split.
    pub spearman_is_oos: Option<f64>,
    /// The statistics these results cannot give, and why.
    pub unknown: Option<Unknown>,
}

/// Metrics that no run has, in groups, each with why: what a command sweep's output
/// cannot give, and what is undefined in every run (a Sortino ratio without a losing day).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Unknown {
    pub groups: Vec<(Vec<&'static str>, String)>,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .groups
            .iter()
            .map(|(names, why)| format!("{} ({why})", names.join(", ")))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// What `collect` cannot compute from the table of `sweeps`' results.
pub fn unknown_statistics(sweeps: &[inputs::SweepInput], table: &Table) -> Option<Unknown> {
    let unknown = table.unknown_metrics();
    if unknown.is_empty() {
        return None;
    }
    let output = sweeps
        .iter()
        .filter_map(|s| s.spec.as_ref()?.command.as_ref())
        .map(|c| c.output)
        .next();
    let (by_output, rest): (Vec<&'static str>, Vec<&'static str>) =
        unknown.into_iter().partition(|m| match output {
            Some(f) if f.has_curve() => sweep_core::command::CURVE_UNKNOWN.contains(m),
            Some(_) => true,
            None => false,
        });
    let mut groups = Vec::new();
    if let Some(f) = output.filter(|_| !by_output.is_empty()) {
        let why = if f.has_curve() {
            "an equity curve does not tell them"
        } else {
            "the program's metrics file does not give them"
        };
        groups.push((
            by_output,
            format!("strategy `command`, output = \"{}\": {why}", f.name()),
        ));
    }
    if !rest.is_empty() {
        groups.push((rest, "undefined in every run".to_string()));
    }
    Some(Unknown { groups })
}

/// Reads, checks, merges and ranks (no output).
pub fn analyse(options: &Options) -> Result<Analysis, CollectError> {
    overfitting::check_blocks(options.pbo_blocks)?;
    let found = inputs::discover(&options.inputs)?;
    if found.files.is_empty() && found.sweeps.is_empty() {
        return Err(CollectError::NoResults);
    }
    let keep_returns = match options.pbo {
        PboMode::Always => true,
        PboMode::Never => false,
        PboMode::Auto => found.sweeps.iter().any(|s| s.keeps_returns()),
    };
    let (parsed, rows) = inputs::parse_all(&found.files, keep_returns);
    let (accepted, mut completeness) = completeness::assess(
        &found.sweeps,
        parsed,
        found.quarantined,
        options.allow_mixed,
    )?;
    let table = Table::from_accepted(accepted, rows);
    let filter = options
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, &table.param_names))
        .transpose()?;
    let ranking = ranking::rank(&table, &options.by, options.direction, filter.as_ref())?;
    if let Some(k) = table::metric_index("trades") {
        completeness.never_traded = ranking
            .order
            .iter()
            .filter(|&&i| table.rows[i].metrics[k] == 0.0)
            .count();
    }
    let overfitting = overfitting::summarise(
        &table,
        &ranking,
        options.dsr_top,
        keep_returns,
        options.pbo_blocks,
    );
    let sensitivity = sensitivity::by_parameter(&table, &ranking);
    let heatmap = match &options.heatmap {
        Some(pair) => {
            let (x, y) = sensitivity::parse_pair(pair, &table)?;
            Some(sensitivity::heatmap(
                &table,
                &ranking,
                x,
                y,
                options.heatmap_stat,
            ))
        }
        None => sensitivity::default_heatmap_pair(&table)
            .map(|(x, y)| sensitivity::heatmap(&table, &ranking, x, y, options.heatmap_stat)),
    };
    let spearman_is_oos = table.has_split().then(|| {
        let k = ranking.metric_index;
        let pairs: Vec<(f64, f64)> = ranking
            .order
            .iter()
            .map(|&i| &table.rows[i])
            .filter_map(|r| Some((r.in_sample.as_ref()?[k], r.out_of_sample.as_ref()?[k])))
            .collect();
        ranking::spearman(&pairs)
    });
    let unknown = unknown_statistics(&found.sweeps, &table);
    Ok(Analysis {
        unknown,
        sweeps: found.sweeps,
        completeness,
        table,
        ranking,
        filter: options.filter.clone(),
        overfitting,
        sensitivity,
        heatmap,
        spearman_is_oos,
    })
}

/// Runs `collect`: analyse, print the ranking on stdout and the completeness account on
/// stderr, write `report/ranking.csv`, `report/ranking.md` (and `report/report.html` with
/// `--report`) into a sweep directory.
pub fn run(options: &Options) -> Result<Verdict, CollectError> {
    let analysis = analyse(options)?;
    let verdict = if analysis.completeness.is_complete() {
        Verdict::Complete
    } else {
        Verdict::Partial
    };
    if !options.quiet {
        sweep_core::err!("{}", analysis.completeness.to_text(20));
        sweep_core::err!("{}", output::overfitting_text(&analysis));
    }
    let shown = options.top.or(match options.format {
        Format::Table => Some(20),
        _ => None,
    });
    let stdout_error = |e: std::io::Error| CollectError::Output {
        what: "stdout".into(),
        message: e.to_string(),
    };
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if options.format == Format::Csv {
        output::write_csv(&analysis, shown, &mut stdout)?;
    } else {
        let text = output::render(&analysis, options.format, shown)?;
        stdout.write_all(text.as_bytes()).map_err(stdout_error)?;
    }
    stdout.flush().map_err(stdout_error)?;
    drop(stdout);
    if let Some(sweep) = analysis.sweeps.first() {
        let dir = sweep.dir.report();
        std::fs::create_dir_all(&dir).map_err(|source| CollectError::Io {
            path: dir.clone(),
            source,
        })?;
        write_file_with(&dir.join("ranking.csv"), |w| {
            output::write_csv(&analysis, options.top, w)
        })?;
        let md = output::render(
            &analysis,
            Format::Markdown,
            Some(options.top.unwrap_or(100)),
        )?;
        write_file(&dir.join("ranking.md"), md.as_bytes())?;
    }
    if options.report {
        let path = match (&options.report_path, analysis.sweeps.first()) {
            (Some(p), _) => p.clone(),
            (None, Some(s)) => s.dir.report().join("report.html"),
            (None, None) => PathBuf::from("report.html"),
        };
        let curves = regenerate::equity_curves(&analysis, options.equity_top);
        let html = report::render(&analysis, &curves);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| CollectError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        write_file(&path, html.as_bytes())?;
        if !options.quiet {
            sweep_core::errln!("collect: wrote {}", path.display());
        }
    }
    Ok(verdict)
}

/// Streams into `path` atomically and world-readable, through
/// [`sweep_core::atomic::write_atomic_with`] (temporary file beside it, fsync, rename).
fn write_file_with(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> Result<(), CollectError>,
) -> Result<(), CollectError> {
    let mut failure = None;
    let written = sweep_core::atomic::write_atomic_with(path, 0o644, |file, _| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &*file);
        if let Err(e) = write(&mut w) {
            failure = Some(e);
            return Err(std::io::Error::other("the content could not be written"));
        }
        w.flush()
    });
    match failure {
        Some(CollectError::Output { message, .. }) => Err(CollectError::Output {
            what: path.display().to_string(),
            message,
        }),
        Some(e) => Err(e),
        None => written.map_err(|source| CollectError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), CollectError> {
    sweep_core::atomic::write_atomic(path, bytes).map_err(|source| CollectError::Io {
        path: path.to_path_buf(),
        source,
    })
}
