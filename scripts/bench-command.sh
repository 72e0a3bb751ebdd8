#!/usr/bin/env bash
# The worker's own overhead per combination of a command sweep (strategy = "command"):
# spawning the program in its process group, the scratch directory and params.json,
# reading its equity curve back and computing the statistics, for a trivial program.
#
#   scripts/bench-command.sh            # N=200 combinations, a 252-day equity CSV
#   N=1000 ROWS=2520 scripts/bench-command.sh
#
# The program is a tiny static C binary (built here with cc) that writes a fixed
# ROWS-day equity CSV to {result}. Its own time is measured alone by a C loop that
# posix_spawn()s it N times and waits for each; the sweep runs the same N times through
# `bt-worker task` (release build, SLURM_CPUS_PER_TASK=1, one task of N combinations).
# Overhead per combination = (task wall time - program alone) / N. Each figure is the best
# of REPEAT runs (the machine may be shared). Prints figures; not a test. Target: < 5 ms.
set -euo pipefail

N=${N:-200}
ROWS=${ROWS:-252}
REPEAT=${REPEAT:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

echo "building bt-worker and sweep (release) ..." >&2
CARGO_INCREMENTAL=0 cargo build --release --quiet -p bt-worker -p sweep \
  --manifest-path "$root/Cargo.toml"
bin="$target/release"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-command.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The trivial program: writes the embedded CSV to argv[1].
{
  printf 'static const char csv[] =\n  "date,equity\\n"\n'
  python3 - "$ROWS" <<'PY'
import datetime, sys
rows = int(sys.argv[1])
d = datetime.date(2020, 1, 1)
e = 100.0
k = 0
while k < rows:
    if d.weekday() < 5:
        e *= 1.0 + 0.01 * ((k * 7919) % 13 - 6) / 6.0
        print('  "%s,%.6f\\n"' % (d.isoformat(), e))
        k += 1
    d += datetime.timedelta(days=1)
PY
  printf '  ;\n'
} > "$work/csv.h"
cat > "$work/trivial.c" <<'C'
#include <stdio.h>
#include "csv.h"
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    FILE *f = fopen(argv[1], "w");
    if (!f) return 1;
    fputs(csv, f);
    return fclose(f) != 0;
}
C
cat > "$work/spawn_loop.c" <<'C'
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ;
/* spawn_loop N PROGRAM OUT: runs PROGRAM OUT N times, one after the other; prints seconds. */
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int k = 0; k < n; k++) {
        pid_t pid;
        char *args[] = {argv[2], argv[3], NULL};
        if (posix_spawn(&pid, argv[2], NULL, NULL, args, environ) != 0) return 1;
        int status;
        if (waitpid(pid, &status, 0) < 0 || status != 0) return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
C
linkage=static
cc -O2 -static -o "$work/trivial" "$work/trivial.c" 2>/dev/null ||
  { linkage=dynamic; cc -O2 -o "$work/trivial" "$work/trivial.c"; }
cc -O2 -o "$work/spawn_loop" "$work/spawn_loop.c"

cat > "$work/bench.toml" <<TOML
name = "bench_command"
strategy = "command"

[command]
argv = ["$work/trivial", "{result}"]
timeout = "10s"
output = "equity_csv"

[command.params]
k = { type = "int", default = 1, min = 1, max = 10000000 }

[params]
k = { from = 1, to = $N, step = 1 }

[slurm]
combos_per_task = $N
TOML
dir=$("$bin/sweep" plan "$work/bench.toml" --sharedfs "$work/fs" | sed -n 's/^ *dir: *//p')

best() { sort -g | head -1; }
now() { date +%s%N; }

alone=$(for _ in $(seq "$REPEAT"); do "$work/spawn_loop" "$N" "$work/trivial" "$work/out.csv"; done | best)
task=$(for _ in $(seq "$REPEAT"); do
  t0=$(now)
  SLURM_CPUS_PER_TASK=1 "$bin/bt-worker" task --sweep-dir "$dir" --task 0 --force 2>/dev/null ||
    { echo "bt-worker task failed" >&2; exit 1; }
  t1=$(now)
  echo $(((t1 - t0) / 1000))e-6
done | best)
# The task's fixed part (plan, manifest, result file), from a 1-combination task.
sed -i "s/^k = { from = 1, to = $N, step = 1 }/k = [1]/; s/^combos_per_task = $N/combos_per_task = 1/" "$work/bench.toml"
one_dir=$("$bin/sweep" plan "$work/bench.toml" --sharedfs "$work/fs1" | sed -n 's/^ *dir: *//p')
one=$(for _ in $(seq "$REPEAT"); do
  t0=$(now)
  SLURM_CPUS_PER_TASK=1 "$bin/bt-worker" task --sweep-dir "$one_dir" --task 0 --force 2>/dev/null
  t1=$(now)
  echo $(((t1 - t0) / 1000))e-6
done | best)

ok=$(python3 -c "
import json, glob
f = json.load(open(glob.glob('$dir/results/task-0.*.json')[0]))
print(sum(r['status'] == 'ok' for r in f['runs']))")

python3 - "$N" "$ROWS" "$alone" "$task" "$one" "$ok" "$linkage" "$(nproc)" <<'PY'
import sys
n, rows = int(sys.argv[1]), int(sys.argv[2])
alone, task, one = map(float, sys.argv[3:6])
ok, linkage, cpus = int(sys.argv[6]), sys.argv[7], sys.argv[8]
ms = lambda s: s * 1e3
per_task = task / n
per_alone = alone / n
overhead = (task - alone) / n
print(f"command sweep overhead: {n} combinations, one task, SLURM_CPUS_PER_TASK=1, "
      f"a {linkage} C program writing a {rows}-day equity CSV ({cpus} CPUs here)")
print(f"  combinations ok:                         {ok} of {n}")
print(f"  program alone (posix_spawn + wait):      {ms(per_alone):7.3f} ms per run   ({alone:.3f} s for {n})")
print(f"  bt-worker task, wall:                    {ms(per_task):7.3f} ms per combination ({task:.3f} s)")
print(f"  a 1-combination task (fixed cost + 1):   {ms(one):7.3f} ms")
print(f"  worker overhead per combination:         {ms(overhead):7.3f} ms   (target < 5 ms: {'met' if overhead < 0.005 else 'NOT met'})")
print(f"  overhead without the fixed part:         {ms((task - one) / (n - 1) - per_alone):7.3f} ms")
PY
