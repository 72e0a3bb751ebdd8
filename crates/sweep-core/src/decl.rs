//! The declared parameters of a spec's tables (`[rules.params]`, `[command.params]`): each
//! parameter with its type, default, range and help, read with the line of every field so
//! that an error names `file:line` and the field (`rules.params.fast.max`). A table that
//! holds such declarations is read in file order with the span of every key
//! ([`RawWithParams`]); its own keys are the table's reader's business.
//!
//! ```toml
//! [rules.params]          # or [command.params]
//! fast = { type = "int", default = 50, min = 1, max = 2000, help = "fast window" }
//! kind = { type = "choice", choices = ["long", "long_short"], default = "long" }
//! ```

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

use backtest::{ParamKind, ParamSpec, ParamValue};

/// The fields of a declaration.
pub const DECLARATION_FIELDS: [&str; 6] = ["type", "default", "min", "max", "choices", "help"];

/// Why a table of the spec cannot be read: the field (`rules.position`,
/// `command.params.fast.max`), its line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableError {
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

/// Declarations in the order given, each with every field: the normalised `params` table.
pub(crate) struct Declarations<'a>(pub &'a [ParamSpec]);

impl Serialize for Declarations<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for p in self.0 {
            m.serialize_entry(&p.name, &Declaration(p))?;
        }
        m.end()
    }
}

/// One declaration with every field (type, choices, default, min, max, help).
struct Declaration<'a>(&'a ParamSpec);

impl Serialize for Declaration<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        let (kind, choices) = match &p.kind {
            ParamKind::Int => ("int", None),
            ParamKind::Float => ("float", None),
            ParamKind::Bool => ("bool", None),
            ParamKind::Choice(c) => ("choice", Some(c)),
        };
        m.serialize_entry("type", kind)?;
        if let Some(c) = choices {
            m.serialize_entry("choices", c)?;
        }
        m.serialize_entry("default", &p.default)?;
        for (key, bound) in [("min", p.min), ("max", p.max)] {
            match (bound, &p.kind) {
                (Some(b), ParamKind::Int) => m.serialize_entry(key, &(b as i64))?,
                (Some(b), _) => m.serialize_entry(key, &b)?,
                (None, _) => {}
            }
        }
        if !p.help.is_empty() {
            m.serialize_entry("help", &p.help)?;
        }
        m.end()
    }
}

/// A TOML table read in file order, each value with its span.
pub(crate) struct Ordered<T>(pub Vec<(String, Spanned<T>)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<Spanned<T>>()?));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A declaration as written: a table of fields, or something else (an error later).
pub(crate) enum RawDecl {
    Table(Vec<(String, Spanned<toml::Value>)>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for RawDecl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDecl;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a declaration table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDecl, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<Spanned<toml::Value>>()?));
                }
                Ok(RawDecl::Table(out))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawDecl, E> {
                Ok(RawDecl::Other("boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawDecl, E> {
                Ok(RawDecl::Other("integer"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawDecl, E> {
                Ok(RawDecl::Other("integer"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawDecl, E> {
                Ok(RawDecl::Other("float"))
            }
            fn visit_str<E>(self, _: &str) -> Result<RawDecl, E> {
                Ok(RawDecl::Other("string"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawDecl, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(RawDecl::Other("array"))
            }
        }
        d.deserialize_any(V)
    }
}

/// One entry of a table with declared parameters: a value (any TOML value, checked by the
/// table's reader) or the `params` table of declarations.
pub(crate) enum RawEntry {
    Value(toml::Value),
    Params(Ordered<RawDecl>),
}

/// A table with a `params` sub-table of declarations (`[rules]`, `[command]`) as written,
/// in file order: each key with the span of its value (none for `params`).
#[derive(Default)]
pub(crate) struct RawWithParams(pub Vec<(String, Option<std::ops::Range<usize>>, RawEntry)>);

impl<'de> Deserialize<'de> for RawWithParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawWithParams;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawWithParams, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    // No span for `params`: toml cannot give one for a table that only
                    // `[<table>.params.NAME]` headers create.
                    if k == "params" {
                        out.push((k, None, RawEntry::Params(map.next_value()?)));
                    } else {
                        let r = map.next_value::<Spanned<toml::Value>>()?;
                        let span = r.span();
                        out.push((k, Some(span), RawEntry::Value(r.into_inner())));
                    }
                }
                Ok(RawWithParams(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The line of `key` in `lines` (a table's keys or declarations, in file order), else
/// `table` (the table's own line): what errors about a table's fields point at.
pub(crate) fn line_in<L: Copy + Into<Option<usize>>>(
    lines: &[(String, L)],
    key: &str,
    table: Option<usize>,
) -> Option<usize> {
    lines
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, l)| (*l).into())
        .or(table)
}

/// Reads the declarations of `<table>.params` in file order, each with its line; `line`
/// gives the 1-based line of a byte offset of the spec text and `key_line(from, key)` the
/// line of the first `key =` at or after byte `from`.
pub(crate) fn read_declarations(
    table: &str,
    decls: Ordered<RawDecl>,
    check_name: &dyn Fn(&str) -> Result<(), String>,
    line: &dyn Fn(usize) -> usize,
    key_line: &dyn Fn(usize, &str) -> Option<usize>,
) -> Result<Vec<(ParamSpec, Option<usize>)>, TableError> {
    let mut out: Vec<(ParamSpec, Option<usize>)> = Vec::with_capacity(decls.0.len());
    for (name, decl) in decls.0 {
        let start = decl.span().start;
        let decl_line = Some(line(start));
        let spec = read_declaration(
            table,
            &name,
            decl.into_inner(),
            decl_line,
            &|k| key_line(start, k),
            check_name,
        )?;
        if out.iter().any(|(p, _)| p.name == spec.name) {
            return Err(TableError {
                line: decl_line,
                field: format!("{table}.params.{name}"),
                message: format!("`{name}` is declared twice"),
            });
        }
        out.push((spec, decl_line));
    }
    Ok(out)
}

fn value_of(v: &toml::Value) -> Option<ParamValue> {
    Some(match v {
        toml::Value::Integer(i) => ParamValue::Int(*i),
        toml::Value::Float(f) => ParamValue::Float(*f),
        toml::Value::Boolean(b) => ParamValue::Bool(*b),
        toml::Value::String(s) => ParamValue::Str(s.clone()),
        _ => return None,
    })
}

/// Reads one declaration of `<table>.params` (`table` is `rules` or `command`); `check_name`
/// says whether `name` can name a parameter of that table.
fn read_declaration(
    table: &str,
    name: &str,
    decl: RawDecl,
    decl_line: Option<usize>,
    key_line: &dyn Fn(&str) -> Option<usize>,
    check_name: &dyn Fn(&str) -> Result<(), String>,
) -> Result<ParamSpec, TableError> {
    let field_of = |f: &str| {
        if f.is_empty() {
            format!("{table}.params.{name}")
        } else {
            format!("{table}.params.{name}.{f}")
        }
    };
    let err = |line: Option<usize>, f: &str, message: String| TableError {
        line,
        field: field_of(f),
        message,
    };
    check_name(name).map_err(|m| err(decl_line, "", m))?;
    let fields = match decl {
        RawDecl::Table(f) => f,
        RawDecl::Other(kind) => {
            return Err(err(
                decl_line,
                "",
                format!(
                    "expected a declaration table such as `{name} = {{ type = \"int\", default = 20, min = 1, max = 500 }}`, got a {kind}; the values to sweep go in [params]"
                ),
            ))
        }
    };
    // The line of a field: where its value is in an inline table (the declaration's line),
    // or its own line in a `[rules.params.NAME]` table.
    let line_of = |key: &str| key_line(key).or(decl_line);
    for (key, _) in &fields {
        if !DECLARATION_FIELDS.contains(&key.as_str()) {
            let hint = expr::closest(key, &DECLARATION_FIELDS)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(err(
                line_of(key),
                key,
                format!(
                    "unknown field `{key}`{hint}; a declaration has {}",
                    DECLARATION_FIELDS.join(", ")
                ),
            ));
        }
    }
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.get_ref())
    };
    let types = "\"int\", \"float\", \"bool\" or \"choice\"";
    let kind_text = match get("type") {
        None => {
            return Err(err(
                decl_line,
                "type",
                format!("the declaration needs `type` ({types})"),
            ))
        }
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(err(
                line_of("type"),
                "type",
                format!("`type` must be {types}, got a {}", other.type_str()),
            ))
        }
    };
    let choices = match get("choices") {
        None => None,
        Some(toml::Value::Array(items)) => {
            let mut out: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    toml::Value::String(s) if !out.contains(s) => out.push(s.clone()),
                    toml::Value::String(s) => {
                        return Err(err(
                            line_of("choices"),
                            "choices",
                            format!("`{s}` is listed twice"),
                        ))
                    }
                    other => {
                        return Err(err(
                            line_of("choices"),
                            "choices",
                            format!("choices are strings, got a {}", other.type_str()),
                        ))
                    }
                }
            }
            Some(out)
        }
        Some(other) => {
            return Err(err(
                line_of("choices"),
                "choices",
                format!(
                    "`choices` must be a list of strings, got a {}",
                    other.type_str()
                ),
            ))
        }
    };
    let kind = match (kind_text.as_str(), choices) {
        ("int", None) => ParamKind::Int,
        ("float", None) => ParamKind::Float,
        ("bool", None) => ParamKind::Bool,
        ("choice", Some(c)) if !c.is_empty() => ParamKind::Choice(c),
        ("choice", Some(_)) => {
            return Err(err(
                line_of("choices"),
                "choices",
                "`choices` is empty; list the strings the parameter can take".into(),
            ))
        }
        ("choice", None) => {
            return Err(err(
                decl_line,
                "choices",
                "a `choice` parameter needs `choices = [\"a\", \"b\", ...]`".into(),
            ))
        }
        ("int" | "float" | "bool", Some(_)) => {
            return Err(err(
                line_of("choices"),
                "choices",
                format!("`choices` is for `type = \"choice\"`, not `{kind_text}`"),
            ))
        }
        (other, _) => {
            let hint = expr::closest(other, &["int", "float", "bool", "choice"])
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(err(
                line_of("type"),
                "type",
                format!("unknown type `{other}`{hint}; a parameter's type is {types}"),
            ));
        }
    };
    let numeric = matches!(kind, ParamKind::Int | ParamKind::Float);
    let bound = |key: &str| -> Result<Option<f64>, TableError> {
        let Some(v) = get(key) else { return Ok(None) };
        if !numeric {
            return Err(err(
                line_of(key),
                key,
                format!("`{key}` is for `int` and `float` parameters, not `{kind_text}`"),
            ));
        }
        let x = match v {
            toml::Value::Integer(i) => *i as f64,
            toml::Value::Float(f) if matches!(kind, ParamKind::Float) => *f,
            toml::Value::Float(f) if f.fract() == 0.0 => *f,
            other => {
                return Err(err(
                    line_of(key),
                    key,
                    format!(
                        "`{key}` of a `{kind_text}` parameter must be a {}, got `{other}`",
                        if matches!(kind, ParamKind::Int) {
                            "whole number"
                        } else {
                            "number"
                        }
                    ),
                ))
            }
        };
        if !x.is_finite() {
            return Err(err(line_of(key), key, format!("`{key}` must be finite")));
        }
        Ok(Some(x))
    };
    let (min, max) = (bound("min")?, bound("max")?);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(err(
                line_of("max"),
                "max",
                format!("`max` = {hi} is below `min` = {lo}"),
            ));
        }
    }
    let help = match get("help") {
        None => String::new(),
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(err(
                line_of("help"),
                "help",
                format!("`help` must be a string, got a {}", other.type_str()),
            ))
        }
    };
    let Some(default) = get("default") else {
        return Err(err(
            decl_line,
            "default",
            format!(
                "the declaration needs a `default` (the value a combination takes when [params] does not give `{name}`)"
            ),
        ));
    };
    let Some(default) = value_of(default) else {
        return Err(err(
            line_of("default"),
            "default",
            format!(
                "`default` must be a number, string or boolean, got a {}",
                default.type_str()
            ),
        ));
    };
    let mut spec = ParamSpec {
        name: name.to_string(),
        kind,
        default: default.clone(),
        min,
        max,
        help,
    };
    spec.default = spec
        .check(&default)
        .map_err(|e| err(line_of("default"), "default", e.to_string()))?;
    Ok(spec)
}
