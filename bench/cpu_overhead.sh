#!/usr/bin/env bash
# CPU-profiling overhead on the reference workload, in paired windows of
# the same server without and with a CPU profile running, alternating
# which goes first. Two ratios, profiled/unprofiled:
#  - throughput (records per second; 1.0 = no loss), sensitive to other
#    load on the machine;
#  - CPU time per record (1.0 = no overhead), which other processes on a
#    shared machine disturb much less.
# Each for two windows of the profile:
#  - sampling: from just after the profile starts to just before it ends
#    (SIGPROF and the handler's stack walks: what every second of
#    profiling costs);
#  - whole: the whole request, with the end's conversion, symbolization
#    and encoding (what one profile of SECONDS costs in all).
# And the rate the kernel delivered in each profile (X-Takhin-Cpu-Hz:
# achieved=, samples per second of the process's CPU time).
#   bench/cpu_overhead.sh [PAIRS] [SECONDS] [HZ]
source "$(dirname "$0")/lib.sh"
pairs=${1:-5} secs=${2:-5} hz=${3:-100}
bench_server "  cpu_hz: $hz
demo:
  rate: 0
  producers: 2"
sleep 1
EDGE=0.3 # seconds left out at each end of the sampling window
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$B_PID/stat"; }
counters() { echo "$(produced) $(cpu_ticks) $(date +%s.%N)"; }
# rate A B: "records/s cpu_ticks_per_1000_records" between two counters.
rate() {
    read -r n0 c0 t0 <<<"$1"
    read -r n1 c1 t1 <<<"$2"
    awk -v n=$((n1 - n0)) -v c=$((c1 - c0)) -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%d %.5f", n / (t1 - t0), 1000 * c / n }'
}
inner=$(awk -v s="$secs" -v e="$EDGE" 'BEGIN { print s - 2 * e }')
# window profiled|plain: "sampling_rate sampling_cpu whole_rate whole_cpu"
window() {
    local a b c d pid=""
    a=$(counters)
    if [ "$1" = profiled ]; then
        curl -s -o /dev/null -D "$B_TMP/headers" \
            "http://127.0.0.1:$B_PORT/debug/pprof/profile?seconds=$secs" &
        pid=$!
    fi
    sleep "$EDGE"
    b=$(counters)
    sleep "$inner"
    c=$(counters)
    if [ -n "$pid" ]; then wait "$pid"; else sleep "$EDGE"; fi
    d=$(counters)
    echo "$(rate "$b" "$c") $(rate "$a" "$d")"
}
ratio() { awk -v q="$1" -v p="$2" 'BEGIN { printf "%.4f", q / p }'; }
st=() sc=() wt=() wc=() achieved=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then p=$(window plain); q=$(window profiled)
    else q=$(window profiled); p=$(window plain); fi
    read -r psr psc pwr pwc <<<"$p"
    read -r qsr qsc qwr qwc <<<"$q"
    st+=("$(ratio "$qsr" "$psr")") sc+=("$(ratio "$qsc" "$psc")")
    wt+=("$(ratio "$qwr" "$pwr")") wc+=("$(ratio "$qwc" "$pwc")")
    got=$(sed -nE 's/^X-Takhin-Cpu-Hz: .*achieved=([0-9.]+).*/\1/ip' "$B_TMP/headers" | tr -d '\r')
    achieved+=("${got:-0}")
    echo "pair $i: sampling: plain $psr rec/s ($psc ticks/1000 rec), profiled $qsr rec/s" \
         "($qsc); whole: plain $pwr ($pwc), profiled $qwr ($qwc); ${got:-?} Hz achieved"
done
summary "rate achieved (Hz of process CPU), asked $hz" "${achieved[@]}"
summary "throughput ratio, CPU profile at $hz Hz" "${st[@]}"
summary "CPU-per-record ratio, CPU profile at $hz Hz" "${sc[@]}"
summary "whole profile: throughput ratio" "${wt[@]}"
summary "whole profile: CPU-per-record ratio" "${wc[@]}"
