//! [`Rules`]: the rules of a `[rules]` table parsed, type-checked and compiled once (which
//! form, a typed tree per rule), then checked per combination ([`Rules::check`]: windows
//! and `top` are positive whole numbers) before the simulator runs them.

use std::collections::HashSet;

use crate::data::MarketData;
use crate::params::{ParamSpec, ParamValue, Params};

use super::check::{Checker, W};
use super::def::RulesDef;
use super::error::RuleError;
use super::eval::{scalar, window_problem, Frame};
use super::functions::{function, ArgKind};
use super::ir::{assign_templates, Field, Func, Kind, Node, Op};

/// One compiled rule: its name, text and typed tree.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub name: &'static str,
    pub text: String,
    pub node: Node,
}

/// The three forms of rules.
#[derive(Clone, Debug)]
pub(crate) enum Form {
    /// A target per symbol: a bool (long `w` / flat) or a number (a signed weight).
    Position(Rule),
    /// Long (`size`, default `w`) from a day `entry` holds until a day `exit` holds.
    Stateful {
        entry: Rule,
        exit: Rule,
        size: Option<Rule>,
    },
    /// The `top` symbols by `rank` among those where `filter` holds, weighted equally
    /// (`weight` = None) or by `weight`.
    Rotation {
        rank: Rule,
        top: Rule,
        filter: Option<Rule>,
        weight: Option<Rule>,
    },
}

/// Compiled, type-checked rules; `Send + Sync`, shared by every run of a task.
#[derive(Clone, Debug)]
pub struct Rules {
    declared: Vec<ParamSpec>,
    symbols: Vec<String>,
    pub(crate) form: Form,
    /// The rules as written, (name, text), in the order of [`RulesDef::given`].
    texts: Vec<(&'static str, String)>,
    /// The price series the rules read.
    fields: Vec<Field>,
}

/// The names of the forms' rules, for the table's error messages.
const FORMS: &str = "`position`; or `entry` and `exit` (and optionally `size`); or `rank` and \
                     `top` (and optionally `filter` and `weight`)";

impl Rules {
    /// Parses and type-checks every rule of `def` against the parameters `declared` (the
    /// `[rules.params]` declarations, e.g. [`RulesDef::declared`]) for a universe of
    /// `symbols` (which sets `w = 1 / symbols`, and the most `top` may be).
    ///
    /// ```
    /// use backtest::params::ParamSpec;
    /// use backtest::rules::{Rules, RulesDef};
    ///
    /// let def = RulesDef {
    ///     position: Some("sma(close, fast) > sma(close, slwo)".into()),
    ///     ..RulesDef::default()
    /// };
    /// let declared = vec![
    ///     ParamSpec::int("fast", 50, 1, 2000, "fast window"),
    ///     ParamSpec::int("slow", 200, 1, 5000, "slow window"),
    /// ];
    /// let error = Rules::compile(&def, declared, &["SPY".to_string()]).unwrap_err();
    /// assert_eq!(
    ///     error.to_string().lines().next(),
    ///     Some("rule `position`: unknown name `slwo` (did you mean `slow`?): not a price \
    ///           series (open, high, low, close, volume), `w`, nor a parameter declared in \
    ///           [rules.params] (fast, slow)")
    /// );
    /// ```
    pub fn compile(
        def: &RulesDef,
        declared: Vec<ParamSpec>,
        symbols: &[String],
    ) -> Result<Rules, RuleError> {
        check_declarations(&declared)?;
        if symbols.is_empty() {
            return Err(RuleError::table("rules need at least one symbol"));
        }
        let w = 1.0 / symbols.len() as f64;
        let rule = |name: &'static str, text: &str, kind: Option<Kind>| {
            let checker = Checker {
                rule: name,
                text,
                params: &declared,
                w,
            };
            let node = checker.parse()?;
            match kind {
                Some(kind) => {
                    let needed = match (name, kind) {
                        ("entry", _) => " (`entry`: true on a day to go long)",
                        ("exit", _) => " (`exit`: true on a day to leave the position)",
                        ("filter", _) => " (`filter`: true for a symbol that may be held)",
                        ("size", _) => " (`size`: the weight taken on entry)",
                        ("rank", _) => " (`rank`: the score symbols are ranked by)",
                        ("weight", _) => " (`weight`: a number per symbol, or \"equal\")",
                        _ => "",
                    };
                    checker.expect(&node, kind, needed)?;
                }
                None if node.ty.kind == Kind::Str => {
                    checker.expect(&node, Kind::Num, " (`position`: a bool or a weight)")?;
                }
                None => {}
            }
            if name == "top" {
                checker.count(&node, "`top`", " (how many symbols are held)")?;
            }
            Ok::<Rule, RuleError>(Rule {
                name,
                text: text.to_string(),
                node,
            })
        };
        let given: Vec<&str> = def.given().into_iter().map(|(n, _)| n).collect();
        let has = |n: &str| given.contains(&n);
        let form = if has("position") {
            refuse_others(&given, "position", &["position"])?;
            Form::Position(rule("position", text(&def.position), None)?)
        } else if has("entry") || has("exit") || has("size") {
            refuse_others(&given, "entry", &["entry", "exit", "size"])?;
            for needed in ["entry", "exit"] {
                if !has(needed) {
                    return Err(RuleError::table(format!(
                        "a stateful rule needs both `entry` and `exit` (long from a day \
                         `entry` holds until a day `exit` holds); `{needed}` is missing"
                    )));
                }
            }
            Form::Stateful {
                entry: rule("entry", text(&def.entry), Some(Kind::Bool))?,
                exit: rule("exit", text(&def.exit), Some(Kind::Bool))?,
                size: def
                    .size
                    .as_deref()
                    .map(|t| rule("size", t, Some(Kind::Num)))
                    .transpose()?,
            }
        } else if has("rank") || has("top") || has("filter") || has("weight") {
            refuse_others(&given, "rank", &["rank", "top", "filter", "weight"])?;
            for needed in ["rank", "top"] {
                if !has(needed) {
                    return Err(RuleError::table(format!(
                        "a cross-sectional rule needs both `rank` and `top` (hold the `top` \
                         symbols by `rank`); `{needed}` is missing"
                    )));
                }
            }
            let weight = match def.weight.as_deref() {
                None => None,
                Some(t) if t.trim() == "equal" => None,
                Some(t) => Some(rule("weight", t, Some(Kind::Num))?),
            };
            Form::Rotation {
                rank: rule("rank", text(&def.rank), Some(Kind::Num))?,
                top: rule("top", text(&def.top), None)?,
                filter: def
                    .filter
                    .as_deref()
                    .map(|t| rule("filter", t, Some(Kind::Bool)))
                    .transpose()?,
                weight,
            }
        } else {
            return Err(RuleError::table(format!("no rule given: write {FORMS}")));
        };
        let mut rules = Rules {
            declared,
            symbols: symbols.to_vec(),
            form,
            texts: def
                .given()
                .into_iter()
                .map(|(n, t)| (n, t.to_string()))
                .collect(),
            fields: Vec::new(),
        };
        let mut roots = rules.rules_mut();
        assign_templates(&mut roots);
        let mut fields = Vec::new();
        for rule in rules.rules() {
            rule.node.visit(&mut |n| match &n.op {
                Op::Price(f) if !fields.contains(f) => fields.push(*f),
                Op::Call(Func::Atr, _) => {
                    for f in [Field::High, Field::Low, Field::Close] {
                        if !fields.contains(&f) {
                            fields.push(f);
                        }
                    }
                }
                _ => {}
            });
        }
        rules.fields = fields;
        if let Some(top) = rules.top() {
            let uses_params = top.node.ty.series || {
                let mut p = false;
                top.node.visit(&mut |n| p |= matches!(n.op, Op::Param(_)));
                p
            };
            if !uses_params {
                rules.check_top(top, &[])?;
            }
        }
        Ok(rules)
    }

    /// The parameter declarations the rules were compiled with.
    pub fn params(&self) -> &[ParamSpec] {
        &self.declared
    }

    /// The symbols the rules were compiled for.
    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    /// Checks what only a combination's values decide: every window is a positive whole
    /// number of days, and `top` a positive whole number no larger than the number of
    /// symbols. `resolved` is a complete parameter set (defaults filled in, e.g. by
    /// [`StrategyRef::resolve`](crate::StrategyRef::resolve)); a parameter it lacks takes
    /// its declared default.
    pub fn check(&self, resolved: &Params) -> Result<(), RuleError> {
        let values = self.values(resolved);
        for rule in self.rules() {
            let mut found = Ok(());
            rule.node.visit(&mut |n| {
                let Op::Call(func, args) = &n.op else {
                    return;
                };
                if found.is_err() {
                    return;
                }
                let Some(doc) = function(func.name()) else {
                    return;
                };
                for (arg, &(arg_name, kind)) in args.iter().zip(doc.args) {
                    if kind != ArgKind::Window {
                        continue;
                    }
                    let value = scalar(arg, &values);
                    if let Some(problem) = window_problem(value) {
                        found = Err(RuleError::new(
                            rule.name,
                            &rule.text,
                            arg.span,
                            format!(
                                "the window `{arg_name}` of {} is `{}` = {}{}: {problem}",
                                doc.signature,
                                show(&rule.text, arg),
                                show_value(value),
                                self.naming(arg, &values),
                            ),
                        ));
                        return;
                    }
                }
            });
            found?;
        }
        if let Some(top) = self.top() {
            self.check_top(top, &values)?;
        }
        Ok(())
    }

    /// `top` for `values`: a positive whole number, at most the number of symbols.
    fn check_top(&self, top: &Rule, values: &[ParamValue]) -> Result<(), RuleError> {
        let value = scalar(&top.node, values);
        let error = |problem: String| {
            RuleError::new(
                "top",
                &top.text,
                top.node.span,
                format!(
                    "`top` is `{}` = {}{}: {problem}",
                    show(&top.text, &top.node),
                    show_value(value),
                    self.naming(&top.node, values)
                ),
            )
        };
        if let Some(problem) = window_problem(value) {
            let problem = problem.replace("a window", "it").replace(" of days", "");
            return Err(error(problem));
        }
        if value > self.symbols.len() as f64 {
            return Err(error(format!(
                "more than the {} symbols of the universe",
                self.symbols.len()
            )));
        }
        Ok(())
    }

    /// ` for fast = 50, slow = 200`: the values of the parameters `node` uses.
    fn naming(&self, node: &Node, values: &[ParamValue]) -> String {
        let mut used = Vec::new();
        node.visit(&mut |n| {
            if let Op::Param(k) = n.op {
                if !used.contains(&k) {
                    used.push(k);
                }
            }
        });
        if used.is_empty() {
            return String::new();
        }
        let shown: Vec<String> = used
            .iter()
            .filter_map(|&k| {
                let name = &self.declared.get(k)?.name;
                let value = values.get(k)?;
                Some(format!("{name} = {value}"))
            })
            .collect();
        format!(" for {}", shown.join(", "))
    }

    /// The rules as written, as (`position`, text), in the order `position`, `entry`,
    /// `exit`, `size`, `rank`, `top`, `filter`, `weight`, for reports.
    pub fn texts(&self) -> Vec<(&'static str, String)> {
        self.texts.clone()
    }

    /// The compiled rules, in the form's order.
    pub(crate) fn rules(&self) -> Vec<&Rule> {
        match &self.form {
            Form::Position(p) => vec![p],
            Form::Stateful { entry, exit, size } => {
                let mut v = vec![entry, exit];
                v.extend(size);
                v
            }
            Form::Rotation {
                rank,
                top,
                filter,
                weight,
            } => {
                let mut v = vec![rank, top];
                v.extend(filter);
                v.extend(weight);
                v
            }
        }
    }

    fn rules_mut(&mut self) -> Vec<&mut Node> {
        match &mut self.form {
            Form::Position(p) => vec![&mut p.node],
            Form::Stateful { entry, exit, size } => {
                let mut v = vec![&mut entry.node, &mut exit.node];
                v.extend(size.as_mut().map(|s| &mut s.node));
                v
            }
            Form::Rotation {
                rank,
                top,
                filter,
                weight,
            } => {
                let mut v = vec![&mut rank.node, &mut top.node];
                v.extend(filter.as_mut().map(|s| &mut s.node));
                v.extend(weight.as_mut().map(|s| &mut s.node));
                v
            }
        }
    }

    fn top(&self) -> Option<&Rule> {
        match &self.form {
            Form::Rotation { top, .. } => Some(top),
            _ => None,
        }
    }

    /// The values of the declared parameters in declaration order: from `resolved`, or
    /// the default.
    pub(crate) fn values(&self, resolved: &Params) -> Vec<ParamValue> {
        self.declared
            .iter()
            .map(|p| resolved.get(&p.name).unwrap_or(&p.default).clone())
            .collect()
    }

    /// A message when `data` cannot run these rules: other symbols than compiled for, or a
    /// price series the rules read that the data lacks.
    pub(crate) fn data_problem(&self, data: &MarketData) -> Option<String> {
        if data.symbols != self.symbols {
            return Some(format!(
                "the rules were compiled for the symbols {} but the data has {}",
                self.symbols.join(", "),
                data.symbols.join(", ")
            ));
        }
        let n = data.dates.len();
        for &f in &self.fields {
            let columns = Frame::columns(data, f);
            if columns.len() != data.symbols.len() || columns.iter().any(|c| c.len() != n) {
                return Some(format!(
                    "the rules read `{}`, which this market data does not have",
                    f.name()
                ));
            }
        }
        None
    }

    /// `None`, or the error saying that the driving rule ([`Rules::driving`]) is undefined
    /// on every one of a run's `days` days of prices for these `values` (its windows need
    /// at least as many days), so the run could never trade.
    pub(crate) fn never_defined(
        &self,
        values: &[ParamValue],
        days: usize,
        span: (chrono::NaiveDate, chrono::NaiveDate),
    ) -> Option<RuleError> {
        let rule = self.driving();
        let first = first_defined(&rule.node, values);
        if first.saturating_add(1) < days {
            return None;
        }
        Some(RuleError::new(
            rule.name,
            &rule.text,
            rule.node.span,
            format!(
                "`{}` is first defined after {} days of prices{} and a first fill comes the \
                 day after, but the run has {days} day(s) of prices ({}..{}): it could never \
                 trade",
                rule.name,
                show_value(first as f64 + 1.0),
                self.naming(&rule.node, values),
                span.0,
                span.1
            ),
        ))
    }

    /// The rules that drive the positions (`position`; `entry`; `rank`): a run in which
    /// one of them is undefined on every day could never trade.
    pub(crate) fn driving(&self) -> &Rule {
        match &self.form {
            Form::Position(p) => p,
            Form::Stateful { entry, .. } => entry,
            Form::Rotation { rank, .. } => rank,
        }
    }
}

/// The text of a rule given (the form decided it is there).
fn text(t: &Option<String>) -> &str {
    t.as_deref().unwrap_or_default()
}

/// A table error when `given` has a rule outside the form `form` (whose rules are `own`).
fn refuse_others(given: &[&str], form: &str, own: &[&str]) -> Result<(), RuleError> {
    let others: Vec<String> = given
        .iter()
        .filter(|g| !own.contains(g))
        .map(|g| format!("`{g}`"))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    Err(RuleError::table(format!(
        "`{form}` and {} belong to different forms of rules: write exactly one of {FORMS}",
        others.join(", ")
    )))
}

/// Declarations that rules cannot use: a duplicate, or the name of a price series or `w`.
fn check_declarations(declared: &[ParamSpec]) -> Result<(), RuleError> {
    let mut seen = HashSet::new();
    for p in declared {
        if !seen.insert(p.name.as_str()) {
            return Err(RuleError::table(format!(
                "parameter `{}` is declared twice",
                p.name
            )));
        }
        if Field::ALL.iter().any(|f| f.name() == p.name) || p.name == W {
            return Err(RuleError::table(format!(
                "parameter `{}` has the name of a built-in series of the rules (open, high, \
                 low, close, volume, w): rename it",
                p.name
            )));
        }
        if p.name.is_empty()
            || !p
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || p.name.starts_with(|c: char| c.is_ascii_digit())
            || ["and", "or", "not", "true", "false"].contains(&p.name.as_str())
        {
            return Err(RuleError::table(format!(
                "parameter `{}` cannot be written in a rule: use letters, digits and `_`, \
                 not starting with a digit, and not a keyword",
                p.name
            )));
        }
    }
    Ok(())
}

/// The first day (counted from the run's first day, 0) on which `node` may be defined when
/// every price is defined from day 0: the windows it stacks up.
pub(crate) fn first_defined(node: &Node, values: &[ParamValue]) -> usize {
    if !node.ty.series {
        return 0;
    }
    let f = |n: &Node| first_defined(n, values);
    let window = |n: &Node| {
        let v = scalar(n, values);
        if window_problem(v).is_some() {
            usize::MAX
        } else {
            v as usize
        }
    };
    match &node.op {
        Op::Const(_) | Op::Str(_) | Op::Param(_) | Op::Price(_) => 0,
        Op::Neg(a) | Op::Not(a) => f(a),
        Op::Binary(_, a, b) => f(a).max(f(b)),
        Op::Call(func, args) => {
            let all = || args.iter().map(f).max().unwrap_or(0);
            match func {
                Func::Lag | Func::Ret | Func::Rsi => f(&args[0]).saturating_add(window(&args[1])),
                Func::Sma | Func::Ema | Func::Std | Func::Highest | Func::Lowest | Func::Zscore => {
                    f(&args[0]).saturating_add(window(&args[1]).saturating_sub(1))
                }
                Func::Atr => window(&args[0]),
                Func::Crossover | Func::Crossunder => all().saturating_add(1),
                Func::If => f(&args[0]).max(f(&args[1]).min(f(&args[2]))),
                Func::Abs
                | Func::Sign
                | Func::Log
                | Func::Min
                | Func::Max
                | Func::Clip
                | Func::Rank => all(),
            }
        }
    }
}

/// The text of a node.
fn show(text: &str, node: &Node) -> String {
    text.chars()
        .skip(node.span.start)
        .take(node.span.end.saturating_sub(node.span.start))
        .collect()
}

fn show_value(v: f64) -> String {
    if v.is_nan() {
        "undefined".to_string()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    //! One test per class of error: the message and the caret line, as a user sees them.

    use super::*;

    fn declared() -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("fast", 50, 1, 2000, "fast window"),
            ParamSpec::int("slow", 200, 1, 5000, "slow window"),
            ParamSpec::choice("kind", "sma", &["sma", "ema"], "average"),
            ParamSpec::boolean("long_only", true, "flat or short"),
        ]
    }

    fn spy() -> Vec<String> {
        vec!["SPY".to_string()]
    }

    fn position(text: &str) -> RulesDef {
        RulesDef {
            position: Some(text.into()),
            ..RulesDef::default()
        }
    }

    /// The error of compiling `def`, displayed.
    fn error(def: &RulesDef) -> String {
        match Rules::compile(def, declared(), &spy()) {
            Ok(_) => panic!("{def:?} compiles"),
            Err(e) => e.to_string(),
        }
    }

    fn combo(pairs: &[(&str, ParamValue)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn unknown_function_suggests_the_closest() {
        assert_eq!(
            error(&position("smaa(close, fast) > 1")),
            "rule `position`: unknown function `smaa` (did you mean `sma`?); the functions \
             are lag, ret, sma, ema, std, highest, lowest, rsi, atr, zscore, crossover, \
             crossunder, abs, min, max, sign, clip, log, if, rank\n\
             smaa(close, fast) > 1\n\
             ^^^^"
        );
        assert_eq!(
            error(&position("sma > 1")),
            "rule `position`: `sma` is a function: call it with its arguments, e.g. \
             `sma(...)`\nsma > 1\n^^^"
        );
    }

    #[test]
    fn unknown_name_suggests_the_closest() {
        assert_eq!(
            error(&position("sma(close, fsat) > sma(close, slow)")),
            "rule `position`: unknown name `fsat` (did you mean `fast`?): not a price series \
             (open, high, low, close, volume), `w`, nor a parameter declared in \
             [rules.params] (fast, slow, kind, long_only)\n\
             sma(close, fsat) > sma(close, slow)\n\
             \x20          ^^^^"
        );
        assert_eq!(
            error(&position("clsoe > 1")).lines().next(),
            Some(
                "rule `position`: unknown name `clsoe` (did you mean `close`?): not a price \
                 series (open, high, low, close, volume), `w`, nor a parameter declared in \
                 [rules.params] (fast, slow, kind, long_only)"
            )
        );
    }

    #[test]
    fn a_parameter_not_declared_is_named() {
        assert_eq!(
            error(&position("ret(close, lookback) > 0")),
            "rule `position`: unknown name `lookback`: a parameter must be declared in \
             [rules.params] (declared: fast, slow, kind, long_only); the price series are \
             open, high, low, close, volume, and `w` is 1 / the number of symbols\n\
             ret(close, lookback) > 0\n\
             \x20          ^^^^^^^^"
        );
    }

    #[test]
    fn wrong_number_of_arguments() {
        assert_eq!(
            error(&position("sma(close) > 1")),
            "rule `position`: `sma` takes 2 arguments (sma(x, n)), got 1\n\
             sma(close) > 1\n\
             ^^^^^^^^^^"
        );
        assert_eq!(
            error(&position("atr(14, 2) > 1")),
            "rule `position`: `atr` takes 1 argument (atr(n)), got 2\n\
             atr(14, 2) > 1\n\
             ^^^^^^^^^^"
        );
    }

    #[test]
    fn a_bool_where_a_number_is_needed() {
        assert_eq!(
            error(&position("sma(close > 1, 5)")),
            "rule `position`: `close > 1` is a bool where a number is needed (argument `x` \
             of sma(x, n))\n\
             sma(close > 1, 5)\n\
             \x20   ^^^^^^^^^"
        );
        assert_eq!(
            error(&position("if(close > 1, 1, true)")),
            "rule `position`: `true` is a bool where a number is needed (the branches of \
             if(c, a, b) must have one type)\n\
             if(close > 1, 1, true)\n\
             \x20                ^^^^"
        );
        let rank = RulesDef {
            rank: Some("close > open".into()),
            top: Some("1".into()),
            ..RulesDef::default()
        };
        assert_eq!(
            error(&rank),
            "rule `rank`: `close > open` is a bool where a number is needed (`rank`: the \
             score symbols are ranked by)\n\
             close > open\n\
             ^^^^^^^^^^^^"
        );
    }

    #[test]
    fn a_number_where_a_bool_is_needed() {
        let def = RulesDef {
            entry: Some("close".into()),
            exit: Some("close < 1".into()),
            ..RulesDef::default()
        };
        assert_eq!(
            error(&def),
            "rule `entry`: `close` is a number where a bool is needed (`entry`: true on a day \
             to go long)\nclose\n^^^^^"
        );
        assert_eq!(
            error(&position("close and long_only")),
            "rule `position`: `close` is a number where a bool is needed (`and` combines two \
             bools)\nclose and long_only\n^^^^^"
        );
        assert_eq!(
            error(&position("if(fast, 1, 0)")),
            "rule `position`: `fast` is a number where a bool is needed (argument `c` of \
             if(c, a, b))\nif(fast, 1, 0)\n   ^^^^"
        );
    }

    #[test]
    fn strings_only_compare() {
        assert_eq!(
            error(&position("kind + 1")),
            "rule `position`: `kind` is a string where a number is needed (`+` takes two \
             numbers)\nkind + 1\n^^^^"
        );
        assert_eq!(
            error(&position("if(kind == 1, 1, 0)")),
            "rule `position`: `==` compares two numbers, two bools or two strings, but `kind` \
             is a string and `1` is a number\n\
             if(kind == 1, 1, 0)\n\
             \x20  ^^^^^^^^^"
        );
        assert!(Rules::compile(
            &position("if(kind == 'ema', ema(close, fast), sma(close, fast)) > 0"),
            declared(),
            &spy()
        )
        .is_ok());
    }

    #[test]
    fn a_window_that_is_a_series() {
        assert_eq!(
            error(&position("sma(close, close) > 1")),
            "rule `position`: the window `n` of sma(x, n) must be a number fixed for the run \
             (parameters and literals), but `close` is a series\n\
             sma(close, close) > 1\n\
             \x20          ^^^^^"
        );
        let def = RulesDef {
            rank: Some("close".into()),
            top: Some("sma(close, 3)".into()),
            ..RulesDef::default()
        };
        assert_eq!(
            error(&def),
            "rule `top`: `top` must be a number fixed for the run (parameters and literals), \
             but `sma(close, 3)` is a series\nsma(close, 3)\n^^^^^^^^^^^^^"
        );
    }

    #[test]
    fn a_literal_window_that_is_not_a_positive_whole_number() {
        assert_eq!(
            error(&position("sma(close, 2.5) > 1")),
            "rule `position`: the window `n` of sma(x, n) is 2.5: a window must be a whole \
             number of days\nsma(close, 2.5) > 1\n           ^^^"
        );
        assert_eq!(
            error(&position("lag(close, 3 - 3) > 1")),
            "rule `position`: the window `n` of lag(x, n) is `3 - 3` = 0: a window must be a \
             positive whole number of days\nlag(close, 3 - 3) > 1\n           ^^^^^"
        );
    }

    #[test]
    fn a_window_that_is_not_a_positive_whole_number_for_a_combination() {
        let rules = Rules::compile(
            &position("sma(close, fast - 60) > sma(close, slow / 3)"),
            declared(),
            &spy(),
        )
        .expect("compiles: the windows depend on the combination");
        let error = rules
            .check(&combo(&[("fast", ParamValue::Int(50))]))
            .expect_err("50 - 60 < 1");
        assert_eq!(
            error.to_string(),
            "rule `position`: the window `n` of sma(x, n) is `fast - 60` = -10 for fast = 50: \
             a window must be a positive whole number of days\n\
             sma(close, fast - 60) > sma(close, slow / 3)\n\
             \x20          ^^^^^^^^^"
        );
        // slow / 3 = 200 / 3 is not whole; the value named is the default's.
        let error = rules
            .check(&combo(&[("fast", ParamValue::Int(70))]))
            .expect_err("200 / 3");
        assert_eq!(
            error.to_string(),
            format!(
                "rule `position`: the window `n` of sma(x, n) is `slow / 3` = {} for slow = \
                 200: a window must be a whole number of days\n\
                 sma(close, fast - 60) > sma(close, slow / 3)\n\
                 \x20                                  ^^^^^^^^",
                200.0 / 3.0
            )
        );
        assert!(rules
            .check(&combo(&[
                ("fast", ParamValue::Int(70)),
                ("slow", ParamValue::Int(300))
            ]))
            .is_ok());
    }

    #[test]
    fn top_beyond_the_universe_for_a_combination() {
        let nine: Vec<String> = (1..=9).map(|i| format!("S{i}")).collect();
        let def = RulesDef {
            rank: Some("ret(close, fast)".into()),
            top: Some("slow / 10".into()),
            ..RulesDef::default()
        };
        let rules = Rules::compile(&def, declared(), &nine).expect("compiles");
        assert_eq!(
            rules.check(&combo(&[])).expect_err("20 > 9").to_string(),
            "rule `top`: `top` is `slow / 10` = 20 for slow = 200: more than the 9 symbols of \
             the universe\nslow / 10\n^^^^^^^^^"
        );
        assert!(rules
            .check(&combo(&[("slow", ParamValue::Int(30))]))
            .is_ok());
        let literal = RulesDef {
            top: Some("0".into()),
            ..def
        };
        assert_eq!(
            Rules::compile(&literal, declared(), &nine)
                .expect_err("0")
                .to_string(),
            "rule `top`: `top` is 0: it must be a positive whole number\n0\n^"
        );
    }

    #[test]
    fn the_table_has_exactly_one_form() {
        let both = RulesDef {
            position: Some("close > 1".into()),
            entry: Some("close > 2".into()),
            ..RulesDef::default()
        };
        assert_eq!(
            error(&both),
            "[rules]: `position` and `entry` belong to different forms of rules: write exactly \
             one of `position`; or `entry` and `exit` (and optionally `size`); or `rank` and \
             `top` (and optionally `filter` and `weight`)"
        );
        let no_exit = RulesDef {
            entry: Some("close > 1".into()),
            ..RulesDef::default()
        };
        assert_eq!(
            error(&no_exit),
            "[rules]: a stateful rule needs both `entry` and `exit` (long from a day `entry` \
             holds until a day `exit` holds); `exit` is missing"
        );
        assert_eq!(
            error(&RulesDef::default()),
            "[rules]: no rule given: write `position`; or `entry` and `exit` (and optionally \
             `size`); or `rank` and `top` (and optionally `filter` and `weight`)"
        );
        let no_top = RulesDef {
            rank: Some("close".into()),
            filter: Some("close > 1".into()),
            ..RulesDef::default()
        };
        assert_eq!(
            error(&no_top),
            "[rules]: a cross-sectional rule needs both `rank` and `top` (hold the `top` \
             symbols by `rank`); `top` is missing"
        );
    }

    #[test]
    fn parse_errors_point_at_the_column() {
        assert_eq!(
            error(&position("sma(close, ")),
            "rule `position`: the expression ends too early\nsma(close, \n           ^"
        );
    }

    #[test]
    fn declarations_that_rules_cannot_use() {
        let mut bad = declared();
        bad.push(ParamSpec::int("close", 1, 1, 2, "shadows the close"));
        assert_eq!(
            Rules::compile(&position("close > 1"), bad, &spy())
                .expect_err("close is a series")
                .to_string(),
            "[rules]: parameter `close` has the name of a built-in series of the rules (open, \
             high, low, close, volume, w): rename it"
        );
        let mut twice = declared();
        twice.push(ParamSpec::int("fast", 1, 1, 2, "again"));
        assert!(Rules::compile(&position("close > 1"), twice, &spy())
            .expect_err("twice")
            .to_string()
            .contains("declared twice"));
    }

    #[test]
    fn a_rule_never_defined_in_the_run_is_an_error() {
        let rules = Rules::compile(
            &position("sma(close, fast) > lag(sma(close, slow), fast)"),
            declared(),
            &spy(),
        )
        .expect("compiles");
        let values = rules.values(&combo(&[]));
        // sma(close, 200) is first defined on day 199, lagged by 50: day 249, the 250th.
        assert_eq!(first_defined(&rules.driving().node, &values), 249);
        let day = |s: &str| s.parse::<chrono::NaiveDate>().expect("a date");
        let span = (day("2024-01-01"), day("2024-12-31"));
        assert!(rules.never_defined(&values, 251, span).is_none());
        let error = rules.never_defined(&values, 250, span).expect("250 days");
        assert_eq!(
            error.to_string(),
            "rule `position`: `position` is first defined after 250 days of prices for fast = \
             50, slow = 200 and a first fill comes the day after, but the run has 250 day(s) \
             of prices (2024-01-01..2024-12-31): it could never trade\n\
             sma(close, fast) > lag(sma(close, slow), fast)\n\
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"
        );
    }

    #[test]
    fn texts_and_params_are_reported() {
        let def = RulesDef {
            rank: Some("ret(close, fast)".into()),
            top: Some("2".into()),
            filter: Some("close > sma(close, slow)".into()),
            weight: Some("equal".into()),
            ..RulesDef::default()
        };
        let rules = Rules::compile(&def, declared(), &["A".into(), "B".into()]).expect("compiles");
        assert_eq!(
            rules.texts(),
            [
                ("rank", "ret(close, fast)".to_string()),
                ("top", "2".to_string()),
                ("filter", "close > sma(close, slow)".to_string()),
                ("weight", "equal".to_string()),
            ]
        );
        assert_eq!(rules.params(), declared().as_slice());
    }
}
