# Shared by the loadgen/bench*.sh scripts (sourced, not run): settings, the
# build, the results directory, process bookkeeping and the idle-machine discipline.
#
# The sourcing script sets its scenario knobs (DURATION, WARMUP, CLIENT_THREADS, ...) first.
# Common knobs: CARGO_TARGET_DIR (default ./target), SKIP_BUILD=1, RESULTS_DIR, WAIT_IDLE (60),
# MAX_OTHER (0.10), TRIES (3).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case $CARGO_TARGET_DIR in /*) ;; *) CARGO_TARGET_DIR=$ROOT/$CARGO_TARGET_DIR ;; esac
CORES=$(nproc)
# Hard upper bound on the life of every server started here.
SERVER_MAX_SECS=3600
WAIT_IDLE=${WAIT_IDLE:-60}
TRIES=${TRIES:-3}
MAX_OTHER=${MAX_OTHER:-0.10}

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

# PostgreSQL runs of the sourcing scripts: their schemas (dropped at the end), and the backends
# serving the platform, whose CPU belongs to the server under test, not to "other CPU".
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
PG_SCHEMA_PREFIX=bench_$(tr '[:upper:]' '[:lower:]' <<<"$STAMP")_
PG_USED=0
CURRENT_BACKEND=
drop_pg_schemas() {
    [[ $PG_USED == 1 ]] || return 0
    psql -q -v ON_ERROR_STOP=1 "$PG_URL" -c "DROP SCHEMA IF EXISTS ${PG_SCHEMA_PREFIX}identity, ${PG_SCHEMA_PREFIX}connections, ${PG_SCHEMA_PREFIX}projects CASCADE" >&2 ||
        echo "could not drop the schemas ${PG_SCHEMA_PREFIX}*" >&2
    PG_USED=0
}
cleanup_hook() {
    drop_pg_schemas
}
# Before every try of `measure`: the PostgreSQL backends serving the platform's connections
# (matched by client port) go into LOADGEN_ALSO_PIDS.
before_try() {
    unset LOADGEN_ALSO_PIDS
    [[ $CURRENT_BACKEND == postgres ]] || return 0
    local ports pids
    ports=$(ss -tnpH '( dport = :5432 )' | grep "pid=$PLATFORM_PID," |
        awk '{n = split($4, a, ":"); print a[n]}' | paste -sd, -)
    [[ -n $ports ]] || return 0
    pids=$(psql -Atq "$PG_URL" -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE client_port IN ($ports)")
    if [[ -n $pids ]]; then
        export LOADGEN_ALSO_PIDS=$pids
        echo "PostgreSQL backends of the platform: $pids" >&2
    fi
}
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
    # A sourcing script may define cleanup_hook (run after the servers stopped).
    if declare -F cleanup_hook >/dev/null; then
        cleanup_hook || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU cores the whole machine kept busy over one second (from /proc/stat).
busy_cores() {
    local a b
    a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    awk -v a="$a" -v b="$b" -v n="$CORES" 'BEGIN {split(a, x); split(b, y); t = y[2] - x[2]; printf "%.2f", (t > 0 ? n * (y[1] - x[1]) / t : 0)}'
}

# Waits (up to WAIT_IDLE seconds) until the machine is idle before a scenario.
wait_idle() {
    local limit=${WAIT_IDLE:-0} waited=0 busy
    [[ $limit -gt 0 ]] || return 0
    while busy=$(busy_cores); awk -v b="$busy" 'BEGIN {exit !(b > 0.15)}'; do
        if [[ $waited -ge $limit ]]; then
            echo "machine still busy ($busy cores) after ${limit}s; going on" >&2
            return 0
        fi
        [[ $waited -eq 0 ]] && echo "waiting for the machine to fall idle ($busy cores busy) ..." >&2
        waited=$((waited + 1))
    done
}

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

# start_platform NAME RUST_LOG: sets PLATFORM_TPID, PLATFORM_PID, GATEWAY, IDENTITY. The data
# dir is $WORK/data-NAME (kept: starting NAME again reuses it); PLATFORM_ENV (an array of
# VAR=value) adds to the environment, e.g. DATABASE_URL for PostgreSQL.
PLATFORM_ENV=()
# The environment `cargo run` gives the platform, so that the figures are those of the README's
# first command.
source "$ROOT/loadgen/cargo-run-env.sh"
start_platform() {
    local log=$WORK/platform-$1.log data=$WORK/data-$1
    mkdir -p "$data"
    env "${CARGO_RUN_ENV[@]}" "${PLATFORM_ENV[@]}" RUST_LOG="$2" PLATFORM_LISTEN_ADDR=127.0.0.1:0 DATA_DIR="$data" \
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

# run_opts LABEL SERVER_PID [CLIENT_THREADS]
run_opts() {
    echo --label "$1" --warmup "$WARMUP" --duration "$DURATION" --threads "${3:-$CLIENT_THREADS}" \
        --server-pid "$2" --json "$RESULTS"
}

# measure LABEL COMMAND...: runs one scenario (after waiting for an idle machine), and runs it
# again, up to TRIES times in all, while other processes took more than MAX_OTHER cores of CPU
# during its window. Every attempt stays in the results file; the report uses the last one.
measure() {
    local label=$1 try other
    shift
    for try in $(seq "$TRIES"); do
        wait_idle
        # A sourcing script may define before_try (e.g. to find the processes serving the server).
        if declare -F before_try >/dev/null; then
            before_try
        fi
        "$@"
        other=$(grep -F "\"label\":\"$label\"" "$RESULTS" | tail -n1 |
            sed -nE 's/.*"other_cpu_cores":([0-9.eE+-]+).*/\1/p')
        if [[ -z $other ]] || awk -v o="$other" -v m="$MAX_OTHER" 'BEGIN {exit !(o <= m)}'; then
            return 0
        fi
        echo "$label: other processes used $other cores during the window (> $MAX_OTHER); attempt $try of $TRIES" >&2
    done
}

# machine_info SETTINGS: the machine, the build and the settings, into $RESULTS_DIR/machine.txt.
machine_info() {
    {
        echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M')"
        echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
        echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $CORES cores ($(nproc --all) online)"
        echo "cpu (/proc/cpuinfo model name): $(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n1)"
        echo "memory: $(free -m | awk '/^Mem:/ {print $2}') MiB"
        echo "kernel: $(uname -r)"
        echo "rustc: $(rustc --version)"
        echo "first build (README): $(readme_first_build)"
        echo "binaries: $PLATFORM built $(date -u -r "$PLATFORM" '+%Y-%m-%d %H:%M'), $LOADGEN built $(date -u -r "$LOADGEN" '+%Y-%m-%d %H:%M')"
        echo "settings: $1"
    } | tee "$RESULTS_DIR/machine.txt" >&2

    echo "machine busy before the run: $(busy_cores) cores" | tee -a "$RESULTS_DIR/machine.txt" >&2
}

# ---- wrk, the second driver (bench.sh step 6) ----

# require_wrk: fails, saying how to install it, unless wrk (and curl, for the JWT) is on PATH.
require_wrk() {
    if ! command -v wrk >/dev/null; then
        echo "wrk is not installed: install it with \`apt-get install wrk\` (Debian/Ubuntu), then run again" >&2
        exit 1
    fi
    if ! command -v curl >/dev/null; then
        echo "curl is not installed (the wrk step gets its access JWT with it): \`apt-get install curl\`" >&2
        exit 1
    fi
    WRK_VERSION=$(wrk -v 2>&1 | head -n1 | sed -E 's/ +Copyright.*//' || true)
}

# access_jwt GATEWAY PAT: a fresh access JWT for PAT (POST /api/v1/auth/token), as `loadgen http
# --auth jwt` gets one.
access_jwt() {
    local out jwt
    out=$(curl -sS --noproxy '*' -m 30 -X POST -H "Authorization: ApiKey $2" "$1/api/v1/auth/token")
    jwt=$(sed -nE 's/.*"accessToken":"([^"]+)".*/\1/p' <<<"$out")
    if [[ -z $jwt ]] || ! grep -q '"tokenType":"Bearer"' <<<"$out"; then
        echo "POST /api/v1/auth/token gave no Bearer token" >&2
        return 1
    fi
    echo "$jwt"
}

# wrk_ms VALUE: one of wrk's durations (e.g. 812.00us, 1.23ms, 2.00s, 1.00m) in milliseconds.
wrk_ms() {
    awk -v v="$1" 'BEGIN {
        if (match(v, /^[0-9.]+/) == 0) { print ""; exit }
        n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
        if (f < 0) print ""; else printf "%.3f", n * f
    }'
}

# wrk_run LABEL ROUND SERVER_PID URL [HEADER]: one wrk run (WRK_THREADS threads, CONNS
# connections, WRK_DURATION seconds, --latency) after waiting for an idle machine. Keeps wrk's
# output in $RESULTS_DIR/LABEL-ROUND.txt, and appends the parsed figures to $RESULTS (a JSON
# line with "driver":"wrk") and to $RESULTS_DIR/wrk.tsv. A run with any non-2xx/3xx answer or
# socket error, or whose output lacks a figure, is marked invalid (valid=false).
wrk_run() {
    local label=$1 round=$2 pid=$3 url=$4 out rps p50 p99 non2xx sock errors valid
    local tck cpu0 cpu1 t0 t1 stat0 stat1 server_cores wrk_cores other_cores
    out=$RESULTS_DIR/$label-$round.txt
    local args=(-t"$WRK_THREADS" -c"$CONNS" -d"${WRK_DURATION}s" --latency -H 'Accept: application/json')
    if [[ $# -ge 5 ]]; then
        args+=(-H "$5")
    fi
    wait_idle
    # CPU over the run: the server's (/proc/PID/stat), wrk's (the shell's reaped children, from
    # `times`, run in this shell so that it sees them) and the whole machine's (/proc/stat);
    # "other" is what is left, the CPU of everything else.
    tck=$(getconf CLK_TCK)
    times >"$WORK/times0"
    stat0=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    t0=$(date +%s.%N)
    timeout -k 5 $((WRK_DURATION + 60)) wrk "${args[@]}" "$url" >"$out" 2>&1 || true
    t1=$(date +%s.%N)
    cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    stat1=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    times >"$WORK/times1"
    server_cores=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$tck" -v s="$t0" -v e="$t1" \
        'BEGIN {printf "%.2f", (b - a) / t / (e - s)}')
    # `times` prints the children's "user system" on its second line, as e.g. "0m1.234s 0m0.5s".
    wrk_cores=$(awk -v s="$t0" -v e="$t1" '
        FNR == 2 {c = 0; for (i = 1; i <= 2; i++) {split($i, a, "m"); c += a[1] * 60 + a[2]}; v[++n] = c}
        END {printf "%.2f", (v[2] - v[1]) / (e - s)}' "$WORK/times0" "$WORK/times1")
    other_cores=$(awk -v a="$stat0" -v b="$stat1" -v n="$CORES" -v srv="$server_cores" -v w="$wrk_cores" \
        'BEGIN {split(a, x); split(b, y); t = y[2] - x[2]; o = (t > 0 ? n * (y[1] - x[1]) / t : 0) - srv - w
                printf "%.2f", (o < 0 ? 0 : o)}')
    rps=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$out")
    p50=$(wrk_ms "$(sed -nE 's/^ *50% +([0-9.]+[a-z]+).*/\1/p' "$out")")
    p99=$(wrk_ms "$(sed -nE 's/^ *99% +([0-9.]+[a-z]+).*/\1/p' "$out")")
    non2xx=$(sed -nE 's/^ *Non-2xx or 3xx responses: *([0-9]+).*/\1/p' "$out")
    non2xx=${non2xx:-0}
    # "Socket errors: connect 0, read 0, write 0, timeout 0" (only printed when one is non-zero).
    sock=$(awk '/^ *Socket errors:/ {for (i = 3; i <= NF; i++) s += $i} END {print s + 0}' "$out")
    errors=$((non2xx + sock))
    valid=true
    if [[ $errors -gt 0 || -z $rps || -z $p50 || -z $p99 ]]; then
        valid=false
        local missing=""
        [[ -n $rps && -n $p50 && -n $p99 ]] || missing=", a figure missing from its output"
        echo "wrk $label round $round INVALID: $non2xx non-2xx/3xx answers, $sock socket errors$missing (see $out)" >&2
    fi
    printf '{"driver":"wrk","label":"%s","round":%d,"rps":%s,"p50_ms":%s,"p99_ms":%s,"errors":%d,"non2xx":%d,"socket_errors":%d,"valid":%s,"connections":%d,"threads":%d,"duration_s":%d,"server_cpu_cores":%s,"client_cpu_cores":%s,"other_cpu_cores":%s}\n' \
        "$label" "$round" "${rps:-null}" "${p50:-null}" "${p99:-null}" "$errors" "$non2xx" "$sock" \
        "$valid" "$CONNS" "$WRK_THREADS" "$WRK_DURATION" "$server_cores" "$wrk_cores" "$other_cores" >>"$RESULTS"
    printf '%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n' "$label" "$round" "${rps:--}" "${p50:--}" "${p99:--}" \
        "$errors" "$valid" "$server_cores" "$wrk_cores" "$other_cores" >>"$RESULTS_DIR/wrk.tsv"
    echo "wrk $label round $round: ${rps:-?} req/s, p50 ${p50:-?} ms, p99 ${p99:-?} ms, errors $errors; CPU: server $server_cores, wrk $wrk_cores, other $other_cores cores" >&2
}

# readme_first_build: the README's measured first-build time, as it states it ("6 min 53 s
# measured on 2026-12-07"), so a report shows it beside the rates it was built for.
readme_first_build() {
    tr '\n' ' ' <"$ROOT/README.md" | grep -o '[0-9]* min [0-9]* s measured on [0-9-]*' | head -n1 || echo "not stated"
}

# wrk_table: the markdown table of the wrk runs in $RESULTS_DIR/wrk.tsv, with its header lines
# (machine, commit, time, wrk version). Per scenario, over its valid runs: the range of req/s,
# the range of its ratio to the reference run of the same round (when both are valid), the
# largest p99.
wrk_table() {
    local dirty=""
    git diff --quiet HEAD -- 2>/dev/null || dirty=-dirty
    echo "### wrk beside the reference (issue #21)"
    echo
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $CORES cores, $(free -m | awk '/^Mem:/ {print $2}') MiB memory, kernel $(uname -r)"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty"
    echo "- time (UTC): $(date -u '+%Y-%m-%d %H:%M')"
    echo "- first build (README): $(readme_first_build)"
    echo "- wrk: $WRK_VERSION; \`wrk -t$WRK_THREADS -c$CONNS -d${WRK_DURATION}s --latency\`, $WRK_ROUNDS rounds (reference, PAT, JWT in turn)"
    echo
    awk -F '\t' '
        function upd(k, v) {
            if (!(k in lo) || v < lo[k]) lo[k] = v
            if (!(k in hi) || v > hi[k]) hi[k] = v
        }
        {
            label[NR] = $1; round[NR] = $2; rps[NR] = $3 + 0; p99[NR] = $5 + 0; valid[NR] = ($7 == "true")
            runs[$1]++
            if (!($1 in other) || $10 + 0 > other[$1]) other[$1] = $10 + 0
            if (valid[NR]) { ok[$1]++; if ($1 == "wrk-reference") ref[$2] = $3 + 0 }
            else bad[$1] = bad[$1] (bad[$1] == "" ? "" : ", ") "round " $2 " (" $6 " errors)"
        }
        END {
            for (i = 1; i <= NR; i++) {
                if (!valid[i]) continue
                upd("rps " label[i], rps[i])
                upd("p99 " label[i], p99[i])
                if (label[i] != "wrk-reference" && (round[i] in ref) && ref[round[i]] > 0)
                    upd("ratio " label[i], rps[i] / ref[round[i]])
            }
            print "| scenario | valid runs | req/s (min–max) | ÷ reference, same round (min–max) | p99 max | other CPU max | invalid runs | target |"
            print "|---|---:|---:|---:|---:|---:|---|---|"
            n = split("wrk-reference wrk-pat wrk-jwt", order, " ")
            desc["wrk-reference"] = "reference (`GET /`, bare axum)"
            desc["wrk-pat"] = "`GET /api/v1/user`, PAT (`ApiKey`)"
            desc["wrk-jwt"] = "`GET /api/v1/user`, access JWT (`Bearer`)"
            for (j = 1; j <= n; j++) {
                l = order[j]
                if (!(l in runs)) continue
                r = ("rps " l in lo) ? sprintf("%.0f–%.0f", lo["rps " l], hi["rps " l]) : "n/a"
                q = (l == "wrk-reference") ? "1" : ("ratio " l in lo) ? sprintf("%.3f–%.3f", lo["ratio " l], hi["ratio " l]) : "n/a"
                p = ("p99 " l in hi) ? sprintf("%.2f ms", hi["p99 " l]) : "n/a"
                # The target: every run valid, every ratio >= 0.25, every p99 < 3 ms.
                t = "—"
                if (l != "wrk-reference")
                    t = (!(l in bad) && ("ratio " l in lo) && lo["ratio " l] >= 0.25 && hi["p99 " l] < 3) ? "met" : "**not met**"
                printf "| %s | %d of %d | %s | %s | %s | %.2f | %s | %s |\n", desc[l], ok[l] + 0, runs[l], r, q, p, other[l], (l in bad) ? bad[l] : "none", t
            }
        }' "$RESULTS_DIR/wrk.tsv"
    echo
    echo "Target (issue #21): PAT and JWT each ≥ 0.25 of the reference's req/s (the ratio column, every"
    echo "round) with p99 < 3 ms; an invalid run (any non-2xx/3xx answer or socket error) fails it."
    echo "\"other CPU max\": the most CPU (cores) anything but the server and wrk used during one of its"
    echo "runs; well above 0.10, the machine was shared and the figures are not clean."
}
