#!/usr/bin/env bash
# Parity check of slurm-sweep's engine against QSTrader 0.3.0 on the same data:
# runs QSTrader's two reference backtests (sixty_forty, momentum_taa) into a temp
# dir, builds bt-worker (release), runs the same two backtests with
# `bt-worker run ... --json`, and compares each pair with compare.py
# (equity curve within 0.1% on every date, Sharpe/CAGR/max drawdown within
# 0.005, strategy and benchmark). Then runs the statistics reproduction test
# (crates/backtest/tests/stats_qstrader_ref.rs) on QSTrader's files:
# QSTrader's own equity curves fed to our statistics must give its
# JSONStatistics to 1e-9 relative.
#
#   scripts/parity/check.sh [--keep]     (--keep: leave the temp dir for inspection)
#
# Environment: SLURM_SWEEP_DATA (default <repo>/../shared/data), PARITY_VENV /
# PARITY_PYTHON (see setup.sh), CARGO_TARGET_DIR (cargo's). Exit status: 0 all
# within tolerance, 1 any mismatch, 2 setup or run error.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export TZ=UTC
DATA="${SLURM_SWEEP_DATA:-$REPO/../shared/data}/qstrader_examples"
KEEP=0
[[ "${1:-}" == "--keep" ]] && KEEP=1

die() { echo "error: $*" >&2; exit 2; }
[[ -d "$DATA" ]] || die "data directory not found: $DATA (set SLURM_SWEEP_DATA)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/parity.XXXXXX")" || die "cannot create a temp dir"
if [[ $KEEP == 0 ]]; then
    trap 'rm -rf "$WORK"' EXIT
else
    echo "keeping $WORK"
fi

VENV="$("$HERE/setup.sh" | tail -n 1)" || die "setup.sh failed"
echo "== QSTrader 0.3.0 reference runs"
"$VENV/bin/python" "$HERE/run_qstrader.py" "$WORK/ref" || die "run_qstrader.py failed"

echo "== building bt-worker (release)"
(cd "$REPO" && cargo build --release -q -p bt-worker) || die "cargo build failed"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="$TARGET/release/bt-worker"
[[ -x "$BIN" ]] || die "no binary at $BIN"

echo "== bt-worker runs"
"$BIN" run --strategy fixed_weights --name sixty_forty \
    --data-dir "$DATA" --symbols SPY,AGG -p w_SPY=0.6 -p w_AGG=0.4 \
    --start 2003-09-30 --end 2020-12-31 --rebalance end_of_month \
    --cash-buffer 0.01 --initial-cash 1000000 --calendar weekdays \
    --benchmark SPY --json "$WORK/ours_sixty_forty.json" || die "bt-worker run sixty_forty failed"
"$BIN" run --strategy momentum_taa --name momentum_taa \
    --data-dir "$DATA" --symbols XLB,XLE,XLF,XLI,XLK,XLP,XLU,XLV,XLY \
    -p lookback=126 -p top_n=3 \
    --start 1998-12-22 --burn-in 1999-12-22 --end 2020-12-31 --rebalance end_of_month \
    --cash-buffer 0.01 --initial-cash 1000000 --calendar weekdays \
    --benchmark SPY --json "$WORK/ours_momentum_taa.json" || die "bt-worker run momentum_taa failed"

status=0
for name in sixty_forty momentum_taa; do
    echo "== compare $name"
    python3 "$HERE/compare.py" --benchmark "$WORK/ref/$name.json" "$WORK/ours_$name.json"
    rc=$?
    if [[ $rc -ge 2 ]]; then
        die "compare.py could not read the $name outputs"
    elif [[ $rc -ne 0 ]]; then
        status=1
    fi
done

echo "== statistics reproduction test (stats_qstrader_ref, QSTRADER_REF_DIR=$WORK/ref)"
STATS_LOG="$WORK/stats_qstrader_ref.log"
(cd "$REPO" && QSTRADER_REF_DIR="$WORK/ref" \
    cargo test -q -p backtest --test stats_qstrader_ref -- --nocapture) 2>&1 | tee "$STATS_LOG"
rc=${PIPESTATUS[0]}
if [[ $rc -ne 0 ]]; then
    echo "statistics reproduction test FAILED (cargo test exit status $rc)" >&2
    status=1
elif grep -q "SKIPPED" "$STATS_LOG"; then
    # QSTRADER_REF_DIR is set above, so a skip means the test did not see it.
    echo "statistics reproduction test was SKIPPED although QSTRADER_REF_DIR is set" >&2
    status=1
elif ! grep -Eq "test result: ok\. [1-9][0-9]* passed" "$STATS_LOG"; then
    echo "statistics reproduction test ran no test" >&2
    status=1
fi

if [[ $status == 0 ]]; then
    echo "PARITY OK: both backtests within tolerance, QSTrader statistics reproduced"
else
    echo "PARITY MISMATCH" >&2
fi
exit $status
