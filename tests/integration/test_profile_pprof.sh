#!/usr/bin/env bash
# The profile core's encoder, read by the real client: a profile written by
# the unit test binary (build/tests/test_profile_symbolize --write-pprof:
# 3 samples in static_target, 2 in inl_square inlined into calls_inlined,
# all under caller_of_return_address) must be accepted by go tool pprof
# without warnings, with the names, inlined frames, lines and values.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof   # pprof writes its cache there
bin=$BUILD/tests/test_profile_symbolize
if ! command -v go >/dev/null || [ ! -x "$bin" ]; then
    skip "go or $bin missing"
    finish
fi
prof=$TK_TMP/symbolized.pb.gz
check "the test binary writes a profile" "$bin" --write-pprof "$prof"

top=$(go tool pprof -top "$prof" 2>"$TK_TMP/top.err")
check "pprof -top succeeds" test $? -eq 0
check "pprof prints no warning" test ! -s "$TK_TMP/top.err"
echo "$top" | sed 's/^/# /'
check "static_target has 30ms flat" grep -qE '^ +30ms .* static_target$' <<<"$top"
check "the inlined function is marked inline" grep -qE '^ +20ms .* inl_square \(inline\)$' <<<"$top"
check "the caller has 50ms cum" grep -qE '^ +0 .* 50ms +100% +caller_of_return_address$' <<<"$top"
check "the total is 50ms" contains "$top" "of 50ms total"

raw=$(go tool pprof -raw "$prof" 2>&1)
check "two lines in the inlined location" \
    grep -qE '^ +calls_inlined /.*tests/unit/test_profile_symbolize\.c:[0-9]+ s=[0-9]+$' <<<"$raw"
check "the mapping is marked symbolized" grep -qE '\[FN\]\[FL\]\[LN\]\[IN\]$' <<<"$raw"
check "the mapping carries the build ID" \
    grep -q "$(readelf -n "$bin" | sed -n 's/.*Build ID: //p')" <<<"$raw"
finish
