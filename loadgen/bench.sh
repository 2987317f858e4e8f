#!/usr/bin/env bash
# The platform's benchmark, end to end: see docs/benchmarks.md.
#
#   loadgen/bench.sh                 # everything, about 5 minutes after the build
#
# Builds the release binaries, then on 127.0.0.1 only:
#   1. raw Argon2id hash rate on 1 thread and on one thread per core;
#   2. start-up of the all-in-one binary on empty data dirs: time to first answer, idle RSS;
#   3. the reference (a minimal axum JSON endpoint, its own process), 32 connections;
#   4. the all-in-one binary with its default `info` logs (stdout to a file): GET /api/v1/user
#      by PAT and by JWT through the gateway, GetCurrentUser straight to identity-svc over gRPC,
#      then POST /api/v1/login;
#   5. the same binary with logs at `warn`, as a sensitivity check of the logging cost;
# and prints the markdown tables. Every server runs under `timeout`, and every process this
# script started is stopped when it exits. Results are kept in $RESULTS_DIR.
#
# Knobs (environment): CARGO_TARGET_DIR (default ./target), DURATION (15 s per scenario),
# WARMUP (2 s, not recorded), CONNS (32), LOGIN_CONNS (8), CLIENT_THREADS (1: loadgen on a
# current-thread runtime), ARGON_SECS (10), STARTUP_RUNS (5), IDLE_SECS (5), SKIP_BUILD=1,
# SKIP_QUIET=1 (leave out step 5), RESULTS_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case $CARGO_TARGET_DIR in /*) ;; *) CARGO_TARGET_DIR=$ROOT/$CARGO_TARGET_DIR ;; esac
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-32}
LOGIN_CONNS=${LOGIN_CONNS:-8}
CLIENT_THREADS=${CLIENT_THREADS:-1}
ARGON_SECS=${ARGON_SECS:-10}
STARTUP_RUNS=${STARTUP_RUNS:-5}
IDLE_SECS=${IDLE_SECS:-5}
CORES=$(nproc)
# Hard upper bound on the life of every server started here.
SERVER_MAX_SECS=1800

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    echo "building release binaries into $CARGO_TARGET_DIR ..." >&2
    cargo build --release -p platform -p loadgen >&2
fi
BIN=$CARGO_TARGET_DIR/release
LOADGEN=$BIN/loadgen
PLATFORM=$BIN/platform

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=${RESULTS_DIR:-$CARGO_TARGET_DIR/bench-results/$STAMP}
mkdir -p "$RESULTS_DIR"
RESULTS=$RESULTS_DIR/results.jsonl
: >"$RESULTS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/platform-bench.XXXXXX")

SERVERS=()
cleanup() {
    local pid
    for pid in "${SERVERS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SERVERS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    SERVERS=()
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The PID of the program `timeout` runs (the server itself, whose CPU and RSS we read).
child_of() {
    local i
    for i in $(seq 100); do
        local c
        c=$(cat "/proc/$1/task/$1/children" 2>/dev/null || true)
        if [[ -n ${c// /} ]]; then
            echo "${c%% *}"
            return 0
        fi
        sleep 0.05
    done
    echo "no child of $1" >&2
    return 1
}

# wait_for FILE REGEX: the first line of FILE matching REGEX, within 30 s.
wait_for() {
    local i
    for i in $(seq 300); do
        if grep -m1 -E "$2" "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "timed out waiting for /$2/ in $1:" >&2
    tail -n 20 "$1" >&2
    return 1
}

stop_server() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=() pid
    for pid in "${SERVERS[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    SERVERS=("${keep[@]}")
}

# start_platform NAME RUST_LOG: sets PLATFORM_TPID, PLATFORM_PID, GATEWAY, IDENTITY.
start_platform() {
    local log=$WORK/platform-$1.log data=$WORK/data-$1
    mkdir -p "$data"
    RUST_LOG=$2 PLATFORM_LISTEN_ADDR=127.0.0.1:0 DATA_DIR=$data \
        timeout -k 5 "$SERVER_MAX_SECS" "$PLATFORM" >"$log" 2>&1 </dev/null &
    PLATFORM_TPID=$!
    SERVERS+=("$PLATFORM_TPID")
    PLATFORM_PID=$(child_of "$PLATFORM_TPID")
    GATEWAY=$(wait_for "$log" '"message":"platform started"' | sed -E 's/.*"url":"([^"]+)".*/\1/')
    IDENTITY=$(wait_for "$log" '"message":"identity-svc ready"' | sed -E 's/.*"addr":"([^"]+)".*/\1/')
    echo "platform ($1, RUST_LOG=$2): pid $PLATFORM_PID, gateway $GATEWAY, identity-svc $IDENTITY" >&2
}

# setup_user: registers a user and creates a PAT on $GATEWAY; sets PAT, EMAIL, PASSWORD.
setup_user() {
    local out
    out=$("$LOADGEN" setup --gateway "$GATEWAY")
    PAT=$(sed -n 's/^PAT=//p' <<<"$out")
    EMAIL=$(sed -n 's/^EMAIL=//p' <<<"$out")
    PASSWORD=$(sed -n 's/^PASSWORD=//p' <<<"$out")
    export LOADGEN_PAT=$PAT
}

run_opts() {
    echo --label "$1" --warmup "$WARMUP" --duration "$DURATION" --threads "$CLIENT_THREADS" \
        --server-pid "$2" --json "$RESULTS"
}

# The user-path scenarios against the running platform; $1 is a label suffix.
user_scenarios() {
    # shellcheck disable=SC2046
    "$LOADGEN" http --url "$GATEWAY/api/v1/user" -c "$CONNS" --auth pat \
        $(run_opts "gateway-pat$1" "$PLATFORM_PID")
    # shellcheck disable=SC2046
    "$LOADGEN" http --url "$GATEWAY/api/v1/user" -c "$CONNS" --auth jwt \
        $(run_opts "gateway-jwt$1" "$PLATFORM_PID")
    # shellcheck disable=SC2046
    "$LOADGEN" grpc --addr "$IDENTITY" --gateway "$GATEWAY" -c "$CONNS" \
        $(run_opts "grpc-direct$1" "$PLATFORM_PID")
}

{
    echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $CORES cores ($(nproc --all) online)"
    echo "memory: $(free -m | awk '/^Mem:/ {print $2}') MiB"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    echo "settings: DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS LOGIN_CONNS=$LOGIN_CONNS CLIENT_THREADS=$CLIENT_THREADS"
} | tee "$RESULTS_DIR/machine.txt" >&2

echo "== 1. Argon2id raw hash rate" >&2
"$LOADGEN" argon2 --threads 1 --duration "$ARGON_SECS" --json "$RESULTS"
if [[ $CORES -gt 1 ]]; then
    "$LOADGEN" argon2 --threads "$CORES" --duration "$ARGON_SECS" --json "$RESULTS"
fi

echo "== 2. start-up and idle RSS" >&2
"$LOADGEN" startup --platform-bin "$PLATFORM" --runs "$STARTUP_RUNS" --idle "$IDLE_SECS" \
    --json "$RESULTS"

echo "== 3. reference: minimal axum JSON endpoint" >&2
timeout -k 5 "$SERVER_MAX_SECS" "$LOADGEN" reference-server --addr 127.0.0.1:0 \
    >"$WORK/reference.log" 2>&1 </dev/null &
REF_TPID=$!
SERVERS+=("$REF_TPID")
REF_PID=$(child_of "$REF_TPID")
REF_URL=$(wait_for "$WORK/reference.log" '^listening on ' | sed 's/^listening on //')
# shellcheck disable=SC2046
"$LOADGEN" http --url "$REF_URL/" -c "$CONNS" $(run_opts reference "$REF_PID")
stop_server "$REF_TPID"

echo "== 4. platform, default logging (info, JSON lines to a file)" >&2
start_platform main info
setup_user
user_scenarios ""
# Logins last: each one adds a session row.
LOGIN_BODY=$(printf '{"email":"%s","password":"%s"}' "$EMAIL" "$PASSWORD")
# shellcheck disable=SC2046
"$LOADGEN" http --url "$GATEWAY/api/v1/login" --method POST --body "$LOGIN_BODY" \
    -c "$LOGIN_CONNS" $(run_opts login "$PLATFORM_PID")
"$LOADGEN" rss --pid "$PLATFORM_PID" --label rss-after-load --json "$RESULTS"
ls -l "$WORK/platform-main.log" | awk '{printf "platform log: %.1f MiB\n", $5/1048576}' >&2
stop_server "$PLATFORM_TPID"

if [[ ${SKIP_QUIET:-0} != 1 ]]; then
    echo "== 5. platform, logs at warn (sensitivity)" >&2
    start_platform quiet 'warn,platform=info,identity_svc::startup=info'
    setup_user
    user_scenarios "-quiet"
    stop_server "$PLATFORM_TPID"
fi

"$LOADGEN" report --json "$RESULTS" --cores "$CORES" | tee "$RESULTS_DIR/tables.md"
echo >&2
echo "results kept in $RESULTS_DIR" >&2
