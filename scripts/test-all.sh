#!/usr/bin/env bash
# test-all.sh - every test of slurm-sweep in one command: unit and CLI tests, the
# end-to-end tests on a real local SLURM cluster, the QSTrader parity check and the
# aarch64 check.
#
# Run `scripts/test-all.sh --help` for the flags. As root on a fresh Debian machine it
# installs the SLURM packages (through scripts/local-cluster.sh) and starts a three-node
# cluster in a scratch directory (never /etc); the cluster is brought down on exit unless
# it was already running before.

set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/test-all.sh [--no-slurm | --quick]

  (no flag)    bring up the local SLURM cluster (scripts/local-cluster.sh up), install
               QSTrader 0.3.0's venv (scripts/parity/setup.sh, once) with pyarrow
               (for tests/parquet.rs), run
               SLURM_SWEEP_E2E=1 cargo test for the whole workspace (the end-to-end
               package with --nocapture, one test at a time), then
               scripts/parity/check.sh and scripts/aarch64-check.sh; bring the
               cluster down on exit
  --no-slurm   everything but the cluster: the end-to-end tests print SKIPPED
  --quick      only the venv and cargo test --workspace (no cluster, no parity, no
               aarch64)

Environment:
  SLURM_SWEEP_DATA   the real data (default: <repo>/../shared/data)
  PARITY_VENV        the QSTrader venv (default: the one on tests/qstrader.rs's shared
                     filesystem, ${TMPDIR:-/tmp}/slurm-sweep-e2e/sharedfs/venvs/qstrader)
  CARGO_TARGET_DIR   cargo's, as usual

Every step runs even when an earlier one failed; the summary at the end lists them.
Exit status 0 when every step passed, 1 otherwise, 2 on a usage or setup error.
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

log() { printf '\n[test-all] %s\n' "$*" >&2; }
die() {
    printf '[test-all] error: %s\n' "$*" >&2
    exit 2
}

use_slurm=1
extras=1
for arg in "$@"; do
    case $arg in
    --no-slurm) use_slurm=0 ;;
    --quick)
        use_slurm=0
        extras=0
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
done

export SLURM_SWEEP_DATA=${SLURM_SWEEP_DATA:-$(cd "$REPO/.." && pwd)/shared/data}
# One QSTrader 0.3.0 venv for all of its users, on the shared filesystem of the end-to-end
# test tests/qstrader.rs: installed by the first step below (scripts/parity/setup.sh; about
# a minute the first time, 0.5 s when up to date), then found by that test, by the README's
# QSTrader example in the examples tests, and by the parity check.
export PARITY_VENV=${PARITY_VENV:-${TMPDIR:-/tmp}/slurm-sweep-e2e/sharedfs/venvs/qstrader}
[[ -d $SLURM_SWEEP_DATA ]] || die "data directory not found: $SLURM_SWEEP_DATA (set SLURM_SWEEP_DATA)"
log "data: $SLURM_SWEEP_DATA"

if [[ $use_slurm == 1 ]]; then
    if scripts/local-cluster.sh status >/dev/null 2>&1; then
        log "the local SLURM cluster is already running; it stays up afterwards"
    else
        trap 'log "bringing the local SLURM cluster down"; scripts/local-cluster.sh down || true' EXIT
        # Interrupted: exit, which runs the EXIT trap.
        trap 'exit 130' INT
        trap 'exit 143' TERM
    fi
    log "bringing up the local SLURM cluster"
    cluster_env=$(scripts/local-cluster.sh up) || die "scripts/local-cluster.sh up failed"
    eval "$cluster_env"
    export SLURM_CONF
    export SLURM_SWEEP_E2E=1
else
    unset SLURM_SWEEP_E2E
    log "without the SLURM cluster: the end-to-end tests print SKIPPED"
fi

failed=()
passed=()
# step NAME COMMAND...: runs it, records the outcome, never stops the script.
step() {
    local name=$1 start=$SECONDS status=0
    shift
    log "step: $name: $*"
    "$@" || status=$?
    if [[ $status == 0 ]]; then
        passed+=("$name ($((SECONDS - start)) s)")
    else
        failed+=("$name (exit $status, $((SECONDS - start)) s)")
    fi
}

# First, so that every test that runs QSTrader finds it: the README's QSTrader sweep (run by
# the examples tests), tests/qstrader.rs and the parity check.
step "QSTrader 0.3.0 venv" scripts/parity/setup.sh
# pyarrow, the independent reader of collect's report/results.parquet (tests/parquet.rs),
# into the same venv (its own pin, so the QSTrader requirements stay QSTrader's).
install_pyarrow() {
    "$PARITY_VENV/bin/python" -c 'import pyarrow.parquet' 2>/dev/null ||
        "$PARITY_VENV/bin/python" -m pip install --disable-pip-version-check -q "pyarrow==$PYARROW_VERSION"
}
PYARROW_VERSION=26.0.1
step "pyarrow in the venv" install_pyarrow
step "cargo test (workspace)" cargo test --workspace --exclude e2e
step "cargo test (end-to-end)" cargo test -p e2e -- --nocapture --test-threads=1

if [[ $extras == 1 ]]; then
    if [[ -x scripts/parity/check.sh ]]; then
        step "QSTrader parity" scripts/parity/check.sh
    else
        failed+=("QSTrader parity (scripts/parity/check.sh is missing or not executable)")
    fi
    if [[ -x scripts/aarch64-check.sh ]]; then
        step "aarch64 check" scripts/aarch64-check.sh
    else
        failed+=("aarch64 check (scripts/aarch64-check.sh is missing or not executable)")
    fi
fi

log "summary"
for s in "${passed[@]}"; do
    printf '  passed: %s\n' "$s" >&2
done
for s in "${failed[@]}"; do
    printf '  FAILED: %s\n' "$s" >&2
done
[[ ${#failed[@]} == 0 ]]
