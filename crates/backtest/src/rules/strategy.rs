//! The three forms of rules as [`Strategy`] objects for the simulator, built for one
//! combination from the rules' series ([`Eval`]):
//!
//! * `position` and `entry`/`exit` become a path of target weights per symbol and day
//!   ([`Targets`]), traded only when the target changes (as the built-in `ma_cross`);
//! * `rank`/`top` picks the symbols afresh on every scheduled day ([`Rotation`]), as the
//!   built-in `momentum_taa`.

use crate::config::Rebalance;
use crate::simulator::is_rebalance_day;
use crate::strategy::{Setup, Strategy};

use super::compile::{Form, Rules};
use super::eval::{Eval, Ser};
use super::ir::Kind;

/// The strategy of `rules` for one combination (its values inside `eval`).
pub(crate) fn build<'r>(
    rules: &Rules,
    setup: &Setup<'_>,
    eval: &Eval<'r, '_>,
) -> Box<dyn Strategy + 'r> {
    let symbols = setup.n_symbols();
    let days = setup.end - setup.start;
    let w = 1.0 / symbols as f64;
    match &rules.form {
        Form::Position(rule) => {
            let bool_position = rule.node.ty.kind == Kind::Bool;
            let mut targets = eval.series(&rule.node).into_vec();
            // Undefined: flat. (Straight-line loops: they vectorise.)
            if bool_position {
                targets
                    .iter_mut()
                    .for_each(|t| *t = if *t == 1.0 { w } else { 0.0 });
            } else {
                targets
                    .iter_mut()
                    .for_each(|t| *t = if t.is_nan() { 0.0 } else { *t });
            }
            Box::new(Targets::new(targets, symbols, days, setup.start))
        }
        Form::Stateful { entry, exit, size } => {
            let entry = eval.series(&entry.node);
            let exit = eval.series(&exit.node);
            let size = size.as_ref().map(|s| eval.series(&s.node));
            let schedule = setup.config.rebalance;
            let scheduled: Vec<bool> = (setup.start..setup.end)
                .map(|day| {
                    day >= setup.trade_from
                        && is_rebalance_day(schedule, &setup.data.dates, day, setup.trade_from)
                })
                .collect();
            let (entry, exit) = (entry.as_slice(), exit.as_slice());
            let mut targets = vec![0.0; symbols * days];
            for s in 0..symbols {
                let mut held = 0.0;
                for (d, &decides) in scheduled.iter().enumerate() {
                    let k = s * days + d;
                    if decides {
                        if held != 0.0 {
                            if exit[k] == 1.0 {
                                held = 0.0;
                            }
                        } else if entry[k] == 1.0 {
                            let z = size.as_ref().map_or(w, |z| z.as_slice()[k]);
                            held = if z.is_nan() { 0.0 } else { z };
                        }
                    }
                    targets[k] = held;
                }
            }
            Box::new(Targets::new(targets, symbols, days, setup.start))
        }
        Form::Rotation {
            rank,
            top,
            filter,
            weight,
        } => {
            let top = super::eval::days(super::eval::scalar(&top.node, eval.values));
            Box::new(Rotation {
                rank: eval.series(&rank.node),
                filter: filter.as_ref().map(|f| eval.series(&f.node)),
                weight: weight.as_ref().map(|f| eval.series(&f.node)),
                top: top.min(symbols),
                days,
                start: setup.start,
                scratch: Vec::with_capacity(symbols),
            })
        }
    }
}

/// A precomputed path of target weights: trades on the scheduled days on which the target
/// differs from the last one decided.
#[derive(Debug)]
pub(crate) struct Targets {
    symbols: usize,
    days: usize,
    /// The first simulated day: day offsets count from here.
    start: usize,
    /// `symbols × days` target weights, symbol after symbol.
    targets: Vec<f64>,
    /// The day offsets on which some symbol's target differs from the day before's.
    changes: Vec<usize>,
    /// The targets last decided (meaningful once `decided`).
    current: Vec<f64>,
    decided: bool,
}

impl Targets {
    pub(crate) fn new(targets: Vec<f64>, symbols: usize, days: usize, start: usize) -> Targets {
        let mut changes = Vec::new();
        if symbols == 1 {
            changes_of(&targets, &mut changes);
        } else {
            for d in 1..days {
                if (0..symbols).any(|s| targets[s * days + d] != targets[s * days + d - 1]) {
                    changes.push(d);
                }
            }
        }
        Targets {
            symbols,
            days,
            start,
            targets,
            changes,
            current: vec![0.0; symbols],
            decided: false,
        }
    }

    fn differs(&self, offset: usize) -> bool {
        (0..self.symbols).any(|s| self.targets[s * self.days + offset] != self.current[s])
    }
}

impl Strategy for Targets {
    fn decide(&mut self, day: usize, weights: &mut [f64]) -> bool {
        let offset = day - self.start;
        if self.decided && !self.differs(offset) {
            return false;
        }
        for (s, w) in weights.iter_mut().enumerate().take(self.symbols) {
            *w = self.targets[s * self.days + offset];
            self.current[s] = *w;
        }
        self.decided = true;
        true
    }

    fn next_change(&self, day: usize) -> usize {
        if !self.decided {
            return day;
        }
        let offset = day.saturating_sub(self.start);
        if offset >= self.days {
            return usize::MAX;
        }
        if self.differs(offset) {
            return day;
        }
        let after = self.changes.partition_point(|&c| c <= offset);
        self.changes
            .get(after)
            .map_or(usize::MAX, |&c| self.start + c)
    }
}

/// Pushes the offsets `d >= 1` with `x[d] != x[d - 1]` onto `changes`: blocks of days are
/// first checked for any change at all (a reduction that vectorises), and only blocks with
/// one are searched.
fn changes_of(x: &[f64], changes: &mut Vec<usize>) {
    const BLOCK: usize = 64;
    let mut from = 1;
    while from < x.len() {
        let to = (from + BLOCK).min(x.len());
        let (now, before) = (&x[from..to], &x[from - 1..to - 1]);
        let any = now
            .iter()
            .zip(before)
            .fold(false, |any, (a, b)| any | (a != b));
        if any {
            changes.extend(
                now.iter()
                    .zip(before)
                    .enumerate()
                    .filter(|(_, (a, b))| a != b)
                    .map(|(k, _)| from + k),
            );
        }
        from = to;
    }
}

/// Holds the `top` symbols by rank on every scheduled day.
#[derive(Debug)]
pub(crate) struct Rotation<'r> {
    rank: Ser<'r>,
    filter: Option<Ser<'r>>,
    weight: Option<Ser<'r>>,
    top: usize,
    days: usize,
    start: usize,
    /// (rank, symbol) of the eligible symbols, reused across decisions.
    scratch: Vec<(f64, usize)>,
}

impl Strategy for Rotation<'_> {
    fn decide(&mut self, day: usize, weights: &mut [f64]) -> bool {
        weights.fill(0.0);
        let offset = day - self.start;
        let days = self.days;
        let rank = self.rank.as_slice();
        self.scratch.clear();
        for s in 0..weights.len() {
            let k = s * days + offset;
            if rank[k].is_nan() {
                continue;
            }
            if self.filter.as_ref().is_some_and(|f| f.as_slice()[k] != 1.0) {
                continue;
            }
            self.scratch.push((rank[k], s));
        }
        // Stable, highest first: ties keep the universe order (as the built-in).
        self.scratch
            .sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        let held = &self.scratch[..self.top.min(self.scratch.len())];
        let slot = 1.0 / self.top as f64;
        match &self.weight {
            None => {
                for &(_, s) in held {
                    weights[s] = slot;
                }
            }
            Some(weight) => {
                let weight = weight.as_slice();
                let of = |s: usize| {
                    let v = weight[s * days + offset];
                    if v > 0.0 {
                        v
                    } else {
                        0.0
                    }
                };
                let total: f64 = held.iter().map(|&(_, s)| of(s)).sum();
                let count = held.iter().filter(|&&(_, s)| of(s) > 0.0).count();
                if total > 0.0 {
                    // The held symbols share their slots (count / top of the equity) in
                    // proportion to their weights.
                    let scale = count as f64 * slot / total;
                    for &(_, s) in held {
                        weights[s] = of(s) * scale;
                    }
                }
            }
        }
        true
    }

    fn schedule(&self, configured: Rebalance) -> Rebalance {
        configured
    }
}
