//! [`RuleError`]: why a rule does not compile, or cannot run for one combination of
//! parameters, with the rule's name, its text and a caret under the part at fault.

use std::fmt;

use expr::Span;

/// A rule that does not compile or cannot run for a combination.
///
/// Displayed as `rule `position`: <message>` followed by the rule's text and a caret line
/// under [`RuleError::span`]; an error about the `[rules]` table as a whole (no rule text:
/// `text` is empty) is displayed as `[rules]: <message>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    /// The rule's name (`position`, `entry`, `rank`, ...); `rules` for the table itself.
    pub rule: String,
    /// The rule's text as written (empty for an error about the table).
    pub text: String,
    /// Where in `text` (characters).
    pub span: Span,
    pub message: String,
}

impl RuleError {
    /// An error in rule `rule` at `span` of `text`.
    pub fn new(rule: &str, text: &str, span: Span, message: impl Into<String>) -> RuleError {
        RuleError {
            rule: rule.to_string(),
            text: text.to_string(),
            span,
            message: message.into(),
        }
    }

    /// An error about the `[rules]` table as a whole (which forms are given, declarations).
    pub fn table(message: impl Into<String>) -> RuleError {
        RuleError {
            rule: "rules".to_string(),
            text: String::new(),
            span: Span::default(),
            message: message.into(),
        }
    }

    /// The two caret lines: the text, then `^` under the span (empty for a table error).
    pub fn caret(&self) -> String {
        if self.text.is_empty() {
            String::new()
        } else {
            expr::caret(&self.text, self.span)
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            write!(f, "[rules]: {}", self.message)
        } else {
            write!(
                f,
                "rule `{}`: {}\n{}",
                self.rule,
                self.message,
                self.caret()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_rule_and_points_at_the_span() {
        let e = RuleError::new("position", "sma(close, fsat)", Span::new(11, 15), "unknown");
        assert_eq!(
            e.to_string(),
            "rule `position`: unknown\nsma(close, fsat)\n           ^^^^"
        );
        assert_eq!(RuleError::table("no form").to_string(), "[rules]: no form");
    }
}
