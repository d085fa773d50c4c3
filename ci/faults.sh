#!/usr/bin/env bash
# The reference service under faults, with loadgate against it: its own
# Redis (its own port) and its own PostgreSQL cluster (initdb into a
# temporary directory, its own port), so that killing and restarting them
# touches nothing else on the machine.
#
#   run 1: Redis is killed during a load run and started again. There must
#          be 0 5xx, /ready must stay 200 (Redis "degraded"), no read after
#          a delete may be stale, and the service must fill Redis again
#          without a restart of its own.
#   run 2: PostgreSQL is stopped during a load run and started again. The
#          only 5xx may be 503, each with Retry-After; /ready answers 503
#          within about 500 ms; the first 2xx comes under 5 s after
#          PostgreSQL is back; every create answered 201 is in the database.
#
# Beside loadgate (scenarios/normal.yaml, scaled down), ci/faults_probe.py
# sends uniquely named creates, reads, deletes and /ready every 50 ms and
# records every status and Retry-After header: loadgate counts statuses,
# not headers or ids. Figures are printed; any failed check exits 1.
#
# Usage:
#   ci/faults.sh [--duration 30s]
#
# Environment: PORT (default 18484) for the service, FAULT_REDIS_PORT
# (16399), FAULT_PG_PORT (15499). Reuses the dev build that `cargo test`
# made.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=30
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) [ $# -ge 2 ] || { echo "faults: --duration needs a value" >&2; exit 2; }
            duration="${2%s}"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "faults: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$duration" in
    '' | *[!0-9]*) echo "faults: --duration takes whole seconds, like 30s" >&2; exit 2 ;;
esac
[ "$duration" -ge 20 ] || { echo "faults: --duration must be at least 20s" >&2; exit 2; }

log() { printf '==> %s\n' "$*" >&2; }
now() { date +%s.%N; }

port="${PORT:-18484}"
redis_port="${FAULT_REDIS_PORT:-16399}"
pg_port="${FAULT_PG_PORT:-15499}"
base="http://127.0.0.1:$port"
database_url="postgres://postgres@127.0.0.1:$pg_port/postgres"
probe_key=demo-key-999 # api tier: the probe is never throttled
bin="${CARGO_TARGET_DIR:-target}/debug"

pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
[ -x "$pg_bin/initdb" ] || pg_bin="$(dirname "$(command -v initdb || echo /nonexistent/initdb)")"
[ -x "$pg_bin/initdb" ] || { echo "faults: initdb not found (install postgresql)" >&2; exit 2; }

work="$(mktemp -d)"
chmod 755 "$work"
pgdata="$work/pgdata"
# initdb and the server refuse to run as root: as root, run them as postgres.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    as_pg=(runuser -u postgres --)
    install -d -o postgres -m 700 "$pgdata"
else
    install -d -m 700 "$pgdata"
fi
pg_ctl() { "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdata" "$@"; }

redis_pid=""
service_pid=""
cleanup() {
    for pid in $service_pid $redis_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pg_ctl stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

start_redis() {
    redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
        --logfile "$work/redis.log" &
    redis_pid=$!
    for _ in $(seq 1 50); do
        redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "faults: Redis did not start on port $redis_port" >&2
    exit 3
}

log "PostgreSQL cluster in $pgdata on port $pg_port ($pg_bin)"
"${as_pg[@]}" "$pg_bin/initdb" -D "$pgdata" -U postgres -A trust >"$work/initdb.log" 2>&1 ||
    { cat "$work/initdb.log" >&2; exit 3; }
pg_options="-p $pg_port -c listen_addresses=127.0.0.1 -k $pgdata -c fsync=off"
pg_ctl -o "$pg_options" -l "$pgdata/server.log" -w start >/dev/null
log "Redis on port $redis_port"
start_redis

log "building the service and loadgate"
cargo build -q -p target-service -p harness

log "starting the service on $base"
RUST_LOG="${RUST_LOG:-error}" "$bin/target-service" \
    --bind "127.0.0.1:$port" \
    --database-url "$database_url" \
    --redis-url "redis://127.0.0.1:$redis_port" \
    --seed-users 1000 --servers-per-user 3 --metric-points 5 \
    >"$work/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 1 240); do
    curl -fs "$base/ready" >/dev/null 2>&1 && break
    kill -0 "$service_pid" 2>/dev/null || { cat "$work/service.log" >&2; echo "faults: the service exited" >&2; exit 3; }
    sleep 0.5
done
curl -fs "$base/ready" >/dev/null || { echo "faults: the service is not ready" >&2; exit 3; }

# run NAME ACTION: loadgate and the probe for $duration s, with ACTION (a
# function) run beside them; then the check of that name.
run() {
    local name="$1" action="$2" out="$work/$1"
    mkdir -p "$out"
    : >"$out/events"
    log "run $name: loadgate scenarios/normal.yaml --scale 0.1 --duration ${duration}s, and the probe"
    "$bin/loadgate" run scenarios/normal.yaml --target "$base" --scale 0.1 \
        --duration "${duration}s" --server-metrics /metrics --out "$out/run" \
        >"$out/loadgate.log" 2>&1 &
    local loadgate_pid=$!
    python3 ci/faults_probe.py probe --base "$base" --key "$probe_key" \
        --seconds "$duration" --run "$name-$$" --out "$out/probe.jsonl" &
    local probe_pid=$!
    "$action" "$out/events"
    wait "$probe_pid"
    local code=0
    wait "$loadgate_pid" || code=$?
    if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then
        cat "$out/loadgate.log" >&2
        echo "faults: loadgate exited $code in run $name" >&2
        exit 1
    fi
    log "run $name: loadgate exited $code (1 is a failed budget, expected under a fault)"
}

# The outages start a third of the way in: after the ramp, with warm caches.
outage_at=$((duration / 3))

kill_redis() {
    local events="$1"
    sleep "$outage_at"
    kill -9 "$redis_pid"
    wait "$redis_pid" 2>/dev/null || true
    echo "redis_killed $(now)" >>"$events"
    log "Redis killed"
    sleep 6
    start_redis
    echo "redis_started $(now)" >>"$events"
    log "Redis started again"
    sleep 3
    echo "redis_keys_after $(redis-cli -p "$redis_port" dbsize)" >>"$events"
}

restart_postgres() {
    local events="$1"
    sleep "$outage_at"
    echo "postgres_stopped $(now)" >>"$events"
    pg_ctl -m fast -w stop >/dev/null
    echo "postgres_down $(now)" >>"$events"
    log "PostgreSQL stopped"
    sleep 2
    echo "postgres_starting $(now)" >>"$events"
    pg_ctl -o "$pg_options" -l "$pgdata/server.log" -w start >/dev/null
    until "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; do sleep 0.05; done
    echo "postgres_ready $(now)" >>"$events"
    log "PostgreSQL ready again"
}

code=0
run redis kill_redis
python3 ci/faults_probe.py redis --probe "$work/redis/probe.jsonl" \
    --results "$work/redis/run/results.json" --events "$work/redis/events" || code=1

run postgres restart_postgres
python3 ci/faults_probe.py postgres --probe "$work/postgres/probe.jsonl" \
    --results "$work/postgres/run/results.json" --events "$work/postgres/events" \
    --psql "$database_url" || code=1

if [ "$code" -ne 0 ]; then
    echo "faults: a check failed; the service's log:" >&2
    tail -50 "$work/service.log" >&2
fi
exit "$code"
