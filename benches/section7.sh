#!/usr/bin/env bash
# The architecture's §7 benchmark table as loadgate measures it: each row
# of scenarios/benchmarks/ (an open-model scenario at the row's rate, with
# its P50/P95/P99 budgets, min_rps at 99% of the rate and at most 1% of
# arrivals dropped, a 10 s ramp and a judged 60 s hold) runs against a
# freshly seeded reference service on PostgreSQL and Redis, one row after
# the other. Then one table: §7's figures beside the measured ones, and
# loadgate's verdict.
#
# How, for each row:
#   - a fresh database `loadgate_sec7` (dropped and created again; no other
#     database is touched), and a Redis key prefix of the row's own, whose
#     keys are deleted after the row;
#   - the service (release build) on 127.0.0.1:PORT, pinned to core 1,
#     seeded with 1000 users (the rows use the 980 api-tier keys,
#     demo-key-21..1000, one per user), 10 servers each, 20 metric points
#     per server;
#   - PostgreSQL and Redis pinned to core 1 as well, where taskset may: the
#     postmaster (so every backend it forks lands there) and its current
#     processes, and every thread of redis-server. Their CPU masks are put
#     back on exit. PIN_SERVERS=0 leaves them alone;
#   - loadgate (release build) pinned to core 0: `loadgate run` on the row,
#     its outputs (report.html, results.json, ...) in OUT/ROW/.
# Everything is on loopback; every wait is bounded.
#
# The table, per row (measured over the judged hold):
#   §7 rps p50 p95 p99   the architecture's row
#   intended/s           the row's rate as run (§7's rps × F at --scale F)
#   achieved/s           requests sent per second (what min_rps judges)
#   p50 p95 p99          latency from when each arrival was due, in ms
#   err%                 failed requests
#   drop%                arrivals dropped (the max_dropped_rate budget)
#   lag p99              the generator's own start lag (due or claim to
#                        send), ms: the p99 of the worst judged second
#   sat                  judged seconds the generator was saturated in:
#                        start-lag p99 over 1 ms, or a thread over 90%
#   steal%               the host's steal time during the row, of all
#                        CPUs' time (benches/steal.sh): a few percent
#                        means the hypervisor stalled every process for
#                        milliseconds at a time, and lag and p99 show it
#   verdict              PASS when every budget of the row held, FAIL when
#                        one did not (listed under the table), ERROR when
#                        loadgate could not run the row
# The script exits 0 when every row passed, 1 otherwise.
#
# Usage: benches/section7.sh [--scale F] [--duration D] [--out DIR] [ROW...]
#   ROW: health list_servers create_server get_server get_metrics
#        (default: all five, in §7's order; about 7 minutes)
#   --scale F      passed to loadgate: rates, max_users, stage lengths and
#                  min_rps times F
#   --duration D   passed to loadgate: the ramp and the hold shrunk in
#                  proportion to fit in D (e.g. 15s)
#   --out DIR      where the rows' outputs and table.txt go (runs/section7)
#   A quick check of the script itself:
#     benches/section7.sh --scale 0.2 --duration 15s health
#   env: PG_URL (postgres://postgres@127.0.0.1:5432), REDIS_URL
#        (redis://127.0.0.1:6379), PORT (18093), PIN_SERVERS (1),
#        ROW_TIMEOUT (300: seconds before a row's loadgate is stopped),
#        CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=""
DURATION=""
OUT=runs/section7
ROWS=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --scale) SCALE="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) ROWS+=("$1"); shift ;;
    esac
done

# §7's table: row, method and path, P50, P95, P99 (ms), RPS. The scenario
# files carry the same numbers as budgets (a test holds them to §7).
SECTION_7=(
    "health        GET  /health              5   10  15  10000"
    "list_servers  GET  /api/v1/servers      50  150 300 5000"
    "create_server POST /api/v1/servers      100 250 500 1000"
    "get_server    GET  /api/v1/servers/:id  30  80  150 8000"
    "get_metrics   GET  /api/v1/metrics      40  100 200 6000"
)
if [ "${#ROWS[@]}" -eq 0 ]; then
    for row in "${SECTION_7[@]}"; do ROWS+=("${row%% *}"); done
fi
for name in "${ROWS[@]}"; do
    [ -f "scenarios/benchmarks/$name.yaml" ] || { echo "no row $name (scenarios/benchmarks/$name.yaml)" >&2; exit 2; }
done

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
PORT="${PORT:-18093}"
PIN_SERVERS="${PIN_SERVERS:-1}"
DATABASE=loadgate_sec7
SERVICE_CPU=1
GENERATOR_CPU=0
ROW_TIMEOUT="${ROW_TIMEOUT:-300}" # seconds: a full row runs 70 s plus its launch
bin="${CARGO_TARGET_DIR:-target}/release"
base="http://127.0.0.1:$PORT"

if [ "$(nproc --all)" -lt 2 ]; then
    echo "needs 2 CPUs: the service on core $SERVICE_CPU, loadgate on core $GENERATOR_CPU" >&2
    exit 1
fi

# PostgreSQL and Redis: installed and started when missing, as .ci/run does.
apt_updated=false
apt_install() {
    if [ "$apt_updated" = false ]; then apt-get update -qq; apt_updated=true; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}
if ! psql "$PG_URL/postgres" -Atc 'select 1' >/dev/null 2>&1; then
    if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        echo "installing PostgreSQL" >&2
        apt_install postgresql
    fi
    echo "starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    for _ in $(seq 1 30); do psql "$PG_URL/postgres" -Atc 'select 1' >/dev/null 2>&1 && break; sleep 1; done
    psql "$PG_URL/postgres" -Atc 'select 1' >/dev/null
fi
if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
    command -v redis-server >/dev/null || { echo "installing Redis" >&2; apt_install redis-server; }
    echo "starting Redis" >&2
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 30); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 1; done
    redis-cli -u "$REDIS_URL" ping >/dev/null
fi
if curl -fs "$base/health" >/dev/null 2>&1; then
    echo "something already answers at $base; set PORT" >&2
    exit 1
fi

cargo build --release -q -p target-service -p harness -p benches
# shellcheck source=benches/steal.sh
. benches/steal.sh
mkdir -p "$OUT"

# admin_sql SQL: on the server's `postgres` database, without the NOTICE
# that DROP ... IF EXISTS prints.
admin_sql() { PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL/postgres" -qc "$1" >/dev/null; }

service_pid=""
prefix=""
pinned=() # "pid cpu-list" of the processes whose mask this script changed
stop_service() {
    if [ -n "$service_pid" ]; then
        kill "$service_pid" 2>/dev/null || true
        wait "$service_pid" 2>/dev/null || true
        service_pid=""
    fi
    if [ -n "$prefix" ]; then
        redis-cli -u "$REDIS_URL" --scan --pattern "$prefix*" |
            xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
        prefix=""
    fi
}
cleanup() {
    stop_service
    admin_sql "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" 2>/dev/null || true
    local entry pid cpus child
    for entry in "${pinned[@]}"; do
        read -r pid cpus <<<"$entry"
        taskset -a -pc "$cpus" "$pid" >/dev/null 2>&1 || true
        # Backends the postmaster forked meanwhile inherited core 1.
        for child in $(pgrep -P "$pid" 2>/dev/null); do
            taskset -a -pc "$cpus" "$child" >/dev/null 2>&1 || true
        done
    done
}
trap cleanup EXIT

# pin PID: every thread of PID on the service's core, its old mask kept.
pin() {
    local cpus
    cpus="$(taskset -pc "$1" 2>/dev/null | sed 's/.*: //')" || return 1
    [ -n "$cpus" ] || return 1
    taskset -a -pc "$SERVICE_CPU" "$1" >/dev/null 2>&1 || return 1
    pinned+=("$1 $cpus")
}
if [ "$PIN_SERVERS" = 1 ]; then
    data_dir="$(psql "$PG_URL/postgres" -Atc 'show data_directory' 2>/dev/null || true)"
    postmaster="$(head -n 1 "$data_dir/postmaster.pid" 2>/dev/null || true)"
    redis_pid="$(redis-cli -u "$REDIS_URL" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')"
    if [ -n "$postmaster" ] && [ "$(cat "/proc/$postmaster/comm" 2>/dev/null)" = postgres ] && pin "$postmaster"; then
        for child in $(pgrep -P "$postmaster"); do taskset -a -pc "$SERVICE_CPU" "$child" >/dev/null 2>&1 || true; done
        echo "PostgreSQL (postmaster $postmaster and its processes) on core $SERVICE_CPU" >&2
    else
        echo "PostgreSQL left where it runs (no postmaster pid, or taskset may not move it)" >&2
    fi
    if [ -n "$redis_pid" ] && [ "$(cat "/proc/$redis_pid/comm" 2>/dev/null)" = redis-server ] && pin "$redis_pid"; then
        echo "Redis (pid $redis_pid) on core $SERVICE_CPU" >&2
    else
        echo "Redis left where it runs (not local, or taskset may not move it)" >&2
    fi
fi

loadgate_flags=(--target "$base")
[ -n "$SCALE" ] && loadgate_flags+=(--scale "$SCALE")
[ -n "$DURATION" ] && loadgate_flags+=(--duration "$DURATION")

# start_service ROW: a fresh database and key prefix, the service seeded on them.
start_service() {
    admin_sql "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)"
    admin_sql "CREATE DATABASE $DATABASE"
    prefix="sec7-$$-$1:"
    RUST_LOG=warn taskset -c "$SERVICE_CPU" "$bin/target-service" \
        --bind "127.0.0.1:$PORT" \
        --database-url "$PG_URL/$DATABASE" \
        --redis-url "$REDIS_URL" \
        --cache-prefix "$prefix" \
        --seed-users 1000 --servers-per-user 10 --metric-points 20 \
        >"$OUT/$1.service.log" 2>&1 </dev/null &
    service_pid=$!
    # Seeding runs before the service listens; /ready checks PostgreSQL and Redis.
    for _ in $(seq 1 600); do
        curl -fs "$base/ready" >/dev/null 2>&1 && return 0
        kill -0 "$service_pid" 2>/dev/null || break
        sleep 0.2
    done
    echo "the service did not become ready at $base:" >&2
    tail -n 20 "$OUT/$1.service.log" >&2
    exit 1
}

# summarise ROW RESULTS EXIT -> one line of measured fields, then any failed budgets.
summarise() {
    python3 - "$@" <<'PY'
import json, sys

row, path, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    r = json.load(open(path))
except (OSError, ValueError):
    print("- - - - - - - - ERROR(%d)" % code)
    sys.exit()

def ms(us):
    return "%.2f" % (us / 1000)

request = next((q for q in r["requests"] if q["name"] == row), None)
judged = (request or {}).get("judged")
if judged:
    lat = judged["latency"]
    measured = ["%.0f" % judged["rps"], ms(lat["p50_us"]), ms(lat["p95_us"]), ms(lat["p99_us"]),
                "%.2f" % (100 * judged["error_rate"])]
else:
    measured = ["-"] * 5

dropped = next((b.get("measured") for b in r["budgets"] if b["metric"] == "max_dropped_rate"), None)
if dropped is None and r.get("arrivals"):
    a = r["arrivals"]
    dropped = a["dropped"] / max(a["intended"], 1)
measured.append("-" if dropped is None else "%.2f" % (100 * dropped))

# The generator's own lateness (results format 4): the worst judged
# second's start-lag p99, and the judged seconds the fixed rule (start-lag
# p99 over 1 ms, or a thread over 90% of a core) called saturated.
generator = r.get("generator") or {}
lag = generator.get("start_lag_p99_max_us")
measured.append("-" if lag is None else ms(lag))
measured.append("%ds" % generator.get("saturated_seconds", 0))

verdict = {0: "PASS", 1: "FAIL"}.get(code, "ERROR(%d)" % code)
print(" ".join(measured + [verdict]))
for b in r["budgets"]:
    if not b["passed"]:
        unit = b["metric"]
        value = b.get("measured")
        def show(x):
            if x is None:
                return "not measured"
            if unit in ("p50", "p95", "p99"):
                return ms(x) + " ms"
            if unit.startswith("max_"):
                return "%.2f%%" % (100 * x)
            return "%.1f/s" % x
        print("  %s: %s %s %s, limit %s" % (row, b["scope"], unit, show(value),
              show(b["limit"])), file=sys.stderr)
PY
}

scale_note="${SCALE:+, --scale $SCALE}${DURATION:+, --duration $DURATION}"
echo "§7 rows: ${ROWS[*]}${scale_note}; the service, PostgreSQL and Redis on core $SERVICE_CPU, loadgate on core $GENERATOR_CPU" >&2
row_format='%-24s | %6s %5s %5s %5s | %10s %10s %7s %7s %7s %6s %6s %8s %5s %6s %s'
lines=()
failures="$OUT/failures.txt"
: >"$failures"
all_passed=true
for name in "${ROWS[@]}"; do
    spec=""
    for row in "${SECTION_7[@]}"; do [ "${row%% *}" = "$name" ] && spec="$row"; done
    read -r _ method path p50 p95 p99 rps <<<"$spec"
    intended="$(awk -v r="$rps" -v s="${SCALE:-1}" 'BEGIN { printf "%.0f", r * s }')"
    echo "  $name: seeding a fresh service" >&2
    start_service "$name"
    echo "  $name: loadgate at $intended/s" >&2
    rm -rf "${OUT:?}/$name"
    code=0
    steal0="$(steal_ticks)"
    began=$SECONDS
    timeout -s INT -k 30 "$ROW_TIMEOUT" taskset -c "$GENERATOR_CPU" "$bin/loadgate" run \
        "scenarios/benchmarks/$name.yaml" "${loadgate_flags[@]}" --out "$OUT/$name" \
        >"$OUT/$name.log" 2>&1 </dev/null || code=$?
    steal="$(steal_pct "$steal0" "$(steal_ticks)" $((SECONDS - began)))"
    [ "$code" -eq 0 ] || all_passed=false
    if [ "$code" -gt 1 ]; then
        echo "  $name: loadgate exited $code; the end of $OUT/$name.log:" >&2
        tail -n 10 "$OUT/$name.log" >&2
    fi
    measured="$(summarise "$name" "$OUT/$name/results.json" "$code" 2>>"$failures")"
    stop_service
    read -r achieved m50 m95 m99 err drop lag sat verdict <<<"$measured"
    lines+=("$(printf "$row_format" "$method $path" "$rps" "$p50" "$p95" "$p99" "$intended" \
        "$achieved" "$m50" "$m95" "$m99" "$err" "$drop" "$lag" "$sat" "$steal" "$verdict")")
    sleep 1
done

{
    echo "Architecture §7 benchmark table, measured by loadgate (open model, latency from when each request was due${scale_note})"
    echo "loadgate on core $GENERATOR_CPU; the reference service on PostgreSQL + Redis on core $SERVICE_CPU; 127.0.0.1"
    # (%-25s: "§" is two bytes, one column)
    printf '%-24s | %-25s | %s\n' "" "§7 (ms, rps)" "measured over the judged hold (ms)"
    printf "$row_format\n" row rps p50 p95 p99 intended/s achieved/s p50 p95 p99 err% drop% "lag p99" sat steal% verdict
    printf '%s\n' "${lines[@]}"
    if [ -s "$failures" ]; then
        echo
        echo "budgets that failed:"
        cat "$failures"
    fi
} | tee "$OUT/table.txt"
echo "(each row's report: $OUT/ROW/report.html)" >&2
$all_passed
