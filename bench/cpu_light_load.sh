#!/usr/bin/env bash
# CPU profiles of a lightly loaded server: the share of its CPU time that
# gets a sample. ITIMER_PROF is checked at the kernel tick, and only while
# a thread of the process runs: a server that works in bursts shorter than
# a tick between sleeps (the demo at a low record rate) may get few
# samples or none, however long the profile. For each demo rate: the
# process's CPU time in the profile and the rate achieved (samples per
# second of that CPU time, from X-Takhin-Cpu-Hz: the samples the profile
# counts, and the signals that placed them), per profile, for each
# sampler (profiler.cpu_sampler) side by side: SAMPLERS="perf thread_timer
# gperftools" by default.
#   bench/cpu_light_load.sh [PROFILES] [SECONDS] [RATES...]
source "$(dirname "$0")/lib.sh"
profiles=${1:-3} secs=${2:-3}
rates=(500 1000 2000 3000 5000 0)
[ $# -gt 2 ] && rates=("${@:3}")
kconfig() { zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; }
echo "kernel $(uname -r): $(kconfig | grep -E '^CONFIG_(HZ|NO_HZ_IDLE|NO_HZ_FULL)=' | tr '\n' ' ')"
for rate in "${rates[@]}"; do
for sampler in ${SAMPLERS:-perf thread_timer gperftools}; do
    bench_server "  cpu_sampler: $sampler
demo:
  rate: $rate
  producers: 2"
    sleep 1
    achieved=() share=() signals=()
    for _ in $(seq "$profiles"); do
        curl -s -D "$B_TMP/headers" -o "$B_TMP/cpu.pb.gz" \
            "http://127.0.0.1:$B_PORT/debug/pprof/profile?seconds=$secs"
        hz=$(sed -nE 's/^X-Takhin-Cpu-Hz: .*achieved=([0-9.]+).*/\1/ip' "$B_TMP/headers" | tr -d '\r')
        sig=$(sed -nE 's/^X-Takhin-Cpu-Hz: .*signals=([0-9.]+).*/\1/ip' "$B_TMP/headers" | tr -d '\r')
        achieved+=("${hz:-0}") signals+=("${sig:-0}")
        share+=("$(awk -v a="${hz:-0}" 'BEGIN { printf "%.4f", a / 100 }')")
    done
    cpu=$(go tool pprof -raw "$B_TMP/cpu.pb.gz" 2>/dev/null | sed -nE 's/.* over ([0-9.]+) s of CPU time.*/\1/p')
    echo "demo rate $rate records/s per producer, $sampler: ${cpu:-?} s of CPU in the last ${secs} s profile"
    summary "rate $rate $sampler: Hz achieved (asked 100)" "${achieved[@]}"
    summary "rate $rate $sampler: share of CPU time sampled" "${share[@]}"
    summary "rate $rate $sampler: signals per CPU-second" "${signals[@]}"
    kill -TERM "$B_PID" 2>/dev/null
    wait "$B_PID" 2>/dev/null
    B_PID=""
done
done
