#!/usr/bin/env bash
# local-cluster.sh - bring up a real three-node SLURM cluster on this machine,
# for slurm-sweep's end-to-end tests.
#
# All three "nodes" (node02, node03, node04) are slurmd daemons on this host,
# each in its own UTS namespace so that `hostname` inside a job prints the
# node's name. The cluster's configuration, state, spool directories, logs
# and pid files live in a scratch directory (never in /etc):
#   ${SLURM_SWEEP_CLUSTER_DIR:-/tmp/slurm-sweep-cluster}
# The slurm.conf is rendered from slurm/cluster/slurm.conf.tmpl.
#
# Run `local-cluster.sh help` for the commands and environment variables.

set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/local-cluster.sh COMMAND [ARGS]

Commands:
  up               install missing packages (root), start munged (unless one is
                   already running), slurmctld and the slurmd nodes
                   node02 node03 node04; wait until every node is idle; then
                   print `export SLURM_CONF=...` on stdout. Idempotent: daemons
                   that are running are kept, dead ones are restarted, and a
                   changed configuration restarts the cluster.
  down             stop the daemons this script started (and the jobs running
                   on the nodes); munged is stopped only if `up` started it.
  status           show whether each daemon runs, then `sinfo`.
                   Exit status 0 if everything runs, 3 otherwise.
  env              print `export SLURM_CONF=...`, for
                   eval "$(scripts/local-cluster.sh env)"
  node-stop NODE [--mark-down]
                   crash one node: SIGKILL its slurmd and everything running
                   on it (job steps, job processes), like a power failure.
                   slurmctld notices after SlurmdTimeout (~30-45 s), then sets
                   it DOWN and requeues its jobs; with --mark-down it is told
                   at once (scontrol update state=down).
  node-start NODE  start that node's slurmd again ("reboot"): jobs slurmctld
                   still thinks run there are requeued, the node is resumed,
                   and the command waits until it is usable.
  purge            `down`, then delete the scratch directory (job state too).
  help             this message.

Environment:
  SLURM_SWEEP_CLUSTER_DIR     scratch directory      (/tmp/slurm-sweep-cluster)
  SLURM_SWEEP_MAX_ARRAY_SIZE  MaxArraySize           (1001)
  SLURM_SWEEP_CTLD_PORT       SlurmctldPort          (16817)
  SLURM_SWEEP_NODE_PORT_BASE  node0N listens on BASE+N (17000)
  SLURM_SWEEP_SLURMD_TIMEOUT  SlurmdTimeout, seconds (30)
  SLURM_SWEEP_CRED_EXPIRE     credential lifetime = requeue delay, seconds (30)
  SLURM_SWEEP_WAIT_TIMEOUT    how long up/node-start wait for nodes (60)
EOF
}

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
TEMPLATE=$REPO_ROOT/slurm/cluster/slurm.conf.tmpl

CLUSTER_DIR=${SLURM_SWEEP_CLUSTER_DIR:-/tmp/slurm-sweep-cluster}
MAX_ARRAY_SIZE=${SLURM_SWEEP_MAX_ARRAY_SIZE:-1001}
CTLD_PORT=${SLURM_SWEEP_CTLD_PORT:-16817}
NODE_PORT_BASE=${SLURM_SWEEP_NODE_PORT_BASE:-17000}
SLURMD_TIMEOUT=${SLURM_SWEEP_SLURMD_TIMEOUT:-30}
CRED_EXPIRE=${SLURM_SWEEP_CRED_EXPIRE:-30}
WAIT_TIMEOUT=${SLURM_SWEEP_WAIT_TIMEOUT:-60}

CONF=$CLUSTER_DIR/slurm.conf
RUN_DIR=$CLUSTER_DIR/run
LOG_DIR=$CLUSTER_DIR/log
NODES=(node02 node03 node04)
PACKAGES=(slurmctld slurmd slurm-client munge)

MUNGE_KEY=/etc/munge/munge.key
MUNGE_RUN_DIR=/run/munge
# Present only while munged runs because *we* started it; holds its pid.
MUNGE_OURS=$RUN_DIR/munged.started-by-local-cluster

# Every slurm client command run by this script talks to our cluster.
export SLURM_CONF=$CONF

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

log() { printf '[local-cluster] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

check_settings() {
    # Absolute, and nothing that slurm.conf or the sed rendering would mangle.
    [[ $CLUSTER_DIR =~ ^/[A-Za-z0-9._/+-]*$ ]] ||
        die "SLURM_SWEEP_CLUSTER_DIR must be an absolute path of [A-Za-z0-9._/+-]: '$CLUSTER_DIR'"
    local v
    for v in MAX_ARRAY_SIZE CTLD_PORT NODE_PORT_BASE SLURMD_TIMEOUT CRED_EXPIRE WAIT_TIMEOUT; do
        is_uint "${!v}" || die "SLURM_SWEEP_$v must be a non-negative integer, got '${!v}'"
    done
}

need_root() {
    [[ $EUID -eq 0 ]] || die "'$1' must run as root (the daemons run as SlurmUser=root and unshare(1) needs CAP_SYS_ADMIN)"
}

check_node() {
    local n
    for n in "${NODES[@]}"; do
        [[ $1 == "$n" ]] && return 0
    done
    die "unknown node '$1' (nodes: ${NODES[*]})"
}

# Serialise concurrent invocations (e.g. two tests calling `up`). fd 9 is
# closed for every daemon we start so they do not inherit the lock.
take_lock() {
    mkdir -p "$CLUSTER_DIR"
    exec 9>"$CLUSTER_DIR/.lock"
    flock -w 300 9 || die "could not lock $CLUSTER_DIR/.lock"
}

# Read a pid from a pid file; prints nothing if missing/garbage.
read_pid() {
    local pid=
    if [[ -r $1 ]]; then
        read -r pid <"$1" 2>/dev/null || true
    fi
    is_uint "$pid" && printf '%s\n' "$pid"
    return 0
}

# proc_matches PID COMM [CMDLINE-SUBSTRING]: is PID alive, named COMM and (if
# given) is the substring part of its command line? Protects against stale
# pid files whose pid has been reused by an unrelated process.
proc_matches() {
    local pid=$1 comm=$2 want=${3:-} actual cmdline
    [[ -n $pid && -r /proc/$pid/comm ]] || return 1
    actual=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $actual == "$comm" ]] || return 1
    [[ -z $want ]] && return 0
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$want"* ]]
}

# Pid of our running slurmctld, or nothing.
ctld_pid() {
    local pid
    pid=$(read_pid "$RUN_DIR/slurmctld.pid")
    if proc_matches "$pid" slurmctld "$CONF"; then
        printf '%s\n' "$pid"
    fi
    return 0
}

# Pid of the running slurmd of node $1, or nothing. slurmd writes this pid
# file itself (SlurmdPidFile=.../slurmd.%n.pid).
slurmd_pid() {
    local pid
    pid=$(read_pid "$RUN_DIR/slurmd.$1.pid")
    if proc_matches "$pid" slurmd "-N $1 "; then
        printf '%s\n' "$pid"
    fi
    return 0
}

# Pids of all processes in the UTS namespace recorded for node $1 when its
# slurmd was started: the slurmd, its slurmstepd's and the job processes.
node_pids() {
    local ns_file=$RUN_DIR/$1.uts ns p
    [[ -r $ns_file ]] || return 0
    read -r ns <"$ns_file" || return 0
    # Never match our own (the host's) namespace.
    [[ -n $ns && $ns != "$(readlink /proc/self/ns/uts)" ]] || return 0
    for p in /proc/[0-9]*; do
        if [[ $(readlink "$p/ns/uts" 2>/dev/null) == "$ns" ]]; then
            printf '%s\n' "${p#/proc/}"
        fi
    done
}

# wait_gone SECONDS PID...: wait until none of the pids exists any more.
wait_gone() {
    local deadline=$((SECONDS + $1)) p alive
    shift
    while :; do
        alive=0
        for p in "$@"; do
            if kill -0 "$p" 2>/dev/null; then alive=1; fi
        done
        [[ $alive -eq 0 ]] && return 0
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# stop_pids PID...: SIGTERM them all, wait up to 20 s, then SIGKILL.
stop_pids() {
    [[ $# -gt 0 ]] || return 0
    kill -TERM "$@" 2>/dev/null || true
    if ! wait_gone 20 "$@"; then
        log "pids $* did not all exit after SIGTERM; sending SIGKILL"
        kill -KILL "$@" 2>/dev/null || true
        wait_gone 5 "$@" || die "pids $* do not die"
    fi
}

show_log_tails() {
    local f
    for f in "$LOG_DIR"/*.log "$LOG_DIR"/*.stdout; do
        [[ -s $f ]] || continue
        printf '\n===== tail -n 25 %s =====\n' "$f" >&2
        tail -n 25 "$f" >&2 || true
    done
}

# ---------------------------------------------------------------------------
# Step 1: packages
# ---------------------------------------------------------------------------

ensure_packages() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) != installed ]]; then
            missing+=("$p")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $EUID -ne 0 ]]; then
        die "missing packages: ${missing[*]}; run this script as root or: sudo apt-get install -y ${missing[*]}"
    fi
    log "installing ${missing[*]} (apt-get update + install)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# ---------------------------------------------------------------------------
# Step 2: configuration in the scratch directory
# ---------------------------------------------------------------------------

make_dirs() {
    local n
    mkdir -p "$RUN_DIR" "$LOG_DIR" "$CLUSTER_DIR/state"
    for n in "${NODES[@]}"; do
        mkdir -p "$CLUSTER_DIR/spool/$n"
    done
}

# Render the template to stdout (placeholders documented in the template).
render_config() {
    [[ -r $TEMPLATE ]] || die "template not found: $TEMPLATE"
    sed -e "s|@CLUSTER_DIR@|$CLUSTER_DIR|g" \
        -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
        -e "s|@NODE02_PORT@|$((NODE_PORT_BASE + 2))|g" \
        -e "s|@NODE03_PORT@|$((NODE_PORT_BASE + 3))|g" \
        -e "s|@NODE04_PORT@|$((NODE_PORT_BASE + 4))|g" \
        -e "s|@MAX_ARRAY_SIZE@|$MAX_ARRAY_SIZE|g" \
        -e "s|@SLURMD_TIMEOUT@|$SLURMD_TIMEOUT|g" \
        -e "s|@CRED_EXPIRE@|$CRED_EXPIRE|g" \
        "$TEMPLATE"
}

anything_running() {
    local n
    [[ -n $(ctld_pid) ]] && return 0
    for n in "${NODES[@]}"; do
        [[ -n $(slurmd_pid "$n") ]] && return 0
    done
    return 1
}

# Write slurm.conf; if it differs from the one the running daemons use,
# stop them first so that they all come back with the new configuration.
write_config() {
    local new=$CONF.new
    render_config >"$new"
    if [[ -f $CONF ]] && cmp -s "$new" "$CONF"; then
        rm -f "$new"
        return 0
    fi
    if [[ -f $CONF ]] && anything_running; then
        log "configuration changed; restarting the cluster"
        stop_slurm_daemons
    fi
    mv -f "$new" "$CONF"
    log "wrote $CONF"
}

# ---------------------------------------------------------------------------
# Step 3: munge
# ---------------------------------------------------------------------------

munge_works() {
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

ensure_munge_key() {
    [[ -s $MUNGE_KEY ]] && return 0 # never clobber an existing key
    log "creating munge key $MUNGE_KEY"
    install -d -o munge -g munge -m 0700 "$(dirname "$MUNGE_KEY")"
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$MUNGE_KEY"
    elif command -v create-munge-key >/dev/null 2>&1; then
        create-munge-key
    else
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
}

start_munge() {
    local pid deadline
    if munge_works; then
        if [[ -f $MUNGE_OURS ]] && proc_matches "$(read_pid "$MUNGE_OURS")" munged; then
            log "munged already running (started by us)"
        else
            rm -f "$MUNGE_OURS"
            log "munged already running (not ours; reusing it, down will leave it alone)"
        fi
        return 0
    fi
    pid=$(read_pid "$MUNGE_RUN_DIR/munged.pid")
    if proc_matches "$pid" munged; then
        die "munged (pid $pid) is running but does not answer; fix or stop it"
    fi
    ensure_munge_key
    install -d -o munge -g munge -m 0755 "$MUNGE_RUN_DIR"
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    log "starting munged"
    # --force: a dead munged may have left its socket behind.
    runuser -u munge -- /usr/sbin/munged --force </dev/null >>"$LOG_DIR/munged.stdout" 2>&1 9>&-
    deadline=$((SECONDS + 15))
    until munge_works; do
        ((SECONDS < deadline)) || {
            show_log_tails
            die "munged did not come up"
        }
        sleep 0.2
    done
    pid=$(read_pid "$MUNGE_RUN_DIR/munged.pid")
    printf '%s\n' "$pid" >"$MUNGE_OURS"
}

stop_munge() {
    local pid
    if [[ ! -f $MUNGE_OURS ]]; then
        log "leaving munged alone (not started by this script)"
        return 0
    fi
    pid=$(read_pid "$MUNGE_OURS")
    if proc_matches "$pid" munged; then
        log "stopping munged (pid $pid)"
        stop_pids "$pid"
    fi
    rm -f "$MUNGE_OURS"
}

# ---------------------------------------------------------------------------
# Step 4: slurmctld and the slurmd nodes
# ---------------------------------------------------------------------------

start_ctld() {
    local pid deadline
    pid=$(ctld_pid)
    if [[ -n $pid ]]; then
        log "slurmctld already running (pid $pid)"
    else
        log "starting slurmctld"
        rm -f "$RUN_DIR/slurmctld.pid"
        # slurmctld daemonises itself and writes SlurmctldPidFile.
        if ! slurmctld -f "$CONF" </dev/null >>"$LOG_DIR/slurmctld.stdout" 2>&1 9>&-; then
            show_log_tails
            die "slurmctld failed to start"
        fi
    fi
    # Wait until it answers RPCs.
    deadline=$((SECONDS + 30))
    until scontrol ping 2>/dev/null | grep -q 'is UP'; do
        ((SECONDS < deadline)) || {
            show_log_tails
            die "slurmctld is not answering"
        }
        sleep 0.3
    done
}

start_node() {
    local node=$1 pid deadline
    pid=$(slurmd_pid "$node")
    if [[ -n $pid ]]; then
        log "slurmd $node already running (pid $pid)"
        return 0
    fi
    # Leftovers of a crashed node (orphaned job steps) would confuse the new
    # slurmd; a real rebooted node has none either.
    kill_node_processes "$node" KILL
    forget_lost_jobs "$node"
    log "starting slurmd $node"
    rm -f "$RUN_DIR/slurmd.$node.pid"
    mkdir -p "$CLUSTER_DIR/spool/$node"
    # New UTS namespace: set the node's host name, then exec slurmd, which
    # daemonises (the namespace is inherited by slurmstepd and the jobs).
    # shellcheck disable=SC2016 # $1/$2 are expanded by the inner sh
    if ! unshare --uts sh -c 'hostname "$1" && exec slurmd -N "$1" -f "$2"' sh "$node" "$CONF" \
        </dev/null >>"$LOG_DIR/slurmd.$node.stdout" 2>&1 9>&-; then
        show_log_tails
        die "slurmd $node failed to start"
    fi
    deadline=$((SECONDS + 15))
    until pid=$(slurmd_pid "$node") && [[ -n $pid ]]; do
        ((SECONDS < deadline)) || {
            show_log_tails
            die "slurmd $node did not write its pid file"
        }
        sleep 0.1
    done
    # Remember the node's namespace: node-stop/down use it to find the job
    # processes still running "on" this node.
    readlink "/proc/$pid/ns/uts" >"$RUN_DIR/$node.uts"
}

# Jobs that slurmctld still believes run on NODE although its slurmd (and so
# every job process on it) is gone are lost, as on a rebooted machine. A
# restarted slurmd would not make slurmctld notice that for minutes (it only
# reports the jobs it has), so mark the node DOWN first: slurmctld then
# requeues (or fails, for --no-requeue) those jobs at once. The node is
# resumed in wait_nodes once its new slurmd has registered.
forget_lost_jobs() {
    local node=$1 jobs
    jobs=$(squeue -h -w "$node" -t RUNNING,COMPLETING,SUSPENDED -o %i 2>/dev/null | tr '\n' ' ') || true
    [[ -n $jobs ]] || return 0
    log "jobs lost on $node, marking it DOWN so they are requeued: $jobs"
    scontrol update nodename="$node" state=down reason="slurmd restarted by local-cluster.sh" ||
        log "warning: could not mark $node down"
}

# kill_node_processes NODE SIGNAL: signal everything in the node's namespace.
kill_node_processes() {
    local node=$1 sig=$2 pids
    mapfile -t pids < <(node_pids "$node")
    if [[ ${#pids[@]} -gt 0 ]]; then
        kill "-$sig" "${pids[@]}" 2>/dev/null || true
        if ! wait_gone 10 "${pids[@]}"; then
            kill -KILL "${pids[@]}" 2>/dev/null || true
            if ! wait_gone 5 "${pids[@]}"; then
                log "warning: processes of $node survive: ${pids[*]}"
                return 0
            fi
        fi
    fi
    # The namespace is empty, hence gone: forget it.
    rm -f "$RUN_DIR/$node.uts"
}

# Orderly stop: SIGTERM the slurmds and slurmctld together (each takes a
# few seconds), then end whatever job processes remain on the nodes.
stop_slurm_daemons() {
    local n pid
    local -a pids=()
    for n in "${NODES[@]}"; do
        pid=$(slurmd_pid "$n")
        if [[ -n $pid ]]; then
            log "stopping slurmd $n (pid $pid)"
            pids+=("$pid")
        fi
    done
    pid=$(ctld_pid)
    if [[ -n $pid ]]; then
        log "stopping slurmctld (pid $pid)"
        pids+=("$pid")
    fi
    stop_pids "${pids[@]}"
    for n in "${NODES[@]}"; do
        kill_node_processes "$n" TERM
        rm -f "$RUN_DIR/slurmd.$n.pid"
    done
    rm -f "$RUN_DIR/slurmctld.pid"
}

# ---------------------------------------------------------------------------
# Step 5: wait until the nodes are usable
# ---------------------------------------------------------------------------

node_state() {
    sinfo -h -N -n "$1" -o '%t' 2>/dev/null | head -n 1
}

# wait_nodes NODE...: wait (bounded) until each node is idle (or busy with
# jobs: mix/alloc/comp). A node that has registered but is down/drained
# (e.g. after node-stop) is resumed.
wait_nodes() {
    local deadline=$((SECONDS + WAIT_TIMEOUT)) n st resumed=" "
    local -a pending
    while :; do
        pending=()
        for n in "$@"; do
            st=$(node_state "$n")
            case $st in
            idle | mix | alloc | comp) ;;
            down | drain | drng | fail | failg)
                # No '*': slurmd responds, the node just needs resuming.
                if [[ $resumed != *" $n "* ]]; then
                    log "resuming $n (state $st)"
                    scontrol update nodename="$n" state=resume || true
                    resumed+="$n "
                fi
                pending+=("$n=$st")
                ;;
            *) pending+=("$n=${st:-?}") ;;
            esac
        done
        [[ ${#pending[@]} -eq 0 ]] && return 0
        if ((SECONDS >= deadline)); then
            log "timeout after ${WAIT_TIMEOUT}s waiting for nodes: ${pending[*]}"
            sinfo -N >&2 || true
            show_log_tails
            return 1
        fi
        sleep 0.5
    done
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_env() {
    printf 'export SLURM_CONF=%q\n' "$CONF"
}

cmd_up() {
    local n start=$SECONDS
    need_root up
    ensure_packages
    take_lock
    make_dirs
    write_config
    start_munge
    start_ctld
    for n in "${NODES[@]}"; do
        start_node "$n"
    done
    wait_nodes "${NODES[@]}" || die "cluster did not become ready"
    sinfo >&2
    log "cluster up in $((SECONDS - start))s"
    cmd_env
}

cmd_down() {
    [[ -d $CLUSTER_DIR ]] || {
        log "nothing to do ($CLUSTER_DIR does not exist)"
        return 0
    }
    need_root down
    take_lock
    stop_slurm_daemons
    stop_munge
    log "cluster down"
}

cmd_status() {
    local n pid ok=0
    if munge_works; then
        if [[ -f $MUNGE_OURS ]]; then
            echo "munged:    running (pid $(read_pid "$MUNGE_OURS"), started by this script)"
        else
            echo "munged:    running (not started by this script)"
        fi
    else
        echo "munged:    not running"
        ok=3
    fi
    pid=$(ctld_pid)
    if [[ -n $pid ]]; then
        echo "slurmctld: running (pid $pid)"
    else
        echo "slurmctld: not running"
        ok=3
    fi
    for n in "${NODES[@]}"; do
        pid=$(slurmd_pid "$n")
        if [[ -n $pid ]]; then
            echo "slurmd $n: running (pid $pid)"
        else
            echo "slurmd $n: not running"
            ok=3
        fi
    done
    if [[ -n $(ctld_pid) ]]; then
        echo
        sinfo || true
        echo
        sinfo -N -o '%N %P %t %C %E' || true
    fi
    return "$ok"
}

cmd_node_stop() {
    local node=$1 mark_down=${2:-}
    check_node "$node"
    [[ -z $mark_down || $mark_down == --mark-down ]] || die "unknown option '$mark_down'"
    need_root node-stop
    take_lock
    if [[ -n $(node_pids "$node") ]]; then
        log "crashing $node: SIGKILL to its slurmd and all its job processes"
        kill_node_processes "$node" KILL
        rm -f "$RUN_DIR/slurmd.$node.pid"
    else
        log "$node is not running"
    fi
    if [[ -n $mark_down ]]; then
        log "marking $node DOWN in slurmctld"
        scontrol update nodename="$node" state=down reason="node-stop by local-cluster.sh"
    fi
}

cmd_node_start() {
    local node=$1
    check_node "$node"
    need_root node-start
    take_lock
    [[ -f $CONF && -n $(ctld_pid) ]] || die "the cluster is not up; run '$0 up' first"
    start_node "$node"
    wait_nodes "$node" || die "$node did not become ready"
    sinfo -N -n "$node" >&2
}

cmd_purge() {
    cmd_down
    [[ -d $CLUSTER_DIR ]] || return 0
    # Only delete a directory that looks like ours.
    if [[ -f $CONF ]] && ! grep -q '^ClusterName=slurmsweep$' "$CONF"; then
        die "$CLUSTER_DIR does not look like a local-cluster.sh directory; not deleting it"
    fi
    rm -rf -- "$CLUSTER_DIR"
    log "removed $CLUSTER_DIR"
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    check_settings
    case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    node-stop)
        [[ $# -eq 1 || $# -eq 2 ]] || {
            usage >&2
            exit 2
        }
        cmd_node_stop "$@"
        ;;
    node-start)
        [[ $# -eq 1 ]] || {
            usage >&2
            exit 2
        }
        cmd_node_start "$1"
        ;;
    purge) cmd_purge ;;
    help | -h | --help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
