# shellcheck shell=bash
# Shared by benches/loadgen.sh and benches/wrk-ratio.sh; sourced, not run.
# The bare axum `hello` target on core 1, the loadgate scenario both scripts
# load it with, and each generator run alone on core 0 with its CPU time
# counted. Expects `set -euo pipefail` and the repository root as the
# working directory.

SERVICE_CPU=1
GENERATOR_CPU=0
bin="${CARGO_TARGET_DIR:-target}/release"
# Every generator requests this path of hello: a small JSON body
# ({"message":"hello","token":"t-1"}) and the header x-request-token.
TARGET_PATH=/json

if [ "$(nproc --all)" -lt 2 ]; then
    echo "needs 2 CPUs: the target on core $SERVICE_CPU, a generator on core $GENERATOR_CPU" >&2
    exit 1
fi

ensure_wrk() {
    command -v wrk >/dev/null && return
    echo "installing wrk (Debian package)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk </dev/null
}

# One release build for both scripts: loadgate, hello and goose_get.
build_release() {
    cargo build --release -q -p harness -p benches
}

work="$(mktemp -d)"
hello_pid=""
stop_hello() {
    if [ -n "$hello_pid" ]; then
        kill "$hello_pid" 2>/dev/null || true
        wait "$hello_pid" 2>/dev/null || true
        hello_pid=""
    fi
    rm -rf "$work"
}
trap stop_hello EXIT

# start_hello PORT: hello on core 1 at 127.0.0.1:PORT; sets base and url.
start_hello() {
    base="http://127.0.0.1:$1"
    url="$base$TARGET_PATH"
    if curl -fs "$url" >/dev/null 2>&1; then
        echo "something already answers at $base; set PORT" >&2
        exit 1
    fi
    taskset -c "$SERVICE_CPU" "$bin/hello" "127.0.0.1:$1" </dev/null &
    hello_pid=$!
    for _ in $(seq 1 100); do curl -fs "$url" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fs "$url" | grep -q '"token":"t-1"' || { echo "hello did not answer at $url" >&2; exit 1; }
}

# CPU seconds so far of hello, and of the whole machine (all cores busy,
# steal included): read around a run, the rest of the machine's CPU time
# beside the generator's and hello's says whether other processes
# disturbed it.
hz="$(getconf CLK_TCK)"
hello_cpu() { awk -v hz="$hz" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$hello_pid/stat"; }
machine_cpu() { awk -v hz="$hz" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }

# write_scenario FILE USERS SECONDS: the closed-model scenario, format
# version 3. USERS users ramp up over 1 s, then hold for SECONDS in the
# judged `steady` stage. Each iteration is a two-step flow on the same URL:
# the first checks the body and captures `token` from it, the second sends
# the user's key and that token back as headers. Full µs HDR recording
# (the default), checks on every response.
write_scenario() {
    cat >"$1" <<YAML
version: 3
name: hello-json
load:
  model: closed
  stages:
    - {users: $2, ramp: 1s}
    - {name: steady, hold: ${3}s}
flows:
  - name: token_roundtrip
    steps:
      - name: get_token
        method: GET
        path: $TARGET_PATH
        checks: {status: 200, body_contains: hello, header: x-request-token}
        capture: {token: /token}
      - name: send_token
        method: GET
        path: $TARGET_PATH
        headers: {x-user: "{{ key }}", x-token: "{{ token }}"}
        checks: {status: 200, body_contains: hello}
budgets:
  during: [steady]
YAML
}

# counted LIMIT_S OUT ERR CMD...: runs CMD on core 0 (stdin closed, stdout
# to OUT, stderr to ERR, killed after LIMIT_S seconds) and prints
# "CPU_SECONDS EXIT_CODE": the user+system CPU time of CMD and its
# children, from getrusage(RUSAGE_CHILDREN) before and after.
counted() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys
limit, out, err, cmd = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
before = cpu()
with open(out, "wb") as o, open(err, "wb") as e:
    try:
        rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e, timeout=limit).returncode
    except subprocess.TimeoutExpired:  # run() has killed and reaped it
        rc = 124
print(f"{cpu() - before:.6f} {rc}")
PY
}

# Each run_* below loads hello for SECONDS with USERS connections and prints
# "RPS REQUESTS CPU_S ERRORS": the tool's own rate, the requests it counted
# over the CPU time CPU_S, and the failed ones among them.

# run_loadgate SCENARIO TAG: rps over the judged `steady` stage, requests
# over the whole run (ramp included, as its CPU time is).
run_loadgate() {
    local out="$work/loadgate-$2" res cpu rc
    res="$(counted "$((SECONDS_PER_RUN + 60))" "$out.log" "$out.err" \
        taskset -c "$GENERATOR_CPU" "$bin/loadgate" run "$1" --target "$base" \
        --no-server-metrics --out "$out")"
    read -r cpu rc <<<"$res"
    if [ "$rc" -gt 1 ]; then # 1 is a failed budget: still a measurement
        echo "loadgate exited $rc:" >&2
        tail -n 20 "$out.log" "$out.err" >&2
        exit 1
    fi
    python3 - "$out/results.json" "$cpu" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))["overall"]
a = o["all"]
print(round(o["judged"]["rps"]), a["count"], sys.argv[2], sum(a["errors"].values()))
PY
}

# run_wrk TAG: one thread, USERS connections.
run_wrk() {
    local out="$work/wrk-$1" res cpu rc
    res="$(counted "$((SECONDS_PER_RUN + 30))" "$out.log" "$out.err" \
        taskset -c "$GENERATOR_CPU" wrk -t1 -c"$USERS" -d"${SECONDS_PER_RUN}s" "$url")"
    read -r cpu rc <<<"$res"
    if [ "$rc" -ne 0 ]; then
        echo "wrk exited $rc:" >&2
        cat "$out.log" "$out.err" >&2
        exit 1
    fi
    awk -v cpu="$cpu" '
        /^Requests\/sec:/ { rps = $2 }
        / requests in / { requests = $1 }
        /Non-2xx or 3xx responses:/ { errors += $NF }
        /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%.0f %d %s %d\n", rps, requests, cpu, errors }' "$out.log"
}
