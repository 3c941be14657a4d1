#!/usr/bin/env bash
# Push to Pyroscope (profiler.push.*), against tests/integration/tools/
# pushrecv: a receiver implementing Pyroscope's documented /ingest and its
# validation rules, parsing every profile with google/pprof (no Pyroscope
# server can be installed here: see README, Pushing to Pyroscope).
source "$(dirname "$0")/lib.sh"

RECV=$TK_TMP/pushrecv
if ! (cd tests/integration/tools/pushrecv && GO111MODULE=off GOPATH=/usr/share/gocode \
        GOCACHE=$TK_TMP/gocache go build -o "$RECV" main.go) 2>"$TK_TMP/recv-build.log"; then
    not_ok "tests/integration/tools/pushrecv builds ($(head -c 300 "$TK_TMP/recv-build.log"))"
    finish
fi

# start_recv [ARGS...]: the receiver on RECV_PORT (free if unset); sets RECV_PID.
start_recv() {
    rm -f "$TK_TMP/recv.port"
    "$RECV" -addr "127.0.0.1:${RECV_PORT:-0}" -port-file "$TK_TMP/recv.port" \
        -log "$TK_TMP/recv.log" "$@" 2>>"$TK_TMP/recv.err" &
    RECV_PID=$!
    TK_PIDS+=("$RECV_PID")
    for _ in $(seq 300); do [ -s "$TK_TMP/recv.port" ] && break; sleep 0.1; done
    RECV_PORT=$(cat "$TK_TMP/recv.port")
}
recv_mode() { curl -sS "http://127.0.0.1:$RECV_PORT/mode?m=$1" >/dev/null; }
# recv_query PYTHON_EXPR_OVER_RECORDS: evaluates over the log's records (list `rs`).
recv_query() {
    python3 -c "import json,sys
rs=[json.loads(l) for l in open('$TK_TMP/recv.log')]
print($1)"
}
metric() { http /metrics | awk -v m="$1" '$1 == m {print $2}'; }

printf 'sekret-token\n' >"$TK_TMP/token"
start_recv -token sekret-token -tenant team-1

# push_yaml URL [MORE]: the profiler with push on, every 2 s.
push_yaml() {
    cat <<YAML
  mutex_fraction: 1
  block_rate: 10000
  push:
    url: $1
    interval: 2s
    timeout: 1s
    labels: env=test, region=eu-1
    types: cpu,allocs,heap,mutex,block,goroutine
    tenant: team-1
    max_queue_bytes: 65536
    auth:
      token_file: $TK_TMP/token
${2:-}
YAML
}
config=$TK_TMP/push.yaml
{ profiler_yaml true 0; push_yaml "http://127.0.0.1:$RECV_PORT"; printf 'demo:\n  rate: 1000\n'; } >"$config"
start_server push "$config" || { not_ok "takhind starts with push on"; finish; }

# ---- what arrives ----
accepted() { test "$(recv_query "sum(r['status']==200 for r in rs)")" -ge "$1"; }
# 12 profiles: two windows of the four windowed types, and the instants.
eventually 60 accepted 12
check "the log says where push goes, without the token" \
    grep -q "push: cpu,allocs,heap,mutex,block,goroutine every 2.0 s to http://127.0.0.1:$RECV_PORT/ingest as takhin{env=test,region=eu-1}, tenant team-1" "$SERVER_LOG"
check "the token is never logged" sh -c "! grep -q sekret-token '$SERVER_LOG'"
ok_count=$(recv_query "sum(r['status']==200 for r in rs)")
check "profiles arrive and are accepted ($ok_count)" test "${ok_count:-0}" -ge 12
check "none refused by the receiver's checks" test "$(recv_query "[r['error'] for r in rs if r['status']!=200]")" = "[]"
check "every one: name takhin{env=test,region=eu-1}, Bearer, tenant" test \
    "$(recv_query "set((r['service'],tuple(sorted(r['labels'].items())),r['auth'],r['tenant'],r['format']) for r in rs)")" = \
    "{('takhin', (('env', 'test'), ('region', 'eu-1')), 'Bearer', 'team-1', 'pprof')}"
check "every type arrives, under Pyroscope's metric names" test \
    "$(recv_query "sorted(set(r['metric'] for r in rs))")" = \
    "['block', 'goroutines', 'memory', 'mutex', 'process_cpu']"
check "sample types: cpu, alloc_*, inuse_*, mutex_*, block_*, goroutines" test \
    "$(recv_query "sorted(set(','.join(r['types']) for r in rs))")" = \
    "['alloc_objects/count,alloc_space/bytes', 'block_count/count,block_duration/nanoseconds', 'goroutines/count', 'inuse_objects/count,inuse_space/bytes', 'mutex_count/count,mutex_duration/nanoseconds', 'samples/count,cpu/nanoseconds']"
check "cpu, allocs, mutex, block are windows (duration about 2 s); heap, goroutines instants" test \
    "$(recv_query "all((1e9 < r['duration_nanos'] < 1e10) == (r['types'][0].split('/')[0] in ('samples','alloc_objects','mutex_count','block_count')) for r in rs)")" = True
check "the deltas say so in a comment" test \
    "$(recv_query "all(any('delta' in c for c in r['comments']) for r in rs if r['types'][0].startswith(('alloc_','mutex_','block_')))")" = True
check "CPU windows are back to back (gaps < 50 ms)" test "$(recv_query "(lambda c: all(0 <= b['time_nanos'] - (a['time_nanos']+a['duration_nanos']) < 5e7 for a,b in zip(c,c[1:])))(sorted([r for r in rs if r['metric']=='process_cpu'], key=lambda r: r['time_nanos']))")" = True
check "allocs deltas are per window, not cumulative (no window over 10x another)" test \
    "$(recv_query "(lambda v: len(v) >= 2 and max(v) < 10*min(v))([r['totals'][1] for r in rs if r['types'][0].startswith('alloc_')])")" = True
check "mutex deltas carry the workload's lock (tkh_mutex_unlock)" test \
    "$(recv_query "any(r['top_function']=='tkh_mutex_unlock' for r in rs if r['metric']=='mutex')")" = True
check "functions are named in the profiles (symbolized by the server)" test \
    "$(recv_query "all(r['functions'] > 0 for r in rs)")" = True
check "from <= until, in Unix seconds" test \
    "$(recv_query "all(len(r['from'])==10 and int(r['from']) <= int(r['until']) for r in rs)")" = True
status=$(admin profiler status)
check "status: push running with a last success and no error" contains "$status" \
    "\"push\":{\"running\":true,\"url\":\"http://127.0.0.1:$RECV_PORT\",\"last_success\":\"20"
check "status: queue depth shown" contains "$status" '"queue":{"profiles":'
check "/metrics: profiles sent by type" test "$(metric 'takhin_profiler_push_profiles_sent_total{type="cpu"}')" -ge 2
check "/metrics: last success time" test "$(metric takhin_profiler_push_last_success_timestamp_seconds | cut -d. -f1)" -gt 1000000000
cpu_status=$(http_status "/debug/pprof/profile?seconds=1")
check "an operator's CPU profile runs meanwhile (push is one more reader): $cpu_status" test "$cpu_status" = 200

# ---- failures: 500, 429, hang, down; nothing blocks, memory stays bounded ----
# status_shows TEXT: whether the profiler's status comes to show TEXT within
# 20 s (a send may be backing off for seconds from the previous failure).
status_shows() {
    for _ in $(seq 100); do
        admin profiler status | grep -qF -- "$1" && break
        sleep 0.2
    done
    contains "$(admin profiler status)" "$1"
}
rss0=$(proc_figures "$SERVER_PID" | cut -d' ' -f3)
recv_mode 500
retried() { test "$(metric takhin_profiler_push_retries_total)" -gt 0; }
check "500: retried (retries counted)" eventually 30 retried
check "500: status shows the error with the server's message" status_shows "answered HTTP 500: internal error (test)"
recv_mode 429
check "429: retried too" status_shows "answered HTTP 429"
recv_mode hang
check "a hung server: timed out, retried" status_shows "Timeout was reached"
kill "$RECV_PID"; wait "$RECV_PID" 2>/dev/null
check "down: connection refused, retried" status_shows "Couldn't connect"
dropped() { http /metrics | awk '/^takhin_profiler_push_profiles_dropped_total/ {s += $2} END {print s+0}'; }
some_dropped() { test "$(dropped)" -gt 0; }
eventually 60 some_dropped
check "down: the queue (64 KiB) filled and the oldest were dropped, counted ($(dropped))" test "$(dropped)" -gt 0
queue=$(metric takhin_profiler_push_queue_bytes)
check "the queue stays within max_queue_bytes ($queue)" test "$queue" -le 65536
check "the server still answers its profiles meanwhile" test "$(http_status /debug/pprof/heap)" = 200
rss1=$(proc_figures "$SERVER_PID" | cut -d' ' -f3)
check "memory bounded through the failures (RSS $rss0 -> $rss1 KiB)" test "$rss1" -lt $((rss0 + 30000))
before=$(recv_query "sum(r['status']==200 for r in rs)")
start_recv -token sekret-token -tenant team-1
eventually 90 accepted $((before + 1))
after=$(recv_query "sum(r['status']==200 for r in rs)")
check "recovery when the server is back ($before -> $after accepted)" test "$after" -gt "$before"
check "the log says push recovered" eventually 10 grep -q "push: http://127.0.0.1:$RECV_PORT/ingest accepts profiles again" "$SERVER_LOG"

# ---- a 400 is not retried, its message logged escaped ----
r0=$(metric takhin_profiler_push_retries_total)
recv_mode 400
refused() { test "$(metric takhin_profiler_push_refused_total)" -gt 0; }
check "400: refused profiles counted" eventually 30 refused
check "400: not retried" test "$(metric takhin_profiler_push_retries_total)" -eq "$r0"
check "400: the server's message is logged, escaped" grep -q 'answered HTTP 400: invalid request (test): \\x1b\[31mred' "$SERVER_LOG"

# ---- slow and huge reply bodies ----
sent_goroutines() { metric 'takhin_profiler_push_profiles_sent_total{type="goroutine"}'; }
more_sent() { test "$(sent_goroutines)" -gt "$1"; }
recv_mode slowbody
n=$(sent_goroutines); eventually 30 more_sent "$n"
n0=$(sent_goroutines)
recv_mode hugebody
eventually 30 more_sent "$n0"
n1=$(sent_goroutines)
check "a huge reply body is cut off and the push counts as sent ($n0 -> $n1)" test "$n1" -gt "$n0"
check "still serving after slow and huge replies" test "$(http_status /debug/pprof/)" = 200

# ---- profiler disable with a hung receiver does not wait for it ----
# A push timeout of 60 s: a disable that waited for the hung send would
# take that long; one that does not is done in milliseconds (its latency
# is a benchmark figure: bench/push_overhead.sh), well under 10 s.
{ profiler_yaml true 0; push_yaml "http://127.0.0.1:$RECV_PORT" | sed 's/    timeout: 1s/    timeout: 60s/'
  printf 'demo:\n  rate: 1000\n'; } >"$config"
admin config reload >/dev/null
recv_mode hang
for _ in $(seq 300); do
    curl -s "http://127.0.0.1:$RECV_PORT/stats" | grep -q "inflight=[1-9]" && break
    sleep 0.1
done
out=$(admin profiler disable)
ms=$(echo "$out" | sed -nE 's/disabled in ([0-9.]+) ms/\1/p')
check "profiler disable with a push hung for 60 s returns at once, not after the timeout ($out)" \
    awk -v m="${ms:-99999}" 'BEGIN {exit !(m < 10000)}'
check "status: push stopped" contains "$(admin profiler status)" '"push":{"running":false'
recv_mode ok
n=$(wc -l <"$TK_TMP/recv.log"); sleep 3 # a silence is checked over a span
check "disabled: nothing is pushed" test "$(wc -l <"$TK_TMP/recv.log")" -eq "$n"
admin profiler enable >/dev/null
logged_more() { test "$(wc -l <"$TK_TMP/recv.log")" -gt "$1"; }
check "enable: push runs again" eventually 30 logged_more "$n"

# ---- config reload: followed; a bad value refused naming key and value ----
reload_with() {
    { profiler_yaml true 0; push_yaml "$1" "$2"; printf 'demo:\n  rate: 1000\n'; } >"$config"
    admin config reload 2>&1
}
out=$(reload_with "http://127.0.0.1:$RECV_PORT" "    service_name: takhin-eu")
# (the timeout goes back to 1 s too: the disable above ran with 60 s)
check "reload: push restarted with the changed keys named" \
    contains "$out" "restarted push with push.timeout, push.service_name"
renamed() { test "$(recv_query "any(r['service']=='takhin-eu' for r in rs)")" = True; }
check "reload: the new service name arrives" eventually 30 renamed
bad_cases=(
    "url|ftp://x|    |profiler.push.url = \"ftp://x\""
    "interval|http://127.0.0.1:$RECV_PORT|    interval: 0.1s|profiler.push.interval = \"0.1s\""
    "types|http://127.0.0.1:$RECV_PORT|    types: cpu,heapp|unknown type \"heapp\""
    "auth file|http://127.0.0.1:$RECV_PORT|    auth: {password_file: /nonexistent/pw, username: u}|profiler.push.auth.password_file = \"/nonexistent/pw\""
)
for c in "${bad_cases[@]}"; do
    IFS='|' read -r what url extra msg <<<"$c"
    if [ "$what" = interval ]; then
        yaml=$(push_yaml "$url" | sed 's/    interval: 2s/    interval: 0.1s/')
    elif [ "$what" = types ]; then
        yaml=$(push_yaml "$url" | sed 's/    types: .*/    types: cpu,heapp/')
    elif [ "$what" = "auth file" ]; then
        yaml=$(push_yaml "$url" | sed "s|      token_file: .*|      password_file: /nonexistent/pw\n      username: u|")
    else
        yaml=$(push_yaml "$url")
    fi
    { profiler_yaml true 0; echo "$yaml"; printf 'demo:\n  rate: 1000\n'; } >"$TK_TMP/bad.yaml"
    cp "$TK_TMP/bad.yaml" "$config"
    out=$(admin config reload 2>&1); rc=$?
    check "reload refuses a bad push.$what (exit $rc), naming key and value" \
        sh -c "[ $rc -ne 0 ] && case '$(printf %s "$out" | tr "'" _)' in *'$msg'*) exit 0;; esac; exit 1"
    timeout 60 "$BUILD/takhind" -c "$TK_TMP/bad.yaml" >/dev/null 2>"$TK_TMP/bad.log"; rc=$?
    check "start refuses a bad push.$what (exit $rc), naming key and value" \
        sh -c "[ $rc -eq 1 ] && grep -qF '$msg' '$TK_TMP/bad.log'"
done
check "after refused reloads push still runs" contains "$(admin profiler status)" '"push":{"running":true'
stop_server; check "takhind stops cleanly with push on (exit $?)" test $? -eq 0

# ---- TAKHIN_PROFILER_PUSH_URL, Basic auth, multipart ----
: >"$TK_TMP/recv.log"
kill "$RECV_PID"; wait "$RECV_PID" 2>/dev/null
RECV_PORT=0
start_recv -basic "pyro:pw 1" -tenant team-1
printf 'pw 1\n' >"$TK_TMP/pw"
{ profiler_yaml true 0; push_yaml "http://192.0.2.1:9" "    multipart: true" \
    | sed "s|      token_file: .*|      username: pyro\n      password_file: $TK_TMP/pw|"
  printf 'demo:\n  rate: 1000\n'; } >"$config"
start_server env "$config" TAKHIN_PROFILER_PUSH_URL="http://127.0.0.1:$RECV_PORT/prefix/" || { not_ok "starts"; finish; }
six_logged() { test "$(wc -l <"$TK_TMP/recv.log")" -ge 6; }
eventually 60 six_logged
check "TAKHIN_PROFILER_PUSH_URL beats the YAML; a path prefix is kept; Basic auth; multipart" test \
    "$(recv_query "all(r['status']==200 and r['auth']=='Basic' and r['multipart'] and r['format']=='' for r in rs) and len(rs) >= 6")" = True
stop_server
finish
