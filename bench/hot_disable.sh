#!/usr/bin/env bash
# Hot-disable latency: `profiler disable` as measured by the plugin, idle
# and with a CPU profile in flight.
#   bench/hot_disable.sh [CYCLES]
source "$(dirname "$0")/lib.sh"
cycles=${1:-50}
bench_server "demo:
  rate: 1000"
ms() { admin profiler disable | sed -nE 's/disabled in ([0-9.]+) ms/\1/p'; }
idle=() busy=()
for _ in $(seq "$cycles"); do
    idle+=("$(ms)")
    admin profiler enable >/dev/null
done
for _ in $(seq 10); do
    port=$(admin profiler status | sed -nE 's/.*"listen":"[^"]*:([0-9]+)".*/\1/p')
    curl -s -o /dev/null "http://127.0.0.1:$port/debug/pprof/profile?seconds=30" &
    client=$!
    sleep 0.5
    busy+=("$(ms)")
    wait "$client"
    admin profiler enable >/dev/null
done
summary "hot disable, idle (ms)" "${idle[@]}"
summary "hot disable, CPU profile in flight (ms)" "${busy[@]}"
