#!/usr/bin/env bash
# takhin-profiler watch's decisions under adverse alerts (issue 23):
#   row 5   a target that trickles one byte every 2 s is cut off after the
#           capture's deadline (profile seconds + -timeout) and never holds
#           up captures of another target (-max-inflight is per target);
#   row 6   an alert skipped for the cooldown is captured when it comes
#           again after the cooldown (only a capture marks it seen);
#   row 10  a gzip bomb answered by a target fails the capture at the
#           profile size limit, with a clear message;
#   row 11  a flood of distinct alerts writes a bounded number of log
#           lines, with the count of those suppressed.
source "$(dirname "$0")/lib.sh"
token=tk-$RANDOM$RANDOM whtoken=wh-$RANDOM$RANDOM
EXTRA_PIDS=()
trap 'for p in "${EXTRA_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; tk_cleanup' EXIT

{ profiler_yaml true 0; printf '  auth:\n    token: %s\n' "$token"; } >"$TK_TMP/good.yaml"
start_server good "$TK_TMP/good.yaml" || { not_ok "takhind starts"; finish; }
port=$(profiler_port)
# fake_target NAME MODE: a tools/faketarget.py; sets FPORT.
fake_target() {
    python3 tests/integration/tools/faketarget.py "$2" >"$TK_TMP/$1.port" 2>"$TK_TMP/$1.err" &
    EXTRA_PIDS+=("$!")
    FPORT=
    for _ in $(seq 300); do
        FPORT=$(head -1 "$TK_TMP/$1.port" 2>/dev/null)
        [ -n "$FPORT" ] && return 0
        sleep 0.1
    done
    return 1
}
fake_target slow1 slow && slow1=$FPORT && fake_target slow2 slow && slow2=$FPORT &&
    fake_target bomb bomb && bomb=$FPORT || { not_ok "the fake targets start"; finish; }

WLOG=$TK_TMP/watch.log
TAKHIN_PROFILER_TOKEN=$token "$BUILD/takhin-profiler" watch -listen 127.0.0.1:0 \
    -output-dir "$TK_TMP/store" -webhook-token "$whtoken" -type heap -timeout 10s \
    -cooldown 8s -target "127.0.0.1:$port" -target "127.0.0.1:$slow1" \
    -target "127.0.0.1:$slow2" -target "127.0.0.1:$bomb" 2>"$WLOG" &
EXTRA_PIDS+=("$!")
WPID=$!
WPORT=$(watch_port "$WLOG")
check "watch listens on 127.0.0.1:${WPORT:-none}" port_open "${WPORT:-1}"

# alert INSTANCE FINGERPRINT: one firing alert, posted; its status.
alert() {
    printf '{"version":"4","groupKey":"g","status":"firing","receiver":"r","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"","alerts":[{"status":"firing","labels":{"alertname":"T%s","instance":"%s"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}]}' \
        "$2" "$1" "$2" |
        curl -s -o /dev/null -w "%{http_code}" --max-time 10 --data-binary @- \
            -H "Authorization: Bearer $whtoken" "http://127.0.0.1:$WPORT/webhook"
}
heaps() { find "$TK_TMP/store/127.0.0.1_$port" -name '*_heap.pb.gz' 2>/dev/null | wc -l; }
heaps_ge() { [ "$(heaps)" -ge "$1" ]; }

# ---- row 5: two trickling targets, then the good one ----
alert "127.0.0.1:$slow1" s1 >/dev/null
alert "127.0.0.1:$slow2" s2 >/dev/null
eventually 10 grep -q "alert Ts2 (instance 127.0.0.1:$slow2): capturing" "$WLOG"
alert "127.0.0.1:$port" g1 >/dev/null
# row 6: g2 comes during the cooldown that g1's capture started
alert "127.0.0.1:$port" g2 >/dev/null
check "an alert during the cooldown is skipped" \
    grep -q "alert Tg2 (instance 127.0.0.1:$port): target in cooldown" "$WLOG"
eventually 30 heaps_ge 1
check "two trickling targets in flight: the good target is still captured" test "$(heaps)" -ge 1
eventually 60 grep -q "capture heap of 127.0.0.1:$slow1 (Ts1) failed" "$WLOG"
grep "failed" "$WLOG" | head -2 | sed 's/^/# /'
check "a trickling target is cut off at the capture's deadline (profile seconds + -timeout)" \
    grep -q "capture heap of 127.0.0.1:$slow1 (Ts1) failed: 127.0.0.1:$slow1 did not send the whole answer within 10s" "$WLOG"

# ---- row 6: g2 again, until the cooldown is over ----
for _ in $(seq 240); do
    grep -q "alert Tg2 (instance 127.0.0.1:$port): \(capturing\|already seen\)" "$WLOG" && break
    alert "127.0.0.1:$port" g2 >/dev/null
    sleep 0.25
done
check "the same alert after the cooldown is captured" \
    grep -q "alert Tg2 (instance 127.0.0.1:$port): capturing" "$WLOG"
eventually 30 heaps_ge 2
check "and its heap profile is stored ($(heaps) files)" test "$(heaps)" -ge 2
alert "127.0.0.1:$port" g2 >/dev/null
check "once captured, it is a duplicate" \
    grep -q "alert Tg2 (instance 127.0.0.1:$port): already seen" "$WLOG"

# ---- row 10: a gzip bomb ----
alert "127.0.0.1:$bomb" b1 >/dev/null
eventually 60 grep -q "capture heap of 127.0.0.1:$bomb (Tb1) failed" "$WLOG"
grep "127.0.0.1:$bomb (Tb1) failed" "$WLOG" | sed 's/^/# /'
check "a gzip bomb fails the capture at the profile size limit" \
    grep -q "capture heap of 127.0.0.1:$bomb (Tb1) failed: .*gzip: more than [0-9]* bytes uncompressed (the size limit" "$WLOG"
check "watch is still there" kill -0 "$WPID"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$WPID/status")
check "watch's peak memory stayed small: ${hwm:-?} kB, under 100 MB" test "${hwm:-999999}" -lt 102400

# ---- row 11: 2500 distinct alerts in one webhook, none for a target ----
python3 -c '
import json, sys
alerts = [{"status": "firing", "labels": {"alertname": "Flood", "instance": "10.9.%d.%d:6060" % (i // 250, i % 250)},
           "annotations": {}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "fl%d" % i} for i in range(2500)]
json.dump({"version": "4", "groupKey": "flood", "status": "firing", "alerts": alerts}, sys.stdout)' >"$TK_TMP/flood.json"
got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 --data-binary "@$TK_TMP/flood.json" \
    -H "Authorization: Bearer $whtoken" "http://127.0.0.1:$WPORT/webhook")
check "the flood is accepted ($got)" test "$got" = 200
# lines written + the counts reported as suppressed: every alert, once
accounted() {
    local written suppressed
    written=$(grep -c "alert Flood from .* refused: instance 10\.9\." "$WLOG")
    suppressed=$(sed -nE 's/.*alert %s from %s refused: instance %s is not a configured.*\(([0-9]+) similar lines suppressed\)$/\1/p' "$WLOG" |
        awk '{ s += $1 } END { print s + 0 }')
    echo "$written $suppressed"
    [ $((written + suppressed)) -eq 2500 ]
}
eventually 10 accounted >/dev/null
read -r written suppressed < <(accounted)
check "2500 distinct refused alerts: $written lines written, at most 100" test "$written" -le 100
check "the rest are counted as suppressed ($suppressed)" test $((written + suppressed)) -eq 2500
kill -TERM "$WPID"; wait "$WPID"; rc=$?
check "SIGTERM: exit 0 ($rc)" test "$rc" -eq 0
finish
