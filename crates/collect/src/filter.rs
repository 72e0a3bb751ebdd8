//! The `--where` filter: an expression over metric and parameter names, in the language of
//! spec constraints ([`sweep_core::constraint`], in its lenient dialect): comparisons (`<`,
//! `<=`, `>`, `>=`, `==` or `=`, `!=`), `and`/`or`/`not` (also `&&`, `||`, `!`, in any
//! case), parentheses, arithmetic (`+ - * / %`), numbers, quoted strings and `true`/`false`.
//! A missing value (a metric that is NaN, a parameter a row does not have) never compares
//! true.
//!
//! ```
//! use collect::filter::Filter;
//! let names = ["fast".to_string(), "slow".to_string()];
//! let f = Filter::parse("max_drawdown < 0.3 and (trades >= 10 or not fast == 5)", &names);
//! assert!(f.is_ok());
//! let err = Filter::parse("sharp > 1", &names).unwrap_err().to_string();
//! assert!(err.contains("unknown name `sharp`"));
//! ```

use sweep_core::constraint::{Dialect, Expr, Value};

use crate::table::{metric_index, Row, METRIC_COUNT};

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

/// A parsed `--where` expression, bound to metric and parameter positions: slot `k` is
/// metric `k` below [`METRIC_COUNT`], parameter `k - METRIC_COUNT` from there.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    expr: Expr,
}

impl Filter {
    /// Parses `text`; names are metric names ([`backtest::METRICS`]) or `param_names`.
    pub fn parse(text: &str, param_names: &[String]) -> Result<Filter, FilterError> {
        let expr = Expr::parse_in(text, Dialect::LENIENT).map_err(|e| FilterError::Syntax {
            message: e.message,
            position: e.position,
            text: text.to_string(),
        })?;
        let slot_of = |name: &str| {
            metric_index(name).or_else(|| {
                param_names
                    .iter()
                    .position(|p| p == name)
                    .map(|k| METRIC_COUNT + k)
            })
        };
        let expr = expr
            .bind(&slot_of)
            .map_err(|name| FilterError::UnknownName {
                name,
                metrics: backtest::metrics::metric_names(),
                params: if param_names.is_empty() {
                    "(none)".to_string()
                } else {
                    param_names.join(", ")
                },
            })?;
        Ok(Filter { expr })
    }

    /// Whether `row` passes (metrics: the whole-period values).
    pub fn matches(&self, row: &Row) -> bool {
        self.expr
            .matches(&|slot| match slot.checked_sub(METRIC_COUNT) {
                None => row
                    .metrics
                    .get(slot)
                    .copied()
                    .filter(|v| !v.is_nan())
                    .map(Value::Num),
                Some(k) => row.param(k).map(Value::from_param),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtest::ParamValue;

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

    #[test]
    fn single_equals_upper_case_keywords_and_positions() {
        let f = Filter::parse("fast = 5 AND NOT kind = 'ema'", &names()).expect("p");
        assert!(f.matches(&row(0.0, 0.0, 5, "sma")));
        assert!(!f.matches(&row(0.0, 0.0, 5, "ema")));
        assert!(!f.matches(&row(0.0, 0.0, 4, "sma")));
        let e = Filter::parse("fast > 1 2", &names()).unwrap_err();
        assert!(matches!(e, FilterError::Syntax { position: 9, .. }), "{e}");
    }
}
