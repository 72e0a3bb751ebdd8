//! Evaluation: a compiled rule ([`Node`]) for one combination of parameters, over every
//! symbol and day of a run at once (vectorised: one loop per operation over whole series).
//!
//! Values are `f64` throughout: numbers as themselves, bools as 1 / 0, and NaN for
//! *undefined* (an indicator before it has enough days, a symbol before its first price).
//! Logic is three-valued: an undefined operand of any comparison, `and`, `or`, `not` or
//! arithmetic makes the result undefined, as does an undefined condition of `if`. An
//! arithmetic result that is not a finite number (a division by zero) is undefined too.
//!
//! A series holds `symbols × days` values, symbol after symbol (each symbol's days
//! contiguous, so indicators run over plain slices). Scalar parts (parameters, literals)
//! are computed once and broadcast.

use std::sync::{Arc, OnceLock};

use expr::BinOp;

use crate::data::MarketData;
use crate::params::ParamValue;

use super::cache::{Key, TaskCache};
use super::indicators;
use super::ir::{Field, Func, Node, Op};

const NAN: f64 = f64::NAN;

/// Why a window value is not usable (`None`: a positive whole number of days).
pub(crate) fn window_problem(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("a window must be a positive whole number of days, and this is undefined")
    } else if value < 1.0 {
        Some("a window must be a positive whole number of days")
    } else if value.fract() != 0.0 {
        Some("a window must be a whole number of days")
    } else if value > 1e9 {
        Some("a window must be at most 1,000,000,000 days")
    } else {
        None
    }
}

/// A window value known to be valid ([`window_problem`] is `None`), as a count.
pub(crate) fn days(value: f64) -> usize {
    if window_problem(value).is_some() {
        // Not reached after `Rules::check`; an undefined result is the safe reading.
        usize::MAX
    } else {
        value as usize
    }
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        NAN
    }
}

fn truth(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `a op b` on defined or undefined values (see the module doc).
pub(crate) fn binary(op: BinOp, a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return NAN;
    }
    match op {
        BinOp::Add => finite(a + b),
        BinOp::Sub => finite(a - b),
        BinOp::Mul => finite(a * b),
        BinOp::Div => finite(a / b),
        BinOp::Rem => finite(a % b),
        BinOp::Lt => truth(a < b),
        BinOp::Le => truth(a <= b),
        BinOp::Gt => truth(a > b),
        BinOp::Ge => truth(a >= b),
        BinOp::Eq => truth(a == b),
        BinOp::Ne => truth(a != b),
        BinOp::And => truth(a != 0.0 && b != 0.0),
        BinOp::Or => truth(a != 0.0 || b != 0.0),
    }
}

fn not(a: f64) -> f64 {
    if a.is_nan() {
        NAN
    } else {
        truth(a == 0.0)
    }
}

fn sign(x: f64) -> f64 {
    if x.is_nan() {
        NAN
    } else if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        NAN
    } else {
        a.min(b)
    }
}

fn max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        NAN
    } else {
        a.max(b)
    }
}

fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    if x.is_nan() || lo.is_nan() || hi.is_nan() {
        NAN
    } else {
        x.max(lo).min(hi)
    }
}

fn log(x: f64) -> f64 {
    if x > 0.0 {
        finite(x.ln())
    } else {
        NAN
    }
}

fn choose(c: f64, a: f64, b: f64) -> f64 {
    if c.is_nan() {
        NAN
    } else if c != 0.0 {
        a
    } else {
        b
    }
}

/// The string value of a scalar string node (a string literal or a choice parameter).
fn scalar_str<'a>(node: &'a Node, values: &'a [ParamValue]) -> Option<&'a str> {
    match &node.op {
        Op::Str(s) => Some(s),
        Op::Param(k) => values.get(*k).and_then(ParamValue::as_str),
        _ => None,
    }
}

/// The value of a scalar node for the parameter `values` (in declaration order).
pub(crate) fn scalar(node: &Node, values: &[ParamValue]) -> f64 {
    match &node.op {
        Op::Const(x) => *x,
        Op::Str(_) => NAN,
        Op::Param(k) => match values.get(*k) {
            Some(ParamValue::Bool(b)) => truth(*b),
            Some(v) => v.as_f64().unwrap_or(NAN),
            None => NAN,
        },
        Op::Price(_) => NAN,
        Op::Neg(a) => -scalar(a, values),
        Op::Not(a) => not(scalar(a, values)),
        Op::Binary(op @ (BinOp::Eq | BinOp::Ne), a, b) if a.ty.kind == super::ir::Kind::Str => {
            match (scalar_str(a, values), scalar_str(b, values)) {
                (Some(x), Some(y)) => truth((x == y) == (*op == BinOp::Eq)),
                _ => NAN,
            }
        }
        Op::Binary(op, a, b) => binary(*op, scalar(a, values), scalar(b, values)),
        Op::Call(func, args) => {
            let v = |k: usize| args.get(k).map_or(NAN, |a| scalar(a, values));
            match func {
                Func::Abs => v(0).abs(),
                Func::Sign => sign(v(0)),
                Func::Log => log(v(0)),
                Func::Min => min(v(0), v(1)),
                Func::Max => max(v(0), v(1)),
                Func::Clip => clip(v(0), v(1), v(2)),
                Func::If => choose(v(0), v(1), v(2)),
                // Series functions are never scalar.
                _ => NAN,
            }
        }
    }
}

/// The cache key of a node with a template: its template and the values of its maximal
/// scalar parts, in order.
pub(crate) fn key(node: &Node, values: &[ParamValue]) -> Option<Key> {
    let template = node.template?;
    let mut scalars = Vec::new();
    collect_scalars(node, values, &mut scalars);
    Some(Key { template, scalars })
}

fn collect_scalars(node: &Node, values: &[ParamValue], out: &mut Vec<u64>) {
    if !node.ty.series {
        out.push(scalar(node, values).to_bits());
        return;
    }
    for c in node.children() {
        collect_scalars(c, values, out);
    }
}

/// A series: owned, or borrowed from the data, the frame or the cache.
#[derive(Debug)]
pub(crate) enum Ser<'r> {
    Owned(Vec<f64>),
    Borrowed(&'r [f64]),
}

impl Ser<'_> {
    pub(crate) fn as_slice(&self) -> &[f64] {
        match self {
            Ser::Owned(v) => v,
            Ser::Borrowed(s) => s,
        }
    }

    pub(crate) fn into_vec(self) -> Vec<f64> {
        match self {
            Ser::Owned(v) => v,
            Ser::Borrowed(s) => s.to_vec(),
        }
    }
}

/// A value: one scalar, or a series.
#[derive(Debug)]
enum Val<'r> {
    Scalar(f64),
    Series(Ser<'r>),
}

/// The price series of a run in the layout of [`Ser`]: one symbol's days borrowed from the
/// data, several symbols' copied on first use.
#[derive(Debug)]
pub(crate) struct Frame<'d> {
    data: &'d MarketData,
    start: usize,
    end: usize,
    fields: [OnceLock<Vec<f64>>; 5],
}

impl<'d> Frame<'d> {
    /// The prices of `data` on days `start..end`.
    pub(crate) fn new(data: &'d MarketData, start: usize, end: usize) -> Frame<'d> {
        Frame {
            data,
            start,
            end,
            fields: Default::default(),
        }
    }

    pub(crate) fn days(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn symbols(&self) -> usize {
        self.data.symbols.len()
    }

    /// The data's columns of `field` (empty when the data has none: built by hand).
    pub(crate) fn columns(data: &MarketData, field: Field) -> &[Vec<f64>] {
        match field {
            Field::Open => &data.open,
            Field::High => &data.high,
            Field::Low => &data.low,
            Field::Close => &data.close,
            Field::Volume => &data.volume,
        }
    }

    /// `field` of every symbol (the data must have it: see `Rules::check_data`).
    pub(crate) fn field(&self, field: Field) -> &[f64] {
        let columns = Frame::columns(self.data, field);
        let (start, end) = (self.start, self.end);
        if let [one] = columns {
            return one.get(start..end).unwrap_or(&[]);
        }
        self.fields[field.index()].get_or_init(|| {
            let mut all = Vec::with_capacity(columns.len() * (end - start));
            for c in columns {
                match c.get(start..end) {
                    Some(days) => all.extend_from_slice(days),
                    None => all.resize(all.len() + (end - start), NAN),
                }
            }
            all
        })
    }
}

/// Evaluates rules for one combination.
pub(crate) struct Eval<'r, 'v> {
    pub frame: &'r Frame<'r>,
    pub cache: &'r TaskCache,
    pub values: &'v [ParamValue],
}

impl<'r> Eval<'r, '_> {
    fn days(&self) -> usize {
        self.frame.days()
    }

    fn len(&self) -> usize {
        self.frame.days() * self.frame.symbols()
    }

    /// `node` as a series (a scalar broadcast to every symbol and day).
    pub(crate) fn series(&self, node: &Node) -> Ser<'r> {
        match self.val(node) {
            Val::Series(s) => s,
            Val::Scalar(x) => Ser::Owned(vec![x; self.len()]),
        }
    }

    fn val(&self, node: &Node) -> Val<'r> {
        if !node.ty.series {
            return Val::Scalar(scalar(node, self.values));
        }
        if let Op::Price(field) = node.op {
            return Val::Series(Ser::Borrowed(self.frame.field(field)));
        }
        if node.template.is_some_and(|t| self.cache.keeps(t)) {
            if let Some(cell) = key(node, self.values).and_then(|k| self.cache.cell(&k)) {
                let shared: &'r Arc<[f64]> =
                    cell.get_or_init(|| Arc::from(self.compute(node).into_vec()));
                return Val::Series(Ser::Borrowed(shared));
            }
        }
        Val::Series(self.compute(node))
    }

    /// Computes a series node (not a price), without the cache for the node itself.
    fn compute(&self, node: &Node) -> Ser<'r> {
        match &node.op {
            Op::Neg(a) => self.map1(self.val(a), |x| -x),
            Op::Not(a) => self.map1(self.val(a), not),
            Op::Binary(op, a, b) => self.binary(*op, self.val(a), self.val(b)),
            Op::Call(func, args) => self.call(*func, args),
            Op::Const(_) | Op::Str(_) | Op::Param(_) | Op::Price(_) => self.series(node),
        }
    }

    fn window(&self, node: &Node) -> usize {
        days(scalar(node, self.values))
    }

    /// `f` over each symbol's days of `x`, into a new series.
    fn per_symbol(&self, x: &[f64], f: impl Fn(&[f64], &mut [f64])) -> Ser<'r> {
        let days = self.days();
        let mut out = vec![NAN; x.len()];
        if days > 0 {
            for (xs, os) in x.chunks_exact(days).zip(out.chunks_exact_mut(days)) {
                f(xs, os);
            }
        }
        Ser::Owned(out)
    }

    fn call(&self, func: Func, args: &[Node]) -> Ser<'r> {
        let arg = |k: usize| &args[k];
        let series_fn = |f: fn(&[f64], usize, &mut [f64])| {
            let x = self.series(arg(0));
            let n = self.window(arg(1));
            self.per_symbol(x.as_slice(), |xs, os| {
                if n > xs.len() {
                    os.fill(NAN);
                } else {
                    f(xs, n, os)
                }
            })
        };
        match func {
            Func::Lag => series_fn(indicators::lag),
            Func::Ret => series_fn(indicators::ret),
            Func::Sma => series_fn(indicators::sma),
            Func::Ema => series_fn(indicators::ema),
            Func::Std => series_fn(indicators::std),
            Func::Zscore => series_fn(indicators::zscore),
            Func::Rsi => series_fn(indicators::rsi),
            Func::Highest => series_fn(|x, n, o| indicators::extreme(x, n, true, o)),
            Func::Lowest => series_fn(|x, n, o| indicators::extreme(x, n, false, o)),
            Func::Atr => {
                let n = self.window(arg(0));
                let days = self.days();
                let (high, low, close) = (
                    self.frame.field(Field::High),
                    self.frame.field(Field::Low),
                    self.frame.field(Field::Close),
                );
                let mut out = vec![NAN; self.len()];
                if days > 0 && n <= days {
                    for (s, os) in out.chunks_exact_mut(days).enumerate() {
                        let r = s * days..(s + 1) * days;
                        indicators::atr(&high[r.clone()], &low[r.clone()], &close[r], n, os);
                    }
                }
                Ser::Owned(out)
            }
            Func::Crossover | Func::Crossunder => {
                let (a, b) = (self.series(arg(0)), self.series(arg(1)));
                let (a, b) = (a.as_slice(), b.as_slice());
                let days = self.days();
                let mut out = vec![NAN; self.len()];
                if days > 0 {
                    let over = func == Func::Crossover;
                    for ((xa, xb), os) in a
                        .chunks_exact(days)
                        .zip(b.chunks_exact(days))
                        .zip(out.chunks_exact_mut(days))
                    {
                        indicators::cross(xa, xb, over, os);
                    }
                }
                Ser::Owned(out)
            }
            Func::Rank => {
                let x = self.series(arg(0));
                let mut out = vec![NAN; self.len()];
                indicators::rank(x.as_slice(), self.frame.symbols(), self.days(), &mut out);
                Ser::Owned(out)
            }
            Func::Abs => self.map1(self.val(arg(0)), f64::abs),
            Func::Sign => self.map1(self.val(arg(0)), sign),
            Func::Log => self.map1(self.val(arg(0)), log),
            Func::Min => self.map2(self.val(arg(0)), self.val(arg(1)), min),
            Func::Max => self.map2(self.val(arg(0)), self.val(arg(1)), max),
            Func::Clip => self.map3(args, clip),
            Func::If => self.map3(args, choose),
        }
    }

    /// `a op b` over series: one loop per operator (so each compiles to straight-line,
    /// vectorisable code), with the semantics of [`binary`].
    fn binary(&self, op: BinOp, a: Val<'r>, b: Val<'r>) -> Ser<'r> {
        // NaN operands propagate through arithmetic by themselves; a non-finite result
        // becomes NaN. Comparisons and logic check for NaN explicitly.
        #[inline(always)]
        fn defined(x: f64, y: f64, v: bool) -> f64 {
            if x.is_nan() || y.is_nan() {
                NAN
            } else if v {
                1.0
            } else {
                0.0
            }
        }
        match op {
            BinOp::Add => self.map2(a, b, |x, y| finite(x + y)),
            BinOp::Sub => self.map2(a, b, |x, y| finite(x - y)),
            BinOp::Mul => self.map2(a, b, |x, y| finite(x * y)),
            BinOp::Div => self.map2(a, b, |x, y| finite(x / y)),
            BinOp::Rem => self.map2(a, b, |x, y| finite(x % y)),
            BinOp::Lt => self.map2(a, b, |x, y| defined(x, y, x < y)),
            BinOp::Le => self.map2(a, b, |x, y| defined(x, y, x <= y)),
            BinOp::Gt => self.map2(a, b, |x, y| defined(x, y, x > y)),
            BinOp::Ge => self.map2(a, b, |x, y| defined(x, y, x >= y)),
            BinOp::Eq => self.map2(a, b, |x, y| defined(x, y, x == y)),
            BinOp::Ne => self.map2(a, b, |x, y| defined(x, y, x != y)),
            BinOp::And => self.map2(a, b, |x, y| defined(x, y, x != 0.0 && y != 0.0)),
            BinOp::Or => self.map2(a, b, |x, y| defined(x, y, x != 0.0 || y != 0.0)),
        }
    }

    /// `f` over a value (a series: this node is one).
    fn map1(&self, a: Val<'r>, f: impl Fn(f64) -> f64) -> Ser<'r> {
        match a {
            Val::Scalar(x) => Ser::Owned(vec![f(x); self.len()]),
            Val::Series(Ser::Owned(mut v)) => {
                v.iter_mut().for_each(|x| *x = f(*x));
                Ser::Owned(v)
            }
            Val::Series(Ser::Borrowed(s)) => Ser::Owned(s.iter().map(|x| f(*x)).collect()),
        }
    }

    /// `f` over two values, broadcasting a scalar; reuses an owned buffer.
    fn map2(&self, a: Val<'r>, b: Val<'r>, f: impl Fn(f64, f64) -> f64) -> Ser<'r> {
        match (a, b) {
            (Val::Scalar(x), Val::Scalar(y)) => Ser::Owned(vec![f(x, y); self.len()]),
            (Val::Series(a), Val::Scalar(y)) => self.map1(Val::Series(a), |x| f(x, y)),
            (Val::Scalar(x), Val::Series(b)) => self.map1(Val::Series(b), |y| f(x, y)),
            (Val::Series(Ser::Owned(mut a)), Val::Series(b)) => {
                a.iter_mut()
                    .zip(b.as_slice())
                    .for_each(|(x, y)| *x = f(*x, *y));
                Ser::Owned(a)
            }
            (Val::Series(a), Val::Series(Ser::Owned(mut b))) => {
                b.iter_mut()
                    .zip(a.as_slice())
                    .for_each(|(y, x)| *y = f(*x, *y));
                Ser::Owned(b)
            }
            (Val::Series(a), Val::Series(b)) => Ser::Owned(
                a.as_slice()
                    .iter()
                    .zip(b.as_slice())
                    .map(|(x, y)| f(*x, *y))
                    .collect(),
            ),
        }
    }

    /// `f` over three arguments (`clip`, `if`), broadcast to series.
    fn map3(&self, args: &[Node], f: impl Fn(f64, f64, f64) -> f64) -> Ser<'r> {
        let (a, b, c) = (
            self.series(&args[0]),
            self.series(&args[1]),
            self.series(&args[2]),
        );
        Ser::Owned(
            a.as_slice()
                .iter()
                .zip(b.as_slice())
                .zip(c.as_slice())
                .map(|((x, y), z)| f(*x, *y, *z))
                .collect(),
        )
    }
}

#[cfg(test)]
// Day-by-day definitions read best with day indices.
#[allow(clippy::needless_range_loop)]
mod tests {
    //! Expressions evaluated through the whole pipeline (compile, then [`Eval`]) on a
    //! hand-made market, against plain day-by-day definitions written here.

    use super::*;
    use crate::params::{ParamSpec, Params};
    use crate::rules::{Rules, RulesDef};

    const DAYS: usize = 40;

    /// Two symbols: A from day 0, B from day 5 (NaN before), with a flat stretch.
    fn market() -> MarketData {
        let a: Vec<f64> = (0..DAYS)
            .map(|i| 100.0 + (i as f64 * 0.7).sin() * 3.0 + i as f64 * 0.05)
            .collect();
        let b: Vec<f64> = (0..DAYS)
            .map(|i| match i {
                0..=4 => NAN,
                10..=14 => 50.0,
                _ => 50.0 + (i as f64 * 0.3).cos() * 2.0,
            })
            .collect();
        let open = |c: &[f64]| -> Vec<f64> {
            c.iter()
                .enumerate()
                .map(|(i, x)| x * (1.0 + 0.004 * ((i % 5) as f64 - 2.0)))
                .collect()
        };
        let (oa, ob) = (open(&a), open(&b));
        let high = |o: &[f64], c: &[f64]| -> Vec<f64> {
            o.iter().zip(c).map(|(o, c)| o.max(*c) * 1.01).collect()
        };
        let low = |o: &[f64], c: &[f64]| -> Vec<f64> {
            o.iter().zip(c).map(|(o, c)| o.min(*c) * 0.99).collect()
        };
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
        MarketData {
            dates: start.iter_days().take(DAYS).collect(),
            symbols: vec!["A".into(), "B".into()],
            high: vec![high(&oa, &a), high(&ob, &b)],
            low: vec![low(&oa, &a), low(&ob, &b)],
            volume: vec![
                (0..DAYS).map(|i| 1000.0 + i as f64).collect(),
                (0..DAYS).map(|i| if i < 5 { NAN } else { 10.0 }).collect(),
            ],
            open: vec![oa, ob],
            close: vec![a, b],
            ..MarketData::default()
        }
    }

    fn declared() -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("n", 3, 1, 100, "a window"),
            ParamSpec::choice("kind", "sma", &["sma", "ema"], "average"),
        ]
    }

    /// `text` evaluated for `given` over every symbol and day of [`market`]: per symbol, per
    /// day.
    fn eval(text: &str, given: &Params) -> Vec<Vec<f64>> {
        let m = market();
        let def = RulesDef {
            position: Some(text.into()),
            ..RulesDef::default()
        };
        let rules = Rules::compile(&def, declared(), &m.symbols).expect("compiles");
        let values = rules.values(given);
        let frame = Frame::new(&m, 0, DAYS);
        let cache = TaskCache::default();
        let e = Eval {
            frame: &frame,
            cache: &cache,
            values: &values,
        };
        let flat = e.series(&rules.driving().node).into_vec();
        flat.chunks(DAYS).map(<[f64]>::to_vec).collect()
    }

    /// Asserts `text` gives `plain(symbol, day)` everywhere (NaN = undefined).
    fn check(text: &str, plain: impl Fn(&MarketData, usize, usize) -> f64) {
        let m = market();
        let got = eval(text, &Params::new());
        for s in 0..2 {
            for d in 0..DAYS {
                let (g, w) = (got[s][d], plain(&m, s, d));
                let same = (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-12 * w.abs();
                assert!(same, "`{text}` symbol {s} day {d}: {g} vs {w}");
            }
        }
    }

    fn defined(v: f64) -> f64 {
        if v.is_finite() {
            v
        } else {
            NAN
        }
    }

    fn truth(b: bool) -> f64 {
        if b {
            1.0
        } else {
            0.0
        }
    }

    #[test]
    fn elementwise_functions() {
        check("abs(close - 100)", |m, s, d| (m.close[s][d] - 100.0).abs());
        check("min(close, open)", |m, s, d| {
            m.close[s][d].min(m.open[s][d]) + 0.0 * m.close[s][d]
        });
        check("max(high, 2 * low)", |m, s, d| {
            m.high[s][d].max(2.0 * m.low[s][d]) + 0.0 * m.high[s][d]
        });
        check("sign(close - open)", |m, s, d| {
            let x = m.close[s][d] - m.open[s][d];
            if x.is_nan() {
                NAN
            } else if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        });
        check("clip(close, 99, 101)", |m, s, d| {
            let c = m.close[s][d];
            if c.is_nan() {
                NAN
            } else {
                c.clamp(99.0, 101.0)
            }
        });
        // log of a number <= 0 is undefined: B (about 50) is below 99.
        check("log(close - 99)", |m, s, d| {
            let x = m.close[s][d] - 99.0;
            if x > 0.0 {
                x.ln()
            } else {
                NAN
            }
        });
        check("if(close > open, high, low)", |m, s, d| {
            let (c, o) = (m.close[s][d], m.open[s][d]);
            if c.is_nan() || o.is_nan() {
                NAN
            } else if c > o {
                m.high[s][d]
            } else {
                m.low[s][d]
            }
        });
        check("volume / 2 + w", |m, s, d| m.volume[s][d] / 2.0 + 0.5);
    }

    #[test]
    fn arithmetic_that_is_not_finite_is_undefined() {
        check("close / (close - close)", |_, _, _| NAN);
        check("(close - open) % 1", |m, s, d| {
            defined((m.close[s][d] - m.open[s][d]) % 1.0)
        });
        check("-close * 2 - 1", |m, s, d| -m.close[s][d] * 2.0 - 1.0);
    }

    #[test]
    fn logic_is_three_valued() {
        // Day 0 has no yesterday: undefined, whatever the other operand.
        let up = |m: &MarketData, s: usize, d: usize| -> f64 {
            if d == 0 || m.close[s][d].is_nan() || m.close[s][d - 1].is_nan() {
                NAN
            } else {
                truth(m.close[s][d] > m.close[s][d - 1])
            }
        };
        check("close > lag(close, 1) or true", move |m, s, d| {
            let u = up(m, s, d);
            if u.is_nan() {
                NAN
            } else {
                1.0
            }
        });
        check("close > lag(close, 1) and false", move |m, s, d| {
            let u = up(m, s, d);
            if u.is_nan() {
                NAN
            } else {
                0.0
            }
        });
        check("not (close > lag(close, 1))", move |m, s, d| {
            let u = up(m, s, d);
            if u.is_nan() {
                NAN
            } else {
                1.0 - u
            }
        });
        check("(close > lag(close, 1)) == true", up);
        check("if(close > lag(close, 1), 1, -1)", move |m, s, d| {
            let u = up(m, s, d);
            if u.is_nan() {
                NAN
            } else if u == 1.0 {
                1.0
            } else {
                -1.0
            }
        });
    }

    #[test]
    fn windows_run_per_symbol() {
        // B's first price is day 5: its lag and averages count from there.
        check("lag(close, n)", |m, s, d| {
            if d >= 3 {
                m.close[s][d - 3]
            } else {
                NAN
            }
        });
        check("sma(close, n + 1)", |m, s, d| {
            if d < 3 {
                return NAN;
            }
            let w = &m.close[s][d - 3..=d];
            if w.iter().any(|v| v.is_nan()) {
                NAN
            } else {
                w.iter().sum::<f64>() / 4.0
            }
        });
        check("ret(close, 2)", |m, s, d| {
            if d < 2 {
                NAN
            } else {
                defined(m.close[s][d] / m.close[s][d - 2] - 1.0)
            }
        });
        // atr from the frame's high, low and close.
        let m = market();
        let got = eval("atr(n)", &Params::new());
        for s in 0..2 {
            let mut want = vec![0.0; DAYS];
            indicators::atr(&m.high[s], &m.low[s], &m.close[s], 3, &mut want);
            for d in 0..DAYS {
                assert!(
                    got[s][d].to_bits() == want[d].to_bits()
                        || (got[s][d].is_nan() && want[d].is_nan()),
                    "atr symbol {s} day {d}"
                );
            }
        }
    }

    #[test]
    fn rank_is_across_symbols() {
        check("rank(close)", |m, s, d| {
            let (mine, other) = (m.close[s][d], m.close[1 - s][d]);
            if mine.is_nan() {
                NAN
            } else if other.is_nan() || mine > other {
                1.0
            } else if mine == other {
                1.5
            } else {
                2.0
            }
        });
    }

    #[test]
    fn scalars_broadcast_and_choices_compare() {
        let mut given = Params::new();
        given.insert("n".into(), ParamValue::Int(7));
        let got = eval("n * 2 + 1", &given);
        assert!(got.iter().flatten().all(|v| *v == 15.0));
        let pick = "if(kind == 'ema', ema(close, n), sma(close, n))";
        let sma = eval("sma(close, n)", &given);
        let ema = eval("ema(close, n)", &given);
        assert_eq!(format!("{:?}", eval(pick, &given)), format!("{sma:?}"));
        given.insert("kind".into(), ParamValue::Str("ema".into()));
        assert_eq!(format!("{:?}", eval(pick, &given)), format!("{ema:?}"));
    }

    #[test]
    fn scalar_values_follow_the_series_semantics() {
        assert!(binary(BinOp::Div, 1.0, 0.0).is_nan());
        assert!(binary(BinOp::And, NAN, 0.0).is_nan());
        assert_eq!(binary(BinOp::Or, 0.0, 1.0), 1.0);
        assert_eq!(window_problem(3.0), None);
        assert!(window_problem(0.0).is_some());
        assert!(window_problem(2.5).is_some());
        assert!(window_problem(NAN).is_some());
    }
}
