#!/usr/bin/env bash
# The same tools from two builds side by side: OLD (the build folder of an
# earlier commit) against BUILD (default build/), in paired runs that
# alternate which goes first. Ratios are new/old: below 1, the new build
# is faster or smaller.
#   analyze  takhin-profiler -analyze -top 20 on bench/gen_profile's two
#            shapes (see bench_analyze.sh): elapsed time and peak RSS; go
#            tool pprof -top runs in the same rounds (last), so that both
#            builds' speed-ups over it come from the same conditions
#   encode   bench_symbolize enc: CPU ms to encode 100,000 stacks of depth
#            20 into a gzipped profile.proto, without and with symbols, and
#            the peak RSS of the whole run (1k, 10k and 100k stacks)
#   OLD=/path/to/old/build bench/ab_builds.sh         RUNS=9 OLD=... bench/ab_builds.sh
# (a relative OLD is taken from the current directory)
[ -n "${OLD:-}" ] && OLD=$(realpath -- "$OLD")
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
export HOME=$B_TMP PPROF_TMPDIR=$B_TMP/pprof
PPROF=$(go env GOTOOLDIR 2>/dev/null)/pprof # the pprof binary itself, without the go launcher
[ -x "$PPROF" ] || PPROF="go tool pprof"
OLD=${OLD:?set OLD to the build folder of the commit to compare against}
for b in "$OLD" "$BUILD"; do
    for f in takhin-profiler bench/bench_symbolize; do
        [ -x "$b/$f" ] || { echo "build $b/$f first (make bench-build)" >&2; exit 1; }
    done
done
build_measure || exit 1
cc -O2 -Iprofile -o "$B_TMP/gen_profile" bench/gen_profile.c "$BUILD/libtkprofile.a" -lz || exit 1
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {print a / b}'; }

echo "old: $OLD; new: $BUILD; $RUNS paired runs; $(nproc) CPUs"
for shape in counts records; do
    f=$B_TMP/$shape.pb.gz
    "$B_TMP/gen_profile" $shape "$f" 2>&1 | sed 's/^/# /'
    if ! cmp -s <("$OLD/takhin-profiler" -analyze -input "$f" -top 20 2>&1) \
                <("$BUILD/takhin-profiler" -analyze -input "$f" -top 20 2>&1); then
        echo "   $shape: the two builds' reports differ"; exit 1
    fi
    if ! $PPROF -top -nodecount=20 "$f" >/dev/null 2>"$B_TMP/pprof.err"; then
        echo "   $shape: go tool pprof fails: $(head -c 300 "$B_TMP/pprof.err")"; exit 1
    fi
    rt=() rm=() po=() pn=()
    for i in $(seq "$RUNS"); do
        order=("$OLD" "$BUILD")
        [ $((i % 2)) -eq 0 ] && order=("$BUILD" "$OLD")
        declare -A t m
        for b in "${order[@]}"; do
            read -r "t[$b]" "m[$b]" < <("$B_TMP/measure" "$b/takhin-profiler" -analyze -input "$f" -top 20 2>/dev/null)
        done
        read -r tp _ < <("$B_TMP/measure" $PPROF -top -nodecount=20 "$f" 2>/dev/null)
        echo "   $shape run $i: old ${t[$OLD]}s $((m[$OLD] / 1024)) MiB, new ${t[$BUILD]}s $((m[$BUILD] / 1024)) MiB, pprof ${tp}s"
        rt+=("$(ratio "${t[$BUILD]}" "${t[$OLD]}")") rm+=("$(ratio "${m[$BUILD]}" "${m[$OLD]}")")
        po+=("$(ratio "$tp" "${t[$OLD]}")") pn+=("$(ratio "$tp" "${t[$BUILD]}")")
        unset t m
    done
    summary "== analyze $shape: time new/old" "${rt[@]}"
    summary "== analyze $shape: peak RSS new/old" "${rm[@]}"
    summary "== analyze $shape: time pprof/old" "${po[@]}"
    summary "== analyze $shape: time pprof/new" "${pn[@]}"
done

# encode: the 100000 row of bench_symbolize enc: "samples build encode encode+sym ..."
enc_row() { "$1/bench/bench_symbolize" 0 enc | awk '$1 == 100000 {print $3, $4}'; }
re=() rs=() rm=()
for i in $(seq "$RUNS"); do
    order=("$OLD" "$BUILD")
    [ $((i % 2)) -eq 0 ] && order=("$BUILD" "$OLD")
    declare -A e s m
    for b in "${order[@]}"; do
        read -r "e[$b]" "s[$b]" < <(enc_row "$b")
        read -r _ "m[$b]" < <("$B_TMP/measure" "$b/bench/bench_symbolize" 0 enc)
    done
    echo "   encode run $i: old ${e[$OLD]} / ${s[$OLD]} ms $((m[$OLD] / 1024)) MiB," \
         "new ${e[$BUILD]} / ${s[$BUILD]} ms $((m[$BUILD] / 1024)) MiB (plain / with symbols, peak RSS)"
    re+=("$(ratio "${e[$BUILD]}" "${e[$OLD]}")") rs+=("$(ratio "${s[$BUILD]}" "${s[$OLD]}")")
    rm+=("$(ratio "${m[$BUILD]}" "${m[$OLD]}")")
    unset e s m
done
summary "== encode 100k stacks: CPU new/old" "${re[@]}"
summary "== same, with symbolization: CPU new/old" "${rs[@]}"
summary "== encode run: peak RSS new/old" "${rm[@]}"
