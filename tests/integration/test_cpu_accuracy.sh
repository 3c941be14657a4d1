#!/usr/bin/env bash
# How true the CPU profile is, with the sampler auto picks (windowed here):
# - a known CPU split (3:1 between calibrate_heavy and calibrate_light)
#   within 3 points, while the demo runs light beside it;
# - 1000 Hz asked: the busy calibration thread's samples come to at least
#   950 per second of its CPU time (from /proc, not from the profiler:
#   each signal is weighed by its thread's CPU clock, so the kernel's
#   work around context switches that a perf event does not see still
#   counts; the signals, where the samples are taken, are a rate that a
#   loaded machine bends: bench/bench_sampler measures them);
# - a lightly loaded server (demo.rate 300 and 1000, bursts between
#   sleeps): its samples in a 10 s profile against its CPU time in that
#   window as /proc counts it, within 0.85-1.15 (both without the
#   profiler's own HTTP threads, which go on encoding after the window).
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof

# cpu_ns PID: the CPU time of PID's threads but the profiler's own HTTP
# threads (civetweb-*, which also encode the profile after its window),
# in ns (schedstat).
cpu_ns() {
    local t
    for t in /proc/"$1"/task/*; do
        case $(cat "$t/comm" 2>/dev/null) in civetweb-*|"") continue ;; esac
        cat "$t/schedstat" 2>/dev/null
    done | awk '{ s += $1 } END { printf "%d", s }'
}
# thread_ns PID NAME: the CPU time of PID's thread named NAME, in ns.
thread_ns() {
    local t
    for t in /proc/"$1"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] && awk '{ print $1 }' "$t/schedstat"
    done | head -1
}
# samples FILE [TAGFOCUS]: the samples/count total of a profile, the
# profiler's own HTTP threads left out.
samples() {
    go tool pprof -raw -tagignore thread=civetweb ${2:+-tagfocus "$2"} "$1" 2>/dev/null |
        awk '/^Samples:/ { on = 1; next } /^Locations/ { on = 0 } on && $1 ~ /^[0-9]+$/ { s += $1 } END { print s + 0 }'
}
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# ---- the split, and 1000 Hz on a busy thread ----
write_config "$TK_TMP/cal.yaml" "  calibration: true"
sed -i 's/^  port: 0$/  port: 0\n  cpu_hz: 1000/' "$TK_TMP/cal.yaml"
start_server accuracy "$TK_TMP/cal.yaml" || { not_ok "takhind starts"; finish; }
# The CPU clocks are read as the profile's window opens and closes, not
# after its answer: the threads go on running while it is encoded.
before=$(thread_ns "$SERVER_PID" calibration)
http "/debug/pprof/profile?seconds=5" -D "$TK_TMP/cal.h" >"$TK_TMP/cal.pb.gz" &
fetch=$!
sleep 5
after=$(thread_ns "$SERVER_PID" calibration)
wait "$fetch"
stop_server
top=$(go tool pprof -top -unit=ms "$TK_TMP/cal.pb.gz" 2>&1)
echo "$top" | head -12 | sed 's/^/# /'
# cum, in ms: both burn CPU through the same helper.
cum() { echo "$top" | awk -v f="$1" '$NF == f { sub(/ms$/, "", $4); print $4 + 0 }'; }
heavy=$(cum calibrate_heavy) light=$(cum calibrate_light)
share=$(awk -v h="${heavy:-0}" -v l="${light:-0}" 'BEGIN { if (h + l > 0) printf "%.1f", 100 * h / (h + l); else print 0 }')
echo "# calibrate_heavy ${heavy} ms, calibrate_light ${light} ms: heavy share $share % (expected 75)"
check "calibrate_heavy's share is 75 % +- 3 with the demo running (got $share %)" within "$share" 72 78
n=$(samples "$TK_TMP/cal.pb.gz" thread=calibration)
hz=$(awk -v n="$n" -v a="${before:-0}" -v b="${after:-0}" 'BEGIN { if (b > a) printf "%.0f", n / ((b - a) / 1e9); else print 0 }')
echo "# calibration thread: $n samples over $(( (${after:-0} - ${before:-0}) / 1000000 )) ms of its CPU: $hz per CPU-second"
check "1000 Hz asked: at least 950 samples per CPU-second of the busy thread (got $hz)" within "$hz" 950 1100
signals=$(sed -nE 's/^X-Takhin-Cpu-Hz: .* signals=([0-9.]+).*/\1/ip' "$TK_TMP/cal.h" | tr -d '\r')
echo "# signals per CPU-second of the process: $signals"
check "the header says how many signals placed the samples" test -n "$signals"

# ---- light load ----
for rate in 300 1000; do
    TK_RATE=$rate write_config "$TK_TMP/light$rate.yaml" "  producers: 2"
    start_server "light$rate" "$TK_TMP/light$rate.yaml" || { not_ok "takhind starts at rate $rate"; continue; }
    sleep 1
    c0=$(cpu_ns "$SERVER_PID")
    http "/debug/pprof/profile?seconds=10" -D "$TK_TMP/light$rate.h" >"$TK_TMP/light$rate.pb.gz" &
    fetch=$!
    sleep 10
    c1=$(cpu_ns "$SERVER_PID")
    wait "$fetch"
    stop_server
    n=$(samples "$TK_TMP/light$rate.pb.gz")
    ratio=$(awk -v n="$n" -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", n / ((b - a) / 1e9 * 100) }')
    echo "# rate $rate: $n samples over $(( (c1 - c0) / 1000000 )) ms of CPU: $ratio of the rate; $(grep -i '^X-Takhin-Cpu-Hz' "$TK_TMP/light$rate.h" | tr -d '\r')"
    check "rate $rate: samples / (CPU from /proc x 100 Hz) within 0.85-1.15 (got $ratio)" within "$ratio" 0.85 1.15
done
finish
