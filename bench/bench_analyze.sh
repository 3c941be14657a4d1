#!/usr/bin/env bash
# takhin-profiler -analyze -input against go tool pprof -top on large
# profiles: 500,000 samples over 50,000 distinct stacks, in two shapes
# (bench/gen_profile.c):
#   counts   50,000 sample records carrying counts
#   records  500,000 records of count 1 (every sample its own record)
# RUNS (default 5) paired runs per shape, alternating the two tools;
# elapsed time and peak RSS of each (wait4 rusage: build_measure in lib.sh);
# min/median/max of both and of the ratios pprof/ours. Targets: ours at
# least 10x faster and at most 1/4 of pprof's peak memory, on both shapes.
# The reports are checked to be the same before timing.
#   bench/bench_analyze.sh            RUNS=9 bench/bench_analyze.sh
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
export HOME=$B_TMP PPROF_TMPDIR=$B_TMP/pprof
TP=$BUILD/takhin-profiler
PPROF=$(go env GOTOOLDIR 2>/dev/null)/pprof # the pprof binary itself, without the go launcher
[ -x "$PPROF" ] || PPROF="go tool pprof"
[ -x "$TP" ] || { echo "build $TP first (make)" >&2; exit 1; }

build_measure || exit 1
[ -f "$BUILD/libtkprofile.a" ] || { echo "build $BUILD/libtkprofile.a first (make)" >&2; exit 1; }
cc -O2 -Iprofile -o "$B_TMP/gen_profile" bench/gen_profile.c "$BUILD/libtkprofile.a" -lz || exit 1

echo "takhin-profiler: $TP; pprof: $PPROF; $RUNS paired runs per shape; $(nproc) CPUs"
fail=0
for shape in counts records; do
    f=$B_TMP/$shape.pb.gz
    "$B_TMP/gen_profile" $shape "$f" 2>&1 | sed 's/^/# /'
    echo "== $shape: $(stat -c %s "$f") bytes gzipped"
    want=$($PPROF -top -nodecount=20 "$f" 2>/dev/null | sed -n '/flat  flat%/,$p')
    got=$("$TP" -analyze -input "$f" -top 20 2>/dev/null | sed -n '/flat  flat%/,$p')
    if [ "$want" != "$got" ]; then
        echo "   the reports differ:"; diff <(echo "$want") <(echo "$got") | head; fail=1
    else
        echo "   same report (top 20 rows) from both"
    fi
    pt=() pm=() ct=() cm=() rt=() rm=()
    for i in $(seq "$RUNS"); do
        read -r t1 m1 < <("$B_TMP/measure" $PPROF -top -nodecount=20 "$f" 2>/dev/null)
        read -r t2 m2 < <("$B_TMP/measure" "$TP" -analyze -input "$f" -top 20 2>/dev/null)
        pt+=("$t1") pm+=("$((m1 / 1024))") ct+=("$t2") cm+=("$((m2 / 1024))")
        rt+=("$(awk -v a="$t1" -v b="$t2" 'BEGIN {print a / b}')")
        rm+=("$(awk -v a="$m1" -v b="$m2" 'BEGIN {print a / b}')")
        echo "   run $i: pprof ${t1}s $((m1 / 1024)) MiB, takhin-profiler ${t2}s $((m2 / 1024)) MiB"
    done
    summary "   pprof time (s)" "${pt[@]}"
    summary "   takhin-profiler time (s)" "${ct[@]}"
    summary "   time ratio pprof/ours (want >= 10)" "${rt[@]}"
    summary "   pprof peak RSS (MiB)" "${pm[@]}"
    summary "   takhin-profiler peak RSS (MiB)" "${cm[@]}"
    summary "   memory ratio pprof/ours (want >= 4)" "${rm[@]}"
    med_t=$(printf '%s\n' "${rt[@]}" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
    med_m=$(printf '%s\n' "${rm[@]}" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
    if awk -v t="$med_t" -v m="$med_m" 'BEGIN {exit !(t >= 10 && m >= 4)}'; then
        echo "   $shape: targets met (median ${med_t}x faster, ${med_m}x less memory)"
    else
        echo "   $shape: TARGET MISSED (median ${med_t}x faster, ${med_m}x less memory)"; fail=1
    fi
done
exit $fail
