//! Rendered batch scripts: snapshots of typical specs, `bash -n` on each, and hostile values
//! (spaces, quotes, `$()`, backticks, newlines) that must neither inject shell nor
//! `#SBATCH` directives.

use std::path::{Path, PathBuf};
use std::process::Command;

use sweep_cli::render::{
    render_array, render_collect, render_smoke, RenderContext, RenderError, SmokeContext, Templates,
};
use sweep_core::spec::{ContainerConfig, ContainerRuntime, SlurmConfig};

use crate::util::{all_files, bash_syntax_ok, directive, sample_plan, write_executable};

fn typical_slurm() -> SlurmConfig {
    SlurmConfig {
        partition: Some("mycluster".into()),
        time: Some("00:10:00".into()),
        cpus_per_task: Some(1),
        mem: Some("1G".into()),
        ..SlurmConfig::default()
    }
}

fn ctx() -> RenderContext {
    RenderContext {
        sweep_dir: "/sharedfs/sweeps/ma_cross-01234567".into(),
        sharedfs: "/sharedfs".into(),
    }
}

fn templates() -> Templates {
    Templates::builtin().expect("built-in templates")
}

#[test]
fn typical_array_script() {
    let plan = sample_plan("ma_cross", 4950, 50, 1001, None);
    let script = render_array(&templates(), &plan, &typical_slurm(), &ctx(), 0).expect("render");
    bash_syntax_ok(&script);
    assert_eq!(directive(&script, "array").as_deref(), Some("0-98"));
    assert_eq!(
        directive(&script, "partition").as_deref(),
        Some("mycluster")
    );
    assert_eq!(
        directive(&script, "output").as_deref(),
        Some("/sharedfs/sweeps/ma_cross-01234567/logs/%A_%a.out")
    );
    assert!(script.contains("export SWEEP_TASK_OFFSET=0\n"));
    insta::assert_snapshot!("array_typical", script);
}

#[test]
fn collect_script() {
    let plan = sample_plan("ma_cross", 4950, 50, 1001, None);
    let script = render_collect(&templates(), &plan, &typical_slurm(), &ctx()).expect("render");
    bash_syntax_ok(&script);
    assert_eq!(
        directive(&script, "job-name").as_deref(),
        Some("ma_cross-collect")
    );
    insta::assert_snapshot!("collect_typical", script);
}

#[test]
fn apptainer_container_script() {
    let plan = sample_plan("ma_cross", 100, 10, 1001, None);
    let slurm = SlurmConfig {
        container: Some(ContainerConfig {
            runtime: ContainerRuntime::Apptainer,
            image: "/sharedfs/images/bt-worker.sif".into(),
            args: vec!["--cleanenv".into()],
        }),
        ..typical_slurm()
    };
    let script = render_array(&templates(), &plan, &slurm, &ctx(), 0).expect("render");
    bash_syntax_ok(&script);
    insta::assert_snapshot!("array_apptainer", script);
}

#[test]
fn docker_container_script() {
    let plan = sample_plan("ma_cross", 100, 10, 1001, None);
    let slurm = SlurmConfig {
        container: Some(ContainerConfig {
            runtime: ContainerRuntime::Docker,
            image: "ghcr.io/example/bt-worker:0.1".into(),
            args: vec![],
        }),
        ..typical_slurm()
    };
    let script = render_array(&templates(), &plan, &slurm, &ctx(), 0).expect("render");
    bash_syntax_ok(&script);
    insta::assert_snapshot!("array_docker", script);
}

#[test]
fn podman_container_script() {
    let plan = sample_plan("ma_cross", 100, 10, 1001, None);
    let slurm = SlurmConfig {
        container: Some(ContainerConfig {
            runtime: ContainerRuntime::Podman,
            image: "localhost/slurm-sweep-worker:0.1".into(),
            args: vec!["--network=none".into()],
        }),
        worker: Some("/usr/local/bin/bt-worker".into()),
        ..typical_slurm()
    };
    let script = render_array(&templates(), &plan, &slurm, &ctx(), 0).expect("render");
    bash_syntax_ok(&script);
    assert!(
        script.contains("podman run --rm --user \"$(id -u):$(id -g)\" --hostname \"$host\""),
        "{script}"
    );
    insta::assert_snapshot!("array_podman", script);
}

#[test]
fn throttled_split_arrays() {
    // 2500 tasks, MaxArraySize 1001: arrays of 1001, 1001 and 498 tasks.
    let plan = sample_plan("big", 2500, 1, 1001, Some(8));
    assert_eq!(plan.arrays.len(), 3);
    let t = templates();
    let scripts: Vec<String> = (0..3)
        .map(|n| render_array(&t, &plan, &typical_slurm(), &ctx(), n).expect("render"))
        .collect();
    for s in &scripts {
        bash_syntax_ok(s);
    }
    assert_eq!(directive(&scripts[0], "array").as_deref(), Some("0-1000%8"));
    assert_eq!(directive(&scripts[1], "array").as_deref(), Some("0-1000%8"));
    assert_eq!(directive(&scripts[2], "array").as_deref(), Some("0-497%8"));
    assert!(scripts[1].contains("export SWEEP_TASK_OFFSET=1001\n"));
    assert!(scripts[2].contains("export SWEEP_TASK_OFFSET=2002\n"));
    insta::assert_snapshot!("array_split_last", &scripts[2]);
}

#[test]
fn setup_lines_extra_directives_and_worker() {
    let plan = sample_plan("ewmac", 30, 3, 1001, None);
    let slurm = SlurmConfig {
        account: Some("proj42".into()),
        qos: Some("short".into()),
        constraint: Some("arm64&fast".into()),
        nodes: Some(1),
        extra: vec!["--exclusive".into(), "--mail-type=FAIL".into()],
        setup: vec![
            "module load gcc/12".into(),
            "export OMP_NUM_THREADS=1".into(),
        ],
        worker: Some("/opt/bt/bin/bt-worker".into()),
        ..typical_slurm()
    };
    let script = render_array(&templates(), &plan, &slurm, &ctx(), 0).expect("render");
    bash_syntax_ok(&script);
    assert_eq!(
        directive(&script, "constraint").as_deref(),
        Some("arm64&fast")
    );
    assert!(script.contains("\nmodule load gcc/12\nexport OMP_NUM_THREADS=1\n"));
    insta::assert_snapshot!("array_setup", script);
}

#[test]
fn smoke_script() {
    let ctx = SmokeContext {
        sharedfs: "/sharedfs".into(),
        out_dir: "/sharedfs/smoke/20260102T030405Z".into(),
        data_dir: "/sharedfs/data".into(),
        nodes: 3,
        nodelist: None,
        time: "00:02:00".into(),
    };
    let script = render_smoke(&templates(), &typical_slurm(), &ctx).expect("render");
    bash_syntax_ok(&script);
    assert_eq!(directive(&script, "nodes").as_deref(), Some("3"));
    insta::assert_snapshot!("smoke_typical", script);
}

/// A directory name that tries every way out of a quoted string.
const HOSTILE: &str = "a b/$(touch pwned)/`touch pwned2`/'q\"/x;touch pwned3 #";

/// A sweep directory with a hostile name, inside a fresh temp dir.
fn hostile_dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let sharedfs = root.path().join("shared fs");
    let sweep_dir = sharedfs.join("sweeps").join(HOSTILE);
    std::fs::create_dir_all(sweep_dir.join("logs")).expect("mkdir");
    (root, sharedfs, sweep_dir)
}

/// Runs a rendered script with bash, cwd = `cwd`, PATH = `bin` first.
fn run_script(script: &str, cwd: &Path, bin: &Path) -> std::process::Output {
    let file = cwd.join("job.sh");
    std::fs::write(&file, script).expect("write");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg(&file)
        .current_dir(cwd)
        .env("PATH", path)
        .env("SLURM_ARRAY_TASK_ID", "3")
        .output()
        .expect("run bash")
}

fn assert_nothing_pwned(root: &Path) {
    let pwned: Vec<_> = all_files(root)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pwned"))
        })
        .collect();
    assert!(pwned.is_empty(), "injected commands ran: {pwned:?}");
}

#[test]
fn hostile_sweep_dir_is_passed_literally_to_the_worker() {
    let (root, sharedfs, sweep_dir) = hostile_dirs();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let args_file = root.path().join("worker-args");
    // A fake bt-worker that writes its arguments one per line (NUL-free) and fails with 3.
    write_executable(
        &bin.join("bt-worker"),
        &format!(
            "#!/bin/bash\nprintf '%s\\n' \"$@\" > '{}'\necho \"offset=$SWEEP_TASK_OFFSET\" >> '{}'\nexit 3\n",
            args_file.display(),
            args_file.display()
        ),
    );
    let plan = sample_plan("evil name $(touch pwned4)", 40, 1, 1001, None);
    let slurm = SlurmConfig {
        job_name: Some("job `touch pwned5` '\" #x".into()),
        partition: Some("part $(touch pwned6)".into()),
        ..SlurmConfig::default()
    };
    let ctx = RenderContext {
        sweep_dir: sweep_dir.clone(),
        sharedfs: sharedfs.clone(),
    };
    let script = render_array(&templates(), &plan, &slurm, &ctx, 0).expect("render");
    bash_syntax_ok(&script);

    // SLURM reads the #SBATCH values back literally.
    assert_eq!(
        directive(&script, "job-name").as_deref(),
        Some("job `touch pwned5` '\" #x")
    );
    assert_eq!(
        directive(&script, "partition").as_deref(),
        Some("part $(touch pwned6)")
    );
    assert_eq!(
        directive(&script, "output"),
        Some(format!("{}/logs/%A_%a.out", sweep_dir.display()))
    );

    let out = run_script(&script, root.path(), &bin);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the script exits with the worker's status"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("from PATH") && stderr.contains("bt-worker exited with status 3"),
        "{stderr}"
    );
    let args = std::fs::read_to_string(&args_file).expect("the fake worker ran");
    let expected = format!("task\n--sweep-dir\n{}\noffset=0\n", sweep_dir.display());
    assert_eq!(args, expected);
    assert_nothing_pwned(root.path());

    let collect = render_collect(&templates(), &plan, &slurm, &ctx).expect("render collect");
    bash_syntax_ok(&collect);
    write_executable(
        &bin.join("collect"),
        &format!(
            "#!/bin/bash\nprintf '%s\\n' \"$@\" > '{}'\n",
            args_file.display()
        ),
    );
    let out = run_script(&collect, root.path(), &bin);
    assert_eq!(out.status.code(), Some(0));
    let args = std::fs::read_to_string(&args_file).expect("the fake collect ran");
    assert_eq!(args, format!("{}\n--report\n", sweep_dir.display()));
    assert_nothing_pwned(root.path());
}

#[test]
fn hostile_values_inside_apptainer_wrapper_stay_literal() {
    let (root, sharedfs, sweep_dir) = hostile_dirs();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let args_file = root.path().join("apptainer-args");
    write_executable(
        &bin.join("apptainer"),
        &format!(
            "#!/bin/bash\nprintf '%s\\n' \"$@\" > '{}'\n",
            args_file.display()
        ),
    );
    let plan = sample_plan("s", 4, 1, 1001, None);
    let slurm = SlurmConfig {
        container: Some(ContainerConfig {
            runtime: ContainerRuntime::Apptainer,
            image: "/img/$(touch pwned).sif".into(),
            args: vec!["--env=A='`touch pwned`'".into()],
        }),
        ..SlurmConfig::default()
    };
    let ctx = RenderContext {
        sweep_dir: sweep_dir.clone(),
        sharedfs: sharedfs.clone(),
    };
    let script = render_array(&templates(), &plan, &slurm, &ctx, 0).expect("render");
    bash_syntax_ok(&script);
    let out = run_script(&script, root.path(), &bin);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args = std::fs::read_to_string(&args_file).expect("the fake apptainer ran");
    let expected = format!(
        "exec\n--bind\n{}\n--env=A='`touch pwned`'\n/img/$(touch pwned).sif\nbt-worker\ntask\n--sweep-dir\n{}\n",
        sharedfs.display(),
        sweep_dir.display()
    );
    assert_eq!(args, expected);
    assert_nothing_pwned(root.path());
}

#[test]
fn newlines_are_refused_with_the_field_named() {
    let plan = sample_plan("s", 4, 1, 1001, None);
    let t = templates();
    let bad_dir = RenderContext {
        sweep_dir: "/sharedfs/sweeps/x\n#SBATCH --wrap=evil".into(),
        sharedfs: "/sharedfs".into(),
    };
    let err = render_array(&t, &plan, &SlurmConfig::default(), &bad_dir, 0)
        .expect_err("a newline in the sweep dir must be refused");
    assert!(
        matches!(&err, RenderError::ControlCharacter { field, .. } if field == "sweep directory"),
        "{err}"
    );

    for (slurm, field) in [
        (
            SlurmConfig {
                partition: Some("p\n#SBATCH --uid=0".into()),
                ..SlurmConfig::default()
            },
            "[slurm] `partition`",
        ),
        (
            SlurmConfig {
                job_name: Some("j\rk".into()),
                ..SlurmConfig::default()
            },
            "[slurm] `job_name`",
        ),
        (
            SlurmConfig {
                extra: vec!["--exclusive\n--uid=0".into()],
                ..SlurmConfig::default()
            },
            "[slurm] `extra`",
        ),
    ] {
        let err = render_array(&t, &plan, &slurm, &ctx(), 0).expect_err("refused");
        assert!(err.to_string().contains(field), "{err}");
    }

    let named = sample_plan("name\nrm -rf /", 4, 1, 1001, None);
    let err = render_array(&t, &named, &SlurmConfig::default(), &ctx(), 0).expect_err("refused");
    assert!(err.to_string().contains("sweep name"), "{err}");
}

#[test]
fn user_templates_override_built_in_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("collect.sbatch.tera"),
        "#!/bin/bash\necho {{ sweep_dir | sh }}\n",
    )
    .expect("write");
    let t = Templates::load(Some(dir.path())).expect("templates");
    let plan = sample_plan("s", 4, 1, 1001, None);
    let collect = render_collect(&t, &plan, &SlurmConfig::default(), &ctx()).expect("render");
    assert_eq!(
        collect,
        "#!/bin/bash\necho '/sharedfs/sweeps/ma_cross-01234567'\n"
    );
    // array.sbatch.tera was not overridden: the built-in one is used.
    let array = render_array(&t, &plan, &SlurmConfig::default(), &ctx(), 0).expect("render");
    assert!(array.contains("\"$worker\" task --sweep-dir \"$SWEEP_DIR\""));
}
