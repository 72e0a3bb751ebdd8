//! Hand-computable simulator cases on tiny synthetic markets: fills at the next open, whole
//! shares, cash buffer, costs, rebalance dates, long/short, burn-in, buy-and-hold. Every
//! expected number is worked out by hand in the comments.

use backtest::simulator::{run_benchmark, Fill};
use backtest::{
    preflight, run_backtest, BacktestConfig, BacktestError, MarketData, ParamValue, Params,
    Rebalance,
};
use chrono::{Datelike, NaiveDate, Weekday};

fn date(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// `n` consecutive weekdays from `first`.
fn weekdays(first: &str, n: usize) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = date(first);
    while out.len() < n {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(d);
        }
        d = d.succ_opt().expect("next day");
    }
    out
}

/// Hand-built market data: one (symbol, opens, closes) per column.
fn market(dates: Vec<NaiveDate>, columns: &[(&str, &[f64], &[f64])]) -> MarketData {
    MarketData {
        dates,
        symbols: columns.iter().map(|c| c.0.to_string()).collect(),
        open: columns.iter().map(|c| c.1.to_vec()).collect(),
        close: columns.iter().map(|c| c.2.to_vec()).collect(),
        ..MarketData::default()
    }
}

fn params(pairs: &[(&str, ParamValue)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn config(rebalance: Rebalance, cash: f64, buffer: f64) -> BacktestConfig {
    BacktestConfig {
        initial_cash: cash,
        rebalance,
        cash_buffer: buffer,
        ..BacktestConfig::default()
    }
}

fn assert_close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() < 1e-9, "{actual:?} vs {expected:?}");
    }
}

fn fill(d: &str, symbol: usize, quantity: f64, price: f64, cost: f64) -> Fill {
    Fill {
        date: date(d),
        symbol,
        quantity,
        price,
        cost,
    }
}

#[test]
fn fills_at_next_open_in_whole_shares_with_cash_buffer() {
    // 2024-01-01 is a Monday. Opens 10, 11, 12; closes 10, 12, 13. Daily rebalance to 100%
    // with a 1% cash buffer and 1000 cash.
    // Day 0 close: equity 1000, budget 990, target floor(990 / 10) = 99 -> buy 99.
    // Day 1 open 11: cash 1000 - 99 x 11 = -89 (negative cash is allowed, as in QSTrader).
    //   close 12: equity -89 + 99 x 12 = 1099; budget 1088.01, target floor(1088.01 / 12)
    //   = 90 -> sell 9.
    // Day 2 open 12: cash -89 + 9 x 12 = 19; close 13: equity 19 + 90 x 13 = 1189. The order
    // decided at the last close never fills.
    let data = market(
        weekdays("2024-01-01", 3),
        &[("AAA", &[10.0, 11.0, 12.0], &[10.0, 12.0, 13.0])],
    );
    let out = run_backtest(
        &data,
        "fixed_weights",
        &params(&[("w_AAA", ParamValue::Float(1.0))]),
        &config(Rebalance::Daily, 1000.0, 0.01),
    )
    .expect("runs");
    assert_eq!(out.dates, weekdays("2024-01-01", 3));
    assert_close(&out.equity, &[1000.0, 1099.0, 1189.0]);
    assert_eq!(
        out.fills,
        [
            fill("2024-01-02", 0, 99.0, 11.0, 0.0),
            fill("2024-01-03", 0, -9.0, 12.0, 0.0)
        ]
    );
    assert_eq!(out.metrics.trades, Some(2));
    assert_eq!(out.allocations.len(), 3);
    // total return 1189 / 1000 - 1
    assert!((out.metrics.total_return - 0.189).abs() < 1e-12);
}

#[test]
fn commission_fee_and_slippage() {
    // Same market; commission 10 bps, fee 1 per order, slippage 100 bps.
    // Day 0: budget 990, minus estimated costs 0.99 + 1 = 988.01, target floor(98.801) = 98.
    // Day 1 open 11: buy fills at 11 x 1.01 = 11.11; notional 98 x 11.11 = 1088.78,
    //   commission 1.08878, fee 1: cash 1000 - 1088.78 - 2.08878 = -90.86878.
    //   close 12: equity -90.86878 + 1176 = 1085.13122; budget x 0.99 = 1074.2799078,
    //   minus 1.0742799078 + 1 = 1072.2056279, / 12 = 89.35 -> 89: sell 9.
    // Day 2 open 12: sell fills at 11.88; notional 106.92, commission 0.10692, fee 1:
    //   cash -90.86878 + 106.92 - 1.10692 = 14.9443; close 13: 14.9443 + 1157 = 1171.9443.
    let data = market(
        weekdays("2024-01-01", 3),
        &[("AAA", &[10.0, 11.0, 12.0], &[10.0, 12.0, 13.0])],
    );
    let cfg = BacktestConfig {
        commission_bps: 10.0,
        fee_per_trade: 1.0,
        slippage_bps: 100.0,
        ..config(Rebalance::Daily, 1000.0, 0.01)
    };
    let out = run_backtest(
        &data,
        "fixed_weights",
        &params(&[("w_AAA", ParamValue::Float(1.0))]),
        &cfg,
    )
    .expect("runs");
    assert_close(&out.equity, &[1000.0, 1085.13122, 1171.9443]);
    let q: Vec<f64> = out.fills.iter().map(|f| f.quantity).collect();
    let p: Vec<f64> = out.fills.iter().map(|f| f.price).collect();
    assert_close(&q, &[98.0, -9.0]);
    assert_close(&p, &[11.11, 11.88]);
    assert_close(&[out.costs_paid], &[2.08878 + 1.10692]);
    assert_close(&[out.traded_notional], &[1088.78 + 106.92]);
}

#[test]
fn end_of_month_is_the_last_weekday_and_fills_next_open() {
    // 2024-01-29 (Mon) .. 2024-02-02 (Fri): Wednesday 31 January is the last weekday of
    // January, the only rebalance day (2 February is not February's last weekday).
    // 60/40 of 1000 with no buffer at the 31st's closes (A 10, B 20): 60 A, 20 B, filled
    // at 1 February's opens (11, 21).
    let dates = weekdays("2024-01-29", 5);
    let data = market(
        dates,
        &[
            (
                "A",
                &[10.0, 10.0, 10.0, 11.0, 11.0],
                &[10.0, 10.0, 10.0, 11.0, 11.0],
            ),
            (
                "B",
                &[20.0, 20.0, 20.0, 21.0, 21.0],
                &[20.0, 20.0, 20.0, 21.0, 21.0],
            ),
        ],
    );
    let out = run_backtest(
        &data,
        "fixed_weights",
        &params(&[
            ("w_A", ParamValue::Float(0.6)),
            ("w_B", ParamValue::Float(0.4)),
        ]),
        &config(Rebalance::EndOfMonth, 1000.0, 0.0),
    )
    .expect("runs");
    let dates: Vec<_> = out.allocations.iter().map(|a| a.date).collect();
    assert_eq!(dates, [date("2024-01-31")]);
    assert_eq!(
        out.fills,
        [
            fill("2024-02-01", 0, 60.0, 11.0, 0.0),
            fill("2024-02-01", 1, 20.0, 21.0, 0.0)
        ]
    );
    // cash 1000 - 660 - 420 = -80; equity on 1 Feb: -80 + 60 x 11 + 20 x 21 = 1000.
    assert_close(&out.equity, &[1000.0; 5]);
}

#[test]
fn end_of_month_on_trading_days_uses_the_last_date_of_the_month() {
    // Good Friday 2024-03-29 missing from a trading-day calendar: Thursday the 28th is the
    // last date of March and rebalances; fills on Monday 1 April.
    let dates = vec![date("2024-03-27"), date("2024-03-28"), date("2024-04-01")];
    let data = market(dates, &[("A", &[10.0, 10.0, 12.0], &[10.0, 10.0, 12.0])]);
    let out = run_backtest(
        &data,
        "fixed_weights",
        &params(&[("w_A", ParamValue::Float(1.0))]),
        &config(Rebalance::EndOfMonth, 1000.0, 0.0),
    )
    .expect("runs");
    assert_eq!(
        out.allocations.get(0).map(|a| a.date),
        Some(date("2024-03-28"))
    );
    assert_eq!(out.fills, [fill("2024-04-01", 0, 100.0, 12.0, 0.0)]);
}

#[test]
fn weekly_rebalances_on_fridays() {
    // Mon 2024-01-01 .. Mon 2024-01-15: Fridays 5 and 12 January.
    let dates = weekdays("2024-01-01", 11);
    let flat = [10.0; 11];
    let data = market(dates, &[("A", &flat, &flat)]);
    let out = run_backtest(
        &data,
        "fixed_weights",
        &params(&[("w_A", ParamValue::Float(0.5))]),
        &config(Rebalance::Weekly, 1000.0, 0.0),
    )
    .expect("runs");
    let dates: Vec<_> = out.allocations.iter().map(|a| a.date).collect();
    assert_eq!(dates, [date("2024-01-05"), date("2024-01-12")]);
    // 50 shares bought on Monday the 8th; the second rebalance needs no order.
    assert_eq!(out.fills, [fill("2024-01-08", 0, 50.0, 10.0, 0.0)]);
}

#[test]
fn ma_cross_long_short_trades_on_signal_changes() {
    // closes 3 2 1 2 3 4, opens = previous close (3 3 2 1 2 3); sma fast 1, slow 2, no
    // buffer, 1000 cash, long/short.
    // Signal from day 1: fast 2 < slow 2.5 -> short; day 2: 1 < 1.5 short; day 3: 2 > 1.5
    // long; days 4, 5 long.
    // Day 1 close: equity 1000, target -floor(1000 / 2) = -500.
    // Day 2 open 2: short 500, cash 2000; close 1: 2000 - 500 = 1500.
    // Day 3 close 2: 2000 - 1000 = 1000; signal long: target floor(1000 / 2) = 500, buy 1000.
    // Day 4 open 2: cash 2000 - 2000 = 0, 500 held; close 3: 1500. Day 5 close 4: 2000.
    let data = market(
        weekdays("2024-01-01", 6),
        &[(
            "A",
            &[3.0, 3.0, 2.0, 1.0, 2.0, 3.0],
            &[3.0, 2.0, 1.0, 2.0, 3.0, 4.0],
        )],
    );
    let p = params(&[
        ("fast", ParamValue::Int(1)),
        ("slow", ParamValue::Int(2)),
        ("long_only", ParamValue::Bool(false)),
    ]);
    // end_of_month configured: ma_cross still checks its signal every day.
    let out = run_backtest(
        &data,
        "ma_cross",
        &p,
        &config(Rebalance::EndOfMonth, 1000.0, 0.0),
    )
    .expect("runs");
    assert_close(
        &out.equity,
        &[1000.0, 1000.0, 1500.0, 1000.0, 1500.0, 2000.0],
    );
    assert_eq!(
        out.fills,
        [
            fill("2024-01-03", 0, -500.0, 2.0, 0.0),
            fill("2024-01-05", 0, 1000.0, 2.0, 0.0)
        ]
    );
    // Exposure: positions held at the closes of days 2..5 = 4 of 6 days.
    assert!((out.metrics.exposure - 4.0 / 6.0).abs() < 1e-12);

    // Long only: flat instead of short, buys 500 at day 4's open 2, equity 1000 -> 1500 -> 2000.
    let p = params(&[("fast", ParamValue::Int(1)), ("slow", ParamValue::Int(2))]);
    let out = run_backtest(
        &data,
        "ma_cross",
        &p,
        &config(Rebalance::Daily, 1000.0, 0.0),
    )
    .expect("runs");
    assert_close(
        &out.equity,
        &[1000.0, 1000.0, 1000.0, 1000.0, 1500.0, 2000.0],
    );
    assert_eq!(out.fills, [fill("2024-01-05", 0, 500.0, 2.0, 0.0)]);
}

#[test]
fn burn_in_delays_trading_and_the_equity_curve() {
    // Five days at 10; start day 0, burn-in day 2 (2024-01-03). Daily 100%: the first
    // decision is on day 2's close (100 shares), filled on day 3; the curve starts on day 2.
    let data = market(weekdays("2024-01-01", 5), &[("A", &[10.0; 5], &[10.0; 5])]);
    let cfg = BacktestConfig {
        burn_in: Some(date("2024-01-03")),
        ..config(Rebalance::Daily, 1000.0, 0.0)
    };
    let out = run_backtest(
        &data,
        "fixed_weights",
        &params(&[("w_A", ParamValue::Float(1.0))]),
        &cfg,
    )
    .expect("runs");
    assert_eq!(out.dates, weekdays("2024-01-03", 3));
    assert_eq!(out.fills, [fill("2024-01-04", 0, 100.0, 10.0, 0.0)]);
}

#[test]
fn momentum_warms_up_from_the_start_and_picks_the_best() {
    // lookback 2, top_n 1, daily. Closes A 10 11 12 13, B 10 10 20 20, C 10 9 8 7.
    // Day 0: 1 day seen < 2: all zero. Day 1: returns from day 0: A 0.1, B 0, C -0.1 -> A.
    // Day 2: from day 0: A 0.2, B 1.0 -> B. Day 3: from day 1: A 13/11 - 1, B 1.0 -> B.
    let a = [10.0, 11.0, 12.0, 13.0];
    let b = [10.0, 10.0, 20.0, 20.0];
    let c = [10.0, 9.0, 8.0, 7.0];
    let data = market(
        weekdays("2024-01-01", 4),
        &[("A", &a, &a), ("B", &b, &b), ("C", &c, &c)],
    );
    let p = params(&[
        ("lookback", ParamValue::Int(2)),
        ("top_n", ParamValue::Int(1)),
    ]);
    let out = run_backtest(
        &data,
        "momentum_taa",
        &p,
        &config(Rebalance::Daily, 1000.0, 0.0),
    )
    .expect("runs");
    let weights: Vec<Vec<f64>> = out.allocations.iter().map(|a| a.weights.to_vec()).collect();
    assert_eq!(
        weights,
        [
            vec![0.0, 0.0, 0.0],
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 1.0, 0.0]
        ]
    );
    // Day 1 close: 1000 / 11 -> 90 A, bought day 2 at 12 (cash -80). Day 2 close: equity
    // -80 + 90 x 12 = 1000, target B floor(1000 / 20) = 50: sell 90 A at 13 and buy 50 B at
    // 20 on day 3: cash -80 + 1170 - 1000 = 90, equity 90 + 50 x 20 = 1090.
    assert_close(&out.equity, &[1000.0, 1000.0, 1000.0, 1090.0]);

    let too_many = params(&[("top_n", ParamValue::Int(4))]);
    let err =
        run_backtest(&data, "momentum_taa", &too_many, &BacktestConfig::default()).unwrap_err();
    assert!(matches!(err, BacktestError::Params(_)), "{err}");
}

#[test]
fn buy_and_hold_sizes_and_fills_at_the_first_open() {
    // QSTrader's benchmark: 99% of 1000 at day 0's open 10 = 99 shares, filled at that open.
    // Day 0 close 11: cash 1000 - 990 = 10, equity 10 + 99 x 11 = 1099; day 1 close 12: 1198.
    let data = market(
        weekdays("2024-01-01", 2),
        &[
            ("A", &[10.0, 11.5], &[11.0, 12.0]),
            ("B", &[5.0, 5.0], &[5.0, 5.0]),
        ],
    );
    let out =
        run_benchmark(&data, "A", &config(Rebalance::EndOfMonth, 1000.0, 0.01)).expect("runs");
    assert_close(&out.equity, &[1099.0, 1198.0]);
    assert_eq!(out.fills, [fill("2024-01-01", 0, 99.0, 10.0, 0.0)]);
    assert!(run_benchmark(&data, "C", &BacktestConfig::default()).is_err());
}

#[test]
fn unknown_strategy_and_bad_params_are_errors() {
    let data = market(
        weekdays("2024-01-01", 2),
        &[("A", &[1.0, 1.0], &[1.0, 1.0])],
    );
    let err = run_backtest(
        &data,
        "ma_crosss",
        &Params::new(),
        &BacktestConfig::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("did you mean `ma_cross`"), "{err}");
    let err = run_backtest(
        &data,
        "fixed_weights",
        &params(&[("w_A", ParamValue::Float(1.5))]),
        &BacktestConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, BacktestError::Params(_)), "{err}");
    let cfg = BacktestConfig {
        cash_buffer: 1.5,
        ..BacktestConfig::default()
    };
    assert!(run_backtest(&data, "fixed_weights", &Params::new(), &cfg).is_err());
}

#[test]
fn invalid_settings_fail_the_run_and_the_benchmark_naming_the_field() {
    // Every setting a hostile spec can break: each is refused by `validate`, and by both
    // entry points of the simulator with the same message, before any day is simulated.
    let data = market(weekdays("2024-01-01", 5), &[("A", &[10.0; 5], &[10.0; 5])]);
    let base = BacktestConfig::default;
    let cases = [
        (
            BacktestConfig {
                cash_buffer: 5.0,
                ..base()
            },
            "`cash_buffer` = 5: expected a fraction in [0, 1)",
        ),
        (
            BacktestConfig {
                commission_bps: -3.0,
                ..base()
            },
            "`commission_bps` = -3: expected a finite number >= 0",
        ),
        (
            BacktestConfig {
                fee_per_trade: -1.0,
                ..base()
            },
            "`fee_per_trade` = -1: expected a finite number >= 0",
        ),
        (
            BacktestConfig {
                slippage_bps: -2.0,
                ..base()
            },
            "`slippage_bps` = -2: expected a finite number >= 0",
        ),
        (
            BacktestConfig {
                initial_cash: f64::NAN,
                ..base()
            },
            "`initial_cash` = NaN: expected a finite amount greater than 0",
        ),
        (
            BacktestConfig {
                initial_cash: -1000.0,
                ..base()
            },
            "`initial_cash` = -1000: expected a finite amount greater than 0",
        ),
        (
            BacktestConfig {
                start: Some(date("2024-01-05")),
                end: Some(date("2024-01-02")),
                ..base()
            },
            "`start` = 2024-01-05: expected a date on or before `end` = 2024-01-02",
        ),
        (
            BacktestConfig {
                start: Some(date("2024-01-02")),
                burn_in: Some(date("2024-01-01")),
                ..base()
            },
            "`burn_in` = 2024-01-01: expected a date on or after `start` = 2024-01-02",
        ),
        (
            BacktestConfig {
                end: Some(date("2024-01-04")),
                split: Some(date("2024-01-05")),
                ..base()
            },
            "`split` = 2024-01-05: expected a date on or before `end` = 2024-01-04",
        ),
    ];
    let w = params(&[("w_A", ParamValue::Float(1.0))]);
    for (cfg, want) in cases {
        let err = cfg.validate().expect_err(want);
        assert_eq!(err.to_string(), want);
        let run = run_backtest(&data, "fixed_weights", &w, &cfg).expect_err(want);
        assert!(matches!(run, BacktestError::Config(_)), "{run}");
        assert_eq!(run.to_string(), format!("[backtest] {want}"));
        let bench = run_benchmark(&data, "A", &cfg).expect_err(want);
        assert_eq!(bench.to_string(), format!("[backtest] {want}"));
    }
}

#[test]
fn a_split_that_leaves_a_part_empty_is_an_error() {
    // The data's own dates bound the split too (a config without start/end passes
    // `validate`): a split after the last day or on the first leaves a part empty.
    let data = market(weekdays("2024-01-01", 5), &[("A", &[10.0; 5], &[10.0; 5])]);
    let w = params(&[("w_A", ParamValue::Float(1.0))]);
    for (split, part) in [("2024-02-01", "out-of-sample"), ("2023-12-01", "in-sample")] {
        let cfg = BacktestConfig {
            split: Some(date(split)),
            ..BacktestConfig::default()
        };
        let err = run_backtest(&data, "fixed_weights", &w, &cfg).expect_err(split);
        let msg = err.to_string();
        assert!(msg.contains(split) && msg.contains(part), "{msg}");
    }
    let cfg = BacktestConfig {
        split: Some(date("2024-01-03")),
        ..BacktestConfig::default()
    };
    let out = run_backtest(&data, "fixed_weights", &w, &cfg).expect("a split inside");
    assert_eq!(out.in_sample.and_then(|m| m.n_obs), Some(2));
    assert_eq!(out.out_of_sample.and_then(|m| m.n_obs), Some(3));
}

#[test]
fn a_warm_up_as_long_as_the_run_is_an_error_naming_the_parameter() {
    // ma_cross signals after max(fast, slow) closes, and the order fills the next day: on 6
    // days, slow = 5 can still trade (signal on day 5, fill on day 6), slow = 6 cannot.
    let closes = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0];
    let data = market(weekdays("2024-01-01", 6), &[("A", &closes, &closes)]);
    let ma = |slow: i64| {
        params(&[
            ("fast", ParamValue::Int(1)),
            ("slow", ParamValue::Int(slow)),
        ])
    };
    let cfg = config(Rebalance::Daily, 1000.0, 0.0);
    let out = run_backtest(&data, "ma_cross", &ma(5), &cfg).expect("slow = 5 fits");
    assert_eq!(out.metrics.trades, Some(1));
    for slow in [6, 5000] {
        let err = run_backtest(&data, "ma_cross", &ma(slow), &cfg).expect_err("never trades");
        assert!(
            matches!(err, BacktestError::WarmUp { days, available: 6, .. } if days == slow as usize),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "ma_cross: `slow` = {slow} gives a first signal after {slow} days of prices and \
                 a first fill the day after, but the run has 6 day(s) of prices \
                 (2024-01-01..2024-01-08): it could never trade"
            )
        );
        // The same answer without simulating, for planning.
        assert_eq!(
            preflight(&data, "ma_cross", &ma(slow), &cfg)
                .expect_err("never")
                .to_string(),
            err.to_string()
        );
    }
    assert!(preflight(&data, "ma_cross", &ma(5), &cfg).is_ok());
    // fast > slow: the longer window is fast's.
    let inverted = params(&[("fast", ParamValue::Int(7)), ("slow", ParamValue::Int(2))]);
    let err = run_backtest(&data, "ma_cross", &inverted, &cfg).expect_err("never trades");
    assert!(err.to_string().starts_with("ma_cross: `fast` = 7"), "{err}");

    // Counted from the symbol's first price: two days without a price leave 4.
    let late = [f64::NAN, f64::NAN, 12.0, 13.0, 14.0, 15.0];
    let data = market(weekdays("2024-01-01", 6), &[("A", &late, &late)]);
    assert!(run_backtest(&data, "ma_cross", &ma(3), &cfg).is_ok());
    let err = run_backtest(&data, "ma_cross", &ma(4), &cfg).expect_err("never trades");
    assert!(
        matches!(err, BacktestError::WarmUp { available: 4, .. }),
        "{err}"
    );

    // momentum_taa: weights from the lookback-th day seen, from the start.
    let momentum = |lookback: i64| {
        params(&[
            ("lookback", ParamValue::Int(lookback)),
            ("top_n", ParamValue::Int(1)),
        ])
    };
    let data = market(weekdays("2024-01-01", 6), &[("A", &closes, &closes)]);
    assert!(run_backtest(&data, "momentum_taa", &momentum(5), &cfg).is_ok());
    let err = run_backtest(&data, "momentum_taa", &momentum(6), &cfg).expect_err("never");
    assert!(
        err.to_string().starts_with("momentum_taa: `lookback` = 6"),
        "{err}"
    );
    // Strategies without a warm-up run on a single day.
    let one = market(weekdays("2024-01-01", 1), &[("A", &[10.0], &[10.0])]);
    assert!(run_backtest(&one, "fixed_weights", &Params::new(), &cfg).is_ok());
}

#[test]
fn a_run_that_never_trades_says_so_in_its_metrics() {
    // Long only on a falling price: the fast average stays below the slow one, the run is
    // flat throughout: 0 trades, 0 exposure, 0 turnover, in the whole and in both parts.
    let closes: Vec<f64> = (0..30).map(|d| 100.0 - f64::from(d)).collect();
    let data = market(weekdays("2024-01-01", 30), &[("A", &closes, &closes)]);
    let p = params(&[("fast", ParamValue::Int(2)), ("slow", ParamValue::Int(5))]);
    let cfg = BacktestConfig {
        split: Some(date("2024-01-22")),
        ..config(Rebalance::Daily, 1000.0, 0.0)
    };
    let out = run_backtest(&data, "ma_cross", &p, &cfg).expect("runs");
    assert!(out.fills.is_empty());
    for m in [&out.metrics]
        .into_iter()
        .chain(out.in_sample.as_ref())
        .chain(out.out_of_sample.as_ref())
    {
        assert_eq!(
            (m.trades, m.exposure, m.turnover),
            (Some(0), 0.0, 0.0),
            "{m:?}"
        );
    }
    assert_eq!(out.metrics.total_return, 0.0);
    // The same prices rising: it trades once (buys), and the part with the fill counts it.
    let rising: Vec<f64> = closes.iter().rev().copied().collect();
    let data = market(weekdays("2024-01-01", 30), &[("A", &rising, &rising)]);
    let out = run_backtest(&data, "ma_cross", &p, &cfg).expect("runs");
    assert_eq!(out.metrics.trades, Some(1));
    assert_eq!(out.in_sample.and_then(|m| m.trades), Some(1));
    assert_eq!(out.out_of_sample.and_then(|m| m.trades), Some(0));
}
