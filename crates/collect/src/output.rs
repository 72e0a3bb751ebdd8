//! Output formats of the ranked table: a terminal table (comfy-table), CSV, JSON and
//! Markdown; and the plain-text overfitting summary.

use std::fmt::Write as _;
use std::io::Write;

use comfy_table::{presets, ContentArrangement, Table as Comfy};
use serde_json::{json, Map, Value};

use backtest::{ParamValue, METRICS, METRIC_COUNT};

use crate::table::{MetricValues, Row};
use crate::{Analysis, CollectError, Format};

pub use backtest::metrics::format_metric;

fn param_text(p: Option<&ParamValue>) -> String {
    p.map_or(String::new(), |v| v.to_string())
}

/// One column of the ranked table.
enum Column {
    Rank,
    Name,
    Task,
    Param(usize),
    /// A metric: whole period (`None`), in-sample (`Some(true)`) or out-of-sample.
    Metric(usize, Option<bool>),
    /// The ranking metric over the row's grid neighbourhood (grid sweeps).
    Nbhd(NbhdStat),
}

#[derive(Clone, Copy)]
enum NbhdStat {
    Mean,
    Worst,
    N,
}

/// The neighbourhood figure `stat` of `row` (NaN when it has none).
fn nbhd(a: &Analysis, row: &Row, stat: NbhdStat) -> f64 {
    match a.robust.as_ref().and_then(|r| r.score(&a.table, row)) {
        Some(n) => match stat {
            NbhdStat::Mean => n.mean,
            NbhdStat::Worst => n.worst,
            NbhdStat::N => f64::from(n.n),
        },
        None => f64::NAN,
    }
}

fn header(a: &Analysis, c: &Column) -> String {
    match c {
        Column::Rank => "rank".into(),
        Column::Name => "combo".into(),
        Column::Task => "task".into(),
        Column::Param(k) => a.table.param_names[*k].clone(),
        Column::Metric(k, part) => {
            let n = METRICS[*k].name;
            match part {
                None => n.to_string(),
                Some(true) => format!("is_{n}"),
                Some(false) => format!("oos_{n}"),
            }
        }
        Column::Nbhd(NbhdStat::Mean) => "nbhd_mean".into(),
        Column::Nbhd(NbhdStat::Worst) => "nbhd_worst".into(),
        Column::Nbhd(NbhdStat::N) => "nbhd_n".into(),
    }
}

fn metric_of(row: &Row, part: Option<bool>) -> Option<&MetricValues> {
    match part {
        None => Some(&row.metrics),
        Some(true) => row.in_sample.as_deref(),
        Some(false) => row.out_of_sample.as_deref(),
    }
}

fn cell(a: &Analysis, c: &Column, rank: usize, row: &Row) -> String {
    match c {
        Column::Rank => rank.to_string(),
        Column::Name => a.table.row_name(row),
        Column::Task => row.task.map_or(String::new(), |t| t.to_string()),
        Column::Param(k) => param_text(row.param(*k)),
        Column::Metric(k, part) => metric_of(row, *part)
            .map_or("-".to_string(), |m| format_metric(METRICS[*k].name, m[*k])),
        Column::Nbhd(NbhdStat::N) => format_metric("n_obs", nbhd(a, row, NbhdStat::N)),
        Column::Nbhd(stat) => format_metric(&a.ranking.metric, nbhd(a, row, *stat)),
    }
}

fn columns(a: &Analysis, wide: bool) -> Vec<Column> {
    let mut cols = vec![Column::Rank, Column::Name];
    if wide {
        cols.push(Column::Task);
    }
    cols.extend((0..a.table.param_names.len()).map(Column::Param));
    let by = a.ranking.metric_index;
    let split = a.table.has_split();
    if wide {
        for k in 0..METRIC_COUNT {
            cols.push(Column::Metric(k, None));
        }
        if split {
            for k in 0..METRIC_COUNT {
                cols.push(Column::Metric(k, Some(true)));
            }
            for k in 0..METRIC_COUNT {
                cols.push(Column::Metric(k, Some(false)));
            }
        }
        if a.robust.is_some() {
            cols.extend([NbhdStat::Mean, NbhdStat::Worst, NbhdStat::N].map(Column::Nbhd));
        }
    } else {
        if split {
            cols.push(Column::Metric(by, Some(true)));
            cols.push(Column::Metric(by, Some(false)));
        } else {
            cols.push(Column::Metric(by, None));
        }
        if a.robust.is_some() {
            cols.extend([NbhdStat::Mean, NbhdStat::Worst, NbhdStat::N].map(Column::Nbhd));
        }
        for (k, d) in METRICS.iter().enumerate() {
            if d.shown && (k != by || split) {
                cols.push(Column::Metric(k, None));
            }
        }
    }
    cols
}

/// The ranked rows (at most `top`) in `format`.
pub fn render(a: &Analysis, format: Format, top: Option<usize>) -> Result<String, CollectError> {
    let limit = top.unwrap_or(usize::MAX);
    let rows = a.ranking.order.iter().take(limit).enumerate();
    match format {
        Format::Table => {
            let cols = columns(a, false);
            let mut t = Comfy::new();
            t.load_preset(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(cols.iter().map(|c| header(a, c)));
            for (n, &i) in rows {
                t.add_row(cols.iter().map(|c| cell(a, c, n + 1, &a.table.rows[i])));
            }
            let mut out = String::new();
            for line in rules_lines(a) {
                out.push_str(&line);
                out.push('\n');
            }
            out.push_str(&format!("{t}\n"));
            out.push_str(&footer(a, limit));
            if let Some(p) = &a.pareto {
                out.push_str(&p.report.text());
            }
            Ok(out)
        }
        Format::Markdown => {
            let cols = columns(a, false);
            let mut out = format!(
                "# Ranking of {} by {} ({})\n\n",
                sweep_names(a),
                a.ranking.metric,
                direction_word(a),
            );
            for line in rules_lines(a) {
                out.push_str(&format!("{line}\n\n"));
            }
            out.push_str(&format!("{}\n\n", a.completeness.verdict()));
            out.push_str(&format!(
                "| {} |\n|{}|\n",
                cols.iter()
                    .map(|c| header(a, c))
                    .collect::<Vec<_>>()
                    .join(" | "),
                cols.iter().map(|_| "---").collect::<Vec<_>>().join("|")
            ));
            for (n, &i) in rows {
                out.push_str(&format!(
                    "| {} |\n",
                    cols.iter()
                        .map(|c| cell(a, c, n + 1, &a.table.rows[i]).replace('|', "\\|"))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
            out.push('\n');
            out.push_str(&footer(a, limit));
            if let Some(p) = &a.pareto {
                out.push('\n');
                out.push_str(&p.report.markdown());
            }
            Ok(out)
        }
        Format::Csv => {
            let mut bytes = Vec::new();
            write_csv(a, top, &mut bytes)?;
            String::from_utf8(bytes).map_err(|e| CollectError::Output {
                what: "CSV".into(),
                message: e.to_string(),
            })
        }
        Format::Json => {
            let metrics_obj = |m: &MetricValues| {
                let mut o = Map::new();
                for (k, d) in METRICS.iter().enumerate() {
                    o.insert(d.name.to_string(), json!(finite(m[k])));
                }
                Value::Object(o)
            };
            let ranked: Vec<Value> = rows
                .map(|(n, &i)| {
                    let row = &a.table.rows[i];
                    let mut params = Map::new();
                    for (k, name) in a.table.param_names.iter().enumerate() {
                        if let Some(v) = row.param(k) {
                            params.insert(name.clone(), json!(v));
                        }
                    }
                    let nbhd = a.robust.as_ref().and_then(|r| r.score(&a.table, row)).map(|s| {
                        json!({"peak": finite(s.peak), "mean": finite(s.mean), "worst": finite(s.worst), "n": s.n})
                    });
                    json!({
                        "neighbourhood": nbhd,
                        "rank": n + 1,
                        "combo": row.combo,
                        "name": a.table.row_name(row),
                        "plan": a.table.plans.get(row.plan as usize).map(|p| p.hash.clone()),
                        "task": row.task,
                        "params": params,
                        "metrics": metrics_obj(&row.metrics),
                        "in_sample": row.in_sample.as_deref().map(metrics_obj),
                        "out_of_sample": row.out_of_sample.as_deref().map(metrics_obj),
                    })
                })
                .collect();
            let doc = json!({
                "schema": "slurm-sweep/collect/v1",
                "complete": a.completeness.is_complete(),
                "completeness": a.completeness,
                "ranking": {
                    "metric": a.ranking.metric,
                    "direction": a.ranking.direction,
                    "where": a.filter,
                    "rows_total": a.ranking.total,
                    "rows_passing_filter": a.ranking.passing,
                    "rows": ranked,
                },
                "spearman_in_sample_out_of_sample": a.spearman_is_oos.and_then(finite),
                "overfitting": a.overfitting,
                "sensitivity": a.sensitivity,
                "heatmap": a.heatmap,
                "robust": a.robust.as_ref().map(|r| json!({"rank": r.rank, "k": r.k})),
                "pareto": a.pareto.as_ref().map(|p| &p.report),
            });
            let mut doc = doc;
            if let (Some(wf), Some(o)) = (&a.walk_forward, doc.as_object_mut()) {
                o.insert("walk_forward".into(), json!(wf));
            }
            serde_json::to_string_pretty(&doc)
                .map(|s| s + "\n")
                .map_err(|e| CollectError::Output {
                    what: "JSON".into(),
                    message: e.to_string(),
                })
        }
    }
}

/// Streams the ranked rows (at most `top`) as CSV into `out`, every metric at full
/// precision: nothing proportional to the number of rows is held in memory.
pub fn write_csv(a: &Analysis, top: Option<usize>, out: impl Write) -> Result<(), CollectError> {
    let err = |e: csv::Error| CollectError::Output {
        what: "CSV".into(),
        message: e.to_string(),
    };
    let cols = columns(a, true);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(cols.iter().map(|c| header(a, c)))
        .map_err(err)?;
    let mut field = String::new();
    for (n, &i) in a
        .ranking
        .order
        .iter()
        .take(top.unwrap_or(usize::MAX))
        .enumerate()
    {
        let row = &a.table.rows[i];
        for c in &cols {
            field.clear();
            // Writing into a String cannot fail.
            let _ = match c {
                Column::Rank => write!(field, "{}", n + 1),
                Column::Name => match &row.label {
                    Some(l) => write!(field, "{l}"),
                    None if a.table.plans.len() > 1 => {
                        write!(field, "#{}@{}", row.combo, row.plan)
                    }
                    None => write!(field, "#{}", row.combo),
                },
                Column::Task => match row.task {
                    Some(t) => write!(field, "{t}"),
                    None => Ok(()),
                },
                Column::Param(k) => match row.param(*k) {
                    Some(v) => write!(field, "{v}"),
                    None => Ok(()),
                },
                Column::Metric(k, part) => match metric_of(row, *part).map(|m| m[*k]) {
                    Some(v) if !v.is_nan() => write!(field, "{v}"),
                    _ => Ok(()),
                },
                Column::Nbhd(stat) => match nbhd(a, row, *stat) {
                    v if !v.is_nan() => write!(field, "{v}"),
                    _ => Ok(()),
                },
            };
            w.write_field(&field).map_err(err)?;
        }
        w.write_record(None::<&[u8]>).map_err(err)?;
    }
    w.flush().map_err(|e| CollectError::Output {
        what: "CSV".into(),
        message: e.to_string(),
    })
}

/// The rules of each rules sweep among the inputs, from its spec.toml: one line per sweep,
/// `rules of ma_rules: position = "sma(close, fast) > sma(close, slow)"` (several rules
/// joined by `; `).
pub fn rules_lines(a: &Analysis) -> Vec<String> {
    a.sweeps
        .iter()
        .filter_map(|s| {
            let rules = s.spec.as_ref()?.rules.as_ref()?;
            let texts: Vec<String> = rules
                .texts()
                .iter()
                .map(|(k, t)| format!("{k} = {t:?}"))
                .collect();
            Some(format!("rules of {}: {}", s.plan.name, texts.join("; ")))
        })
        .collect()
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn sweep_names(a: &Analysis) -> String {
    a.table
        .plans
        .iter()
        .map(|p| p.sweep.clone())
        .collect::<Vec<_>>()
        .join(" + ")
}

fn direction_word(a: &Analysis) -> &'static str {
    match a.ranking.direction {
        crate::ranking::Direction::Ascending => "ascending: lower is better",
        crate::ranking::Direction::Descending => "descending: higher is better",
    }
}

fn footer(a: &Analysis, limit: usize) -> String {
    let mut out = String::new();
    let shown = a.ranking.order.len().min(limit);
    let robust = match &a.robust {
        Some(r) if r.rank == crate::robust::RankBy::Robust => {
            format!(" neighbourhood mean (k = {})", r.k)
        }
        _ => String::new(),
    };
    out.push_str(&format!(
        "{shown} of {} ranked row(s) shown, by {}{robust} ({}){}{}\n",
        a.ranking.passing,
        a.ranking.metric,
        direction_word(a),
        if a.table.has_split() {
            ", in-sample"
        } else {
            ""
        },
        a.filter.as_ref().map_or(String::new(), |f| format!(
            ", where {f} ({} row(s) before)",
            a.ranking.total
        )),
    ));
    if let Some(rho) = a.spearman_is_oos {
        out.push_str(&format!(
            "Spearman rank correlation of in-sample and out-of-sample {}: {}\n",
            a.ranking.metric,
            format_metric("", rho)
        ));
    }
    out
}

/// The overfitting figures as a few lines of text.
pub fn overfitting_text(a: &Analysis) -> String {
    let o = &a.overfitting;
    let mut out = format!(
        "overfitting: N = {} trials, V[Sharpe] = {} (daily; {} annualised), E[max Sharpe] under no skill = {} daily ({} annualised)\n",
        o.trials,
        format_sci(o.sharpe_variance_daily),
        format_sci(o.sharpe_variance_annualised),
        format_metric("", o.expected_max_sharpe_daily),
        format_metric("", o.expected_max_sharpe_daily * crate::overfitting::PERIODS_PER_YEAR.sqrt()),
    );
    if let Some(best) = o.top.first() {
        let missing: Vec<&str> = [
            ("skew", best.skew),
            ("kurtosis", best.kurtosis),
            ("n_obs", best.n_obs),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_nan())
        .map(|(n, _)| n)
        .collect();
        let why = if missing.is_empty() {
            String::new()
        } else {
            format!(
                " (not computed: the run has no {}, which the DSR needs)",
                missing.join(", ")
            )
        };
        out.push_str(&format!(
            "  Deflated Sharpe Ratio of the best ({}, Sharpe {}): {}{why}\n",
            best.name,
            format_metric("", best.sharpe_annualised),
            format_metric("", best.dsr)
        ));
    }
    match (&o.pbo, &o.pbo_note) {
        (Some(p), _) => out.push_str(&format!(
            "  PBO (CSCV, S = {}, {} splits, {} strategies, T = {}): {}\n",
            p.blocks,
            p.splits,
            p.strategies,
            p.observations,
            format_metric("", p.pbo)
        )),
        (None, Some(note)) => out.push_str(&format!("  PBO: {note}\n")),
        (None, None) => {}
    }
    if let Some(u) = &a.unknown {
        out.push_str(&format!(
            "  cannot be computed from these results (shown as -): {u}\n"
        ));
    }
    out
}

fn format_sci(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.4e}")
    }
}
