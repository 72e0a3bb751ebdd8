//! Rendering of the SLURM batch scripts (`array.sbatch`, `collect.sbatch`, `smoke.sbatch`)
//! from the tera templates in `slurm/`.
//!
//! The templates are built into the binary. A user overrides any of them by putting a file
//! of the same name (`array.sbatch.tera`, `collect.sbatch.tera`, `smoke.sbatch.tera`) in a
//! directory given by `--templates DIR`, else by `$SLURM_SWEEP_TEMPLATES`; templates not
//! found there fall back to the built-in ones.
//!
//! Safety: every value pasted into a shell line goes through the `sh` filter (POSIX single
//! quotes, `'` written as `'\''`), and every value pasted into an `#SBATCH` line goes
//! through the `sbatch` filter (backslash escapes, which SLURM's own `#SBATCH` parser
//! honours). Control characters (a newline would start a new `#SBATCH` directive or shell
//! command) are refused with an error naming the field before anything is rendered.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sweep_core::plan::{ArrayChunk, Plan};
use sweep_core::spec::{ContainerRuntime, SlurmConfig};

/// The environment variable naming a directory of template overrides.
pub const TEMPLATES_ENV: &str = "SLURM_SWEEP_TEMPLATES";

/// Name of the job-array template.
pub const ARRAY_TEMPLATE: &str = "array.sbatch.tera";
/// Name of the collect-job template.
pub const COLLECT_TEMPLATE: &str = "collect.sbatch.tera";
/// Name of the smoke-test template.
pub const SMOKE_TEMPLATE: &str = "smoke.sbatch.tera";

const BUILTIN: [(&str, &str); 3] = [
    (
        ARRAY_TEMPLATE,
        include_str!("../../../slurm/array.sbatch.tera"),
    ),
    (
        COLLECT_TEMPLATE,
        include_str!("../../../slurm/collect.sbatch.tera"),
    ),
    (
        SMOKE_TEMPLATE,
        include_str!("../../../slurm/smoke.sbatch.tera"),
    ),
];

/// Why a script could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{field} contains a control character (newline, tab, ...) at byte {at}: {value:?}; it cannot go into a batch script")]
    ControlCharacter {
        field: String,
        value: String,
        at: usize,
    },
    #[error("{field} is empty")]
    Empty { field: String },
    #[error(
        "{field} `{value}` contains `{ch}`, which the container runtime's bind syntax cannot hold"
    )]
    BindPath {
        field: String,
        value: String,
        ch: char,
    },
    #[error("[slurm] {0}")]
    Slurm(sweep_core::spec::SlurmError),
    #[error("cannot read template {path}")]
    ReadTemplate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
}

/// A set of templates: the built-in ones, with overrides from a directory.
#[derive(Debug)]
pub struct Templates {
    tera: tera::Tera,
    /// Where each template came from (`built-in` or a path), for messages.
    pub origins: HashMap<String, String>,
}

impl Templates {
    /// The built-in templates only.
    pub fn builtin() -> Result<Templates, RenderError> {
        Templates::load(None)
    }

    /// The built-in templates, each replaced by `<dir>/<name>` when that file exists.
    pub fn load(dir: Option<&Path>) -> Result<Templates, RenderError> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        tera.register_filter("sh", sh_filter);
        tera.register_filter("sbatch", sbatch_filter);
        let mut origins = HashMap::new();
        for (name, builtin) in BUILTIN {
            let (text, origin) = match dir.map(|d| d.join(name)) {
                Some(path) if path.is_file() => {
                    let text = std::fs::read_to_string(&path).map_err(|source| {
                        RenderError::ReadTemplate {
                            path: path.clone(),
                            source,
                        }
                    })?;
                    (text, path.display().to_string())
                }
                _ => (builtin.to_string(), "built-in".to_string()),
            };
            tera.add_raw_template(name, &text)
                .map_err(|e| template_error(name, &e))?;
            origins.insert(name.to_string(), origin);
        }
        Ok(Templates { tera, origins })
    }

    /// The templates chosen by `--templates DIR`, else `$SLURM_SWEEP_TEMPLATES`, else built-in.
    pub fn from_option_or_env(dir: Option<&Path>) -> Result<Templates, RenderError> {
        match dir {
            Some(d) => Templates::load(Some(d)),
            None => match std::env::var_os(TEMPLATES_ENV) {
                Some(d) if !d.is_empty() => Templates::load(Some(Path::new(&d))),
                _ => Templates::builtin(),
            },
        }
    }

    fn render(&self, name: &str, data: &impl Serialize) -> Result<String, RenderError> {
        let context = tera::Context::from_serialize(data).map_err(|e| template_error(name, &e))?;
        self.tera
            .render(name, &context)
            .map_err(|e| template_error(name, &e))
    }
}

fn template_error(name: &str, e: &tera::Error) -> RenderError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    RenderError::Template {
        name: name.to_string(),
        message,
    }
}

/// Where the scripts of one sweep run: the sweep directory and the shared filesystem.
#[derive(Clone, Debug)]
pub struct RenderContext {
    /// The sweep directory as the nodes see it (absolute).
    pub sweep_dir: PathBuf,
    /// The shared filesystem's root (holds `bin/<arch>/bt-worker`).
    pub sharedfs: PathBuf,
}

/// Quotes `value` for a POSIX shell: `'...'`, with each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Escapes `value` for an `#SBATCH` line. SLURM's script parser splits arguments at
/// whitespace outside quotes, strips `"` and `'` quotes, removes a `\` before any character
/// and ends the line at an unescaped `#`. Values made only of `[A-Za-z0-9._/:%@+=,-]` are
/// written as they are; others go inside `"..."` with `\`, `"`, `'` and `#` escaped by a
/// backslash. Control characters are refused (their byte offset is the error).
pub fn sbatch_escape(value: &str) -> Result<String, usize> {
    if let Some((at, _)) = value.char_indices().find(|(_, c)| c.is_control()) {
        return Err(at);
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "._/:%@+=,-".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return Ok(value.to_string());
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '\'' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// Escapes `%` for a SLURM file name pattern (`%%` is a literal `%`).
fn escape_filename_pattern(value: &str) -> String {
    value.replace('%', "%%")
}

fn value_as_string(value: &tera::Value) -> String {
    match value {
        tera::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn sh_filter(value: &tera::Value, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let s = value_as_string(value);
    if s.contains('\0') {
        return Err(tera::Error::msg(format!(
            "value {s:?} contains a NUL byte and cannot be passed to a shell"
        )));
    }
    Ok(tera::Value::String(shell_quote(&s)))
}

fn sbatch_filter(
    value: &tera::Value,
    _: &HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let s = value_as_string(value);
    sbatch_escape(&s).map(tera::Value::String).map_err(|at| {
        tera::Error::msg(format!(
            "value {s:?} has a control character at byte {at} and cannot go into an #SBATCH line"
        ))
    })
}

/// Refuses control characters in a value that goes into a script.
pub fn check_line(field: &str, value: &str) -> Result<(), RenderError> {
    match value.char_indices().find(|(_, c)| c.is_control()) {
        Some((at, _)) => Err(RenderError::ControlCharacter {
            field: field.to_string(),
            value: value.to_string(),
            at,
        }),
        None => Ok(()),
    }
}

fn check_path(field: &str, path: &Path) -> Result<String, RenderError> {
    let s = path.to_string_lossy().into_owned();
    if s.is_empty() {
        return Err(RenderError::Empty {
            field: field.to_string(),
        });
    }
    check_line(field, &s)?;
    Ok(s)
}

/// Checks every `[slurm]` value that goes into a script, with the rules planning uses
/// ([`SlurmConfig::validate`]).
pub fn check_slurm_config(slurm: &SlurmConfig) -> Result<(), RenderError> {
    slurm.validate().map_err(RenderError::Slurm)
}

#[derive(Serialize)]
struct ContainerData {
    runtime: &'static str,
    image: String,
    args: Vec<String>,
    /// Paths bound at the same place inside the container.
    binds: Vec<String>,
}

#[derive(Serialize)]
struct ArrayData<'a> {
    tool_version: &'static str,
    sweep_name: &'a str,
    plan_hash8: &'a str,
    job_name: String,
    sweep_dir: String,
    sharedfs: String,
    array: String,
    offset: u64,
    last_task: u64,
    chunk_number: usize,
    chunk_total: usize,
    cpus_per_task: u32,
    output: String,
    error: String,
    slurm: &'a SlurmConfig,
    worker: Option<String>,
    container: Option<ContainerData>,
}

/// The `--array` spec of a whole chunk: `0-<count-1>`, with `%throttle` when set.
pub fn chunk_array_spec(chunk: &ArrayChunk, throttle: Option<u32>) -> String {
    let list = format!("0-{}", chunk.count.saturating_sub(1));
    with_throttle(&list, throttle)
}

/// Appends `%throttle` to an `--array` index list when a throttle is set.
pub fn with_throttle(list: &str, throttle: Option<u32>) -> String {
    match throttle {
        Some(t) if t > 0 => format!("{list}%{t}"),
        _ => list.to_string(),
    }
}

fn container_data(
    slurm: &SlurmConfig,
    sweep_dir: &str,
    sharedfs: &str,
) -> Result<Option<ContainerData>, RenderError> {
    let Some(c) = &slurm.container else {
        return Ok(None);
    };
    let mut binds = vec![sharedfs.to_string()];
    if !Path::new(sweep_dir).starts_with(sharedfs) {
        binds.push(sweep_dir.to_string());
    }
    for (field, b) in [
        ("shared filesystem path", sharedfs),
        ("sweep directory", sweep_dir),
    ] {
        if let Some(ch) = b.chars().find(|&ch| ch == ':' || ch == ',') {
            if binds.iter().any(|x| x == b) {
                return Err(RenderError::BindPath {
                    field: field.to_string(),
                    value: b.to_string(),
                    ch,
                });
            }
        }
    }
    Ok(Some(ContainerData {
        runtime: match c.runtime {
            ContainerRuntime::Apptainer => "apptainer",
            ContainerRuntime::Docker => "docker",
            ContainerRuntime::Podman => "podman",
        },
        image: c.image.clone(),
        args: c.args.clone(),
        binds,
    }))
}

/// Renders the job-array script of array chunk `chunk_number` (0-based) of `plan`.
///
/// The script holds no parameter value: the task runs `bt-worker task --sweep-dir DIR`
/// with `SWEEP_TASK_OFFSET` set to the chunk's offset, and exits with the worker's status.
pub fn render_array(
    templates: &Templates,
    plan: &Plan,
    slurm: &SlurmConfig,
    ctx: &RenderContext,
    chunk_number: usize,
) -> Result<String, RenderError> {
    let chunk = plan
        .arrays
        .get(chunk_number)
        .copied()
        .ok_or_else(|| RenderError::Template {
            name: ARRAY_TEMPLATE.into(),
            message: format!(
                "the plan has {} arrays, array {chunk_number} was asked for",
                plan.arrays.len()
            ),
        })?;
    check_slurm_config(slurm)?;
    check_line("sweep name", &plan.name)?;
    let sweep_dir = check_path("sweep directory", &ctx.sweep_dir)?;
    let sharedfs = check_path("shared filesystem path", &ctx.sharedfs)?;
    let logs = escape_filename_pattern(&format!("{sweep_dir}/logs"));
    let data = ArrayData {
        tool_version: sweep_core::TOOL_VERSION,
        sweep_name: &plan.name,
        plan_hash8: plan.hash8(),
        job_name: slurm.job_name.clone().unwrap_or_else(|| plan.name.clone()),
        array: chunk_array_spec(&chunk, plan.throttle.or(slurm.throttle)),
        offset: chunk.offset,
        last_task: chunk.offset + chunk.count.saturating_sub(1),
        chunk_number: chunk_number + 1,
        chunk_total: plan.arrays.len(),
        cpus_per_task: slurm.cpus_per_task.unwrap_or(1),
        output: format!("{logs}/%A_%a.out"),
        error: format!("{logs}/%A_%a.err"),
        slurm,
        worker: slurm
            .worker
            .as_ref()
            .map(|w| w.to_string_lossy().into_owned()),
        container: container_data(slurm, &sweep_dir, &sharedfs)?,
        sweep_dir,
        sharedfs,
    };
    templates.render(ARRAY_TEMPLATE, &data)
}

#[derive(Serialize)]
struct CollectData<'a> {
    tool_version: &'static str,
    sweep_name: &'a str,
    plan_hash8: &'a str,
    job_name: String,
    sweep_dir: String,
    sharedfs: String,
    output: String,
    error: String,
    slurm: &'a SlurmConfig,
}

/// Renders the collect job (`collect DIR --report`), submitted after the arrays with
/// `--dependency=afterany:...`.
pub fn render_collect(
    templates: &Templates,
    plan: &Plan,
    slurm: &SlurmConfig,
    ctx: &RenderContext,
) -> Result<String, RenderError> {
    check_slurm_config(slurm)?;
    check_line("sweep name", &plan.name)?;
    let sweep_dir = check_path("sweep directory", &ctx.sweep_dir)?;
    let sharedfs = check_path("shared filesystem path", &ctx.sharedfs)?;
    let logs = escape_filename_pattern(&format!("{sweep_dir}/logs"));
    let job_name = slurm.job_name.clone().unwrap_or_else(|| plan.name.clone());
    let data = CollectData {
        tool_version: sweep_core::TOOL_VERSION,
        sweep_name: &plan.name,
        plan_hash8: plan.hash8(),
        job_name: format!("{job_name}-collect"),
        output: format!("{logs}/collect_%j.out"),
        error: format!("{logs}/collect_%j.err"),
        sweep_dir,
        sharedfs,
        slurm,
    };
    templates.render(COLLECT_TEMPLATE, &data)
}

/// What the smoke test runs on.
#[derive(Clone, Debug)]
pub struct SmokeContext {
    pub sharedfs: PathBuf,
    /// Where each node writes `<node>.json`.
    pub out_dir: PathBuf,
    /// The directory each node checks it can read.
    pub data_dir: PathBuf,
    /// Number of nodes (one task each).
    pub nodes: u32,
    /// An explicit node list (`node[02-04]`), or none.
    pub nodelist: Option<String>,
    pub time: String,
}

#[derive(Serialize)]
struct SmokeData<'a> {
    tool_version: &'static str,
    job_name: &'static str,
    sharedfs: String,
    out_dir: String,
    data_dir: String,
    nodes: u32,
    nodelist: Option<String>,
    time: String,
    output: String,
    error: String,
    slurm: &'a SlurmConfig,
}

/// Renders the smoke-test script: `srun` one task per node, each writing one JSON file.
pub fn render_smoke(
    templates: &Templates,
    slurm: &SlurmConfig,
    ctx: &SmokeContext,
) -> Result<String, RenderError> {
    check_slurm_config(slurm)?;
    let out_dir = check_path("smoke output directory", &ctx.out_dir)?;
    if let Some(n) = &ctx.nodelist {
        check_line("--nodelist", n)?;
    }
    check_line("--time", &ctx.time)?;
    let logs = escape_filename_pattern(&out_dir);
    let data = SmokeData {
        tool_version: sweep_core::TOOL_VERSION,
        job_name: "sweep-smoke",
        sharedfs: check_path("shared filesystem path", &ctx.sharedfs)?,
        data_dir: check_path("data directory", &ctx.data_dir)?,
        nodes: ctx.nodes,
        nodelist: ctx.nodelist.clone(),
        time: ctx.time.clone(),
        output: format!("{logs}/smoke_%j.out"),
        error: format!("{logs}/smoke_%j.err"),
        out_dir,
        slurm,
    };
    templates.render(SMOKE_TEMPLATE, &data)
}

pub use sweep_core::layout::array_script_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_escapes_single_quotes() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(x) `y`"), "'$(x) `y`'");
    }

    #[test]
    fn sbatch_escape_backslashes_specials_and_refuses_newlines() {
        assert_eq!(sbatch_escape("mycluster").as_deref(), Ok("mycluster"));
        assert_eq!(
            sbatch_escape("/tmp/a b/#x\"'").as_deref(),
            Ok("\"/tmp/a b/\\#x\\\"\\'\"")
        );
        assert_eq!(sbatch_escape("a\nb"), Err(1));
        assert_eq!(sbatch_escape("ab\t"), Err(2));
    }

    #[test]
    fn array_specs() {
        let c = ArrayChunk {
            offset: 1001,
            count: 20,
        };
        assert_eq!(chunk_array_spec(&c, None), "0-19");
        assert_eq!(chunk_array_spec(&c, Some(4)), "0-19%4");
        assert_eq!(with_throttle("3,7,12-15", Some(2)), "3,7,12-15%2");
        assert_eq!(array_script_name(0), "array.sbatch");
        assert_eq!(array_script_name(2), "array-2.sbatch");
    }

    #[test]
    fn builtin_templates_parse() {
        let t = Templates::builtin().expect("templates");
        assert_eq!(t.origins[ARRAY_TEMPLATE], "built-in");
    }
}
