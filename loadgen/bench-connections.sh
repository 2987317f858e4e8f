#!/usr/bin/env bash
# Issue #5's benchmark: see docs/benchmarks.md ("Connections").
#
#   loadgen/bench-connections.sh                    # SQLite: about 3 minutes after the build
#   BACKENDS="sqlite postgres" loadgen/bench-connections.sh
#
# Builds the release binaries (shared code: loadgen/bench-lib.sh), then on 127.0.0.1 only:
#   1. `loadgen envelope`: connections-svc's Keyring sealing and opening a 32-byte secret (a
#      password) and a 2300-byte one (a BigQuery key file), one thread back to back;
#   2. per backend: starts the all-in-one binary on a fresh data dir, registers an organization
#      admin with a PAT (`loadgen setup --org`), creates one connection with a password, then
#      measures through the gateway, closed loop, with CONNS requests in flight (each in turn):
#      POST /api/v1/connections (create: a new connection with a sealed password per request)
#      and GET /api/v1/connections/{uuid} (read);
# and prints the markdown tables.
#
# Knobs (environment): DURATION (15 s), WARMUP (2 s), CLIENT_THREADS (1), CONNS ("1 8"),
# ENVELOPE_SECS (5), BACKENDS ("sqlite"), PG_URL, and those of bench-lib.sh: CARGO_TARGET_DIR,
# SKIP_BUILD=1, RESULTS_DIR, WAIT_IDLE (60), MAX_OTHER (0.10), TRIES (3).
set -euo pipefail

DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
CLIENT_THREADS=${CLIENT_THREADS:-1}
CONNS=${CONNS:-1 8}
ENVELOPE_SECS=${ENVELOPE_SECS:-5}
BACKENDS=${BACKENDS:-sqlite}
# shellcheck source=loadgen/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"


machine_info "DURATION=$DURATION WARMUP=$WARMUP CLIENT_THREADS=$CLIENT_THREADS CONNS='$CONNS' ENVELOPE_SECS=$ENVELOPE_SECS BACKENDS='$BACKENDS'"
TABLES=$RESULTS_DIR/tables.md

echo "== 1. envelope encryption, one thread" >&2
{
    echo "| operation | secret bytes | per second | µs each |"
    echo "|---|---:|---:|---:|"
} >"$TABLES"
for bytes in 32 2300; do
    wait_idle
    "$LOADGEN" envelope --duration "$ENVELOPE_SECS" --secret-bytes "$bytes" --md \
        --json "$RESULTS" >>"$TABLES"
done
echo >>"$TABLES"
"$LOADGEN" table-header >>"$TABLES"

# row FILE COMMAND...: the command's stdout (a markdown row) into FILE, replaced by each try of
# `measure`, so that the table holds the kept try only.
row() {
    local file=$1
    shift
    "$@" >"$file"
}

BODY='{"provider":"postgresql","name":"Benchmark warehouse","host":"warehouse.example.com","port":"5432","identifier":"analyst","description":{"en":"bench"},"options":{"database":"analytics"},"secrets":{"password":"benchmark-password-0123456789"}}'

backend() {
    local kind=$1 p="" c id
    CURRENT_BACKEND=$kind
    # Every create request adds a connection to one organization: no cap in the way.
    PLATFORM_ENV=("CONNECTIONS_MAX_PER_ORGANIZATION=100000000")
    if [[ $kind == postgres ]]; then
        p=pg-
        PLATFORM_ENV+=("DATABASE_URL=$PG_URL" "SCHEMA_PREFIX=$PG_SCHEMA_PREFIX")
        PG_USED=1
    fi
    echo "== 2. $kind: create and read a connection through the gateway" >&2
    start_platform "$kind" info
    local out
    out=$("$LOADGEN" setup --gateway "$GATEWAY" --org "Benchmark org")
    PAT=$(sed -n 's/^PAT=//p' <<<"$out")
    export LOADGEN_PAT=$PAT
    if [[ $kind == postgres ]]; then
        # Open the pool's connections now (unrecorded), so that before_try finds their backends.
        "$LOADGEN" http --url "$GATEWAY/api/v1/connections" -c 8 --auth pat --warmup 0 \
            --duration 2 2>/dev/null
    fi
    id=$(curl -fsS -H "Authorization: ApiKey $PAT" -H 'content-type: application/json' \
        -d "$BODY" "$GATEWAY/api/v1/connections" | sed -nE 's/.*"connectionUuid":"([^"]+)".*/\1/p')
    [[ -n $id ]] || {
        echo "could not create the connection to read" >&2
        return 1
    }
    for c in $CONNS; do
        # shellcheck disable=SC2046
        measure "${p}connection-create-c$c" row "$WORK/create-$c.md" "$LOADGEN" http \
            --url "$GATEWAY/api/v1/connections" --method POST --body "$BODY" --expect-status 201 \
            -c "$c" --auth pat --md $(run_opts "${p}connection-create-c$c" "$PLATFORM_PID")
        cat "$WORK/create-$c.md" >>"$TABLES"
        # shellcheck disable=SC2046
        measure "${p}connection-read-c$c" row "$WORK/read-$c.md" "$LOADGEN" http \
            --url "$GATEWAY/api/v1/connections/$id" -c "$c" --auth pat --md \
            $(run_opts "${p}connection-read-c$c" "$PLATFORM_PID")
        cat "$WORK/read-$c.md" >>"$TABLES"
    done
    "$LOADGEN" rss --pid "$PLATFORM_PID" --label "${p}rss-after-connections" --json "$RESULTS"
    stop_server "$PLATFORM_TPID"
    [[ $kind != postgres ]] || drop_pg_schemas
    CURRENT_BACKEND=
}

for b in $BACKENDS; do
    case $b in
    sqlite | postgres) backend "$b" ;;
    *)
        echo "unknown backend $b (sqlite, postgres)" >&2
        exit 2
        ;;
    esac
done

cat "$TABLES"
echo >&2
echo "results kept in $RESULTS_DIR" >&2
