#!/usr/bin/env bash
# What the flight recorder (profiler.flight_recorder.*, issue 29) costs.
#  cpu:   one takhind at demo.rate 5000; its CPU time per record (from
#         /proc/PID/stat, bench/lib.sh) in rounds of WINDOW s, the order
#         rotating each round: none (recorder off, no profile), a CPU
#         profile running (the continuous sampler alone, auto: perf), the
#         recorder on (auto: perf), the recorder on with cpu_sampler
#         windowed. config reload switches them; each against none.
#  kafka: a takhind serving takhin-kload (2 producers at 5000 records/s,
#         2 topics, 1 consumer) for KAFKA_SECONDS with the recorder on
#         (seconds 300, 10 s buckets, the default 32 MiB): the history's
#         bytes, span and buckets every 30 s, so bytes per minute of
#         history; then the latency of ?past=N for the largest N it holds
#         (300 when KAFKA_SECONDS >= 300) and of ?past=60, 10 each.
#   bench/flight_recorder.sh [ROUNDS (10)] [WINDOW_SECONDS (8)] [PARTS (cpu,kafka)]
source "$(dirname "$0")/lib.sh"
pairs=${1:-10} secs=${2:-8} parts=${3:-cpu,kafka}
KAFKA_SECONDS=${KAFKA_SECONDS:-320}
# fr SECONDS SAMPLER: rewrite the config's recorder and sampler, reload.
fr() {
    sed -i -e "s/^    seconds: .*/    seconds: $1/" -e "s/^  cpu_sampler: .*/  cpu_sampler: $2/" \
        "$B_TMP/takhin.yaml"
    admin config reload >/dev/null || { echo "reload failed"; exit 1; }
    sleep 1 # the recorder's first bucket is under way
}
status_field() { admin profiler status | python3 -c 'import json,sys; print(json.load(sys.stdin)["flight_recorder"][sys.argv[1]])' "$1"; }

if [[ $parts == *cpu* ]]; then
    bench_server "  cpu_sampler: auto
  flight_recorder:
    seconds: 0
demo:
  rate: 5000"
    sleep 2
    order=(none profile recorder recorder_windowed) pr=() rr=() wr=()
    for i in $(seq "$pairs"); do
        declare -A got=()
        for k in 0 1 2 3; do
            m=${order[$(( (i + k) % 4 ))]}
            case $m in
            none) fr 0 auto; got[$m]=$(plain) ;;
            profile) fr 0 auto; got[$m]=$(profiled) ;;
            recorder) fr 300 auto; got[$m]=$(plain) ;;
            recorder_windowed) fr 300 windowed; got[$m]=$(plain) ;;
            esac
        done
        kill -0 "$B_PID" 2>/dev/null || { echo "takhind died:"; tail -5 "$B_TMP/log"; exit 1; }
        pr+=("$(ratio "${got[profile]}" "${got[none]}")")
        rr+=("$(ratio "${got[recorder]}" "${got[none]}")")
        wr+=("$(ratio "${got[recorder_windowed]}" "${got[none]}")")
        echo "round $i: none ${got[none]} profile ${got[profile]} recorder ${got[recorder]} recorder_windowed ${got[recorder_windowed]} ticks/1000 records; load $(cut -d' ' -f1 /proc/loadavg)"
        unset got
    done
    summary "profile (perf) / none: CPU per record" "${pr[@]}"
    summary "recorder (perf) / none: CPU per record" "${rr[@]}"
    summary "recorder (windowed) / none: CPU per record" "${wr[@]}"
    kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null; B_PID=""
fi

if [[ $parts == *kafka* ]]; then
    bench_server "  flight_recorder:
    seconds: 300
demo:
  enabled: false
kafka:
  listen: 127.0.0.1:0"
    broker=$(admin kafka status | sed -nE 's/.*"listen":"([^"]*)".*/\1/p')
    [ -n "$broker" ] || { echo "takhind's Kafka listener did not start" >&2; exit 1; }
    "$BUILD/takhin-kload" -b "$broker" -producers 2 -consumers 1 -rate 5000 \
        -duration "$KAFKA_SECONDS" -topics "orders:3,audit:1" >"$B_TMP/kload.out" 2>&1 &
    kload=$!
    t0=$(date +%s) rates=()
    while kill -0 "$kload" 2>/dev/null; do
        sleep 30
        st=$(admin profiler status)
        read -r span bytes buckets dropped < <(python3 -c 'import json,sys
f = json.loads(sys.argv[1])["flight_recorder"]
print(f["span_seconds"], f["bytes"], f["buckets"], f["dropped_samples"])' "$st")
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$B_PID/status")
        per_min=$(awk -v b="$bytes" -v s="$span" 'BEGIN { printf "%.0f", (s > 0 ? b * 60 / s : 0) }')
        echo "t+$(( $(date +%s) - t0 )) s: span $span s, $buckets buckets, $bytes bytes ($per_min bytes per minute of history), $dropped dropped; takhind RSS $rss KiB"
        [ "$span" -ge 60 ] && rates+=("$per_min")
    done
    wait "$kload"
    echo "kload: $(tail -1 "$B_TMP/kload.out")"
    summary "bytes per minute of history (kafka load)" "${rates[@]}"
    held=$(status_field span_seconds)
    [ "$held" -gt 300 ] && held=300
    for n in "$held" 60; do
        ms=()
        for _ in $(seq 10); do
            t=$(curl -s -o "$B_TMP/past.pb.gz" -w '%{time_total}' \
                "http://127.0.0.1:$B_PORT/debug/pprof/profile?past=$n")
            ms+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')")
        done
        echo "past=$n: $(stat -c %s "$B_TMP/past.pb.gz") bytes gzipped; ms: ${ms[*]}"
        summary "latency of ?past=$n (ms)" "${ms[@]}"
    done
fi
