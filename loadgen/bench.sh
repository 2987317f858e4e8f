#!/usr/bin/env bash
# The platform's benchmark, end to end: see docs/benchmarks.md.
#
#   loadgen/bench.sh                 # everything: about 7 minutes after the build on a quiet machine
#
# Builds the release binaries, then on 127.0.0.1 only:
#   1. raw Argon2id hash rate on 1 thread and on one thread per core;
#   2. start-up of the all-in-one binary on empty data dirs: time to first answer, idle RSS;
#   3. the reference (a minimal axum JSON endpoint, its own process), 32 connections;
#   4. the all-in-one binary with its default `info` logs (stdout to a file): GET /api/v1/user
#      by PAT and by JWT through the gateway, GetCurrentUser straight to identity-svc over gRPC,
#      then POST /api/v1/login;
#   5. the same binary with logs at `warn`, as a sensitivity check of the logging cost;
#   6. a second driver, wrk (Debian's package: `apt-get install wrk`; the script fails at once
#      without it), against the reference and the all-in-one (default settings, `info` logs)
#      both running: `GET /` of the reference, `GET /api/v1/user` by PAT, then by access JWT,
#      in alternating rounds (reference, PAT, JWT, reference, PAT, JWT, ...);
# and prints the markdown tables (loadgen's, then wrk's). Every server runs under `timeout`, and
# every process this script started is stopped when it exits. Results are kept in $RESULTS_DIR.
#
# Knobs (environment): CARGO_TARGET_DIR (default ./target), DURATION (15 s per scenario),
# WARMUP (2 s, not recorded), CONNS (32), LOGIN_CONNS (8), CLIENT_THREADS (1: loadgen on a
# current-thread runtime), ARGON_SECS (10), STARTUP_RUNS (5), IDLE_SECS (5), SKIP_BUILD=1,
# SKIP_QUIET=1 (leave out step 5), RESULTS_DIR; for step 6: WRK_DURATION (10 s per run),
# WRK_THREADS (1: `wrk -t1`), WRK_ROUNDS (3), and CONNS as above.
# Noise control: the tables show, for every scenario, "other CPU", the CPU other processes used
# during its window. Before each scenario the script waits up to WAIT_IDLE seconds (60) for the
# machine to fall idle, and re-runs a scenario whose other CPU exceeded MAX_OTHER cores (0.10),
# up to TRIES runs in all (3). So the script ends after at most about
# build + TRIES x (sum of scenario times + WAIT_IDLE each). The wrk runs also wait for an idle
# machine and show their "other CPU", but are not re-run.
set -euo pipefail

DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-32}
LOGIN_CONNS=${LOGIN_CONNS:-8}
CLIENT_THREADS=${CLIENT_THREADS:-1}
ARGON_SECS=${ARGON_SECS:-10}
STARTUP_RUNS=${STARTUP_RUNS:-5}
IDLE_SECS=${IDLE_SECS:-5}
WRK_DURATION=${WRK_DURATION:-10}
WRK_THREADS=${WRK_THREADS:-1}
WRK_ROUNDS=${WRK_ROUNDS:-3}
# shellcheck source=loadgen/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
# Step 6 needs wrk: fail now, not after the other steps.
require_wrk

# Starts the reference server; sets REF_TPID, REF_PID, REF_URL.
start_reference() {
    timeout -k 5 "$SERVER_MAX_SECS" "$LOADGEN" reference-server --addr 127.0.0.1:0 \
        >"$WORK/reference.log" 2>&1 </dev/null &
    REF_TPID=$!
    SERVERS+=("$REF_TPID")
    REF_PID=$(child_of "$REF_TPID")
    REF_URL=$(wait_for "$WORK/reference.log" '^listening on ' | sed 's/^listening on //')
}

# The user-path scenarios against the running platform; $1 is a label suffix.
user_scenarios() {
    # shellcheck disable=SC2046
    measure "gateway-pat$1" "$LOADGEN" http --url "$GATEWAY/api/v1/user" -c "$CONNS" --auth pat \
        $(run_opts "gateway-pat$1" "$PLATFORM_PID")
    # shellcheck disable=SC2046
    measure "gateway-jwt$1" "$LOADGEN" http --url "$GATEWAY/api/v1/user" -c "$CONNS" --auth jwt \
        $(run_opts "gateway-jwt$1" "$PLATFORM_PID")
    # shellcheck disable=SC2046
    measure "grpc-direct$1" "$LOADGEN" grpc --addr "$IDENTITY" --gateway "$GATEWAY" -c "$CONNS" \
        $(run_opts "grpc-direct$1" "$PLATFORM_PID")
}

machine_info "DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS LOGIN_CONNS=$LOGIN_CONNS CLIENT_THREADS=$CLIENT_THREADS WRK_DURATION=$WRK_DURATION WRK_THREADS=$WRK_THREADS WRK_ROUNDS=$WRK_ROUNDS ($WRK_VERSION)"

echo "== 1. Argon2id raw hash rate" >&2
measure "argon2id x1" "$LOADGEN" argon2 --threads 1 --duration "$ARGON_SECS" --json "$RESULTS"
if [[ $CORES -gt 1 ]]; then
    measure "argon2id x$CORES" "$LOADGEN" argon2 --threads "$CORES" --duration "$ARGON_SECS" \
        --json "$RESULTS"
fi

echo "== 2. start-up and idle RSS" >&2
wait_idle
env "${CARGO_RUN_ENV[@]}" "$LOADGEN" startup --platform-bin "$PLATFORM" --runs "$STARTUP_RUNS" --idle "$IDLE_SECS" \
    --json "$RESULTS"

echo "== 3. reference: minimal axum JSON endpoint" >&2
start_reference
# shellcheck disable=SC2046
measure reference "$LOADGEN" http --url "$REF_URL/" -c "$CONNS" $(run_opts reference "$REF_PID")
# Sensitivity: the same with a two-thread client (the reference is client-bound on 2 cores).
# shellcheck disable=SC2046
measure reference-2t "$LOADGEN" http --url "$REF_URL/" -c "$CONNS" \
    $(run_opts reference-2t "$REF_PID" 2)
stop_server "$REF_TPID"

echo "== 4. platform, default logging (info, JSON lines to a file)" >&2
start_platform main info
setup_user
user_scenarios ""
"$LOADGEN" rss --pid "$PLATFORM_PID" --label rss-after-get --json "$RESULTS"
# Logins last: each one adds a session row.
LOGIN_BODY=$(printf '{"email":"%s","password":"%s"}' "$EMAIL" "$PASSWORD")
# shellcheck disable=SC2046
measure login "$LOADGEN" http --url "$GATEWAY/api/v1/login" --method POST --body "$LOGIN_BODY" \
    -c "$LOGIN_CONNS" $(run_opts login "$PLATFORM_PID")
"$LOADGEN" rss --pid "$PLATFORM_PID" --label rss-after-login --json "$RESULTS"
ls -l "$WORK/platform-main.log" | awk '{printf "platform log: %.1f MiB\n", $5/1048576}' >&2
stop_server "$PLATFORM_TPID"

if [[ ${SKIP_QUIET:-0} != 1 ]]; then
    echo "== 5. platform, logs at warn (sensitivity)" >&2
    # Keep only the two start-up lines this script reads the addresses from.
    start_platform quiet 'warn,platform=info,service_kit::host=info,identity_svc::startup=info'
    setup_user
    user_scenarios "-quiet"
    stop_server "$PLATFORM_TPID"
fi

echo "== 6. wrk: reference, PAT, JWT in alternating rounds (both servers running)" >&2
start_reference
start_platform wrk info
setup_user
: >"$RESULTS_DIR/wrk.tsv"
for round in $(seq "$WRK_ROUNDS"); do
    wrk_run wrk-reference "$round" "$REF_PID" "$REF_URL/"
    wrk_run wrk-pat "$round" "$PLATFORM_PID" "$GATEWAY/api/v1/user" "Authorization: ApiKey $PAT"
    # A fresh access JWT for every run (it could expire over many rounds).
    JWT=$(access_jwt "$GATEWAY" "$PAT")
    wrk_run wrk-jwt "$round" "$PLATFORM_PID" "$GATEWAY/api/v1/user" "Authorization: Bearer $JWT"
done
stop_server "$PLATFORM_TPID"
stop_server "$REF_TPID"

{
    "$LOADGEN" report --json "$RESULTS" --cores "$CORES"
    echo
    wrk_table
} | tee "$RESULTS_DIR/tables.md"
echo >&2
echo "results kept in $RESULTS_DIR" >&2
