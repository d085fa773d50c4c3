#!/usr/bin/env bash
# Open-model (arrival-rate) load on GET /health of the reference service (or,
# with TARGET=hello, GET /json of the bare axum `hello` of benches/src/bin),
# by loadgate and by oha with wrk2-style pacing, at a ladder of intended
# rates. Finds the highest rate that one core of each generator sustains.
#
# How: the target runs pinned to core 1; each generator runs pinned to core
# 0, alone, one after the other at every rate, on 127.0.0.1.
#   - loadgate: a `model: open` scenario (format version 2), ramping to the
#     rate over 1 s and then holding it for SECONDS (the judged `steady`
#     stage), at most 256 requests in flight (`max_users`). Latency counts
#     from each arrival's intended start, so a generator or target that falls
#     behind shows as latency, not as a quietly lower rate.
#   - oha -q RATE --latency-correction for SECONDS: the same correction
#     (latency from each request's scheduled time). It gets 64 connections
#     and one runtime thread (loadgate, on one core, runs one worker
#     thread). On this service oha keeps the same rates with 64 connections
#     as with 256, at a lower p99, so it is given the better setting.
#     Override with OHA_CONNECTIONS and OHA_THREADS.
#
# How to read the table, per intended rate:
#   achieved/s  successful responses per second (loadgate: over the steady
#               stage; oha: over its whole run)
#   p99 ms      99th percentile latency from the intended start
#   svc p99 ms  loadgate only: from the moment the request was sent
#   dropped%    loadgate: arrivals not run because all 256 were in flight,
#               of all the run's arrivals (ramp included)
#   late%       loadgate: arrivals handed out > 10 ms after they were due,
#               of the started ones (their latency still counts from due)
#   unsent%     oha: requests the schedule called for that were never sent
#   steal%      the host's steal time during each generator's run, of all
#               CPUs' time (benches/steal.sh): at more than about 1% the
#               hypervisor, not the generator, made that run's p99
# A rate is sustained when achieved >= 99% of intended and dropped (unsent)
# < 1%; that only counts requests, so read p99 (and late%) beside it: a
# generator near its limit still keeps the count while its arrivals queue,
# and p99 from the intended start climbs from milliseconds to seconds.
# Beyond its capacity achieved stops following the intended rate.
#
# Usage: benches/openloop.sh [SECONDS] [RATES...]
#   default: 10 s per run, rates 5000 10000 20000 22500 25000 30000 40000
#   60000 70000 80000 per second (about 4.5 minutes); the ladder reaches
#   past where either generator falls behind on a 2-core machine.
#   env: TARGET (health or hello), PORT (18092), OHA_CONNECTIONS (64),
#        OHA_THREADS (1), OHA (path), CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${1:-10}"
shift || true
RATES=("$@")
[ "${#RATES[@]}" -gt 0 ] || RATES=(5000 10000 20000 22500 25000 30000 40000 60000 70000 80000)
PORT="${PORT:-18092}"
TARGET="${TARGET:-health}"
MAX_USERS=256
OHA_CONNECTIONS="${OHA_CONNECTIONS:-64}"
OHA_THREADS="${OHA_THREADS:-1}"
SERVICE_CPU=1
GENERATOR_CPU=0
bin="${CARGO_TARGET_DIR:-target}/release"

OHA="${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}"
if [ ! -x "$OHA" ]; then
    echo "installing oha (cargo install oha --locked)" >&2
    cargo install oha --locked
    OHA="$(command -v oha || echo "$HOME/.cargo/bin/oha")"
fi
cargo build --release -q -p target-service -p harness -p benches

work="$(mktemp -d)"
service_pid=""
cleanup() {
    if [ -n "$service_pid" ]; then kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

base="http://127.0.0.1:$PORT"
case "$TARGET" in
health) path=/health ;;
hello) path=/json ;;
*) echo "TARGET is health or hello, not $TARGET" >&2; exit 2 ;;
esac
if curl -fs "$base$path" >/dev/null 2>&1; then
    echo "something already answers at $base; set PORT" >&2
    exit 1
fi
if [ "$TARGET" = hello ]; then
    taskset -c "$SERVICE_CPU" "$bin/hello" "127.0.0.1:$PORT" </dev/null &
else
    RUST_LOG=warn taskset -c "$SERVICE_CPU" "$bin/target-service" \
        --bind "127.0.0.1:$PORT" --seed-users 30 --servers-per-user 1 --metric-points 1 &
fi
service_pid=$!
for _ in $(seq 1 100); do curl -fs "$base$path" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "$base$path" >/dev/null || { echo "$TARGET did not answer at $base$path" >&2; exit 1; }

loadgate_flags=(--target "$base")
if "$bin/loadgate" run --help 2>&1 | grep -q -- '--no-server-metrics'; then
    loadgate_flags+=(--no-server-metrics)
fi

run_loadgate() { # RATE -> "achieved p99_us svc_p99_us dropped% late%"
    local rate="$1" rc=0
    cat > "$work/open-$rate.yaml" <<YAML
version: 2
name: openloop-$TARGET
load:
  model: open
  max_users: $MAX_USERS
  stages:
    - {rate: $rate/s, ramp: 1s}
    - {name: steady, hold: ${SECONDS_PER_RUN}s}
requests:
  - {name: $TARGET, method: GET, path: $path}
budgets:
  during: [steady]
YAML
    taskset -c "$GENERATOR_CPU" "$bin/loadgate" run "$work/open-$rate.yaml" \
        "${loadgate_flags[@]}" --out "$work/run-$rate" >"$work/loadgate-$rate.log" 2>&1 || rc=$?
    if [ "$rc" -gt 1 ]; then # 1 is a failed budget: still a measurement
        echo "loadgate exited $rc at $rate/s:" >&2
        tail -n 20 "$work/loadgate-$rate.log" >&2
        exit 1
    fi
    python3 - "$work/run-$rate/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
j = r["overall"]["judged"]
a = r["arrivals"]
svc = (j.get("service_latency") or {}).get("p99_us", 0)
# Successful requests sent per second. Since results version 4 the error
# rate also counts dropped arrivals (errors.dropped, not in count), so the
# failed requests are summed by kind instead.
failed = sum(j["errors"].get(k, 0) for k in ("connect", "timeout", "status", "check", "other"))
achieved = (j["count"] - failed) / max(j["duration_ms"] / 1000, 1e-9)
print(round(achieved), j["latency"]["p99_us"], svc,
      f'{100 * a["dropped"] / max(a["intended"], 1):.2f}',
      f'{100 * a["late"] / max(a["started"], 1):.2f}')
PY
}

run_oha() { # RATE -> "achieved p99_us unsent%"
    local rate="$1"
    taskset -c "$GENERATOR_CPU" "$OHA" -q "$rate" -z "${SECONDS_PER_RUN}s" -c "$OHA_CONNECTIONS" \
        --worker-threads "$OHA_THREADS" --latency-correction --no-tui --output-format json \
        "$base$path" >"$work/oha-$rate.json" 2>"$work/oha-$rate.log" || {
        echo "oha failed at $rate/s:" >&2
        tail -n 20 "$work/oha-$rate.log" >&2
        exit 1
    }
    python3 - "$work/oha-$rate.json" "$rate" "$SECONDS_PER_RUN" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
ok = sum(n for code, n in r["statusCodeDistribution"].items() if code.startswith("2"))
sent = sum(r["statusCodeDistribution"].values()) + sum(r["errorDistribution"].values())
intended = rate * seconds
p99 = r["latencyPercentiles"]["p99"] or 0  # seconds
print(round(ok / r["summary"]["total"]), round(p99 * 1e6),
      f'{100 * max(intended - sent, 0) / intended:.2f}')
PY
}

ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
sustained() { # RATE ACHIEVED DROPPED% -> exit 0 when the rate was kept
    awk -v r="$1" -v a="$2" -v d="$3" 'BEGIN { exit !(a >= 0.99 * r && d < 1) }'
}

# shellcheck source=benches/steal.sh
. benches/steal.sh
echo "GET $path of $TARGET, ${SECONDS_PER_RUN}s per run, target on core $SERVICE_CPU, generator on core $GENERATOR_CPU" >&2
best_loadgate=0
best_oha=0
rows=()
for rate in "${RATES[@]}"; do
    echo "  $rate/s: loadgate" >&2
    steal0="$(steal_ticks)" began=$SECONDS
    run_loadgate "$rate" >"$work/loadgate-$rate.row"
    l_steal="$(steal_pct "$steal0" "$(steal_ticks)" $((SECONDS - began)))"
    read -r l_rps l_p99 l_svc l_drop l_late <"$work/loadgate-$rate.row"
    sleep 1
    echo "  $rate/s: oha" >&2
    steal0="$(steal_ticks)" began=$SECONDS
    run_oha "$rate" >"$work/oha-$rate.row"
    o_steal="$(steal_pct "$steal0" "$(steal_ticks)" $((SECONDS - began)))"
    read -r o_rps o_p99 o_unsent <"$work/oha-$rate.row"
    sleep 1
    sustained "$rate" "$l_rps" "$l_drop" && [ "$rate" -gt "$best_loadgate" ] && best_loadgate="$rate"
    sustained "$rate" "$o_rps" "$o_unsent" && [ "$rate" -gt "$best_oha" ] && best_oha="$rate"
    rows+=("$(printf '%10s | %10s %9s %10s %8s %7s %6s | %10s %9s %8s %6s' "$rate" \
        "$l_rps" "$(ms "$l_p99")" "$(ms "$l_svc")" "$l_drop" "$l_late" "$l_steal" \
        "$o_rps" "$(ms "$o_p99")" "$o_unsent" "$o_steal")")
done

echo
printf '%10s | %-56s | %s\n' "" "loadgate open model (max_users $MAX_USERS)" \
    "oha -q --latency-correction (-c $OHA_CONNECTIONS)"
printf '%10s | %10s %9s %10s %8s %7s %6s | %10s %9s %8s %6s\n' intended/s \
    achieved/s "p99 ms" "svc p99 ms" dropped% late% steal% achieved/s "p99 ms" unsent% steal%
printf '%s\n' "${rows[@]}"

top_rate="$(printf '%s\n' "${RATES[@]}" | sort -n | tail -n 1)"
show() {
    if [ "$1" -eq 0 ]; then echo "none of the rates"
    elif [ "$1" -eq "$top_rate" ]; then echo "$1/s (the top of the ladder: may go higher)"
    else echo "$1/s"; fi
}
echo
echo "highest rate sustained (achieved >= 99% of intended, dropped/unsent < 1%):"
printf '  loadgate %s   oha %s   loadgate/oha %s\n' "$(show "$best_loadgate")" "$(show "$best_oha")" \
    "$(awk -v a="$best_loadgate" -v b="$best_oha" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
echo "(one core each, GET $path of $TARGET, ${SECONDS_PER_RUN}s per rate; p99 counts from each request's intended start)"
