//! [`Rules`]: the rules of a `[rules]` table parsed, type-checked and compiled once, then
//! checked per combination ([`Rules::check`]) and run by the simulator.

use crate::params::{ParamSpec, Params};

use super::def::RulesDef;
use super::error::RuleError;

/// Compiled, type-checked rules; `Send + Sync`, shared by every run of a task.
#[derive(Debug)]
pub struct Rules {
    declared: Vec<ParamSpec>,
    texts: Vec<(&'static str, String)>,
}

impl Rules {
    /// Parses and type-checks every rule of `def` against the parameters `declared` (the
    /// `[rules.params]` declarations) for a universe of `symbols`.
    pub fn compile(
        def: &RulesDef,
        declared: Vec<ParamSpec>,
        symbols: &[String],
    ) -> Result<Rules, RuleError> {
        let _ = symbols;
        let mut texts = Vec::new();
        for (name, text) in def.given() {
            expr::parse(text, expr::Dialect::STRICT)
                .map_err(|e| RuleError::new(name, text, e.span, e.message))?;
            texts.push((name, text.to_string()));
        }
        Ok(Rules { declared, texts })
    }

    /// The parameter declarations the rules were compiled with.
    pub fn params(&self) -> &[ParamSpec] {
        &self.declared
    }

    /// Checks what only a combination's values decide: every window is a positive whole
    /// number, `top` is at most the number of symbols. `resolved` is a complete parameter
    /// set (defaults filled in).
    pub fn check(&self, resolved: &Params) -> Result<(), RuleError> {
        let _ = resolved;
        Err(RuleError::table("rules are not built yet"))
    }

    /// The rule texts, as (`position`, text), in the form's order, for reports.
    pub fn texts(&self) -> Vec<(&'static str, String)> {
        self.texts.clone()
    }
}
