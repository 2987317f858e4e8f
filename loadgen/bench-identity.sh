#!/usr/bin/env bash
# Issue #3's benchmark: see docs/benchmarks.md ("Logins under load and the 10,000-member list").
#
#   loadgen/bench-identity.sh                          # SQLite: about 4 minutes after the build
#   BACKENDS="sqlite postgres" loadgen/bench-identity.sh
#
# Builds the release binaries (shared code: loadgen/bench-lib.sh), then on 127.0.0.1 only:
#   1. raw Argon2id hash rate on 1 thread and on one thread per core (the login ceiling);
#   2. per backend: starts the all-in-one binary, registers an admin (`loadgen setup --org`),
#      stops it, inserts MEMBERS members straight into identity-svc's database
#      (`loadgen seed-members | sqlite3` or `| psql`: through the API each would cost one
#      Argon2id hash), starts it again on the same data, and measures:
#      a. GET /api/v1/org/users as the admin: first page, middle page, a search (MEMBER_CONNS
#         in flight, each value in turn);
#      b. two probes, GET /api/v1/user and GET /api/v1/org with a PAT, each PROBE_CONNS
#         connection(s) sending at most PROBE_RATE requests/s (a light, steady client), alone;
#      c. LOGIN_CONNS clients logging in back to back (saturating the password-hashing pool),
#         alone: logins/s against the raw hash rate;
#      d. b and c at once, each with its own histogram, over the same window.
# and prints the markdown tables with the issue #3 targets checked.
#
# Knobs (environment): DURATION (15 s), WARMUP (2 s), CLIENT_THREADS (1), ARGON_SECS (10),
# LOGIN_CONNS (8), PROBE_CONNS (1), PROBE_RATE (100 requests/s per probe connection), MEMBERS (10000), MEMBER_CONNS ("1 8"),
# BACKENDS ("sqlite"; add "postgres"), PG_URL (postgres://postgres@127.0.0.1:5432/test: the
# platform's schemas go under a fresh prefix bench_<time>_, dropped at the end), and those of
# bench-lib.sh: CARGO_TARGET_DIR, SKIP_BUILD=1, RESULTS_DIR, WAIT_IDLE (60), MAX_OTHER (0.10),
# TRIES (3). Every scenario waits for an idle machine first and is re-run while other processes
# took more than MAX_OTHER cores during its window, as in bench.sh. On PostgreSQL the backends
# serving the platform count as the server (LOADGEN_ALSO_PIDS), not as other processes.
set -euo pipefail

DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
CLIENT_THREADS=${CLIENT_THREADS:-1}
ARGON_SECS=${ARGON_SECS:-10}
LOGIN_CONNS=${LOGIN_CONNS:-8}
PROBE_CONNS=${PROBE_CONNS:-1}
PROBE_RATE=${PROBE_RATE:-100}
MEMBERS=${MEMBERS:-10000}
MEMBER_CONNS=${MEMBER_CONNS:-1 8}
BACKENDS=${BACKENDS:-sqlite}
# shellcheck source=loadgen/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

machine_info "DURATION=$DURATION WARMUP=$WARMUP CLIENT_THREADS=$CLIENT_THREADS LOGIN_CONNS=$LOGIN_CONNS PROBE_CONNS=$PROBE_CONNS PROBE_RATE=$PROBE_RATE MEMBERS=$MEMBERS MEMBER_CONNS='$MEMBER_CONNS' BACKENDS='$BACKENDS'"

echo "== 1. Argon2id raw hash rate" >&2
measure "argon2id x1" "$LOADGEN" argon2 --threads 1 --duration "$ARGON_SECS" --json "$RESULTS"
if [[ $CORES -gt 1 ]]; then
    measure "argon2id x$CORES" "$LOADGEN" argon2 --threads "$CORES" --duration "$ARGON_SECS" \
        --json "$RESULTS"
fi
# The same into one reused buffer per thread, as identity-svc's hashing threads hash.
measure "argon2id reused memory x1" "$LOADGEN" argon2 --reuse-memory --threads 1 \
    --duration "$ARGON_SECS" --json "$RESULTS"
if [[ $CORES -gt 1 ]]; then
    measure "argon2id reused memory x$CORES" "$LOADGEN" argon2 --reuse-memory \
        --threads "$CORES" --duration "$ARGON_SECS" --json "$RESULTS"
fi

# seed KIND: pipes the members' SQL into the stopped platform's identity database.
seed() {
    local sql_args=(seed-members --org "$ORG" --count "$MEMBERS" --hash-from "$EMAIL")
    case $1 in
    sqlite)
        "$LOADGEN" "${sql_args[@]}" --dialect sqlite | sqlite3 -bail "$WORK/data-$1/identity.db"
        ;;
    postgres)
        {
            echo "SET search_path TO ${PG_SCHEMA_PREFIX}identity;"
            "$LOADGEN" "${sql_args[@]}" --dialect postgres
        } | psql -q -v ON_ERROR_STOP=1 "$PG_URL" >/dev/null
        ;;
    esac
}

# backend KIND (sqlite|postgres): every scenario of step 2 on that backend.
backend() {
    local kind=$1 p="" t0 total c
    CURRENT_BACKEND=$kind
    PLATFORM_ENV=()
    if [[ $kind == postgres ]]; then
        p=pg-
        PLATFORM_ENV=("DATABASE_URL=$PG_URL" "SCHEMA_PREFIX=$PG_SCHEMA_PREFIX")
        PG_USED=1
    fi
    echo "== 2. $kind: $MEMBERS members seeded into one organization" >&2
    start_platform "$kind" info
    local out
    out=$("$LOADGEN" setup --gateway "$GATEWAY" --org "Benchmark org")
    PAT=$(sed -n 's/^PAT=//p' <<<"$out")
    EMAIL=$(sed -n 's/^EMAIL=//p' <<<"$out")
    PASSWORD=$(sed -n 's/^PASSWORD=//p' <<<"$out")
    ORG=$(sed -n 's/^ORG=//p' <<<"$out")
    export LOADGEN_PAT=$PAT LOADGEN_PASSWORD=$PASSWORD
    stop_server "$PLATFORM_TPID"
    t0=$(date +%s.%N)
    seed "$kind"
    echo "seeded $MEMBERS members in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s" >&2
    start_platform "$kind" info
    total=$(curl -fsS -H "Authorization: ApiKey $PAT" "$GATEWAY/api/v1/org/users?pageSize=1" |
        sed -nE 's/.*"totalResults":([0-9]+).*/\1/p')
    [[ $total == $((MEMBERS + 1)) ]] || {
        echo "the organization has ${total:-?} members, expected $((MEMBERS + 1))" >&2
        return 1
    }
    echo "the organization has $total members" >&2

    if [[ $kind == postgres ]]; then
        # Open the pool's connections now (unrecorded), so that before_try finds their backends.
        "$LOADGEN" http --url "$GATEWAY/api/v1/org/users" -c 8 --auth pat --warmup 0 \
            --duration 2 2>/dev/null
    fi
    local pages=$(((MEMBERS + 1 + 99) / 100))
    local -A query=(
        [first]="page=1&pageSize=100"
        [middle]="page=$((pages / 2))&pageSize=100"
        [search]="searchQuery=maria&pageSize=100"
    )
    for c in $MEMBER_CONNS; do
        for which in first middle search; do
            # shellcheck disable=SC2046
            measure "${p}members-$which-c$c" "$LOADGEN" http \
                --url "$GATEWAY/api/v1/org/users?${query[$which]}" -c "$c" --auth pat \
                $(run_opts "${p}members-$which-c$c" "$PLATFORM_PID")
        done
    done

    local probes=(--probe user=/api/v1/user --probe org=/api/v1/org
        --probe-connections "$PROBE_CONNS" --probe-rate "$PROBE_RATE")
    # shellcheck disable=SC2046
    measure "${p}probe-alone-user" "$LOADGEN" mixed --gateway "$GATEWAY" --logins 0 \
        "${probes[@]}" $(run_opts "${p}probe-alone" "$PLATFORM_PID")
    # shellcheck disable=SC2046
    measure "${p}alone-login" "$LOADGEN" mixed --gateway "$GATEWAY" --logins "$LOGIN_CONNS" \
        --email "$EMAIL" $(run_opts "${p}alone" "$PLATFORM_PID")
    # shellcheck disable=SC2046
    measure "${p}mixed-login" "$LOADGEN" mixed --gateway "$GATEWAY" --logins "$LOGIN_CONNS" \
        --email "$EMAIL" "${probes[@]}" $(run_opts "${p}mixed" "$PLATFORM_PID")
    "$LOADGEN" rss --pid "$PLATFORM_PID" --label "${p}rss-after-logins" --json "$RESULTS"
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

"$LOADGEN" report --identity --json "$RESULTS" --cores "$CORES" | tee "$RESULTS_DIR/tables.md"
echo >&2
echo "results kept in $RESULTS_DIR" >&2
