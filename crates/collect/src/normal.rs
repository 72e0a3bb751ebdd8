//! The standard normal distribution to double precision: density, CDF (Taylor series near
//! zero, continued fraction in the tails) and its inverse (Wichura's AS241, relative accuracy
//! about 1e-16). The Deflated Sharpe Ratio needs both to ten digits.

use std::f64::consts::PI;

/// The standard normal density.
pub fn pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// The standard normal CDF, Φ(x).
pub fn cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.abs() <= 3.0 {
        // Φ(x) = 1/2 + φ(x) Σ x^(2n+1) / (1·3·5···(2n+1)); every term has the sign of x.
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        let mut n = 1.0;
        while term.abs() > 1e-17 * sum.abs().max(f64::MIN_POSITIVE) {
            n += 2.0;
            term *= x2 / n;
            sum += term;
        }
        0.5 + pdf(x) * sum
    } else if x > 0.0 {
        1.0 - upper_tail(x)
    } else {
        upper_tail(-x)
    }
}

/// 1 - Φ(x) for x > 3 by the continued fraction φ(x) / (x + 1/(x + 2/(x + 3/(x + ...)))).
fn upper_tail(x: f64) -> f64 {
    if x > 40.0 {
        return 0.0;
    }
    let mut fraction = x;
    for k in (1..=300).rev() {
        fraction = x + f64::from(k) / fraction;
    }
    pdf(x) / fraction
}

/// The inverse of the standard normal CDF, Φ⁻¹(p) (Wichura 1988, algorithm AS241 PPND16).
/// Returns ±∞ at 0 and 1 and NaN outside [0, 1].
// The coefficients are kept exactly as published, beyond f64's precision.
#[allow(clippy::excessive_precision)]
pub fn inv_cdf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 8] = [
        3.387_132_872_796_366_608_0,
        1.331_416_678_917_843_774_5e2,
        1.971_590_950_306_551_442_7e3,
        1.373_169_376_550_946_112_5e4,
        4.592_195_393_154_987_145_7e4,
        6.726_577_092_700_870_085_3e4,
        3.343_057_558_358_812_810_5e4,
        2.509_080_928_730_122_672_7e3,
    ];
    const B: [f64; 8] = [
        1.0,
        4.231_333_070_160_091_125_2e1,
        6.871_870_074_920_579_083_0e2,
        5.394_196_021_424_751_107_7e3,
        2.121_379_430_158_659_586_7e4,
        3.930_789_580_009_271_061_0e4,
        2.872_908_573_572_194_267_4e4,
        5.226_495_278_852_854_561_0e3,
    ];
    const C: [f64; 8] = [
        1.423_437_110_749_683_577_34,
        4.630_337_846_156_545_295_90,
        5.769_497_221_460_691_405_50,
        3.647_848_324_763_204_605_04,
        1.270_458_252_452_368_382_58,
        2.417_807_251_774_506_117_70e-1,
        2.272_384_498_926_918_458_33e-2,
        7.745_450_142_783_414_076_40e-4,
    ];
    const D: [f64; 8] = [
        1.0,
        2.053_191_626_637_758_821_87,
        1.676_384_830_183_803_849_40,
        6.897_673_349_851_000_045_50e-1,
        1.481_039_764_274_800_745_90e-1,
        1.519_866_656_361_645_719_66e-2,
        5.475_938_084_995_344_946_00e-4,
        1.050_750_071_644_416_843_24e-9,
    ];
    const E: [f64; 8] = [
        6.657_904_643_501_103_777_20,
        5.463_784_911_164_114_369_90,
        1.784_826_539_917_291_335_80,
        2.965_605_718_285_048_912_30e-1,
        2.653_218_952_657_612_309_30e-2,
        1.242_660_947_388_078_438_60e-3,
        2.711_555_568_743_487_578_15e-5,
        2.010_334_399_292_288_132_65e-7,
    ];
    const F: [f64; 8] = [
        1.0,
        5.998_322_065_558_879_376_90e-1,
        1.369_298_809_227_358_053_10e-1,
        1.487_536_129_085_061_485_25e-2,
        7.868_691_311_456_132_591_00e-4,
        1.846_318_317_510_054_681_80e-5,
        1.421_511_758_316_445_888_70e-7,
        2.044_263_103_389_939_785_64e-15,
    ];
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * horner(&A, r) / horner(&B, r);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-tail.ln()).sqrt();
    let value = if r <= 5.0 {
        let r = r - 1.6;
        horner(&C, r) / horner(&D, r)
    } else {
        let r = r - 5.0;
        horner(&E, r) / horner(&F, r)
    };
    if q < 0.0 {
        -value
    } else {
        value
    }
}

/// Evaluates c[0] + c[1] x + ... + c[7] x^7.
fn horner(c: &[f64; 8], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from Python's statistics.NormalDist (erf-based cdf, AS241 inv_cdf),
    // printed with repr: independent of this code. Python's erf form loses digits far in the
    // lower tail, so Φ(-8) is the tabulated 6.220960574271785e-16.
    #[test]
    fn cdf_matches_reference_values() {
        let cases = [
            (0.0, 0.5),
            (1.0, 0.8413447460685429),
            (-1.96, 0.024997895148220428),
            (2.5, 0.9937903346742238),
            (-3.5, 0.0002326290790355401),
            (5.0, 0.9999997133484282),
            (-8.0, 6.220960574271785e-16),
        ];
        for (x, want) in cases {
            let got = cdf(x);
            assert!(
                (got - want).abs() <= 1e-15 + 1e-12 * want,
                "cdf({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn inverse_matches_reference_values_and_round_trips() {
        let cases = [
            (0.5, 0.0),
            (0.975, 1.9599639845400536),
            (0.99, 2.3263478740408408),
            (0.01, -2.3263478740408408),
            (1e-10, -6.361340902404056),
        ];
        for (p, want) in cases {
            let got = inv_cdf(p);
            assert!(
                (got - want).abs() < 1e-12,
                "inv_cdf({p}) = {got}, want {want}"
            );
        }
        for k in 1..200 {
            let p = f64::from(k) / 200.0;
            assert!((cdf(inv_cdf(p)) - p).abs() < 1e-14, "{p}");
        }
        assert!(inv_cdf(1.5).is_nan());
        assert_eq!(inv_cdf(0.0), f64::NEG_INFINITY);
    }
}
