#!/usr/bin/env bash
# /debug/pprof/heap and /debug/pprof/allocs from the plugin's own sampler on
# tcmalloc's malloc hooks, read by go tool pprof, which has no access to the
# server's binary: names come from the server. The 501 path (allocator is
# not tcmalloc) is checked in tests/unit/test_heap.c, whose process runs on
# glibc's malloc; takhind always links tcmalloc.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof   # pprof writes its cache there

config=$TK_TMP/takhin.yaml
# heap_config BYTES: 2000 records/s, about 0.5 GB/s of zlib state
# (deflateInit2_): 1000 samples/s at the default 524288.
heap_config() {
    {
        profiler_yaml true 0
        cat <<YAML
  heap_sample_bytes: $1
demo:
  rate: 2000
  producers: 1
YAML
    } >"$config"
}
heap_config 524288
start_hidden_server heap "$config" || { not_ok "takhind starts from a deleted binary"; finish; }
# Sanitized builds (make check-sanitize, TK_SANITIZED=1) do not link
# tcmalloc: heap and allocs must answer 501 with the reason; the rest of
# this file needs the sampler.
if [ "${TK_SANITIZED:-0}" = 1 ]; then
    for kind in heap allocs; do
        check "sanitized build, no tcmalloc: $kind is 501" \
            test "$(http_status /debug/pprof/$kind)" = 501
    done
    check "the 501 names tcmalloc" contains "$(http /debug/pprof/heap)" "heap profiling needs tcmalloc"
    stop_server; check "takhind exits 0" test $? -eq 0
    finish
fi
check "the log says sampling is on, and how it unwinds" \
    grep -q "heap sampling on: one sample per 524288 bytes allocated on average (DWARF CFI" "$SERVER_LOG"
url=http://127.0.0.1:$(profiler_port)/debug/pprof
sleep 3

# ---- the profiles, through pprof ----
if command -v go >/dev/null; then
    top=$(go tool pprof -top -nodefraction=0 "$url/heap" 2>&1)
    echo "$top" | head -14 | sed 's/^/# /'
    check "heap: the default type is inuse_space" contains "$top" "Type: inuse_space"
    check "heap: the records kept in the partitions, allocated in record_compress" \
        contains "$top" " record_compress"
    top=$(go tool pprof -top -nodefraction=0 "$url/allocs" 2>&1)
    echo "$top" | head -14 | sed 's/^/# /'
    check "allocs: the default type is alloc_space" contains "$top" "Type: alloc_space"
    for fn in record_compress record_generate deflateInit2_ compress2 record_verify; do
        check "allocs names $fn" contains "$top" " $fn"
    done
    check "allocs: the allocator's and the hook's frames are cut off" \
        bash -c '! grep -qE "tc_malloc|MallocHook|new_hook|take_sample|prof_unwind" <<<"$1"' _ "$top"
    top=$(go tool pprof -top -sample_index=alloc_space "$url/heap" 2>&1)
    check "heap with -sample_index=alloc_space" contains "$top" "Type: alloc_space"
    top=$(go tool pprof -top -sample_index=inuse_objects "$url/allocs" 2>&1)
    check "allocs with -sample_index=inuse_objects" contains "$top" "Type: inuse_objects"
    top=$(go tool pprof -top -nodefraction=0 "$url/allocs?seconds=1" 2>&1)
    echo "$top" | head -8 | sed 's/^/# /'
    check "allocs?seconds=1 is a 1 s delta" contains "$top" "Duration: 1s"
    check "the delta names record_compress" contains "$top" " record_compress"
    # alloc_space of a 2 s delta against what the workload produced in the
    # same time: deflateInit2_ allocates 262.6 KB per record (level 1,
    # 15-bit window, memLevel 8), the record and its copy 2 KB more.
    p0=$(admin workload status | sed -nE 's/.*"produced":([0-9]+).*/\1/p')
    curl -sS -o "$TK_TMP/delta.pb.gz" "$url/allocs?seconds=2"
    p1=$(admin workload status | sed -nE 's/.*"produced":([0-9]+).*/\1/p')
    mb=$(go tool pprof -top -unit=MB "$TK_TMP/delta.pb.gz" 2>&1 |
         sed -nE 's/.* of ([0-9.]+)MB total.*/\1/p')
    want=$(awk -v n=$((p1 - p0)) 'BEGIN { printf "%.0f", n * 0.2646 }')
    echo "# allocs over 2 s: ${mb:-?} MB; $((p1 - p0)) records produced around it: ~$want MB"
    check "the 2 s delta's alloc_space matches the records produced (-40%..+15%)" \
        awk -v m="${mb:-0}" -v w="$want" 'BEGIN { exit !(m > 0.6 * w && m < 1.15 * w) }'
else
    skip "go missing: pprof checks"
fi

# ---- Go's legacy text (debug=1), symbolized by the server ----
text=$(http "/debug/pprof/heap?debug=1")
echo "$text" | head -12 | sed 's/^/# /'
check "debug=1 starts with Go's header, rate 2*524288" \
    grep -qE '^heap profile: [0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @ heap/1048576$' <<<"$text"
check "records: 'inuse: bytes [allocs: bytes] @ addresses'" \
    grep -qE '^[0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @( 0x[0-9a-f]+)+$' <<<"$text"
check "frames: '#<tab>0x...<tab>record_compress+0xOFF<tab>.../workload.c:N'" \
    grep -qP '^#\t0x[0-9a-f]+\trecord_compress\+0x[0-9a-f]+\t\S*server/workload\.c:\d+$' <<<"$text"
check "the trailer gives the sampler's figures" contains "$text" "# Samples = "
check "the text ends with the mappings, for pprof (MAPPED_LIBRARIES)" \
    grep -qE '^[0-9a-f]+-[0-9a-f]+ r-xp .*/libz\.so' <<<"${text#*MAPPED_LIBRARIES:}"
if command -v go >/dev/null; then
    top=$(go tool pprof -top -sample_index=alloc_space "$url/allocs?debug=1" 2>&1)
    check "pprof reads the legacy text too (names via /symbol)" contains "$top" " record_compress"
fi
check "allocs?debug=1 is the same format" \
    grep -qE '^heap profile: .* @ heap/1048576$' <<<"$(http "/debug/pprof/allocs?debug=1")"
curl -sS -D "$TK_TMP/h" -o /dev/null "$url/allocs?seconds=1"
check "the delta is named allocs-delta" grep -qi 'filename="allocs-delta"' "$TK_TMP/h"
check "seconds with debug is 400" test "$(http_status "/debug/pprof/heap?seconds=1&debug=1")" = 400
check "the index lists heap and allocs" \
    bash -c 'grep -q "heap?debug=1" <<<"$1" && grep -q "allocs?debug=1" <<<"$1"' _ "$(http /debug/pprof/)"

# ---- heap_sample_bytes = 0: hooks out, 503 with how to turn it on ----
heap_config 0
admin config reload >/dev/null
check "reload with 0: the log says sampling is off" grep -q "heap sampling off" "$SERVER_LOG"
check "heap is 503" test "$(http_status /debug/pprof/heap)" = 503
body=$(http /debug/pprof/allocs)
check "allocs says how to turn it on" contains "$body" \
    "heap sampling is off: set profiler.heap_sample_bytes (TAKHIN_PROFILER_HEAP_SAMPLE_BYTES) to e.g. 524288 and run config reload"
if command -v go >/dev/null; then
    check "pprof prints that message" contains "$(go tool pprof -top "$url/heap" 2>&1)" \
        "heap sampling is off"
fi
heap_config 524288
admin config reload >/dev/null
check "reload with the default: heap is 200 again" test "$(http_status /debug/pprof/heap)" = 200

# Unloading with the hooks in and the workload allocating: no crash.
stop_server; check "takhind exits 0" test $? -eq 0
finish
