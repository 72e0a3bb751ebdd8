//! Expressions over named values, parsed once and evaluated many times: spec constraints
//! between parameters (`constraints = ["fast < slow", "a > 2 * b or c != 3"]`, which filter
//! the grid) and `collect --where` filters over metrics and parameters
//! (`"max_drawdown < 0.3 and trades >= 10"`), which use the same grammar in a more lenient
//! [`Dialect`] and evaluate with [`Expr::matches`].
//!
//! Grammar (lowest precedence first):
//!
//! ```text
//! expr    := and ( ("or" | "||") and )*
//! and     := not ( ("and" | "&&") not )*
//! not     := ("not" | "!") not | compare
//! compare := sum ( ("<" | "<=" | ">" | ">=" | "==" | "!=") sum )?
//! sum     := product ( ("+" | "-") product )*
//! product := unary ( ("*" | "/" | "%") unary )*
//! unary   := "-" unary | atom
//! atom    := number | 'string' | "string" | true | false | name | "(" expr ")"
//! ```
//!
//! Names are parameter names (grid parameters, or declared parameters that keep their
//! default). Numbers compare as floats (integers widen); strings compare with strings,
//! booleans with `==`/`!=`. A constraint must evaluate to a boolean.

use std::cmp::Ordering;
use std::fmt;

use backtest::ParamValue;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// A parsed expression. Variables are names until [`Expr::bind`] resolves them to slots.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Lit(Value),
    Var(String),
    /// A variable bound to slot `n` of the evaluation context.
    Slot(usize),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
}

/// What the parser accepts beyond the strict constraint syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// `=` is a comparison, the same as `==` (otherwise it is an error saying to use `==`).
    pub single_equals: bool,
    /// `AND`, `Or`, `NOT`... are the keywords (otherwise only lower case is).
    pub keywords_any_case: bool,
}

impl Dialect {
    /// Spec constraints: `==` only, lower-case keywords.
    pub const STRICT: Dialect = Dialect {
        single_equals: false,
        keywords_any_case: false,
    };
    /// Command-line filters (`collect --where`): also `=` and keywords in any case.
    pub const LENIENT: Dialect = Dialect {
        single_equals: true,
        keywords_any_case: true,
    };
}

/// Why an expression does not parse, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    /// Position in the text, in characters (the text's length when it ends too early).
    pub position: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
}

/// The tokens of `src`, each with its position in characters.
fn tokenize(src: &str, dialect: Dialect) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let error = |message: String, position: usize| ParseError { message, position };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || chars[i] == '_'
                    || ((chars[i] == 'e' || chars[i] == 'E')
                        && chars
                            .get(i + 1)
                            .is_some_and(|d| d.is_ascii_digit() || *d == '-' || *d == '+'))
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            let x = text
                .parse::<f64>()
                .map_err(|_| error(format!("`{text}` is not a number"), start))?;
            out.push((Tok::Num(x), start));
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let lower = word.to_ascii_lowercase();
            let word =
                if dialect.keywords_any_case && matches!(lower.as_str(), "and" | "or" | "not") {
                    lower
                } else {
                    word
                };
            out.push((Tok::Ident(word), start));
        } else if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i >= chars.len() {
                return Err(error("unterminated string".into(), start));
            }
            out.push((Tok::Str(chars[start + 1..i].iter().collect()), start));
            i += 1;
        } else if c == '(' {
            out.push((Tok::LParen, start));
            i += 1;
        } else if c == ')' {
            out.push((Tok::RParen, start));
            i += 1;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["<=", ">=", "==", "!=", "&&", "||"]
                .into_iter()
                .find(|o| *o == two)
                .or_else(|| {
                    ["<", ">", "+", "-", "*", "/", "%", "!", "="]
                        .into_iter()
                        .find(|o| o.starts_with(c))
                })
                .ok_or_else(|| error(format!("unexpected character `{c}`"), start))?;
            i += op.len();
            let op = match op {
                "=" if dialect.single_equals => "==",
                "=" => return Err(error("`=` is not a comparison; use `==`".into(), start)),
                op => op,
            };
            out.push((Tok::Op(op), start));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// The text's length in characters: the position of an error at its end.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    /// An error at the current token (or at the end of the text).
    fn error(&self, message: String) -> ParseError {
        ParseError {
            message,
            position: self.toks.get(self.pos).map_or(self.end, |t| t.1),
        }
    }

    fn eat_op(&mut self, ops: &[&str]) -> Option<&'static str> {
        let found = match self.peek() {
            Some(Tok::Op(o)) if ops.contains(o) => Some(*o),
            Some(Tok::Ident(w)) if ops.contains(&w.as_str()) => {
                ["or", "and", "not"].into_iter().find(|k| k == w)
            }
            _ => None,
        };
        if found.is_some() {
            self.pos += 1;
        }
        found
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.eat_op(&["or", "||"]).is_some() {
            left = Expr::Bin(BinOp::Or, Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while self.eat_op(&["and", "&&"]).is_some() {
            left = Expr::Bin(BinOp::And, Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat_op(&["not", "!"]).is_some() {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, ParseError> {
        let left = self.sum()?;
        let op = match self.eat_op(&["<", "<=", ">", ">=", "==", "!="]) {
            Some("<") => BinOp::Lt,
            Some("<=") => BinOp::Le,
            Some(">") => BinOp::Gt,
            Some(">=") => BinOp::Ge,
            Some("==") => BinOp::Eq,
            Some(_) => BinOp::Ne,
            None => return Ok(left),
        };
        Ok(Expr::Bin(op, Box::new(left), Box::new(self.sum()?)))
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.product()?;
        while let Some(op) = self.eat_op(&["+", "-"]) {
            let op = if op == "+" { BinOp::Add } else { BinOp::Sub };
            left = Expr::Bin(op, Box::new(left), Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while let Some(op) = self.eat_op(&["*", "/", "%"]) {
            let op = match op {
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                _ => BinOp::Rem,
            };
            left = Expr::Bin(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat_op(&["-"]).is_some() {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.error("expression ends too early".into()));
        };
        let expr = match tok {
            Tok::Num(x) => Expr::Lit(Value::Num(x)),
            Tok::Str(s) => Expr::Lit(Value::Str(s)),
            Tok::Ident(w) => match w.as_str() {
                "true" => Expr::Lit(Value::Bool(true)),
                "false" => Expr::Lit(Value::Bool(false)),
                "and" | "or" | "not" => {
                    return Err(self.error(format!("expected a value, found `{w}`")))
                }
                _ => Expr::Var(w),
            },
            Tok::LParen => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.error("expected `)`".into()));
                }
                e
            }
            Tok::RParen => return Err(self.error("unexpected `)`".into())),
            Tok::Op(o) => return Err(self.error(format!("expected a value, found `{o}`"))),
        };
        self.pos += 1;
        Ok(expr)
    }
}

impl Expr {
    /// Parses a constraint expression ([`Dialect::STRICT`]); the error is the message.
    pub fn parse(src: &str) -> Result<Expr, String> {
        Expr::parse_in(src, Dialect::STRICT).map_err(|e| e.message)
    }

    /// Parses an expression in `dialect`; the error says where the problem is.
    pub fn parse_in(src: &str, dialect: Dialect) -> Result<Expr, ParseError> {
        let toks = tokenize(src, dialect)?;
        let mut p = Parser {
            toks,
            pos: 0,
            end: src.chars().count(),
        };
        if p.toks.is_empty() {
            return Err(p.error("empty expression".into()));
        }
        let e = p.or()?;
        if let Some(t) = p.peek() {
            let message = format!(
                "unexpected token {} after a complete expression",
                describe(t)
            );
            return Err(p.error(message));
        }
        Ok(e)
    }

    /// The variable names used, in first-use order, without repeats.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars(&self, out: &mut Vec<String>) {
        match self {
            Expr::Var(n) if !out.contains(n) => out.push(n.clone()),
            Expr::Not(e) | Expr::Neg(e) => e.collect_vars(out),
            Expr::Bin(_, a, b) => {
                a.collect_vars(out);
                b.collect_vars(out);
            }
            _ => {}
        }
    }

    /// Replaces every variable with its slot: `slot_of(name)` gives the slot, or `None` for
    /// an unknown name, which is returned as the error.
    pub fn bind(self, slot_of: &impl Fn(&str) -> Option<usize>) -> Result<Expr, String> {
        Ok(match self {
            Expr::Var(n) => Expr::Slot(slot_of(&n).ok_or(n)?),
            Expr::Not(e) => Expr::Not(Box::new(e.bind(slot_of)?)),
            Expr::Neg(e) => Expr::Neg(Box::new(e.bind(slot_of)?)),
            Expr::Bin(op, a, b) => {
                Expr::Bin(op, Box::new(a.bind(slot_of)?), Box::new(b.bind(slot_of)?))
            }
            other => other,
        })
    }

    /// Evaluates with `slot(n)` giving the value of slot `n`.
    pub fn eval(&self, slot: &impl Fn(usize) -> Value) -> Result<Value, String> {
        match self {
            Expr::Lit(v) => Ok(v.clone()),
            Expr::Slot(n) => Ok(slot(*n)),
            Expr::Var(n) => Err(format!("unbound name `{n}`")),
            Expr::Not(e) => match e.eval(slot)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                v => Err(format!("`not` needs a bool, got {} {v}", v.type_name())),
            },
            Expr::Neg(e) => match e.eval(slot)? {
                Value::Num(x) => Ok(Value::Num(-x)),
                v => Err(format!("`-` needs a number, got {} {v}", v.type_name())),
            },
            Expr::Bin(BinOp::And, a, b) => match a.eval(slot)? {
                Value::Bool(false) => Ok(Value::Bool(false)),
                Value::Bool(true) => want_bool(b.eval(slot)?, "and"),
                v => Err(format!("`and` needs bools, got {} {v}", v.type_name())),
            },
            Expr::Bin(BinOp::Or, a, b) => match a.eval(slot)? {
                Value::Bool(true) => Ok(Value::Bool(true)),
                Value::Bool(false) => want_bool(b.eval(slot)?, "or"),
                v => Err(format!("`or` needs bools, got {} {v}", v.type_name())),
            },
            Expr::Bin(op, a, b) => binary(*op, a.eval(slot)?, b.eval(slot)?),
        }
    }

    /// Evaluates to a boolean; anything else is an error.
    pub fn test(&self, slot: &impl Fn(usize) -> Value) -> Result<bool, String> {
        match self.eval(slot)? {
            Value::Bool(b) => Ok(b),
            v => Err(format!(
                "evaluates to the {} {v}, not to true or false",
                v.type_name()
            )),
        }
    }

    /// Evaluates as a filter, never failing: `slot(n)` gives the value of slot `n`, or
    /// `None` when it is missing. A comparison involving a missing value, or between values
    /// of different kinds, is false (so `not` of it is true); booleans also order
    /// (`false < true`); arithmetic on a missing or non-number value is missing. Where a
    /// condition is expected, a number is true when non-zero, a string when non-empty, a
    /// missing value never.
    pub fn matches(&self, slot: &impl Fn(usize) -> Option<Value>) -> bool {
        match self.eval_lenient(slot) {
            Some(Value::Bool(b)) => b,
            Some(Value::Num(x)) => x != 0.0 && !x.is_nan(),
            Some(Value::Str(s)) => !s.is_empty(),
            None => false,
        }
    }

    /// The value for [`Expr::matches`]: `None` when missing.
    fn eval_lenient(&self, slot: &impl Fn(usize) -> Option<Value>) -> Option<Value> {
        match self {
            Expr::Lit(v) => Some(v.clone()),
            Expr::Slot(n) => slot(*n),
            Expr::Var(_) => None,
            Expr::Not(e) => Some(Value::Bool(!e.matches(slot))),
            Expr::Neg(e) => match e.eval_lenient(slot)? {
                Value::Num(x) => Some(Value::Num(-x)),
                _ => None,
            },
            Expr::Bin(BinOp::And, a, b) => Some(Value::Bool(a.matches(slot) && b.matches(slot))),
            Expr::Bin(BinOp::Or, a, b) => Some(Value::Bool(a.matches(slot) || b.matches(slot))),
            Expr::Bin(op, a, b) => {
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
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(x) => format!("number `{x}`"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Ident(w) => format!("`{w}`"),
        Tok::Op(o) => format!("`{o}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
    }
}

fn want_bool(v: Value, op: &str) -> Result<Value, String> {
    match v {
        Value::Bool(_) => Ok(v),
        v => Err(format!("`{op}` needs bools, got {} {v}", v.type_name())),
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
            "arithmetic needs numbers, got {} {a} and {} {b}",
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

    fn check(src: &str, vars: &[(&str, Value)]) -> Result<bool, String> {
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        let e = Expr::parse(src)?.bind(&|n| names.iter().position(|x| *x == n))?;
        e.test(&|k| vars[k].1.clone())
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
        assert!(check("kind < 3", &v).is_err());
        assert!(check("long_only < true", &v).is_err());
    }

    #[test]
    fn errors_are_reported() {
        assert!(Expr::parse("").is_err());
        assert!(Expr::parse("a <").is_err());
        assert!(Expr::parse("a = b").expect_err("single =").contains("=="));
        assert!(Expr::parse("(a < b").expect_err("paren").contains(")"));
        assert!(Expr::parse("a < b c").is_err());
        assert!(Expr::parse("a # b").is_err());
        let v = [("a", n(1.0))];
        assert_eq!(check("b < a", &v), Err("b".into()));
        assert!(check("a + 1", &v)
            .expect_err("not bool")
            .contains("not to true or false"));
    }

    #[test]
    fn variables_are_listed_once() {
        let e = Expr::parse("a < b and b < 2 * a or c").expect("parse");
        assert_eq!(e.variables(), vec!["a", "b", "c"]);
    }

    #[test]
    fn parse_errors_give_the_position_in_characters() {
        let e = Expr::parse_in("a < b c", Dialect::STRICT).expect_err("trailing");
        assert_eq!(e.position, 6);
        assert!(e.message.contains("unexpected token `c`"), "{e}");
        let e = Expr::parse_in("(é < 1", Dialect::STRICT).expect_err("paren");
        assert_eq!((e.message.as_str(), e.position), ("expected `)`", 6));
        let e = Expr::parse_in("a <", Dialect::STRICT).expect_err("end");
        assert_eq!(
            (e.message.as_str(), e.position),
            ("expression ends too early", 3)
        );
        let e = Expr::parse_in("a == 'x", Dialect::STRICT).expect_err("string");
        assert_eq!(e.position, 5);
    }

    #[test]
    fn lenient_dialect_takes_single_equals_and_upper_case_keywords() {
        let strict = Expr::parse_in("a = 1 AND b == 2", Dialect::STRICT).expect_err("=");
        assert_eq!(strict.position, 2);
        let lenient = Expr::parse_in("a = 1 AND NOT b == 2", Dialect::LENIENT).expect("parse");
        let spelled = Expr::parse("a == 1 and not b == 2").expect("parse");
        assert_eq!(lenient, spelled);
        // Upper-case keywords are names in the strict dialect.
        assert!(Expr::parse("a AND b").is_err());
    }

    fn matches(src: &str, vars: &[(&str, Option<Value>)]) -> bool {
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        Expr::parse_in(src, Dialect::LENIENT)
            .expect("parse")
            .bind(&|n| names.iter().position(|x| *x == n))
            .expect("bind")
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
    }
}
