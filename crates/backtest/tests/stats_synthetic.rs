//! The statistics of a deterministic synthetic curve against numbers computed independently
//! with pandas/numpy by `tests/fixtures/stats_expected.py` (QSTrader 0.3.0's formulas written
//! out by hand; the script also checks them against QSTrader's own `JSONStatistics` when
//! qstrader is installed). Run it with `TZ=UTC python stats_expected.py` to regenerate.

use backtest::stats::{
    epoch_millis, json_statistics, summary, EquityCurve, StrategyNames, TargetAllocations,
};
use chrono::{Datelike, NaiveDate, Weekday};

/// The curve of `stats_expected.py`: 300 weekdays from 2019-12-23, equity from 1000.
fn synthetic_curve() -> (Vec<NaiveDate>, Vec<f64>) {
    let mut dates = Vec::new();
    let mut d = NaiveDate::from_ymd_opt(2019, 12, 23).expect("date");
    while dates.len() < 300 {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            dates.push(d);
        }
        d = d.succ_opt().expect("date");
    }
    let mut equity = vec![1000.0f64];
    for t in 1..300 {
        let t = t as f64;
        let r = 0.0004 + 0.012 * (0.7 * t).sin() + 0.006 * (0.13 * t * t).cos();
        let last = *equity.last().expect("non-empty");
        equity.push(last * (1.0 + r));
    }
    (dates, equity)
}

fn assert_close(name: &str, got: f64, want: f64) {
    let tol = 1e-10 * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{name}: got {got}, want {want}");
}

#[test]
fn summary_matches_pandas() {
    let (_, equity) = synthetic_curve();
    let m = summary(&equity);
    assert_close("sharpe", m.sharpe, 1.609046852807704);
    assert_close("sortino", m.sortino, 3.122454387551087);
    assert_close("cagr", m.cagr, 0.264133822105755);
    assert_close("annualised_vol", m.annualised_vol, 0.1530074210402808);
    assert_close("max_drawdown", m.max_drawdown, 0.055696128237433994);
    assert_eq!(m.max_drawdown_duration, Some(52));
    assert_close("total_return", m.total_return, 0.3218500862077329);
    assert_close("calmar", m.calmar, 4.742409041069172);
    assert_close("skew", m.skew, -0.06525574763051852);
    assert_close("kurtosis", m.kurtosis, 1.9758812805317794);
    assert_eq!(m.n_obs, Some(300));
    // Not known from a curve: unknown, never 0.
    assert_eq!(m.trades, None);
    assert!(m.turnover.is_nan() && m.exposure.is_nan());
}

#[test]
fn json_statistics_match_pandas() {
    let (dates, equity) = synthetic_curve();
    let curve = EquityCurve {
        dates: &dates,
        equity: &equity,
    };
    let alloc = TargetAllocations {
        symbols: vec!["EQ:A".into()],
        rows: vec![(dates[0], vec![0.5])],
    };
    let names = StrategyNames {
        strategy_name: Some("synthetic".into()),
        ..StrategyNames::default()
    };
    let js = json_statistics(curve, Some(&alloc), Some(curve), &names).expect("stats");
    let s = &js.strategy;
    assert_close("sharpe", s.sharpe, 1.609046852807704);
    assert_close("sortino", s.sortino, 3.122454387551087);
    assert_close("cagr", s.cagr, 0.264133822105755);
    assert_close("annualised_vol", s.annualised_vol, 0.1530074210402808);
    assert_close("max_drawdown", s.max_drawdown, 0.055696128237433994);
    assert_eq!(s.max_drawdown_duration, 52);
    assert_close("mean_returns", s.mean_returns, 0.0009769686876233614);
    assert_close("stdev_returns", s.stdev_returns, 0.00963856154333178);

    assert_eq!(s.monthly_agg_returns.len(), 15);
    assert_eq!(s.monthly_agg_returns[0].0, (2019, 12));
    assert_close(
        "monthly[0]",
        s.monthly_agg_returns[0].1,
        0.025975345111391546,
    );
    assert_close(
        "monthly[1]",
        s.monthly_agg_returns[1].1,
        0.04220759460385337,
    );
    assert_close(
        "monthly[-1]",
        s.monthly_agg_returns[14].1,
        0.023557311185983032,
    );
    // QSTrader's first heat-map cells: [[0, 1, 4.2207...], [0, 2, 2.5058...], [1, 1, 2.1253...]]
    let hc = &s.monthly_agg_returns_hc;
    assert_eq!((hc[0].0, hc[0].1), (0, 1));
    assert_close("hc[0]", hc[0].2, 4.220759460385337);
    assert_eq!((hc[1].0, hc[1].1), (0, 2));
    assert_close("hc[1]", hc[1].2, 2.5058117443066186);
    assert_eq!((hc[2].0, hc[2].1), (1, 1));
    assert_close("hc[2]", hc[2].2, 2.125331750717807);
    assert_eq!(hc.len(), 15);

    let years: Vec<i32> = s.yearly_agg_returns.iter().map(|y| y.0).collect();
    assert_eq!(years, vec![2019, 2020, 2021]);
    for (got, want) in s.yearly_agg_returns.iter().zip([
        0.025975345111391546,
        0.22796114535269862,
        0.049205730499390254,
    ]) {
        assert_close("yearly", got.1, want);
    }
    assert_close(
        "yearly_hc",
        s.yearly_agg_returns_hc[1],
        0.22796114535269862 * 100.0,
    );

    let q = &s.returns_quantiles;
    assert_close("daily lq", q.daily.lq, -0.006249953377833517);
    assert_close("daily med", q.daily.med, 0.0009108382695286465);
    assert_close("daily uq", q.daily.uq, 0.009002165547931484);
    assert_close("monthly lq", q.monthly.lq, 0.01644164332381548);
    assert_close("monthly uq", q.monthly.uq, 0.03411946239183561);
    assert_close(
        "hc daily med",
        s.returns_quantiles_hc[0][2],
        0.09108382695286465,
    );

    // Timestamps: Python's datetime(...).timestamp() * 1000 under TZ=UTC.
    assert_eq!(s.returns.last().expect("row").0, 1_613_088_000_000);
    assert_eq!(epoch_millis(dates[299]), 1_613_088_000_000);
    assert_eq!(s.returns[0].1, 0.0);
    assert_eq!(s.drawdowns[0].1, 0.0);
    assert_eq!(s.equity_curve.len(), 300);
    let alloc = s.target_allocations.as_ref().expect("allocations");
    assert_eq!(alloc[0].name, "A");
    assert!(alloc[0].data.iter().all(|x| x.1 == 0.5));

    let b = js.benchmark.as_ref().expect("benchmark");
    assert!(b.target_allocations.is_none());
    assert_close("benchmark sharpe", b.sharpe, 1.609046852807704);
    assert_eq!(js.strategy_name.as_deref(), Some("synthetic"));
}

#[test]
fn json_has_qstraders_keys_and_types() {
    let (dates, equity) = synthetic_curve();
    let curve = EquityCurve {
        dates: &dates[..30],
        equity: &equity[..30],
    };
    let js = json_statistics(curve, None, None, &StrategyNames::default()).expect("stats");
    let v = serde_json::to_value(&js).expect("json");
    let top: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(top, vec!["strategy"]);
    let s = v["strategy"].as_object().expect("strategy");
    let keys: Vec<&str> = s.keys().map(|k| k.as_str()).collect();
    // QSTrader's insertion order (serde_json keeps struct field order only with
    // `preserve_order`; compare as sets and check the order of the struct separately).
    let mut want = vec![
        "equity_curve",
        "returns",
        "cum_returns",
        "monthly_agg_returns",
        "monthly_agg_returns_hc",
        "yearly_agg_returns",
        "yearly_agg_returns_hc",
        "returns_quantiles",
        "returns_quantiles_hc",
        "drawdowns",
        "max_drawdown",
        "max_drawdown_duration",
        "mean_returns",
        "stdev_returns",
        "cagr",
        "annualised_vol",
        "sharpe",
        "sortino",
        "target_allocations",
    ];
    let text = serde_json::to_string(&js).expect("text");
    let positions: Vec<usize> = want
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).expect("key written"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "key order");
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    want.sort();
    assert_eq!(keys_sorted, want);

    assert!(s["equity_curve"][0][0].is_i64());
    assert!(s["equity_curve"][0][1].is_f64());
    assert!(s["monthly_agg_returns"][0][0][0].is_i64());
    assert!(s["monthly_agg_returns"][0][0][1].is_i64());
    assert!(s["monthly_agg_returns_hc"][0][1].is_u64());
    assert!(s["yearly_agg_returns"][0][0].is_i64());
    assert!(s["yearly_agg_returns_hc"][0].is_f64());
    assert!(s["returns_quantiles"]["daily"]["lq"].is_f64());
    assert_eq!(s["returns_quantiles_hc"].as_array().expect("hc").len(), 3);
    assert!(s["max_drawdown_duration"].is_u64());
    assert!(s["sharpe"].is_f64());
    assert_eq!(s["target_allocations"], serde_json::json!([]));
}

#[test]
fn tiny_curve_by_hand() {
    // Equity 100, 120, 90, 96, 130, 117, 117, 140.
    // QSTrader's hwm starts at day 1 (120): drawdowns 0, 0, .25, .2, 0, .1, .1, 0.
    // Longest run of non-zero drawdown: days 2-3 (2 days) and days 5-6 (2 days) -> 2.
    let e = [100.0, 120.0, 90.0, 96.0, 130.0, 117.0, 117.0, 140.0];
    let m = summary(&e);
    assert_close("max_drawdown", m.max_drawdown, 0.25);
    assert_eq!(m.max_drawdown_duration, Some(2));
    assert_close("total_return", m.total_return, 0.4);
    // 8 rows = 8/252 years: cagr = 1.4^(252/8) - 1.
    assert_close("cagr", m.cagr, 1.4f64.powf(31.5) - 1.0);
    assert_close("calmar", m.calmar, (1.4f64.powf(31.5) - 1.0) / 0.25);
    assert_eq!(m.n_obs, Some(8));
    // Returns 0, .2, -.25, 1/15, 17/48, -.1, 0, 23/117; population moments by hand.
    let r = [
        0.0,
        0.2,
        -0.25,
        1.0 / 15.0,
        34.0 / 96.0,
        -0.1,
        0.0,
        23.0 / 117.0,
    ];
    let mean = r.iter().sum::<f64>() / 8.0;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 8.0;
    assert_close("vol", m.annualised_vol, var.sqrt() * 252f64.sqrt());
    assert_close("sharpe", m.sharpe, 252f64.sqrt() * mean / var.sqrt());
    // Negative returns -0.25 and -0.1: population std 0.075.
    assert_close("sortino", m.sortino, 252f64.sqrt() * mean / 0.075);
}
