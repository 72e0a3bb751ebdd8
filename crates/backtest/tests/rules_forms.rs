//! The three forms of rules run by the simulator on hand-made prices, against the forms'
//! definitions written day by day here: which days decide, what the targets are, and that
//! a decision at a day's close fills at the next day's open.

// Day-by-day definitions read best with day indices.
#![allow(clippy::needless_range_loop)]

use backtest::params::ParamSpec;
use backtest::rules::{Rules, RulesDef};
use backtest::simulator::is_rebalance_day;
use backtest::{
    preflight_strategy, run_strategy, BacktestConfig, BacktestError, MarketData, ParamValue,
    Params, Rebalance, RunOutput, StrategyRef, TaskRunner,
};
use chrono::NaiveDate;

const DAYS: usize = 120;

/// Weekdays from 2024-01-01 (a Monday).
fn dates() -> Vec<NaiveDate> {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .expect("a date")
        .iter_days()
        .filter(|d| chrono::Datelike::weekday(d).number_from_monday() <= 5)
        .take(DAYS)
        .collect()
}

/// A wave around `level`, with period `period` days; opens a little off the closes.
fn wave(level: f64, period: f64, phase: f64) -> (Vec<f64>, Vec<f64>) {
    let close: Vec<f64> = (0..DAYS)
        .map(|i| level * (1.0 + 0.1 * ((i as f64 + phase) * std::f64::consts::TAU / period).sin()))
        .collect();
    let open = close
        .iter()
        .enumerate()
        .map(|(i, c)| c * (1.0 + 0.002 * ((i % 3) as f64 - 1.0)))
        .collect();
    (open, close)
}

fn market(symbols: &[(&str, f64, f64, f64)]) -> MarketData {
    let mut m = MarketData {
        dates: dates(),
        symbols: symbols.iter().map(|s| s.0.to_string()).collect(),
        ..MarketData::default()
    };
    for &(_, level, period, phase) in symbols {
        let (open, close) = wave(level, period, phase);
        m.high
            .push(open.iter().zip(&close).map(|(o, c)| o.max(*c)).collect());
        m.low
            .push(open.iter().zip(&close).map(|(o, c)| o.min(*c)).collect());
        m.volume.push(vec![1e6; DAYS]);
        m.open.push(open);
        m.close.push(close);
    }
    m
}

fn params(pairs: &[(&str, i64)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Int(*v)))
        .collect()
}

fn config(rebalance: Rebalance) -> BacktestConfig {
    BacktestConfig {
        rebalance,
        ..BacktestConfig::default()
    }
}

fn run(
    m: &MarketData,
    def: RulesDef,
    declared: Vec<ParamSpec>,
    given: &Params,
    c: &BacktestConfig,
) -> RunOutput {
    let rules = Rules::compile(&def, declared, &m.symbols).expect("compiles");
    run_strategy(m, StrategyRef::Rules(&rules), given, c).expect("runs")
}

/// The (day index, weights) of every rebalance of a run.
fn decisions(m: &MarketData, out: &RunOutput) -> Vec<(usize, Vec<f64>)> {
    out.allocations
        .iter()
        .map(|a| {
            let day = m.dates.iter().position(|d| *d == a.date).expect("a day");
            (day, a.weights.to_vec())
        })
        .collect()
}

/// Plain: the n-day simple average of `x` on day `d` (None before n days).
fn sma(x: &[f64], d: usize, n: usize) -> Option<f64> {
    (d + 1 >= n).then(|| x[d + 1 - n..=d].iter().sum::<f64>() / n as f64)
}

#[test]
fn position_numbers_are_signed_weights_traded_when_they_change() {
    let m = market(&[("A", 100.0, 20.0, 0.0)]);
    let def = RulesDef {
        position: Some("if(close > sma(close, n), 0.5, -0.25)".into()),
        ..RulesDef::default()
    };
    let declared = vec![ParamSpec::int("n", 5, 1, 100, "window")];
    let out = run(&m, def, declared, &params(&[]), &config(Rebalance::Daily));
    // Day by day: undefined (flat) before day 4, then 0.5 or -0.25; a decision on day 0
    // and on each day the target changes.
    let mut expected = Vec::new();
    let mut last = None;
    for d in 0..DAYS {
        let target = match sma(&m.close[0], d, 5) {
            None => 0.0,
            Some(avg) if m.close[0][d] > avg => 0.5,
            Some(_) => -0.25,
        };
        if last != Some(target) {
            expected.push((d, vec![target]));
            last = Some(target);
        }
    }
    assert_eq!(decisions(&m, &out), expected);
    assert!(expected.len() > 6, "the wave crosses its average");
    // Each change is filled at the next day's open.
    let first_trade = expected[1].0;
    assert_eq!(out.fills[0].date, m.dates[first_trade + 1]);
    assert_eq!(out.fills[0].price, m.open[0][first_trade + 1]);
}

#[test]
fn position_bools_are_long_w_on_each_symbol() {
    let m = market(&[("A", 100.0, 20.0, 0.0), ("B", 50.0, 30.0, 7.0)]);
    let def = RulesDef {
        position: Some("close > lag(close, 1)".into()),
        ..RulesDef::default()
    };
    let out = run(
        &m,
        def,
        Vec::new(),
        &params(&[]),
        &config(Rebalance::Weekly),
    );
    let mut expected = Vec::new();
    let mut last: Option<Vec<f64>> = None;
    for d in 0..DAYS {
        if !is_rebalance_day(Rebalance::Weekly, &m.dates, d, 0) {
            continue;
        }
        let target: Vec<f64> = (0..2)
            .map(|s| {
                if d > 0 && m.close[s][d] > m.close[s][d - 1] {
                    0.5
                } else {
                    0.0
                }
            })
            .collect();
        if last.as_ref() != Some(&target) {
            expected.push((d, target.clone()));
            last = Some(target);
        }
    }
    assert_eq!(decisions(&m, &out), expected);
}

#[test]
fn entry_and_exit_hold_a_position_between_them() {
    let m = market(&[("A", 100.0, 25.0, 0.0), ("B", 80.0, 17.0, 3.0)]);
    let def = RulesDef {
        entry: Some("close > lag(highest(close, n), 1)".into()),
        exit: Some("close < lag(lowest(close, m), 1)".into()),
        size: Some("0.3".into()),
        ..RulesDef::default()
    };
    let declared = vec![
        ParamSpec::int("n", 4, 1, 100, "entry window"),
        ParamSpec::int("m", 3, 1, 100, "exit window"),
    ];
    for rebalance in [Rebalance::Daily, Rebalance::Weekly] {
        let c = config(rebalance);
        let out = run(&m, def.clone(), declared.clone(), &params(&[]), &c);
        // Day by day: the highest of the 4 days before today, the lowest of the 3 before.
        let before = |x: &[f64], d: usize, n: usize, high: bool| -> Option<f64> {
            (d >= n).then(|| {
                let w = &x[d - n..d];
                if high {
                    w.iter().copied().fold(f64::MIN, f64::max)
                } else {
                    w.iter().copied().fold(f64::MAX, f64::min)
                }
            })
        };
        let mut held = [0.0f64; 2];
        let mut expected = Vec::new();
        let mut last: Option<Vec<f64>> = None;
        for d in 0..DAYS {
            if !is_rebalance_day(rebalance, &m.dates, d, 0) {
                continue;
            }
            for s in 0..2 {
                let x = &m.close[s];
                if held[s] != 0.0 {
                    if before(x, d, 3, false).is_some_and(|low| x[d] < low) {
                        held[s] = 0.0;
                    }
                } else if before(x, d, 4, true).is_some_and(|high| x[d] > high) {
                    held[s] = 0.3;
                }
            }
            if last.as_deref() != Some(&held[..]) {
                expected.push((d, held.to_vec()));
                last = Some(held.to_vec());
            }
        }
        assert_eq!(decisions(&m, &out), expected, "{rebalance:?}");
        assert!(expected.len() > 4, "{rebalance:?}: entries and exits");
    }
}

#[test]
fn rank_top_filter_and_weight() {
    let m = market(&[
        ("A", 100.0, 40.0, 0.0),
        ("B", 50.0, 30.0, 9.0),
        ("C", 70.0, 55.0, 20.0),
        ("D", 20.0, 23.0, 4.0),
    ]);
    let declared = vec![
        ParamSpec::int("lookback", 10, 1, 100, "lookback"),
        ParamSpec::int("top_n", 2, 1, 4, "held"),
    ];
    let c = config(Rebalance::Weekly);
    let ret = |s: usize, d: usize| -> Option<f64> {
        (d >= 10).then(|| m.close[s][d] / m.close[s][d - 10] - 1.0)
    };
    for weighted in [false, true] {
        let def = RulesDef {
            rank: Some("ret(close, lookback)".into()),
            top: Some("top_n".into()),
            filter: Some("close > sma(close, 5)".into()),
            weight: Some(if weighted { "1 / close" } else { "equal" }.into()),
            ..RulesDef::default()
        };
        let out = run(&m, def, declared.clone(), &params(&[]), &c);
        let mut expected = Vec::new();
        for d in 0..DAYS {
            if !is_rebalance_day(Rebalance::Weekly, &m.dates, d, 0) {
                continue;
            }
            let mut eligible: Vec<(f64, usize)> = (0..4)
                .filter_map(|s| {
                    let r = ret(s, d)?;
                    let avg = sma(&m.close[s], d, 5)?;
                    (m.close[s][d] > avg).then_some((r, s))
                })
                .collect();
            eligible.sort_by(|a, b| b.0.total_cmp(&a.0));
            eligible.truncate(2);
            let mut weights = vec![0.0; 4];
            if weighted {
                // The held symbols share held/top of the equity by 1 / close.
                let total: f64 = eligible.iter().map(|&(_, s)| 1.0 / m.close[s][d]).sum();
                for &(_, s) in &eligible {
                    weights[s] = (1.0 / m.close[s][d]) / total * eligible.len() as f64 / 2.0;
                }
            } else {
                for &(_, s) in &eligible {
                    weights[s] = 0.5;
                }
            }
            expected.push((d, weights));
        }
        let got = decisions(&m, &out);
        assert_eq!(got.len(), expected.len(), "every scheduled day decides");
        for ((dg, wg), (de, we)) in got.iter().zip(&expected) {
            assert_eq!(dg, de);
            for (g, e) in wg.iter().zip(we) {
                assert!((g - e).abs() <= 1e-12, "day {dg}: {wg:?} vs {we:?}");
            }
        }
        let partial = expected
            .iter()
            .filter(|(_, w)| w.iter().filter(|x| **x > 0.0).count() == 1)
            .count();
        assert!(
            partial > 0,
            "some days have one eligible symbol: half in cash"
        );
    }
}

#[test]
fn runs_check_windows_and_warm_up_before_simulating() {
    let m = market(&[("A", 100.0, 20.0, 0.0)]);
    let def = RulesDef {
        position: Some("sma(close, n) > sma(close, 2 * n)".into()),
        ..RulesDef::default()
    };
    let rules = Rules::compile(
        &def,
        vec![ParamSpec::int("n", 5, 0, 1000, "window")],
        &m.symbols,
    )
    .expect("compiles");
    let strategy = StrategyRef::Rules(&rules);
    let c = config(Rebalance::Daily);
    let zero = preflight_strategy(&m, strategy, &params(&[("n", 0)]), &c).expect_err("n = 0");
    assert!(matches!(zero, BacktestError::Rule(_)), "{zero}");
    assert!(zero.to_string().contains("is `n` = 0 for n = 0"), "{zero}");
    // 2 * 60 = 120 days: first defined on the last day, so never traded.
    let long = preflight_strategy(&m, strategy, &params(&[("n", 60)]), &c).expect_err("too long");
    assert!(long.to_string().contains("could never trade"), "{long}");
    assert!(preflight_strategy(&m, strategy, &params(&[("n", 59)]), &c).is_ok());
    // A runner reports the same errors per combination.
    let combos = [params(&[("n", 0)]), params(&[("n", 5)])];
    let runner = TaskRunner::new(&m, strategy, &c, &combos).expect("a runner");
    assert!(runner.run(&combos[0]).is_err());
    assert!(runner.run(&combos[1]).is_ok());
    // buy_and_hold decides at the first open, before the close a rule reads.
    let at_open = preflight_strategy(&m, strategy, &params(&[]), &config(Rebalance::BuyAndHold))
        .expect_err("look-ahead");
    assert!(
        at_open.to_string().contains("after a day's close"),
        "{at_open}"
    );
    // Unknown parameters are refused as for any strategy.
    assert!(matches!(
        run_strategy(&m, strategy, &params(&[("m", 1)]), &c),
        Err(BacktestError::Params(_))
    ));
}

#[test]
fn data_without_high_and_low_cannot_run_atr() {
    let mut m = market(&[("A", 100.0, 20.0, 0.0)]);
    m.high.clear();
    m.low.clear();
    let def = RulesDef {
        position: Some("atr(5) < 3".into()),
        ..RulesDef::default()
    };
    let rules = Rules::compile(&def, Vec::new(), &m.symbols).expect("compiles");
    let error = run_strategy(
        &m,
        StrategyRef::Rules(&rules),
        &Params::new(),
        &config(Rebalance::Daily),
    )
    .expect_err("no high");
    assert_eq!(
        error.to_string(),
        "the rules read `high`, which this market data does not have"
    );
}
