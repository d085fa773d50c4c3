#!/usr/bin/env bash
# Loads each endpoint of the architecture's §7 table on the reference
# service for a few seconds with wrk, on loopback, and prints rps, p95 and
# p99 beside the §7 row; then measures a bare axum "hello" handler in the
# same run as the ceiling of this machine.
#
# The service runs against PostgreSQL and Redis on 127.0.0.1 (a fresh
# database `loadgate_bench`), pinned to one core; wrk runs on the other.
#
# Usage: benches/service.sh [SECONDS_PER_ENDPOINT] [CONNECTIONS]
#   env: PG_URL (postgres://postgres@127.0.0.1:5432), REDIS_URL, PORT
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_ENDPOINT="${1:-5}"
CONNECTIONS="${2:-32}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
PORT="${PORT:-18080}"
HELLO_PORT="${HELLO_PORT:-18089}"
SERVERS_PER_USER=10
SERVICE_CPU=1
WRK_CPU=0

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi

cargo build --release -q -p target-service -p benches

psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS loadgate_bench WITH (FORCE)'
psql "$PG_URL/postgres" -qc 'CREATE DATABASE loadgate_bench'

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_for() {
    for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "nothing answered at $1" >&2
    exit 1
}

RUST_LOG=warn taskset -c "$SERVICE_CPU" target/release/target-service \
    --bind "127.0.0.1:$PORT" \
    --database-url "$PG_URL/loadgate_bench" \
    --redis-url "$REDIS_URL" \
    --cache-prefix "bench-$$:" \
    --seed-users 1000 --servers-per-user "$SERVERS_PER_USER" --metric-points 20 &
pids+=($!)
base="http://127.0.0.1:$PORT"
wait_for "$base/health"

# The Lua script derives server ids from user numbers; check that holds.
curl -fs -o /dev/null -H 'Authorization: Bearer demo-key-21' "$base/api/v1/servers/$((20 * SERVERS_PER_USER + 1))" \
    || { echo "seeded ids are not where api.lua expects them" >&2; exit 1; }

# endpoint method path                §7: p50 p95 p99 (ms)  rps
rows=(
    "health  GET /health                5   10  15   10000"
    "list    GET /api/v1/servers       50  150 300  5000"
    "create  POST /api/v1/servers       100 250 500  1000"
    "get     GET /api/v1/servers/:id   30  80  150  8000"
    "metrics GET /api/v1/metrics       40  100 200  6000"
)

run_wrk() { # ENDPOINT URL
    ENDPOINT="$1" SERVERS_PER_USER="$SERVERS_PER_USER" taskset -c "$WRK_CPU" \
        wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_ENDPOINT}s" -s benches/wrk/api.lua "$2" \
        | awk '/^RESULT/ { $1=""; print }'
}

field() { sed -E "s/.*$1=([0-9]+).*/\1/" <<<"$2"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

printf '\n%-26s %9s %9s %9s %9s %7s | %-22s %s\n' endpoint rps p50_ms p95_ms p99_ms errors "§7 p95/p99 ms, rps" verdict
for row in "${rows[@]}"; do
    read -r name method path _p50 p95 p99 rps_goal <<<"$row"
    result="$(run_wrk "$name" "$base")"
    rps="$(field rps "$result")"
    m95="$(field p95_us "$result")"
    m99="$(field p99_us "$result")"
    errors="$(field errors "$result")"
    verdict=met
    if [ "$rps" -lt "$rps_goal" ] || [ "$m95" -gt $((p95 * 1000)) ] || [ "$m99" -gt $((p99 * 1000)) ] || [ "$errors" -gt 0 ]; then
        verdict=MISSED
    fi
    printf '%-26s %9s %9s %9s %9s %7s | %-22s %s\n' "$method $path" "$rps" "$(ms "$(field p50_us "$result")")" \
        "$(ms "$m95")" "$(ms "$m99")" "$errors" "$p95/$p99, $rps_goal" "$verdict"
done

kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
taskset -c "$SERVICE_CPU" target/release/hello "127.0.0.1:$HELLO_PORT" &
pids+=($!)
wait_for "http://127.0.0.1:$HELLO_PORT/"
result="$(run_wrk hello "http://127.0.0.1:$HELLO_PORT")"
printf '%-26s %9s %9s %9s %9s %7s | %s\n' "GET / (bare axum ceiling)" "$(field rps "$result")" \
    "$(ms "$(field p50_us "$result")")" "$(ms "$(field p95_us "$result")")" "$(ms "$(field p99_us "$result")")" \
    "$(field errors "$result")" "same core, same wrk"
