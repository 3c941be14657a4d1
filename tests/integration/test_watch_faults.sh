#!/usr/bin/env bash
# takhin-profiler watch against bad input and faults: forged webhooks
# (table), targets that are down or refuse the token, a kill in the middle
# of a capture, SIGTERM with a capture in flight, a full disk, config
# errors, periodic capture and retention.
source "$(dirname "$0")/lib.sh"
token=tk-$RANDOM$RANDOM whtoken=wh-$RANDOM$RANDOM
WATCH=$BUILD/takhin-profiler
EXTRA_PIDS=()
MOUNTED=
stop_all() {
    local p
    for p in "${EXTRA_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -z "$MOUNTED" ] || umount "$MOUNTED" 2>/dev/null
}
trap 'stop_all; tk_cleanup' EXIT

{ profiler_yaml true 0; printf '  auth:\n    token: %s\n' "$token"; } >"$TK_TMP/good.yaml"
{ profiler_yaml true 0; printf '  auth:\n    token: other-%s\n' "$token"; } >"$TK_TMP/other.yaml"
start_server other "$TK_TMP/other.yaml" || { not_ok "a takhind with another token"; finish; }
otherport=$(profiler_port)
start_server good "$TK_TMP/good.yaml" || { not_ok "takhind starts"; finish; }
port=$(profiler_port)
downport=$(free_port)

# start_watch NAME DIR [flags...]: watch on a port it picks (-listen
# 127.0.0.1:0, read from its log); sets WPORT, WPID, WLOG.
start_watch() {
    local name=$1 dir=$2
    shift 2
    WLOG=$TK_TMP/$name.log WPORT=
    TAKHIN_PROFILER_TOKEN=$token "$WATCH" watch -listen 127.0.0.1:0 -output-dir "$dir" \
        -webhook-token "$whtoken" "$@" 2>"$WLOG" &
    WPID=$!
    EXTRA_PIDS+=("$WPID")
    WPORT=$(watch_port "$WLOG") && return 0
    cat "$WLOG" >&2
    return 1
}
# alert_json INSTANCE [FINGERPRINT] [STATUS] [ANNOTATIONS_JSON]
alert_json() {
    printf '{"version":"4","groupKey":"g-%s","status":"%s","receiver":"r","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"","alerts":[{"status":"%s","labels":{"alertname":"Test","instance":"%s"},"annotations":%s,"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}]}' \
        "${2:-f1}" "${3:-firing}" "${3:-firing}" "$1" "${4:-{\}}" "${2:-f1}"
}
# post BODY_FILE [curl args...]: the status code of POST /webhook.
post() {
    local f=$1
    shift
    curl -s -o "$TK_TMP/resp" -w '%{http_code}' --max-time 10 "$@" --data-binary "@$f" \
        -H 'Content-Type: application/json' "http://127.0.0.1:$WPORT/webhook"
}
found() { test -n "$(find "$1" -name "$2" 2>/dev/null)"; } # found DIR GLOB

start_watch forged "$TK_TMP/s1" -target "127.0.0.1:$port" -target "127.0.0.1:$downport" \
    -target "127.0.0.1:$otherport" -duration 1s -cooldown 5m ||
    { not_ok "watch starts"; finish; }

# ---- forged webhooks: file, curl arguments, status, what the answer or log says ----
mk() { printf '%s' "$2" >"$TK_TMP/b-$1"; }
alert_json "10.0.0.1:6060" >"$TK_TMP/b-unknown"
alert_json "127.0.0.1:$port" f1 >"$TK_TMP/b-good"
mk badjson '{"version":"4","alerts":['
mk version '{"version":"3","alerts":[]}'
mk noalerts '{"version":"4","status":"firing"}'
mk alertsstr '{"version":"4","alerts":"x"}'
mk labelnum '{"version":"4","alerts":[{"status":"firing","labels":{"instance":6060}}]}'
mk statusnum '{"version":"4","alerts":[{"status":1}]}'
mk array '[1,2,3]'
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$TK_TMP/b-deep"
python3 -c 'import sys; sys.stdout.write("{\"version\":\"4\",\"alerts\":[],\"x\":\"" + "a" * (1 << 20) + "\"}")' >"$TK_TMP/b-huge"
cases=(
    "unknown instance|unknown|-H|Authorization: Bearer $whtoken|200|not a configured target"
    "no token|good|-H|X-None: 1|401|no token"
    "wrong Bearer token|good|-H|Authorization: Bearer nope|401|wrong token"
    "wrong Basic password|good|-u|alertmanager:nope|401|wrong token"
    "malformed JSON|badjson|-H|Authorization: Bearer $whtoken|400|malformed JSON"
    "version 3|version|-H|Authorization: Bearer $whtoken|400|version"
    "no alerts|noalerts|-H|Authorization: Bearer $whtoken|400|alerts: missing"
    "alerts not an array|alertsstr|-H|Authorization: Bearer $whtoken|400|alerts: expected an array"
    "a label that is a number|labelnum|-H|Authorization: Bearer $whtoken|400|expected a string"
    "a status that is a number|statusnum|-H|Authorization: Bearer $whtoken|400|expected a string"
    "not an object|array|-H|Authorization: Bearer $whtoken|400|expected a JSON object"
    "JSON 100000 deep|deep|-H|Authorization: Bearer $whtoken|400|malformed JSON"
)
for c in "${cases[@]}"; do
    IFS='|' read -r desc file a1 a2 want says <<<"$c"
    got=$(post "$TK_TMP/b-$file" "$a1" "$a2")
    body=$(head -c 300 "$TK_TMP/resp")
    check "forged webhook, $desc: $want ($got: $body)" test "$got" = "$want"
    check "forged webhook, $desc: logged ($says)" grep -q -- "$says" "$WLOG"
done
# A declared body over 1 MiB: the front (plugin/http/front.c) refuses it
# before reading it, with the reason in the answer.
got=$(post "$TK_TMP/b-huge" -H "Authorization: Bearer $whtoken")
check "forged webhook, a body over 1 MiB: 413 ($got: $(head -c 300 "$TK_TMP/resp"))" \
    bash -c "[ '$got' = 413 ] && grep -q 'a request body over 1 MiB' '$TK_TMP/resp'"
check "GET /webhook: 405" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WPORT/webhook")" = 405
check "GET /other: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WPORT/other")" = 404
check "the forged ones captured nothing" test -z "$(find "$TK_TMP/s1" -name '*.pb.gz')"
check "a request cannot forge a log line" bash -c "! grep -q '^INJECTED' '$WLOG'"
alert_json '127.0.0.1:1\nINJECTED' >"$TK_TMP/b-inject"
post "$TK_TMP/b-inject" -H "Authorization: Bearer $whtoken" >/dev/null
check "an instance with a newline is logged escaped" bash -c "! grep -q '^INJECTED' '$WLOG' && grep -q 'x0aINJECTED' '$WLOG'"

# resolved: nothing; bad annotations: logged, the defaults used
alert_json "127.0.0.1:$port" f9 resolved >"$TK_TMP/b-resolved"
check "a resolved alert: 200" test "$(post "$TK_TMP/b-resolved" -H "Authorization: Bearer $whtoken")" = 200
check "a resolved alert is logged and captures nothing" grep -q "resolved: nothing to capture" "$WLOG"
alert_json "127.0.0.1:$port" f2 firing '{"takhin_profile_types":"cpu,bogus","takhin_profile_seconds":"9999"}' >"$TK_TMP/b-ann"
check "bad annotations: 200" test "$(post "$TK_TMP/b-ann" -H "Authorization: Bearer $whtoken")" = 200
check "bad takhin_profile_types is logged" grep -q 'takhin_profile_types="cpu,bogus": "bogus" is not a profile type' "$WLOG"
check "bad takhin_profile_seconds is logged" grep -q 'takhin_profile_seconds="9999"' "$WLOG"
eventually 30 found "$TK_TMP/s1" '*_cpu.pb.gz'
check "and the defaults were captured (cpu, heap, goroutine)" \
    test "$(find "$TK_TMP/s1" -name '*.pb.gz' | wc -l)" -eq 3

# ---- targets down or refusing: a clear line, failed in the index, no retry storm ----
alert_json "127.0.0.1:$downport" d1 >"$TK_TMP/b-down"
alert_json "127.0.0.1:$downport" d2 >"$TK_TMP/b-down2"
alert_json "127.0.0.1:$otherport" o1 >"$TK_TMP/b-401"
post "$TK_TMP/b-down" -H "Authorization: Bearer $whtoken" >/dev/null
post "$TK_TMP/b-401" -H "Authorization: Bearer $whtoken" >/dev/null
eventually 10 grep -q "capture cpu of 127.0.0.1:$otherport (Test) failed" "$WLOG"
eventually 10 grep -q "capture cpu of 127.0.0.1:$downport (Test) failed" "$WLOG"
grep "failed" "$WLOG" | head -2 | sed 's/^/# /'
check "a target that is down: a clear log line" grep -q "127.0.0.1:$downport.*failed:.*refused" "$WLOG"
check "a target that answers 401: a clear log line" grep -q "127.0.0.1:$otherport.*failed:.*401" "$WLOG"
check "both marked failed in the index" bash -c "cat '$TK_TMP'/s1/127.0.0.1_{$downport,$otherport}/*/index.jsonl | grep -c '\"result\":\"failed\"' | grep -qx 6"
check "no file left for them" test -z "$(find "$TK_TMP/s1/127.0.0.1_$downport" "$TK_TMP/s1/127.0.0.1_$otherport" -type f ! -name index.jsonl)"
post "$TK_TMP/b-down2" -H "Authorization: Bearer $whtoken" >/dev/null
check "a second alert for the down target is held by the cooldown (no retry storm)" \
    grep -q "alert Test (instance 127.0.0.1:$downport): target in cooldown" "$WLOG"
m=$(curl -s -H "Authorization: Bearer $whtoken" "http://127.0.0.1:$WPORT/metrics")
check "/metrics counts the failures" contains "$m" "type=\"cpu\",result=\"failed\"} 1"
check "/metrics counts the refused webhooks" contains "$m" 'takhin_watch_webhooks_total{result="unauthorized"} 3'
check "/metrics wants the token" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WPORT/metrics")" = 401
kill -TERM "$WPID"; wait "$WPID"; rc=$?
check "SIGTERM: exit 0 ($rc)" test "$rc" -eq 0

# ---- kill -9 in the middle of a capture: nothing that looks whole ----
start_watch killed "$TK_TMP/s2" -target "127.0.0.1:$port" -type cpu -duration 5s ||
    { not_ok "watch starts"; finish; }
post "$TK_TMP/b-good" -H "Authorization: Bearer $whtoken" >/dev/null
eventually 30 found "$TK_TMP/s2" '.*part*'
sleep 1
kill -KILL "$WPID"; wait "$WPID" 2>/dev/null
find "$TK_TMP/s2" -type f | sed 's/^/# after kill -9: /'
check "killed mid-capture: only a temp dot-file, no .pb.gz" \
    test -z "$(find "$TK_TMP/s2" -name '*.pb.gz' ! -name '.*')" -a -n "$(find "$TK_TMP/s2" -name '.*part*')"
start_watch restarted "$TK_TMP/s2" -target "127.0.0.1:$port" || { not_ok "watch restarts"; finish; }
check "the next start removes the dead process's temp file" test -z "$(find "$TK_TMP/s2" -name '.*part*')"
kill -TERM "$WPID"; wait "$WPID"

# ---- SIGTERM with a capture in flight: cancelled within -shutdown-timeout, exit 0 ----
start_watch term "$TK_TMP/s3" -target "127.0.0.1:$port" -type cpu -duration 20s \
    -shutdown-timeout 1s || { not_ok "watch starts"; finish; }
post "$TK_TMP/b-good" -H "Authorization: Bearer $whtoken" >/dev/null
sleep 1
t0=$(date +%s.%N)
kill -TERM "$WPID"; wait "$WPID"; rc=$?
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
check "SIGTERM during a 20 s capture: exit 0 ($rc), the capture cancelled, not waited for (${took} s)" \
    awk -v r="$rc" -v t="$took" 'BEGIN { exit !(r == 0 && t < 15) }'
check "the cancelled capture is failed in the index, no file" \
    bash -c "grep -q 'cancelled' '$TK_TMP'/s3/*/*/index.jsonl && test -z \"\$(find '$TK_TMP/s3' -name '*.pb.gz')\""

# ---- -targets FILE, re-read on SIGHUP ----
echo "# no target yet" >"$TK_TMP/targets"
echo "127.0.0.1:$downport" >>"$TK_TMP/targets"
start_watch hup "$TK_TMP/s6" -targets "$TK_TMP/targets" -type heap ||
    { not_ok "watch starts with -targets"; finish; }
alert_json "127.0.0.1:$port" h1 >"$TK_TMP/b-hup1"
alert_json "127.0.0.1:$port" h2 >"$TK_TMP/b-hup2"
post "$TK_TMP/b-hup1" -H "Authorization: Bearer $whtoken" >/dev/null
check "-targets: an instance not in the file is refused" \
    grep -q "instance 127.0.0.1:$port is not a configured target" "$WLOG"
echo "127.0.0.1:$port  # added" >>"$TK_TMP/targets"
kill -HUP "$WPID"
eventually 5 grep -q "SIGHUP: 2 targets" "$WLOG"
post "$TK_TMP/b-hup2" -H "Authorization: Bearer $whtoken" >/dev/null
eventually 30 found "$TK_TMP/s6" '*_heap.pb.gz'
check "after SIGHUP the added target is captured" test -n "$(find "$TK_TMP/s6" -name '*_heap.pb.gz')"
echo "http://[broken" >>"$TK_TMP/targets"
kill -HUP "$WPID"
eventually 5 grep -q "SIGHUP: the targets stay as they were" "$WLOG"
check "a broken -targets file on SIGHUP keeps the old list, naming the line" \
    grep -q "SIGHUP: the targets stay as they were: -targets $TK_TMP/targets, line 4" "$WLOG"
kill -TERM "$WPID"; wait "$WPID"

# ---- config errors: the flag, the value, the fix ----
err=$("$WATCH" watch -listen 0.0.0.0:9 -output-dir "$TK_TMP/x" -target 127.0.0.1:1 2>&1)
check "off loopback without a token: refused at start ($err)" \
    contains "$err" "-listen 0.0.0.0:9 is off loopback and no -webhook-token"
err=$("$WATCH" watch -output-dir "$TK_TMP/x" 2>&1); rc=$?
check "no target: exit 2 naming -target ($err)" bash -c "[ $rc = 2 ] && [[ '$err' == *'-target HOST:PORT'* ]]"
err=$("$WATCH" watch -output-dir "$TK_TMP/x" -target 127.0.0.1:1 -type cpu,nope 2>&1)
check "a bad -type is named ($err)" contains "$err" '-type cpu,nope: "nope" is not a profile type'
err=$("$WATCH" watch -output-dir "$TK_TMP/x" -target 127.0.0.1:1 -lookback 2h 2>&1); rc=$?
check "a -lookback over 1h: exit 2, naming it and the bound ($err)" \
    bash -c "[ $rc = 2 ] && [[ '$err' == *'-lookback 2h: \"2h\" is not a duration from 0 to 3600s'* ]]"
err=$("$WATCH" watch -output-dir "$TK_TMP/x" -target 'http://[bad' 2>&1)
check "a bad -target is named ($err)" contains "$err" "-target http://[bad"
err=$("$WATCH" watch -output-dir "$TK_TMP/x" -targets "$TK_TMP/none" 2>&1)
check "a missing -targets file is named ($err)" contains "$err" "-targets $TK_TMP/none"

# ---- storage full (a small tmpfs; needs root) ----
mkdir -p "$TK_TMP/full"
if mount -t tmpfs -o size=64k tmpfs "$TK_TMP/full" 2>/dev/null; then
    MOUNTED=$TK_TMP/full
    start_watch full "$TK_TMP/full" -target "127.0.0.1:$port" -type cpu,heap,goroutine -duration 1s ||
        { not_ok "watch starts on a tmpfs"; finish; }
    dd if=/dev/zero of="$TK_TMP/full/filler" bs=1k count=100 2>/dev/null; rm -f "$TK_TMP/full/filler2"
    post "$TK_TMP/b-good" -H "Authorization: Bearer $whtoken" >/dev/null
    eventually 10 grep -q "capture cpu of .* failed" "$WLOG"
    grep "failed" "$WLOG" | head -3 | sed 's/^/# /'
    check "storage full: a clear error" grep -q "No space left on device" "$WLOG"
    check "storage full: nothing half-written" \
        test -z "$(find "$TK_TMP/full" -name '*.pb.gz' -o -name '.*part*')"
    check "storage full: watch keeps serving" \
        test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $whtoken" "http://127.0.0.1:$WPORT/metrics")" = 200
    kill -TERM "$WPID"; wait "$WPID"
    umount "$TK_TMP/full" && MOUNTED=
else
    echo "# storage full: skipped, mount -t tmpfs was refused (not root?)"
fi

# ---- periodic capture and retention ----
"$WATCH" -remote "127.0.0.1:$port" -token "$token" -every 2s -type heap \
    -output-dir "$TK_TMP/s4" -max-bytes 1 2>"$TK_TMP/periodic.log" &
PPID_=$!
EXTRA_PIDS+=("$PPID_")
two_captured() { [ "$(grep -c captured "$TK_TMP/periodic.log")" -ge 2 ]; }
eventually 30 two_captured
kill -TERM "$PPID_"; wait "$PPID_"; rc=$?
check "-every: periodic captures, reason periodic, exit 0 on SIGTERM ($rc)" \
    bash -c "[ $rc = 0 ] && grep -q '\"reason\":\"periodic\"' '$TK_TMP'/s4/*/*/index.jsonl && [ \$(grep -c captured '$TK_TMP/periodic.log') -ge 2 ]"
mkdir -p "$TK_TMP/s5/t/2020-01-01"
for i in 1 2 3; do head -c 1000 /dev/urandom >"$TK_TMP/s5/t/2020-01-01/00000${i}_x_heap.pb.gz"; done
touch -d '3 days ago' "$TK_TMP/s5/t/2020-01-01/000001_x_heap.pb.gz"
touch -d '2 days ago' "$TK_TMP/s5/t/2020-01-01/000002_x_heap.pb.gz"
: >"$TK_TMP/s5/t/2020-01-01/.000004_x_heap.pb.gz.part$$" # being written: never deleted
start_watch retain "$TK_TMP/s5" -target "127.0.0.1:$port" -retain 36h -max-bytes 1500 ||
    { not_ok "watch starts"; finish; }
left=$(cd "$TK_TMP/s5/t/2020-01-01" && ls -A | tr '\n' ' ')
check "retention at start: older than -retain, then oldest over -max-bytes, deleted ($left)" \
    test "$left" = ".000004_x_heap.pb.gz.part$$ 000003_x_heap.pb.gz "
check "deletions logged" test "$(grep -c 'retention: deleted' "$WLOG")" -eq 2
m=$(curl -s -H "Authorization: Bearer $whtoken" "http://127.0.0.1:$WPORT/metrics")
check "deletions counted, bytes kept in /metrics" \
    bash -c "[[ '$m' == *'takhin_watch_retention_deletions_total 2'* && '$m' == *'takhin_watch_storage_bytes 1000'* ]]"
finish
