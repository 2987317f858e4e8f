#!/usr/bin/env bash
# Issue #4's benchmark: see docs/benchmarks.md ("The spaces listing with 10,000 spaces").
#
#   loadgen/bench-spaces.sh          # SQLite: about 3 minutes after the build
#
# Builds the release binaries (shared code: loadgen/bench-lib.sh), then on 127.0.0.1 only:
#   1. starts the all-in-one binary on a fresh data dir and, through the API
#      (`loadgen setup-spaces`), registers an admin with an organization and a project, and
#      invites and registers a member (org role `viewer`), each with a PAT; stops it;
#   2. seeds straight into the stopped platform's SQLite files (`loadgen seed-spaces | sqlite3`):
#      USERS users into the organization and GROUP_COUNT groups of 10-50 members (identity.db), and
#      SPACES spaces with user and group grants into the project (projects.db); starts it again
#      on the same data and checks that the listing holds exactly the spaces each caller must
#      see (worked out by `seed-spaces --part expected` from the generated rows);
#   3. measures GET /api/v1/projects/{uuid}/spaces as the member and as the admin (PATs), with
#      CONNS requests in flight (each value in turn), closed loop;
#   4. per size in COUNT_SIZES: the same preparation on a new data dir, the platform logging at
#      RUST_LOG=info,sqlx::query=debug,tower::buffer::service=trace, a few unrecorded listings,
#      then one listing with a known x-request-id; from that request's log lines it counts the
#      SQL statements (target sqlx::query; the PRAGMAs sqlx runs when the pool opens a new
#      connection are counted apart, as connection set-up), the gRPC calls sent (tower::buffer::service's
#      "sending request to buffer worker": one per call on a tonic channel, in the caller's
#      span) and the gRPC methods served (`grpc` spans);
# and prints the markdown tables with the issue #4 target checked.
#
# Knobs (environment): DURATION (15 s), WARMUP (2 s), CLIENT_THREADS (1), SPACES (10000),
# USERS (1000), GROUP_COUNT (100), CONNS ("1 8"), COUNT_SIZES ("100 10000"), and those of
# bench-lib.sh: CARGO_TARGET_DIR, SKIP_BUILD=1, RESULTS_DIR, WAIT_IDLE (60), MAX_OTHER (0.10),
# TRIES (3). SQLite only.
set -euo pipefail

DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
CLIENT_THREADS=${CLIENT_THREADS:-1}
SPACES=${SPACES:-10000}
USERS=${USERS:-1000}
GROUP_COUNT=${GROUP_COUNT:-100}
CONNS=${CONNS:-1 8}
COUNT_SIZES=${COUNT_SIZES:-100 10000}
# shellcheck source=loadgen/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

COUNT_LOG=info,sqlx::query=debug,tower::buffer::service=trace

machine_info "DURATION=$DURATION WARMUP=$WARMUP CLIENT_THREADS=$CLIENT_THREADS SPACES=$SPACES USERS=$USERS GROUP_COUNT=$GROUP_COUNT CONNS='$CONNS' COUNT_SIZES='$COUNT_SIZES'"

# listing PAT: the number of spaces in the caller's listing (fails on an error answer).
listing() {
    curl -fsS -H "Authorization: ApiKey $1" "${@:2}" "$GATEWAY/api/v1/projects/$PROJECT/spaces" |
        jq -e 'if .status == "ok" then (.results | length) else error("not ok") end'
}

# prepare NAME N RUST_LOG: a platform on data dir NAME with N spaces, USERS users and GROUP_COUNT
# groups, running (logging at RUST_LOG) and checked.
prepare() {
    local name=$1 n=$2 out t0 seed_args got
    start_platform "$name" info
    out=$("$LOADGEN" setup-spaces --gateway "$GATEWAY")
    eval "$(grep -E '^(ADMIN_EMAIL|ADMIN_UUID|ADMIN_PAT|ORG|PROJECT|MEMBER_EMAIL|MEMBER_UUID|MEMBER_PAT)=[A-Za-z0-9_.@-]+$' <<<"$out")"
    stop_server "$PLATFORM_TPID"
    seed_args=(seed-spaces --org "$ORG" --project "$PROJECT" --admin "$ADMIN_UUID"
        --member "$MEMBER_UUID" --hash-from "$ADMIN_EMAIL" --users "$USERS" --groups "$GROUP_COUNT"
        --spaces "$n")
    t0=$(date +%s.%N)
    "$LOADGEN" "${seed_args[@]}" --part identity | sqlite3 -bail "$WORK/data-$name/identity.db"
    "$LOADGEN" "${seed_args[@]}" --part projects | sqlite3 -bail "$WORK/data-$name/projects.db"
    echo "seeded $USERS users, $GROUP_COUNT groups, $n spaces in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s" >&2
    eval "$("$LOADGEN" "${seed_args[@]}" --part expected | grep -E '^[A-Z_]+=[0-9]+$')"
    start_platform "$name" "$3"
    got=$(listing "$MEMBER_PAT")
    [[ $got == "$MEMBER_VISIBLE" ]] || {
        echo "the member's listing holds $got spaces, expected $MEMBER_VISIBLE" >&2
        return 1
    }
    got=$(listing "$ADMIN_PAT")
    [[ $got == "$ADMIN_VISIBLE" ]] || {
        echo "the admin's listing holds $got spaces, expected $ADMIN_VISIBLE" >&2
        return 1
    }
    echo "listing: the member sees $MEMBER_VISIBLE of $n spaces, the admin $ADMIN_VISIBLE ($USER_GRANTS user and $GROUP_GRANTS group grants on spaces)" >&2
}

echo "== 1-3. $SPACES spaces, $USERS users, $GROUP_COUNT groups: the listing under load" >&2
prepare main "$SPACES" info
echo "{\"label\":\"spaces-check\",\"spaces\":$SPACES,\"users\":$USERS,\"groups\":$GROUP_COUNT,\"member_visible\":$MEMBER_VISIBLE,\"admin_visible\":$ADMIN_VISIBLE,\"user_grants\":$USER_GRANTS,\"group_grants\":$GROUP_GRANTS}" >>"$RESULTS"
for c in $CONNS; do
    for who in member admin; do
        pat_var=${who^^}_PAT
        # shellcheck disable=SC2046
        LOADGEN_PAT=${!pat_var} measure "spaces-$who-c$c" "$LOADGEN" http \
            --url "$GATEWAY/api/v1/projects/$PROJECT/spaces" -c "$c" --auth pat \
            $(run_opts "spaces-$who-c$c" "$PLATFORM_PID")
    done
done
"$LOADGEN" rss --pid "$PLATFORM_PID" --label "spaces-rss" --json "$RESULTS"
stop_server "$PLATFORM_TPID"

# count N WHO: one listing by WHO (member|admin) on the platform of size N; its log lines counted.
count() {
    local n=$1 who=$2 pat_var rid log=$WORK/platform-count-$1.log answer
    pat_var=${who^^}_PAT
    for i in 1 2 3; do listing "${!pat_var}" >/dev/null; done
    rid=bench-spaces-$n-$who-$STAMP
    answer=$(listing "${!pat_var}" -H "x-request-id: $rid")
    sleep 0.5
    grep -F "\"request_id\":\"$rid\"" "$log" >"$WORK/count-$n-$who.jsonl"
    jq -s -c --arg who "$who" --argjson n "$n" --argjson answer "$answer" '{
        label: "spaces-count-\($n)-\($who)", spaces: $n, caller: $who, answer: $answer,
        statements: map(select(.target == "sqlx::query" and (.summary | startswith("PRAGMA") | not))) | length,
        connection_setup: map(select(.target == "sqlx::query" and (.summary | startswith("PRAGMA")))) | length,
        grpc_calls: map(select(.target == "tower::buffer::service" and .message == "sending request to buffer worker")) | length,
        grpc_methods: ([.[] | .spans[]? | select(.name == "grpc") | .method] | unique | join(", ")),
        statements_by_method: (map(select(.target == "sqlx::query") | {m: ([.spans[]? | select(.name == "grpc") | .method][0] // "-"), s: .summary}) | group_by(.m) | map({key: .[0].m, value: map(.s)}) | from_entries)
    }' "$WORK/count-$n-$who.jsonl" | tee -a "$RESULTS" >&2
}

for n in $COUNT_SIZES; do
    echo "== 4. statements and gRPC calls of one listing, $n spaces" >&2
    prepare "count-$n" "$n" "$COUNT_LOG"
    count "$n" member
    count "$n" admin
    stop_server "$PLATFORM_TPID"
done

"$LOADGEN" report --spaces --json "$RESULTS" --cores "$CORES" | tee "$RESULTS_DIR/tables.md"
echo >&2
echo "results kept in $RESULTS_DIR" >&2
