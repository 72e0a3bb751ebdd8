//! End-to-end: a sweep whose array tasks run inside a container, for real, on the local
//! SLURM cluster (`scripts/local-cluster.sh up`).
//!
//! The image is built here, offline, `FROM scratch` with nothing but the static (musl)
//! `bt-worker` at `/usr/local/bin/bt-worker`, a path that does not exist on the host: a
//! result can only come from inside the container. Podman runs with a `containers.conf` of
//! this test's own (no default ulimits, `runc`, the cgroupfs manager), passed to the jobs
//! through `CONTAINERS_CONF` (SLURM exports the submitter's environment). The sweep's data
//! is imported onto the test's shared filesystem, which the array script binds at the same
//! path. Checked: every task ran in the image on a cluster node and its result carries
//! that node's host name, lands on the shared filesystem owned by the job's user, and the
//! ranked table equals a local run of the same sweep without a container.
//!
//! Runs only with `SLURM_SWEEP_E2E=1`; then podman must be installed (`.ci/run` installs
//! it): a missing podman is a failure, not a skip.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use e2e::{
    banner, collect, data_dir, job_ids, only_sweep_dir, repo_root, result_files, run, scratch,
    sweep, wait_jobs_gone, Csv,
};

const NODES: [&str; 3] = ["node02", "node03", "node04"];
const IMAGE: &str = "localhost/slurm-sweep-worker:e2e";
const WORKER_IN_IMAGE: &str = "/usr/local/bin/bt-worker";
const SECTORS: [&str; 9] = [
    "XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY",
];

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Builds the static x86_64 worker (musl), into the workspace's target directory.
fn static_worker() -> PathBuf {
    let target = e2e::bin_dir().parent().expect("target dir").to_path_buf();
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "x86_64-unknown-linux-musl",
            "-p",
            "bt-worker",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(repo_root())
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build of the static worker failed");
    let worker = target.join("x86_64-unknown-linux-musl/release/bt-worker");
    assert!(worker.is_file(), "{}", worker.display());
    worker
}

/// The test image, built once per test binary: its `containers.conf` (exported as
/// `CONTAINERS_CONF` for this process and, through SLURM, for the jobs) and the image
/// `FROM scratch` with the static worker. Returns the directory that holds both.
fn image() -> &'static Path {
    static IMAGE_DIR: OnceLock<PathBuf> = OnceLock::new();
    IMAGE_DIR.get_or_init(|| {
        assert!(
            !Path::new(WORKER_IN_IMAGE).exists(),
            "{WORKER_IN_IMAGE} exists on the host: the test could not tell where the worker ran"
        );
        let root = scratch("container-image");
        let conf = root.join("containers.conf");
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .expect("containers.conf");
        // Every podman call of these tests and of the jobs (SLURM exports this environment).
        std::env::set_var("CONTAINERS_CONF", &conf);
        let podman = run("podman", &["--version"]);
        assert_eq!(
            podman.code,
            Some(0),
            "podman is needed (apt-get install podman runc): {}",
            podman.stderr
        );

        // The image: the static worker and nothing else.
        let context = root.join("image");
        std::fs::create_dir_all(context.join("bin")).expect("mkdir");
        std::fs::copy(static_worker(), context.join("bin/bt-worker")).expect("copy worker");
        std::fs::write(
            context.join("Containerfile"),
            format!("FROM scratch\nCOPY bin/bt-worker {WORKER_IN_IMAGE}\n"),
        )
        .expect("Containerfile");
        let built = run(
            "podman",
            &[
                os("build"),
                os("--quiet"),
                os("-t"),
                os(IMAGE),
                os("-f"),
                context.join("Containerfile").as_os_str(),
                context.as_os_str(),
            ],
        );
        assert_eq!(built.code, Some(0), "podman build: {}", built.stderr);
        let version = run(
            "podman",
            &["run", "--rm", IMAGE, WORKER_IN_IMAGE, "--version"],
        );
        assert_eq!(version.code, Some(0), "{}", version.stderr);
        root
    })
}

/// `sweep data import` of the price files of `symbols` into `<sharedfs>/data/<dataset>`.
fn import(sharedfs: &Path, dataset: &str, symbols: &[&str]) -> PathBuf {
    let csvs: Vec<PathBuf> = symbols
        .iter()
        .map(|s| {
            data_dir()
                .join("qstrader_examples")
                .join(format!("{s}.csv"))
        })
        .collect();
    let mut args: Vec<&OsStr> = vec![os("data"), os("import")];
    args.extend(csvs.iter().map(|p| p.as_os_str()));
    args.extend([
        os("--sharedfs"),
        sharedfs.as_os_str(),
        os("--dataset"),
        os(dataset),
    ]);
    sweep(&args).expect_code(0);
    sharedfs.join("data").join(dataset)
}

/// Checks every result file of `dir`: `tasks` of them, each from a cluster node whose
/// host name it carries, owned by the job's user (the test's), written by the worker in
/// the image (its task log says which binary ran). Returns the hosts.
fn check_results_from_the_image(root: &Path, dir: &Path, tasks: usize) -> BTreeSet<String> {
    let results = result_files(dir);
    assert_eq!(results.len(), tasks, "one result per task: {results:?}");
    let me = std::fs::metadata(root).expect("stat").uid();
    let mut hosts = BTreeSet::new();
    for (name, f) in &results {
        println!(
            "{name}: task {} host {} SLURMD_NODENAME {:?} worker {} {}",
            f.task, f.host, f.slurmd_nodename, f.worker_version, f.arch
        );
        assert!(NODES.contains(&f.host.as_str()), "{name}: host {}", f.host);
        assert_eq!(f.slurmd_nodename.as_deref(), Some(f.host.as_str()));
        let owner = std::fs::metadata(dir.join("results").join(name))
            .expect("stat")
            .uid();
        assert_eq!(
            owner, me,
            "{name} is owned by uid {owner}, not the job user {me}"
        );
        hosts.insert(f.host.clone());
        let log = std::fs::read_dir(dir.join("logs"))
            .expect("logs")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "err"))
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .find(|t| t.contains(&format!("task {} on {}", f.task, f.host)))
            .unwrap_or_default();
        assert!(
            log.contains(&format!("using bt-worker {WORKER_IN_IMAGE}")),
            "task {}: {log}",
            f.task
        );
    }
    println!("ran on {hosts:?}");
    hosts
}

#[test]
fn sweep_tasks_run_inside_a_podman_container_on_the_cluster() {
    if !e2e::enabled("container") {
        return;
    }
    banner("container (podman, FROM scratch, static worker)");
    image();
    let root = scratch("container");

    // The shared filesystem with the data imported, and the spec.
    let sharedfs = root.join("sharedfs");
    let data = import(&sharedfs, "etfs", &SECTORS);
    let spec_text = |container: bool| {
        format!(
            r#"name = "e2e_container"
strategy = "momentum_taa"
[data]
dir = "{data}"
symbols = {symbols:?}
[backtest]
start = "2015-01-02"
end = "2019-12-31"
[params]
lookback = [63, 126, 252]
top_n = [1, 3]
[slurm]
partition = "mycluster"
time = "00:05:00"
combos_per_task = 2
{container}"#,
            data = data.display(),
            symbols = SECTORS,
            container = if container {
                format!(
                    "worker = \"{WORKER_IN_IMAGE}\"\n[slurm.container]\nruntime = \"podman\"\nimage = \"{IMAGE}\"\nargs = [\"--network=none\"]\n"
                )
            } else {
                String::new()
            },
        )
    };
    let spec = root.join("container.toml");
    std::fs::write(&spec, spec_text(true)).expect("spec");
    let out = sweep(&[
        os("submit"),
        spec.as_os_str(),
        os("--sharedfs"),
        sharedfs.as_os_str(),
    ]);
    out.expect_code(0);
    let dir = only_sweep_dir(&sharedfs);
    let script = std::fs::read_to_string(dir.join("array.sbatch")).expect("script");
    assert!(script.contains("podman run --rm"), "{script}");
    let mut jobs = job_ids(&dir, "array");
    jobs.extend(job_ids(&dir, "collect"));
    wait_jobs_gone(&jobs, Duration::from_secs(300));

    // Every task ran in the image, on a node, and wrote its result as the job's user.
    check_results_from_the_image(&root, &dir, 3);

    // The ranking equals a local run of the same sweep without the container.
    let in_container = collect(&[dir.as_os_str(), os("--format"), os("csv")]);
    in_container.expect_code(0);
    let local_fs = root.join("local");
    let local_spec = root.join("local.toml");
    std::fs::write(&local_spec, spec_text(false)).expect("spec");
    sweep(&[
        os("run"),
        local_spec.as_os_str(),
        os("--local"),
        os("--no-collect"),
        os("--sharedfs"),
        local_fs.as_os_str(),
    ])
    .expect_code(0);
    let local = collect(&[
        only_sweep_dir(&local_fs).as_os_str(),
        os("--format"),
        os("csv"),
    ]);
    local.expect_code(0);
    assert_eq!(
        Csv::parse(&in_container.stdout).without_host_columns(),
        Csv::parse(&local.stdout).without_host_columns(),
        "the container's ranking differs from the local run's"
    );
}

/// A `strategy = "command"` sweep run inside the container: each combination runs
/// `/usr/local/bin/bt-worker run ... --equity-csv {result}` (output `equity_csv`) as an
/// external program, a path that exists only in the image (planning on this machine says
/// so in a note). Checked as above (node host names, owner, the worker of the image),
/// `bt-worker command` run by hand in the image, and the ranking equals a local run of the
/// same command sweep without a container (the host's `bt-worker` as the program).
#[test]
fn command_sweep_runs_inside_a_podman_container_on_the_cluster() {
    if !e2e::enabled("container") {
        return;
    }
    banner("container: a command sweep (the image's bt-worker run as the program)");
    image();
    let root = scratch("container-command");
    let sharedfs = root.join("sharedfs");
    let data = import(&sharedfs, "spy_agg", &["SPY", "AGG"]);
    // The program's working directory: on the shared filesystem, which the container binds.
    let workdir = sharedfs.join("work");
    std::fs::create_dir_all(&workdir).expect("mkdir work");
    let spec_text = |program: &Path, container: bool| {
        format!(
            r#"name = "e2e_container_command"
strategy = "command"

[data]
dir = "{data}"
symbols = ["SPY", "AGG"]

[command]
argv = ["{program}", "run", "--strategy", "fixed_weights",
        "--data-dir", "{data}", "--symbols", "SPY,AGG",
        "-p", "w_SPY=0.6", "-p", "w_AGG=0.4", "--start", "2010-01-04", "--end", "2019-12-31",
        "--rebalance", "{{rebalance}}", "--commission-bps", "{{commission_bps}}",
        "--equity-csv", "{{result}}"]
workdir = "{workdir}"
timeout = "2m"
output = "equity_csv"

[command.params]
rebalance = {{ type = "choice", default = "end_of_month", choices = ["end_of_month", "weekly", "daily"] }}
commission_bps = {{ type = "float", default = 0.0, min = 0.0, max = 100.0 }}

[params]
rebalance = ["end_of_month", "weekly", "daily"]
commission_bps = [0.0, 25.0]

[slurm]
partition = "mycluster"
time = "00:05:00"
combos_per_task = 2
cpus_per_task = 4
{container}"#,
            data = data.display(),
            program = program.display(),
            workdir = workdir.display(),
            container = if container {
                format!(
                    "worker = \"{WORKER_IN_IMAGE}\"\n[slurm.container]\nruntime = \"podman\"\nimage = \"{IMAGE}\"\nargs = [\"--network=none\"]\n"
                )
            } else {
                String::new()
            },
        )
    };
    let spec = root.join("command.toml");
    let text = spec_text(Path::new(WORKER_IN_IMAGE), true);
    println!("spec {}:\n{text}", spec.display());
    std::fs::write(&spec, &text).expect("spec");
    sweep(&[
        os("submit"),
        spec.as_os_str(),
        os("--sharedfs"),
        sharedfs.as_os_str(),
    ])
    .expect_code(0);
    let dir = only_sweep_dir(&sharedfs);
    let script = std::fs::read_to_string(dir.join("array.sbatch")).expect("script");
    assert!(script.contains("podman run --rm"), "{script}");
    let mut jobs = job_ids(&dir, "array");
    jobs.extend(job_ids(&dir, "collect"));
    wait_jobs_gone(&jobs, Duration::from_secs(300));

    // Six combinations in three tasks, each in the image on a node; the program existed
    // only there, so every ok run is the image's.
    // A task takes a whole node (4 CPUs), so the three spread over the nodes.
    let hosts = check_results_from_the_image(&root, &dir, 3);
    assert!(hosts.len() >= 2, "all tasks ran on {hosts:?}");
    for (name, f) in result_files(&dir) {
        for r in &f.runs {
            assert!(
                r.error.is_none(),
                "{name}: combination {} failed: {:?}",
                r.i,
                r.error
            );
        }
    }
    let in_container = collect(&[dir.as_os_str(), os("--format"), os("csv")]);
    in_container.expect_code(0);
    collect(&[dir.as_os_str()]).expect_code(0);

    // The host's bt-worker is not in the container (only the image and the shared
    // filesystem are).
    let host_worker = e2e::bin("bt-worker");
    let absent = run(
        "podman",
        &[
            os("run"),
            os("--rm"),
            os("--network=none"),
            os(IMAGE),
            host_worker.as_os_str(),
            os("--version"),
        ],
    );
    assert_ne!(
        absent.code,
        Some(0),
        "{} runs inside the container",
        host_worker.display()
    );
    // One combination by hand in the image, as a user debugging it would.
    let bind = format!("{0}:{0}", sharedfs.display());
    let by_hand = run(
        "podman",
        &[
            os("run"),
            os("--rm"),
            os("--network=none"),
            os("-v"),
            os(&bind),
            os(IMAGE),
            os(WORKER_IN_IMAGE),
            os("command"),
            os("--sweep-dir"),
            dir.as_os_str(),
            os("--combo"),
            os("0"),
        ],
    );
    assert_eq!(by_hand.code, Some(0), "{}", by_hand.stderr);

    // The same command sweep, locally, with the host's bt-worker as the program.
    let local_fs = root.join("local");
    let local_spec = root.join("local.toml");
    std::fs::write(&local_spec, spec_text(&e2e::bin("bt-worker"), false)).expect("spec");
    sweep(&[
        os("run"),
        local_spec.as_os_str(),
        os("--local"),
        os("--no-collect"),
        os("--sharedfs"),
        local_fs.as_os_str(),
    ])
    .expect_code(0);
    let local = collect(&[
        only_sweep_dir(&local_fs).as_os_str(),
        os("--format"),
        os("csv"),
    ]);
    local.expect_code(0);
    let (ours, theirs) = (
        Csv::parse(&in_container.stdout).without_host_columns(),
        Csv::parse(&local.stdout).without_host_columns(),
    );
    assert_eq!(ours.rows.len(), 6, "{}", in_container.stdout);
    assert_eq!(
        ours, theirs,
        "the container's ranking differs from the local run's"
    );
    println!(
        "the command sweep in the container ranks exactly as the local run: 6 rows x {} columns",
        ours.header.len()
    );
}
