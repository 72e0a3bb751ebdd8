//! `collect`: merges the result files of a sweep into one ranked table, says plainly what
//! is missing, failed, duplicated or corrupt, states the overfitting figures (Deflated
//! Sharpe Ratio, PBO) and writes reports.
//!
//! The binary parses flags into [`Options`] and calls [`run`], which returns the
//! [`Verdict`] that becomes the exit code: 0 complete, 1 partial, 2 error.
//!
//! It streams ([`analyse`]): a first pass over the files for the completeness account, then
//! the accepted files' rows in combination order, each fed once to the accumulators of
//! [`stream::Pipeline`] (memory bounded by what is shown) and written to the sweep's
//! `report/results.csv` and `report/results.parquet` ([`fulltable`]).
//!
//! ```no_run
//! let options = collect::Options::new(vec!["sweeps/ma_cross-1a2b3c4d".into()]);
//! let verdict = collect::run(&options)?;
//! std::process::exit(verdict.exit_code());
//! # Ok::<(), collect::CollectError>(())
//! ```

pub mod aggregate;
pub mod completeness;
pub mod filter;
pub mod fulltable;
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
pub mod stream;
pub mod svg;
pub mod table;
pub mod walk_forward;

use std::io::Write;
use std::path::PathBuf;

use aggregate::HeatmapAgg;
use completeness::Completeness;
use filter::Filter;
use overfitting::Overfitting;
use ranking::{Direction, Ranking};
use sensitivity::{CellStat, Heatmap, ParamSensitivity};
use table::{Row, Table};

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
    #[error("{path}: changed while collect was reading it: {message}")]
    Changed { path: PathBuf, message: String },
    #[error(transparent)]
    Robust(#[from] robust::RobustError),
    #[error(transparent)]
    Pareto(#[from] pareto::ParetoError),
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
    /// The ranking values of the ranked rows, or a uniform sample of
    /// [`stream::DISTRIBUTION_SAMPLE`] of them (the report's histogram).
    pub distribution: Vec<f64>,
    /// Neighbourhood scores, when the parameters form a grid.
    pub robust: Option<robust::RobustAnalysis>,
    /// `--pareto`: the front.
    pub pareto: Option<pareto::ParetoAnalysis>,
    /// The walk-forward analysis, when the (first) sweep's plan has windows.
    pub walk_forward: Option<walk_forward::WalkForwardResult>,
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

/// Rows `report/ranking.csv` holds without `--top`.
pub const RANKING_CSV_ROWS: usize = 1000;

/// The rows the streaming collect keeps (the top of the ranking): what any output shows
/// (the terminal's 20 or `--top`, ranking.md's 100, ranking.csv's 1000, the DSR rows, the
/// report's 50 and its equity curves). `None` (every ranked row) only for csv/json/md on
/// stdout without `--top`, which print them all.
pub fn kept_rows(options: &Options) -> Option<usize> {
    if options.top.is_none() && options.format != Format::Table {
        return None;
    }
    let t = options.top;
    let report = if options.report {
        options.equity_top.max(50)
    } else {
        0
    };
    Some(
        t.unwrap_or(20)
            .max(t.unwrap_or(100))
            .max(t.unwrap_or(RANKING_CSV_ROWS))
            .max(options.dsr_top)
            .max(report),
    )
}

/// Reads, checks, merges and ranks, streaming: a first pass over the files for the
/// completeness checks and the table's columns, then the accepted files' rows in
/// combination order, each fed once to the accumulators of [`stream::Pipeline`] and, for
/// a sweep directory, written to `report/results.csv` and `report/results.parquet`
/// ([`fulltable`]). Memory is bounded by what is shown (see [`kept_rows`]).
pub fn analyse(options: &Options) -> Result<Analysis, CollectError> {
    overfitting::check_blocks(options.pbo_blocks)?;
    let pareto_metrics = options.pareto.as_deref().map(pareto::parse_metrics);
    let pareto_metrics = pareto_metrics.transpose()?;
    let found = inputs::discover(&options.inputs)?;
    if found.files.is_empty() && found.sweeps.is_empty() {
        return Err(CollectError::NoResults);
    }
    let keep_returns = match options.pbo {
        PboMode::Always => true,
        PboMode::Never => false,
        PboMode::Auto => found.sweeps.iter().any(|s| s.keeps_returns()),
    };
    let parsed = inputs::scan_all(&found.files, keep_returns);
    let (mut param_names, mut param_kinds) = inputs::param_columns(&parsed);
    let split = parsed
        .iter()
        .any(|p| matches!(p, inputs::Parsed::Result(r) if r.split));
    let (mut accepted, mut completeness) = completeness::assess(
        &found.sweeps,
        parsed,
        found.quarantined,
        options.allow_mixed,
    )?;
    manifest_columns(&found.sweeps, &accepted, &mut param_names, &mut param_kinds);
    let names_only = Table {
        param_names: param_names.clone(),
        ..Table::default()
    };
    let filter = options
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, &param_names))
        .transpose()?;
    let metric_index = table::metric_index(&options.by)
        .ok_or_else(|| ranking::RankError::UnknownMetric(options.by.clone()))?;
    let direction = options
        .direction
        .unwrap_or_else(|| Direction::default_for(&options.by));
    let heatmap = match &options.heatmap {
        Some(pair) => Some(sensitivity::parse_pair(pair, &names_only)?),
        None => default_heatmap_pair(&found.sweeps, &param_names),
    }
    .map(|(x, y)| {
        let axis = |k: usize| spec_axis(&found.sweeps, &param_names[k]);
        HeatmapAgg::new(x, y, options.heatmap_stat, direction)
            .binned(axis(x).as_deref(), axis(y).as_deref())
    });
    let mut pipeline = stream::Pipeline::new(
        metric_index,
        direction,
        filter.as_ref(),
        kept_rows(options),
        param_names.len(),
        heatmap,
        keep_returns,
    );
    pipeline.grid = grid_fill(&found.sweeps, accepted.plans.len(), &param_names);
    pipeline.pareto = pareto_metrics.map(|m| stream::FrontFill::new(pareto::ParetoFront::new(m)));
    pipeline.walk_forward = walk_forward_fill(&found.sweeps, &accepted, &param_names, options);
    let schema = fulltable::TableSchema {
        plans: accepted.plans.clone(),
        param_names: param_names.clone(),
        param_kinds,
        split,
        labels: !accepted.qstrader.is_empty(),
    };
    match found.sweeps.first() {
        Some(sweep) => {
            let dir = sweep.dir.report();
            std::fs::create_dir_all(&dir).map_err(|source| CollectError::Io {
                path: dir.clone(),
                source,
            })?;
            write_table_files(&dir, &schema, |sink| {
                stream_rows(
                    &mut accepted,
                    &found.sweeps,
                    &param_names,
                    keep_returns,
                    &mut pipeline,
                    sink,
                )
            })?;
        }
        None => stream_rows(
            &mut accepted,
            &found.sweeps,
            &param_names,
            keep_returns,
            &mut pipeline,
            &mut |_, _| Ok(()),
        )?,
    }
    let stream::Pipeline {
        top,
        params,
        heatmap,
        trials,
        spearman,
        pbo,
        distribution,
        known,
        ok_rows,
        ranked,
        never_traded,
        grid,
        pareto,
        walk_forward,
        ..
    } = pipeline;
    let mut rows = top.into_sorted();
    let grid = match grid {
        Some(g) if g.observe.is_some() => Some(fill_observed_grid(
            g,
            ok_rows,
            |p| {
                stream_rows(
                    &mut accepted,
                    &found.sweeps,
                    &param_names,
                    false,
                    p,
                    &mut |_, _| Ok(()),
                )
            },
            || {
                let width = param_names.len();
                stream::Pipeline::new(metric_index, direction, None, Some(1), width, None, false)
            },
        )?),
        other => other,
    };
    let robust = match grid {
        Some(stream::GridFill {
            error: None,
            grid: Some(grid),
            ..
        }) => {
            let means = grid.neighbourhood_means(options.robust_k);
            Some(robust::RobustAnalysis {
                rank: options.rank,
                k: options.robust_k,
                direction,
                grid,
                means,
                metric_index,
            })
        }
        Some(stream::GridFill { error: Some(e), .. }) if options.rank == robust::RankBy::Robust => {
            return Err(e.into())
        }
        None if options.rank == robust::RankBy::Robust => {
            return Err(robust::RobustError::NoSweep.into())
        }
        _ => None,
    };
    if let Some(r) = robust.as_ref().filter(|r| r.rank == robust::RankBy::Robust) {
        // A second pass ranks by the neighbourhood mean, known only now: the same rows and
        // filter, the top kept by each row's grid point's mean.
        let mut second = stream::Pipeline::new(
            metric_index,
            direction,
            filter.as_ref(),
            kept_rows(options),
            param_names.len(),
            None,
            false,
        );
        let names = &param_names;
        second.rank_value = Some(Box::new(move |row: &Row| {
            r.grid
                .point_of_row(names, &row.params)
                .map_or(f64::NAN, |p| f64::from(r.means[p]))
        }));
        stream_rows(
            &mut accepted,
            &found.sweeps,
            &param_names,
            false,
            &mut second,
            &mut |_, _| Ok(()),
        )?;
        rows = second.top.into_sorted();
    }
    let table = Table {
        plans: accepted.plans,
        param_names,
        split,
        known: (ok_rows > 0).then_some(known),
        rows,
    };
    let ranking = Ranking {
        metric: options.by.clone(),
        metric_index,
        direction,
        order: (0..table.rows.len()).collect(),
        total: ok_rows,
        passing: ranked,
    };
    completeness.never_traded = never_traded;
    let overfitting = overfitting::summarise(
        &table,
        &ranking,
        options.dsr_top,
        &trials,
        pbo,
        options.pbo_blocks,
    );
    let sensitivity = params.finish(&table.param_names);
    let heatmap = heatmap.map(|h| h.finish(&table.param_names, &options.by));
    let spearman_is_oos = table.has_split().then(|| ranking::spearman(&spearman));
    let pareto = pareto.map(|p| {
        let name = |r: &stream::FrontRow| match &r.label {
            Some(l) => l.clone(),
            None if table.plans.len() > 1 => format!("#{}@{}", r.combo, r.plan),
            None => format!("#{}", r.combo),
        };
        let mut report = pareto::ParetoReport::new(&p.front, |id| match p.rows.get(&id) {
            Some(r) => (
                name(r),
                table
                    .param_names
                    .iter()
                    .zip(&r.params)
                    .filter_map(|(n, v)| Some(format!("{n}={}", v.as_ref()?)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => (format!("#{id}"), String::new()),
        });
        // Report combination indices, not stream positions.
        for e in &mut report.front {
            if let Some(r) = p.rows.get(&e.id) {
                e.id = r.combo;
            }
        }
        pareto::ParetoAnalysis {
            front: p.front,
            report,
        }
    });
    let walk_forward = walk_forward.and_then(|w| finish_walk_forward(&found.sweeps, w, options));
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
        distribution: distribution.values,
        robust,
        pareto,
        walk_forward,
    })
}

/// Where a row goes besides the accumulators: the full table's files.
type Sink<'a> = dyn FnMut(&Row, Option<&str>) -> Result<(), CollectError> + 'a;

/// The second pass: the accepted files in plan and task order, read in parallel batches,
/// their rows handed one by one (in combination order) to `sink` (every row) and to the
/// pipeline (successful rows); then the QSTrader files' rows. A row's parameters move
/// through one reused buffer.
/// The robust grid of a single sweep (or of result files of one plan): from the planned
/// spec's parameter axes when it has them, else from the parameter values the stream
/// observes (then filled in a second pass, [`fill_observed_grid`]). `None` for several
/// plans or no parameters. A grid that cannot be built (not a grid, too large) is kept as
/// its error: `--rank robust` reports it, the peak ranking goes on without neighbourhoods.
fn grid_fill(
    sweeps: &[inputs::SweepInput],
    plans: usize,
    names: &[String],
) -> Option<stream::GridFill> {
    if plans != 1 || names.is_empty() || sweeps.len() > 1 {
        return None;
    }
    let fill = |grid, error| stream::GridFill {
        grid,
        observe: None,
        names: names.to_vec(),
        error,
    };
    let from_spec = sweeps
        .first()
        .and_then(|s| Some((s.spec.as_ref()?, s.plan.combos)))
        .filter(|(spec, _)| !spec.params.is_empty());
    Some(match from_spec {
        Some((spec, combos)) => match robust::RobustGrid::from_spec(spec, combos) {
            Ok(g) => fill(Some(g), None),
            Err(e) => fill(None, Some(e)),
        },
        None => stream::GridFill {
            observe: Some(robust::AxesBuilder::new(names)),
            ..fill(None, None)
        },
    })
}

/// Builds the grid of the parameter values observed in the first pass and fills it with a
/// second pass over the same rows.
fn fill_observed_grid(
    fill: stream::GridFill,
    ok_rows: usize,
    pass: impl FnOnce(&mut stream::Pipeline<'_>) -> Result<(), CollectError>,
    new_pipeline: impl FnOnce() -> stream::Pipeline<'static>,
) -> Result<stream::GridFill, CollectError> {
    let stream::GridFill {
        observe: Some(builder),
        names,
        ..
    } = fill
    else {
        return Ok(fill);
    };
    let grid = match robust::RobustGrid::new(builder.finish(), ok_rows as u64) {
        Ok(g) => g,
        Err(e) => {
            return Ok(stream::GridFill {
                grid: None,
                observe: None,
                names,
                error: Some(e),
            })
        }
    };
    let mut second = new_pipeline();
    second.grid = Some(stream::GridFill {
        grid: Some(grid),
        observe: None,
        names,
        error: None,
    });
    pass(&mut second)?;
    Ok(second.grid.take().unwrap_or(stream::GridFill {
        grid: None,
        observe: None,
        names: Vec::new(),
        error: Some(robust::RobustError::NoParams),
    }))
}

/// A parameter's values in a single sweep's planned spec, numbers in ascending order.
fn spec_axis(sweeps: &[inputs::SweepInput], name: &str) -> Option<Vec<backtest::ParamValue>> {
    let [sweep] = sweeps else { return None };
    let p = sweep
        .spec
        .as_ref()?
        .params
        .iter()
        .find(|p| p.name == name)?;
    let mut values = p.axis.expand().ok()?;
    if values.iter().all(|v| v.as_f64().is_some()) {
        values.sort_by(|a, b| {
            a.as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b.as_f64().unwrap_or(0.0))
        });
        values.dedup();
    }
    Some(values)
}

/// The heatmap's default pair: the two parameters with the most values (ties: parameter
/// order), counted on the planned spec's axes of a single sweep; else the first two.
fn default_heatmap_pair(sweeps: &[inputs::SweepInput], names: &[String]) -> Option<(usize, usize)> {
    let counts: Vec<usize> = names
        .iter()
        .map(|n| spec_axis(sweeps, n).map_or(0, |v| v.len()))
        .collect();
    if counts.iter().filter(|&&n| n > 0).count() >= 2 {
        sensitivity::heatmap_pair_by_counts(&counts)
    } else {
        (names.len() >= 2).then_some((0, 1))
    }
}

/// The walk-forward selector of the first sweep, when its plan has windows.
fn walk_forward_fill(
    sweeps: &[inputs::SweepInput],
    accepted: &completeness::Accepted,
    names: &[String],
    options: &Options,
) -> Option<stream::WalkForwardFill> {
    let sweep = sweeps.first()?;
    let plan = sweep.plan.walk_forward.as_ref()?;
    let index = accepted
        .plans
        .iter()
        .position(|p| p.hash == sweep.plan.hash)? as u16;
    let mut problems = Vec::new();
    let selector =
        match walk_forward::Selector::new(&options.by, options.direction, plan.windows.len()) {
            Ok(s) => s,
            Err(e) => {
                problems.push(e.to_string());
                walk_forward::Selector::new("sharpe", None, plan.windows.len()).ok()?
            }
        };
    Some(stream::WalkForwardFill {
        selector,
        names: names.to_vec(),
        plan: index,
        problems,
    })
}

/// The walk-forward result: the choices stitched through the engine (the planned spec's
/// strategy on its data).
fn finish_walk_forward(
    sweeps: &[inputs::SweepInput],
    fill: stream::WalkForwardFill,
    options: &Options,
) -> Option<walk_forward::WalkForwardResult> {
    let sweep = sweeps.first()?;
    let plan = sweep.plan.walk_forward.as_ref()?;
    let stream::WalkForwardFill {
        selector,
        mut problems,
        ..
    } = fill;
    let choices = selector.finish();
    let engine = match &sweep.spec {
        Some(spec) => walk_forward::Engine::load(spec),
        None => Err(format!(
            "the spec could not be read: {}",
            sweep.spec_problem.clone().unwrap_or_default()
        )),
    };
    let mut result = walk_forward::stitch(
        plan,
        &choices,
        engine.as_ref().map_err(Clone::clone),
        options.filter.as_deref(),
    );
    problems.append(&mut result.problems);
    result.problems = problems;
    Some(result)
}

fn stream_rows(
    accepted: &mut completeness::Accepted,
    sweeps: &[inputs::SweepInput],
    names: &[String],
    keep_returns: bool,
    pipeline: &mut stream::Pipeline<'_>,
    sink: &mut Sink<'_>,
) -> Result<(), CollectError> {
    use rayon::prelude::*;
    let counts: Vec<u64> = accepted
        .results
        .iter()
        .map(|(_, r)| r.header.count)
        .collect();
    let mut manifests: Vec<inputs::ManifestCursor> = sweeps
        .iter()
        .map(|s| inputs::ManifestCursor::new(s.dir.manifest()))
        .collect();
    let mut scratch: Vec<Option<backtest::ParamValue>> = Vec::with_capacity(names.len());
    for batch in inputs::batches(&counts) {
        let files = &accepted.results[batch];
        let read: Vec<_> = files
            .par_iter()
            .map(|(_, r)| inputs::read_rows(&r.header.path, keep_returns, names))
            .collect();
        for ((plan, r), file) in files.iter().zip(read) {
            let file = file.map_err(|p| CollectError::Changed {
                path: r.header.path.clone(),
                message: p.message,
            })?;
            let inputs::FileRows {
                width,
                rows,
                mut params,
                errors,
                extras,
                has_params,
            } = file;
            let manifest = (!has_params && width > 0)
                .then(|| manifests.get_mut(*plan as usize))
                .flatten();
            let mut manifest = manifest;
            for (j, ((mut row, error), extra)) in
                rows.into_iter().zip(errors).zip(extras).enumerate()
            {
                row.plan = *plan;
                row.params = std::mem::take(&mut scratch);
                row.params.clear();
                row.params.extend(
                    params[j * width..(j + 1) * width]
                        .iter_mut()
                        .map(Option::take),
                );
                if let Some(m) = manifest.as_deref_mut() {
                    m.params(row.combo, names, &mut row.params)
                        .map_err(|message| CollectError::Changed {
                            path: r.header.path.clone(),
                            message,
                        })?;
                }
                sink(&row, error.as_deref())?;
                if error.is_none() {
                    pipeline.push(&mut row, &extra);
                }
                scratch = std::mem::take(&mut row.params);
            }
        }
    }
    let qs_plan = accepted
        .plans
        .iter()
        .position(|p| p.hash == completeness::QSTRADER_PLAN)
        .unwrap_or(0) as u16;
    for (n, q) in std::mem::take(&mut accepted.qstrader)
        .into_iter()
        .enumerate()
    {
        let mut row = Row {
            combo: n as u64,
            plan: qs_plan,
            task: None,
            label: Some(q.name),
            params: vec![None; names.len()],
            metrics: q.metrics,
            in_sample: None,
            out_of_sample: None,
            returns: q.returns,
        };
        sink(&row, None)?;
        pipeline.push(&mut row, &stream::Extras::default());
    }
    Ok(())
}

/// For sweeps whose result files do not name parameters (result schema v2: they come from
/// the manifest), the columns from the manifest's first line.
fn manifest_columns(
    sweeps: &[inputs::SweepInput],
    accepted: &completeness::Accepted,
    names: &mut Vec<String>,
    kinds: &mut Vec<Option<fulltable::ParamKind>>,
) {
    for (k, s) in sweeps.iter().enumerate() {
        let nameless = accepted
            .results
            .iter()
            .any(|(plan, r)| *plan as usize == k && r.params.is_empty() && r.header.count > 0);
        if !nameless {
            continue;
        }
        let Ok(first) = sweep_core::manifest::read_range(&s.dir.manifest(), 0..1) else {
            continue;
        };
        for entry in first {
            for (name, value) in entry.params {
                if !names.contains(&name) {
                    names.push(name);
                    kinds.push(Some(fulltable::ParamKind::of(&value)));
                }
            }
        }
    }
}

/// Streams the full table into `dir/results.csv` and `dir/results.parquet`, both atomically
/// (temporary file, fsync, rename, through [`sweep_core::atomic`]): `body` gets the sink
/// that writes a row to both.
fn write_table_files(
    dir: &std::path::Path,
    schema: &fulltable::TableSchema,
    body: impl FnOnce(&mut Sink<'_>) -> Result<(), CollectError>,
) -> Result<(), CollectError> {
    let csv_path = dir.join("results.csv");
    let pq_path = dir.join("results.parquet");
    let table_err = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |e: fulltable::TableError| CollectError::Output {
            what: path.clone(),
            message: e.to_string(),
        }
    };
    let mut outcome: Option<Result<(), CollectError>> = None;
    let written = sweep_core::atomic::write_atomic_with(&csv_path, 0o644, |csv_file, _| {
        sweep_core::atomic::write_atomic_with(&pq_path, 0o644, |pq_file, _| {
            let result = (|| {
                let mut table = fulltable::FullTable::new(
                    schema.clone(),
                    std::io::BufWriter::with_capacity(1 << 20, &*csv_file),
                    std::io::BufWriter::with_capacity(1 << 20, &*pq_file),
                )
                .map_err(table_err(&pq_path))?;
                let mut sink = |row: &Row, error: Option<&str>| {
                    table.write(row, error).map_err(table_err(&csv_path))
                };
                body(&mut sink)?;
                let (mut a, mut b) = table.finish().map_err(table_err(&pq_path))?;
                a.flush().map_err(|source| CollectError::Io {
                    path: csv_path.clone(),
                    source,
                })?;
                b.flush().map_err(|source| CollectError::Io {
                    path: pq_path.clone(),
                    source,
                })
            })();
            let failed = result.is_err();
            outcome = Some(result);
            if failed {
                Err(std::io::Error::other("the table could not be written"))
            } else {
                Ok(())
            }
        })
    });
    match outcome {
        Some(Err(e)) => Err(e),
        _ => written.map_err(|source| CollectError::Io {
            path: csv_path.clone(),
            source,
        }),
    }
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
        if let (Some(p), false) = (&analysis.pareto, options.quiet) {
            sweep_core::err!("{}", p.report.text());
        }
    } else {
        let text = output::render(&analysis, options.format, shown)?;
        stdout.write_all(text.as_bytes()).map_err(stdout_error)?;
    }
    if let (Format::Table, Some(wf)) = (options.format, &analysis.walk_forward) {
        stdout
            .write_all(format!("\n{}", walk_forward::to_text(wf)).as_bytes())
            .map_err(stdout_error)?;
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
            output::write_csv(&analysis, options.top.or(Some(RANKING_CSV_ROWS)), w)
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
