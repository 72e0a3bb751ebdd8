//! The self-contained HTML report (`report/report.html`): the header (with the rules of a
//! `strategy = "rules"` sweep, as its spec.toml has them), summary, completeness, the ranked
//! table, parameter sensitivity and heatmap, regenerated equity curves and drawdowns of the
//! top rows, the distribution of the ranking metric, and the overfitting figures. Inline CSS
//! and SVG only: it opens without a network and runs no script.

use std::fmt::Write;

use chrono::Datelike;

use crate::completeness::short;
use crate::output::{self, format_metric};
use crate::ranking::Direction;
use crate::regenerate::{drawdowns, Curves};
use crate::svg::{self, escape, Series};
use crate::{Analysis, Format};

const CSS: &str = r#"
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px 32px;color:#222;max-width:1300px}
h1{font-size:24px;margin-bottom:4px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin-top:0}
.ok{color:#1a7f37;font-weight:600} .bad{color:#b42318;font-weight:600}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f5f7fa}
td.l,th.l{text-align:left}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:150px}
.card .v{font-size:20px;font-weight:600} .card .k{color:#666;font-size:12px}
pre{background:#f7f7f7;padding:6px 10px;font-size:12px;overflow-x:auto}
.note{color:#666;font-size:13px}
svg.chart{display:block;margin:8px 0}
svg .ctitle{font-size:13px;font-weight:600} svg .tick{font-size:11px;fill:#444} svg .cell{font-size:10px} svg .axis{font-size:12px}
"#;

/// Renders the report.
pub fn render(a: &Analysis, curves: &Curves) -> String {
    let mut h = String::new();
    let names: Vec<String> = a.table.plans.iter().map(|p| p.sweep.clone()).collect();
    let title = format!("collect report: {}", names.join(" + "));
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
        escape(&title)
    );
    let _ = write!(h, "<h1>{}</h1>", escape(&title));
    let _ = write!(
        h,
        "<p class=\"sub\">Generated {} by collect {}.</p>",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        env!("CARGO_PKG_VERSION")
    );
    rules(&mut h, a);
    summary(&mut h, a);
    completeness(&mut h, a);
    ranked_table(&mut h, a);
    robustness(&mut h, a);
    if let Some(p) = &a.pareto {
        h.push_str(&p.report.html_section(&p.front));
    }
    overfitting(&mut h, a);
    if let Some(wf) = &a.walk_forward {
        h.push_str(&crate::walk_forward::to_html(wf));
    }
    sensitivity(&mut h, a);
    equity(&mut h, a, curves);
    distribution(&mut h, a);
    h.push_str("</body></html>\n");
    h
}

/// The rules of each rules sweep, in the header: every rule with its text, and the
/// declared parameters.
fn rules(h: &mut String, a: &Analysis) {
    for s in &a.sweeps {
        let Some(rules) = s.spec.as_ref().and_then(|spec| spec.rules.as_ref()) else {
            continue;
        };
        let _ = write!(
            h,
            "<div class=\"rules\"><p>Strategy <code>rules</code> of {}:</p><pre>",
            escape(&s.plan.name)
        );
        for (k, text) in rules.texts() {
            let _ = writeln!(h, "{k:<8} = {}", escape(text));
        }
        h.push_str("</pre>");
        if !rules.params.is_empty() {
            let params: Vec<String> = rules
                .params
                .iter()
                .map(|p| format!("{} ({}, default {})", p.name, p.kind, p.default))
                .collect();
            let _ = write!(
                h,
                "<p class=\"note\">Parameters: {}.</p>",
                escape(&params.join(", "))
            );
        }
        h.push_str("</div>");
    }
}

fn card(h: &mut String, key: &str, value: &str) {
    let _ = write!(
        h,
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>",
        escape(key),
        escape(value)
    );
}

fn summary(h: &mut String, a: &Analysis) {
    let c = &a.completeness;
    h.push_str("<h2 id=\"summary\">Summary</h2>");
    let verdict_class = if c.is_complete() { "ok" } else { "bad" };
    let _ = write!(
        h,
        "<p>Status: <span class=\"{verdict_class}\">{}</span></p><div class=\"cards\">",
        escape(&c.verdict())
    );
    for p in &c.plans {
        card(h, "plan", &format!("{} ({})", p.sweep, short(&p.hash)));
    }
    card(
        h,
        "combinations ok",
        &match c.expected_combos() {
            Some(e) => format!("{} / {e}", c.combos_ok),
            None => c.combos_ok.to_string(),
        },
    );
    card(h, "failed combinations", &c.combos_failed.to_string());
    card(h, "result files", &c.files_read.to_string());
    card(
        h,
        "ranked by",
        &format!("{} ({})", a.ranking.metric, dir(a)),
    );
    if let Some(best) = a.ranking.order.first().map(|&i| &a.table.rows[i]) {
        card(
            h,
            "best",
            &format!(
                "{}: {}",
                a.table.row_name(best),
                format_metric(&a.ranking.metric, a.ranking.value(best))
            ),
        );
    }
    if let Some(rho) = a.spearman_is_oos {
        card(h, "Spearman IS/OOS", &format_metric("", rho));
    }
    h.push_str("</div>");
    if let Some(f) = &a.filter {
        let _ = write!(
            h,
            "<p class=\"note\">Filter: <code>{}</code> keeps {} of {} rows.</p>",
            escape(f),
            a.ranking.passing,
            a.ranking.total
        );
    }
}

fn dir(a: &Analysis) -> &'static str {
    match a.ranking.direction {
        Direction::Ascending => "lower is better",
        Direction::Descending => "higher is better",
    }
}

fn completeness(h: &mut String, a: &Analysis) {
    let c = &a.completeness;
    h.push_str("<h2 id=\"completeness\">Completeness</h2>");
    let _ = write!(
        h,
        "<p>{} file(s) read; {} task(s) with results; {} missing task(s); {} failed combination(s) in {} task(s); {} task(s) with disagreeing results; {} duplicate task(s); {} unusable file(s); {} unfinished write(s); {} quarantined file(s); {} ranked combination(s) that never traded.</p>",
        c.files_read,
        c.tasks_with_results,
        c.missing_tasks.len(),
        c.failed_runs.len(),
        c.failed_tasks.len(),
        c.conflict_tasks.len(),
        c.duplicates.len(),
        c.corrupt.len(),
        c.temp_files.len(),
        c.quarantined.len(),
        c.never_traded
    );
    let limit = 200;
    let problems = |h: &mut String, title: &str, items: &[crate::completeness::TaskProblem]| {
        if items.is_empty() {
            return;
        }
        let _ = write!(h, "<h3>{}</h3><table><tr><th>task</th><th>combinations</th><th class=\"l\">what</th><th class=\"l\">log</th></tr>", escape(title));
        for t in items.iter().take(limit) {
            let log = t.log.as_ref().map_or("no .err log found".to_string(), |l| {
                format!(
                    "{}<pre>{}</pre>",
                    escape(&l.path.display().to_string()),
                    escape(&l.lines.join("\n"))
                )
            });
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}..{}</td><td class=\"l\">{}</td><td class=\"l\">{log}</td></tr>",
                t.task,
                t.combos.0,
                t.combos.1,
                escape(&t.what)
            );
        }
        h.push_str("</table>");
        if items.len() > limit {
            let _ = write!(
                h,
                "<p class=\"note\">… and {} more.</p>",
                items.len() - limit
            );
        }
    };
    problems(h, "Missing tasks", &c.missing_tasks);
    problems(h, "Tasks with failed combinations", &c.failed_tasks);
    problems(h, "Tasks whose results disagree", &c.conflict_tasks);
    if !c.failed_runs.is_empty() {
        h.push_str("<h3>Failed combinations</h3><table><tr><th>combo</th><th>task</th><th class=\"l\">parameters</th><th class=\"l\">error</th></tr>");
        for f in c.failed_runs.iter().take(limit) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                f.combo,
                f.task,
                escape(&f.params),
                escape(&f.error)
            );
        }
        h.push_str("</table>");
    }
    if !c.duplicates.is_empty() {
        h.push_str("<h3>Duplicate results</h3><table><tr><th>task</th><th class=\"l\">kept</th><th class=\"l\">not used</th></tr>");
        for d in c.duplicates.iter().take(limit) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"l\">{} ({})</td><td class=\"l\">{}</td></tr>",
                d.task,
                escape(&d.kept.display().to_string()),
                d.kept_finished.to_rfc3339(),
                escape(&crate::completeness::dropped_text(&d.dropped))
            );
        }
        h.push_str("</table>");
    }
    if !c.corrupt.is_empty() {
        h.push_str("<h3>Unusable files</h3><table><tr><th class=\"l\">file</th><th class=\"l\">kind</th><th class=\"l\">reason</th></tr>");
        for f in c.corrupt.iter().take(limit) {
            let _ = write!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                escape(&f.path.display().to_string()),
                f.kind,
                escape(&f.reason)
            );
        }
        h.push_str("</table>");
    }
    if !c.temp_files.is_empty() {
        h.push_str("<h3>Unfinished writes (temporary files)</h3><ul>");
        for t in c.temp_files.iter().take(limit) {
            let _ = write!(h, "<li>{}</li>", escape(&t.display().to_string()));
        }
        h.push_str("</ul>");
    }
    if !c.quarantined.is_empty() {
        h.push_str("<h3>Quarantined files</h3><ul>");
        for q in c.quarantined.iter().take(limit) {
            let _ = write!(h, "<li>{}</li>", escape(&q.display().to_string()));
        }
        h.push_str("</ul>");
    }
    for n in &c.notes {
        let _ = write!(h, "<p class=\"note\">Note: {}</p>", escape(n));
    }
}

fn ranked_table(h: &mut String, a: &Analysis) {
    h.push_str("<h2 id=\"ranking\">Ranking</h2>");
    // Reuse the Markdown columns: parse nothing, render the same cells as HTML.
    let md = output::render(a, Format::Markdown, Some(50)).unwrap_or_default();
    // The ranked table only: the first run of table lines (a Pareto table may follow).
    let mut lines = md
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'));
    if let Some(head) = lines.next() {
        h.push_str("<table><tr>");
        for c in split_md(head) {
            let _ = write!(h, "<th>{}</th>", escape(&c));
        }
        h.push_str("</tr>");
        for line in lines.skip(1) {
            h.push_str("<tr>");
            for c in split_md(line) {
                let _ = write!(h, "<td>{}</td>", escape(&c));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    let _ = write!(
        h,
        "<p class=\"note\">Top {} of {} ranked rows, by {} ({}){}. The top rows are in ranking.csv, every combination in results.csv and results.parquet.</p>",
        a.ranking.order.len().min(50),
        a.ranking.passing,
        escape(&a.ranking.metric),
        dir(a),
        if a.table.has_split() {
            "; ranked in-sample, out-of-sample beside it"
        } else {
            ""
        }
    );
}

/// The Robustness section: the top rows' peak next to their neighbourhood, the heatmap of
/// the peak and the same pair's neighbourhood mean.
fn robustness(h: &mut String, a: &Analysis) {
    let Some(r) = &a.robust else {
        return;
    };
    let rows = r.rows(&a.table, &a.ranking, 20);
    let higher = a.ranking.direction == Direction::Descending;
    let mut maps = String::new();
    if let Some(m) = &a.heatmap {
        maps.push_str("<div class=\"cards\">");
        maps.push_str(&svg::heatmap(
            &format!("{} (peak, best per cell) by {} and {}", m.metric, m.x, m.y),
            &m.x,
            &m.y,
            &m.x_values,
            &m.y_values,
            &m.cells,
            higher,
        ));
        if let Some(mean) = r.mean_heatmap(&m.x, &m.y) {
            let mean = mean.reordered(&m.x_values, &m.y_values);
            maps.push_str(&svg::heatmap(
                &format!(
                    "{} neighbourhood mean (k = {}, best per cell) by {} and {}",
                    m.metric, r.k, m.x, m.y
                ),
                &mean.x,
                &mean.y,
                &mean.x_values,
                &mean.y_values,
                &mean.cells,
                higher,
            ));
        }
        maps.push_str("</div>");
    }
    h.push_str(&crate::robust::html_section(
        &a.ranking.metric,
        r.k,
        r.rank,
        &rows,
        (!maps.is_empty()).then_some(maps.as_str()),
    ));
}

fn split_md(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'|') {
            cur.push('|');
            chars.next();
        } else if c == '|' {
            cells.push(cur.trim().to_string());
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

fn overfitting(h: &mut String, a: &Analysis) {
    let o = &a.overfitting;
    h.push_str("<h2 id=\"overfitting\">Overfitting</h2><div class=\"cards\">");
    card(h, "trials N", &o.trials.to_string());
    card(
        h,
        "V[Sharpe] across trials (daily)",
        &format!("{:.4e}", o.sharpe_variance_daily),
    );
    card(
        h,
        "E[max Sharpe] if no skill (annualised)",
        &format_metric(
            "",
            o.expected_max_sharpe_daily * crate::overfitting::PERIODS_PER_YEAR.sqrt(),
        ),
    );
    match &o.pbo {
        Some(p) => card(h, "PBO (CSCV)", &format_metric("", p.pbo)),
        None => card(h, "PBO (CSCV)", "not computed"),
    }
    h.push_str("</div>");
    let _ = write!(
        h,
        "<p class=\"note\">Deflated Sharpe Ratio (Bailey and López de Prado, 2014): the probability that the true Sharpe ratio is above the best one expected from {} trials of no skill, given each run's skew, kurtosis (Pearson) and number of returns. Result files hold annualised Sharpe ratios (√252 × daily); they are divided by √252 before entering the formula.{}</p>",
        o.trials,
        if o.in_sample { " In-sample metrics are used, since the selection happened in-sample." } else { "" }
    );
    h.push_str("<table><tr><th>rank</th><th class=\"l\">combo</th><th>Sharpe (annualised)</th><th>Sharpe (daily)</th><th>skew</th><th>kurtosis</th><th>returns</th><th>DSR</th></tr>");
    for r in &o.top {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.rank,
            escape(&r.name),
            format_metric("", r.sharpe_annualised),
            format_metric("", r.sharpe_daily),
            format_metric("", r.skew),
            format_metric("", r.kurtosis),
            format_metric("n_obs", r.n_obs),
            format_metric("", r.dsr)
        );
    }
    h.push_str("</table>");
    match (&o.pbo, &o.pbo_note) {
        (Some(p), _) => {
            let _ = write!(
                h,
                "<p>Probability of Backtest Overfitting by CSCV: <b>{}</b> (S = {} blocks, {} splits, {} strategies, T = {} returns). It is the share of splits in which the in-sample best ranks in the bottom half out of sample.</p>",
                format_metric("", p.pbo),
                p.blocks,
                p.splits,
                p.strategies,
                p.observations
            );
            h.push_str(&svg::histogram(
                "logits of the out-of-sample rank of the in-sample best",
                &p.logits,
                30,
                Some((0.0, "overfit ≤ 0")),
                700.0,
                240.0,
            ));
        }
        (None, Some(note)) => {
            let _ = write!(h, "<p class=\"note\">PBO: {}</p>", escape(note));
        }
        (None, None) => {}
    }
    if let Some(u) = &a.unknown {
        let _ = write!(
            h,
            "<p class=\"note\">Cannot be computed from these results (shown as -): {}.</p>",
            escape(&u.to_string())
        );
    }
}

fn sensitivity(h: &mut String, a: &Analysis) {
    if a.sensitivity.is_empty() {
        return;
    }
    h.push_str("<h2 id=\"sensitivity\">Parameter sensitivity</h2>");
    let _ = write!(
        h,
        "<p class=\"note\">{} by parameter value over the ranked rows: best, median (≈: estimated by P² past 2,048 values) and count.</p><div class=\"cards\">",
        escape(&a.ranking.metric)
    );
    for p in &a.sensitivity {
        let _ = write!(
            h,
            "<div><table><tr><th class=\"l\">{}</th><th>best</th><th>median</th><th>count</th></tr>",
            escape(&p.name)
        );
        for v in p.values.iter().take(40) {
            let _ = write!(
                h,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
                escape(&v.value),
                format_metric(&a.ranking.metric, v.best),
                if v.median_exact { "" } else { "≈" },
                format_metric(&a.ranking.metric, v.median),
                v.count
            );
        }
        if p.values.len() > 40 {
            let _ = write!(
                h,
                "<tr><td class=\"l\" colspan=\"4\">… {} more values</td></tr>",
                p.values.len() - 40
            );
        }
        h.push_str("</table></div>");
    }
    h.push_str("</div>");
    if let Some(m) = &a.heatmap {
        let stat = match m.stat {
            crate::sensitivity::CellStat::Best => "best",
            crate::sensitivity::CellStat::Median => "median",
        };
        h.push_str(&svg::heatmap(
            &format!("{} ({stat} per cell) by {} and {}", m.metric, m.x, m.y),
            &m.x,
            &m.y,
            &m.x_values,
            &m.y_values,
            &m.cells,
            a.ranking.direction == Direction::Descending,
        ));
    }
}

fn equity(h: &mut String, a: &Analysis, curves: &Curves) {
    h.push_str("<h2 id=\"equity\">Equity curves of the best rows</h2>");
    let _ = a;
    for p in &curves.problems {
        let _ = write!(h, "<p class=\"bad\">{}</p>", escape(p));
    }
    if curves.curves.is_empty() {
        h.push_str("<p class=\"note\">No equity curve could be regenerated.</p>");
        return;
    }
    let longest = curves.curves.iter().max_by_key(|c| c.dates.len());
    let mut x_labels = Vec::new();
    if let Some(c) = longest {
        let mut last_year = None;
        for (i, d) in c.dates.iter().enumerate() {
            if Some(d.year()) != last_year {
                last_year = Some(d.year());
                x_labels.push((i, d.year().to_string()));
            }
        }
        // A first year with only a few days (a burn-in on 31 December) would print over
        // the next year's label.
        let min_gap = c.dates.len() / 40;
        if x_labels.len() >= 2 && x_labels[1].0 - x_labels[0].0 < min_gap {
            x_labels.remove(0);
        }
        let every = (x_labels.len() / 10).max(1);
        x_labels = x_labels.into_iter().step_by(every).collect();
    }
    let names: Vec<String> = curves
        .curves
        .iter()
        .map(|c| format!("{}. {}", c.rank, c.name))
        .collect();
    let normalised: Vec<Vec<f64>> = curves
        .curves
        .iter()
        .map(|c| {
            let first = c.equity.iter().copied().find(|v| *v != 0.0).unwrap_or(1.0);
            c.equity.iter().map(|v| v / first).collect()
        })
        .collect();
    let series: Vec<Series> = names
        .iter()
        .zip(&normalised)
        .map(|(n, y)| Series { name: n, y })
        .collect();
    h.push_str(&svg::line_chart(
        "equity (growth of 1)",
        &series,
        &x_labels,
        1100.0,
        360.0,
    ));
    let dds: Vec<Vec<f64>> = curves.curves.iter().map(|c| drawdowns(&c.equity)).collect();
    let series: Vec<Series> = names
        .iter()
        .zip(&dds)
        .map(|(n, y)| Series { name: n, y })
        .collect();
    h.push_str(&svg::line_chart(
        "drawdown", &series, &x_labels, 1100.0, 220.0,
    ));
    curve_table(h, a, curves);
}

/// The curves' parameters, and the re-run's total return and maximum drawdown beside the
/// ones the result files hold: a re-run that disagrees (an engine or data changed since the
/// sweep ran) shows here.
fn curve_table(h: &mut String, a: &Analysis, curves: &Curves) {
    let k_total = crate::table::metric_index("total_return");
    let k_dd = crate::table::metric_index("max_drawdown");
    h.push_str("<table><tr><th>rank</th><th class=\"l\">combo</th><th class=\"l\">parameters</th><th>total return (result file)</th><th>total return (re-run)</th><th>max drawdown (result file)</th><th>max drawdown (re-run)</th></tr>");
    for c in &curves.curves {
        let Some(row) = a.table.rows.get(c.row) else {
            continue;
        };
        let params = a
            .table
            .param_names
            .iter()
            .enumerate()
            .filter_map(|(k, n)| Some(format!("{n}={}", row.param(k)?)))
            .collect::<Vec<_>>()
            .join(" ");
        let recorded = |k: Option<usize>| k.map_or(f64::NAN, |k| row.metrics[k]);
        let rerun_total = match (c.equity.first(), c.equity.last()) {
            (Some(&first), Some(&last)) if first != 0.0 => last / first - 1.0,
            _ => f64::NAN,
        };
        let rerun_dd = -drawdowns(&c.equity).into_iter().fold(0.0_f64, f64::min);
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.rank,
            escape(&c.name),
            escape(&params),
            format_metric("", recorded(k_total)),
            format_metric("", rerun_total),
            format_metric("", recorded(k_dd)),
            format_metric("", rerun_dd)
        );
    }
    h.push_str("</table>");
}

fn distribution(h: &mut String, a: &Analysis) {
    h.push_str("<h2 id=\"distribution\">Distribution of the ranking metric</h2>");
    let values = &a.distribution;
    let best = a
        .ranking
        .order
        .first()
        .map(|&i| a.ranking.value(&a.table.rows[i]));
    let title = if values.len() < a.ranking.passing {
        format!(
            "{} over a uniform sample of {} of {} ranked rows",
            a.ranking.metric,
            values.len(),
            a.ranking.passing
        )
    } else {
        format!("{} over {} ranked rows", a.ranking.metric, values.len())
    };
    h.push_str(&svg::histogram(
        &title,
        values,
        40,
        best.map(|b| (b, "best")),
        900.0,
        260.0,
    ));
}
