//! The indicator cache of a task ([`TaskCache`]): the series that two or more of a task's
//! combinations compute alike (the 20-day SMA of an MA-cross grid, the 200-day filter of a
//! momentum grid) are computed once, on first use, and shared by every run of the task,
//! from any thread.
//!
//! Which series are worth keeping is decided up front from the task's combinations: a
//! series is identified by its [`Key`] (the shape of the computation and the values of its
//! scalar parts), and a key used at least twice is given a cell, the most used first,
//! within a memory budget ([`CACHE_BUDGET_BYTES`]). Everything else is computed per run
//! and dropped.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::params::ParamValue;

use super::eval::key;
use super::ir::Node;

/// The most memory a task's cache may hold (values of shared series).
pub const CACHE_BUDGET_BYTES: usize = 256 << 20;

/// A series computation: the template of a node (its shape with the scalar parts left
/// out) and the bits of those scalar values, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub template: u32,
    pub scalars: Vec<u64>,
}

/// Shared series of one task, each computed at most once.
#[derive(Debug, Default)]
pub(crate) struct TaskCache {
    cells: HashMap<Key, OnceLock<Arc<[f64]>>>,
    /// Indexed by template: whether some kept key has it (the others skip the lookup).
    templates: Vec<bool>,
}

impl TaskCache {
    /// A cache for the combinations `combos` (each the parameter values in declaration
    /// order) of the rules `roots`: a cell for each key used twice or more, the most used
    /// first, while `series_bytes` per series fits in `budget`.
    pub(crate) fn plan(
        roots: &[&Node],
        combos: &[Vec<ParamValue>],
        series_bytes: usize,
        budget: usize,
    ) -> TaskCache {
        let mut uses: HashMap<Key, usize> = HashMap::new();
        for values in combos {
            for root in roots {
                root.visit(&mut |node| {
                    if let Some(k) = key(node, values) {
                        *uses.entry(k).or_insert(0) += 1;
                    }
                });
            }
        }
        let mut shared: Vec<(Key, usize)> = uses.into_iter().filter(|(_, n)| *n >= 2).collect();
        // Most used first; ties in a fixed order.
        shared.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then(a.0.template.cmp(&b.0.template))
                .then(a.0.scalars.cmp(&b.0.scalars))
        });
        let fits = budget / series_bytes.max(1);
        let cells: HashMap<Key, OnceLock<Arc<[f64]>>> = shared
            .into_iter()
            .take(fits)
            .map(|(k, _)| (k, OnceLock::new()))
            .collect();
        let mut templates = Vec::new();
        for k in cells.keys() {
            let t = k.template as usize;
            if templates.len() <= t {
                templates.resize(t + 1, false);
            }
            templates[t] = true;
        }
        TaskCache { cells, templates }
    }

    /// Whether some kept series has the template `template`.
    pub(crate) fn keeps(&self, template: u32) -> bool {
        self.templates
            .get(template as usize)
            .copied()
            .unwrap_or(false)
    }

    /// The cell of `key`, when it is kept.
    pub(crate) fn cell(&self, key: &Key) -> Option<&OnceLock<Arc<[f64]>>> {
        self.cells.get(key)
    }

    /// How many series are kept (for tests and reports).
    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    /// How many of the kept series have been computed.
    pub(crate) fn computed(&self) -> usize {
        self.cells.values().filter(|c| c.get().is_some()).count()
    }
}
