//! Tokens of an expression, each with its span in characters.

use crate::{Dialect, ParseError, Span};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

impl Tok {
    /// The token as a message shows it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Num(x) => format!("number {x}"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Ident(w) => format!("`{w}`"),
            Tok::Op(o) => format!("`{o}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
        }
    }
}

/// The tokens of `src`.
pub(crate) fn tokenize(src: &str, dialect: Dialect) -> Result<Vec<(Tok, Span)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let error = |message: String, start: usize, end: usize| ParseError {
        message,
        span: Span::new(start, end),
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || chars[i] == '_'
                    || ((chars[i] == 'e' || chars[i] == 'E')
                        && chars
                            .get(i + 1)
                            .is_some_and(|d| d.is_ascii_digit() || *d == '-' || *d == '+'))
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            let x = text
                .parse::<f64>()
                .map_err(|_| error(format!("`{text}` is not a number"), start, i))?;
            Tok::Num(x)
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let lower = word.to_ascii_lowercase();
            if dialect.keywords_any_case && matches!(lower.as_str(), "and" | "or" | "not") {
                Tok::Ident(lower)
            } else {
                Tok::Ident(word)
            }
        } else if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i >= chars.len() {
                return Err(error("unterminated string".into(), start, chars.len()));
            }
            i += 1;
            Tok::Str(chars[start + 1..i - 1].iter().collect())
        } else if c == '(' {
            i += 1;
            Tok::LParen
        } else if c == ')' {
            i += 1;
            Tok::RParen
        } else if c == ',' {
            i += 1;
            Tok::Comma
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["<=", ">=", "==", "!=", "&&", "||"]
                .into_iter()
                .find(|o| *o == two)
                .or_else(|| {
                    ["<", ">", "+", "-", "*", "/", "%", "!", "="]
                        .into_iter()
                        .find(|o| o.starts_with(c))
                })
                .ok_or_else(|| error(format!("unexpected character `{c}`"), start, start + 1))?;
            i += op.len();
            match op {
                "=" if dialect.single_equals => Tok::Op("=="),
                "=" => {
                    return Err(error(
                        "`=` is not a comparison; use `==`".into(),
                        start,
                        start + 1,
                    ))
                }
                op => Tok::Op(op),
            }
        };
        out.push((tok, Span::new(start, i)));
    }
    Ok(out)
}
