#!/usr/bin/env bash
# Checks the reference service against its own OpenAPI document with
# schemathesis (from PyPI, pinned): every check, every phase (examples,
# coverage, fuzzing, stateful), against the service on PostgreSQL + Redis.
# Any failure fails the script, and so does a run of fewer than
# --min-cases generated cases (default 1000): a run that tried little
# proves little.
#
# Usage:
#   ci/schemathesis.sh [--seed N | --random-seed] [--max-examples N] [--max-time S]
#                      [--min-cases N]
#
# Examples:
#   ci/schemathesis.sh                          # what .ci/run runs: seed 1
#   ci/schemathesis.sh --random-seed --max-examples 300 --max-time 600
#
# Environment: POSTGRES_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres;
# a database of its own is created and dropped), REDIS_URL (default
# redis://127.0.0.1:6379; a key prefix of its own), PORT (default 18282).
# schemathesis goes into a virtualenv under target/schemathesis-venv.
# The build reuses what `cargo test` built (the dev profile).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
seed=1
max_examples=150
max_time=""
min_cases=1000

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
need() { [ $# -ge 2 ] || { echo "schemathesis: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) need "$@"; seed="$2"; shift 2 ;;
        --random-seed) seed="$(( $(od -An -N4 -tu4 /dev/urandom) ))"; shift ;;
        --max-examples) need "$@"; max_examples="$2"; shift 2 ;;
        --max-time) need "$@"; max_time="$2"; shift 2 ;;
        --min-cases) need "$@"; min_cases="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "schemathesis: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '==> %s\n' "$*" >&2; }

venv="${CARGO_TARGET_DIR:-target}/schemathesis-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION"
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    fi
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

log "building the reference service"
cargo build -q -p target-service
bin="${CARGO_TARGET_DIR:-target}/debug/target-service"

admin_url="${POSTGRES_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
database="schemathesis_$$"
port="${PORT:-18282}"
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
service_pid=""
cleanup() {
    if [ -n "$service_pid" ]; then
        kill "$service_pid" 2>/dev/null || true
        wait "$service_pid" 2>/dev/null || true
    fi
    psql "$admin_url" -qc "drop database if exists $database with (force)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

psql "$admin_url" -qc "create database $database" >/dev/null
log "starting the service on $base (PostgreSQL database $database, Redis)"
RUST_LOG="${RUST_LOG:-error}" "$bin" \
    --bind "127.0.0.1:$port" \
    --database-url "${admin_url%/*}/$database" \
    --redis-url "${REDIS_URL:-redis://127.0.0.1:6379}" \
    --cache-prefix "schemathesis-$$:" \
    --seed-users 30 --servers-per-user 3 --metric-points 5 &
service_pid=$!
for _ in $(seq 1 120); do
    curl -fs "$base/ready" >/dev/null 2>&1 && break
    kill -0 "$service_pid" 2>/dev/null || { echo "schemathesis: the service exited" >&2; exit 3; }
    sleep 0.5
done
curl -fs "$base/ready" >/dev/null || { echo "schemathesis: the service is not ready" >&2; exit 3; }

# demo-key-21 is api tier (10 000 requests/min): the run is never throttled.
args=(run "$base/openapi.json" --url "$base"
    --checks all --phases examples,coverage,fuzzing,stateful
    --max-examples "$max_examples" --seed "$seed"
    --header "Authorization: Bearer demo-key-21"
    --report junit --report-dir "$work/report")
[ -n "$max_time" ] && args+=(--max-time "$max_time")
log "schemathesis ${args[*]}"
code=0
# schemathesis keeps a .schemathesis cache in its working directory: run it
# in the temporary one so that nothing lands in the checkout.
venv_abs="$(cd "$venv" && pwd)"
(cd "$work" && NO_COLOR=1 "$venv_abs/bin/schemathesis" "${args[@]}") | tee "$work/output.txt" ||
    code=$?
log "schemathesis exit $code (seed $seed)"
[ "$code" -eq 0 ] || exit "$code"
# The summary reads "N generated, N passed, ...".
cases="$(grep -oE '[0-9]+ generated' "$work/output.txt" | tail -1 | cut -d' ' -f1 || true)"
if [ -z "$cases" ] || [ "$cases" -lt "$min_cases" ]; then
    echo "schemathesis: ${cases:-no} cases generated, fewer than --min-cases $min_cases" >&2
    exit 1
fi
log "schemathesis: $cases cases generated (at least $min_cases)"
