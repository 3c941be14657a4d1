#!/usr/bin/env bash
# Accuracy of the wall profile on the workload's wall calibration thread
# (demo.wall_calibration: 50 ms spinning in wall_burn, 50 ms asleep in
# wall_sleep): RUNS profiles of SECONDS at HZ, each against the thread's
# own account of the same seconds (workload status: wall_burn_ms,
# wall_sleep_ms). Prints per run the profile's wall_burn share and the
# thread's, then the differences.
#   bench/wall_calibration.sh [RUNS] [SECONDS] [HZ]
source "$(dirname "$0")/lib.sh"
runs=${1:-5} secs=${2:-10} hz=${3:-20}
bench_server "  wall_hz: $hz
demo:
  rate: 100
  wall_calibration: true"
for _ in $(seq 100); do [ -n "${B_PORT:-}" ] && break; sleep 0.1
    B_PORT=$(admin profiler status | sed -nE 's/.*"listen":"[^"]*:([0-9]+)".*/\1/p'); done
field() { admin workload status | sed -nE "s/.*\"$1\":([0-9]+).*/\1/p"; }
ms() {
    go tool pprof -top -cum -nodefraction=0 -unit=ms -tagfocus=thread=wall-calib "$1" 2>/dev/null |
        awk -v f="$2" '$6 == f { v = $4; sub(/ms$/, "", v); print int(v); exit }'
}
echo "# wall_calibration: $runs profiles of $secs s at $hz Hz, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
diffs=()
for i in $(seq "$runs"); do
    b0=$(field wall_burn_ms) s0=$(field wall_sleep_ms)
    curl -s -o "$B_TMP/w.pb.gz" "http://127.0.0.1:$B_PORT/debug/pprof/wall?seconds=$secs"
    b1=$(field wall_burn_ms) s1=$(field wall_sleep_ms)
    burn=$(ms "$B_TMP/w.pb.gz" wall_burn) nap=$(ms "$B_TMP/w.pb.gz" wall_sleep)
    line=$(awk -v b="$burn" -v n="$nap" -v tb=$((b1 - b0)) -v tn=$((s1 - s0)) 'BEGIN {
        p = 100 * b / (b + n); t = 100 * tb / (tb + tn);
        printf "%.1f %.1f %.1f", p, t, p - t }')
    read -r p t d <<<"$line"
    echo "run $i: profile wall_burn $burn ms, wall_sleep $nap ms: $p %; the thread's own account $t %"
    diffs+=("$d")
done
summary "profile share - own account, points" "${diffs[@]}"
