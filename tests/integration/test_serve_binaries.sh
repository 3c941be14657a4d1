#!/usr/bin/env bash
# profiler.serve_binaries: the files mapped in takhind by build ID, in
# debuginfod's URL scheme, behind the token. debuginfod-find (the real
# client) fetches the takhind binary and its debug info; off, 404; a build
# ID not mapped, 404; nothing but a mapped file can be reached.
source "$(dirname "$0")/lib.sh"
command -v debuginfod-find >/dev/null || { skip "debuginfod-find missing"; finish; }
token=t0k-$RANDOM$RANDOM
write_config "$TK_TMP/takhin.yaml"
start_server sb "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_AUTH_TOKEN="$token" ||
    { not_ok "takhind starts"; finish; }
port=$(profiler_port)
self_id=$(readelf -n "$BUILD/takhind" | sed -n 's/.*Build ID: //p')
base=http://127.0.0.1:$port/debug/pprof/buildid
auth=(-H "Authorization: Bearer $token")
check "off by default: 404" test "$(http_status "/debug/pprof/buildid/$self_id/executable" "${auth[@]}")" = 404
check "the 404 says why" contains "$(http "/debug/pprof/buildid/$self_id/executable" "${auth[@]}")" \
    "profiler.serve_binaries is off"

sed -i '/^  port: 0/a\  serve_binaries: true' "$TK_TMP/takhin.yaml"
check "config reload turns it on" contains "$(admin config reload 2>&1)" "applied at once: serve_binaries"
check "without the token: 401" test "$(http_status "/debug/pprof/buildid/$self_id/executable")" = 401
export DEBUGINFOD_CACHE_PATH=$TK_TMP/dcache DEBUGINFOD_URLS="http://pprof:$token@127.0.0.1:$port/debug/pprof"
got=$(debuginfod-find executable "$self_id" 2>"$TK_TMP/find.err")
check "debuginfod-find executable fetches takhind by its build ID" cmp -s "$got" "$BUILD/takhind"
got=$(debuginfod-find debuginfo "$self_id" 2>>"$TK_TMP/find.err")
check "debuginfod-find debuginfo gets it too (takhind carries its DWARF)" cmp -s "$got" "$BUILD/takhind"
libc=$(awk '$6 ~ /libc\.so/ {print $6; exit}' "/proc/$SERVER_PID/maps")
libc_id=$(readelf -n "$libc" | sed -n 's/.*Build ID: //p')
code=$(http_status "/debug/pprof/buildid/$libc_id/executable" "${auth[@]}")
check "a mapped library too ($libc)" test "$code" = 200
dbg=/usr/lib/debug/.build-id/${libc_id:0:2}/${libc_id:2}.debug
if [ -e "$dbg" ]; then
    got=$(debuginfod-find debuginfo "$libc_id" 2>>"$TK_TMP/find.err")
    check "libc's debuginfo is its debug file under /usr/lib/debug" cmp -s "$got" "$dbg"
else
    skip "no debug file for libc here (libc6-dbg)"
fi
other=$(readelf -n /bin/ls | sed -n 's/.*Build ID: //p')
check "a build ID not mapped in the process: 404" \
    test "$(http_status "/debug/pprof/buildid/$other/executable" "${auth[@]}")" = 404
DEBUGINFOD_CACHE_PATH=$TK_TMP/dcache2 debuginfod-find executable "$other" >/dev/null 2>&1
check "and debuginfod-find fails on it" test $? != 0
for bad in "$self_id/../../../etc/passwd" "$self_id/source/etc/passwd" "ABCDEF/executable" \
           "$self_id" "x/executable" "$self_id/executable/more"; do
    code=$(http_status "/debug/pprof/buildid/$bad" "${auth[@]}" --path-as-is)
    check "buildid/$bad is refused ($code)" test "$code" = 404 -o "$code" = 400
done
stop_server
check "takhind stops cleanly" test $? = 0
finish
