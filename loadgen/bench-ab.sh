#!/usr/bin/env bash
# A/B of two builds of the all-in-one on the authenticated path, in one run (docs/benchmarks.md):
#
#   loadgen/bench-ab.sh A_PLATFORM_BINARY B_PLATFORM_BINARY
#
# Rounds alternate A and B (ROUNDS, default 4; A first in odd rounds, B first in even ones).
# Each turn starts the binary on an empty data dir, registers a user with a PAT, and measures
# GET /api/v1/user with the project's driver (loadgen: PAT, then the access JWT) and with wrk
# (Debian's package: PAT, then JWT), DURATION seconds each at CONNS connections, one client thread.
# Every round also measures the reference (a minimal axum JSON endpoint) with both drivers, so
# a slow moment of the machine shows. Prints one markdown table: median and range per build.
#
# Knobs (environment): ROUNDS (4), DURATION (10), WARMUP (2), CONNS (32), SKIP_BUILD=1 (else
# this checkout's loadgen is built in release), CARGO_TARGET_DIR, RESULTS_DIR,
# WAIT_IDLE (60), MAX_OTHER (0.10), TRIES (1 here: a busy try is kept and flagged).
set -euo pipefail

[[ $# -eq 2 ]] || { sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
A_BIN=$(realpath "$1")
B_BIN=$(realpath "$2")
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-32}
CLIENT_THREADS=1
TRIES=${TRIES:-1}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# Only the driver is built here; the two platform binaries are given.
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    (cd "$(dirname "${BASH_SOURCE[0]}")/.." && cargo build --release -p loadgen >&2)
fi
export SKIP_BUILD=1
# shellcheck source=loadgen/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

# wrk_run LABEL URL [HEADER]: one wrk measurement, appended to $RESULTS as a JSON line.
wrk_run() {
    local label=$1 url=$2 out
    wait_idle
    wrk -t1 -c"$CONNS" -d"${WARMUP}s" ${3:+-H "$3"} "$url" >/dev/null
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency ${3:+-H "$3"} "$url")
    # wrk prints "Non-2xx or 3xx responses: N" when some failed: such a run does not count.
    if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
        echo "$label: wrk saw failures:" >&2
        echo "$out" >&2
        return 1
    fi
    awk -v label="$label" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        END { printf "{\"label\":\"%s\",\"driver\":\"wrk\",\"rps\":%s,\"p50_ms\":%s,\"p99_ms\":%s}\n", label, rps, p50, p99 }
    ' <<<"$out" | tee -a "$RESULTS" >&2
}

# loadgen_run LABEL SERVER_PID ARGS...: one loadgen measurement (its JSON line goes to $RESULTS).
loadgen_run() {
    local label=$1 pid=$2
    shift 2
    # shellcheck disable=SC2046
    measure "$label" "$LOADGEN" http "$@" -c "$CONNS" $(run_opts "$label" "$pid")
}

# turn NAME BINARY ROUND: one build's measurements in one round.
turn() {
    local name=$1 round=$3 jwt
    PLATFORM=$2
    rm -rf "$WORK/data-$name-$round"
    start_platform "$name-$round" info
    setup_user
    jwt=$(curl -fsS -X POST -H "Authorization: ApiKey $PAT" "$GATEWAY/api/v1/auth/token" |
        jq -er .results.accessToken)
    loadgen_run "$name loadgen PAT" "$PLATFORM_PID" --url "$GATEWAY/api/v1/user" --auth pat
    loadgen_run "$name loadgen JWT" "$PLATFORM_PID" --url "$GATEWAY/api/v1/user" --auth jwt
    wrk_run "$name wrk PAT" "$GATEWAY/api/v1/user" "Authorization: ApiKey $PAT"
    wrk_run "$name wrk JWT" "$GATEWAY/api/v1/user" "Authorization: Bearer $jwt"
    stop_server "$PLATFORM_TPID"
}

machine_info "A=$A_BIN B=$B_BIN ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS"
for bin in "$A_BIN" "$B_BIN"; do
    echo "$bin: built $(date -u -r "$bin" '+%Y-%m-%d %H:%M'), $(sha256sum "$bin" | cut -c1-12)" |
        tee -a "$RESULTS_DIR/machine.txt" >&2
done

timeout -k 5 "$SERVER_MAX_SECS" "$LOADGEN" reference-server --addr 127.0.0.1:0 \
    >"$WORK/reference.log" 2>&1 </dev/null &
REF_TPID=$!
SERVERS+=("$REF_TPID")
REF_PID=$(child_of "$REF_TPID")
REF_URL=$(wait_for "$WORK/reference.log" '^listening on ' | sed 's/^listening on //')

for round in $(seq "$ROUNDS"); do
    echo "== round $round of $ROUNDS" >&2
    loadgen_run "reference loadgen" "$REF_PID" --url "$REF_URL/"
    wrk_run "reference wrk" "$REF_URL/"
    if ((round % 2)); then
        turn A "$A_BIN" "$round"
        turn B "$B_BIN" "$round"
    else
        turn B "$B_BIN" "$round"
        turn A "$A_BIN" "$round"
    fi
done
stop_server "$REF_TPID"

# One row per label: the median req/s and p99 over the rounds, with their ranges.
jq -rs --argjson rounds "$ROUNDS" '
    def median: sort | if length % 2 == 1 then .[length / 2 | floor]
        else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def r0: . * 10 | round / 10;
    "| scenario | runs | req/s median | req/s range | p99 ms median | p99 ms range | most other CPU (cores) |",
    "|---|---:|---:|---|---:|---|---:|",
    (group_by(.label)[] | . as $g | [$g[].rps] as $r | [$g[].p99_ms] as $p |
        "| \($g[0].label) | \($g | length) | \($r | median | round) | \($r | min | round)–\($r | max | round) | \($p | median * 1000 | round / 1000) | \($p | min * 1000 | round / 1000)–\($p | max * 1000 | round / 1000) | \([$g[].other_cpu_cores // empty] | if length > 0 then max * 100 | round / 100 else "n/a" end) |")
' "$RESULTS" | tee "$RESULTS_DIR/tables.md"
echo >&2
echo "results kept in $RESULTS_DIR" >&2
