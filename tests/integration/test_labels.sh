#!/usr/bin/env bash
# Request context labels (issue 27) on a real takhind: its workload sets
# kafka_api, topic and client_id per record (demo.topics orders:3,audit:1,
# every record kept: orders holds three times what audit does), and its
# Kafka listener per request and topic (takhin-kload). go tool pprof reads them on
# the CPU, heap and mutex profiles; /metrics has the exact CPU per label;
# the trace carries them as args; 10,000 client ids stay within
# profiler.labels.max_series; a host of API 1.1 loads the plugin without
# labels. Bounds on shares are generous (the figures are printed): the
# split is 75/25 by construction.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof
pprof() { go tool pprof "$@" 2>/dev/null; }

config=$TK_TMP/labels.yaml
TK_RATE=2000 write_config "$config" "  topics: \"orders:3,audit:1\"
  partitions: 2
  retain_records: 1000000"
sed -i 's/^  port: 0$/  port: 0\n  cpu_hz: 500\n  mutex_fraction: 1\n  heap_sample_bytes: 16384\n  labels:\n    cpu_metrics: true/' "$config"
start_server labels "$config" || { not_ok "takhind starts with demo.topics"; finish; }
ok "takhind starts with demo.topics orders:3,audit:1"
check "status: labels available, cpu_metrics on" \
    contains "$(admin profiler status)" '"labels":{"available":true,"max_series":100,"cpu_metrics":true}'

# ---- CPU ----
http "/debug/pprof/profile?seconds=3" -o "$TK_TMP/cpu.pb.gz"
tags=$(pprof -tags "$TK_TMP/cpu.pb.gz")
for k in kafka_api topic client_id thread thread_id; do
    check "go tool pprof -tags lists $k on the CPU profile" grep -q "^ *$k: Total" <<<"$tags"
done
api=$(sed -n '/kafka_api:/,/^$/p' <<<"$tags")
check "kafka_api has Produce and Fetch" test -n "$(grep Produce <<<"$api")" -a -n "$(grep Fetch <<<"$api")"
# The share of a topic: "Showing nodes accounting for X, P% of T total".
share() { pprof -top -tagfocus="topic=$1" "$TK_TMP/cpu.pb.gz" | sed -nE 's/.* ([0-9.]+)% of .*/\1/p' | head -1; }
o=$(share orders) a=$(share audit)
pct=$(awk -v o="${o:-0}" -v a="${a:-0}" 'BEGIN { if (o + a > 0) printf "%.1f", 100 * o / (o + a); else print 0 }')
check "CPU samples under -tagfocus topic=orders vs audit: $pct% orders (3:1 records: 75)" \
    awk -v p="$pct" 'BEGIN { exit !(p >= 60 && p <= 90) }'

# ---- /metrics: exact CPU per label ----
metric_share() {
    http /metrics | awk '/^takhin_profiler_label_cpu_seconds_total\{/ {
        v = $NF; if ($0 ~ /topic="orders"/) o += v; else if ($0 ~ /topic="audit"/) a += v }
        END { if (o + a > 0) printf "%.1f", 100 * o / (o + a); else print 0 }'
}
mpct=$(metric_share)
check "/metrics' exact CPU: $mpct% orders (75 by construction)" \
    awk -v p="$mpct" 'BEGIN { exit !(p >= 65 && p <= 85) }'
check "the profile and /metrics agree within 15 points ($pct vs $mpct)" \
    awk -v a="$pct" -v b="$mpct" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 15) }'
check "/metrics series carry kafka_api, topic and client_id" \
    grep -q 'takhin_profiler_label_cpu_seconds_total{kafka_api="Produce",topic="orders",client_id="producer-0"}' <<<"$(http /metrics)"

# ---- heap: orders retains three times what audit does (nothing evicted) ----
heap_orders_more() {
    http /debug/pprof/heap -o "$TK_TMP/heap.pb.gz"
    local t o a
    t=$(pprof -sample_index=inuse_space -tags "$TK_TMP/heap.pb.gz" | sed -n '/^ *topic:/,/^$/p')
    o=$(sed -nE 's/.*\(([0-9.]+)%\): orders$/\1/p' <<<"$t")
    a=$(sed -nE 's/.*\(([0-9.]+)%\): audit$/\1/p' <<<"$t")
    echo "heap in use: orders ${o:-?}%, audit ${a:-?}%" >&2
    awk -v o="${o:-0}" -v a="${a:-0}" 'BEGIN { exit !(o > a && a > 0) }'
}
check "heap in use is split by topic, orders (3 records in 4) above audit" eventually 20 heap_orders_more

# ---- mutex: waits labelled with the waiting request's topic ----
mutex_topics() {
    http /debug/pprof/mutex -o "$TK_TMP/mutex.pb.gz"
    pprof -tags "$TK_TMP/mutex.pb.gz" | sed -n '/^ *topic:/,/^$/p' | grep -q orders
}
check "mutex profile (mutex_fraction 1): waits labelled topic=orders" eventually 20 mutex_topics
check "mutex profile: kafka_api and client_id labels too" \
    grep -q "client_id: Total" <<<"$(pprof -tags "$TK_TMP/mutex.pb.gz")"

# ---- thread dumps: each thread's context at the dump ----
dump_labels() { http "/debug/pprof/goroutine?debug=1" | grep -q '^# labels: {"kafka_api":"'; }
check "goroutine?debug=1 shows a working thread's context (# labels:)" eventually 20 dump_labels
dump2_labels() { http "/debug/pprof/goroutine?debug=2" | grep -qE '^thread [0-9]+ \[.*, kafka_api=(Produce|Fetch), topic=(orders|audit), client_id='; }
check "goroutine?debug=2 shows it on the thread's line" eventually 20 dump2_labels

# ---- trace: the context as event args ----
check "trace events carry the context as args" \
    contains "$(http "/debug/pprof/trace?seconds=0.3")" '"args":{"kafka_api":"Produce","topic":"'
stop_server

# ---- the Kafka listener: real requests from takhin-kload, 3:1 by topic ----
if [ ! -x "$BUILD/takhin-kload" ]; then
    skip "$BUILD/takhin-kload missing (scripts/deps.sh installs librdkafka-dev)"
else
    kconfig=$TK_TMP/kafka.yaml
    TK_RATE=1 write_config "$kconfig" "  enabled: false
kafka:
  listen: 127.0.0.1:0"
    sed -i 's/^  port: 0$/  port: 0\n  cpu_hz: 1000\n  labels:\n    cpu_metrics: true/' "$kconfig"
    start_server kafka "$kconfig" || { not_ok "takhind starts with its Kafka listener"; finish; }
    broker=$(admin kafka status | sed -nE 's/.*"listen":"([^"]*)".*/\1/p')
    "$BUILD/takhin-kload" -b "$broker" -producers 2 -consumers 0 -rate 2000 -duration 8 \
        -topics orders:3,audit:1 >"$TK_TMP/kload.out" 2>&1 &
    kload=$!
    TK_PIDS+=("$kload")
    # Profile once produces flow: a loaded machine may take seconds to
    # start librdkafka's clients.
    producing() { admin kafka status | grep -qE '"produce":[1-9]'; }
    eventually 30 producing
    # Under two CPU burners a 2 s profile here once came back with no
    # sample at all (achieved 0.0 Hz; not seen again in 10 such profiles:
    # most likely no producer had sent anything yet, see issue 24's
    # note): take it again, up to 3 times, while the load runs.
    for _ in 1 2 3; do
        http "/debug/pprof/profile?seconds=2" -o "$TK_TMP/kcpu.pb.gz"
        ktags=$(pprof -tags "$TK_TMP/kcpu.pb.gz")
        grep -q "kload-producer-" <<<"$ktags" && break
    done
    wait "$kload"
    check "Kafka produce requests are labelled kafka_api=Produce" \
        grep -q "Produce" <<<"$(sed -n '/kafka_api:/,/^$/p' <<<"$ktags")"
    check "with the client's client.id" grep -q "kload-producer-" <<<"$ktags"
    kpct=$(metric_share)
    check "/metrics' exact CPU of Kafka produces: $kpct% orders (3:1 records: 75)" \
        awk -v p="$kpct" 'BEGIN { exit !(p >= 60 && p <= 90) }'
    stop_server
fi

# ---- cardinality: 10,000 client ids, max_series 20, on /metrics and pushed ----
# The push goes to tests/integration/tools/pushrecv (Pyroscope's /ingest,
# each profile parsed with google/pprof), as in test_push.sh.
# Built once into $BUILD/tests (its Go build cache there too): a fresh
# build takes seconds.
RECV=$BUILD/tests/pushrecv
if [ ! -x "$RECV" ] || [ tests/integration/tools/pushrecv/main.go -nt "$RECV" ]; then
    (cd tests/integration/tools/pushrecv && GO111MODULE=off GOPATH=/usr/share/gocode \
        GOCACHE=$ROOT/$BUILD/gocache go build -o "$ROOT/$RECV" main.go) 2>"$TK_TMP/recv-build.log" ||
        not_ok "tests/integration/tools/pushrecv builds ($(head -c 300 "$TK_TMP/recv-build.log"))"
fi
"$RECV" -addr 127.0.0.1:0 -port-file "$TK_TMP/recv.port" -log "$TK_TMP/recv.log" 2>"$TK_TMP/recv.err" &
TK_PIDS+=($!)
eventually 10 test -s "$TK_TMP/recv.port"
config2=$TK_TMP/many.yaml
TK_RATE=5000 write_config "$config2" "  topics: \"orders\"
  client_ids: 10000"
sed -i "s|^  port: 0\$|  port: 0\\n  labels:\\n    max_series: 20\\n    cpu_metrics: true\\n  push:\\n    url: http://127.0.0.1:$(cat "$TK_TMP/recv.port")\\n    interval: 1s\\n    types: cpu,allocs|" "$config2"
start_server many "$config2" || { not_ok "takhind starts with demo.client_ids 10000"; finish; }
folded() { http /metrics | awk '/^takhin_profiler_label_folded_total\{where="metrics"\}/ { exit !($2 > 0) }'; }
check "contexts past max_series are folded (takhin_profiler_label_folded_total)" eventually 30 folded
series=$(http /metrics | grep -c '^takhin_profiler_label_cpu_seconds_total{')
check "10,000 client ids give $series series on /metrics: at most 20 and other" test "$series" -le 21
check "the rest is under other=\"true\"" \
    grep -q '^takhin_profiler_label_cpu_seconds_total{other="true"}' <<<"$(http /metrics)"
pushed() { # METRIC: the label sets of the last such profile received with client_id labels
    python3 -c "import json,sys
rs=[json.loads(l) for l in open('$TK_TMP/recv.log')]
rs=[r for r in rs if r.get('status')==200 and r.get('metric','').startswith('$1') and 'client_id' in (r.get('label_keys') or [])]
print(rs[-1]['label_sets'] if rs else -1)" 2>/dev/null
}
pushed_some() { test "$(pushed "$1")" -ge 1; }
check "a pushed CPU profile carries the labels: $(eventually 30 pushed_some process_cpu; pushed process_cpu) label sets, at most 20 and other" \
    test "$(pushed process_cpu)" -ge 1 -a "$(pushed process_cpu)" -le 21
check "a pushed allocs profile carries them: $(eventually 30 pushed_some memory; pushed memory) label sets, at most 20 and other" \
    test "$(pushed memory)" -ge 1 -a "$(pushed memory)" -le 21
push_folded() { http /metrics | awk '/^takhin_profiler_label_folded_total\{where="push"\}/ { exit !($2 > 0) }'; }
check "what push folded is counted (takhin_profiler_label_folded_total{where=\"push\"})" push_folded
stop_server

# ---- a host of API 1.1 ----
TK_BIN=$BUILD/tests/takhind_minor1 start_server minor1 "$config" ||
    { not_ok "a host of API 1.1 loads the plugin"; finish; }
ok "a host of API 1.1 loads the plugin (it declares abi_minor 1)"
check "status says labels are unavailable and why" \
    contains "$(admin profiler status)" '"labels":{"available":false,"why":"the host implements API 1.1; request context labels need 1.2"}'
check "the log says so" grep -q "labels unavailable: the host implements API 1.1" "$SERVER_LOG"
http "/debug/pprof/profile?seconds=1" -o "$TK_TMP/cpu1.pb.gz"
tags=$(pprof -tags "$TK_TMP/cpu1.pb.gz")
check "its CPU profile still has thread labels" grep -q "^ *thread: Total" <<<"$tags"
check "and no context labels" test -z "$(grep -E '^ *(topic|kafka_api):' <<<"$tags")"
stop_server
finish
