//! Strategy parameters: declared specs (name, type, default, valid range) and the values a
//! run receives. `sweep` validates a spec against these declarations before submitting.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One parameter value. Serialised untagged, so `5`, `0.6`, `true` and `"sma"` are all plain
/// JSON/TOML scalars.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl ParamValue {
    /// The value as a float (integers widen); `None` for strings and booleans.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as an integer; floats with no fractional part are accepted.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ParamValue::Int(i) => Some(*i),
            ParamValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ParamValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamValue::Bool(_) => "bool",
            ParamValue::Int(_) => "int",
            ParamValue::Float(_) => "float",
            ParamValue::Str(_) => "string",
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => write!(f, "{s}"),
        }
    }
}

/// The parameter values of one run, by name (sorted, so serialisation is stable).
pub type Params = BTreeMap<String, ParamValue>;

/// The type of a declared parameter.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "choices")]
pub enum ParamKind {
    Int,
    Float,
    Bool,
    /// A string out of a fixed set of choices.
    Choice(Vec<String>),
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::Int => write!(f, "int"),
            ParamKind::Float => write!(f, "float"),
            ParamKind::Bool => write!(f, "bool"),
            ParamKind::Choice(c) => write!(f, "one of {}", c.join("|")),
        }
    }
}

/// A declared parameter of a strategy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(flatten)]
    pub kind: ParamKind,
    pub default: ParamValue,
    /// Inclusive lower bound for numeric parameters.
    pub min: Option<f64>,
    /// Inclusive upper bound for numeric parameters.
    pub max: Option<f64>,
    pub help: String,
}

/// Why a parameter set does not fit a strategy's declarations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter `{name}` for strategy `{strategy}`{suggestion}; valid parameters: {valid}")]
    Unknown {
        strategy: String,
        name: String,
        /// Either empty or ` (did you mean `x`?)`.
        suggestion: String,
        valid: String,
    },
    #[error("parameter `{name}`: expected {expected}, got {got}")]
    WrongType {
        name: String,
        expected: String,
        got: String,
    },
    #[error("parameter `{name}` = {value} is out of range [{min}, {max}]")]
    OutOfRange {
        name: String,
        value: String,
        min: String,
        max: String,
    },
    #[error("parameters {0}")]
    Invalid(String),
}

impl ParamSpec {
    pub fn int(name: &str, default: i64, min: i64, max: i64, help: &str) -> Self {
        ParamSpec {
            name: name.to_string(),
            kind: ParamKind::Int,
            default: ParamValue::Int(default),
            min: Some(min as f64),
            max: Some(max as f64),
            help: help.to_string(),
        }
    }

    pub fn float(name: &str, default: f64, min: f64, max: f64, help: &str) -> Self {
        ParamSpec {
            name: name.to_string(),
            kind: ParamKind::Float,
            default: ParamValue::Float(default),
            min: Some(min),
            max: Some(max),
            help: help.to_string(),
        }
    }

    pub fn boolean(name: &str, default: bool, help: &str) -> Self {
        ParamSpec {
            name: name.to_string(),
            kind: ParamKind::Bool,
            default: ParamValue::Bool(default),
            min: None,
            max: None,
            help: help.to_string(),
        }
    }

    pub fn choice(name: &str, default: &str, choices: &[&str], help: &str) -> Self {
        ParamSpec {
            name: name.to_string(),
            kind: ParamKind::Choice(choices.iter().map(|c| c.to_string()).collect()),
            default: ParamValue::Str(default.to_string()),
            min: None,
            max: None,
            help: help.to_string(),
        }
    }

    /// Checks one value against this declaration and returns it normalised to the declared
    /// type (an integral float for an int parameter becomes an int; an int for a float
    /// parameter becomes a float).
    pub fn check(&self, value: &ParamValue) -> Result<ParamValue, ParamError> {
        let wrong = || ParamError::WrongType {
            name: self.name.clone(),
            expected: self.kind.to_string(),
            got: format!("{} `{}`", value.type_name(), value),
        };
        let normalised = match &self.kind {
            ParamKind::Int => ParamValue::Int(value.as_i64().ok_or_else(wrong)?),
            ParamKind::Float => ParamValue::Float(value.as_f64().ok_or_else(wrong)?),
            ParamKind::Bool => ParamValue::Bool(value.as_bool().ok_or_else(wrong)?),
            ParamKind::Choice(choices) => {
                let s = value.as_str().ok_or_else(wrong)?;
                if !choices.iter().any(|c| c == s) {
                    return Err(wrong());
                }
                value.clone()
            }
        };
        if let Some(x) = normalised.as_f64() {
            let below = self.min.is_some_and(|m| x < m);
            let above = self.max.is_some_and(|m| x > m);
            if below || above || x.is_nan() {
                let show = |b: Option<f64>| b.map_or("-inf".to_string(), |v| v.to_string());
                return Err(ParamError::OutOfRange {
                    name: self.name.clone(),
                    value: normalised.to_string(),
                    min: show(self.min),
                    max: show(self.max),
                });
            }
        }
        Ok(normalised)
    }
}

/// Validates `given` against `specs`: every name must be declared, every value must fit, and
/// the missing ones take their defaults. Returns the complete, normalised parameter set.
pub fn resolve(strategy: &str, specs: &[ParamSpec], given: &Params) -> Result<Params, ParamError> {
    let mut out = Params::new();
    for (name, value) in given {
        let Some(spec) = specs.iter().find(|s| &s.name == name) else {
            return Err(unknown(strategy, specs, name));
        };
        out.insert(name.clone(), spec.check(value)?);
    }
    for spec in specs {
        out.entry(spec.name.clone())
            .or_insert_with(|| spec.default.clone());
    }
    Ok(out)
}

/// The error for a name that no declaration has, with the closest valid name suggested.
pub fn unknown(strategy: &str, specs: &[ParamSpec], name: &str) -> ParamError {
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    ParamError::Unknown {
        strategy: strategy.to_string(),
        name: name.to_string(),
        suggestion: closest(name, &names)
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default(),
        valid: names.join(", "),
    }
}

/// The closest of `candidates` to `name` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    expr::closest(name, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("fast", 10, 1, 500, "fast window"),
            ParamSpec::float("weight", 0.5, 0.0, 1.0, "weight"),
            ParamSpec::choice("kind", "sma", &["sma", "ema"], "average"),
        ]
    }

    #[test]
    fn resolve_fills_defaults_and_normalises() {
        let mut given = Params::new();
        given.insert("fast".into(), ParamValue::Float(20.0));
        given.insert("weight".into(), ParamValue::Int(1));
        let out = resolve("ma_cross", &specs(), &given).expect("valid");
        assert_eq!(out["fast"], ParamValue::Int(20));
        assert_eq!(out["weight"], ParamValue::Float(1.0));
        assert_eq!(out["kind"], ParamValue::Str("sma".into()));
    }

    #[test]
    fn unknown_name_suggests_closest() {
        let mut given = Params::new();
        given.insert("fsat".into(), ParamValue::Int(3));
        let err = resolve("ma_cross", &specs(), &given).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("did you mean `fast`"), "{msg}");
        assert!(msg.contains("fast, weight, kind"), "{msg}");
    }

    #[test]
    fn closest_is_by_edit_distance_with_a_length_threshold() {
        let names = ["fast", "slow", "lookback", "vol_target"];
        // Distance 2 is always close enough; longer names allow a third of their length.
        assert_eq!(closest("fsat", &names), Some("fast"));
        assert_eq!(closest("slo", &names), Some("slow"));
        assert_eq!(closest("lokbak", &names), Some("lookback"));
        assert_eq!(closest("voltarget", &names), Some("vol_target"));
        assert_eq!(closest("xyz", &names), None);
        assert_eq!(closest("fastest_window", &names), None);
        // Counted in characters, not bytes: one substituted `é` is distance 1.
        assert_eq!(closest("fést", &names), Some("fast"));
        // A tie keeps the first candidate.
        assert_eq!(closest("flow", &["slow", "flaw"]), Some("slow"));
        assert_eq!(closest("", &[]), None);
    }

    #[test]
    fn out_of_range_and_wrong_type_are_errors() {
        let s = &specs()[0];
        assert!(matches!(
            s.check(&ParamValue::Int(0)),
            Err(ParamError::OutOfRange { .. })
        ));
        assert!(matches!(
            s.check(&ParamValue::Float(2.5)),
            Err(ParamError::WrongType { .. })
        ));
        assert!(matches!(
            specs()[2].check(&ParamValue::Str("wma".into())),
            Err(ParamError::WrongType { .. })
        ));
    }
}
