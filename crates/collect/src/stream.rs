//! The streaming pipeline: every successful row is fed once, in combination order, to the
//! accumulators, whose memory is bounded by what is shown, not by the number of rows.
//!
//! - [`TopK`]: the best K rows by the ranking metric (a heap of K; `None` = every ranked
//!   row, only when csv/json/md output without `--top` asks for all of them);
//! - [`crate::aggregate::ParamAggregates`] and [`crate::aggregate::HeatmapAgg`]: the
//!   metric by parameter value and by cell;
//! - [`Trials`]: N and the variance of the per-period Sharpe ratios (Welford, same order
//!   and formula as [`crate::overfitting::sample_variance`]);
//! - the Spearman pairs (one `(f64, f64)` per ranked row, kept **only when the plan has a
//!   split**: 16 bytes a row);
//! - PBO's daily returns (only when PBO is asked for: the one per-combination memory);
//! - [`Reservoir`]: a uniform sample of at most [`DISTRIBUTION_SAMPLE`] ranking values for
//!   the report's histogram (every value below that, so small sweeps are drawn exactly);
//! - counters: ok rows, ranked rows, never-traded rows, metrics known in some row.
//!
//! Adding an accumulator: a field in [`Pipeline`], one line in [`Pipeline::push`] (in the
//! part for every ok row, or for ranked rows: those passing `--where`), and taking its
//! result from the pipeline after the stream (`crate::analyse`). A row is a
//! [`crate::table::Row`] (parameters in table order, metrics in [`backtest::METRICS`]
//! order) plus [`Extras`] (per-window metrics, block moments) that the reader handed over.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use sweep_core::result::{BlockMoments, WindowRuns};

use crate::aggregate::{HeatmapAgg, ParamAggregates};
use crate::filter::Filter;
use crate::overfitting::per_period_sharpe;
use crate::pareto::ParetoFront;
use crate::ranking::{compare_values, Direction};
use crate::robust::{RobustError, RobustGrid};
use crate::table::{metric_index, Row, METRIC_COUNT};

/// Ranking values kept for the report's histogram.
pub const DISTRIBUTION_SAMPLE: usize = 100_000;

/// What a run carries besides its row (moved from the reader, not copied).
#[derive(Debug, Default)]
pub struct Extras {
    pub windows: Option<WindowRuns>,
    pub blocks: Option<BlockMoments>,
}

struct Ranked {
    value: f64,
    combo: u64,
    plan: u16,
    seq: u64,
    direction: Direction,
    row: Row,
}

impl Ranked {
    fn cmp_key(&self, value: f64, combo: u64, plan: u16, seq: u64) -> Ordering {
        compare_values(self.value, value, self.direction)
            .then(self.combo.cmp(&combo))
            .then(self.plan.cmp(&plan))
            .then(self.seq.cmp(&seq))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    /// Better is less: the heap's top is the worst kept row.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_key(other.value, other.combo, other.plan, other.seq)
    }
}

/// The best K rows, in the order of [`crate::ranking::rank`]: better value first (NaN
/// last), ties by the lower combination index, then plan, then arrival.
pub struct TopK {
    k: Option<usize>,
    direction: Direction,
    heap: BinaryHeap<Ranked>,
}

impl TopK {
    pub fn new(k: Option<usize>, direction: Direction) -> TopK {
        TopK {
            k,
            direction,
            heap: BinaryHeap::new(),
        }
    }

    /// Offers a row (copied only when it is kept).
    pub fn push(&mut self, row: &Row, value: f64, seq: u64) {
        let full = self.k.is_some_and(|k| self.heap.len() >= k);
        if full {
            match self.heap.peek() {
                Some(worst)
                    if worst.cmp_key(value, row.combo, row.plan, seq) == Ordering::Greater =>
                {
                    self.heap.pop();
                }
                _ => return,
            }
        }
        if self.k == Some(0) {
            return;
        }
        self.heap.push(Ranked {
            value,
            combo: row.combo,
            plan: row.plan,
            seq,
            direction: self.direction,
            row: Row {
                returns: None,
                ..row.clone()
            },
        });
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The kept rows, best first.
    pub fn into_sorted(self) -> Vec<Row> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.row)
            .collect()
    }
}

/// N and the variance (ddof 1) of the finite per-period Sharpe ratios, by Welford's method.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Trials {
    pub n: usize,
    mean: f64,
    m2: f64,
}

impl Trials {
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }
}

/// A uniform sample of at most `cap` values (Algorithm R with a fixed-seed generator, so
/// the same inputs draw the same sample); every value while fewer than `cap` came.
#[derive(Clone, Debug)]
pub struct Reservoir {
    cap: usize,
    seen: u64,
    state: u64,
    pub values: Vec<f64>,
}

impl Reservoir {
    pub fn new(cap: usize) -> Reservoir {
        Reservoir {
            cap,
            seen: 0,
            state: 0x9E37_79B9_7F4A_7C15,
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, x: f64) {
        self.seen += 1;
        if self.values.len() < self.cap {
            self.values.push(x);
            return;
        }
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) % self.seen;
        if (r as usize) < self.cap {
            self.values[r as usize] = x;
        }
    }

    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// PBO's inputs, only when PBO is asked for: every ok row's CSCV block moments (what
/// workers keep with `keep_returns = true`, S × 20 bytes a row) or, failing those, its
/// daily returns (`keep_returns = "daily"`).
#[derive(Debug, Default)]
pub struct PboReturns {
    pub series: Vec<Vec<f64>>,
    pub moments: Vec<BlockMoments>,
    /// Ok rows with neither.
    pub missing: usize,
}

/// The robust grid being filled with every ok row's ranking value at its grid point (one
/// f32 per grid point: the one per-combination memory of a grid sweep); the first row that
/// is not on the grid ends it, its error kept.
#[derive(Debug)]
pub struct GridFill {
    pub grid: Option<RobustGrid>,
    /// Without a grid from the spec: the parameters' values observed (bounded by the
    /// distinct values), to build the grid after the stream and fill it in another pass.
    pub observe: Option<crate::robust::AxesBuilder>,
    pub names: Vec<String>,
    pub error: Option<RobustError>,
}

/// A shown row's identity, kept for the points that entered the Pareto front.
#[derive(Clone, Debug)]
pub struct FrontRow {
    pub combo: u64,
    pub plan: u16,
    pub label: Option<String>,
    pub params: Vec<Option<backtest::ParamValue>>,
}

/// `--pareto`: the running front of the ranked rows and the identities of its points
/// (pruned to the front as it moves, so bounded by a small multiple of the front).
#[derive(Debug)]
pub struct FrontFill {
    pub front: ParetoFront,
    pub rows: std::collections::HashMap<u64, FrontRow>,
}

impl FrontFill {
    pub fn new(front: ParetoFront) -> FrontFill {
        FrontFill {
            front,
            rows: std::collections::HashMap::new(),
        }
    }

    fn push(&mut self, seq: u64, row: &Row) {
        if !self.front.push_metrics(seq, row.ranking_metrics()) {
            return;
        }
        self.rows.insert(
            seq,
            FrontRow {
                combo: row.combo,
                plan: row.plan,
                label: row.label.clone(),
                params: row.params.clone(),
            },
        );
        if self.rows.len() > 4 * self.front.len() + 1024 {
            let on: std::collections::HashSet<u64> =
                self.front.sorted().iter().map(|p| p.id).collect();
            self.rows.retain(|id, _| on.contains(id));
        }
    }
}

/// A walk-forward sweep's window selector, fed the rows of its plan: `--where` is applied to
/// each training window's metrics (what was known when the choice was made).
pub struct WalkForwardFill {
    pub selector: crate::walk_forward::Selector,
    pub names: Vec<String>,
    pub plan: u16,
    pub problems: Vec<String>,
}

impl WalkForwardFill {
    fn push_row(&mut self, row: &Row, windows: &WindowRuns, filter: Option<&Filter>) {
        if row.plan != self.plan || !self.problems.is_empty() {
            return;
        }
        let params: Vec<(String, backtest::ParamValue)> = self
            .names
            .iter()
            .zip(&row.params)
            .filter_map(|(n, v)| Some((n.clone(), v.clone()?)))
            .collect();
        // The filter reads a row: a copy of this one (made only when there is a filter)
        // with each window's metrics in turn.
        let probe = filter.map(|_| std::cell::RefCell::new(row.clone()));
        let passes = |values: &crate::table::MetricValues| match (filter, &probe) {
            (Some(f), Some(probe)) => {
                let mut r = probe.borrow_mut();
                r.metrics = *values;
                r.in_sample = None;
                f.matches(&r)
            }
            _ => true,
        };
        if let Err(e) = self
            .selector
            .push(row.combo, &params, &row.metrics, windows, &passes)
        {
            self.problems.push(e.to_string());
        }
    }
}

/// The value a row is ranked by, when not its metric (`--rank robust`'s second pass: the
/// neighbourhood mean at the row's grid point).
pub type RankValue<'f> = Box<dyn Fn(&Row) -> f64 + 'f>;

/// The accumulators of one `collect`.
pub struct Pipeline<'f> {
    pub grid: Option<GridFill>,
    pub pareto: Option<FrontFill>,
    pub walk_forward: Option<WalkForwardFill>,
    pub rank_value: Option<RankValue<'f>>,
    pub metric_index: usize,
    pub direction: Direction,
    filter: Option<&'f Filter>,
    k_sharpe: usize,
    k_trades: Option<usize>,
    pub top: TopK,
    pub params: ParamAggregates,
    pub heatmap: Option<HeatmapAgg>,
    pub trials: Trials,
    /// `(in-sample, out-of-sample)` ranking values of ranked rows, with a split.
    pub spearman: Vec<(f64, f64)>,
    pub pbo: Option<PboReturns>,
    pub distribution: Reservoir,
    /// Whether metric k is known (not NaN) in some ok row.
    pub known: [bool; METRIC_COUNT],
    pub split: bool,
    pub ok_rows: usize,
    pub ranked: usize,
    pub never_traded: usize,
}

impl<'f> Pipeline<'f> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        metric_index: usize,
        direction: Direction,
        filter: Option<&'f Filter>,
        top: Option<usize>,
        width: usize,
        heatmap: Option<HeatmapAgg>,
        keep_returns: bool,
    ) -> Pipeline<'f> {
        Pipeline {
            grid: None,
            pareto: None,
            walk_forward: None,
            rank_value: None,
            metric_index,
            direction,
            filter,
            k_sharpe: metric_index_or_zero("sharpe"),
            k_trades: crate::table::metric_index("trades"),
            top: TopK::new(top, direction),
            params: ParamAggregates::new(width, direction),
            heatmap,
            trials: Trials::default(),
            spearman: Vec::new(),
            pbo: keep_returns.then(PboReturns::default),
            distribution: Reservoir::new(DISTRIBUTION_SAMPLE),
            known: [false; METRIC_COUNT],
            split: false,
            ok_rows: 0,
            ranked: 0,
            never_traded: 0,
        }
    }

    /// One successful row (its returns are moved out when PBO keeps them).
    pub fn push(&mut self, row: &mut Row, extras: &Extras) {
        let seq = self.ok_rows as u64;
        self.ok_rows += 1;
        for (known, v) in self.known.iter_mut().zip(&row.metrics) {
            *known |= !v.is_nan();
        }
        self.split |= row.in_sample.is_some();
        self.trials
            .push(per_period_sharpe(row.ranking_metrics()[self.k_sharpe]));
        if let Some(pbo) = &mut self.pbo {
            match (&extras.blocks, row.returns.take()) {
                (Some(m), _) => pbo.moments.push(m.clone()),
                (None, Some(r)) => pbo.series.push(r),
                (None, None) => pbo.missing += 1,
            }
        }
        if let Some(g) = &mut self.grid {
            if let Some(b) = &mut g.observe {
                b.observe(&row.params);
            } else if let (None, Some(grid)) = (&g.error, &mut g.grid) {
                let value = row.ranking_metrics()[self.metric_index];
                if let Err(e) = grid.push_row(&g.names, &row.params, value) {
                    g.error = Some(e);
                }
            }
        }
        if let (Some(w), Some(windows)) = (&mut self.walk_forward, &extras.windows) {
            w.push_row(row, windows, self.filter);
        }
        if self.filter.is_some_and(|f| !f.matches(row)) {
            return;
        }
        // A ranked row.
        self.ranked += 1;
        if let Some(p) = &mut self.pareto {
            p.push(seq, row);
        }
        let value = match &self.rank_value {
            Some(f) => f(row),
            None => row.ranking_metrics()[self.metric_index],
        };
        self.top.push(row, value, seq);
        self.params.push(&row.params, value);
        if let Some(h) = &mut self.heatmap {
            h.push(&row.params, value);
        }
        if self.k_trades.is_some_and(|k| row.metrics[k] == 0.0) {
            self.never_traded += 1;
        }
        if let (Some(is), Some(oos)) = (&row.in_sample, &row.out_of_sample) {
            self.spearman
                .push((is[self.metric_index], oos[self.metric_index]));
        }
        self.distribution.push(value);
    }
}

fn metric_index_or_zero(name: &str) -> usize {
    metric_index(name).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::rank;
    use crate::table::Table;
    use backtest::ParamValue;

    fn row(combo: u64, plan: u16, sharpe: f64, fast: i64) -> Row {
        let mut metrics = [0.0; METRIC_COUNT];
        metrics[metric_index("sharpe").expect("s")] = sharpe;
        Row {
            combo,
            plan,
            task: Some(combo / 10),
            label: None,
            params: vec![
                Some(ParamValue::Int(fast)),
                Some(ParamValue::Int(combo as i64 % 7)),
            ],
            metrics,
            in_sample: None,
            out_of_sample: None,
            returns: None,
        }
    }

    /// Values with many ties and NaNs.
    fn rows(n: u64) -> Vec<Row> {
        (0..n)
            .map(|c| {
                let v = if c % 13 == 0 {
                    f64::NAN
                } else {
                    ((c * 7_919) % 17) as f64 / 4.0 - 1.0
                };
                row(c, (c % 2) as u16, v, (c % 5) as i64)
            })
            .collect()
    }

    #[test]
    fn top_k_matches_a_full_sort_with_ties_by_combo() {
        let all = rows(1000);
        let table = Table {
            plans: vec![],
            param_names: vec!["fast".into(), "m".into()],
            rows: all.clone(),
            ..Table::default()
        };
        for direction in [Direction::Descending, Direction::Ascending] {
            let full = rank(&table, "sharpe", Some(direction), None).expect("rank");
            for k in [0usize, 1, 7, 100, 999, 1000, 5000] {
                let mut top = TopK::new(Some(k), direction);
                let kv = metric_index("sharpe").expect("s");
                for (seq, r) in all.iter().enumerate() {
                    top.push(r, r.metrics[kv], seq as u64);
                }
                assert!(top.len() <= k);
                let got: Vec<(u64, u16)> = top
                    .into_sorted()
                    .iter()
                    .map(|r| (r.combo, r.plan))
                    .collect();
                let want: Vec<(u64, u16)> = full
                    .order
                    .iter()
                    .take(k)
                    .map(|&i| (all[i].combo, all[i].plan))
                    .collect();
                assert_eq!(got, want, "k = {k}, {direction:?}");
            }
        }
    }

    #[test]
    fn streaming_aggregates_equal_the_in_memory_computation() {
        let all = rows(3000);
        let names = vec!["fast".to_string(), "m".to_string()];
        let table = Table {
            plans: vec![],
            param_names: names.clone(),
            rows: all.clone(),
            ..Table::default()
        };
        let f = Filter::parse("sharpe > -0.8", &names).expect("filter");
        let ranking = rank(&table, "sharpe", None, Some(&f)).expect("rank");
        let old = crate::sensitivity::by_parameter(&table, &ranking);
        let old_heat = crate::sensitivity::heatmap(
            &table,
            &ranking,
            0,
            1,
            crate::sensitivity::CellStat::Median,
        );
        let k = ranking.metric_index;
        let heat = HeatmapAgg::new(
            0,
            1,
            crate::sensitivity::CellStat::Median,
            ranking.direction,
        );
        let mut p = Pipeline::new(
            k,
            ranking.direction,
            Some(&f),
            Some(10),
            2,
            Some(heat),
            false,
        );
        for r in &all {
            p.push(&mut r.clone(), &Extras::default());
        }
        assert_eq!(p.ranked, ranking.order.len());
        let new = std::mem::replace(&mut p.params, ParamAggregates::new(0, ranking.direction))
            .finish(&names);
        assert_eq!(new, old);
        let heat = p.heatmap.take().expect("heat").finish(&names, "sharpe");
        assert_eq!(heat, old_heat);
        let old_var = crate::overfitting::sample_variance(
            all.iter().map(|r| per_period_sharpe(r.metrics[k])),
        );
        assert_eq!(p.trials.variance(), old_var);
        assert_eq!(p.distribution.values.len(), ranking.order.len());
    }

    #[test]
    fn accumulators_do_not_grow_with_rows() {
        let heat = HeatmapAgg::new(
            0,
            1,
            crate::sensitivity::CellStat::Best,
            Direction::Descending,
        );
        let mut p = Pipeline::new(
            metric_index("sharpe").expect("s"),
            Direction::Descending,
            None,
            Some(20),
            2,
            Some(heat),
            false,
        );
        let mut sizes = Vec::new();
        let mut r = row(0, 0, 0.0, 0);
        let ks = metric_index("sharpe").expect("s");
        for c in 0..400_000u64 {
            r.combo = c;
            r.metrics[ks] = ((c * 7_919) % 10_007) as f64;
            r.params[0] = Some(ParamValue::Int((c % 5) as i64));
            r.params[1] = Some(ParamValue::Int((c % 7) as i64));
            p.push(&mut r, &Extras::default());
            if c == 100_000 || c == 399_999 {
                sizes.push((
                    p.top.len(),
                    p.params.heap_bytes(),
                    p.heatmap.as_ref().map(|h| h.cell_count()),
                    p.spearman.capacity(),
                    p.distribution.values.capacity(),
                ));
            }
        }
        assert_eq!(sizes[0], sizes[1], "{sizes:?}");
        assert_eq!(sizes[0].0, 20);
        assert_eq!(p.ranked, 400_000);
    }

    #[test]
    fn reservoir_keeps_everything_below_its_cap() {
        let mut r = Reservoir::new(10);
        (0..5).for_each(|x| r.push(x as f64));
        assert_eq!(r.values, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        (5..1000).for_each(|x| r.push(x as f64));
        assert_eq!(r.values.len(), 10);
        assert_eq!(r.seen(), 1000);
    }
}
