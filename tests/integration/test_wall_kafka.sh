#!/usr/bin/env bash
# The wall profile (issue 28) of takhind's Kafka listener driven by
# takhin-kload. takhind has no thread per connection: one epoll thread
# (kafka-loop) reads every connection and kafka.io_threads request threads
# (kafka-io-N) run the handlers, each setting the request's context
# (kafka_api, topic, client_id) while it works on it. So the issue's "per
# producer connection thread" becomes per Kafka thread: each accounts in
# the wall profile for the time it existed in the window (all of it: they
# live as long as the listener), within 10 %; and -tagfocus
# kafka_api=Produce selects time of the request threads only. The binary
# is hidden: pprof reads everything from the profile.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof
if ! command -v go >/dev/null || [ ! -x "$BUILD/takhin-kload" ]; then
    skip "go or $BUILD/takhin-kload missing (scripts/deps.sh installs golang-go and librdkafka-dev)"
    finish
fi
{
    profiler_yaml true 0
    # 100 Hz: a request thread spends a few % of its time in Produce
    # handlers; 500 of its ticks in 5 s catch them for sure.
    cat <<YAML
  wall_hz: 100
demo:
  enabled: false
kafka:
  listen: 127.0.0.1:0
  io_threads: 2
YAML
} >"$TK_TMP/takhin.yaml"
start_hidden_server wallk "$TK_TMP/takhin.yaml" || { not_ok "takhind starts (hidden binary)"; finish; }
broker=$(admin kafka status | sed -nE 's/.*"listen":"([^"]*)".*/\1/p')
"$BUILD/takhin-kload" -b "$broker" -producers 2 -consumers 0 -rate 5000 -duration 60 \
    -topics orders:3,audit:1 >"$TK_TMP/kload.out" 2>&1 &
kload=$!
TK_PIDS+=("$kload")
producing() { admin kafka status | grep -qE '"produce":[1-9]'; }
check "takhin-kload's producers reach takhind" eventually 60 producing

# The Kafka threads' TIDs, before and after the window: the same ones.
kthreads() {
    grep -H -E '^kafka-(loop|io-[0-9]+)$' /proc/"$SERVER_PID"/task/*/comm 2>/dev/null |
        sed -E 's|.*/task/([0-9]+)/comm:(.*)|\2 \1|' | sort
}
before=$(kthreads)
http "/debug/pprof/wall?seconds=5" -o "$TK_TMP/wall.pb.gz"
after=$(kthreads)
kill -TERM "$kload" 2>/dev/null
wait "$kload" 2>/dev/null
echo "$before" | sed 's/^/# /'
check "kafka-loop and 2 kafka-io threads, the same before and after the window" \
    test "$(wc -l <<<"$before")" = 3 -a "$before" = "$after"

# per_label KEY FILE [pprof options]: "VALUE WALL_MS" for each value of
# label KEY in the profile (from -raw: a sample's values line, then its
# labels line; %.0f, as mawk's %d stops at 2^31).
per_label() {
    go tool pprof -raw "${@:3}" "$2" 2>/dev/null | awk -v k="$1" '
        /^Samples:/ { s = 1; next }
        /^Locations/ { s = 0 }
        s && /^ +[0-9]+ +[0-9]+:/ { ns = $2; sub(/:$/, "", ns); next }
        s && index($0, " " k ":[") { v = $0; sub(".* " k ":\\[", "", v); sub(/\].*/, "", v); w[v] += ns; ns = 0 }
        END { for (v in w) printf "%s %.0f\n", v, w[v] / 1e6 }' | sort
}
raw=$(go tool pprof -raw "$TK_TMP/wall.pb.gz" 2>/dev/null)
window=$(sed -nE 's/^Duration: ([0-9.]+)$/\1/p' <<<"$raw" | awk '{ printf "%.0f", $1 * 1e3 }')
check "the profile has its window's duration (${window:-?} ms)" test "${window:-0}" -ge 5000
all=$(per_label thread "$TK_TMP/wall.pb.gz")
focus=$(per_label thread "$TK_TMP/wall.pb.gz" -tagfocus=kafka_api=Produce)
clients=$(per_label client_id "$TK_TMP/wall.pb.gz" -tagfocus=kafka_api=Produce)
echo "$all" | grep kafka | sed 's/^/# all samples: /'
printf '%s\n' "$focus" "$clients" | sed 's/^/# kafka_api=Produce: /'
io_total=0
for t in $(awk '{ print $1 }' <<<"$before"); do
    ms=$(awk -v t="$t" '$1 == t { print $2 }' <<<"$all")
    check "$t accounts for the window it existed in: ${ms:-0} of $window ms, within 10 %" \
        awk -v a="${ms:-0}" -v w="$window" 'BEGIN { exit !(a >= 0.9 * w && a <= 1.1 * w) }'
    case $t in kafka-io-*) io_total=$((io_total + ${ms:-0})) ;; esac
done
produce=$(awk '{ s += $2 } END { printf "%.0f", s }' <<<"$focus")
check "-tagfocus kafka_api=Produce selects wall time (${produce:-0} ms)" test "${produce:-0}" -gt 0
check "only of the request threads, which run the Produce handlers" \
    test -z "$(awk '$1 !~ /^kafka-io-[0-9]+$/' <<<"$focus")"
check "and no more than their whole time ($produce <= $io_total ms)" test "$produce" -le "$io_total"
check "split by producer: both of takhin-kload's client ids have Produce time" \
    test "$(grep -cE '^kload-producer-[0-9]+ [1-9]' <<<"$clients")" = 2
check "takhind stops cleanly" stop_server
finish
