//! Completeness, never silent: which plan every file belongs to (loose files of several
//! plans are refused unless allowed), and for each sweep what the contract's one
//! classification ([`sweep_core::classify`], the same as `sweep status`) says of every task
//! and file: missing, failed and conflicting tasks with the last lines of their `.err`
//! logs, duplicates (which was kept, and whether the others agree), partial, corrupt and
//! foreign-plan files, temporary files of interrupted writes, quarantined files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use sweep_core::classify::{check_file, FileCheck, SweepResults, TaskVerdict};
use sweep_core::jobs::{tail_lines, task_err_logs};
use sweep_core::layout::ResultsListing;

use crate::inputs::{Parsed, QstraderRun, SweepInput, TaskResult};
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

/// Several complete results of one task: which was kept.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Duplicate {
    pub plan: String,
    pub task: u64,
    pub kept: PathBuf,
    pub kept_finished: DateTime<Utc>,
    /// The files not used.
    pub dropped: Vec<sweep_core::classify::Duplicate>,
}

/// A file that is not used: partial, corrupt, or of a foreign plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BadFile {
    pub path: PathBuf,
    /// `partial`, `corrupt` or `foreign plan`.
    pub kind: &'static str,
    pub reason: String,
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
    /// Tasks whose complete result files disagree in their numbers (the kept one is in
    /// the table, but cannot be trusted).
    pub conflict_tasks: Vec<TaskProblem>,
    pub failed_runs: Vec<FailedRun>,
    pub duplicates: Vec<Duplicate>,
    /// Partial, corrupt and foreign-plan files.
    pub corrupt: Vec<BadFile>,
    /// Temporary files of result writes that did not finish.
    pub temp_files: Vec<PathBuf>,
    /// Other files in a sweep's `results/` that are not result files.
    pub other_files: Vec<PathBuf>,
    pub quarantined: Vec<PathBuf>,
    /// Ranked combinations that never traded (no order filled).
    pub never_traded: usize,
    /// Facts that limit what can be checked (e.g. no plan to compare with).
    pub notes: Vec<String>,
}

impl Completeness {
    /// True when nothing is missing, failed or corrupt.
    pub fn is_complete(&self) -> bool {
        self.missing_tasks.is_empty()
            && self.failed_runs.is_empty()
            && self.failed_tasks.is_empty()
            && self.conflict_tasks.is_empty()
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
            if !self.conflict_tasks.is_empty() {
                parts.push(format!(
                    "{} task(s) with disagreeing results",
                    self.conflict_tasks.len()
                ));
            }
            if !self.corrupt.is_empty() {
                parts.push(format!(
                    "{} unusable file(s) (partial, corrupt or of another plan)",
                    self.corrupt.len()
                ));
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
            "task with disagreeing results",
            &self.conflict_tasks,
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
                dropped_text(&d.dropped)
            )
        });
        list(&mut out, "unusable file", &self.corrupt, limit, |c| {
            format!("{}: {}: {}", c.path.display(), c.kind, c.reason)
        });
        list(
            &mut out,
            "temporary file of an unfinished write",
            &self.temp_files,
            limit,
            |t| t.display().to_string(),
        );
        list(
            &mut out,
            "other file in results/",
            &self.other_files,
            limit,
            |t| t.display().to_string(),
        );
        list(
            &mut out,
            "quarantined file",
            &self.quarantined,
            limit,
            |q| q.display().to_string(),
        );
        if self.never_traded > 0 {
            out.push_str(&format!(
                "  {} ranked combination(s) never traded (no order filled: a window longer than the data, or a signal that never fires); see the `trades` column\n",
                self.never_traded
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }
}

/// `path (finished t, agrees|DISAGREES)`, comma separated.
pub fn dropped_text(dropped: &[sweep_core::classify::Duplicate]) -> String {
    dropped
        .iter()
        .map(|d| {
            format!(
                "{} (finished {}, {})",
                d.path.display(),
                d.finished.to_rfc3339(),
                if d.agrees {
                    "same numbers"
                } else {
                    "DIFFERENT numbers"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
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
        // A message of several lines (a program's stderr) stays under its item.
        out.push_str(&format!("    {}\n", show(item).replace('\n', "\n      ")));
    }
    if items.len() > limit {
        out.push_str(&format!(
            "    … and {} more (see --format json or report/)\n",
            items.len() - limit
        ));
    }
}

pub use sweep_core::classify::short_hash as short;

/// What survives the checks: the results to merge, in plan then task order.
#[derive(Debug, Default)]
pub struct Accepted {
    pub plans: Vec<PlanId>,
    pub results: Vec<(u16, TaskResult)>,
    pub qstrader: Vec<QstraderRun>,
}

/// Checks the parsed files against the plans and each other, with the contract's
/// classification.
/// Task `task`'s combinations' parameters as the reader writes them
/// ([`crate::inputs::params_text`]), read from the sweep's manifest; empty when it cannot be read (the
/// failed combinations are then listed without parameters).
fn manifest_params(s: &SweepInput, task: u64) -> std::collections::HashMap<u64, String> {
    let range = s.plan.task_range(task);
    let Ok((entries, _)) = sweep_core::manifest::read_task(
        &s.dir.manifest(),
        s.plan.manifest_index.as_ref(),
        task,
        range,
    ) else {
        return Default::default();
    };
    entries
        .into_iter()
        .map(|e| {
            let pairs = e.params.into_iter().map(|(k, v)| (k.into(), v)).collect();
            (e.i, crate::inputs::params_text(pairs))
        })
        .collect()
}

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

    // Each result-like file goes to the sweep of its plan (by its plan hash, else by the
    // directory it was found in), or to the loose files of its plan hash.
    let sweep_of_path = |path: &Path| {
        sweeps
            .iter()
            .position(|s| path.starts_with(s.dir.results()))
    };
    let mut by_sweep: Vec<Vec<FileCheck>> = vec![Vec::new(); sweeps.len()];
    let mut loose: BTreeMap<String, (String, Vec<FileCheck>)> = BTreeMap::new();
    let mut loose_bad: Vec<FileCheck> = Vec::new();
    let mut parsed_results: HashMap<PathBuf, TaskResult> = HashMap::new();
    for p in parsed {
        let (path, read) = match p {
            Parsed::Qstrader(q) => {
                accepted.qstrader.push(q);
                continue;
            }
            Parsed::Bad { path, problem } => (path, Err(problem)),
            Parsed::Result(r) => {
                let path = r.header.path.clone();
                let header = r.header.clone();
                parsed_results.insert(path.clone(), r);
                (path, Ok(header))
            }
        };
        let hash = read.as_ref().ok().map(|h| h.plan_hash.clone());
        let home = sweep_of_path(&path).or_else(|| {
            hash.as_ref()
                .and_then(|h| sweeps.iter().position(|s| &s.plan.hash == h))
        });
        match (home, hash) {
            (Some(k), _) => by_sweep[k].push(check_file(Some(&sweeps[k].plan), &path, read)),
            (None, Some(hash)) => {
                let sweep = read.as_ref().map(|h| h.sweep.clone()).unwrap_or_default();
                loose
                    .entry(hash)
                    .or_insert((sweep, Vec::new()))
                    .1
                    .push(check_file(None, &path, read));
            }
            (None, None) => loose_bad.push(check_file(None, &path, read)),
        }
    }

    // Plans: the sweep directories' first, then the loose files' plan hashes.
    for s in sweeps {
        accepted.plans.push(PlanId {
            hash: s.plan.hash.clone(),
            sweep: s.plan.name.clone(),
        });
        report.plans.push(PlanSummary {
            hash: s.plan.hash.clone(),
            sweep: s.plan.name.clone(),
            files: 0,
            expected_tasks: Some(s.plan.tasks),
            expected_combos: Some(s.plan.combos),
        });
    }
    for (hash, (sweep, files)) in &loose {
        accepted.plans.push(PlanId {
            hash: hash.clone(),
            sweep: sweep.clone(),
        });
        report.plans.push(PlanSummary {
            hash: hash.clone(),
            sweep: sweep.clone(),
            files: files.len(),
            expected_tasks: None,
            expected_combos: None,
        });
    }
    if !accepted.qstrader.is_empty() {
        accepted.plans.push(PlanId {
            hash: QSTRADER_PLAN.to_string(),
            sweep: "QSTrader JSONStatistics".to_string(),
        });
        report.plans.push(PlanSummary {
            hash: QSTRADER_PLAN.to_string(),
            sweep: "QSTrader JSONStatistics".to_string(),
            files: accepted.qstrader.len(),
            expected_tasks: None,
            expected_combos: None,
        });
    }
    if accepted.plans.len() > 1 && !allow_mixed {
        return Err(CollectError::MixedPlans(
            report
                .plans
                .iter()
                .zip(&accepted.plans)
                .map(|(p, id)| {
                    let example = loose
                        .get(&id.hash)
                        .and_then(|(_, f)| f.first())
                        .map_or(String::new(), |f| format!(", e.g. {}", f.path.display()));
                    let files = match p.expected_tasks {
                        Some(_) => "a sweep directory".to_string(),
                        None => format!("{} file(s){example}", p.files),
                    };
                    format!("plan {} ({}): {files}", short(&p.hash), p.sweep)
                })
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    if sweeps.is_empty() && !loose.is_empty() {
        report.notes.push(
            "no plan.json was given (pass the sweep directory): missing tasks cannot be known"
                .to_string(),
        );
    }

    // Judge each sweep's files, then each loose plan's.
    let mut groups: Vec<(u16, Option<&SweepInput>, SweepResults)> = Vec::new();
    for (k, (s, checks)) in sweeps.iter().zip(by_sweep).enumerate() {
        report.plans[k].files = checks.len();
        groups.push((
            k as u16,
            Some(s),
            SweepResults::new(Some(&s.plan), checks, &s.listing),
        ));
    }
    for (k, (_, (_, checks))) in loose.into_iter().enumerate() {
        let plan = (sweeps.len() + k) as u16;
        let listing = ResultsListing::default();
        groups.push((plan, None, SweepResults::new(None, checks, &listing)));
    }
    for bad in loose_bad {
        push_bad(&mut report, &bad);
    }

    for (plan, sweep, results) in groups {
        let plan_hash = accepted.plans[plan as usize].hash.clone();
        let records = sweep
            .map(|s| sweep_core::jobs::read(&s.dir.jobs()).unwrap_or_default())
            .unwrap_or_default();
        let log = |task: u64| {
            let s = sweep?;
            let path = task_err_logs(&s.dir, &records, task).into_iter().next()?;
            Some(LogTail {
                lines: tail_lines(&path, LOG_TAIL_LINES),
                path,
            })
        };
        for bad in results.all_problems() {
            push_bad(&mut report, bad);
        }
        report.temp_files.extend(results.all_temp().cloned());
        report.other_files.extend(results.other.iter().cloned());
        report
            .quarantined
            .extend(results.quarantined.iter().cloned());
        for (task, t) in &results.tasks {
            let Some(kept) = &t.kept else { continue };
            let Some(r) = parsed_results.remove(&kept.path) else {
                continue;
            };
            if !t.duplicates.is_empty() {
                report.duplicates.push(Duplicate {
                    plan: plan_hash.clone(),
                    task: *task,
                    kept: kept.path.clone(),
                    kept_finished: kept.finished,
                    dropped: t.duplicates.clone(),
                });
            }
            let combos = (kept.first, kept.first + kept.count);
            match &t.verdict {
                TaskVerdict::Conflict => report.conflict_tasks.push(TaskProblem {
                    plan: plan_hash.clone(),
                    task: *task,
                    combos,
                    what: format!(
                        "complete result files disagree in their numbers; kept {}, {}",
                        kept.path.display(),
                        dropped_text(&t.duplicates)
                    ),
                    log: log(*task),
                }),
                TaskVerdict::Failed { failed_runs, .. } => report.failed_tasks.push(TaskProblem {
                    plan: plan_hash.clone(),
                    task: *task,
                    combos,
                    what: format!("{failed_runs} of {} combination(s) failed", kept.count),
                    log: log(*task),
                }),
                TaskVerdict::Done | TaskVerdict::Missing => {}
            }
            // v2 result files name no parameters: the failed combinations' come from the
            // task's manifest lines (read through the plan's offset index).
            let from_manifest = match sweep {
                Some(s) if r.failed.iter().any(|f| f.params.is_empty()) => {
                    manifest_params(s, *task)
                }
                _ => Default::default(),
            };
            for f in &r.failed {
                let params = match from_manifest.get(&f.combo) {
                    Some(p) if f.params.is_empty() => p.clone(),
                    _ => f.params.clone(),
                };
                report.failed_runs.push(FailedRun {
                    plan: plan_hash.clone(),
                    combo: f.combo,
                    task: *task,
                    params,
                    error: f.error.clone(),
                });
            }
            report.combos_failed += r.failed.len();
            report.combos_ok += r.ok;
            accepted.results.push((plan, r));
        }
        if let Some(s) = sweep {
            for task in 0..s.plan.tasks {
                if results.verdict(task) != &TaskVerdict::Missing {
                    continue;
                }
                let range = s.plan.task_range(task);
                let files = results.tasks.get(&task);
                let bad = files.map_or(0, |t| t.problems.len());
                let temp = files.map_or(0, |t| t.temp.len());
                let log = log(task);
                let what = match (bad, temp, &log) {
                    (0, 0, None) => {
                        "no result file and no log (not run yet, or still running)".to_string()
                    }
                    (0, 0, Some(_)) => {
                        "no result file; the task's log exists (failed?)".to_string()
                    }
                    (b, t, _) => {
                        format!("no complete result: {b} unusable file(s), {t} unfinished write(s)")
                    }
                };
                report.missing_tasks.push(TaskProblem {
                    plan: plan_hash.clone(),
                    task,
                    combos: (range.start, range.end),
                    what,
                    log,
                });
            }
        }
    }
    report.tasks_with_results = accepted.results.len();
    report.combos_ok += accepted.qstrader.len();
    accepted
        .results
        .sort_by_key(|(plan, r)| (*plan, r.header.task));
    Ok((accepted, report))
}

fn push_bad(report: &mut Completeness, check: &FileCheck) {
    report.corrupt.push(BadFile {
        path: check.path.clone(),
        kind: check.verdict.label(),
        reason: check.verdict.reason().unwrap_or_default().to_string(),
    });
}
