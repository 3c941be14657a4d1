#!/usr/bin/env bash
# The flight recorder end to end (issue 29), with Debian's Prometheus and
# Alertmanager: takhind keeps its last 120 s of CPU samples
# (profiler.flight_recorder.seconds); a burst (the demo workload's
# producers from 1 record a second to 5000, by config reload: demo.rate
# is the workload key that changes live) raises a
# Prometheus alert on
# process_cpu_seconds_total and STOPS before Alertmanager notifies
# (group_wait 6 s); `takhin-profiler watch` then asks ?past= back to the
# alert's startsAt minus its lookback (annotation takhin_profile_lookback)
# and the stored profile still holds the burst's function (go tool pprof,
# the binary deleted) where a profile of the present does not; the index
# line's window starts before the alert's startsAt. Then an alert posted
# straight to watch asks more than the ring holds (lookback 1h): the CPU
# profile gets what the ring holds, the wall profile (no wall recorder)
# only the seconds after; both say so in the index.
source "$(dirname "$0")/lib.sh"
token=tk-$RANDOM$RANDOM whtoken=wh-$RANDOM$RANDOM

for bin in prometheus prometheus-alertmanager go; do
    command -v "$bin" >/dev/null || { not_ok "$bin is installed (scripts/deps.sh)"; finish; }
done

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

# takhind_yaml RATE: the demo workload at RATE records a second per
# producer.
takhind_yaml() {
    profiler_yaml true 0
    printf '  auth:\n    token: %s\n  flight_recorder:\n    seconds: 120\n' "$token"
    printf 'demo:\n  rate: %s\n' "$1"
}
takhind_yaml 1 >"$TK_TMP/takhin.yaml"
start_hidden_server flight "$TK_TMP/takhin.yaml" || { not_ok "takhind starts, its binary hidden"; finish; }
port=$(profiler_port)

amport=$(free_port) && pport=$(free_port) || { not_ok "free ports"; finish; }
store=$TK_TMP/store
TAKHIN_PROFILER_TOKEN=$token "$BUILD/takhin-profiler" watch -listen 127.0.0.1:0 \
    -output-dir "$store" -target "127.0.0.1:$port" -webhook-token "$whtoken" \
    -lookback 30s -cooldown 1s 2>"$TK_TMP/watch.log" &
WATCH_PID=$!
EXTRA_PIDS+=("$WATCH_PID")
wport=$(watch_port "$TK_TMP/watch.log")
check "watch listens on 127.0.0.1:$wport" port_open "${wport:-1}"

# group_wait: Alertmanager holds the first notification 6 s, longer than
# the burst lasts once the alert fires.
cat >"$TK_TMP/alertmanager.yml" <<YAML
route:
  receiver: watch
  group_by: [alertname]
  group_wait: 6s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: watch
    webhook_configs:
      - url: http://127.0.0.1:$wport/webhook
        http_config:
          authorization:
            credentials: $whtoken
YAML
start_alertmanager "$amport"
EXTRA_PIDS+=("$AM_PID")

# The rule: a tenth of a CPU over 3 s, at any time in the last 30 s (at 1
# record a second takhind uses about a hundredth of a CPU; at 5000 about
# half of one). The 30 s keep the alert firing after the burst ended, as
# a real rule's window would, until Alertmanager notifies: it notifies
# no alert that resolved during its group_wait.
cat >"$TK_TMP/rules.yml" <<'YAML'
groups:
  - name: takhin
    interval: 1s
    rules:
      - alert: TakhindBurst
        expr: max_over_time(rate(process_cpu_seconds_total[3s])[30s:1s]) > 0.1
        for: 1s
        annotations:
          takhin_profile_types: cpu
          takhin_profile_seconds: "2"
          takhin_profile_lookback: "8s"
YAML
start_alerting_prometheus "$pport" "$amport" "$port" "$token"
EXTRA_PIDS+=("$PROM_PID")

# prom_says PATH PYTHON_EXPR: Prometheus' API answer at PATH, as `d`, makes
# the expression true.
prom_says() {
    curl -sS --max-time 5 "http://127.0.0.1:$pport$1" 2>/dev/null |
        python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($2) else 1)"
}
# two scrapes of the idle takhind, so the rate has a baseline
scraped() { prom_says "/api/v1/query?query=count_over_time(up%5B10s%5D)" \
    'd["data"]["result"] and float(d["data"]["result"][0]["value"][1]) >= 2'; }
check "Prometheus scrapes takhind" eventually 60 scraped
quiet() { prom_says /api/v1/alerts 'not d["data"]["alerts"]'; }
check "the idle takhind raises no alert" eventually 30 quiet

# ---- the burst: on until the alert fires, then off ----
takhind_yaml 5000 >"$TK_TMP/takhin.yaml"
out=$(admin config reload 2>&1)
t_on=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
check "config reload starts the burst: demo.rate 5000 ($t_on)" contains "$out" "applied at once: demo.rate"
firing() { prom_says /api/v1/alerts 'any(a["state"] == "firing" for a in d["data"]["alerts"])'; }
check "the burst fires TakhindBurst" eventually 60 firing
takhind_yaml 1 >"$TK_TMP/takhin.yaml"
out=$(admin config reload 2>&1)
t_off=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
check "config reload ends the burst, 1 record a second again ($t_off)" \
    contains "$out" "applied at once: demo.rate"

# ---- the capture ----
cpu=
got_cpu() { cpu=$(find "$store" -name '*_TakhindBurst_cpu.pb.gz' 2>/dev/null | head -1); [ -n "$cpu" ]; }
check "watch stores a CPU profile of the alert" eventually 60 got_cpu
[ -n "$cpu" ] || { sed 's/^/# watch: /' "$TK_TMP/watch.log"; tail -20 "$TK_TMP/alertmanager.log" | sed 's/^/# am: /'; finish; }
grep -E "webhook from|capturing|captured|asking again" "$TK_TMP/watch.log" | sed 's/^/# /'
hook=$(sed -nE 's/^([0-9T:.-]+Z) takhin-profiler watch: webhook from.*/\1/p' "$TK_TMP/watch.log" | head -1)
check "the burst was off before Alertmanager notified (off $t_off, webhook ${hook:-none})" \
    test -n "$hook" -a "$t_off" \< "${hook:-0}"
line=$(grep "\"file\":\"$(basename "$cpu")\"" "$(dirname "$cpu")/index.jsonl")
echo "# index: $line"
check "the index line's window starts before the alert's startsAt, from its past" python3 -c '
import json, sys
from datetime import datetime
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
l = json.loads(sys.argv[1]); w = l["window"]
assert l["result"] == "ok" and l["labels"]["alertname"] == "TakhindBurst", l
assert w["past_asked"] >= 8 and w["past"] > 0, w
assert t(w["start"]) < t(l["starts_at"]) < t(w["end"]), (w, l["starts_at"])
' "$line"
out=$("$BUILD/takhin-profiler" ls "$store")
echo "$out" | sed 's/^/# ls: /'
check "takhin-profiler ls shows the past the CPU profile got" \
    bash -c 'grep "TakhindBurst" <<<"$1" | grep -qE "cpu:[0-9.]+KiB,past=[0-9]+s"' _ "$out"
# The burst's CPU in produce_handle, in ms. At 1 record a second the
# producers spend about 0.1 ms a second there (the flight recorder's
# sampler weighs every thread's CPU clock, so even that shows); the alert
# fired only after takhind used over 0.3 CPU-seconds in 3 s within the
# lookback (its rule), about half of it producing: what the machine's load
# takes from the burst, the alert's condition gives back.
produce_ms() {
    GOCACHE=$TK_TMP/gocache go tool pprof -top -cum -unit=ms -nodecount=500 "$1" 2>/dev/null |
        awk '$6 == "produce_handle" { sub(/ms$/, "", $4); print $4; f = 1 } END { if (!f) print 0 }'
}
ms=$(produce_ms "$cpu")
check "go tool pprof reads it, the binary hidden: ${ms} ms in the burst's produce_handle (over 50)" \
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 50 else 1)' "$ms"
curl -sS --max-time 30 -H "Authorization: Bearer $token" -o "$TK_TMP/now.pb.gz" \
    "http://127.0.0.1:$port/debug/pprof/profile?seconds=2"
now_ms=$(produce_ms "$TK_TMP/now.pb.gz")
check "a 2 s profile of the present, the burst over: ${now_ms} ms there (under 50)" \
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 50 else 1)' "$now_ms"

# ---- less than asked: an alert straight to watch, lookback 1h ----
now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
printf '{"version":"4","groupKey":"d","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Direct","instance":"127.0.0.1:%s"},"annotations":{"takhin_profile_types":"cpu,wall","takhin_profile_seconds":"1","takhin_profile_lookback":"1h"},"startsAt":"%s","fingerprint":"d1"}]}' \
    "$port" "$now" | curl -sS -o /dev/null --max-time 10 --data-binary @- \
    -H "Authorization: Bearer $whtoken" "http://127.0.0.1:$wport/webhook"
both() { [ "$(cat "$store"/*/*/index.jsonl | grep -c '"reason":"Direct"')" -ge 2 ]; }
check "the direct alert's CPU and wall captures are in the index" eventually 60 both
grep -F "(Direct)" "$TK_TMP/watch.log" | cut -c1-300 | sed 's/^/# /'
check "its CPU window: what the ring holds, under the 3600 s asked, said so" python3 -c '
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1]) if "\"Direct\"" in l]
w = [l for l in ls if l["type"] == "cpu"][0]["window"]
assert w["past_asked"] == 3600 and 0 < w["past"] < 3600 and w["shortened"], w
assert "flight recorder holds %ds, not the 3600s asked" % w["past"] in w["note"], w
' "$(dirname "$cpu")/index.jsonl"
check "its wall window: the wall recorder is off, only the second after, said so" python3 -c '
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1]) if "\"Direct\"" in l]
l = [l for l in ls if l["type"] == "wall"][0]; w = l["window"]
assert l["result"] == "ok" and w["past"] == 0 and w["shortened"], l
assert "X-Takhin-Past-Available: 0; its profiler.flight_recorder.wall" in w["note"], w
' "$(dirname "$cpu")/index.jsonl"

# a bad annotation: named in the log, -lookback used
printf '{"version":"4","groupKey":"d","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"BadLookback","instance":"127.0.0.1:%s"},"annotations":{"takhin_profile_types":"heap","takhin_profile_lookback":"-5m"},"startsAt":"%s","fingerprint":"d2"}]}' \
    "$port" "$now" | curl -sS -o /dev/null --max-time 10 --data-binary @- \
    -H "Authorization: Bearer $whtoken" "http://127.0.0.1:$wport/webhook"
check "a bad takhin_profile_lookback is named in the log, -lookback used" eventually 10 \
    grep -q 'alert BadLookback: annotation takhin_profile_lookback="-5m": "-5m" is not a duration from 0 to 3600s.*; using -lookback' "$TK_TMP/watch.log"

stop_pid_rc() { kill -TERM "$1"; wait "$1"; }
stop_pid_rc "$WATCH_PID"; rc=$?
check "watch exits 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
finish
