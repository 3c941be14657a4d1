#!/usr/bin/env bash
# make bench: runs every benchmark and writes bench/REPORT.md: a summary
# table (each figure as a ratio to its baseline measured side by side in
# the same run, min / median / max over the paired runs, against its
# target, with the reason when a target is missed), then one section per
# benchmark with the command that produced it and its full output.
#   bench/report.sh [OUT (default bench/REPORT.md)]    (after make bench-build)
# PAIRS (default 5) sets the paired runs of every benchmark that takes it.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
OUT=${1:-bench/REPORT.md}
PAIRS=${PAIRS:-5}
# The A/B overheads on a whole takhind move by several percent from run to
# run on a shared machine: more pairs for them.
OVERHEAD_PAIRS=${OVERHEAD_PAIRS:-9}
# BENCH_OUTPUTS=DIR keeps every benchmark's output in DIR; with
# BENCH_REUSE=1 too, a benchmark whose output is there is not run again
# (to rewrite the report after editing this script).
if [ -n "${BENCH_OUTPUTS:-}" ]; then
    tmp=$BENCH_OUTPUTS
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d /tmp/tk-report-XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
fi
t_start=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# run NAME CMD...: runs a benchmark, its output in $tmp/NAME.out (and on
# the terminal), its command line in $tmp/NAME.cmd.
run() {
    local name=$1
    shift
    [ "${BENCH_REUSE:-0}" = 1 ] && [ -s "$tmp/$name.out" ] && return 0
    echo "== $name: $*" >&2
    echo "$*" >"$tmp/$name.cmd"
    local t0=$(date +%s)
    "$@" 2>&1 | tee "$tmp/$name.out" >&2
    echo "$(( $(date +%s) - t0 ))" >"$tmp/$name.secs"
}
# fig NAME LABEL: "min median max" of a summary line (bench/lib.sh's format).
fig() {
    [ -f "$tmp/$1.out" ] || { echo "- - -"; return; }
    local l
    l=$(grep -F -- "$2" "$tmp/$1.out" | grep -E ' min +[0-9.-]+ +median' | head -1)
    [ -n "$l" ] || { echo "- - -"; return; }
    sed -nE 's/.* min +([0-9.e+-]+) +median +([0-9.e+-]+) +max +([0-9.e+-]+).*/\1 \2 \3/p' <<<"$l"
}
# stats VALUES...: "min median max".
stats() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        printf "%.4f %.4f %.4f", v[1], m, v[NR] }'
}
fmt() { # fmt "min med max" DIGITS: "med (min–max)"
    read -r a b c <<<"$1"
    [ "$b" = - ] && { echo "not measured"; return; }
    awk -v a="$a" -v b="$b" -v c="$c" -v d="${2:-3}" \
        'BEGIN { printf "%.*f (%.*f – %.*f)", d, b, d, a, d, c }'
}
med() { read -r _ b _ <<<"$1"; echo "$b"; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && a + 0 <= b + 0) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && a + 0 >= b + 0) }'; }

# ---- the benchmarks ----
run cpumicro "$BUILD/bench/bench_cpu" $((PAIRS < 15 ? 15 : PAIRS)) 100 1000
run sampler "$BUILD/bench/bench_sampler" 3 $((PAIRS < 15 ? 15 : PAIRS))
run lightload bench/cpu_light_load.sh 3 5 300 1000 5000
run accuracy bench/cpu_accuracy.sh 3
run slowloris bench/slowloris.sh 3
run tls bench/tls.sh 200
run push bench/push_overhead.sh 4 30
run cpu100 bench/cpu_overhead.sh "$OVERHEAD_PAIRS" 5 100
run cpu1000 bench/cpu_overhead.sh "$OVERHEAD_PAIRS" 5 1000
run heapwl bench/bench_heap_workload.sh "$OVERHEAD_PAIRS" 5
[ -x "$BUILD/bench/bench_heap" ] && run heapmicro "$BUILD/bench/bench_heap" -r "$PAIRS" -p "$BUILD/profiler.so"
run disabled bench/disabled_cost.sh "$OVERHEAD_PAIRS" 5
run mutex "$BUILD/bench/bench_mutex" $((PAIRS < 15 ? 15 : PAIRS))
run context "$BUILD/bench/bench_context" 11
run labels bash bench/labels_overhead.sh "$OVERHEAD_PAIRS" 8 5000
run threads "$BUILD/bench/bench_threads" 11 10 100 1000
run hot bench/hot_disable.sh 50
run endpoints bench/endpoints.sh "$PAIRS" 5
run kafka bench/kafka_load.sh "$OVERHEAD_PAIRS" 3 5000
run flight bench/flight_recorder.sh "$OVERHEAD_PAIRS" 8
if [ -f bench/bench_analyze.sh ]; then
    RUNS=$PAIRS run analyze bash bench/bench_analyze.sh
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- figures ----
cpu100=$(fig cpu100 "CPU-per-record ratio")
cpu100t=$(fig cpu100 "throughput ratio")
cpu1000=$(fig cpu1000 "CPU-per-record ratio")
cpu1000t=$(fig cpu1000 "throughput ratio")
cpum100=$(fig cpumicro "100 Hz: CPU time ratio on/off")
cpuh100=$(fig cpumicro "100 Hz: overhead ratio from the handler time")
cpuh_us=$(fig cpumicro "100 Hz: us in the SIGPROF handler")
cpum1000=$(fig cpumicro "1000 Hz: CPU time ratio on/off")
cpuh1000=$(fig cpumicro "1000 Hz: overhead ratio from the handler time")
hzm1000=$(sed -nE 's/^1000 Hz asked: ([0-9]+) samples.*/\1/p' "$tmp/cpumicro.out" 2>/dev/null)
cpu100w=$(fig cpu100 "whole profile: CPU-per-record ratio")
cpu1000w=$(fig cpu1000 "whole profile: CPU-per-record ratio")
hz1000=$(fig cpu1000 "rate achieved")
hz100=$(fig cpu100 "rate achieved")
# bench_sampler's table rows: "| perf | 100 Hz | lo med hi | samples | us |".
sampler_row() { sed -nE "s/^\| $1 \| $2 Hz \| ([0-9.]+) ([0-9.]+) ([0-9.]+) \| ([0-9]+) \| ([0-9.]+) \|$/\\$3/p" "$tmp/sampler.out" 2>/dev/null; }
ps_ab100=$(sampler_row perf 100 '1 \2 \3') ps_us100=$(sampler_row perf 100 5)
ps_ab1000=$(sampler_row perf 1000 '1 \2 \3') ps_hz1000=$(sampler_row perf 1000 4)
ps_h100=$(awk -v u="${ps_us100:-}" 'BEGIN { if (u == "") print "- - -"; else { r = 1 + 100 * u / 1e6; printf "%.5f %.5f %.5f", r, r, r } }')
: "${ps_ab100:=- - -}" "${ps_ab1000:=- - -}"
hz0() { awk -v v="$(med "$1")" 'BEGIN { printf "%.0f", v }'; }
# bench_heap_workload prints "on/off" per round: records/s and records per
# CPU-second; as CPU per record: off/on.
mapfile -t hw < <(sed -nE 's/^  ([0-9.]+) ([0-9.]+)$/\1 \2/p' "$tmp/heapwl.out")
hw_t=() hw_c=()
for l in "${hw[@]}"; do
    read -r a b <<<"$l"
    hw_t+=("$a") hw_c+=("$(awk -v x="$b" 'BEGIN { printf "%.4f", 1 / x }')")
done
heapc=$( [ ${#hw_c[@]} -gt 0 ] && stats "${hw_c[@]}" || echo "- - -")
heapt=$( [ ${#hw_t[@]} -gt 0 ] && stats "${hw_t[@]}" || echo "- - -")
disc=$(fig disabled "CPU-per-record ratio, loaded+disabled / none")
dist=$(fig disabled "throughput ratio, loaded+disabled / none")
nohc=$(fig disabled "CPU-per-record ratio, loaded+disabled+no hooks / none")
noht=$(fig disabled "throughput ratio, loaded+disabled+no hooks / none")
mtx_off=$(sed -nE 's/^ratio tkh_mutex, no hooks +([0-9.]+) +([0-9.]+) +([0-9.]+).*/\1 \2 \3/p' "$tmp/mutex.out")
mtx_on=$(sed -nE 's/^ratio tkh_mutex, hooks on +([0-9.]+) +([0-9.]+) +([0-9.]+).*/\1 \2 \3/p' "$tmp/mutex.out")
mtx_ns=$(sed -nE 's/^extra ns tkh_mutex, no hooks +([0-9.-]+) +([0-9.-]+) +([0-9.-]+).*/\1 \2 \3/p' "$tmp/mutex.out")
thr() { sed -nE "s/^ *$1 threads +capture min +([0-9.]+) median +([0-9.]+) ms +max +([0-9.]+).*/\1 \2 \3/p" "$tmp/threads.out"; }
thr10=$(thr 10) thr100=$(thr 100) thr1000=$(thr 1000)
trip1000=$(sed -nE 's/^ *1000 threads.*round trip median +([0-9.]+) ms.*/\1/p' "$tmp/threads.out")
hot_idle=$(fig hot "hot disable, idle")
hot_busy=$(fig hot "hot disable, CPU profile in flight")
idx_r=$(fig endpoints "index: throughput ratio")
idx_close=$(fig endpoints "index: ratio ours/Go (Go closing too)")
heap_r=$(fig endpoints "heap: throughput ratio")
idx_ours=$(fig endpoints "index: requests/s, ours")
idx_go=$(fig endpoints "index: requests/s, Go")
heap_ours=$(fig endpoints "heap: requests/s, ours")
heap_go=$(fig endpoints "heap: requests/s, Go")
idx_p99=$(fig endpoints "index: p99 latency ratio")
heap_p99=$(fig endpoints "heap: p99 latency ratio")
idx_p50=$(fig endpoints "index: p50 latency ratio")
heap_p50=$(fig endpoints "heap: p50 latency ratio")
an_counts=$(awk '/^== counts/ { s = 1 } /^== records/ { s = 0 } s' "$tmp/analyze.out" 2>/dev/null |
            grep "time ratio pprof/ours" | sed -nE 's/.* min +([0-9.]+) +median +([0-9.]+) +max +([0-9.]+).*/\1 \2 \3/p')
an_records=$(awk '/^== records/ { s = 1 } s' "$tmp/analyze.out" 2>/dev/null |
             grep "time ratio pprof/ours" | sed -nE 's/.* min +([0-9.]+) +median +([0-9.]+) +max +([0-9.]+).*/\1 \2 \3/p')
: "${an_counts:=- - -}" "${an_records:=- - -}" "${mtx_off:=- - -}" "${mtx_on:=- - -}" "${mtx_ns:=- - -}"
: "${thr10:=- - -}" "${thr100:=- - -}" "${thr1000:=- - -}"
# thread-dump latency over its target (20 ms)
thr1000r=$(read -r a b c <<<"$thr1000"; [ "$b" = - ] && echo "- - -" ||
           awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { printf "%.3f %.3f %.3f", a / 20, b / 20, c / 20 }')

verdict() { if "$@"; then echo "met"; else echo "**missed**"; fi; }
# For an A/B on the shared machine: met if the median is within the target,
# missed if even the best pair is over it, else not resolved (the pairs
# spread across the target: the noise is larger than what is measured).
ab_verdict() {
    local lo m
    read -r lo m _ <<<"$1"
    if le "$m" "$2"; then echo "met"
    elif ! le "$lo" "$2"; then echo "**missed**"
    else echo "**not resolved**"; fi
}
# CPU at 100 Hz: the handler's time resolves a tenth of a percent; the
# A/B of bench_cpu is shown with its own verdict.
v_cpu100=$(ab_verdict "$cpuh100" 1.01)
v_cpum100=$(ab_verdict "$cpum100" 1.01)
v_ps_h100=$(ab_verdict "$ps_h100" 1.001)
v_ps_ab100=$(ab_verdict "$ps_ab100" 1.001)
v_heap=$(ab_verdict "$heapc" 1.02)
# "No measurable cost": the median CPU per record within 1 % of no plugin.
v_dis=$(ab_verdict "$disc" 1.01)
v_noh=$(ab_verdict "$nohc" 1.01)
# Issue 4's target: "within a few ns of plain pthread"; held to 2 ns.
v_mtx=$(verdict le "$(med "$mtx_ns")" 2)
v_thr=$(verdict le "$(med "$thr1000")" 20)
hot_max=$(read -r _ _ c <<<"$hot_busy"; echo "$c")
v_hot=$( (le "$(read -r _ _ c <<<"$hot_idle"; echo "$c")" 100 && le "$hot_max" 100) && echo met || echo "**missed**")
v_idx=$(verdict ge "$(med "$idx_r")" 1)
v_heapep=$(verdict ge "$(med "$heap_r")" 1)
v_an=$( (ge "$(med "$an_counts")" 10 && ge "$(med "$an_records")" 10) && echo met || echo "**missed**")
[ -f "$tmp/analyze.out" ] || v_an="pending"

# ---- the report ----
{
cat <<EOF
# Benchmark report

Written by \`make bench\` (bench/report.sh) on $(date -u +%Y-%m-%dT%H:%MZ), commit
$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet -- . ':!bench/REPORT.md' 2>/dev/null || echo " + uncommitted changes"),
$(nproc) CPUs ($(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r).
The machine is shared: load average $load0 at the start, $load1 at the end;
every figure is therefore a ratio against a baseline measured side by side
in the same run (alternating or rotating the order), min / median / max
over $PAIRS paired runs ($OVERHEAD_PAIRS for the overheads on takhind)
unless said otherwise. CPU-per-record ratios (CPU
time the process used divided by the records it produced) are the figure
of merit for overheads: other load on the machine moves throughput much
more than it moves them. $(( ($(date +%s) - t_start) / 60 )) minutes in all.

## Summary

| figure | baseline (same run) | target | median (min – max) | verdict |
|---|---|---|---|---|
| CPU sampling with perf (the default sampler) at 100 Hz, from the time in its handler (${ps_us100:-?} µs a sample, bench_sampler) | no profile | ≤ 1.001 | $(fmt "$ps_h100" 5) | $v_ps_h100 |
| same, a CPU-bound thread's CPU time, A/B (bench_sampler) | same thread, no profile | ≤ 1.001 | $(fmt "$ps_ab100" 4) | $v_ps_ab100 |
| CPU sampling with perf at 1000 Hz (${ps_hz1000:-?} samples per CPU-second), A/B (bench_sampler) | same thread, no profile | — | $(fmt "$ps_ab1000" 4) | |
| CPU profiling at 100 Hz with gperftools, from the time inside its SIGPROF handler ($(fmt "$cpuh_us" 1) µs a sample, bench_cpu) | no profile | ≤ 1.01 | $(fmt "$cpuh100" 4) | $v_cpu100 |
| same, a CPU-bound thread's CPU time, A/B (bench_cpu) | same thread, no profile | ≤ 1.01 | $(fmt "$cpum100") | $v_cpum100 |
| CPU profiling at the highest rate (${hzm1000:-?} samples per CPU-second when 1000 Hz is asked), bench_cpu: CPU time | same thread, no profile | — | $(fmt "$cpum1000") | |
| same, from the handler time | no profile | — | $(fmt "$cpuh1000" 4) | |
| CPU profiling at 100 Hz, takhind (2 producers): CPU per record | same server, no profile | — | $(fmt "$cpu100") | |
| same: throughput | same server, no profile | — | $(fmt "$cpu100t") | |
| a whole 5 s CPU profile at 100 Hz, with its symbolization and encoding at the end: CPU per record | same server, no profile | — | $(fmt "$cpu100w") | |
| CPU profiling at the highest rate delivered ($(hz0 "$hz1000") Hz per CPU-second when 1000 is asked, $(fmt "$hz1000" 0) over the runs; $(hz0 "$hz100") Hz when 100 is asked): CPU per record | same server, no profile | — | $(fmt "$cpu1000") | |
| same: throughput | same server, no profile | — | $(fmt "$cpu1000t") | |
| same, a whole 5 s profile: CPU per record | same server, no profile | — | $(fmt "$cpu1000w") | |
| heap sampling at 524288 B: CPU per record | same server, heap_sample_bytes 0 (no hooks) | ≤ 1.02 | $(fmt "$heapc") | $v_heap |
| heap sampling at 524288 B: throughput | same | — | $(fmt "$heapt") | |
| plugin loaded, profiler disabled (default settings: heap hooks in): CPU per record | takhind without plugins | no measurable cost (≤ 1.01) | $(fmt "$disc") | $v_dis |
| same: throughput | takhind without plugins | — | $(fmt "$dist") | |
| plugin loaded, disabled, heap_sample_bytes 0: CPU per record | takhind without plugins | no measurable cost (≤ 1.01) | $(fmt "$nohc") | $v_noh |
| same: throughput | takhind without plugins | — | $(fmt "$noht") | |
| tkh_mutex lock+unlock, nobody watching (fast path): extra ns a pair | pthread_mutex lock+unlock | within a few ns (≤ 2 ns) | $(fmt "$mtx_ns" 2) | $v_mtx |
| same, as a ratio | pthread_mutex lock+unlock | — | $(fmt "$mtx_off") | |
| tkh_mutex lock+unlock, mutex/block profiling on | pthread_mutex lock+unlock | — | $(fmt "$mtx_on") | |
| thread dump, 10 threads (ms) | — | — | $(fmt "$thr10" 2) | |
| thread dump, 100 threads (ms) | — | — | $(fmt "$thr100" 2) | |
| thread dump, 1000 threads (ms) | — | 20 ms | $(fmt "$thr1000" 2) | $v_thr |
| thread dump, 1000 threads, over the target | the 20 ms target | ≤ 1 | $(fmt "$thr1000r") | $v_thr |
| hot disable, idle (ms) | — | 100 ms | $(fmt "$hot_idle" 1) | $v_hot |
| hot disable, CPU profile in flight (ms) | — | 100 ms | $(fmt "$hot_busy" 1) | $v_hot |
| index throughput | Go net/http/pprof | ≥ 1 | $(fmt "$idx_r") | $v_idx |
| index throughput, Go also closing each connection | Go, Connection: close | — | $(fmt "$idx_close") | |
| index latency p50 / p99 | Go net/http/pprof | — | $(fmt "$idx_p50") / $(fmt "$idx_p99") | |
| heap throughput | Go net/http/pprof | ≥ 1 | $(fmt "$heap_r") | $v_heapep |
| heap latency p50 / p99 | Go net/http/pprof | — | $(fmt "$heap_p50") / $(fmt "$heap_p99") | |
| CLI analyze, 50,000 records with counts: speed-up | go tool pprof -top | ≥ 10 | $(fmt "$an_counts" 1) | $v_an |
| CLI analyze, 500,000 records of count 1: speed-up | go tool pprof -top | ≥ 10 | $(fmt "$an_records" 1) | $v_an |

Absolute figures, for scale: index $(fmt "$idx_ours" 0) requests/s ours,
$(fmt "$idx_go" 0) Go; heap $(fmt "$heap_ours" 0) ours, $(fmt "$heap_go" 0) Go
(\`wrk -t2 -c20 -d5s\`, loopback, both servers running at once with their
workloads; the issue's reference for Go here, on a quieter machine: about
25,000 and 800).

## Targets missed or not resolved, and why

EOF
missed=0
if [ "$v_cpum100" = "**not resolved**" ] && [ "$v_cpu100" = met ]; then missed=1; cat <<EOF
- **CPU profiling at 100 Hz, A/B** ($(fmt "$cpum100")): not resolved by the
  A/B: 0.2 s chunks of one thread's CPU time move by several percent on
  this shared machine. The time inside the handler ($(fmt "$cpuh_us" 1) µs
  a sample) puts the overhead at $(fmt "$cpuh100" 4): met.
EOF
fi
if [ "$v_cpu100" != met ]; then missed=1; cat <<EOF
- **CPU profiling at 100 Hz** ($(fmt "$cpum100")): each SIGPROF runs gperftools'
  handler, $(fmt "$cpuh_us" 1) µs a sample: it walks the stack with Debian's
  libunwind, which validates every read with system calls, and hashes it
  into its table. On a shared 2-CPU machine, see the spread of the pairs.
EOF
fi
if [ "$v_heap" = "**not resolved**" ]; then missed=1; cat <<EOF
- **Heap sampling at the default rate** ($(fmt "$heapc") CPU per record): not
  resolved: the median lies over 2 %, but the pairs spread across the
  target; 5 s windows of takhind on this shared machine move by more than
  the target, and other runs of this report gave medians on both sides of
  it. What sampling costs where the noise allows it to be seen (bench_heap
  below, a malloc/free loop): hooks alone
  $(awk '$1 == "hooks" { print $4 }' "$tmp/heapmicro.out" 2>/dev/null)× of no hooks, our sampler at the default rate
  $(awk '$1 == "ours" { print $4 }' "$tmp/heapmicro.out" 2>/dev/null)×, tcmalloc's own sampler $(awk '$1 == "tcmalloc" { print $4 }' "$tmp/heapmicro.out" 2>/dev/null)×.
EOF
fi
if [ "$v_heap" = "**missed**" ]; then missed=1; cat <<EOF
- **Heap sampling at the default rate** ($(fmt "$heapc") CPU per record): the
  reference workload is allocation-heavy by design: every record allocates
  about 262 KB of zlib state (deflateInit2_), so at one sample per 524,288
  bytes about one record in two takes a sample, whose stack the plugin's
  unwinder walks and hashes; and the hooks take every allocation off
  tcmalloc's fast path (bench_heap below: hooks alone, no sample, cost
  $(awk '$1 == "hooks" { print $4 }' "$tmp/heapmicro.out" 2>/dev/null)× of no hooks on a malloc/free loop, our sampler at the same rate
  $(awk '$1 == "ours" { print $4 }' "$tmp/heapmicro.out" 2>/dev/null)×, tcmalloc's own sampler $(awk '$1 == "tcmalloc" { print $4 }' "$tmp/heapmicro.out" 2>/dev/null)×). The 2 % target holds for a
  workload that allocates a few MB/s; this one allocates about a GB/s.
EOF
fi
if [ "$v_dis" != met ]; then missed=1; cat <<EOF
- **Plugin loaded but disabled** ($(fmt "$disc") CPU per record, $v_dis): the heap
  sampler's hooks are installed when the plugin loads, whether or not the
  HTTP side is enabled (so that allocs counts from load), so "disabled"
  still samples allocations at the default rate: this is the heap-sampling
  cost above. With \`heap_sample_bytes: 0\` the loaded, disabled plugin
  costs $(fmt "$nohc") ($v_noh).
EOF
fi
if [ "$v_noh" != met ] && [ "$v_dis" = met ]; then missed=1; cat <<EOF
- **Plugin loaded, disabled, no hooks** ($(fmt "$nohc"), $v_noh): nothing of the plugin
  runs on the workload's path; the spread is the machine's noise between
  three processes.
EOF
fi
if [ "$v_mtx" != met ]; then missed=1; cat <<EOF
- **Instrumented mutex fast path** ($(fmt "$mtx_ns" 2) ns a pair): nobody watching,
  tkh_mutex_lock and tkh_mutex_unlock are pthread_mutex_lock and
  pthread_mutex_unlock behind one relaxed atomic load and a predicted
  branch each (inline, host-api/include/takhin/host/sync.h): a fraction
  of a nanosecond on a 4 ns pair, within the run-to-run noise of a shared
  machine (see the spread); on the workload it does not show (the
  loaded-disabled plugin without hooks above).
EOF
fi
if [ "$v_thr" != met ]; then missed=1; cat <<EOF
- **Thread dump of 1000 threads** ($(fmt "$thr1000" 2) ms, target 20 ms): the
  signals' round trip takes ${trip1000:-?} ms of it: 1000 realtime signals
  sent one by one (rt_tgsigqueueinfo), each delivered and handled when its
  thread gets one of the 2 CPUs; the handler's own walk makes no system
  call (plugin/capture/threads.c). 100 threads take $(fmt "$thr100" 2) ms.
EOF
fi
if [ "$v_hot" != met ]; then missed=1; cat <<EOF
- **Hot disable** (idle $(fmt "$hot_idle" 1) ms, in flight $(fmt "$hot_busy" 1) ms):
  disable waits for in-flight handlers to end (a CPU profile ends early
  with 503) and for civetweb's threads to join; on a loaded machine a
  worker may wait for a CPU.
EOF
fi
if [ "$v_idx" != met ]; then missed=1; cat <<EOF
- **Index throughput against Go** ($(fmt "$idx_r")): the profiler answers one
  request per connection (civetweb's enable_keep_alive is "no",
  plugin/http/server.c: every response carries Connection: close), while Go keeps
  wrk's 20 connections alive: wrk then measures a TCP connection set-up,
  an accept and a hand-off to a civetweb worker per request more than the
  page. Against Go closing its connections too, the ratio is
  $(fmt "$idx_close"). Keep-alive stays off on purpose: civetweb ties a
  worker thread to each open connection, so with the default 8 workers
  (profiler.max_requests) 20 keep-alive clients would starve 12 of them,
  and idle connections could hold the profiler's port.
EOF
fi
if [ "$v_heapep" != met ]; then missed=1; cat <<EOF
- **Heap endpoint throughput against Go** ($(fmt "$heap_r")): see the index
  (connection per request), plus the heap profile's symbolization.
EOF
fi
if [ "$v_an" = pending ]; then missed=1; cat <<EOF
- **CLI analyze against go tool pprof**: pending: bench/bench_analyze.sh (the
  CLI's benchmark, written with takhin-profiler) was not in the tree when
  this report was made.
EOF
elif [ "$v_an" != met ]; then missed=1; cat <<EOF
- **CLI analyze against go tool pprof** ($(fmt "$an_counts" 1) and
  $(fmt "$an_records" 1)): see bench/bench_analyze.sh's output below.
EOF
fi
[ "$missed" -eq 0 ] && echo "None."
echo
echo "## The runs"
section() { # section NAME TITLE TEXT
    [ -f "$tmp/$1.out" ] || return 0
    echo
    echo "### $2"
    echo
    echo "$3"
    echo
    echo "\`$(cat "$tmp/$1.cmd")\` ($(cat "$tmp/$1.secs") s)"
    echo
    echo '```'
    grep -v '^[0-9T:.-]*Z INFO ' "$tmp/$1.out"
    echo '```'
}
section sampler "CPU samplers side by side (bench_sampler)" \
    "perf task-clock events, thread timers and gperftools' ITIMER_PROF in one process: samples per CPU-second on a bursty workload over burst phases; the cost of a sample and the on/off CPU time of a CPU-bound thread; and the CPU a short burst costs with each sampler on (a per-thread perf event is switched with its thread, which the event does not count)."
section lightload "CPU samplers on a lightly loaded takhind (cpu_light_load.sh)" \
    "The demo at 300, 1000 and 5000 records/s per producer, 2 producers, each sampler in turn: the rate achieved (samples per second of the process's CPU time in the profile's window, from X-Takhin-Cpu-Hz) with 100 Hz asked."
section accuracy "How true the CPU profile is (cpu_accuracy.sh)" \
    "The figures the test suite no longer asserts (they move with the machine's load): the 3:1 calibration split at 1000 Hz with the demo running, the busy thread's samples per second of its CPU time, and samples against /proc's CPU time on a lightly loaded server at 100 Hz."
section slowloris "The operator under slow clients (slowloris.sh)" \
    "100 clients dribbling headers, 100 trickling bodies and 1000 idle connections against the profiler port's front, from other addresses and from the operator's own; 20 operator requests with the token per round, each on a new connection: p50 and p99."
section tls "TLS on the profiler port (tls.sh)" \
    "Plain HTTP, https and mTLS servers in one run, requests interleaved, a new connection and full handshake each: p50 and p99 per path, and the handshake alone."
section push "Continuous push to a Pyroscope receiver (push_overhead.sh)" \
    "One takhind, windows with push off and on (config reload), cpu, allocs, mutex and block at the default 15 s interval to the test suite's receiver: CPU per record on/off."
section cpumicro "CPU profiling: the cost of a sample (bench_cpu)" \
    "One CPU-bound thread (a hash loop under a 14-frame stack), chunks of about 0.2 s of its CPU time alternately without and with gperftools' profiler at the rate asked; and the time inside gperftools' SIGPROF handler, timed by a wrapper handler. The takhind figures below carry the machine's noise; these resolve a tenth of a percent."
section cpu100 "CPU profiling overhead at 100 Hz" \
    "One takhind (demo.rate 0, 2 producers), windows of 5 s without and with a CPU profile, alternating which goes first. The summary's 'CPU profile at 100 Hz' ratios are of the sampling window (0.3 s after the profile starts to 0.3 s before it ends); 'whole profile' includes the conversion, symbolization and encoding after the last sample."
section cpu1000 "CPU profiling overhead at the highest rate the kernel delivers" \
    "The same with profiler.cpu_hz 1000: ITIMER_PROF fires on the kernel tick, so what is delivered is the rate printed (samples per second of the process's CPU time)."
section heapwl "Heap sampling on the reference workload" \
    "One takhind (demo.rate 0), heap_sample_bytes switched between 0 (hooks removed) and 524288 by config reload in alternating windows. Per round on/off: records/s and records per CPU-second (the summary inverts the latter into CPU per record)."
section heapmicro "Heap sampling on an allocation loop (bench_heap)" \
    "malloc/free pairs of mixed sizes, a fresh child process per mode, the loop thread's CPU time; ratios to 'none' (tcmalloc, no hooks) of the same round."
section disabled "Plugin loaded but disabled" \
    "Three takhind processes side by side: no plugins, the profiler loaded and disabled, and the same with heap_sample_bytes 0; one works at a time (demo.rate 0), the others are throttled to 1 record/s; the order rotates."
section mutex "Instrumented mutex against plain pthread" \
    "bench_mutex: uncontended lock+unlock and spans, every variant once per run (plain and instrumented mutex in alternating slices); ratios and differences per run."
section context "Request context: set and clear (bench_context)" \
    "Per set+clear pair, the thread's CPU time: 3 known pairs interned (set3), an interned context entered (enter), set3 under a 100 Hz CPU timer whose handler reads the context (a profile running), set3 with the exact-CPU hook (profiler.labels.cpu_metrics)."
section labels "Request context on the workload (labels_overhead.sh)" \
    "One takhind at 2 x 5000 records/s, demo.labels switched by config reload in alternating windows: CPU per record on/off."
section threads "Thread-dump latency" \
    "bench_threads: the whole capture (list /proc/self/task, signal each thread, wait, copy), 11 captures per size after 2 warm-ups."
section hot "Hot-disable latency" \
    "\`profiler disable\` as measured by the plugin: 50 times idle, 10 times with a CPU profile in flight."
section endpoints "Endpoint throughput and latency under load" \
    "wrk on loopback against takhind's profiler and Go's net/http/pprof (bench/gopprof), side by side in the same run, order alternating."
section analyze "CLI analyze against go tool pprof -top" \
    "bench/bench_analyze.sh (written with the CLI)."
section flight "The flight recorder (flight_recorder.sh)" \
    "One takhind at demo.rate 5000, rounds rotating none, a CPU profile running, the recorder on (auto: perf) and the recorder with cpu_sampler windowed (config reload): CPU per record against none; then a takhind under takhin-kload (2 producers at 5000 records/s) with the recorder on for 320 s: bytes per minute of history, and the latency of ?past=300 and ?past=60."
section kafka "The Kafka listener under takhin-kload (kafka_load.sh)" \
    "takhind's Kafka listener driven by librdkafka clients: 1, 2 and 4 producers at 5000 records/s each and a consumer, runs without and with a CPU profile in flight, alternating: records/s, produce p50/p99, CPU per record, context switches per second per thread."
} >"$OUT"
echo "bench: wrote $OUT" >&2
