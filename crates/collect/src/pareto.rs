//! Pareto fronts (`--pareto sharpe,max_drawdown`): the combinations that no other beats on
//! every one of two or three metrics, each metric in its better direction
//! ([`backtest::Better`]). A point dominates another when it is at least as good in every
//! metric and strictly better in one; equal points do not dominate each other (all are
//! kept); a point with a NaN metric is not a candidate.
//!
//! [`ParetoFront`] is streaming: [`ParetoFront::push`] drops a point some front point
//! dominates and evicts the front points it dominates, so memory is bounded by the front
//! (plus a fixed-size deterministic sample of all points for the scatter). Renderings:
//! a terminal list, Markdown, a [`ParetoReport`] for JSON, and the report's HTML section
//! with an SVG scatter of the first two metrics, front marked and connected.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;

use backtest::metrics::format_metric;
use backtest::{Better, METRICS};
use serde::Serialize;

use crate::svg::{escape, ticks};
use crate::table::MetricValues;

/// Points of the scatter at most (a deterministic sample of all points).
pub const SCATTER_POINTS: usize = 3000;

/// Why `--pareto` cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParetoError {
    #[error("--pareto: unknown metric `{name}`{hint}; valid metrics: {valid}", hint = match suggestion { Some(s) => format!(" (did you mean `{s}`?)"), None => String::new() }, valid = backtest::metrics::metric_names())]
    UnknownMetric {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("--pareto wants two or three metrics as `m1,m2[,m3]`, got `{0}`")]
    Count(String),
    #[error("--pareto: metric `{0}` is named twice")]
    Repeated(String),
}

/// One metric of a front, with its better direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ParetoMetric {
    pub name: &'static str,
    /// Position in [`backtest::METRICS`].
    #[serde(skip)]
    pub index: usize,
    pub better: Better,
}

impl ParetoMetric {
    /// The metric called `name`, with a closest-name suggestion when there is none.
    pub fn named(name: &str) -> Result<ParetoMetric, ParetoError> {
        match METRICS.iter().position(|d| d.name == name) {
            Some(index) => Ok(ParetoMetric {
                name: METRICS[index].name,
                index,
                better: METRICS[index].better,
            }),
            None => {
                let names: Vec<&'static str> = METRICS.iter().map(|d| d.name).collect();
                Err(ParetoError::UnknownMetric {
                    name: name.to_string(),
                    suggestion: expr::closest(name, &names),
                })
            }
        }
    }

    /// Whether `a` is strictly better than `b` on this metric.
    fn better(&self, a: f64, b: f64) -> bool {
        match self.better {
            Better::Higher => a > b,
            Better::Lower => a < b,
        }
    }

    fn word(&self) -> &'static str {
        match self.better {
            Better::Higher => "higher is better",
            Better::Lower => "lower is better",
        }
    }
}

/// Parses `--pareto m1,m2[,m3]`.
pub fn parse_metrics(text: &str) -> Result<Vec<ParetoMetric>, ParetoError> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(ParetoError::Count(text.to_string()));
    }
    let mut out: Vec<ParetoMetric> = Vec::with_capacity(parts.len());
    for p in parts {
        let m = ParetoMetric::named(p)?;
        if out.iter().any(|o| o.index == m.index) {
            return Err(ParetoError::Repeated(p.to_string()));
        }
        out.push(m);
    }
    Ok(out)
}

/// A point on the front: an id (the caller's: a combination index or a row) and its
/// values of the front's metrics, in their order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrontPoint {
    pub id: u64,
    pub values: Vec<f64>,
}

/// A point of the scatter's sample: kept when its id's hash is among the smallest.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sampled {
    hash: u64,
    id: u64,
    x: f64,
    y: f64,
}
impl Eq for Sampled {}
impl PartialOrd for Sampled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sampled {
    fn cmp(&self, other: &Self) -> Ordering {
        self.hash.cmp(&other.hash).then(self.id.cmp(&other.id))
    }
}

fn mix(id: u64) -> u64 {
    let mut z = id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The running Pareto front of a stream of points.
#[derive(Clone, Debug)]
pub struct ParetoFront {
    metrics: Vec<ParetoMetric>,
    points: Vec<FrontPoint>,
    /// Points pushed.
    pushed: u64,
    /// Points pushed with every metric known.
    candidates: u64,
    /// A sample of the candidates' first two values: the smallest id hashes, whatever the
    /// order of the pushes.
    sample: BinaryHeap<Sampled>,
    sample_size: usize,
}

impl ParetoFront {
    pub fn new(metrics: Vec<ParetoMetric>) -> ParetoFront {
        ParetoFront::with_sample(metrics, SCATTER_POINTS)
    }

    /// A front whose scatter sample holds at most `sample_size` points.
    pub fn with_sample(metrics: Vec<ParetoMetric>, sample_size: usize) -> ParetoFront {
        ParetoFront {
            metrics,
            points: Vec::new(),
            pushed: 0,
            candidates: 0,
            sample: BinaryHeap::new(),
            sample_size,
        }
    }

    pub fn metrics(&self) -> &[ParetoMetric] {
        &self.metrics
    }

    /// Points pushed, and of them those with every metric known.
    pub fn counts(&self) -> (u64, u64) {
        (self.pushed, self.candidates)
    }

    /// Whether `a` dominates `b`: at least as good on every metric, better on one.
    pub fn dominates(&self, a: &[f64], b: &[f64]) -> bool {
        let mut strictly = false;
        for (m, (&x, &y)) in self.metrics.iter().zip(a.iter().zip(b)) {
            if m.better(y, x) {
                return false;
            }
            strictly |= m.better(x, y);
        }
        strictly
    }

    /// Offers a point (its values in the order of the front's metrics); returns whether it
    /// is on the front now. A NaN value: not a candidate.
    pub fn push(&mut self, id: u64, values: &[f64]) -> bool {
        self.pushed += 1;
        let values = &values[..self.metrics.len().min(values.len())];
        if values.len() < self.metrics.len() || values.iter().any(|v| v.is_nan()) {
            return false;
        }
        self.candidates += 1;
        self.sample_point(id, values);
        if self
            .points
            .iter()
            .any(|p| self.dominates(&p.values, values))
        {
            return false;
        }
        let metrics = &self.metrics;
        self.points.retain(|p| {
            let mut strictly = false;
            for (m, (&x, &y)) in metrics.iter().zip(values.iter().zip(&p.values)) {
                if m.better(y, x) {
                    return true;
                }
                strictly |= m.better(x, y);
            }
            !strictly
        });
        self.points.push(FrontPoint {
            id,
            values: values.to_vec(),
        });
        true
    }

    /// [`ParetoFront::push`] with all of a row's metrics.
    pub fn push_metrics(&mut self, id: u64, metrics: &MetricValues) -> bool {
        let mut values = [0.0f64; 3];
        for (v, m) in values.iter_mut().zip(&self.metrics) {
            *v = metrics[m.index];
        }
        let n = self.metrics.len().min(3);
        self.push(id, &values[..n])
    }

    fn sample_point(&mut self, id: u64, values: &[f64]) {
        if self.sample_size == 0 || !(values[0].is_finite() && values[1].is_finite()) {
            return;
        }
        let s = Sampled {
            hash: mix(id),
            id,
            x: values[0],
            y: values[1],
        };
        if self.sample.len() < self.sample_size {
            self.sample.push(s);
        } else if self.sample.peek().is_some_and(|top| s < *top) {
            self.sample.pop();
            self.sample.push(s);
        }
    }

    /// Number of points on the front.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The front sorted by the first metric (better first), then the next ones, then id.
    pub fn sorted(&self) -> Vec<FrontPoint> {
        let mut out = self.points.clone();
        out.sort_by(|a, b| {
            for (m, (&x, &y)) in self.metrics.iter().zip(a.values.iter().zip(&b.values)) {
                let o = match m.better {
                    Better::Higher => y.total_cmp(&x),
                    Better::Lower => x.total_cmp(&y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.id.cmp(&b.id)
        });
        out
    }

    /// The scatter's sample `(id, x, y)`, in id order.
    pub fn sample(&self) -> Vec<(u64, f64, f64)> {
        let mut out: Vec<(u64, f64, f64)> = self.sample.iter().map(|s| (s.id, s.x, s.y)).collect();
        out.sort_by_key(|s| s.0);
        out
    }
}

/// One combination on the front, for output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParetoEntry {
    pub id: u64,
    /// Display name (`#17`).
    pub name: String,
    /// Its parameters, `name=value, ...`.
    pub params: String,
    /// Metric values by name (`null`: not finite).
    pub values: BTreeMap<&'static str, Option<f64>>,
}

/// The front as `collect` reports it (the JSON `pareto` key).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParetoReport {
    pub metrics: Vec<ParetoMetric>,
    /// Combinations offered, and of them those with every metric known.
    pub combinations: u64,
    pub candidates: u64,
    /// Sorted by the first metric, better first.
    pub front: Vec<ParetoEntry>,
}

impl ParetoReport {
    /// The report of `front`; `label(id)` gives a point's display name and parameters.
    pub fn new(front: &ParetoFront, label: impl Fn(u64) -> (String, String)) -> ParetoReport {
        let entries = front
            .sorted()
            .into_iter()
            .map(|p| {
                let (name, params) = label(p.id);
                ParetoEntry {
                    id: p.id,
                    name,
                    params,
                    values: front
                        .metrics
                        .iter()
                        .zip(&p.values)
                        .map(|(m, &v)| (m.name, v.is_finite().then_some(v)))
                        .collect(),
                }
            })
            .collect();
        let (combinations, candidates) = front.counts();
        ParetoReport {
            metrics: front.metrics.clone(),
            combinations,
            candidates,
            front: entries,
        }
    }

    fn value(&self, e: &ParetoEntry, m: &ParetoMetric) -> String {
        format_metric(
            m.name,
            e.values.get(m.name).copied().flatten().unwrap_or(f64::NAN),
        )
    }

    fn heading(&self) -> String {
        let metrics: Vec<String> = self
            .metrics
            .iter()
            .map(|m| format!("{} ({})", m.name, m.word()))
            .collect();
        format!(
            "Pareto front of {}: {} of {} combination(s) with every metric known ({} in all)",
            metrics.join(", "),
            self.front.len(),
            self.candidates,
            self.combinations
        )
    }

    /// Plain text for the terminal: a heading and one line per front point.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.heading());
        let width = self.front.iter().map(|e| e.name.len()).max().unwrap_or(0);
        for (n, e) in self.front.iter().enumerate() {
            let values: Vec<String> = self
                .metrics
                .iter()
                .map(|m| format!("{} {}", m.name, self.value(e, m)))
                .collect();
            let _ = writeln!(
                out,
                "  {:>3}. {:<width$}  {}  {}",
                n + 1,
                e.name,
                values.join("  "),
                e.params
            );
        }
        out
    }

    /// A Markdown section: heading and table.
    pub fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n| # | combo | ", self.heading());
        for m in &self.metrics {
            let _ = write!(out, "{} | ", m.name);
        }
        out.push_str("parameters |\n|---|---|");
        for _ in &self.metrics {
            out.push_str("---|");
        }
        out.push_str("---|\n");
        for (n, e) in self.front.iter().enumerate() {
            let _ = write!(out, "| {} | {} | ", n + 1, e.name.replace('|', "\\|"));
            for m in &self.metrics {
                let _ = write!(out, "{} | ", self.value(e, m));
            }
            let _ = writeln!(out, "{} |", e.params.replace('|', "\\|"));
        }
        out.push('\n');
        out
    }

    /// The report's HTML section: the scatter of the first two metrics (when `front` has
    /// points) and the front as a table.
    pub fn html_section(&self, front: &ParetoFront) -> String {
        let mut h = String::from("<h2 id=\"pareto\">Pareto front</h2>");
        let _ = write!(h, "<p class=\"note\">{}.</p>", escape(&self.heading()));
        h.push_str(&scatter_svg(front, self, 720.0, 440.0));
        h.push_str("<table><tr><th>#</th><th class=\"l\">combo</th>");
        for m in &self.metrics {
            let _ = write!(h, "<th>{}</th>", escape(m.name));
        }
        h.push_str("<th class=\"l\">parameters</th></tr>");
        for (n, e) in self.front.iter().enumerate() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td>",
                n + 1,
                escape(&e.name)
            );
            for m in &self.metrics {
                let _ = write!(h, "<td>{}</td>", self.value(e, m));
            }
            let _ = write!(h, "<td class=\"l\">{}</td></tr>", escape(&e.params));
        }
        h.push_str("</table>");
        h
    }
}

/// The front of an in-memory table and its report.
#[derive(Clone, Debug)]
pub struct ParetoAnalysis {
    pub front: ParetoFront,
    pub report: ParetoReport,
}

/// The front of `ranking`'s rows (those `--where` keeps), by the metrics ranking uses
/// (in-sample with a split); ids are row indices of `table`.
pub fn of_table(
    table: &crate::table::Table,
    ranking: &crate::ranking::Ranking,
    metrics: Vec<ParetoMetric>,
) -> ParetoAnalysis {
    let mut front = ParetoFront::new(metrics);
    for &i in &ranking.order {
        front.push_metrics(i as u64, table.rows[i].ranking_metrics());
    }
    let mut report = ParetoReport::new(&front, |id| {
        let row = &table.rows[id as usize];
        let params = table
            .param_names
            .iter()
            .enumerate()
            .filter_map(|(k, n)| Some(format!("{n}={}", row.param(k)?)))
            .collect::<Vec<_>>()
            .join(", ");
        (table.row_name(row), params)
    });
    // Report combination indices, not row positions.
    for e in &mut report.front {
        e.id = table.rows[e.id as usize].combo;
    }
    ParetoAnalysis { front, report }
}

fn tick_text(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// An SVG scatter of the first two metrics: the sample of all points in grey, the front's
/// points marked and connected in the order of the first metric.
pub fn scatter_svg(front: &ParetoFront, report: &ParetoReport, width: f64, height: f64) -> String {
    let (mx, my) = (front.metrics[0], front.metrics[1]);
    let sample = front.sample();
    let points: Vec<(u64, f64, f64, String)> = report
        .front
        .iter()
        .filter_map(|e| {
            let x = e.values.get(mx.name).copied().flatten()?;
            let y = e.values.get(my.name).copied().flatten()?;
            Some((e.id, x, y, e.name.clone()))
        })
        .collect();
    let title = if sample.len() as u64 == report.candidates {
        format!("{} against {}: the front in red", mx.name, my.name)
    } else {
        format!(
            "{} against {}: {} of {} points drawn, the front in red",
            mx.name,
            my.name,
            sample.len(),
            report.candidates
        )
    };
    let (left, right, top, bottom) = (70.0, 20.0, 30.0, 44.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let mut s = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><title>{0}</title><text x="{left}" y="18" class="ctitle">{0}</text>"#,
        escape(&title)
    );
    let all = || {
        sample
            .iter()
            .map(|p| (p.1, p.2))
            .chain(points.iter().map(|p| (p.1, p.2)))
    };
    if all().next().is_none() {
        s.push_str(r#"<text x="70" y="60" class="tick">no points with both metrics</text></svg>"#);
        return s;
    }
    let range = |vals: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        let pad = if hi - lo < 1e-12 {
            0.5
        } else {
            (hi - lo) * 0.04
        };
        (lo - pad, hi + pad)
    };
    let (x_lo, x_hi) = range(&mut all().map(|p| p.0));
    let (y_lo, y_hi) = range(&mut all().map(|p| p.1));
    let x = |v: f64| left + plot_w * (v - x_lo) / (x_hi - x_lo);
    let y = |v: f64| top + plot_h * (1.0 - (v - y_lo) / (y_hi - y_lo));
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>"##
    );
    for t in ticks(y_lo, y_hi) {
        let ty = y(t);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#eee"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
            left + plot_w,
            left - 6.0,
            ty + 4.0,
            tick_text(t)
        );
    }
    for t in ticks(x_lo, x_hi) {
        let tx = x(t);
        let _ = write!(
            s,
            r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{top}" y2="{}" stroke="#f2f2f2"/><text x="{tx:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"##,
            top + plot_h,
            top + plot_h + 16.0,
            tick_text(t)
        );
    }
    s.push_str(r##"<g fill="#9aa5b1" fill-opacity="0.55">"##);
    for &(_, px, py) in &sample {
        let _ = write!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="2"/>"#, x(px), y(py));
    }
    s.push_str("</g>");
    let mut by_x = points.clone();
    by_x.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)));
    if by_x.len() > 1 {
        let d: Vec<String> = by_x
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    x(p.1),
                    y(p.2)
                )
            })
            .collect();
        let _ = write!(
            s,
            r##"<path d="{}" fill="none" stroke="#d62728" stroke-width="1.5"/>"##,
            d.join(" ")
        );
    }
    for (_, px, py, name) in &points {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#d62728" stroke="#fff"><title>{}: {} {}, {} {}</title></circle>"##,
            x(*px),
            y(*py),
            escape(name),
            mx.name,
            format_metric(mx.name, *px),
            my.name,
            format_metric(my.name, *py)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="middle">{}</text><text x="14" y="{:.1}" class="axis" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text></svg>"#,
        left + plot_w / 2.0,
        top + plot_h + 36.0,
        escape(&format!("{} ({})", mx.name, mx.word())),
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        escape(&format!("{} ({})", my.name, my.word()))
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic PRNG (splitmix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix(self.0)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn metrics(names: &str) -> Vec<ParetoMetric> {
        parse_metrics(names).expect("metrics")
    }

    #[test]
    fn parses_names_and_suggests() {
        let m = metrics("sharpe, max_drawdown");
        assert_eq!((m[0].better, m[1].better), (Better::Higher, Better::Lower));
        let e = parse_metrics("sharpe,max_drawdwn").unwrap_err();
        assert!(
            e.to_string().contains("did you mean `max_drawdown`?"),
            "{e}"
        );
        assert!(parse_metrics("sharpe").is_err());
        assert!(parse_metrics("sharpe,cagr,calmar,sortino").is_err());
        assert!(parse_metrics("sharpe,").is_err());
        assert_eq!(
            parse_metrics("cagr,cagr").unwrap_err(),
            ParetoError::Repeated("cagr".into())
        );
        assert!(parse_metrics("sharpe,cagr,calmar").is_ok());
    }

    /// The brute-force front: every candidate no other candidate dominates.
    fn brute(front: &ParetoFront, points: &[(u64, Vec<f64>)]) -> Vec<u64> {
        let ok: Vec<&(u64, Vec<f64>)> = points
            .iter()
            .filter(|(_, v)| v.iter().all(|x| !x.is_nan()))
            .collect();
        let mut ids: Vec<u64> = ok
            .iter()
            .filter(|(_, v)| !ok.iter().any(|(_, w)| front.dominates(w, v)))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The streaming front equals the brute-force O(n²) front on random points with
    /// ties, duplicates and NaNs, for 2 and 3 metrics and mixed directions, many seeds.
    #[test]
    fn streaming_front_matches_brute_force() {
        let sets = [
            "sharpe,max_drawdown",
            "sharpe,cagr",
            "max_drawdown,annualised_vol",
            "sharpe,max_drawdown,trades",
            "turnover,cagr,kurtosis",
        ];
        for seed in 0..300u64 {
            let mut rng = Rng(seed);
            let front_metrics = metrics(sets[(seed % sets.len() as u64) as usize]);
            let d = front_metrics.len();
            let n = 1 + rng.below(120) as usize;
            // Few distinct levels: many ties and duplicate points.
            let levels = 2 + rng.below(12);
            let points: Vec<(u64, Vec<f64>)> = (0..n)
                .map(|i| {
                    let v = (0..d)
                        .map(|_| {
                            if rng.below(25) == 0 {
                                f64::NAN
                            } else {
                                rng.below(levels) as f64 / 4.0 - 1.0
                            }
                        })
                        .collect();
                    (i as u64, v)
                })
                .collect();
            let mut front = ParetoFront::new(front_metrics);
            for (id, v) in &points {
                front.push(*id, v);
            }
            let mut got: Vec<u64> = front.sorted().iter().map(|p| p.id).collect();
            got.sort_unstable();
            assert_eq!(got, brute(&front, &points), "seed {seed}");
            // Pushing in reverse order gives the same front.
            let mut rev = ParetoFront::new(front.metrics().to_vec());
            for (id, v) in points.iter().rev() {
                rev.push(*id, v);
            }
            let mut got_rev: Vec<u64> = rev.sorted().iter().map(|p| p.id).collect();
            got_rev.sort_unstable();
            assert_eq!(got_rev, got, "seed {seed} reversed");
        }
    }

    #[test]
    fn equal_points_are_all_kept_and_sorted_by_the_first_metric() {
        let mut f = ParetoFront::new(metrics("sharpe,max_drawdown"));
        assert!(f.push(1, &[1.0, 0.2]));
        assert!(f.push(2, &[1.0, 0.2]));
        assert!(f.push(3, &[2.0, 0.4]));
        assert!(!f.push(4, &[0.5, 0.3]));
        assert!(!f.push(5, &[f64::NAN, 0.0]));
        assert!(f.push(6, &[2.5, 0.4]));
        let ids: Vec<u64> = f.sorted().iter().map(|p| p.id).collect();
        assert_eq!(ids, vec![6, 1, 2]);
        assert_eq!(f.counts(), (6, 5));
        let r = ParetoReport::new(&f, |id| (format!("#{id}"), format!("fast={id}")));
        assert_eq!(r.front[0].values["sharpe"], Some(2.5));
        let text = r.text();
        assert!(text.contains("3 of 5 combination(s)"), "{text}");
        assert!(
            text.contains("#6") && text.contains("max_drawdown 0.4000"),
            "{text}"
        );
        let md = r.markdown();
        assert!(md.contains("| 1 | #6 | 2.5000 | 0.4000 | fast=6 |"), "{md}");
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["metrics"][1]["better"], "lower");
        assert_eq!(json["front"][0]["id"], 6);
        let html = r.html_section(&f);
        assert!(html.contains("<svg") && html.contains("Pareto front"));
        assert_eq!(
            html.matches("r=\"4\"").count(),
            3,
            "three front points marked"
        );
    }

    /// The scatter's sample is bounded and the same whatever the order of the pushes.
    #[test]
    fn scatter_sample_is_bounded_and_deterministic() {
        let m = metrics("sharpe,max_drawdown");
        let (mut a, mut b) = (
            ParetoFront::with_sample(m.clone(), 50),
            ParetoFront::with_sample(m, 50),
        );
        let pts: Vec<(u64, [f64; 2])> = (0..1000u64)
            .map(|i| (i, [(i % 37) as f64 / 10.0, (i % 11) as f64 / 20.0]))
            .collect();
        for (id, v) in &pts {
            a.push(*id, v);
        }
        for (id, v) in pts.iter().rev() {
            b.push(*id, v);
        }
        assert_eq!(a.sample().len(), 50);
        assert_eq!(a.sample(), b.sample());
        let r = ParetoReport::new(&a, |id| (format!("#{id}"), String::new()));
        let svg = scatter_svg(&a, &r, 600.0, 400.0);
        assert_eq!(svg.matches("r=\"2\"").count(), 50);
        assert!(svg.contains("<path"));
    }
}
