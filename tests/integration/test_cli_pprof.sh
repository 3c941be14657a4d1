#!/usr/bin/env bash
# takhin-profiler's report against `go tool pprof -top` on the same files:
# every sample type of the server's CPU, heap, allocs, mutex, block and
# goroutine profiles, of Go's own runtime profiles, of a local run's
# converted profile, and a difference against a base (-base vs -diff_base).
# The whole block must be the same text: header, totals, dropped nodes,
# and every row's flat, flat%, sum%, cum, cum% and name.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof GOCACHE=$TK_TMP/gocache GO111MODULE=off
TP=$BUILD/takhin-profiler
d=$TK_TMP/p
mkdir -p "$d"

# keep_for_diagnosis FILE...: a copy in $BUILD/failed-profiles, which
# outlives the test's temporary directory.
keep_for_diagnosis() {
    mkdir -p "$ROOT/$BUILD/failed-profiles"
    cp "$@" "$ROOT/$BUILD/failed-profiles/"
    echo "# kept: $* in $BUILD/failed-profiles" >&2
}

# same FILE [BASE]: compares every sample type of FILE.
same() {
    local f=$1 base=${2:-} types si want got n=0 bad=0
    types=$("$TP" -input "$f" -top 0 2>/dev/null | sed -n 's/^Sample types://p' | tr -d '[]')
    for si in $types; do
        si=${si%%/*}
        if [ -n "$base" ]; then
            want=$(go tool pprof -top -nodecount=25 -sample_index="$si" -diff_base="$base" "$f" 2>/dev/null)
            got=$("$TP" -input "$f" -base "$base" -top 25 -sample-index "$si" 2>/dev/null)
        else
            want=$(go tool pprof -top -nodecount=25 -sample_index="$si" "$f" 2>/dev/null)
            got=$("$TP" -input "$f" -top 25 -sample-index "$si" 2>/dev/null)
        fi
        got=$(sed -n '/^== /,/^== top stacks/p' <<<"$got" | sed '1d;/^$/d;/^== top stacks/d')
        n=$((n + $(grep -c '%' <<<"$want")))
        if [ -z "$want" ] || [ "$want" != "$got" ]; then
            bad=1
            diff <(echo "$want") <(echo "$got") | head -20 | sed 's/^/#   /' >&2
            keep_for_diagnosis "$f" ${base:+"$base"}
        fi
    done
    echo "# $(basename "$f")${base:+ - $(basename "$base")}: types: $types; $n rows compared" >&2
    [ -n "$types" ] && [ $bad -eq 0 ]
}

# ---- the server's profiles ----
# A CPU-bound workload: a sleeping one may give a 2 s CPU profile no sample.
TK_RATE=0 write_config "$TK_TMP/takhin.yaml" "  producers: 1"
start_server pprof "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_MUTEX_FRACTION=1 \
    TAKHIN_PROFILER_BLOCK_RATE=1 || { not_ok "takhind starts"; finish; }
admin profiler set mutex_fraction 1 >/dev/null 2>&1
admin profiler set block_rate 1 >/dev/null 2>&1
remote=127.0.0.1:$(profiler_port)
# A sanitized build has no tcmalloc (heap and allocs answer 501): its
# difference is of two goroutine profiles.
types="cpu heap allocs goroutine block mutex" base=heap
sanitized && types="cpu goroutine block mutex" base=goroutine
"$TP" -remote "$remote" -type $base -output "$d/base0.pb.gz" -q >/dev/null
"$TP" -remote "$remote" -type cpu -duration 1s -output "$d/cpu0.pb.gz" -q >/dev/null
"$TP" -remote "$remote" -type all -duration 2s -output-dir "$d/srv" -q >/dev/null 2>&1
for t in $types; do
    f=$(ls "$d"/srv/takhin_${t}_*.pb.gz 2>/dev/null | head -1)
    check "server $t profile: same report as go tool pprof" same "$f"
done
check "difference of two $base profiles: same as pprof -diff_base" \
    same "$(ls "$d"/srv/takhin_${base}_*.pb.gz | head -1)" "$d/base0.pb.gz"
# Two CPU profiles: the header merges their comments and durations.
check "difference of two cpu profiles: same as pprof -diff_base" \
    same "$(ls "$d"/srv/takhin_cpu_*.pb.gz | head -1)" "$d/cpu0.pb.gz"
stop_server

# ---- Go's own profiles ----
if go build -o "$TK_TMP/goprof" tests/integration/tools/goprof/main.go 2>"$TK_TMP/gobuild.log"; then
    "$TK_TMP/goprof" "$d"
    for t in cpu heap mutex block; do
        check "Go runtime $t profile: same report as go tool pprof" same "$d/go_$t.pb.gz"
    done
else
    not_ok "tests/integration/tools/goprof builds ($(head -c 300 "$TK_TMP/gobuild.log"))"
fi

# ---- a local run, converted to profile.proto ----
cc -O1 -g -fno-omit-frame-pointer -o "$TK_TMP/burn" tests/integration/tools/cliwork/burn.c
"$TP" -type cpu -output "$d/burn.pb.gz" -q -- "$TK_TMP/burn" >/dev/null 2>&1
check "local CPU run: same report as go tool pprof" same "$d/burn.pb.gz"
finish
