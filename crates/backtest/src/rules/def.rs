//! The `[rules]` table of a spec as written: the rule texts of one of the three forms and
//! the `[rules.params]` declarations, deserialised (serde) before anything is parsed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::params::{ParamKind, ParamSpec, ParamValue};

/// The `[rules]` table as written (serde, `deny_unknown_fields`). Exactly one form:
/// `position`; or `entry` + `exit` (+ `size`); or `rank` + `top` (+ `filter`, `weight`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesDef {
    /// Form 1: per symbol, a bool (long `w` / flat) or a number (a signed weight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Form 2: go long on a day this holds while flat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Form 2: go flat on a day this holds while long (checked before `entry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// Form 2: the weight taken on entry (default `w`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Form 3: the score symbols are ranked by, highest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<String>,
    /// Form 3: how many symbols are held (a positive whole number per combination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<String>,
    /// Form 3: only symbols for which this holds are eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Form 3: `"equal"` (default) or a number expression per symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<String>,
    /// `[rules.params]`: the parameters the rules use, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, ParamDecl>,
}

/// The type of a declared rules parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclType {
    Int,
    Float,
    Bool,
    Choice,
}

/// One `[rules.params]` entry: `fast = { type = "int", default = 50, min = 1, max = 2000,
/// help = "fast window" }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    #[serde(rename = "type")]
    pub kind: DeclType,
    pub default: ParamValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The allowed values of a `choice`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl ParamDecl {
    /// The declaration as a [`ParamSpec`] named `name`: the default checked against the
    /// type, range and choices. The error is a sentence about `name`.
    pub fn to_spec(&self, name: &str) -> Result<ParamSpec, String> {
        let numeric = matches!(self.kind, DeclType::Int | DeclType::Float);
        if !numeric && (self.min.is_some() || self.max.is_some()) {
            return Err(format!(
                "parameter `{name}`: min/max are for int and float parameters"
            ));
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min > max {
                return Err(format!("parameter `{name}`: min {min} is above max {max}"));
            }
        }
        let kind = match (self.kind, &self.choices) {
            (DeclType::Int, None) => ParamKind::Int,
            (DeclType::Float, None) => ParamKind::Float,
            (DeclType::Bool, None) => ParamKind::Bool,
            (DeclType::Choice, Some(c)) if !c.is_empty() => ParamKind::Choice(c.clone()),
            (DeclType::Choice, _) => {
                return Err(format!(
                    "parameter `{name}`: a choice needs `choices = [...]` (at least one)"
                ))
            }
            (_, Some(_)) => {
                return Err(format!(
                    "parameter `{name}`: `choices` is only for type = \"choice\""
                ))
            }
        };
        let spec = ParamSpec {
            name: name.to_string(),
            kind,
            default: self.default.clone(),
            min: self.min,
            max: self.max,
            help: self.help.clone().unwrap_or_default(),
        };
        let default = spec
            .check(&self.default)
            .map_err(|e| format!("the default of {e}"))?;
        Ok(ParamSpec { default, ..spec })
    }
}

impl RulesDef {
    /// The `[rules.params]` declarations as [`ParamSpec`]s, in name order.
    pub fn declared(&self) -> Result<Vec<ParamSpec>, String> {
        self.params
            .iter()
            .map(|(name, decl)| decl.to_spec(name))
            .collect()
    }

    /// The rule texts given, as (name, text), in the order of the fields.
    pub fn given(&self) -> Vec<(&'static str, &str)> {
        [
            ("position", &self.position),
            ("entry", &self.entry),
            ("exit", &self.exit),
            ("size", &self.size),
            ("rank", &self.rank),
            ("top", &self.top),
            ("filter", &self.filter),
            ("weight", &self.weight),
        ]
        .into_iter()
        .filter_map(|(name, text)| text.as_deref().map(|t| (name, t)))
        .collect()
    }
}

/// The spec syntax of `strategy = "rules"`, for listings (`bt-worker strategies`).
pub const SPEC_SYNTAX: &str = r#"strategy = "rules"

[rules]                 # exactly one form:
# 1. a target per symbol: a bool (long w = 1/symbols, or flat) or a signed weight
position = "sma(close, fast) > sma(close, slow)"
# 2. long (size, default w) from a day `entry` holds until a day `exit` holds
# entry = "close > lag(highest(high, n), 1)"
# exit  = "close < lag(lowest(low, m), 1)"
# size  = "w"
# 3. hold the `top` symbols by `rank` among those where `filter` holds,
#    weight "equal" (1/top each) or a number per symbol
# rank   = "ret(close, lookback)"
# top    = "top_n"
# filter = "close > sma(close, 200)"
# weight = "equal"

[rules.params]          # every parameter the rules use, declared
fast = { type = "int", default = 50, min = 1, max = 2000, help = "fast window" }
slow = { type = "int", default = 200, min = 1, max = 5000 }
# type = "int" | "float" | "bool" | "choice" (with choices = [...]); default required"#;
