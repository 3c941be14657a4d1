#!/usr/bin/env bash
# Overhead of the event hooks and of a running trace on the reference
# workload (demo.rate 0), in paired windows of one server, alternating
# which goes first. Ratios against the plain window (hooks removed):
#  - hooks: installed with nothing sampled (block_rate 10^12 ns);
#  - trace: /debug/pprof/trace?seconds=SECONDS recording.
# Throughput ratio (records/s; 1.0 = no loss) and CPU-per-record ratio
# (1.0 = no overhead; other load on the machine disturbs it less).
# A trace drops events once a thread's 16k-event buffer is full; keep
# SECONDS short enough (the figures print the drops) to measure recording.
#   bench/trace_overhead.sh [PAIRS] [SECONDS] [PRODUCERS]
source "$(dirname "$0")/lib.sh"
pairs=${1:-10} secs=${2:-0.8} producers=${3:-2}
bench_server "demo:
  rate: 0
  producers: $producers"
sleep 1
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$B_PID/stat"; }
# window plain|hooks|trace: "records/s cpu_ticks_per_1000_records", measured
# over SECONDS - 0.1 s inside the trace (recording only, not the writing of
# the JSON, which curl's time to first byte shows).
window() {
    local a b c0 c1 t0 t1 client=""
    [ "$1" = hooks ] && admin profiler set block_rate 1000000000000 >/dev/null
    if [ "$1" = trace ]; then
        curl -s -o "$B_TMP/trace.json" -w '%{time_starttransfer}' \
            "http://127.0.0.1:$B_PORT/debug/pprof/trace?seconds=$secs" >"$B_TMP/ttfb" &
        client=$!
    fi
    sleep 0.05
    a=$(produced) c0=$(cpu_ticks) t0=$(date +%s%N)
    sleep "$(awk -v s="$secs" 'BEGIN { print s - 0.1 }')"
    b=$(produced) c1=$(cpu_ticks) t1=$(date +%s%N)
    [ -n "$client" ] && wait "$client"
    [ "$1" = hooks ] && admin profiler set block_rate 0 >/dev/null
    awk -v n=$((b - a)) -v ns=$((t1 - t0)) -v c=$((c1 - c0)) \
        'BEGIN { printf "%d %.5f", n / (ns / 1e9), 1000 * c / n }'
}
ratio() { awk -v q="$1" -v p="$2" 'BEGIN { printf "%.4f", q / p }'; }
ht=() hc=() tt=() tc=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then p=$(window plain); h=$(window hooks); t=$(window trace)
    else t=$(window trace); h=$(window hooks); p=$(window plain); fi
    read -r pr pc <<<"$p"; read -r hr hcpu <<<"$h"; read -r tr tcpu <<<"$t"
    ht+=("$(ratio "$hr" "$pr")") hc+=("$(ratio "$hcpu" "$pc")")
    tt+=("$(ratio "$tr" "$pr")") tc+=("$(ratio "$tcpu" "$pc")")
    drops=$(grep -oE '"events":[0-9]+,"dropped_events":[0-9]+' "$B_TMP/trace.json")
    echo "pair $i: plain $pr rec/s, hooks $hr, trace $tr ($drops, answer after $(cat "$B_TMP/ttfb") s)"
done
summary "throughput ratio, hooks installed" "${ht[@]}"
summary "CPU-per-record ratio, hooks installed" "${hc[@]}"
summary "throughput ratio, trace recording" "${tt[@]}"
summary "CPU-per-record ratio, trace recording" "${tc[@]}"
