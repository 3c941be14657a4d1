#!/usr/bin/env bash
# takhind's Kafka listener under real clients (takhin-kload on librdkafka):
# at 1, 2 and 4 producers (RATE records/s each, 1 KiB records, topics
# weighted 3:1, one consumer reading everything back), each round runs
# once without and once with a CPU profile of the run's length in flight,
# the order alternating between rounds. Per run: records/s acknowledged,
# produce latency p50/p99 (send to delivery report), takhind's CPU per
# 1000 records, and context switches per second of each takhind thread.
# Each run has its own topics, so the consumer reads only that run's records.
#   bench/kafka_load.sh [ROUNDS (default 5)] [SECONDS (default 3)] [RATE (default 5000)]
source "$(dirname "$0")/lib.sh"
rounds=${1:-5} secs=${2:-3} rate=${3:-5000}
bench_server "demo:
  enabled: false
kafka:
  listen: 127.0.0.1:0"
broker=$(admin kafka status | sed -nE 's/.*"listen":"([^"]*)".*/\1/p')
[ -n "$broker" ] || { echo "kafka_load: takhind's Kafka listener did not start" >&2; exit 1; }
# switches: "NAME COUNT" per thread (voluntary + involuntary), summed by name.
switches() {
    local t
    for t in /proc/"$B_PID"/task/*; do
        printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" \
            "$(awk '/ctxt_switches/ { s += $2 } END { print s }' "$t/status")"
    done 2>/dev/null | awk '{ s[$1] += $2 } END { for (n in s) print n, s[n] }' | sort
}
hz=$(getconf CLK_TCK)
n=0
# run_one PRODUCERS plain|profiled: one line of figures; switch rates to $B_TMP/cs.
run_one() {
    local p=$1 mode=$2 out c0 c1 s0 s1 t0 t1 pid=""
    n=$((n + 1))
    s0=$(switches) c0=$(cpu_ticks) t0=$(date +%s.%N)
    if [ "$mode" = profiled ]; then
        curl -s -o /dev/null "http://127.0.0.1:$B_PORT/debug/pprof/profile?seconds=$secs" &
        pid=$!
    fi
    out=$("$BUILD/takhin-kload" -b "$broker" -producers "$p" -consumers 1 -rate "$rate" \
        -duration "$secs" -topics "o$n:3,a$n:1" 2>&1)
    [ -n "$pid" ] && wait "$pid"
    s1=$(switches) c1=$(cpu_ticks) t1=$(date +%s.%N)
    join <(echo "$s0") <(echo "$s1") | awk -v p="$p" -v m="$mode" -v t0="$t0" -v t1="$t1" \
        '{ printf "%s %s %s %.0f\n", p, m, $1, ($3 - $2) / (t1 - t0) }' >>"$B_TMP/cs"
    local acked rps p50 p99
    acked=$(sed -nE 's/.*acked=([0-9]+).*/\1/p' <<<"$out")
    rps=$(sed -nE 's/.*records_per_s=([0-9.]+).*/\1/p' <<<"$out")
    p50=$(sed -nE 's/.*p50_ms=([0-9.]+).*/\1/p' <<<"$out")
    p99=$(sed -nE 's/.*p99_ms=([0-9.]+).*/\1/p' <<<"$out")
    [ -n "$acked" ] && [ "$acked" -gt 0 ] || { echo "kafka_load: takhin-kload failed: $out" >&2; exit 1; }
    awk -v p="$p" -v m="$mode" -v r="$rps" -v a="$p50" -v b="$p99" -v c=$((c1 - c0)) \
        -v n="$acked" -v hz="$hz" \
        'BEGIN { printf "producers %d %-8s records/s %7.0f  p50_ms %7.3f  p99_ms %8.3f  cpu_ms_per_1000 %.3f\n",
                 p, m, r, a, b, 1000 * 1000 * c / hz / n }'
}
echo "takhind $broker; $rounds rounds of $secs s; $rate records/s per producer; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for p in 1 2 4; do
        if [ $((r % 2)) -eq 1 ]; then order="plain profiled"; else order="profiled plain"; fi
        for m in $order; do
            run_one "$p" "$m" | tee -a "$B_TMP/runs"
        done
    done
done
echo
for p in 1 2 4; do
    for f in records/s p50_ms p99_ms cpu_ms_per_1000; do
        for m in plain profiled; do
            summary "producers $p $m $f" $(awk -v p="$p" -v m="$m" -v f="$f" \
                '$2 == p && $3 == m { for (i = 4; i < NF; i++) if ($i == f) print $(i + 1) }' "$B_TMP/runs")
        done
    done
    # Ratios profiled/plain, run by run (the runs of a round are adjacent).
    summary "producers $p cpu per record profiled/plain" $(awk -v p="$p" '
        $2 == p { for (i = 4; i < NF; i++) if ($i == "cpu_ms_per_1000") v[$3] = $(i + 1) }
        $2 == p && ("plain" in v) && ("profiled" in v) { print v["profiled"] / v["plain"]; delete v }' "$B_TMP/runs")
    summary "producers $p p99 profiled/plain" $(awk -v p="$p" '
        $2 == p { for (i = 4; i < NF; i++) if ($i == "p99_ms") v[$3] = $(i + 1) }
        $2 == p && ("plain" in v) && ("profiled" in v) { print v["profiled"] / v["plain"]; delete v }' "$B_TMP/runs")
done
echo
echo "context switches per second per takhind thread (mean over the rounds; threads named alike summed)"
awk '{ k = $1 " " $2 " " $3; s[k] += $4; c[k]++ } END { for (k in s) printf "%s %.0f\n", k, s[k] / c[k] }' \
    "$B_TMP/cs" | sort -k3,3 -k1,1n -k2,2 | awk '$4 > 0 { printf "  producers %s %-8s %-16s %8d/s\n", $1, $2, $3, $4 }'
