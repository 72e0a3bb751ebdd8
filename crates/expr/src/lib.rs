//! slurm-sweep's one expression language. Trading rules (`sma(close, fast) > sma(close,
//! slow)`), spec constraints between parameters (`fast < slow`) and `collect --where`
//! filters (`max_drawdown < 0.3 and trades >= 10`) are written in it and parsed here, into
//! an [`Expr`] tree that knows where in the text every part came from, so that whoever
//! checks or evaluates it (the rule compiler in `backtest`, constraints in `sweep-core`,
//! filters in `collect`) can point at the column with a caret ([`caret`]).
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
//! atom    := number | 'string' | "string" | true | false
//!          | name "(" [ expr ( "," expr )* ] ")"     (a function call)
//!          | name | "(" expr ")"
//! ```
//!
//! What a name or a function means is not this crate's business: each user binds them.
//!
//! ```
//! use expr::{parse, Dialect, ExprKind};
//! let e = parse("sma(close, fast) > 2 * lag(close, 1)", Dialect::STRICT).unwrap();
//! let ExprKind::Binary(_, left, _) = &e.kind else { panic!() };
//! assert!(matches!(&left.kind, ExprKind::Call { name, args, .. } if name == "sma" && args.len() == 2));
//! assert_eq!(left.span, expr::Span { start: 0, end: 16 });
//! ```

mod lexer;
mod parser;

pub use parser::parse;

use std::fmt;

/// A part of the text, in characters: `start..end`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Not,
    Neg,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl BinOp {
    /// The operator as written (`and`, `<=`, `+`).
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }

    /// `and` / `or`: booleans in, a boolean out.
    pub fn is_logical(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or)
    }

    /// `<`, `<=`, `>`, `>=`, `==`, `!=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        )
    }

    /// `+`, `-`, `*`, `/`, `%`.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem
        )
    }
}

/// What an expression is.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Num(f64),
    Str(String),
    Bool(bool),
    /// A name: a parameter, a metric, a price series (`close`), bound by the user.
    Name(String),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `name(args)`; `name_span` is where the name is written.
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
}

/// An expression and the part of the text it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// The names used (not function names), in first-use order, without repeats.
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let ExprKind::Name(n) = &e.kind {
                if !out.contains(&n.as_str()) {
                    out.push(n.as_str());
                }
            }
        });
        out
    }

    /// Calls `f` on this expression and every expression inside it, parents first.
    pub fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Unary(_, e) => e.visit(f),
            ExprKind::Binary(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            ExprKind::Call { args, .. } => {
                for a in args {
                    a.visit(f);
                }
            }
            ExprKind::Num(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::Name(_) => {}
        }
    }
}

impl fmt::Display for Expr {
    /// The expression written back in canonical form (fully parenthesised binaries).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Num(x) => write!(f, "{x}"),
            ExprKind::Str(s) => write!(f, "'{s}'"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Name(n) => write!(f, "{n}"),
            ExprKind::Unary(UnOp::Not, e) => write!(f, "not {e}"),
            ExprKind::Unary(UnOp::Neg, e) => write!(f, "-{e}"),
            ExprKind::Binary(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            ExprKind::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                for (k, a) in args.iter().enumerate() {
                    if k > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// What the parser accepts beyond the strict syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// `=` is a comparison, the same as `==` (otherwise it is an error saying to use `==`).
    pub single_equals: bool,
    /// `AND`, `Or`, `NOT`... are the keywords (otherwise only lower case is).
    pub keywords_any_case: bool,
}

impl Dialect {
    /// Rules and spec constraints: `==` only, lower-case keywords.
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
    /// Where the problem is (at the end of the text when it ends too early).
    pub span: Span,
}

/// Two lines that show `span` of `src`: the text, then carets under the span.
///
/// ```
/// let shown = expr::caret("sma(close, fsat)", expr::Span::new(11, 15));
/// assert_eq!(shown, "sma(close, fsat)\n           ^^^^");
/// ```
pub fn caret(src: &str, span: Span) -> String {
    let line: String = src
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .collect();
    let width = span.end.saturating_sub(span.start).max(1);
    format!("{line}\n{}{}", " ".repeat(span.start), "^".repeat(width))
}

/// The name among `candidates` closest to `name` by edit distance, if it is close enough
/// to be a typo (at most 2 edits, or a third of the candidate's length).
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(name, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_point_at_the_span() {
        assert_eq!(caret("a + b", Span::new(4, 5)), "a + b\n    ^");
        assert_eq!(caret("abc", Span::new(3, 3)), "abc\n   ^");
    }

    #[test]
    fn closest_names() {
        assert_eq!(closest("fsat", &["fast", "slow"]), Some("fast"));
        assert_eq!(closest("zzzzzz", &["fast", "slow"]), None);
    }
}
