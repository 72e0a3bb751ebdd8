//! Type checking: a parsed rule ([`expr::Expr`]) becomes a typed [`Node`] tree, or a
//! [`RuleError`] pointing at the part at fault: an unknown function or name (with the
//! closest valid one), a wrong number of arguments, a bool where a number is needed (or
//! the reverse), a window that is a series or (when it has no parameter) not a positive
//! whole number.

use expr::{BinOp, Expr, ExprKind, Span, UnOp};

use crate::params::{ParamKind, ParamSpec};

use super::error::RuleError;
use super::eval::{scalar, window_problem};
use super::functions::{function, functions, ArgKind, Returns};
use super::ir::{Field, Func, Kind, Node, Op, Ty};

/// The name of `1 / number of symbols` in rules.
pub(crate) const W: &str = "w";

/// Checks the rules of one table: knows the declarations and the universe's `w`.
pub(crate) struct Checker<'a> {
    pub rule: &'static str,
    pub text: &'a str,
    pub params: &'a [ParamSpec],
    /// `1 / number of symbols`.
    pub w: f64,
}

impl Checker<'_> {
    fn error(&self, span: Span, message: impl Into<String>) -> RuleError {
        RuleError::new(self.rule, self.text, span, message)
    }

    /// The text of `span`.
    fn show(&self, span: Span) -> String {
        self.text
            .chars()
            .skip(span.start)
            .take(span.end.saturating_sub(span.start))
            .collect()
    }

    /// Parses and checks the rule's text.
    pub fn parse(&self) -> Result<Node, RuleError> {
        let e = expr::parse(self.text, expr::Dialect::STRICT)
            .map_err(|e| self.error(e.span, e.message))?;
        self.node(&e)
    }

    /// A [`RuleError`] unless `node` is of `kind` (`needed` says for what).
    pub fn expect(&self, node: &Node, kind: Kind, needed: &str) -> Result<(), RuleError> {
        if node.ty.kind == kind {
            return Ok(());
        }
        Err(self.error(
            node.span,
            format!(
                "`{}` is {} where {} is needed{needed}",
                self.show(node.span),
                node.ty.kind.describe(),
                kind.describe()
            ),
        ))
    }

    fn node(&self, e: &Expr) -> Result<Node, RuleError> {
        let span = e.span;
        let node = |op, kind, series| Node {
            op,
            ty: Ty { kind, series },
            span,
            template: None,
        };
        Ok(match &e.kind {
            ExprKind::Num(x) => node(Op::Const(*x), Kind::Num, false),
            ExprKind::Bool(b) => node(Op::Const(f64::from(u8::from(*b))), Kind::Bool, false),
            ExprKind::Str(s) => node(Op::Str(s.clone()), Kind::Str, false),
            ExprKind::Name(name) => self.name(name, span)?,
            ExprKind::Unary(UnOp::Neg, a) => {
                let a = self.node(a)?;
                self.expect(&a, Kind::Num, " (after `-`)")?;
                let series = a.ty.series;
                node(Op::Neg(Box::new(a)), Kind::Num, series)
            }
            ExprKind::Unary(UnOp::Not, a) => {
                let a = self.node(a)?;
                self.expect(&a, Kind::Bool, " (after `not`)")?;
                let series = a.ty.series;
                node(Op::Not(Box::new(a)), Kind::Bool, series)
            }
            ExprKind::Binary(op, a, b) => {
                let (a, b) = (self.node(a)?, self.node(b)?);
                let kind = self.binary(*op, &a, &b)?;
                let series = a.ty.series || b.ty.series;
                node(Op::Binary(*op, Box::new(a), Box::new(b)), kind, series)
            }
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, *name_span, args, span)?,
        })
    }

    fn name(&self, name: &str, span: Span) -> Result<Node, RuleError> {
        let node = |op, kind, series| Node {
            op,
            ty: Ty { kind, series },
            span,
            template: None,
        };
        if let Some(field) = Field::ALL.iter().find(|f| f.name() == name) {
            return Ok(node(Op::Price(*field), Kind::Num, true));
        }
        if let Some(k) = self.params.iter().position(|p| p.name == name) {
            let kind = match self.params[k].kind {
                ParamKind::Int | ParamKind::Float => Kind::Num,
                ParamKind::Bool => Kind::Bool,
                ParamKind::Choice(_) => Kind::Str,
            };
            return Ok(node(Op::Param(k), kind, false));
        }
        if name == W {
            return Ok(node(Op::Const(self.w), Kind::Num, false));
        }
        if function(name).is_some() {
            return Err(self.error(
                span,
                format!("`{name}` is a function: call it with its arguments, e.g. `{name}(...)`"),
            ));
        }
        let mut candidates: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        candidates.extend(self.params.iter().map(|p| p.name.as_str()));
        candidates.push(W);
        let hint = expr::closest(name, &candidates)
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        let declared: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        let declared = if declared.is_empty() {
            "none".to_string()
        } else {
            declared.join(", ")
        };
        let message = if hint.is_empty() {
            format!(
                "unknown name `{name}`: a parameter must be declared in [rules.params] \
                 (declared: {declared}); the price series are open, high, low, close, volume, \
                 and `w` is 1 / the number of symbols"
            )
        } else {
            format!(
                "unknown name `{name}`{hint}: not a price series (open, high, low, close, \
                 volume), `w`, nor a parameter declared in [rules.params] ({declared})"
            )
        };
        Err(self.error(span, message))
    }

    /// The kind of `a op b`, or the error.
    fn binary(&self, op: BinOp, a: &Node, b: &Node) -> Result<Kind, RuleError> {
        let symbol = op.symbol();
        if op.is_logical() {
            let needed = format!(" (`{symbol}` combines two bools)");
            self.expect(a, Kind::Bool, &needed)?;
            self.expect(b, Kind::Bool, &needed)?;
            return Ok(Kind::Bool);
        }
        if matches!(op, BinOp::Eq | BinOp::Ne) {
            if a.ty.kind != b.ty.kind {
                return Err(self.error(
                    a.span.to(b.span),
                    format!(
                        "`{symbol}` compares two numbers, two bools or two strings, but `{}` is \
                         {} and `{}` is {}",
                        self.show(a.span),
                        a.ty.kind.describe(),
                        self.show(b.span),
                        b.ty.kind.describe()
                    ),
                ));
            }
            return Ok(Kind::Bool);
        }
        let needed = format!(" (`{symbol}` takes two numbers)");
        self.expect(a, Kind::Num, &needed)?;
        self.expect(b, Kind::Num, &needed)?;
        Ok(if op.is_comparison() {
            Kind::Bool
        } else {
            Kind::Num
        })
    }

    fn call(
        &self,
        name: &str,
        name_span: Span,
        args: &[Expr],
        span: Span,
    ) -> Result<Node, RuleError> {
        let (Some(doc), Some(func)) = (function(name), Func::of(name)) else {
            let names: Vec<&str> = functions().iter().map(|f| f.name).collect();
            let hint = expr::closest(name, &names)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(self.error(
                name_span,
                format!(
                    "unknown function `{name}`{hint}; the functions are {}",
                    names.join(", ")
                ),
            ));
        };
        if args.len() != doc.args.len() {
            let plural = if doc.args.len() == 1 { "" } else { "s" };
            return Err(self.error(
                span,
                format!(
                    "`{name}` takes {} argument{plural} ({}), got {}",
                    doc.args.len(),
                    doc.signature,
                    args.len()
                ),
            ));
        }
        let mut nodes = Vec::with_capacity(args.len());
        let mut same: Option<Kind> = None;
        for (arg, &(arg_name, kind)) in args.iter().zip(doc.args) {
            let node = self.node(arg)?;
            let needed = format!(" (argument `{arg_name}` of {})", doc.signature);
            match kind {
                ArgKind::Number => self.expect(&node, Kind::Num, &needed)?,
                ArgKind::Bool => self.expect(&node, Kind::Bool, &needed)?,
                ArgKind::Window => self.window(&node, doc.signature, arg_name)?,
                ArgKind::Same => match same {
                    None if node.ty.kind == Kind::Str => {
                        self.expect(&node, Kind::Num, &needed)?;
                    }
                    None => same = Some(node.ty.kind),
                    Some(first) => self.expect(
                        &node,
                        first,
                        &format!(" (the branches of {} must have one type)", doc.signature),
                    )?,
                },
            }
            nodes.push(node);
        }
        let any_series = nodes.iter().any(|n| n.ty.series);
        let ty = match doc.returns {
            Returns::NumberSeries => Ty {
                kind: Kind::Num,
                series: true,
            },
            Returns::BoolSeries => Ty {
                kind: Kind::Bool,
                series: true,
            },
            Returns::Number => Ty {
                kind: Kind::Num,
                series: any_series,
            },
            Returns::Same => Ty {
                kind: same.unwrap_or(Kind::Num),
                series: any_series,
            },
        };
        Ok(Node {
            op: Op::Call(func, nodes),
            ty,
            span,
            template: None,
        })
    }

    /// A window argument: a scalar number; when it has no parameter, a positive whole
    /// number now.
    fn window(&self, node: &Node, signature: &str, arg_name: &str) -> Result<(), RuleError> {
        let what = format!("the window `{arg_name}` of {signature}");
        self.count(node, &what, " (in days)")
    }

    /// A whole-number scalar (a window, `top`): a number fixed for the run (no series);
    /// when it has no parameter, a positive whole number now (otherwise
    /// [`Rules::check`](super::Rules::check) checks it per combination).
    pub fn count(&self, node: &Node, what: &str, unit: &str) -> Result<(), RuleError> {
        self.expect(node, Kind::Num, &format!(" ({what}{unit})"))?;
        if node.ty.series {
            return Err(self.error(
                node.span,
                format!(
                    "{what} must be a number fixed for the run (parameters and literals), but \
                     `{}` is a series",
                    self.show(node.span)
                ),
            ));
        }
        let mut uses_params = false;
        node.visit(&mut |n| uses_params |= matches!(n.op, Op::Param(_)));
        if !uses_params {
            let value = scalar(node, &[]);
            if let Some(problem) = window_problem(value) {
                let problem = if unit.contains("days") {
                    problem.to_string()
                } else {
                    problem.replace("a window", "it").replace(" of days", "")
                };
                let text = self.show(node.span);
                let shown = if text.trim().parse::<f64>().ok() == Some(value) {
                    format!("{value}")
                } else {
                    format!("`{text}` = {value}")
                };
                return Err(self.error(node.span, format!("{what} is {shown}: {problem}")));
            }
        }
        Ok(())
    }
}
