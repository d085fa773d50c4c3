#!/usr/bin/env bash
# A performance gate any CI system can call: build loadgate, start the
# reference service against PostgreSQL and Redis (or load --target), run a
# scenario, keep every output, and exit with loadgate's code:
#   0 every budget held (and no regression against --baseline)
#   1 a budget failed, the run was aborted, or a regression was found
#   2 bad input; 3 target unreachable; 130/143 interrupted
#
# Usage:
#   ci/perf-gate.sh [--scenario FILE] [--scale F] [--duration D] [--target URL]
#                   [--baseline RESULTS.json] [--max-regression 10%] [--out DIR] [--release]
#                   [--service-arg ARG]... [-- LOADGATE_RUN_ARGS...]
#
# Examples:
#   ci/perf-gate.sh --scenario scenarios/smoke.yaml --scale 5
#   ci/perf-gate.sh --scenario scenarios/normal.yaml --scale 0.1 \
#       --baseline baseline/results.json --out runs/gate
#   ci/perf-gate.sh --target http://127.0.0.1:8080 --scenario my.yaml
#   ci/perf-gate.sh --service-arg=--debug-list-delay=50ms ...   # a deliberate slowdown
#
# Outputs in --out (default runs/perf-gate): results.json, report.html, the
# PNG charts, junit.xml, summary.md and histograms.hlog.
#
# Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/loadgate_gate,
# created when psql can), REDIS_URL (default redis://127.0.0.1:6379), PORT
# (default 18181) for the reference service. The build reuses what
# `cargo test` built (the dev profile) unless --release is given.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=scenarios/smoke.yaml
out=runs/perf-gate
profile=dev
target=""
run_args=()
service_args=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
need() { [ $# -ge 2 ] || { echo "perf-gate: $1 needs a value" >&2; exit 2; }; }

while [ $# -gt 0 ]; do
    case "$1" in
        --scenario) need "$@"; scenario="$2"; shift 2 ;;
        --scale | --duration | --baseline | --max-regression) need "$@"; run_args+=("$1" "$2"); shift 2 ;;
        --target) need "$@"; target="$2"; shift 2 ;;
        --out) need "$@"; out="$2"; shift 2 ;;
        --release) profile=release; shift ;;
        --service-arg) need "$@"; service_args+=("$2"); shift 2 ;;
        --service-arg=*) service_args+=("${1#--service-arg=}"); shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; run_args+=("$@"); break ;;
        *) echo "perf-gate: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '==> %s\n' "$*" >&2; }

packages=(-p harness)
[ -z "$target" ] && packages+=(-p target-service)
log "building loadgate ($profile profile)"
cargo build -q --profile "$profile" "${packages[@]}"
bin="${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")"

service_pid=""
stop_service() {
    if [ -n "$service_pid" ]; then
        kill "$service_pid" 2>/dev/null || true
        wait "$service_pid" 2>/dev/null || true
    fi
}
trap stop_service EXIT

if [ -z "$target" ]; then
    database_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/loadgate_gate}"
    redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
    if command -v psql >/dev/null; then
        admin_url="${database_url%/*}/postgres"
        name="${database_url##*/}"
        if [ -z "$(psql "$admin_url" -Atc "select 1 from pg_database where datname = '$name'")" ]; then
            log "creating database $name"
            psql "$admin_url" -qc "create database \"$name\"" >/dev/null
        fi
    fi
    port="${PORT:-18181}"
    target="http://127.0.0.1:$port"
    # A fresh cache namespace per run: every gate starts from a cold Redis,
    # so a baseline and a later run meet the same conditions.
    log "starting the reference service on $target"
    RUST_LOG="${RUST_LOG:-warn}" "$bin/target-service" \
        --bind "127.0.0.1:$port" \
        --database-url "$database_url" \
        --redis-url "$redis_url" \
        --cache-prefix "gate-$$-$(date +%s):" \
        --seed-users 1000 --servers-per-user 3 --metric-points 5 \
        ${service_args[@]+"${service_args[@]}"} &
    service_pid=$!
    for _ in $(seq 1 120); do
        curl -fs "$target/ready" >/dev/null 2>&1 && break
        kill -0 "$service_pid" 2>/dev/null || { echo "perf-gate: the service exited" >&2; exit 3; }
        sleep 0.5
    done
    curl -fs "$target/ready" >/dev/null || { echo "perf-gate: the service is not ready" >&2; exit 3; }
    run_args+=(--server-metrics /metrics)
fi

log "running $scenario against $target"
mkdir -p "$out"
code=0
"$bin/loadgate" run "$scenario" --target "$target" --out "$out" \
    ${run_args[@]+"${run_args[@]}"} || code=$?
log "outputs in $out (report.html, junit.xml, summary.md, results.json); exit $code"
exit "$code"
