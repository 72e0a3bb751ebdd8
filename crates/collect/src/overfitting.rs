//! Overfitting statistics of a sweep: the Deflated Sharpe Ratio (Bailey and López de Prado,
//! 2014) of the best rows, and the Probability of Backtest Overfitting by combinatorially
//! symmetric cross-validation (CSCV; Bailey, Borwein, López de Prado and Zhu, 2017).
//!
//! Units: result files hold *annualised* Sharpe ratios (√252 × the daily ratio, QSTrader's
//! convention). The DSR works on the non-annualised, per-period ratio, so every Sharpe is
//! divided by √252 before it enters these formulas ([`per_period_sharpe`]); the variance
//! across trials is the variance of those per-period ratios.

use rayon::prelude::*;
use serde::Serialize;

use crate::normal;

/// Periods per year of the daily Sharpe ratios in result files.
pub const PERIODS_PER_YEAR: f64 = 252.0;

/// The Euler–Mascheroni constant γ.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Converts an annualised Sharpe ratio (√252 × daily) to the per-period (daily) ratio.
pub fn per_period_sharpe(annualised: f64) -> f64 {
    annualised / PERIODS_PER_YEAR.sqrt()
}

/// The expected maximum of `n` independent standard normals, approximated as
/// (1-γ) Φ⁻¹(1 - 1/n) + γ Φ⁻¹(1 - 1/(n e)). Zero for `n <= 1`.
pub fn expected_max_of_normals(n: f64) -> f64 {
    if n <= 1.0 {
        return 0.0;
    }
    (1.0 - EULER_GAMMA) * normal::inv_cdf(1.0 - 1.0 / n)
        + EULER_GAMMA * normal::inv_cdf(1.0 - 1.0 / (n * std::f64::consts::E))
}

/// The inputs of one Deflated Sharpe Ratio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DsrInput {
    /// The per-period (non-annualised) Sharpe ratio of the selected strategy.
    pub sharpe: f64,
    /// The variance of the per-period Sharpe ratios across all trials.
    pub variance_across_trials: f64,
    /// The number of independent trials N.
    pub trials: f64,
    /// The number of returns T the Sharpe ratio was estimated on.
    pub n_obs: f64,
    pub skew: f64,
    /// Pearson's kurtosis (3 for a normal).
    pub kurtosis: f64,
}

/// The benchmark Sharpe ratio SR₀ = √V[SR] × E[max of N standard normals].
pub fn expected_max_sharpe(variance_across_trials: f64, trials: f64) -> f64 {
    variance_across_trials.max(0.0).sqrt() * expected_max_of_normals(trials)
}

/// The Deflated Sharpe Ratio: the probability that the true Sharpe ratio exceeds SR₀,
/// Φ((SR - SR₀) √(T-1) / √(1 - skew·SR + (kurtosis-1)/4 · SR²)). NaN when undefined.
pub fn deflated_sharpe(input: &DsrInput) -> f64 {
    let sr0 = expected_max_sharpe(input.variance_across_trials, input.trials);
    probabilistic_sharpe(input, sr0)
}

/// The Probabilistic Sharpe Ratio of `input.sharpe` against the benchmark `sr0`.
pub fn probabilistic_sharpe(input: &DsrInput, sr0: f64) -> f64 {
    let sr = input.sharpe;
    let denominator = 1.0 - input.skew * sr + (input.kurtosis - 1.0) / 4.0 * sr * sr;
    if input.n_obs < 2.0 || denominator <= 0.0 || !denominator.is_finite() {
        return f64::NAN;
    }
    normal::cdf((sr - sr0) * (input.n_obs - 1.0).sqrt() / denominator.sqrt())
}

/// Sample variance (ddof = 1) of the finite values; NaN with fewer than two.
pub fn sample_variance(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
    for x in values.into_iter().filter(|x| x.is_finite()) {
        n += 1.0;
        let delta = x - mean;
        mean += delta / n;
        m2 += delta * (x - mean);
    }
    if n < 2.0 {
        f64::NAN
    } else {
        m2 / (n - 1.0)
    }
}

/// The result of CSCV.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pbo {
    /// Fraction of splits whose in-sample best ranks in the bottom half out of sample.
    pub pbo: f64,
    /// Number of blocks S.
    pub blocks: usize,
    /// Number of splits C(S, S/2).
    pub splits: usize,
    /// Number of strategies N.
    pub strategies: usize,
    /// Number of returns T used (the shortest series, cut to a multiple of S).
    pub observations: usize,
    /// The logit of each split's out-of-sample relative rank.
    #[serde(skip)]
    pub logits: Vec<f64>,
}

/// Why PBO could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PboError {
    #[error("PBO needs at least 2 strategies with returns, got {0}")]
    TooFewStrategies(usize),
    #[error("the number of blocks S must be even and at least 2, got {0}")]
    OddBlocks(usize),
    #[error(
        "PBO needs at least {blocks} returns per strategy (one per block), the shortest has {got}"
    )]
    TooFewObservations { blocks: usize, got: usize },
}

/// Probability of Backtest Overfitting by CSCV. `returns[n]` is strategy n's series of
/// per-period returns (the T×N matrix by columns); series are cut to the shortest length,
/// then to a multiple of `blocks`. For every choice of S/2 of the S row blocks as in-sample
/// (the rest out of sample), the strategy with the best in-sample Sharpe (ties: lowest
/// index) is ranked out of sample; ω = rank / (N + 1), λ = ln(ω / (1 - ω)); PBO = the
/// fraction of λ ≤ 0.
pub fn probability_of_backtest_overfitting(
    returns: &[&[f64]],
    blocks: usize,
) -> Result<Pbo, PboError> {
    let n = returns.len();
    if n < 2 {
        return Err(PboError::TooFewStrategies(n));
    }
    if blocks < 2 || blocks & 1 == 1 {
        return Err(PboError::OddBlocks(blocks));
    }
    let shortest = returns.iter().map(|r| r.len()).min().unwrap_or(0);
    if shortest < blocks {
        return Err(PboError::TooFewObservations {
            blocks,
            got: shortest,
        });
    }
    let block_len = shortest / blocks;
    let t = block_len * blocks;
    // Per block and strategy: count, sum and sum of squares, so each split's Sharpe ratios
    // come from S/2 additions instead of a pass over T rows.
    let mut sums = vec![[0.0f64; 2]; blocks * n];
    for (s, series) in returns.iter().enumerate() {
        for (b, chunk) in series[..t].chunks(block_len).enumerate() {
            let cell = &mut sums[b * n + s];
            for &x in chunk {
                cell[0] += x;
                cell[1] += x * x;
            }
        }
    }
    let splits: Vec<Vec<usize>> = cscv_splits(blocks).collect();
    let logits: Vec<f64> = splits
        .par_iter()
        .map(|in_sample| {
            let mut is_mask = vec![false; blocks];
            for &b in in_sample {
                is_mask[b] = true;
            }
            let rows = (block_len * blocks / 2) as f64;
            let sharpe_of = |s: usize, want_in: bool| {
                let (mut sum, mut sq) = (0.0, 0.0);
                for (b, &inside) in is_mask.iter().enumerate() {
                    if inside == want_in {
                        sum += sums[b * n + s][0];
                        sq += sums[b * n + s][1];
                    }
                }
                let mean = sum / rows;
                let var = (sq / rows - mean * mean).max(0.0);
                if var > 0.0 {
                    mean / var.sqrt()
                } else {
                    0.0
                }
            };
            let mut best = 0;
            let mut best_sr = f64::NEG_INFINITY;
            for s in 0..n {
                let sr = sharpe_of(s, true);
                if sr > best_sr {
                    best_sr = sr;
                    best = s;
                }
            }
            let oos: Vec<f64> = (0..n).map(|s| sharpe_of(s, false)).collect();
            let chosen = oos[best];
            let below = oos.iter().filter(|&&x| x < chosen).count() as f64;
            let ties = oos.iter().filter(|&&x| x == chosen).count() as f64;
            // Rank 1 = worst; ties share their average rank.
            let rank = below + (ties + 1.0) / 2.0;
            let omega = rank / (n as f64 + 1.0);
            (omega / (1.0 - omega)).ln()
        })
        .collect();
    let overfit = logits.iter().filter(|&&l| l <= 0.0).count();
    Ok(Pbo {
        pbo: overfit as f64 / logits.len() as f64,
        blocks,
        splits: logits.len(),
        strategies: n,
        observations: t,
        logits,
    })
}

/// The CSCV splits of `blocks` blocks, lazily: each is the in-sample half, S/2 block indices
/// in increasing order, and the splits come in lexicographic order.
pub fn cscv_splits(blocks: usize) -> impl Iterator<Item = Vec<usize>> {
    use itertools::Itertools;
    (0..blocks).combinations(blocks / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    // Test vectors of the paper's public implementation (Bailey & López de Prado).
    #[test]
    fn expected_maximum_of_100_normals() {
        let got = expected_max_of_normals(100.0);
        assert!((got - 2.530_602_893_2).abs() < 1e-9, "{got}");
    }

    #[test]
    fn deflated_sharpe_paper_example() {
        let input = DsrInput {
            sharpe: 2.5 / 250f64.sqrt(),
            variance_across_trials: 0.5 / 250.0,
            trials: 100.0,
            n_obs: 1250.0,
            skew: -3.0,
            kurtosis: 10.0,
        };
        let got = deflated_sharpe(&input);
        assert!((got - 0.900_396_834_4).abs() < 1e-9, "{got}");
    }

    #[test]
    fn annualised_sharpe_converts_to_daily() {
        assert!((per_period_sharpe(252f64.sqrt()) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn variance_is_unbiased() {
        // 1, 2, 3, 4: mean 2.5, squared deviations sum 5, / 3.
        assert!((sample_variance([1.0, 2.0, 3.0, 4.0, f64::NAN]) - 5.0 / 3.0).abs() < 1e-15);
        assert!(sample_variance([1.0]).is_nan());
    }

    #[test]
    fn splits_count_is_binomial() {
        assert_eq!(cscv_splits(16).count(), 12_870);
        let four: Vec<Vec<usize>> = cscv_splits(4).collect();
        assert_eq!(four.len(), 6);
        assert_eq!(four[0], vec![0, 1]);
        assert_eq!(four[5], vec![2, 3]);
    }

    #[test]
    fn each_split_and_its_complement_appear_once() {
        for blocks in (2..=16).step_by(2) {
            let splits: Vec<Vec<usize>> = cscv_splits(blocks).collect();
            let count = splits.len();
            // C(S, S/2).
            let binomial = (1..=blocks / 2).fold(1usize, |c, i| c * (blocks / 2 + i) / i);
            assert_eq!(count, binomial, "S = {blocks}");
            // Lexicographic order, each a strictly increasing half of 0..S.
            assert!(splits.windows(2).all(|w| w[0] < w[1]), "S = {blocks}");
            for (j, half) in splits.iter().enumerate() {
                assert_eq!(half.len(), blocks / 2);
                assert!(half.windows(2).all(|w| w[0] < w[1]));
                assert!(half.iter().all(|&b| b < blocks));
                // The out-of-sample half is a split too: the (C - 1 - j)-th.
                let complement: Vec<usize> = (0..blocks).filter(|b| !half.contains(b)).collect();
                assert_eq!(splits[count - 1 - j], complement, "S = {blocks}, split {j}");
            }
        }
    }

    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        // Box–Muller.
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    fn noise(rng: &mut ChaCha8Rng, strategies: usize, t: usize) -> Vec<Vec<f64>> {
        (0..strategies)
            .map(|_| (0..t).map(|_| 0.01 * gaussian(rng)).collect())
            .collect()
    }

    #[test]
    fn pure_noise_overfits_half_the_time() {
        // Averaged over several seeded noise matrices: PBO of noise is 1/2 in expectation.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut total = 0.0;
        let rounds = 6;
        for _ in 0..rounds {
            let m = noise(&mut rng, 40, 800);
            let cols: Vec<&[f64]> = m.iter().map(|c| c.as_slice()).collect();
            let pbo = probability_of_backtest_overfitting(&cols, 16).expect("pbo");
            assert_eq!(pbo.splits, 12_870);
            total += pbo.pbo;
        }
        let mean = total / f64::from(rounds);
        assert!((mean - 0.5).abs() < 0.12, "mean PBO of noise = {mean}");
    }

    #[test]
    fn a_real_edge_is_not_overfit() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut m = noise(&mut rng, 40, 800);
        // Strategy 13 earns 0.2% a day on 1% volatility: a daily Sharpe of 0.2.
        for x in &mut m[13] {
            *x += 0.002;
        }
        let cols: Vec<&[f64]> = m.iter().map(|c| c.as_slice()).collect();
        let pbo = probability_of_backtest_overfitting(&cols, 16).expect("pbo");
        assert!(pbo.pbo < 0.05, "PBO with a real edge = {}", pbo.pbo);
    }

    #[test]
    fn pbo_refuses_bad_inputs() {
        let a = [0.0; 10];
        assert_eq!(
            probability_of_backtest_overfitting(&[&a], 4),
            Err(PboError::TooFewStrategies(1))
        );
        assert_eq!(
            probability_of_backtest_overfitting(&[&a, &a], 3),
            Err(PboError::OddBlocks(3))
        );
        assert!(matches!(
            probability_of_backtest_overfitting(&[&a, &a[..2]], 4),
            Err(PboError::TooFewObservations { .. })
        ));
    }
}

/// The Deflated Sharpe Ratio of one ranked row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowDsr {
    pub rank: usize,
    pub name: String,
    /// The annualised Sharpe ratio as stored.
    pub sharpe_annualised: f64,
    /// The per-period (daily) Sharpe ratio the DSR uses.
    pub sharpe_daily: f64,
    pub skew: f64,
    pub kurtosis: f64,
    pub n_obs: f64,
    pub dsr: f64,
}

/// The overfitting figures of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overfitting {
    /// Number of trials N: every successful combination (before any `--where` filter).
    pub trials: usize,
    /// Variance of the per-period Sharpe ratios across trials (ddof 1).
    pub sharpe_variance_daily: f64,
    /// The same in annualised units (× 252), for reading.
    pub sharpe_variance_annualised: f64,
    /// E[max SR] under the null of no skill: √V × E[max of N standard normals] (daily).
    pub expected_max_sharpe_daily: f64,
    pub top: Vec<RowDsr>,
    /// PBO by CSCV, when returns were kept.
    pub pbo: Option<Pbo>,
    /// Why PBO is absent.
    pub pbo_note: Option<String>,
    /// Whether in-sample metrics were used (the plan has a split).
    pub in_sample: bool,
}

/// Computes N, V[SR], the DSR of the `top_k` best ranked rows, and PBO (CSCV with `blocks`
/// blocks) when `with_pbo` and the rows kept their returns. The Sharpe ratios are the
/// in-sample ones when runs have a split (selection happened in-sample).
pub fn summarise(
    table: &crate::table::Table,
    ranking: &crate::ranking::Ranking,
    top_k: usize,
    with_pbo: bool,
    blocks: usize,
) -> Overfitting {
    let k_sharpe = crate::table::metric_index("sharpe").unwrap_or(0);
    let k_skew = crate::table::metric_index("skew").unwrap_or(0);
    let k_kurt = crate::table::metric_index("kurtosis").unwrap_or(0);
    let k_nobs = crate::table::metric_index("n_obs").unwrap_or(0);
    let daily: Vec<f64> = table
        .rows
        .iter()
        .map(|r| per_period_sharpe(r.ranking_metrics()[k_sharpe]))
        .filter(|x| x.is_finite())
        .collect();
    let trials = daily.len();
    let variance = sample_variance(daily.iter().copied());
    let sr0 = expected_max_sharpe(variance, trials as f64);
    let top = ranking
        .order
        .iter()
        .take(top_k)
        .enumerate()
        .map(|(n, &i)| {
            let row = &table.rows[i];
            let m = row.ranking_metrics();
            let input = DsrInput {
                sharpe: per_period_sharpe(m[k_sharpe]),
                variance_across_trials: variance,
                trials: trials as f64,
                n_obs: m[k_nobs],
                skew: m[k_skew],
                kurtosis: m[k_kurt],
            };
            RowDsr {
                rank: n + 1,
                name: table.row_name(row),
                sharpe_annualised: m[k_sharpe],
                sharpe_daily: input.sharpe,
                skew: input.skew,
                kurtosis: input.kurtosis,
                n_obs: input.n_obs,
                dsr: if variance.is_finite() {
                    probabilistic_sharpe(&input, sr0)
                } else {
                    f64::NAN
                },
            }
        })
        .collect();
    let (pbo, pbo_note) = if !with_pbo {
        (
            None,
            Some(
                "not computed: the runs kept no daily returns (set `keep_returns = true` in the \
                 spec's [backtest], or pass --pbo when they did)"
                    .to_string(),
            ),
        )
    } else {
        let series: Vec<&[f64]> = table
            .rows
            .iter()
            .filter_map(|r| r.returns.as_deref())
            .collect();
        if series.len() < table.rows.len() {
            (
                None,
                Some(format!(
                    "not computed: only {} of {} runs kept their daily returns",
                    series.len(),
                    table.rows.len()
                )),
            )
        } else {
            match probability_of_backtest_overfitting(&series, blocks) {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(format!("not computed: {e}"))),
            }
        }
    };
    Overfitting {
        trials,
        sharpe_variance_daily: variance,
        sharpe_variance_annualised: variance * PERIODS_PER_YEAR,
        expected_max_sharpe_daily: sr0,
        top,
        pbo,
        pbo_note,
        in_sample: table.has_split(),
    }
}
