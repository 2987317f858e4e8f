#!/usr/bin/env bash
# Issue #6's benchmark: see docs/benchmarks.md ("Events between services").
#
#   loadgen/bench-events.sh                          # SQLite: about a minute after the build
#   BACKENDS="sqlite postgres" loadgen/bench-events.sh
#
# Builds the release binaries (shared code: loadgen/bench-lib.sh), then on 127.0.0.1 only, per
# backend: starts the all-in-one binary on a fresh data dir with CONSUME_EVENTS=false (so that
# loadgen runs the only consumer: projects-svc's own, over its database) and a known
# OPERATOR_CREDENTIAL (which loadgen presents to identity-svc's subscription), and runs `loadgen events`: BACKLOG events committed into identity-svc's
# outbox and applied by the consumer (events/s each way), then RATE events/s committed one by one
# for DURATION seconds and the delay from each commit to the commit of its effect (p50, p99).
#
# Knobs (environment): BACKLOG (20000), RATE (100), DURATION (15), BACKENDS ("sqlite"), PG_URL,
# and those of bench-lib.sh: CARGO_TARGET_DIR, SKIP_BUILD=1, RESULTS_DIR, WAIT_IDLE (60).
set -euo pipefail

BACKLOG=${BACKLOG:-20000}
RATE=${RATE:-100}
DURATION=${DURATION:-15}
BACKENDS=${BACKENDS:-sqlite}
# shellcheck source=loadgen/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"


machine_info "BACKLOG=$BACKLOG RATE=$RATE DURATION=$DURATION BACKENDS='$BACKENDS'"
TABLES=$RESULTS_DIR/tables.md
{
    echo "| backend | backlog events | committed per second | applied per second | steady rate (events/s) | events | delay p50 ms | delay p99 ms | delay max ms |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$TABLES"
CREDENTIAL=$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
export LOADGEN_OPERATOR_CREDENTIAL=$CREDENTIAL

for kind in $BACKENDS; do
    PLATFORM_ENV=("CONSUME_EVENTS=false" "OPERATOR_CREDENTIAL=$CREDENTIAL")
    db_args=()
    if [[ $kind == postgres ]]; then
        PLATFORM_ENV+=("DATABASE_URL=$PG_URL" "SCHEMA_PREFIX=$PG_SCHEMA_PREFIX")
        db_args=(--database-url "$PG_URL" --schema-prefix "$PG_SCHEMA_PREFIX")
        PG_USED=1
    fi
    echo "== $kind: events through the outbox and the subscription" >&2
    start_platform "$kind" info
    wait_idle
    "$LOADGEN" events --identity-url "http://$IDENTITY" --data-dir "$WORK/data-$kind" \
        "${db_args[@]}" --backlog "$BACKLOG" --rate "$RATE" --duration "$DURATION" \
        --label "$kind" --md --json "$RESULTS" >>"$TABLES"
    stop_server "$PLATFORM_TPID"
    [[ $kind != postgres ]] || drop_pg_schemas
done

cat "$TABLES"
echo >&2
echo "results kept in $RESULTS_DIR" >&2
