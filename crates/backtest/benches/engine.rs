//! Engine benchmarks on the real data: loading (SPY+AGG aligned; SPY's file alone; the nine
//! sector SPDRs; pysystemtrade's CRUDE_W, 42,105 rows with intraday rows), then, with the
//! data already loaded, the 60/40 over 17 years with full summary statistics, ma_cross on
//! SPY's ~8,000 bars (and its parts), and top-3 momentum on the nine sector SPDRs; the two
//! strategies also written as rules, per backtest with a task's indicator cache warm and
//! cold.
//!
//! `cargo bench -p backtest --bench engine -- --warm-up-time 1 --measurement-time 3`
//! Data: `$SLURM_SWEEP_DATA/qstrader_examples` (default `<workspace>/../shared/data`).

use std::hint::black_box;
use std::path::PathBuf;

use backtest::data::load_file;
use backtest::params::ParamSpec;
use backtest::rules::{Rules, RulesDef};
use backtest::simulator::run_benchmark;
use backtest::stats::{json_statistics, EquityCurve, StrategyNames};
use backtest::{
    run_backtest, run_strategy, BacktestConfig, Calendar, DataConfig, DataFormat, MarketData,
    ParamValue, Params, Rebalance, StrategyRef, TaskRunner,
};
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};

fn shared_data() -> PathBuf {
    std::env::var_os("SLURM_SWEEP_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    )
}

fn data_dir() -> PathBuf {
    shared_data().join("qstrader_examples")
}

fn date(s: &str) -> Option<NaiveDate> {
    s.parse().ok()
}

fn data_config(symbols: &[&str]) -> DataConfig {
    DataConfig {
        dir: data_dir(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        format: DataFormat::Yahoo,
    }
}

fn params(pairs: &[(&str, ParamValue)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn engine(c: &mut Criterion) {
    // 60/40: QSTrader's sixty_forty example.
    let sixty_forty = BacktestConfig {
        start: date("2003-09-30"),
        end: date("2020-12-31"),
        rebalance: Rebalance::EndOfMonth,
        ..BacktestConfig::default()
    };
    let spy_agg = data_config(&["SPY", "AGG"]);
    c.bench_function("load SPY+AGG (2 Yahoo CSVs, weekdays 2003-2020)", |b| {
        b.iter(|| MarketData::load(black_box(&spy_agg), &sixty_forty).expect("loads"))
    });
    let spy_file = data_dir().join("SPY.csv");
    c.bench_function("load_file SPY.csv (8,042 rows)", |b| {
        b.iter(|| load_file(black_box(&spy_file), DataFormat::Auto).expect("loads"))
    });
    let sector_symbols = [
        "XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY",
    ];
    let sector_data = data_config(&sector_symbols);
    c.bench_function("load 9 sector SPDRs (weekdays)", |b| {
        b.iter(|| {
            MarketData::load(black_box(&sector_data), &BacktestConfig::default()).expect("loads")
        })
    });
    let crude = shared_data().join("pysystemtrade/adjusted_prices_csv/CRUDE_W.csv");
    c.bench_function("load_file pysystemtrade CRUDE_W.csv (42,105 rows)", |b| {
        b.iter(|| load_file(black_box(&crude), DataFormat::Auto).expect("loads"))
    });
    let market = MarketData::load(&spy_agg, &sixty_forty).expect("loads SPY, AGG");
    let weights = params(&[
        ("w_SPY", ParamValue::Float(0.6)),
        ("w_AGG", ParamValue::Float(0.4)),
    ]);
    c.bench_function("60/40 2003-2020 end_of_month + summary metrics", |b| {
        b.iter(|| {
            run_backtest(black_box(&market), "fixed_weights", &weights, &sixty_forty).expect("runs")
        })
    });
    let out = run_backtest(&market, "fixed_weights", &weights, &sixty_forty).expect("runs");
    let bench = run_benchmark(&market, "SPY", &sixty_forty).expect("runs");
    c.bench_function("60/40 JSONStatistics (strategy + benchmark)", |b| {
        b.iter(|| {
            json_statistics(
                EquityCurve {
                    dates: &out.dates,
                    equity: black_box(&out.equity),
                },
                None,
                Some(EquityCurve {
                    dates: &bench.dates,
                    equity: &bench.equity,
                }),
                &StrategyNames::default(),
            )
            .expect("statistics")
        })
    });

    // ma_cross on SPY's whole history: 1993-01-29 .. 2025-01-06, trading days (8,041 bars).
    let spy_config = BacktestConfig {
        end: date("2025-01-06"),
        calendar: Calendar::TradingDays,
        ..BacktestConfig::default()
    };
    let spy = MarketData::load(&data_config(&["SPY"]), &spy_config).expect("loads SPY");
    for kind in ["sma", "ema"] {
        let p = params(&[
            ("fast", ParamValue::Int(50)),
            ("slow", ParamValue::Int(200)),
            ("kind", ParamValue::Str(kind.into())),
        ]);
        let name = format!(
            "ma_cross {kind} 50/200 SPY {} bars + summary metrics",
            spy.dates.len()
        );
        c.bench_function(&name, |b| {
            b.iter(|| run_backtest(black_box(&spy), "ma_cross", &p, &spy_config).expect("runs"))
        });
    }

    // The same ma_cross written as rules (`position = "sma(close, fast) > sma(close, slow)"`,
    // checked daily as the built-in), per backtest: with the task's indicator cache warm (the
    // per-combination cost of a sweep task: both averages already computed by an earlier
    // combination) and cold (a task of one combination: the averages computed in the run).
    let rules_config = BacktestConfig {
        rebalance: Rebalance::Daily,
        ..spy_config.clone()
    };
    let ma_rules = Rules::compile(
        &RulesDef {
            position: Some("sma(close, fast) > sma(close, slow)".into()),
            ..RulesDef::default()
        },
        vec![
            ParamSpec::int("fast", 50, 1, 2000, "fast window"),
            ParamSpec::int("slow", 200, 1, 5000, "slow window"),
        ],
        &spy.symbols,
    )
    .expect("compiles");
    let pair = |fast: i64, slow: i64| {
        params(&[
            ("fast", ParamValue::Int(fast)),
            ("slow", ParamValue::Int(slow)),
        ])
    };
    let p = pair(50, 200);
    // A task whose grid shares both windows with other combinations.
    let task = [pair(50, 200), pair(50, 100), pair(20, 200)];
    let strategy = StrategyRef::Rules(&ma_rules);
    let runner = TaskRunner::new(&spy, strategy, &rules_config, &task).expect("a runner");
    runner.run(&task[1]).expect("warms 50");
    runner.run(&task[2]).expect("warms 200");
    c.bench_function("rules ma_cross sma 50/200 SPY, warm task cache", |b| {
        b.iter(|| runner.run(black_box(&p)).expect("runs"))
    });
    c.bench_function("rules ma_cross sma 50/200 SPY, cold (run_strategy)", |b| {
        b.iter(|| run_strategy(black_box(&spy), strategy, &p, &rules_config).expect("runs"))
    });
    c.bench_function("rules compile ma_cross", |b| {
        b.iter(|| {
            Rules::compile(
                black_box(&RulesDef {
                    position: Some("sma(close, fast) > sma(close, slow)".into()),
                    ..RulesDef::default()
                }),
                vec![
                    ParamSpec::int("fast", 50, 1, 2000, "fast window"),
                    ParamSpec::int("slow", 200, 1, 5000, "slow window"),
                ],
                &spy.symbols,
            )
            .expect("compiles")
        })
    });

    // The parts of the ma_cross run: the signal alone, and the statistics alone.
    let closes = spy.close[0].clone();
    c.bench_function("part: sma_signal 50/200 on SPY", |b| {
        b.iter(|| backtest::strategy::ma_cross::sma_signal(black_box(&closes), 50, 200, true))
    });
    let sums = spy.close_sums(0).expect("one symbol");
    c.bench_function("part: sma_steps 50/200 on SPY (running sums cached)", |b| {
        b.iter(|| {
            backtest::strategy::ma_cross::sma_steps(sums, 0, black_box(&closes), 50, 200, true)
        })
    });
    c.bench_function("part: ema_signal 50/200 on SPY", |b| {
        b.iter(|| backtest::strategy::ma_cross::ema_signal(black_box(&closes), 50, 200, true))
    });
    c.bench_function("part: ema steps 50/200 on SPY", |b| {
        b.iter(|| backtest::strategy::ma_cross::ema_steps(black_box(&closes), 50, 200, true))
    });
    let curve = run_backtest(
        &spy,
        "ma_cross",
        &params(&[
            ("fast", ParamValue::Int(50)),
            ("slow", ParamValue::Int(200)),
        ]),
        &spy_config,
    )
    .expect("runs");
    c.bench_function("part: stats::summary of 8041 points", |b| {
        b.iter(|| backtest::stats::summary(black_box(&curve.equity)))
    });

    // Momentum: QSTrader's momentum_taa example.
    let momentum = BacktestConfig {
        start: date("1998-12-22"),
        burn_in: date("1999-12-22"),
        end: date("2020-12-31"),
        ..BacktestConfig::default()
    };
    let sectors = MarketData::load(&sector_data, &momentum).expect("loads the sectors");
    let p = params(&[
        ("lookback", ParamValue::Int(126)),
        ("top_n", ParamValue::Int(3)),
    ]);
    c.bench_function("momentum_taa 9 sectors 1998-2020 + summary metrics", |b| {
        b.iter(|| run_backtest(black_box(&sectors), "momentum_taa", &p, &momentum).expect("runs"))
    });
    // As rules (`rank = "ret(close, lookback)"`, `top = "top_n"`), warm and cold.
    let momentum_rules = Rules::compile(
        &RulesDef {
            rank: Some("ret(close, lookback)".into()),
            top: Some("top_n".into()),
            ..RulesDef::default()
        },
        vec![
            ParamSpec::int("lookback", 126, 1, 5000, "lookback"),
            ParamSpec::int("top_n", 3, 1, 1000, "symbols held"),
        ],
        &sectors.symbols,
    )
    .expect("compiles");
    let strategy = StrategyRef::Rules(&momentum_rules);
    let top2 = params(&[
        ("lookback", ParamValue::Int(126)),
        ("top_n", ParamValue::Int(2)),
    ]);
    let task = [p.clone(), top2.clone()];
    let runner = TaskRunner::new(&sectors, strategy, &momentum, &task).expect("a runner");
    runner.run(&top2).expect("warms the ranks");
    c.bench_function("rules momentum 9 sectors, warm task cache", |b| {
        b.iter(|| runner.run(black_box(&p)).expect("runs"))
    });
    c.bench_function("rules momentum 9 sectors, cold (run_strategy)", |b| {
        b.iter(|| run_strategy(black_box(&sectors), strategy, &p, &momentum).expect("runs"))
    });
}

criterion_group!(benches, engine);
criterion_main!(benches);
