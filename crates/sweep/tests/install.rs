//! `sweep install` with the real binaries: the layout and the three binaries installed
//! (byte-identical, 0755), a second install changes nothing, a binary of another CPU or
//! another program under a binary's name is refused, an update replaces by rename; and the
//! full path of a small cluster: install, import real data, then a local sweep run by the
//! INSTALLED `sweep`, which can only have used the installed `bt-worker`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "suite/util.rs"]
mod util;

use util::{mode, real_data, show, stdout};

const BINARIES: [&str; 3] = ["sweep", "bt-worker", "collect"];

/// This machine's `uname -m` (what the array script uses to pick `bin/<arch>/`).
fn uname_m() -> String {
    let o = Command::new("uname").arg("-m").output().expect("uname");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The directory of the cargo-built binaries; builds bt-worker and collect when missing
/// (`cargo test -p sweep` builds only sweep's own binary).
fn build_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_sweep"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    if !(dir.join("bt-worker").is_file() && dir.join("collect").is_file()) {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "bt-worker", "-p", "collect"])
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p bt-worker -p collect failed"
        );
    }
    for name in BINARIES {
        assert!(dir.join(name).is_file(), "no {name} in {}", dir.display());
    }
    dir
}

fn sweep_at(exe: &Path) -> Command {
    let mut c = Command::new(exe);
    c.env_remove("SLURM_SWEEP_SHAREDFS")
        .env_remove("SLURM_SWEEP_TEMPLATES");
    c
}

fn install(sharedfs: &Path, extra: &[&str]) -> Output {
    sweep_at(Path::new(env!("CARGO_BIN_EXE_sweep")))
        .arg("install")
        .arg("--sharedfs")
        .arg(sharedfs)
        .args(extra)
        .output()
        .expect("run sweep install")
}

fn inode(p: &Path) -> u64 {
    std::fs::metadata(p).expect("meta").ino()
}

/// A release directory `dist/bin/<arch>/` holding copies of the built binaries, with
/// `rename` giving, for a binary name, which built binary to copy under it.
fn fake_dist(root: &Path, arch: &str, rename: impl Fn(&str) -> &str) -> PathBuf {
    let built = build_dir();
    let dist = root.join("dist");
    let dir = dist.join("bin").join(arch);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for name in BINARIES {
        std::fs::copy(built.join(rename(name)), dir.join(name)).expect("copy");
    }
    dist
}

#[test]
fn installs_the_running_binaries_and_a_second_install_changes_nothing() {
    let built = build_dir();
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = tmp.path().join("sharedfs");
    let o = install(&fs, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let arch = uname_m();
    for name in BINARIES {
        let dest = fs.join("bin").join(&arch).join(name);
        assert_eq!(
            std::fs::read(&dest).expect("installed"),
            std::fs::read(built.join(name)).expect("built"),
            "{name}"
        );
        assert_eq!(mode(&dest), 0o755, "{name}");
    }
    assert!(fs.join("data").is_dir());
    assert_eq!(mode(&fs.join("sweeps")), 0o1777);
    let out = stdout(&o);
    assert_eq!(out.matches("installed").count(), 3, "{out}");
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");

    let before: Vec<u64> = BINARIES
        .iter()
        .map(|n| inode(&fs.join("bin").join(&arch).join(n)))
        .collect();
    let o = install(&fs, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(stdout(&o).matches("up to date").count(), 3, "{}", show(&o));
    let after: Vec<u64> = BINARIES
        .iter()
        .map(|n| inode(&fs.join("bin").join(&arch).join(n)))
        .collect();
    assert_eq!(before, after, "an up-to-date binary was rewritten");
}

#[test]
fn a_binary_of_another_cpu_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let host = uname_m();
    let (other, host_name) = match host.as_str() {
        "x86_64" => ("aarch64", "x86_64"),
        "aarch64" => ("x86_64", "aarch64"),
        _ => return, // only the two architectures the project ships
    };
    // This machine's binaries offered as the other architecture's.
    let dist = fake_dist(tmp.path(), other, |n| n);
    let fs = tmp.path().join("sharedfs");
    let o = install(
        &fs,
        &["--from", dist.to_str().expect("utf-8 path"), "--only-from"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("{host_name} binary, not {other}")),
        "{out}"
    );
    assert_eq!(out.matches("REFUSED").count(), 3, "{out}");
    assert!(!fs.join("bin").join(other).join("bt-worker").exists());
    // --only-from: the running binaries are not installed either.
    assert!(!fs.join("bin").join(&host).exists());
}

#[test]
fn another_program_under_a_binary_name_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let arch = uname_m();
    // `collect` copied as bt-worker: `bt-worker --version` prints `collect ...`.
    let dist = fake_dist(tmp.path(), &arch, |n| {
        if n == "bt-worker" {
            "collect"
        } else {
            n
        }
    });
    let fs = tmp.path().join("sharedfs");
    let o = install(&fs, &["--from", dist.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = stdout(&o);
    assert!(out.contains("printed `collect"), "{out}");
    assert!(!fs.join("bin").join(&arch).join("bt-worker").exists());
    assert!(fs.join("bin").join(&arch).join("collect").is_file());
}

#[test]
fn an_update_replaces_the_binary_by_rename_and_a_running_copy_keeps_the_old_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let arch = uname_m();
    let fs = tmp.path().join("sharedfs");
    let o = install(&fs, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let dest = fs.join("bin").join(&arch).join("bt-worker");
    let old = std::fs::read(&dest).expect("read");
    let old_inode = inode(&dest);
    // Stands for a task executing the old binary: it holds the old file open.
    let held = std::fs::File::open(&dest).expect("open");

    // A new build: the same ELF with bytes appended (still runs, other sha256).
    let dist = fake_dist(tmp.path(), &arch, |n| n);
    let new_worker = dist.join("bin").join(&arch).join("bt-worker");
    let mut bytes = std::fs::read(&new_worker).expect("read");
    bytes.extend_from_slice(b"\0slurm-sweep test build marker\0");
    std::fs::write(&new_worker, &bytes).expect("write");
    let o = install(&fs, &["--from", dist.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = stdout(&o);
    assert!(out.contains("updated"), "{out}");
    assert_eq!(out.matches("up to date").count(), 2, "{out}");
    assert_eq!(std::fs::read(&dest).expect("read"), bytes);
    assert_ne!(inode(&dest), old_inode, "not replaced by rename");
    assert_eq!(held.metadata().expect("meta").ino(), old_inode);
    assert_eq!(held.metadata().expect("meta").len(), old.len() as u64);
    assert_eq!(mode(&dest), 0o755);
}

/// 2 fast x 2 slow = 4 combinations, 1 per task = 4 tasks, on real SPY prices.
fn spec(data_dir: &Path) -> String {
    format!(
        r#"name = "pi_path"
strategy = "ma_cross"

[data]
dir = "{}"
symbols = ["SPY"]

[backtest]
start = 2015-01-02
end = 2019-12-31

[params]
fast = [10, 20]
slow = [50, 100]

[slurm]
combos_per_task = 1
"#,
        data_dir.display()
    )
}

/// The full path of a small cluster: `sweep install`, `sweep data import`, then the
/// installed `sweep` runs a sweep locally. It finds `bt-worker` beside itself, so the
/// worker is `<sharedfs>/bin/<arch>/bt-worker`: PATH holds no bt-worker, and the same run
/// fails once the installed worker is removed.
#[test]
fn installed_sweep_runs_a_local_sweep_with_the_installed_worker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = tmp.path().join("sharedfs");
    let o = install(&fs, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let arch = uname_m();
    let installed_sweep = fs.join("bin").join(&arch).join("sweep");
    let installed_worker = fs.join("bin").join(&arch).join("bt-worker");

    let spy = real_data().join("qstrader_examples/SPY.csv");
    let o = sweep_at(&installed_sweep)
        .args(["data", "import"])
        .arg(&spy)
        .args(["--dataset", "etfs", "--sharedfs"])
        .arg(&fs)
        .output()
        .expect("run data import");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));

    let spec_path = tmp.path().join("pi_path.toml");
    std::fs::write(&spec_path, spec(&fs.join("data/etfs"))).expect("spec");
    // A PATH without any bt-worker: only the one beside the installed sweep can run.
    let path = "/usr/bin:/bin";
    for d in path.split(':') {
        assert!(!Path::new(d).join("bt-worker").exists(), "bt-worker in {d}");
    }
    let run = |spec: &Path| {
        sweep_at(&installed_sweep)
            .arg("run")
            .arg(spec)
            .args(["--local", "-j", "2", "--no-collect", "--sharedfs"])
            .arg(&fs)
            .env("PATH", path)
            .output()
            .expect("run sweep run")
    };
    let o = run(&spec_path);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let sweeps: Vec<PathBuf> = std::fs::read_dir(fs.join("sweeps"))
        .expect("ls sweeps")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(sweeps.len(), 1, "{sweeps:?}");
    let results: Vec<PathBuf> = std::fs::read_dir(sweeps[0].join("results"))
        .expect("ls results")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(results.len(), 4, "{results:?}");
    for r in &results {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(r).expect("read")).expect("json");
        assert_eq!(json["arch"], std::env::consts::ARCH, "{}", r.display());
        // v2: failed combinations are listed in `errors`; none here.
        assert_eq!(json["errors"], serde_json::json!([]), "{}", r.display());
        let run = sweep_core::ResultFile::read(r).expect("a valid result");
        assert_eq!(
            run.runs[0].status,
            sweep_core::RunStatus::Ok,
            "{}",
            r.display()
        );
    }
    // The plan records the imported file's sha256 (computed here independently).
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sweeps[0].join("plan.json")).expect("plan"))
            .expect("plan json");
    let sha = Command::new("sha256sum")
        .arg(fs.join("data/etfs/SPY.csv"))
        .output()
        .expect("sha256sum");
    let sha = String::from_utf8_lossy(&sha.stdout);
    let sha = sha.split_whitespace().next().expect("hash");
    assert_eq!(plan["data"][0]["sha256"], sha);

    // Counter-proof: without the installed worker, the same installed sweep cannot run.
    std::fs::remove_file(&installed_worker).expect("rm worker");
    let other_spec = tmp.path().join("other.toml");
    std::fs::write(
        &other_spec,
        spec(&fs.join("data/etfs")).replace("pi_path", "pi_path_2"),
    )
    .expect("spec");
    let o = run(&other_spec);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bt-worker not found"),
        "{}",
        show(&o)
    );
}
