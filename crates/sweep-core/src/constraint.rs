//! Constraints between parameters (`constraints = ["fast < slow", "a > 2 * b or c != 3"]`):
//! a tiny expression language, parsed once and evaluated for every combination to filter
//! the grid.
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

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
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
                .map_err(|_| format!("`{text}` is not a number"))?;
            out.push(Tok::Num(x));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == '\'' || c == '"' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated string".into());
            }
            out.push(Tok::Str(chars[start..i].iter().collect()));
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
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
                .ok_or_else(|| format!("unexpected character `{c}`"))?;
            if op == "=" {
                return Err("`=` is not a comparison; use `==`".into());
            }
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
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

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat_op(&["or", "||"]).is_some() {
            left = Expr::Bin(BinOp::Or, Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.eat_op(&["and", "&&"]).is_some() {
            left = Expr::Bin(BinOp::And, Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat_op(&["not", "!"]).is_some() {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, String> {
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

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(op) = self.eat_op(&["+", "-"]) {
            let op = if op == "+" { BinOp::Add } else { BinOp::Sub };
            left = Expr::Bin(op, Box::new(left), Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
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

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat_op(&["-"]).is_some() {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let tok = self.peek().cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Num(x)) => Ok(Expr::Lit(Value::Num(x))),
            Some(Tok::Str(s)) => Ok(Expr::Lit(Value::Str(s))),
            Some(Tok::Ident(w)) => Ok(match w.as_str() {
                "true" => Expr::Lit(Value::Bool(true)),
                "false" => Expr::Lit(Value::Bool(false)),
                "and" | "or" | "not" => return Err(format!("expected a value, found `{w}`")),
                _ => Expr::Var(w),
            }),
            Some(Tok::LParen) => {
                let e = self.or()?;
                match self.peek() {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    _ => Err("missing `)`".into()),
                }
            }
            Some(Tok::RParen) => Err("unexpected `)`".into()),
            Some(Tok::Op(o)) => Err(format!("expected a value, found `{o}`")),
            None => Err("expression ends too early".into()),
        }
    }
}

impl Expr {
    /// Parses a constraint expression.
    pub fn parse(src: &str) -> Result<Expr, String> {
        let toks = tokenize(src)?;
        if toks.is_empty() {
            return Err("empty expression".into());
        }
        let mut p = Parser { toks, pos: 0 };
        let e = p.or()?;
        if let Some(t) = p.peek() {
            return Err(format!(
                "unexpected {} after a complete expression",
                describe(t)
            ));
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

fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, String> {
    use std::cmp::Ordering;
    let ord = match (&a, &b) {
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if matches!(op, BinOp::Eq | BinOp::Ne) => Some(x.cmp(y)),
        _ => None,
    };
    let cmp = |f: fn(Ordering) -> bool| match ord {
        Some(o) => Ok(Value::Bool(f(o))),
        None => Err(format!(
            "cannot compare {} {a} with {} {b}",
            a.type_name(),
            b.type_name()
        )),
    };
    match op {
        BinOp::Lt => cmp(|o| o == Ordering::Less),
        BinOp::Le => cmp(|o| o != Ordering::Greater),
        BinOp::Gt => cmp(|o| o == Ordering::Greater),
        BinOp::Ge => cmp(|o| o != Ordering::Less),
        BinOp::Eq => cmp(|o| o == Ordering::Equal),
        BinOp::Ne => cmp(|o| o != Ordering::Equal),
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => match (&a, &b) {
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
        },
        BinOp::And | BinOp::Or => unreachable!("handled with short-circuit in eval"),
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
}
