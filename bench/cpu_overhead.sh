#!/usr/bin/env bash
# CPU-profiling overhead on the reference workload, in paired windows of
# the same server without and with a CPU profile running, alternating
# which goes first. Two ratios, profiled/unprofiled:
#  - throughput (records per second; 1.0 = no loss), sensitive to other
#    load on the machine;
#  - CPU time per record (1.0 = no overhead), which other processes on a
#    shared machine disturb much less.
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
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$B_PID/stat"; }
window() { # window profiled|plain: "records/s cpu_ticks_per_1000_records"
    local a b c0 c1
    a=$(produced) c0=$(cpu_ticks)
    if [ "$1" = profiled ]; then
        curl -s -o /dev/null -D "$B_TMP/headers" \
            "http://127.0.0.1:$B_PORT/debug/pprof/profile?seconds=$secs"
    else
        sleep "$secs"
    fi
    b=$(produced) c1=$(cpu_ticks)
    awk -v n=$((b - a)) -v s="$secs" -v c=$((c1 - c0)) 'BEGIN { printf "%d %.5f", n / s, 1000 * c / n }'
}
tput=() cpu=() achieved=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then p=$(window plain); q=$(window profiled)
    else q=$(window profiled); p=$(window plain); fi
    read -r pr pc <<<"$p"
    read -r qr qc <<<"$q"
    tput+=("$(awk -v q="$qr" -v p="$pr" 'BEGIN { printf "%.4f", q / p }')")
    cpu+=("$(awk -v q="$qc" -v p="$pc" 'BEGIN { printf "%.4f", q / p }')")
    got=$(sed -nE 's/^X-Takhin-Cpu-Hz: .*achieved=([0-9.]+).*/\1/ip' "$B_TMP/headers" | tr -d '\r')
    achieved+=("${got:-0}")
    echo "pair $i: plain $pr rec/s ($pc ticks/1000 rec), profiled $qr rec/s ($qc ticks/1000 rec), ${got:-?} Hz achieved"
done
summary "rate achieved (Hz of process CPU), asked $hz" "${achieved[@]}"
summary "throughput ratio, CPU profile at $hz Hz" "${tput[@]}"
summary "CPU-per-record ratio, CPU profile at $hz Hz" "${cpu[@]}"
