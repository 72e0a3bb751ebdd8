//! The `ewmac` forecast against pandas: EWMAs, the EWMA volatility and the whole forecast
//! pipeline of a short series are compared with numbers from pandas' own `ewm` (adjust=True,
//! the pandas default that pysystemtrade uses), computed by
//! `tests/fixtures/ewmac_expected.py` (run it with any python that has pandas to regenerate
//! the constants at the bottom). Also: trends give forecasts of their sign, the cap holds,
//! and the weights follow the vol-targeting formula.

use backtest::strategy::ewmac;

use ewmac::{ewm_std, ewma, forecast, price_change_vol, target_weights, EwmacParams};

/// Two missing days, then p[t] = 100 + 0.5 t + 3 sin(0.9 t), t = 2..41.
fn test_prices() -> Vec<f64> {
    let mut p = vec![f64::NAN, f64::NAN];
    p.extend((2..42).map(|t| {
        let t = t as f64;
        100.0 + 0.5 * t + 3.0 * (0.9 * t).sin()
    }));
    p
}

fn params(fast: usize, slow: usize) -> EwmacParams {
    EwmacParams {
        fast,
        slow,
        vol_target: 0.2,
        forecast_scalar: 4.1,
        cap: 20.0,
        vol_span: 35,
        buffer: 0.1,
    }
}

fn assert_series(name: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{name} length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{name}[{i}]: got {g}, want NaN");
        } else {
            let tol = 1e-10 * w.abs().max(1.0);
            assert!((g - w).abs() <= tol, "{name}[{i}]: got {g}, want {w}");
        }
    }
}

#[test]
fn ewma_matches_pandas_adjust_true() {
    let p = test_prices();
    assert_series("ewma 4", &ewma(&p, 4.0), &EWMA_4);
    assert_series("ewma 16", &ewma(&p, 16.0), &EWMA_16);
}

#[test]
fn ewm_std_matches_pandas() {
    let p = test_prices();
    let mut diffs = vec![f64::NAN];
    diffs.extend(p.windows(2).map(|w| w[1] - w[0]));
    assert_series("std span 5", &ewm_std(&diffs, 5.0, 3), &STD_5_MIN_3);
    assert_series("vol span 35", &price_change_vol(&p, 35), &VOL_35);
}

#[test]
fn forecast_matches_pandas() {
    assert_series(
        "forecast",
        &forecast(&test_prices(), &params(4, 16)),
        &FORECAST_4_16,
    );
}

#[test]
fn trends_give_forecasts_of_their_sign() {
    // A linear trend with a zig-zag on top (so the volatility is not 0).
    let up: Vec<f64> = (0..300)
        .map(|t| 50.0 + 0.2 * t as f64 + if t % 2 == 0 { 0.5 } else { -0.5 })
        .collect();
    let down: Vec<f64> = up.iter().map(|p| 200.0 - p).collect();
    let f_up = forecast(&up, &params(16, 64));
    let f_down = forecast(&down, &params(16, 64));
    // No volatility before 10 price changes (day 10), a forecast on every day after.
    assert!(f_up[..10].iter().all(|f| f.is_nan()));
    assert!(
        f_up[10..].iter().all(|f| *f > 0.0 && *f <= 20.0),
        "{f_up:?}"
    );
    assert!(f_down[10..].iter().all(|f| *f < 0.0 && *f >= -20.0));
    // Symmetric: the mirrored series has the opposite forecast.
    for (a, b) in f_up[10..].iter().zip(&f_down[10..]) {
        assert!((a + b).abs() < 1e-9 * a.abs().max(1.0));
    }
    // By hand: an EWMA of span N lags a linear trend of slope b by (N - 1) / 2 x b, so
    // EWMA16 - EWMA64 -> (63 - 15) / 2 x 0.2 = 4.8; the price changes alternate 1.2 and
    // -0.8, a standard deviation of about 1. Raw forecast about 4.8, scaled 4.1 x 4.8 =
    // 19.7 (the zig-zag and the bias correction move it by a few percent).
    let last = *f_up.last().expect("days");
    assert!((last - 19.68).abs() < 0.05 * 19.68, "{last}");
    // A larger scalar hits the cap exactly.
    let capped = forecast(
        &up,
        &EwmacParams {
            forecast_scalar: 10.0,
            ..params(16, 64)
        },
    );
    assert_eq!(*capped.last().expect("days"), 20.0);
}

#[test]
fn weights_follow_vol_targeting() {
    let p = test_prices();
    let q: Vec<f64> = p.iter().map(|x| 250.0 - x).collect();
    let prm = params(4, 16);
    let w = target_weights(&[&p, &q], &prm);
    let (fp, fq) = (forecast(&p, &prm), forecast(&q, &prm));
    let (vp, vq) = (price_change_vol(&p, 35), price_change_vol(&q, 35));
    assert_eq!(w.len(), 2 * p.len());
    for day in 0..p.len() {
        let (a, b) = (w[2 * day], w[2 * day + 1]);
        if fp[day].is_nan() {
            assert_eq!((a, b), (0.0, 0.0), "flat before the volatility exists");
            continue;
        }
        // forecast / 10 x 0.2 / 16 x |price| / vol / 2 instruments.
        let want_a = fp[day] / 10.0 * 0.2 / 16.0 * p[day] / vp[day] / 2.0;
        let want_b = fq[day] / 10.0 * 0.2 / 16.0 * q[day] / vq[day] / 2.0;
        assert!((a - want_a).abs() < 1e-12, "day {day}: {a} vs {want_a}");
        assert!((b - want_b).abs() < 1e-12);
        // Opposite trends: opposite positions.
        assert!(a * b <= 0.0);
    }
}

#[test]
fn negative_prices_keep_the_sign_of_the_forecast() {
    // A back-adjusted series that trends up through zero: the weight scales with |price|, so
    // the simulator's position (|w| x equity / |price|, sign of w) stays long.
    let p: Vec<f64> = (0..200)
        .map(|t| -20.0 + 0.2 * t as f64 + if t % 2 == 0 { 0.3 } else { -0.3 })
        .collect();
    let prm = params(8, 32);
    let w = target_weights(&[&p], &prm);
    let vol = price_change_vol(&p, 35);
    for day in 10..p.len() {
        assert!(w[day] >= 0.0, "day {day}: {}", w[day]);
        // Units held per unit of equity: |w| / |price| = f / 10 x 0.2 / 16 / vol, whatever
        // the price level.
        if p[day].abs() > 1e-9 {
            let units = w[day] / p[day].abs();
            let f = forecast(&p, &prm)[day];
            assert!((units - f / 10.0 * 0.2 / 16.0 / vol[day]).abs() < 1e-12);
        }
    }
}

// Generated by tests/fixtures/ewmac_expected.py (pandas 2.2.3, numpy 2.2.6).
const EWMA_4: [f64; 42] = [
    f64::NAN,
    f64::NAN,
    103.92154289263459,
    103.20941586017639,
    101.91503974279836,
    100.83616561789317,
    100.76917260932224,
    101.93612560514781,
    103.76528145696098,
    105.24793961076733,
    105.64733089267462,
    105.03565690437125,
    104.24138908628218,
    104.23042929398419,
    105.38010679165731,
    107.19402685014752,
    108.67590219748497,
    109.08174449882145,
    108.48203880547433,
    107.70826669292443,
    107.7237762647195,
    108.89481579926067,
    110.71333785739353,
    112.18140530679257,
    112.56634681406089,
    111.95519577761728,
    111.18881661798757,
    111.22555573136927,
    112.41598434424434,
    114.23759132607063,
    115.69020644495329,
    116.05290709149477,
    115.4295970109936,
    114.6703736462667,
    114.72819126912302,
    115.9376841429573,
    117.76192189950365,
    119.19874764106636,
    119.53919022949471,
    118.90399947124233,
    118.15226505693886,
    118.23127460647613,
];
const EWMA_16: [f64; 42] = [
    f64::NAN,
    f64::NAN,
    103.92154289263459,
    103.31623491504513,
    102.32266259412879,
    101.49967148705069,
    101.29280059408026,
    101.79574899171833,
    102.72006186728007,
    103.59220572543614,
    104.0524979030808,
    104.06483904283802,
    103.90627214342481,
    103.9528549050051,
    104.41377846336204,
    105.19620757098502,
    105.98801701882101,
    106.4915368714009,
    106.63727016288301,
    106.62550884942505,
    106.77093870440211,
    107.2681267772764,
    108.05085647676587,
    108.84655340110824,
    109.38221276822067,
    109.58723488207838,
    109.64284700317194,
    109.8432697231815,
    110.37410154255112,
    111.17413839167607,
    111.98324437502613,
    112.53904147440484,
    112.77396198315668,
    112.86474271099854,
    113.09792384744537,
    113.65333184916688,
    114.46882680233693,
    115.28789125808837,
    115.8536351609577,
    116.10254928411145,
    116.21186262662216,
    116.46507842525263,
];
const VOL_35: [f64; 42] = [
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    1.8943656679824736,
    1.8204774047954126,
    1.9485372250845399,
    1.9969108977104226,
    1.891544187206045,
    1.8826279286727028,
    1.9508993508866375,
    1.8959448702574715,
    1.8357555813576423,
    1.914769029060611,
    1.9480579064861625,
    1.8688743421996177,
    1.8674887025694666,
    1.929485539084416,
    1.8881016843345824,
    1.836906954604371,
    1.9001362321142297,
    1.9264010734499815,
    1.8583100981053429,
    1.860633757014386,
    1.918251272394585,
    1.8821214337137948,
    1.8364451106559554,
    1.8927475142449437,
    1.9147211386423364,
    1.8523511885329382,
    1.85723703504322,
    1.911866775878024,
    1.8778605000520052,
    1.8359148732421395,
];
const STD_5_MIN_3: [f64; 42] = [
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    0.5816784171083986,
    1.555011390749038,
    2.185220273964867,
    2.027486175474774,
    1.6433810870364824,
    1.9087007428098175,
    2.078839663247248,
    1.72406772361832,
    1.6893091225446173,
    2.0641163705979846,
    1.9469823160244975,
    1.6180203469601278,
    1.8983541767940528,
    2.0768166972551847,
    1.731978456325183,
    1.698298354597534,
    2.061634640926118,
    1.9359633341019966,
    1.6159343054285338,
    1.905032071551856,
    2.0742299512934497,
    1.7257689843781105,
    1.7048533814231446,
    2.064775448597302,
    1.9283921390484628,
    1.6153810289898662,
    1.9126004550876698,
    2.0714120958509112,
    1.7189068606331661,
    1.7114485130284252,
    2.0680402168846364,
    1.9209291833413562,
    1.6152065633981023,
    1.920144739504692,
    2.068369625139292,
    1.712146568491153,
    1.7181960086839163,
];
const FORECAST_4_16: [f64; 42] = [
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    f64::NAN,
    0.7252979131418265,
    0.6251409612755758,
    2.0332925104054596,
    4.101865062661425,
    5.826101926172873,
    5.640971915205528,
    3.876956251580561,
    2.3414748118412287,
    2.1280795967468245,
    3.4831485620004856,
    5.603618672847145,
    7.316111364241381,
    6.990644478856923,
    5.031724506376169,
    3.3570625318190643,
    3.0852801876350076,
    4.405852246513512,
    6.52001143693498,
    8.17869122177034,
    7.742979495968232,
    5.676057026950166,
    3.9333736399737464,
    3.6396930080261765,
    4.948279859861261,
    7.05151764708521,
    8.656301931011859,
    8.136158980186451,
    6.0077124160294595,
    4.2365500334439785,
    3.9443028914670726,
];
