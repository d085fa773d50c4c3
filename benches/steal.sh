# shellcheck shell=bash
# Steal time: the CPU time the hypervisor gave to other guests while this
# machine's vCPUs wanted to run. On a shared host it comes in bursts, and
# a burst during a run delays every process on the machine (generator,
# target, database) by milliseconds at a time: start lag and p99 then
# measure the host, not the software. The benchmark scripts print it
# beside each run so that such a run can be told apart. Sourced, not run.

# steal_ticks: the machine's steal so far, in clock ticks, all CPUs.
steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }

# steal_pct T0 T1 SECONDS: steal between two steal_ticks readings, as a
# percentage of all CPUs' time over SECONDS of wall time.
steal_pct() {
    awk -v t0="$1" -v t1="$2" -v s="$3" -v hz="$(getconf CLK_TCK)" -v n="$(nproc --all)" \
        'BEGIN { if (s > 0) printf "%.1f", 100 * (t1 - t0) / hz / (s * n); else print "n/a" }'
}
