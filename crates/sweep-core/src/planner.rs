//! Planning a sweep: validate the spec against the strategy's declared parameters (a
//! built-in's, or for `strategy = "rules"` those of `[rules.params]`, after the rules
//! compile: a [`RuleError`] names the rule's line and shows a caret), expand
//! the grid (streaming, so 10^6 combinations stay cheap), filter by constraints, sample,
//! hash spec and data, chunk into array tasks, and write the sweep directory
//! `<sharedfs>/sweeps/<name>-<hash8>/` (spec.toml, plan.json, manifest.jsonl, logs/,
//! results/).
//!
//! * **Identity.** The plan hash is the sha256 of the normalised spec *without* `[slurm]`
//!   (so raising `time` or `mem` and planning again keeps the same directory and its
//!   results) and of the data files' sha256s. Planning the same spec twice gives the same
//!   directory; `results/` is never touched; an existing manifest is kept; plan.json keeps
//!   its `created` time and, when results already exist, its chunking.
//! * **Chunking.** Combinations per task come from `[slurm] combos_per_task` (or
//!   [`PlanOptions::combos_per_task`]), else from `target_task_seconds` (default
//!   [`DEFAULT_TARGET_TASK_SECONDS`]) at an assumed [`ASSUMED_COMBO_SECONDS`] (50 µs) per
//!   backtest (a walk-forward combination is 1 + 2 × windows backtests;
//!   [`ASSUMED_COMMAND_SECONDS`], 10 s, per run of a command sweep's program, with a note
//!   saying so), at most [`MAX_DERIVED_COMBOS_PER_TASK`] (10,000). It is raised when
//!   needed so the tasks fit in [`MAX_ARRAYS`] arrays of MaxArraySize. MaxArraySize: [`PlanOptions::max_array_size`], else `[slurm]
//!   max_array_size`, else [`PlanOptions::cluster_max_array_size`] (what `scontrol show
//!   config` says), else 1001.
//! * **Sampling.** `[sample] n, seed` draws `n` distinct combinations of the filtered grid
//!   with ChaCha8 seeded by `seed` (same seed and grid, same draw), kept in grid order and
//!   renumbered 0..n.
//! * **Shared filesystem.** [`default_sharedfs`]: `$SLURM_SWEEP_SHAREDFS`, else
//!   `./sharedfs`.

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use rand::SeedableRng;

use backtest::registry;
use backtest::strategy::StrategyInfo;
use backtest::{
    DataError, MarketData, ParamError, ParamValue, Params, RuleError, Rules, StrategyRef,
};

use crate::atomic::{write_atomic, write_atomic_with};
use crate::command::{CommandSpec, COMMAND_STRATEGY};
use crate::constraint::{Dialect, Scalar, Span, Value};
use crate::grid::{Axis, Grid};
use crate::interrupt::Interrupt;
use crate::layout::{ResultsListing, SharedFs, SweepDir};
use crate::manifest::{ManifestEntry, ManifestIndex};
use crate::overrides::{parse_override, OverrideError};
use crate::plan::{
    split_arrays, task_count, DataFileHash, InputFileHash, Plan, WalkForwardPlan,
    DEFAULT_MAX_ARRAY_SIZE, PLAN_SCHEMA,
};
use crate::spec::{located, Spec, SpecError, RULES_STRATEGY};
use backtest::walk_forward::LaidWindow;

/// Assumed cost of one combination when choosing combinations per task from a target time.
pub const ASSUMED_COMBO_SECONDS: f64 = 50e-6;
/// The same for a command sweep: its program's time is unknown; a backtest in Python
/// takes seconds to minutes.
pub const ASSUMED_COMMAND_SECONDS: f64 = 10.0;
/// Target wall time of one task when the spec sets neither `combos_per_task` nor
/// `target_task_seconds`.
pub const DEFAULT_TARGET_TASK_SECONDS: f64 = 60.0;
/// Upper bound on combinations per task when it is derived from a target time (not set
/// explicitly): keeps result files (about 0.5 kB per run) and worker memory small.
pub const MAX_DERIVED_COMBOS_PER_TASK: u64 = 10_000;
/// Largest grid (combinations before constraints and sampling) planned without
/// `--max-combos`: about 4 GB of manifest at the most.
pub const DEFAULT_MAX_COMBOS: u64 = 50_000_000;
/// At most this many arrays of MaxArraySize tasks; chunks grow to stay within it.
pub const MAX_ARRAYS: u64 = 10;

/// Where a planning error is: the spec file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At {
    pub path: PathBuf,
    pub line: Option<usize>,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&located(&self.path, self.line))
    }
}

/// Why a sweep cannot be planned. Every spec problem names the file, line and field.
/// The underlying errors are part of each message (fields named `error`, not `source`, so
/// that an error chain does not print them twice).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Override(#[from] OverrideError),
    #[error("{at}: `strategy`: unknown strategy `{name}`{suggestion}; valid strategies: {valid}")]
    UnknownStrategy {
        at: At,
        name: String,
        suggestion: String,
        valid: String,
    },
    #[error("{at}: `params.{param}`: {error}")]
    Param {
        at: At,
        param: String,
        error: Box<ParamError>,
    },
    /// A rule that does not compile; `at` is the rule's line. Shown with the rule's text
    /// and a caret line under the part at fault, indented.
    #[error("{at}: {}", show_rule_error(.error))]
    Rule { at: At, error: Box<RuleError> },
    /// A combination for which a rule cannot run (a window that is not a positive whole
    /// number); `at` is the rule's line.
    #[error("{at}: combination {index} ({params}) cannot run: {}", show_rule_error(.error))]
    RuleCombo {
        at: At,
        index: u64,
        params: String,
        error: Box<RuleError>,
    },
    #[error("{at}: `params.{param}` has no values, so the grid is empty")]
    EmptyGrid { at: At, param: String },
    #[error("{at}: `zip`: {message}")]
    Zip { at: At, message: String },
    /// The message, then the constraint with a caret line under the part at fault.
    #[error("{at}: constraint `{constraint}`: {message}\n{}", expr::caret(.constraint, *.span))]
    Constraint {
        at: At,
        constraint: String,
        message: String,
        span: Span,
    },
    #[error("{at}: `constraints` remove every one of the {grid} combinations: {detail}")]
    NothingLeft { at: At, grid: u64, detail: String },
    #[error("{at}: combination {index} ({params}) is rejected by strategy `{strategy}`: {error}; exclude it with a constraint")]
    Combo {
        at: At,
        index: u64,
        params: String,
        strategy: String,
        error: Box<ParamError>,
    },
    #[error("{at}: combination {index} ({params}) cannot run on this data: {error}; exclude it with a constraint, or change the grid or [backtest]")]
    Preflight {
        at: At,
        index: u64,
        params: String,
        error: Box<backtest::BacktestError>,
    },
    #[error("{at}: `data.symbols`: no data for `{symbol}`: {} does not exist", .file.display())]
    MissingData {
        at: At,
        symbol: String,
        file: PathBuf,
    },
    #[error("{at}: `data`: {error}")]
    Data { at: At, error: Box<DataError> },
    #[error("{at}: `params`: the grid has more than 2^64 combinations")]
    TooLarge { at: At },
    #[error("{at}: `params`: the grid has {count} combinations (manifest about {manifest}), more than the limit of {limit}; narrow the grid, add `[sample] n = ...` to draw a subset, or raise the limit with `--max-combos {count}`")]
    TooMany {
        at: At,
        count: u64,
        limit: u64,
        manifest: String,
    },
    #[error("{at}: `params`: No space left on device for the manifest: it needs about {needed}, and {} has {free} free; free space or narrow the grid", .dir.display())]
    NoSpace {
        at: At,
        dir: PathBuf,
        needed: String,
        free: String,
    },
    #[error("planning stopped by {signal}; nothing was written")]
    Interrupted { signal: &'static str, status: u8 },
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadPlan { path: PathBuf, message: String },
}

/// A [`RuleError`] as planning shows it: `rule `position`: <message>`, then the rule's text
/// and the caret line, indented by four spaces (`[rules]: <message>` for the table).
pub fn show_rule_error(e: &RuleError) -> String {
    if e.text.is_empty() {
        return e.to_string();
    }
    let mut out = format!("rule `{}`: {}", e.rule, e.message);
    for line in e.caret().lines() {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PlanError + '_ {
    move |error| PlanError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// What `plan_sweep` needs besides the spec file.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The shared filesystem root; `None`: [`default_sharedfs`].
    pub sharedfs: Option<PathBuf>,
    /// `-p name=values` overrides, as typed (see [`crate::overrides`]).
    pub overrides: Vec<String>,
    /// Explicit MaxArraySize (a command-line flag); wins over the spec.
    pub max_array_size: Option<u64>,
    /// The cluster's MaxArraySize (from `scontrol show config`), used when neither the
    /// flag nor the spec sets one.
    pub cluster_max_array_size: Option<u64>,
    /// Explicit combinations per task; wins over the spec.
    pub combos_per_task: Option<u64>,
    /// Load the data once while planning, so a bad row fails now rather than in every task.
    pub check_data: bool,
    /// Largest grid to plan (combinations before constraints); `None`:
    /// [`DEFAULT_MAX_COMBOS`].
    pub max_combos: Option<u64>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            sharedfs: None,
            overrides: Vec::new(),
            max_array_size: None,
            cluster_max_array_size: None,
            combos_per_task: None,
            check_data: true,
            max_combos: None,
        }
    }
}

/// `$SLURM_SWEEP_SHAREDFS` if set and not empty, else `./sharedfs`.
pub fn default_sharedfs() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_SHAREDFS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("sharedfs"))
}

/// The result of planning.
#[derive(Clone, Debug)]
pub struct PlannedSweep {
    pub dir: SweepDir,
    pub plan: Plan,
    /// The spec as planned (overrides applied, parameters normalised, data.dir absolute).
    pub spec: Spec,
    pub summary: PlanSummary,
}

/// What to print after planning.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanSummary {
    pub name: String,
    pub hash8: String,
    /// Combinations in the manifest.
    pub combos: u64,
    /// Combinations of the full grid, before constraints and sampling.
    pub grid_combos: u64,
    pub tasks: u64,
    pub combos_per_task: u64,
    /// `(first task, --array spec)` per array, e.g. `(0, "0-999%8")`.
    pub arrays: Vec<(u64, String)>,
    pub dir: PathBuf,
    pub manifest: PathBuf,
    pub plan: PathBuf,
    /// The directory existed with the same hash (results kept).
    pub reused: bool,
    /// Result files already present.
    pub existing_results: usize,
    /// The walk-forward settings and windows, when the spec has `[walk_forward]`.
    pub walk_forward: Option<WalkForwardPlan>,
    /// The windows with their day counts (empty without `[walk_forward]`).
    pub windows: Vec<LaidWindow>,
    pub notes: Vec<String>,
}

impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sweep {}-{}: {} combinations",
            self.name, self.hash8, self.combos
        )?;
        if self.grid_combos != self.combos {
            write!(f, " (of a grid of {})", self.grid_combos)?;
        }
        writeln!(
            f,
            " in {} task{} of up to {} combination{}",
            self.tasks,
            if self.tasks == 1 { "" } else { "s" },
            self.combos_per_task,
            if self.combos_per_task == 1 { "" } else { "s" }
        )?;
        for (offset, spec) in &self.arrays {
            writeln!(
                f,
                "  array:    --array={spec}  (SWEEP_TASK_OFFSET={offset})"
            )?;
        }
        writeln!(f, "  dir:      {}", self.dir.display())?;
        writeln!(f, "  manifest: {}", self.manifest.display())?;
        write!(f, "  plan:     {}", self.plan.display())?;
        if self.reused {
            write!(
                f,
                "\n  planned before with the same hash: kept the manifest and {} result file{}",
                self.existing_results,
                if self.existing_results == 1 { "" } else { "s" }
            )?;
        }
        if let Some(wf) = &self.walk_forward {
            write!(
                f,
                "\n  walk-forward: {} windows, {}, train {}, test {}, step {}, gap {}",
                self.windows.len(),
                wf.mode.name(),
                wf.train,
                wf.test,
                wf.step,
                wf.gap
            )?;
            for (k, w) in self.windows.iter().enumerate() {
                write!(f, "\n    window {}: {w}", k + 1)?;
            }
        }
        for note in &self.notes {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

/// Where a constraint variable's value comes from.
#[derive(Clone, Debug)]
enum Slot {
    /// Member `m` of axis `a`.
    Axis(usize, usize),
    /// A parameter the grid does not vary (its default).
    Const(Value),
}

/// The strategy of a spec: a built-in, or the spec's rules compiled (parsed and
/// type-checked against `[rules.params]`) for its symbols, or a command (a program per
/// combination, run by the worker). Planning, the worker, `bt-worker run` and `collect`'s
/// equity curves all get it here, so a rule compiles the same way everywhere.
pub enum SpecStrategy {
    Builtin(&'static StrategyInfo),
    Rules(Box<Rules>),
    Command(Box<CommandSpec>),
}

impl fmt::Debug for SpecStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecStrategy::Builtin(info) => write!(f, "Builtin({})", info.name),
            SpecStrategy::Rules(r) => write!(f, "Rules({:?})", r.texts()),
            SpecStrategy::Command(c) => write!(f, "Command({:?})", c.argv),
        }
    }
}

impl SpecStrategy {
    /// The strategy `spec` names. An unknown name suggests the closest; rules that do not
    /// compile are a [`PlanError::Rule`] at the rule's line.
    pub fn of(spec: &Spec) -> Result<SpecStrategy, PlanError> {
        let at = |line| At {
            path: spec.path.clone(),
            line,
        };
        match (spec.rules.as_ref(), spec.command.as_ref()) {
            (Some(rules), _) if spec.strategy == RULES_STRATEGY => {
                let symbols = &spec.data()?.symbols;
                let compiled =
                    Rules::compile(&rules.def, rules.params.clone(), symbols).map_err(|error| {
                        PlanError::Rule {
                            at: at(rules.line_of(&error.rule)),
                            error: Box::new(error),
                        }
                    })?;
                Ok(SpecStrategy::Rules(Box::new(compiled)))
            }
            (_, Some(command)) if spec.strategy == COMMAND_STRATEGY => {
                Ok(SpecStrategy::Command(Box::new(command.clone())))
            }
            _ => Ok(SpecStrategy::Builtin(
                registry::find(&spec.strategy).ok_or_else(|| PlanError::UnknownStrategy {
                    at: at(spec.lines.strategy),
                    name: spec.strategy.clone(),
                    suggestion: registry::suggest(&spec.strategy)
                        .or_else(|| {
                            backtest::params::closest(
                                &spec.strategy,
                                &[RULES_STRATEGY, COMMAND_STRATEGY],
                            )
                        })
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default(),
                    valid: format!(
                        "{}, {RULES_STRATEGY}, {COMMAND_STRATEGY}",
                        registry::names()
                    ),
                })?,
            )),
        }
    }

    /// The strategy as the engine takes it; `None` for a command (the worker runs its
    /// program instead).
    pub fn engine(&self) -> Option<StrategyRef<'_>> {
        match self {
            SpecStrategy::Builtin(info) => Some(StrategyRef::Builtin(info)),
            SpecStrategy::Rules(rules) => Some(StrategyRef::Rules(rules)),
            SpecStrategy::Command(_) => None,
        }
    }

    /// `ma_cross`, `rules` or `command`.
    pub fn name(&self) -> &'static str {
        match self {
            SpecStrategy::Builtin(info) => info.name,
            SpecStrategy::Rules(_) => RULES_STRATEGY,
            SpecStrategy::Command(_) => COMMAND_STRATEGY,
        }
    }

    /// The parameters the strategy declares, for `symbols`.
    pub fn params(&self, symbols: &[String]) -> Vec<backtest::ParamSpec> {
        match self {
            SpecStrategy::Builtin(info) => info.params(symbols),
            SpecStrategy::Rules(rules) => rules.params().to_vec(),
            SpecStrategy::Command(command) => command.params.clone(),
        }
    }
}

/// A validated spec, ready to enumerate its combinations.
#[derive(Debug)]
pub struct SweepGrid {
    pub grid: Grid,
    strategy: SpecStrategy,
    /// Line of each rule (for errors of a combination), for rules.
    rule_lines: Vec<(String, Option<usize>)>,
    symbols: Vec<String>,
    /// Defaults of the declared parameters the grid does not vary.
    base: Params,
    constraints: Vec<(String, Option<usize>, Scalar)>,
    slots: Vec<Slot>,
    sample: Option<crate::spec::SampleConfig>,
    path: PathBuf,
    pub params_line: Option<usize>,
}

impl SweepGrid {
    /// Validates `spec` (strategy, parameter names, values, zip groups, constraints) and
    /// normalises its parameter values to the declared types in place.
    pub fn compile(spec: &mut Spec) -> Result<SweepGrid, PlanError> {
        let at = |line| At {
            path: spec.path.clone(),
            line,
        };
        let strategy = SpecStrategy::of(spec)?;
        let rule_lines = match &spec.rules {
            Some(rules) => crate::rules::RULE_KEYS
                .iter()
                .chain(&["rules"])
                .map(|k| (k.to_string(), rules.line_of(k)))
                .collect(),
            None => Vec::new(),
        };
        let strategy_name = strategy.name();
        let symbols: Vec<String> = spec
            .data
            .as_ref()
            .map(|d| d.symbols.clone())
            .unwrap_or_default();
        let declared = strategy.params(&symbols);
        let params_line = spec.params.iter().find_map(|p| p.line);

        // Each parameter: declared, non-empty, every value of the declared type and range.
        let mut values_of: Vec<Vec<ParamValue>> = Vec::with_capacity(spec.params.len());
        for p in &mut spec.params {
            let param_err = |source| PlanError::Param {
                at: at(p.line),
                param: p.name.clone(),
                error: Box::new(source),
            };
            let Some(decl) = declared.iter().find(|d| d.name == p.name) else {
                return Err(param_err(backtest::params::unknown(
                    strategy_name,
                    &declared,
                    &p.name,
                )));
            };
            let raw = p.axis.expand().map_err(|message| {
                PlanError::Spec(SpecError::Field {
                    path: spec.path.clone(),
                    line: p.line,
                    field: format!("params.{}", p.name),
                    message,
                })
            })?;
            if raw.is_empty() {
                return Err(PlanError::EmptyGrid {
                    at: at(p.line),
                    param: p.name.clone(),
                });
            }
            let checked = raw
                .iter()
                .map(|v| decl.check(v))
                .collect::<Result<Vec<_>, _>>()
                .map_err(param_err)?;
            p.axis = crate::spec::AxisDef::Values(checked.clone());
            values_of.push(checked);
        }

        // Zip groups.
        let zip_at = at(spec.lines.zip);
        let zip_err = |message: String| PlanError::Zip {
            at: zip_at.clone(),
            message,
        };
        let mut group_of: Vec<Option<usize>> = vec![None; spec.params.len()];
        for (g, group) in spec.zip.iter().enumerate() {
            if group.len() < 2 {
                return Err(zip_err(format!(
                    "group {:?} needs at least two parameters",
                    group
                )));
            }
            let mut len = None;
            for name in group {
                let k = spec.params.iter().position(|p| &p.name == name).ok_or_else(|| {
                    zip_err(format!(
                        "`{name}` is not in [params]; zipped parameters must be given as lists or ranges there"
                    ))
                })?;
                if group_of[k].is_some() {
                    return Err(zip_err(format!("`{name}` is in more than one group")));
                }
                group_of[k] = Some(g);
                let n = values_of[k].len();
                match len {
                    None => len = Some((name, n)),
                    Some((first, m)) if m != n => {
                        return Err(zip_err(format!(
                            "zipped parameters must have equally many values: `{first}` has {m}, `{name}` has {n}"
                        )))
                    }
                    _ => {}
                }
            }
        }

        // Axes in [params] order; a group sits at its first member.
        let mut axes: Vec<Axis> = Vec::new();
        let mut placed = vec![false; spec.zip.len()];
        for (k, p) in spec.params.iter().enumerate() {
            match group_of[k] {
                None => axes.push(Axis::single(&p.name, values_of[k].clone())),
                Some(g) if !placed[g] => {
                    placed[g] = true;
                    let members: Vec<usize> = spec.zip[g]
                        .iter()
                        .filter_map(|n| spec.params.iter().position(|q| &q.name == n))
                        .collect();
                    let n = values_of[members[0]].len();
                    axes.push(Axis {
                        names: spec.zip[g].clone(),
                        values: (0..n)
                            .map(|row| members.iter().map(|&m| values_of[m][row].clone()).collect())
                            .collect(),
                    });
                }
                Some(_) => {}
            }
        }
        let grid = Grid::new(axes);
        if grid.count().is_none() {
            return Err(PlanError::TooLarge {
                at: at(params_line),
            });
        }

        let base: Params = declared
            .iter()
            .filter(|d| !spec.params.iter().any(|p| p.name == d.name))
            .map(|d| (d.name.clone(), d.default.clone()))
            .collect();

        // Constraints: parse, bind names to grid members or defaults.
        let mut slots: Vec<Slot> = Vec::new();
        let mut slot_names: Vec<String> = Vec::new();
        let mut constraints = Vec::with_capacity(spec.constraints.len());
        for (n, text) in spec.constraints.iter().enumerate() {
            let line = spec.lines.constraints.get(n).copied().flatten();
            let mut slot_of = |var: &str| -> Result<usize, String> {
                if let Some(k) = slot_names.iter().position(|s| s == var) {
                    return Ok(k);
                }
                let slot = grid
                    .axes
                    .iter()
                    .enumerate()
                    .find_map(|(a, axis)| {
                        axis.names
                            .iter()
                            .position(|m| m == var)
                            .map(|m| Slot::Axis(a, m))
                    })
                    .or_else(|| base.get(var).map(|v| Slot::Const(Value::from_param(v))));
                let Some(slot) = slot else {
                    let mut valid: Vec<&str> =
                        spec.params.iter().map(|p| p.name.as_str()).collect();
                    valid.extend(base.keys().map(String::as_str));
                    let hint = expr::closest(var, &valid)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    return Err(format!(
                        "unknown parameter `{var}`{hint}; valid parameters: {}",
                        valid.join(", ")
                    ));
                };
                slot_names.push(var.to_string());
                slots.push(slot);
                Ok(slots.len() - 1)
            };
            let bound = Scalar::parse(
                text,
                Dialect::STRICT,
                "a constraint over parameters",
                &mut slot_of,
            )
            .map_err(|e| PlanError::Constraint {
                at: at(line),
                constraint: text.clone(),
                message: e.message,
                span: e.span,
            })?;
            constraints.push((text.clone(), line, bound));
        }

        Ok(SweepGrid {
            grid,
            strategy,
            rule_lines,
            symbols,
            base,
            constraints,
            slots,
            sample: spec.sample,
            path: spec.path.clone(),
            params_line,
        })
    }

    /// The strategy the combinations run: a built-in, the compiled rules, or a command.
    pub fn strategy(&self) -> &SpecStrategy {
        &self.strategy
    }

    /// The line of rule `rule` (for rules), else of `[params]`.
    fn rule_line(&self, rule: &str) -> Option<usize> {
        self.rule_lines
            .iter()
            .find(|(k, _)| k == rule)
            .and_then(|(_, l)| *l)
            .or(self.params_line)
    }

    /// Combinations of the full grid.
    pub fn grid_count(&self) -> u64 {
        self.grid.count().unwrap_or(u64::MAX)
    }

    fn value_of(&self, digits: &[usize], slot: usize) -> Value {
        match &self.slots[slot] {
            Slot::Axis(a, m) => Value::from_param(&self.grid.axes[*a].values[digits[*a]][*m]),
            Slot::Const(v) => v.clone(),
        }
    }

    /// Whether the combination at `digits` passes constraint `n`.
    fn passes_one(&self, n: usize, digits: &[usize]) -> Result<bool, PlanError> {
        let (text, line, expr) = &self.constraints[n];
        expr.test(&|s| self.value_of(digits, s))
            .map_err(|e| PlanError::Constraint {
                at: At {
                    path: self.path.clone(),
                    line: *line,
                },
                constraint: text.clone(),
                message: e.message,
                span: e.span,
            })
    }

    fn passes(&self, digits: &[usize]) -> Result<bool, PlanError> {
        for n in 0..self.constraints.len() {
            if !self.passes_one(n, digits)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The complete, checked parameter set of the combination at `digits`; `index` is only
    /// for the error message.
    pub fn params_at(&self, digits: &[usize], index: u64) -> Result<Params, PlanError> {
        let mut p = self.base.clone();
        for (name, value) in self.grid.assignments(digits) {
            p.insert(name.to_string(), value.clone());
        }
        // Values are already normalised; run the strategy's cross checks (for rules: every
        // window of this combination is a positive whole number).
        match &self.strategy {
            SpecStrategy::Builtin(info) => {
                (info.check_fn)(&self.symbols, &p).map_err(|source| PlanError::Combo {
                    at: At {
                        path: self.path.clone(),
                        line: self.params_line,
                    },
                    index,
                    params: params_text(&p),
                    strategy: info.name.to_string(),
                    error: Box::new(source),
                })?
            }
            // Each value was checked against its declaration; a program has no cross checks.
            SpecStrategy::Command(_) => {}
            SpecStrategy::Rules(rules) => {
                rules.check(&p).map_err(|error| PlanError::RuleCombo {
                    at: At {
                        path: self.path.clone(),
                        line: self.rule_line(&error.rule),
                    },
                    index,
                    params: params_text(&p),
                    error: Box::new(error),
                })?
            }
        }
        Ok(p)
    }

    /// Counts the combinations that pass the constraints (one pass over the grid); when none
    /// does, the error says how many each constraint keeps on its own.
    pub fn filtered_count(&self) -> Result<u64, PlanError> {
        if self.constraints.is_empty() {
            return Ok(self.grid_count());
        }
        let mut kept = 0u64;
        let mut kept_alone = vec![0u64; self.constraints.len()];
        self.grid.try_for_each(|d| {
            let mut all = true;
            for (n, k) in kept_alone.iter_mut().enumerate() {
                if self.passes_one(n, d)? {
                    *k += 1;
                } else {
                    all = false;
                }
            }
            kept += u64::from(all);
            Ok::<(), PlanError>(())
        })?;
        if kept == 0 && self.grid_count() > 0 {
            let detail = self
                .constraints
                .iter()
                .zip(&kept_alone)
                .map(|((text, _, _), k)| format!("`{text}` alone keeps {k}"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(PlanError::NothingLeft {
                at: At {
                    path: self.path.clone(),
                    line: self.constraints[0].1,
                },
                grid: self.grid_count(),
                detail,
            });
        }
        Ok(kept)
    }

    /// Calls `emit(i, params)` for every combination of the manifest in order (after
    /// constraints and sampling), streaming over the grid. Returns
    /// `(emitted, filtered_count)`.
    pub fn for_each_combo(
        &self,
        mut emit: impl FnMut(u64, Params) -> Result<(), PlanError>,
    ) -> Result<(u64, u64), PlanError> {
        let chosen: Option<Vec<u64>> = match self.sample {
            None => None,
            Some(s) => {
                let m = self.filtered_count()?;
                if s.n >= m {
                    None
                } else {
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(s.seed);
                    let mut idx: Vec<u64> =
                        rand::seq::index::sample(&mut rng, m as usize, s.n as usize)
                            .into_iter()
                            .map(|x| x as u64)
                            .collect();
                    idx.sort_unstable();
                    Some(idx)
                }
            }
        };
        let mut filtered = 0u64; // position among the combinations passing the constraints
        let mut out = 0u64;
        let mut next_chosen = 0usize;
        let mut grid_index = 0u64;
        self.grid.try_for_each(|d| -> Result<(), PlanError> {
            let gi = grid_index;
            grid_index += 1;
            if !self.passes(d)? {
                return Ok(());
            }
            let pos = filtered;
            filtered += 1;
            if let Some(c) = &chosen {
                if c.get(next_chosen) != Some(&pos) {
                    return Ok(());
                }
                next_chosen += 1;
            }
            let params = self.params_at(d, gi)?;
            emit(out, params)?;
            out += 1;
            Ok(())
        })?;
        if filtered == 0 && self.grid_count() > 0 {
            // Reached only without sampling: report which constraint removes what.
            self.filtered_count()?;
        }
        Ok((out, filtered))
    }
}

pub use crate::identity::sha256_file;

/// `name=value, ...` of a parameter set, for messages.
fn params_text(p: &Params) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Hashes every data file of the spec; a missing file is an error naming its path. A
/// command sweep without `[data]` has none.
fn hash_data(spec: &Spec) -> Result<Vec<DataFileHash>, PlanError> {
    let at = At {
        path: spec.path.clone(),
        line: spec.lines.data,
    };
    let Some(data) = &spec.data else {
        return Ok(Vec::new());
    };
    if data.symbols.is_empty() {
        return Err(PlanError::Spec(spec.error(
            spec.lines.data,
            "data.symbols",
            "no symbols given",
        )));
    }
    data.symbols
        .iter()
        .map(|symbol| {
            let file = data.file_of(symbol);
            if !file.is_file() {
                return Err(PlanError::MissingData {
                    at: at.clone(),
                    symbol: symbol.clone(),
                    file,
                });
            }
            let (sha256, bytes) = sha256_file(&file).map_err(io_err(&file))?;
            Ok(DataFileHash {
                symbol: symbol.clone(),
                path: file.display().to_string(),
                sha256,
                bytes,
            })
        })
        .collect()
}

/// A command sweep's checks on the planning machine: the workdir is a directory, the
/// program is found (a node may differ: it looks again when it runs), every input is a
/// file, hashed into the plan. Returns the inputs' hashes and notes for the summary.
fn check_command(spec: &Spec) -> Result<(Vec<InputFileHash>, Vec<String>), PlanError> {
    let Some(command) = &spec.command else {
        return Ok((Vec::new(), Vec::new()));
    };
    let fail = |key: &str, message: String| {
        PlanError::Spec(spec.error(command.line_of(key), &format!("command.{key}"), message))
    };
    // What is wrong with `path`, which should be a directory (or a file).
    let wrong = |path: &Path, dir: bool| match (path.exists(), dir) {
        (false, _) => "does not exist",
        (true, true) => "is not a directory",
        (true, false) => "is not a file (list the files of a directory one by one)",
    };
    let workdir = &command.workdir;
    if !workdir.is_dir() {
        return Err(fail(
            "workdir",
            format!(
                "the working directory {} {}",
                workdir.display(),
                wrong(workdir, true)
            ),
        ));
    }
    let found = command.find_program(std::env::var_os("PATH").as_deref());
    let mut notes = vec![match (found, &spec.slurm.container) {
        (Ok(program), _) => format!(
            "command: `{}` is {} on this machine; each node looks for it again when it runs \
             (in the container's image under [slurm.container])",
            command.argv[0],
            program.display()
        ),
        // The tasks run in the image: the program may be there only.
        (Err(m), Some(c)) => format!(
            "command: {m} on this machine; the tasks run in the image `{}`, which must have it",
            c.image
        ),
        (Err(m), None) => return Err(fail("argv", format!("{m} (checked on this machine)"))),
    }];
    if command.timeout.is_none() {
        notes.push(
            "command: no `timeout`: a combination that hangs holds its task until the SLURM \
             time limit, and the task's later combinations never run"
                .to_string(),
        );
    }
    let mut inputs = Vec::with_capacity(command.inputs.len());
    for input in &command.inputs {
        let file = command.input_path(input);
        if !file.is_file() {
            return Err(fail(
                "inputs",
                format!(
                    "input `{}`: {} {}",
                    input.display(),
                    file.display(),
                    wrong(&file, false)
                ),
            ));
        }
        let (sha256, bytes) = sha256_file(&file).map_err(io_err(&file))?;
        inputs.push(InputFileHash {
            input: input.display().to_string(),
            path: file.display().to_string(),
            sha256,
            bytes,
        });
    }
    Ok((inputs, notes))
}

/// Reads, validates and compiles a spec file with overrides applied.
pub fn prepare_spec(
    spec_path: &Path,
    overrides: &[String],
) -> Result<(Spec, SweepGrid), PlanError> {
    let mut spec = Spec::load(spec_path)?;
    let parsed = overrides
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>, _>>()?;
    spec.apply_overrides(&parsed);
    let grid = SweepGrid::compile(&mut spec)?;
    Ok((spec, grid))
}

/// Plans a sweep: validates everything before writing, then writes (or reuses) the sweep
/// directory. See the module documentation for the rules.
pub fn plan_sweep(spec_path: &Path, options: &PlanOptions) -> Result<PlannedSweep, PlanError> {
    plan_sweep_with(spec_path, options, &|_, _| Ok(()))
}

/// What [`plan_sweep_with`] calls before a new sweep directory appears: it writes further
/// files (the rendered scripts) into `into`, the directory being built, for the sweep that
/// will be at `planned.dir`.
pub type FinishPlan<'a> = dyn Fn(&SweepDir, &PlannedSweep) -> Result<(), String> + 'a;

/// [`plan_sweep`], with `finish` writing more files into the sweep directory before it
/// appears, so that a new sweep directory appears whole (or not at all, after an error or
/// SIGINT/SIGTERM). A directory planned before with the same hash is updated in place.
pub fn plan_sweep_with(
    spec_path: &Path,
    options: &PlanOptions,
    finish: &FinishPlan<'_>,
) -> Result<PlannedSweep, PlanError> {
    let (spec, grid) = prepare_spec(spec_path, &options.overrides)?;
    check_size(&spec, &grid, options)?;
    let data = hash_data(&spec)?;
    let (inputs, command_notes) = check_command(&spec)?;
    // A command sweep's data is hashed, not loaded: the program reads it.
    // Walk-forward windows are laid on the data's days, so their data is always loaded.
    let market = match &spec.data {
        Some(data)
            if (options.check_data || spec.walk_forward.is_some()) && spec.command.is_none() =>
        {
            let market =
                MarketData::load(data, &spec.backtest).map_err(|source| PlanError::Data {
                    at: At {
                        path: spec.path.clone(),
                        line: spec.lines.data,
                    },
                    error: Box::new(source),
                })?;
            Some(market)
        }
        _ => None,
    };
    let windows = lay_windows(&spec, market.as_ref())?;
    let bad_spec = |message| PlanError::BadPlan {
        path: spec.path.clone(),
        message,
    };
    let spec_hash = crate::identity::spec_hash(&spec).map_err(bad_spec)?;
    let full_text = spec.to_toml().map_err(bad_spec)?;
    let hash = crate::identity::plan_hash(&spec_hash, &data, &inputs);

    let sharedfs = options.sharedfs.clone().unwrap_or_else(default_sharedfs);
    let sweeps = SharedFs::new(&sharedfs).sweeps();
    std::fs::create_dir_all(&sweeps).map_err(io_err(&sweeps))?;
    let sweeps = std::fs::canonicalize(&sweeps).unwrap_or(sweeps);
    let dir = SweepDir::new(sweeps.join(format!("{}-{}", spec.name, &hash[..8])));
    check_free_space(&spec, &grid, &sweeps)?;

    let existing = read_plan(&dir.plan()).ok().filter(|p| p.hash == hash);
    let reused = existing.is_some() && dir.manifest().is_file();
    let existing_results = count_results(&dir);
    // What loading skipped or filled, as the worker will load it.
    let mut notes: Vec<String> = market
        .iter()
        .flat_map(|m| m.notes())
        .map(|n| format!("data: {n}"))
        .chain(command_notes)
        .collect();

    // A new directory is built in a hidden folder beside it, then renamed into place.
    let interrupt = Interrupt::install().map_err(io_err(&sweeps))?;
    let staging = if reused {
        None
    } else {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}-{}.planning-", spec.name, &hash[..8]))
            .tempdir_in(&sweeps)
            .map_err(io_err(&sweeps))?;
        set_mode(tmp.path(), 0o755)?;
        Some(tmp)
    };
    let write_dir = staging
        .as_ref()
        .map_or_else(|| dir.clone(), |t| SweepDir::new(t.path()));

    // Chunking.
    let max_array_size = options
        .max_array_size
        .or(spec.slurm.max_array_size)
        .or(options.cluster_max_array_size)
        .unwrap_or(DEFAULT_MAX_ARRAY_SIZE)
        .max(1);
    let mut per = options
        .combos_per_task
        .or(spec.slurm.combos_per_task)
        .unwrap_or_else(|| {
            let target = spec
                .slurm
                .target_task_seconds
                .unwrap_or(DEFAULT_TARGET_TASK_SECONDS);
            // A walk-forward combination is 1 + 2 x windows backtests.
            let assumed = if spec.command.is_some() {
                ASSUMED_COMMAND_SECONDS
            } else {
                ASSUMED_COMBO_SECONDS * (1 + 2 * windows.len()) as f64
            };
            let per = ((target / assumed).ceil() as u64).min(MAX_DERIVED_COMBOS_PER_TASK);
            if spec.command.is_some() {
                notes.push(format!(
                    "command: {per} combination(s) per task for a task of about {target} s \
                     assumes {assumed} s per run of the program; set [slurm] combos_per_task \
                     (or target_task_seconds) for yours"
                ));
            }
            per
        })
        .max(1);
    // The manifest, with the byte offset of every `per`-th line taken as it is written
    // (the tasks' first lines, unless chunking changes below).
    let (combos, filtered, mut starts) = match &existing {
        Some(p) if reused => (p.combos, p.combos, None),
        _ => {
            let check = market.as_ref().map(|m| (m, &spec));
            let written = write_manifest(&grid, &write_dir, &interrupt, check, per)?;
            (
                written.combos,
                written.filtered,
                Some((per, written.starts, written.bytes)),
            )
        }
    };
    make_dirs(&write_dir)?;
    if let Some(s) = spec.sample {
        if s.n >= filtered && !reused {
            notes.push(format!(
                "[sample] n = {} is not below the {} combinations left: all are kept",
                s.n, filtered
            ));
        }
    }

    let max_tasks = max_array_size.saturating_mul(MAX_ARRAYS);
    if task_count(combos, per) > max_tasks {
        let raised = combos.div_ceil(max_tasks);
        notes.push(format!(
            "combos_per_task raised from {per} to {raised} so the tasks fit in {MAX_ARRAYS} arrays of {max_array_size}"
        ));
        per = raised;
    }
    if let Some(old) = existing.as_ref().filter(|_| reused) {
        if old.combos_per_task != per && existing_results > 0 {
            notes.push(format!(
                "kept combos_per_task = {} of the existing plan because results exist (asked for {per})",
                old.combos_per_task
            ));
            per = old.combos_per_task;
        }
    }
    let tasks = task_count(combos, per);
    let keep = existing
        .as_ref()
        .filter(|p| reused && p.combos_per_task == per)
        .and_then(|p| p.manifest_index.clone());
    starts = starts.filter(|(at, _, _)| *at == per);
    let manifest_index = write_index(&write_dir, combos, per, starts, keep)?;
    let plan = Plan {
        schema: PLAN_SCHEMA.to_string(),
        name: spec.name.clone(),
        hash: hash.clone(),
        spec_hash,
        data,
        inputs,
        strategy: spec.strategy.clone(),
        combos,
        combos_per_task: per,
        tasks,
        manifest_index: Some(manifest_index),
        max_array_size,
        arrays: split_arrays(tasks, max_array_size),
        throttle: spec.slurm.throttle,
        tool_version: crate::TOOL_VERSION.to_string(),
        created: existing.as_ref().map_or_else(Utc::now, |p| p.created),
        walk_forward: spec
            .walk_forward
            .as_ref()
            .map(|config| WalkForwardPlan::new(config, &windows)),
    };
    let summary = PlanSummary {
        name: plan.name.clone(),
        hash8: plan.hash8().to_string(),
        combos,
        grid_combos: grid.grid_count(),
        tasks,
        combos_per_task: per,
        arrays: plan
            .arrays
            .iter()
            .enumerate()
            .map(|(n, a)| (a.offset, plan.array_spec(n)))
            .collect(),
        dir: dir.root().to_path_buf(),
        manifest: dir.manifest(),
        plan: dir.plan(),
        reused,
        existing_results,
        walk_forward: plan.walk_forward.clone(),
        windows,
        notes,
    };
    let planned = PlannedSweep {
        dir: dir.clone(),
        plan,
        spec,
        summary,
    };

    // spec.toml and the finishing files first, plan.json last: a directory with plan.json
    // is complete.
    write_if_changed(&write_dir.spec(), full_text.as_bytes())?;
    finish(&write_dir, &planned).map_err(|message| PlanError::BadPlan {
        path: dir.root().to_path_buf(),
        message,
    })?;
    let plan_json =
        serde_json::to_vec_pretty(&planned.plan).map_err(|e| io_err(&dir.plan())(e.into()))?;
    if existing.as_ref() != Some(&planned.plan) {
        write_atomic(&write_dir.plan(), &plan_json).map_err(io_err(&write_dir.plan()))?;
    }
    if let Some(sig) = interrupt.received() {
        return Err(PlanError::Interrupted {
            signal: Interrupt::name(sig),
            status: Interrupt::exit_status(sig),
        });
    }
    if let Some(staging) = staging {
        put_in_place(staging, &dir)?;
    }
    Ok(planned)
}

/// The walk-forward windows of `spec` laid on the simulated days of `market` (none without
/// `[walk_forward]`). A layout that does not fit is an error naming the field.
fn lay_windows(spec: &Spec, market: Option<&MarketData>) -> Result<Vec<LaidWindow>, PlanError> {
    let Some(config) = &spec.walk_forward else {
        return Ok(Vec::new());
    };
    let error = |field: &str, message: String| {
        PlanError::Spec(SpecError::Field {
            path: spec.path.clone(),
            line: spec.lines.walk_forward,
            field: field.to_string(),
            message,
        })
    };
    let Some(market) = market else {
        return Err(error(
            "walk_forward",
            "expected [data] the engine loads: the windows are laid on its days".to_string(),
        ));
    };
    let days = backtest::walk_forward::simulated_days(&market.dates, &spec.backtest)
        .map_err(|e| error("walk_forward", format!("expected simulated days: {e}")))?;
    backtest::walk_forward::layout(config, days)
        .map_err(|e| error(&format!("walk_forward.{}", e.field), e.message))
}

/// Writes the manifest into `dir` (through a temporary file, world-readable) and returns
/// `(combinations written, combinations passing the constraints)`. With `check` (the loaded
/// data and the spec), each combination first passes the checks the worker makes before
/// simulating ([`backtest::preflight_strategy`]: parameters, settings, days, warm-up, and
/// for rules [`Rules::check`]). Stops,
/// leaving nothing, when SIGINT or SIGTERM arrives.
fn write_manifest(
    grid: &SweepGrid,
    dir: &SweepDir,
    interrupt: &Interrupt,
    check: Option<(&MarketData, &Spec)>,
    per: u64,
) -> Result<WrittenManifest, PlanError> {
    let path = dir.manifest();
    let per = per.max(1);
    let mut counts = (0, 0);
    let mut starts = Vec::new();
    let mut bytes = 0u64;
    let mut line = Vec::with_capacity(256);
    let mut failure = None;
    let written = write_atomic_with(&path, 0o644, |file, _| {
        let mut w = BufWriter::with_capacity(1 << 16, &*file);
        let outcome = grid.for_each_combo(|i, params| {
            if i % 4096 == 0 {
                if let Some(sig) = interrupt.received() {
                    return Err(PlanError::Interrupted {
                        signal: Interrupt::name(sig),
                        status: Interrupt::exit_status(sig),
                    });
                }
            }
            if let Some((market, spec, strategy)) =
                check.and_then(|(m, s)| Some((m, s, grid.strategy().engine()?)))
            {
                backtest::preflight_strategy(market, strategy, &params, &spec.backtest).map_err(
                    |error| match error {
                        backtest::BacktestError::Rule(error) => PlanError::RuleCombo {
                            at: At {
                                path: spec.path.clone(),
                                line: grid.rule_line(&error.rule),
                            },
                            index: i,
                            params: params_text(&params),
                            error: Box::new(error),
                        },
                        error => PlanError::Preflight {
                            at: At {
                                path: spec.path.clone(),
                                line: grid.params_line,
                            },
                            index: i,
                            params: params_text(&params),
                            error: Box::new(error),
                        },
                    },
                )?;
            }
            if i.is_multiple_of(per) {
                starts.push(bytes);
            }
            line.clear();
            serde_json::to_writer(&mut line, &ManifestEntry { i, params })
                .map_err(|e| io_err(&path)(e.into()))?;
            line.push(b'\n');
            bytes += line.len() as u64;
            w.write_all(&line).map_err(io_err(&path))
        });
        match outcome {
            Ok(c) => {
                counts = c;
                w.flush()
            }
            Err(e) => {
                failure = Some(e);
                Err(std::io::Error::other("planning stopped"))
            }
        }
    });
    match failure {
        Some(e) => Err(e),
        None => written
            .map(|()| WrittenManifest {
                combos: counts.0,
                filtered: counts.1,
                starts,
                bytes,
            })
            .map_err(io_err(&path)),
    }
}

/// What [`write_manifest`] wrote.
struct WrittenManifest {
    /// Combinations written.
    combos: u64,
    /// Combinations passing the constraints (before sampling).
    filtered: u64,
    /// Byte offsets of lines `0, per, 2 * per, ...`.
    starts: Vec<u64>,
    /// The manifest's length.
    bytes: u64,
}

/// Writes `manifest.idx` into `dir` for `combos` in tasks of `per` and returns plan.json's
/// record of it: from `starts` (`(per, offsets, manifest length)` taken while writing the
/// manifest) when given, else by scanning the manifest; `keep` (the record of an earlier
/// plan with the same manifest and chunking) is kept when its file is intact.
fn write_index(
    dir: &SweepDir,
    combos: u64,
    per: u64,
    starts: Option<(u64, Vec<u64>, u64)>,
    keep: Option<ManifestIndex>,
) -> Result<ManifestIndex, PlanError> {
    let manifest = dir.manifest();
    let idx = crate::manifest::index_path(&manifest);
    if let Some(keep) = keep {
        let intact = crate::identity::sha256_file(&idx)
            .is_ok_and(|(sha, bytes)| sha == keep.sha256 && bytes == keep.bytes)
            && std::fs::metadata(&manifest).is_ok_and(|m| m.len() == keep.manifest_bytes);
        if intact {
            return Ok(keep);
        }
    }
    let (starts, manifest_bytes) = match starts {
        Some((_, starts, bytes)) => (starts, bytes),
        None => crate::manifest::scan_task_starts(&manifest, combos, per).map_err(|e| {
            PlanError::BadPlan {
                path: manifest.clone(),
                message: e.to_string(),
            }
        })?,
    };
    let bytes = crate::manifest::index_bytes(&starts, manifest_bytes);
    write_atomic(&idx, &bytes).map_err(io_err(&idx))?;
    Ok(crate::manifest::index_record(&bytes, manifest_bytes))
}

/// Moves a sweep directory built in `staging` to `dir`: one rename when `dir` does not
/// exist; else (a directory left without a plan) file by file, plan.json last.
fn put_in_place(staging: tempfile::TempDir, dir: &SweepDir) -> Result<(), PlanError> {
    if !dir.root().exists() {
        let from = staging.keep();
        return std::fs::rename(&from, dir.root()).map_err(|error| PlanError::Io {
            path: dir.root().to_path_buf(),
            error,
        });
    }
    make_dirs(dir)?;
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(staging.path())
        .map_err(io_err(staging.path()))?
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name())
        .collect();
    names.sort_by_key(|n| n == "plan.json");
    for name in names {
        let to = dir.root().join(&name);
        std::fs::rename(staging.path().join(&name), &to).map_err(io_err(&to))?;
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), PlanError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

/// The parameters of the grid's first and last combinations (constraints not applied),
/// for the size estimate.
fn corner_lines(grid: &SweepGrid) -> [usize; 2] {
    let axes = &grid.grid.axes;
    let first: Vec<usize> = vec![0; axes.len()];
    let last: Vec<usize> = axes
        .iter()
        .map(|a| a.values.len().saturating_sub(1))
        .collect();
    [first, last].map(|digits| {
        let mut p = grid.base.clone();
        for (name, value) in grid.grid.assignments(&digits) {
            p.insert(name.to_string(), value.clone());
        }
        let i = grid.grid_count().saturating_sub(1);
        serde_json::to_vec(&ManifestEntry { i, params: p }).map_or(64, |v| v.len() + 1)
    })
}

/// Estimated bytes of the manifest of the whole grid (before constraints).
fn estimated_manifest_bytes(grid: &SweepGrid) -> u64 {
    let [a, b] = corner_lines(grid);
    grid.grid_count().saturating_mul(((a + b) / 2) as u64)
}

/// Refuses a grid above the limit before anything is expanded or written.
fn check_size(spec: &Spec, grid: &SweepGrid, options: &PlanOptions) -> Result<(), PlanError> {
    let limit = options.max_combos.unwrap_or(DEFAULT_MAX_COMBOS);
    let count = grid.grid_count();
    if count > limit {
        return Err(PlanError::TooMany {
            at: At {
                path: spec.path.clone(),
                line: grid.params_line,
            },
            count,
            limit,
            manifest: human_bytes(estimated_manifest_bytes(grid)),
        });
    }
    Ok(())
}

/// Refuses a manifest that would not fit on the shared filesystem.
fn check_free_space(spec: &Spec, grid: &SweepGrid, sweeps: &Path) -> Result<(), PlanError> {
    let needed = estimated_manifest_bytes(grid);
    let Some(free) = free_bytes(sweeps) else {
        return Ok(());
    };
    if needed > free {
        return Err(PlanError::NoSpace {
            at: At {
                path: spec.path.clone(),
                line: grid.params_line,
            },
            dir: sweeps.to_path_buf(),
            needed: human_bytes(needed),
            free: human_bytes(free),
        });
    }
    Ok(())
}

/// Bytes available to this user on the filesystem of `path` (`statvfs`).
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` points to writable memory of the
    // right type; statvfs fills it when it returns 0.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// `1.5 GB`-style sizes for messages.
pub fn human_bytes(n: u64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

fn make_dirs(dir: &SweepDir) -> Result<(), PlanError> {
    for d in [dir.root().to_path_buf(), dir.logs(), dir.results()] {
        std::fs::create_dir_all(&d).map_err(io_err(&d))?;
    }
    Ok(())
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), PlanError> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    write_atomic(path, bytes).map_err(io_err(path))
}

fn count_results(dir: &SweepDir) -> usize {
    ResultsListing::read(dir).map_or(0, |l| l.results.len())
}

/// Reads and checks a plan.json.
pub fn read_plan(path: &Path) -> Result<Plan, PlanError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| PlanError::BadPlan {
        path: path.to_path_buf(),
        message: format!("not a valid plan: {e}"),
    })?;
    if plan.schema != PLAN_SCHEMA {
        return Err(PlanError::BadPlan {
            path: path.to_path_buf(),
            message: format!("schema is `{}`, expected `{PLAN_SCHEMA}`", plan.schema),
        });
    }
    Ok(plan)
}

/// Reads the plan and the planned spec of a sweep directory.
pub fn load_plan(dir: &Path) -> Result<(Plan, Spec), PlanError> {
    let sweep = SweepDir::new(dir);
    let plan = read_plan(&sweep.plan())?;
    let spec = Spec::load(&sweep.spec())?;
    Ok((plan, spec))
}
