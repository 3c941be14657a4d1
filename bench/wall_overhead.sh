#!/usr/bin/env bash
# Cost of a wall profile (/debug/pprof/wall) on a mostly idle process:
# takhind with THREADS idle threads (demo.idle_threads: parked in
# epoll_wait or a condition wait, plus one sleeper) beside the light
# reference workload (2 producers, 1 consumer at demo.rate 100), wall_hz HZ.
# Paired windows of SECONDS on one server, alternating which goes first:
# "off" (no profile) and "on" (a wall profile of SECONDS running). Process
# CPU from /proc/PID/stat (utime + stime, dead threads included: the
# ticker's too). Prints per pair the CPU of each window; then the added CPU
# as a share of one core, and the signals sent against thread-ticks
# counted idle (from the profiles' comments). Also the CPU of the wall
# sampler's own thread (prof-wall) over the "on" window, as a share of one
# core: most of what a profile adds, without the workload's noise (the
# profile asked lasts 2 s more, so the thread lives through the window).
#   bench/wall_overhead.sh [PAIRS] [SECONDS] [HZ] [THREADS]
source "$(dirname "$0")/lib.sh"
pairs=${1:-10} secs=${2:-60} hz=${3:-20} threads=${4:-1000}
bench_server "  wall_hz: $hz
  max_duration: 3600
demo:
  rate: 100
  idle_threads: $threads"
for _ in $(seq 100); do [ -n "${B_PORT:-}" ] && break; sleep 0.1
    B_PORT=$(admin profiler status | sed -nE 's/.*"listen":"[^"]*:([0-9]+)".*/\1/p'); done
tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$B_PID/stat"; }
# One profile first: every thread is seen and signalled once (that first
# look is not what a steady profile costs).
curl -s -o /dev/null "http://127.0.0.1:$B_PORT/debug/pprof/wall?seconds=2"
# The TID of the wall sampler's thread, empty when none.
ticker_tid() { grep -lx prof-wall /proc/"$B_PID"/task/*/comm 2>/dev/null | sed -E 's|.*/task/([0-9]+)/.*|\1|' | head -1; }
thread_ticks() { awk '{ print $14 + $15 }' "/proc/$B_PID/task/$1/stat" 2>/dev/null; }
# window off|on: CPU seconds the process used in it.
window() {
    local c0 c1 client="" tid="" t0=0 t1=0
    if [ "$1" = on ]; then
        curl -s -o "$B_TMP/wall.pb.gz" \
            "http://127.0.0.1:$B_PORT/debug/pprof/wall?seconds=$((secs + 2))" &
        client=$!
        for _ in $(seq 100); do tid=$(ticker_tid); [ -n "$tid" ] && break; sleep 0.05; done
    fi
    c0=$(cpu_ticks)
    [ -n "$tid" ] && t0=$(thread_ticks "$tid")
    sleep "$secs"
    c1=$(cpu_ticks)
    [ -n "$tid" ] && t1=$(thread_ticks "$tid")
    [ -n "$tid" ] && echo $((t1 - t0)) >>"$B_TMP/ticker"
    if [ -n "$client" ]; then
        wait "$client"
        go tool pprof -raw "$B_TMP/wall.pb.gz" 2>/dev/null |
            sed -nE 's/^Comment: wall signals: ([0-9]+) sent.*; ([0-9]+) thread-ticks idle.*; ([0-9]+) same call site.*/\1 \2 \3/p' \
            >>"$B_TMP/signals"
    fi
    awk -v c=$((c1 - c0)) -v t="$tck" 'BEGIN { printf "%.3f", c / t }'
}
echo "# wall_overhead: $threads idle threads, wall_hz $hz, $pairs pairs of ${secs} s windows," \
     "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
added=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) = 1 ]; then off=$(window off); on=$(window on)
    else on=$(window on); off=$(window off); fi
    echo "pair $i: off ${off} s CPU, on ${on} s CPU"
    added+=("$(awk -v a="$on" -v b="$off" -v s="$secs" 'BEGIN { printf "%.4f", 100 * (a - b) / s }')")
done
summary "added CPU, % of one core (on - off)" "${added[@]}"
mapfile -t ticker < <(awk -v t="$tck" -v s="$secs" '{ printf "%.4f\n", 100 * $1 / t / s }' "$B_TMP/ticker")
summary "prof-wall thread's CPU, % of one core" "${ticker[@]}"
awk '{ s += $1; i += $2; r += $3 } END { printf "signals %d, idle thread-ticks %d, same-site %d: %.2f%% of the looks signalled\n", s, i, r, 100 * s / (s + i + r) }' "$B_TMP/signals"
