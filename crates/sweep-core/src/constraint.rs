//! Expressions over scalar values, bound once and evaluated many times: spec constraints
//! between parameters (`constraints = ["fast < slow", "abs(a - b) >= 2"]`, which filter the
//! grid) and `collect --where` filters over metrics and parameters
//! (`"max_drawdown < 0.3 and trades >= 10"`). Both are written in the one expression
//! language of the workspace and parsed by [`expr::parse`] (grammar there; constraints in
//! [`Dialect::STRICT`], filters in [`Dialect::LENIENT`]); this module binds the names to
//! slots ([`Scalar::parse`]), checks the functions, and evaluates over numbers, strings and
//! booleans.
//!
//! Numbers compare as floats (integers widen); strings compare with strings, booleans with
//! `==`/`!=`. The scalar functions have the meanings the rules language gives them:
//! `abs(x)`, `min(a, b)`, `max(a, b)`, `sign(x)` (-1, 0 or 1), `clip(x, lo, hi)`
//! (`min(max(x, lo), hi)`), `log(x)` (natural logarithm), `if(c, a, b)` (`a` when `c` holds,
//! else `b`; only the chosen branch is evaluated). A NaN argument of `min`, `max`, `sign`,
//! `clip` gives NaN. The series functions of the rules language (`sma`, `lag`, ...) are
//! refused with a message saying where they belong.
//!
//! Errors carry the [`Span`] of the part at fault, for a caret line ([`ExprError::show`]).

use std::cmp::Ordering;
use std::fmt;

use backtest::ParamValue;
use expr::{BinOp, Expr, ExprKind, UnOp};
pub use expr::{Dialect, Span};

/// A value during evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num(f64),
    Str(String),
    Bool(bool),
}

impl Value {
    pub fn from_param(p: &ParamValue) -> Value {
        match p {
            ParamValue::Bool(b) => Value::Bool(*b),
            ParamValue::Int(i) => Value::Num(*i as f64),
            ParamValue::Float(f) => Value::Num(*f),
            ParamValue::Str(s) => Value::Str(s.clone()),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Num(_) => "number",
            Value::Str(_) => "string",
            Value::Bool(_) => "bool",
        }
    }

    /// As a condition in a filter: a number is true when non-zero, a string when non-empty.
    fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Num(x) => *x != 0.0 && !x.is_nan(),
            Value::Str(s) => !s.is_empty(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "'{s}'"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Why an expression does not parse, bind or evaluate, and which part of it is at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub message: String,
    /// In characters of the expression's text.
    pub span: Span,
}

impl ExprError {
    fn at(span: Span, message: String) -> ExprError {
        ExprError { message, span }
    }

    /// The message, then `text` with a caret line under the part at fault.
    pub fn show(&self, text: &str) -> String {
        format!("{}\n{}", self.message, expr::caret(text, self.span))
    }
}

impl From<expr::ParseError> for ExprError {
    fn from(e: expr::ParseError) -> ExprError {
        ExprError::at(e.span, e.message)
    }
}

/// A scalar function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Abs,
    Min,
    Max,
    Sign,
    Clip,
    Log,
    If,
}

/// The scalar functions: name, function, arguments as a message shows them.
const FUNCTIONS: [(&str, Func, &str); 7] = [
    ("abs", Func::Abs, "x"),
    ("min", Func::Min, "a, b"),
    ("max", Func::Max, "a, b"),
    ("sign", Func::Sign, "x"),
    ("clip", Func::Clip, "x, lo, hi"),
    ("log", Func::Log, "x"),
    ("if", Func::If, "c, a, b"),
];

impl Func {
    fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(_, f, _)| *f == self)
            .map_or("?", |(n, _, _)| n)
    }
}

/// An expression whose names are bound to slots of the evaluation context.
#[derive(Clone, Debug, PartialEq)]
struct Node {
    kind: Kind,
    span: Span,
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Lit(Value),
    /// A name bound to slot `n`.
    Slot(usize),
    Not(Box<Node>),
    Neg(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

/// A parsed expression over scalars, its names bound to slots and its functions checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    root: Node,
}

impl Scalar {
    /// Parses `text` in `dialect` and binds every name with `slot_of`, which gives its slot,
    /// or the message for a name it does not know (the error then points at the name).
    /// `place` says where the expression is written (`"a constraint over parameters"`), for
    /// the message refusing a series function.
    pub fn parse(
        text: &str,
        dialect: Dialect,
        place: &str,
        slot_of: &mut impl FnMut(&str) -> Result<usize, String>,
    ) -> Result<Scalar, ExprError> {
        let e = expr::parse(text, dialect)?;
        Ok(Scalar {
            root: bind(&e, place, slot_of)?,
        })
    }

    /// Evaluates with `slot(n)` giving the value of slot `n`.
    pub fn eval(&self, slot: &impl Fn(usize) -> Value) -> Result<Value, ExprError> {
        self.root.eval(slot)
    }

    /// Evaluates to a boolean; anything else is an error.
    pub fn test(&self, slot: &impl Fn(usize) -> Value) -> Result<bool, ExprError> {
        match self.root.eval(slot)? {
            Value::Bool(b) => Ok(b),
            v => Err(ExprError::at(
                self.root.span,
                format!(
                    "evaluates to the {} {v}, not to true or false",
                    v.type_name()
                ),
            )),
        }
    }

    /// Evaluates as a filter, never failing: `slot(n)` gives the value of slot `n`, or
    /// `None` when it is missing. A comparison involving a missing value, or between values
    /// of different kinds, is false (so `not` of it is true); booleans also order
    /// (`false < true`); arithmetic or a function on a missing or mistyped value is
    /// missing, as is `if` with a missing condition. Where a condition is expected, a
    /// number is true when non-zero, a string when non-empty, a missing value never.
    pub fn matches(&self, slot: &impl Fn(usize) -> Option<Value>) -> bool {
        self.root.matches(slot)
    }
}

/// Binds `e`'s names with `slot_of` and checks its function calls.
fn bind(
    e: &Expr,
    place: &str,
    slot_of: &mut impl FnMut(&str) -> Result<usize, String>,
) -> Result<Node, ExprError> {
    let kind = match &e.kind {
        ExprKind::Num(x) => Kind::Lit(Value::Num(*x)),
        ExprKind::Str(s) => Kind::Lit(Value::Str(s.clone())),
        ExprKind::Bool(b) => Kind::Lit(Value::Bool(*b)),
        ExprKind::Name(n) => Kind::Slot(slot_of(n).map_err(|m| ExprError::at(e.span, m))?),
        ExprKind::Unary(UnOp::Not, a) => Kind::Not(Box::new(bind(a, place, slot_of)?)),
        ExprKind::Unary(UnOp::Neg, a) => Kind::Neg(Box::new(bind(a, place, slot_of)?)),
        ExprKind::Binary(op, a, b) => Kind::Bin(
            *op,
            Box::new(bind(a, place, slot_of)?),
            Box::new(bind(b, place, slot_of)?),
        ),
        ExprKind::Call {
            name,
            name_span,
            args,
        } => {
            let func = function(name, place).map_err(|m| ExprError::at(*name_span, m))?;
            let (_, _, params) = FUNCTIONS
                .iter()
                .find(|(_, f, _)| *f == func)
                .expect("listed");
            let want = params.split(", ").count();
            if args.len() != want {
                return Err(ExprError::at(
                    e.span,
                    format!(
                        "`{name}` takes {want} argument{} ({params}), got {}",
                        if want == 1 { "" } else { "s" },
                        args.len()
                    ),
                ));
            }
            let args = args
                .iter()
                .map(|a| bind(a, place, slot_of))
                .collect::<Result<_, _>>()?;
            Kind::Call(func, args)
        }
    };
    Ok(Node { kind, span: e.span })
}

/// The scalar function called `name`, or why there is none.
fn function(name: &str, place: &str) -> Result<Func, String> {
    if let Some((_, f, _)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) {
        return Ok(*f);
    }
    // Any other function of the rules language works on price series.
    if backtest::rules::function(name).is_some() {
        return Err(format!(
            "`{name}` works on price series and belongs in [rules], not in {place}"
        ));
    }
    let names: Vec<&str> = FUNCTIONS.iter().map(|(n, _, _)| *n).collect();
    let hint = expr::closest(name, &names)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    let valid: Vec<String> = FUNCTIONS
        .iter()
        .map(|(n, _, params)| format!("{n}({params})"))
        .collect();
    Err(format!(
        "unknown function `{name}`{hint}; functions here: {}",
        valid.join(", ")
    ))
}

impl Node {
    fn eval(&self, slot: &impl Fn(usize) -> Value) -> Result<Value, ExprError> {
        match &self.kind {
            Kind::Lit(v) => Ok(v.clone()),
            Kind::Slot(n) => Ok(slot(*n)),
            Kind::Not(e) => Ok(Value::Bool(!e.eval_bool(slot, "`not`")?)),
            Kind::Neg(e) => Ok(Value::Num(-e.eval_num(slot, "`-`")?)),
            Kind::Bin(BinOp::And, a, b) => Ok(Value::Bool(
                a.eval_bool(slot, "`and`")? && b.eval_bool(slot, "`and`")?,
            )),
            Kind::Bin(BinOp::Or, a, b) => Ok(Value::Bool(
                a.eval_bool(slot, "`or`")? || b.eval_bool(slot, "`or`")?,
            )),
            Kind::Bin(op, a, b) => {
                binary(*op, a.eval(slot)?, b.eval(slot)?).map_err(|m| ExprError::at(self.span, m))
            }
            Kind::Call(Func::If, args) => {
                if args[0].eval_bool(slot, "the condition of `if`")? {
                    args[1].eval(slot)
                } else {
                    args[2].eval(slot)
                }
            }
            Kind::Call(f, args) => {
                let what = format!("`{}`", f.name());
                let xs = args
                    .iter()
                    .map(|a| a.eval_num(slot, &what))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::Num(apply(*f, &xs)))
            }
        }
    }

    /// Evaluates to a bool, or says that `what` needs one.
    fn eval_bool(&self, slot: &impl Fn(usize) -> Value, what: &str) -> Result<bool, ExprError> {
        match self.eval(slot)? {
            Value::Bool(b) => Ok(b),
            v => Err(self.needs(what, "a bool", &v)),
        }
    }

    /// Evaluates to a number, or says that `what` needs one.
    fn eval_num(&self, slot: &impl Fn(usize) -> Value, what: &str) -> Result<f64, ExprError> {
        match self.eval(slot)? {
            Value::Num(x) => Ok(x),
            v => Err(self.needs(what, "a number", &v)),
        }
    }

    fn needs(&self, what: &str, kind: &str, got: &Value) -> ExprError {
        ExprError::at(
            self.span,
            format!("{what} needs {kind}, got {} {got}", got.type_name()),
        )
    }

    fn matches(&self, slot: &impl Fn(usize) -> Option<Value>) -> bool {
        self.eval_lenient(slot).is_some_and(|v| v.truthy())
    }

    /// The value for [`Scalar::matches`]: `None` when missing.
    fn eval_lenient(&self, slot: &impl Fn(usize) -> Option<Value>) -> Option<Value> {
        match &self.kind {
            Kind::Lit(v) => Some(v.clone()),
            Kind::Slot(n) => slot(*n),
            Kind::Not(e) => Some(Value::Bool(!e.matches(slot))),
            Kind::Neg(e) => match e.eval_lenient(slot)? {
                Value::Num(x) => Some(Value::Num(-x)),
                _ => None,
            },
            Kind::Bin(BinOp::And, a, b) => Some(Value::Bool(a.matches(slot) && b.matches(slot))),
            Kind::Bin(BinOp::Or, a, b) => Some(Value::Bool(a.matches(slot) || b.matches(slot))),
            Kind::Bin(op, a, b) => {
                let (a, b) = (a.eval_lenient(slot), b.eval_lenient(slot));
                match comparison(*op) {
                    Some(holds) => Some(Value::Bool(
                        a.zip(b)
                            .and_then(|(a, b)| ordering(&a, &b, true))
                            .is_some_and(holds),
                    )),
                    None => arithmetic(*op, a?, b?).ok(),
                }
            }
            Kind::Call(Func::If, args) => {
                if args[0].eval_lenient(slot)?.truthy() {
                    args[1].eval_lenient(slot)
                } else {
                    args[2].eval_lenient(slot)
                }
            }
            Kind::Call(f, args) => {
                let xs = args
                    .iter()
                    .map(|a| match a.eval_lenient(slot)? {
                        Value::Num(x) => Some(x),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Value::Num(apply(*f, &xs)))
            }
        }
    }
}

/// A numeric function on its (checked) arguments.
fn apply(f: Func, xs: &[f64]) -> f64 {
    if xs.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    match f {
        Func::Abs => xs[0].abs(),
        Func::Min => xs[0].min(xs[1]),
        Func::Max => xs[0].max(xs[1]),
        Func::Sign => match xs[0].partial_cmp(&0.0) {
            Some(Ordering::Greater) => 1.0,
            Some(Ordering::Less) => -1.0,
            _ => 0.0,
        },
        Func::Clip => xs[0].max(xs[1]).min(xs[2]),
        Func::Log => xs[0].ln(),
        Func::If => unreachable!("`if` is evaluated lazily"),
    }
}

/// How `a` and `b` order: numbers with numbers, strings with strings, booleans with
/// booleans when `bools_ordered`; `None` for other pairs (and for NaN).
fn ordering(a: &Value, b: &Value, bools_ordered: bool) -> Option<Ordering> {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if bools_ordered => Some(x.cmp(y)),
        _ => None,
    }
}

/// For a comparison operator, whether an ordering satisfies it; `None` for other operators.
fn comparison(op: BinOp) -> Option<fn(Ordering) -> bool> {
    Some(match op {
        BinOp::Lt => |o| o == Ordering::Less,
        BinOp::Le => |o| o != Ordering::Greater,
        BinOp::Gt => |o| o == Ordering::Greater,
        BinOp::Ge => |o| o != Ordering::Less,
        BinOp::Eq => |o| o == Ordering::Equal,
        BinOp::Ne => |o| o != Ordering::Equal,
        _ => return None,
    })
}

fn arithmetic(op: BinOp, a: Value, b: Value) -> Result<Value, String> {
    match (&a, &b) {
        (Value::Num(x), Value::Num(y)) => Ok(Value::Num(match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            _ => x % y,
        })),
        _ => Err(format!(
            "`{}` needs numbers, got {} {a} and {} {b}",
            op.symbol(),
            a.type_name(),
            b.type_name()
        )),
    }
}

fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, String> {
    let Some(holds) = comparison(op) else {
        return arithmetic(op, a, b);
    };
    match ordering(&a, &b, matches!(op, BinOp::Eq | BinOp::Ne)) {
        Some(o) => Ok(Value::Bool(holds(o))),
        None => Err(format!(
            "cannot compare {} {a} with {} {b}",
            a.type_name(),
            b.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_functions_are_the_rules_functions_of_the_same_name_and_arity() {
        for (name, _, params) in FUNCTIONS {
            let f = backtest::rules::function(name)
                .unwrap_or_else(|| panic!("`{name}` is not a rules function"));
            assert_eq!(f.args.len(), params.split(',').count(), "{name}");
        }
    }

    const PLACE: &str = "a constraint over parameters";

    /// Binds names to their position in `names`.
    fn parse(src: &str, names: &[&str], dialect: Dialect) -> Result<Scalar, ExprError> {
        Scalar::parse(src, dialect, PLACE, &mut |n| {
            names
                .iter()
                .position(|x| *x == n)
                .ok_or_else(|| format!("unknown `{n}`"))
        })
    }

    fn check(src: &str, vars: &[(&str, Value)]) -> Result<bool, String> {
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        let e = parse(src, &names, Dialect::STRICT).map_err(|e| e.message)?;
        e.test(&|k| vars[k].1.clone()).map_err(|e| e.message)
    }

    /// The error, shown with its caret line.
    fn shown(src: &str, vars: &[(&str, Value)]) -> String {
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        let e = parse(src, &names, Dialect::STRICT)
            .and_then(|e| e.test(&|k| vars[k].1.clone()))
            .expect_err("refused");
        e.show(src)
    }

    fn n(x: f64) -> Value {
        Value::Num(x)
    }

    #[test]
    fn comparisons_and_logic() {
        let v = [("fast", n(5.0)), ("slow", n(20.0))];
        assert_eq!(check("fast < slow", &v), Ok(true));
        assert_eq!(check("fast >= slow", &v), Ok(false));
        assert_eq!(check("slow > 2 * fast", &v), Ok(true)); // 20 > 10
        assert_eq!(check("slow > 4 * fast", &v), Ok(false)); // 20 > 20 is false
        assert_eq!(check("slow >= 4 * fast", &v), Ok(true));
        assert_eq!(check("fast != 5 or slow == 20", &v), Ok(true));
        assert_eq!(check("fast != 5 and slow == 20", &v), Ok(false));
        assert_eq!(check("not (fast < slow)", &v), Ok(false));
        assert_eq!(check("!(fast > slow) && slow - fast == 15", &v), Ok(true));
        assert_eq!(check("-fast < 0", &v), Ok(true));
        assert_eq!(check("slow % 3 == 2", &v), Ok(true));
        // `and` binds tighter than `or`: true or (false and false).
        assert_eq!(check("fast == 5 or fast == 6 and slow == 1", &v), Ok(true));
    }

    #[test]
    fn strings_and_bools() {
        let v = [
            ("kind", Value::Str("ema".into())),
            ("long_only", Value::Bool(true)),
        ];
        assert_eq!(check("kind == 'ema'", &v), Ok(true));
        assert_eq!(check("kind != \"sma\" and long_only == true", &v), Ok(true));
        assert_eq!(
            check("kind < 3", &v),
            Err("cannot compare string 'ema' with number 3".into())
        );
        assert!(check("long_only < true", &v).is_err());
    }

    #[test]
    fn errors_are_reported_with_the_part_at_fault() {
        let v = [("a", n(1.0)), ("kind", Value::Str("sma".into()))];
        assert!(check("", &v).is_err());
        assert!(check("a <", &v).is_err());
        assert!(check("a = 1", &v).expect_err("single =").contains("=="));
        assert!(check("(a < 1", &v).expect_err("paren").contains(')'));
        assert!(check("a < 1 a", &v).is_err());
        assert!(check("a # 1", &v).is_err());
        // (expression, message, caret line)
        let cases = [
            ("b < a", "unknown `b`", "^"),
            (
                "a + 1",
                "evaluates to the number 2, not to true or false",
                "^^^^^",
            ),
            (
                "a < 2 and kind",
                "`and` needs a bool, got string 'sma'",
                "          ^^^^",
            ),
            (
                "kind * 2 > a",
                "`*` needs numbers, got string 'sma' and number 2",
                "^^^^^^^^",
            ),
            ("(a < 1", "expected `)`", "      ^"),
        ];
        for (src, message, carets) in cases {
            assert_eq!(shown(src, &v), format!("{message}\n{src}\n{carets}"));
        }
    }

    #[test]
    fn names_are_bound_once_in_first_use_order() {
        let mut seen = Vec::new();
        Scalar::parse(
            "a < b and b < 2 * a or c",
            Dialect::STRICT,
            PLACE,
            &mut |n| {
                let k = seen.iter().position(|s| s == n).unwrap_or_else(|| {
                    seen.push(n.to_string());
                    seen.len() - 1
                });
                Ok(k)
            },
        )
        .expect("parse");
        assert_eq!(seen, ["a", "b", "c"]);
    }

    #[test]
    fn scalar_functions_mean_what_they_mean_in_rules() {
        let v = [("fast", n(5.0)), ("slow", n(20.0)), ("x", n(-2.5))];
        assert_eq!(check("abs(x) == 2.5", &v), Ok(true));
        assert_eq!(check("abs(fast - slow) >= 15", &v), Ok(true));
        assert_eq!(
            check("min(fast, slow) == 5 and max(fast, slow) == 20", &v),
            Ok(true)
        );
        assert_eq!(
            check("sign(x) == -1 and sign(fast) == 1 and sign(0) == 0", &v),
            Ok(true)
        );
        assert_eq!(check("clip(x, 0, 1) == 0", &v), Ok(true));
        assert_eq!(check("clip(fast, 0, 1) == 1", &v), Ok(true));
        assert_eq!(check("clip(0.5, 0, 1) == 0.5", &v), Ok(true));
        assert_eq!(check("log(1) == 0 and log(slow) > 2.99", &v), Ok(true));
        assert_eq!(check("if(fast < slow, 1, 2) == 1", &v), Ok(true));
        assert_eq!(check("if(fast > slow, fast, slow) == 20", &v), Ok(true));
        assert_eq!(check("if(x < 0, true, false)", &v), Ok(true));
        // NaN in, NaN out (as the rules' undefined): log(-1) is NaN.
        assert!(check("min(log(x), 1) < 5", &v)
            .expect_err("nan")
            .contains("NaN"));
        // Only the chosen branch is evaluated.
        let s = [("kind", Value::Str("sma".into())), ("a", n(2.0))];
        assert_eq!(check("if(kind == 'sma', a > 1, kind > 1)", &s), Ok(true));
    }

    #[test]
    fn function_errors_say_what_was_expected() {
        let v = [("fast", n(5.0)), ("kind", Value::Str("sma".into()))];
        // (expression, message, caret line)
        let cases = [
            (
                "sma(close, fast) > 3",
                "`sma` works on price series and belongs in [rules], not in a constraint over \
                 parameters",
                "^^^",
            ),
            (
                "fast < abss(3)",
                "unknown function `abss` (did you mean `abs`?); functions here: abs(x), \
                 min(a, b), max(a, b), sign(x), clip(x, lo, hi), log(x), if(c, a, b)",
                "       ^^^^",
            ),
            (
                "clip(fast, 1) > 2",
                "`clip` takes 3 arguments (x, lo, hi), got 2",
                "^^^^^^^^^^^^^",
            ),
            ("abs() > 2", "`abs` takes 1 argument (x), got 0", "^^^^^"),
            (
                "max(fast, 1, 2) > 2",
                "`max` takes 2 arguments (a, b), got 3",
                "^^^^^^^^^^^^^^^",
            ),
            (
                "abs(kind) > 1",
                "`abs` needs a number, got string 'sma'",
                "    ^^^^",
            ),
            (
                "if(fast, 1, 2) > 1",
                "the condition of `if` needs a bool, got number 5",
                "   ^^^^",
            ),
        ];
        for (src, message, carets) in cases {
            assert_eq!(shown(src, &v), format!("{message}\n{src}\n{carets}"));
        }
        assert!(shown("zzzzzz(1)", &v).starts_with("unknown function `zzzzzz`; functions"));
    }

    #[test]
    fn lenient_dialect_takes_single_equals_and_upper_case_keywords() {
        let names = ["a", "b"];
        let strict = parse("a = 1 AND b == 2", &names, Dialect::STRICT).expect_err("=");
        assert_eq!(strict.span, Span::new(2, 3));
        let lenient = parse("a = 1 AND NOT b == 2", &names, Dialect::LENIENT).expect("parse");
        let spelled = parse("a == 1 and not b == 2", &names, Dialect::STRICT).expect("parse");
        for (a, b) in [(1.0, 2.0), (1.0, 3.0), (0.0, 3.0)] {
            let vals = [Some(n(a)), Some(n(b))];
            let slot = |k: usize| vals[k].clone();
            assert_eq!(lenient.matches(&slot), spelled.matches(&slot));
        }
        assert!(lenient.matches(&|k| [Some(n(1.0)), Some(n(3.0))][k].clone()));
        // Upper-case keywords are names in the strict dialect.
        assert!(parse("a AND b", &names, Dialect::STRICT).is_err());
    }

    fn matches(src: &str, vars: &[(&str, Option<Value>)]) -> bool {
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        parse(src, &names, Dialect::LENIENT)
            .expect("parse")
            .matches(&|k| vars[k].1.clone())
    }

    #[test]
    fn filters_treat_missing_and_mismatched_values_as_false() {
        let v = [
            ("dd", Some(n(0.2))),
            ("trades", None),
            ("kind", Some(Value::Str("sma".into()))),
            ("long", Some(Value::Bool(true))),
        ];
        assert!(matches("dd < 0.3", &v));
        assert!(!matches("trades >= 0", &v));
        assert!(!matches("trades < 0", &v));
        assert!(matches("not (trades >= 0)", &v));
        assert!(!matches("kind > 3", &v));
        assert!(!matches("trades + 1 > 0", &v));
        assert!(matches("2 * dd = 0.4", &v));
        // Bare values as conditions: true, non-zero, non-empty; missing is false.
        assert!(matches("long and dd and kind", &v));
        assert!(!matches("trades", &v));
        assert!(!matches("dd - 0.2", &v));
        assert!(matches("false < long", &v));
        // Functions: a missing or mistyped argument is missing; so is `if` on a missing
        // condition.
        assert!(matches(
            "abs(-dd) = 0.2 AND max(dd, 1) = 1 AND sign(-dd) = -1",
            &v
        ));
        assert!(matches("clip(dd, 0.5, 1) = 0.5 and log(dd) < 0", &v));
        assert!(!matches("abs(trades) >= 0", &v));
        assert!(!matches("abs(kind) >= 0", &v));
        assert!(matches("not (min(trades, 1) < 5)", &v));
        assert!(matches(
            "if(long, dd, 1) = 0.2 and if(dd > 1, 0, 1) = 1",
            &v
        ));
        assert!(!matches("if(trades, 1, 1) = 1", &v));
        // A comparison with a missing value is false, not missing.
        assert!(matches("if(trades > 0, 1, 2) = 2", &v));
    }
}
