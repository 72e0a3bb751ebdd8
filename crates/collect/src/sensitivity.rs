//! Parameter sensitivity: for each parameter, the ranking metric by value (best, median,
//! count), and for a pair of parameters a heatmap of the metric's best or median per cell.

use std::collections::BTreeMap;

use backtest::ParamValue;
use serde::Serialize;

use crate::ranking::{Direction, Ranking};
use crate::table::Table;

/// The metric over the rows with one value of a parameter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValueStats {
    pub value: String,
    pub best: f64,
    /// The median: exact up to [`crate::aggregate::EXACT_MEDIAN`] values, else the P²
    /// estimate (`median_exact` false).
    pub median: f64,
    pub count: usize,
    pub mean: f64,
    pub worst: f64,
    pub median_exact: bool,
}

/// One parameter's values and their metric statistics, in value order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamSensitivity {
    pub name: String,
    pub values: Vec<ValueStats>,
}

/// Which statistic fills a heatmap cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellStat {
    Best,
    Median,
}

/// The metric over a grid of two parameters: `cells[y][x]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Heatmap {
    pub x: String,
    pub y: String,
    pub x_values: Vec<String>,
    pub y_values: Vec<String>,
    pub cells: Vec<Vec<Option<f64>>>,
    pub stat: CellStat,
    pub metric: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SensitivityError {
    #[error("--heatmap: unknown parameter `{name}`; parameters: {valid}")]
    UnknownParam { name: String, valid: String },
    #[error("--heatmap wants two parameters as `a,b`, got `{0}`")]
    Pair(String),
}

/// Sorts values numerically when they are numbers, else as text.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub(crate) enum SortKey {
    Num(f64),
    Text(String),
}

/// A parameter value's sort key and its display text.
pub(crate) type ValueKey = (SortKeyOrd, String);

pub(crate) fn key(v: &ParamValue) -> ValueKey {
    let k = match v.as_f64() {
        Some(x) => SortKey::Num(x),
        None => SortKey::Text(v.to_string()),
    };
    (SortKeyOrd(k), v.to_string())
}

/// The key of bin `i` of a binned heatmap axis: ordered by its position, shown by `label`.
pub(crate) fn bin_key(i: usize, label: &str) -> ValueKey {
    (SortKeyOrd(SortKey::Num(i as f64)), label.to_string())
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SortKeyOrd(SortKey);
impl Eq for SortKeyOrd {}
impl PartialOrd for SortKeyOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SortKeyOrd {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (&self.0, &other.0) {
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Num(_), SortKey::Text(_)) => std::cmp::Ordering::Less,
            (SortKey::Text(_), SortKey::Num(_)) => std::cmp::Ordering::Greater,
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
        }
    }
}

fn best_of(values: &[f64], direction: Direction) -> f64 {
    let it = values.iter().copied();
    match direction {
        Direction::Descending => it.fold(f64::NEG_INFINITY, f64::max),
        Direction::Ascending => it.fold(f64::INFINITY, f64::min),
    }
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let m = values.len() / 2;
    if values.len() % 2 == 1 {
        values[m]
    } else {
        (values[m - 1] + values[m]) / 2.0
    }
}

/// A parameter value as a hashable key that borrows (no string is built per row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ValueRef<'a> {
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(&'a str),
}

/// A fast non-cryptographic hash map (rustc's FxHash): the keys are parameter values of
/// one's own sweep, not untrusted input.
type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// The distinct values of one parameter over the rows, numbered as they are met; the sort
/// key and display text are made once per distinct value.
#[derive(Default)]
struct Distinct<'a> {
    ids: FxMap<ValueRef<'a>, usize>,
    keys: Vec<ValueKey>,
}

impl<'a> Distinct<'a> {
    fn id(&mut self, v: &'a ParamValue) -> usize {
        let r = match v {
            ParamValue::Bool(b) => ValueRef::Bool(*b),
            ParamValue::Int(i) => ValueRef::Int(*i),
            ParamValue::Float(f) => ValueRef::Float(f.to_bits()),
            ParamValue::Str(s) => ValueRef::Str(s),
        };
        let next = self.keys.len();
        let id = *self.ids.entry(r).or_insert(next);
        if id == next {
            self.keys.push(key(v));
        }
        id
    }
}

/// Metric statistics by value, for every parameter, over the ranked (filtered) rows.
pub fn by_parameter(table: &Table, ranking: &Ranking) -> Vec<ParamSensitivity> {
    (0..table.param_names.len())
        .map(|k| {
            let mut distinct = Distinct::default();
            let mut by_id: Vec<Vec<f64>> = Vec::new();
            for &i in &ranking.order {
                let row = &table.rows[i];
                let v = ranking.value(row);
                if let (Some(p), false) = (row.param(k), v.is_nan()) {
                    let id = distinct.id(p);
                    if id == by_id.len() {
                        by_id.push(Vec::new());
                    }
                    by_id[id].push(v);
                }
            }
            // Values that print and sort alike (5 and 5.0) share a group, as before.
            let mut groups: BTreeMap<ValueKey, Vec<f64>> = BTreeMap::new();
            for (key, vs) in distinct.keys.into_iter().zip(by_id) {
                groups.entry(key).or_default().extend(vs);
            }
            ParamSensitivity {
                name: table.param_names[k].clone(),
                values: groups
                    .into_iter()
                    .map(|((_, label), mut vs)| ValueStats {
                        value: label,
                        best: best_of(&vs, ranking.direction),
                        count: vs.len(),
                        mean: vs.iter().sum::<f64>() / vs.len() as f64,
                        worst: best_of(
                            &vs,
                            match ranking.direction {
                                Direction::Ascending => Direction::Descending,
                                Direction::Descending => Direction::Ascending,
                            },
                        ),
                        median_exact: true,
                        median: median(&mut vs),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Parses `a,b` into two parameter names of the table.
pub fn parse_pair(text: &str, table: &Table) -> Result<(usize, usize), SensitivityError> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() != 2 {
        return Err(SensitivityError::Pair(text.to_string()));
    }
    let find = |name: &str| {
        table
            .param_index(name)
            .ok_or_else(|| SensitivityError::UnknownParam {
                name: name.to_string(),
                valid: table.param_names.join(", "),
            })
    };
    Ok((find(parts[0])?, find(parts[1])?))
}

/// The default heatmap pair among parameters with `distinct[k]` values each: the two with
/// the most values (ties: the earlier parameter), in parameter order. `None` with fewer
/// than two parameters.
pub fn heatmap_pair_by_counts(distinct: &[usize]) -> Option<(usize, usize)> {
    if distinct.len() < 2 {
        return None;
    }
    let mut order: Vec<usize> = (0..distinct.len()).collect();
    // Stable: equal counts keep parameter order.
    order.sort_by(|&a, &b| distinct[b].cmp(&distinct[a]));
    let (a, b) = (order[0], order[1]);
    Some((a.min(b), a.max(b)))
}

/// The default heatmap pair of `table`: the two parameters with the most distinct values
/// over its rows (ties: the earlier parameter), in parameter order.
pub fn default_heatmap_pair(table: &Table) -> Option<(usize, usize)> {
    if table.param_names.len() < 2 {
        return None;
    }
    let distinct: Vec<usize> = (0..table.param_names.len())
        .map(|k| {
            let mut d = Distinct::default();
            for row in &table.rows {
                if let Some(p) = row.param(k) {
                    d.id(p);
                }
            }
            d.keys.len()
        })
        .collect();
    heatmap_pair_by_counts(&distinct)
}

/// The heatmap of parameters `x` and `y` (indices into the table's parameter names).
pub fn heatmap(table: &Table, ranking: &Ranking, x: usize, y: usize, stat: CellStat) -> Heatmap {
    let (mut dx, mut dy) = (Distinct::default(), Distinct::default());
    let mut by_ids: FxMap<(usize, usize), Vec<f64>> = FxMap::default();
    for &i in &ranking.order {
        let row = &table.rows[i];
        let v = ranking.value(row);
        if let (Some(px), Some(py), false) = (row.param(x), row.param(y), v.is_nan()) {
            by_ids.entry((dx.id(px), dy.id(py))).or_default().push(v);
        }
    }
    let mut cells: BTreeMap<(ValueKey, ValueKey), Vec<f64>> = BTreeMap::new();
    let mut xs = BTreeMap::new();
    let mut ys = BTreeMap::new();
    for ((ix, iy), vs) in by_ids {
        let (kx, ky) = (dx.keys[ix].clone(), dy.keys[iy].clone());
        xs.insert(kx.clone(), ());
        ys.insert(ky.clone(), ());
        cells.entry((kx, ky)).or_default().extend(vs);
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
                        .map(|vs| match stat {
                            CellStat::Best => best_of(vs, ranking.direction),
                            CellStat::Median => median(vs),
                        })
                })
                .collect()
        })
        .collect();
    Heatmap {
        x: table.param_names[x].clone(),
        y: table.param_names[y].clone(),
        x_values: x_keys.into_iter().map(|k| k.1).collect(),
        y_values: y_keys.into_iter().map(|k| k.1).collect(),
        cells: grid,
        stat,
        metric: ranking.metric.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::rank;
    use crate::table::{metric_index, Row, METRIC_COUNT};

    fn table() -> Table {
        let mut rows = Vec::new();
        // fast in {5, 10}, slow in {20, 100}; sharpe = fast/10 + slow/100, two rows per cell.
        let mut combo = 0;
        for fast in [10i64, 5] {
            for slow in [100i64, 20] {
                for bump in [0.0, 0.5] {
                    let mut metrics = [0.0; METRIC_COUNT];
                    metrics[metric_index("sharpe").expect("s")] =
                        fast as f64 / 10.0 + slow as f64 / 100.0 + bump;
                    rows.push(Row {
                        combo,
                        plan: 0,
                        task: None,
                        label: None,
                        params: vec![Some(ParamValue::Int(fast)), Some(ParamValue::Int(slow))],
                        metrics,
                        in_sample: None,
                        out_of_sample: None,
                        returns: None,
                    });
                    combo += 1;
                }
            }
        }
        Table {
            plans: vec![],
            param_names: vec!["fast".into(), "slow".into()],
            rows,
            ..Table::default()
        }
    }

    #[test]
    fn by_value_best_median_count() {
        let t = table();
        let r = rank(&t, "sharpe", None, None).expect("rank");
        let s = by_parameter(&t, &r);
        assert_eq!(s[0].name, "fast");
        // Numeric order, not text order ("10" < "5" as text).
        assert_eq!(s[0].values[0].value, "5");
        // fast = 5: values 0.5+0.2, 0.5+0.2+0.5, 0.5+1.0, 0.5+1.0+0.5 = 0.7, 1.2, 1.5, 2.0.
        assert_eq!(s[0].values[0].count, 4);
        assert!((s[0].values[0].best - 2.0).abs() < 1e-12);
        assert!((s[0].values[0].median - 1.35).abs() < 1e-12);
    }

    #[test]
    fn heatmap_cells() {
        let t = table();
        let r = rank(&t, "sharpe", None, None).expect("rank");
        let (x, y) = parse_pair("fast,slow", &t).expect("pair");
        let h = heatmap(&t, &r, x, y, CellStat::Best);
        assert_eq!(h.x_values, vec!["5", "10"]);
        assert_eq!(h.y_values, vec!["20", "100"]);
        // (fast 10, slow 100): 1 + 1 + 0.5.
        assert!((h.cells[1][1].expect("cell") - 2.5).abs() < 1e-12);
        let h = heatmap(&t, &r, x, y, CellStat::Median);
        assert!((h.cells[0][0].expect("cell") - 0.95).abs() < 1e-12);
        assert!(parse_pair("fast", &t).is_err());
        assert!(parse_pair("fast,nope", &t).is_err());
    }

    #[test]
    fn default_heatmap_pair_takes_the_parameters_with_most_values() {
        // fast × kind × slow: 99 fast values, 2 kinds, 50 slow values: fast and slow, not
        // fast and kind.
        assert_eq!(heatmap_pair_by_counts(&[99, 2, 50]), Some((0, 2)));
        assert_eq!(heatmap_pair_by_counts(&[2, 50, 99]), Some((1, 2)));
        // Ties: the earlier parameters.
        assert_eq!(heatmap_pair_by_counts(&[3, 5, 5, 5]), Some((1, 2)));
        assert_eq!(heatmap_pair_by_counts(&[4, 4, 4]), Some((0, 1)));
        assert_eq!(heatmap_pair_by_counts(&[7]), None);
        // From a table: kind has 1 value, fast and slow 2 each.
        let mut t = table();
        t.param_names.insert(0, "kind".into());
        for r in &mut t.rows {
            r.params.insert(0, Some(ParamValue::Str("sma".into())));
        }
        assert_eq!(default_heatmap_pair(&t), Some((1, 2)));
    }
}
