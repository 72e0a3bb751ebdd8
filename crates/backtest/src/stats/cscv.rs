//! The CSCV (combinatorially symmetric cross-validation) blocks of a series of returns: the
//! one definition of where the S blocks of the Probability of Backtest Overfitting start
//! and end, used by the worker (which stores each block's moments) and by `collect` (which
//! cuts kept daily returns), and the check of S that planning and `collect` share.
//!
//! A series of T returns is cut into S equal blocks of ⌊T / S⌋ returns: block b holds
//! returns `b·len .. (b+1)·len`; the last T mod S returns are left out.

use std::ops::Range;

/// The most CSCV splits C(S, S/2) allowed: C(22, 11) = 705,432 is within, C(24, 12) is not.
pub const MAX_SPLITS: u64 = 1_000_000;

/// The usual number of blocks (the papers' S = 16: 12,870 splits).
pub const DEFAULT_BLOCKS: usize = 16;

/// Why a number of blocks S cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlocksProblem {
    /// S < 2.
    TooFew,
    /// S is odd.
    Odd,
    /// C(S, S/2) exceeds [`MAX_SPLITS`] (`None`: beyond `u128`); `largest` is the largest
    /// even S within the limit.
    TooManySplits {
        splits: Option<u128>,
        largest: usize,
    },
}

/// C(s, s/2), the number of CSCV splits of `s` blocks; `None` beyond `u128`.
pub fn central_binomial(s: usize) -> Option<u128> {
    let k = (s / 2) as u128;
    let n = s as u128;
    let mut c: u128 = 1;
    // c = C(n - k + i, i) after step i.
    for i in 1..=k {
        c = c.checked_mul(n - k + i)? / i;
    }
    Some(c)
}

/// The largest even S whose C(S, S/2) splits are at most `limit` (2 when none is).
pub fn largest_blocks_within(limit: u64) -> usize {
    let mut s = 2;
    while central_binomial(s + 2).is_some_and(|c| c <= u128::from(limit)) {
        s += 2;
    }
    s
}

/// Checks S: even, at least 2, at most [`MAX_SPLITS`] splits. Returns C(S, S/2).
///
/// ```
/// use backtest::stats::cscv::{check_blocks, BlocksProblem};
/// assert_eq!(check_blocks(16), Ok(12_870));
/// assert_eq!(check_blocks(7), Err(BlocksProblem::Odd));
/// ```
pub fn check_blocks(blocks: usize) -> Result<usize, BlocksProblem> {
    if blocks < 2 {
        return Err(BlocksProblem::TooFew);
    }
    if blocks % 2 == 1 {
        return Err(BlocksProblem::Odd);
    }
    let splits = central_binomial(blocks);
    let too_many = BlocksProblem::TooManySplits {
        splits,
        largest: largest_blocks_within(MAX_SPLITS),
    };
    match splits.filter(|&c| c <= u128::from(MAX_SPLITS)) {
        Some(c) => usize::try_from(c).map_err(|_| too_many),
        None => Err(too_many),
    }
}

/// The length of each of the `blocks` blocks of a series of `t` returns (⌊t / S⌋), `None`
/// when the series is shorter than S (or S is 0).
pub fn block_len(t: usize, blocks: usize) -> Option<usize> {
    if blocks == 0 || t < blocks {
        None
    } else {
        Some(t / blocks)
    }
}

/// The index ranges of the `blocks` blocks of a series of `t` returns (see the module
/// documentation); `None` when the series is shorter than S.
///
/// ```
/// use backtest::stats::cscv::block_ranges;
/// assert_eq!(block_ranges(10, 4), Some(vec![0..2, 2..4, 4..6, 6..8]));
/// assert_eq!(block_ranges(3, 4), None);
/// ```
pub fn block_ranges(t: usize, blocks: usize) -> Option<Vec<Range<usize>>> {
    let len = block_len(t, blocks)?;
    Some((0..blocks).map(|b| b * len..(b + 1) * len).collect())
}

/// Per block of `returns` (see [`block_ranges`]): the count, the sum and the sum of
/// squares, each summed in series order (so sums of blocks equal what a pass over the
/// returns gives, bit for bit). `None` when the series is shorter than S.
pub fn block_moments(returns: &[f64], blocks: usize) -> Option<(Vec<u32>, Vec<f64>, Vec<f64>)> {
    let ranges = block_ranges(returns.len(), blocks)?;
    let mut count = Vec::with_capacity(blocks);
    let mut sum = Vec::with_capacity(blocks);
    let mut sum_sq = Vec::with_capacity(blocks);
    for r in ranges {
        let n = u32::try_from(r.len()).ok()?;
        let (mut s, mut q) = (0.0f64, 0.0f64);
        for &x in &returns[r] {
            s += x;
            q += x * x;
        }
        count.push(n);
        sum.push(s);
        sum_sq.push(q);
    }
    Some((count, sum, sum_sq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_equal_and_the_tail_is_left_out() {
        assert_eq!(block_len(8_000, 16), Some(500));
        assert_eq!(block_len(8_015, 16), Some(500));
        assert_eq!(block_len(15, 16), None);
        let r = block_ranges(35, 4).expect("ranges");
        assert_eq!(r, vec![0..8, 8..16, 16..24, 24..32]);
        let (c, s, q) = block_moments(&[1.0, 2.0, 3.0, 4.0, 5.0], 2).expect("moments");
        assert_eq!(c, vec![2, 2]);
        assert_eq!(s, vec![3.0, 7.0]);
        assert_eq!(q, vec![5.0, 25.0]);
    }

    #[test]
    fn checks_blocks() {
        assert_eq!(check_blocks(0), Err(BlocksProblem::TooFew));
        assert_eq!(check_blocks(3), Err(BlocksProblem::Odd));
        assert_eq!(check_blocks(22), Ok(705_432));
        assert!(matches!(
            check_blocks(24),
            Err(BlocksProblem::TooManySplits { largest: 22, .. })
        ));
    }
}
