//! The sweep spec (TOML): name, strategy, data, backtest settings, the parameter grid,
//! constraints, sampling, and the `[slurm]` settings of the job array.
//!
//! ```toml
//! name = "ma_cross"                 # letters, digits, `-`, `_`, `.`; names the sweep directory
//! strategy = "ma_cross"             # a strategy of `bt-worker strategies`
//! constraints = ["fast < slow"]     # optional filters (see `constraint`)
//! zip = [["fast", "slow"]]          # optional: groups of parameters that vary together
//!
//! [data]                            # backtest::DataConfig
//! dir = "${SLURM_SWEEP_DATA:-../../shared/data}/qstrader_examples"
//! symbols = ["SPY"]
//!
//! [backtest]                        # backtest::BacktestConfig (all optional)
//! commission_bps = 5.0
//!
//! [params]                          # the grid, in this order; the last varies fastest
//! fast = [5, 10, 20]                # a list
//! slow = { from = 50, to = 200, step = 50 }   # inclusive range: 50, 100, 150, 200
//! vol = { from = 0.1, to = 0.3, step = 0.1 }  # floats without drift: 0.1, 0.2, 0.3
//! lam = { from = 0.001, to = 1, num = 4, log = true }  # 0.001, 0.01, 0.1, 1
//! x = { from = 0, to = 1, num = 5 } # evenly spaced: 0, 0.25, 0.5, 0.75, 1
//! kind = "ema"                      # a scalar is one value
//!
//! [rules]                           # only with strategy = "rules" (see `rules`)
//! position = "sma(close, fast) > sma(close, slow)"
//! [rules.params]                    # the parameters the rules use, declared
//! fast = { type = "int", default = 50, min = 1, max = 2000 }
//!
//! [command]                         # only with strategy = "command" (see `command`)
//! argv = ["./backtest", "--fast", "{fast}", "--out", "{result}"]
//! output = "equity_csv"
//! [command.params]                  # the parameters the program takes, declared
//! fast = { type = "int", default = 50, min = 1, max = 2000 }
//!
//! [sample]                          # optional: n combinations drawn without replacement
//! n = 100
//! seed = 7
//!
//! [walk_forward]                    # optional: train/test windows (backtest::walk_forward)
//! train = "3y"                      # "<n>y" years, "<n>m" calendar months, "<n>d" trading days
//! test = "1y"
//! step = "1y"                       # default: = test; at least as long as test
//! mode = "rolling"                  # or "anchored" (training always from the first day)
//! gap = "0d"                        # optional: skipped between training and test
//!
//! [slurm]                           # SlurmConfig
//! time = "00:10:00"
//! ```
//!
//! `data.dir` may use `$VAR`, `${VAR}` and `${VAR:-default}` (`$$` is a `$`); after
//! expansion a relative directory is relative to the spec file's directory. `[data]` is
//! required, except for a `command` sweep: its program reads what it reads, and a `[data]`
//! it gives is hashed into the plan (and checked by the worker), not loaded. A command
//! sweep's `[backtest]` takes only `split`, `keep_returns` and `pbo_blocks`. A zipped group
//! takes the place of its first member in `[params]`; its members must have equally many
//! values. Parameters the grid does not name keep the strategy's default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use backtest::walk_forward::{Length, Mode, WalkForwardConfig};
use backtest::{BacktestConfig, DataConfig, ParamValue};

use crate::command::{read_command, CommandSpec, BACKTEST_KEYS, COMMAND_STRATEGY};
use crate::decl::{Ordered, RawWithParams};
use crate::grid;
use crate::overrides::Override;
use crate::rules::{read_rules, RulesSpec};

/// `[sample]`: draw `n` combinations of the (filtered) grid without replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    pub n: u64,
    #[serde(default)]
    pub seed: u64,
}

/// How one parameter's values are written in the spec.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisDef {
    /// A list, or a scalar (a list of one).
    Values(Vec<ParamValue>),
    /// `{ from, to, step }`, inclusive of `to` when reached.
    Range {
        from: ParamValue,
        to: ParamValue,
        step: ParamValue,
    },
    /// `{ from, to, num [, log = true] }`: `num` points, both ends included.
    Spaced {
        from: ParamValue,
        to: ParamValue,
        num: u64,
        log: bool,
    },
}

impl AxisDef {
    /// The values of the axis, in order.
    pub fn expand(&self) -> Result<Vec<ParamValue>, String> {
        match self {
            AxisDef::Values(v) => Ok(v.clone()),
            AxisDef::Range { from, to, step } => match (from, to, step) {
                (ParamValue::Int(a), ParamValue::Int(b), ParamValue::Int(s)) => {
                    Ok(grid::int_range(*a, *b, *s)?
                        .into_iter()
                        .map(ParamValue::Int)
                        .collect())
                }
                _ => {
                    let (a, b, s) = (num(from, "from")?, num(to, "to")?, num(step, "step")?);
                    Ok(grid::float_range(a, b, s)?
                        .into_iter()
                        .map(ParamValue::Float)
                        .collect())
                }
            },
            AxisDef::Spaced {
                from,
                to,
                num: n,
                log,
            } => {
                let (a, b) = (num(from, "from")?, num(to, "to")?);
                if *n == 0 {
                    return Err("`num` must be at least 1".into());
                }
                let n = usize::try_from(*n).map_err(|_| "`num` is too large".to_string())?;
                let xs = if *log {
                    grid::logspace(a, b, n)?
                } else {
                    grid::linspace(a, b, n)?
                };
                let ints = matches!((from, to), (ParamValue::Int(_), ParamValue::Int(_)));
                if ints && *log {
                    let mut out: Vec<ParamValue> = Vec::with_capacity(xs.len());
                    for x in xs {
                        let v = ParamValue::Int(x.round() as i64);
                        if out.last() != Some(&v) {
                            out.push(v);
                        }
                    }
                    Ok(out)
                } else {
                    Ok(xs.into_iter().map(ParamValue::Float).collect())
                }
            }
        }
    }
}

fn num(v: &ParamValue, field: &str) -> Result<f64, String> {
    v.as_f64()
        .ok_or_else(|| format!("`{field}` must be a number, got {} `{v}`", v.type_name()))
}

/// One entry of `[params]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDef {
    pub name: String,
    pub axis: AxisDef,
    /// Line of the spec file where it is defined (`None` for a command-line override).
    pub line: Option<usize>,
}

/// Lines of the spec file where fields are, for error messages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpecLines {
    pub name: Option<usize>,
    pub strategy: Option<usize>,
    pub data: Option<usize>,
    pub zip: Option<usize>,
    /// The `[walk_forward]` header.
    pub walk_forward: Option<usize>,
    /// One per constraint.
    pub constraints: Vec<Option<usize>>,
}

/// A parsed sweep spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub name: String,
    pub strategy: String,
    /// `[data]`: always present, except in a `command` sweep that gives none.
    pub data: Option<DataConfig>,
    pub backtest: BacktestConfig,
    /// The grid, in file order (overrides replace in place or append).
    pub params: Vec<ParamDef>,
    pub zip: Vec<Vec<String>>,
    pub constraints: Vec<String>,
    pub sample: Option<SampleConfig>,
    /// `[rules]` and `[rules.params]`: present exactly when `strategy = "rules"`.
    pub rules: Option<RulesSpec>,
    /// `[command]` and `[command.params]`: present exactly when `strategy = "command"`.
    pub command: Option<CommandSpec>,
    /// `[walk_forward]`: training and test windows (laid on the data at plan time).
    pub walk_forward: Option<WalkForwardConfig>,
    pub slurm: SlurmConfig,
    /// The file the spec was read from.
    pub path: PathBuf,
    pub lines: SpecLines,
}

/// Why a spec cannot be read. Every variant names the spec file.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: cannot read the spec: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax or a field of the wrong shape; toml's message carries line and column.
    #[error("{path}: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{}: `{field}`: {message}", located(.path, *.line))]
    Field {
        path: PathBuf,
        line: Option<usize>,
        field: String,
        message: String,
    },
}

/// `path:line` or just `path`.
pub fn located(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{}:{l}", path.display()),
        None => path.display().to_string(),
    }
}

/// The `[params]` table read in file order, with spans.
type RawParams = Ordered<toml::Value>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Spanned<String>,
    strategy: Spanned<String>,
    #[serde(default)]
    data: Option<Spanned<DataConfig>>,
    #[serde(default)]
    backtest: Option<Spanned<toml::Value>>,
    #[serde(default)]
    params: RawParams,
    #[serde(default)]
    constraints: Vec<Spanned<String>>,
    #[serde(default)]
    zip: Option<Spanned<Vec<Vec<String>>>>,
    #[serde(default)]
    sample: Option<SampleConfig>,
    #[serde(default)]
    rules: Option<RawWithParams>,
    #[serde(default)]
    command: Option<RawWithParams>,
    #[serde(default)]
    walk_forward: Option<Spanned<toml::Value>>,
    /// Not spanned: `[slurm.container]` alone (no `[slurm]` header) makes an implicit
    /// table that toml cannot give a span; the line comes from the text instead.
    #[serde(default)]
    slurm: Option<SlurmConfig>,
}

/// The strategy name that reads `[rules]`.
pub const RULES_STRATEGY: &str = "rules";

/// Reads `[backtest]`, accepting TOML dates (`start = 2015-01-02`) as well as strings. On
/// error returns the offending key when the message names one.
fn backtest_from_toml(v: &toml::Value) -> Result<BacktestConfig, (Option<String>, String)> {
    fn dates_to_strings(v: &toml::Value) -> toml::Value {
        match v {
            toml::Value::Datetime(d) => toml::Value::String(d.to_string()),
            toml::Value::Table(t) => toml::Value::Table(
                t.iter()
                    .map(|(k, v)| (k.clone(), dates_to_strings(v)))
                    .collect(),
            ),
            toml::Value::Array(a) => toml::Value::Array(a.iter().map(dates_to_strings).collect()),
            other => other.clone(),
        }
    }
    let converted = dates_to_strings(v);
    BacktestConfig::deserialize(converted).map_err(|e| {
        let message = e.to_string().trim_end().to_string();
        let key = message
            .split('`')
            .skip(1)
            .step_by(2)
            .find(|k| v.as_table().is_some_and(|t| t.contains_key(*k)))
            .map(str::to_string);
        (key, message)
    })
}

/// The line of the first `key =` at or after byte `from`.
fn key_line_after(text: &str, from: usize, key: &str) -> Option<usize> {
    let mut offset = 0;
    for (n, l) in text.split_inclusive('\n').enumerate() {
        offset += l.len();
        if offset <= from {
            continue;
        }
        let t = l.trim_start();
        if t.strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with('='))
        {
            return Some(n + 1);
        }
    }
    None
}

/// The line of the `[table]` header, else of a `table = ...` key (toml gives no span for a
/// table that only `[table.params]` creates).
fn header_line(text: &str, table: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix('[')
                .and_then(|r| r.strip_prefix(table))
                .is_some_and(|r| r.starts_with(']'))
                || l.strip_prefix(table)
                    .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|n| n + 1)
}

/// Byte offset of the first header of table `name` or one of its subtables
/// (`[slurm]`, `[slurm.container]`).
fn table_start(text: &str, name: &str) -> Option<usize> {
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix('[').and_then(|r| r.strip_prefix(name)) {
            if rest.trim_start().starts_with(']') || rest.starts_with('.') {
                return Some(offset);
            }
        }
        offset += l.len();
    }
    None
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Spec {
    /// Reads and parses a spec file, and resolves `data.dir` (environment variables, then
    /// relative to the spec file's directory) and a command's `argv`, `workdir` and
    /// `inputs` (see [`CommandSpec`]).
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut spec = Spec::parse(&text, path)?;
        spec.resolve_data_dir()?;
        spec.resolve_command()?;
        Ok(spec)
    }

    /// Parses spec text; `path` is used for messages only (`data.dir` is left as written).
    pub fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
        let raw: RawSpec = toml::from_str(text).map_err(|e| SpecError::Toml {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let line = |span: std::ops::Range<usize>| Some(line_of(text, span.start));
        let field = |line: Option<usize>, field: &str, message: String| SpecError::Field {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            message,
        };
        let is_command = raw.strategy.get_ref() == COMMAND_STRATEGY;
        if let (true, Some(b)) = (is_command, &raw.backtest) {
            // The program simulates: only how its curve is cut, and whether its returns
            // are kept, apply.
            if let Some(key) = b
                .get_ref()
                .as_table()
                .and_then(|t| t.keys().find(|k| !BACKTEST_KEYS.contains(&k.as_str())))
            {
                return Err(field(
                    key_line_after(text, b.span().start, key).or(line(b.span())),
                    &format!("backtest.{key}"),
                    format!(
                        "a command sweep's [backtest] takes only `split`, `keep_returns` and `pbo_blocks`: \
                         the program does its own simulation, so `{key}` belongs in its \
                         arguments or [command.params]"
                    ),
                ));
            }
        }
        let backtest = match &raw.backtest {
            None => BacktestConfig::default(),
            Some(b) => {
                let key_line = |key: Option<&str>| {
                    key.and_then(|k| key_line_after(text, b.span().start, k))
                        .or(line(b.span()))
                };
                let config = backtest_from_toml(b.get_ref()).map_err(|(key, message)| {
                    field(key_line(key.as_deref()), "backtest", message)
                })?;
                // The checks the simulator makes, now, with the key's line.
                config.validate().map_err(|e| {
                    field(
                        key_line(Some(e.field())),
                        &format!("backtest.{}", e.field()),
                        e.to_string(),
                    )
                })?;
                config
            }
        };
        let name_line = line(raw.name.span());
        let name = raw.name.into_inner();
        check_name(&name).map_err(|m| field(name_line, "name", m))?;
        let mut params = Vec::with_capacity(raw.params.0.len());
        for (key, value) in raw.params.0 {
            let l = line(value.span());
            let axis = axis_from_toml(value.get_ref())
                .map_err(|m| field(l, &format!("params.{key}"), m))?;
            params.push(ParamDef {
                name: key,
                axis,
                line: l,
            });
        }
        let slurm = match raw.slurm {
            None => SlurmConfig::default(),
            Some(slurm) => {
                slurm.validate().map_err(|e| {
                    let start = table_start(text, "slurm");
                    let l = start
                        .and_then(|at| key_line_after(text, at, e.key()))
                        .or(start.map(|at| line_of(text, at)));
                    field(l, &format!("slurm.{}", e.key()), e.to_string())
                })?;
                slurm
            }
        };
        let strategy_line = line(raw.strategy.span());
        let rules = match raw.rules {
            Some(r) => {
                let rules_line = header_line(text, "rules");
                if raw.strategy.get_ref() != RULES_STRATEGY {
                    return Err(field(
                        rules_line,
                        "rules",
                        format!(
                            "[rules] is read only with `strategy = \"{RULES_STRATEGY}\"`; this spec's strategy is `{}`",
                            raw.strategy.get_ref()
                        ),
                    ));
                }
                let rules = read_rules(r, rules_line, &|at| line_of(text, at), &|from, key| {
                    key_line_after(text, from, key)
                })
                .map_err(|e| field(e.line, &e.field, e.message))?;
                Some(rules)
            }
            None if raw.strategy.get_ref() == RULES_STRATEGY => {
                return Err(field(
                    strategy_line,
                    "strategy",
                    format!(
                        "strategy `{RULES_STRATEGY}` needs a [rules] table, e.g. \
                         `[rules]` with `position = \"sma(close, fast) > sma(close, slow)\"` \
                         and `[rules.params]` declaring `fast` and `slow` (see docs/rules.md)"
                    ),
                ))
            }
            None => None,
        };
        let command = match raw.command {
            Some(c) => {
                let command_line = header_line(text, "command");
                if !is_command {
                    return Err(field(
                        command_line,
                        "command",
                        format!(
                            "[command] is read only with `strategy = \"{COMMAND_STRATEGY}\"`; this spec's strategy is `{}`",
                            raw.strategy.get_ref()
                        ),
                    ));
                }
                let command =
                    read_command(c, command_line, &|at| line_of(text, at), &|from, key| {
                        key_line_after(text, from, key)
                    })
                    .map_err(|e| field(e.line, &e.field, e.message))?;
                Some(command)
            }
            None if is_command => {
                return Err(field(
                    strategy_line,
                    "strategy",
                    format!(
                        "strategy `{COMMAND_STRATEGY}` needs a [command] table, e.g. \
                         `[command]` with `argv = [\"./backtest\", \"--fast\", \"{{fast}}\", \"--out\", \"{{result}}\"]` \
                         and `output = \"equity_csv\"`, and [command.params] declaring `fast` \
                         (`bt-worker strategies` shows the syntax)"
                    ),
                ))
            }
            None => None,
        };
        let data_line = raw.data.as_ref().and_then(|d| line(d.span()));
        let data = raw.data.map(Spanned::into_inner);
        if data.is_none() && !is_command {
            return Err(field(
                strategy_line,
                "data",
                format!(
                    "strategy `{}` needs a [data] table: `dir` (the price files' directory) and \
                     `symbols`",
                    raw.strategy.get_ref()
                ),
            ));
        }
        let walk_forward_line = header_line(text, "walk_forward");
        let walk_forward = match &raw.walk_forward {
            None => None,
            Some(v) => {
                let start = v.span().start;
                let wf = read_walk_forward(v.get_ref()).map_err(|(key, message)| {
                    let l = key
                        .and_then(|k| key_line_after(text, start, k))
                        .or(walk_forward_line);
                    field(
                        l,
                        &key.map_or("walk_forward".to_string(), |k| format!("walk_forward.{k}")),
                        message,
                    )
                })?;
                if is_command {
                    return Err(field(
                        walk_forward_line,
                        "walk_forward",
                        "expected a strategy the engine runs: a command sweep's program \
                         simulates on its own, so its windows cannot be re-run"
                            .to_string(),
                    ));
                }
                if let Some(split) = backtest.split {
                    return Err(field(
                        walk_forward_line,
                        "walk_forward",
                        format!(
                            "expected either [walk_forward] or `backtest.split` (= {split}), \
                             not both: the windows are the in-sample/out-of-sample split"
                        ),
                    ));
                }
                Some(wf)
            }
        };
        let (zip, zip_line) = match raw.zip {
            Some(z) => {
                let l = line(z.span());
                (z.into_inner(), l)
            }
            None => (Vec::new(), None),
        };
        Ok(Spec {
            name,
            strategy: raw.strategy.get_ref().clone(),
            data,
            backtest,
            params,
            zip,
            constraints: raw
                .constraints
                .iter()
                .map(|c| c.get_ref().clone())
                .collect(),
            sample: raw.sample,
            rules,
            command,
            walk_forward,
            slurm,
            path: path.to_path_buf(),
            lines: SpecLines {
                name: name_line,
                strategy: strategy_line,
                data: data_line,
                zip: zip_line,
                walk_forward: walk_forward_line,
                constraints: raw.constraints.iter().map(|c| line(c.span())).collect(),
            },
        })
    }

    /// An error about `field` of this spec.
    pub fn error(&self, line: Option<usize>, field: &str, message: impl Into<String>) -> SpecError {
        SpecError::Field {
            path: self.path.clone(),
            line,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// Expands environment variables in `data.dir` and makes it absolute, relative to the
    /// spec file's directory.
    pub fn resolve_data_dir(&mut self) -> Result<(), SpecError> {
        let Some(data) = &self.data else {
            return Ok(());
        };
        let written = data.dir.to_string_lossy().into_owned();
        let expanded = expand_env(&written, |v| std::env::var(v).ok())
            .map_err(|m| self.error(self.lines.data, "data.dir", m))?;
        let dir = absolute_from(self.base_dir(), PathBuf::from(expanded));
        if let Some(data) = &mut self.data {
            data.dir = dir;
        }
        Ok(())
    }

    /// Expands environment variables in a command's `argv`, `workdir` and `inputs`, and
    /// makes `workdir` absolute, relative to the spec file's directory.
    pub fn resolve_command(&mut self) -> Result<(), SpecError> {
        let base = self.base_dir().to_path_buf();
        let Some(command) = &mut self.command else {
            return Ok(());
        };
        let resolved = command.resolve(&base, &|v| std::env::var(v).ok());
        if let Err((key, message)) = resolved {
            let line = self.command.as_ref().and_then(|c| c.line_of(key));
            return Err(self.error(line, &format!("command.{key}"), message));
        }
        Ok(())
    }

    /// The directory relative paths of the spec are relative to: the spec file's.
    fn base_dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// The data the spec names, or an error naming `[data]` for a spec without one (only a
    /// `command` sweep can have none).
    pub fn data(&self) -> Result<&DataConfig, SpecError> {
        self.data.as_ref().ok_or_else(|| {
            self.error(
                self.lines.strategy,
                "data",
                format!("strategy `{}` has no [data] table", self.strategy),
            )
        })
    }

    /// Applies command-line overrides: replaces a parameter's values in place, or appends a
    /// new parameter (the new last axis).
    pub fn apply_overrides(&mut self, overrides: &[Override]) {
        for o in overrides {
            let axis = AxisDef::Values(o.values.clone());
            match self.params.iter_mut().find(|p| p.name == o.name) {
                Some(p) => {
                    p.axis = axis;
                    p.line = None;
                }
                None => self.params.push(ParamDef {
                    name: o.name.clone(),
                    axis,
                    line: None,
                }),
            }
        }
    }

    /// The spec as normalised TOML: parameters as explicit value lists, everything else as
    /// read (with `data.dir` as resolved). Reading it back gives the same grid.
    pub fn to_toml(&self) -> Result<String, String> {
        #[derive(Serialize)]
        struct Out<'a> {
            name: &'a str,
            strategy: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            constraints: &'a [String],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            zip: &'a [Vec<String>],
            #[serde(skip_serializing_if = "Option::is_none")]
            sample: Option<SampleConfig>,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<&'a DataConfig>,
            backtest: Backtest<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            rules: Option<crate::rules::NormalisedRules<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            command: Option<crate::command::NormalisedCommand<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            walk_forward: Option<&'a WalkForwardConfig>,
            params: OrderedParams,
            #[serde(skip_serializing_if = "Option::is_none")]
            slurm: Option<&'a SlurmConfig>,
        }
        let mut params = Vec::with_capacity(self.params.len());
        for p in &self.params {
            params.push((
                p.name.clone(),
                p.axis
                    .expand()
                    .map_err(|m| format!("params.{}: {m}", p.name))?,
            ));
        }
        let out = Out {
            name: &self.name,
            strategy: &self.strategy,
            constraints: &self.constraints,
            zip: &self.zip,
            sample: self.sample,
            data: self.data.as_ref(),
            backtest: match self.command {
                None => Backtest::All(&self.backtest),
                Some(_) => Backtest::Command {
                    split: self.backtest.split,
                    keep_returns: self.backtest.keep_returns,
                    pbo_blocks: (self.backtest.pbo_blocks != backtest::stats::cscv::DEFAULT_BLOCKS)
                        .then_some(self.backtest.pbo_blocks),
                },
            },
            rules: self.rules.as_ref().map(RulesSpec::normalised),
            command: self.command.as_ref().map(CommandSpec::normalised),
            walk_forward: self.walk_forward.as_ref(),
            params: OrderedParams(params),
            slurm: Some(&self.slurm),
        };
        toml::to_string(&out).map_err(|e| e.to_string())
    }

    /// Like [`Spec::to_toml`] but without `[slurm]`: the part of the spec that decides the
    /// results, which the plan hash covers.
    pub fn to_toml_without_slurm(&self) -> Result<String, String> {
        let mut copy = self.clone();
        copy.slurm = SlurmConfig::default();
        let text = copy.to_toml()?;
        // Drop the (default) `[slurm]` table and anything after it.
        Ok(match text.find("\n[slurm]") {
            Some(at) => text[..at + 1].to_string(),
            None => text,
        })
    }
}

/// `dir` made absolute: relative to `base`, then to the current directory; canonical when
/// it exists.
pub(crate) fn absolute_from(base: &Path, mut dir: PathBuf) -> PathBuf {
    if dir.is_relative() {
        dir = base.join(dir);
    }
    if dir.is_relative() {
        if let Ok(cwd) = std::env::current_dir() {
            dir = cwd.join(dir);
        }
    }
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// `[backtest]` as planned: every setting, or for a command sweep the two it takes.
#[derive(Serialize)]
#[serde(untagged)]
enum Backtest<'a> {
    All(&'a BacktestConfig),
    Command {
        #[serde(skip_serializing_if = "Option::is_none")]
        split: Option<chrono::NaiveDate>,
        keep_returns: backtest::KeepReturns,
        #[serde(skip_serializing_if = "Option::is_none")]
        pbo_blocks: Option<usize>,
    },
}

/// Parameters serialised as an ordered TOML table of lists.
struct OrderedParams(Vec<(String, Vec<ParamValue>)>);

impl Serialize for OrderedParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Reads `[walk_forward]`; on error, the key at fault (if any) and what was expected.
fn read_walk_forward(v: &toml::Value) -> Result<WalkForwardConfig, (Option<&'static str>, String)> {
    const KEYS: [&str; 5] = ["train", "test", "step", "mode", "gap"];
    let Some(table) = v.as_table() else {
        return Err((
            None,
            format!(
                "expected a table (`[walk_forward]` with `train`, `test`), got {}",
                v.type_str()
            ),
        ));
    };
    if let Some(k) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        let hint = backtest::params::closest(k, &KEYS)
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        return Err((
            None,
            format!(
                "unknown key `{k}`{hint}: expected one of {}",
                KEYS.join(", ")
            ),
        ));
    }
    let length = |key: &'static str| -> Result<Option<Length>, (Option<&'static str>, String)> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => s.parse().map(Some).map_err(|m| (Some(key), m)),
            Some(other) => Err((
                Some(key),
                format!(
                    "expected a length string like \"3y\", \"18m\" or \"250d\", got {} `{other}`",
                    other.type_str()
                ),
            )),
        }
    };
    let required = |key: &'static str| {
        length(key)?.ok_or((
            Some(key),
            format!("expected `{key}` = a length like \"3y\", \"18m\" or \"250d\"; it is missing"),
        ))
    };
    let mode = match table.get("mode") {
        None => Mode::Rolling,
        Some(toml::Value::String(s)) if s == "rolling" => Mode::Rolling,
        Some(toml::Value::String(s)) if s == "anchored" => Mode::Anchored,
        Some(other) => {
            return Err((
                Some("mode"),
                format!("expected \"rolling\" or \"anchored\", got `{other}`"),
            ))
        }
    };
    let config = WalkForwardConfig {
        train: required("train")?,
        test: required("test")?,
        step: length("step")?,
        mode,
        gap: length("gap")?,
    };
    config
        .check()
        .map_err(|e| (KEYS.iter().copied().find(|k| *k == e.field), e.message))?;
    Ok(config)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "`{name}` cannot name a sweep directory: use letters, digits, `-`, `_` and `.`"
        ));
    }
    Ok(())
}

fn scalar_from_toml(v: &toml::Value) -> Result<ParamValue, String> {
    Ok(match v {
        toml::Value::Integer(i) => ParamValue::Int(*i),
        toml::Value::Float(f) => ParamValue::Float(*f),
        toml::Value::Boolean(b) => ParamValue::Bool(*b),
        toml::Value::String(s) => ParamValue::Str(s.clone()),
        other => {
            return Err(format!(
                "values must be numbers, strings or booleans, got a {}",
                other.type_str()
            ))
        }
    })
}

/// Reads one `[params]` entry.
fn axis_from_toml(v: &toml::Value) -> Result<AxisDef, String> {
    match v {
        toml::Value::Array(items) => {
            let values = items
                .iter()
                .map(scalar_from_toml)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(AxisDef::Values(values))
        }
        toml::Value::Table(t) => {
            for key in t.keys() {
                if !["from", "to", "step", "num", "log"].contains(&key.as_str()) {
                    return Err(format!(
                        "unknown range key `{key}`; a range is {{ from, to, step }} or {{ from, to, num [, log = true] }}"
                    ));
                }
            }
            let get = |k: &str| -> Result<ParamValue, String> {
                let v = t.get(k).ok_or_else(|| format!("range needs `{k}`"))?;
                let p = scalar_from_toml(v)?;
                if p.as_f64().is_none() {
                    return Err(format!(
                        "`{k}` must be a number, got {} `{p}`",
                        p.type_name()
                    ));
                }
                Ok(p)
            };
            let log = match t.get("log") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(other) => return Err(format!("`log` must be true or false, got {other}")),
            };
            match (t.contains_key("step"), t.contains_key("num")) {
                (true, true) => Err("give either `step` or `num`, not both".into()),
                (false, false) => Err("range needs `step` (or `num`)".into()),
                (true, false) if log => Err("a log range takes `num`, not `step`".into()),
                (true, false) => Ok(AxisDef::Range {
                    from: get("from")?,
                    to: get("to")?,
                    step: get("step")?,
                }),
                (false, true) => {
                    let num = match get("num")? {
                        ParamValue::Int(n) if n >= 1 => n as u64,
                        other => {
                            return Err(format!(
                                "`num` must be an integer of at least 1, got `{other}`"
                            ))
                        }
                    };
                    Ok(AxisDef::Spaced {
                        from: get("from")?,
                        to: get("to")?,
                        num,
                        log,
                    })
                }
            }
        }
        scalar => Ok(AxisDef::Values(vec![scalar_from_toml(scalar)?])),
    }
}

/// Expands `$VAR`, `${VAR}` and `${VAR:-default}` with `lookup`; `$$` is a literal `$`.
/// An unset variable without a default is an error naming it.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let close = body
                .find('}')
                .ok_or_else(|| format!("`${{` without a closing `}}` in `{text}`"))?;
            let inner = &body[..close];
            let (var, default) = match inner.split_once(":-") {
                Some((v, d)) => (v, Some(d)),
                None => (inner, None),
            };
            match (lookup(var).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(format!("environment variable `{var}` is not set")),
            }
            rest = &body[close + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if end == 0 {
                out.push('$');
            } else {
                let var = &after[..end];
                let v = lookup(var)
                    .ok_or_else(|| format!("environment variable `{var}` is not set"))?;
                out.push_str(&v);
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Which container runtime wraps the task's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerRuntime {
    Apptainer,
    Docker,
    /// Podman (daemonless; the same `run` flags as docker).
    Podman,
}

/// `[slurm.container]`: run the worker inside an image, with the shared filesystem bound.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    pub runtime: ContainerRuntime,
    /// Image reference (docker, podman) or `.sif` path (apptainer).
    pub image: String,
    /// Extra arguments for `apptainer exec` / `docker run` / `podman run`.
    #[serde(default)]
    pub args: Vec<String>,
}

/// `[slurm]`: how the job array is submitted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmConfig {
    /// `--job-name`; defaults to the sweep name.
    pub job_name: Option<String>,
    pub partition: Option<String>,
    /// `--time`, e.g. `"00:10:00"`.
    pub time: Option<String>,
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. `"1G"`.
    pub mem: Option<String>,
    pub nodes: Option<u32>,
    pub account: Option<String>,
    pub qos: Option<String>,
    pub constraint: Option<String>,
    /// `%N` of `--array`: at most N tasks at once.
    pub throttle: Option<u32>,
    /// Combinations per array task; if unset, derived from `target_task_seconds`.
    pub combos_per_task: Option<u64>,
    /// Wanted wall time of one task, used to choose `combos_per_task`.
    pub target_task_seconds: Option<f64>,
    /// Overrides the cluster's MaxArraySize (else read from `scontrol show config`, else 1001).
    pub max_array_size: Option<u64>,
    /// Extra `#SBATCH` directives, e.g. `["--exclusive"]`.
    pub extra: Vec<String>,
    /// Shell lines run before the worker (module loads and the like).
    pub setup: Vec<String>,
    pub container: Option<ContainerConfig>,
    /// Explicit path of the `bt-worker` binary on the nodes; else `bin/<arch>/bt-worker` on
    /// the shared filesystem, else `bt-worker` on PATH.
    pub worker: Option<PathBuf>,
}

/// A `[slurm]` value that cannot work: the key and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SlurmError {
    /// The key, e.g. `throttle`, `container.image`, `extra`.
    pub key: &'static str,
    pub message: String,
}

impl SlurmError {
    /// The key under `[slurm]` (for a nested key, its first part).
    pub fn key(&self) -> &'static str {
        self.key.split('.').next().unwrap_or(self.key)
    }
}

/// Whether `time` is a SLURM time limit: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`,
/// `UNLIMITED` or `INFINITE`.
pub fn is_slurm_time(time: &str) -> bool {
    if matches!(time, "UNLIMITED" | "INFINITE" | "unlimited" | "infinite") {
        return true;
    }
    let numbers = |t: &str, max_parts: usize| {
        let parts: Vec<&str> = t.split(':').collect();
        parts.len() <= max_parts
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    match time.split_once('-') {
        Some((days, rest)) => {
            !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) && numbers(rest, 3)
        }
        None => numbers(time, 3),
    }
}

/// Whether `mem` is a SLURM memory size: digits with an optional unit K, M, G or T.
pub fn is_slurm_mem(mem: &str) -> bool {
    let digits = mem.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    !digits.is_empty()
        && mem.len() - digits.len() <= 1
        && digits.bytes().all(|b| b.is_ascii_digit())
}

impl SlurmConfig {
    /// Checks every value before anything is planned or rendered: counts that must be
    /// positive, SLURM's time and memory formats, and text that goes into a batch script
    /// (no control characters; `extra` directives start with `-`).
    pub fn validate(&self) -> Result<(), SlurmError> {
        let fail = |key: &'static str, message: String| Err(SlurmError { key, message });
        let positive: [(&'static str, Option<u64>); 5] = [
            ("throttle", self.throttle.map(u64::from)),
            ("combos_per_task", self.combos_per_task),
            ("max_array_size", self.max_array_size),
            ("cpus_per_task", self.cpus_per_task.map(u64::from)),
            ("nodes", self.nodes.map(u64::from)),
        ];
        for (key, value) in positive {
            if value == Some(0) {
                return fail(
                    key,
                    format!("`{key}` = 0: expected a whole number of at least 1"),
                );
            }
        }
        if let Some(t) = self.target_task_seconds {
            if !(t.is_finite() && t > 0.0) {
                return fail(
                    "target_task_seconds",
                    format!("`target_task_seconds` = {t}: expected a number of seconds above 0"),
                );
            }
        }
        if let Some(time) = &self.time {
            if !is_slurm_time(time) {
                return fail(
                    "time",
                    format!(
                        "`time` = {time:?}: expected a SLURM time limit such as \"30\", \"00:10:00\", \"2-00:00:00\" or \"UNLIMITED\""
                    ),
                );
            }
        }
        if let Some(mem) = &self.mem {
            if !is_slurm_mem(mem) {
                return fail(
                    "mem",
                    format!("`mem` = {mem:?}: expected a size such as \"500M\" or \"4G\""),
                );
            }
        }
        let text: [(&'static str, Option<&str>); 7] = [
            ("job_name", self.job_name.as_deref()),
            ("partition", self.partition.as_deref()),
            ("time", self.time.as_deref()),
            ("mem", self.mem.as_deref()),
            ("account", self.account.as_deref()),
            ("qos", self.qos.as_deref()),
            ("constraint", self.constraint.as_deref()),
        ];
        let lines = self
            .extra
            .iter()
            .map(|v| ("extra", v.as_str()))
            .chain(self.setup.iter().map(|v| ("setup", v.as_str())));
        let worker = self
            .worker
            .as_ref()
            .map(|w| w.to_string_lossy().into_owned());
        let container = self.container.iter().flat_map(|c| {
            std::iter::once(("container.image", c.image.as_str()))
                .chain(c.args.iter().map(|a| ("container.args", a.as_str())))
        });
        for (key, value) in text
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .chain(lines)
            .chain(worker.as_deref().map(|w| ("worker", w)))
            .chain(container)
        {
            if let Some((at, _)) = value.char_indices().find(|(_, c)| c.is_control()) {
                return fail(
                    key,
                    format!(
                        "`{key}` = {value:?} has a control character (newline, tab, ...) at byte {at}; it cannot go into a batch script"
                    ),
                );
            }
        }
        if let Some(d) = self.extra.iter().find(|d| !d.starts_with('-')) {
            return fail(
                "extra",
                format!("`extra` directive {d:?} must start with `-` (e.g. `--exclusive`)"),
            );
        }
        if self.container.as_ref().is_some_and(|c| c.image.is_empty()) {
            return fail("container.image", "`container.image` is empty".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "ma"
strategy = "ma_cross"
constraints = ["fast < slow"]

[data]
dir = "data"
symbols = ["SPY"]

[backtest]
commission_bps = 5.0

[params]
slow = { from = 50, to = 200, step = 50 }
fast = [5, 10]
w = { from = 0.1, to = 0.3, step = 0.1 }
lam = { from = 0.001, to = 1, num = 4, log = true }
kind = "ema"

[slurm]
time = "00:05:00"
"#;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("sweeps/x.toml"))
    }

    #[test]
    fn walk_forward_is_read_and_round_trips() {
        let text = format!(
            "{GOOD}\n[walk_forward]\ntrain = \"3y\"\ntest = \"6m\"\nmode = \"anchored\"\ngap = \"5d\"\n"
        );
        let s = parse(&text).expect("valid");
        let wf = s.walk_forward.expect("walk_forward");
        assert_eq!(
            (wf.train, wf.test, wf.step(), wf.mode, wf.gap()),
            (
                Length::Years(3),
                Length::Months(6),
                Length::Months(6),
                Mode::Anchored,
                Length::Days(5)
            )
        );
        let again = parse(&s.to_toml().expect("toml")).expect("reads back");
        assert_eq!(again.walk_forward, s.walk_forward);
        assert!(parse(GOOD).expect("valid").walk_forward.is_none());
    }

    #[test]
    fn walk_forward_errors_name_file_field_and_expectation() {
        let err = |wf: &str| {
            parse(&format!("{GOOD}\n[walk_forward]\n{wf}\n"))
                .expect_err(wf)
                .to_string()
        };
        let e = err("train = \"3x\"\ntest = \"1y\"");
        assert!(e.starts_with("sweeps/x.toml:"), "{e}");
        assert!(
            e.contains("`walk_forward.train`: expected a length like \"3y\""),
            "{e}"
        );
        let e = err("test = \"1y\"");
        assert!(
            e.contains("`walk_forward.train`: expected `train` = a length"),
            "{e}"
        );
        let e = err("train = 3\ntest = \"1y\"");
        assert!(
            e.contains("`walk_forward.train`: expected a length string"),
            "{e}"
        );
        let e = err("train = \"3y\"\ntest = \"1y\"\nmode = \"expanding\"");
        assert!(
            e.contains("`walk_forward.mode`: expected \"rolling\" or \"anchored\""),
            "{e}"
        );
        let e = err("train = \"3y\"\ntest = \"1y\"\nsetp = \"1y\"");
        assert!(
            e.contains("unknown key `setp` (did you mean `step`?)"),
            "{e}"
        );
        let e = err("train = \"3y\"\ntest = \"0d\"");
        assert!(
            e.contains("`walk_forward.test`: expected a positive length"),
            "{e}"
        );
        let with_split = GOOD.replace("commission_bps = 5.0", "split = 2010-01-01");
        let e = parse(&format!(
            "{with_split}\n[walk_forward]\ntrain = \"3y\"\ntest = \"1y\"\n"
        ))
        .expect_err("split")
        .to_string();
        assert!(
            e.contains("`walk_forward`: expected either [walk_forward] or `backtest.split`"),
            "{e}"
        );
    }

    #[test]
    fn parses_in_file_order_with_all_axis_forms() {
        let s = parse(GOOD).expect("valid");
        let names: Vec<_> = s.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["slow", "fast", "w", "lam", "kind"]);
        let vals = |k: usize| s.params[k].axis.expand().expect("expand");
        let i = |v: &[i64]| v.iter().map(|&x| ParamValue::Int(x)).collect::<Vec<_>>();
        let f = |v: &[f64]| v.iter().map(|&x| ParamValue::Float(x)).collect::<Vec<_>>();
        assert_eq!(vals(0), i(&[50, 100, 150, 200]));
        assert_eq!(vals(2), f(&[0.1, 0.2, 0.3]));
        assert_eq!(vals(3), f(&[0.001, 0.01, 0.1, 1.0]));
        assert_eq!(vals(4), vec![ParamValue::Str("ema".into())]);
        assert_eq!(s.params[0].line, Some(14));
        assert_eq!(s.lines.constraints, vec![Some(4)]);
        assert_eq!(s.backtest.commission_bps, 5.0);
        assert_eq!(s.slurm.time.as_deref(), Some("00:05:00"));
    }

    #[test]
    fn normalised_toml_round_trips() {
        let s = parse(GOOD).expect("valid");
        let text = s.to_toml().expect("toml");
        let back = parse(&text).expect("re-read");
        for (a, b) in s.params.iter().zip(&back.params) {
            assert_eq!(a.name, b.name);
            assert_eq!(a.axis.expand(), b.axis.expand());
        }
        assert_eq!(back.constraints, s.constraints);
        assert_eq!(back.slurm, s.slurm);
        assert_eq!(back.backtest, s.backtest);
        let without = s.to_toml_without_slurm().expect("toml");
        assert!(
            !without.contains("[slurm]") && without.contains("[params]"),
            "{without}"
        );
    }

    #[test]
    fn toml_errors_name_file_and_line() {
        let err = parse("name = \"x\"\nstrategy = \n").expect_err("syntax");
        let msg = err.to_string();
        assert!(msg.starts_with("sweeps/x.toml: "), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");

        let bad_field = GOOD.replace("commission_bps", "comission_bps");
        let msg = parse(&bad_field).expect_err("unknown field").to_string();
        assert!(
            msg.starts_with("sweeps/x.toml:11: `backtest`: unknown field `comission_bps`"),
            "{msg}"
        );
    }

    #[test]
    fn backtest_accepts_toml_dates_and_names_bad_keys() {
        let s = parse(&GOOD.replace(
            "commission_bps = 5.0",
            "start = 2015-01-02\nend = \"2019-12-31\"",
        ))
        .expect("dates");
        assert_eq!(
            s.backtest.start,
            chrono::NaiveDate::from_ymd_opt(2015, 1, 2)
        );
        assert_eq!(
            s.backtest.end,
            chrono::NaiveDate::from_ymd_opt(2019, 12, 31)
        );
        let msg = parse(&GOOD.replace(
            "commission_bps = 5.0",
            "start = 2015-01-02\nrebalance = \"hourly\"",
        ))
        .expect_err("bad variant")
        .to_string();
        assert!(
            msg.starts_with("sweeps/x.toml:12: `backtest`") && msg.contains("hourly"),
            "{msg}"
        );
    }

    #[test]
    fn bad_axes_name_the_parameter_and_line() {
        let bad = GOOD.replace("step = 50 }", "step = 50, num = 3 }");
        let msg = parse(&bad).expect_err("step and num").to_string();
        assert!(msg.starts_with("sweeps/x.toml:14: `params.slow`"), "{msg}");
        let bad = GOOD.replace("fast = [5, 10]", "fast = [5, [10]]");
        let msg = parse(&bad).expect_err("nested list").to_string();
        assert!(msg.contains("sweeps/x.toml:15: `params.fast`"), "{msg}");
        let bad = GOOD.replace("name = \"ma\"", "name = \"a/b\"");
        let msg = parse(&bad).expect_err("bad name").to_string();
        assert!(msg.contains("sweeps/x.toml:2: `name`"), "{msg}");
    }

    #[test]
    fn a_container_table_alone_is_read() {
        let text = GOOD.replace(
            "[slurm]\ntime = \"00:05:00\"",
            "[slurm.container]\nruntime = \"podman\"\nimage = \"x\"",
        );
        let s = parse(&text).expect("[slurm.container] without [slurm]");
        let c = s.slurm.container.expect("container");
        assert_eq!(
            (c.runtime, c.image.as_str()),
            (ContainerRuntime::Podman, "x")
        );
        let bad = text.replace("image = \"x\"", "image = \"\"");
        let msg = parse(&bad).expect_err("empty image").to_string();
        assert!(msg.contains("`slurm.container`"), "{msg}");
    }

    #[test]
    fn slurm_values_are_checked_with_their_line() {
        for (bad, key) in [
            ("throttle = 0", "slurm.throttle"),
            ("combos_per_task = 0", "slurm.combos_per_task"),
            ("time = \"ten minutes\"", "slurm.time"),
            ("mem = \"4 GB\"", "slurm.mem"),
            ("target_task_seconds = -1.0", "slurm.target_task_seconds"),
            ("extra = [\"exclusive\"]", "slurm.extra"),
            ("partition = \"a\\nb\"", "slurm.partition"),
        ] {
            let text = GOOD.replace("time = \"00:05:00\"", bad);
            let msg = parse(&text).expect_err(bad).to_string();
            let want = format!("sweeps/x.toml:21: `{key}`: ");
            assert!(msg.starts_with(&want), "{bad}: {msg}");
        }
        for ok in ["30", "10:00", "00:10:00", "2-00", "2-00:00:00", "UNLIMITED"] {
            assert!(is_slurm_time(ok), "{ok}");
        }
        for bad in ["", "1:2:3:4", "x", "-1", "1-", "10:"] {
            assert!(!is_slurm_time(bad), "{bad}");
        }
        assert!(is_slurm_mem("4G") && is_slurm_mem("500") && !is_slurm_mem("G"));
    }

    #[test]
    fn overrides_replace_in_place_or_append() {
        let mut s = parse(GOOD).expect("valid");
        s.apply_overrides(&[
            crate::overrides::parse_override("fast=1,2,3").expect("o"),
            crate::overrides::parse_override("extra=7").expect("o"),
        ]);
        let names: Vec<_> = s.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["slow", "fast", "w", "lam", "kind", "extra"]);
        assert_eq!(s.params[1].axis.expand().expect("v").len(), 3);
    }

    #[test]
    fn env_expansion() {
        let env = |v: &str| match v {
            "D" => Some("/data".to_string()),
            _ => None,
        };
        assert_eq!(expand_env("$D/x", env), Ok("/data/x".into()));
        assert_eq!(expand_env("${D}x", env), Ok("/datax".into()));
        assert_eq!(expand_env("${NOPE:-../d}/q", env), Ok("../d/q".into()));
        assert_eq!(expand_env("${D:-../d}/q", env), Ok("/data/q".into()));
        assert_eq!(expand_env("a$$b", env), Ok("a$b".into()));
        assert!(expand_env("$NOPE/x", env)
            .expect_err("unset")
            .contains("NOPE"));
        assert!(expand_env("${D", env).is_err());
    }

    #[test]
    fn data_dir_resolves_relative_to_the_spec() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("data")).expect("mkdir");
        let path = dir.path().join("s.toml");
        std::fs::write(&path, GOOD).expect("write");
        let s = Spec::load(&path).expect("load");
        let want = std::fs::canonicalize(dir.path().join("data")).expect("canon");
        assert_eq!(s.data.expect("data").dir, want);
    }
}
