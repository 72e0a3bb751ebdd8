#!/usr/bin/env bash
# One-shot: set up the QSTrader venv (quick if already done) and run the
# reference backtests into OUTDIR (default /tmp/qstrader-ref).
#
#   scripts/parity/run.sh [OUTDIR] [run_qstrader.py options, e.g. --only sixty_forty]
#
# Data: $SLURM_SWEEP_DATA/qstrader_examples (default <repo>/../shared/data).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export TZ=UTC
OUTDIR="${1:-/tmp/qstrader-ref}"
[[ $# -gt 0 ]] && shift
VENV="$("$HERE/setup.sh" | tail -n 1)"
exec "$VENV/bin/python" "$HERE/run_qstrader.py" "$OUTDIR" "$@"
