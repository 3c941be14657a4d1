#!/usr/bin/env bash
# make soak: a bounded soak of a real takhind with the profiler, loopback
# only. Prints "ok N - ..." / "not ok N - ..." lines and a figures table,
# also written to $BUILD/soak/report.md; exits non-zero on any failure.
#
#  1. CYCLES (default 1000) `profiler disable` / `profiler enable` cycles
#     through the admin channel while CLIENTS concurrent clients hit every
#     endpoint (one client per endpoint, each in a loop) at the same time:
#     the server never crashes nor hangs (every admin command answers
#     within its timeout, the whole phase within SOAK_DEADLINE seconds), no
#     response has an unexpected status, and fds, threads, live heap and
#     RSS of the server do not grow beyond noise. The cycles run in
#     SOAK_PARTS (default 2) equal parts after a warm-up; figures are taken
#     after each, with the clients stopped and the profiler in the same
#     state: a leak grows the last part as much as the first, noise and
#     caches filling up do not.
#  2. 50 concurrent CPU-profile requests: max_cpu_readers (4) 200, 46 409.
#  3. $BUILD/soak/unload_host: load, use and unload the plugin, then
#     SIGPROF and the plugin's signals (stack dumps, CPU sampler) at the host (see
#     tests/soak/unload_host.c): it survives; then the same with 3
#     load/use/unload cycles in one process.
#  4. takhind stops cleanly (exit 0) after all of it.
#   tests/soak/soak.sh          (after make all $BUILD/soak/unload_host)
source "$(dirname "$0")/../integration/lib.sh"
CYCLES=${SOAK_CYCLES:-1000}
PARTS=${SOAK_PARTS:-2}
DEADLINE=${SOAK_DEADLINE:-600}
mkdir -p "$BUILD/soak"
report=$BUILD/soak/report.md
t_start=$(date +%s)

# Every endpoint, as a client would ask for it (the long ones kept short).
endpoints=(
    "/debug/pprof/" "/debug/pprof/cmdline" "/debug/pprof/symbol" "POST /debug/pprof/symbol"
    "/debug/pprof/profile?seconds=1" "/debug/pprof/trace?seconds=0.3"
    "/debug/pprof/goroutine" "/debug/pprof/goroutine?debug=1" "/debug/pprof/goroutine?debug=2"
    "/debug/pprof/threads" "/debug/pprof/heap" "/debug/pprof/heap?debug=1"
    "/debug/pprof/allocs" "/debug/pprof/allocs?seconds=1" "/debug/pprof/mutex"
    "/debug/pprof/block?debug=1" "/metrics" "/debug/pprof/nosuch"
)

port=$(free_port)
{
    profiler_yaml true "$port"
    cat <<YAML
  mutex_fraction: 10
  block_rate: 1000000
  heap_sample_bytes: 65536   # finer than the default: heap-*.pb.gz tell where growth is
demo:
  rate: 1000
  retain_records: 64   # a small retained log: less of the workload's noise in the live heap
log:
  level: warn
YAML
} >"$TK_TMP/soak.yaml"
start_server soak "$TK_TMP/soak.yaml" || { not_ok "takhind starts"; finish; }
ok "takhind starts with the profiler on 127.0.0.1:$port"

# fd_figures PID: "files other": fds on files (the symbolizer keeps each
# object it has read symbols from open, libdw's cache: bounded by the
# objects mapped and their debug files) and every other fd (sockets, pipes,
# eventfds: what a leak would be made of).
fd_figures() {
    local files=0 other=0 l
    for l in /proc/"$1"/fd/*; do
        case $(readlink "$l" 2>/dev/null) in /*) files=$((files + 1)) ;; *) other=$((other + 1)) ;; esac
    done
    echo "$files $other"
}
# other_fds PID: the non-file fds, for the report ("socket:[123] ...").
other_fds() {
    local l t out=""
    for l in /proc/"$1"/fd/*; do
        t=$(readlink "$l" 2>/dev/null)
        case $t in /*) ;; *) out+="${l##*/}=$t " ;; esac
    done
    echo "$out"
}
# tcmalloc_figures: "live heap" in KiB, from the heap profile's trailer
# (generic.current_allocated_bytes: the live heap, exact; generic.heap_size).
tcmalloc_figures() {
    curl -s --max-time 20 "http://127.0.0.1:$port/debug/pprof/heap?debug=1" | awk '
        $2 == "generic.current_allocated_bytes" { live = $4 }
        $2 == "generic.heap_size" { heap = $4 }
        END { printf "%d %d\n", live / 1024, heap / 1024 }'
}
# metric NAME: a value from the profiler's /metrics.
metric() {
    curl -s --max-time 20 "http://127.0.0.1:$port/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}
# checkpoint N: figures of takhind into fig_N (an associative array): fds,
# files, other, threads, rss and anon (KiB: all of RSS and its anonymous
# part, which a leak grows; file pages come and go with the page cache),
# live and heap (KiB: tcmalloc's live bytes and its heap size), symcache
# (KiB: the symbol cache, part of live); its heap profile into
# $BUILD/soak/heap-N.pb.gz (compare two with go tool pprof -base) and its
# mappings into smaps-N. The profiler is enabled, no client runs.
checkpoint() {
    declare -gA "fig_$1"
    local -n f=fig_$1
    sleep 2
    f[cycles]=$done_cycles
    read -r f[fds] f[threads] f[rss] <<<"$(proc_figures "$SERVER_PID")"
    read -r f[files] f[other] <<<"$(fd_figures "$SERVER_PID")"
    f[anon]=$(awk '/^RssAnon:/ { print $2 }' "/proc/$SERVER_PID/status")
    read -r f[live] f[heap] <<<"$(tcmalloc_figures)"
    f[symcache]=$(( $(metric takhin_profiler_symbol_cache_bytes) / 1024 ))
    curl -s --max-time 20 -o "$BUILD/soak/heap-$1.pb.gz" "http://127.0.0.1:$port/debug/pprof/heap"
    cat "/proc/$SERVER_PID/smaps" >"$BUILD/soak/smaps-$1"
}

# client N ENDPOINT: GETs (or POSTs) it about 4 times a second until
# $TK_TMP/stop exists; one status code per line appended to
# $TK_TMP/status.N ("000": no answer, e.g. the port is closed at that
# moment). One curl process does 20 requests (--rate), so that 18 clients
# do not spend the machine's 2 CPUs on starting processes.
client() {
    local n=$1 spec=$2 path args=() data=()
    path=${spec#POST }
    [ "$path" != "$spec" ] && data=(--data-binary "0x$(printf '%x' $((RANDOM * 4096)))+0x401000")
    for _ in $(seq 20); do args+=(-o /dev/null "http://127.0.0.1:$port$path"); done
    while [ ! -e "$TK_TMP/stop" ]; do
        curl -s --rate 4/s --max-time 20 -w '%{http_code}\n' "${data[@]}" "${args[@]}"
    done >>"$TK_TMP/status.$n"
}

# cycles N: N disable/enable cycles while every client runs; counts into
# done_cycles, failed_cmd and hung, disable latencies into disable.ms.
cycles() {
    local cpids=() i c ms
    rm -f "$TK_TMP/stop"
    for i in "${!endpoints[@]}"; do
        client "$i" "${endpoints[$i]}" &
        cpids+=($!)
    done
    TK_PIDS+=("${cpids[@]}")
    for c in $(seq "$1"); do
        if [ $(( $(date +%s) - t_start )) -gt "$DEADLINE" ]; then hung=1; break; fi
        ms=$(admin profiler disable 2>&1 | sed -nE 's/disabled in ([0-9.]+) ms/\1/p')
        [ -n "$ms" ] || failed_cmd=$((failed_cmd + 1))
        [ -n "$ms" ] && echo "$ms" >>"$TK_TMP/disable.ms"
        admin profiler enable >/dev/null 2>&1 || failed_cmd=$((failed_cmd + 1))
        kill -0 "$SERVER_PID" 2>/dev/null || break
        done_cycles=$((done_cycles + 1))
    done
    touch "$TK_TMP/stop"
    wait "${cpids[@]}" 2>/dev/null
}

# load_all_symbols: has the symbolizer resolve an address every 256 bytes
# of every mapped executable, so that what libdw loads lazily per object
# and per compilation unit, as profiles meet new code, is all there.
load_all_symbols() {
    local lo hi a h body=""
    while read -r lo hi; do
        for ((a = 16#$lo; a < 16#$hi; a += 256)); do
            printf -v h '%x' "$a"
            body+="0x$h+"
        done
    done < <(awk '$2 ~ /x/ && $6 ~ /^\// { sub("-", " ", $1); print $1 }' "/proc/$SERVER_PID/maps")
    printf '%s' "${body%+}" | curl -s --max-time 120 -o /dev/null -w '%{http_code}' \
        --data-binary @- "http://127.0.0.1:$port/debug/pprof/symbol"
}

# ---- 1. cycles under concurrent clients ----
# Warm-up: every symbol loaded, then 50 cycles with every client
# (libraries, allocator caches and the heap sampler's tables reach their
# working size); not counted.
code=$(load_all_symbols)
check "warm-up: the symbolizer resolved every 256th byte of code (status $code)" test "$code" = 200
failed_cmd=0 hung=0 done_cycles=0
cycles 50
done_cycles=0
checkpoint 0
other0=$(other_fds "$SERVER_PID")
rm -f "$TK_TMP"/status.* "$TK_TMP/disable.ms"
failed_cmd=0 hung=0
t0=$(date +%s.%N)
for part in $(seq "$PARTS"); do
    cycles $((CYCLES * part / PARTS - CYCLES * (part - 1) / PARTS))
    checkpoint "$part"
done
t1=$(date +%s.%N)
check "takhind is alive after $done_cycles cycles" kill -0 "$SERVER_PID"
# hang_dump WHAT: the stacks of every thread of takhind, for the report.
hang_dump() {
    command -v gdb >/dev/null || return 0
    gdb -q -batch -p "$SERVER_PID" -ex "thread apply all bt 20" >"$BUILD/soak/hang-$1.txt" 2>&1
    echo "# stacks of takhind's threads: $BUILD/soak/hang-$1.txt"
}
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/debug/pprof/")
check "the profiler answers after the cycles (index: $code)" test "$code" = 200
[ "$code" = 200 ] || hang_dump cycles
check "all $CYCLES cycles done within ${DEADLINE} s (no hang)" test "$done_cycles" -eq "$CYCLES" -a "$hung" -eq 0
check "every admin command answered ($failed_cmd failed)" test "$failed_cmd" -eq 0
cycle_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
# Disable latency under this load: median, p90, p99, max, and how many
# took over the 100 ms target.
disable_ms=$(sort -n "$TK_TMP/disable.ms" | awk '{ v[NR] = $1; if ($1 > 100) slow++ }
    END { printf "median %.1f ms, p90 %.1f, p99 %.1f, max %.1f; %d of %d over 100 ms",
          v[int((NR + 1) / 2)], v[int(NR * 0.9)], v[int(NR * 0.99)], v[NR], slow, NR }')
echo "# disable latency: $disable_ms"

# Statuses per endpoint. Expected: 200; 409 for a CPU profile while another
# runs; 503 for a request whose profile was ended by a disable; 404 for
# nosuch; 405 never (GET/POST only); 000 when the port was closed.
expected_status() {
    case "$1:$2" in
        *nosuch*:404 | *:200 | *:000 | *:503) return 0 ;;
        *profile*:409 | *trace*:409) return 0 ;;
    esac
    return 1
}
table="| endpoint | statuses seen (count) |"$'\n'"|---|---|"
unexpected=0 answered=0
for i in "${!endpoints[@]}"; do
    counts=$(sort "$TK_TMP/status.$i" | uniq -c | awk '{ printf "%s%s×%s", sep, $2, $1; sep = ", " }')
    table+=$'\n'"| \`${endpoints[$i]}\` | $counts |"
    while read -r code; do
        [ -z "$code" ] && continue
        [ "$code" != 000 ] && answered=$((answered + 1))
        expected_status "${endpoints[$i]}" "$code" || {
            unexpected=$((unexpected + 1))
            echo "# unexpected status $code from ${endpoints[$i]}"
        }
    done <"$TK_TMP/status.$i"
done
check "no unexpected status in $answered answered requests ($unexpected unexpected)" test "$unexpected" -eq 0
check "clients got answers while cycling ($answered)" test "$answered" -gt 100

# The checkpoints: same state each time (enabled, no client, settled).
echo "# other fds after warm-up: $other0"
echo "# other fds at the end:    $(other_fds "$SERVER_PID")"
ss -tanp 2>/dev/null | grep "pid=$SERVER_PID," | sed 's/^/# /'
# trend KEY: a figure at each checkpoint, "a -> b -> c".
trend() {
    local i out=""
    for i in $(seq 0 "$PARTS"); do
        local -n f=fig_$i
        out+="${out:+ -> }${f[$1]}"
    done
    echo "$out"
}
declare -n first=fig_0 last=fig_$PARTS before=fig_$((PARTS - 1))
check "no socket, pipe or other fd leaked ($(trend other))" \
    test "${last[other]}" -le "${first[other]}"
maps=$(awk '$6 ~ /^\// { print $6 }' "/proc/$SERVER_PID/maps" | sort -u | wc -l)
check "fds on files within the symbolizer's bound ($(trend files); $maps objects mapped, x2 for debug files)" \
    test "${last[files]}" -le $((2 * maps))
check "no thread growth ($(trend threads))" test "${last[threads]}" -le "${first[threads]}"
# A leak grows each part alike; noise does not. The live heap is exact
# (tcmalloc's count of bytes in use) and the symbol cache is taken out of
# it (it fills up to its bound as profiles meet new addresses); what
# varies is the workload's retained records. Anonymous RSS goes up and
# down by a few MiB as tcmalloc takes pages for a peak and gives them back
# (slowly): a plateau ends the last part within 4 MiB of the highest
# checkpoint before it.
live_growth=$((last[live] - last[symcache] - before[live] + before[symcache]))
anon_high=0
for i in $(seq 0 $((PARTS - 1))); do
    declare -n f=fig_$i
    [ "${f[anon]}" -gt "$anon_high" ] && anon_high=${f[anon]}
done
anon_growth=$((last[anon] - anon_high))
check "live heap, symbol cache aside, flat over the last part ($(trend live) KiB, cache $(trend symcache): ${live_growth} KiB, < ${SOAK_LIVE_KIB:-1024})" \
    test "$live_growth" -lt "${SOAK_LIVE_KIB:-1024}"
check "anonymous RSS at a plateau ($(trend anon) KiB: the last ${anon_growth} KiB over the highest before, < ${SOAK_ANON_KIB:-4096})" \
    test "$anon_growth" -lt "${SOAK_ANON_KIB:-4096}"

# ---- 2. 50 concurrent CPU-profile requests ----
admin profiler disable >/dev/null
admin profiler enable >/dev/null
# One curl, 50 transfers opened at once (--parallel-immediate): 50 separate
# curl processes take seconds to start on a loaded 2-CPU machine, so the
# first profile could end before the last request is even sent.
args=()
for _ in $(seq 50); do
    args+=(-o /dev/null "http://127.0.0.1:$port/debug/pprof/profile?seconds=5")
done
curl -s -Z --parallel-max 50 --parallel-immediate --max-time 60 -w '%{http_code}\n' \
    "${args[@]}" >"$TK_TMP/cpu.all"
n200=$(grep -c '^200$' "$TK_TMP/cpu.all")
n409=$(grep -c '^409$' "$TK_TMP/cpu.all")
other=$(grep -vE '^(200|409)$' "$TK_TMP/cpu.all" | sort | uniq -c | tr '\n' ' ')
check "50 concurrent CPU profiles: max_cpu_readers (4) get 200 ($n200)" test "$n200" -eq 4
check "and 46 409 ($n409; other: ${other:-none})" test "$n409" -eq 46
check "takhind is alive after them" kill -0 "$SERVER_PID"
[ "$n200" -eq 4 ] || hang_dump cpu
read -r fds2 thr2 rss2 <<<"$(proc_figures "$SERVER_PID")"

# ---- 3. unload, then signals at the host ----
write_unload_config "$TK_TMP/unload.yaml"
out=$(timeout 120 "$BUILD/soak/unload_host" "$TK_TMP/unload.yaml" 1 2>"$TK_TMP/unload.log")
rc=$?
echo "$out" | sed 's/^/# /'
check "unload_host: load, use, unload; then SIGPROF and the plugin's signals: survives (exit $rc)" \
    test "$rc" -eq 0
# The same host reloading the plugin in one process (takhind never does;
# a host that unloads and loads again at run time would).
out=$(timeout 120 "$BUILD/soak/unload_host" "$TK_TMP/unload.yaml" 3 2>"$TK_TMP/reload.log")
rc3=$?
echo "$out" | grep -v '^ok' | sed 's/^/# /'
check "unload_host: 3 load/use/unload cycles in one process (exit $rc3)" test "$rc3" -eq 0

# ---- 4. clean stop ----
stop_server
check "takhind stops cleanly (exit 0) after the soak" test $? -eq 0

{
    echo "# Soak report"
    echo
    echo "\`make soak\` (tests/soak/soak.sh), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, loopback only."
    echo
    echo "$CYCLES disable/enable cycles through the admin channel in $cycle_s s, with ${#endpoints[@]} clients, one per endpoint, looping meanwhile. Disable latency under this load: $disable_ms (a disable waits up to 1 s for handlers in flight to answer, then for civetweb's workers)."
    echo
    echo "| takhind | fds (files + other) | threads | RSS (KiB) | anonymous RSS (KiB) | live heap (KiB) | of which symbol cache (KiB) | tcmalloc heap (KiB) |"
    echo "|---|---|---|---|---|---|---|---|"
    for i in $(seq 0 "$PARTS"); do
        declare -n f=fig_$i
        echo "| after ${f[cycles]} cycles$([ "$i" = 0 ] && echo " (and a warm-up of 50)") | ${f[fds]} (${f[files]} + ${f[other]}) | ${f[threads]} | ${f[rss]} | ${f[anon]} | ${f[live]} | ${f[symcache]} | ${f[heap]} |"
    done
    echo "| after 50 concurrent CPU profiles | $fds2 | $thr2 | $rss2 | | | | |"
    echo
    echo "Files: the symbolizer (libdw) keeps each object it has read symbols from open, up to the $maps objects mapped (and their debug files); other: sockets, pipes, eventfds."
    echo
    echo "$table"
    echo
    echo "50 concurrent CPU-profile requests: $n200 × 200, $n409 × 409${other:+, other: $other}."
    echo
    echo "unload_host (load, use, unload, then signals at the host): exit $rc; with 3 cycles in one process: exit $rc3."
    echo
    echo "Result: $((tk_n - tk_failed)) of $tk_n checks passed; $(( $(date +%s) - t_start )) s in all."
} >"$report"
echo "# report: $report"
finish
