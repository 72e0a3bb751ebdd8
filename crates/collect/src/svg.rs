//! Inline SVG charts drawn in Rust for the self-contained report: line charts (equity,
//! drawdowns), a histogram and a heatmap. No scripts, no external resources.

use std::fmt::Write;

/// Colours of successive series.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Escapes text for HTML and SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// About five round tick values between `lo` and `hi`.
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// One series of a line chart: a name and its y values over a shared x axis of indices.
pub struct Series<'a> {
    pub name: &'a str,
    pub y: &'a [f64],
}

/// A line chart of several series over a common index axis; `x_labels` are drawn at their
/// indices (e.g. years).
pub fn line_chart(
    title: &str,
    series: &[Series<'_>],
    x_labels: &[(usize, String)],
    width: f64,
    height: f64,
) -> String {
    let (left, right, top, bottom) = (70.0, 160.0, 30.0, 30.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let n = series.iter().map(|s| s.y.len()).max().unwrap_or(0).max(2);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for s in series {
        for &v in s.y.iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        hi = lo + 1.0;
    }
    let x = |i: usize| left + plot_w * i as f64 / (n - 1) as f64;
    let y = |v: f64| top + plot_h * (1.0 - (v - lo) / (hi - lo));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><title>{}</title>"#,
        escape(title)
    );
    let _ = write!(
        s,
        r##"<text x="{left}" y="18" class="ctitle">{}</text><rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>"##,
        escape(title)
    );
    for t in ticks(lo, hi) {
        let ty = y(t);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#eee"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
            left + plot_w,
            left - 6.0,
            ty + 4.0,
            fmt_tick(t)
        );
    }
    for (i, label) in x_labels {
        let tx = x(*i);
        let _ = write!(
            s,
            r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{top}" y2="{}" stroke="#f2f2f2"/><text x="{tx:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"##,
            top + plot_h,
            top + plot_h + 16.0,
            escape(label)
        );
    }
    for (k, ser) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        // At most ~1500 points per line keeps the page light.
        let stride = (ser.y.len() / 1500).max(1);
        let mut d = String::new();
        let mut pen_down = false;
        for (i, &v) in ser.y.iter().enumerate() {
            if i % stride != 0 && i + 1 != ser.y.len() {
                continue;
            }
            if !v.is_finite() {
                pen_down = false;
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if pen_down { "L" } else { "M" },
                x(i),
                y(v)
            );
            pen_down = true;
        }
        let _ = write!(
            s,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.3"/>"#
        );
        let ly = top + 14.0 + 16.0 * k as f64;
        let lx = left + plot_w + 10.0;
        let _ = write!(
            s,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}" class="tick">{}</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            escape(ser.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A histogram of `values` in `bins` bins, with an optional marked value (e.g. the best).
pub fn histogram(
    title: &str,
    values: &[f64],
    bins: usize,
    marker: Option<(f64, &str)>,
    width: f64,
    height: f64,
) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (left, right, top, bottom) = (60.0, 20.0, 30.0, 34.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let mut s = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><title>{0}</title><text x="{left}" y="18" class="ctitle">{0}</text>"#,
        escape(title)
    );
    if finite.is_empty() {
        s.push_str(r#"<text x="70" y="60" class="tick">no values</text></svg>"#);
        return s;
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi - lo < 1e-12 {
        hi = lo + 1.0;
    }
    let bins = bins.max(1);
    let mut counts = vec![0usize; bins];
    for v in &finite {
        let b = (((v - lo) / (hi - lo)) * bins as f64).floor() as usize;
        counts[b.min(bins - 1)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = plot_w / bins as f64;
    for (b, &c) in counts.iter().enumerate() {
        let h = plot_h * c as f64 / max;
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#6a9fd4"><title>{c}</title></rect>"##,
            left + b as f64 * bw,
            top + plot_h - h,
            (bw - 1.0).max(0.5)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{0}" y1="{1}" y2="{1}" stroke="#888"/>"##,
        left + plot_w,
        top + plot_h
    );
    let x = |v: f64| left + plot_w * (v - lo) / (hi - lo);
    for t in ticks(lo, hi) {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
            x(t),
            top + plot_h + 16.0,
            fmt_tick(t)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
        left - 6.0,
        top + 8.0,
        max as usize
    );
    if let Some((v, label)) = marker.filter(|m| m.0.is_finite()) {
        let mx = x(v);
        let _ = write!(
            s,
            r##"<line x1="{mx:.1}" x2="{mx:.1}" y1="{top}" y2="{}" stroke="#d62728" stroke-width="2"/><text x="{:.1}" y="{}" class="tick" fill="#d62728" text-anchor="end">{}</text>"##,
            top + plot_h,
            mx - 4.0,
            top + 12.0,
            escape(label)
        );
    }
    s.push_str("</svg>");
    s
}

/// A heatmap: `cells[y][x]`, coloured from worst (light) to best (dark); values printed.
pub fn heatmap(
    title: &str,
    x_name: &str,
    y_name: &str,
    x_values: &[String],
    y_values: &[String],
    cells: &[Vec<Option<f64>>],
    higher_is_better: bool,
) -> String {
    let cell_w = (640.0 / x_values.len().max(1) as f64).clamp(28.0, 80.0);
    let cell_h = (420.0 / y_values.len().max(1) as f64).clamp(16.0, 36.0);
    let (left, top) = (90.0, 40.0);
    let width = left + cell_w * x_values.len() as f64 + 20.0;
    let height = top + cell_h * y_values.len() as f64 + 50.0;
    let all: Vec<f64> = cells
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img"><title>{0}</title><text x="{left}" y="18" class="ctitle">{0}</text>"#,
        escape(title)
    );
    let show_values = cell_w >= 40.0 && cell_h >= 16.0;
    for (yi, row) in cells.iter().enumerate() {
        for (xi, c) in row.iter().enumerate() {
            let (fill, text) = match c {
                Some(v) if v.is_finite() => {
                    let mut t = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
                    if !higher_is_better {
                        t = 1.0 - t;
                    }
                    // Light yellow (worst) to dark blue (best).
                    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
                    (
                        format!(
                            "#{:02x}{:02x}{:02x}",
                            lerp(255.0, 8.0),
                            lerp(247.0, 48.0),
                            lerp(188.0, 107.0)
                        ),
                        fmt_tick(*v),
                    )
                }
                _ => ("#f4f4f4".to_string(), String::new()),
            };
            let cx = left + xi as f64 * cell_w;
            let cy = top + yi as f64 * cell_h;
            let _ = write!(
                s,
                r##"<rect x="{cx:.1}" y="{cy:.1}" width="{cell_w:.1}" height="{cell_h:.1}" fill="{fill}" stroke="#fff"><title>{}={}, {}={}: {}</title></rect>"##,
                escape(x_name),
                escape(&x_values[xi]),
                escape(y_name),
                escape(&y_values[yi]),
                text
            );
            if show_values && !text.is_empty() {
                let dark = fill.as_str() < "#80";
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" class="cell" text-anchor="middle" fill="{}">{text}</text>"#,
                    cx + cell_w / 2.0,
                    cy + cell_h / 2.0 + 4.0,
                    if dark { "#fff" } else { "#222" }
                );
            }
        }
    }
    for (yi, v) in y_values.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
            left - 6.0,
            top + yi as f64 * cell_h + cell_h / 2.0 + 4.0,
            escape(v)
        );
    }
    for (xi, v) in x_values.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
            left + xi as f64 * cell_w + cell_w / 2.0,
            top + y_values.len() as f64 * cell_h + 16.0,
            escape(v)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="middle">{}</text><text x="14" y="{:.1}" class="axis" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text></svg>"#,
        left + cell_w * x_values.len() as f64 / 2.0,
        top + y_values.len() as f64 * cell_h + 38.0,
        escape(x_name),
        top + y_values.len() as f64 * cell_h / 2.0,
        top + y_values.len() as f64 * cell_h / 2.0,
        escape(y_name)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        let close = |got: Vec<f64>, want: &[f64]| {
            assert_eq!(got.len(), want.len(), "{got:?}");
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-12, "{got:?}");
            }
        };
        close(ticks(0.0, 1.0), &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        close(ticks(3.0, 47.0), &[10.0, 20.0, 30.0, 40.0]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        let h = histogram("<x>", &[1.0, 2.0], 4, None, 300.0, 200.0);
        assert!(h.contains("&lt;x&gt;") && !h.contains("<x>"));
    }
}
