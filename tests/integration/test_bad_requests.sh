#!/usr/bin/env bash
# Bad requests, one table: each gets a 4xx or a closed connection, and the
# server keeps serving after every one.
source "$(dirname "$0")/lib.sh"

write_config "$TK_TMP/takhin.yaml"
start_server bad "$TK_TMP/takhin.yaml" || { not_ok "takhind starts"; finish; }
port=$(profiler_port)
long=$(head -c 5000 /dev/zero | tr '\0' 9)

# raw NAME BYTES: sends BYTES as they are; prints the status code, or
# "closed" when the server closed the connection without one.
raw() {
    local out
    out=$( (printf '%b' "$2"; sleep 0.5) | timeout 15 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat >&3 & cat <&3" 2>/dev/null | head -c 200)
    local code=${out#HTTP/1.? }
    case $out in HTTP/1.?\ [0-9][0-9][0-9]*) echo "${code:0:3}" ;; *) echo closed ;; esac
}
# expect NAME GOT: GOT must be a 4xx or "closed", and the index still 200.
expect() {
    case $2 in 4[0-9][0-9] | closed) ok "$1: $2" ;; *) not_ok "$1: got $2" ;; esac
    [ "$(http_status /debug/pprof/)" = 200 ] || not_ok "the server stopped serving after: $1"
}
q() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$port$1" "${@:2}"; }

expect "PUT on the index" "$(q /debug/pprof/ -X PUT)"
expect "DELETE on a profile" "$(q /debug/pprof/heap -X DELETE)"
expect "POST on a profile" "$(q /debug/pprof/profile -X POST -d x)"
expect "TRACE method" "$(raw trace 'TRACE /debug/pprof/ HTTP/1.1\r\nHost: x\r\n\r\n')"
expect "seconds=abc" "$(q '/debug/pprof/profile?seconds=abc')"
expect "seconds huge" "$(q "/debug/pprof/profile?seconds=$long")"
expect "seconds together with debug" "$(q '/debug/pprof/heap?seconds=1&debug=1')"
expect "debug=-1" "$(q '/debug/pprof/heap?debug=-1')"
expect "debug huge" "$(q "/debug/pprof/goroutine?debug=$long")"
expect "trace seconds=nan" "$(q '/debug/pprof/trace?seconds=nan')"
expect "symbol body garbage" "$(q /debug/pprof/symbol --data-binary '0xZZ++')"
expect "symbol body binary" "$(q /debug/pprof/symbol --data-binary $'\x01\x02\xff\x7f')"
expect "unknown path" "$(q /debug/pprof/nonesuch)"
expect "path traversal" "$(q '/debug/pprof/../../etc/passwd' --path-as-is)"
expect "garbage instead of HTTP" "$(raw garbage '\x00\x01\x02\xff\xfe garbage\r\n\r\n')"
expect "a request line with no version" "$(raw noversion 'GET /debug/pprof/\r\n\r\n')"
expect "truncated request (no blank line)" "$(raw truncated 'GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n')"
expect "truncated request line" "$(raw truncline 'GET /deb')"
expect "oversized request line" "$(raw longline "GET /debug/pprof/?x=$long$long HTTP/1.1\r\n\r\n")"
expect "header without a colon" "$(raw nocolon 'GET /debug/pprof/nonesuch HTTP/1.1\r\nbroken header\r\n\r\n')"
check "after all of them the server still answers" test "$(http_status /debug/pprof/)" = 200
stop_server; check "takhind exits 0" test $? -eq 0
finish
