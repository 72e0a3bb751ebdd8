//! The function table of the rules language: every function's name, arguments (their
//! kinds), result and one line of documentation. The type checker reads it, and it is what
//! docs and `bt-worker strategies` list ([`functions`]).

/// What an argument of a function must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A number: a scalar (parameters, literals) or a series (per symbol per day).
    Number,
    /// A bool, scalar or series.
    Bool,
    /// A window in days: a scalar number expression of parameters and literals that must be
    /// a positive whole number for every combination (checked per combination).
    Window,
    /// Either a number or a bool; the arguments of this kind must agree (`if`'s branches).
    Same,
}

impl ArgKind {
    /// How the kind reads in messages and docs.
    pub fn describe(self) -> &'static str {
        match self {
            ArgKind::Number => "a number",
            ArgKind::Bool => "a bool",
            ArgKind::Window => "a window (a positive whole number of days)",
            ArgKind::Same => "a number or a bool",
        }
    }
}

/// What a function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    /// A number series (whatever the arguments).
    NumberSeries,
    /// A bool series.
    BoolSeries,
    /// A number; a scalar when every argument is one (`abs(fast - slow)`), else a series.
    Number,
    /// The type of the [`ArgKind::Same`] arguments; a scalar when every argument is one.
    Same,
}

/// One function of the rules language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionDoc {
    pub name: &'static str,
    /// The arguments' names as written in [`FunctionDoc::signature`], with their kinds.
    pub args: &'static [(&'static str, ArgKind)],
    pub returns: Returns,
    /// How it is called: `sma(x, n)`.
    pub signature: &'static str,
    /// One line: what it computes, and from which day it is defined.
    pub doc: &'static str,
}

use ArgKind::{Bool, Number, Same, Window};

const X_N: &[(&str, ArgKind)] = &[("x", Number), ("n", Window)];
const A_B: &[(&str, ArgKind)] = &[("a", Number), ("b", Number)];
const X: &[(&str, ArgKind)] = &[("x", Number)];

static FUNCTIONS: &[FunctionDoc] = &[
    FunctionDoc {
        name: "lag",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "lag(x, n)",
        doc: "x n days before today; undefined for the first n days",
    },
    FunctionDoc {
        name: "ret",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "ret(x, n)",
        doc: "return over n days: x / lag(x, n) - 1",
    },
    FunctionDoc {
        name: "sma",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "sma(x, n)",
        doc: "simple moving average of the n days ending today",
    },
    FunctionDoc {
        name: "ema",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "ema(x, n)",
        doc: "exponential moving average, alpha 2/(n+1), seeded with the first value; \
              defined from the n-th value",
    },
    FunctionDoc {
        name: "std",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "std(x, n)",
        doc: "standard deviation of the n days ending today (population: ddof 0)",
    },
    FunctionDoc {
        name: "highest",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "highest(x, n)",
        doc: "the highest x of the n days ending today (today included)",
    },
    FunctionDoc {
        name: "lowest",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "lowest(x, n)",
        doc: "the lowest x of the n days ending today (today included)",
    },
    FunctionDoc {
        name: "rsi",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "rsi(x, n)",
        doc: "Wilder's relative strength index (0-100) of x's daily changes; defined once \
              n changes have been seen",
    },
    FunctionDoc {
        name: "atr",
        args: &[("n", Window)],
        returns: Returns::NumberSeries,
        signature: "atr(n)",
        doc: "Wilder's average true range of high, low and close; defined once n true \
              ranges have been seen",
    },
    FunctionDoc {
        name: "zscore",
        args: X_N,
        returns: Returns::NumberSeries,
        signature: "zscore(x, n)",
        doc: "(x - sma(x, n)) / std(x, n); undefined when std is 0",
    },
    FunctionDoc {
        name: "crossover",
        args: A_B,
        returns: Returns::BoolSeries,
        signature: "crossover(a, b)",
        doc: "a > b today and a <= b yesterday",
    },
    FunctionDoc {
        name: "crossunder",
        args: A_B,
        returns: Returns::BoolSeries,
        signature: "crossunder(a, b)",
        doc: "a < b today and a >= b yesterday",
    },
    FunctionDoc {
        name: "abs",
        args: X,
        returns: Returns::Number,
        signature: "abs(x)",
        doc: "absolute value",
    },
    FunctionDoc {
        name: "min",
        args: A_B,
        returns: Returns::Number,
        signature: "min(a, b)",
        doc: "the smaller of a and b (undefined if either is)",
    },
    FunctionDoc {
        name: "max",
        args: A_B,
        returns: Returns::Number,
        signature: "max(a, b)",
        doc: "the larger of a and b (undefined if either is)",
    },
    FunctionDoc {
        name: "sign",
        args: X,
        returns: Returns::Number,
        signature: "sign(x)",
        doc: "-1, 0 or 1",
    },
    FunctionDoc {
        name: "clip",
        args: &[("x", Number), ("lo", Number), ("hi", Number)],
        returns: Returns::Number,
        signature: "clip(x, lo, hi)",
        doc: "x limited to [lo, hi]",
    },
    FunctionDoc {
        name: "log",
        args: X,
        returns: Returns::Number,
        signature: "log(x)",
        doc: "natural logarithm; undefined for x <= 0",
    },
    FunctionDoc {
        name: "if",
        args: &[("c", Bool), ("a", Same), ("b", Same)],
        returns: Returns::Same,
        signature: "if(c, a, b)",
        doc: "a where c holds, b where it does not; undefined where c is",
    },
    FunctionDoc {
        name: "rank",
        args: X,
        returns: Returns::NumberSeries,
        signature: "rank(x)",
        doc: "rank across the symbols each day: 1 = highest, ties averaged, undefined \
              stays undefined",
    },
];

/// Every function of the rules language, in documentation order.
pub fn functions() -> &'static [FunctionDoc] {
    FUNCTIONS
}

/// The function called `name`.
pub fn function(name: &str) -> Option<&'static FunctionDoc> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The names that rules read as series: per symbol, per day.
pub const SERIES: &[(&str, &str)] = &[
    ("open", "the day's open (adjusted as the close)"),
    ("high", "the day's high (adjusted as the close)"),
    ("low", "the day's low (adjusted as the close)"),
    ("close", "the day's close (adjusted)"),
    (
        "volume",
        "the day's volume (0 on a calendar day without a row; undefined where the file has none)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_signatures_match_the_arguments() {
        for (k, f) in FUNCTIONS.iter().enumerate() {
            assert!(
                FUNCTIONS[..k].iter().all(|g| g.name != f.name),
                "{}",
                f.name
            );
            let names: Vec<&str> = f.args.iter().map(|a| a.0).collect();
            assert_eq!(f.signature, format!("{}({})", f.name, names.join(", ")));
        }
        assert!(function("sma").is_some() && function("smaa").is_none());
    }
}
