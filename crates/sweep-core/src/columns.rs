//! The binary column sidecar of a v2 result file (`results/task-<k>.<host>.<sha8>.cols`):
//! what grows with the number of combinations (metrics, block moments, daily returns),
//! stored as columns instead of JSON keys repeated per run.
//!
//! ```text
//! "SSWCOLS1"                       8 bytes of magic
//! u32 LE                           length H of the header
//! H bytes of JSON                  {"rows": n, "columns": [{"name": "sharpe", "type": "f64"}, ...]}
//! column 0, column 1, ...          each column's n values back to back, little-endian,
//!                                  in header order; nothing after the last column
//! ```
//!
//! Types: `f64` (NaN = unknown), `u32` (`u32::MAX` = unknown), and `f32xN`, `u32xN`,
//! `f64xN` (N values per row, a row's values together). Row r is combination
//! `first + r` of the task. Columns:
//!
//! * every metric of [`backtest::METRICS`] under its name, the whole-number metrics as
//!   `u32` (a count that does not fit is an error when writing, never truncated), the
//!   others as `f64`;
//! * `is.<metric>` and `oos.<metric>` when the runs have an in-sample/out-of-sample split;
//! * `train<k>.<metric>` and `test<k>.<metric>` for walk-forward window k = 0, 1, ...;
//! * `block.count` (`u32xS`), `block.sum`, `block.sum_sq` (`f64xS`): the CSCV block
//!   moments (`keep_returns = true`);
//! * `returns.len` (`u32`) and `returns` (`f32xT`, T the longest series, shorter ones
//!   padded with NaN): the daily returns (`keep_returns = "daily"`).
//!
//! A failed row's values are unknown. Which rows failed is said by the result JSON (its
//! `errors`), not here: [`decode`] is told which rows are `ok`, and hands back for each
//! ok row its metrics (and the parts the file has), for each failed row nothing.
//!
//! The reader is strict: the magic, the header, every name and type, the count of each
//! column set, and the file's exact size are checked, and every problem names the file and
//! what was expected.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use backtest::{Metrics, METRICS};

use crate::result::{BlockMoments, Run, RunStatus, WindowRuns};

/// The first 8 bytes of every sidecar.
pub const MAGIC: &[u8; 8] = b"SSWCOLS1";

/// The longest header a reader accepts (a header lists names, never values).
pub const MAX_HEADER: u32 = 16 << 20;

/// Unknown, for a `u32` column.
pub const U32_UNKNOWN: u32 = u32::MAX;

/// A problem with a sidecar: the file and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ColumnsError {
    /// The sidecar's file name.
    pub file: String,
    pub message: String,
}

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    F64,
    U32,
    /// N values per row.
    F32x(usize),
    U32x(usize),
    F64x(usize),
}

impl ColumnType {
    /// The name in the header: `f64`, `u32`, `f32x16`, ...
    pub fn name(self) -> String {
        match self {
            ColumnType::F64 => "f64".into(),
            ColumnType::U32 => "u32".into(),
            ColumnType::F32x(n) => format!("f32x{n}"),
            ColumnType::U32x(n) => format!("u32x{n}"),
            ColumnType::F64x(n) => format!("f64x{n}"),
        }
    }

    /// Parses a header's type name; `None` for anything else (including `x0`).
    pub fn parse(name: &str) -> Option<ColumnType> {
        let vector = |prefix: &str| -> Option<usize> {
            let n = name.strip_prefix(prefix)?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0') {
                return None;
            }
            n.parse().ok()
        };
        match name {
            "f64" => Some(ColumnType::F64),
            "u32" => Some(ColumnType::U32),
            _ => vector("f32x")
                .map(ColumnType::F32x)
                .or_else(|| vector("u32x").map(ColumnType::U32x))
                .or_else(|| vector("f64x").map(ColumnType::F64x)),
        }
    }

    /// Values per row.
    pub fn width(self) -> usize {
        match self {
            ColumnType::F64 | ColumnType::U32 => 1,
            ColumnType::F32x(n) | ColumnType::U32x(n) | ColumnType::F64x(n) => n,
        }
    }

    /// Bytes per value.
    fn value_bytes(self) -> usize {
        match self {
            ColumnType::F64 | ColumnType::F64x(_) => 8,
            ColumnType::U32 | ColumnType::U32x(_) | ColumnType::F32x(_) => 4,
        }
    }

    /// Bytes per row.
    pub fn row_bytes(self) -> usize {
        self.width() * self.value_bytes()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    rows: u64,
    columns: Vec<HeaderColumn>,
}

// ---------------------------------------------------------------------------------------
// Metrics by name.

/// Whether metric `name` is stored as `u32`.
fn is_integer(name: &str) -> bool {
    backtest::metrics::metric(name).is_some_and(|d| d.integer)
}

/// The value of a whole-number metric.
fn integer_of(m: &Metrics, name: &str) -> Option<u64> {
    match name {
        "max_drawdown_duration" => m.max_drawdown_duration,
        "trades" => m.trades,
        "n_obs" => m.n_obs,
        _ => None,
    }
}

/// Sets metric `name` of `m` from a column value (`f64`, or a `u32` as `Some`/`None`).
fn set_metric(m: &mut Metrics, name: &str, v: Value) {
    match (name, v) {
        ("max_drawdown_duration", Value::Count(c)) => m.max_drawdown_duration = c,
        ("trades", Value::Count(c)) => m.trades = c,
        ("n_obs", Value::Count(c)) => m.n_obs = c,
        ("sharpe", Value::Float(x)) => m.sharpe = x,
        ("sortino", Value::Float(x)) => m.sortino = x,
        ("cagr", Value::Float(x)) => m.cagr = x,
        ("annualised_vol", Value::Float(x)) => m.annualised_vol = x,
        ("max_drawdown", Value::Float(x)) => m.max_drawdown = x,
        ("total_return", Value::Float(x)) => m.total_return = x,
        ("calmar", Value::Float(x)) => m.calmar = x,
        ("turnover", Value::Float(x)) => m.turnover = x,
        ("exposure", Value::Float(x)) => m.exposure = x,
        ("skew", Value::Float(x)) => m.skew = x,
        ("kurtosis", Value::Float(x)) => m.kurtosis = x,
        _ => {}
    }
}

#[derive(Clone, Copy)]
enum Value {
    Float(f64),
    Count(Option<u64>),
}

// ---------------------------------------------------------------------------------------
// Writing.

/// A column being built: its name, type and little-endian bytes.
struct Building {
    name: String,
    ty: ColumnType,
    bytes: Vec<u8>,
}

impl Building {
    fn new(name: String, ty: ColumnType, rows: usize) -> Self {
        Building {
            name,
            bytes: Vec::with_capacity(rows * ty.row_bytes()),
            ty,
        }
    }
    fn f64(&mut self, x: f64) {
        self.bytes.extend_from_slice(&x.to_le_bytes());
    }
    fn u32(&mut self, x: u32) {
        self.bytes.extend_from_slice(&x.to_le_bytes());
    }
    fn f32(&mut self, x: f32) {
        self.bytes.extend_from_slice(&x.to_le_bytes());
    }
}

/// A metric set's columns (`<prefix><metric>` for every metric).
fn metric_columns(prefix: &str, rows: usize) -> Vec<Building> {
    METRICS
        .iter()
        .map(|d| {
            let ty = if d.integer {
                ColumnType::U32
            } else {
                ColumnType::F64
            };
            Building::new(format!("{prefix}{}", d.name), ty, rows)
        })
        .collect()
}

/// Appends one row of a metric set (`None`: unknown).
fn push_metrics(
    cols: &mut [Building],
    m: Option<&Metrics>,
    combo: u64,
    what: &str,
) -> Result<(), String> {
    for (col, d) in cols.iter_mut().zip(METRICS.iter()) {
        if d.integer {
            let v = match m.and_then(|m| integer_of(m, d.name)) {
                None => U32_UNKNOWN,
                Some(n) => match u32::try_from(n) {
                    Ok(v) if v != U32_UNKNOWN => v,
                    _ => {
                        return Err(format!(
                            "combination {combo}: {what}`{}` = {n} does not fit the sidecar's \
                             u32 column (at most {})",
                            d.name,
                            U32_UNKNOWN - 1
                        ))
                    }
                },
            };
            col.u32(v);
        } else {
            col.f64(m.map_or(f64::NAN, |m| (d.get)(m)));
        }
    }
    Ok(())
}

/// Builds the sidecar of a task's `runs` (in combination order; see the module
/// documentation for the columns). The error names the combination and value that cannot
/// be stored. `file` names the sidecar in messages.
pub fn encode(runs: &[Run], file: &str) -> Result<Vec<u8>, ColumnsError> {
    let fail = |message: String| ColumnsError {
        file: file.to_string(),
        message,
    };
    let rows = runs.len();
    let ok: Vec<&Run> = runs.iter().filter(|r| r.status == RunStatus::Ok).collect();
    let split = ok
        .iter()
        .any(|r| r.in_sample.is_some() || r.out_of_sample.is_some());
    let windows = ok
        .iter()
        .filter_map(|r| r.windows.as_ref())
        .map(|w| w.train.len().max(w.test.len()))
        .max();
    let blocks = ok.iter().filter_map(|r| r.blocks.as_ref()).next();
    let s = blocks.map(|b| b.count.len());
    if let Some(s) = s {
        if let Some(r) = ok.iter().find(|r| {
            r.blocks
                .as_ref()
                .is_some_and(|b| b.count.len() != s || b.sum.len() != s || b.sum_sq.len() != s)
        }) {
            return Err(fail(format!(
                "combination {}: block moments of another number of blocks than {s}",
                r.i
            )));
        }
    }
    let t = ok
        .iter()
        .filter_map(|r| r.returns.as_ref())
        .map(Vec::len)
        .max();

    let mut full = metric_columns("", rows);
    let mut split_cols = split.then(|| (metric_columns("is.", rows), metric_columns("oos.", rows)));
    let mut window_cols: Vec<(Vec<Building>, Vec<Building>)> = (0..windows.unwrap_or(0))
        .map(|k| {
            (
                metric_columns(&format!("train{k}."), rows),
                metric_columns(&format!("test{k}."), rows),
            )
        })
        .collect();
    let mut block_cols = s.map(|s| {
        [
            Building::new("block.count".into(), ColumnType::U32x(s), rows),
            Building::new("block.sum".into(), ColumnType::F64x(s), rows),
            Building::new("block.sum_sq".into(), ColumnType::F64x(s), rows),
        ]
    });
    let mut return_cols = t.map(|t| {
        [
            Building::new("returns.len".into(), ColumnType::U32, rows),
            Building::new("returns".into(), ColumnType::F32x(t.max(1)), rows),
        ]
    });

    for run in runs {
        let ok = run.status == RunStatus::Ok;
        fn part(ok: bool, m: &Option<Metrics>) -> Option<&Metrics> {
            m.as_ref().filter(|_| ok)
        }
        push_metrics(&mut full, part(ok, &run.metrics), run.i, "").map_err(&fail)?;
        if let Some((is, oos)) = &mut split_cols {
            push_metrics(is, part(ok, &run.in_sample), run.i, "in-sample ").map_err(&fail)?;
            push_metrics(oos, part(ok, &run.out_of_sample), run.i, "out-of-sample ")
                .map_err(&fail)?;
        }
        let w = run.windows.as_ref().filter(|_| ok);
        for (k, (train, test)) in window_cols.iter_mut().enumerate() {
            push_metrics(
                train,
                w.and_then(|w| w.train.get(k)),
                run.i,
                &format!("window {k} train "),
            )
            .map_err(&fail)?;
            push_metrics(
                test,
                w.and_then(|w| w.test.get(k)),
                run.i,
                &format!("window {k} test "),
            )
            .map_err(&fail)?;
        }
        if let (Some([count, sum, sum_sq]), Some(s)) = (&mut block_cols, s) {
            match run.blocks.as_ref().filter(|_| ok) {
                Some(b) => {
                    for k in 0..s {
                        if b.count[k] == U32_UNKNOWN {
                            return Err(fail(format!(
                                "combination {}: a block of {} returns does not fit u32",
                                run.i, b.count[k]
                            )));
                        }
                        count.u32(b.count[k]);
                        sum.f64(b.sum[k]);
                        sum_sq.f64(b.sum_sq[k]);
                    }
                }
                None => {
                    for _ in 0..s {
                        count.u32(U32_UNKNOWN);
                        sum.f64(f64::NAN);
                        sum_sq.f64(f64::NAN);
                    }
                }
            }
        }
        if let (Some([len, values]), Some(t)) = (&mut return_cols, t) {
            let width = t.max(1);
            match run.returns.as_ref().filter(|_| ok) {
                Some(r) => {
                    let n = u32::try_from(r.len())
                        .ok()
                        .filter(|&n| n != U32_UNKNOWN)
                        .ok_or_else(|| {
                            fail(format!("combination {}: {} returns", run.i, r.len()))
                        })?;
                    len.u32(n);
                    for &x in r {
                        values.f32(x as f32);
                    }
                    for _ in r.len()..width {
                        values.f32(f32::NAN);
                    }
                }
                None => {
                    len.u32(U32_UNKNOWN);
                    for _ in 0..width {
                        values.f32(f32::NAN);
                    }
                }
            }
        }
    }

    let mut all: Vec<Building> = full;
    if let Some((is, oos)) = split_cols {
        all.extend(is);
        all.extend(oos);
    }
    for (train, test) in window_cols {
        all.extend(train);
        all.extend(test);
    }
    if let Some(b) = block_cols {
        all.extend(b);
    }
    if let Some(r) = return_cols {
        all.extend(r);
    }
    let header = Header {
        rows: rows as u64,
        columns: all
            .iter()
            .map(|c| HeaderColumn {
                name: c.name.clone(),
                ty: c.ty.name(),
            })
            .collect(),
    };
    let header = serde_json::to_vec(&header).map_err(|e| fail(e.to_string()))?;
    let header_len = u32::try_from(header.len())
        .ok()
        .filter(|&n| n <= MAX_HEADER)
        .ok_or_else(|| fail(format!("a header of {} bytes", header.len())))?;
    let body: usize = all.iter().map(|c| c.bytes.len()).sum();
    let mut out = Vec::with_capacity(12 + header.len() + body);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&header);
    for c in &all {
        out.extend_from_slice(&c.bytes);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Reading.

/// What one `ok` row of a sidecar holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowValues {
    pub metrics: Metrics,
    pub in_sample: Option<Metrics>,
    pub out_of_sample: Option<Metrics>,
    pub windows: Option<WindowRuns>,
    /// `None` when the file has no moments or the row's are unknown.
    pub blocks: Option<BlockMoments>,
    /// Only when asked for (see [`decode`]); `None` when unknown.
    pub returns: Option<Vec<f64>>,
}

/// A column's values as read.
enum Data<'a> {
    F64(&'a [u8]),
    U32(&'a [u8]),
    F32(&'a [u8]),
}

struct Col<'a> {
    ty: ColumnType,
    data: Data<'a>,
}

impl Col<'_> {
    fn f64_at(&self, k: usize) -> f64 {
        match &self.data {
            Data::F64(b) => f64::from_le_bytes(b[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8])),
            Data::F32(b) => f64::from(f32::from_le_bytes(
                b[k * 4..k * 4 + 4].try_into().unwrap_or([0; 4]),
            )),
            Data::U32(_) => f64::NAN,
        }
    }
    fn u32_at(&self, k: usize) -> u32 {
        match &self.data {
            Data::U32(b) => u32::from_le_bytes(b[k * 4..k * 4 + 4].try_into().unwrap_or([0; 4])),
            _ => U32_UNKNOWN,
        }
    }
}

/// Which column set a name belongs to.
enum Kind {
    /// A metric of part `part` (`""`, `is.`, `oos.`, `train<k>.`, `test<k>.`).
    Metric,
    BlockCount,
    BlockSum,
    BlockSumSq,
    ReturnsLen,
    Returns,
}

/// Splits `name` into its part prefix and metric, when it is a metric column.
fn metric_part(name: &str) -> Option<(&str, &'static str)> {
    let (prefix, metric) = match name.rsplit_once('.') {
        Some((p, m)) => (&name[..p.len() + 1], m),
        None => ("", name),
    };
    let def = METRICS.iter().find(|d| d.name == metric)?;
    let window = |p: &str, w: &str| {
        p.strip_prefix(w)
            .and_then(|k| k.strip_suffix('.'))
            .is_some_and(|k| {
                !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_digit())
                    && (k == "0" || !k.starts_with('0'))
            })
    };
    let known = prefix.is_empty()
        || prefix == "is."
        || prefix == "oos."
        || window(prefix, "train")
        || window(prefix, "test");
    known.then_some((prefix, def.name))
}

/// Reads a sidecar's `bytes` (named `file` in messages) holding `ok.len()` rows, and hands
/// back one entry per row: `Some` for an ok row (`ok[r]`), `None` for a failed one. Daily
/// returns are converted only when `keep_returns`. Every check of the module documentation
/// is made before anything is handed back.
pub fn decode(
    bytes: &[u8],
    file: &str,
    ok: &[bool],
    keep_returns: bool,
) -> Result<Vec<Option<RowValues>>, ColumnsError> {
    let fail = |message: String| ColumnsError {
        file: file.to_string(),
        message,
    };
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(fail(format!(
            "not a column sidecar: expected the magic `SSWCOLS1` and a header length in the \
             first 12 bytes, found {} bytes{}",
            bytes.len(),
            if bytes.len() >= 8 {
                " of another start"
            } else {
                ""
            }
        )));
    }
    let header_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if header_len > MAX_HEADER || 12 + header_len as usize > bytes.len() {
        return Err(fail(format!(
            "header length {header_len} does not fit: expected at most {} bytes after the \
             first 12",
            (bytes.len() - 12).min(MAX_HEADER as usize)
        )));
    }
    let body_at = 12 + header_len as usize;
    let header: Header = serde_json::from_slice(&bytes[12..body_at]).map_err(|e| {
        fail(crate::reader::excerpt(&format!(
            "header is not the expected JSON {{\"rows\": n, \"columns\": [{{\"name\", \
             \"type\"}}]}}: {e}"
        )))
    })?;
    let rows = ok.len();
    if header.rows != rows as u64 {
        return Err(fail(format!(
            "holds {} rows, expected {rows} (one per combination of the task)",
            header.rows
        )));
    }

    // Names and types, then the exact size.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut kinds = Vec::with_capacity(header.columns.len());
    let mut types = Vec::with_capacity(header.columns.len());
    for (n, c) in header.columns.iter().enumerate() {
        let ty = ColumnType::parse(&c.ty).ok_or_else(|| {
            fail(crate::reader::excerpt(&format!(
                "column `{}` has type `{}`, expected f64, u32, f32xN, u32xN or f64xN",
                c.name, c.ty
            )))
        })?;
        if seen.insert(c.name.as_str(), n).is_some() {
            return Err(fail(crate::reader::excerpt(&format!(
                "column `{}` appears twice",
                c.name
            ))));
        }
        let (kind, want) = if let Some((_, metric)) = metric_part(&c.name) {
            let want = if is_integer(metric) {
                ColumnType::U32
            } else {
                ColumnType::F64
            };
            (Kind::Metric, Some(want))
        } else {
            match c.name.as_str() {
                "block.count" => (Kind::BlockCount, None),
                "block.sum" => (Kind::BlockSum, None),
                "block.sum_sq" => (Kind::BlockSumSq, None),
                "returns.len" => (Kind::ReturnsLen, Some(ColumnType::U32)),
                "returns" => (Kind::Returns, None),
                other => {
                    return Err(fail(crate::reader::excerpt(&format!(
                        "unknown column `{other}`: expected a metric name, is./oos./train<k>./\
                         test<k>.<metric>, block.count, block.sum, block.sum_sq, returns.len \
                         or returns"
                    ))))
                }
            }
        };
        let type_ok = match (&kind, want) {
            (_, Some(w)) => ty == w,
            (Kind::BlockCount, _) => matches!(ty, ColumnType::U32x(_)),
            (Kind::BlockSum | Kind::BlockSumSq, _) => matches!(ty, ColumnType::F64x(_)),
            (Kind::Returns, _) => matches!(ty, ColumnType::F32x(_)),
            _ => false,
        };
        if !type_ok {
            let expected = match (&kind, want) {
                (_, Some(w)) => w.name(),
                (Kind::BlockCount, _) => "u32xS".into(),
                (Kind::Returns, _) => "f32xT".into(),
                _ => "f64xS".into(),
            };
            return Err(fail(format!(
                "column `{}` has type `{}`, expected `{expected}`",
                c.name, c.ty
            )));
        }
        kinds.push(kind);
        types.push(ty);
    }
    let mut need: u128 = body_at as u128;
    for ty in &types {
        need += rows as u128 * ty.row_bytes() as u128;
    }
    if need != bytes.len() as u128 {
        return Err(fail(format!(
            "is {} bytes, expected {need} for {rows} rows of its {} columns ({})",
            bytes.len(),
            types.len(),
            if (bytes.len() as u128) < need {
                "truncated"
            } else {
                "bytes after the last column"
            }
        )));
    }

    // Complete sets: every metric of each part present.
    let mut parts: BTreeMap<String, usize> = BTreeMap::new();
    for c in &header.columns {
        if let Some((prefix, _)) = metric_part(&c.name) {
            *parts.entry(prefix.to_string()).or_default() += 1;
        }
    }
    for (prefix, n) in &parts {
        if *n != METRICS.len() {
            return Err(fail(format!(
                "has {n} of the {} metric columns of `{prefix}<metric>`",
                METRICS.len()
            )));
        }
    }
    if !parts.contains_key("") {
        return Err(fail(
            "has no metric columns: expected one per metric (sharpe, cagr, ...)".into(),
        ));
    }
    if parts.contains_key("is.") != parts.contains_key("oos.") {
        return Err(fail(
            "has only one of the in-sample (is.) and out-of-sample (oos.) column sets".into(),
        ));
    }
    let mut windows = 0usize;
    while parts.contains_key(&format!("train{windows}.")) {
        if !parts.contains_key(&format!("test{windows}.")) {
            return Err(fail(format!("has train{windows}.* but no test{windows}.*")));
        }
        windows += 1;
    }
    let window_parts = parts
        .keys()
        .filter(|p| p.starts_with("train") || p.starts_with("test"))
        .count();
    if window_parts != 2 * windows {
        return Err(fail(format!(
            "walk-forward columns are not windows 0..{windows}, each with train and test"
        )));
    }
    let block_s: Vec<usize> = ["block.count", "block.sum", "block.sum_sq"]
        .iter()
        .filter_map(|n| seen.get(n).map(|&k| types[k].width()))
        .collect();
    if !(block_s.is_empty() || block_s.len() == 3 && block_s.iter().all(|&s| s == block_s[0])) {
        return Err(fail(
            "block moments need block.count, block.sum and block.sum_sq, all of one S".into(),
        ));
    }
    if seen.contains_key("returns") != seen.contains_key("returns.len") {
        return Err(fail(
            "daily returns need both `returns` and `returns.len`".into(),
        ));
    }

    // Slice the body.
    let mut cols: Vec<Col> = Vec::with_capacity(types.len());
    let mut at = body_at;
    for &ty in &types {
        let len = rows * ty.row_bytes();
        let slice = &bytes[at..at + len];
        at += len;
        let data = match ty {
            ColumnType::F64 | ColumnType::F64x(_) => Data::F64(slice),
            ColumnType::U32 | ColumnType::U32x(_) => Data::U32(slice),
            ColumnType::F32x(_) => Data::F32(slice),
        };
        cols.push(Col { ty, data });
    }
    let col = |name: &str| seen.get(name).map(|&k| &cols[k]);
    let part_cols = |prefix: &str| -> Vec<(&'static str, &Col)> {
        METRICS
            .iter()
            .filter_map(|d| col(&format!("{prefix}{}", d.name)).map(|c| (d.name, c)))
            .collect()
    };
    let read_metrics = |set: &[(&'static str, &Col)], r: usize| {
        let mut m = Metrics::default();
        for (name, c) in set {
            let v = if c.ty == ColumnType::U32 {
                let x = c.u32_at(r);
                Value::Count((x != U32_UNKNOWN).then_some(u64::from(x)))
            } else {
                Value::Float(c.f64_at(r))
            };
            set_metric(&mut m, name, v);
        }
        m
    };
    let full = part_cols("");
    let split = parts
        .contains_key("is.")
        .then(|| (part_cols("is."), part_cols("oos.")));
    let wins: Vec<_> = (0..windows)
        .map(|k| {
            (
                part_cols(&format!("train{k}.")),
                part_cols(&format!("test{k}.")),
            )
        })
        .collect();
    let blocks = match (col("block.count"), col("block.sum"), col("block.sum_sq")) {
        (Some(c), Some(s), Some(q)) => Some((c, s, q, c.ty.width())),
        _ => None,
    };
    let returns = match (col("returns.len"), col("returns")) {
        (Some(l), Some(v)) if keep_returns => Some((l, v, v.ty.width())),
        _ => None,
    };
    let mut out = Vec::with_capacity(rows);
    for (r, &is_ok) in ok.iter().enumerate() {
        if !is_ok {
            out.push(None);
            continue;
        }
        let (in_sample, out_of_sample) = match &split {
            Some((is, oos)) => (Some(read_metrics(is, r)), Some(read_metrics(oos, r))),
            None => (None, None),
        };
        let windows = (!wins.is_empty()).then(|| WindowRuns {
            train: wins.iter().map(|(t, _)| read_metrics(t, r)).collect(),
            test: wins.iter().map(|(_, t)| read_metrics(t, r)).collect(),
        });
        let blocks = blocks.and_then(|(c, s, q, width)| {
            let count: Vec<u32> = (0..width).map(|k| c.u32_at(r * width + k)).collect();
            if count.contains(&U32_UNKNOWN) {
                return None;
            }
            Some(BlockMoments {
                count,
                sum: (0..width).map(|k| s.f64_at(r * width + k)).collect(),
                sum_sq: (0..width).map(|k| q.f64_at(r * width + k)).collect(),
            })
        });
        let returns = match returns {
            Some((l, v, width)) => {
                let n = l.u32_at(r);
                if n == U32_UNKNOWN {
                    None
                } else if n as usize > width {
                    return Err(fail(format!(
                        "row {r}: returns.len = {n}, more than the {width} values per row of \
                         `returns`"
                    )));
                } else {
                    Some((0..n as usize).map(|k| v.f64_at(r * width + k)).collect())
                }
            }
            None => None,
        };
        out.push(Some(RowValues {
            metrics: read_metrics(&full, r),
            in_sample,
            out_of_sample,
            windows,
            blocks,
            returns,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtest::Params;

    fn metrics(seed: f64) -> Metrics {
        Metrics {
            sharpe: seed,
            sortino: seed + 0.1,
            cagr: seed + 0.2,
            annualised_vol: seed + 0.3,
            max_drawdown: seed + 0.4,
            max_drawdown_duration: Some(17),
            total_return: seed + 0.5,
            calmar: seed + 0.6,
            trades: None,
            turnover: f64::NAN,
            exposure: seed + 0.7,
            skew: seed + 0.8,
            kurtosis: seed + 0.9,
            n_obs: Some(8_000),
        }
    }

    fn run(i: u64, ok: bool) -> Run {
        if !ok {
            return Run::failed(i, Params::new(), "boom".into());
        }
        Run {
            i,
            params: Params::new(),
            status: RunStatus::Ok,
            error: None,
            metrics: Some(metrics(i as f64)),
            in_sample: Some(metrics(10.0 + i as f64)),
            out_of_sample: Some(metrics(20.0 + i as f64)),
            returns: Some(vec![0.01, -0.02, 0.5 + i as f64][..(i as usize % 3) + 1].to_vec()),
            windows: Some(WindowRuns {
                train: vec![metrics(1.0), metrics(2.0)],
                test: vec![metrics(3.0), metrics(4.0)],
            }),
            blocks: Some(BlockMoments {
                count: vec![5, 5],
                sum: vec![0.1, i as f64],
                sum_sq: vec![0.01, 0.5],
            }),
        }
    }

    /// NaN-aware equality of metrics (Debug text compares NaN as NaN).
    fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn round_trips_every_part() {
        let runs: Vec<Run> = (0..4).map(|i| run(i, i != 2)).collect();
        let bytes = encode(&runs, "t.cols").expect("encode");
        let ok: Vec<bool> = runs.iter().map(|r| r.status == RunStatus::Ok).collect();
        let rows = decode(&bytes, "t.cols", &ok, true).expect("decode");
        assert_eq!(rows.len(), 4);
        assert!(rows[2].is_none());
        for (run, row) in runs.iter().zip(&rows) {
            let Some(row) = row else { continue };
            assert!(same(&Some(row.metrics.clone()), &run.metrics));
            assert!(same(&row.in_sample, &run.in_sample));
            assert!(same(&row.out_of_sample, &run.out_of_sample));
            assert!(same(&row.windows, &run.windows));
            assert_eq!(row.blocks, run.blocks);
            let want: Vec<f64> = run
                .returns
                .as_ref()
                .expect("returns")
                .iter()
                .map(|&x| f64::from(x as f32))
                .collect();
            assert_eq!(row.returns.as_ref(), Some(&want));
        }
        // Returns are converted only when asked.
        let rows = decode(&bytes, "t.cols", &ok, false).expect("decode");
        assert!(rows[0].as_ref().is_some_and(|r| r.returns.is_none()));
    }

    #[test]
    fn plain_runs_have_only_the_metric_columns() {
        let mut r = run(0, true);
        r.in_sample = None;
        r.out_of_sample = None;
        r.windows = None;
        r.blocks = None;
        r.returns = None;
        let bytes = encode(&[r.clone(), r], "t.cols").expect("encode");
        // 11 f64 and 3 u32 columns of 2 rows.
        let header_len = u32::from_le_bytes(bytes[8..12].try_into().expect("4")) as usize;
        assert_eq!(bytes.len(), 12 + header_len + 2 * (11 * 8 + 3 * 4));
        let rows = decode(&bytes, "t.cols", &[true, true], true).expect("decode");
        let row = rows[0].as_ref().expect("ok");
        assert!(row.in_sample.is_none() && row.windows.is_none() && row.blocks.is_none());
    }

    #[test]
    fn a_count_that_does_not_fit_is_an_error() {
        let mut r = run(0, true);
        r.metrics.as_mut().expect("m").trades = Some(u64::from(u32::MAX));
        let err = encode(&[r], "t.cols").expect_err("too big");
        assert!(err.to_string().contains("`trades` = 4294967295"), "{err}");
    }

    fn header_of(bytes: &[u8]) -> (usize, serde_json::Value) {
        let n = u32::from_le_bytes(bytes[8..12].try_into().expect("4")) as usize;
        (
            n,
            serde_json::from_slice(&bytes[12..12 + n]).expect("header json"),
        )
    }

    fn with_header(bytes: &[u8], header: &serde_json::Value) -> Vec<u8> {
        let (n, _) = header_of(bytes);
        let h = serde_json::to_vec(header).expect("json");
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&bytes[12 + n..]);
        out
    }

    #[test]
    fn every_lie_is_caught_and_named() {
        let runs: Vec<Run> = (0..3).map(|i| run(i, true)).collect();
        let bytes = encode(&runs, "t.cols").expect("encode");
        let ok = [true, true, true];
        let err = |b: &[u8], ok: &[bool]| {
            decode(b, "task-0.h.12345678.cols", ok, true)
                .expect_err("bad")
                .to_string()
        };
        let starts = |m: String, want: &str| {
            assert!(m.starts_with("task-0.h.12345678.cols: "), "{m}");
            assert!(m.contains(want), "{m} should say {want}");
        };
        starts(err(&bytes[..bytes.len() - 1], &ok), "truncated");
        starts(err(&bytes[..5], &ok), "magic");
        let mut longer = bytes.clone();
        longer.push(0);
        starts(err(&longer, &ok), "bytes after the last column");
        starts(err(&bytes, &[true, true]), "holds 3 rows, expected 2");
        let mut bad_magic = bytes.clone();
        bad_magic[0] = b'X';
        starts(err(&bad_magic, &ok), "magic");
        let mut huge = bytes.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        starts(err(&huge, &ok), "header length");

        let (_, h) = header_of(&bytes);
        let mut rows = h.clone();
        rows["rows"] = 4.into();
        starts(err(&with_header(&bytes, &rows), &ok), "holds 4 rows");
        let mut ty = h.clone();
        ty["columns"][0]["type"] = "u32".into();
        starts(
            err(&with_header(&bytes, &ty), &ok),
            "column `sharpe` has type `u32`, expected `f64`",
        );
        let mut ty = h.clone();
        ty["columns"][0]["type"] = "f16".into();
        starts(err(&with_header(&bytes, &ty), &ok), "has type `f16`");
        let mut name = h.clone();
        name["columns"][0]["name"] = "sharp".into();
        starts(
            err(&with_header(&bytes, &name), &ok),
            "unknown column `sharp`",
        );
        let mut dup = h.clone();
        dup["columns"][1]["name"] = "sharpe".into();
        dup["columns"][1]["type"] = "f64".into();
        starts(err(&with_header(&bytes, &dup), &ok), "appears twice");
        // A column dropped (with its bytes): the set is incomplete.
        let cols = h["columns"].as_array().expect("columns").clone();
        let last = cols.last().expect("last").clone();
        assert_eq!(last["name"], "returns");
        // Header says fewer blocks than the data: the size no longer matches.
        let mut s = h.clone();
        for c in s["columns"].as_array_mut().expect("cols") {
            if c["name"] == "block.sum" {
                c["type"] = "f64x3".into();
            }
        }
        starts(err(&with_header(&bytes, &s), &ok), "expected");
        let mut garbage = h.clone();
        garbage["extra"] = 1.into();
        starts(err(&with_header(&bytes, &garbage), &ok), "header is not");
    }

    #[test]
    fn incomplete_column_sets_are_refused() {
        let mut r = run(0, true);
        r.windows = None;
        r.blocks = None;
        r.returns = None;
        r.in_sample = None;
        r.out_of_sample = None;
        let bytes = encode(&[r], "t.cols").expect("encode");
        let (n, h) = header_of(&bytes);
        // Drop the last column (n_obs, u32) and its 4 bytes.
        let mut fewer = h.clone();
        fewer["columns"].as_array_mut().expect("cols").pop();
        let mut b = with_header(&bytes, &fewer);
        b.truncate(b.len() - 4);
        let m = decode(&b, "x.cols", &[true], true)
            .expect_err("13 of 14")
            .to_string();
        assert!(m.contains("has 13 of the 14 metric columns"), "{m}");
        assert!(n > 0);
    }

    #[test]
    fn type_names_parse_strictly() {
        assert_eq!(ColumnType::parse("f32x8000"), Some(ColumnType::F32x(8000)));
        assert_eq!(ColumnType::parse("u32x16"), Some(ColumnType::U32x(16)));
        for bad in ["f32x0", "f32x", "f32x01", "f32x-1", "i32", "F64"] {
            assert_eq!(ColumnType::parse(bad), None, "{bad}");
        }
    }
}
