#!/usr/bin/env bash
# The CPU sampler (profiler.cpu_sampler) on a real takhind: which one runs
# and where that is said (status, header, profile comment), per-thread
# labels, a thread started mid-profile, each mode forced giving a profile
# go tool pprof reads with the binary hidden, perf refused by a seccomp
# filter (auto falls back and says so, perf is refused with its reason),
# and a bad value. (The unit test test_sampler covers rates, bursts and
# a thread started mid-session.)
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof


# profile NAME SECONDS: fetches a CPU profile into $TK_TMP/NAME.pb.gz, headers in NAME.h.
profile() {
    curl -sS -D "$TK_TMP/$1.h" -o "$TK_TMP/$1.pb.gz" \
        "http://127.0.0.1:$(profiler_port)/debug/pprof/profile?seconds=$2"
}

# ---- auto on this machine: windowed (perf events in windows), with the thread labels ----
write_config "$TK_TMP/auto.yaml" "  calibration: true"
start_hidden_server auto "$TK_TMP/auto.yaml" || { not_ok "takhind starts"; finish; }
status=$(admin profiler status)
check "auto resolves to windowed here (status: $status)" contains "$status" '"cpu_sampler":"windowed"'
profile auto 3
check "X-Takhin-Cpu-Hz names the sampler" grep -qi "^X-Takhin-Cpu-Hz: requested=100 achieved=[0-9.]* signals=[0-9.]* sampler=windowed" "$TK_TMP/auto.h"
raw=$(go tool pprof -raw "$TK_TMP/auto.pb.gz" 2>&1)
check "the profile says which sampler ran, and why" contains "$raw" "cpu sampler: windowed (task-clock perf events on each thread that ran, for 1/64 of every 500 ms at 64 times the rate, at a random moment: perf's placement of samples for 1/64 of its cost at each context switch"
tags=$(go tool pprof -tags "$TK_TMP/auto.pb.gz" 2>&1)
echo "$tags" | head -12 | sed 's/^/# /'
check "samples carry the thread label (calibration)" contains "$tags" ": calibration"
check "samples carry the numeric thread_id label" contains "$tags" "thread_id:"
focused=$(go tool pprof -top -tagfocus thread=calibration "$TK_TMP/auto.pb.gz" 2>&1)
check "-tagfocus thread=calibration keeps calibrate_heavy" contains "$focused" "calibrate_heavy"
check "-tagfocus thread=calibration drops the producers" not_contains "$focused" "produce_handle"
metrics=$(http /metrics)
check "/metrics names the sampler" contains "$metrics" 'takhin_profiler_cpu_sampler_info{sampler="windowed",kernel='
samples=$(sed -nE 's/^takhin_profiler_cpu_samples_total ([0-9]+)$/\1/p' <<<"$metrics")
check "/metrics counts the samples taken (${samples:-none})" test "${samples:-0}" -gt 0
rate=$(sed -nE 's/^takhin_profiler_cpu_rate_achieved_hz ([0-9.]+)$/\1/p' <<<"$metrics")
check "/metrics has the last profile's rate (${rate:-none})" awk -v r="${rate:-0}" 'BEGIN { exit !(r > 0) }'

stop_server

# ---- each mode forced ----
for mode in thread_timer gperftools perf; do
    write_config "$TK_TMP/$mode.yaml" "  calibration: true"
    sed -i "s/^  port: 0$/  port: 0\n  cpu_sampler: $mode/" "$TK_TMP/$mode.yaml"
    start_hidden_server "$mode" "$TK_TMP/$mode.yaml" || { not_ok "takhind starts with cpu_sampler: $mode"; continue; }
    check "status says $mode" contains "$(admin profiler status)" "\"cpu_sampler\":\"$mode\""
    profile "$mode" 2
    top=$(go tool pprof -top "$TK_TMP/$mode.pb.gz" 2>&1)
    check "$mode: pprof reads the profile, binary hidden, and names calibrate_heavy" contains "$top" " calibrate_heavy"
    check "$mode: the profile says the sampler" contains "$top" "cpu sampler: $mode"
    stop_server
done

# ---- perf refused (seccomp): auto falls back, perf is an error ----
TK_WRAP=$BUILD/tests/noperf start_server noperf "$TK_TMP/auto.yaml" || { not_ok "takhind starts under noperf"; finish; }
check "auto falls back to thread_timer when perf is refused" \
    contains "$(admin profiler status)" '"cpu_sampler":"thread_timer"'
check "the log says why perf was passed over" grep -q "CPU sampler: thread_timer; a better one was refused: perf_event_open" "$SERVER_LOG"
profile noperf 2
check "the fallback's profile says why" contains "$(go tool pprof -raw "$TK_TMP/noperf.pb.gz" 2>&1)" "perf: perf_event_open(task-clock) on this process failed: Permission denied"
stop_server
TK_WRAP=$BUILD/tests/noperf start_server noperf2 "$TK_TMP/perf.yaml" 2>/dev/null
# Its admin channel may answer before the plugin fails: wait for the exit.
gone() { ! kill -0 "$SERVER_PID" 2>/dev/null; }
eventually 60 gone
wait "$SERVER_PID" 2>/dev/null; rc=$?
check "cpu_sampler: perf when perf is refused stops takhind at start (exit $rc)" \
    test "$rc" -ne 0 -a "$rc" -ne 127
check "with the reason and the fix" grep -q "profiler.cpu_sampler = perf: perf_event_open(task-clock) on this process failed: Permission denied (kernel.perf_event_paranoid = [0-9-]*; the fix: " "$SERVER_LOG"

# ---- unprivileged (kernel.perf_event_paranoid 2): perf without kernel time ----
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
if [ "$(id -u)" != 0 ] || [ "$paranoid" != 2 ] ||
   ! "${nobody[@]}" test -r "$ROOT/$BUILD/profiler.so" -a -x "$ROOT/$BUILD/takhind" 2>/dev/null; then
    skip "unprivileged runs: need root, paranoid 2 (is $paranoid), and a build nobody can read"
else
    chmod 777 "$TK_TMP" && chmod 644 "$TK_TMP/auto.yaml"
    TK_WRAP="${nobody[*]}" start_server nobody "$TK_TMP/auto.yaml" || not_ok "takhind starts as nobody"
    status=$(admin profiler status)
    check "as nobody: windowed, user time only (status: $status)" \
        contains "$status" '"cpu_sampler":"windowed","cpu_sampler_kernel":false'
    profile nobody 2
    check "as nobody: the profile says what it leaves out" \
        contains "$(go tool pprof -raw "$TK_TMP/nobody.pb.gz" 2>&1)" "user time only: kernel.perf_event_paranoid >= 2 without CAP_PERFMON, so time in system calls is not sampled"
    stop_server
    TK_WRAP="${nobody[*]} $BUILD/tests/noperf" start_server nobody2 "$TK_TMP/auto.yaml" ||
        not_ok "takhind starts as nobody under noperf"
    check "as nobody with perf refused: auto falls back to thread_timer" \
        contains "$(admin profiler status)" '"cpu_sampler":"thread_timer"'
    stop_server
fi

# ---- a bad value ----
sed 's/cpu_sampler: perf/cpu_sampler: fast/' "$TK_TMP/perf.yaml" >"$TK_TMP/bad.yaml"
out=$(timeout 10 "$BUILD/takhind" -c "$TK_TMP/bad.yaml" 2>&1 </dev/null)
check "a bad cpu_sampler stops takhind with the expected values" \
    contains "$out" 'profiler.cpu_sampler = "fast"'
out=$(TAKHIN_PROFILER_CPU_SAMPLER=Perf timeout 10 "$BUILD/takhind" -c "$TK_TMP/auto.yaml" 2>&1 </dev/null)
check "the env override is checked too" contains "$out" "expected auto, windowed, perf, thread_timer or gperftools"
finish
