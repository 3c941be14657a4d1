#!/usr/bin/env bash
# The front (plugin/http/front.c) between clients and civetweb: its own answers,
# the peer address civetweb's handlers see, bodies handed on whole, a
# half-close and a reset passed on as they are, and its caps.
source "$(dirname "$0")/lib.sh"
token=fr-$RANDOM$RANDOM

write_config "$TK_TMP/takhin.yaml"
start_server front "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_AUTH_TOKEN="$token" \
    TAKHIN_PROFILER_HEADER_TIMEOUT_MS=1500 TAKHIN_PROFILER_MAX_CONNS_PER_PEER=4 ||
    { not_ok "takhind starts"; finish; }
port=$(profiler_port)
auth="Authorization: Bearer $token"

# raw BYTES [SHUT]: sends BYTES on one connection (then half-closes it
# with SHUT=shut) and prints what came back before the server closed.
raw() {
    python3 - "$port" "$1" "${2:-}" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
if sys.argv[3] == "shut":
    s.shutdown(socket.SHUT_WR)
out = b""
try:
    while chunk := s.recv(65536):
        out += chunk
except OSError:
    pass
sys.stdout.write(out.decode("latin-1"))
PY
}
status_of() { sed -nE '1s/^HTTP\/1\.[01] ([0-9]{3}).*/\1/p' <<<"$1"; }

out=$(raw "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nX-Takhin-Peer: 0123 10.9.8.7:1\r\n$auth\r\n\r\n")
check "a client's own X-Takhin-Peer is refused (400)" test "$(status_of "$out")" = 400
out=$(raw "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n$auth\r\n\r\n" shut)
check "a client that half-closes after its request still gets the answer" \
    test "$(status_of "$out")" = 200
start=$(date +%s%N)
out=$(raw "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n")
took=$((($(date +%s%N) - start) / 1000000))
check "an unfinished head is answered 408 after header_timeout_ms (${took} ms)" \
    test "$(status_of "$out")" = 408 -a "$took" -ge 1400
big=$(head -c 9000 /dev/zero | tr '\0' a)
out=$(raw "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\n\r\n")
check "a head over max_header_bytes is answered 431" test "$(status_of "$out")" = 431

# Bodies reach the handler whole: Content-Length and chunked.
sym=$(curl -s -H "$auth" --data-binary '0x0' "http://127.0.0.1:$port/debug/pprof/symbol")
check "a POST body with Content-Length reaches /symbol" contains "$sym" "num_symbols"
sym=$(raw "POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\n$auth\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n0x\r\n1\r\n0\r\n0\r\n\r\n")
check "a chunked POST body reaches /symbol" contains "$sym" "num_symbols"
out=$(python3 - "$port" "$auth" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(f"POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\n{sys.argv[2]}\r\nContent-Length: 3\r\n"
          "Expect: 100-continue\r\n\r\n".encode())
first = s.recv(25)  # the 100 comes before the body is sent (5 s at most)
s.sendall(b"0x0")
out = b""
while chunk := s.recv(65536):
    out += chunk
print(first.decode(errors="replace").split("\r")[0], "then", b"num_symbols" in out)
PY
)
check "Expect: 100-continue gets its 100 before the body, then the answer ($out)" \
    test "$out" = "HTTP/1.1 100 Continue then True"

# An answer larger than the relay's buffer (64 KiB) arrives whole.
curl -s --max-time 30 -H "$auth" -o "$TK_TMP/trace.json" \
    "http://127.0.0.1:$port/debug/pprof/trace?seconds=0.5"
size=$(stat -c %s "$TK_TMP/trace.json" 2>/dev/null)
check "a large answer (a trace, ${size:-0} bytes) comes through whole" \
    python3 -c 'import json, os, sys; json.load(open(sys.argv[1])); sys.exit(os.path.getsize(sys.argv[1]) <= 65536)' \
    "$TK_TMP/trace.json"

# The handlers see the client's address, not the front's.
curl -s -o /dev/null --interface 127.0.0.5 "http://127.0.0.1:$port/debug/pprof/"
curl -s -o /dev/null --interface 127.0.0.6 -H "$auth" "http://127.0.0.1:$port/debug/pprof/cmdline"
check "the auth failure log names the client's address" grep -q "auth failure from 127.0.0.5:" "$SERVER_LOG"
check "the access log names the client's address" grep -q 'access 127.0.0.6:[0-9]* "GET /debug/pprof/cmdline' "$SERVER_LOG"

# civetweb listens on no TCP port (issue 23 #2), only on a Unix socket in a
# directory of its own (mode 0700); what reaches it without the front (here
# as root) is refused, and the peer header cannot be guessed.
tcp=""
for p in $(ss -Hltnp 2>/dev/null | grep "pid=$SERVER_PID," | awk '{print $4}' | sed 's/.*://'); do
    [ "$p" != "$port" ] && curl -s --max-time 3 "http://127.0.0.1:$p/debug/pprof/" |
        grep -q "requests come through the profiler's port" && tcp+=" $p"
done
check "no TCP port of takhind but the front's reaches civetweb (${tcp:-none})" test -z "$tcp"
internal=$(ss -Hxlp 2>/dev/null | grep "pid=$SERVER_PID," | awk '{print $5}' | grep 'civetweb.sock$' | head -1)
if [ -n "$internal" ]; then
    check "civetweb's socket is in a private directory ($(stat -c %a "$(dirname "$internal")"))" \
        test "$(stat -c %a "$(dirname "$internal")")" = 700
    code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$internal" -H "$auth" \
           -H "X-Takhin-Peer: 00000000000000000000000000000000 1.2.3.4:5 1" \
           "http://x/debug/pprof/")
    check "a request straight to civetweb's socket is refused (403)" test "$code" = 403
else
    not_ok "civetweb's internal socket is found with ss"
fi

# A client reset is passed on as a reset: the CPU profile sees its client
# gone and frees the slot at once.
python3 - "$port" "$token" <<'PY'
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(f"GET /debug/pprof/profile?seconds=20 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sys.argv[2]}\r\n\r\n".encode())
time.sleep(0.5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY
sleep 0.5
check "after a client reset its profile, a new profile starts (not 409)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" \
            "http://127.0.0.1:$port/debug/pprof/profile?seconds=1")" = 200

# max_conns_per_peer 4: a fifth connection from an address cuts its oldest
# unfinished one (503), and the newcomer is served.
exec 5<>"/dev/tcp/127.0.0.1/$port" 6<>"/dev/tcp/127.0.0.1/$port" \
     7<>"/dev/tcp/127.0.0.1/$port" 8<>"/dev/tcp/127.0.0.1/$port"
sleep 0.5 # older than a burst
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "http://127.0.0.1:$port/debug/pprof/")
first=$(timeout 5 head -c 12 <&5)
exec 5>&- 6>&- 7>&- 8>&-
check "the newcomer over max_conns_per_peer is served ($code)" test "$code" = 200
check "the oldest unfinished connection was cut off with 503 ($first)" test "$first" = "HTTP/1.1 503"
# Complete requests are not capped per address: 20 one-second delta
# profiles at once from 127.0.0.1 are all served (civetweb queues them).
pids=()
for i in $(seq 20); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -H "$auth" \
        "http://127.0.0.1:$port/debug/pprof/goroutine?seconds=1" >"$TK_TMP/conc.$i" &
    pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$TK_TMP"/conc.* | sort | uniq -c | xargs)
check "20 concurrent requests from one address over max_conns_per_peer 4 are all served ($codes)" \
    test "$codes" = "20 200"
# Nor a burst of connections opened before any request is sent (curl -Z).
args=()
for i in $(seq 30); do args+=(-o /dev/null "http://127.0.0.1:$port/debug/pprof/cmdline"); done
codes=$(curl -s -Z --parallel-max 30 --parallel-immediate --max-time 30 -H "$auth" \
        -w "%{http_code}\n" "${args[@]}" 2>/dev/null | sort | uniq -c | xargs)
check "30 connections opened at once from one address, then their requests, are all served ($codes)" \
    test "$codes" = "30 200"
metrics=$(curl -s -H "$auth" "http://127.0.0.1:$port/metrics")
check "peer_cap is counted" grep -qE '^takhin_profiler_slow_clients_total\{reason="peer_cap"\} [1-9]' <<<"$metrics"
check "header_timeout is counted" grep -qE '^takhin_profiler_slow_clients_total\{reason="header_timeout"\} [1-9]' <<<"$metrics"
stop_server; check "takhind exits 0" test $? -eq 0

# max_conns (16 at least): the same in all, whatever the address.
start_server cap "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_MAX_CONNS=16 ||
    { not_ok "takhind starts with max_conns 16"; finish; }
port=$(profiler_port)
python3 - "$port" <<'PY' &
import socket, sys, time
socks = []
for i in range(20):
    s = socket.socket()
    s.bind((f"127.0.0.{10 + i}", 0))
    s.connect(("127.0.0.1", int(sys.argv[1])))
    socks.append(s)
time.sleep(1.5)
PY
idle=$!
sleep 0.7
check "over max_conns the newcomer is served" test "$(http_status /debug/pprof/)" = 200
wait $idle
check "conn_cap is counted" bash -c "curl -s http://127.0.0.1:$port/metrics | grep -qE '^takhin_profiler_slow_clients_total\{reason=\"conn_cap\"\} [1-9]'"
stop_server; check "takhind exits 0 (max_conns)" test $? -eq 0
finish
