#!/usr/bin/env bash
# What takhind's request context costs its workload (issue 27): CPU time
# per record with demo.labels on (every record sets and clears its
# context: kafka_api, topic, client_id, interned) and off, in paired
# windows of one server at 2 producers x RATE records/s, switched by a
# config reload, alternating which goes first. Prints the ratio on/off
# per pair and its min/median/max (target <= 1.005). With CPU_METRICS=1
# the plugin's exact CPU per label is on too (a thread CPU clock read at
# every change).
#   bench/labels_overhead.sh [PAIRS] [SECONDS] [RATE]
source "$(dirname "$0")/lib.sh"
pairs=${1:-10} secs=${2:-5} rate=${3:-5000}
conf() {
    cat <<YAML
  labels:
    cpu_metrics: $([ "${CPU_METRICS:-0}" = 1 ] && echo true || echo false)
demo:
  rate: $rate
  producers: 2
  topics: "orders:3,audit:1"
  labels: $1
YAML
}
bench_server "$(conf true)"
switch() {
    bench_config "$(conf "$1")"
    admin config reload >/dev/null
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$B_PID/stat"; }
# window on|off: CPU ticks per 1000 records over SECONDS.
window() {
    switch "$1"
    sleep 0.5
    local n0 c0 n1 c1
    n0=$(produced) c0=$(cpu_ticks)
    sleep "$secs"
    n1=$(produced) c1=$(cpu_ticks)
    awk -v n=$((n1 - n0)) -v c=$((c1 - c0)) 'BEGIN { printf "%.5f", 1000 * c / n }'
}
sleep 1
ratios=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then off=$(window false); on=$(window true)
    else on=$(window true); off=$(window false); fi
    r=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.4f", a / b }')
    echo "pair $i: CPU ticks per 1000 records on $on off $off ratio $r"
    ratios+=("$r")
done
summary "CPU per record, labels on / off" "${ratios[@]}"
