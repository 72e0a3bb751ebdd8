//! What a task keeps for running rules over many combinations: the run's price series in
//! the evaluation layout ([`Frame`]) and the shared indicator cache ([`TaskCache`]),
//! planned from the task's combinations.

use crate::data::MarketData;
use crate::params::{self, Params};
use crate::strategy::{Setup, Strategy};

use super::cache::{TaskCache, CACHE_BUDGET_BYTES};
use super::compile::Rules;
use super::eval::{Eval, Frame};
use super::strategy::build;

/// The shared part of a task's runs of one [`Rules`].
#[derive(Debug)]
pub(crate) struct RulesTask<'a> {
    frame: Frame<'a>,
    cache: TaskCache,
}

impl<'a> RulesTask<'a> {
    /// For runs of `rules` over days `start..end` of `data`, with the combinations
    /// `combos` (as given; those that do not resolve are left out of the plan).
    pub(crate) fn new(
        rules: &Rules,
        data: &'a MarketData,
        start: usize,
        end: usize,
        combos: &[Params],
    ) -> RulesTask<'a> {
        let values: Vec<_> = combos
            .iter()
            .filter_map(|given| params::resolve("rules", rules.params(), given).ok())
            .map(|resolved| rules.values(&resolved))
            .collect();
        let roots: Vec<_> = rules.rules().into_iter().map(|r| &r.node).collect();
        let series_bytes = (end - start) * data.symbols.len() * std::mem::size_of::<f64>();
        RulesTask {
            frame: Frame::new(data, start, end),
            cache: TaskCache::plan(&roots, &values, series_bytes, CACHE_BUDGET_BYTES),
        }
    }

    /// The strategy of `rules` for the complete parameter set `resolved`.
    pub(crate) fn strategy<'r>(
        &'r self,
        rules: &Rules,
        setup: &Setup<'_>,
        resolved: &Params,
    ) -> Box<dyn Strategy + 'r> {
        let values = rules.values(resolved);
        let eval = Eval {
            frame: &self.frame,
            cache: &self.cache,
            values: &values,
        };
        build(rules, setup, &eval)
    }

    /// (series kept, series computed so far) of the cache.
    pub(crate) fn cache_stats(&self) -> (usize, usize) {
        (self.cache.len(), self.cache.computed())
    }
}
