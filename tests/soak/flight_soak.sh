#!/usr/bin/env bash
# make soak, part of it: the flight recorder under churning stacks for
# FLIGHT_SOAK_SECONDS (default 600). takhind serves takhin-kload on its
# Kafka listener, each load run (20 s) with 16 topics drawn at random
# from 256 random names (every topic is a request-context label: label
# sets churn from bucket to bucket, folded past profiler.labels.max_series), and the demo
# workload beside it, CPU at 1000 Hz; the recorder keeps 300 s in a
# small budget (FLIGHT_SOAK_MAX_BYTES, default 4 MiB) so that it must
# evict. Checked every 2 s: the history's bytes (status, the bucket under
# way included) never exceed max_bytes; at the end: it evicted, drops are
# counted (status and /metrics agree), takhind's RSS grew by less than
# 2 x max_bytes + 32 MiB from the first third of the soak to the end (no
# leak), ?past answers, and takhind stops cleanly. Figures are printed
# and appended to $BUILD/soak/report.md.
#   tests/soak/flight_soak.sh       (after make all)
source "$(dirname "$0")/../integration/lib.sh"
SECS=${FLIGHT_SOAK_SECONDS:-600}
MAX=${FLIGHT_SOAK_MAX_BYTES:-4194304}
mkdir -p "$BUILD/soak"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof

write_config "$TK_TMP/soak.yaml" "kafka:
  listen: 127.0.0.1:0
  default_partitions: 1
  retain_bytes: 65536"
sed -i "s/^  port: 0\$/  port: 0\n  cpu_hz: 1000\n  flight_recorder:\n    seconds: 300\n    max_bytes: $MAX/" \
    "$TK_TMP/soak.yaml"
start_server fsoak "$TK_TMP/soak.yaml" || { not_ok "takhind starts"; finish; }
broker=$(admin kafka status | sed -nE 's/.*"listen":"([^"]*)".*/\1/p')
fr() { admin profiler status | python3 -c 'import json,sys
f = json.load(sys.stdin)["flight_recorder"]
print(f["bytes"], f["span_seconds"], f["buckets"], f["dropped_samples"], f["evicted_buckets"])'; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"; }
# A pool of 256 random topic names; each run takes 16 of them at random:
# the label sets churn from bucket to bucket while the topics, and so
# the Kafka log (1 partition each, kafka.retain_bytes 64 KiB), stay
# bounded, so RSS shows the recorder's memory, not the log's.
mapfile -t pool < <(for _ in $(seq 256); do echo "t$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"; done)
topics() { shuf -n 16 -e "${pool[@]}" | sed 's/$/:1/' | paste -sd, -; }

end=$((SECONDS + SECS)) third=$((SECONDS + SECS / 3))
max_seen=0 over=0 polls=0 runs=0 failed_runs=0 rss_third=""
while [ "$SECONDS" -lt "$end" ]; do
    "$BUILD/takhin-kload" -b "$broker" -producers 2 -consumers 0 -rate 2000 -duration 20 -size 200 \
        -topics "$(topics)" >"$TK_TMP/kload.out" 2>&1 &
    kpid=$!
    while kill -0 "$kpid" 2>/dev/null; do
        read -r bytes span buckets dropped evicted <<<"$(fr)"
        polls=$((polls + 1))
        [ "${bytes:-0}" -gt "$max_seen" ] && max_seen=$bytes
        [ "${bytes:-0}" -gt "$MAX" ] && over=$((over + 1))
        [ -z "$rss_third" ] && [ "$SECONDS" -ge "$third" ] && rss_third=$(rss)
        sleep 2
    done
    wait "$kpid" || failed_runs=$((failed_runs + 1))
    runs=$((runs + 1))
    kill -0 "$SERVER_PID" 2>/dev/null || break
done
read -r bytes span buckets dropped evicted <<<"$(fr)"
rss_end=$(rss)
http /metrics >"$TK_TMP/metrics"
m_dropped=$(awk '$1 == "takhin_profiler_flight_recorder_dropped_samples_total{profile=\"cpu\"}" { print $2 }' "$TK_TMP/metrics")
code=$(http_status "/debug/pprof/profile?past=$span")
echo "# $runs load runs ($failed_runs not fully acknowledged), $polls polls; history: $bytes bytes now, at most $max_seen of $MAX; span $span s, $buckets buckets; $dropped samples dropped, $evicted buckets evicted; RSS $rss_third KiB at a third, $rss_end KiB at the end"
check "takhind alive through the soak" kill -0 "$SERVER_PID"
check "the history never held more than max_bytes ($max_seen <= $MAX, $polls polls)" test "$over" -eq 0
check "it had to evict to stay under ($evicted buckets evicted)" test "${evicted:-0}" -gt 0
check "drops are counted, /metrics as status ($m_dropped = $dropped)" test "${m_dropped:-x}" = "$dropped"
growth=$(( ${rss_end:-0} - ${rss_third:-0} ))
check "RSS grew by $growth KiB from a third of the soak to its end (< 2 x max_bytes + 32 MiB)" \
    test "$growth" -lt $(( 2 * MAX / 1024 + 32768 ))
check "?past=$span answers 200 ($code)" test "$code" = 200
stop_server
rc=$?
check "takhind stops cleanly (exit $rc)" test "$rc" -eq 0
{
    echo
    echo "## Flight recorder soak (tests/soak/flight_soak.sh), $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "$SECS s, max_bytes $MAX, cpu_hz 1000, $runs takhin-kload runs of 20 s (2 producers at 2000 records/s of 200 B, 16 topics each drawn from 256 random names) beside the demo workload: the history held at most $max_seen bytes ($polls polls, every 2 s); at the end $bytes bytes, $span s, $buckets buckets; $dropped samples dropped, $evicted buckets evicted; takhind RSS $rss_third KiB at a third of the soak, $rss_end KiB at the end. $((tk_n - tk_failed)) of $tk_n checks passed."
} >>"$BUILD/soak/report.md"
finish
