#!/usr/bin/env bash
# Endpoint throughput and latency under load: wrk on loopback against
# takhind's profiler and, side by side in the same run, Go's net/http/pprof
# (bench/gopprof, Go 1.19 from Debian) as the baseline. Endpoints: the index
# and heap (gzipped profile.proto, the default debug=0). PAIRS paired runs
# per endpoint, alternating which server goes first; per run:
# requests/s, latency p50 and p99 (wrk --latency). Ratios ours/Go.
# takhind runs its demo workload at 1,000 records/s with the default
# profiler settings (max_requests 8); gopprof allocates 1,000 x 1 KiB/s.
#   bench/endpoints.sh [PAIRS [SECONDS [THREADS CONNECTIONS]]]   (wrk -t2 -c20 -d5s)
source "$(dirname "$0")/lib.sh"
pairs=${1:-5} secs=${2:-5} threads=${3:-2} conns=${4:-20}
command -v wrk >/dev/null || { echo "wrk missing: scripts/deps.sh --extra bench" >&2; exit 1; }
export HOME=$B_TMP GOCACHE=$B_TMP/gocache GOPATH=$B_TMP/gopath GO111MODULE=off
go build -o "$B_TMP/gopprof" bench/gopprof/main.go || exit 1
bench_server "demo:
  rate: 1000
log:
  level: warn"
gport=$(awk -v p="$B_PORT" 'BEGIN { print (p > 60000) ? p - 1000 : p + 1 }')
while (exec 3<>"/dev/tcp/127.0.0.1/$gport") 2>/dev/null; do gport=$((gport + 1)); done
"$B_TMP/gopprof" "$gport" 2>"$B_TMP/go.log" &
gpid=$!
trap 'kill $gpid 2>/dev/null; [ -n "$B_PID" ] && kill -TERM $B_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$B_TMP"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$gport/debug/pprof/" && break; sleep 0.1; done
sleep 1

# to_ms VALUE: wrk's "1.23ms" / "456.00us" / "1.20s" in ms.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    printf "%.3f", u == "us" ? n / 1000 : u == "s" ? n * 1000 : u == "m" ? n * 60000 : n }'; }
# run URL: "requests/s p50_ms p99_ms non2xx"
run() {
    local out rps p50 p99 bad
    local hdr=()
    [ -n "${wrk_close:-}" ] && hdr=(-H "Connection: close")
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "${hdr[@]}" "$1" 2>&1)
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
    echo "${rps:-0} $(to_ms "${p50:-0}") $(to_ms "${p99:-0}") ${bad:-0}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0) ? a / b : 0 }'; }
echo "wrk -t$threads -c$conns -d${secs}s --latency; takhind profiler on :$B_PORT, Go net/http/pprof on :$gport; $(nproc) CPUs"
for ep in "" heap; do
    name=${ep:-index}
    rr=() r50=() r99=() ours=() gos=()
    for i in $(seq "$pairs"); do
        if [ $((i % 2)) -eq 1 ]; then
            o=$(run "http://127.0.0.1:$B_PORT/debug/pprof/$ep"); g=$(run "http://127.0.0.1:$gport/debug/pprof/$ep")
        else
            g=$(run "http://127.0.0.1:$gport/debug/pprof/$ep"); o=$(run "http://127.0.0.1:$B_PORT/debug/pprof/$ep")
        fi
        read -r ors o50 o99 obad <<<"$o"
        read -r grs g50 g99 gbad <<<"$g"
        ours+=("$ors") gos+=("$grs")
        rr+=("$(ratio "$ors" "$grs")") r50+=("$(ratio "$o50" "$g50")") r99+=("$(ratio "$o99" "$g99")")
        echo "pair $i $name: ours $ors req/s (p50 $o50 ms, p99 $o99 ms, non-2xx $obad), Go $grs req/s (p50 $g50 ms, p99 $g99 ms, non-2xx $gbad)"
    done
    summary "$name: requests/s, ours" "${ours[@]}"
    summary "$name: requests/s, Go net/http/pprof" "${gos[@]}"
    summary "$name: throughput ratio ours/Go" "${rr[@]}"
    summary "$name: p50 latency ratio ours/Go" "${r50[@]}"
    summary "$name: p99 latency ratio ours/Go" "${r99[@]}"
done
# The profiler closes each connection after one request (civetweb's
# enable_keep_alive is "no"); wrk then reconnects for every request, while
# Go keeps connections alive. The same index runs against Go with
# "Connection: close" separate that share of the difference.
rr=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then
        o=$(run "http://127.0.0.1:$B_PORT/debug/pprof/")
        g=$(wrk_close=1 run "http://127.0.0.1:$gport/debug/pprof/")
    else
        g=$(wrk_close=1 run "http://127.0.0.1:$gport/debug/pprof/")
        o=$(run "http://127.0.0.1:$B_PORT/debug/pprof/")
    fi
    read -r ors _ <<<"$o"
    read -r grs _ <<<"$g"
    rr+=("$(ratio "$ors" "$grs")")
    echo "pair $i index, Go with Connection: close: ours $ors req/s, Go $grs req/s"
done
summary "index: ratio ours/Go (Go closing too)" "${rr[@]}"
