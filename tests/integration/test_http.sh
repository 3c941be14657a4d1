#!/usr/bin/env bash
# The HTTP surface: index, cmdline, errors, headers, methods.
source "$(dirname "$0")/lib.sh"

write_config "$TK_TMP/takhin.yaml"
start_server http "$TK_TMP/takhin.yaml" || { not_ok "takhind starts"; finish; }

index=$(http /debug/pprof/)
check "the index is HTML5" contains "$index" "<!DOCTYPE html>"
check "the index shows the plugin version" contains "$index" "takhin profiler plugin"
check "/debug/pprof (no slash) is the index too" test "$(http_status /debug/pprof)" = 200

headers=$(http /debug/pprof/ -D - -o /dev/null)
check "responses carry X-Content-Type-Options: nosniff" contains "$headers" "X-Content-Type-Options: nosniff"

http /debug/pprof/cmdline >"$TK_TMP/cmdline"
expected=$(printf '%s\0%s\0%s' "$BUILD/takhind" -c "$TK_TMP/takhin.yaml" | od -c)
check "cmdline is argv joined by NUL" test "$(od -c <"$TK_TMP/cmdline")" = "$expected"

body=$(http /debug/pprof/nonesuch -D "$TK_TMP/h404")
check "an unknown path is 404" grep -q "^HTTP/1.1 404" "$TK_TMP/h404"
check "the 404 lists the valid paths" contains "$body" "/debug/pprof/cmdline"
check "errors carry X-Go-Pprof: 1" grep -qi "^X-Go-Pprof: 1" "$TK_TMP/h404"
check "paths outside /debug/pprof/ are 404 (no file serving)" test "$(http_status /etc/passwd)" = 404
check "no directory listing at /" test "$(http_status /)" = 404

http /debug/pprof/ -X DELETE -D "$TK_TMP/h405" -o /dev/null
check "DELETE is 405" grep -q "^HTTP/1.1 405" "$TK_TMP/h405"
check "the 405 says which methods are allowed" grep -qi "^Allow: GET" "$TK_TMP/h405"
check "POST on the index is 405" test "$(http_status /debug/pprof/ -X POST -d x)" = 405

# A client that half-closes after its request (shutdown(SHUT_WR): nc -N,
# some proxies) still waits for the answer: a FIN is not a disconnect
# (issue 17 #5). A reset is, and ends the profile early.
if rawhttp_build; then
    port=$(profiler_port)
    H='HTTP/1.1\r\nHost: x\r\n'
    # halfclosed NAME TARGET WANT: the whole answer reaches a half-closed client.
    halfclosed() {
        "$RAWHTTP" -halfclose -body -timeout 30 "$port" "GET $2 $H\r\n" >"$TK_TMP/hc-$1"
        local status
        status=$(head -1 "$TK_TMP/hc-$1")
        check "a half-closed client gets $2: $status" test "$status" = "$3"
        [ "$3" = 200 ] || return 0
        tail -c +5 "$TK_TMP/hc-$1" >"$TK_TMP/hc-$1.body"
        check "and the whole body of $2" "${@:4}" "$TK_TMP/hc-$1.body"
    }
    halfclosed cpu "/debug/pprof/profile?seconds=1" 200 gzip -t
    if sanitized; then halfclosed heap "/debug/pprof/heap?seconds=1" 501
    else halfclosed heap "/debug/pprof/heap?seconds=1" 200 gzip -t; fi
    halfclosed trace "/debug/pprof/trace?seconds=0.5" 200 grep -q '"traceEvents"'

    # A reset (SO_LINGER 0) during a 30 s CPU profile frees the slot early.
    "$RAWHTTP" -reset-after 0.5 "$port" "GET /debug/pprof/profile?seconds=30 $H\r\n" >/dev/null
    start=$SECONDS status=409
    while [ "$status" = 409 ] && [ $((SECONDS - start)) -lt 15 ]; do
        status=$(http_status "/debug/pprof/profile?seconds=1")
        [ "$status" = 409 ] && sleep 0.2
    done
    check "after a reset, the next CPU profile starts long before 30 s ($status)" test "$status" = 200
    if ! sanitized; then
        "$RAWHTTP" -reset-after 0.5 "$port" "GET /debug/pprof/heap?seconds=30 $H\r\n" >/dev/null
        start=$SECONDS line=
        while [ -z "$line" ] && [ $((SECONDS - start)) -lt 15 ]; do
            line=$(grep -a '"GET /debug/pprof/heap?seconds=30"' "$SERVER_LOG")
            [ -z "$line" ] && sleep 0.2
        done
        ms=$(echo "$line" | sed -nE 's/.* ([0-9]+)\.[0-9] ms$/\1/p')
        check "a reset ends a 30 s heap delta early (${ms:-no answer} ms)" test "${ms:-99999}" -lt 15000
    fi
fi
stop_server
finish
