#!/usr/bin/env bash
# loadgate beside its peers, closed model, in one run: loadgate, oha, wrk
# and a bare goose test each load the same URL of a bare axum server with
# the same number of connections, and the script prints what each one
# achieved and what each request cost it in CPU.
#
# How: `hello` (benches/src/bin/hello.rs) runs pinned to core 1 and answers
# GET /json with {"message":"hello","token":"t-1"}. Each generator runs
# pinned to core 0, alone, for SECONDS, on 127.0.0.1; they take turns
# round-robin (loadgate, oha, wrk, goose; again; ...) RUNS times, so a
# disturbance of the machine spreads over all four instead of one.
#   - loadgate: a closed-model scenario (format version 3, written by
#     benches/peers.sh): USERS users ramp up over 1 s, then the judged
#     `steady` stage holds them for SECONDS. Each iteration is a two-step
#     flow: check the status, the body (`hello`) and a header, capture
#     `token` from the JSON body, then send the user's key and the token
#     back as headers. Every latency is recorded at full µs resolution
#     (the default). rps is results.json's overall.judged.rps.
#   - oha -c USERS -z SECONDS with one runtime thread (--worker-threads 1),
#     JSON output; rps is its summary.requestsPerSec.
#   - wrk -t1 -cUSERS -dSECONDS; rps is its Requests/sec.
#   - goose_get (benches/src/bin/goose_get.rs): goose with its own metrics
#     and nothing of loadgate's, USERS users launched at once; rps over
#     goose's run after the launch.
# CPU: each tool runs under getrusage(RUSAGE_CHILDREN), so CPU s is the
# user+system time of the whole process (start-up and, for loadgate,
# writing its reports included). CPU µs/req divides it by the requests the
# tool counted: all of loadgate's (ramp included), oha's and wrk's, and
# goose's after its launch (its launch is ~1/100 s).
#
# How to read it: rps alone says which generator went faster, but when the
# fastest ones keep hello's core busy (`hello cpu%` near 100) the server is
# the limit and rps ratios measure hello, not the generators. CPU µs per
# request is then the fairer figure: what one request costs the generator's
# core. The ratios at the end are loadgate/peer for rps (>1: loadgate sent
# more) and peer/loadgate for CPU µs per request (>1: loadgate is cheaper
# per request). errors must be 0 everywhere, else the run is not a
# comparison. `others CPU s` is the CPU time the rest of the machine used
# during the run (all cores, less the generator's and hello's): more than a
# few tenths of a second means other processes took cores from the run, and
# that run says little; `steal%` is the host's steal time during the run
# (benches/steal.sh), and a run with more than about 1% of it was slowed
# by the hypervisor, not by its generator. The medians are over RUNS runs
# of each tool.
#
# Usage: benches/loadgen.sh [SECONDS] [USERS]
#   default: 10 s per run, 32 users (connections); about 2.5 minutes.
#   env: RUNS (3), PORT (18090), OHA (path), CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${1:-10}"
USERS="${2:-32}"
RUNS="${RUNS:-3}"
PORT="${PORT:-18090}"
# shellcheck source=benches/peers.sh
. benches/peers.sh
# shellcheck source=benches/steal.sh
. benches/steal.sh

ensure_wrk
OHA="${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}"
if [ ! -x "$OHA" ]; then
    echo "installing oha (cargo install oha --locked)" >&2
    cargo install oha --locked
    OHA="$(command -v oha || echo "$HOME/.cargo/bin/oha")"
fi
build_release
start_hello "$PORT"
write_scenario "$work/hello.yaml" "$USERS" "$SECONDS_PER_RUN"
"$bin/loadgate" validate "$work/hello.yaml" >/dev/null

# run_oha TAG -> "RPS REQUESTS CPU_S ERRORS"
run_oha() {
    local out="$work/oha-$1" res cpu rc
    res="$(counted "$((SECONDS_PER_RUN + 30))" "$out.json" "$out.err" \
        taskset -c "$GENERATOR_CPU" "$OHA" -c "$USERS" -z "${SECONDS_PER_RUN}s" \
        --worker-threads 1 --no-tui --output-format json "$url")"
    read -r cpu rc <<<"$res"
    if [ "$rc" -ne 0 ]; then
        echo "oha exited $rc:" >&2
        cat "$out.err" >&2
        exit 1
    fi
    python3 - "$out.json" "$cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
codes = r["statusCodeDistribution"]
# Requests still in flight at the deadline are cancelled, not failed.
failed = {k: n for k, n in r["errorDistribution"].items() if "deadline" not in k}
errors = sum(n for c, n in codes.items() if not c.startswith("2")) + sum(failed.values())
print(round(r["summary"]["requestsPerSec"]), sum(codes.values()) + sum(failed.values()),
      sys.argv[2], errors)
PY
}

# run_goose TAG -> "RPS REQUESTS CPU_S ERRORS"
run_goose() {
    local out="$work/goose-$1" res cpu rc
    res="$(counted "$((SECONDS_PER_RUN + 30))" "$out.log" "$out.err" \
        taskset -c "$GENERATOR_CPU" "$bin/goose_get" "$base" "$TARGET_PATH" "$USERS" "$SECONDS_PER_RUN")"
    read -r cpu rc <<<"$res"
    if [ "$rc" -ne 0 ]; then
        echo "goose_get exited $rc:" >&2
        tail -n 20 "$out.log" "$out.err" >&2
        exit 1
    fi
    sed -nE "s/^RESULT rps=([0-9]+) requests=([0-9]+) errors=([0-9]+).*/\1 \2 $cpu \3/p" "$out.log"
}

tools=(loadgate oha wrk goose)
echo "GET $TARGET_PATH of hello, ${SECONDS_PER_RUN}s x $RUNS runs per tool, $USERS connections;" \
    "hello on core $SERVICE_CPU, each generator alone on core $GENERATOR_CPU" >&2
: >"$work/rows"
for run in $(seq 1 "$RUNS"); do
    for tool in "${tools[@]}"; do
        echo "  run $run: $tool" >&2
        h0="$(hello_cpu)"
        m0="$(machine_cpu)"
        steal0="$(steal_ticks)"
        case "$tool" in
            loadgate) row="$(run_loadgate "$work/hello.yaml" "$run")" ;;
            oha) row="$(run_oha "$run")" ;;
            wrk) row="$(run_wrk "$run")" ;;
            goose) row="$(run_goose "$run")" ;;
        esac
        [ -n "$row" ] || { echo "$tool printed no result" >&2; exit 1; }
        read -r _ _ cpu _ <<<"$row"
        # hello's CPU over the seconds of load (loadgate's include its
        # ramp), and what the rest of the machine used meanwhile
        load_s="$SECONDS_PER_RUN"
        if [ "$tool" = loadgate ]; then load_s=$((SECONDS_PER_RUN + 1)); fi
        extra="$(awk -v h0="$h0" -v h1="$(hello_cpu)" -v m0="$m0" -v m1="$(machine_cpu)" -v cpu="$cpu" -v s="$load_s" \
            'BEGIN { printf "%.0f %.2f", 100 * (h1 - h0) / s, (m1 - m0) - (h1 - h0) - cpu }')"
        extra="$extra $(steal_pct "$steal0" "$(steal_ticks)" "$load_s")"
        echo "$run $tool $row $extra" >>"$work/rows"
        sleep 1
    done
done

echo
python3 - "$work/rows" "$SECONDS_PER_RUN" "$USERS" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
order = ["loadgate", "oha", "wrk", "goose"]
label = {"loadgate": "loadgate (checks, capture)", "oha": "oha (1 thread)",
         "wrk": "wrk -t1", "goose": "goose (bare)"}
per = {t: [] for t in order}
head = (f"{'run':>3}  {'generator':<27} {'rps':>8} {'requests':>10} {'CPU s':>7} {'CPU µs/req':>10}"
        f" {'errors':>6} {'hello cpu%':>10} {'others CPU s':>12} {'steal%':>6}")
print(head)
for run, tool, rps, requests, cpu, errors, busy, others, steal in rows:
    rps, requests, cpu = float(rps), int(requests), float(cpu)
    us = 1e6 * cpu / max(requests, 1)
    per[tool].append((rps, us))
    print(f"{run:>3}  {label[tool]:<27} {rps:>8.0f} {requests:>10} {cpu:>7.2f} {us:>10.2f}"
          f" {errors:>6} {busy:>10} {float(others):>12.2f} {steal:>6}")
print()
med = {t: (statistics.median(r for r, _ in v), statistics.median(u for _, u in v)) for t, v in per.items()}
print(f"medians over {len(per['loadgate'])} runs")
print(f"     {'generator':<27} {'rps':>8} {'CPU µs/req':>21}")
for t in order:
    print(f"     {label[t]:<27} {med[t][0]:>8.0f} {med[t][1]:>21.2f}")
print()
print(f"     {'ratio':<27} {'by rps':>8} {'by CPU µs/req':>21}")
for t in order[1:]:
    print(f"     {'loadgate vs ' + t:<27} {med['loadgate'][0] / med[t][0]:>8.2f} {med[t][1] / med['loadgate'][1]:>21.2f}")
print(f"\n(by rps: loadgate/peer, >1 means loadgate sent more; by CPU µs/req: peer/loadgate,"
      f"\n>1 means loadgate spends less CPU per request. {sys.argv[3]} connections, {sys.argv[2]}s per run,"
      f"\none core each; a hello cpu% near 100 means the server, not the generator, set the rps)")
PY
