#!/usr/bin/env bash
# Instructions per PAT `GET /api/v1/user` of the all-in-one under valgrind's callgrind, which
# counts instructions rather than time: two settings or two builds compare exactly on a busy
# machine (docs/benchmarks.md, issue #21, "where the logging's cost is"). The counters are zeroed
# after the set-up (sign-up, a PAT, five warm-up requests) and dumped after N sequential requests
# on one connection. Under valgrind SHA-256 runs in software (the CPU's SHA extensions are not
# seen), so its share is far above the real one.
#
#   loadgen/bench-instructions.sh BINARY [RUST_LOG] [N]     # defaults: info, 1000
#
# Needs valgrind, curl and python3. PORT (18080) is where the platform listens.
set -euo pipefail
BIN=$1
LOG=${2:-info}
N=${3:-1000}
PORT=${PORT:-18080}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/loadgen/cargo-run-env.sh"
WORK=$(mktemp -d)
VP=
cleanup() {
    [[ -n $VP ]] && kill "$VP" 2>/dev/null && wait "$VP" 2>/dev/null
    rm -rf "$WORK"
    return 0
}
trap cleanup EXIT
BASE=http://127.0.0.1:$PORT
env "${CARGO_RUN_ENV[@]}" RUST_LOG="$LOG" PLATFORM_LISTEN_ADDR=127.0.0.1:$PORT METRICS_LISTEN_ADDR=127.0.0.1:0 \
    DATA_DIR="$WORK/data" valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$BIN" \
    >"$WORK/log" 2>"$WORK/valgrind" </dev/null &
VP=$!
for _ in $(seq 600); do
    curl -sf -o /dev/null "$BASE/livez" && break
    sleep 0.2
done
post() { curl -sf -c "$WORK/cookies" -b "$WORK/cookies" -H 'content-type: application/json' -d "$2" "$BASE$1"; }
post /api/v1/user '{"email":"cg@example.com","password":"correct horse battery staple 1","firstName":"C","lastName":"G"}' >/dev/null
PAT=$(post /api/v1/user/me/personal-access-tokens '{"description":"cg"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
for _ in 1 2 3 4 5; do curl -sf -o /dev/null -H "Authorization: ApiKey $PAT" "$BASE/api/v1/user"; done
callgrind_control -z "$VP" >/dev/null 2>&1
python3 - "$PAT" "$N" "$PORT" <<'PY'
import http.client, sys
pat, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection('127.0.0.1', port)
for _ in range(n):
    c.request('GET', '/api/v1/user', headers={'Authorization': 'ApiKey ' + pat})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
callgrind_control -d "$VP" >/dev/null 2>&1
sleep 1
total=$(callgrind_annotate "$WORK/callgrind.out.1" 2>/dev/null | grep -m1 'PROGRAM TOTALS' | awk '{gsub(",", "", $1); print $1}')
echo "RUST_LOG=$LOG: $total instructions over $N requests, $((total / N)) per request"
if [[ -n ${KEEP_PROFILE:-} ]]; then
    cp "$WORK/callgrind.out.1" "$KEEP_PROFILE"
    echo "profile: $KEEP_PROFILE (callgrind_annotate --inclusive=yes $KEEP_PROFILE)"
fi
