//! The `[rules]` and `[rules.params]` tables of a `strategy = "rules"` spec: the trading
//! rules as written (one of three forms) and the parameters they use, declared like a
//! built-in strategy's (type, default, range, help). The language itself, its checks and
//! its evaluation are the engine's (`backtest::rules`); this module reads the tables with
//! the line of every key, so that every error names `file:line` and the field
//! (`rules.position`, `rules.params.fast.max`).
//!
//! ```toml
//! strategy = "rules"
//!
//! [rules]                 # exactly one form:
//! position = "sma(close, fast) > sma(close, slow)"   # 1. a position per symbol
//! # entry = "..."  exit = "..."  size = "..."        # 2. stateful entry/exit (size optional)
//! # rank = "..."  top = "..."  filter = "..."  weight = "equal"   # 3. cross-sectional
//!
//! [rules.params]          # type = "int" | "float" | "bool" | "choice"; default required
//! fast = { type = "int", default = 50, min = 1, max = 2000, help = "fast window" }
//! kind = { type = "choice", choices = ["long", "long_short"], default = "long" }
//! ```
//!
//! A rule is an expression in a string; a number or boolean written without quotes
//! (`top = 3`) is taken as its text. The normalised form ([`RulesSpec::normalised`])
//! writes every rule as a string and every declaration with its fields, so the plan hash
//! covers the rules and their declarations.

use serde::ser::SerializeMap;
use serde::Serialize;

use backtest::{ParamKind, ParamSpec};

pub use backtest::rules::RulesDef;
use backtest::rules::{DeclType, ParamDecl};

use crate::decl::{line_in, read_declarations, Declarations, RawEntry, RawWithParams, TableError};

/// The keys of `[rules]` that hold rules, in the order of the three forms.
pub const RULE_KEYS: [&str; 8] = [
    "position", "entry", "exit", "size", "rank", "top", "filter", "weight",
];

/// Names a parameter cannot have: the language's keywords, its series and `w` (one over
/// the number of symbols).
const RESERVED: [&str; 11] = [
    "and", "or", "not", "true", "false", "open", "high", "low", "close", "volume", "w",
];

/// `[rules]` of a spec, as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RulesSpec {
    /// The rules as written, in the engine's type (its `params` hold the declarations
    /// too, by name).
    pub def: RulesDef,
    /// `[rules.params]`, in file order.
    pub params: Vec<ParamSpec>,
    /// Line of the `[rules]` table.
    pub line: Option<usize>,
    /// Line of each rule written (its key's line).
    pub rule_lines: Vec<(String, usize)>,
    /// Line of each declaration of `[rules.params]`.
    pub param_lines: Vec<(String, Option<usize>)>,
}

impl RulesSpec {
    /// The rules written, in form order, with their text: `[("position", "sma(...) > ...")]`.
    pub fn texts(&self) -> Vec<(&'static str, &str)> {
        RULE_KEYS
            .iter()
            .filter_map(|k| rule_of(&self.def, k).map(|t| (*k, t.as_str())))
            .collect()
    }

    /// The line of rule `rule` (`position`), else of the `[rules]` table.
    pub fn line_of(&self, rule: &str) -> Option<usize> {
        line_in(&self.rule_lines, rule, self.line)
    }

    /// The line of the declaration of `param`, else of the `[rules]` table.
    pub fn param_line(&self, param: &str) -> Option<usize> {
        line_in(&self.param_lines, param, self.line)
    }

    /// `[rules]` in its normalised form, to serialise into spec.toml: the rules as strings
    /// in form order, then `[rules.params]` in file order with every declaration's fields
    /// (type, choices, default, min, max, help).
    pub fn normalised(&self) -> NormalisedRules<'_> {
        NormalisedRules(self)
    }
}

/// [`RulesSpec::normalised`]: serialises `[rules]` in a stable order.
pub struct NormalisedRules<'a>(&'a RulesSpec);

impl Serialize for NormalisedRules<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let texts = self.0.texts();
        let params = !self.0.params.is_empty();
        let mut m = s.serialize_map(Some(texts.len() + usize::from(params)))?;
        for (k, text) in texts {
            m.serialize_entry(k, text)?;
        }
        if params {
            m.serialize_entry("params", &Declarations(&self.0.params))?;
        }
        m.end()
    }
}

/// The text of rule `key` of `def`.
pub fn rule_of<'a>(def: &'a RulesDef, key: &str) -> Option<&'a String> {
    match key {
        "position" => def.position.as_ref(),
        "entry" => def.entry.as_ref(),
        "exit" => def.exit.as_ref(),
        "size" => def.size.as_ref(),
        "rank" => def.rank.as_ref(),
        "top" => def.top.as_ref(),
        "filter" => def.filter.as_ref(),
        "weight" => def.weight.as_ref(),
        _ => None,
    }
}

fn rule_slot<'a>(def: &'a mut RulesDef, key: &str) -> Option<&'a mut Option<String>> {
    Some(match key {
        "position" => &mut def.position,
        "entry" => &mut def.entry,
        "exit" => &mut def.exit,
        "size" => &mut def.size,
        "rank" => &mut def.rank,
        "top" => &mut def.top,
        "filter" => &mut def.filter,
        "weight" => &mut def.weight,
        _ => return None,
    })
}

/// Reads `[rules]`; `line` gives the 1-based line of a byte offset of the spec text,
/// `key_line(from, key)` the line of the first `key =` at or after byte `from`, and
/// `table_line` is the line of the `[rules]` header (when there is one).
pub(crate) fn read_rules(
    raw: RawWithParams,
    table_line: Option<usize>,
    line: &dyn Fn(usize) -> usize,
    key_line: &dyn Fn(usize, &str) -> Option<usize>,
) -> Result<RulesSpec, TableError> {
    let err = |line: Option<usize>, field: String, message: String| TableError {
        line,
        field,
        message,
    };
    let mut out = RulesSpec {
        line: table_line,
        ..RulesSpec::default()
    };
    for (key, span, value) in raw.0 {
        let at = span.as_ref().map(|s| line(s.start)).or(table_line);
        match value {
            RawEntry::Params(decls) => {
                for (spec, decl_line) in
                    read_declarations("rules", decls, &check_param_name, line, key_line)?
                {
                    out.def
                        .params
                        .insert(spec.name.clone(), declaration_of(&spec));
                    out.param_lines.push((spec.name.clone(), decl_line));
                    out.params.push(spec);
                }
            }
            RawEntry::Value(v) => {
                let Some(slot) = rule_slot(&mut out.def, &key) else {
                    let mut valid: Vec<&str> = RULE_KEYS.to_vec();
                    valid.push("params");
                    let hint = expr::closest(&key, &valid)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    return Err(err(
                        at,
                        format!("rules.{key}"),
                        format!(
                            "unknown key `{key}` in [rules]{hint}; [rules] holds `position`; or \
                             `entry`, `exit` and `size`; or `rank`, `top`, `filter` and `weight`; \
                             and the table [rules.params]"
                        ),
                    ));
                };
                let text = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(err(
                            at,
                            format!("rules.{key}"),
                            format!(
                                "expected an expression in a string (`{key} = \"...\"`), got a {}",
                                other.type_str()
                            ),
                        ))
                    }
                };
                if text.trim().is_empty() {
                    return Err(err(
                        at,
                        format!("rules.{key}"),
                        "the rule is empty; write an expression".into(),
                    ));
                }
                *slot = Some(text);
                if let Some(l) = at {
                    out.rule_lines.push((key, l));
                }
            }
        }
    }
    if out.line.is_none() {
        out.line = out.rule_lines.first().map(|(_, l)| *l);
    }
    let table_line = out.line;
    check_form(&out.def).map_err(|m| err(table_line, "rules".into(), m))?;
    Ok(out)
}

/// The engine's form of a checked declaration.
fn declaration_of(p: &ParamSpec) -> ParamDecl {
    let (kind, choices) = match &p.kind {
        ParamKind::Int => (DeclType::Int, None),
        ParamKind::Float => (DeclType::Float, None),
        ParamKind::Bool => (DeclType::Bool, None),
        ParamKind::Choice(c) => (DeclType::Choice, Some(c.clone())),
    };
    ParamDecl {
        kind,
        default: p.default.clone(),
        min: p.min,
        max: p.max,
        choices,
        help: (!p.help.is_empty()).then(|| p.help.clone()),
    }
}

/// Exactly one of the three forms, with nothing from another.
fn check_form(def: &RulesDef) -> Result<(), String> {
    let written: Vec<&str> = RULE_KEYS
        .iter()
        .copied()
        .filter(|k| rule_of(def, k).is_some())
        .collect();
    let forms: [(&str, &[&str], &[&str]); 3] = [
        ("position", &["position"], &[]),
        ("entry/exit", &["entry", "exit"], &["size"]),
        ("cross-sectional", &["rank", "top"], &["filter", "weight"]),
    ];
    let syntax = "write exactly one form: `position`; or `entry` and `exit` (with an optional \
                  `size`); or `rank` and `top` (with optional `filter` and `weight`)";
    if written.is_empty() {
        return Err(format!("[rules] has no rule; {syntax}"));
    }
    let of_form = |keys: &[&str]| written.iter().any(|w| keys.contains(w));
    let used: Vec<usize> = forms
        .iter()
        .enumerate()
        .filter(|(_, (_, req, opt))| of_form(req) || of_form(opt))
        .map(|(n, _)| n)
        .collect();
    let list = |keys: &[&str]| {
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if used.len() > 1 {
        return Err(format!(
            "[rules] mixes forms ({} are written); {syntax}",
            list(&written)
        ));
    }
    let (name, required, _) = forms[used[0]];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| !written.contains(k))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the {name} form needs {} (missing {}); {syntax}",
            list(required),
            list(&missing)
        ));
    }
    Ok(())
}

/// Whether `name` can be a parameter of a rule: an identifier that is not a keyword or a
/// series.
fn check_param_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ident = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        return Err(format!(
            "`{name}` cannot name a parameter of a rule: use letters, digits and `_`, not \
             starting with a digit"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "`{name}` cannot name a parameter: it is a keyword or a built-in name of the \
             rules language ({})",
            RESERVED.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::{Spec, SpecError};
    use backtest::ParamValue;

    use super::*;

    const RULES: &str = r#"name = "ma_rules"
strategy = "rules"

[data]
dir = "data"
symbols = ["SPY"]

[rules]
position = "sma(close, fast) > sma(close, slow)"

[rules.params]
fast = { type = "int", default = 50, min = 1, max = 2000, help = "fast window" }
slow = { type = "int", default = 200, min = 1, max = 5000 }
kind = { type = "choice", choices = ["sma", "ema"], default = "sma" }
scale = { type = "float", default = 1, min = 0 }
long_only = { type = "bool", default = true }

[params]
fast = [10, 20]
slow = { from = 50, to = 200, step = 50 }
"#;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("sweeps/r.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("an error").to_string()
    }

    #[test]
    fn reads_rules_and_declarations_in_file_order() {
        let s = parse(RULES).expect("valid");
        let r = s.rules.as_ref().expect("rules");
        assert_eq!(
            r.def.position.as_deref(),
            Some("sma(close, fast) > sma(close, slow)")
        );
        assert_eq!(r.texts().len(), 1);
        assert_eq!(r.line, Some(8));
        assert_eq!(r.line_of("position"), Some(9));
        assert_eq!(r.param_line("slow"), Some(13));
        let names: Vec<_> = r.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["fast", "slow", "kind", "scale", "long_only"]);
        assert_eq!(
            r.params[0],
            ParamSpec::int("fast", 50, 1, 2000, "fast window")
        );
        assert_eq!(r.params[3].default, ParamValue::Float(1.0), "normalised");
        assert_eq!(r.params[3].max, None);
        assert_eq!(
            r.params[2].kind,
            ParamKind::Choice(vec!["sma".into(), "ema".into()])
        );
    }

    #[test]
    fn normalised_spec_carries_the_rules_and_round_trips() {
        let s = parse(RULES).expect("valid");
        let text = s.to_toml().expect("toml");
        assert!(text.contains("[rules]"), "{text}");
        assert!(text.contains("[rules.params.fast]"), "{text}");
        let back = parse(&text).expect("re-read");
        assert_eq!(
            back.rules.as_ref().map(|r| &r.def),
            s.rules.as_ref().map(|r| &r.def)
        );
        assert_eq!(
            back.rules.as_ref().map(|r| &r.params),
            s.rules.as_ref().map(|r| &r.params)
        );
        assert_eq!(back.to_toml().expect("again"), text, "stable");
        // The hash covers the rules and the declarations.
        let hash = crate::identity::spec_hash(&s).expect("hash");
        let edited = parse(&RULES.replace("sma(close, slow)", "ema(close, slow)")).expect("ok");
        assert_ne!(crate::identity::spec_hash(&edited).expect("hash"), hash);
        let redeclared = parse(&RULES.replace("max = 5000", "max = 4000")).expect("ok");
        assert_ne!(crate::identity::spec_hash(&redeclared).expect("hash"), hash);
    }

    #[test]
    fn subtable_declarations_name_the_field_line() {
        let text = RULES.replace(
            "slow = { type = \"int\", default = 200, min = 1, max = 5000 }",
            "",
        ) + "\n[rules.params.slow]\ntype = \"int\"\ndefault = 200\nmin = 10\nmax = 5\n";
        // [rules.params.slow] after [params] is still part of [rules].
        let msg = error(&text);
        assert!(
            msg.starts_with(
                "sweeps/r.toml:26: `rules.params.slow.max`: `max` = 5 is below `min` = 10"
            ),
            "{msg}"
        );
    }

    #[test]
    fn declaration_errors_name_file_line_and_field() {
        for (from, to, want) in [
            ("max = 2000, help", "max = 2000, hepl", "sweeps/r.toml:12: `rules.params.fast.hepl`: unknown field `hepl` (did you mean `help`?)"),
            ("type = \"int\", default = 50", "type = \"integer\", default = 50", "sweeps/r.toml:12: `rules.params.fast.type`: unknown type `integer`"),
            ("default = 50, ", "", "sweeps/r.toml:12: `rules.params.fast.default`: the declaration needs a `default`"),
            ("default = 50", "default = 5000", "sweeps/r.toml:12: `rules.params.fast.default`: parameter `fast` = 5000 is out of range [1, 2000]"),
            ("default = 50", "default = 2.5", "sweeps/r.toml:12: `rules.params.fast.default`: parameter `fast`: expected int"),
            ("min = 1, max = 2000", "min = 1, max = 0", "sweeps/r.toml:12: `rules.params.fast.max`: `max` = 0 is below `min` = 1"),
            ("min = 1, max = 2000", "min = 1.5", "sweeps/r.toml:12: `rules.params.fast.min`: `min` of a `int` parameter must be a whole number"),
            ("choices = [\"sma\", \"ema\"], default = \"sma\"", "default = \"sma\"", "sweeps/r.toml:14: `rules.params.kind.choices`: a `choice` parameter needs"),
            ("default = \"sma\"", "default = \"wma\"", "sweeps/r.toml:14: `rules.params.kind.default`: parameter `kind`: expected one of sma|ema"),
            ("long_only = { type = \"bool\", default = true }", "long_only = { type = \"bool\", default = true, max = 1 }", "sweeps/r.toml:16: `rules.params.long_only.max`: `max` is for `int` and `float` parameters"),
            ("long_only = {", "close = {", "sweeps/r.toml:16: `rules.params.close`: `close` cannot name a parameter"),
            ("scale = { type = \"float\", default = 1, min = 0 }", "scale = 3", "sweeps/r.toml:15: `rules.params.scale`: expected a declaration table"),
        ] {
            assert!(RULES.contains(from), "{from}");
            let msg = error(&RULES.replacen(from, to, 1));
            assert!(msg.starts_with(want), "{to}:\n{msg}");
        }
    }

    #[test]
    fn forms_and_rule_keys_are_checked() {
        let position = "position = \"sma(close, fast) > sma(close, slow)\"";
        for (to, want) in [
            ("positon = \"close > 1\"", "sweeps/r.toml:9: `rules.positon`: unknown key `positon` in [rules] (did you mean `position`?)"),
            ("position = \"close > 1\"\nentry = \"close > 2\"\nexit = \"close < 1\"", "sweeps/r.toml:8: `rules`: [rules] mixes forms (`position`, `entry`, `exit` are written)"),
            ("entry = \"close > 2\"", "sweeps/r.toml:8: `rules`: the entry/exit form needs `entry`, `exit` (missing `exit`)"),
            ("weight = \"equal\"", "sweeps/r.toml:8: `rules`: the cross-sectional form needs `rank`, `top` (missing `rank`, `top`)"),
            ("", "sweeps/r.toml:8: `rules`: [rules] has no rule"),
            ("position = [1]", "sweeps/r.toml:9: `rules.position`: expected an expression in a string"),
            ("position = \"  \"", "sweeps/r.toml:9: `rules.position`: the rule is empty"),
        ] {
            let msg = error(&RULES.replace(position, to));
            assert!(msg.starts_with(want), "{to}:\n{msg}");
        }
        let s = parse(&RULES.replace(position, "rank = \"ret(close, fast)\"\ntop = 3"))
            .expect("top = 3");
        assert_eq!(s.rules.expect("rules").def.top.as_deref(), Some("3"));
    }

    #[test]
    fn rules_and_strategy_go_together() {
        let msg = error(&RULES.replace("strategy = \"rules\"", "strategy = \"ma_cross\""));
        assert!(
            msg.starts_with(
                "sweeps/r.toml:8: `rules`: [rules] is read only with `strategy = \"rules\"`"
            ),
            "{msg}"
        );
        let cut = RULES.find("[rules]").expect("rules");
        let end = RULES.find("[params]").expect("params");
        let without = format!("{}{}", &RULES[..cut], &RULES[end..]);
        let msg = error(&without);
        assert!(
            msg.starts_with("sweeps/r.toml:2: `strategy`: strategy `rules` needs a [rules] table"),
            "{msg}"
        );
    }

    /// Grids, constraints, overrides and sampling work on the declared parameters as on a
    /// built-in's; an undeclared one in [params] is refused naming `rules` and the
    /// declarations; a parameter the grid does not vary takes its default.
    #[test]
    fn the_grid_sweeps_the_declared_parameters() {
        use crate::planner::{PlanError, SweepGrid};
        let combos = |text: &str, overrides: &[&str]| -> Result<Vec<backtest::Params>, PlanError> {
            let mut s = parse(text).expect("valid");
            let o: Vec<_> = overrides
                .iter()
                .map(|o| crate::overrides::parse_override(o).expect("override"))
                .collect();
            s.apply_overrides(&o);
            let grid = SweepGrid::compile(&mut s)?;
            let mut out = Vec::new();
            grid.for_each_combo(|_, p| {
                out.push(p);
                Ok(())
            })?;
            Ok(out)
        };
        let all = combos(RULES, &[]).expect("grid");
        assert_eq!(all.len(), 2 * 4);
        assert_eq!(all[0]["kind"], ParamValue::Str("sma".into()), "default");
        assert_eq!(all[0]["scale"], ParamValue::Float(1.0));
        let constrained = RULES.replace(
            "strategy = \"rules\"",
            "strategy = \"rules\"\nconstraints = [\"slow >= 10 * fast\"]",
        );
        assert_eq!(combos(&constrained, &[]).expect("grid").len(), 3 + 1);
        let sampled = format!("{RULES}\n[sample]\nn = 3\nseed = 1\n");
        assert_eq!(combos(&sampled, &[]).expect("grid").len(), 3);
        let over = combos(RULES, &["fast=7", "kind=sma,ema"]).expect("grid");
        assert_eq!(over.len(), 8);
        assert!(over.iter().all(|p| p["fast"] == ParamValue::Int(7)));
        let err = combos(RULES, &["fast=0"])
            .expect_err("below min")
            .to_string();
        assert!(
            err.contains("`params.fast`") && err.contains("out of range"),
            "{err}"
        );
        let err = combos(RULES, &["lookback=5"])
            .expect_err("undeclared")
            .to_string();
        assert!(
            err.contains("unknown parameter `lookback` for strategy `rules`")
                && err.contains("fast, slow, kind, scale, long_only"),
            "{err}"
        );
        let err = combos(&RULES.replace("sma(close, fast)", "smaa(close, fast)"), &[])
            .expect_err("a rule that does not compile")
            .to_string();
        assert!(
            err.starts_with(
                "sweeps/r.toml:9: rule `position`: unknown function `smaa` (did you mean `sma`?)"
            ) && err.ends_with("\n    smaa(close, fast) > sma(close, slow)\n    ^^^^"),
            "{err}"
        );
    }
}
