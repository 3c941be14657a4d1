#!/usr/bin/env bash
# Bad requests, one table: each row gets the status it must get (a 4xx
# with a message; 400 from civetweb itself for what it cannot parse), is
# never served as some other path, and the server keeps serving after
# every one. Raw requests go through tools/rawhttp, byte for byte.
source "$(dirname "$0")/lib.sh"

rawhttp_build || finish
write_config "$TK_TMP/takhin.yaml"
start_server bad "$TK_TMP/takhin.yaml" || { not_ok "takhind starts"; finish; }
port=$(profiler_port)
long=$(head -c 5000 /dev/zero | tr '\0' 9)
p1024=/debug/pprof/$(head -c 1011 /dev/zero | tr '\0' a)   # 1024 bytes
p1025=${p1024}a
H='HTTP/1.1\r\nHost: x\r\n'

# raw [rawhttp flags] REQUEST: the status code, or "closed".
raw() { "$RAWHTTP" -timeout 20 "${@:1:$#-1}" "$port" "${!#}" | head -1; }
# get TARGET: a GET of TARGET exactly as written.
get() { raw "GET $1 $H\r\n"; }
q() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$port$1" "${@:2}"; }
# row WANT NAME GOT: GOT must be WANT, and the index still 200.
row() {
    if [ "$3" = "$1" ]; then ok "$2: $3"; else not_ok "$2: got $3, want $1"; fi
    [ "$(http_status /debug/pprof/)" = 200 ] || not_ok "the server stopped serving after: $2"
}

row 405 "PUT on the index" "$(q /debug/pprof/ -X PUT)"
row 405 "DELETE on a profile" "$(q /debug/pprof/heap -X DELETE)"
row 405 "POST on a profile" "$(q /debug/pprof/profile -X POST -d x)"
row 501 "TRACE method (the front refuses what civetweb would not hand on)" "$(raw "TRACE /debug/pprof/ $H\r\n")"
row 400 "seconds=abc" "$(q '/debug/pprof/profile?seconds=abc')"
row 400 "seconds huge" "$(q "/debug/pprof/profile?seconds=$long")"
row 400 "seconds together with debug" "$(q '/debug/pprof/heap?seconds=1&debug=1')"
row 400 "debug=-1" "$(q '/debug/pprof/heap?debug=-1')"
row 400 "debug huge" "$(q "/debug/pprof/goroutine?debug=$long")"
row 400 "trace seconds=nan" "$(q '/debug/pprof/trace?seconds=nan')"
row 400 "symbol body garbage" "$(q /debug/pprof/symbol --data-binary '0xZZ++')"
row 400 "symbol body binary" "$(q /debug/pprof/symbol --data-binary $'\x01\x02\xff\x7f')"
row 404 "unknown path" "$(q /debug/pprof/nonesuch)"
row 400 "garbage instead of HTTP" "$(raw -halfclose '\x00\x01\x02\xff\xfe garbage\r\n\r\n')"
row 400 "a request line with no version" "$(raw -halfclose 'GET /debug/pprof/\r\n\r\n')"
row 400 "truncated request (no blank line)" "$(raw -halfclose "GET /debug/pprof/ $H")"
row 400 "truncated request line" "$(raw -halfclose 'GET /deb')"
row 431 "oversized request line (the front: over max_header_bytes)" "$(raw "GET /debug/pprof/?x=$long$long $H\r\n")"
row 400 "header without a colon" "$(raw "GET /debug/pprof/nonesuch ${H}broken header\r\n\r\n")"
# NUL and control characters, encoded or raw: never cut, never served.
row 400 "NUL in a profile's path" "$(get /debug/pprof/heap%00)"
row 400 "NUL in /metrics" "$(get /metrics%00)"
row 400 "NUL then more path" "$(get /debug/pprof/cmdline%00tail)"
row 400 "newline in the path (log forging)" \
    "$(get '/%0a2026-01-01T00:00:00.000Z%20ERROR%20[host]%20forged%1b[31m')"
row 400 "ESC in the path" "$(get /debug/pprof/%1b[31m)"
row 400 "DEL in the path" "$(get /debug/pprof/cmdline%7f)"
row 400 "raw control character in the path" "$(get '/debug/pprof/c\x01mdline')"
row 400 "raw NUL in the path" "$(get '/debug/pprof/cmdline\x00tail')"
row 400 "NUL in the query" "$(get '/debug/pprof/heap?debug=%00')"
row 400 "CR LF in the query" "$(get '/debug/pprof/heap?x=%0d%0a')"
row 400 "raw control character in the query" "$(get '/debug/pprof/heap?x=\x01')"
row 400 "malformed % in the path" "$(get /debug/pprof/cmdline%zz)"
row 400 "truncated % at the end of the path" "$(get /debug/pprof/cmdline%2)"
row 400 "malformed % in the query" "$(get '/debug/pprof/cmdline?seconds=%zz')"
# Other spellings of another path.
row 400 "encoded slash %2f" "$(get /debug/pprof%2fcmdline)"
row 400 "encoded slash %2F" "$(get /debug%2Fpprof/cmdline)"
row 400 "backslash" "$(get '/debug/pprof\\cmdline')"
row 400 "encoded backslash %5c" "$(get /debug/pprof%5ccmdline)"
row 400 "dot segment /./" "$(get /debug/pprof/./cmdline)"
row 400 "dot segment /../" "$(get /debug/pprof/x/../cmdline)"
row 400 "encoded dot segment /%2e%2e/" "$(get /debug/pprof/x/%2e%2E/cmdline)"
row 400 "encoded dot segment /%2e/" "$(get /debug/pprof/%2e/cmdline)"
row 400 "final /." "$(get /debug/pprof/.)"
row 400 "final /.." "$(get /debug/pprof/..)"
row 400 "path traversal" "$(q '/debug/pprof/../../etc/passwd' --path-as-is)"
row 404 "empty segment (not /debug/pprof/cmdline)" "$(get /debug//pprof/cmdline)"
row 404 "trailing slash (not /debug/pprof/cmdline)" "$(get /debug/pprof/cmdline/)"
row 404 "a path of 1024 bytes (the limit) is looked up" "$(get "$p1024")"
row 400 "a path of 1025 bytes" "$(get "$p1025")"
row 200 "an encoded plain letter is the same path" "$(get /debug/pprof/cmd%6Cine)"
# Headers (RFC 9112).
row 400 "space before a header's colon" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\r\nHost : x\r\n\r\n')"
row 400 "a folded header line (obs-fold)" \
    "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n')"
row 400 "a folded line hiding Content-Length" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\nContent-Length: 3\r\n\r\n0x1')"
row 400 "a folded line after an empty value, bare LF" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\nHost: x\nX:\n b\n\n')"
row 200 "bare LF line ends" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\nHost: x\nX: a\n\n')"
row 400 "HTTP/1.1 without Host" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\r\n\r\n')"
row 400 "two Host headers" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')"
row 200 "HTTP/1.0 without Host" "$(raw 'GET /debug/pprof/cmdline HTTP/1.0\r\n\r\n')"
row 400 "conflicting Content-Length" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n0x1')"
row 200 "repeated identical Content-Length" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n0x1')"
row 400 "Content-Length with a sign" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n0x1')"
row 400 "Content-Length with trailing garbage" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\n0x1')"
row 400 "Content-Length and Transfer-Encoding" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n0x1\r\n0\r\n\r\n')"
row 400 "control character in a header value" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n')"
# One reading of the request (issue 23 #1, #7, #8): civetweb gets the head
# as the front read it (CRLF lines, an origin-form target, a chunked body
# decoded, under Content-Length), and the front refuses, with the reason,
# what it cannot hand on.
row 200 'a head ending in \n\r\n is one head (civetweb once waited for more)' \
    "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\r\nHost: x\n\r\n')"
row 200 "mixed line ends, then \n\r\n" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\nHost: x\r\nX: a\n\r\n')"
row 400 "CR CR LF ending a header line" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\r\nHost: x\r\r\n\r\n')"
row 400 "a tab inside a header value (civetweb cannot read it)" "$(raw 'GET /debug/pprof/cmdline HTTP/1.1\r\nHost: x\r\nX: a\tb\r\n\r\n')"
row 200 "an absolute-form target is served as its path" "$(raw "GET http://x/debug/pprof/cmdline $H\r\n")"
row 200 "absolute-form, HTTPS scheme and a port" "$(raw "GET HTTPS://x:1/debug/pprof/cmdline?a=1 $H\r\n")"
row 404 "absolute-form: an unknown path is a 404" "$(raw "GET http://x/nonesuch $H\r\n")"
row 400 "absolute-form with userinfo" "$(raw "GET http://u:p@x/debug/pprof/cmdline $H\r\n")"
row 400 "absolute-form of another scheme" "$(raw "GET ftp://x/debug/pprof/cmdline $H\r\n")"
row 400 "an authority-form target" "$(raw "GET x:6060 $H\r\n")"
row 501 "CONNECT" "$(raw "CONNECT x:6060 $H\r\n")"
row 200 "OPTIONS * is answered" "$(raw "OPTIONS * $H\r\n")"
row 400 "GET * is refused" "$(raw "GET * $H\r\n")"
row 400 "an HTTP/0.9 request line is refused at once (not left to header_timeout_ms)" \
    "$(raw 'GET /debug/pprof/cmdline\r\n')"
many=$(for i in $(seq 70); do printf 'X-H%d: v\\r\\n' "$i"; done)
row 431 "70 header lines (civetweb keeps 64 and drops the rest)" "$(raw "GET /debug/pprof/cmdline $H$many\r\n")"
row 200 "symbol: a chunk extension (3;a=b) is decoded" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\n0x1\r\n0\r\n\r\n')"
row 200 "symbol: bare-LF chunk lines" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\n0x1\n0\n\n')"
row 200 "symbol: CR CR LF after a chunk size" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\r\n0x1\r\n0\r\n\r\n')"
row 200 "symbol: chunked with Expect: 100-continue" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n0x1\r\n0\r\n\r\n')"
# Broken symbol bodies: never answered as if they were whole.
row 400 "symbol: bad chunk size" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n0x1\r\n0\r\n\r\n')"
row 400 "symbol: chunked body without its last chunk" \
    "$(raw -halfclose 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n0x1\r\n')"
row 400 "symbol: Content-Length 100, 6 bytes sent" \
    "$(raw -halfclose 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0x1+31')"
row 200 "symbol: a whole chunked body" \
    "$(raw 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n0x1\r\n0\r\n\r\n')"
row 200 "symbol: a whole body, then a half-close" \
    "$(raw -halfclose 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n0x1')"

body=$("$RAWHTTP" -body "$port" "GET /debug/pprof/heap%00 $H\r\n")
check "a NUL's 400 names the problem" contains "$body" "NUL byte in the path"
body=$("$RAWHTTP" -body "$port" "GET /debug/pprof/x/%2e%2e/cmdline $H\r\n")
check "a dot segment's 400 names it" contains "$body" 'dot segment ".." in the path'
body=$("$RAWHTTP" -body "$port" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n0x1')
check "conflicting lengths: the 400 says so" contains "$body" "conflicting Content-Length"
body=$("$RAWHTTP" -body -halfclose "$port" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0x1+31')
check "a short body: the 400 counts the bytes" contains "$body" "ended after 6 of the 100 bytes"
body=$("$RAWHTTP" -body "$port" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n0x1\r\n0\r\n\r\n')
check "a bad chunk: the 400 says the chunked body is broken" contains "$body" "chunked body"
body=$("$RAWHTTP" -body "$port" "GET /debug/pprof/cmdline $H$many\r\n")
check "70 header lines: the 431 says why" contains "$body" "more than 63 header lines"
body=$("$RAWHTTP" -body "$port" "GET http://u:p@x/ $H\r\n")
check "absolute-form with userinfo: the 400 says why" contains "$body" "userinfo"
sym=$("$RAWHTTP" -body "$port" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\n0x\r\n1\n0\n0\r\r\n\r\n')
check "a chunked body with extensions and odd line ends reaches /symbol whole" contains "$sym" "num_symbols: 1"

body=$("$RAWHTTP" -body "$port" "GET /debug/pprof/%ff%c3 $H\r\n")
check "a 404 shows a path that is not UTF-8 escaped" contains "$body" 'Unknown profile or path: /debug/pprof/\xff\xc3'
check "after all of them the server still answers" test "$(http_status /debug/pprof/)" = 200
check "and serves a profile" test "$(http_status /debug/pprof/cmdline)" = 200

# Nothing a client sends reaches the log unescaped (issue 17 #4); civetweb
# itself refuses raw bytes over 126 in a request line (400 above).
row 400 "a backslash, for the log" "$(get '/debug/pprof/a\\b')"
stop_server; check "takhind exits 0" test $? -eq 0
check "no forged log line" test -z "$(grep -a '^2026-01-01T00:00:00.000Z' "$SERVER_LOG")"
check "no escape or control character in the log" \
    test -z "$(LC_ALL=C grep -a $'[\x01-\x08\x0b-\x1f\x7f]' "$SERVER_LOG")"
check "the forging request is logged as sent" grep -aqF \
    '"GET /%0a2026-01-01T00:00:00.000Z%20ERROR%20[host]%20forged%1b[31m" 400' "$SERVER_LOG"
check "a backslash is logged doubled" grep -aqF '"GET /debug/pprof/a\\b" 400' "$SERVER_LOG"
# Every answer of the front's own is in the access log, with its reason.
check "the front's refusals are logged" grep -aq 'access 127.0.0.1:[0-9]* "GET \*" 400 .*(the front: the target \* is for OPTIONS only)' "$SERVER_LOG"
check "OPTIONS * is logged" grep -aq 'access 127.0.0.1:[0-9]* "OPTIONS \*" 200' "$SERVER_LOG"
check "the absolute-form request is logged, as the path served" grep -aq 'access 127.0.0.1:[0-9]* "GET /nonesuch" 404' "$SERVER_LOG"
finish
