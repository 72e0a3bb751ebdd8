//! Robust (neighbourhood) ranking of grid sweeps: the grid's axes (every parameter an
//! ordered axis), a dense grid of one `f32` per grid point filled one row at a time (NaN:
//! absent, failed or unknown), and for any point the ranking metric over its
//! neighbourhood, the points within `k` steps on every axis (itself included) that ran:
//! their mean, their worst value and their number. `--rank robust` ranks by the mean.
//!
//! A sweep whose parameters do not form a grid (a `[sample]`, a `zip`, strong constraints:
//! the dense grid of the axes is more than [`MAX_DENSITY_RATIO`] times the number of
//! combinations) has no neighbourhoods: [`RobustGrid::new`] says so with
//! [`RobustError::NotAGrid`].
//!
//! Cost: the grid holds 4 bytes per grid point; [`RobustGrid::neighbourhood_means`]
//! computes every point's mean with separable box sums (one prefix-sum pass per axis,
//! O(points × axes) whatever `k`), briefly using 16 more bytes per point;
//! [`RobustGrid::neighbourhood`] scores one point by a direct loop over its
//! (2k + 1)^axes box, for the shown rows only.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::ops::{Add, Sub};

use backtest::ParamValue;
use serde::Serialize;

use crate::ranking::{Direction, Ranking};
use crate::svg::escape;
use crate::table::Table;

/// A sweep is a grid when the dense grid of its axes has at most this many times as many
/// points as the sweep has combinations.
pub const MAX_DENSITY_RATIO: u64 = 4;

/// Largest dense grid (points) the robust score is computed for.
pub const MAX_GRID_POINTS: u64 = 1 << 30;

/// What `--rank` ranks by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// The combination's own value (the default).
    #[default]
    Peak,
    /// The mean of its neighbourhood.
    Robust,
}

/// Why there is no robust score.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RobustError {
    #[error("robust ranking needs a grid sweep: the parameters' values span a grid of {dense} points for {combinations} combination(s) (more than {MAX_DENSITY_RATIO}x: a sampled sweep, a zip or strong constraints); rank by peak instead")]
    NotAGrid { dense: u128, combinations: u64 },
    #[error("robust ranking needs a grid sweep: the grid of the parameters' values has {dense} points, more than {MAX_GRID_POINTS}")]
    TooLarge { dense: u128 },
    #[error("robust ranking needs parameters: the results have none")]
    NoParams,
    #[error("robust ranking needs one sweep directory, whose spec gives the grid (the inputs are result files, several sweeps or QSTrader files)")]
    NoSweep,
    #[error("robust ranking needs a grid sweep: a combination has no value of parameter `{0}` (merged sweeps or QSTrader files?)")]
    MissingParam(String),
    #[error("robust ranking: parameter `{param}` = {value} of a combination is not on its axis")]
    OffGrid { param: String, value: String },
    #[error(
        "robust ranking needs a grid sweep: the combination {0} appears twice (merged plans?)"
    )]
    Duplicate(String),
}

/// A parameter value's identity on an axis: numbers by value (5 and 5.0 are one).
#[derive(Clone, Debug, Default)]
struct AxisIndex {
    nums: HashMap<u64, usize>,
    strs: HashMap<String, usize>,
    bools: [Option<usize>; 2],
}

fn num_key(x: f64) -> u64 {
    // -0.0 and 0.0 are one value.
    if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

impl AxisIndex {
    fn get(&self, v: &ParamValue) -> Option<usize> {
        match v {
            ParamValue::Int(i) => self.nums.get(&num_key(*i as f64)).copied(),
            ParamValue::Float(f) => self.nums.get(&num_key(*f)).copied(),
            ParamValue::Str(s) => self.strs.get(s.as_str()).copied(),
            ParamValue::Bool(b) => self.bools[usize::from(*b)],
        }
    }

    fn insert(&mut self, v: &ParamValue, at: usize) {
        match v {
            ParamValue::Int(i) => {
                self.nums.insert(num_key(*i as f64), at);
            }
            ParamValue::Float(f) => {
                self.nums.insert(num_key(*f), at);
            }
            ParamValue::Str(s) => {
                self.strs.insert(s.clone(), at);
            }
            ParamValue::Bool(b) => self.bools[usize::from(*b)] = Some(at),
        }
    }
}

/// One parameter as an ordered axis: numbers ascending, then booleans and strings in the
/// order given (spec order, or first seen).
#[derive(Clone, Debug)]
pub struct Axis {
    pub name: String,
    pub values: Vec<ParamValue>,
    index: AxisIndex,
}

impl Axis {
    /// The axis of parameter `name` with `values` (duplicates dropped; NaN floats skipped).
    pub fn new(name: &str, values: impl IntoIterator<Item = ParamValue>) -> Axis {
        let mut seen = AxisIndex::default();
        let mut nums: Vec<(f64, ParamValue)> = Vec::new();
        let mut others: Vec<ParamValue> = Vec::new();
        for v in values {
            if seen.get(&v).is_some() || v.as_f64().is_some_and(f64::is_nan) {
                continue;
            }
            seen.insert(&v, 0);
            match v.as_f64() {
                Some(x) => nums.push((x, v)),
                None => others.push(v),
            }
        }
        nums.sort_by(|a, b| a.0.total_cmp(&b.0));
        let values: Vec<ParamValue> = nums.into_iter().map(|(_, v)| v).chain(others).collect();
        let mut index = AxisIndex::default();
        for (i, v) in values.iter().enumerate() {
            index.insert(v, i);
        }
        Axis {
            name: name.to_string(),
            values,
            index,
        }
    }

    /// The position of `value` on the axis.
    pub fn position(&self, value: &ParamValue) -> Option<usize> {
        self.index.get(value)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Collects the values of named parameters one row at a time, for [`Axis`]es built from
/// the results themselves (when the spec is not at hand).
#[derive(Clone, Debug)]
pub struct AxesBuilder {
    names: Vec<String>,
    seen: Vec<AxisIndex>,
    values: Vec<Vec<ParamValue>>,
}

impl AxesBuilder {
    pub fn new(names: &[String]) -> AxesBuilder {
        AxesBuilder {
            names: names.to_vec(),
            seen: vec![AxisIndex::default(); names.len()],
            values: vec![Vec::new(); names.len()],
        }
    }

    /// Notes the values of one row (in the order of the names; `None`: no value).
    pub fn observe(&mut self, params: &[Option<ParamValue>]) {
        for ((p, seen), values) in params.iter().zip(&mut self.seen).zip(&mut self.values) {
            if let Some(v) = p {
                if seen.get(v).is_none() {
                    seen.insert(v, values.len());
                    values.push(v.clone());
                }
            }
        }
    }

    pub fn finish(self) -> Vec<Axis> {
        self.names
            .iter()
            .zip(self.values)
            .map(|(n, vs)| Axis::new(n, vs))
            .collect()
    }
}

/// The ranking metric over one point's neighbourhood.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Neighbourhood {
    /// The point's own value (NaN: absent or failed).
    pub peak: f64,
    /// Mean over the neighbourhood's points that have a value.
    pub mean: f64,
    /// The worst of them (the minimum when higher is better).
    pub worst: f64,
    /// How many points have a value.
    pub n: u32,
}

/// A point of the grid ranked by its neighbourhood mean.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankedPoint {
    /// Index into the dense grid.
    pub point: usize,
    pub peak: f64,
    pub mean: f64,
}

/// The dense grid of one metric over the axes.
#[derive(Clone, Debug)]
pub struct RobustGrid {
    axes: Vec<Axis>,
    /// Row-major: the last axis varies fastest.
    strides: Vec<usize>,
    values: Vec<f32>,
    /// One bit per point: pushed already.
    filled: Vec<u64>,
}

impl RobustGrid {
    /// An empty grid (every point NaN) over `axes`, for a sweep of `combinations`
    /// combinations; [`RobustError::NotAGrid`] when the dense grid is more than
    /// [`MAX_DENSITY_RATIO`] times larger.
    pub fn new(axes: Vec<Axis>, combinations: u64) -> Result<RobustGrid, RobustError> {
        if axes.is_empty() {
            return Err(RobustError::NoParams);
        }
        if let Some(a) = axes.iter().find(|a| a.is_empty()) {
            return Err(RobustError::MissingParam(a.name.clone()));
        }
        let dense: u128 = axes.iter().map(|a| a.len() as u128).product();
        if dense > u128::from(combinations) * u128::from(MAX_DENSITY_RATIO) {
            return Err(RobustError::NotAGrid {
                dense,
                combinations,
            });
        }
        if dense > u128::from(MAX_GRID_POINTS) {
            return Err(RobustError::TooLarge { dense });
        }
        let total = dense as usize;
        let mut strides = vec![1usize; axes.len()];
        for a in (0..axes.len().saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * axes[a + 1].len();
        }
        Ok(RobustGrid {
            axes,
            strides,
            values: vec![f32::NAN; total],
            filled: vec![0; total.div_ceil(64)],
        })
    }

    /// The grid of a spec's parameters (each parameter's values expanded, in spec order),
    /// for a plan of `combinations` combinations.
    pub fn from_spec(
        spec: &sweep_core::spec::Spec,
        combinations: u64,
    ) -> Result<RobustGrid, RobustError> {
        let mut axes = Vec::with_capacity(spec.params.len());
        for p in &spec.params {
            let values = p.axis.expand().map_err(|e| RobustError::OffGrid {
                param: p.name.clone(),
                value: e,
            })?;
            axes.push(Axis::new(&p.name, values));
        }
        RobustGrid::new(axes, combinations)
    }

    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// Number of points of the dense grid.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value stored at `point` (NaN: none).
    pub fn value(&self, point: usize) -> f64 {
        self.values.get(point).map_or(f64::NAN, |&v| f64::from(v))
    }

    fn locate<'a>(
        &self,
        get: impl Fn(usize, &str) -> Option<&'a ParamValue>,
    ) -> Result<usize, RobustError> {
        let mut point = 0;
        for (a, axis) in self.axes.iter().enumerate() {
            let v =
                get(a, &axis.name).ok_or_else(|| RobustError::MissingParam(axis.name.clone()))?;
            let i = axis.position(v).ok_or_else(|| RobustError::OffGrid {
                param: axis.name.clone(),
                value: v.to_string(),
            })?;
            point += i * self.strides[a];
        }
        Ok(point)
    }

    /// The grid point of a combination given as `(name, value)` pairs (a manifest line's
    /// parameters; extra names are ignored).
    pub fn point_of(&self, params: &[(String, ParamValue)]) -> Result<usize, RobustError> {
        self.locate(|a, name| match params.get(a) {
            Some((n, v)) if n == name => Some(v),
            _ => params.iter().find(|(n, _)| n == name).map(|(_, v)| v),
        })
    }

    /// The grid point of a combination given as values in the order of `names` (a table
    /// row's parameters).
    pub fn point_of_row(
        &self,
        names: &[String],
        params: &[Option<ParamValue>],
    ) -> Result<usize, RobustError> {
        self.locate(|a, name| {
            let k = match names.get(a) {
                Some(n) if n == name => Some(a),
                _ => names.iter().position(|n| n == name),
            }?;
            params.get(k)?.as_ref()
        })
    }

    /// Stores `value` at `point` (a failed run: NaN). A point stored twice is an error.
    pub fn set(&mut self, point: usize, value: f64) -> Result<(), RobustError> {
        let (word, bit) = (point / 64, 1u64 << (point % 64));
        if self.filled[word] & bit != 0 {
            return Err(RobustError::Duplicate(self.describe(point)));
        }
        self.filled[word] |= bit;
        self.values[point] = value as f32;
        Ok(())
    }

    /// Stores one combination's value (NaN for a failed run); returns its grid point.
    pub fn push(
        &mut self,
        params: &[(String, ParamValue)],
        value: f64,
    ) -> Result<usize, RobustError> {
        let point = self.point_of(params)?;
        self.set(point, value)?;
        Ok(point)
    }

    /// [`RobustGrid::push`] for a table row (values in the order of `names`).
    pub fn push_row(
        &mut self,
        names: &[String],
        params: &[Option<ParamValue>],
        value: f64,
    ) -> Result<usize, RobustError> {
        let point = self.point_of_row(names, params)?;
        self.set(point, value)?;
        Ok(point)
    }

    /// The position of `point` on every axis.
    pub fn digits(&self, point: usize) -> Vec<usize> {
        self.axes
            .iter()
            .zip(&self.strides)
            .map(|(a, s)| (point / s) % a.len())
            .collect()
    }

    /// The parameters of `point`, in axis order.
    pub fn params(&self, point: usize) -> Vec<(String, ParamValue)> {
        self.axes
            .iter()
            .zip(self.digits(point))
            .map(|(a, i)| (a.name.clone(), a.values[i].clone()))
            .collect()
    }

    /// `name=value, ...` of `point`.
    pub fn describe(&self, point: usize) -> String {
        self.params(point)
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The neighbourhood of `point` within `k` steps on every axis, by a direct loop over
    /// its box (at most (2k + 1)^axes points). `direction` says which value is worst.
    pub fn neighbourhood(&self, point: usize, k: usize, direction: Direction) -> Neighbourhood {
        let digits = self.digits(point);
        let lo: Vec<usize> = digits.iter().map(|d| d.saturating_sub(k)).collect();
        let hi: Vec<usize> = digits
            .iter()
            .zip(&self.axes)
            .map(|(d, a)| d.saturating_add(k).min(a.len() - 1))
            .collect();
        let mut cur = lo.clone();
        let (mut sum, mut n) = (0.0f64, 0u32);
        let mut worst = f64::NAN;
        loop {
            let p: usize = cur.iter().zip(&self.strides).map(|(c, s)| c * s).sum();
            let v = self.values[p];
            if !v.is_nan() {
                let v = f64::from(v);
                sum += v;
                n += 1;
                let worse = match direction {
                    Direction::Descending => v < worst,
                    Direction::Ascending => v > worst,
                };
                if worst.is_nan() || worse {
                    worst = v;
                }
            }
            // Odometer over the box, last axis fastest.
            let mut a = cur.len();
            loop {
                if a == 0 {
                    return Neighbourhood {
                        peak: self.value(point),
                        mean: if n == 0 { f64::NAN } else { sum / f64::from(n) },
                        worst,
                        n,
                    };
                }
                a -= 1;
                if cur[a] < hi[a] {
                    cur[a] += 1;
                    break;
                }
                cur[a] = lo[a];
            }
        }
    }

    /// Every point's neighbourhood mean within `k` steps (NaN where no point of the
    /// neighbourhood has a value): box sums of values and of counts, separable, one
    /// prefix-sum pass per axis.
    pub fn neighbourhood_means(&self, k: usize) -> Vec<f32> {
        let mut sums: Vec<f64> = self
            .values
            .iter()
            .map(|&v| if v.is_nan() { 0.0 } else { f64::from(v) })
            .collect();
        let mut counts: Vec<u32> = self.values.iter().map(|v| u32::from(!v.is_nan())).collect();
        for (a, axis) in self.axes.iter().enumerate() {
            box_pass(&mut sums, axis.len(), self.strides[a], k);
            box_pass(&mut counts, axis.len(), self.strides[a], k);
        }
        sums.iter()
            .zip(&counts)
            .map(|(&s, &c)| {
                if c == 0 {
                    f32::NAN
                } else {
                    (s / f64::from(c)) as f32
                }
            })
            .collect()
    }

    /// The best `count` points (that have a value of their own) by neighbourhood mean
    /// within `k` steps, best first; ties: the better peak, then the lower point.
    pub fn top_by_mean(&self, k: usize, count: usize, direction: Direction) -> Vec<RankedPoint> {
        if count == 0 {
            return Vec::new();
        }
        let means = self.neighbourhood_means(k);
        let sign = match direction {
            Direction::Descending => 1.0,
            Direction::Ascending => -1.0,
        };
        let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(count + 1);
        for (point, (&v, &m)) in self.values.iter().zip(&means).enumerate() {
            if v.is_nan() || m.is_nan() {
                continue;
            }
            let c = Candidate {
                score: sign * f64::from(m),
                peak: sign * f64::from(v),
                point,
            };
            if heap.len() < count {
                heap.push(c);
            } else if heap.peek().is_some_and(|w| c < *w) {
                heap.pop();
                heap.push(c);
            }
        }
        heap.into_sorted_vec()
            .into_iter()
            .map(|c| RankedPoint {
                point: c.point,
                peak: self.value(c.point),
                mean: f64::from(means[c.point]),
            })
            .collect()
    }
}

/// A candidate of [`RobustGrid::top_by_mean`]: smaller is better, so the heap's top is the
/// worst kept.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    score: f64,
    peak: f64,
    point: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(other.peak.total_cmp(&self.peak))
            .then(self.point.cmp(&other.point))
    }
}

/// Replaces every value of an axis of length `len` and stride `stride` by the sum of the
/// values within `k` steps along it (clipped at the ends). Works on chunks of up to 64
/// neighbouring lines at a time so that rows are read contiguously.
fn box_pass<T>(data: &mut [T], len: usize, stride: usize, k: usize)
where
    T: Copy + Default + Add<Output = T> + Sub<Output = T>,
{
    if len <= 1 || k == 0 || data.is_empty() {
        return;
    }
    const CHUNK: usize = 64;
    let block = len * stride;
    let mut prefix: Vec<T> = vec![T::default(); (len + 1) * CHUNK.min(stride)];
    for base in (0..data.len()).step_by(block) {
        let mut inner = 0;
        while inner < stride {
            let w = CHUNK.min(stride - inner);
            // prefix[(i + 1) * w + j] = sum of line j's values 0..=i.
            prefix[..w].fill(T::default());
            for i in 0..len {
                let row = base + i * stride + inner;
                for j in 0..w {
                    prefix[(i + 1) * w + j] = prefix[i * w + j] + data[row + j];
                }
            }
            for i in 0..len {
                let (lo, hi) = (i.saturating_sub(k), i.saturating_add(k).min(len - 1));
                let row = base + i * stride + inner;
                for j in 0..w {
                    data[row + j] = prefix[(hi + 1) * w + j] - prefix[lo * w + j];
                }
            }
            inner += w;
        }
    }
}

/// The grid of `ranking`'s metric over every row of `table` (all rows that ran, whatever
/// `--where` keeps: the neighbourhood describes the surface), axes from the rows' values.
pub fn grid_of_table(table: &Table, ranking: &Ranking) -> Result<RobustGrid, RobustError> {
    if table.param_names.is_empty() {
        return Err(RobustError::NoParams);
    }
    let mut builder = AxesBuilder::new(&table.param_names);
    for row in &table.rows {
        builder.observe(&row.params);
    }
    let mut grid = RobustGrid::new(builder.finish(), table.rows.len() as u64)?;
    for row in &table.rows {
        grid.push_row(&table.param_names, &row.params, ranking.value(row))?;
    }
    Ok(grid)
}

/// `ranking`'s rows (its order, the filter applied) ranked by neighbourhood mean within `k`
/// steps instead: better mean first, ties in the peak ranking's order; rows without a value
/// of their own last, in their order.
pub fn rank_rows(
    table: &Table,
    ranking: &Ranking,
    grid: &RobustGrid,
    k: usize,
) -> Result<Vec<usize>, RobustError> {
    rank_by_means(table, ranking, grid, &grid.neighbourhood_means(k))
}

/// [`rank_rows`] with the means computed already.
fn rank_by_means(
    table: &Table,
    ranking: &Ranking,
    grid: &RobustGrid,
    means: &[f32],
) -> Result<Vec<usize>, RobustError> {
    let mut keyed = Vec::with_capacity(ranking.order.len());
    for (pos, &i) in ranking.order.iter().enumerate() {
        let row = &table.rows[i];
        let point = grid.point_of_row(&table.param_names, &row.params)?;
        let m = f64::from(means[point]);
        let key = if ranking.value(row).is_nan() || m.is_nan() {
            f64::NAN
        } else {
            match ranking.direction {
                Direction::Descending => m,
                Direction::Ascending => -m,
            }
        };
        keyed.push((key, pos, i));
    }
    keyed.sort_by(|a, b| match (a.0.is_nan(), b.0.is_nan()) {
        (true, true) => a.1.cmp(&b.1),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)),
    });
    Ok(keyed.into_iter().map(|(_, _, i)| i).collect())
}

/// The robust scores of an in-memory table: its grid, the radius and what ranks.
#[derive(Clone, Debug)]
pub struct RobustAnalysis {
    pub rank: RankBy,
    pub k: usize,
    pub direction: Direction,
    pub grid: RobustGrid,
    /// Every point's neighbourhood mean ([`RobustGrid::neighbourhood_means`]): the values
    /// ranked and shown, so that the shown means follow the ranking exactly.
    pub means: Vec<f32>,
    /// The ranked metric's position in a row's metrics (for the exact peak).
    pub metric_index: usize,
}

impl RobustAnalysis {
    /// The neighbourhood of a row of `table` (`None`: the row is not on the grid).
    pub fn score(&self, table: &Table, row: &crate::table::Row) -> Option<Neighbourhood> {
        let point = self
            .grid
            .point_of_row(&table.param_names, &row.params)
            .ok()?;
        let mut n = self.grid.neighbourhood(point, self.k, self.direction);
        n.mean = f64::from(self.means[point]);
        // The grid holds f32: the row's own value exactly.
        n.peak = row.ranking_metrics()[self.metric_index];
        Some(n)
    }

    /// The rows shown in the report's Robustness section (at most `top`, ranked order).
    pub fn rows(&self, table: &Table, ranking: &Ranking, top: usize) -> Vec<RobustRow> {
        ranking
            .order
            .iter()
            .take(top)
            .filter_map(|&i| {
                let row = &table.rows[i];
                let params = table
                    .param_names
                    .iter()
                    .enumerate()
                    .filter_map(|(k, n)| Some(format!("{n}={}", row.param(k)?)))
                    .collect::<Vec<_>>()
                    .join(", ");
                Some(RobustRow {
                    name: table.row_name(row),
                    params,
                    score: self.score(table, row)?,
                })
            })
            .collect()
    }

    /// The neighbourhood mean over the axes `x` and `y` (by name): per cell the best mean
    /// over the other axes, `cells[y][x]` with the axes' values as text.
    pub fn mean_heatmap(&self, x: &str, y: &str) -> Option<MeanHeatmap> {
        let axes = self.grid.axes();
        let ax = axes.iter().position(|a| a.name == x)?;
        let ay = axes.iter().position(|a| a.name == y)?;
        let means = &self.means;
        let mut cells = vec![vec![None::<f64>; axes[ax].len()]; axes[ay].len()];
        for (p, &m) in means.iter().enumerate() {
            if m.is_nan() || self.grid.value(p).is_nan() {
                continue;
            }
            let d = self.grid.digits(p);
            let cell = &mut cells[d[ay]][d[ax]];
            let m = f64::from(m);
            let better = match (self.direction, *cell) {
                (_, None) => true,
                (Direction::Descending, Some(c)) => m > c,
                (Direction::Ascending, Some(c)) => m < c,
            };
            if better {
                *cell = Some(m);
            }
        }
        let text = |a: &Axis| a.values.iter().map(|v| v.to_string()).collect();
        Some(MeanHeatmap {
            x: x.to_string(),
            y: y.to_string(),
            x_values: text(&axes[ax]),
            y_values: text(&axes[ay]),
            cells,
        })
    }
}

/// The neighbourhood mean over two axes (see [`RobustAnalysis::mean_heatmap`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeanHeatmap {
    pub x: String,
    pub y: String,
    pub x_values: Vec<String>,
    pub y_values: Vec<String>,
    pub cells: Vec<Vec<Option<f64>>>,
}

impl MeanHeatmap {
    /// The same cells with the axes' values in the orders given (by their text; values not
    /// on an axis give empty cells): to sit beside another heatmap of the pair.
    pub fn reordered(&self, x_values: &[String], y_values: &[String]) -> MeanHeatmap {
        let xi: Vec<Option<usize>> = x_values
            .iter()
            .map(|v| self.x_values.iter().position(|w| w == v))
            .collect();
        let cells = y_values
            .iter()
            .map(|v| {
                let row = self.y_values.iter().position(|w| w == v);
                xi.iter()
                    .map(|x| Some(self.cells[row?][(*x)?]).flatten())
                    .collect()
            })
            .collect();
        MeanHeatmap {
            x: self.x.clone(),
            y: self.y.clone(),
            x_values: x_values.to_vec(),
            y_values: y_values.to_vec(),
            cells,
        }
    }
}

/// Robust scores for `collect`'s in-memory pipeline: the grid of `table` when its
/// parameters form one (else `None`, or the error when `--rank robust` asked for it), and
/// with `--rank robust` `ranking`'s order replaced by the neighbourhood-mean order.
pub fn analyse(
    table: &Table,
    ranking: &mut Ranking,
    rank: RankBy,
    k: usize,
) -> Result<Option<RobustAnalysis>, RobustError> {
    let grid = match grid_of_table(table, ranking) {
        Ok(g) => g,
        Err(e) if rank == RankBy::Robust => return Err(e),
        Err(_) => return Ok(None),
    };
    let means = grid.neighbourhood_means(k);
    if rank == RankBy::Robust {
        ranking.order = rank_by_means(table, ranking, &grid, &means)?;
    }
    Ok(Some(RobustAnalysis {
        rank,
        k,
        direction: ranking.direction,
        grid,
        means,
        metric_index: ranking.metric_index,
    }))
}

/// One shown row of the Robustness section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RobustRow {
    /// The row's display name (`#17`).
    pub name: String,
    /// `name=value, ...`.
    pub params: String,
    #[serde(flatten)]
    pub score: Neighbourhood,
}

/// The report's "Robustness" section: the shown rows' peak next to their neighbourhood
/// (mean, worst, n, and peak − mean, large for an isolated spike), and `heatmap` (an SVG)
/// when given.
pub fn html_section(
    metric: &str,
    k: usize,
    rank: RankBy,
    rows: &[RobustRow],
    heatmap: Option<&str>,
) -> String {
    let f = |v: f64| backtest::metrics::format_metric(metric, v);
    let mut h = String::from("<h2 id=\"robustness\">Robustness</h2>");
    let _ = write!(
        h,
        "<p class=\"note\">Each row's {m} (peak) next to its neighbourhood: the grid points within {k} step(s) on every parameter axis that ran, their mean {m}, worst {m} and number. A peak far from its neighbourhood's mean is an isolated spike; a mean close to the peak is a plateau. Rows ranked by {by}.</p>",
        m = escape(metric),
        by = match rank {
            RankBy::Peak => "peak",
            RankBy::Robust => "neighbourhood mean (--rank robust)",
        }
    );
    h.push_str("<table><tr><th>#</th><th class=\"l\">combo</th><th class=\"l\">parameters</th><th>peak</th><th>nbhd mean</th><th>nbhd worst</th><th>nbhd n</th><th>peak − mean</th></tr>");
    for (n, r) in rows.iter().enumerate() {
        let s = &r.score;
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            n + 1,
            escape(&r.name),
            escape(&r.params),
            f(s.peak),
            f(s.mean),
            f(s.worst),
            s.n,
            f(s.peak - s.mean),
        );
    }
    h.push_str("</table>");
    if let Some(svg) = heatmap {
        h.push_str(svg);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::rank;
    use crate::table::{metric_index, Row, METRIC_COUNT};

    /// A small deterministic PRNG (splitmix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn ints(name: &str, xs: impl IntoIterator<Item = i64>) -> Axis {
        Axis::new(name, xs.into_iter().map(ParamValue::Int))
    }

    #[test]
    fn axes_are_ordered() {
        let a = Axis::new(
            "x",
            [
                ParamValue::Int(10),
                ParamValue::Float(2.5),
                ParamValue::Int(-1),
                ParamValue::Float(10.0),
            ],
        );
        assert_eq!(
            a.values,
            vec![
                ParamValue::Int(-1),
                ParamValue::Float(2.5),
                ParamValue::Int(10)
            ]
        );
        assert_eq!(a.position(&ParamValue::Float(10.0)), Some(2));
        let s = Axis::new(
            "kind",
            ["sma", "ema", "sma", "wma"].map(|s| ParamValue::Str(s.into())),
        );
        assert_eq!(s.position(&ParamValue::Str("ema".into())), Some(1));
        assert_eq!(s.len(), 3);
        let b = Axis::new("on", [ParamValue::Bool(true), ParamValue::Bool(false)]);
        assert_eq!(b.position(&ParamValue::Bool(false)), Some(1));
    }

    #[test]
    fn not_a_grid_is_said() {
        // A zip of two 10-value parameters: 10 combinations on a 100-point grid.
        let e = RobustGrid::new(vec![ints("a", 0..10), ints("b", 0..10)], 10).unwrap_err();
        assert!(matches!(e, RobustError::NotAGrid { dense: 100, .. }));
        assert!(e.to_string().contains("grid sweep"), "{e}");
        // A constraint fast < slow keeps about half: still a grid.
        assert!(RobustGrid::new(vec![ints("a", 0..10), ints("b", 0..10)], 45).is_ok());
        assert_eq!(
            RobustGrid::new(vec![], 5).unwrap_err(),
            RobustError::NoParams
        );
    }

    #[test]
    fn push_locates_and_rejects() {
        let mut g =
            RobustGrid::new(vec![ints("a", [1, 2, 3]), ints("b", [10, 20])], 6).expect("grid");
        let p = g
            .push(
                &[
                    ("b".into(), ParamValue::Int(20)),
                    ("a".into(), ParamValue::Int(2)),
                ],
                1.5,
            )
            .expect("push");
        assert_eq!(p, 3);
        assert_eq!(g.digits(p), vec![1, 1]);
        assert_eq!(g.describe(p), "a=2, b=20");
        assert_eq!(g.value(p), 1.5);
        assert!(matches!(
            g.push(
                &[
                    ("a".into(), ParamValue::Int(2)),
                    ("b".into(), ParamValue::Int(20))
                ],
                1.0
            ),
            Err(RobustError::Duplicate(_))
        ));
        assert!(matches!(
            g.push(
                &[
                    ("a".into(), ParamValue::Int(4)),
                    ("b".into(), ParamValue::Int(20))
                ],
                1.0
            ),
            Err(RobustError::OffGrid { .. })
        ));
        assert!(matches!(
            g.push(&[("a".into(), ParamValue::Int(1))], 1.0),
            Err(RobustError::MissingParam(_))
        ));
    }

    /// The separable means agree with the direct loop on random 1-, 2- and 3-axis grids
    /// with holes, for several k.
    #[test]
    fn separable_means_match_direct_loops() {
        let mut rng = Rng(7);
        for shape in [vec![17], vec![9, 70], vec![5, 4, 6], vec![3, 1, 2, 130]] {
            let axes: Vec<Axis> = shape
                .iter()
                .enumerate()
                .map(|(a, &n)| ints(&format!("p{a}"), 0..n as i64))
                .collect();
            let total: usize = shape.iter().product();
            let mut g = RobustGrid::new(axes, total as u64).expect("grid");
            for p in 0..total {
                let v = if rng.unit() < 0.2 {
                    f64::NAN
                } else {
                    rng.unit() * 4.0 - 1.0
                };
                g.set(p, v).expect("set");
            }
            for k in [0, 1, 2, 5] {
                let means = g.neighbourhood_means(k);
                for (p, &m) in means.iter().enumerate() {
                    let d = g.neighbourhood(p, k, Direction::Descending);
                    let m = f64::from(m);
                    assert!(
                        (d.mean.is_nan() && m.is_nan()) || (d.mean - m).abs() < 1e-5,
                        "shape {shape:?} k {k} point {p}: {} vs {m}",
                        d.mean
                    );
                }
            }
        }
    }

    #[test]
    fn neighbourhood_worst_and_n() {
        let mut g = RobustGrid::new(vec![ints("a", 0..3), ints("b", 0..3)], 9).expect("grid");
        for p in 0..9 {
            g.set(p, if p == 8 { f64::NAN } else { p as f64 })
                .expect("set");
        }
        // Centre (1,1) = point 4: neighbours 0..=7 have values.
        let n = g.neighbourhood(4, 1, Direction::Descending);
        assert_eq!((n.peak, n.n, n.worst), (4.0, 8, 0.0));
        assert!((n.mean - 3.5).abs() < 1e-12);
        let n = g.neighbourhood(4, 1, Direction::Ascending);
        assert_eq!(n.worst, 7.0);
        // A radius beyond every axis: the whole grid, without overflow.
        let all = g.neighbourhood(4, usize::MAX, Direction::Descending);
        assert_eq!(all.n, 8);
        assert!((all.mean - 3.5).abs() < 1e-12);
        assert!(g
            .neighbourhood_means(usize::MAX)
            .iter()
            .all(|m| (f64::from(*m) - 3.5).abs() < 1e-6));
        // Corner (2,2) = point 8: no value of its own, neighbours 4, 5, 7.
        let n = g.neighbourhood(8, 1, Direction::Descending);
        assert!(n.peak.is_nan());
        assert_eq!(n.n, 3);
        assert!((n.mean - 16.0 / 3.0).abs() < 1e-12);
        // top_by_mean skips the point without a value of its own.
        let top = g.top_by_mean(1, 9, Direction::Descending);
        assert_eq!(top.len(), 8);
        assert!(top.iter().all(|t| t.point != 8));
        let means = g.neighbourhood_means(1);
        assert!(top
            .windows(2)
            .all(|w| means[w[0].point] >= means[w[1].point]));
    }

    /// A 30×30 surface, as collect sees it: a table of rows, ranked by peak and by the
    /// neighbourhood mean. One isolated spike (3.0 amid ~0) and one broad plateau (~1.5
    /// over 8×8 points): the spike ranks first by peak, a plateau point first by the
    /// robust score.
    #[test]
    fn spike_ranks_first_by_peak_plateau_by_robust_score() {
        let sharpe = metric_index("sharpe").expect("sharpe");
        let mut rng = Rng(13);
        let mut rows = Vec::new();
        // Combinations in a shuffled order, as tasks may deliver them.
        let mut cells: Vec<(i64, i64)> =
            (0..30).flat_map(|f| (0..30).map(move |s| (f, s))).collect();
        for i in (1..cells.len()).rev() {
            cells.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        let (spike, plateau) = ((5, 5), (18..26, 18..26));
        for (combo, &(f, s)) in cells.iter().enumerate() {
            let noise = rng.unit() * 0.1;
            let v = if (f, s) == spike {
                3.0
            } else if plateau.0.contains(&f) && plateau.1.contains(&s) {
                1.5 + noise
            } else {
                noise
            };
            let mut metrics = [f64::NAN; METRIC_COUNT];
            metrics[sharpe] = v;
            rows.push(Row {
                combo: combo as u64,
                plan: 0,
                task: None,
                label: None,
                params: vec![
                    Some(ParamValue::Int(10 + 5 * f)),
                    Some(ParamValue::Int(50 + 10 * s)),
                ],
                metrics,
                in_sample: None,
                out_of_sample: None,
                returns: None,
            });
        }
        let table = Table {
            plans: vec![],
            param_names: vec!["fast".into(), "slow".into()],
            rows,
            ..Table::default()
        };
        let peak = rank(&table, "sharpe", None, None).expect("rank");
        let first = &table.rows[peak.order[0]];
        assert_eq!(
            first.params,
            vec![Some(ParamValue::Int(35)), Some(ParamValue::Int(100))]
        );
        let grid = grid_of_table(&table, &peak).expect("a grid");
        let robust = rank_rows(&table, &peak, &grid, 1).expect("robust");
        let best = &table.rows[robust[0]];
        let point = grid
            .point_of_row(&table.param_names, &best.params)
            .expect("on the grid");
        let d = grid.digits(point);
        assert!(
            (19..25).contains(&(d[0] as i64)) && (19..25).contains(&(d[1] as i64)),
            "robust best {d:?} is inside the plateau"
        );
        let spike_point = grid
            .point_of_row(&table.param_names, &first.params)
            .expect("on the grid");
        let s = grid.neighbourhood(spike_point, 1, Direction::Descending);
        let b = grid.neighbourhood(point, 1, Direction::Descending);
        assert_eq!((s.peak, s.n, b.n), (3.0, 9, 9));
        assert!(s.mean < 0.5 && b.mean > 1.5 && b.worst > 1.5, "{s:?} {b:?}");
        // The spike's rank by the robust score: far down.
        let spike_rank = robust
            .iter()
            .position(|&i| i == peak.order[0])
            .expect("ranked");
        assert!(spike_rank > 36, "spike at robust rank {}", spike_rank + 1);
        // The grid's own top-K agrees with the table ranking.
        let top = grid.top_by_mean(1, 3, Direction::Descending);
        assert_eq!(top[0].point, point);
        assert!((top[0].mean - b.mean).abs() < 1e-5);
        eprintln!(
            "spike: peak {:.4} mean {:.4} worst {:.4} n {} (robust rank {}); plateau best {}: peak {:.4} mean {:.4} worst {:.4} n {}",
            s.peak,
            s.mean,
            s.worst,
            s.n,
            spike_rank + 1,
            grid.describe(point),
            b.peak,
            b.mean,
            b.worst,
            b.n
        );
    }

    /// 10^7 points on three axes, filled one row at a time in a shuffled order: fill,
    /// every neighbourhood mean and the top 100 by mean, timed (run with --release).
    #[test]
    #[ignore = "timing at scale: cargo test --release -p collect --lib -- --ignored ten_million"]
    fn ten_million_points() {
        let axes = vec![ints("a", 0..1000), ints("b", 0..100), ints("c", 0..100)];
        let start = std::time::Instant::now();
        let mut g = RobustGrid::new(axes, 10_000_000).expect("grid");
        let mut rng = Rng(3);
        let mut params = vec![
            ("a".to_string(), ParamValue::Int(0)),
            ("b".to_string(), ParamValue::Int(0)),
            ("c".to_string(), ParamValue::Int(0)),
        ];
        for i in 0..10_000_000i64 {
            // A bijective scramble of the order the rows arrive in.
            let j = (i * 7_368_787) % 10_000_000;
            params[0].1 = ParamValue::Int(j / 10_000);
            params[1].1 = ParamValue::Int(j / 100 % 100);
            params[2].1 = ParamValue::Int(j % 100);
            g.push(&params, rng.unit()).expect("push");
        }
        let filled = start.elapsed();
        let means = g.neighbourhood_means(1);
        let meaned = start.elapsed();
        let top = g.top_by_mean(1, 100, Direction::Descending);
        let topped = start.elapsed();
        assert_eq!(means.len(), 10_000_000);
        assert_eq!(top.len(), 100);
        let n = g.neighbourhood(top[0].point, 1, Direction::Descending);
        assert!((n.mean - top[0].mean).abs() < 1e-5);
        eprintln!(
            "10^7 points: fill {:.2} s, means {:.2} s, top 100 {:.2} s",
            filled.as_secs_f64(),
            (meaned - filled).as_secs_f64(),
            (topped - meaned).as_secs_f64()
        );
    }

    #[test]
    fn html_section_lists_rows() {
        let rows = vec![RobustRow {
            name: "#3".into(),
            params: "fast=5, slow=<20>".into(),
            score: Neighbourhood {
                peak: 3.0,
                mean: 0.5,
                worst: 0.0,
                n: 9,
            },
        }];
        let h = html_section("sharpe", 1, RankBy::Robust, &rows, Some("<svg></svg>"));
        assert!(h.contains("Robustness") && h.contains("&lt;20&gt;") && h.contains("2.5000"));
        assert!(h.ends_with("<svg></svg>"));
    }
}
