#!/usr/bin/env bash
# make fuzz FUZZ_SECONDS=N: runs each libFuzzer target of tests/fuzz/ for N
# seconds (default 60), one after the other, on the seeds of
# tests/fuzz/<name>/seeds/ plus a working corpus kept in
# build/fuzz/corpus/<name>/ (it grows from run to run; not in git).
# Crashes land in build/fuzz/artifacts/<name>/. Prints, per target: time,
# executions, coverage (libFuzzer's cov: edges and ft: features), corpus
# size and the findings; writes the same table to build/fuzz/summary.md.
# Exit status 1 when any target found something.
#   tests/fuzz/run.sh [names...]            (after the fuzzers are built)
set -u
cd "$(dirname "$0")/../.." || exit 1
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
secs=${FUZZ_SECONDS:-60}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(ls "$FUZZ_BUILD/fuzzers" | sed -n 's/^fuzz_//p'))
summary=$FUZZ_BUILD/summary.md
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
{
    echo "| target | seconds | executions | exec/s | cov (edges) | ft (features) | corpus | findings |"
    echo "|---|---|---|---|---|---|---|---|"
} >"$summary"
found=0
for name in "${names[@]}"; do
    bin=$FUZZ_BUILD/fuzzers/fuzz_$name
    corpus=$FUZZ_BUILD/corpus/$name art=$FUZZ_BUILD/artifacts/$name
    mkdir -p "$corpus" "$art"
    log=$FUZZ_BUILD/fuzz_$name.log
    dict=()
    [ -f "tests/fuzz/$name/dict" ] && dict=(-dict="tests/fuzz/$name/dict")
    t0=$(date +%s)
    # -rss_limit_mb: a parser that balloons on small input is a finding too.
    "$bin" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$art/" "${dict[@]}" "$corpus" "tests/fuzz/$name/seeds" >"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    corp=$(ls "$corpus" | wc -l)
    crashes=$(ls "$art" 2>/dev/null | wc -l)
    if [ $rc -ne 0 ] || [ "$crashes" -gt 0 ]; then
        found=1
        what="exit $rc; $crashes artifact(s) in $art: $(grep -m1 -E 'ERROR: |runtime error|invariant broken|deadly signal|out-of-memory|timeout' "$log" | cut -c1-160)"
    else
        what="none"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" $((t1 - t0)) "${execs:-?}" \
        "$(awk -v e="${execs:-0}" -v s=$((t1 - t0)) 'BEGIN { printf "%d", s ? e / s : 0 }')" \
        "${cov:-?}" "${ft:-?}" "$corp" "$what" | tee -a "$summary"
done
echo "fuzz: summary in $summary"
exit $found
