#!/usr/bin/env bash
# bench-rules.sh - the rules language next to the built-in strategy it equals, on real
# data, release build; prints figures (a benchmark, not a test):
#
#   1. per backtest: criterion's `ma_cross sma 50/200` (built-in) and `rules ma_cross`
#      (warm task cache, as in a sweep; and cold) on SPY's 8,041 bars;
#   2. end to end: the 4,950-combination MA-cross sweep over SPY (every fast < slow pair
#      of 2..101, 5 bps, 1993-2025) with `sweep run --local`, as the built-in
#      (sweeps/ma_cross.toml) and as rules (sweeps/rules_ma_cross.toml with the same grid),
#      each run three times; the best wall time of each and their ratio.
#
# Environment: SLURM_SWEEP_DATA (default <repo>/../shared/data); BENCH_SKIP_CRITERION=1
# skips part 1.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export SLURM_SWEEP_DATA=${SLURM_SWEEP_DATA:-$(cd "$REPO/.." && pwd)/shared/data}

cargo build --release --quiet --bins
if [[ ${BENCH_SKIP_CRITERION:-0} != 1 ]]; then
    cargo bench -p backtest --bench engine --quiet -- \
        --warm-up-time 1 --measurement-time 3 'ma_cross sma 50/200|rules ma_cross' 2>/dev/null |
        grep -E '^(ma_cross|rules)|time:' || true
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
best() { # best of 3 wall times (seconds) of `sweep run SPEC --local` with the arguments
    local spec=$1
    shift
    local t best=""
    for n in 1 2 3; do
        rm -rf "$work/fs-$n"
        local start=$(date +%s.%N)
        target/release/sweep run "$spec" --local --sharedfs "$work/fs-$n" "$@" >"$work/out" 2>&1
        t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
        if [[ -z $best ]] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
    done
    echo "$best"
}
builtin=$(best sweeps/ma_cross.toml)
rules=$(best sweeps/rules_ma_cross.toml -p 'fast=2..101' -p 'slow=2..101' --combos-per-task 250)
combos=$(grep -o '[0-9]* combinations' "$work/out" | head -1)
printf '4,950-combination MA-cross sweep (%s), sweep run --local, best of 3:\n' "$combos"
printf '  built-in ma_cross: %.3f s\n  rules:             %.3f s\n  ratio:             %.2fx\n' \
    "$builtin" "$rules" "$(awk -v r="$rules" -v b="$builtin" 'BEGIN { print r / b }')"
