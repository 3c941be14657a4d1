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
TK_RATE=0 start_server sym "$TK_TMP/takhin.yaml" LD_PRELOAD="${preload# }" ||
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
finish
