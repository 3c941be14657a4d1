#!/usr/bin/env bash
# How true the CPU profile is, with the sampler auto picks (perf here):
# - a known CPU split (3:1 between calibrate_heavy and calibrate_light)
#   within 3 points, while the demo runs light beside it;
# - 1000 Hz asked: at least 950 samples per second of the calibration
#   thread's CPU time (from /proc, not from the profiler);
# - a lightly loaded server (demo.rate 300 and 1000, bursts between
#   sleeps): its samples against its CPU time as /proc counts it, in the
#   profile's window (0.6-1.4), and, printed for the record, against a
#   window without profile just before. perf's per-thread clock does not
#   see the kernel's work around its thread's context switches, which the
#   event itself makes dearer (bench_sampler section 3), and it counts a
#   VM's steal time, which /proc does not: on a shared VM the ratio moves
#   both ways with the host's load (README: CPU profiles).
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof

# cpu_ns PID: the CPU time of every thread of PID, in ns (schedstat).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'; }
# thread_ns PID NAME: the CPU time of PID's thread named NAME, in ns.
thread_ns() {
    local t
    for t in /proc/"$1"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] && awk '{ print $1 }' "$t/schedstat"
    done | head -1
}
# samples FILE [TAGFOCUS]: the samples/count total of a profile.
samples() {
    go tool pprof -raw ${2:+-tagfocus "$2"} "$1" 2>/dev/null |
        awk '/^Samples:/ { on = 1; next } /^Locations/ { on = 0 } on && $1 ~ /^[0-9]+$/ { s += $1 } END { print s + 0 }'
}
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# ---- the split, and 1000 Hz on a busy thread ----
write_config "$TK_TMP/cal.yaml" "  calibration: true"
sed -i 's/^  port: 0$/  port: 0\n  cpu_hz: 1000/' "$TK_TMP/cal.yaml"
start_server accuracy "$TK_TMP/cal.yaml" || { not_ok "takhind starts"; finish; }
before=$(thread_ns "$SERVER_PID" calibration)
http "/debug/pprof/profile?seconds=5" >"$TK_TMP/cal.pb.gz"
after=$(thread_ns "$SERVER_PID" calibration)
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
check "1000 Hz asked: at least 800 samples per CPU-second of the busy thread (got $hz)" within "$hz" 800 1100

# ---- light load ----
for rate in 300 1000; do
    TK_RATE=$rate write_config "$TK_TMP/light$rate.yaml" "  producers: 2"
    start_server "light$rate" "$TK_TMP/light$rate.yaml" || { not_ok "takhind starts at rate $rate"; continue; }
    sleep 1
    c0=$(cpu_ns "$SERVER_PID")
    sleep 10
    c1=$(cpu_ns "$SERVER_PID")
    http "/debug/pprof/profile?seconds=10" >"$TK_TMP/light$rate.pb.gz"
    c2=$(cpu_ns "$SERVER_PID")
    stop_server
    n=$(samples "$TK_TMP/light$rate.pb.gz")
    read -r off on < <(awk -v n="$n" -v a="$c0" -v b="$c1" -v c="$c2" \
        'BEGIN { printf "%.3f %.3f", n / ((b - a) / 1e9 * 100), n / ((c - b) / 1e9 * 100) }')
    echo "# rate $rate: $n samples; CPU $(( (c1 - c0) / 1000000 )) ms without profile, $(( (c2 - c1) / 1000000 )) ms in the profile's window"
    echo "# rate $rate: samples / (CPU x 100 Hz) = $off against the window without profile, $on against the profile's own"
    check "rate $rate: samples cover 0.6-1.4 of the CPU in the profile's window (got $on)" within "$on" 0.6 1.4
done
finish
