#!/usr/bin/env bash
# Runs test suites and prints one closing line "N passed, N failed".
#   tests/run.sh unit integration
# Unit tests are the cmocka binaries build/tests/test_*; integration tests
# are tests/integration/test_*.sh, which print "ok N - ..." / "not ok N - ...".
set -u
BUILD=${BUILD:-build}
export BUILD TK_TEST_PLUGIN_DIR="$BUILD/tests/plugins"
passed=0 failed=0 skipped=0 broken=()
log=$(mktemp /tmp/tk-run-XXXXXX)
trap 'rm -f "$log"' EXIT

count() { grep -cE "$1" "$log" || true; }

run_unit() {
    for bin in "$BUILD"/tests/test_*; do
        [ -x "$bin" ] || continue
        echo "== $bin"
        "$bin" >"$log" 2>&1
        local rc=$? p f s
        cat "$log"
        p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$log" | tail -1)
        f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$log" | tail -1)
        s=$(sed -nE 's/^\[  SKIPPED \] ([0-9]+) test.*/\1/p' "$log" | tail -1)
        passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0})) skipped=$((skipped + ${s:-0}))
        if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); broken+=("$bin"); fi
    done
}

run_integration() {
    for t in tests/integration/test_*.sh; do
        echo "== $t"
        local t0=$SECONDS
        bash "$t" >"$log" 2>&1
        local rc=$? p f s
        cat "$log"
        echo "== $t took $((SECONDS - t0)) s"
        s=$(count '^ok [0-9]+ # SKIP') f=$(count '^not ok [0-9]+ ')
        p=$(( $(count '^ok [0-9]+ ') - s ))
        passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
        if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); broken+=("$t"); fi
    done
}

for suite in "$@"; do
    case $suite in
        unit) run_unit ;;
        integration) run_integration ;;
        *) echo "tests/run.sh: unknown suite $suite (unit, integration)" >&2; exit 2 ;;
    esac
done
[ ${#broken[@]} -eq 0 ] || echo "exited non-zero without reporting a failed test: ${broken[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
