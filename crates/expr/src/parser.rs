//! The recursive-descent parser of the grammar in the crate documentation.

use crate::lexer::{tokenize, Tok};
use crate::{BinOp, Dialect, Expr, ExprKind, ParseError, Span, UnOp};

/// Parses `src` in `dialect`.
pub fn parse(src: &str, dialect: Dialect) -> Result<Expr, ParseError> {
    let toks = tokenize(src, dialect)?;
    let end = src.chars().count();
    let mut p = Parser { toks, pos: 0, end };
    if p.toks.is_empty() {
        return Err(p.error("empty expression".into()));
    }
    let e = p.or()?;
    if let Some(t) = p.peek() {
        let message = format!("unexpected {} after a complete expression", t.describe());
        return Err(p.error(message));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    /// The text's length in characters: where an error at its end points.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn span(&self) -> Span {
        self.toks
            .get(self.pos)
            .map_or(Span::new(self.end, self.end), |t| t.1)
    }

    /// An error at the current token (or at the end of the text).
    fn error(&self, message: String) -> ParseError {
        ParseError {
            message,
            span: self.span(),
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

    fn binary(op: BinOp, a: Expr, b: Expr) -> Expr {
        let span = a.span.to(b.span);
        Expr::new(ExprKind::Binary(op, Box::new(a), Box::new(b)), span)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.eat_op(&["or", "||"]).is_some() {
            let right = self.and()?;
            left = Self::binary(BinOp::Or, left, right);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while self.eat_op(&["and", "&&"]).is_some() {
            let right = self.not()?;
            left = Self::binary(BinOp::And, left, right);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        let start = self.span();
        if self.eat_op(&["not", "!"]).is_some() {
            let e = self.not()?;
            let span = start.to(e.span);
            return Ok(Expr::new(ExprKind::Unary(UnOp::Not, Box::new(e)), span));
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
        let right = self.sum()?;
        Ok(Self::binary(op, left, right))
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.product()?;
        while let Some(op) = self.eat_op(&["+", "-"]) {
            let op = if op == "+" { BinOp::Add } else { BinOp::Sub };
            let right = self.product()?;
            left = Self::binary(op, left, right);
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
            let right = self.unary()?;
            left = Self::binary(op, left, right);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let start = self.span();
        if self.eat_op(&["-"]).is_some() {
            let e = self.unary()?;
            let span = start.to(e.span);
            return Ok(Expr::new(ExprKind::Unary(UnOp::Neg, Box::new(e)), span));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.error("the expression ends too early".into()));
        };
        let span = self.span();
        let kind = match tok {
            Tok::Num(x) => ExprKind::Num(x),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::Ident(w) => match w.as_str() {
                "true" => ExprKind::Bool(true),
                "false" => ExprKind::Bool(false),
                "and" | "or" | "not" => {
                    return Err(self.error(format!("expected a value, found `{w}`")))
                }
                _ => {
                    self.pos += 1;
                    if self.peek() == Some(&Tok::LParen) {
                        return self.call(w, span);
                    }
                    return Ok(Expr::new(ExprKind::Name(w), span));
                }
            },
            Tok::LParen => {
                self.pos += 1;
                let mut e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.error("expected `)`".into()));
                }
                e.span = span.to(self.span());
                self.pos += 1;
                return Ok(e);
            }
            Tok::RParen => return Err(self.error("unexpected `)`".into())),
            Tok::Comma => return Err(self.error("unexpected `,`".into())),
            Tok::Op(o) => return Err(self.error(format!("expected a value, found `{o}`"))),
        };
        self.pos += 1;
        Ok(Expr::new(kind, span))
    }

    /// `name(` has been read up to the name; reads the arguments and the `)`.
    fn call(&mut self, name: String, name_span: Span) -> Result<Expr, ParseError> {
        self.pos += 1; // `(`
        let mut args = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            let span = name_span.to(self.span());
            self.pos += 1;
            return Ok(Expr::new(
                ExprKind::Call {
                    name,
                    name_span,
                    args,
                },
                span,
            ));
        }
        loop {
            args.push(self.or()?);
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RParen) => {
                    let span = name_span.to(self.span());
                    self.pos += 1;
                    return Ok(Expr::new(
                        ExprKind::Call {
                            name,
                            name_span,
                            args,
                        },
                        span,
                    ));
                }
                _ => {
                    return Err(
                        self.error(format!("expected `,` or `)` in the arguments of `{name}(`"))
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(src: &str) -> String {
        parse(src, Dialect::STRICT).expect("parses").to_string()
    }

    fn err(src: &str) -> (String, Span) {
        let e = parse(src, Dialect::STRICT).expect_err("refused");
        (e.message, e.span)
    }

    #[test]
    fn precedence_and_calls() {
        assert_eq!(show("a or b and not c"), "(a or (b and not c))");
        assert_eq!(show("1 + 2 * -x < 3"), "((1 + (2 * -x)) < 3)");
        assert_eq!(
            show("sma(close, fast) > sma(close, slow)"),
            "(sma(close, fast) > sma(close, slow))"
        );
        assert_eq!(show("f()"), "f()");
        assert_eq!(show("if(a > 1, 'x', \"y\")"), "if((a > 1), 'x', 'y')");
        assert_eq!(show("1_000 + 2.5e-3"), "(1000 + 0.0025)");
    }

    #[test]
    fn spans_cover_what_was_written() {
        let e = parse("  rsi(close, 14) < 30", Dialect::STRICT).expect("parses");
        assert_eq!(e.span, Span::new(2, 21));
        let ExprKind::Binary(_, left, right) = &e.kind else {
            panic!("binary")
        };
        assert_eq!(left.span, Span::new(2, 16));
        let ExprKind::Call {
            name_span, args, ..
        } = &left.kind
        else {
            panic!("call")
        };
        assert_eq!(*name_span, Span::new(2, 5));
        assert_eq!(args[1].span, Span::new(13, 15));
        assert_eq!(right.span, Span::new(19, 21));
        let paren = parse("(a + b) * c", Dialect::STRICT).expect("parses");
        let ExprKind::Binary(_, l, _) = &paren.kind else {
            panic!("binary")
        };
        assert_eq!(l.span, Span::new(0, 7));
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            err("sma(close, 5"),
            (
                "expected `,` or `)` in the arguments of `sma(`".into(),
                Span::new(12, 12)
            )
        );
        assert_eq!(err("a = b").1, Span::new(2, 3));
        assert_eq!(err("a b").0, "unexpected `b` after a complete expression");
        assert_eq!(err("").0, "empty expression");
        assert_eq!(err("a +").1, Span::new(3, 3));
        assert_eq!(err("f(,)").0, "unexpected `,`");
        assert!(parse("a = b", Dialect::LENIENT).is_ok());
        assert!(parse("a AND b", Dialect::LENIENT).is_ok());
    }
}
