#!/usr/bin/env bash
# The operator's latency under slow clients (issues 15, 17): 100 clients
# dribbling headers, 100 trickling bodies and 1000 idle connections (the
# load of tests/integration/test_slowloris.sh), from 100 other loopback
# addresses and from the operator's own; and with no load, for reference.
# Each round: 20 operator requests (GET /debug/pprof/cmdline with the
# token, a new connection each); prints p50 and p99 over all of them.
#   bench/slowloris.sh [ROUNDS (default 3)]
source "$(dirname "$0")/lib.sh"
rounds=${1:-3}
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
token=bench-$RANDOM$RANDOM
TAKHIN_PROFILER_AUTH_TOKEN=$token bench_server "demo:
  rate: 1000"
gen=tests/integration/tools/slowloris.py

# times LABEL GENERATOR-ARGS...: every operator time, in ms, one a line.
times() {
    local r
    for r in $(seq "$rounds"); do
        python3 "$gen" --port "$B_PORT" --token "$token" --tries 20 --gap 0.25 "$@" |
            python3 -c 'import json,sys; [print(t * 1e3) for t in json.load(sys.stdin)["times"]]'
    done
}
# report LABEL: p50 and p99 (nearest rank) of the times on stdin.
report() {
    sort -g | awk -v n="$1" '{ v[NR] = $1 }
        END { p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)];
              printf "%-52s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (n=%d)\n", n, p50, p99, v[NR], NR }'
}
times --dribble 0 --trickle 0 --idle 0 | report "operator, no load"
times --dribble 0 --trickle 8 --idle 0 --addrs 127.0.0.1 | report "operator, 8 trickled bodies (issue 17)"
times --addrs 127.0.0.2-127.0.0.101 | report "operator, 100+100+1000 slow clients, 100 addresses"
times --addrs 127.0.0.1 | report "operator, 100+100+1000 slow clients, its own address"
