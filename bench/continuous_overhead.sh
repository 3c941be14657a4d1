#!/usr/bin/env bash
# What continuous CPU profiling costs a busy server (issue 24). One
# takhind at demo.rate 5000 (about 13,000 context switches a second over
# its three workload threads); the figure is its CPU time per record (from
# /proc/PID/stat), on/off, in PAIRS pairs of WINDOW s, alternating which
# goes first (the machine is shared: interleaved pairs are the defence).
#  cpu:  a CPU profile running (/debug/pprof/profile?seconds=WINDOW)
#        against none;
#  push: push every 10 s with the default types, to pushrecv, against no
#        push (config reload turns it on and off);
#  idle: demo off: the process's CPU per second with a profile running and
#        without (ms/s), and the profiler's threads by name;
#  modes: rounds of none, perf and windowed profiles in rotation on one
#        takhind (config reload switches the sampler): each against none.
# The sampler is profiler.cpu_sampler (SAMPLER, default auto).
#   bench/continuous_overhead.sh [PAIRS] [WINDOW_SECONDS] [PARTS (cpu,push,idle,modes)]
source "$(dirname "$0")/lib.sh"
pairs=${1:-10} secs=${2:-10} parts=${3:-cpu,push,idle}
sampler=${SAMPLER:-auto}

if [[ $parts == *cpu* ]]; then
    bench_server "  cpu_sampler: $sampler"
    sleep 2
    pairs_of "cpu profile ($sampler)" profiled plain
    echo "last profile: $(grep -i '^X-Takhin-Cpu-Hz' "$B_TMP/headers" | tr -d '\r')"
    kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null; B_PID=""
fi

if [[ $parts == *push* ]]; then
    RECV=$B_TMP/pushrecv
    (cd tests/integration/tools/pushrecv && GO111MODULE=off GOPATH=/usr/share/gocode \
        GOCACHE=$B_TMP/gocache go build -o "$RECV" main.go) || exit 1
    "$RECV" -port-file "$B_TMP/recv.port" -log "$B_TMP/recv.log" & RECV_PID=$!
    for _ in $(seq 50); do [ -s "$B_TMP/recv.port" ] && break; sleep 0.1; done
    bench_server "  cpu_sampler: $sampler"
    config=$B_TMP/takhin.yaml
    cp "$config" "$B_TMP/off.yaml"
    printf '  push:\n    url: http://127.0.0.1:%s\n    interval: 10s\n' \
        "$(cat "$B_TMP/recv.port")" >>"$config"
    cp "$config" "$B_TMP/on.yaml"
    set_push() { cp "$B_TMP/$1.yaml" "$config"; admin config reload >/dev/null; sleep 1; }
    push_on() { set_push on; plain; }
    push_off() { set_push off; plain; }
    sleep 2
    pairs_of "push every 10 s ($sampler)" push_on push_off
    echo "pushes received: $(grep -c '"status":200' "$B_TMP/recv.log")"
    kill "$RECV_PID"
    kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null; B_PID=""
fi

if [[ $parts == *idle* ]]; then
    bench_server "  cpu_sampler: $sampler
demo:
  enabled: false"
    sleep 2
    # threads: "name ns" of every thread, CPU from schedstat.
    threads() {
        local t
        for t in /proc/"$B_PID"/task/*; do
            echo "$(cat "$t/comm" 2>/dev/null | tr ' ' _) $(awk '{ print $1 }' "$t/schedstat" 2>/dev/null)"
        done
    }
    idle_window() { # idle_window on|off: ms of CPU a second, and by thread name
        local before after pid=""
        before=$(threads)
        [ "$1" = on ] && { curl -s -o /dev/null "http://127.0.0.1:$B_PORT/debug/pprof/profile?seconds=$secs" & pid=$!; }
        sleep "$secs"
        after=$(threads)
        [ -n "$pid" ] && wait "$pid"
        awk -v s="$secs" 'NR == FNR { b[$1] += $2; next } { a[$1] += $2 }
            END { for (n in a) { d = (a[n] - b[n]) / 1e6 / s; t += d; if (d > 0.01) by = by sprintf(" %s=%.2f", n, d) }
                  printf "%.3f%s\n", t, by }' <(echo "$before") <(echo "$after")
    }
    on=() off=()
    for i in $(seq 3); do
        a=$(idle_window off); b=$(idle_window on)
        off+=("${a%% *}") on+=("${b%% *}")
        echo "idle pair $i: off ${a} ms/s; on ${b} ms/s (the profile's own end, its encoding, is outside the window)"
    done
    summary "idle server, no profile: ms of CPU a second" "${off[@]}"
    summary "idle server, a profile running: ms/s" "${on[@]}"
fi

if [[ $parts == *modes* ]]; then
    bench_server "  cpu_sampler: auto"
    config=$B_TMP/takhin.yaml
    use() { sed -i "s/^  cpu_sampler: .*/  cpu_sampler: $1/" "$config"; admin config reload >/dev/null; }
    sleep 2
    order=(none perf windowed) pr=() wr=()
    for i in $(seq "$pairs"); do
        declare -A got=()
        for k in 0 1 2; do
            m=${order[$(( (i + k) % 3 ))]}
            if [ "$m" = none ]; then got[$m]=$(plain); else use "$m"; got[$m]=$(profiled); fi
        done
        kill -0 "$B_PID" 2>/dev/null || { echo "takhind died:"; tail -5 "$B_TMP/log"; exit 1; }
        pr+=("$(ratio "${got[perf]}" "${got[none]}")") wr+=("$(ratio "${got[windowed]}" "${got[none]}")")
        echo "round $i: none ${got[none]} perf ${got[perf]} windowed ${got[windowed]} ticks/1000 records"
        unset got
    done
    summary "perf profile / none: CPU per record" "${pr[@]}"
    summary "windowed profile / none: CPU per record" "${wr[@]}"
fi
