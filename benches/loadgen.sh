#!/usr/bin/env bash
# Loads GET /health of the reference service for a few seconds in three
# ways: loadgate, a bare goose load test (goose's own metrics, nothing of
# loadgate's), and wrk. Each generator is pinned to one core and the service
# to the other. Prints rps and the ratios loadgate/goose and loadgate/wrk.
#
# Usage: benches/loadgen.sh [SECONDS] [USERS]
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${1:-10}"
USERS="${2:-32}"
PORT="${PORT:-18090}"
SERVICE_CPU=1
GENERATOR_CPU=0

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
cargo build --release -q -p target-service -p harness -p benches

work="$(mktemp -d)"
service_pid=""
cleanup() { [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

RUST_LOG=warn taskset -c "$SERVICE_CPU" target/release/target-service \
    --bind "127.0.0.1:$PORT" --seed-users 30 --servers-per-user 1 --metric-points 1 &
service_pid=$!
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -fs "$base/health" >/dev/null 2>&1 && break; sleep 0.2; done

cat > "$work/health.yaml" <<YAML
version: 1
name: loadgen-health
load:
  stages:
    - {users: $USERS, ramp: 1s}
    - {name: steady, hold: ${SECONDS_PER_RUN}s}
requests:
  - {name: health, method: GET, path: /health}
budgets:
  during: [steady]
YAML

taskset -c "$GENERATOR_CPU" target/release/loadgate run "$work/health.yaml" \
    --target "$base" --out "$work/run" >/dev/null 2>&1 || true
loadgate_rps="$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(round(r['overall']['judged']['rps']))" "$work/run/results.json")"

goose_rps="$(taskset -c "$GENERATOR_CPU" target/release/goose_health "$base" "$USERS" "$SECONDS_PER_RUN" 2>/dev/null \
    | sed -nE 's/^RESULT rps=([0-9]+).*/\1/p')"

wrk_rps="$(taskset -c "$GENERATOR_CPU" wrk -t1 -c"$USERS" -d"${SECONDS_PER_RUN}s" "$base/health" \
    | awk '/^Requests\/sec/ { printf "%.0f", $2 }')"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-30s %10s\n' generator "rps"
printf '%-30s %10s\n' "loadgate (HDR recording)" "$loadgate_rps"
printf '%-30s %10s\n' "goose (default metrics)" "$goose_rps"
printf '%-30s %10s\n' "wrk" "$wrk_rps"
printf '\nloadgate/goose %s   loadgate/wrk %s   (%s users, %ss, GET /health, one core each)\n' \
    "$(ratio "$loadgate_rps" "$goose_rps")" "$(ratio "$loadgate_rps" "$wrk_rps")" "$USERS" "$SECONDS_PER_RUN"
