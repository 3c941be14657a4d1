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
stop_server
finish
