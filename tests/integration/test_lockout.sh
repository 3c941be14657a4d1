#!/usr/bin/env bash
# The lock-outs of issue 23: while connections try to hold civetweb's
# workers, an operator's authenticated request is served within the
# front's own deadlines (header_timeout_ms, 2 s), not civetweb's
# (request_timeout_ms, 30 s here, the only end of a worker held):
#  #1 heads ending in "\n\r\n", which the front once took as complete and
#     civetweb did not, each holding a worker until its timeout;
#  #2 another local user (uid 65534, through setpriv) at civetweb's own
#     listener, where none of the front's deadlines and caps apply.
source "$(dirname "$0")/lib.sh"
token=lo-$RANDOM$RANDOM
hold=$ROOT/tests/integration/tools/holdconn.py

# The profiler's private directories go in a TMPDIR that every user may
# enter, so that only their own mode keeps the other user out.
chmod 711 "$TK_TMP" && mkdir -m 1777 "$TK_TMP/pub"
write_config "$TK_TMP/takhin.yaml"
start_server lock "$TK_TMP/takhin.yaml" TMPDIR="$TK_TMP/pub" TAKHIN_PROFILER_AUTH_TOKEN="$token" \
    TAKHIN_PROFILER_REQUEST_TIMEOUT_MS=30000 || { not_ok "takhind starts"; finish; }
port=$(profiler_port)

# attack NAME SECONDS COUNT HEAD [setpriv ...] -- TARGET...: runs holdconn.py
# in the background (under the command before --) for at most SECONDS,
# waits until it has tried every connection, then times one operator
# request: answered 200 in under 5 s (curl gives up at 8 s; the attack
# outlasts that). Stops the attack and leaves its report in $report.
attack() {
    local name=$1 secs=$2 count=$3 head=$4 wrap=() i out code took
    shift 4
    while [ "$1" != -- ]; do wrap+=("$1"); shift; done
    shift
    "${wrap[@]}" /usr/bin/python3 "$hold" "$secs" "$count" "$head" "$@" >"$TK_TMP/hold.out" 2>&1 &
    local pid=$!
    TK_PIDS+=("$pid")
    for i in $(seq 100); do
        grep -q '^ready' "$TK_TMP/hold.out" && break
        sleep 0.1
    done
    sleep 0.5 # the held connections reach the workers
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 8 \
          -H "Authorization: Bearer $token" "http://127.0.0.1:$port/debug/pprof/cmdline")
    code=${out% *} took=${out#* }
    check "$name: the operator is served meanwhile (HTTP $code in $took s, want 200 in < 5 s)" \
        awk -v c="$code" -v t="$took" 'BEGIN { exit !(c == 200 && t < 5) }'
    kill -TERM "$pid" 2>/dev/null # (it may have run its time already)
    wait "$pid"
    report=$(tail -1 "$TK_TMP/hold.out")
    echo "# $name: $report"
}
# stat NAME: a figure of holdconn's report.
stat() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$report" "$1" 2>/dev/null; }

# #1: 40 heads ending in "\n\r\n" (more than max_requests 8 and max_queued
# 16 together), each then sending a byte every 0.5 s.
attack "\\n\\r\\n heads" 12 40 'GET /debug/pprof/ HTTP/1.1\r\nHost: x\n\r\n' -- "tcp:$port"
check "\\n\\r\\n heads: each is answered at once and closed ($(stat closed) closed)" \
    test "$(stat closed)" -ge 40
served=$(grep -c 'access 127.0.0.1:[0-9]* "GET /debug/pprof/" 401' "$SERVER_LOG") # no token: 401
check "\\n\\r\\n heads: each answer is in the access log ($served)" \
    test "$served" -ge 40 -a "$served" -ge "$(stat closed)"

# #2: 200 slow heads from uid 65534 at civetweb's listener: before, a TCP
# port on 127.0.0.1; now a Unix socket, in a directory of mode 0700. It is
# found among takhind's listeners (the host's Kafka port and admin socket
# aside) as the one that answers a request straight to it as the
# profiler's civetweb does (here, as root).
profiler_answers() { curl -s --max-time 3 "$@" | grep -q "requests come through the profiler's port"; }
targets=()
for p in $(ss -Hltnp 2>/dev/null | grep "pid=$SERVER_PID," | awk '{print $4}' | sed 's/.*://'); do
    [ "$p" != "$port" ] && profiler_answers "http://127.0.0.1:$p/debug/pprof/" && targets+=("tcp:$p")
done
for s in $(ss -Hxlp 2>/dev/null | grep "pid=$SERVER_PID," | awk '{print $5}' | grep '^/'); do
    profiler_answers --unix-socket "$s" http://x/debug/pprof/ && targets+=("unix:$s")
done
echo "# civetweb's listener: ${targets[*]}"
check "civetweb's listener is found" test "${#targets[@]}" -ge 1
if [ "$(id -u)" = 0 ]; then
    attack "uid 65534 at civetweb's listener" 12 200 'GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n' \
        setpriv --reuid=65534 --regid=65534 --clear-groups -- "${targets[@]}"
    check "uid 65534 reaches civetweb with no connection ($(stat made) made, $(stat denied) denied)" \
        test "$(stat made)" = 0 -a "$(stat denied)" -ge 1
else
    skip "another user's attack: setpriv needs root"
fi

stop_server; check "takhind exits 0" test $? -eq 0
finish
