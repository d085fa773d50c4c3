#!/usr/bin/env bash
# The task queue's throughput: tasks completed per second by one instance's
# workers, on PostgreSQL and Redis.
#
# An instance with no workers is filled with health-check tasks by loadgate
# (benches/queue-fill.yaml: 2000/s for 10 s); then a second instance with
# --task-workers N (default 10), pinned to one core, drains the queue while
# its /metrics is read every 200 ms. Throughput is timed from 10% to 90%
# of the tasks done, so neither the start-up nor the last stragglers count.
#
# Usage: benches/queue.sh [WORKERS]
#   env: PG_URL (postgres://postgres@127.0.0.1:5432), REDIS_URL, PORT
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS="${1:-10}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
PORT="${PORT:-18090}"
DRAIN_PORT=$((PORT + 1))
PREFIX="queue-bench-$$:"

cargo build --release -q -p target-service -p harness

psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS loadgate_queue_bench WITH (FORCE)'
psql "$PG_URL/postgres" -qc 'CREATE DATABASE loadgate_queue_bench'

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
}
trap cleanup EXIT

wait_for() {
    for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "nothing answered at $1" >&2
    exit 1
}

service() { # CPUS PORT WORKERS [ARG...]
    local cpus="$1" port="$2" workers="$3"
    shift 3
    RUST_LOG=warn taskset -c "$cpus" target/release/target-service --bind "127.0.0.1:$port" \
        --database-url "$PG_URL/loadgate_queue_bench" --redis-url "$REDIS_URL" \
        --cache-prefix "$PREFIX" --task-workers "$workers" "$@" &
    pids+=($!)
    wait_for "http://127.0.0.1:$port/health"
}

# The sum of a metric's samples in a /metrics text on stdin.
metric() { awk -v name="$1" '$1 == name || index($1, name "{") == 1 { sum += $2 } END { printf "%d", sum }'; }

service 0,1 "$PORT" 0 --seed-users 1000 --servers-per-user 1 --metric-points 0
target/release/loadgate run benches/queue-fill.yaml --target "http://127.0.0.1:$PORT" \
    --out "runs/queue-bench" >/dev/null
tasks="$(curl -fs "http://127.0.0.1:$PORT/metrics" | metric tasks_enqueued_total)"
echo "enqueued $tasks tasks; draining with $WORKERS workers on one core"

service 1 "$DRAIN_PORT" "$WORKERS"
low=$((tasks / 10))
high=$((tasks * 9 / 10))
t_low="" t_high=""
for _ in $(seq 1 3000); do
    done_now="$(curl -fs "http://127.0.0.1:$DRAIN_PORT/metrics" | metric task_attempts_total)"
    now="$(date +%s.%N)"
    [ -z "$t_low" ] && [ "$done_now" -ge "$low" ] && t_low="$now"
    if [ "$done_now" -ge "$high" ]; then t_high="$now"; break; fi
    sleep 0.2
done
[ -n "$t_high" ] || { echo "the queue did not drain" >&2; exit 1; }
awk -v n=$((high - low)) -v a="$t_low" -v b="$t_high" -v w="$WORKERS" \
    'BEGIN { printf "queue throughput: %.0f tasks/s (%d tasks in %.2f s, %d workers, one core)\n", n / (b - a), n, b - a, w }'
