//! A quick timing of the summary path (not a benchmark suite: prints, asserts nothing about
//! speed). Run with `cargo test --release -p backtest --test stats_timing -- --ignored
//! --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use backtest::stats::summary;

#[test]
#[ignore = "timing: run explicitly with --release"]
fn time_summary() {
    for n in [4_500usize, 8_000] {
        let mut equity = vec![1e6f64];
        for t in 1..n {
            let t = t as f64;
            let r = 0.0003 + 0.01 * (0.7 * t).sin() + 0.004 * (0.13 * t * t).cos();
            let last = equity[equity.len() - 1];
            equity.push(last * (1.0 + r));
        }
        // The machine is shared: report the best of many short batches (a batch that ran
        // without being preempted) next to the mean.
        let (batches, per_batch) = (2_000, 5);
        let mut acc = 0.0;
        let mut best = f64::INFINITY;
        let all = Instant::now();
        for _ in 0..batches {
            let start = Instant::now();
            for _ in 0..per_batch {
                acc += black_box(summary(black_box(&equity))).sharpe;
            }
            best = best.min(start.elapsed().as_secs_f64() / per_batch as f64);
        }
        let mean = all.elapsed().as_secs_f64() / (batches * per_batch) as f64;
        println!(
            "summary on {n} points: best {:.2} µs, mean {:.2} µs per call (checksum {acc:.3})",
            best * 1e6,
            mean * 1e6
        );
        assert!(acc.is_finite());
    }
}
