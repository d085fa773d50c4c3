#!/usr/bin/env bash
# Does loadgate agree with oha where both should be right? An open 200/s on
# the bundled service's list_servers, slowed by `--debug-list-delay 20ms`
# so that the figures are not all under a millisecond, measured by loadgate
# (open model, latency from each arrival's due time) and by
# `oha -q 200 --latency-correction` (latency from each request's scheduled
# time), one after the other in one run. Prints both generators' p50 and
# p99 and their differences; they should agree within 1 ms.
#
# How: the service runs on SQLite and its in-process cache, pinned to core
# 1; each generator runs pinned to core 0, alone. Each uses its own api-tier
# demo key (10,000 requests a minute), so neither is rate-limited and both
# send the same request: GET /api/v1/servers?page=1&per_page=10.
#
# Usage: benches/agreement.sh [SECONDS] [RATE]   (default 20 s at 200/s)
#   env: PORT (18096), DELAY (20ms), OHA (path), CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${1:-20}"
RATE="${2:-200}"
PORT="${PORT:-18096}"
DELAY="${DELAY:-20ms}"
SERVICE_CPU=1
GENERATOR_CPU=0
PATH_AND_QUERY="/api/v1/servers?page=1&per_page=10"
bin="${CARGO_TARGET_DIR:-target}/release"

OHA="${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}"
if [ ! -x "$OHA" ]; then
    echo "installing oha (cargo install oha --locked)" >&2
    cargo install oha --locked
    OHA="$(command -v oha || echo "$HOME/.cargo/bin/oha")"
fi
cargo build --release -q -p target-service -p harness

work="$(mktemp -d)"
service_pid=""
cleanup() {
    if [ -n "$service_pid" ]; then kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

base="http://127.0.0.1:$PORT"
if curl -fs "$base/health" >/dev/null 2>&1; then
    echo "something already answers at $base; set PORT" >&2
    exit 1
fi
RUST_LOG=warn taskset -c "$SERVICE_CPU" "$bin/target-service" --bind "127.0.0.1:$PORT" \
    --seed-users 30 --servers-per-user 3 --metric-points 1 --debug-list-delay "$DELAY" &
service_pid=$!
for _ in $(seq 1 100); do curl -fs "$base/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs -H "Authorization: Bearer demo-key-21" "$base$PATH_AND_QUERY" >/dev/null ||
    { echo "the service did not answer at $base$PATH_AND_QUERY" >&2; exit 1; }

# shellcheck source=benches/steal.sh
. benches/steal.sh

cat >"$work/agreement.yaml" <<YAML
version: 4
name: agreement
load:
  model: open
  max_users: 64
  stages:
    - {rate: $RATE/s, ramp: 1s}
    - {name: steady, hold: ${SECONDS_PER_RUN}s}
requests:
  - name: list_servers
    method: GET
    path: $PATH_AND_QUERY
    headers:
      Authorization: Bearer demo-key-21
    checks:
      status: 200
budgets:
  during: [steady]
YAML

echo "loadgate: open $RATE/s for ${SECONDS_PER_RUN}s (after a 1 s ramp)" >&2
steal0="$(steal_ticks)" began=$SECONDS
code=0
taskset -c "$GENERATOR_CPU" "$bin/loadgate" run "$work/agreement.yaml" --target "$base" \
    --no-server-metrics --out "$work/loadgate" >"$work/loadgate.log" 2>&1 || code=$?
l_steal="$(steal_pct "$steal0" "$(steal_ticks)" $((SECONDS - began)))"
if [ "$code" -gt 1 ]; then
    echo "loadgate exited $code:" >&2
    tail -n 20 "$work/loadgate.log" >&2
    exit 1
fi
sleep 1
echo "oha: -q $RATE --latency-correction for ${SECONDS_PER_RUN}s" >&2
steal0="$(steal_ticks)" began=$SECONDS
taskset -c "$GENERATOR_CPU" "$OHA" -q "$RATE" -z "${SECONDS_PER_RUN}s" -c 64 --worker-threads 1 \
    --latency-correction --no-tui --output-format json \
    -H "Authorization: Bearer demo-key-22" "$base$PATH_AND_QUERY" >"$work/oha.json" 2>"$work/oha.log" ||
    { echo "oha failed:" >&2; tail -n 20 "$work/oha.log" >&2; exit 1; }
o_steal="$(steal_pct "$steal0" "$(steal_ticks)" $((SECONDS - began)))"

python3 - "$work/loadgate/results.json" "$work/oha.json" "$l_steal" "$o_steal" "$RATE" "$DELAY" <<'PY'
import json, sys
results, oha = (json.load(open(path)) for path in sys.argv[1:3])
l_steal, o_steal, rate, delay = sys.argv[3:7]
judged = results["overall"]["judged"]
ours = {q: judged["latency"][f"{q}_us"] / 1000 for q in ("p50", "p99")}
theirs = {q: (oha["latencyPercentiles"][q] or 0) * 1000 for q in ("p50", "p99")}
codes = oha["statusCodeDistribution"]
print(f"open {rate}/s on list_servers (service delay {delay}), latency in ms from each request's intended start")
print(f"{'':10} {'requests':>9} {'non-2xx':>8} {'p50':>8} {'p99':>8} {'steal%':>7}")
print(f"{'loadgate':10} {judged['count']:>9} {judged['errors']['status']:>8} "
      f"{ours['p50']:>8.2f} {ours['p99']:>8.2f} {l_steal:>7}")
print(f"{'oha':10} {sum(codes.values()):>9} {sum(n for c, n in codes.items() if not c.startswith('2')):>8} "
      f"{theirs['p50']:>8.2f} {theirs['p99']:>8.2f} {o_steal:>7}")
diff = {q: ours[q] - theirs[q] for q in ours}
print(f"{'difference':10} {'':>9} {'':>8} {diff['p50']:>+8.2f} {diff['p99']:>+8.2f}")
agree = all(abs(d) <= 1.0 for d in diff.values())
print("agree within 1 ms on p50 and p99:", "yes" if agree else "no")
PY
