#!/usr/bin/env bash
# The first CPU profile of a fresh takhind (demo running): its response
# time minus the profile's length is mostly the symbolizer's first pass
# (opening each loaded object, its symbol table, looking for debug files).
# OLD's profiler.so against BUILD's, in paired runs alternating which goes
# first, with the same takhind; then, once per build, the files the
# symbolizer tried to open under debug paths during that first profile
# (strace). Issue 30 added the .gnu_debuglink and debug-root lookups.
#   OLD=/path/to/old/build bench/first_profile_symbols.sh [PAIRS]
[ -n "${OLD:-}" ] && OLD=$(realpath -- "$OLD")
source "$(dirname "$0")/lib.sh"
OLD=${OLD:?set OLD to the build folder of the commit to compare against}
pairs=${1:-10}
# first_profile PLUGIN_BUILD: seconds beyond the profile's 1 s.
first_profile() {
    bench_server_from "$1" || return 1
    local t
    t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$B_PORT/debug/pprof/profile?seconds=1")
    stop
    awk -v t="$t" 'BEGIN {printf "%.4f\n", t - 1}'
}
# bench_server_from BUILD_DIR: takhind (BUILD's) with BUILD_DIR's profiler.so.
bench_server_from() {
    cat >"$B_TMP/takhin.yaml" <<YAML
plugins:
  - name: profiler
    path: $1/profiler.so
profiler:
  enabled: true
  port: 0
demo:
  rate: 1000
YAML
    B_SOCK=$B_TMP/admin.sock
    TMPDIR=$B_TMP TAKHIN_ADMIN_SOCKET=$B_SOCK "$BUILD/takhind" -c "$B_TMP/takhin.yaml" 2>"$B_TMP/log" &
    B_PID=$!
    for _ in $(seq 100); do admin help >/dev/null 2>&1 && break; sleep 0.1; done
    B_PORT=$(admin profiler status | sed -nE 's/.*"listen":"[^"]*:([0-9]+)".*/\1/p')
    sleep 0.5 # the demo under way
    [ -n "$B_PORT" ]
}
stop() { kill -TERM "$B_PID" 2>/dev/null; wait "$B_PID" 2>/dev/null; B_PID=""; }

old=() new=() ratios=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) = 1 ]; then o=$(first_profile "$OLD"); n=$(first_profile "$ROOT/$BUILD")
    else n=$(first_profile "$ROOT/$BUILD"); o=$(first_profile "$OLD"); fi
    old+=("$o") new+=("$n") ratios+=("$(awk -v a="$n" -v b="$o" 'BEGIN {print a / b}')")
done
echo "first CPU profile (1 s) of a fresh takhind, demo rate 1000: seconds beyond 1 s; $pairs pairs, $(nproc) CPUs"
summary "old profiler.so" "${old[@]}"
summary "new profiler.so" "${new[@]}"
summary "ratio new/old" "${ratios[@]}"
for b in "$OLD" "$ROOT/$BUILD"; do
    bench_server_from "$b" || exit 1
    strace -f -qq -e trace=openat -o "$B_TMP/strace" -p "$B_PID" 2>/dev/null &
    spid=$!
    sleep 0.5
    curl -s -o /dev/null "http://127.0.0.1:$B_PORT/debug/pprof/profile?seconds=1"
    kill -INT "$spid"; wait "$spid" 2>/dev/null
    stop
    tried=$(grep -cE '\.debug|/usr/lib/debug|debug-root' "$B_TMP/strace")
    missing=$(grep -E '\.debug|/usr/lib/debug' "$B_TMP/strace" | grep -c ENOENT)
    echo "$(basename "$(dirname "$b")")/$(basename "$b"): $tried debug-file opens in the first profile, $missing of them ENOENT"
    [ -n "${VERBOSE:-}" ] && grep -E '\.debug|/usr/lib/debug' "$B_TMP/strace" | sed 's/^/#   /'
done
