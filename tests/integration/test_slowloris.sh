#!/usr/bin/env bash
# Slow clients never lock the operator out (issues 17 and 15): clients that
# dribble headers, trickle a declared body or send nothing are held by the
# front (plugin/http/front.c), never by a worker, and are cut off; the
# operator's request, complete at once, is served meanwhile. No time is
# asserted: the operator's p50 and p99 under this load are benchmark
# figures (bench/slowloris.sh, bench/REPORT.md).
source "$(dirname "$0")/lib.sh"
# 1200 attacking connections and their ends in takhind.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
token=op-$RANDOM$RANDOM
gen=tests/integration/tools/slowloris.py

write_config "$TK_TMP/takhin.yaml"
start_server slow "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_AUTH_TOKEN="$token" \
    TAKHIN_PROFILER_REQUEST_TIMEOUT_MS=3000 || { not_ok "takhind starts"; finish; }
port=$(profiler_port)
fds0=$(ls "/proc/$SERVER_PID/fd" | wc -l)

# slow_count REASON: takhin_profiler_slow_clients_total{reason=REASON}.
slow_count() {
    curl -s --max-time 10 -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" |
        sed -nE "s/^takhin_profiler_slow_clients_total\{reason=\"$1\"\} ([0-9]+)$/\1/p"
}
# The generator's report is read with json_field (lib.sh): nothing when it
# gave none (it timed out).
field() { json_field "$@"; }
# operator_ok NAME JSON: all 20 tries answered 200 (p99 printed, not asserted).
operator_ok() {
    echo "# $1: ${2:-no report: the generator timed out}"
    local ok200
    ok200=$(field "$2" statuses | tr ' ' '\n' | grep -cx 200)
    check "$1: all 20 operator requests answered 200 (${ok200:-0}; p99 $(field "$2" p99) s)" \
        test "${ok200:-0}" -eq 20
}

# Issue 17: 8 connections (max_requests) declare a 1 MB body and send one
# byte every 4 s; the operator waited 31-38 s. The front cuts them off once
# request_timeout_ms (3 s here) has passed for the whole body.
out=$(timeout 300 python3 "$gen" --port "$port" --token "$token" --dribble 0 --trickle 8 \
      --idle 0 --addrs 127.0.0.1 --trickle-every 4 --tries 20 --gap 0.25 --timeout 60)
operator_ok "8 trickled bodies" "$out"
cut=$(slow_count body_timeout)
check "the trickled bodies are cut off after request_timeout_ms (body_timeout: ${cut:-none})" \
    test "${cut:-0}" -ge 8

# Issue 15's goal: 100 clients dribbling headers, 100 trickling bodies and
# 1000 idle connections, from 100 other loopback addresses (12 each, under
# max_conns_per_peer: the per-address cap does not hide the problem).
before=$(slow_count header_timeout)
out=$(timeout 300 python3 "$gen" --port "$port" --token "$token" --dribble 100 --trickle 100 \
      --idle 1000 --addrs 127.0.0.2-127.0.0.101 --tries 20 --gap 0.25 --timeout 60)
operator_ok "1200 slow clients from 100 addresses" "$out"
at_start=$(field "$out" connected_at_start)
check "all 1200 were connected when the operator came (${at_start:-none})" test "${at_start:-0}" -eq 1200
after=$(slow_count header_timeout)
check "idle and dribbling clients are cut off after header_timeout_ms ($before -> $after)" \
    test "${after:-0}" -ge $((${before:-0} + 1100))
check "slow clients are logged once per address per minute at most" \
    test "$(grep -c 'slow client 127\.0\.0\.17:' "$SERVER_LOG")" -eq 1

# The same load from the operator's own address: max_conns_per_peer (16)
# cuts the oldest unfinished request for each new connection.
before=$(slow_count peer_cap)
out=$(timeout 300 python3 "$gen" --port "$port" --token "$token" --dribble 100 --trickle 100 \
      --idle 1000 --addrs 127.0.0.1 --tries 20 --gap 0.25 --timeout 60)
operator_ok "1200 slow clients from the operator's address" "$out"
after=$(slow_count peer_cap)
check "the per-address cap cut them off ($before -> $after)" test "${after:-0}" -gt "${before:-0}"

# Every connection is gone once the clients are: the front's and civetweb's.
for _ in $(seq 300); do
    [ "$(ls "/proc/$SERVER_PID/fd" | wc -l)" -le $((fds0 + 2)) ] && break
    sleep 0.1
done
fds=$(ls "/proc/$SERVER_PID/fd" | wc -l)
check "no fd left behind by 3600 slow clients ($fds0 before, $fds after)" test "$fds" -le $((fds0 + 2))

# A disable under load ends and closes everything (its latency: bench/hot_disable.sh).
python3 "$gen" --port "$port" --token "$token" --dribble 50 --trickle 50 --idle 300 \
    --tries 40 --gap 0.25 --timeout 10 >/dev/null 2>&1 &
load=$!
sleep 3
reply=$(admin profiler disable)
ms=$(echo "$reply" | sed -nE 's/disabled in ([0-9]+)\..*/\1/p')
check "disable with 400 slow clients connected completes ($reply)" test -n "$ms"
check "the port is closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
wait $load
admin profiler enable >/dev/null
port=$(profiler_port)
check "enabled again, it serves" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$port/debug/pprof/")" = 200
stop_server; check "takhind exits 0" test $? -eq 0
finish
