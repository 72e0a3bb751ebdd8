//! `sweep install [--sharedfs DIR] [--from DIST]`: lays out the shared filesystem
//! (`bin/<arch>/`, `data/`, `sweeps/`, see `sharedfs-layout/README.md`) and installs the
//! three binaries (`sweep`, `bt-worker`, `collect`) for every architecture it is given:
//! those of a release directory (`DIST/bin/<arch>/`, what `scripts/build-release.sh`
//! writes to `dist/`) and the running ones (this `sweep` and the `bt-worker` / `collect`
//! beside it) for this machine's architecture.
//!
//! Every binary is checked before it is installed: its ELF header must name the CPU of the
//! directory it goes to (an x86_64 binary is never put into `bin/aarch64`), and
//! `<bin> --version` must name the binary (run directly, or under `qemu-<arch>-static` for a
//! foreign architecture; "not runnable here" when neither works). A binary is written
//! beside its destination under a temporary name, fsynced, made `0755`, verified and only
//! then renamed into place, so a task that is running the old binary keeps it, and a task
//! starting meanwhile finds either the old or the new one, never half of one. A binary
//! whose sha256 equals the installed one is left alone, so installing twice changes nothing.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use sweep_core::planner::{default_sharedfs, sha256_file};

use crate::Outcome;

/// The binaries installed for each architecture, in table order.
pub const BINARIES: [&str; 3] = ["sweep", "bt-worker", "collect"];

/// Mode of installed binaries: everyone may run them, only the owner may replace them.
pub const BINARY_MODE: u32 = 0o755;

/// Mode of `bin/`, `bin/<arch>/`, `data/` and `data/<dataset>/` when `sweep` creates them.
pub const DIR_MODE: u32 = 0o755;

/// Mode of `sweeps/` when `sweep` creates it: like `/tmp`, every job user may create a
/// sweep in it, and only a sweep's owner may remove it.
pub const SWEEPS_DIR_MODE: u32 = 0o1777;

/// How long `<bin> --version` may take (qemu included) before it counts as not runnable.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// The examples shown by `--help`; a test runs each one (crates/sweep/tests/suite/examples.rs).
const EXAMPLES: &str = "\
Examples:
  sweep install --sharedfs /sharedfs --dry-run     # what would be installed
  sweep install --sharedfs /sharedfs               # this machine's sweep, bt-worker, collect
  sweep install --sharedfs /sharedfs --from dist   # and dist/bin/<arch>/ of scripts/build-release.sh";

/// Arguments of `sweep install`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct InstallArgs {
    /// Root of the shared filesystem to lay out [default: $SLURM_SWEEP_SHAREDFS, else
    /// ./sharedfs].
    #[arg(long, value_name = "DIR")]
    pub sharedfs: Option<PathBuf>,
    /// A release directory laid out as DIR/bin/<arch>/{sweep,bt-worker,collect} (what
    /// scripts/build-release.sh writes to dist/). Its binaries take precedence over the
    /// running ones for the same architecture.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Do not install the running binaries, only those of --from.
    #[arg(long, requires = "from")]
    pub only_from: bool,
    /// Check and show what would be installed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// This machine's architecture as `uname -m` prints it (the name of its `bin/<arch>/`
/// directory, which the array script picks with `bin/$(uname -m)/bt-worker`).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        other => other,
    }
}

/// The ELF `e_machine` of the CPU a `uname -m` name stands for.
pub fn elf_machine_of_arch(arch: &str) -> Option<u16> {
    Some(match arch {
        "x86_64" | "amd64" => 62,
        "aarch64" | "arm64" => 183,
        "armv6l" | "armv7l" | "armv8l" | "arm" => 40,
        "riscv64" => 243,
        "i386" | "i486" | "i586" | "i686" | "x86" => 3,
        "ppc64" | "ppc64le" => 21,
        "s390x" => 22,
        _ => return None,
    })
}

/// A readable name of an ELF `e_machine`.
pub fn elf_machine_name(machine: u16) -> String {
    match machine {
        3 => "x86 (i386)".to_string(),
        21 => "ppc64".to_string(),
        22 => "s390x".to_string(),
        40 => "32-bit arm".to_string(),
        62 => "x86_64".to_string(),
        183 => "aarch64".to_string(),
        243 => "riscv".to_string(),
        other => format!("ELF machine {other}"),
    }
}

/// The name of qemu's user-mode emulator binary for an architecture (`qemu-<cpu>-static`).
fn qemu_cpu_of_arch(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "x86_64" | "amd64" => "x86_64",
        "aarch64" | "arm64" => "aarch64",
        "armv6l" | "armv7l" | "armv8l" | "arm" => "arm",
        "riscv64" => "riscv64",
        "i386" | "i486" | "i586" | "i686" | "x86" => "i386",
        "ppc64le" => "ppc64le",
        "ppc64" => "ppc64",
        "s390x" => "s390x",
        _ => return None,
    })
}

/// What an ELF header says about an executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// `e_machine`: 62 = x86_64, 183 = aarch64, ...
    pub machine: u16,
    /// 64-bit (`ELFCLASS64`).
    pub is_64: bool,
    /// Has a program interpreter (`PT_INTERP`): dynamically linked, needs a compatible libc
    /// on every node. Static (and static-pie) binaries have none.
    pub dynamic: bool,
}

/// Why a file is not an executable this tool can inspect.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF executable (no \\x7fELF magic)")]
    NotElf,
    #[error("truncated or malformed ELF header: {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn read_u16(bytes: &[u8], at: usize, little: bool) -> Option<u16> {
    let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
    Some(if little {
        u16::from_le_bytes(b)
    } else {
        u16::from_be_bytes(b)
    })
}

fn read_u32(bytes: &[u8], at: usize, little: bool) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

fn read_u64(bytes: &[u8], at: usize, little: bool) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(if little {
        u64::from_le_bytes(b)
    } else {
        u64::from_be_bytes(b)
    })
}

/// Reads the ELF header and program headers of `path` (not the whole file).
pub fn read_elf_info(path: &Path) -> Result<ElfInfo, ElfError> {
    let mut file = File::open(path)?;
    let mut header = [0u8; 64];
    let mut filled = 0;
    while filled < header.len() {
        match file.read(&mut header[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    let header = &header[..filled];
    if header.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(ElfError::NotElf);
    }
    let is_64 = match header.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err(ElfError::Malformed("unknown ELF class")),
    };
    let little = match header.get(5) {
        Some(1) => true,
        Some(2) => false,
        _ => return Err(ElfError::Malformed("unknown byte order")),
    };
    let short = ElfError::Malformed("header too short");
    let machine = read_u16(header, 18, little).ok_or(short)?;
    let (phoff, phentsize, phnum) = if is_64 {
        (
            read_u64(header, 32, little),
            read_u16(header, 54, little),
            read_u16(header, 56, little),
        )
    } else {
        (
            read_u32(header, 28, little).map(u64::from),
            read_u16(header, 42, little),
            read_u16(header, 44, little),
        )
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Err(ElfError::Malformed("header too short"));
    };
    let table_len = usize::from(phentsize) * usize::from(phnum);
    if usize::from(phentsize) < 4 && phnum > 0 {
        return Err(ElfError::Malformed("program header entries too small"));
    }
    let mut table = vec![0u8; table_len];
    file.seek(SeekFrom::Start(phoff))?;
    file.read_exact(&mut table)
        .map_err(|_| ElfError::Malformed("program headers beyond the end of the file"))?;
    const PT_INTERP: u32 = 3;
    let dynamic = (0..usize::from(phnum))
        .any(|i| read_u32(&table, i * usize::from(phentsize), little) == Some(PT_INTERP));
    Ok(ElfInfo {
        machine,
        is_64,
        dynamic,
    })
}

/// What `<bin> --version` said, or why it could not be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionCheck {
    /// The version it printed (`bt-worker 0.1.0` -> `0.1.0`), and how it was run.
    Version { version: String, via_qemu: bool },
    /// It printed something that does not name this binary.
    WrongName { printed: String },
    /// It could not run here (a foreign architecture without qemu), with why.
    NotRunnable { reason: String },
}

/// Runs `<bin> --version` (under `qemu-<cpu>-static` when `arch` is not this machine's and
/// that emulator is on PATH) and checks it names `name`.
pub fn check_version(bin: &Path, name: &str, arch: &str) -> VersionCheck {
    let qemu = if arch == host_arch() {
        None
    } else {
        qemu_cpu_of_arch(arch).and_then(|cpu| crate::binaries::find(&format!("qemu-{cpu}-static")))
    };
    let mut command = match &qemu {
        Some(q) => {
            let mut c = Command::new(q);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    };
    command.arg("--version");
    let output = match output_with_timeout(&mut command, VERSION_TIMEOUT) {
        Ok(o) => o,
        Err(e) => {
            let reason = if e.raw_os_error() == Some(8) {
                format!(
                    "not runnable here ({arch}; no qemu-{}-static)",
                    qemu_cpu_of_arch(arch).unwrap_or(arch)
                )
            } else {
                format!("not runnable here ({arch}): {e}")
            };
            return VersionCheck::NotRunnable { reason };
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first = stdout.lines().next().unwrap_or("").trim().to_string();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return VersionCheck::NotRunnable {
            reason: format!(
                "--version failed ({}): {}",
                output.status,
                stderr.lines().next().unwrap_or("").trim()
            ),
        };
    }
    match first.split_once(' ') {
        Some((printed_name, version)) if printed_name == name => VersionCheck::Version {
            version: version.trim().to_string(),
            via_qemu: qemu.is_some(),
        },
        _ => VersionCheck::WrongName { printed: first },
    }
}

/// `Command::output` that kills the child after `timeout`.
fn output_with_timeout(
    command: &mut Command,
    timeout: Duration,
) -> io::Result<std::process::Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            return child.wait_with_output();
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {} s", timeout.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True when the two files have the same bytes (sizes first, then 64 KiB at a time).
pub fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the end of the file; returns the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Copies `source` to `dest` atomically with permissions `mode`
/// ([`sweep_core::atomic::write_atomic_with`]): a temporary file in `dest`'s directory
/// gets the mode and the content, is compared with `source` byte for byte, and only then
/// is fsynced and renamed over `dest`. A process that has `dest` open or is executing it
/// keeps the old file.
pub fn install_file(source: &Path, dest: &Path, mode: u32) -> io::Result<()> {
    sweep_core::atomic::write_atomic_with(dest, mode, |file, tmp_path| {
        io::copy(&mut File::open(source)?, file)?;
        file.flush()?;
        if !same_content(source, tmp_path)? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the copy of {} differs from it (did it change meanwhile?); not installed",
                    source.display()
                ),
            ));
        }
        Ok(())
    })
}

/// Creates `dir` (and its parents) when missing; a directory it creates gets `mode`.
/// An existing directory keeps its permissions.
pub fn ensure_dir(dir: &Path, mode: u32) -> io::Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
    Ok(true)
}

/// Creates the top of the layout: `bin/`, `data/`, `sweeps/`. Returns the directories created.
pub fn lay_out(sharedfs: &Path) -> io::Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    let fs = sweep_core::SharedFs::new(sharedfs);
    for (dir, mode) in [
        (fs.bin_root(), DIR_MODE),
        (fs.data_root(), DIR_MODE),
        (fs.sweeps(), SWEEPS_DIR_MODE),
    ] {
        if ensure_dir(&dir, mode)? {
            created.push(dir);
        }
    }
    Ok(created)
}

/// One binary to install: where from, for which architecture.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub arch: String,
    pub name: &'static str,
    pub source: PathBuf,
    /// Where it comes from, for the table: `dist` or `running`.
    pub origin: &'static str,
}

/// What happened to one binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Installed,
    /// Replaced an older installed binary.
    Updated,
    /// Same sha256 as the installed binary: left alone.
    UpToDate,
    /// `--dry-run`: would be installed or updated.
    WouldInstall,
    /// Not installed, with why.
    Refused(String),
    /// The source binary does not exist.
    Missing,
}

impl Action {
    fn label(&self) -> String {
        match self {
            Action::Installed => "installed".to_string(),
            Action::Updated => "updated".to_string(),
            Action::UpToDate => "up to date (same sha256)".to_string(),
            Action::WouldInstall => "would install (dry run)".to_string(),
            Action::Refused(why) => format!("REFUSED: {why}"),
            Action::Missing => "MISSING".to_string(),
        }
    }

    /// True when the binary is in place afterwards (or would be, in a dry run).
    pub fn is_ok(&self) -> bool {
        !matches!(self, Action::Refused(_) | Action::Missing)
    }
}

/// One line of the install table.
#[derive(Clone, Debug)]
pub struct Installed {
    pub candidate: Candidate,
    pub dest: PathBuf,
    pub version: String,
    pub linkage: String,
    pub bytes: u64,
    pub sha256: String,
    pub action: Action,
}

/// The binaries of a release directory: `DIR/bin/<arch>/<name>` for each `<arch>` directory.
pub fn candidates_from_dist(dist: &Path) -> anyhow::Result<Vec<Candidate>> {
    let bin = dist.join("bin");
    let entries = fs::read_dir(&bin).with_context(|| {
        format!(
            "cannot read {}: --from expects a release directory laid out as DIR/bin/<arch>/ \
             (scripts/build-release.sh writes dist/bin/<arch>/)",
            bin.display()
        )
    })?;
    let mut archs: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", bin.display()))?;
        if entry.path().is_dir() {
            archs.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    archs.sort();
    if archs.is_empty() {
        anyhow::bail!("{} holds no <arch>/ directory", bin.display());
    }
    let mut candidates = Vec::new();
    for arch in &archs {
        for name in BINARIES {
            candidates.push(Candidate {
                arch: arch.clone(),
                name,
                source: bin.join(arch).join(name),
                origin: "dist",
            });
        }
    }
    Ok(candidates)
}

/// The running binaries: this `sweep` and the `bt-worker` and `collect` beside it.
pub fn running_candidates() -> anyhow::Result<Vec<Candidate>> {
    let exe = std::env::current_exe().context("cannot find the running sweep executable")?;
    let exe = fs::canonicalize(&exe).unwrap_or(exe);
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(BINARIES
        .iter()
        .map(|name| Candidate {
            arch: host_arch().to_string(),
            name,
            source: if *name == "sweep" {
                exe.clone()
            } else {
                dir.join(name)
            },
            origin: "running",
        })
        .collect())
}

/// Checks one binary (ELF machine against its architecture, `--version`) and installs it
/// into `<sharedfs>/bin/<arch>/` unless the same content is there already.
pub fn install_one(sharedfs: &Path, candidate: &Candidate, dry_run: bool) -> Installed {
    let dest = sweep_core::SharedFs::new(sharedfs)
        .bin(&candidate.arch)
        .join(candidate.name);
    let mut line = Installed {
        candidate: candidate.clone(),
        dest: dest.clone(),
        version: "-".to_string(),
        linkage: "-".to_string(),
        bytes: 0,
        sha256: String::new(),
        action: Action::Missing,
    };
    if !candidate.source.is_file() {
        return line;
    }
    let refuse = |mut line: Installed, why: String| {
        line.action = Action::Refused(why);
        line
    };
    let Some(expected_machine) = elf_machine_of_arch(&candidate.arch) else {
        return refuse(
            line,
            format!(
                "unknown architecture directory `{}` (expected a `uname -m` name such as \
                 x86_64 or aarch64)",
                candidate.arch
            ),
        );
    };
    let elf = match read_elf_info(&candidate.source) {
        Ok(elf) => elf,
        Err(e) => return refuse(line, format!("{}: {e}", candidate.source.display())),
    };
    line.linkage = if elf.dynamic { "dynamic" } else { "static" }.to_string();
    if elf.machine != expected_machine {
        return refuse(
            line,
            format!(
                "{} is an {} binary, not {}: it does not belong in bin/{}",
                candidate.source.display(),
                elf_machine_name(elf.machine),
                candidate.arch,
                candidate.arch
            ),
        );
    }
    match check_version(&candidate.source, candidate.name, &candidate.arch) {
        VersionCheck::Version { version, via_qemu } => {
            line.version = if via_qemu {
                format!("{version} (qemu)")
            } else {
                version
            };
        }
        VersionCheck::NotRunnable { reason } if candidate.arch == host_arch() => {
            return refuse(
                line,
                format!(
                    "{} does not run on this {} machine, so not on the {} nodes either: {reason}",
                    candidate.source.display(),
                    candidate.arch,
                    candidate.arch
                ),
            );
        }
        VersionCheck::NotRunnable { reason } => line.version = reason,
        VersionCheck::WrongName { printed } => {
            return refuse(
                line,
                format!(
                    "`{} --version` printed `{printed}`, not `{} <version>`: another program \
                     under this name?",
                    candidate.source.display(),
                    candidate.name
                ),
            );
        }
    }
    let (sha, bytes) = match sha256_file(&candidate.source) {
        Ok(x) => x,
        Err(e) => {
            return refuse(
                line,
                format!("cannot read {}: {e}", candidate.source.display()),
            )
        }
    };
    line.sha256 = sha;
    line.bytes = bytes;
    let existing = dest.is_file();
    if existing && same_content(&candidate.source, &dest).unwrap_or(false) {
        // Same content: keep the file, only repair its mode.
        let mode_ok = fs::metadata(&dest)
            .map(|m| m.permissions().mode() & 0o7777 == BINARY_MODE)
            .unwrap_or(false);
        if !mode_ok && !dry_run {
            if let Err(e) = fs::set_permissions(&dest, fs::Permissions::from_mode(BINARY_MODE)) {
                return refuse(line, format!("cannot chmod {}: {e}", dest.display()));
            }
        }
        line.action = Action::UpToDate;
        return line;
    }
    if dry_run {
        line.action = Action::WouldInstall;
        return line;
    }
    let result = dest
        .parent()
        .map_or(Ok(false), |d| ensure_dir(d, DIR_MODE))
        .and_then(|_| install_file(&candidate.source, &dest, BINARY_MODE));
    line.action = match result {
        Ok(()) if existing => Action::Updated,
        Ok(()) => Action::Installed,
        Err(e) => Action::Refused(format!("cannot install {}: {e}", dest.display())),
    };
    line
}

/// Everything `sweep install` did.
#[derive(Clone, Debug)]
pub struct InstallReport {
    pub sharedfs: PathBuf,
    pub created_dirs: Vec<PathBuf>,
    pub lines: Vec<Installed>,
    /// Running binaries not installed because the release directory has the same architecture.
    pub superseded: Vec<Candidate>,
}

impl InstallReport {
    /// True when every binary is in place.
    pub fn is_complete(&self) -> bool {
        self.lines.iter().all(|l| l.action.is_ok())
    }
}

/// Lays out `sharedfs` and installs the binaries of `from` (if given) and, unless
/// `only_from`, the running ones for this machine's architecture when `from` lacks it.
pub fn install(
    sharedfs: &Path,
    from: Option<&Path>,
    only_from: bool,
    dry_run: bool,
) -> anyhow::Result<InstallReport> {
    let mut candidates = match from {
        Some(dist) => candidates_from_dist(dist)?,
        None => Vec::new(),
    };
    let dist_archs: Vec<String> = candidates.iter().map(|c| c.arch.clone()).collect();
    let mut superseded = Vec::new();
    if !only_from {
        for c in running_candidates()? {
            if dist_archs.contains(&c.arch) {
                superseded.push(c);
            } else {
                candidates.push(c);
            }
        }
    }
    let created_dirs = if dry_run {
        Vec::new()
    } else {
        lay_out(sharedfs).with_context(|| format!("cannot lay out {}", sharedfs.display()))?
    };
    let lines = candidates
        .iter()
        .map(|c| install_one(sharedfs, c, dry_run))
        .collect();
    Ok(InstallReport {
        sharedfs: sharedfs.to_path_buf(),
        created_dirs,
        lines,
        superseded,
    })
}

fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// The install table: arch, binary, version, linkage, size, sha256 prefix, what happened.
pub fn table(report: &InstallReport) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "arch", "binary", "from", "version", "linkage", "size", "sha256", "action",
    ]);
    for l in &report.lines {
        table.add_row([
            l.candidate.arch.clone(),
            l.candidate.name.to_string(),
            l.candidate.origin.to_string(),
            l.version.clone(),
            l.linkage.clone(),
            if l.bytes > 0 {
                human_bytes(l.bytes)
            } else {
                "-".to_string()
            },
            l.sha256.get(..12).unwrap_or("-").to_string(),
            l.action.label(),
        ]);
    }
    table
}

pub fn run(args: &InstallArgs) -> anyhow::Result<Outcome> {
    let sharedfs = args.sharedfs.clone().unwrap_or_else(default_sharedfs);
    let report = install(
        &sharedfs,
        args.from.as_deref(),
        args.only_from,
        args.dry_run,
    )?;
    let shown = fs::canonicalize(&sharedfs).unwrap_or_else(|_| sharedfs.clone());
    sweep_core::outln!(
        "{}shared filesystem {}",
        if args.dry_run { "dry run: " } else { "" },
        shown.display()
    );
    for dir in &report.created_dirs {
        sweep_core::outln!("created {}", dir.display());
    }
    sweep_core::outln!("{}", table(&report));
    if let Some(first) = report.superseded.first() {
        let dir = first.source.parent().unwrap_or(Path::new(""));
        sweep_core::outln!(
            "note: the running binaries ({}) were not installed: --from has {} binaries",
            dir.display(),
            first.arch
        );
    }
    for l in &report.lines {
        if l.action == Action::Missing {
            sweep_core::outln!(
                "missing: {} (build it: `cargo build --release`, or scripts/build-release.sh)",
                l.candidate.source.display()
            );
        }
    }
    if report
        .lines
        .iter()
        .any(|l| l.linkage == "dynamic" && l.action.is_ok())
    {
        sweep_core::outln!(
            "note: dynamically linked binaries run only on nodes with a compatible libc; \
             scripts/build-release.sh builds static ones"
        );
    }
    let mut archs: Vec<&str> = report
        .lines
        .iter()
        .filter(|l| l.candidate.name == "bt-worker" && l.action.is_ok())
        .map(|l| l.candidate.arch.as_str())
        .collect();
    archs.dedup();
    if !archs.is_empty() {
        sweep_core::outln!(
            "array tasks on {} nodes run {}/bin/$(uname -m)/bt-worker",
            archs.join(" and "),
            shown.display()
        );
    }
    Ok(if report.is_complete() {
        Outcome::Complete
    } else {
        Outcome::Incomplete
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 64-bit little-endian ELF header with `phnum` program headers of type
    /// `types`, laid out right after the header (offset 64, 56 bytes each).
    fn elf64(machine: u16, types: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2; // ELFCLASS64
        b[5] = 1; // little endian
        b[6] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        b[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        b[56..58].copy_from_slice(&(types.len() as u16).to_le_bytes()); // e_phnum
        for t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            b.extend(ph);
        }
        b
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, bytes).expect("write");
        p
    }

    #[test]
    fn reads_machine_and_linkage_from_elf_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        // PT_LOAD = 1, PT_INTERP = 3.
        let aarch64_static = write(dir.path(), "a", &elf64(183, &[1, 1]));
        let x86_dynamic = write(dir.path(), "b", &elf64(62, &[6, 3, 1]));
        let a = read_elf_info(&aarch64_static).expect("elf");
        assert_eq!(
            a,
            ElfInfo {
                machine: 183,
                is_64: true,
                dynamic: false
            }
        );
        let b = read_elf_info(&x86_dynamic).expect("elf");
        assert_eq!(b.machine, 62);
        assert!(b.dynamic);
    }

    #[test]
    fn rejects_non_elf_and_truncated_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = write(dir.path(), "s", b"#!/bin/sh\necho hi\n");
        assert!(matches!(read_elf_info(&script), Err(ElfError::NotElf)));
        let mut truncated = elf64(62, &[1, 3]);
        truncated.truncate(64 + 20);
        let t = write(dir.path(), "t", &truncated);
        assert!(matches!(read_elf_info(&t), Err(ElfError::Malformed(_))));
    }

    #[test]
    fn reads_this_test_binary_as_the_host_architecture() {
        let exe = std::env::current_exe().expect("exe");
        let info = read_elf_info(&exe).expect("elf");
        assert_eq!(Some(info.machine), elf_machine_of_arch(host_arch()));
    }

    #[test]
    fn refuses_a_binary_of_another_architecture() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sharedfs = dir.path().join("fs");
        let src = dir.path().join("src");
        fs::create_dir_all(&src).expect("mkdir");
        // An x86_64 "bt-worker" offered for aarch64.
        let fake = write(&src, "bt-worker", &elf64(62, &[1]));
        let c = Candidate {
            arch: "aarch64".to_string(),
            name: "bt-worker",
            source: fake,
            origin: "dist",
        };
        let line = install_one(&sharedfs, &c, false);
        match &line.action {
            Action::Refused(why) => {
                assert!(why.contains("x86_64 binary, not aarch64"), "{why}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(!sharedfs.join("bin/aarch64/bt-worker").exists());
    }

    #[test]
    fn refuses_a_binary_of_this_architecture_that_does_not_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sharedfs = dir.path().join("fs");
        let machine = elf_machine_of_arch(host_arch()).expect("known host");
        // A header-only ELF of this machine: the kernel cannot execute it.
        let fake = write(dir.path(), "collect", &elf64(machine, &[1]));
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).expect("chmod");
        let c = Candidate {
            arch: host_arch().to_string(),
            name: "collect",
            source: fake,
            origin: "dist",
        };
        let line = install_one(&sharedfs, &c, false);
        match &line.action {
            Action::Refused(why) => assert!(why.contains("does not run on this"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(!sharedfs
            .join("bin")
            .join(host_arch())
            .join("collect")
            .exists());
    }

    #[test]
    fn install_file_sets_mode_and_replaces_by_rename() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = write(dir.path(), "new", b"new content");
        let dest = write(dir.path(), "dest", b"old content");
        // A reader holding the old file keeps reading the old content after the install.
        let mut held = File::open(&dest).expect("open");
        install_file(&src, &dest, 0o755).expect("install");
        let mut old = String::new();
        held.read_to_string(&mut old).expect("read");
        assert_eq!(old, "old content");
        assert_eq!(fs::read(&dest).expect("read"), b"new content");
        let mode = fs::metadata(&dest).expect("meta").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn same_content_compares_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut other = big.clone();
        other[150_000] ^= 1;
        let a = write(dir.path(), "a", &big);
        let b = write(dir.path(), "b", &big);
        let c = write(dir.path(), "c", &other);
        let d = write(dir.path(), "d", &big[..199_999]);
        assert!(same_content(&a, &b).expect("cmp"));
        assert!(!same_content(&a, &c).expect("cmp"));
        assert!(!same_content(&a, &d).expect("cmp"));
    }

    #[test]
    fn arch_names_map_to_elf_machines() {
        assert_eq!(elf_machine_of_arch("x86_64"), Some(62));
        assert_eq!(elf_machine_of_arch("aarch64"), Some(183));
        assert_eq!(elf_machine_of_arch("armv7l"), Some(40));
        assert_eq!(elf_machine_of_arch("sparc"), None);
    }
}
