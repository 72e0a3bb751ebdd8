//! Finds and runs the example commands that users read: the ```sh blocks of README.md (and
//! of docs/rules.md) and the `Examples:` sections of every `--help` page of `sweep`, `bt-worker` and `collect`
//! (subcommands found from each page's `Commands:` list). Shared by the CLI test
//! (crates/sweep/tests/suite/examples.rs, no SLURM) and the end-to-end test
//! (tests/examples.rs, a real cluster), which include this file by path.
//!
//! # How an example runs
//!
//! The examples of one source (the README, or one help page) run in order, as a person
//! would type them, by `sh -c` in one sandbox: a temporary directory whose `work/` is the
//! current directory (with `sweeps/` linking to the repository's specs), with
//!
//! * `/sharedfs` mapped to the sandbox's `sharedfs/` (also `$SLURM_SWEEP_SHAREDFS`);
//! * `../shared/data` mapped to the real data (`$SLURM_SWEEP_DATA`);
//! * `~` the sandbox's `home/`, whose `prices` links to the real `qstrader_examples` data;
//! * `<name>-1a2b3c4d` (the placeholder of a sweep directory's hash) the directory that
//!   `sweep plan sweeps/<name>.toml` gives, unmodified;
//! * `sweep`, `bt-worker` and `collect` (also `target/release/...`) the binaries under test;
//!   `dist/bin/<arch>/` holds them too, where scripts/build-release.sh would put its own.
//!
//! A comment starting `# exit N` sets the expected exit code; every other example must
//! exit 0.
//!
//! # SLURM
//!
//! Without a cluster ([`Mode::Local`]) `sweep submit` (not `--dry-run`) is replaced by what
//! the cluster would do, `sweep run --local --no-collect` of the same target, so the
//! examples after it (status, resubmit, collect) run as documented; `sweep submit
//! --test-only` and `sweep smoke --submit` need SLURM and run only in [`Mode::Slurm`], where
//! every example runs as written and the runner waits for submitted jobs to leave the queue
//! before the next example.

#![allow(dead_code)]

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Examples that are not run anywhere, each with the reason. Keep this list short.
pub const NOT_RUN: &[(&str, &str)] = &[
    (
        "cargo build --release",
        "compiles the whole workspace in the release profile (minutes on 2 cores); the \
         examples run the binaries under test instead",
    ),
    (
        "scripts/test-all.sh",
        "runs every test of the project, this one included",
    ),
    (
        "scripts/build-release.sh",
        "cross-compiles static release binaries for x86_64 and aarch64 (many minutes); \
         the sandbox's dist/bin/<arch>/ holds the binaries under test in its place",
    ),
    (
        "docker build",
        "needs a Docker daemon and builds the whole image",
    ),
    (
        "docker run",
        "needs a Docker daemon and the image of `docker build`",
    ),
];

/// Whether a SLURM cluster is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Local,
    Slurm,
}

/// One documented example command.
#[derive(Clone, Debug)]
pub struct Example {
    /// Where it is written: `README.md:123` or `sweep plan --help`.
    pub source: String,
    /// The command, continuation lines joined, without its comment.
    pub command: String,
    /// The exit code it is documented to have.
    pub expect: i32,
}

/// The examples of one source, run in order in one sandbox.
#[derive(Clone, Debug)]
pub struct Sequence {
    pub name: String,
    pub examples: Vec<Example>,
    /// Option examples in the page's prose (`-p fast=5,10,20`, `e.g. "fast,slow"`): each
    /// must appear in one of `examples`, so it is run too.
    pub inline: Vec<String>,
}

/// Splits a physical line into command and comment (` #` outside quotes).
pub fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => {
                return (line[..i].trim_end(), Some(line[i + 1..].trim()));
            }
            None => {}
        }
        prev = c;
    }
    (line.trim_end(), None)
}

/// The exit code a comment documents: `# exit N...`; else 0.
pub fn expected_code(comment: Option<&str>) -> i32 {
    comment
        .and_then(|c| c.strip_prefix("exit "))
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// The commands of shell lines: continuation lines (`\` at the end) joined, comments
/// removed, `a && b` split into `a` and `b`.
pub fn commands(lines: &[(String, &str)]) -> Vec<Example> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut source = String::new();
    for (where_, line) in lines {
        let (code, comment) = split_comment(line);
        if current.is_empty() {
            source = where_.clone();
        }
        if let Some(head) = code.strip_suffix('\\') {
            current.push_str(head.trim());
            current.push(' ');
            continue;
        }
        current.push_str(code.trim());
        let command = std::mem::take(&mut current);
        if command.trim().is_empty() {
            continue;
        }
        let expect = expected_code(comment);
        for part in command.split(" && ") {
            out.push(Example {
                source: source.clone(),
                command: part.trim().to_string(),
                expect,
            });
        }
    }
    out
}

/// The examples of README.md: every line of its ```sh blocks, in order.
pub fn readme(repo: &Path) -> Sequence {
    markdown(repo, "README.md")
}

/// The examples of the ```sh blocks of the Markdown file `name` of the repository
/// (`docs/rules.md`).
pub fn markdown(repo: &Path, name: &str) -> Sequence {
    let path = repo.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = Vec::new();
    let mut in_sh = false;
    for (n, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        if let Some(lang) = fence.strip_prefix("```") {
            in_sh = !in_sh && matches!(lang.trim(), "sh" | "bash" | "shell" | "console");
            continue;
        }
        if in_sh {
            lines.push((format!("{name}:{}", n + 1), line));
        }
    }
    Sequence {
        name: name.into(),
        examples: commands(&lines),
        inline: Vec::new(),
    }
}

/// `program args... --help`.
fn help_text(bin_dir: &Path, page: &[String]) -> String {
    let out = Command::new(bin_dir.join(&page[0]))
        .args(&page[1..])
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --help: {e}", page.join(" ")));
    assert!(
        out.status.success(),
        "`{} --help` exited with {:?}",
        page.join(" "),
        out.status.code()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines of section `title` (e.g. `Commands:`): its indented lines up to the next line
/// that is not indented.
pub fn section<'a>(text: &'a str, title: &str) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    let mut inside = false;
    for (n, line) in text.lines().enumerate() {
        if line == title {
            inside = true;
            continue;
        }
        if inside {
            if line.trim().is_empty() {
                continue;
            }
            if !line.starts_with(' ') {
                inside = false;
                continue;
            }
            out.push((n, line));
        }
    }
    out
}

/// Option examples in a help page's prose: backquoted fragments that start with `-` and
/// carry a value (`-p fast=5,10,20`), and what follows `e.g.` in quotes or backquotes.
pub fn inline_examples(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let body: String = text
        .split("\nExamples:\n")
        .next()
        .unwrap_or(text)
        .to_string();
    let mut rest = body.as_str();
    while let Some(start) = rest.find('`') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('`') else { break };
        let fragment = &after[..end];
        let eg = rest[..start].trim_end().ends_with("e.g.");
        if (fragment.starts_with('-') && (fragment.contains(' ') || fragment.contains('='))) || eg {
            out.push(fragment.to_string());
        }
        rest = &after[end + 1..];
    }
    let mut rest = body.as_str();
    while let Some(start) = rest.find("e.g. \"") {
        let after = &rest[start + 6..];
        let Some(end) = after.find('"') else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out.sort();
    out.dedup();
    out
}

/// Every help page of `program` (its subcommands', recursively), with its examples.
pub fn help_pages(bin_dir: &Path, program: &str) -> Vec<Sequence> {
    let mut out = Vec::new();
    let mut todo = vec![vec![program.to_string()]];
    while let Some(page) = todo.pop() {
        let text = help_text(bin_dir, &page);
        for (_, line) in section(&text, "Commands:") {
            if let Some(name) = line.split_whitespace().next() {
                if name != "help" {
                    let mut sub = page.clone();
                    sub.push(name.to_string());
                    todo.push(sub);
                }
            }
        }
        let name = format!("{} --help", page.join(" "));
        let lines: Vec<(String, &str)> = section(&text, "Examples:")
            .into_iter()
            .map(|(_, l)| (name.clone(), l))
            .collect();
        out.push(Sequence {
            examples: commands(&lines),
            inline: inline_examples(&text),
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// What the runner does with one example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Run this shell command; it must exit with the code given.
    Run(String, i32),
    /// Not run, for the reason given.
    NotRun(&'static str),
    /// Needs SLURM: runs only in [`Mode::Slurm`].
    SlurmOnly,
}

/// The words of a command (no quoting needed for the commands this looks at).
fn words(command: &str) -> Vec<&str> {
    command.split_whitespace().collect()
}

/// Whether the program of `command` is `sweep` (by any path) and its subcommand `sub`.
fn is_sweep(command: &str, sub: &str) -> bool {
    let w = words(command);
    let program = w
        .iter()
        .find(|w| !w.contains('='))
        .copied()
        .unwrap_or_default();
    (program == "sweep" || program.ends_with("/sweep"))
        && w.iter()
            .skip_while(|x| **x != program)
            .nth(1)
            .is_some_and(|s| *s == sub)
}

/// What to do with `example` in `mode`.
pub fn step(mode: Mode, example: &Example) -> Step {
    let command = example.command.as_str();
    if let Some((_, why)) = NOT_RUN.iter().find(|(p, _)| command.starts_with(p)) {
        return Step::NotRun(why);
    }
    let w = words(command);
    let has = |flag: &str| w.contains(&flag);
    if mode == Mode::Local {
        if (is_sweep(command, "smoke") && has("--submit"))
            || (is_sweep(command, "submit") && has("--test-only"))
        {
            return Step::SlurmOnly;
        }
        if is_sweep(command, "submit") && !has("--dry-run") {
            // What the cluster would do: run every task, here, without collect.
            let args: Vec<&str> = w
                .iter()
                .skip_while(|x| **x != "submit")
                .skip(1)
                .filter(|x| **x != "--no-collect")
                .copied()
                .collect();
            return Step::Run(
                format!("sweep run {} --local --no-collect", args.join(" ")),
                example.expect,
            );
        }
    }
    Step::Run(command.to_string(), example.expect)
}

/// The environment of a sequence of examples.
pub struct Sandbox {
    pub root: tempfile::TempDir,
    pub bin_dir: PathBuf,
    pub data: PathBuf,
    pub repo: PathBuf,
    pub mode: Mode,
    /// `<name>` -> the directory name `sweep plan sweeps/<name>.toml` gives.
    hashes: HashMap<String, String>,
}

/// `uname -m`.
fn arch() -> String {
    Command::new("uname")
        .arg("-m")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| std::env::consts::ARCH.to_string())
}

/// The longest one example may take (debug binaries on a busy 2-core machine; SLURM jobs
/// are waited for separately).
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(180);

impl Sandbox {
    pub fn new(bin_dir: &Path, data: &Path, repo: &Path, mode: Mode) -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("examples-")
            .tempdir()
            .expect("sandbox tempdir");
        let work = root.path().join("work");
        let home = root.path().join("home");
        std::fs::create_dir_all(&work).expect("mkdir work");
        std::fs::create_dir_all(&home).expect("mkdir home");
        std::fs::create_dir_all(root.path().join("sharedfs")).expect("mkdir sharedfs");
        // The repository's directories the examples name, as in a checkout.
        for dir in ["sweeps", "examples", "scripts"] {
            std::os::unix::fs::symlink(repo.join(dir), work.join(dir))
                .unwrap_or_else(|e| panic!("link {dir}: {e}"));
        }
        // QSTrader's venv (README: `PARITY_VENV=/sharedfs/venvs/qstrader
        // scripts/parity/setup.sh`): when one is ready ($PARITY_VENV, else setup.sh's
        // default), the sandbox's shared filesystem links to it and setup.sh finds it up to
        // date, as on a cluster where it was installed once; else setup.sh installs it.
        let ready = |v: &Path| {
            v.join("bin/python").is_file() && v.join(".slurm-sweep-requirements.sha256").is_file()
        };
        let mut venvs = std::env::var_os("PARITY_VENV")
            .map(PathBuf::from)
            .into_iter()
            .chain(
                std::env::var_os("HOME")
                    .map(|h| PathBuf::from(h).join(".cache/slurm-sweep/qstrader-venv")),
            );
        if let Some(venv) = venvs.find(|v| ready(v)) {
            let dir = root.path().join("sharedfs/venvs");
            std::fs::create_dir_all(&dir).expect("mkdir venvs");
            std::os::unix::fs::symlink(venv, dir.join("qstrader")).expect("link venv");
        }
        std::os::unix::fs::symlink(data.join("qstrader_examples"), home.join("prices"))
            .expect("link prices");
        Sandbox {
            root,
            bin_dir: bin_dir.to_path_buf(),
            data: data.to_path_buf(),
            repo: repo.to_path_buf(),
            mode,
            hashes: HashMap::new(),
        }
    }

    pub fn sharedfs(&self) -> PathBuf {
        self.root.path().join("sharedfs")
    }

    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    fn path_env(&self) -> std::ffi::OsString {
        let mut dirs = vec![self.bin_dir.clone()];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs).expect("PATH")
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.work())
            .env("PATH", self.path_env())
            .env("HOME", self.root.path().join("home"))
            .env("SLURM_SWEEP_SHAREDFS", self.sharedfs())
            .env("SLURM_SWEEP_DATA", &self.data)
            .env_remove("SLURM_SWEEP_TEMPLATES")
            .stdin(Stdio::null());
        c
    }

    /// The directory name of `sweeps/<name>.toml` as planned unmodified (planned once in
    /// a scratch shared filesystem: the name depends on the spec and data only).
    fn planned_name(&mut self, name: &str) -> String {
        if let Some(dir) = self.hashes.get(name) {
            return dir.clone();
        }
        let scratch = self.root.path().join("scratch-plans");
        let spec = self.repo.join("sweeps").join(format!("{name}.toml"));
        let out = self
            .command(&self.bin_dir.join("sweep").to_string_lossy())
            .arg("plan")
            .arg(&spec)
            .arg("--sharedfs")
            .arg(&scratch)
            .output()
            .expect("run sweep plan");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("dir:"))
            .and_then(|d| Path::new(d.trim()).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| {
                panic!(
                    "`sweep plan {}` gave no directory: {stdout}{}",
                    spec.display(),
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        self.hashes.insert(name.to_string(), dir.clone());
        dir
    }

    /// The command with the documented paths mapped into the sandbox.
    pub fn map(&mut self, command: &str) -> String {
        const PLACEHOLDER: &str = "-1a2b3c4d";
        let mut text = command.to_string();
        while let Some(at) = text.find(PLACEHOLDER) {
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let name = text[start..at].to_string();
            let dir = self.planned_name(&name);
            text.replace_range(start..at + PLACEHOLDER.len(), &dir);
        }
        let sharedfs = self.sharedfs().display().to_string();
        let mut mapped = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("/sharedfs") {
            let before = rest[..at].chars().last();
            let after = rest[at + "/sharedfs".len()..].chars().next();
            let is_root = before.is_none_or(|c| " =\"'".contains(c))
                && after.is_none_or(|c| c == '/' || " \"'".contains(c));
            mapped.push_str(&rest[..at]);
            mapped.push_str(if is_root { &sharedfs } else { "/sharedfs" });
            rest = &rest[at + "/sharedfs".len()..];
        }
        mapped.push_str(rest);
        let data = self.data.display().to_string();
        let mut mapped = mapped
            .replace("../shared/data", &data)
            .replace("target/release/", &format!("{}/", self.bin_dir.display()));
        if mapped.contains("dist/") || mapped.contains(" dist") {
            let arch = arch();
            mapped = mapped.replace("dist/bin/x86_64/", &format!("dist/bin/{arch}/"));
            self.make_dist(&arch);
        }
        mapped
    }

    /// `dist/bin/<arch>/{sweep,bt-worker,collect}` as scripts/build-release.sh leaves
    /// them, here the binaries under test.
    fn make_dist(&self, arch: &str) {
        let dir = self.work().join("dist").join("bin").join(arch);
        if dir.is_dir() {
            return;
        }
        std::fs::create_dir_all(&dir).expect("mkdir dist");
        for name in ["sweep", "bt-worker", "collect"] {
            std::os::unix::fs::symlink(self.bin_dir.join(name), dir.join(name))
                .expect("link dist binary");
        }
    }

    /// Runs one shell command in its own process group (killed whole on timeout).
    pub fn run(&mut self, command: &str) -> Ran {
        let mapped = self.map(command);
        let started = Instant::now();
        let mut child = self
            .command("sh")
            .arg("-c")
            .arg(&mapped)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sh -c {mapped:?}: {e}"));
        // Read the pipes on threads so that a chatty command never blocks on them.
        let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_string(&mut text);
                }
                text
            })
        };
        let out = read(child.stdout.take().map(|p| Box::new(p) as _));
        let err = read(child.stderr.take().map(|p| Box::new(p) as _));
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for example") {
                break status;
            }
            if started.elapsed() > EXAMPLE_TIMEOUT {
                if let Ok(pgid) = i32::try_from(child.id()) {
                    // SAFETY: kill(2) takes no pointers; the group is this child's own.
                    unsafe {
                        libc::kill(-pgid, libc::SIGKILL);
                    }
                }
                timed_out = true;
                break child.wait().expect("wait for killed example");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ran {
            mapped,
            code: status.code(),
            timed_out,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Waits (SLURM mode) until every job recorded in the sandbox's sweeps has left the
    /// queue.
    fn wait_for_jobs(&self) -> Result<(), String> {
        let mut ids = Vec::new();
        let sweeps = self.sharedfs().join("sweeps");
        for entry in std::fs::read_dir(&sweeps).into_iter().flatten().flatten() {
            let jobs = entry.path().join("jobs.jsonl");
            let Ok(text) = std::fs::read_to_string(&jobs) else {
                continue;
            };
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value =
                    serde_json::from_str(line).map_err(|e| format!("{}: {e}", jobs.display()))?;
                if let Some(id) = v["job_id"].as_u64() {
                    ids.push(id.to_string());
                }
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let out = Command::new("squeue")
                .args(["-h", "-r", "-j", &ids.join(","), "-o", "%i %t"])
                .output()
                .map_err(|e| format!("cannot run squeue: {e}"))?;
            let queued = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && queued.trim().is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("jobs {ids:?} still queued after 600 s:\n{queued}"));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Runs a sequence; returns the transcript and the failures.
    pub fn run_sequence(&mut self, seq: &Sequence) -> Outcome {
        let mut outcome = Outcome::default();
        outcome.log(format!(
            "### {} (sandbox {})",
            seq.name,
            self.root.path().display()
        ));
        for example in &seq.examples {
            match step(self.mode, example) {
                Step::NotRun(why) => {
                    outcome.not_run.push(example.command.clone());
                    outcome.log(format!("NOT RUN `{}`: {why}", example.command));
                }
                Step::SlurmOnly => {
                    outcome.slurm_only.push(example.command.clone());
                    outcome.log(format!(
                        "SLURM ONLY `{}`: runs in tests/examples.rs with SLURM_SWEEP_E2E=1",
                        example.command
                    ));
                }
                Step::Run(command, expect) => {
                    let ran = self.run(&command);
                    outcome.ran.push(example.command.clone());
                    outcome.log(format!(
                        "$ {}   # exit {:?} in {:.1} s{}",
                        ran.mapped,
                        ran.code,
                        ran.seconds,
                        if command == example.command {
                            String::new()
                        } else {
                            format!(" (documented: `{}`)", example.command)
                        }
                    ));
                    if ran.code != Some(expect) || ran.timed_out {
                        outcome.failures.push(format!(
                            "{}: `{}` exited with {:?}{}, documented {expect}\n  ran: {}\n--- stdout\n{}\n--- stderr\n{}",
                            example.source,
                            example.command,
                            ran.code,
                            if ran.timed_out { " (timed out, killed)" } else { "" },
                            ran.mapped,
                            ran.stdout,
                            ran.stderr
                        ));
                    }
                    let submitted = (is_sweep(&command, "submit")
                        || is_sweep(&command, "resubmit"))
                        && !command.contains("--dry-run")
                        && !command.contains("--test-only");
                    if self.mode == Mode::Slurm && submitted {
                        if let Err(e) = self.wait_for_jobs() {
                            outcome.failures.push(format!("{}: {e}", example.source));
                        }
                    }
                }
            }
        }
        for line in &outcome.transcript {
            println!("{line}");
        }
        for fragment in &seq.inline {
            if !seq
                .examples
                .iter()
                .any(|e| e.command.contains(fragment.as_str()))
            {
                outcome.failures.push(format!(
                    "{}: the example `{fragment}` in the page's text is in none of its \
                     Examples, so no test runs it; add an example that uses it",
                    seq.name
                ));
            }
        }
        outcome
    }
}

/// What one example did.
pub struct Ran {
    pub mapped: String,
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
}

/// What a sequence did.
#[derive(Default)]
pub struct Outcome {
    pub transcript: Vec<String>,
    pub ran: Vec<String>,
    pub not_run: Vec<String>,
    pub slurm_only: Vec<String>,
    pub failures: Vec<String>,
}

impl Outcome {
    fn log(&mut self, line: String) {
        self.transcript.push(line);
    }
}
