#!/usr/bin/env bash
# /debug/pprof/trace: Chrome Trace Event JSON of the workload's spans and
# waits, checked for structure by a small Go program (encoding/json), and
# the endpoint's contract: seconds, one at a time, early ends.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP

config=$TK_TMP/takhin.yaml
TK_RATE=0 write_config "$config" "log:
  level: debug"
start_server trace "$config" || { not_ok "takhind starts"; finish; }
url=http://127.0.0.1:$(profiler_port)/debug/pprof

curl -sS -D "$TK_TMP/h" -o "$TK_TMP/trace.json" "$url/trace?seconds=0.5"
check "trace?seconds=0.5 answers 200" grep -q "^HTTP/1.1 200" "$TK_TMP/h"
check "as application/json" grep -qi "^Content-Type: application/json" "$TK_TMP/h"
check "with Content-Disposition: attachment; filename=\"trace.json\"" \
    grep -qi '^Content-Disposition: attachment; filename="trace.json"' "$TK_TMP/h"
check "and X-Content-Type-Options: nosniff" grep -qi "^X-Content-Type-Options: nosniff" "$TK_TMP/h"
if command -v go >/dev/null &&
   go build -o "$TK_TMP/tracecheck" tests/integration/tools/tracecheck/main.go; then
    out=$("$TK_TMP/tracecheck" -threads producer-0,producer-1,consumer-0 \
          -spans produce,consume,"cond wait" "$TK_TMP/trace.json" 2>&1)
    check "the JSON parses, with thread names and produce/consume spans" test $? -eq 0
    echo "# $out"
else
    skip "go missing: JSON structure not checked"
fi
check "events carry the kernel TID of a workload thread" \
    grep -qE "\"tid\":($(ls "/proc/$SERVER_PID/task" | paste -sd'|'))}" "$TK_TMP/trace.json"
check "otherData says how long it ran" grep -qE '"seconds_requested":0.5,"seconds":(0\.[5-9]|[1-9])' "$TK_TMP/trace.json"
check "the hooks were removed after the trace" grep -q "event hooks removed" "$SERVER_LOG"

# Without seconds: 1 s, as Go.
t0=$(date +%s%N)
http "/debug/pprof/trace" -o "$TK_TMP/default.json"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "no seconds: a 1 s trace, not a longer one (took $ms ms)" test "$ms" -ge 1000 -a "$ms" -lt 15000
check "and it says so" grep -q '"seconds_requested":1,' "$TK_TMP/default.json"

# Bad requests get 400 with a message.
for bad in 0 -1 abc nan 1e9; do
    check "seconds=$bad is 400" test "$(http_status "/debug/pprof/trace?seconds=$bad")" = 400
done
check "the message says what is expected" \
    contains "$(http "/debug/pprof/trace?seconds=abc")" "must be a positive number of seconds"
check "over max_duration names the limit" \
    contains "$(http "/debug/pprof/trace?seconds=121")" "exceeds the limit of 120 s (profiler.max_duration)"

# One trace at a time.
curl -s -o /dev/null "$url/trace?seconds=2" &
first=$!
sleep 0.5
body=$(curl -s -D "$TK_TMP/h409" "$url/trace?seconds=1")
check "a second trace meanwhile is 409" grep -q "^HTTP/1.1 409" "$TK_TMP/h409"
check "the 409 says when the running one ends" contains "$body" "a trace is already running; it ends in about"
wait $first

# A client that goes away (its connection reset) frees the slot at once.
rawhttp_build || finish
"$RAWHTTP" -reset-after 1 "$(profiler_port)" 'GET /debug/pprof/trace?seconds=30 HTTP/1.1\r\nHost: x\r\n\r\n' >/dev/null
sleep 0.3
check "after the client left, a new trace starts (not 409)" \
    test "$(http_status "/debug/pprof/trace?seconds=0.2")" = 200

# Disabling during a trace ends it with a clean error.
curl -s -D "$TK_TMP/h503" -o "$TK_TMP/body503" "$url/trace?seconds=20" &
client=$!
sleep 1
reply=$(admin profiler disable)
wait $client
check "disable during a trace answers 503" grep -q "^HTTP/1.1 503" "$TK_TMP/h503"
check "with a message that says why" grep -q "the profiler was disabled" "$TK_TMP/body503"
ms=$(echo "$reply" | sed -nE 's/disabled in ([0-9]+)\..*/\1/p')
check "disable with a 20 s trace in flight returns before the trace would end ($reply)" \
    test "${ms:-99999}" -lt 10000
check "the workload still runs" contains "$(admin workload status)" '"corrupt":0'
stop_server; check "takhind exits 0" test $? -eq 0
finish
