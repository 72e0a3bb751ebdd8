//! Overfitting statistics of a sweep: the Deflated Sharpe Ratio (Bailey and López de Prado,
//! 2014) of the best rows, and the Probability of Backtest Overfitting by combinatorially
//! symmetric cross-validation (CSCV; Bailey, Borwein, López de Prado and Zhu, 2017).
//!
//! Units: result files hold *annualised* Sharpe ratios (√252 × the daily ratio, QSTrader's
//! convention). The DSR works on the non-annualised, per-period ratio, so every Sharpe is
//! divided by √252 before it enters these formulas ([`per_period_sharpe`]); the variance
//! across trials is the variance of those per-period ratios.
//!
//! CSCV evaluates C(S, S/2) splits of S blocks, which grows as 4^S / √S: S is checked
//! ([`check_blocks`]) against [`MAX_SPLITS`] before anything is allocated, and the splits
//! are enumerated lazily.

use rayon::prelude::*;
use serde::Serialize;
use sweep_core::result::BlockMoments;

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

/// The most splits CSCV evaluates. The splits are enumerated lazily, but every split keeps
/// its logit (8 bytes) for the report's histogram and costs 2 × S × N additions (N
/// strategies): one million splits is 8 MB, and seconds to minutes of CPU for thousands of
/// strategies. C(22, 11) = 705,432 is within the limit, C(24, 12) = 2,704,156 is not; the
/// papers' S = 16 gives 12,870 splits.
pub const MAX_SPLITS: u64 = backtest::stats::cscv::MAX_SPLITS;

/// Bytes kept per split: its logit.
const BYTES_PER_SPLIT: u64 = std::mem::size_of::<f64>() as u64;

/// Splits handed to the worker threads at a time, so that only this many in-sample halves
/// exist at once, whatever S.
const SPLITS_PER_CHUNK: usize = 4096;

/// Why PBO could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PboError {
    #[error("PBO needs at least 2 strategies with returns, got {0}")]
    TooFewStrategies(usize),
    #[error(
        "--pbo-blocks {0}: CSCV needs at least 2 blocks (an even number; 16 is the usual choice)"
    )]
    TooFewBlocks(usize),
    #[error(
        "--pbo-blocks {0}: the number of CSCV blocks S must be even (every split puts half of \
         the blocks in sample); {hint}",
        hint = even_blocks_hint(*.0)
    )]
    OddBlocks(usize),
    #[error(
        "--pbo-blocks {blocks}: CSCV would evaluate C({blocks}, {}) = {} splits ({} for their \
         logits alone, and time in proportion), more than the limit of {} splits; use a \
         smaller even number of blocks: at most {largest} ({} splits); 16 ({} splits) is the \
         usual choice",
        .blocks / 2,
        count_text(*.splits),
        bytes_text(*.splits),
        thousands(u128::from(*.limit)),
        thousands(central_binomial(*.largest).unwrap_or(0)),
        thousands(central_binomial(16).unwrap_or(0)),
    )]
    TooManySplits {
        blocks: usize,
        /// C(S, S/2); `None` when it exceeds `u128`.
        splits: Option<u128>,
        limit: u64,
        /// The largest even S whose splits are within the limit.
        largest: usize,
    },
    #[error(
        "--pbo-blocks {blocks}: PBO needs at least {blocks} returns per strategy (one per \
         block), the shortest has {got}{}",
        smaller_blocks_hint(*.got)
    )]
    TooFewObservations { blocks: usize, got: usize },
    #[error(
        "the CSCV block moments of strategy {strategy} are not over the same blocks as the \
         first's ({what}): PBO needs every strategy's returns on the same days"
    )]
    UnequalBlocks { strategy: usize, what: String },
}

/// C(s, s/2), the number of CSCV splits of `s` blocks; `None` beyond `u128`. At most about
/// 130 steps whatever `s`: every step at least doubles the value until it overflows.
pub fn central_binomial(s: usize) -> Option<u128> {
    backtest::stats::cscv::central_binomial(s)
}

/// The largest even S whose C(S, S/2) splits are at most `limit` (2 when none is).
pub fn largest_blocks_within(limit: u64) -> usize {
    backtest::stats::cscv::largest_blocks_within(limit)
}

/// Checks a number of CSCV blocks S before anything is read or allocated: even, at least
/// 2, and at most [`MAX_SPLITS`] splits. Returns the number of splits C(S, S/2).
///
/// ```
/// use collect::overfitting::{check_blocks, PboError};
/// assert_eq!(check_blocks(16), Ok(12_870));
/// assert!(matches!(check_blocks(40), Err(PboError::TooManySplits { largest: 22, .. })));
/// ```
pub fn check_blocks(blocks: usize) -> Result<usize, PboError> {
    use backtest::stats::cscv::BlocksProblem;
    // The one check, shared with planning (`[backtest] pbo_blocks`).
    backtest::stats::cscv::check_blocks(blocks).map_err(|p| match p {
        BlocksProblem::TooFew => PboError::TooFewBlocks(blocks),
        BlocksProblem::Odd => PboError::OddBlocks(blocks),
        BlocksProblem::TooManySplits { splits, largest } => PboError::TooManySplits {
            blocks,
            splits,
            limit: MAX_SPLITS,
            largest,
        },
    })
}

/// The CSCV splits of `blocks` blocks, lazily: each is the in-sample half, S/2 block indices
/// in increasing order, and the splits come in lexicographic order. The complement of the
/// j-th split (its out-of-sample half) is the (C - 1 - j)-th. Check `blocks` with
/// [`check_blocks`] first: the iterator yields C(S, S/2) items.
pub fn cscv_splits(blocks: usize) -> impl Iterator<Item = Vec<usize>> {
    use itertools::Itertools;
    (0..blocks).combinations(blocks / 2)
}

/// `n` with a comma every three digits: 137,846,528,820.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let head = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..head].to_string();
    for start in (head..digits.len()).step_by(3) {
        out.push(',');
        out.push_str(&digits[start..start + 3]);
    }
    out
}

fn count_text(splits: Option<u128>) -> String {
    match splits {
        Some(c) => thousands(c),
        None => "more than 3.4e38".into(),
    }
}

fn bytes_text(splits: Option<u128>) -> String {
    match splits
        .and_then(|c| c.checked_mul(u128::from(BYTES_PER_SPLIT)))
        .and_then(|b| u64::try_from(b).ok())
    {
        Some(bytes) => sweep_core::planner::human_bytes(bytes),
        None => "beyond any memory".into(),
    }
}

fn even_blocks_hint(odd: usize) -> String {
    let largest = largest_blocks_within(MAX_SPLITS);
    let below = odd.saturating_sub(1).max(2).min(largest);
    if odd < largest {
        format!("use {below} or {}", odd + 1)
    } else {
        format!("use {below}")
    }
}

fn smaller_blocks_hint(got: usize) -> String {
    let even = got - got % 2;
    if even >= 2 {
        format!("; use an even S of at most {even}")
    } else {
        String::new()
    }
}

/// Probability of Backtest Overfitting by CSCV. `returns[n]` is strategy n's series of
/// per-period returns (the T×N matrix by columns); series are cut to the shortest length,
/// then to a multiple of `blocks`. For every choice of S/2 of the S row blocks as in-sample
/// (the rest out of sample), the strategy with the best in-sample Sharpe (ties: lowest
/// index) is ranked out of sample; ω = rank / (N + 1), λ = ln(ω / (1 - ω)); PBO = the
/// fraction of λ ≤ 0.
///
/// `blocks` is checked by [`check_blocks`] before anything is allocated: C(S, S/2) grows
/// as 4^S / √S, and S = 40 would mean 1.4e11 splits.
pub fn probability_of_backtest_overfitting(
    returns: &[&[f64]],
    blocks: usize,
) -> Result<Pbo, PboError> {
    let splits = check_blocks(blocks)?;
    let n = returns.len();
    if n < 2 {
        return Err(PboError::TooFewStrategies(n));
    }
    let shortest = returns.iter().map(|r| r.len()).min().unwrap_or(0);
    if shortest < blocks {
        return Err(PboError::TooFewObservations {
            blocks,
            got: shortest,
        });
    }
    // The blocks every caller cuts (the worker's stored moments too).
    let block_len = backtest::stats::cscv::block_len(shortest, blocks).unwrap_or(0);
    let t = block_len * blocks;
    // Per block and strategy: count, sum and sum of squares, so each split's Sharpe ratios
    // come from S/2 additions instead of a pass over T rows.
    let mut sums = vec![[0.0f64; 2]; blocks * n];
    for (s, series) in returns.iter().enumerate() {
        for (b, range) in backtest::stats::cscv::block_ranges(t, blocks)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let cell = &mut sums[b * n + s];
            for &x in &series[range] {
                cell[0] += x;
                cell[1] += x * x;
            }
        }
    }
    let counts = vec![block_len as f64; blocks];
    Ok(cscv(&sums, &counts, n, blocks, splits))
}

/// PBO by CSCV from each strategy's block moments (what workers keep with
/// `keep_returns = true`): the same computation as
/// [`probability_of_backtest_overfitting`] on the returns the moments came from, and the
/// same number bit for bit (each split's in-sample and out-of-sample Sharpe ratio from the
/// summed counts, sums and sums of squares, ddof 0; the same ranking and logits). S is the
/// moments' number of blocks; every strategy must have the same count in each block (the
/// same days).
pub fn pbo_from_moments(moments: &[&BlockMoments]) -> Result<Pbo, PboError> {
    let n = moments.len();
    let Some(first) = moments.first() else {
        return Err(PboError::TooFewStrategies(0));
    };
    let blocks = first.count.len();
    let splits = check_blocks(blocks)?;
    if n < 2 {
        return Err(PboError::TooFewStrategies(n));
    }
    for (k, m) in moments.iter().enumerate() {
        let what = if m.count.len() != blocks || m.sum.len() != blocks || m.sum_sq.len() != blocks {
            format!("{} blocks, the first has {blocks}", m.count.len())
        } else if m.count != first.count {
            "other counts of returns per block".to_string()
        } else {
            continue;
        };
        return Err(PboError::UnequalBlocks { strategy: k, what });
    }
    let got = first.count.iter().copied().min().unwrap_or(0) as usize;
    if got == 0 {
        return Err(PboError::TooFewObservations {
            blocks,
            got: first.count.iter().map(|&c| c as usize).sum(),
        });
    }
    let mut sums = vec![[0.0f64; 2]; blocks * n];
    for (s, m) in moments.iter().enumerate() {
        for b in 0..blocks {
            sums[b * n + s] = [m.sum[b], m.sum_sq[b]];
        }
    }
    let counts: Vec<f64> = first.count.iter().map(|&c| f64::from(c)).collect();
    Ok(cscv(&sums, &counts, n, blocks, splits))
}

/// CSCV over `sums[b * n + s]` = (sum, sum of squares) of strategy s's returns in block b,
/// `counts[b]` returns in block b (the same for every strategy), `splits` = C(S, S/2).
fn cscv(sums: &[[f64; 2]], counts: &[f64], n: usize, blocks: usize, splits: usize) -> Pbo {
    let logit_of = |in_sample: &Vec<usize>| {
        let mut is_mask = vec![false; blocks];
        for &b in in_sample {
            is_mask[b] = true;
        }
        let rows_of = |want_in: bool| -> f64 {
            let mut rows = 0.0;
            for (b, &inside) in is_mask.iter().enumerate() {
                if inside == want_in {
                    rows += counts[b];
                }
            }
            rows
        };
        let (rows_in, rows_out) = (rows_of(true), rows_of(false));
        let sharpe_of = |s: usize, want_in: bool| {
            let (mut sum, mut sq) = (0.0, 0.0);
            for (b, &inside) in is_mask.iter().enumerate() {
                if inside == want_in {
                    sum += sums[b * n + s][0];
                    sq += sums[b * n + s][1];
                }
            }
            let rows = if want_in { rows_in } else { rows_out };
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
    };
    // The splits are enumerated lazily, a chunk at a time, and their logits kept in split
    // order (the same order whatever the number of threads).
    let mut logits: Vec<f64> = Vec::with_capacity(splits);
    let mut halves = cscv_splits(blocks);
    loop {
        let chunk: Vec<Vec<usize>> = halves.by_ref().take(SPLITS_PER_CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        logits.par_extend(chunk.par_iter().map(logit_of));
    }
    let overfit = logits.iter().filter(|&&l| l <= 0.0).count();
    Pbo {
        pbo: overfit as f64 / logits.len() as f64,
        blocks,
        splits: logits.len(),
        strategies: n,
        observations: counts.iter().sum::<f64>() as usize,
        logits,
    }
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
            let count = check_blocks(blocks).expect("valid S");
            assert_eq!(splits.len(), count, "S = {blocks}");
            assert_eq!(Some(count as u128), central_binomial(blocks));
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

    #[test]
    fn central_binomials() {
        assert_eq!(central_binomial(2), Some(2));
        assert_eq!(central_binomial(16), Some(12_870));
        assert_eq!(central_binomial(22), Some(705_432));
        assert_eq!(central_binomial(24), Some(2_704_156));
        assert_eq!(central_binomial(40), Some(137_846_528_820));
        assert_eq!(
            central_binomial(100),
            Some(100_891_344_545_564_193_334_812_497_256)
        );
        assert_eq!(central_binomial(usize::MAX - 1), None);
        assert_eq!(largest_blocks_within(MAX_SPLITS), 22);
        assert_eq!(largest_blocks_within(12_870), 16);
        assert_eq!(largest_blocks_within(0), 2);
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_870), "12,870");
    }

    #[test]
    fn blocks_are_checked_before_anything_is_allocated() {
        assert_eq!(check_blocks(0), Err(PboError::TooFewBlocks(0)));
        assert_eq!(check_blocks(1), Err(PboError::TooFewBlocks(1)));
        assert_eq!(check_blocks(7), Err(PboError::OddBlocks(7)));
        assert_eq!(check_blocks(2), Ok(2));
        assert_eq!(check_blocks(22), Ok(705_432));
        let forty = PboError::TooManySplits {
            blocks: 40,
            splits: Some(137_846_528_820),
            limit: MAX_SPLITS,
            largest: 22,
        };
        assert_eq!(check_blocks(40), Err(forty.clone()));
        assert_eq!(
            forty.to_string(),
            "--pbo-blocks 40: CSCV would evaluate C(40, 20) = 137,846,528,820 splits (1.1 TB \
             for their logits alone, and time in proportion), more than the limit of \
             1,000,000 splits; use a smaller even number of blocks: at most 22 (705,432 \
             splits); 16 (12,870 splits) is the usual choice"
        );
        assert!(matches!(
            check_blocks(24),
            Err(PboError::TooManySplits { largest: 22, .. })
        ));
        let huge = check_blocks(usize::MAX - 1).expect_err("huge S");
        assert!(
            huge.to_string().contains("more than 3.4e38 splits"),
            "{huge}"
        );
        assert!(huge.to_string().contains("beyond any memory"), "{huge}");
        assert_eq!(
            PboError::OddBlocks(7).to_string(),
            "--pbo-blocks 7: the number of CSCV blocks S must be even (every split puts half \
             of the blocks in sample); use 6 or 8"
        );
        assert!(PboError::OddBlocks(41).to_string().ends_with("use 22"));
        assert!(PboError::OddBlocks(usize::MAX)
            .to_string()
            .ends_with("use 22"));
        assert!(PboError::TooFewBlocks(0)
            .to_string()
            .contains("at least 2 blocks"));
    }

    #[test]
    fn pbo_with_too_many_blocks_is_refused_at_once() {
        // Before the check, S = 40 enumerated (and stored) 1.4e11 splits.
        let a = [0.001; 400];
        let started = std::time::Instant::now();
        let err = probability_of_backtest_overfitting(&[&a, &a], 40).expect_err("S = 40");
        assert!(matches!(err, PboError::TooManySplits { blocks: 40, .. }));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let short = probability_of_backtest_overfitting(&[&a[..9], &a], 16).expect_err("T < S");
        assert_eq!(
            short.to_string(),
            "--pbo-blocks 16: PBO needs at least 16 returns per strategy (one per block), the \
             shortest has 9; use an even S of at most 8"
        );
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

    /// The moments a worker keeps of each series (the same block function).
    fn moments_of(series: &[Vec<f64>], blocks: usize) -> Vec<BlockMoments> {
        series
            .iter()
            .map(|r| BlockMoments::of(r, blocks).expect("long enough"))
            .collect()
    }

    #[test]
    fn pbo_from_moments_equals_pbo_from_daily_returns_on_noise() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        for (strategies, t, blocks) in [(40, 803, 16), (7, 250, 8), (3, 64, 2), (25, 1001, 10)] {
            let mut m = noise(&mut rng, strategies, t);
            m[1].iter_mut().for_each(|x| *x += 0.001);
            let cols: Vec<&[f64]> = m.iter().map(|c| c.as_slice()).collect();
            let daily = probability_of_backtest_overfitting(&cols, blocks).expect("daily");
            let kept = moments_of(&m, blocks);
            let refs: Vec<&BlockMoments> = kept.iter().collect();
            let from_moments = pbo_from_moments(&refs).expect("moments");
            assert_eq!(
                from_moments.pbo, daily.pbo,
                "N {strategies}, T {t}, S {blocks}"
            );
            assert_eq!(from_moments.logits, daily.logits);
            assert_eq!(from_moments.observations, daily.observations);
            assert_eq!(from_moments.splits, daily.splits);
        }
    }

    #[test]
    fn pbo_from_moments_equals_pbo_from_daily_returns_on_spy() {
        use backtest::{run_backtest, BacktestConfig, DataConfig, DataFormat, MarketData};
        let base = std::env::var_os("SLURM_SWEEP_DATA").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
            std::path::PathBuf::from,
        );
        let dir = base.join("qstrader_examples");
        if !dir.join("SPY.csv").is_file() {
            eprintln!("skipped: no SPY.csv in {}", dir.display());
            return;
        }
        let config = BacktestConfig {
            end: "2025-01-06".parse().ok(),
            commission_bps: 5.0,
            ..BacktestConfig::default()
        };
        let data = DataConfig {
            dir,
            symbols: vec!["SPY".into()],
            format: DataFormat::Yahoo,
        };
        let market = MarketData::load(&data, &config).expect("SPY loads");
        let mut series = Vec::new();
        for fast in [5i64, 10, 20, 40] {
            for slow in [50i64, 100, 150, 200, 250] {
                let params: backtest::Params = [
                    ("fast".to_string(), backtest::ParamValue::Int(fast)),
                    ("slow".to_string(), backtest::ParamValue::Int(slow)),
                ]
                .into_iter()
                .collect();
                let out = run_backtest(&market, "ma_cross", &params, &config).expect("runs");
                series.push(out.equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect());
            }
        }
        for blocks in [16, 10] {
            let cols: Vec<&[f64]> = series.iter().map(|c: &Vec<f64>| c.as_slice()).collect();
            let daily = probability_of_backtest_overfitting(&cols, blocks).expect("daily");
            let kept = moments_of(&series, blocks);
            let refs: Vec<&BlockMoments> = kept.iter().collect();
            let from_moments = pbo_from_moments(&refs).expect("moments");
            assert_eq!(from_moments.pbo, daily.pbo, "S = {blocks}");
            assert_eq!(from_moments.logits, daily.logits, "S = {blocks}");
        }
    }

    /// The issue's measurement: every fast < slow pair of 2..=101 (4,950 combinations) over
    /// SPY (sweeps/ma_cross.toml), PBO from the f64 daily returns against PBO from their
    /// block moments. Slow in a debug build: `cargo test --release -p collect --lib --
    /// --ignored pbo_of_the_4950_ma_cross_sweep --nocapture`.
    #[test]
    #[ignore]
    fn pbo_of_the_4950_ma_cross_sweep() {
        use backtest::{run_backtest, BacktestConfig, DataConfig, DataFormat, MarketData};
        let base = std::env::var_os("SLURM_SWEEP_DATA").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
            std::path::PathBuf::from,
        );
        let config = BacktestConfig {
            start: "1993-01-29".parse().ok(),
            end: "2025-01-06".parse().ok(),
            commission_bps: 5.0,
            ..BacktestConfig::default()
        };
        let data = DataConfig {
            dir: base.join("qstrader_examples"),
            symbols: vec!["SPY".into()],
            format: DataFormat::Yahoo,
        };
        let market = MarketData::load(&data, &config).expect("SPY loads");
        let mut series: Vec<Vec<f64>> = Vec::new();
        for fast in 2i64..=101 {
            for slow in (fast + 1)..=101 {
                let params: backtest::Params = [
                    ("fast".to_string(), backtest::ParamValue::Int(fast)),
                    ("slow".to_string(), backtest::ParamValue::Int(slow)),
                ]
                .into_iter()
                .collect();
                let out = run_backtest(&market, "ma_cross", &params, &config).expect("runs");
                series.push(out.equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect());
            }
        }
        assert_eq!(series.len(), 4_950);
        let cols: Vec<&[f64]> = series.iter().map(|c| c.as_slice()).collect();
        let daily = probability_of_backtest_overfitting(&cols, 16).expect("daily");
        let kept = moments_of(&series, 16);
        let refs: Vec<&BlockMoments> = kept.iter().collect();
        let moments = pbo_from_moments(&refs).expect("moments");
        println!(
            "4,950 ma_cross combinations over SPY, S = 16, T = {}: PBO from daily returns = {}, \
             PBO from block moments = {}",
            daily.observations, daily.pbo, moments.pbo
        );
        assert_eq!(daily.pbo, moments.pbo);
        assert_eq!(daily.logits, moments.logits);
    }

    #[test]
    fn pbo_from_moments_refuses_unequal_blocks() {
        let a = BlockMoments {
            count: vec![2, 2],
            sum: vec![0.1, 0.2],
            sum_sq: vec![0.01, 0.04],
        };
        let mut b = a.clone();
        b.count[1] = 3;
        assert!(matches!(
            pbo_from_moments(&[&a, &b]),
            Err(PboError::UnequalBlocks { strategy: 1, .. })
        ));
        assert_eq!(pbo_from_moments(&[&a]), Err(PboError::TooFewStrategies(1)));
        assert_eq!(pbo_from_moments(&[]), Err(PboError::TooFewStrategies(0)));
        let odd = BlockMoments {
            count: vec![1; 3],
            sum: vec![0.0; 3],
            sum_sq: vec![0.0; 3],
        };
        assert_eq!(pbo_from_moments(&[&odd, &odd]), Err(PboError::OddBlocks(3)));
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

/// Computes N and V[SR] from the running sums of all successful rows (`trials`), the DSR
/// of the `top_k` best ranked rows, and PBO (CSCV with `blocks` blocks) from `pbo`, the
/// rows' daily returns, when PBO was asked for. The Sharpe ratios are the in-sample ones
/// when runs have a split (selection happened in-sample).
///
/// When PBO cannot be computed (runs without returns, fewer returns than blocks, an S that
/// [`check_blocks`] refuses), `pbo` is `None` and `pbo_note` says why; nothing beyond
/// [`MAX_SPLITS`] splits is ever allocated. `collect` checks `--pbo-blocks` with
/// [`check_blocks`] before it reads any file, so that an S it cannot honour is an error
/// (exit 2), not a note.
pub fn summarise(
    table: &crate::table::Table,
    ranking: &crate::ranking::Ranking,
    top_k: usize,
    trials: &crate::stream::Trials,
    pbo: Option<crate::stream::PboReturns>,
    blocks: usize,
) -> Overfitting {
    let k_sharpe = crate::table::metric_index("sharpe").unwrap_or(0);
    let k_skew = crate::table::metric_index("skew").unwrap_or(0);
    let k_kurt = crate::table::metric_index("kurtosis").unwrap_or(0);
    let k_nobs = crate::table::metric_index("n_obs").unwrap_or(0);
    let variance = trials.variance();
    let trials = trials.n;
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
    let (pbo, pbo_note) = match pbo {
        None => (
            None,
            Some(
                "not computed: the runs kept no daily returns (set `keep_returns = true` in the \
                 spec's [backtest], or pass --pbo when they did)"
                    .to_string(),
            ),
        ),
        Some(p) if !p.moments.is_empty() => pbo_of_kept_moments(&p, blocks).unwrap_or((None, None)),
        Some(p) if p.missing > 0 => (
            None,
            Some(format!(
                "not computed: only {} of {} runs kept their daily returns",
                p.series.len(),
                p.series.len() + p.missing
            )),
        ),
        Some(p) => {
            let series: Vec<&[f64]> = p.series.iter().map(Vec::as_slice).collect();
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

/// PBO from the rows' CSCV block moments (`keep_returns = true`), when they kept any:
/// `None` when none did (then daily returns are used, if kept). With moments, S is the one
/// the plan stored (`[backtest] pbo_blocks`); an explicit `--pbo-blocks` other than the
/// default 16 that differs from it is reported, not silently honoured.
pub fn pbo_of_kept_moments(
    pbo: &crate::stream::PboReturns,
    blocks: usize,
) -> Option<(Option<Pbo>, Option<String>)> {
    let moments: Vec<&BlockMoments> = pbo.moments.iter().collect();
    let stored = moments.first()?.blocks();
    if blocks != stored && blocks != backtest::stats::cscv::DEFAULT_BLOCKS {
        return Some((
            None,
            Some(format!(
                "not computed: --pbo-blocks {blocks}: the runs kept CSCV block moments for S = \
                 {stored} ([backtest] pbo_blocks = {stored} in the plan); rerun the sweep with \
                 pbo_blocks = {blocks}, or keep_returns = \"daily\" to choose S in collect"
            )),
        ));
    }
    let without = pbo.series.len() + pbo.missing;
    if without > 0 {
        return Some((
            None,
            Some(format!(
                "not computed: only {} of {} runs kept their CSCV block moments",
                moments.len(),
                moments.len() + without
            )),
        ));
    }
    Some(match pbo_from_moments(&moments) {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(format!("not computed: {e}"))),
    })
}
