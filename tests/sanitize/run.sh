#!/usr/bin/env bash
# make check-sanitize: every test (unit, integration, fuzz regressions)
# against the ASan+UBSan build in build/asan (made without tcmalloc, whose
# allocator cannot coexist with ASan's: the heap endpoints answer 501 there,
# and the tests that need the sampler check that 501 instead, under
# TK_SANITIZED=1).
#
# Every sanitizer report of every process the tests start (takhind,
# takhin-admin, takhin-profiler, unit tests) goes to a file in a fresh
# directory; the run fails when any test fails or any report was written,
# and prints the reports. LeakSanitizer suppressions, with their reasons:
# tests/sanitize/lsan.supp.
#   tests/sanitize/run.sh            (after make BUILD=build/asan ... all tests)
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build/asan}
logs=$(mktemp -d /tmp/tk-sanitize-XXXXXX)
export TK_SANITIZED=1
export ASAN_OPTIONS="log_path=$logs/asan:fast_unwind_on_malloc=0:detect_leaks=1:strict_string_checks=1:detect_invalid_pointer_pairs=0"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"
start=$(date +%s)
BUILD=$BUILD tests/run.sh unit integration
rc=$?
BUILD=$BUILD tests/fuzz/regress.sh || rc=1
reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
    echo "== sanitizer reports:"
    for f in $reports; do echo "--- $f"; cat "$f"; done
    rc=1
fi
echo "check-sanitize: tests $( [ $rc -eq 0 ] && echo clean || echo FAILED ), $(echo "$reports" | grep -c . ) sanitizer report(s), $(( $(date +%s) - start )) s"
rm -rf "$logs"
exit $rc
