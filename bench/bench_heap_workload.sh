#!/usr/bin/env bash
# What heap sampling costs the reference workload: one takhind with
# demo.rate 0 (producers as fast as they go), heap_sample_bytes switched
# between 0 (hooks removed) and 524288 by config reload, in alternating
# windows of the same process. Per window: records produced per second of
# wall time, and per CPU-second of the whole process (less sensitive to
# other load on the machine).
#   bench/bench_heap_workload.sh [rounds [seconds]]     (after make)
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
rounds=${1:-5} secs=${2:-4}
tmp=$(mktemp -d /tmp/bench-heapwl-XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
sock=$tmp/a.sock

config() {
    cat >"$tmp/t.yaml" <<YAML
admin:
  socket: $sock
plugins:
  - name: profiler
    path: $PWD/$BUILD/profiler.so
profiler:
  heap_sample_bytes: $1
log:
  level: warn
demo:
  rate: 0
YAML
}
admin() { "$BUILD/takhin-admin" -s "$sock" "$@"; }
produced() { admin workload status | sed -nE 's/.*"produced":([0-9]+).*/\1/p'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

config 0
TAKHIN_KAFKA_LISTEN=127.0.0.1:0 "$BUILD/takhind" -c "$tmp/t.yaml" 2>"$tmp/log" &
pid=$!
for _ in $(seq 50); do admin help >/dev/null 2>&1 && break; sleep 0.1; done
hz=$(getconf CLK_TCK)
printf "%-6s %-5s %12s %16s\n" round mode records/s records/cpu-s
declare -A rate cpu
for r in $(seq "$rounds"); do
    for mode in off on; do
        if [ $mode = on ]; then config 524288; else config 0; fi
        admin config reload >/dev/null
        sleep 1
        p0=$(produced) c0=$(cpu_ticks) t0=$(date +%s.%N)
        sleep "$secs"
        p1=$(produced) c1=$(cpu_ticks) t1=$(date +%s.%N)
        rate[$r$mode]=$(awk -v p=$((p1 - p0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", p / (b - a) }')
        cpu[$r$mode]=$(awk -v p=$((p1 - p0)) -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.0f", p / (c / hz) }')
        printf "%-6s %-5s %12s %16s\n" "$r" $mode "${rate[$r$mode]}" "${cpu[$r$mode]}"
    done
done
echo "on/off per round (records/s, records/cpu-s):"
ratios=$(for r in $(seq "$rounds"); do
    awk -v a="${rate[${r}on]}" -v b="${rate[${r}off]}" -v c="${cpu[${r}on]}" -v d="${cpu[${r}off]}" \
        'BEGIN { printf "%.3f %.3f\n", a / b, c / d }'
done)
echo "$ratios" | sed 's/^/  /'
med() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median on/off: records/s $(cut -d' ' -f1 <<<"$ratios" | med), records/cpu-s $(cut -d' ' -f2 <<<"$ratios" | med)"
