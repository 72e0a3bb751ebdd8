//! Helpers shared by the integration tests: sample plans, temp dirs, running bash, the real
//! data's place, and reading a command's output.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use sweep_core::plan::{split_arrays, task_count, Plan, PLAN_SCHEMA};

/// A plan of `combos` combinations, `per` per task, arrays of at most `max` tasks.
pub fn sample_plan(name: &str, combos: u64, per: u64, max: u64, throttle: Option<u32>) -> Plan {
    let tasks = task_count(combos, per);
    let created: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .expect("date")
        .with_timezone(&Utc);
    Plan {
        schema: PLAN_SCHEMA.into(),
        name: name.into(),
        hash: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        spec_hash: "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210".into(),
        data: vec![],
        inputs: vec![],
        strategy: "ma_cross".into(),
        combos,
        combos_per_task: per,
        tasks,
        manifest_index: None,
        max_array_size: max,
        arrays: split_arrays(tasks, max),
        throttle,
        tool_version: "0.1.0".into(),
        created,
        walk_forward: None,
    }
}

/// Runs `bash -n` on a script's text; panics with bash's message when it fails.
pub fn bash_syntax_ok(script: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("script.sh");
    std::fs::write(&path, script).expect("write script");
    let out = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash -n failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes an executable shell script.
pub fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write executable");
    let mut perm = std::fs::metadata(path).expect("stat").permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(path, perm).expect("chmod");
}

/// Every file below `dir` (recursively).
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// SLURM's parsing of the arguments of one `#SBATCH` line (src/sbatch/opt.c
/// `_get_argument`): backslash escapes the next character, `"` or `'` quote, an unquoted
/// unescaped `#` ends the line.
pub fn slurm_directive_args(line: &str) -> Vec<String> {
    let rest = line.strip_prefix("#SBATCH").expect("an #SBATCH line");
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        let mut escape = false;
        let mut comment = false;
        while let Some(&c) = chars.peek() {
            // As in SLURM, whitespace outside quotes ends the argument even after a `\`.
            if quote.is_none() && c.is_whitespace() {
                break;
            }
            chars.next();
            if escape {
                escape = false;
                arg.push(c);
            } else if c == '\\' {
                escape = true;
            } else if let Some(q) = quote {
                if c == q {
                    quote = None;
                } else {
                    arg.push(c);
                }
            } else if c == '"' || c == '\'' {
                quote = Some(c);
            } else if c == '#' {
                comment = true;
                break;
            } else {
                arg.push(c);
            }
        }
        assert!(quote.is_none(), "unmatched quote in {line:?}");
        if !arg.is_empty() {
            args.push(arg);
        }
        if comment {
            break;
        }
    }
    args
}

/// The value of `#SBATCH --<name>=...` in a script, as SLURM reads it.
pub fn directive(script: &str, name: &str) -> Option<String> {
    let prefix = format!("--{name}=");
    script
        .lines()
        .filter(|l| l.starts_with("#SBATCH"))
        .flat_map(slurm_directive_args)
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
}

/// The real data beside the checkout (`$SLURM_SWEEP_DATA`, else `<workspace>/../shared/data`).
pub fn real_data() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// A command's exit status, stdout and stderr, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A command's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The permission bits of `p`.
pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o7777
}
