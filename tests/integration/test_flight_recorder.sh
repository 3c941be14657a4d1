#!/usr/bin/env bash
# The flight recorder (profiler.flight_recorder.*, README: The flight
# recorder) on the real takhind, every switch by `config reload`:
# - off: ?past=N is a 400 naming the key, X-Takhin-Past-Available: 0;
# - on: past beyond what it holds is a 400 saying how much it holds;
# - demo.calibration on, then off: a past that covers it shows
#   calibrate_heavy with about 3/4 of the calibration thread's own CPU time
#   (its schedstat), within 15 %; a past that starts after it does not;
# - past=N&seconds=M covers both; ordinary profiles still run beside it
#   with max_cpu_readers 1; wall?past=N with flight_recorder.wall;
# - status and /metrics show span, bytes, buckets, drops (promtool);
# - seconds: 0 frees it.
# pprof reads every profile with the binary hidden.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof
BUCKET=2

# conf SECONDS CALIBRATION WALL: the config, rewritten for each reload.
conf() {
    write_config "$TK_TMP/fr.yaml" "  calibration: $2"
    sed -i "s/^  port: 0\$/  port: 0\n  max_cpu_readers: 1\n  flight_recorder:\n    seconds: $1\n    bucket_seconds: $BUCKET\n    wall: $3/" \
        "$TK_TMP/fr.yaml"
}
reload() { conf "$@" && admin config reload >/dev/null; }
# past QUERY NAME: GET /debug/pprof/profile?QUERY into NAME.pb.gz, headers
# in NAME.h; prints the status.
past() {
    http "/debug/pprof/${3:-profile}?$1" -D "$TK_TMP/$2.h" -o "$TK_TMP/$2.pb.gz" -w '%{http_code}'
}
available() { awk 'tolower($1) == "x-takhin-past-available:" { print $2 + 0 }' "$TK_TMP/$1.h" | tr -d '\r'; }
# The calibration thread's CPU time in ns (schedstat), 0 before it exists.
cal_ns() {
    local t
    for t in /proc/"$SERVER_PID"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = calibration ] && { awk '{ print $1 }' "$t/schedstat"; return; }
    done
    echo 0
}
cal_at_least() { [ "$(cal_ns)" -ge "$1" ]; }
cal_still() { local a; a=$(cal_ns); sleep 0.3; [ "$a" = "$(cal_ns)" ]; }
cum_ms() { # cum_ms FILE FUNCTION: the function's cumulative CPU in ms
    go tool pprof -top -unit=ms "$TK_TMP/$1.pb.gz" 2>/dev/null |
        awk -v f="$2" '$NF == f { sub(/ms$/, "", $4); print $4 + 0; found = 1 } END { if (!found) print 0 }'
}
within() { awk -v v="$1" -v want="$2" -v tol="$3" 'BEGIN { exit !(v >= want * (1 - tol) && v <= want * (1 + tol)) }'; }

# ---- off ----
conf 0 false false
start_hidden_server fr "$TK_TMP/fr.yaml" || { not_ok "takhind starts"; finish; }
code=$(past "past=10" off)
check "recorder off: past=10 is a 400 ($code)" test "$code" = 400
check "recorder off: the 400 names the key to set" contains "$(cat "$TK_TMP/off.pb.gz")" "profiler.flight_recorder.seconds"
check "recorder off: X-Takhin-Past-Available: 0" test "$(available off)" = 0
code=$(past "past=0" bad)
check "past=0 is a 400 naming past ($code)" contains "$code $(cat "$TK_TMP/bad.pb.gz")" '400 invalid value for "past"'

# ---- on, by reload: past beyond what it holds ----
reload 120 false false
st=$(admin profiler status)
check "status: the recorder runs after the reload" contains "$st" '"flight_recorder":{"running":true,"seconds":120'
code=$(past "past=600" far)
body=$(cat "$TK_TMP/far.pb.gz")
check "past=600 beyond the ring: 400 ($code)" test "$code" = 400
check "the 400 says how much it holds" contains "$body" "asks for more than the flight recorder holds"
check "and X-Takhin-Past-Available says it in seconds ($(available far))" \
    contains "$body" "ask for past<=$(available far)"

# ---- calibration on, then off ----
reload 120 true false
eventually 60 cal_at_least 1500000000 # 1.5 s of the thread's CPU
reload 120 false false
eventually 30 cal_still
cal=$(cal_ns) off_at=$(date +%s)
echo "# calibration thread: $((cal / 1000000)) ms of CPU"
check "the calibration thread ran ($((cal / 1000000)) ms) and stopped" test "$cal" -ge 1500000000
# a past that starts after the calibration's bucket ended: wait for one
until [ $(( $(date +%s) - off_at )) -ge $((BUCKET + 5)) ]; do sleep 0.5; done
code=$(past "past=1" probe)
held=$(available probe)
code=$(past "past=$held" all)
check "past=$held (all it holds) answers 200 ($code)" test "$code" = 200
heavy=$(cum_ms all calibrate_heavy)
want=$(awk -v c="$cal" 'BEGIN { printf "%d", c * 0.75 / 1e6 }')
check "calibrate_heavy in the past: ${heavy} ms, 3/4 of the thread's CPU is ${want} ms (within 15 %)" \
    within "$heavy" "$want" 0.15
after=$(( $(date +%s) - off_at - BUCKET - 2 ))
code=$(past "past=$after" after)
check "past=$after, starting after the calibration ended: 200 ($code)" test "$code" = 200
check "past=$after does not show calibrate_heavy" test "$(cum_ms after calibrate_heavy)" = 0
raw=$(go tool pprof -raw "$TK_TMP/all.pb.gz" 2>/dev/null)
check "the profile's comment says how many buckets it merged and that none dropped" \
    contains "$raw" "no sample missing"

# ---- past + seconds; ordinary profiles beside it ----
t0=$(date +%s.%N)
code=$(past "past=4&seconds=2" both)
t1=$(date +%s.%N)
raw=$(go tool pprof -raw "$TK_TMP/both.pb.gz" 2>/dev/null)
dur=$(awk '/^Duration:/ { print $2 + 0 }' <<<"$raw")
check "past=4&seconds=2: 200 after about 2 s ($code, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)" \
    awk -v c="$code" -v a="$t0" -v b="$t1" 'BEGIN { exit !(c == 200 && b - a >= 1.9) }'
check "its window covers both: $dur s >= 6" awk -v d="$dur" 'BEGIN { exit !(d >= 5.9) }'
code=$(http_status "/debug/pprof/profile?seconds=1")
check "an ordinary CPU profile with max_cpu_readers 1 beside the recorder: 200 ($code)" test "$code" = 200

# ---- status and /metrics ----
st=$(admin profiler status)
fr=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["flight_recorder"]))' "$st")
echo "# $fr"
span=$(json_field "$fr" span_seconds) bytes=$(json_field "$fr" bytes) buckets=$(json_field "$fr" buckets)
check "status: span ($span s), bytes ($bytes), buckets ($buckets), drops ($(json_field "$fr" dropped_samples))" \
    test "$span" -ge $((BUCKET + 5)) -a "$bytes" -gt 0 -a "$bytes" -le 33554432 -a "$buckets" -ge 2 \
    -a "$(json_field "$fr" dropped_samples)" = 0
http /metrics >"$TK_TMP/metrics"
m_bytes=$(awk '$1 == "takhin_profiler_flight_recorder_bytes{profile=\"cpu\"}" { print $2 }' "$TK_TMP/metrics")
m_span=$(awk '$1 == "takhin_profiler_flight_recorder_span_seconds{profile=\"cpu\"}" { print $2 }' "$TK_TMP/metrics")
check "/metrics: flight recorder bytes ($m_bytes) and span ($m_span s) as status has them" \
    awk -v b="$m_bytes" -v s="$m_span" -v sb="$bytes" -v ss="$span" \
    'BEGIN { exit !(b > 0 && b <= 33554432 && s >= ss && s <= ss + 5 && b >= sb / 2) }'
check "/metrics: the drops counter" grep -q '^takhin_profiler_flight_recorder_dropped_samples_total{profile="cpu"} 0$' "$TK_TMP/metrics"
if command -v promtool >/dev/null; then
    lint=$(promtool check metrics <"$TK_TMP/metrics" 2>&1)
    check "promtool check metrics accepts /metrics with the recorder on" test -z "$lint"
else
    skip "promtool not installed (scripts/deps.sh installs it)"
fi

# ---- wall ----
code=$(past "past=1" wall0 wall)
check "wall?past=1 without flight_recorder.wall: 400 naming it ($code)" \
    contains "$code $(cat "$TK_TMP/wall0.pb.gz")" "400 past=1: the flight recorder does not record wall profiles (set profiler.flight_recorder.wall: true)"
reload 120 false true
wall_ok() { [ "$(past "past=1" wall1 wall)" = 200 ]; }
check "with flight_recorder.wall: wall?past=1 answers 200" eventually 30 wall_ok
top=$(go tool pprof -top "$TK_TMP/wall1.pb.gz" 2>&1)
check "pprof reads the wall past, binary hidden" contains "$top" "Type: wall"

# ---- off again: freed ----
reload 0 false false
code=$(past "past=1" gone)
check "seconds: 0 by reload: past=1 is a 400 again, X-Takhin-Past-Available: $(available gone)" \
    test "$code" = 400 -a "$(available gone)" = 0
st=$(admin profiler status)
check "status: not running, 0 bytes held" contains "$st" '"running":false,"seconds":0'
check "status: 0 bytes held" contains "$st" '"bytes":0,"buckets":0'
stop_server
rc=$?
check "takhind stops cleanly (exit $rc)" test $rc -eq 0
finish
