//! The built-in strategies written as rules give the same runs as the built-ins on the real
//! data: `ma_cross` (sma and ema, long-only and long/short, several windows including a
//! fast window longer than the slow one and near ties) on SPY's whole history, and
//! `momentum_taa` on the nine sector SPDRs (1998-2020 and 2003-2020, QSTrader's lookback
//! and top_n and others).
//!
//! "The same" is **identical** here: every fill (date, symbol, quantity, price, cost), the
//! equity curve and every metric compare equal bit for bit (`f64::to_bits`), not merely
//! within 1e-12: the rules compute the same floating-point operations in the same order
//! as the built-ins.
//!
//! Data: `$SLURM_SWEEP_DATA/qstrader_examples` (default `<workspace>/../shared/data`).

mod common;

use backtest::params::ParamSpec;
use backtest::rules::{Rules, RulesDef};
use backtest::simulator::is_rebalance_day;
use backtest::strategy::ma_cross::{ema_steps, sma_steps};
use backtest::{
    run_backtest, run_strategy, BacktestConfig, Calendar, DataConfig, DataFormat, MarketData,
    ParamValue, Params, Rebalance, RunOutput, StrategyRef, TaskRunner,
};
use chrono::NaiveDate;
use common::{qstrader_examples, spy};

fn params(pairs: &[(&str, ParamValue)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Asserts two runs are identical: fills, equity, allocations and metrics, bit for bit.
fn assert_identical(what: &str, builtin: &RunOutput, rules: &RunOutput) {
    assert_eq!(
        builtin.fills.len(),
        rules.fills.len(),
        "{what}: number of fills"
    );
    for (k, (a, b)) in builtin.fills.iter().zip(&rules.fills).enumerate() {
        let same = a.date == b.date
            && a.symbol == b.symbol
            && a.quantity.to_bits() == b.quantity.to_bits()
            && a.price.to_bits() == b.price.to_bits()
            && a.cost.to_bits() == b.cost.to_bits();
        assert!(same, "{what}: fill {k}: built-in {a:?}, rules {b:?}");
    }
    assert_eq!(
        builtin.equity.len(),
        rules.equity.len(),
        "{what}: equity days"
    );
    for (k, (a, b)) in builtin.equity.iter().zip(&rules.equity).enumerate() {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{what}: equity on day {k}: {a} vs {b}"
        );
    }
    let (a, b) = (builtin.metrics.values(), rules.metrics.values());
    for (k, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: metric {k}: {x} vs {y}");
    }
    assert_eq!(
        builtin.allocations.len(),
        rules.allocations.len(),
        "{what}: number of rebalances"
    );
    for (a, b) in builtin.allocations.iter().zip(rules.allocations.iter()) {
        assert_eq!(a.date, b.date, "{what}: rebalance dates");
        assert_eq!(a.weights, b.weights, "{what}: weights on {}", a.date);
    }
}

fn ma_params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::int("fast", 50, 1, 2000, "fast window"),
        ParamSpec::int("slow", 200, 1, 5000, "slow window"),
    ]
}

/// `ma_cross` as a position rule.
fn ma_rules(kind: &str, long_only: bool) -> Rules {
    let cross = format!("{kind}(close, fast) > {kind}(close, slow)");
    let position = if long_only {
        cross
    } else {
        format!("if({cross}, 1, -1)")
    };
    let def = RulesDef {
        position: Some(position),
        ..RulesDef::default()
    };
    Rules::compile(&def, ma_params(), &["SPY".to_string()]).expect("compiles")
}

/// The (fast, slow) pairs: classic ones, fast > slow (the rule inverts), and near ties
/// (adjacent windows, equal windows).
const PAIRS: [(i64, i64); 9] = [
    (50, 200),
    (20, 100),
    (10, 30),
    (5, 20),
    (200, 50),
    (30, 10),
    (49, 50),
    (99, 100),
    (60, 60),
];

#[test]
fn ma_cross_as_rules_is_identical_to_the_builtin_on_spy() {
    for calendar in [Calendar::Weekdays, Calendar::TradingDays] {
        let (market, config) = spy(calendar);
        let config = BacktestConfig {
            rebalance: Rebalance::Daily,
            commission_bps: 5.0,
            ..config
        };
        for kind in ["sma", "ema"] {
            for long_only in [true, false] {
                let rules = ma_rules(kind, long_only);
                let combos: Vec<Params> = PAIRS
                    .iter()
                    .map(|&(fast, slow)| {
                        params(&[
                            ("fast", ParamValue::Int(fast)),
                            ("slow", ParamValue::Int(slow)),
                        ])
                    })
                    .collect();
                let runner = TaskRunner::new(&market, StrategyRef::Rules(&rules), &config, &combos)
                    .expect("a runner");
                for combo in &combos {
                    let mut builtin_params = combo.clone();
                    builtin_params.insert("kind".into(), ParamValue::Str(kind.into()));
                    builtin_params.insert("long_only".into(), ParamValue::Bool(long_only));
                    let builtin =
                        run_backtest(&market, "ma_cross", &builtin_params, &config).expect("runs");
                    let what = format!("{calendar:?} {kind} long_only={long_only} {combo:?}");
                    // Through a task's shared indicators, and alone.
                    let shared = runner.run(combo).expect("rules run");
                    assert_identical(&what, &builtin, &shared);
                    let alone = run_strategy(&market, StrategyRef::Rules(&rules), combo, &config)
                        .expect("rules run");
                    assert_identical(&what, &builtin, &alone);
                    if fast_ne_slow(combo) {
                        assert!(builtin.fills.len() > 2, "{what}: trades");
                    }
                }
                // The windows the grid uses twice or more are shared, each computed once.
                let mut windows: Vec<i64> = PAIRS.iter().flat_map(|&(f, s)| [f, s]).collect();
                windows.sort_unstable();
                let mut shared = windows.clone();
                shared.dedup();
                shared.retain(|w| windows.iter().filter(|x| *x == w).count() >= 2);
                assert_eq!(
                    runner.shared_series(),
                    (shared.len(), shared.len()),
                    "{calendar:?} {kind}: windows {shared:?}"
                );
            }
        }
    }
}

/// The pairs on which the built-in's own fast path hands the decision over to its plain
/// computation: some day's two averages are closer than their rounding errors (in SPY's
/// history, 1 <= fast, slow <= 101 on these calendars, mostly short windows).
fn near_ties(market: &MarketData, kind: &str) -> Vec<(i64, i64)> {
    let closes = &market.close[0];
    let sums = market.close_sums(0).expect("one symbol");
    let mut found = Vec::new();
    for fast in 1..=101 {
        for slow in 1..=101 {
            let handed_over = match kind {
                "sma" => sma_steps(sums, 0, closes, fast, slow, true).is_none(),
                _ => ema_steps(closes, fast, slow, true).is_none(),
            };
            if fast != slow && handed_over {
                found.push((fast as i64, slow as i64));
            }
        }
    }
    found
}

#[test]
fn ma_cross_as_rules_is_identical_to_the_builtin_on_near_ties() {
    for calendar in [Calendar::Weekdays, Calendar::TradingDays] {
        let (market, config) = spy(calendar);
        let config = BacktestConfig {
            rebalance: Rebalance::Daily,
            ..config
        };
        let mut tested = 0;
        for kind in ["sma", "ema"] {
            let pairs = near_ties(&market, kind);
            let combos: Vec<Params> = pairs
                .iter()
                .map(|&(fast, slow)| {
                    params(&[
                        ("fast", ParamValue::Int(fast)),
                        ("slow", ParamValue::Int(slow)),
                    ])
                })
                .collect();
            for long_only in [true, false] {
                let rules = ma_rules(kind, long_only);
                let runner = TaskRunner::new(&market, StrategyRef::Rules(&rules), &config, &combos)
                    .expect("a runner");
                for combo in &combos {
                    let mut builtin_params = combo.clone();
                    builtin_params.insert("kind".into(), ParamValue::Str(kind.into()));
                    builtin_params.insert("long_only".into(), ParamValue::Bool(long_only));
                    let builtin =
                        run_backtest(&market, "ma_cross", &builtin_params, &config).expect("runs");
                    let what = format!("{calendar:?} {kind} long_only={long_only} {combo:?}");
                    assert_identical(&what, &builtin, &runner.run(combo).expect("rules run"));
                    tested += 1;
                }
            }
        }
        println!("{calendar:?}: {tested} near-tie runs identical");
        assert!(
            tested >= 100,
            "{calendar:?}: near ties exist in SPY's history"
        );
    }
}

#[test]
fn ma_cross_as_rules_is_identical_from_a_later_start_and_burn_in() {
    // The data from 1993, the run from 2000 (signals warm up from the start), trading from
    // 2001 (the burn-in date).
    let (market, config) = spy(Calendar::Weekdays);
    let config = BacktestConfig {
        start: date("2000-01-03"),
        burn_in: date("2001-01-02"),
        rebalance: Rebalance::Daily,
        ..config
    };
    for kind in ["sma", "ema"] {
        for long_only in [true, false] {
            let rules = ma_rules(kind, long_only);
            for (fast, slow) in [(50, 200), (10, 30), (200, 50)] {
                let combo = params(&[
                    ("fast", ParamValue::Int(fast)),
                    ("slow", ParamValue::Int(slow)),
                ]);
                let mut builtin_params = combo.clone();
                builtin_params.insert("kind".into(), ParamValue::Str(kind.into()));
                builtin_params.insert("long_only".into(), ParamValue::Bool(long_only));
                let builtin =
                    run_backtest(&market, "ma_cross", &builtin_params, &config).expect("runs");
                let rules_run = run_strategy(&market, StrategyRef::Rules(&rules), &combo, &config)
                    .expect("rules run");
                let what = format!("from 2000 {kind} long_only={long_only} {combo:?}");
                assert_identical(&what, &builtin, &rules_run);
                assert_eq!(builtin.dates[0], date("2001-01-02").expect("a date"));
            }
        }
    }
}

fn fast_ne_slow(combo: &Params) -> bool {
    combo.get("fast") != combo.get("slow")
}

const SECTORS: [&str; 9] = [
    "XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY",
];

fn sectors(config: &BacktestConfig) -> MarketData {
    let data = DataConfig {
        dir: qstrader_examples(),
        symbols: SECTORS.iter().map(|s| s.to_string()).collect(),
        format: DataFormat::Yahoo,
    };
    MarketData::load(&data, config).expect("the sector SPDRs load")
}

fn momentum_rules() -> Rules {
    let def = RulesDef {
        rank: Some("ret(close, lookback)".into()),
        top: Some("top_n".into()),
        ..RulesDef::default()
    };
    let declared = vec![
        ParamSpec::int("lookback", 126, 1, 5000, "momentum lookback"),
        ParamSpec::int("top_n", 3, 1, 1000, "symbols held"),
    ];
    let symbols: Vec<String> = SECTORS.iter().map(|s| s.to_string()).collect();
    Rules::compile(&def, declared, &symbols).expect("compiles")
}

fn date(s: &str) -> Option<NaiveDate> {
    s.parse().ok()
}

/// The built-in momentum's first decision day with weights (its `lookback`-th day) uses a
/// return over `lookback - 1` days (QSTrader's buffer is not full yet), where
/// `ret(close, lookback)` is still undefined: the one day on which the two can differ.
/// Whether that day is a decision day of `config` (a rebalance day from the burn-in on).
fn quirk_day_decides(market: &MarketData, config: &BacktestConfig, lookback: usize) -> bool {
    let start = config
        .start
        .map_or(0, |s| market.dates.partition_point(|d| *d < s));
    let trade_from = config.burn_in.map_or(start, |b| {
        market.dates.partition_point(|d| *d < b).max(start)
    });
    let day = start + lookback - 1;
    day >= trade_from
        && day < market.dates.len()
        && is_rebalance_day(config.rebalance, &market.dates, day, trade_from)
}

#[test]
fn momentum_taa_as_rules_is_identical_to_the_builtin_on_the_sectors() {
    let rules = momentum_rules();
    let periods = [
        // QSTrader's example: warm-up from 1998-12-22, trading from the burn-in date.
        (date("1998-12-22"), date("1999-12-22"), date("2020-12-31")),
        // No burn-in: decisions from the first day.
        (date("2003-01-01"), None, date("2020-12-31")),
    ];
    let grid: [(i64, i64); 6] = [(126, 3), (63, 1), (252, 3), (21, 5), (126, 9), (200, 2)];
    for (start, burn_in, end) in periods {
        let config = BacktestConfig {
            start,
            burn_in,
            end,
            ..BacktestConfig::default()
        };
        let market = sectors(&config);
        let combos: Vec<Params> = grid
            .iter()
            .map(|&(lookback, top_n)| {
                params(&[
                    ("lookback", ParamValue::Int(lookback)),
                    ("top_n", ParamValue::Int(top_n)),
                ])
            })
            .collect();
        let runner = TaskRunner::new(&market, StrategyRef::Rules(&rules), &config, &combos)
            .expect("a runner");
        for combo in &combos {
            let lookback = combo["lookback"].as_i64().unwrap_or(0) as usize;
            let what = format!("{start:?}..{end:?} burn-in {burn_in:?} {combo:?}");
            assert!(
                !quirk_day_decides(&market, &config, lookback),
                "{what}: pick a grid whose {lookback}-th day is not a decision day"
            );
            let builtin = run_backtest(&market, "momentum_taa", combo, &config).expect("runs");
            let rules_run = runner.run(combo).expect("rules run");
            assert_identical(&what, &builtin, &rules_run);
            assert!(builtin.fills.len() > 50, "{what}: trades");
        }
    }
}

#[test]
fn momentum_differs_only_on_the_builtins_short_first_return() {
    // A run whose `lookback`-th day is a month end: the built-in decides with the return
    // since the first day there (QSTrader's warm-up), the rules form is still undefined
    // (flat). Every other target is the same.
    let rules = momentum_rules();
    let config = BacktestConfig {
        start: date("2003-01-01"),
        end: date("2020-12-31"),
        ..BacktestConfig::default()
    };
    let market = sectors(&config);
    let lookback = (20..300)
        .find(|&l| quirk_day_decides(&market, &config, l))
        .expect("some lookback ends on a month end");
    let combo = params(&[
        ("lookback", ParamValue::Int(lookback as i64)),
        ("top_n", ParamValue::Int(3)),
    ]);
    let builtin = run_backtest(&market, "momentum_taa", &combo, &config).expect("runs");
    let rules_run =
        run_strategy(&market, StrategyRef::Rules(&rules), &combo, &config).expect("runs");
    let quirk = market.dates[lookback - 1];
    assert_eq!(builtin.allocations.len(), rules_run.allocations.len());
    let mut seen = false;
    for (a, b) in builtin.allocations.iter().zip(rules_run.allocations.iter()) {
        assert_eq!(a.date, b.date);
        if a.date == quirk {
            seen = true;
            assert_eq!(a.weights.iter().filter(|w| **w > 0.0).count(), 3, "{quirk}");
            assert!(b.weights.iter().all(|w| *w == 0.0), "{quirk}: flat");
        } else {
            assert_eq!(a.weights, b.weights, "{}", a.date);
        }
    }
    assert!(seen, "the day {quirk} is a decision day");
}

#[test]
fn a_runner_shared_by_threads_gives_the_builtins_runs() {
    let (market, config) = spy(Calendar::TradingDays);
    let config = BacktestConfig {
        rebalance: Rebalance::Daily,
        ..config
    };
    let rules = ma_rules("sma", true);
    let combos: Vec<Params> = (0..24)
        .map(|k| {
            params(&[
                ("fast", ParamValue::Int(5 + 5 * (k % 6))),
                ("slow", ParamValue::Int(60 + 40 * (k / 6))),
            ])
        })
        .collect();
    let runner =
        TaskRunner::new(&market, StrategyRef::Rules(&rules), &config, &combos).expect("a runner");
    std::thread::scope(|scope| {
        for chunk in combos.chunks(6) {
            let runner = &runner;
            let (market, config) = (&market, &config);
            scope.spawn(move || {
                for combo in chunk {
                    let builtin = run_backtest(market, "ma_cross", combo, config).expect("runs");
                    let shared = runner.run(combo).expect("rules run");
                    assert_identical(&format!("{combo:?}"), &builtin, &shared);
                }
            });
        }
    });
    // 6 fast and 4 slow windows, each used by 4 or 6 combinations: 10 shared series.
    assert_eq!(runner.shared_series(), (10, 10));
}
