#!/usr/bin/env bash
# The config hierarchy as operators use it: YAML, then TAKHIN_* env; every
# bad value stops takhind at start with a message that names it.
source "$(dirname "$0")/lib.sh"

# enabled through YAML
write_config "$TK_TMP/yaml.yaml"
if start_server yaml "$TK_TMP/yaml.yaml"; then
    status=$(admin profiler status)
    check "enabled through YAML: status says enabled" contains "$status" '"enabled":true'
    check "enabled through YAML: the index answers 200" test "$(http_status /debug/pprof/)" = 200
    check "port 0 picked a real port, shown by status" test -n "$(profiler_port)"
    check "the real port is logged" grep -q "serving /debug/pprof/ on http://127.0.0.1:$(profiler_port)" "$SERVER_LOG"
    stop_server; check "SIGTERM stops takhind with exit 0" test $? -eq 0
    check "plugins are unloaded at stop" grep -q "unloaded plugin profiler" "$SERVER_LOG"
else
    not_ok "takhind starts with the profiler enabled in YAML"
fi

# enabled through the environment over a YAML that says false
TK_ENABLED=false write_config "$TK_TMP/off.yaml"
if start_server env "$TK_TMP/off.yaml" TAKHIN_PROFILER_ENABLED=true; then
    check "TAKHIN_PROFILER_ENABLED=true beats enabled: false in YAML" \
        contains "$(admin profiler status)" '"enabled":true'
    kill -INT "$SERVER_PID"; wait "$SERVER_PID"
    check "SIGINT stops takhind with exit 0" test $? -eq 0
else
    not_ok "takhind starts with TAKHIN_PROFILER_ENABLED=true"
fi

# port set by the environment
port=$(free_port)
if start_server port "$TK_TMP/yaml.yaml" TAKHIN_PROFILER_PORT="$port"; then
    check "TAKHIN_PROFILER_PORT=$port is the port served" test "$(profiler_port)" = "$port"
    check "the profiler answers on port $port" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/debug/pprof/")" = 200
    stop_server
else
    not_ok "takhind starts with TAKHIN_PROFILER_PORT"
fi

# disabled by default: the shipped config, from the repo root
if start_server shipped configs/takhin.yaml TAKHIN_PROFILER_PORT=0; then
    check "the shipped config keeps the profiler off" \
        contains "$(admin profiler status)" '"enabled":false,"listen":null'
    check "the shipped config loads the plugin from the repo root" \
        grep -q "loaded plugin profiler" "$SERVER_LOG"
    stop_server
else
    not_ok "takhind starts with configs/takhin.yaml"
fi

# start_fails NAME CONFIG EXPECTED [VAR=VALUE...]: takhind must exit 1 and
# print EXPECTED.
start_fails() {
    local name=$1 config=$2 want=$3
    shift 3
    local out rc
    out=$(env TAKHIN_ADMIN_SOCKET="$TK_TMP/$name.sock" "$@" timeout 20 "$BUILD/takhind" -c "$config" 2>&1)
    rc=$?
    if [ $rc -eq 1 ] && contains "$out" "$want"; then ok "$name: exits 1 and says: $want"
    else not_ok "$name: exit $rc, output: $out"; fi
}

write_config "$TK_TMP/port.yaml"
sed -i 's/port: 0/port: 70000/' "$TK_TMP/port.yaml"
start_fails "port 70000 in YAML" "$TK_TMP/port.yaml" \
    "profiler.port = \"70000\" ($TK_TMP/port.yaml:6:9): expected an integer from 0 to 65535"
start_fails "port 70000 in env" "$TK_TMP/yaml.yaml" \
    'profiler.port = "70000" (env TAKHIN_PROFILER_PORT)' TAKHIN_PROFILER_PORT=70000
start_fails "max_cpu_readers 0 in env" "$TK_TMP/yaml.yaml" \
    'profiler.max_cpu_readers = "0" (env TAKHIN_PROFILER_MAX_CPU_READERS): expected an integer from 1 to 64' \
    TAKHIN_PROFILER_MAX_CPU_READERS=0
start_fails "cpu_sampler unknown in env" "$TK_TMP/yaml.yaml" \
    'profiler.cpu_sampler = "itimer" (env TAKHIN_PROFILER_CPU_SAMPLER): expected auto, windowed, perf, thread_timer or gperftools' \
    TAKHIN_PROFILER_CPU_SAMPLER=itimer
# Every key this wave added: a bad value through its TAKHIN_* variable
# stops takhind, naming the key, the value and the variable.
for c in profiler.push.max_retry_after=2h profiler.wall_hz=0 profiler.max_wall_readers=99 \
         profiler.labels.max_series=-1 profiler.labels.cpu_metrics=sometimes \
         profiler.serve_binaries=perhaps kafka.enabled=maybe kafka.listen=nowhere \
         kafka.default_partitions=0 kafka.max_request_bytes=-5 kafka.io_threads=0 \
         kafka.retain_bytes=x kafka.max_topics=0 demo.topics=orders:x \
         demo.client_ids=-1 demo.labels=sometimes demo.wall_calibration=sometimes \
         demo.idle_threads=-1 profiler.flight_recorder.seconds=3601 \
         profiler.flight_recorder.max_bytes=1000 profiler.flight_recorder.bucket_seconds=0 \
         profiler.flight_recorder.wall=sometimes; do
    key=${c%%=*} value=${c#*=}
    var=TAKHIN_$(tr 'a-z.' 'A-Z_' <<<"$key")
    start_fails "$key=$value in env" "$TK_TMP/yaml.yaml" "$key = \"$value\" (env $var)" "$var=$value"
done
write_config "$TK_TMP/maybe.yaml"
sed -i 's/enabled: true/enabled: maybe/' "$TK_TMP/maybe.yaml"
start_fails "enabled: maybe" "$TK_TMP/maybe.yaml" 'profiler.enabled = "maybe"'
start_fails "TAKHIN_PROFILER_ENABLED=maybe" "$TK_TMP/yaml.yaml" \
    'expected a boolean' TAKHIN_PROFILER_ENABLED=maybe
write_config "$TK_TMP/unknown.yaml"
sed -i 's/  port: 0/  port: 0\n  potr: 1/' "$TK_TMP/unknown.yaml"
start_fails "unknown key under profiler" "$TK_TMP/unknown.yaml" 'unknown key profiler.potr'
printf 'profiler:\n  enabled: "unterminated\n' >"$TK_TMP/malformed.yaml"
start_fails "malformed YAML" "$TK_TMP/malformed.yaml" 'malformed YAML'
write_config "$TK_TMP/host.yaml"
sed -i 's/  port: 0/  port: 0\n  host: not-an-address/' "$TK_TMP/host.yaml"
start_fails "bad host" "$TK_TMP/host.yaml" 'profiler.host = "not-an-address"'
# the front's limits (plugin/http/front.c)
write_config "$TK_TMP/front.yaml"
sed -i 's/  port: 0/  port: 0\n  header_timeout_ms: 50/' "$TK_TMP/front.yaml"
start_fails "header_timeout_ms: 50 in YAML" "$TK_TMP/front.yaml" \
    "profiler.header_timeout_ms = \"50\" ($TK_TMP/front.yaml:7:22): expected an integer from 100 to 600000"
start_fails "TAKHIN_PROFILER_HEADER_TIMEOUT_MS=soon" "$TK_TMP/yaml.yaml" \
    'profiler.header_timeout_ms = "soon" (env TAKHIN_PROFILER_HEADER_TIMEOUT_MS)' \
    TAKHIN_PROFILER_HEADER_TIMEOUT_MS=soon
start_fails "TAKHIN_PROFILER_MAX_CONNS_PER_PEER=0" "$TK_TMP/yaml.yaml" \
    'profiler.max_conns_per_peer = "0" (env TAKHIN_PROFILER_MAX_CONNS_PER_PEER): expected an integer from 1 to 65536' \
    TAKHIN_PROFILER_MAX_CONNS_PER_PEER=0
start_fails "TAKHIN_PROFILER_MAX_CONNS=8" "$TK_TMP/yaml.yaml" \
    'profiler.max_conns = "8" (env TAKHIN_PROFILER_MAX_CONNS): expected an integer from 16 to 1000000' \
    TAKHIN_PROFILER_MAX_CONNS=8
printf 'plugins:\n  - name: profiler\n    path: /nonexistent/profiler.so\n' >"$TK_TMP/nolib.yaml"
start_fails "missing plugin file" "$TK_TMP/nolib.yaml" 'cannot load plugin'
start_fails "missing config file" "$TK_TMP/none.yaml" "$TK_TMP/none.yaml"

# a port already taken: a clear start-up error, not a log line
if start_server holder "$TK_TMP/yaml.yaml"; then
    taken=$(profiler_port)
    start_fails "port already in use" "$TK_TMP/yaml.yaml" "cannot listen on 127.0.0.1:$taken" \
        TAKHIN_PROFILER_PORT="$taken"
    stop_server
fi
finish
