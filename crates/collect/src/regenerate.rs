//! Equity curves of the best rows, regenerated for the report by re-running those
//! combinations through the engine (one `backtest::TaskRunner` of the planned spec's
//! strategy, a built-in or its rules compiled as the worker compiles them
//! (`sweep_core::SpecStrategy`), on data loaded once with `MarketData::load` from the
//! planned spec that `sweep_core::load_plan` read), so result files stay small. Any failure
//! of the engine, including a panic, becomes a sentence in the report, never a crash.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::NaiveDate;

use backtest::{MarketData, Params, TaskRunner};
use sweep_core::SpecStrategy;

use crate::Analysis;

/// One regenerated equity curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub rank: usize,
    /// Index of the row in `Table::rows`.
    pub row: usize,
    pub name: String,
    pub dates: Vec<NaiveDate>,
    pub equity: Vec<f64>,
}

/// The curves that could be made, and why others could not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curves {
    pub curves: Vec<Curve>,
    pub problems: Vec<String>,
}

/// Runs `f`, turning a panic into an error message (and keeping the panic's message off
/// stderr while it runs).
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    match out {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("the engine panicked: {msg}"))
        }
    }
}

/// Regenerates the equity curves of the `top` best rows of the first sweep's plan.
pub fn equity_curves(a: &Analysis, top: usize) -> Curves {
    let mut out = Curves::default();
    if top == 0 {
        return out;
    }
    let Some(sweep) = a.sweeps.first() else {
        out.problems.push(
            "no sweep directory was given: re-running combinations needs its spec.toml".into(),
        );
        return out;
    };
    let Some(spec) = &sweep.spec else {
        out.problems.push(format!(
            "the spec could not be read: {}",
            sweep.spec_problem.clone().unwrap_or_default()
        ));
        return out;
    };
    // `Spec::load` (through `load_plan`) has already resolved `data.dir`.
    let strategy = match guarded(|| SpecStrategy::of(spec).map_err(|e| e.to_string())) {
        Ok(s) => s,
        Err(e) => {
            out.problems
                .push(format!("the strategy could not be prepared: {e}"));
            return out;
        }
    };
    let (Some(engine), Some(data)) = (strategy.engine(), spec.data.as_ref()) else {
        out.problems.push(format!(
            "strategy `{}` runs a program per combination: its equity curves are not kept, \
             so they cannot be drawn here",
            strategy.name()
        ));
        return out;
    };
    let market = match guarded(|| MarketData::load(data, &spec.backtest).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(e) => {
            out.problems
                .push(format!("the market data could not be loaded: {e}"));
            return out;
        }
    };
    let plan_index = a
        .table
        .plans
        .iter()
        .position(|p| p.hash == sweep.plan.hash)
        .unwrap_or(0) as u16;
    let params_of = |i: usize| -> Params {
        let row = &a.table.rows[i];
        a.table
            .param_names
            .iter()
            .enumerate()
            .filter_map(|(k, p)| Some((p.clone(), row.param(k)?.clone())))
            .collect()
    };
    let chosen: Vec<(usize, usize)> = a
        .ranking
        .order
        .iter()
        .take(top)
        .enumerate()
        .filter(|(_, &i)| a.table.rows[i].plan == plan_index)
        .map(|(n, &i)| (n, i))
        .collect();
    let combos: Vec<Params> = chosen.iter().map(|&(_, i)| params_of(i)).collect();
    let runner = match guarded(|| {
        TaskRunner::new(&market, engine, &spec.backtest, &combos).map_err(|e| e.to_string())
    }) {
        Ok(r) => r,
        Err(e) => {
            out.problems
                .push(format!("the combinations could not be prepared: {e}"));
            return out;
        }
    };
    for ((n, i), params) in chosen.into_iter().zip(&combos) {
        let name = a.table.row_name(&a.table.rows[i]);
        match guarded(|| runner.run(params).map_err(|e| e.to_string())) {
            Ok(run) => out.curves.push(Curve {
                rank: n + 1,
                row: i,
                name,
                dates: run.dates.to_vec(),
                equity: run.equity,
            }),
            Err(e) => out
                .problems
                .push(format!("rank {} ({name}) could not be re-run: {e}", n + 1)),
        }
    }
    out
}

/// The drawdown series (0 at a peak, -0.2 at 20% below it) of an equity curve.
pub fn drawdowns(equity: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            if peak > 0.0 {
                e / peak - 1.0
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_from_running_peak() {
        let d = drawdowns(&[100.0, 120.0, 90.0, 130.0]);
        assert_eq!(d[0], 0.0);
        assert_eq!(d[1], 0.0);
        assert!((d[2] - (-0.25)).abs() < 1e-12);
        assert_eq!(d[3], 0.0);
    }

    #[test]
    fn panics_become_messages() {
        let r: Result<(), String> = guarded(|| panic!("boom"));
        assert_eq!(r, Err("the engine panicked: boom".to_string()));
    }
}
