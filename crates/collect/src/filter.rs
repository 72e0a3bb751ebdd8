//! The `--where` filter: an expression over metric and parameter names in the workspace's
//! one expression language ([`expr`], the grammar of rules and spec constraints), in its
//! lenient dialect, evaluated by [`sweep_core::constraint`]: comparisons (`<`, `<=`, `>`,
//! `>=`, `==` or `=`, `!=`), `and`/`or`/`not` (also `&&`, `||`, `!`, in any case),
//! parentheses, arithmetic (`+ - * / %`), numbers, quoted strings, `true`/`false`, and the
//! scalar functions `abs`, `min`, `max`, `sign`, `clip`, `log`, `if`. A missing value (a
//! metric that is NaN, a parameter a row does not have) never compares true.
//!
//! ```
//! use collect::filter::Filter;
//! let names = ["fast".to_string(), "slow".to_string()];
//! let f = Filter::parse("max_drawdown < 0.3 and (trades >= 10 or not fast == 5)", &names);
//! assert!(f.is_ok());
//! let err = Filter::parse("sharp > 1", &names).unwrap_err().to_string();
//! assert!(err.contains("unknown name `sharp` (did you mean `sharpe`?)"));
//! assert!(err.ends_with("sharp > 1\n^^^^^"));
//! ```

use sweep_core::constraint::{Dialect, ExprError, Scalar, Value};

use crate::table::{metric_index, Row, METRIC_COUNT};

/// Why a filter expression is not valid: the message, then the expression with a caret line
/// under the part at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--where `{text}`: {}", .error.show(.text))]
pub struct FilterError {
    pub text: String,
    pub error: ExprError,
}

/// A parsed `--where` expression, bound to metric and parameter positions: slot `k` is
/// metric `k` below [`METRIC_COUNT`], parameter `k - METRIC_COUNT` from there.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    expr: Scalar,
}

impl Filter {
    /// Parses `text`; names are metric names ([`backtest::METRICS`]) or `param_names`.
    pub fn parse(text: &str, param_names: &[String]) -> Result<Filter, FilterError> {
        let mut slot_of = |name: &str| {
            metric_index(name)
                .or_else(|| {
                    param_names
                        .iter()
                        .position(|p| p == name)
                        .map(|k| METRIC_COUNT + k)
                })
                .ok_or_else(|| unknown_name(name, param_names))
        };
        let expr = Scalar::parse(
            text,
            Dialect::LENIENT,
            "a --where filter over metrics and parameters",
            &mut slot_of,
        )
        .map_err(|error| FilterError {
            text: text.to_string(),
            error,
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

/// The message for a name that is neither a metric nor a parameter.
fn unknown_name(name: &str, param_names: &[String]) -> String {
    let mut valid: Vec<&str> = backtest::METRICS.iter().map(|d| d.name).collect();
    valid.extend(param_names.iter().map(String::as_str));
    let hint = expr::closest(name, &valid)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    let params = if param_names.is_empty() {
        "(none)".to_string()
    } else {
        param_names.join(", ")
    };
    format!(
        "unknown name `{name}`{hint}; valid names: metrics {}; parameters {params}",
        backtest::metrics::metric_names()
    )
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
    fn errors_name_the_problem_and_point_at_it() {
        let e = Filter::parse("slow > 3", &names()).unwrap_err().to_string();
        assert!(e.contains("unknown name `slow`"), "{e}");
        assert!(e.contains("sharpe") && e.contains("fast, kind"), "{e}");
        assert!(e.ends_with("\nslow > 3\n^^^^"), "{e}");
        let e = Filter::parse("fats > 3", &names()).unwrap_err().to_string();
        assert!(
            e.starts_with("--where `fats > 3`: unknown name `fats` (did you mean `fast`?)"),
            "{e}"
        );
        let e = Filter::parse("fast > ", &names()).unwrap_err();
        assert_eq!(e.error.span.start, 7, "{e}");
        let e = Filter::parse("(fast > 1", &names())
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected `)`"), "{e}");
        let e = Filter::parse("fast > 1 2", &names())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unexpected number 2"), "{e}");
        let e = Filter::parse("sma(sharpe, 3) > 1", &names())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`sma` works on price series and belongs in [rules], not in a --where"),
            "{e}"
        );
        let e = Filter::parse("sharpe > maxx(fast, 1)", &names())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown function `maxx` (did you mean `max`?)")
                && e.ends_with("\n         ^^^^"),
            "{e}"
        );
        let e = Filter::parse("log(sharpe, 2) > 1", &names())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`log` takes 1 argument (x), got 2"), "{e}");
    }

    #[test]
    fn scalar_functions() {
        let f = Filter::parse("abs(max_drawdown - 0.3) < 0.05", &names()).expect("p");
        assert!(f.matches(&row(0.28, 0.0, 5, "x")));
        assert!(!f.matches(&row(0.2, 0.0, 5, "x")));
        let f = Filter::parse("if(kind = 'sma', fast, 2 * fast) >= 10", &names()).expect("p");
        assert!(!f.matches(&row(0.0, 0.0, 5, "sma")));
        assert!(f.matches(&row(0.0, 0.0, 5, "ema")));
        let f = Filter::parse("min(trades, 10) + max(fast, 1) = 15", &names()).expect("p");
        assert!(f.matches(&row(0.0, 12.0, 5, "x")));
        let f = Filter::parse("clip(trades, 0, 3) = 3 and sign(fast - 6) = -1", &names());
        assert!(f.expect("p").matches(&row(0.0, 12.0, 5, "x")));
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
        assert_eq!(
            e.error.span,
            sweep_core::constraint::Span::new(9, 10),
            "{e}"
        );
    }
}
