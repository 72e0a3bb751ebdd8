//! What the result files of a sweep mean for each task: the one classification that
//! `bt-worker task` (skip or run), `sweep status`, `sweep resubmit` and `collect` all use,
//! so they can never disagree about a file.
//!
//! * **One file** ([`check_file`]), for a plan: `complete` (usable), `partial` (its runs do
//!   not cover its combinations), `corrupt` (unreadable, empty, not JSON of the result
//!   schema, or not what the plan says its task holds), or `foreign plan` (written for
//!   another plan hash).
//! * **One task** ([`TaskVerdict`]), from its complete files: none is `missing`; one or
//!   more that agree is `done` (or `failed` when runs failed); complete files that disagree
//!   in their numbers are a `conflict`. Of several complete files the one kept for the
//!   table has the fewest failed runs, then the latest `finished` time; the others are
//!   duplicates, each said to agree with it or not.
//! * **Around the files**: temporary files of interrupted writes, quarantined files and
//!   files of other names are listed, never read as results. A column sidecar
//!   (`task-<k>.<host>.<sha8>.cols`) that no complete result file names is a leftover (a
//!   write that stopped between the sidecar and its JSON, or the sidecar of a file that is
//!   not complete) and is listed with the task's unfinished writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::layout::{
    parse_result_file_name, parse_sidecar_file_name, temp_result_task, ResultsListing,
};
use crate::plan::Plan;
use crate::reader::{ProblemKind, ResultHeader, ResultProblem};

/// What one result file is, for a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "reason")]
pub enum FileVerdict {
    Complete,
    Partial(String),
    Corrupt(String),
    /// Written for another plan: its hash and sweep name.
    ForeignPlan(String),
}

impl FileVerdict {
    /// A short label: `complete`, `partial`, `corrupt`, `foreign plan`.
    pub fn label(&self) -> &'static str {
        match self {
            FileVerdict::Complete => "complete",
            FileVerdict::Partial(_) => "partial",
            FileVerdict::Corrupt(_) => "corrupt",
            FileVerdict::ForeignPlan(_) => "foreign plan",
        }
    }

    /// Why the file is not usable (`None` when it is complete).
    pub fn reason(&self) -> Option<&str> {
        match self {
            FileVerdict::Complete => None,
            FileVerdict::Partial(r) | FileVerdict::Corrupt(r) | FileVerdict::ForeignPlan(r) => {
                Some(r)
            }
        }
    }
}

/// One file read and judged.
#[derive(Clone, Debug, PartialEq)]
pub struct FileCheck {
    pub path: PathBuf,
    /// The task the file is for: from its content, else from its name.
    pub task: Option<u64>,
    pub verdict: FileVerdict,
    /// What the file says about itself, when it could be read.
    pub header: Option<ResultHeader>,
}

impl std::fmt::Display for FileCheck {
    /// `<path>: <verdict>: <reason>` (`<path>: complete` for a usable file).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.verdict.label())?;
        match self.verdict.reason() {
            Some(r) => write!(f, ": {r}"),
            None => Ok(()),
        }
    }
}

/// Judges one file for `plan` (`None`: no plan known, only the file's own checks) from what
/// [`crate::reader`] made of it.
pub fn check_file(
    plan: Option<&Plan>,
    path: &Path,
    read: Result<ResultHeader, ResultProblem>,
) -> FileCheck {
    let named_task = path
        .file_name()
        .and_then(|n| parse_result_file_name(&n.to_string_lossy()))
        .map(|(k, _)| k);
    let header = match read {
        Ok(h) => h,
        Err(p) => {
            let verdict = match p.kind {
                ProblemKind::Partial => FileVerdict::Partial(p.message),
                ProblemKind::Unreadable | ProblemKind::Empty | ProblemKind::Corrupt => {
                    FileVerdict::Corrupt(p.message)
                }
            };
            return FileCheck {
                path: path.to_path_buf(),
                task: named_task,
                verdict,
                header: None,
            };
        }
    };
    let verdict = match plan {
        Some(plan) if header.plan_hash != plan.hash => FileVerdict::ForeignPlan(format!(
            "written for plan {} of sweep `{}`; this sweep's plan is {}",
            short_hash(&header.plan_hash),
            header.sweep,
            short_hash(&plan.hash)
        )),
        Some(plan) if header.task >= plan.tasks => FileVerdict::Corrupt(format!(
            "holds task {}, but the plan has {} tasks",
            header.task, plan.tasks
        )),
        Some(plan)
            if plan.task_range(header.task) != (header.first..header.first + header.count) =>
        {
            let want = plan.task_range(header.task);
            FileVerdict::Corrupt(format!(
                "does not match the plan: task {} holds combinations {}..{}, the file has {}..{}",
                header.task,
                want.start,
                want.end,
                header.first,
                header.first + header.count
            ))
        }
        _ if named_task.is_some_and(|k| k != header.task) => FileVerdict::Corrupt(format!(
            "holds task {} under the name of task {}",
            header.task,
            named_task.unwrap_or_default()
        )),
        _ => FileVerdict::Complete,
    };
    FileCheck {
        path: path.to_path_buf(),
        task: Some(header.task),
        verdict,
        header: Some(header),
    }
}

/// The first 8 characters of a hash.
pub fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(8)]
}

/// A complete file of a task that is not the one kept.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Duplicate {
    pub path: PathBuf,
    pub finished: DateTime<Utc>,
    /// Whether its numbers equal the kept file's.
    pub agrees: bool,
}

/// Where one task stands, from its result files.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TaskVerdict {
    /// No complete result file.
    Missing,
    /// A complete result, every run ok.
    Done,
    /// A complete result with failed runs.
    Failed {
        failed_runs: usize,
        first_error: Option<String>,
    },
    /// Complete result files that disagree in their numbers.
    Conflict,
}

impl TaskVerdict {
    pub fn label(&self) -> &'static str {
        match self {
            TaskVerdict::Missing => "missing",
            TaskVerdict::Done => "done",
            TaskVerdict::Failed { .. } => "failed",
            TaskVerdict::Conflict => "conflict",
        }
    }
}

/// Everything the result files say about one task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResults {
    pub task: u64,
    pub verdict: TaskVerdict,
    /// The complete file used for the table.
    pub kept: Option<ResultHeader>,
    pub duplicates: Vec<Duplicate>,
    /// Files of this task that are not complete (partial, corrupt, foreign plan).
    pub problems: Vec<FileCheck>,
    /// Temporary files of writes of this task (in progress, or left by a killed writer),
    /// and its leftover column sidecars (named by no complete result file).
    pub temp: Vec<PathBuf>,
}

impl TaskResults {
    fn new(task: u64) -> Self {
        TaskResults {
            task,
            verdict: TaskVerdict::Missing,
            kept: None,
            duplicates: Vec::new(),
            problems: Vec::new(),
            temp: Vec::new(),
        }
    }
}

/// The result files of a sweep, judged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepResults {
    /// Every task that has any file (task number -> what its files say).
    pub tasks: BTreeMap<u64, TaskResults>,
    /// Problem files whose task is unknown or outside the plan.
    pub unplaced: Vec<FileCheck>,
    /// Temporary files whose task cannot be told.
    pub temp: Vec<PathBuf>,
    pub quarantined: Vec<PathBuf>,
    /// Files of other names in `results/`.
    pub other: Vec<PathBuf>,
}

impl SweepResults {
    /// Groups judged files by task and decides each task (see the module documentation).
    /// `listing` supplies the temporary, quarantined and other files.
    pub fn new(plan: Option<&Plan>, checks: Vec<FileCheck>, listing: &ResultsListing) -> Self {
        let mut out = SweepResults {
            quarantined: listing.quarantined.clone(),
            other: listing.other.clone(),
            ..SweepResults::default()
        };
        let in_plan = |task: u64| plan.is_none_or(|p| task < p.tasks);
        // Sidecar names carry the task, host and content hash: a name is one sidecar.
        let named: std::collections::HashSet<std::ffi::OsString> = checks
            .iter()
            .filter(|c| c.verdict == FileVerdict::Complete)
            .filter_map(|c| c.header.as_ref()?.sidecar.as_ref()?.file_name())
            .map(|n| n.to_os_string())
            .collect();
        let leftovers: Vec<PathBuf> = listing
            .sidecars
            .iter()
            .filter(|p| !p.file_name().is_some_and(|n| named.contains(n)))
            .cloned()
            .collect();
        let mut complete: BTreeMap<u64, Vec<ResultHeader>> = BTreeMap::new();
        for check in checks {
            match (check.task, &check.verdict) {
                (Some(task), FileVerdict::Complete) => {
                    if let Some(h) = check.header {
                        complete.entry(task).or_default().push(h);
                    }
                }
                (Some(task), _) if in_plan(task) => out
                    .tasks
                    .entry(task)
                    .or_insert_with(|| TaskResults::new(task))
                    .problems
                    .push(check),
                _ => out.unplaced.push(check),
            }
        }
        for path in listing.temp.iter().chain(&leftovers) {
            let task = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .and_then(|n| temp_result_task(&n).or(parse_sidecar_file_name(&n).map(|s| s.0)))
                .filter(|&t| in_plan(t));
            match task {
                Some(t) => out
                    .tasks
                    .entry(t)
                    .or_insert_with(|| TaskResults::new(t))
                    .temp
                    .push(path.clone()),
                None => out.temp.push(path.clone()),
            }
        }
        for (task, mut files) in complete {
            // Kept: fewest failed runs, then the latest finish, then the path.
            files.sort_by(|a, b| {
                b.failed
                    .cmp(&a.failed)
                    .then(a.finished.cmp(&b.finished))
                    .then(b.path.cmp(&a.path))
            });
            let Some(kept) = files.pop() else { continue };
            let t = out
                .tasks
                .entry(task)
                .or_insert_with(|| TaskResults::new(task));
            t.duplicates = files
                .iter()
                .rev()
                .map(|f| Duplicate {
                    path: f.path.clone(),
                    finished: f.finished,
                    agrees: f.digest == kept.digest,
                })
                .collect();
            t.verdict = if t.duplicates.iter().any(|d| !d.agrees) {
                TaskVerdict::Conflict
            } else if kept.failed > 0 {
                TaskVerdict::Failed {
                    failed_runs: kept.failed,
                    first_error: kept.first_error.clone(),
                }
            } else {
                TaskVerdict::Done
            };
            t.kept = Some(kept);
        }
        out
    }

    /// The verdict of `task` (missing when it has no file at all).
    pub fn verdict(&self, task: u64) -> &TaskVerdict {
        self.tasks
            .get(&task)
            .map_or(&TaskVerdict::Missing, |t| &t.verdict)
    }

    /// Every temporary file, placed or not.
    pub fn all_temp(&self) -> impl Iterator<Item = &PathBuf> {
        self.tasks
            .values()
            .flat_map(|t| t.temp.iter())
            .chain(self.temp.iter())
    }

    /// Every problem file (partial, corrupt, foreign plan), placed or not.
    pub fn all_problems(&self) -> impl Iterator<Item = &FileCheck> {
        self.tasks
            .values()
            .flat_map(|t| t.problems.iter())
            .chain(self.unplaced.iter())
    }
}

/// Reads and judges every result file of a sweep directory for its plan (no rows are
/// kept): what `sweep status` and `sweep resubmit` see.
pub fn scan(dir: &crate::layout::SweepDir, plan: &Plan) -> std::io::Result<SweepResults> {
    let listing = ResultsListing::read(dir)?;
    let checks = listing
        .results
        .iter()
        .map(|path| {
            let read = crate::reader::read_result_file(path, false, |_| {});
            check_file(Some(plan), path, read)
        })
        .collect();
    Ok(SweepResults::new(Some(plan), checks, &listing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{split_arrays, PLAN_SCHEMA};
    use crate::result::SlurmIds;

    fn plan() -> Plan {
        Plan {
            schema: PLAN_SCHEMA.into(),
            name: "s".into(),
            hash: "h1".repeat(32),
            spec_hash: String::new(),
            data: Vec::new(),
            inputs: Vec::new(),
            strategy: "ma_cross".into(),
            combos: 10,
            combos_per_task: 5,
            tasks: 2,
            manifest_index: None,
            max_array_size: 1001,
            arrays: split_arrays(2, 1001),
            throttle: None,
            tool_version: "0".into(),
            created: Utc::now(),
            walk_forward: None,
        }
    }

    fn header(task: u64, failed: usize, digest: u64, minute: u32) -> ResultHeader {
        ResultHeader {
            path: PathBuf::from(format!("results/task-{task}.n{minute}.json")),
            sweep: "s".into(),
            plan_hash: "h1".repeat(32),
            task,
            first: task * 5,
            count: 5,
            host: format!("n{minute}"),
            slurm: SlurmIds::default(),
            finished: DateTime::parse_from_rfc3339(&format!("2026-01-01T00:{minute:02}:00Z"))
                .expect("time")
                .with_timezone(&Utc),
            failed,
            first_error: (failed > 0).then(|| "boom".into()),
            digest,
            sidecar: None,
        }
    }

    fn check(h: ResultHeader) -> FileCheck {
        let path = h.path.clone();
        check_file(Some(&plan()), &path, Ok(h))
    }

    #[test]
    fn files_are_judged_against_the_plan() {
        assert_eq!(check(header(1, 0, 1, 0)).verdict, FileVerdict::Complete);
        let mut foreign = header(1, 0, 1, 0);
        foreign.plan_hash = "zz".into();
        assert_eq!(check(foreign).verdict.label(), "foreign plan");
        let mut shifted = header(1, 0, 1, 0);
        shifted.first = 4;
        let v = check(shifted).verdict;
        assert!(v.reason().is_some_and(|r| r.contains("5..10")), "{v:?}");
        let mut renamed = header(1, 0, 1, 0);
        renamed.path = PathBuf::from("results/task-0.n.json");
        assert_eq!(check(renamed).verdict.label(), "corrupt");
        let bad = check_file(
            Some(&plan()),
            Path::new("results/task-1.x.json"),
            Err(ResultProblem {
                kind: ProblemKind::Partial,
                message: "incomplete".into(),
            }),
        );
        assert_eq!((bad.task, bad.verdict.label()), (Some(1), "partial"));
    }

    #[test]
    fn duplicates_are_kept_once_and_disagreement_is_a_conflict() {
        let listing = ResultsListing::default();
        // Task 0: two agreeing files, the later one kept.
        // Task 1: an ok file and a newer one with a failed run: the ok one is kept, and
        // they disagree.
        let checks = vec![
            check(header(0, 0, 7, 1)),
            check(header(0, 0, 7, 2)),
            check(header(1, 0, 8, 1)),
            check(header(1, 1, 9, 3)),
        ];
        let r = SweepResults::new(Some(&plan()), checks, &listing);
        let t0 = &r.tasks[&0];
        assert_eq!(t0.verdict, TaskVerdict::Done);
        assert_eq!(t0.kept.as_ref().map(|k| k.host.as_str()), Some("n2"));
        assert_eq!(t0.duplicates.len(), 1);
        assert!(t0.duplicates[0].agrees);
        let t1 = &r.tasks[&1];
        assert_eq!(t1.verdict, TaskVerdict::Conflict);
        assert_eq!(t1.kept.as_ref().map(|k| k.failed), Some(0));
        assert_eq!(r.verdict(5), &TaskVerdict::Missing);
    }

    #[test]
    fn temp_files_go_to_their_task() {
        let listing = ResultsListing {
            temp: vec![
                PathBuf::from("results/.task-1.n.json.x9.tmp"),
                PathBuf::from("results/.other.tmp"),
            ],
            ..ResultsListing::default()
        };
        let r = SweepResults::new(Some(&plan()), Vec::new(), &listing);
        assert_eq!(r.tasks[&1].temp.len(), 1);
        assert_eq!(r.verdict(1), &TaskVerdict::Missing);
        assert_eq!(r.temp.len(), 1);
        assert_eq!(r.all_temp().count(), 2);
    }

    #[test]
    fn a_sidecar_no_complete_file_names_is_a_leftover() {
        let mut kept = header(0, 0, 7, 1);
        kept.sidecar = Some(PathBuf::from("results/task-0.n1.0123abcd.cols"));
        let listing = ResultsListing {
            sidecars: vec![
                PathBuf::from("results/task-0.n1.0123abcd.cols"),
                PathBuf::from("results/task-0.n1.ffffffff.cols"),
                PathBuf::from("results/task-1.n2.00000000.cols"),
                PathBuf::from("results/task-99.n2.00000000.cols"),
            ],
            ..ResultsListing::default()
        };
        let r = SweepResults::new(Some(&plan()), vec![check(kept)], &listing);
        assert_eq!(r.verdict(0), &TaskVerdict::Done);
        assert_eq!(
            r.tasks[&0].temp,
            vec![PathBuf::from("results/task-0.n1.ffffffff.cols")]
        );
        assert_eq!(
            r.tasks[&1].temp,
            vec![PathBuf::from("results/task-1.n2.00000000.cols")]
        );
        assert_eq!(r.verdict(1), &TaskVerdict::Missing);
        assert_eq!(
            r.temp,
            vec![PathBuf::from("results/task-99.n2.00000000.cols")]
        );
        assert_eq!(r.all_temp().count(), 3);
    }
}
