//! Command-line parameter overrides: `-p fast=5,10,20`, `-p slow=50..200:50`,
//! `-p slow=range(50,200,50)` (Hydra's), `-p kind=choice(sma,ema)`, `-p +extra=1`.
//!
//! * `name=v1,v2,...` replaces the parameter's values (or adds the parameter when the spec
//!   has none of that name; a new parameter becomes the last, fastest-varying axis). A
//!   leading `+` (Hydra's "add") is accepted and means the same.
//! * Each value is an integer, else a float, else `true`/`false`, else a string; quotes
//!   (`'a,b'` or `"a,b"`) keep a string as it is, commas and `..` included.
//! * `from..to:step` and `from..to` (step 1) are **inclusive** ranges, like the spec's
//!   `{ from, to, step }`: `50..200:50` is `50,100,150,200`; `to` is included when a step
//!   reaches it (`2..7:2` is `2,4,6`). Integers when all of from, to and step are
//!   integers, else floats without drift (`0.1..0.3:0.1` is `0.1,0.2,0.3`). A range may
//!   stand among the items of a list: `-p fast=2,5..20:5` is `2,5,10,15,20`.
//! * `range(stop)`, `range(start, stop)`, `range(start, stop, step)` follow Hydra and
//!   Python: **`stop` is excluded** (`range(50,200,50)` is `50,100,150`). Integers when all
//!   arguments are integers, else floats without drift.
//! * `choice(a, b, c)` is the list `a,b,c`.
//!
//! ```
//! use backtest::ParamValue;
//! use sweep_core::overrides::parse_override;
//!
//! let o = parse_override("slow=50..200:50").unwrap();
//! assert_eq!(o.name, "slow");
//! assert_eq!(o.values, [50, 100, 150, 200].map(ParamValue::Int));
//! ```

use backtest::ParamValue;

use crate::grid::{exclusive_range, float_range, int_range};

/// One `-p name=values` override.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub name: String,
    pub values: Vec<ParamValue>,
    /// The text as given, for messages.
    pub text: String,
}

/// Why an override cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("override `{text}`: {message}")]
pub struct OverrideError {
    pub text: String,
    pub message: String,
}

/// Parses one override.
pub fn parse_override(text: &str) -> Result<Override, OverrideError> {
    let fail = |message: String| OverrideError {
        text: text.to_string(),
        message,
    };
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| fail("expected `name=value[,value...]`".into()))?;
    let name = name.trim();
    let name = name.strip_prefix('+').unwrap_or(name);
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(fail(format!(
            "`{name}` is not a parameter name (letters, digits and `_`)"
        )));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(fail(format!("no value given for `{name}`")));
    }
    let values = if let Some(args) = call_args(value, "range") {
        let args = split_items(args).map_err(fail)?;
        let nums: Vec<ParamValue> = args.iter().map(|a| scalar(a)).collect();
        let (start, stop, step) = match nums.as_slice() {
            [stop] => (ParamValue::Int(0), stop.clone(), ParamValue::Int(1)),
            [start, stop] => (start.clone(), stop.clone(), ParamValue::Int(1)),
            [start, stop, step] => (start.clone(), stop.clone(), step.clone()),
            _ => {
                return Err(fail(
                    "range() takes 1 to 3 arguments: range(start, stop, step)".into(),
                ))
            }
        };
        exclusive_range(&start, &stop, &step).map_err(fail)?
    } else if let Some(args) = call_args(value, "choice") {
        split_items(args)
            .map_err(fail)?
            .iter()
            .map(|a| scalar(a))
            .collect()
    } else {
        let mut values = Vec::new();
        for item in split_items(value).map_err(fail)? {
            match inclusive_range(&item) {
                Some(range) => values.extend(range.map_err(fail)?),
                None => values.push(scalar(&item)),
            }
        }
        values
    };
    if values.is_empty() {
        return Err(fail(format!("`{name}` gets no values")));
    }
    Ok(Override {
        name: name.to_string(),
        values,
        text: text.to_string(),
    })
}

/// The values of an inclusive range item `from..to:step` or `from..to` (step 1); `None`
/// when `item` is no range (it has no `..`, or it is quoted).
fn inclusive_range(item: &str) -> Option<Result<Vec<ParamValue>, String>> {
    if item.starts_with(['\'', '"']) {
        return None;
    }
    let (from, rest) = item.split_once("..")?;
    let (to, step) = match rest.split_once(':') {
        Some((to, step)) => (to, Some(step)),
        None => (rest, None),
    };
    let bad = |what: &str, text: &str| {
        Err(format!(
            "`{item}`: {what} `{text}` is not a number (a range is `from..to:step` or \
             `from..to`, both ends included; quote a string that contains `..`)"
        ))
    };
    let number = |what: &str, text: &str| match scalar(text.trim()) {
        v @ (ParamValue::Int(_) | ParamValue::Float(_)) => Ok(v),
        _ => bad(what, text),
    };
    let from = match number("from", from) {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    let to = match number("to", to) {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    let step = match step.map(|s| number("step", s)).transpose() {
        Ok(v) => v.unwrap_or(ParamValue::Int(1)),
        Err(e) => return Some(Err(e)),
    };
    let values = match (&from, &to, &step) {
        (ParamValue::Int(a), ParamValue::Int(b), ParamValue::Int(s)) => match b.checked_sub(*a) {
            Some(_) => int_range(*a, *b, *s).map(|v| v.into_iter().map(ParamValue::Int).collect()),
            None => Err(format!("from {a} to {b} is too wide a range")),
        },
        _ => {
            let f = |v: &ParamValue| v.as_f64().unwrap_or(f64::NAN);
            float_range(f(&from), f(&to), f(&step))
                .map(|v| v.into_iter().map(ParamValue::Float).collect())
        }
    };
    Some(values.map_err(|e| format!("`{item}`: {e}")))
}

/// The argument text of `func(...)`, if `value` is such a call.
fn call_args<'a>(value: &'a str, func: &str) -> Option<&'a str> {
    value
        .strip_prefix(func)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// Splits on commas outside quotes; empty items are errors.
fn split_items(s: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, ',') => items.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    items.push(cur);
    let items: Vec<String> = items.into_iter().map(|i| i.trim().to_string()).collect();
    if items.iter().any(String::is_empty) {
        return Err("empty value in the list (two commas in a row, or a trailing comma?)".into());
    }
    Ok(items)
}

/// Reads one item as an int, float, bool, or (quoted or bare) string.
fn scalar(item: &str) -> ParamValue {
    for q in ['\'', '"'] {
        if let Some(inner) = item.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            if item.len() >= 2 {
                return ParamValue::Str(inner.to_string());
            }
        }
    }
    if let Ok(i) = item.parse::<i64>() {
        return ParamValue::Int(i);
    }
    if let Ok(x) = item.parse::<f64>() {
        if x.is_finite() {
            return ParamValue::Float(x);
        }
    }
    match item {
        "true" => ParamValue::Bool(true),
        "false" => ParamValue::Bool(false),
        _ => ParamValue::Str(item.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i64]) -> Vec<ParamValue> {
        v.iter().map(|&x| ParamValue::Int(x)).collect()
    }

    #[test]
    fn lists_ranges_and_choices() {
        let o = parse_override("fast=5,10,20").expect("list");
        assert_eq!(o.name, "fast");
        assert_eq!(o.values, ints(&[5, 10, 20]));
        assert_eq!(
            parse_override("slow=range(50,200,50)")
                .expect("range")
                .values,
            ints(&[50, 100, 150])
        );
        assert_eq!(
            parse_override("n=range(3)").expect("range").values,
            ints(&[0, 1, 2])
        );
        assert_eq!(
            parse_override("n=range(2, 5)").expect("range").values,
            ints(&[2, 3, 4])
        );
        assert_eq!(
            parse_override("w=range(0.1,0.4,0.1)")
                .expect("float range")
                .values,
            vec![
                ParamValue::Float(0.1),
                ParamValue::Float(0.2),
                ParamValue::Float(0.3)
            ]
        );
        assert_eq!(
            parse_override("kind=choice(sma, ema)")
                .expect("choice")
                .values,
            vec![ParamValue::Str("sma".into()), ParamValue::Str("ema".into())]
        );
        assert_eq!(
            parse_override("+x=0.5,true,'a,b'").expect("mixed").values,
            vec![
                ParamValue::Float(0.5),
                ParamValue::Bool(true),
                ParamValue::Str("a,b".into())
            ]
        );
        assert_eq!(parse_override("+x=7").expect("add").name, "x");
    }

    #[test]
    fn inclusive_ranges_include_to_when_a_step_reaches_it() {
        let values = |text: &str| parse_override(text).expect(text).values;
        assert_eq!(values("slow=50..200:50"), ints(&[50, 100, 150, 200]));
        assert_eq!(values("slow=2..7:2"), ints(&[2, 4, 6]));
        assert_eq!(values("n=3..6"), ints(&[3, 4, 5, 6]));
        assert_eq!(values("n=3..3"), ints(&[3]));
        assert_eq!(values("n=-2..2:2"), ints(&[-2, 0, 2]));
        assert_eq!(values("n=10..1:-3"), ints(&[10, 7, 4, 1]));
        assert_eq!(values("fast=2, 5..20:5"), ints(&[2, 5, 10, 15, 20]));
        assert_eq!(
            values("w=0.1..0.3:0.1"),
            vec![
                ParamValue::Float(0.1),
                ParamValue::Float(0.2),
                ParamValue::Float(0.3)
            ]
        );
        // One float among the three makes every value a float, without drift.
        assert_eq!(
            values("w=0..1:0.25"),
            [0.0, 0.25, 0.5, 0.75, 1.0].map(ParamValue::Float)
        );
        assert_eq!(values("x=1..2.0"), [1.0, 2.0].map(ParamValue::Float));
        // The same values as the spec's `{ from, to, step }` range.
        assert_eq!(
            values("w=0..1:0.1"),
            float_range(0.0, 1.0, 0.1)
                .expect("range")
                .into_iter()
                .map(ParamValue::Float)
                .collect::<Vec<_>>()
        );
        // Quoted, `..` is part of a string.
        assert_eq!(values("s='a..b'"), vec![ParamValue::Str("a..b".into())]);
    }

    #[test]
    fn bad_inclusive_ranges_name_the_override_and_the_part() {
        for (bad, part) in [
            ("slow=50..200:0", "must not be 0"),
            ("slow=200..50:50", "wrong sign"),
            ("slow=50..2OO:50", "to `2OO`"),
            ("slow=a..200", "from `a`"),
            ("slow=50..200:x", "step `x`"),
            ("slow=50..200:", "step ``"),
            ("slow=..200", "from ``"),
            ("slow=0..1e9:1e-9", "values"),
            ("n=-9223372036854775808..9223372036854775807", "too wide"),
        ] {
            let err = parse_override(bad).expect_err(bad).to_string();
            assert!(err.contains(bad), "{err}");
            assert!(err.contains(part), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_overrides_are_errors() {
        for bad in [
            "fast",
            "=5",
            "fast=",
            "fast=1,,2",
            "fast=1,",
            "fa st=1",
            "slow=range(1,2,3,4)",
            "slow=range(1,5,0)",
            "slow=range(a,5,1)",
            "slow=range(5,1,1)",
            "k='abc",
        ] {
            let err = parse_override(bad).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
