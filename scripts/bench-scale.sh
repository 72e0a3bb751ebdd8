#!/usr/bin/env bash
# Measures slurm-sweep at scale (issue #14's "Done means"), on this machine, with
# ma_cross grids over SPY (sweeps/ma_cross.toml, real data from $SLURM_SWEEP_DATA):
#
#   for each size: `sweep plan` time and peak memory; `sweep run --local` wall time with the
#   first and the last task's start-up times side by side (the worker's "started in" log
#   line: process start to its combinations read) and their whole times; bytes on disk per
#   combination (results/ + report/ after collect); `collect` time and peak memory;
#   then the 4,950-combination sweep (sweeps/ma_cross.toml as it is) run by the static musl
#   `sweep`/`bt-worker` (dist/bin/x86_64, scripts/build-release.sh) next to the glibc
#   release build, CPU (user+sys) and wall, in one run.
#
#   scripts/bench-scale.sh [1e5] [1e6] [1e7] [musl]    (default: 1e5 1e6 musl)
#
# Sizes: 1e5, 1e6, 1e7 are grids of fast x slow x kind (sma, ema) x long_only (true,
# false), with fast and slow ranges that do not overlap (fast < slow holds everywhere):
#   1e5: fast 1..50,   slow 51..550     (50 x 500 x 4   =    100,000)
#   1e6: fast 1..200,  slow 201..1450   (200 x 1250 x 4 =  1,000,000)
#   1e7: fast 1..1000, slow 1001..3500  (1000 x 2500 x 4 = 10,000,000)
# A size may also be given as FASTxSLOW (e.g. 20x50: fast 1..20, slow 21..70, x 4).
#
# Environment:
#   JOBS=N             tasks at once in `sweep run --local` [default: nproc]
#   PER_TASK=N         combinations per array task [default: 10000, what `sweep plan`
#                      derives from its 60 s target at most]
#   REPEAT=N           runs of each musl/glibc measurement; the best is shown [default: 3]
#   BIN=DIR            the glibc binaries [default: target/release, built here]
#   MUSL=DIR           the static binaries [default: dist/bin/x86_64, built here]
#   SKIP_BUILD=1       use BIN and MUSL as they are
#   WORK=DIR           where sweeps are planned [default: a temporary directory, removed]
#
# Never run by CI or the tests: a 1e6 run takes minutes, 1e7 tens of minutes and about
# 10 GB of disk for the current result format.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export SLURM_SWEEP_DATA="${SLURM_SWEEP_DATA:-$(cd .. && pwd)/shared/data}"
[ -f "$SLURM_SWEEP_DATA/qstrader_examples/SPY.csv" ] ||
  { echo "error: no SPY.csv under $SLURM_SWEEP_DATA/qstrader_examples (set SLURM_SWEEP_DATA)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time (GNU time) is needed: apt-get install time" >&2; exit 2; }

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(1e5 1e6 musl)
jobs="${JOBS:-$(nproc)}"
per="${PER_TASK:-10000}"
repeat="${REPEAT:-3}"
bin="${BIN:-$root/${CARGO_TARGET_DIR:-target}/release}"
musl="${MUSL:-$root/dist/bin/x86_64}"
want_musl=0
for a in "${args[@]}"; do [ "$a" = musl ] && want_musl=1; done

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --locked --bin sweep --bin bt-worker --bin collect >&2
  bin="$root/${CARGO_TARGET_DIR:-target}/release"
  if [ "$want_musl" = 1 ]; then
    BINS="sweep bt-worker" scripts/build-release.sh x86_64 >&2
    musl="$root/dist/bin/x86_64"
  fi
fi
for b in sweep bt-worker collect; do
  [ -x "$bin/$b" ] || { echo "error: no $bin/$b (build with cargo build --release)" >&2; exit 2; }
done

if [ -n "${WORK:-}" ]; then
  work="$WORK"
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/bench-scale.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi

# Runs "$@" under GNU time; sets t_wall, t_user, t_sys, t_rss_mb (peak RSS of the largest
# process: the command or a child it waited for). Output to $work/last.out|err.
timed() {
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" "$@" >"$work/last.out" 2>"$work/last.err" || {
    echo "error: $* failed:" >&2
    tail -20 "$work/last.err" >&2
    exit 1
  }
  read -r t_wall t_user t_sys t_rss < <(tail -1 "$work/time.txt")
  t_rss_mb=$(awk -v k="$t_rss" 'BEGIN { printf "%.0f", k / 1024 }')
}

# The worker's start-up seconds and whole seconds of task $2 from its log in sweep dir $1.
task_times() {
  local log="$1/logs/local_$2.err" start total
  start=$(sed -n 's/^bt-worker: task [0-9]*: started in \([0-9.]*\) s.*/\1/p' "$log" | tail -1)
  total=$(sed -n 's/^bt-worker: task [0-9]*: [0-9]* combinations, .*, \([0-9.]*\) s -> .*/\1/p' "$log" | tail -1)
  echo "${start:--} ${total:--}"
}

grid_of() { # size -> "fast_to slow_to"
  case "$1" in
    1e5) echo "50 500" ;;
    1e6) echo "200 1250" ;;
    1e7) echo "1000 2500" ;;
    *x*) echo "${1%x*} ${1#*x}" ;;
    *) echo "error: unknown size '$1' (1e5, 1e6, 1e7, FASTxSLOW or musl)" >&2; exit 2 ;;
  esac
}

rows=()
for size in "${args[@]}"; do
  [ "$size" = musl ] && continue
  read -r nf ns < <(grid_of "$size")
  fs="$work/fs-$size"
  rm -rf "$fs"
  echo "== $size: fast 1..$nf x slow $((nf + 1))..$((nf + ns)) x kind x long_only" >&2
  timed "$bin/sweep" plan sweeps/ma_cross.toml --sharedfs "$fs" --combos-per-task "$per" \
    --max-combos 100000000 \
    -p "fast=1..$nf" -p "slow=$((nf + 1))..$((nf + ns))" -p kind=sma,ema -p long_only=true,false
  plan_s=$t_wall plan_mb=$t_rss_mb
  dir=$(sed -n 's/^ *dir: *//p' "$work/last.out" | head -1)
  combos=$(sed -n 's/.*"combos": \([0-9]*\),.*/\1/p' "$dir/plan.json" | head -1)
  tasks=$(sed -n 's/.*"tasks": \([0-9]*\),.*/\1/p' "$dir/plan.json" | head -1)
  manifest_b=$(stat -c %s "$dir/manifest.jsonl")
  echo "   planned $combos combinations in $tasks tasks in $plan_s s, peak $plan_mb MB" >&2

  timed "$bin/sweep" run "$dir" --local -j "$jobs" --no-collect
  run_s=$t_wall run_cpu=$(awk -v u="$t_user" -v s="$t_sys" 'BEGIN { printf "%.1f", u + s }')
  read -r first_start first_total < <(task_times "$dir" 0)
  read -r last_start last_total < <(task_times "$dir" $((tasks - 1)))
  echo "   ran in $run_s s (CPU $run_cpu s); task 0 started in $first_start s, task $((tasks - 1)) in $last_start s" >&2

  timed "$bin/collect" "$dir"
  collect_s=$t_wall collect_mb=$t_rss_mb
  results_b=$(du -sb "$dir/results" | cut -f1)
  report_b=$(du -sb "$dir/report" 2>/dev/null | cut -f1 || echo 0)
  per_combo=$(awk -v a="$results_b" -v b="$report_b" -v n="$combos" 'BEGIN { printf "%.0f", (a + b) / n }')
  echo "   collect in $collect_s s, peak $collect_mb MB; $per_combo bytes per combination on disk" >&2
  for f in "$dir"/report/*; do
    [ -f "$f" ] || continue
    awk -v f="${f##*/}" -v b="$(stat -c %s "$f")" -v n="$combos" \
      'BEGIN { printf "     report/%-16s %13.0f bytes, %7.1f per combination\n", f, b, b / n }' >&2
  done
  rows+=("$(printf '%-5s %11s %6s %7s %7s %8s %7s %9s %9s %9s %9s %7s %9s %9s %8s %8s' \
    "$size" "$combos" "$tasks" "$plan_s" "$plan_mb" "$run_s" "$run_cpu" \
    "$first_start" "$last_start" "$first_total" "$last_total" \
    "$per_combo" "$((manifest_b / combos))" "$collect_s" "$collect_mb" \
    "$(awk -v r="$results_b" -v n="$combos" 'BEGIN { printf "%.0f", r / n }')")")
  [ -n "${WORK:-}" ] || rm -rf "$fs"
done

if [ ${#rows[@]} -gt 0 ]; then
  echo
  echo "Growth (ma_cross over SPY, $(nproc) CPUs, -j $jobs, $per combinations per task; times in s, memory in MB):"
  printf '%-5s %11s %6s %7s %7s %8s %7s %9s %9s %9s %9s %7s %9s %9s %8s %8s\n' \
    size combos tasks plan_s plan_MB run_s run_cpu start_t0 start_tN whole_t0 whole_tN \
    B/combo manif_B/c collect_s coll_MB res_B/c
  printf '%s\n' "${rows[@]}"
  echo "(start_t0/start_tN: first/last task's start-up, process start to its combinations read;"
  echo " whole_t0/whole_tN: the same tasks' whole time; B/combo: results/ + report/ after collect;"
  echo " manif_B/c: manifest.jsonl per combination, not counted in B/combo; res_B/c: results/ alone)"
fi

if [ "$want_musl" = 1 ]; then
  for b in sweep bt-worker; do
    [ -x "$musl/$b" ] || { echo "error: no $musl/$b (scripts/build-release.sh x86_64)" >&2; exit 2; }
  done
  if command -v file >/dev/null && file -L "$musl/bt-worker" | grep -q "dynamically linked"; then
    echo "error: $musl/bt-worker is not static" >&2
    exit 2
  fi
  echo "== musl vs glibc: sweeps/ma_cross.toml (4,950 combinations), -j $jobs, best of $repeat" >&2
  # Each build plans and runs its own copy (the worker beside `sweep` is the one used).
  declare -A best_cpu best_wall
  for build in glibc musl; do
    b="$bin"
    [ "$build" = musl ] && b="$musl"
    timed "$b/sweep" plan sweeps/ma_cross.toml --sharedfs "$work/fs-$build"
    eval "dir_$build=\$(sed -n 's/^ *dir: *//p' \"\$work/last.out\" | head -1)"
    best_cpu[$build]=999999
    best_wall[$build]=999999
  done
  for ((r = 1; r <= repeat; r++)); do
    for build in glibc musl; do
      b="$bin"
      [ "$build" = musl ] && b="$musl"
      eval "d=\$dir_$build"
      rm -rf "$d/results" "$d/logs"
      timed "$b/sweep" run "$d" --local -j "$jobs" --no-collect
      cpu=$(awk -v u="$t_user" -v s="$t_sys" 'BEGIN { printf "%.2f", u + s }')
      echo "   $build run $r: wall $t_wall s, CPU $cpu s (user $t_user, sys $t_sys)" >&2
      if awk -v a="$cpu" -v b="${best_cpu[$build]}" 'BEGIN { exit !(a < b) }'; then
        best_cpu[$build]=$cpu
        eval "sys_$build=\$t_sys"
      fi
      if awk -v a="$t_wall" -v b="${best_wall[$build]}" 'BEGIN { exit !(a < b) }'; then
        best_wall[$build]=$t_wall
      fi
    done
  done
  echo
  echo "musl vs glibc, sweeps/ma_cross.toml (4,950 combinations, 20 tasks), -j $jobs, best of $repeat runs:"
  printf '%-6s %8s %8s %8s\n' build cpu_s sys_s wall_s
  printf '%-6s %8s %8s %8s\n' glibc "${best_cpu[glibc]}" "$sys_glibc" "${best_wall[glibc]}"
  printf '%-6s %8s %8s %8s\n' musl "${best_cpu[musl]}" "$sys_musl" "${best_wall[musl]}"
  awk -v mc="${best_cpu[musl]}" -v gc="${best_cpu[glibc]}" -v mw="${best_wall[musl]}" -v gw="${best_wall[glibc]}" \
    'BEGIN { printf "musl/glibc: CPU %.2fx, wall %.2fx (target: within 1.1x)\n", mc / gc, mw / gw }'
fi
