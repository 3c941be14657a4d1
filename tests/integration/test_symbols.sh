#!/usr/bin/env bash
# Symbols for stripped code (issue 30). A small library with a static hot
# function (tools/hotlib/hot.c) is built once per variant, split into a
# debug file (objcopy --only-keep-debug) and a stripped copy, and every
# copy is preloaded into takhind. The live profile must name the function
# of each copy whose debug file the plugin can find on local files: by
# build ID under profiler.debug_dirs, through .gnu_debuglink (beside the
# file, in .debug/, under a debug root), from MiniDebugInfo; a debug file
# with another build ID is refused; what stays unresolved keeps its address
# and build ID, and its mapping does not claim functions. Then
# takhin-profiler -symbolize resolves the rest through a local debuginfod.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof
for tool in go objcopy strip xz gcc; do
    command -v $tool >/dev/null || { skip "$tool missing"; finish; }
done

libs=$TK_TMP/libs root=$TK_TMP/debugroot
mkdir -p "$libs/.debug" "$root"
variants="idroot link linkdir linkroot mini none wrong"
# hotlib NAME: $libs/hot_NAME.so (stripped) and $TK_TMP/hot_NAME.debug.
hotlib() {
    local full=$TK_TMP/hot_$1.full
    gcc -O1 -g -shared -fPIC -pthread -Wl,--build-id -DHOT=tk_hot_$1 \
        tests/integration/tools/hotlib/hot.c -o "$full" &&
        objcopy --only-keep-debug "$full" "$TK_TMP/hot_$1.debug" &&
        strip --strip-all -o "$libs/hot_$1.so" "$full"
}
lacks() { ! contains "$1" "$2" 2>/dev/null; }
build_id() { readelf -n "$1" | sed -n 's/.*Build ID: //p'; }
# by_id DIR FILE ID: FILE as DIR/.build-id/xx/rest.debug for build ID ID.
by_id() { mkdir -p "$1/.build-id/${3:0:2}" && cp "$2" "$1/.build-id/${3:0:2}/${3:2}.debug"; }

built=0
for v in $variants; do hotlib "$v" || built=1; done
check "the test libraries build and strip" test $built = 0
for v in $variants; do
    nm "$libs/hot_$v.so" 2>/dev/null | grep -q tk_hot && not_ok "hot_$v.so is not stripped"
done
by_id "$root" "$TK_TMP/hot_idroot.debug" "$(build_id "$libs/hot_idroot.so")"
objcopy --add-gnu-debuglink="$TK_TMP/hot_link.debug" "$libs/hot_link.so"
cp "$TK_TMP/hot_link.debug" "$libs/"
objcopy --add-gnu-debuglink="$TK_TMP/hot_linkdir.debug" "$libs/hot_linkdir.so"
cp "$TK_TMP/hot_linkdir.debug" "$libs/.debug/"
objcopy --add-gnu-debuglink="$TK_TMP/hot_linkroot.debug" "$libs/hot_linkroot.so"
mkdir -p "$root$libs" && cp "$TK_TMP/hot_linkroot.debug" "$root$libs/"
# MiniDebugInfo as Fedora makes it: the debug file without DWARF (symbol
# table only), xz'd, in .gnu_debugdata.
objcopy --strip-debug --remove-section .comment "$TK_TMP/hot_mini.debug" "$TK_TMP/mini.elf" &&
    xz -f "$TK_TMP/mini.elf" &&
    objcopy --add-section .gnu_debugdata="$TK_TMP/mini.elf.xz" "$libs/hot_mini.so"
check "hot_mini.so has a .gnu_debugdata section" \
    bash -c "readelf -S '$libs/hot_mini.so' | grep -q gnu_debugdata"
# The wrong one: the debug file of another build where hot_wrong's goes.
by_id "$root" "$TK_TMP/hot_none.debug" "$(build_id "$libs/hot_wrong.so")"

preload=""
for v in $variants; do preload="$preload $libs/hot_$v.so"; done
write_config "$TK_TMP/takhin.yaml" "$(printf '  producers: 1\nprofiler_extra: 0')"
sed -i "/^  port: 0/a\\  debug_dirs: $root" "$TK_TMP/takhin.yaml"
sed -i '/^profiler_extra/d' "$TK_TMP/takhin.yaml"
# Under ASan (make check-sanitize) its runtime must come first unless told.
asan=()
sanitized && asan=(ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0")
TK_RATE=0 start_server sym "$TK_TMP/takhin.yaml" LD_PRELOAD="${preload# }" "${asan[@]}" ||
    { not_ok "takhind starts with the libraries preloaded"; finish; }
port=$(profiler_port)
url=http://127.0.0.1:$port/debug/pprof

# Profiles until every library has samples (each burns about 5 % of a core).
prof=$TK_TMP/live.pb.gz
for try in 1 2 3 4 5 6; do
    curl -sS -o "$prof" "$url/profile?seconds=2"
    top=$(go tool pprof -symbolize=none -top "$prof" 2>&1)
    missing=0
    for v in $variants; do
        grep -qE "tk_hot_$v|\[hot_$v\.so" <<<"$top" || missing=1
    done
    [ $missing = 0 ] && break
done
raw=$(go tool pprof -symbolize=none -raw "$prof" 2>&1)
echo "$top" | grep -E "hot|libz" | sed 's/^/# /'
for v in idroot link linkdir linkroot mini; do
    check "the plugin names the static function of hot_$v.so" contains "$top" " tk_hot_$v"
done
check "a debug file with another build ID is refused" lacks "$top" tk_hot_none
check "nothing names hot_none.so's function" lacks "$top" tk_hot_wrong
maps=$(grep -E '^ *[0-9]+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ ' <<<"$raw")
echo "$maps" | grep hot_ | sed 's/^/# /'
none_map=$(grep "hot_none.so" <<<"$maps")
check "hot_none.so's mapping keeps its build ID" contains "$none_map" "$(build_id "$libs/hot_none.so")"
check "hot_none.so's mapping claims no functions" lacks "$none_map" "[FN]"
check "hot_idroot.so's mapping claims functions" contains "$(grep hot_idroot.so <<<"$maps")" "[FN]"
none_m=$(sed -nE 's/^ *([0-9]+): .*hot_none\.so.*/\1/p' <<<"$maps")
check "hot_none.so's samples keep their addresses, without a function" \
    grep -qE "^ +[0-9]+: 0x[0-9a-f]+ M=$none_m *\$" <<<"$raw"

# ---- takhin-profiler -symbolize ----
cli=$BUILD/takhin-profiler
export DEBUGINFOD_CACHE_PATH=$TK_TMP/dcache-1
root2=$TK_TMP/debugroot2
by_id "$root2" "$TK_TMP/hot_none.debug" "$(build_id "$libs/hot_none.so")"

# Periodic capture (as watch) symbolizes before storing.
"$cli" -remote "127.0.0.1:$port" -every 1h -type cpu -duration 2s -output-dir "$TK_TMP/store" \
    -symbolize=local -debug-dir "$root2" -q 2>"$TK_TMP/every.err" &
wpid=$!
TK_PIDS+=("$wpid")
stored=""
for i in $(seq 150); do
    stored=$(find "$TK_TMP/store" -name '*.pb.gz' 2>/dev/null | head -1)
    [ -n "$stored" ] && break
    kill -0 "$wpid" 2>/dev/null || break
    sleep 0.2
done
kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
[ -n "$stored" ] || sed 's/^/# every: /' "$TK_TMP/every.err"
check "-every -symbolize stored a capture" test -n "$stored"
check "the stored capture names hot_none.so's function" \
    contains "$(go tool pprof -symbolize=none -top "${stored:-/dev/null}" 2>&1)" " tk_hot_none"
stop_server
check "takhind stops cleanly" test $? = 0
out=$("$cli" -input "$prof" -symbolize=local -debug-dir "$root2" -top 40 2>"$TK_TMP/cli.err")
check "-symbolize=local -debug-dir names hot_none.so's function" contains "$out" " tk_hot_none"
check "the report shows what stays unresolved by its file, as pprof does" \
    contains "$out" " [hot_wrong.so]"
folded=$("$cli" -input "$prof" -symbolize=local -debug-dir "$root2" -format folded 2>/dev/null)
check "folded stacks (and the flame graph) show it as file+offset" \
    grep -qE ";hot_wrong\.so\+0x[0-9a-f]+ [0-9]+\$" <<<"$folded"
out=$("$cli" -input "$prof" -symbolize=none -top 40 2>/dev/null)
check "-symbolize=none leaves it unnamed" lacks "$out" "tk_hot_none"

# A real debuginfod serving hot_none's debug file; the binary itself is
# gone from here (as on another machine): the debug file stands in.
served=$TK_TMP/served
mkdir -p "$served" && cp "$TK_TMP/hot_none.debug" "$served/"
dport=$(free_port)
debuginfod -p "$dport" -d "$TK_TMP/dfs.sqlite" -F "$served" >"$TK_TMP/debuginfod.log" 2>&1 &
dpid=$!
TK_PIDS+=("$dpid")
none_id=$(build_id "$libs/hot_none.so")
for i in $(seq 150); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$dport/buildid/$none_id/debuginfo")" = 200 ] && break
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.2
done
check "debuginfod serves hot_none's debug file" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$dport/buildid/$none_id/debuginfo")" = 200
rm -f "$libs/hot_none.so"
sym=$TK_TMP/symbolized.pb.gz
out=$(DEBUGINFOD_URLS=http://127.0.0.1:$dport "$cli" -input "$prof" -symbolize -debug-dir "$root" \
      -output "$sym" -top 40 2>"$TK_TMP/cli.err")
rc=$?
sed 's/^/# /' "$TK_TMP/cli.err"
check "takhin-profiler -symbolize succeeds" test $rc = 0
check "it names the function through debuginfod" contains "$out" " tk_hot_none"
check "it says where the debug file came from" contains "$(cat "$TK_TMP/cli.err")" \
    "debug info for build ID $none_id (hot_none.so) from debuginfod"
wrong_id=$(build_id "$libs/hot_wrong.so")
check "it says, per build ID, what the server did not have" contains "$(cat "$TK_TMP/cli.err")" \
    "no debug info for build ID $wrong_id (hot_wrong.so) from debuginfod (http://127.0.0.1:$dport): not found"
check "the wrong debug file under -debug-dir is refused: hot_wrong.so stays unnamed" \
    contains "$out" " [hot_wrong.so]"
top=$(go tool pprof -symbolize=none -top "$sym" 2>&1)
check "go tool pprof reads the name in the written profile" contains "$top" " tk_hot_none"
symraw=$(go tool pprof -symbolize=none -raw "$sym" 2>&1)
check "hot_none.so's mapping now claims functions" \
    contains "$(grep -E '^ *[0-9]+: 0x.*hot_none\.so' <<<"$symraw")" "[FN]"
check "hot_wrong.so's still does not" lacks "$(grep -E '^ *[0-9]+: 0x.*hot_wrong\.so' <<<"$symraw")" "[FN]"

# The server down: one message per build ID, the profile still written.
kill "$dpid" && wait "$dpid" 2>/dev/null
export DEBUGINFOD_CACHE_PATH=$TK_TMP/dcache-2
DEBUGINFOD_URLS=http://127.0.0.1:$dport "$cli" -input "$prof" -output "$TK_TMP/down.pb.gz" \
    -q -top 5 >/dev/null 2>"$TK_TMP/down.err"
rc=$?
sed 's/^/# /' "$TK_TMP/down.err"
check "with the server down the CLI still succeeds" test $rc = 0
check "and still writes the profile" test -s "$TK_TMP/down.pb.gz"
check "it says so for hot_none's build ID" \
    grep -q "no debug info for build ID $none_id (hot_none.so) from debuginfod.*: " "$TK_TMP/down.err"
check "once per build ID" test "$(grep -c "build ID $none_id" "$TK_TMP/down.err")" = 1

# A server that takes the connection and never answers: libdebuginfod's
# DEBUGINFOD_TIMEOUT (seconds without progress) ends each request.
sport=$(free_port)
if hold_port "$sport"; then
    export DEBUGINFOD_CACHE_PATH=$TK_TMP/dcache-3
    DEBUGINFOD_TIMEOUT=1 DEBUGINFOD_URLS=http://127.0.0.1:$sport "$cli" -input "$prof" \
        -debug-dir "$root2" -output "$TK_TMP/slow.pb.gz" -q -top 5 >/dev/null 2>"$TK_TMP/slow.err"
    rc=$?
    sed 's/^/# /' "$TK_TMP/slow.err"
    check "with a server that never answers the CLI still succeeds" test $rc = 0 -a -s "$TK_TMP/slow.pb.gz"
    check "and says so per build ID" \
        grep -q "no debug info for build ID $wrong_id (hot_wrong.so) from debuginfod.*: no answer" \
        "$TK_TMP/slow.err"
    kill "$HOLDER_PID" && wait "$HOLDER_PID" 2>/dev/null
else
    not_ok "a port that accepts and never answers"
fi
finish
