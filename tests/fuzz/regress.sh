#!/usr/bin/env bash
# make fuzz-regress: replays every seed and every input that once crashed
# (tests/fuzz/<name>/seeds/) through the fuzz targets built with
# tests/fuzz/replay.c as main ($BUILD/fuzz-replay/fuzz_<name>), so that a
# fixed crash stays fixed. make test runs it; make check-sanitize runs it
# under ASan+UBSan. Prints "N passed, N failed" like tests/run.sh (one
# test per target).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
passed=0 failed=0
for bin in "$BUILD"/fuzz-replay/fuzz_*; do
    name=${bin##*/fuzz_}
    if out=$("$bin" "tests/fuzz/$name/seeds" 2>&1); then
        echo "ok - $out"
        passed=$((passed + 1))
    else
        echo "not ok - fuzz_$name: an input of tests/fuzz/$name/seeds fails:"
        FUZZ_REPLAY_VERBOSE=1 "$bin" "tests/fuzz/$name/seeds" 2>&1 | tail -30 | sed 's/^/  /'
        failed=$((failed + 1))
    fi
done
echo "fuzz-regress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
