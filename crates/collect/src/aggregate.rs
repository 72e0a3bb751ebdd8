//! Streaming per-parameter aggregates and heatmap cells: the ranking metric by parameter
//! value (count, mean, best, worst, median) and by pair of values, fed one ranked row at a
//! time, in memory bounded by the number of distinct values (cells), never by the number
//! of rows.
//!
//! The median needs every value: a cell keeps its values exactly up to [`EXACT_MEDIAN`] of
//! them, and past that switches to the P² estimator (Jain and Chlamtac, 1985: five markers,
//! constant memory, deterministic); [`MedianSketch::is_exact`] says which, and the output
//! marks an estimated median (`median_exact: false` in JSON, `≈` in text and HTML).

use std::collections::BTreeMap;

use backtest::ParamValue;

use crate::ranking::Direction;
use crate::sensitivity::{CellStat, Heatmap, ParamSensitivity, ValueStats};

/// Values kept exactly per cell before the median becomes a P² estimate.
pub const EXACT_MEDIAN: usize = 2048;

/// A running median: exact up to [`EXACT_MEDIAN`] values, then a P² estimate.
#[derive(Clone, Debug)]
pub enum MedianSketch {
    Exact(Vec<f64>),
    P2(P2),
}

impl Default for MedianSketch {
    fn default() -> Self {
        MedianSketch::Exact(Vec::new())
    }
}

impl MedianSketch {
    pub fn push(&mut self, x: f64) {
        match self {
            MedianSketch::Exact(v) => {
                v.push(x);
                if v.len() > EXACT_MEDIAN {
                    let mut p = P2::default();
                    for &y in v.iter() {
                        p.push(y);
                    }
                    *self = MedianSketch::P2(p);
                }
            }
            MedianSketch::P2(p) => p.push(x),
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self, MedianSketch::Exact(_))
    }

    /// The median (exact or estimated); NaN when empty.
    pub fn median(&mut self) -> f64 {
        match self {
            MedianSketch::Exact(v) => crate::sensitivity::median(v),
            MedianSketch::P2(p) => p.estimate(),
        }
    }

    /// Adds `other`'s values (two estimates merge into one by feeding the smaller's
    /// exact values, or, for two estimates, the other's median as one value).
    pub fn merge(&mut self, other: MedianSketch) {
        match other {
            MedianSketch::Exact(v) => {
                for x in v {
                    self.push(x);
                }
            }
            MedianSketch::P2(mut p) => {
                let mine = std::mem::take(self);
                let m = p.estimate();
                *self = MedianSketch::P2(p);
                match mine {
                    MedianSketch::Exact(v) => v.into_iter().for_each(|x| self.push(x)),
                    MedianSketch::P2(mut q) => self.push(0.5 * (q.estimate() + m)),
                }
            }
        }
    }

    /// Bytes held (for the bounded-memory test).
    pub fn heap_bytes(&self) -> usize {
        match self {
            MedianSketch::Exact(v) => v.capacity() * 8,
            MedianSketch::P2(_) => 0,
        }
    }
}

/// The P² estimator of the median (p = 0.5).
#[derive(Clone, Debug, Default)]
pub struct P2 {
    n: usize,
    q: [f64; 5],
    pos: [f64; 5],
    want: [f64; 5],
}

impl P2 {
    const DN: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

    pub fn push(&mut self, x: f64) {
        if self.n < 5 {
            self.q[self.n] = x;
            self.n += 1;
            if self.n == 5 {
                self.q.sort_by(f64::total_cmp);
                self.pos = [1.0, 2.0, 3.0, 4.0, 5.0];
                self.want = [1.0, 2.0, 3.0, 4.0, 5.0];
            }
            return;
        }
        self.n += 1;
        let k = if x < self.q[0] {
            self.q[0] = x;
            0
        } else if x >= self.q[4] {
            self.q[4] = x;
            3
        } else {
            (0..4)
                .find(|&i| self.q[i] <= x && x < self.q[i + 1])
                .unwrap_or(3)
        };
        for p in &mut self.pos[k + 1..] {
            *p += 1.0;
        }
        for (w, dn) in self.want.iter_mut().zip(Self::DN) {
            *w += dn;
        }
        for i in 1..4 {
            let d = self.want[i] - self.pos[i];
            if (d >= 1.0 && self.pos[i + 1] - self.pos[i] > 1.0)
                || (d <= -1.0 && self.pos[i - 1] - self.pos[i] < -1.0)
            {
                let s = d.signum();
                let (qm, q, qp) = (self.q[i - 1], self.q[i], self.q[i + 1]);
                let (nm, n, np) = (self.pos[i - 1], self.pos[i], self.pos[i + 1]);
                let parabolic = q + s / (np - nm)
                    * ((n - nm + s) * (qp - q) / (np - n) + (np - n - s) * (q - qm) / (n - nm));
                self.q[i] = if qm < parabolic && parabolic < qp {
                    parabolic
                } else {
                    let j = if s > 0.0 { i + 1 } else { i - 1 };
                    q + s * (self.q[j] - q) / (self.pos[j] - n)
                };
                self.pos[i] += s;
            }
        }
    }

    pub fn estimate(&mut self) -> f64 {
        if self.n >= 5 {
            self.q[2]
        } else {
            crate::sensitivity::median(&mut self.q[..self.n].to_vec())
        }
    }
}

/// Running statistics of the ranking metric over one cell.
#[derive(Clone, Debug, Default)]
pub struct CellAgg {
    pub count: usize,
    pub sum: f64,
    pub best: f64,
    pub worst: f64,
    /// Only when a median is asked for.
    pub median: Option<MedianSketch>,
}

impl CellAgg {
    fn new(with_median: bool, direction: Direction) -> CellAgg {
        let (best, worst) = match direction {
            Direction::Descending => (f64::NEG_INFINITY, f64::INFINITY),
            Direction::Ascending => (f64::INFINITY, f64::NEG_INFINITY),
        };
        CellAgg {
            count: 0,
            sum: 0.0,
            best,
            worst,
            median: with_median.then(MedianSketch::default),
        }
    }

    fn push(&mut self, v: f64, direction: Direction) {
        self.count += 1;
        self.sum += v;
        match direction {
            Direction::Descending => {
                self.best = self.best.max(v);
                self.worst = self.worst.min(v);
            }
            Direction::Ascending => {
                self.best = self.best.min(v);
                self.worst = self.worst.max(v);
            }
        }
        if let Some(m) = &mut self.median {
            m.push(v);
        }
    }

    fn merge(&mut self, other: CellAgg, direction: Direction) {
        self.count += other.count;
        self.sum += other.sum;
        match direction {
            Direction::Descending => {
                self.best = self.best.max(other.best);
                self.worst = self.worst.min(other.worst);
            }
            Direction::Ascending => {
                self.best = self.best.min(other.best);
                self.worst = self.worst.max(other.worst);
            }
        }
        if let (Some(m), Some(o)) = (&mut self.median, other.median) {
            m.merge(o);
        }
    }
}

/// A fast non-cryptographic hash map (rustc's FxHash): the keys are parameter values of
/// one's own sweep, not untrusted input.
type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// The distinct values of one parameter, numbered as they are met; a value is copied once
/// (when first met), never per row.
#[derive(Default, Debug)]
pub struct Distinct {
    scalars: FxMap<(u8, u64), usize>,
    strings: FxMap<Box<str>, usize>,
    pub values: Vec<ParamValue>,
}

impl Distinct {
    pub fn id(&mut self, v: &ParamValue) -> usize {
        let found = match v {
            ParamValue::Bool(b) => self.scalars.get(&(0, u64::from(*b))).copied(),
            ParamValue::Int(i) => self.scalars.get(&(1, *i as u64)).copied(),
            ParamValue::Float(f) => self.scalars.get(&(2, f.to_bits())).copied(),
            ParamValue::Str(s) => self.strings.get(s.as_str()).copied(),
        };
        if let Some(id) = found {
            return id;
        }
        let id = self.values.len();
        match v {
            ParamValue::Bool(b) => self.scalars.insert((0, u64::from(*b)), id),
            ParamValue::Int(i) => self.scalars.insert((1, *i as u64), id),
            ParamValue::Float(f) => self.scalars.insert((2, f.to_bits()), id),
            ParamValue::Str(s) => self.strings.insert(s.as_str().into(), id),
        };
        self.values.push(v.clone());
        id
    }
}

/// Per-parameter statistics of the ranking metric, fed one ranked row at a time.
#[derive(Debug)]
pub struct ParamAggregates {
    direction: Direction,
    params: Vec<(Distinct, Vec<CellAgg>)>,
}

impl ParamAggregates {
    pub fn new(width: usize, direction: Direction) -> ParamAggregates {
        ParamAggregates {
            direction,
            params: (0..width).map(|_| Default::default()).collect(),
        }
    }

    /// One ranked row: its parameter values (table order) and its ranking value.
    pub fn push(&mut self, params: &[Option<ParamValue>], value: f64) {
        if value.is_nan() {
            return;
        }
        for ((distinct, cells), p) in self.params.iter_mut().zip(params) {
            if let Some(p) = p {
                let id = distinct.id(p);
                if id == cells.len() {
                    cells.push(CellAgg::new(true, self.direction));
                }
                cells[id].push(value, self.direction);
            }
        }
    }

    /// Bytes held by the cells (grows with distinct values, not rows).
    pub fn heap_bytes(&self) -> usize {
        self.params
            .iter()
            .flat_map(|(_, cells)| cells)
            .map(|c| {
                std::mem::size_of::<CellAgg>() + c.median.as_ref().map_or(0, |m| m.heap_bytes())
            })
            .sum()
    }

    /// The statistics by parameter, values in order (numbers numerically, then text);
    /// values that print and sort alike (5 and 5.0) share a group.
    pub fn finish(self, names: &[String]) -> Vec<ParamSensitivity> {
        let direction = self.direction;
        self.params
            .into_iter()
            .zip(names)
            .map(|((distinct, cells), name)| {
                let mut groups: BTreeMap<crate::sensitivity::ValueKey, CellAgg> = BTreeMap::new();
                for (v, cell) in distinct.values.iter().zip(cells) {
                    match groups.entry(crate::sensitivity::key(v)) {
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(cell);
                        }
                        std::collections::btree_map::Entry::Occupied(mut e) => {
                            e.get_mut().merge(cell, direction)
                        }
                    }
                }
                ParamSensitivity {
                    name: name.clone(),
                    values: groups
                        .into_iter()
                        .map(|((_, label), mut c)| {
                            let (median, exact) = match &mut c.median {
                                Some(m) => (m.median(), m.is_exact()),
                                None => (f64::NAN, true),
                            };
                            ValueStats {
                                value: label,
                                best: c.best,
                                median,
                                count: c.count,
                                mean: c.sum / c.count as f64,
                                worst: c.worst,
                                median_exact: exact,
                            }
                        })
                        .collect(),
                }
            })
            .collect()
    }
}

/// Most cells a heatmap axis shows: an axis with more values (known from the planned
/// spec) is drawn in this many bins of neighbouring values, so the heatmap's memory and
/// size follow what can be shown, not the grid (a 1,000 × 2,500 grid: 50 × 50 cells).
pub const MAX_AXIS_CELLS: usize = 50;

/// The bins of an axis with more than [`MAX_AXIS_CELLS`] values: each value's bin, and each
/// bin's label (`first..last` of its values).
#[derive(Debug, Default)]
pub struct AxisBins {
    of: Distinct,
    bin: Vec<usize>,
    labels: Vec<String>,
}

impl AxisBins {
    /// Bins for `values` (in axis order), `None` when they fit [`MAX_AXIS_CELLS`].
    pub fn of(values: &[ParamValue]) -> Option<AxisBins> {
        let n = values.len();
        if n <= MAX_AXIS_CELLS {
            return None;
        }
        let mut bins = AxisBins::default();
        let mut first: Vec<Option<usize>> = vec![None; MAX_AXIS_CELLS];
        let mut last = vec![0; MAX_AXIS_CELLS];
        for (pos, v) in values.iter().enumerate() {
            let id = bins.of.id(v);
            let b = pos * MAX_AXIS_CELLS / n;
            if id == bins.bin.len() {
                bins.bin.push(b);
            }
            first[b].get_or_insert(pos);
            last[b] = pos;
        }
        bins.labels = first
            .iter()
            .zip(&last)
            .map(|(f, &l)| match f {
                Some(f) if *f == l => values[l].to_string(),
                Some(f) => format!("{}..{}", values[*f], values[l]),
                None => String::new(),
            })
            .collect();
        Some(bins)
    }

    fn id(&mut self, v: &ParamValue) -> Option<usize> {
        let before = self.bin.len();
        let id = self.of.id(v);
        // A value the spec did not list: no bin (the row is not drawn).
        (id < before).then(|| self.bin[id])
    }
}

/// Heatmap cells of two parameters, fed one ranked row at a time.
#[derive(Debug)]
pub struct HeatmapAgg {
    x: usize,
    y: usize,
    stat: CellStat,
    direction: Direction,
    dx: Distinct,
    dy: Distinct,
    bins: [Option<AxisBins>; 2],
    cells: FxMap<(usize, usize), CellAgg>,
}

impl HeatmapAgg {
    pub fn new(x: usize, y: usize, stat: CellStat, direction: Direction) -> HeatmapAgg {
        HeatmapAgg {
            x,
            y,
            stat,
            direction,
            dx: Distinct::default(),
            dy: Distinct::default(),
            bins: [None, None],
            cells: FxMap::default(),
        }
    }

    /// Bins the axes whose values (from the planned spec, in axis order) are more than
    /// [`MAX_AXIS_CELLS`].
    pub fn binned(mut self, xs: Option<&[ParamValue]>, ys: Option<&[ParamValue]>) -> HeatmapAgg {
        self.bins = [xs.and_then(AxisBins::of), ys.and_then(AxisBins::of)];
        self
    }

    pub fn push(&mut self, params: &[Option<ParamValue>], value: f64) {
        if value.is_nan() {
            return;
        }
        let (Some(Some(px)), Some(Some(py))) = (params.get(self.x), params.get(self.y)) else {
            return;
        };
        let kx = match &mut self.bins[0] {
            Some(b) => b.id(px),
            None => Some(self.dx.id(px)),
        };
        let ky = match &mut self.bins[1] {
            Some(b) => b.id(py),
            None => Some(self.dy.id(py)),
        };
        let (Some(kx), Some(ky)) = (kx, ky) else {
            return;
        };
        let key = (kx, ky);
        let (stat, direction) = (self.stat, self.direction);
        self.cells
            .entry(key)
            .or_insert_with(|| CellAgg::new(stat == CellStat::Median, direction))
            .push(value, direction);
    }

    pub fn cell_count(&self) -> usize {
        self.cells.len()
    }

    pub fn finish(self, names: &[String], metric: &str) -> Heatmap {
        let direction = self.direction;
        let mut cells: BTreeMap<
            (crate::sensitivity::ValueKey, crate::sensitivity::ValueKey),
            CellAgg,
        > = BTreeMap::new();
        let mut xs = BTreeMap::new();
        let mut ys = BTreeMap::new();
        let axis_key = |bins: &Option<AxisBins>, d: &Distinct, i: usize| match bins {
            Some(b) => crate::sensitivity::bin_key(i, &b.labels[i]),
            None => crate::sensitivity::key(&d.values[i]),
        };
        for ((ix, iy), c) in self.cells {
            let kx = axis_key(&self.bins[0], &self.dx, ix);
            let ky = axis_key(&self.bins[1], &self.dy, iy);
            xs.insert(kx.clone(), ());
            ys.insert(ky.clone(), ());
            match cells.entry((kx, ky)) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(c);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    e.get_mut().merge(c, direction)
                }
            }
        }
        let x_keys: Vec<_> = xs.into_keys().collect();
        let y_keys: Vec<_> = ys.into_keys().collect();
        let grid = y_keys
            .iter()
            .map(|ky| {
                x_keys
                    .iter()
                    .map(|kx| {
                        cells
                            .get_mut(&(kx.clone(), ky.clone()))
                            .map(|c| match self.stat {
                                CellStat::Best => c.best,
                                CellStat::Median => {
                                    c.median.as_mut().map_or(f64::NAN, |m| m.median())
                                }
                            })
                    })
                    .collect()
            })
            .collect();
        Heatmap {
            x: names[self.x].clone(),
            y: names[self.y].clone(),
            x_values: x_keys.into_iter().map(|k| k.1).collect(),
            y_values: y_keys.into_iter().map(|k| k.1).collect(),
            cells: grid,
            stat: self.stat,
            metric: metric.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2_median_is_close_on_a_large_sample() {
        let mut m = MedianSketch::default();
        // A deterministic shuffle of 0..100_000.
        let n = 100_000u64;
        for k in 0..n {
            m.push(((k * 7_919) % n) as f64);
        }
        assert!(!m.is_exact());
        let got = m.median();
        assert!((got - 50_000.0).abs() < 500.0, "{got}");
        assert_eq!(m.heap_bytes(), 0);
    }

    #[test]
    fn long_axes_are_binned_into_at_most_max_cells() {
        let values: Vec<ParamValue> = (1..=120).map(ParamValue::Int).collect();
        assert!(AxisBins::of(&values[..MAX_AXIS_CELLS]).is_none());
        let mut bins = AxisBins::of(&values).expect("binned");
        assert_eq!(bins.labels.len(), MAX_AXIS_CELLS);
        let ids: Vec<usize> = values.iter().map(|v| bins.id(v).expect("a bin")).collect();
        assert!(ids.windows(2).all(|w| w[0] <= w[1] && w[1] - w[0] <= 1));
        assert_eq!((ids[0], ids[119]), (0, MAX_AXIS_CELLS - 1));
        assert_eq!(bins.labels[0], "1..3");
        assert_eq!(bins.id(&ParamValue::Int(500)), None);
        // A 2-D heatmap over a 120 x 120 grid keeps at most 50 x 50 cells.
        let mut h = HeatmapAgg::new(0, 1, CellStat::Best, Direction::Descending)
            .binned(Some(&values), Some(&values));
        for x in 1..=120 {
            for y in 1..=120 {
                h.push(
                    &[Some(ParamValue::Int(x)), Some(ParamValue::Int(y))],
                    (x * y) as f64,
                );
            }
        }
        assert_eq!(h.cell_count(), MAX_AXIS_CELLS * MAX_AXIS_CELLS);
        let map = h.finish(&["fast".into(), "slow".into()], "sharpe");
        assert_eq!(map.x_values.len(), MAX_AXIS_CELLS);
        assert_eq!(map.x_values[MAX_AXIS_CELLS - 1], "119..120");
        assert_eq!(
            map.cells[MAX_AXIS_CELLS - 1][MAX_AXIS_CELLS - 1],
            Some(14_400.0)
        );
    }

    #[test]
    fn small_medians_are_exact() {
        let mut m = MedianSketch::default();
        for x in [3.0, 1.0, 2.0, 10.0] {
            m.push(x);
        }
        assert!(m.is_exact());
        assert_eq!(m.median(), 2.5);
    }
}
