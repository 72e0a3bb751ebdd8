//! The `--where` filter: a small expression language over metric and parameter names:
//! comparisons (`<`, `<=`, `>`, `>=`, `==` or `=`, `!=`), `and`/`or`/`not` (also `&&`,
//! `||`, `!`), parentheses, numbers, quoted strings and `true`/`false`.
//!
//! ```
//! use collect::filter::Filter;
//! let names = ["fast".to_string(), "slow".to_string()];
//! let f = Filter::parse("max_drawdown < 0.3 and (trades >= 10 or not fast == 5)", &names);
//! assert!(f.is_ok());
//! let err = Filter::parse("sharp > 1", &names).unwrap_err().to_string();
//! assert!(err.contains("unknown name `sharp`"));
//! ```

use backtest::{Metrics, ParamValue};

use crate::table::{metric_index, Row};

/// Why a filter expression is not valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    #[error("--where: unknown name `{name}`; valid names: metrics {metrics}; parameters {params}")]
    UnknownName {
        name: String,
        metrics: String,
        params: String,
    },
    #[error("--where: {message} at position {position} of `{text}`")]
    Syntax {
        message: String,
        position: usize,
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Number(f64),
    Str(String),
    Op(CmpOp),
    And,
    Or,
    Not,
    Open,
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A value an operand evaluates to.
#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Metric(usize),
    Param(usize),
    Number(f64),
    Str(String),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Cmp(Operand, CmpOp, Operand),
    /// A bare operand: true when it is a true boolean or a non-zero number.
    Truthy(Operand),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A parsed `--where` expression, bound to metric and parameter positions.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    expr: Expr,
}

impl Filter {
    /// Parses `text`; names are metric names ([`Metrics::NAMES`]) or `param_names`.
    pub fn parse(text: &str, param_names: &[String]) -> Result<Filter, FilterError> {
        let tokens = tokenize(text)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            text,
            param_names,
        };
        let expr = p.or()?;
        if p.pos < p.tokens.len() {
            return Err(p.syntax("unexpected token"));
        }
        Ok(Filter { expr })
    }

    /// Whether `row` passes (metrics: the whole-period values).
    pub fn matches(&self, row: &Row) -> bool {
        eval(&self.expr, row)
    }
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let syntax = |message: &str, position: usize| FilterError::Syntax {
        message: message.to_string(),
        position,
        text: text.to_string(),
    };
    let mut out = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k];
        let start = k;
        let two: String = chars[k..(k + 2).min(chars.len())].iter().collect();
        if c.is_whitespace() {
            k += 1;
            continue;
        }
        let tok = match two.as_str() {
            "<=" => Some(Token::Op(CmpOp::Le)),
            ">=" => Some(Token::Op(CmpOp::Ge)),
            "==" => Some(Token::Op(CmpOp::Eq)),
            "!=" => Some(Token::Op(CmpOp::Ne)),
            "&&" => Some(Token::And),
            "||" => Some(Token::Or),
            _ => None,
        };
        if let Some(t) = tok {
            out.push((t, start));
            k += 2;
            continue;
        }
        match c {
            '<' => out.push((Token::Op(CmpOp::Lt), start)),
            '>' => out.push((Token::Op(CmpOp::Gt), start)),
            '=' => out.push((Token::Op(CmpOp::Eq), start)),
            '!' => out.push((Token::Not, start)),
            '(' => out.push((Token::Open, start)),
            ')' => out.push((Token::Close, start)),
            '"' | '\'' => {
                let end = chars[k + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .ok_or_else(|| syntax("unterminated string", start))?;
                out.push((
                    Token::Str(chars[k + 1..k + 1 + end].iter().collect()),
                    start,
                ));
                k += end + 2;
                continue;
            }
            c if c.is_ascii_digit() || c == '.' || c == '-' => {
                let mut end = k + 1;
                while end < chars.len()
                    && (chars[end].is_ascii_alphanumeric()
                        || chars[end] == '.'
                        || ((chars[end] == '-' || chars[end] == '+')
                            && matches!(chars[end - 1], 'e' | 'E')))
                {
                    end += 1;
                }
                let s: String = chars[k..end].iter().collect();
                let n: f64 = s
                    .parse()
                    .map_err(|_| syntax(&format!("`{s}` is not a number"), start))?;
                out.push((Token::Number(n), start));
                k = end;
                continue;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut end = k + 1;
                while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                let word: String = chars[k..end].iter().collect();
                let t = match word.to_ascii_lowercase().as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    _ => Token::Ident(word),
                };
                out.push((t, start));
                k = end;
                continue;
            }
            other => return Err(syntax(&format!("unexpected `{other}`"), start)),
        }
        k += 1;
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    text: &'a str,
    param_names: &'a [String],
}

impl Parser<'_> {
    fn syntax(&self, message: &str) -> FilterError {
        FilterError::Syntax {
            message: message.to_string(),
            position: self
                .tokens
                .get(self.pos)
                .map_or(self.text.chars().count(), |t| t.1),
            text: self.text.to_string(),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.0)
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.not()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, FilterError> {
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or()?;
            if self.peek() != Some(&Token::Close) {
                return Err(self.syntax("expected `)`"));
            }
            self.pos += 1;
            return Ok(inner);
        }
        let left = self.operand()?;
        if let Some(Token::Op(op)) = self.peek().cloned() {
            self.pos += 1;
            let right = self.operand()?;
            return Ok(Expr::Cmp(left, op, right));
        }
        Ok(Expr::Truthy(left))
    }

    fn operand(&mut self) -> Result<Operand, FilterError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.syntax("expression ends too early"));
        };
        let operand = match tok {
            Token::Number(n) => Operand::Number(n),
            Token::Str(s) => Operand::Str(s),
            Token::Ident(name) => match name.as_str() {
                "true" => Operand::Bool(true),
                "false" => Operand::Bool(false),
                _ => {
                    if let Some(k) = metric_index(&name) {
                        Operand::Metric(k)
                    } else if let Some(k) = self.param_names.iter().position(|p| *p == name) {
                        Operand::Param(k)
                    } else {
                        return Err(FilterError::UnknownName {
                            name,
                            metrics: Metrics::NAMES.join(", "),
                            params: if self.param_names.is_empty() {
                                "(none)".to_string()
                            } else {
                                self.param_names.join(", ")
                            },
                        });
                    }
                }
            },
            _ => return Err(self.syntax("expected a name, number or string")),
        };
        self.pos += 1;
        Ok(operand)
    }
}

#[derive(Debug, PartialEq)]
enum Value<'a> {
    Num(f64),
    Str(&'a str),
    Bool(bool),
    Missing,
}

fn value<'a>(operand: &'a Operand, row: &'a Row) -> Value<'a> {
    match operand {
        Operand::Metric(k) => {
            let v = row.metrics[*k];
            if v.is_nan() {
                Value::Missing
            } else {
                Value::Num(v)
            }
        }
        Operand::Param(k) => match row.param(*k) {
            Some(ParamValue::Int(i)) => Value::Num(*i as f64),
            Some(ParamValue::Float(f)) => Value::Num(*f),
            Some(ParamValue::Str(s)) => Value::Str(s),
            Some(ParamValue::Bool(b)) => Value::Bool(*b),
            None => Value::Missing,
        },
        Operand::Number(n) => Value::Num(*n),
        Operand::Str(s) => Value::Str(s),
        Operand::Bool(b) => Value::Bool(*b),
    }
}

fn eval(expr: &Expr, row: &Row) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, row) && eval(b, row),
        Expr::Or(a, b) => eval(a, row) || eval(b, row),
        Expr::Not(a) => !eval(a, row),
        Expr::Truthy(o) => match value(o, row) {
            Value::Bool(b) => b,
            Value::Num(n) => n != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Missing => false,
        },
        Expr::Cmp(a, op, b) => {
            let ordering = match (value(a, row), value(b, row)) {
                (Value::Num(x), Value::Num(y)) => x.partial_cmp(&y),
                (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
                (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(&y)),
                // A missing value, or values of different kinds, never compare true.
                _ => None,
            };
            let Some(o) = ordering else { return false };
            use std::cmp::Ordering::*;
            match op {
                CmpOp::Lt => o == Less,
                CmpOp::Le => o != Greater,
                CmpOp::Gt => o == Greater,
                CmpOp::Ge => o != Less,
                CmpOp::Eq => o == Equal,
                CmpOp::Ne => o != Equal,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{metric_index, METRIC_COUNT};

    fn row(dd: f64, trades: f64, fast: i64, kind: &str) -> Row {
        let mut metrics = [0.0; METRIC_COUNT];
        metrics[metric_index("max_drawdown").expect("m")] = dd;
        metrics[metric_index("trades").expect("t")] = trades;
        Row {
            combo: 0,
            plan: 0,
            task: None,
            label: None,
            params: vec![
                Some(ParamValue::Int(fast)),
                Some(ParamValue::Str(kind.into())),
            ],
            metrics,
            in_sample: None,
            out_of_sample: None,
            returns: None,
        }
    }

    fn names() -> Vec<String> {
        vec!["fast".into(), "kind".into()]
    }

    #[test]
    fn precedence_and_parentheses() {
        let f = Filter::parse("max_drawdown < 0.3 and trades >= 10", &names()).expect("parse");
        assert!(f.matches(&row(0.2, 10.0, 5, "sma")));
        assert!(!f.matches(&row(0.3, 10.0, 5, "sma")));
        assert!(!f.matches(&row(0.2, 9.0, 5, "sma")));
        // `and` binds tighter than `or`.
        let f = Filter::parse("fast == 1 or fast == 5 and trades > 100", &names()).expect("p");
        assert!(f.matches(&row(0.9, 0.0, 1, "x")));
        assert!(!f.matches(&row(0.9, 0.0, 5, "x")));
        let f = Filter::parse("(fast == 1 or fast == 5) and trades > 100", &names()).expect("p");
        assert!(!f.matches(&row(0.9, 0.0, 1, "x")));
        let f = Filter::parse("not (kind == 'ema') && fast != 3", &names()).expect("p");
        assert!(f.matches(&row(0.0, 0.0, 5, "sma")));
        assert!(!f.matches(&row(0.0, 0.0, 5, "ema")));
        assert!(!f.matches(&row(0.0, 0.0, 3, "sma")));
        let f = Filter::parse("max_drawdown <= 2.5e-1", &names()).expect("p");
        assert!(f.matches(&row(0.25, 0.0, 1, "x")));
    }

    #[test]
    fn errors_name_the_problem() {
        let e = Filter::parse("slow > 3", &names()).unwrap_err().to_string();
        assert!(e.contains("unknown name `slow`"), "{e}");
        assert!(e.contains("sharpe") && e.contains("fast, kind"), "{e}");
        let e = Filter::parse("fast > ", &names()).unwrap_err();
        assert!(matches!(e, FilterError::Syntax { .. }), "{e}");
        let e = Filter::parse("(fast > 1", &names())
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected `)`"), "{e}");
        let e = Filter::parse("fast > 1 2", &names())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unexpected token"), "{e}");
    }

    #[test]
    fn missing_values_never_match() {
        let mut r = row(0.1, 1.0, 1, "x");
        r.metrics[metric_index("trades").expect("t")] = f64::NAN;
        let f = Filter::parse("trades >= 0", &names()).expect("p");
        assert!(!f.matches(&r));
        let f = Filter::parse("kind > 3", &names()).expect("p");
        assert!(!f.matches(&r));
    }
}
