#!/usr/bin/env bash
# /debug/pprof/goroutine and its alias /debug/pprof/threads: the stack of
# every thread, taken with a signal, read by go tool pprof, which has no
# access to the server's binary (names come from the server); the debug=1
# and debug=2 texts; deltas; and what the signals do to the workload.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof   # pprof writes its cache there

# pprof gets no binary: start_hidden_server deletes it once started.
TK_RATE=1000 write_config "$TK_TMP/takhin.yaml" "  producers: 3"
start_hidden_server goroutine "$TK_TMP/takhin.yaml" || { not_ok "takhind starts from a binary deleted since"; finish; }
ok "the running binary is deleted: names can only come from the server"
check "no warning about thread stacks in the log" \
    bash -c "! grep -q 'thread stacks unavailable' '$SERVER_LOG'"
url=http://127.0.0.1:$(profiler_port)/debug/pprof
sleep 0.5

# tid_of NAME: the TID of the server's thread called NAME.
tid_of() {
    local f
    for f in /proc/"$SERVER_PID"/task/*/comm; do
        [ "$(cat "$f" 2>/dev/null)" = "$1" ] && { basename "$(dirname "$f")"; return; }
    done
}

# ---- the profile, through pprof ----
if command -v go >/dev/null; then
    top=$(go tool pprof -top -nodefraction=0 "$url/goroutine" 2>&1)
    echo "$top" | head -12 | sed 's/^/# /'
    check "pprof says it is a goroutine profile" contains "$top" "Type: goroutine"
    for fn in producer_main consume_records admin_thread wait_for_stop; do
        check "pprof on the URL names $fn" contains "$top" " $fn"
    done
    check "producer_main is in the stack of all 3 producers" \
        grep -qE '^ +0 +0% +[0-9.]+% +3 +[0-9.]+% +producer_main$' <<<"$top"
    # On a loaded machine (or under ASan) the producers may all be busy at
    # the moment of a dump: look again until one is caught asleep.
    nap=$top
    for _ in $(seq 20); do
        case $nap in *clock_nanosleep*) break ;; esac
        sleep 0.3
        nap=$(go tool pprof -top -nodefraction=0 "$url/goroutine" 2>&1)
    done
    check "the leaf is the real PC: a producer sits in libc's clock_nanosleep" \
        contains "$nap" "clock_nanosleep"
    tags=$(go tool pprof -tags "$url/goroutine" 2>&1)
    for i in 0 1 2; do
        check "the thread label lists producer-$i" contains "$tags" ": producer-$i"
    done
    check "and consumer-0" contains "$tags" ": consumer-0"
    top=$(go tool pprof -top -nodefraction=0 "$url/threads" 2>&1)
    check "/threads answers the same profile" contains "$top" " producer_main"
else
    echo "# go not installed: pprof checks skipped"
fi

# ---- the same, downloaded ----
curl -sS -D "$TK_TMP/h" -o "$TK_TMP/g.pb.gz" "$url/goroutine"
check "the profile is application/octet-stream" grep -qi "^Content-Type: application/octet-stream" "$TK_TMP/h"
check 'with filename="goroutine"' grep -qi 'filename="goroutine"' "$TK_TMP/h"
check "gzipped" test "$(head -c2 "$TK_TMP/g.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b
curl -sS -D "$TK_TMP/h" -o /dev/null "$url/threads"
check '/threads answers with filename="threads"' grep -qi 'filename="threads"' "$TK_TMP/h"

# ---- debug=1: Go's count text ----
# A thread the machine's load keeps off a CPU for the dump's 1 s answers
# late ("no answer", then "pending"): take the dump again until every
# thread answered.
for _ in $(seq 20); do
    text=$(http "/debug/pprof/goroutine?debug=1")
    grep -qE '^# thread .*(no answer|still pending)' <<<"$text" || break
    sleep 0.5
done
threads=$(awk '/^Threads:/ {print $2}' "/proc/$SERVER_PID/status")
echo "$text" | head -8 | sed 's/^/# /'
check "debug=1 starts with goroutine profile: total N" \
    grep -qE '^goroutine profile: total [0-9]+$' <<<"$(head -1 <<<"$text")"
total=$(sed -nE '1s/^goroutine profile: total ([0-9]+)$/\1/p' <<<"$text")
check "total $total is the number of threads ($threads, +1 for the request's)" \
    test "${total:-0}" -ge $((threads - 1)) -a "${total:-0}" -le $((threads + 1))
# The counts of the groups whose stack has producer_main add up to 3.
in_producers=$(awk '/^[0-9]+ @/ {n = $1; next} /^#\t.*\tproducer_main\+/ {sum += n; n = 0}
                    END {print sum + 0}' <<<"$text")
check "groups of identical stacks: $in_producers threads in producer_main, want 3" \
    test "$in_producers" -eq 3
check "frames as #<tab>0xADDR<tab>function+0xOFF<tab>file:line" \
    grep -qP '^#\t0x[0-9a-f]+\tproducer_main\+0x[0-9a-f]+\t\S*workload\.c:[0-9]+$' <<<"$text"
check "no thread without a stack but the profiler's own HTTP threads" \
    bash -c '! grep "^# thread " <<<"$1" | grep -vq "the profiler.s HTTP server"' _ "$text"
check "/threads?debug=1 answers the same text" \
    contains "$(http "/debug/pprof/threads?debug=1")" "goroutine profile: total "

# ---- debug=2: every thread with TID, name and state ----
dump=$(http "/debug/pprof/goroutine?debug=2")
echo "$dump" | head -16 | sed 's/^/# /'
# A thread working on a request has its context after its name
# (", kafka_api=Fetch, topic=demo, client_id=consumer-0": README, Request
# context labels).
ctx='(, [a-z_]+=[^],]*)*'
for i in 0 1 2; do
    tid=$(tid_of "producer-$i")
    check "debug=2 lists producer-$i as thread $tid with its state" \
        grep -qE "^thread $tid \[(sleeping|running), name=producer-$i$ctx\]:$" <<<"$dump"
done
check "debug=2 lists consumer-0" grep -qE "^thread $(tid_of consumer-0) \[[a-z ]+, name=consumer-0$ctx\]:$" <<<"$dump"
check "the main thread $SERVER_PID waits in sigwait" \
    grep -qE "^thread $SERVER_PID \[sleeping, name=takhind\]:$" <<<"$dump"
check "frames as function, then <tab>file:line +0xOFF" \
    grep -qzP 'producer_main\n\t\S*workload\.c:[0-9]+ \+0x[0-9a-f]+\n' <<<"$dump"
check "consume_records is in a stack" grep -qzP '\nconsume_records\n\t' <<<"$dump"
# The profiler's own HTTP threads are not interrupted (civetweb would drop
# a request on the EINTR); the thread that takes the dump is, with its stack.
check "civetweb's idle workers are listed as the profiler's (tk-prof-http), not interrupted" \
    grep -qzP 'name=tk-prof-http\]:\n\[no stack: a thread of the profiler.s HTTP server, not interrupted' <<<"$dump"
check "the dumping thread has its stack (prof_threads_capture)" \
    grep -qzP '\nprof_threads_capture\n\t' <<<"$dump"

# ---- the profiler's own threads say what they are, whoever started them ----
# During a CPU profile: the sampler's collector and the request's handler
# thread (both started from a civetweb worker) carry their own names.
http "/debug/pprof/profile?seconds=3" -o "$TK_TMP/own.pb.gz" &
fetch=$!
names() { cat /proc/"$SERVER_PID"/task/*/comm 2>/dev/null | sort -u | tr '\n' ' '; }
both_named() { case $(names) in *tk-prof-collect*tk-prof-request*) return 0 ;; esac; return 1; }
eventually 10 both_named
during=$(names)
dump=$(http "/debug/pprof/goroutine?debug=2")
wait "$fetch"
for n in tk-prof-front tk-prof-accept tk-prof-http tk-prof-collect tk-prof-request; do
    check "during a CPU profile, a thread is named $n ($during)" contains "$during" "$n"
    check "and the thread dump lists it so" grep -q "name=$n\]" <<<"$dump"
done
check "no thread keeps civetweb's name" not_contains "$during" civetweb-
tags=$(go tool pprof -tags "$TK_TMP/own.pb.gz" 2>/dev/null | sed -n '/^ *thread:/,/^ *[a-z_]*:/p')
echo "$tags" | sed 's/^/# /' | head -20
check "the profile's thread labels name no civetweb thread" not_contains "$tags" civetweb-
check "every thread of the process is listed" \
    test "$(grep -cE '^thread [0-9]+ \[' <<<"$dump")" -ge "$((threads - 1))"

# ---- deltas and Go's 400s ----
curl -sS -D "$TK_TMP/h" -o "$TK_TMP/d.pb.gz" "$url/goroutine?seconds=1"
check "?seconds=1 is a delta: filename=\"goroutine-delta\"" \
    grep -qi 'filename="goroutine-delta"' "$TK_TMP/h"
if command -v go >/dev/null; then
    top=$(go tool pprof -top "$TK_TMP/d.pb.gz" 2>&1)
    check "the delta lasts 1 s" contains "$top" "Duration: 1s"
fi
check "seconds=abc is 400" test "$(http_status "/debug/pprof/goroutine?seconds=abc")" = 400
body=$(http "/debug/pprof/goroutine?seconds=1&debug=1")
check "seconds with debug is refused as Go does" \
    contains "$body" "seconds and debug params are incompatible"

# ---- what the signals do to the workload ----
# Each dump cuts the producers' nanosleep short (EINTR); their pacing is
# absolute, so they never run ahead of 3 producers x 1000 records/s (a
# relative pacing would overshoot). How close they stay to it on a loaded
# machine is not a behaviour: only the upper bound, and progress, are checked.
produced() { admin workload status | sed -nE 's/.*"produced":([0-9]+).*/\1/p'; }
p0=$(produced)
t0=$(date +%s.%N)
for _ in $(seq 40); do
    curl -s -o /dev/null "$url/goroutine"
    sleep 0.05
done
p1=$(produced)
t1=$(date +%s.%N)
rate=$(awk -v a="$p0" -v b="$p1" -v s="$t0" -v e="$t1" 'BEGIN {printf "%d", (b - a) / (e - s)}')
echo "# 40 dumps in $(awk -v s="$t0" -v e="$t1" 'BEGIN {printf "%.1f", e - s}') s: $rate records/s"
check "the producers never run ahead of their pace under repeated dumps ($rate/s, at most 3300)" \
    test "$rate" -gt 0 -a "$rate" -le 3300
check "no record was corrupted" contains "$(admin workload status)" '"corrupt":0'

stop_server; check "takhind exits 0 (the signal handler is removed at unload)" test $? -eq 0
finish
