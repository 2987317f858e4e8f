#!/usr/bin/env bash
# Resident memory of the all-in-one as issue #21 item 3 states it (docs/benchmarks.md, "Resident
# memory"): a fresh process on an empty data directory, started with `cargo run`'s environment
# (.cargo/config.toml's [env]) and the default settings; VmRSS (anonymous and file-backed parts,
# from /proc/PID/smaps_rollup) when idle, after the first sign-up and login, after creating a PAT
# and using it once, and after LOAD_SECS (30) of `wrk -t1 -c32` on `GET /api/v1/user` by PAT.
#
#   loadgen/bench-rss.sh [BINARY]     # default: $CARGO_TARGET_DIR/release/platform, built first
#
# Needs curl and wrk (Debian's packages). RUNS (1) fresh processes, one after the other.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOAD_SECS=${LOAD_SECS:-30}
RUNS=${RUNS:-1}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
BIN=${1:-}
if [[ -z $BIN ]]; then
    (cd "$ROOT" && cargo build --release -p platform >&2)
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/platform
fi
source "$ROOT/loadgen/cargo-run-env.sh"

PID=
DATA=
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    [[ -n $DATA ]] && rm -rf "$DATA"
    return 0
}
trap cleanup EXIT

rss() {
    awk '/^Rss/{r=$2} /^Anonymous/{a=$2} END{printf "%.1f MiB (anonymous %.1f, file-backed %.1f)", r/1024, a/1024, (r-a)/1024}' \
        "/proc/$PID/smaps_rollup"
}

post() { # post URL JSON: prints the body; the cookie jar keeps the session
    curl -sf -c "$DATA/cookies" -b "$DATA/cookies" -H 'content-type: application/json' -d "$2" "$1"
}

for run in $(seq "$RUNS"); do
    DATA=$(mktemp -d)
    env "${CARGO_RUN_ENV[@]}" PLATFORM_LISTEN_ADDR=127.0.0.1:0 METRICS_LISTEN_ADDR=127.0.0.1:0 \
        DATA_DIR="$DATA/data" "$BIN" >"$DATA/log" 2>&1 </dev/null &
    PID=$!
    for _ in $(seq 300); do
        grep -q '"platform started"' "$DATA/log" 2>/dev/null && break
        sleep 0.1
    done
    GW=$(grep '"platform started"' "$DATA/log" | sed -E 's/.*"url":"([^"]+)".*/\1/')
    [[ -n $GW ]] || { echo "the platform did not start:" >&2; cat "$DATA/log" >&2; exit 1; }
    sleep 3
    echo "run $run, idle: $(rss)"
    user='"email":"rss@example.com","password":"correct horse battery staple 1"'
    post "$GW/api/v1/user" "{$user,\"firstName\":\"R\",\"lastName\":\"S\"}" >/dev/null
    post "$GW/api/v1/login" "{$user}" >/dev/null
    sleep 1
    echo "run $run, after sign-up and login: $(rss)"
    PAT=$(post "$GW/api/v1/user/me/personal-access-tokens" '{"description":"rss"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
    curl -sf -H "Authorization: ApiKey $PAT" "$GW/api/v1/user" >/dev/null
    sleep 1
    echo "run $run, after a PAT: $(rss)"
    rate=$(wrk -t1 -c32 -d"${LOAD_SECS}s" -H "Authorization: ApiKey $PAT" "$GW/api/v1/user" | awk '/Requests\/sec/{print $2}')
    sleep 2
    echo "run $run, after ${LOAD_SECS} s of load ($rate requests/s): $(rss)"
    cleanup
    PID=
    DATA=
done
