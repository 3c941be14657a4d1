#!/usr/bin/env bash
# The whole loop with the real servers: Debian's Prometheus scrapes
# takhind's profiler (token) every second, a rule on
# process_cpu_seconds_total fires, Debian's Alertmanager posts it to
# `takhin-profiler watch` (webhook token), and watch captures a CPU
# profile of takhind into its storage. Then: the index line names the
# alert, go tool pprof reads the file with takhind's functions in it,
# Alertmanager's repeats and a second alert on the same instance make no
# second capture (dedupe, cooldown), and SIGTERM ends watch with 0.
source "$(dirname "$0")/lib.sh"
token=tk-$RANDOM$RANDOM whtoken=wh-$RANDOM$RANDOM

for bin in prometheus prometheus-alertmanager; do
    command -v "$bin" >/dev/null || { not_ok "$bin is installed (scripts/deps.sh)"; finish; }
done

# Every process this test starts is stopped at exit (TERM, then KILL).
EXTRA_PIDS=()
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
stop_all() { local p; for p in "${EXTRA_PIDS[@]}"; do stop_pid "$p"; done; }
trap 'stop_all; tk_cleanup' EXIT

{
    profiler_yaml true 0
    printf '  auth:\n    token: %s\n' "$token"
    printf 'demo:\n  rate: 5000\n'
} >"$TK_TMP/takhin.yaml"
start_server e2e "$TK_TMP/takhin.yaml" || { not_ok "takhind starts with a token"; finish; }
port=$(profiler_port)

amport=$(free_port) && pport=$(free_port) || { not_ok "free ports"; finish; }
store=$TK_TMP/store
# watch picks its port (-listen 127.0.0.1:0) and logs it
TAKHIN_PROFILER_TOKEN=$token "$BUILD/takhin-profiler" watch -listen 127.0.0.1:0 \
    -output-dir "$store" -target "127.0.0.1:$port" -webhook-token "$whtoken" \
    -cooldown 5m 2>"$TK_TMP/watch.log" &
WATCH_PID=$!
EXTRA_PIDS+=("$WATCH_PID")
wport=$(watch_port "$TK_TMP/watch.log")
check "watch listens on 127.0.0.1:$wport" port_open "${wport:-1}"

cat >"$TK_TMP/alertmanager.yml" <<YAML
route:
  receiver: watch
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: watch
    webhook_configs:
      - url: http://127.0.0.1:$wport/webhook
        send_resolved: true
        http_config:
          authorization:
            credentials: $whtoken
YAML
start_alertmanager "$amport"
EXTRA_PIDS+=("$AM_PID")

# Two alerts on the same instance: the second finds the target in cooldown.
cat >"$TK_TMP/rules.yml" <<'YAML'
groups:
  - name: takhin
    interval: 1s
    rules:
      - alert: TakhindBusy
        expr: process_cpu_seconds_total > 0
        labels: {severity: page}
        annotations:
          takhin_profile_seconds: "3"
          summary: takhind is using CPU
      - alert: TakhindBusyToo
        expr: process_cpu_seconds_total > 0
        annotations:
          takhin_profile_seconds: "3"
YAML
t0=$(date +%s.%N)
start_alerting_prometheus "$pport" "$amport" "$port" "$token"
EXTRA_PIDS+=("$PROM_PID")

# ---- a CPU profile in storage within 90 s ----
cpu=
for _ in $(seq 900); do
    cpu=$(find "$store" -name '*_cpu.pb.gz' 2>/dev/null | head -1)
    [ -n "$cpu" ] && break
    sleep 0.1
done
t1=$(date +%s.%N)
fired=$(sed -nE 's/^([0-9T:.-]+)Z takhin-profiler watch: alert TakhindBusy.*capturing.*/\1/p' \
    "$TK_TMP/watch.log" | head -1)
echo "# Prometheus started -> CPU file on disk: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s;" \
     "watch began the capture at ${fired:-?}Z, file: ${cpu:-none}"
check "a CPU profile of takhind is in storage within 90 s" test -n "$cpu"
[ -n "$cpu" ] || { sed 's/^/# watch: /' "$TK_TMP/watch.log"; tail -20 "$TK_TMP/alertmanager.log" | sed 's/^/# am: /'; finish; }
case $cpu in
    "$store/127.0.0.1_$port/"????-??-??/??????_TakhindBusy*_cpu.pb.gz) ok "its path is DIR/<target>/<date>/<HHMMSS>_<alert>_cpu.pb.gz ($cpu)" ;;
    *) not_ok "its path is DIR/<target>/<date>/<HHMMSS>_<alert>_cpu.pb.gz ($cpu)" ;;
esac
index=$(dirname "$cpu")/index.jsonl
line=$(grep "\"file\":\"$(basename "$cpu")\"" "$index")
echo "# index: $line"
check "the index line names the alert, its labels, bytes and sha256" python3 -c '
import json, sys, hashlib, os
l = json.loads(sys.argv[1]); f = sys.argv[2]
assert l["reason"].startswith("TakhindBusy") and l["labels"]["alertname"] == l["reason"], l
assert l["type"] == "cpu" and l["result"] == "ok" and l["target"] == sys.argv[3], l
assert l["bytes"] == os.path.getsize(f), l
assert l["sha256"] == hashlib.sha256(open(f, "rb").read()).hexdigest(), l
' "$line" "$cpu" "127.0.0.1:$port"
GOCACHE=$TK_TMP/gocache go tool pprof -traces "$cpu" >"$TK_TMP/traces" 2>&1
check "go tool pprof reads it, with takhind's functions (producer_main, ...)" \
    grep -qE "producer_main|consumer_main|record_hash|produce_handle" "$TK_TMP/traces"
check "heap and goroutine were captured with it" \
    test -n "$(find "$store" -name '*_heap.pb.gz')" -a -n "$(find "$store" -name '*_goroutine.pb.gz')"

# ---- repeats and the second alert: no second capture ----
for _ in $(seq 100); do
    n=$(grep -c "webhook from" "$TK_TMP/watch.log")
    [ "$n" -ge 4 ] && grep -q "cooldown" "$TK_TMP/watch.log" && break
    sleep 0.1
done
sleep 4 # a capture that would start now would have a file by then (3 s profile)
ncpu=$(find "$store" -name '*_cpu.pb.gz' | wc -l)
echo "# webhooks received: $(grep -c 'webhook from' "$TK_TMP/watch.log"), CPU files: $ncpu"
grep -E "already seen|cooldown" "$TK_TMP/watch.log" | head -3 | sed 's/^/# /'
check "Alertmanager notified more than once (repeats, the second alert)" \
    test "$(grep -c 'webhook from' "$TK_TMP/watch.log")" -ge 3
check "the second alert on the same instance was held by the cooldown" \
    grep -q "target in cooldown" "$TK_TMP/watch.log"
check "only one CPU profile was captured" test "$ncpu" -eq 1
m=$(curl -sS -H "Authorization: Bearer $whtoken" "http://127.0.0.1:$wport/metrics")
check "watch's /metrics counts the capture by target and type" \
    contains "$m" "takhin_watch_captures_total{target=\"127.0.0.1:$port\",type=\"cpu\",result=\"ok\"} 1"
lint=$(printf '%s\n' "$m" | promtool check metrics 2>&1)
check "promtool accepts watch's /metrics (${lint:-clean})" test -z "$lint"
out=$("$BUILD/takhin-profiler" ls "$store")
echo "$out" | sed 's/^/# ls: /'
check "takhin-profiler ls lists the capture" contains "$out" "TakhindBusy"
check "takhin-profiler -input reads the stored file" \
    bash -c "\"$BUILD/takhin-profiler\" -input \"$cpu\" -top 5 >/dev/null"

kill -TERM "$WATCH_PID"
wait "$WATCH_PID"
rc=$?
check "watch exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
finish
