#!/usr/bin/env bash
# /debug/pprof/wall: every thread sampled on the wall clock, running or
# waiting. Against a takhind whose binary is deleted (names come from the
# server), with the workload's wall calibration thread (50 ms spinning in
# wall_burn, 50 ms asleep in wall_sleep), 1,000 idle threads and a sleeper
# that counts its EINTRs, and a mutex held 2 s on demand. Two profiles run
# at once from one sampler (max_wall_readers 2): a third gets 409.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof

if ! command -v go >/dev/null; then
    not_ok "go tool pprof is needed (scripts/deps.sh installs golang-go)"
    finish
fi

{
    profiler_yaml true 0
    cat <<YAML
  max_wall_readers: 2
  wall_hz: 100
demo:
  rate: 1000
  wall_calibration: true
  idle_threads: 1000
YAML
} >"$TK_TMP/takhin.yaml"
start_hidden_server wall "$TK_TMP/takhin.yaml" ||
    { not_ok "takhind starts from a binary deleted since"; finish; }
ok "the running binary is deleted: names can only come from the server"
for _ in $(seq 100); do # 1,000 threads start before the profiler listens
    [ -n "$(profiler_port)" ] && break
    sleep 0.1
done
url=http://127.0.0.1:$(profiler_port)/debug/pprof

status_field() { admin workload status | sed -nE "s/.*\"$1\":([0-9]+).*/\1/p"; }
# comment_field FILE WORD: the number before WORD in the profile's comments.
comment_field() { go tool pprof -raw "$1" 2>/dev/null | sed -nE "s/^Comment: wall signals:.* ([0-9]+) $2.*/\1/p"; }
# ms FILE TAGFOCUS FUNC [pprof options]: the cumulative wall ms of FUNC
# among TAGFOCUS's samples (one key: pprof reads a comma as more values).
ms() {
    go tool pprof -top -cum -nodefraction=0 -unit=ms -tagfocus="$2" "${@:4}" "$1" 2>/dev/null |
        awk -v f="$3" '$6 == f { v = $4; sub(/ms$/, "", v); print int(v); exit }'
}
thread_up() { grep -qx "$1" /proc/"$SERVER_PID"/task/*/comm 2>/dev/null; }
wait_thread() { for _ in $(seq 100); do thread_up "$1" && return 0; sleep 0.1; done; return 1; }

# ---- the index ----
check "the index lists wall" contains "$(http /debug/pprof/)" "wall"

# ---- a first profile: every thread is seen (and signalled) once ----
curl -sS --max-time 30 -o "$TK_TMP/first.pb.gz" "$url/wall?seconds=1"
check "a 1 s wall profile is gzip" bash -c "gzip -t '$TK_TMP/first.pb.gz'"
eintr_before=$(status_field eintr)

# ---- two profiles at once, one sampler; a third gets 409 ----
go tool pprof -proto -output "$TK_TMP/a.pb.gz" "$url/wall?seconds=4" >"$TK_TMP/a.log" 2>&1 &
pa=$!
curl -sS --max-time 30 -o "$TK_TMP/b.pb.gz" "$url/wall?seconds=4" &
pb=$!
wait_thread prof-wall || not_ok "the wall sampler's thread starts"
burn0=$(status_field wall_burn_ms) nap0=$(status_field wall_sleep_ms)
check "admin: workload hold_mutex 2000" admin workload hold_mutex 2000
for _ in $(seq 100); do # until both have their place (each takes 4 s)
    http /metrics | grep -qx "takhin_profiler_wall_readers 2" && break
    sleep 0.05
done
code=$(http "/debug/pprof/wall?seconds=1" -o "$TK_TMP/third" -w '%{http_code}')
check "a third wall profile at once gets 409" test "$code" = 409
check "which names profiler.max_wall_readers" grep -q "profiler.max_wall_readers" "$TK_TMP/third"
wait $pa; wait $pb
burn1=$(status_field wall_burn_ms) nap1=$(status_field wall_sleep_ms)
check "go tool pprof fetched the wall profile" test -s "$TK_TMP/a.pb.gz"

top=$(go tool pprof -top -nodefraction=0 "$TK_TMP/a.pb.gz" 2>&1)
echo "$top" | sed -n '1,14p' | sed 's/^/# /'
check "pprof says Type: wall" contains "$top" "Type: wall"
for fn in wall_burn wall_sleep idle_epoll_park idle_cond_park producer_main; do
    check "pprof names $fn (symbolized by the server)" contains "$top" " $fn"
done
raw=$(go tool pprof -raw "$TK_TMP/a.pb.gz" 2>&1)
check "sample types samples/count and wall/nanoseconds" contains "$raw" "samples/count wall/nanoseconds"
check "period type wall nanoseconds" contains "$raw" "PeriodType: wall nanoseconds"
period=$(sed -nE 's/^Period: ([0-9]+)/\1/p' <<<"$raw")
check "the period is the real interval, about 1/100 s ($period ns)" \
    test "${period:-0}" -ge 8000000 -a "${period:-0}" -le 40000000
tags=$(go tool pprof -tags "$TK_TMP/a.pb.gz" 2>&1)
for t in "thread:" "thread_id:" "state:" ": running" ": epoll_wait" ": futex" \
         ": clock_nanosleep" ": wall-calib" ": idle-999" ": sleeper"; do
    check "labels include '$t'" contains "$tags" "$t"
done
check "samples carry the producers' request context (kafka_api: Produce)" \
    bash -c 'grep -q "kafka_api:" <<<"$1" && grep -q ": Produce" <<<"$1"' _ "$tags"

# ---- the calibration thread: half spinning, half asleep ----
burn=$(ms "$TK_TMP/a.pb.gz" thread=wall-calib wall_burn)
nap=$(ms "$TK_TMP/a.pb.gz" thread=wall-calib wall_sleep)
echo "# wall-calib: wall_burn ${burn:-?} ms, wall_sleep ${nap:-?} ms"
share=$(( ${burn:-0} * 100 / ( ${burn:-0} + ${nap:-0} + 1 ) ))
# The thread's own account of the same seconds: 50 % when the machine is
# quiet, more in wall_burn when it is busy (preempted in its spin).
burnt=$(( burn1 - burn0 )) napped=$(( nap1 - nap0 ))
truth=$(( burnt * 100 / ( burnt + napped + 1 ) ))
echo "# wall-calib by its own clock: wall_burn $burnt ms, wall_sleep $napped ms ($truth %)"
check "wall_burn's share of the calibration thread's wall time is within 10 points of the thread's own account ($share % vs $truth %)" \
    test "$share" -ge $(( truth - 10 )) -a "$share" -le $(( truth + 10 ))
check "and that account is about half and half ($truth %)" test "$truth" -ge 35 -a "$truth" -le 65
run=$(ms "$TK_TMP/a.pb.gz" thread=wall-calib wall_burn -tagignore=state=clock_nanosleep)
slp=$(ms "$TK_TMP/a.pb.gz" thread=wall-calib wall_burn -tagignore=state=running)
check "wall_burn's samples say state running (${run:-0} of ${burn:-0} ms; ${slp:-0} ms say otherwise)" \
    test "${run:-0}" -ge $(( ${burn:-0} * 9 / 10 )) -a "${slp:-0}" -le $(( ${burn:-0} / 10 ))
zzz=$(ms "$TK_TMP/a.pb.gz" thread=wall-calib wall_sleep -tagignore=state=running)
check "most of wall_sleep's say they wait (clock_nanosleep) (${zzz:-0} of ${nap:-0} ms)" \
    test "${zzz:-0}" -ge $(( ${nap:-0} * 6 / 10 ))

# ---- the thread blocked on a mutex held 2 s ----
for f in a b; do
    lock=$(ms "$TK_TMP/$f.pb.gz" thread=mutex-waiter wall_lock_wait -tagignore=state=running)
    check "profile $f: mutex-waiter spent about 2 s in wall_lock_wait, state futex (${lock:-0} ms)" \
        test "${lock:-0}" -ge 1300 -a "${lock:-0}" -le 2700
done
wtags=$(go tool pprof -tags -tagfocus=thread=mutex-waiter "$TK_TMP/a.pb.gz" 2>&1)
echo "$wtags" | grep -A4 "state:" | sed 's/^/# /'
check "the waiter's state is futex" grep -qE '[0-9.]+s \( *(100|[5-9][0-9]\.[0-9]+)%\): futex' <<<"$wtags"
plock=$(go tool pprof -top -nodefraction=0 -tagfocus=thread=mutex-waiter "$TK_TMP/b.pb.gz" 2>&1)
check "under pthread_mutex_lock" contains "$plock" "pthread_mutex_lock"

# ---- the 1,000 idle threads and the sleeper ----
ticks=$(go tool pprof -raw "$TK_TMP/a.pb.gz" 2>/dev/null | sed -nE 's/^Comment: wall sampler: .*, ([0-9]+) ticks.*/\1/p')
go tool pprof -raw "$TK_TMP/a.pb.gz" 2>/dev/null | grep "^Comment" | sed "s/^/# /"
sent=$(comment_field "$TK_TMP/a.pb.gz" "sent")
idle=$(comment_field "$TK_TMP/a.pb.gz" "thread-ticks idle")
echo "# second profile: ${ticks:-?} ticks, ${sent:-?} signals, ${idle:-?} idle thread-ticks"
check "idle threads were counted without a signal (${idle:-0} >= 900 x $(( ${ticks:-1} - 1 )))" \
    test "${idle:-0}" -ge $(( 900 * (${ticks:-1} - 1) ))
check "signals went only to threads that ran: ${sent:-?} over ${ticks:-?} ticks, < 30 a tick" \
    test -n "$sent" -a "${sent:-99999}" -lt $(( 30 * ${ticks:-0} ))
eintr_after=$(status_field eintr)
check "the sleeper saw no EINTR in the profiles after the first (${eintr_before:-?} -> ${eintr_after:-?})" \
    test -n "$eintr_before" -a "$eintr_before" = "$eintr_after"
metrics=$(http /metrics)
check "/metrics counts idle thread-ticks" \
    grep -qE '^takhin_profiler_wall_thread_ticks_total\{how="idle"\} [1-9]' <<<"$metrics"
check "/metrics counts signals sent" \
    grep -qE '^takhin_profiler_wall_thread_ticks_total\{how="signalled"\} [1-9]' <<<"$metrics"

# ---- stray signals after the profiles end do nothing ----
sig=$(sed -nE 's/.*\(signal ([0-9]+)\).*/\1/p' <<<"$raw")
check "the comment names the signal ($sig)" test -n "$sig"
kill -s "${sig:-0}" "$SERVER_PID" 2>/dev/null
python3 - "$SERVER_PID" "${sig:-0}" <<'PY'
# Forged SI_QUEUE signals that look like the profiler's own (its pid, a
# token with a plausible generation and slot) to every thread.
import ctypes, os, sys
pid, sig = int(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
buf = (ctypes.c_int * 32)()
buf[0], buf[2], buf[4] = sig, -1, pid          # si_signo, si_code SI_QUEUE, si_pid
for tid in sorted(map(int, os.listdir(f"/proc/{pid}/task")))[:50]:
    for gen in range(0, 200, 7):
        tok = (gen << 32) | 0
        buf[6], buf[7] = tok & 0xffffffff, tok >> 32   # si_value
        libc.syscall(297, pid, tid, sig, buf)          # rt_tgsigqueueinfo
PY
check "takhind survives stray wall signals" kill -0 "$SERVER_PID"
check "and still answers a goroutine dump" test "$(http_status /debug/pprof/goroutine?debug=1)" = 200
check "and a wall profile" test "$(http_status "/debug/pprof/wall?seconds=1")" = 200

check "takhind stops cleanly" stop_server

# ---- push: the wall type, off by default, on when push.types names it ----
RECV=$TK_TMP/pushrecv
if ! (cd tests/integration/tools/pushrecv && GO111MODULE=off GOPATH=/usr/share/gocode \
        GOCACHE=$TK_TMP/gocache go build -o "$RECV" main.go) 2>"$TK_TMP/recv-build.log"; then
    not_ok "tests/integration/tools/pushrecv builds ($(head -c 300 "$TK_TMP/recv-build.log"))"
    finish
fi
"$RECV" -addr 127.0.0.1:0 -port-file "$TK_TMP/recv.port" -log "$TK_TMP/recv.log" 2>"$TK_TMP/recv.err" &
TK_PIDS+=($!)
for _ in $(seq 50); do [ -s "$TK_TMP/recv.port" ] && break; sleep 0.1; done
{
    profiler_yaml true 0
    cat <<YAML
  push:
    url: http://127.0.0.1:$(cat "$TK_TMP/recv.port")
    interval: 1s
    types: goroutine,wall
demo:
  rate: 100
YAML
} >"$TK_TMP/push.yaml"
start_server push "$TK_TMP/push.yaml" || { not_ok "takhind starts with push on"; finish; }
recv_types() {
    python3 -c "import json
rs=[json.loads(l) for l in open('$TK_TMP/recv.log')] if __import__('os').path.exists('$TK_TMP/recv.log') else []
print(sorted(set((','.join(r['types']), r['status']) for r in rs)))"
}
for _ in $(seq 100); do
    case $(recv_types) in *wall/nanoseconds*) break ;; esac
    sleep 0.1
done
check "push sends wall profiles, accepted (samples/count,wall/nanoseconds)" \
    contains "$(recv_types)" "('samples/count,wall/nanoseconds', 200)"
check "pushed wall windows last about the interval" test "$(python3 -c "import json
rs=[json.loads(l) for l in open('$TK_TMP/recv.log')]
print(all(0.2e9 < r['duration_nanos'] < 10e9 for r in rs if r['types'][0] == 'samples/count'))")" = True
check "the wall push is off by default" \
    grep -q '"push.types", TK_CONFIG_STRING, "cpu,allocs,mutex,block,goroutine"' plugin/core/push_settings.h
check "takhind with push stops cleanly" stop_server
finish
