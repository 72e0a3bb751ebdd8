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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamKind;

    /// The `[rules]` table of a spec, read as the spec reads it.
    #[derive(Deserialize)]
    struct Spec {
        rules: RulesDef,
    }

    #[test]
    fn the_documented_syntax_reads() {
        let spec: Spec = toml::from_str(SPEC_SYNTAX).expect("the syntax shown parses");
        assert_eq!(
            spec.rules.position.as_deref(),
            Some("sma(close, fast) > sma(close, slow)")
        );
        assert_eq!(
            spec.rules.given(),
            [("position", "sma(close, fast) > sma(close, slow)")]
        );
        let declared = spec.rules.declared().expect("valid declarations");
        let names: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["fast", "slow"]);
        assert_eq!(declared[0].kind, ParamKind::Int);
        assert_eq!(declared[0].default, ParamValue::Int(50));
        assert_eq!(
            (declared[0].min, declared[0].max),
            (Some(1.0), Some(2000.0))
        );
        assert_eq!(declared[0].help, "fast window");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = toml::from_str::<Spec>("[rules]\npositon = \"close > 1\"\n")
            .err()
            .expect("a typo");
        assert!(
            error.to_string().contains("unknown field `positon`"),
            "{error}"
        );
        let error = toml::from_str::<Spec>(
            "[rules]\nposition = \"x\"\n[rules.params]\nx = { type = \"int\", default = 1, mn = 0 }\n",
        )
        .err()
        .expect("a typo in a declaration");
        assert!(error.to_string().contains("unknown field `mn`"), "{error}");
    }

    #[test]
    fn declarations_become_param_specs() {
        let decl = |text: &str| -> ParamDecl { toml::from_str(text).expect("a declaration") };
        let float = decl("type = \"float\"\ndefault = 1\nmin = 0\nmax = 2");
        let spec = float.to_spec("vol").expect("valid");
        // An integer default of a float parameter is normalised to a float.
        assert_eq!(spec.default, ParamValue::Float(1.0));
        let choice = decl("type = \"choice\"\ndefault = \"ema\"\nchoices = [\"sma\", \"ema\"]");
        assert_eq!(
            choice.to_spec("kind").expect("valid").kind,
            ParamKind::Choice(vec!["sma".into(), "ema".into()])
        );
        let bad_default = decl("type = \"int\"\ndefault = 0\nmin = 1\nmax = 10");
        assert_eq!(
            bad_default.to_spec("n").expect_err("0 < 1"),
            "the default of parameter `n` = 0 is out of range [1, 10]"
        );
        let no_choices = decl("type = \"choice\"\ndefault = \"a\"");
        assert!(no_choices
            .to_spec("k")
            .expect_err("choices")
            .contains("needs `choices"));
        let bool_range = decl("type = \"bool\"\ndefault = true\nmin = 0");
        assert!(bool_range
            .to_spec("b")
            .expect_err("min")
            .contains("min/max are for int and float"));
        let wrong_type = decl("type = \"int\"\ndefault = \"x\"");
        assert_eq!(
            wrong_type.to_spec("n").expect_err("a string"),
            "the default of parameter `n`: expected int, got string `x`"
        );
    }
}
