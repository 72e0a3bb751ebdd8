#!/usr/bin/env bash
# Builds the static aarch64 and x86_64 bt-worker (scripts/build-release.sh), runs both on the
# same real data — the aarch64 one under qemu-aarch64-static — and checks that their outputs
# (QSTrader's JSONStatistics and the printed summary) are byte-for-byte identical, for three
# strategies: momentum_taa on the sector ETFs (Yahoo data), ewmac on six futures
# (pysystemtrade data, from the project's sweeps/ewmac.toml) and a long/short ma_cross on
# SPY (where the x86_64 build runs its AVX2 code and the aarch64 one the portable code).
#
#   scripts/aarch64-check.sh            (needs qemu-user-static: installed with apt-get when
#                                        missing and run as root; .ci/run installs it too)
#   SKIP_BUILD=1 scripts/aarch64-check.sh   (reuse dist/bin/*/bt-worker)
#
# Exit: 0 identical, 1 different, 2 cannot run the check.
set -euo pipefail
cd "$(dirname "$0")/.."
data_root="${SLURM_SWEEP_DATA:-$(cd .. && pwd)/shared/data}"
export SLURM_SWEEP_DATA="$data_root"

qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing qemu-user-static (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user-static >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user-static >&2; }
  qemu=$(command -v qemu-aarch64-static || true)
fi
if [ -z "$qemu" ]; then
  echo "error: qemu-aarch64-static not found (apt-get install qemu-user-static)" >&2
  exit 2
fi
"$qemu" --version | head -1

if [ -z "${SKIP_BUILD:-}" ]; then
  BINS="bt-worker" scripts/build-release.sh x86_64 aarch64
fi
for arch in x86_64 aarch64; do
  [ -x "dist/bin/$arch/bt-worker" ] || { echo "error: no dist/bin/$arch/bt-worker" >&2; exit 2; }
done
file dist/bin/*/bt-worker
ls -l dist/bin/*/bt-worker

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# One backtest per case; the same arguments for both architectures.
case_args() {
  case "$1" in
    momentum_taa)
      echo run --strategy momentum_taa --data-dir "$data_root/qstrader_examples" \
        --symbols XLB,XLE,XLF,XLI,XLK,XLP,XLU,XLV,XLY \
        --start 1998-12-22 --burn-in 1999-12-22 --end 2020-12-31 \
        -p lookback=126 -p top_n=3 --benchmark SPY
      ;;
    ewmac)
      echo run --spec sweeps/ewmac.toml -p fast=16 -p slow=64
      ;;
    ma_cross)
      # Long/short SMA on SPY's whole history: the x86_64 build takes its AVX2 paths
      # (signal scan, equity marking, summary), the aarch64 one the portable code.
      echo run --strategy ma_cross --data-dir "$data_root/qstrader_examples" --symbols SPY \
        --calendar trading_days --end 2025-01-06 -p fast=20 -p slow=100 -p long_only=false \
        --split 2010-01-04
      ;;
  esac
}

run() { # <label> <case> <runner...>
  local label=$1 name=$2
  shift 2
  local t0 t1
  t0=$(date +%s%N)
  # shellcheck disable=SC2046 # the case arguments hold no spaces
  "$@" $(case_args "$name") --json "$out/$name.$label.json" >"$out/$name.$label.txt"
  t1=$(date +%s%N)
  printf '%-13s %-8s %7d ms  json sha256 %s\n' "$name" "$label" $(((t1 - t0) / 1000000)) \
    "$(sha256sum "$out/$name.$label.json" | cut -c1-16)"
}

status=0
for name in momentum_taa ewmac ma_cross; do
  run x86_64 "$name" dist/bin/x86_64/bt-worker
  run aarch64 "$name" "$qemu" dist/bin/aarch64/bt-worker
  if cmp -s "$out/$name.x86_64.json" "$out/$name.aarch64.json" &&
    cmp -s "$out/$name.x86_64.txt" "$out/$name.aarch64.txt"; then
    echo "$name: aarch64 (qemu) and x86_64 outputs are identical ($(wc -c <"$out/$name.x86_64.json") bytes of JSON)"
  else
    echo "error: $name: aarch64 and x86_64 outputs differ" >&2
    diff <(tr ',' '\n' <"$out/$name.x86_64.json") <(tr ',' '\n' <"$out/$name.aarch64.json") | head -20 >&2 || true
    diff "$out/$name.x86_64.txt" "$out/$name.aarch64.txt" | head -20 >&2 || true
    status=1
  fi
done
echo "momentum_taa summary (aarch64):"
sed -n '1,20p' "$out/momentum_taa.aarch64.txt"
exit "$status"
