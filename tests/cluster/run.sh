#!/usr/bin/env bash
# make test-cluster: bring up a throwaway single-node SLURM cluster (munge, MariaDB for
# accounting, slurmdbd, slurmctld, slurmd) and a local Ray head, every one with its state,
# configuration, logs and sockets in one private temporary directory; run the cluster tests
# (tests/cluster, marked `cluster`) against them; stop every daemon started here by its pid on
# every path (success, failure, Ctrl-C, SIGTERM), then remove the directory.
#
#   tests/cluster/run.sh [PYTEST ARGS...]      as root; .venv with '.[test,ray,submitit]'
#   KEEP=1 tests/cluster/run.sh                keep the directory (logs) after stopping
#
# Debian 12's packages (slurm-wlm 22.05, munge, slurmdbd, mariadb-server) are installed with
# apt-get when missing. docs/CLUSTERS.md explains every step and the pitfalls behind them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
PACKAGES=(slurm-wlm munge slurmdbd mariadb-server)
CLUSTER=paxostest
PARTITION=debug
ACCOUNT=default
say() { echo "test-cluster: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    say "must run as root (it installs Debian packages and runs slurmd, which starts jobs as their users)"
    exit 1
fi
[ -x "$VENV_BIN/python" ] || { say "no $VENV_BIN/python: run make test-cluster"; exit 1; }

# -- packages ------------------------------------------------------------------------------
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (apt-get)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

# -- the private directory, and how everything is stopped -------------------------------------
DIR=$(mktemp -d /tmp/pxc.XXXXXX)   # short: unix socket paths under it must fit 107 bytes
chmod 711 "$DIR"                   # munged wants every directory above its socket searchable
mkdir -p "$DIR/log" "$DIR/munge" "$DIR/mysql" "$DIR/slurm/state" "$DIR/slurm/spool" "$DIR/ray"
STARTED=()          # "name pid" of every daemon started here, in start order
RAY_PID=""
TEST_PID=""
MUNGE_LINK=""       # the default munge socket path, when it is our link to our socket
MUNGE_RUN_DIR=""    # /run/munge, when this script made it

alive() {  # a live process, not a zombie
    [ -r "/proc/$1/stat" ] && ! awk '{ exit ($3 != "Z") }' "/proc/$1/stat" 2>/dev/null
}

stop_pid() {  # NAME PID: SIGTERM, then SIGKILL after 20 s
    local name=$1 pid=$2 i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do alive "$pid" || return 0; sleep 0.2; done
    say "$name (pid $pid) did not stop within 20 s of SIGTERM: killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

descendants() {  # every process below PID
    ps -eo pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { for (p in parent) { q = p; while (q in parent && q != 1 && q != 0) {
                  q = parent[q]; if (q == root) { print p; break } } } }'
}

cleanup() {
    local status=$? entry pid i
    trap - EXIT INT TERM HUP
    set +e
    if [ -n "$TEST_PID" ] && alive "$TEST_PID"; then
        local tests; tests=$(descendants "$TEST_PID")
        for pid in $TEST_PID $tests; do kill -TERM "$pid" 2>/dev/null; done
        for pid in $TEST_PID $tests; do stop_pid "test process" "$pid"; done
        wait "$TEST_PID" 2>/dev/null
    fi
    if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
        # Jobs a failed test left queued or running on our cluster (our controller only).
        scancel --full --quiet --user=root 2>/dev/null
        for i in $(seq 1 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
    fi
    if [ -n "$RAY_PID" ]; then
        # `ray start --block` stops every process of its head on SIGTERM; anything of its
        # tree still there after that (a worker) is killed by pid.
        local tree; tree=$(descendants "$RAY_PID")
        stop_pid "ray head" "$RAY_PID"
        wait "$RAY_PID" 2>/dev/null
        for pid in $tree; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
    fi
    for ((i=${#STARTED[@]}-1; i>=0; i--)); do
        entry=${STARTED[$i]}
        stop_pid "${entry% *}" "${entry#* }"
    done
    wait 2>/dev/null  # our own background children (mariadbd)
    if [ -n "$MUNGE_LINK" ] && [ "$(readlink "$MUNGE_LINK")" = "$DIR/munge/munge.sock" ]; then
        rm -f "$MUNGE_LINK"
    fi
    [ -n "$MUNGE_RUN_DIR" ] && rmdir "$MUNGE_RUN_DIR" 2>/dev/null
    if [ -s "$DIR/times.txt" ]; then
        say "wall times measured by the tests:"
        sed 's/^/  /' "$DIR/times.txt" >&2
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        say "kept $DIR"
    else
        rm -rf "$DIR"
    fi
    say "stopped ${#STARTED[@]} daemons and the Ray head; exit status $status"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

wait_for() {  # SECONDS WHAT COMMAND...: until COMMAND succeeds, or fail naming WHAT
    local seconds=$1 what=$2 i; shift 2
    for i in $(seq 1 $((seconds * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    say "$what did not come up within $seconds s; its log is in $DIR/log (KEEP=1 keeps it)"
    exit 1
}

pid_of() {  # PIDFILE: its pid, once the file is there
    local i
    for i in $(seq 1 100); do [ -s "$1" ] && { cat "$1"; return 0; }; sleep 0.2; done
    say "no pid file $1"; exit 1
}

free_port() {
    "$VENV_BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# -- munge ---------------------------------------------------------------------------------
# Slurm 22.05's connections to slurmdbd (sacctmgr, slurmctld's accounting) ignore AuthInfo's
# socket and use munge's default path. A munged already answering there (a machine where apt
# started the service) serves everything; otherwise ours runs on our socket, and the default
# path is a link to it for as long as the cluster runs.
DEFAULT_MUNGE=/run/munge/munge.socket.2
MUNGE_SOCKET=$DIR/munge/munge.sock
munge_ok() { munge -n -S "$1" | unmunge -S "$1"; }
if munge_ok "$DEFAULT_MUNGE" >/dev/null 2>&1; then
    MUNGE_SOCKET=$DEFAULT_MUNGE
    say "using the munged already running at $DEFAULT_MUNGE"
elif [ -e "$DEFAULT_MUNGE" ] || [ -L "$DEFAULT_MUNGE" ]; then
    say "$DEFAULT_MUNGE exists but no munged answers there: remove it (Slurm needs that path)"
    exit 1
else
    mungekey --create --keyfile="$DIR/munge/munge.key"
    munged --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munge/munged.pid" --seed-file="$DIR/munge/munged.seed" \
        --log-file="$DIR/log/munged.log"
    STARTED+=("munged $(pid_of "$DIR/munge/munged.pid")")
    wait_for 20 munged munge_ok "$MUNGE_SOCKET"
    [ -d /run/munge ] || { mkdir -p /run/munge; MUNGE_RUN_DIR=/run/munge; }
    ln -s "$MUNGE_SOCKET" "$DEFAULT_MUNGE"
    MUNGE_LINK=$DEFAULT_MUNGE
fi

# -- MariaDB (slurmdbd's storage) -----------------------------------------------------------
DB_PORT=$(free_port)
DB_PASSWORD=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
mariadb-install-db --no-defaults --user=root --datadir="$DIR/mysql/data" \
    --auth-root-authentication-method=socket --skip-test-db >"$DIR/log/mariadb-install.log" 2>&1
mariadbd --no-defaults --user=root --datadir="$DIR/mysql/data" --socket="$DIR/mysql/mysqld.sock" \
    --pid-file="$DIR/mysql/mysqld.pid" --bind-address=127.0.0.1 --port="$DB_PORT" \
    --log-error="$DIR/log/mariadb.log" --skip-log-bin --innodb-buffer-pool-size=64M \
    --innodb-lock-wait-timeout=900 >/dev/null 2>&1 &
STARTED+=("mariadbd $!")
wait_for 60 MariaDB mariadb-admin --no-defaults --socket="$DIR/mysql/mysqld.sock" ping
mariadb --no-defaults --socket="$DIR/mysql/mysqld.sock" -u root <<SQL
CREATE DATABASE slurm_acct_db;
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL

# -- Slurm -----------------------------------------------------------------------------------
HOST=$(hostname -s)
read -r CPUS MEMORY < <(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*RealMemory=\([0-9]*\).*/\1 \2/p')
DBD_PORT=$(free_port)
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
export SLURM_CONF=$DIR/slurm/slurm.conf
umask 077
cat >"$DIR/slurm/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$DB_PASSWORD
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/slurm/slurmdbd.pid
EOF
umask 022
cat >"$SLURM_CONF" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
EnforcePartLimits=ALL
MaxArraySize=10001
StateSaveLocation=$DIR/slurm/state
SlurmdSpoolDir=$DIR/slurm/spool
SlurmctldPidFile=$DIR/slurm/slurmctld.pid
SlurmdPidFile=$DIR/slurm/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEMORY State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmdbd   # finds slurmdbd.conf beside $SLURM_CONF
STARTED+=("slurmdbd $(pid_of "$DIR/slurm/slurmdbd.pid")")
wait_for 60 slurmdbd sacctmgr --noheader list cluster
sacctmgr -i add cluster "$CLUSTER" >/dev/null
sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" >/dev/null
sacctmgr -i add user root Account="$ACCOUNT" >/dev/null
slurmctld
STARTED+=("slurmctld $(pid_of "$DIR/slurm/slurmctld.pid")")
wait_for 60 slurmctld scontrol ping
slurmd
STARTED+=("slurmd $(pid_of "$DIR/slurm/slurmd.pid")")
node_idle() { [ "$(sinfo --noheader --format=%T)" = idle ]; }
wait_for 60 "slurmd (node idle in sinfo)" node_idle
say "SLURM up: cluster $CLUSTER, partition $PARTITION, $CPUS CPUs, $MEMORY MB ($SLURM_CONF)"

# -- Ray -----------------------------------------------------------------------------------
# Token authentication (on by default in this Ray) with a token of our own, not ~/.ray's.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/ray-token"
chmod 600 "$DIR/ray-token"
export RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$DIR/ray-token
RAY_PORT=$(free_port)
setsid "$VENV_BIN/ray" start --head --block --num-cpus="$CPUS" --disable-usage-stats \
    --temp-dir="$DIR/ray" --port="$RAY_PORT" --ray-client-server-port="$(free_port)" \
    --node-ip-address=127.0.0.1 --include-dashboard=false >"$DIR/log/ray-start.log" 2>&1 &
RAY_PID=$!
ray_up() { grep -q "block forever" "$DIR/log/ray-start.log" && alive "$RAY_PID"; }
wait_for 120 "the Ray head" ray_up
export RAY_ADDRESS=127.0.0.1:$RAY_PORT
say "Ray up: $RAY_ADDRESS ($CPUS CPUs)"

# -- the tests -----------------------------------------------------------------------------
export PAXOS_CLUSTER_DIR=$DIR PAXOS_SLURM_PARTITION=$PARTITION PAXOS_SLURM_ACCOUNT=$ACCOUNT
export PATH=$VENV_BIN:$PATH
cd "$ROOT"
# In the background, so that SIGTERM (bash defers traps while a foreground command runs)
# reaches cleanup at once; cleanup then stops the tests and whatever they started, by pid.
"$VENV_BIN/python" -m pytest -m cluster tests/cluster -p no:cacheprovider "$@" &
TEST_PID=$!
wait "$TEST_PID"
