//! `[command]` and `[command.params]` of a `strategy = "command"` spec: any program as the
//! backtest of a combination. This module is the contract between planning and the worker:
//! how the table is read (every error names `file:line` and the field, `command.timeout`,
//! `command.params.w.max`), what planning checks on its machine, which placeholders an
//! argument may be, and the environment and argument vector of a combination's run. Running
//! the program is the worker's (`bt-worker`'s `command` module).
//!
//! ```toml
//! strategy = "command"
//!
//! [command]
//! argv = ["python3", "sixty_forty.py", "--weight", "{w_SPY}", "--out", "{result}"]
//! workdir = "."             # relative to the spec file (default "."); absolute once planned
//! timeout = "10m"           # per combination: "90s", "10m", "1h30m", or seconds (600)
//! output = "qstrader_json"  # or "equity_csv" (date,equity) or "metrics_json" ({"sharpe": ...})
//! inputs = ["sixty_forty.py"]          # files hashed into the plan, checked by the worker
//! env = { PYTHONHASHSEED = "0" }       # extra environment; values may use ${VAR} (the node's)
//!
//! [command.params]          # declared as in [rules.params]
//! w_SPY = { type = "float", default = 0.6, min = 0.0, max = 1.0 }
//! ```
//!
//! * **Placeholders** replace whole arguments only: `"{w_SPY}"` is the value, `"--w={w_SPY}"`
//!   is refused when the spec is read. They are the declared parameters and
//!   [`BUILTIN_PLACEHOLDERS`]. The program (`argv[0]`) is never a placeholder. Nothing goes
//!   through a shell: the argument vector is given to `execve` as it is, so no value can
//!   inject anything.
//! * **`${VAR}`** in `argv`, `workdir` and `inputs` is expanded when the spec is loaded (as
//!   `data.dir` is), so the plan hash covers the program actually run; in `env` values it is
//!   expanded by the worker, on the node, with the node's environment (`$$` is a `$`).
//! * **Values** are written as text: integers and booleans as usual, floats in their
//!   shortest round-trip form with a decimal point (`1.0`, `0.6`, `1e-7`), choices as given
//!   ([`value_text`]).

use std::path::{Path, PathBuf};

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use backtest::{ParamSpec, ParamValue, Params};

use crate::decl::{line_in, read_declarations, Declarations, RawEntry, RawWithParams, TableError};
use crate::spec::{absolute_from, expand_env};

/// The strategy name that reads `[command]`.
pub const COMMAND_STRATEGY: &str = "command";

/// The keys of `[command]`.
pub const COMMAND_KEYS: [&str; 7] = [
    "argv", "workdir", "timeout", "output", "inputs", "env", "params",
];

/// The placeholders every command has besides its declared parameters, with what they
/// stand for.
pub const BUILTIN_PLACEHOLDERS: [(&str, &str); 5] = [
    (
        "result",
        "the file the program writes its output to (in its scratch directory)",
    ),
    (
        "scratch",
        "a directory of the combination's own, empty at the start",
    ),
    ("params_json", "a JSON file with every parameter's value"),
    (
        "combo",
        "the combination's index (its line of manifest.jsonl)",
    ),
    ("task", "the array task's number"),
];

/// The metrics an equity curve does not tell (they are the simulator's trading figures):
/// unknown in every run of a command sweep whose program reports a curve.
pub const CURVE_UNKNOWN: [&str; 3] = ["trades", "turnover", "exposure"];

/// The prefix of the worker's environment variables; `env` may not set names with it.
pub const ENV_PREFIX: &str = "SWEEP_";

/// A command sweep's `[backtest]` keys: the program simulates, so only how its curve is
/// cut and whether its returns are kept apply.
pub const BACKTEST_KEYS: [&str; 3] = ["split", "keep_returns", "pbo_blocks"];

/// The spec syntax of a command sweep, as `bt-worker strategies` shows it (a test reads it
/// as a spec).
pub const SPEC_SYNTAX: &str = r#"strategy = "command"

[command]
argv = ["python3", "sixty_forty.py", "--weight", "{w_SPY}", "--out", "{result}"]
workdir = "."                  # relative to the spec file
timeout = "10m"                # per combination: "90s", "10m", "1h", or seconds
output = "qstrader_json"       # "qstrader_json" | "equity_csv" (date,equity) | "metrics_json"
inputs = ["sixty_forty.py"]    # hashed into the plan; the worker checks them
env = { PYTHONHASHSEED = "0" } # extra environment; ${VAR} is the node's

[command.params]               # declared as in [rules.params]
w_SPY = { type = "float", default = 0.6, min = 0.0, max = 1.0 }"#;

/// What the program writes to `{result}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// QSTrader's `JSONStatistics.to_file()`: the statistics come from its
    /// `strategy.equity_curve`.
    QstraderJson,
    /// A CSV of `date,equity` (a header line, then one row per day, dates ascending).
    EquityCsv,
    /// A flat JSON object of named metrics (`{"sharpe": 1.2, "cagr": 0.07}`).
    MetricsJson,
}

impl OutputFormat {
    /// Every format.
    pub const ALL: [OutputFormat; 3] = [
        OutputFormat::QstraderJson,
        OutputFormat::EquityCsv,
        OutputFormat::MetricsJson,
    ];

    /// The name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::QstraderJson => "qstrader_json",
            OutputFormat::EquityCsv => "equity_csv",
            OutputFormat::MetricsJson => "metrics_json",
        }
    }

    /// The name of the `{result}` file in a combination's scratch directory.
    pub fn file_name(self) -> &'static str {
        match self {
            OutputFormat::QstraderJson => "result.json",
            OutputFormat::EquityCsv => "equity.csv",
            OutputFormat::MetricsJson => "metrics.json",
        }
    }

    /// Whether the output holds an equity curve (so every statistic of a curve can be
    /// computed: all but [`CURVE_UNKNOWN`]).
    pub fn has_curve(self) -> bool {
        !matches!(self, OutputFormat::MetricsJson)
    }

    fn from_name(name: &str) -> Option<OutputFormat> {
        OutputFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A placeholder of the worker's (not a parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Result,
    Scratch,
    ParamsJson,
    Combo,
    Task,
}

impl Builtin {
    fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "result" => Builtin::Result,
            "scratch" => Builtin::Scratch,
            "params_json" => Builtin::ParamsJson,
            "combo" => Builtin::Combo,
            "task" => Builtin::Task,
            _ => return None,
        })
    }
}

/// One argument of the command, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Given as it is.
    Literal(String),
    /// `{name}` of a declared parameter: its value.
    Param(String),
    /// `{result}`, `{scratch}`, ...
    Builtin(Builtin),
}

/// What one run of the command gets from the worker besides the parameter values.
#[derive(Clone, Debug)]
pub struct RunPaths<'a> {
    /// `{result}`: where the program writes its output.
    pub result: &'a Path,
    /// `{scratch}`: the combination's own directory.
    pub scratch: &'a Path,
    /// `{params_json}`: the JSON file of the parameter values.
    pub params_json: &'a Path,
    pub combo: u64,
    pub task: u64,
}

/// `[command]` of a spec, as read (and, once the spec is loaded, resolved: `${VAR}`
/// expanded in `argv`, `workdir` and `inputs`, `workdir` absolute).
#[derive(Clone, Debug, PartialEq)]
pub struct CommandSpec {
    /// The argument vector, `argv[0]` the program.
    pub argv: Vec<String>,
    /// The working directory of every run (relative to the spec file until resolved).
    pub workdir: PathBuf,
    /// Seconds a combination may run; `None`: no limit of its own (the task's SLURM time
    /// limit still applies).
    pub timeout: Option<f64>,
    pub output: OutputFormat,
    /// Files (relative to `workdir`) hashed into the plan and checked by the worker.
    pub inputs: Vec<PathBuf>,
    /// Extra environment, in name order; values are expanded by the worker.
    pub env: Vec<(String, String)>,
    /// `[command.params]`, in file order.
    pub params: Vec<ParamSpec>,
    /// Line of the `[command]` table.
    pub line: Option<usize>,
    /// Line of each key written.
    pub key_lines: Vec<(String, usize)>,
    /// Line of each declaration of `[command.params]`.
    pub param_lines: Vec<(String, Option<usize>)>,
}

impl CommandSpec {
    /// The line of key `key` (`argv`), else of the `[command]` table.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        line_in(&self.key_lines, key, self.line)
    }

    /// The line of the declaration of `param`, else of the `[command]` table.
    pub fn param_line(&self, param: &str) -> Option<usize> {
        line_in(&self.param_lines, param, self.line)
    }

    /// The arguments, classified (checked when the spec was read, so every placeholder
    /// is known).
    pub fn args(&self) -> Vec<Arg> {
        self.argv
            .iter()
            .map(|a| classify(a, &self.params).unwrap_or_else(|_| Arg::Literal(a.clone())))
            .collect()
    }

    /// The argument vector of one run: placeholders replaced by the combination's values
    /// and the worker's paths.
    pub fn argv_for(&self, params: &Params, paths: &RunPaths<'_>) -> Vec<std::ffi::OsString> {
        self.args()
            .into_iter()
            .map(|a| match a {
                Arg::Literal(s) => s.into(),
                Arg::Param(name) => params.get(&name).map(value_text).unwrap_or_default().into(),
                Arg::Builtin(Builtin::Result) => paths.result.as_os_str().to_owned(),
                Arg::Builtin(Builtin::Scratch) => paths.scratch.as_os_str().to_owned(),
                Arg::Builtin(Builtin::ParamsJson) => paths.params_json.as_os_str().to_owned(),
                Arg::Builtin(Builtin::Combo) => paths.combo.to_string().into(),
                Arg::Builtin(Builtin::Task) => paths.task.to_string().into(),
            })
            .collect()
    }

    /// The worker's variables of one run, in this order: `SWEEP_PARAM_<name>` for every
    /// parameter (name as declared), `SWEEP_PARAMS_JSON`, `SWEEP_RESULT`, `SWEEP_OUTPUT`,
    /// `SWEEP_SCRATCH`, `SWEEP_COMBO`, `SWEEP_TASK`. (`env` comes on top, expanded by the
    /// worker.)
    pub fn sweep_env(&self, params: &Params, paths: &RunPaths<'_>) -> Vec<(String, String)> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let mut out: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (format!("{ENV_PREFIX}PARAM_{k}"), value_text(v)))
            .collect();
        out.extend([
            (format!("{ENV_PREFIX}PARAMS_JSON"), path(paths.params_json)),
            (format!("{ENV_PREFIX}RESULT"), path(paths.result)),
            (
                format!("{ENV_PREFIX}OUTPUT"),
                self.output.name().to_string(),
            ),
            (format!("{ENV_PREFIX}SCRATCH"), path(paths.scratch)),
            (format!("{ENV_PREFIX}COMBO"), paths.combo.to_string()),
            (format!("{ENV_PREFIX}TASK"), paths.task.to_string()),
        ]);
        out
    }

    /// `env` with `${VAR}` expanded by `lookup` (the worker's environment); an unset
    /// variable without a default is an error naming the key.
    pub fn expanded_env(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, String)>, String> {
        self.env
            .iter()
            .map(|(k, v)| {
                expand_env(v, &lookup)
                    .map(|v| (k.clone(), v))
                    .map_err(|m| format!("[command] env `{k}`: {m}"))
            })
            .collect()
    }

    /// The file of input `input` (relative to `workdir`).
    pub fn input_path(&self, input: &Path) -> PathBuf {
        self.workdir.join(input)
    }

    /// Expands `${VAR}` in `argv`, `workdir` and `inputs` with `lookup`, and makes `workdir`
    /// absolute, relative to `base` (the spec file's directory). Returns the key at fault
    /// and the message.
    pub(crate) fn resolve(
        &mut self,
        base: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), (&'static str, String)> {
        for a in &mut self.argv {
            *a = expand_env(a, lookup).map_err(|m| ("argv", m))?;
        }
        for i in &mut self.inputs {
            let text = i.to_string_lossy().into_owned();
            *i = PathBuf::from(expand_env(&text, lookup).map_err(|m| ("inputs", m))?);
        }
        let written = self.workdir.to_string_lossy().into_owned();
        let dir = PathBuf::from(expand_env(&written, lookup).map_err(|m| ("workdir", m))?);
        self.workdir = absolute_from(base, dir);
        Ok(())
    }

    /// Where `argv[0]` is on this machine: itself when absolute, under `workdir` when a
    /// relative path (with a `/`), else the first executable of that name on `path` (the
    /// `PATH` variable's value).
    pub fn find_program(&self, path: Option<&std::ffi::OsStr>) -> Result<PathBuf, String> {
        let program = self.argv.first().map(String::as_str).unwrap_or_default();
        if program.contains('/') {
            // `components` drops the `.` of `./run.sh`.
            let file: PathBuf = self.workdir.join(program).components().collect();
            return match executable(&file) {
                Ok(()) => Ok(file),
                Err(why) => Err(format!("the program {} {why}", file.display())),
            };
        }
        let dirs: Vec<PathBuf> = path
            .map(|p| std::env::split_paths(p).collect())
            .unwrap_or_default();
        for dir in &dirs {
            let file = dir.join(program);
            if executable(&file).is_ok() {
                return Ok(file);
            }
        }
        Err(format!(
            "the program `{program}` is not on PATH ({}); give its absolute path, or a path \
             relative to the workdir such as `./{program}`",
            std::env::join_paths(&dirs)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
    }

    /// `[command]` in its normalised form, to serialise into spec.toml: every key, the
    /// timeout in seconds, `$` written `$$` (the resolved values are expanded again when
    /// spec.toml is read), and `[command.params]` with every declaration's fields.
    pub fn normalised(&self) -> NormalisedCommand<'_> {
        NormalisedCommand(self)
    }
}

/// Why `file` cannot be run, if it cannot.
fn executable(file: &Path) -> Result<(), &'static str> {
    use std::os::unix::ffi::OsStrExt;
    let meta = std::fs::metadata(file).map_err(|_| "does not exist")?;
    if !meta.is_file() {
        return Err("is not a file");
    }
    let c = std::ffi::CString::new(file.as_os_str().as_bytes()).map_err(|_| "has a NUL byte")?;
    // SAFETY: `c` is a NUL-terminated path; access() only reads it.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
        return Err("is not executable (chmod +x)");
    }
    Ok(())
}

/// A parameter's value as an argument or environment value: integers and booleans as
/// usual, floats in their shortest round-trip form with a decimal point or an exponent
/// (`1.0`, `0.6`, `1e-7`), strings as they are.
pub fn value_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Float(x) => format!("{x:?}"),
        other => other.to_string(),
    }
}

/// [`CommandSpec::normalised`]: serialises `[command]` in a stable order.
pub struct NormalisedCommand<'a>(&'a CommandSpec);

impl Serialize for NormalisedCommand<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Env<'a>(&'a [(String, String)]);
        impl Serialize for Env<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let c = self.0;
        let dollars = |t: &str| t.replace('$', "$$");
        let mut m = s.serialize_map(None)?;
        let argv: Vec<String> = c.argv.iter().map(|a| dollars(a)).collect();
        m.serialize_entry("argv", &argv)?;
        m.serialize_entry("workdir", &dollars(&c.workdir.to_string_lossy()))?;
        if let Some(t) = c.timeout {
            m.serialize_entry("timeout", &t)?;
        }
        m.serialize_entry("output", c.output.name())?;
        let inputs: Vec<String> = c
            .inputs
            .iter()
            .map(|i| dollars(&i.to_string_lossy()))
            .collect();
        m.serialize_entry("inputs", &inputs)?;
        m.serialize_entry("env", &Env(&c.env))?;
        if !c.params.is_empty() {
            m.serialize_entry("params", &Declarations(&c.params))?;
        }
        m.end()
    }
}

/// Whether `name` can name a parameter of a command: an identifier (it is part of an
/// environment variable's name and of a placeholder) that is not a built-in placeholder.
fn check_param_name(name: &str) -> Result<(), String> {
    if !is_identifier(name) {
        return Err(format!(
            "`{name}` cannot name a parameter of a command: use letters, digits and `_`, not \
             starting with a digit (it becomes {ENV_PREFIX}PARAM_{name} and `{{{name}}}`)"
        ));
    }
    if Builtin::from_name(name).is_some() {
        return Err(format!(
            "`{name}` cannot name a parameter: `{{{name}}}` is a placeholder of the worker's ({})",
            builtin_names()
        ));
    }
    Ok(())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn builtin_names() -> String {
    BUILTIN_PLACEHOLDERS
        .iter()
        .map(|(n, _)| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first `{identifier}` in `text`, with its byte range.
fn find_placeholder(text: &str) -> Option<(std::ops::Range<usize>, &str)> {
    let mut from = 0;
    while let Some(open) = text[from..].find('{').map(|k| k + from) {
        if let Some(close) = text[open + 1..].find('}').map(|k| k + open + 1) {
            let inner = &text[open + 1..close];
            if is_identifier(inner) {
                return Some((open..close + 1, inner));
            }
        }
        from = open + 1;
    }
    None
}

/// Classifies one argument against the declared parameters.
fn classify(arg: &str, params: &[ParamSpec]) -> Result<Arg, String> {
    let Some((range, name)) = find_placeholder(arg) else {
        return Ok(Arg::Literal(arg.to_string()));
    };
    if range != (0..arg.len()) {
        return Err(format!(
            "`{arg}`: placeholders replace whole arguments only, and `{{{name}}}` is part of \
             a longer one; write it as an argument of its own (`\"--flag\", \"{{{name}}}\"`), \
             or read ${ENV_PREFIX}PARAM_{name} from the environment"
        ));
    }
    if params.iter().any(|p| p.name == name) {
        return Ok(Arg::Param(name.to_string()));
    }
    if let Some(b) = Builtin::from_name(name) {
        return Ok(Arg::Builtin(b));
    }
    let mut known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    known.extend(BUILTIN_PLACEHOLDERS.iter().map(|(n, _)| *n));
    let hint = expr::closest(name, &known)
        .map(|c| format!(" (did you mean `{{{c}}}`?)"))
        .unwrap_or_default();
    let declared = if params.is_empty() {
        "no parameters are declared in [command.params]".to_string()
    } else {
        format!(
            "the declared parameters are {}",
            params
                .iter()
                .map(|p| format!("{{{}}}", p.name))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(format!(
        "unknown placeholder `{{{name}}}`{hint}; {declared}, and the worker's are {}",
        builtin_names()
    ))
}

/// Seconds of a timeout: a positive number of seconds, or text such as `"90s"`, `"10m"`,
/// `"1h"`, `"1h30m"`, `"2d"` (a bare number in text is seconds).
pub fn parse_timeout(v: &toml::Value) -> Result<f64, String> {
    let seconds = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        toml::Value::String(s) => parse_duration(s)?,
        other => {
            return Err(format!(
                "`timeout` must be a duration such as \"90s\", \"10m\", \"1h\", or a number of \
                 seconds, got a {}",
                other.type_str()
            ))
        }
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("`timeout` must be above 0 seconds, got {seconds}"));
    }
    Ok(seconds)
}

fn parse_duration(text: &str) -> Result<f64, String> {
    let bad = || {
        format!(
            "`timeout` = {text:?} is not a duration: write e.g. \"90s\", \"10m\", \"1h\", \
             \"1h30m\" or \"2d\" (s, m, h, d), or a number of seconds"
        )
    };
    let t = text.trim();
    if let Ok(s) = t.parse::<f64>() {
        return Ok(s);
    }
    let mut total = 0.0;
    let mut rest = t;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        total += n * match unit {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => return Err(bad()),
        };
        rest = rest[digits + unit.len_utf8()..].trim_start();
    }
    Ok(total)
}

/// `90s`, `10m`, `1h30m` for messages.
pub fn duration_text(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    if (seconds - whole as f64).abs() > 1e-9 || whole < 60 {
        return format!("{seconds} s");
    }
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    let mut out = String::new();
    for (n, u) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{u}"));
        }
    }
    out
}

/// Reads `[command]`; `line` gives the 1-based line of a byte offset of the spec text,
/// `key_line(from, key)` the line of the first `key =` at or after byte `from`, and
/// `table_line` is the line of the `[command]` header (when there is one).
pub(crate) fn read_command(
    raw: RawWithParams,
    table_line: Option<usize>,
    line: &dyn Fn(usize) -> usize,
    key_line: &dyn Fn(usize, &str) -> Option<usize>,
) -> Result<CommandSpec, TableError> {
    let err = |line: Option<usize>, key: &str, message: String| TableError {
        line,
        field: if key.is_empty() {
            "command".to_string()
        } else {
            format!("command.{key}")
        },
        message,
    };
    let mut argv = None;
    let mut workdir = PathBuf::from(".");
    let mut timeout = None;
    let mut output = None;
    let mut inputs = Vec::new();
    let mut env = Vec::new();
    let mut params = Vec::new();
    let mut key_lines = Vec::new();
    let mut param_lines = Vec::new();
    let strings = |key: &str,
                   at: Option<usize>,
                   v: &toml::Value|
     -> Result<Vec<String>, TableError> {
        let toml::Value::Array(items) = v else {
            return Err(err(
                at,
                key,
                format!("`{key}` must be a list of strings, got a {}", v.type_str()),
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(k, item)| match item {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(err(
                    at,
                    key,
                    format!(
                        "`{key}` must be a list of strings; item {k} is a {} (quote numbers: \"{other}\")",
                        other.type_str()
                    ),
                )),
            })
            .collect()
    };
    for (key, span, value) in raw.0 {
        let at = span.as_ref().map(|s| line(s.start)).or(table_line);
        let v = match value {
            RawEntry::Params(decls) => {
                for (spec, decl_line) in
                    read_declarations("command", decls, &check_param_name, line, key_line)?
                {
                    param_lines.push((spec.name.clone(), decl_line));
                    params.push(spec);
                }
                continue;
            }
            RawEntry::Value(v) => v,
        };
        if let Some(l) = at {
            key_lines.push((key.clone(), l));
        }
        match key.as_str() {
            "argv" => {
                let a = strings("argv", at, &v)?;
                if a.is_empty() {
                    return Err(err(
                        at,
                        "argv",
                        "`argv` is empty; give the program and its arguments, e.g. \
                         [\"python3\", \"backtest.py\", \"--out\", \"{result}\"]"
                            .into(),
                    ));
                }
                if a[0].trim().is_empty() {
                    return Err(err(at, "argv", "the program (`argv[0]`) is empty".into()));
                }
                argv = Some((a, at));
            }
            "workdir" => match v {
                toml::Value::String(s) if !s.is_empty() => workdir = PathBuf::from(s),
                other => {
                    return Err(err(
                        at,
                        "workdir",
                        format!(
                            "`workdir` must be a directory (a non-empty string), got `{other}`"
                        ),
                    ))
                }
            },
            "timeout" => timeout = Some(parse_timeout(&v).map_err(|m| err(at, "timeout", m))?),
            "output" => {
                let names = OutputFormat::ALL.map(OutputFormat::name);
                let format = match &v {
                    toml::Value::String(s) => OutputFormat::from_name(s).ok_or_else(|| {
                        let hint = expr::closest(s, &names)
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default();
                        format!(
                            "unknown output `{s}`{hint}; the output is one of {}",
                            names.join(", ")
                        )
                    }),
                    other => Err(format!(
                        "`output` must be one of {}, got a {}",
                        names.join(", "),
                        other.type_str()
                    )),
                }
                .map_err(|m| err(at, "output", m))?;
                output = Some(format);
            }
            "inputs" => {
                for i in strings("inputs", at, &v)? {
                    if i.is_empty() {
                        return Err(err(at, "inputs", "an input is an empty path".into()));
                    }
                    inputs.push(PathBuf::from(i));
                }
            }
            "env" => {
                let toml::Value::Table(t) = v else {
                    return Err(err(
                        at,
                        "env",
                        format!(
                            "`env` must be a table of strings such as {{ PYTHONHASHSEED = \"0\" }}, got a {}",
                            v.type_str()
                        ),
                    ));
                };
                for (k, value) in t {
                    let toml::Value::String(value) = value else {
                        return Err(err(
                            at,
                            "env",
                            format!("`{k}` must be a string (quote it: \"{value}\")"),
                        ));
                    };
                    if k.is_empty() || k.contains(['=', '\0']) {
                        return Err(err(
                            at,
                            "env",
                            format!("`{k}` cannot name an environment variable"),
                        ));
                    }
                    if k.starts_with(ENV_PREFIX) {
                        return Err(err(
                            at,
                            "env",
                            format!(
                                "`{k}`: names starting with {ENV_PREFIX} are the worker's \
                                 ({ENV_PREFIX}PARAM_<name>, {ENV_PREFIX}RESULT, ...)"
                            ),
                        ));
                    }
                    if value.contains('\0') {
                        return Err(err(at, "env", format!("`{k}` has a NUL byte")));
                    }
                    // Only the syntax now: the variables are the node's.
                    expand_env(&value, |_| Some("x".to_string()))
                        .map_err(|m| err(at, "env", format!("`{k}`: {m}")))?;
                    env.push((k.clone(), value.clone()));
                }
            }
            other => {
                let hint = expr::closest(other, &COMMAND_KEYS)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                return Err(err(
                    at,
                    other,
                    format!(
                        "unknown key `{other}` in [command]{hint}; [command] holds {} and the \
                         table [command.params]",
                        COMMAND_KEYS[..6]
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
    let table_line = table_line.or_else(|| key_lines.first().map(|(_, l)| *l));
    let Some((argv, argv_line)) = argv else {
        return Err(err(
            table_line,
            "argv",
            "[command] needs `argv`, the program and its arguments, e.g. \
             [\"python3\", \"backtest.py\", \"--out\", \"{result}\"]"
                .into(),
        ));
    };
    let Some(output) = output else {
        return Err(err(
            table_line,
            "output",
            format!(
                "[command] needs `output`, what the program writes to {{result}}: {}",
                OutputFormat::ALL.map(OutputFormat::name).join(", ")
            ),
        ));
    };
    for (k, a) in argv.iter().enumerate() {
        let arg = classify(a, &params).map_err(|m| err(argv_line, "argv", m))?;
        if k == 0 && arg != Arg::Literal(a.clone()) {
            return Err(err(
                argv_line,
                "argv",
                format!(
                    "the program (`argv[0]` = `{a}`) cannot be a placeholder: planning checks \
                     that it exists; pass the choice as an argument"
                ),
            ));
        }
    }
    Ok(CommandSpec {
        argv,
        workdir,
        timeout,
        output,
        inputs,
        env,
        params,
        line: table_line,
        key_lines,
        param_lines,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::{Spec, SpecError};

    use super::*;

    const COMMAND: &str = r#"name = "cmd"
strategy = "command"

[command]
argv = ["python3", "run.py", "--w", "{w}", "--out", "{result}", "{combo}"]
timeout = "1h30m"
output = "equity_csv"
inputs = ["run.py"]
env = { PYTHONHASHSEED = "0", DATA = "${HOME}/data" }

[command.params]
w = { type = "float", default = 0.6, min = 0.0, max = 1.0 }
kind = { type = "choice", choices = ["a", "b c"], default = "a" }

[params]
w = { from = 0.0, to = 1.0, step = 0.5 }
"#;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("sweeps/c.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("an error").to_string()
    }

    #[test]
    fn reads_every_key_with_its_line() {
        let s = parse(COMMAND).expect("valid");
        let c = s.command.as_ref().expect("command");
        assert_eq!(c.argv[0], "python3");
        assert_eq!(c.timeout, Some(5400.0));
        assert_eq!(c.output, OutputFormat::EquityCsv);
        assert_eq!(c.inputs, [PathBuf::from("run.py")]);
        // In name order (as TOML tables are read).
        assert_eq!(c.env[0], ("DATA".into(), "${HOME}/data".into()));
        assert_eq!(c.line, Some(4));
        assert_eq!(c.line_of("timeout"), Some(6));
        assert_eq!(c.param_line("kind"), Some(13));
        assert!(s.data.is_none(), "[data] is optional");
        let args = c.args();
        assert_eq!(args[3], Arg::Param("w".into()));
        assert_eq!(args[5], Arg::Builtin(Builtin::Result));
        assert_eq!(args[6], Arg::Builtin(Builtin::Combo));
    }

    #[test]
    fn the_syntax_shown_by_bt_worker_is_a_valid_spec() {
        let text = format!("name = \"x\"\n{SPEC_SYNTAX}\n\n[params]\nw_SPY = [0.5, 0.6]\n");
        let s = parse(&text).expect("SPEC_SYNTAX parses");
        assert_eq!(
            s.command.expect("command").output,
            OutputFormat::QstraderJson
        );
    }

    #[test]
    fn errors_name_file_line_and_field() {
        for (from, to, want) in [
            ("\"{w}\", \"--out\"", "\"--w={w}\", \"--out\"", "sweeps/c.toml:5: `command.argv`: `--w={w}`: placeholders replace whole arguments only"),
            ("\"{combo}\"", "\"{reslt}\"", "sweeps/c.toml:5: `command.argv`: unknown placeholder `{reslt}` (did you mean `{result}`?); the declared parameters are {w}, {kind}, and the worker's are {result}, {scratch}, {params_json}, {combo}, {task}"),
            ("[\"python3\", ", "[\"{kind}\", ", "sweeps/c.toml:5: `command.argv`: the program (`argv[0]` = `{kind}`) cannot be a placeholder"),
            ("argv = [\"python3\", \"run.py\", \"--w\", \"{w}\", \"--out\", \"{result}\", \"{combo}\"]", "argv = []", "sweeps/c.toml:5: `command.argv`: `argv` is empty"),
            ("argv = [\"python3\", \"run.py\", \"--w\", \"{w}\", \"--out\", \"{result}\", \"{combo}\"]", "argv = [\"x\", 1]", "sweeps/c.toml:5: `command.argv`: `argv` must be a list of strings; item 1 is a integer"),
            ("timeout = \"1h30m\"", "timeout = \"ten minutes\"", "sweeps/c.toml:6: `command.timeout`: `timeout` = \"ten minutes\" is not a duration"),
            ("timeout = \"1h30m\"", "timeout = 0", "sweeps/c.toml:6: `command.timeout`: `timeout` must be above 0 seconds"),
            ("output = \"equity_csv\"", "output = \"equity_cvs\"", "sweeps/c.toml:7: `command.output`: unknown output `equity_cvs` (did you mean `equity_csv`?)"),
            ("output = \"equity_csv\"\n", "", "sweeps/c.toml:4: `command.output`: [command] needs `output`"),
            ("timeout = \"1h30m\"", "timeuot = 5", "sweeps/c.toml:6: `command.timeuot`: unknown key `timeuot` in [command] (did you mean `timeout`?)"),
            ("PYTHONHASHSEED = \"0\"", "SWEEP_X = \"0\"", "sweeps/c.toml:9: `command.env`: `SWEEP_X`: names starting with SWEEP_ are the worker's"),
            ("PYTHONHASHSEED = \"0\"", "PYTHONHASHSEED = 0", "sweeps/c.toml:9: `command.env`: `PYTHONHASHSEED` must be a string"),
            ("${HOME}/data", "${HOME/data", "sweeps/c.toml:9: `command.env`: `DATA`: `${` without a closing `}`"),
            ("max = 1.0 }", "max = 1.0, hepl = \"x\" }", "sweeps/c.toml:12: `command.params.w.hepl`: unknown field `hepl` (did you mean `help`?)"),
            ("w = { type = \"float\", default = 0.6", "result = { type = \"float\", default = 0.6", "sweeps/c.toml:12: `command.params.result`: `result` cannot name a parameter: `{result}` is a placeholder"),
            ("w = { type = \"float\", default = 0.6", "w-x = { type = \"float\", default = 0.6", "sweeps/c.toml:12: `command.params.w-x`: `w-x` cannot name a parameter of a command"),
        ] {
            assert!(COMMAND.contains(from), "{from}");
            let msg = error(&COMMAND.replacen(from, to, 1));
            assert!(msg.starts_with(want), "{to}:\n{msg}");
        }
    }

    #[test]
    fn command_and_strategy_go_together() {
        let msg = error(&COMMAND.replace("strategy = \"command\"", "strategy = \"ma_cross\""));
        assert!(
            msg.starts_with(
                "sweeps/c.toml:4: `command`: [command] is read only with `strategy = \"command\"`"
            ),
            "{msg}"
        );
        let cut = COMMAND.find("[command]").expect("command");
        let end = COMMAND.find("[params]").expect("params");
        let without = format!("{}{}", &COMMAND[..cut], &COMMAND[end..]);
        let msg = error(&without);
        assert!(
            msg.starts_with(
                "sweeps/c.toml:2: `strategy`: strategy `command` needs a [command] table"
            ),
            "{msg}"
        );
        // [data] is optional for a command only.
        let msg = error(&COMMAND.replace("strategy = \"command\"", "strategy = \"rules\""));
        assert!(msg.contains("needs a [rules] table"), "{msg}");
        let builtin = "name = \"b\"\nstrategy = \"ma_cross\"\n[params]\nfast = [5]\n";
        let msg = error(builtin);
        assert!(
            msg.starts_with("sweeps/c.toml:2: `data`: strategy `ma_cross` needs a [data] table"),
            "{msg}"
        );
    }

    #[test]
    fn backtest_takes_only_the_split_and_keep_returns() {
        let with =
            |b: &str| COMMAND.replace("[command]\n", &format!("[backtest]\n{b}\n\n[command]\n"));
        let s = parse(&with("split = 2010-01-04\nkeep_returns = true")).expect("valid");
        assert!(s.backtest.keep_returns.any() && s.backtest.split.is_some());
        let msg = error(&with("split = 2010-01-04\ncommission_bps = 5"));
        assert!(
            msg.starts_with("sweeps/c.toml:6: `backtest.commission_bps`: a command sweep's [backtest] takes only `split`, `keep_returns` and `pbo_blocks`"),
            "{msg}"
        );
    }

    #[test]
    fn normalised_spec_round_trips_and_the_hash_covers_the_command() {
        let s = parse(COMMAND).expect("valid");
        let text = s.to_toml().expect("toml");
        assert!(text.contains("[command.params.w]"), "{text}");
        assert!(!text.contains("[data]"), "{text}");
        assert!(text.contains("${HOME}/data"), "env kept as written: {text}");
        let back = parse(&text).expect("re-read");
        assert_eq!(
            back.command,
            s.command.clone().map(|c| CommandSpec {
                key_lines: back.command.as_ref().expect("c").key_lines.clone(),
                param_lines: back.command.as_ref().expect("c").param_lines.clone(),
                line: back.command.as_ref().expect("c").line,
                ..c
            })
        );
        assert_eq!(back.to_toml().expect("again"), text, "stable");
        let hash = crate::identity::spec_hash(&s).expect("hash");
        for (a, b) in [
            ("\"--w\"", "\"--weight\""),
            ("1h30m", "1h"),
            ("\"0\", DATA", "\"1\", DATA"),
        ] {
            let edited = parse(&COMMAND.replace(a, b)).expect("ok");
            assert_ne!(
                crate::identity::spec_hash(&edited).expect("hash"),
                hash,
                "{b}"
            );
        }
    }

    #[test]
    fn resolve_expands_and_makes_the_workdir_absolute() {
        let mut c = parse(COMMAND).expect("valid").command.expect("c");
        c.argv[0] = "${PY:-python3}".into();
        c.inputs[0] = "$$lit/${D}.py".into();
        c.workdir = "sub".into();
        let env = |v: &str| (v == "D").then(|| "x".to_string());
        c.resolve(Path::new("/base"), &env).expect("resolves");
        assert_eq!(c.argv[0], "python3");
        assert_eq!(c.inputs[0], PathBuf::from("$lit/x.py"));
        assert_eq!(c.workdir, PathBuf::from("/base/sub"));
        let text = toml::to_string(&c.normalised()).expect("toml");
        assert!(text.contains("\"$$lit/x.py\""), "{text}");
        c.argv[1] = "$NOPE".into();
        assert_eq!(
            c.resolve(Path::new("/base"), &env).map_err(|e| e.0),
            Err("argv")
        );
    }

    #[test]
    fn values_runs_and_environment() {
        assert_eq!(value_text(&ParamValue::Float(1.0)), "1.0");
        assert_eq!(value_text(&ParamValue::Float(0.6)), "0.6");
        assert_eq!(value_text(&ParamValue::Int(7)), "7");
        assert_eq!(value_text(&ParamValue::Str("a b".into())), "a b");
        let c = parse(COMMAND).expect("valid").command.expect("c");
        let params: Params = [
            ("w".to_string(), ParamValue::Float(0.5)),
            ("kind".to_string(), ParamValue::Str("b c".into())),
        ]
        .into_iter()
        .collect();
        let paths = RunPaths {
            result: Path::new("/s/equity.csv"),
            scratch: Path::new("/s"),
            params_json: Path::new("/s/params.json"),
            combo: 12,
            task: 3,
        };
        let argv = c.argv_for(&params, &paths);
        assert_eq!(
            argv,
            [
                "python3",
                "run.py",
                "--w",
                "0.5",
                "--out",
                "/s/equity.csv",
                "12"
            ]
            .map(std::ffi::OsString::from)
        );
        let env = c.sweep_env(&params, &paths);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("SWEEP_PARAM_kind"), Some("b c"));
        assert_eq!(get("SWEEP_PARAM_w"), Some("0.5"));
        assert_eq!(get("SWEEP_OUTPUT"), Some("equity_csv"));
        assert_eq!(get("SWEEP_TASK"), Some("3"));
        let expanded = c
            .expanded_env(|v| (v == "HOME").then(|| "/home/u".to_string()))
            .expect("expands");
        assert_eq!(expanded[0].1, "/home/u/data");
        let err = c.expanded_env(|_| None).expect_err("unset");
        assert!(err.contains("`DATA`") && err.contains("HOME"), "{err}");
    }

    #[test]
    fn timeouts() {
        let t = |s: &str| parse_timeout(&toml::Value::String(s.into()));
        assert_eq!(t("90s"), Ok(90.0));
        assert_eq!(t("10m"), Ok(600.0));
        assert_eq!(t("1h30m"), Ok(5400.0));
        assert_eq!(t("1.5h"), Ok(5400.0));
        assert_eq!(t("2d"), Ok(172800.0));
        assert_eq!(t("45"), Ok(45.0));
        assert!(t("").is_err() && t("10 minutes").is_err() && t("m").is_err());
        assert_eq!(parse_timeout(&toml::Value::Integer(600)), Ok(600.0));
        assert_eq!(duration_text(5400.0), "1h30m");
        assert_eq!(duration_text(2.5), "2.5 s");
    }

    #[test]
    fn finds_the_program() {
        let dir = tempfile::tempdir().expect("tmp");
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").expect("write");
        let mut c = parse(COMMAND).expect("valid").command.expect("c");
        c.workdir = dir.path().to_path_buf();
        c.argv[0] = "./run.sh".into();
        let err = c.find_program(None).expect_err("not executable");
        assert!(err.contains("is not executable"), "{err}");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(c.find_program(None), Ok(dir.path().join("run.sh")));
        c.argv[0] = "run.sh".into();
        assert_eq!(
            c.find_program(Some(dir.path().as_os_str())),
            Ok(dir.path().join("run.sh"))
        );
        let err = c
            .find_program(Some(std::ffi::OsStr::new("/nonexistent")))
            .expect_err("off PATH");
        assert!(
            err.contains("`run.sh` is not on PATH (/nonexistent)"),
            "{err}"
        );
    }
}
