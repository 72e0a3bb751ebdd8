//! Completeness, never silent: which plan every file belongs to (mixing plans is refused
//! unless allowed), duplicate results of one task (the newest by `finished` is kept, and
//! said so), files that do not match the plan, missing tasks, failed combinations and tasks
//! with the last lines of their `.err` logs, corrupt and quarantined files.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use sweep_core::SweepDir;

use crate::inputs::{
    task_from_file_name, CorruptFile, Parsed, QstraderRun, SweepInput, TaskResult,
};
use crate::table::PlanId;
use crate::CollectError;

/// How many log lines are quoted per task.
pub const LOG_TAIL_LINES: usize = 10;

/// The plan hash given to QSTrader files, which have none.
pub const QSTRADER_PLAN: &str = "qstrader";

/// One plan whose files were read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanSummary {
    pub hash: String,
    pub sweep: String,
    pub files: usize,
    /// Tasks the plan expects, when its plan.json was read.
    pub expected_tasks: Option<u64>,
    pub expected_combos: Option<u64>,
}

/// The end of a task's `.err` log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogTail {
    pub path: PathBuf,
    pub lines: Vec<String>,
}

/// A task with no usable result, or with failed combinations.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskProblem {
    pub plan: String,
    pub task: u64,
    /// First and last-plus-one combination index of the task.
    pub combos: (u64, u64),
    /// What went wrong, in words.
    pub what: String,
    pub log: Option<LogTail>,
}

/// One combination that ran and failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailedRun {
    pub plan: String,
    pub combo: u64,
    pub task: u64,
    pub params: String,
    pub error: String,
}

/// Several results of one task: which was kept.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Duplicate {
    pub plan: String,
    pub task: u64,
    pub kept: PathBuf,
    pub kept_finished: DateTime<Utc>,
    /// The files not used, with their finish times.
    pub dropped: Vec<(PathBuf, DateTime<Utc>)>,
}

/// Everything known about what is and is not in the table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Completeness {
    pub plans: Vec<PlanSummary>,
    pub files_read: usize,
    pub tasks_with_results: usize,
    pub combos_ok: usize,
    pub combos_failed: usize,
    pub missing_tasks: Vec<TaskProblem>,
    pub failed_tasks: Vec<TaskProblem>,
    pub failed_runs: Vec<FailedRun>,
    pub duplicates: Vec<Duplicate>,
    pub corrupt: Vec<CorruptFile>,
    pub quarantined: Vec<PathBuf>,
    /// Facts that limit what can be checked (e.g. no plan to compare with).
    pub notes: Vec<String>,
}

impl Completeness {
    /// True when nothing is missing, failed or corrupt.
    pub fn is_complete(&self) -> bool {
        self.missing_tasks.is_empty()
            && self.failed_runs.is_empty()
            && self.failed_tasks.is_empty()
            && self.corrupt.is_empty()
    }

    /// Combinations expected by the plans read (None when no plan was read).
    pub fn expected_combos(&self) -> Option<u64> {
        let known: Vec<u64> = self
            .plans
            .iter()
            .filter_map(|p| p.expected_combos)
            .collect();
        (!known.is_empty()).then(|| known.iter().sum())
    }

    /// A one-line verdict.
    pub fn verdict(&self) -> String {
        if self.is_complete() {
            "complete".to_string()
        } else {
            let mut parts = Vec::new();
            if !self.missing_tasks.is_empty() {
                parts.push(format!("{} missing task(s)", self.missing_tasks.len()));
            }
            if !self.failed_runs.is_empty() {
                parts.push(format!(
                    "{} failed combination(s) in {} task(s)",
                    self.failed_runs.len(),
                    self.failed_tasks.len()
                ));
            }
            if !self.corrupt.is_empty() {
                parts.push(format!("{} corrupt file(s)", self.corrupt.len()));
            }
            format!("PARTIAL: {}", parts.join(", "))
        }
    }

    /// A plain-text account for the terminal (at most `limit` items per list).
    pub fn to_text(&self, limit: usize) -> String {
        let mut out = String::new();
        let expected = self
            .expected_combos()
            .map_or(String::new(), |e| format!(" of {e} expected"));
        out.push_str(&format!(
            "collect: {} file(s) read, {} task(s) with results, {} combination(s) ok{expected}, {} failed: {}\n",
            self.files_read,
            self.tasks_with_results,
            self.combos_ok,
            self.combos_failed,
            self.verdict()
        ));
        for p in &self.plans {
            out.push_str(&format!(
                "  plan {} ({}): {} file(s){}\n",
                short(&p.hash),
                p.sweep,
                p.files,
                p.expected_tasks
                    .map_or(String::new(), |t| format!(", {t} task(s) planned"))
            ));
        }
        list(&mut out, "missing task", &self.missing_tasks, limit, |t| {
            let mut s = format!(
                "task {} (combos {}..{}): {}",
                t.task, t.combos.0, t.combos.1, t.what
            );
            push_log(&mut s, &t.log);
            s
        });
        list(
            &mut out,
            "task with failures",
            &self.failed_tasks,
            limit,
            |t| {
                let mut s = format!("task {}: {}", t.task, t.what);
                push_log(&mut s, &t.log);
                s
            },
        );
        list(
            &mut out,
            "failed combination",
            &self.failed_runs,
            limit,
            |f| format!("#{} (task {}, {}): {}", f.combo, f.task, f.params, f.error),
        );
        list(&mut out, "duplicate task", &self.duplicates, limit, |d| {
            format!(
                "task {}: kept {} (finished {}), not used: {}",
                d.task,
                d.kept.display(),
                d.kept_finished.to_rfc3339(),
                d.dropped
                    .iter()
                    .map(|(p, f)| format!("{} (finished {})", p.display(), f.to_rfc3339()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        list(&mut out, "corrupt file", &self.corrupt, limit, |c| {
            format!("{}: {}", c.path.display(), c.reason)
        });
        list(
            &mut out,
            "quarantined file",
            &self.quarantined,
            limit,
            |q| q.display().to_string(),
        );
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }
}

fn push_log(s: &mut String, log: &Option<LogTail>) {
    match log {
        Some(l) => {
            s.push_str(&format!("\n      log {}:", l.path.display()));
            for line in &l.lines {
                s.push_str(&format!("\n      | {line}"));
            }
        }
        None => s.push_str(" (no .err log found)"),
    }
}

fn list<T>(out: &mut String, what: &str, items: &[T], limit: usize, show: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    out.push_str(&format!("  {} {what}(s):\n", items.len()));
    for item in items.iter().take(limit) {
        out.push_str(&format!("    {}\n", show(item)));
    }
    if items.len() > limit {
        out.push_str(&format!(
            "    … and {} more (see --format json or report/)\n",
            items.len() - limit
        ));
    }
}

/// The first 8 characters of a hash.
pub fn short(hash: &str) -> &str {
    &hash[..hash.len().min(8)]
}

/// What survives the checks: the results to merge, in plan then task order.
#[derive(Debug, Default)]
pub struct Accepted {
    pub plans: Vec<PlanId>,
    pub results: Vec<(u16, TaskResult)>,
    pub qstrader: Vec<QstraderRun>,
}

/// Checks the parsed files against the plans and each other.
pub fn assess(
    sweeps: &[SweepInput],
    parsed: Vec<Parsed>,
    quarantined: Vec<PathBuf>,
    allow_mixed: bool,
) -> Result<(Accepted, Completeness), CollectError> {
    let mut report = Completeness {
        files_read: parsed.len(),
        quarantined,
        ..Completeness::default()
    };
    let mut accepted = Accepted::default();
    let mut plan_files: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut results = Vec::new();
    let mut corrupt_by_task: HashMap<u64, usize> = HashMap::new();
    for p in parsed {
        match p {
            Parsed::Result(r) => {
                let e = plan_files
                    .entry(r.plan_hash.clone())
                    .or_insert((r.sweep.clone(), 0));
                e.1 += 1;
                results.push(r);
            }
            Parsed::Qstrader(q) => {
                let e = plan_files
                    .entry(QSTRADER_PLAN.to_string())
                    .or_insert(("QSTrader JSONStatistics".to_string(), 0));
                e.1 += 1;
                accepted.qstrader.push(q);
            }
            Parsed::Corrupt(c) => {
                if let Some(task) = task_from_file_name(&c.path) {
                    *corrupt_by_task.entry(task).or_default() += 1;
                }
                report.corrupt.push(c);
            }
        }
    }

    // Plans: the sweep directories' first, then any other hash seen in files.
    for s in sweeps {
        if !accepted.plans.iter().any(|p| p.hash == s.plan.hash) {
            accepted.plans.push(PlanId {
                hash: s.plan.hash.clone(),
                sweep: s.plan.name.clone(),
            });
        }
    }
    for (hash, (sweep, _)) in &plan_files {
        if !accepted.plans.iter().any(|p| &p.hash == hash) {
            accepted.plans.push(PlanId {
                hash: hash.clone(),
                sweep: sweep.clone(),
            });
        }
    }
    for plan in &accepted.plans {
        let sweep = sweeps.iter().find(|s| s.plan.hash == plan.hash);
        report.plans.push(PlanSummary {
            hash: plan.hash.clone(),
            sweep: plan.sweep.clone(),
            files: plan_files.get(&plan.hash).map_or(0, |f| f.1),
            expected_tasks: sweep.map(|s| s.plan.tasks),
            expected_combos: sweep.map(|s| s.plan.combos),
        });
    }
    let with_files = report.plans.iter().filter(|p| p.files > 0).count();
    if (accepted.plans.len() > 1 && with_files > 0) && !allow_mixed {
        return Err(CollectError::MixedPlans(
            report
                .plans
                .iter()
                .map(|p| format!("plan {} ({}): {} file(s)", short(&p.hash), p.sweep, p.files))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    if sweeps.is_empty() && !results.is_empty() {
        report.notes.push(
            "no plan.json was given (pass the sweep directory): missing tasks cannot be known"
                .to_string(),
        );
    }

    // Files that contradict their plan.
    let mut kept_results = Vec::new();
    for r in results {
        if let Some(s) = sweeps.iter().find(|s| s.plan.hash == r.plan_hash) {
            let want = s.plan.task_range(r.task);
            if r.task >= s.plan.tasks || want.start != r.first || want.end != r.first + r.count {
                report.corrupt.push(CorruptFile {
                    path: r.path.clone(),
                    reason: format!(
                        "does not match the plan: task {} should hold combinations {}..{}, the file has {}..{}",
                        r.task,
                        want.start,
                        want.end,
                        r.first,
                        r.first + r.count
                    ),
                });
                continue;
            }
        }
        kept_results.push(r);
    }

    // Duplicates: the newest complete result of each task wins.
    let mut by_task: BTreeMap<(u16, u64), Vec<TaskResult>> = BTreeMap::new();
    for r in kept_results {
        let plan = plan_index(&accepted.plans, &r.plan_hash);
        by_task.entry((plan, r.task)).or_default().push(r);
    }
    for ((plan, task), mut group) in by_task {
        group.sort_by(|a, b| a.finished.cmp(&b.finished).then(a.path.cmp(&b.path)));
        let Some(kept) = group.pop() else { continue };
        if !group.is_empty() {
            report.duplicates.push(Duplicate {
                plan: accepted.plans[plan as usize].hash.clone(),
                task,
                kept: kept.path.clone(),
                kept_finished: kept.finished,
                dropped: group.iter().map(|g| (g.path.clone(), g.finished)).collect(),
            });
        }
        accepted.results.push((plan, kept));
    }
    report.tasks_with_results = accepted.results.len();

    // Failed combinations, then missing tasks, each with the task's log.
    let logs: Vec<Option<LogIndex>> = accepted
        .plans
        .iter()
        .map(|p| {
            sweeps
                .iter()
                .find(|s| s.plan.hash == p.hash)
                .map(|s| LogIndex::new(&s.dir))
        })
        .collect();
    for (plan, r) in &accepted.results {
        report.combos_ok += r.rows.len();
        let failed_here = r.failed.len();
        for f in &r.failed {
            report.failed_runs.push(FailedRun {
                plan: accepted.plans[*plan as usize].hash.clone(),
                combo: f.combo,
                task: r.task,
                params: f.params.clone(),
                error: f.error.clone(),
            });
        }
        report.combos_failed += failed_here;
        if failed_here > 0 {
            report.failed_tasks.push(TaskProblem {
                plan: accepted.plans[*plan as usize].hash.clone(),
                task: r.task,
                combos: (r.first, r.first + r.count),
                what: format!("{failed_here} of {} combination(s) failed", r.count),
                log: logs[*plan as usize].as_ref().and_then(|l| l.tail(r.task)),
            });
        }
    }
    report.combos_ok += accepted.qstrader.len();
    for s in sweeps {
        let plan = plan_index(&accepted.plans, &s.plan.hash);
        let present: std::collections::HashSet<u64> = accepted
            .results
            .iter()
            .filter(|(p, _)| *p == plan)
            .map(|(_, r)| r.task)
            .collect();
        for task in 0..s.plan.tasks {
            if present.contains(&task) {
                continue;
            }
            let range = s.plan.task_range(task);
            let log = logs[plan as usize].as_ref().and_then(|l| l.tail(task));
            let what = match (corrupt_by_task.get(&task), &log) {
                (Some(n), _) => format!("only {n} corrupt result file(s)"),
                (None, Some(_)) => "no result file; the task's log exists (failed?)".to_string(),
                (None, None) => {
                    "no result file and no log (not run yet, or still running)".to_string()
                }
            };
            report.missing_tasks.push(TaskProblem {
                plan: s.plan.hash.clone(),
                task,
                combos: (range.start, range.end),
                what,
                log,
            });
        }
    }
    Ok((accepted, report))
}

fn plan_index(plans: &[PlanId], hash: &str) -> u16 {
    plans.iter().position(|p| p.hash == hash).unwrap_or(0) as u16
}

/// The `.err` logs of a sweep directory and the submissions of `jobs.jsonl`, to find the
/// log of a task: `logs/<jobid>_<task - offset>.err` (SLURM) or `logs/local_<task>.err`.
#[derive(Clone, Debug, Default)]
pub struct LogIndex {
    /// (job id, offset) per submission.
    submissions: Vec<(String, u64)>,
    /// Names of the `.err` files in `logs/`.
    files: Vec<String>,
    dir: PathBuf,
}

impl LogIndex {
    pub fn new(sweep: &SweepDir) -> LogIndex {
        let mut submissions = Vec::new();
        if let Ok(text) = fs::read_to_string(sweep.jobs()) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let job = ["job_id", "jobid", "array_job_id", "id"]
                    .iter()
                    .find_map(|k| match v.get(*k) {
                        Some(serde_json::Value::String(s)) => Some(s.clone()),
                        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                        _ => None,
                    });
                let offset = v.get("offset").and_then(|o| o.as_u64()).unwrap_or(0);
                if let Some(job) = job {
                    submissions.push((job, offset));
                }
            }
        }
        let dir = sweep.logs();
        let files = fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".err"))
                    .collect()
            })
            .unwrap_or_default();
        LogIndex {
            submissions,
            files,
            dir,
        }
    }

    /// The log file of `task`: exact names first, then any `*_<index>.err` whose index fits
    /// a submission's offset; the most recently modified when several match.
    pub fn find(&self, task: u64) -> Option<PathBuf> {
        let mut exact: Vec<String> = vec![format!("local_{task}.err")];
        let mut indices = vec![task];
        for (job, offset) in &self.submissions {
            if task >= *offset {
                exact.push(format!("{job}_{}.err", task - offset));
                indices.push(task - offset);
            }
        }
        let pick = |names: Vec<&String>| {
            names
                .into_iter()
                .map(|n| self.dir.join(n))
                .max_by_key(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
        };
        let found: Vec<&String> = self.files.iter().filter(|f| exact.contains(f)).collect();
        if !found.is_empty() {
            return pick(found);
        }
        let lenient: Vec<&String> = self
            .files
            .iter()
            .filter(|f| {
                indices
                    .iter()
                    .any(|i| f.ends_with(&format!("_{i}.err")) && !f.starts_with("local_"))
            })
            .collect();
        if self.submissions.is_empty() || lenient.len() == 1 {
            pick(lenient)
        } else {
            // Several arrays share array indices: only a job id from jobs.jsonl can tell.
            pick(
                lenient
                    .into_iter()
                    .filter(|f| {
                        self.submissions
                            .iter()
                            .any(|(j, _)| f.starts_with(j.as_str()))
                    })
                    .collect(),
            )
        }
    }

    /// The last lines of `task`'s log.
    pub fn tail(&self, task: u64) -> Option<LogTail> {
        let path = self.find(task)?;
        Some(LogTail {
            lines: tail_lines(&path, LOG_TAIL_LINES),
            path,
        })
    }
}

/// The last `n` non-empty lines of a file (reads at most its last 16 KiB).
pub fn tail_lines(path: &Path, n: usize) -> Vec<String> {
    let Ok(mut file) = fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(16 * 1024);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}
