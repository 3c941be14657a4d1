#!/usr/bin/env bash
# takhind's Kafka listener, checked by real clients: kcat (librdkafka) lists,
# produces and consumes; takhin-kload loads it; raw frames bring bad input
# (tests/integration/tools/kafka_raw.py); go tool pprof reads a CPU profile
# taken under load, with the binary hidden.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof
if ! command -v kcat >/dev/null || [ ! -x "$BUILD/takhin-kload" ]; then
    skip "kcat or $BUILD/takhin-kload missing (scripts/deps.sh installs kcat and librdkafka-dev)"
    finish
fi
raw=tests/integration/tools/kafka_raw.py
{
    profiler_yaml true 0
    # 1000 Hz: the request path's smaller functions are caught in 3 s even
    # when a loaded machine gives takhind little CPU.
    cat <<YAML
  cpu_hz: 1000
demo:
  rate: 200         # the in-process workload, lightly: its log is a klog too
kafka:
  listen: 127.0.0.1:0
  max_request_bytes: 4194304
  default_partitions: 2
YAML
} >"$TK_TMP/takhin.yaml"
start_hidden_server kafka "$TK_TMP/takhin.yaml" || { not_ok "takhind starts (hidden binary)"; finish; }
status() { admin kafka status; }
broker=$(status | sed -nE 's/.*"listen":"([^"]*)".*/\1/p')
port=${broker##*:}
check "kafka status names the listening address" test -n "$port"
kc() { timeout 60 kcat -b "$broker" -X client.id=test_kafka "$@"; }

# -- metadata, produce, consume byte for byte, in order --
out=$(kc -L 2>&1)
check "kcat -L lists the broker" contains "$out" "broker 0 at $broker"
python3 - "$TK_TMP/msgs" <<'PY'
import random, sys
random.seed(26)
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        n = 102400 if i % 1000 == 7 else 0 if i % 97 == 0 else random.randint(1, 2000)
        f.write("key%d:%s\n" % (i, "".join(random.choices("abcdefghij0123456789", k=n))))
PY
check "kcat -P sends 10,000 keyed records (0 to 100 KiB, a header)" \
    kc -P -t orders -p 0 -K: -H origin=test_kafka -l "$TK_TMP/msgs"
kc -C -t orders -p 0 -o beginning -e -f '%k:%s\n' >"$TK_TMP/back" 2>"$TK_TMP/back.err"
check "kcat -C reads the 10,000 back identically, in order" cmp -s "$TK_TMP/msgs" "$TK_TMP/back"
hdrs=$(kc -C -t orders -p 0 -o beginning -e -f '%h\n' 2>/dev/null | sort -u)
check "every record carries its header" test "$hdrs" = "origin=test_kafka"
out=$(kc -L -t orders 2>&1)
check "kcat -L lists the auto-created topic with kafka.default_partitions" \
    contains "$out" 'topic "orders" with 2 partitions'
seq 1 50 | sed 's/^/z/' | kc -P -t gz -p 1 -z gzip
check "gzip batches are stored and read back" \
    test "$(kc -C -t gz -p 1 -o beginning -e 2>/dev/null | tr '\n' ' ')" = "$(seq 1 50 | sed 's/^/z/' | tr '\n' ' ')"

# -- load: 2 producers x 5000 records/s, every record acknowledged and read back;
# a CPU profile of 3 s taken meanwhile (checked below) --
go tool pprof -top -cum "http://127.0.0.1:$(profiler_port)/debug/pprof/profile?seconds=3" \
    >"$TK_TMP/top" 2>&1 &
pprof_pid=$!
TK_PIDS+=("$pprof_pid")
out=$("$BUILD/takhin-kload" -b "$broker" -producers 2 -consumers 1 -rate 5000 -duration 3 \
    -topics load:3,audit:1 2>&1)
check "takhin-kload: every record acknowledged and read back ($out)" test $? -eq 0
acked=$(sed -nE 's/.*acked=([0-9]+).*/\1/p' <<<"$out")
check "takhin-kload sent records" test "${acked:-0}" -gt 0
wait "$pprof_pid" # the profile's request ends before threads are counted below

# -- 1,000 idle connections cost no thread --
threads_before=$(awk '/^Threads:/ {print $2}' "/proc/$SERVER_PID/status")
mkfifo "$TK_TMP/hold"
python3 "$raw" idle "$port" 1000 <"$TK_TMP/hold" >"$TK_TMP/idle.out" 2>&1 &
idle_pid=$!
TK_PIDS+=("$idle_pid")
exec 7>"$TK_TMP/hold"
for _ in $(seq 300); do grep -q ready "$TK_TMP/idle.out" && break; sleep 0.1; done
for _ in $(seq 300); do
    [ "$(status | sed -nE 's/.*"connections":([0-9]+).*/\1/p')" -ge 1000 ] && break
    sleep 0.1
done
conns=$(status | sed -nE 's/.*"connections":([0-9]+).*/\1/p')
check "1,000 idle connections are open ($conns)" test "${conns:-0}" -ge 1000
threads_after=$(awk '/^Threads:/ {print $2}' "/proc/$SERVER_PID/status")
check "the thread count did not grow ($threads_before -> $threads_after)" \
    test "$threads_after" -le "$threads_before"
echo idle | kc -P -t idle -p 0
check "a producer is still served beside them" \
    test "$(kc -C -t idle -p 0 -o beginning -e 2>/dev/null)" = idle
exec 7>&-
wait "$idle_pid"

# -- bad input: an error code or a closed connection, and the broker serves on --
expect() { # CASE EXPECTED COUNTER
    local got
    got=$(timeout 60 python3 "$raw" bad "$port" "$1" 2>&1)
    check "$1: $2 (got: $got)" test "$got" = "$2"
    check "after $1 the broker still answers kcat -L" contains "$(kc -L 2>&1)" "broker 0 at"
    [ -z "$3" ] || check "$1 is counted as $3" \
        grep -qE "\"$3\":[1-9]" <<<"$(status)"
}
expect oversized closed oversized
expect negative closed negative_length
expect truncated closed truncated
expect short_fields closed truncated
expect unknown_api closed unknown_api
expect bad_version closed unsupported_version
expect api_versions_too_new "error=35 alive" ""
expect bad_crc "error=2 alive" bad_crc
expect good_produce "error=0 alive" ""
check "each bad frame was logged with its peer" \
    test "$(grep -cE 'WARN  \[kafka\] client 127\.0\.0\.1:[0-9]+: ' "$SERVER_LOG")" -ge 7
check "the orders records are all still there" \
    test "$(kc -C -t orders -p 0 -o beginning -e -f '%k:%s\n' 2>/dev/null | cmp - "$TK_TMP/msgs" && echo same)" = same

# -- the CPU profile taken under load shows the request path --
top=$(cat "$TK_TMP/top")
echo "$top" | head -25 | sed 's/^/# /'
for fn in kafka_handle handle_produce batch_validate crc32c handle_fetch; do
    check "pprof (binary hidden) names $fn" contains "$top" " $fn"
done
# -- the in-process workload stores in a log of the same implementation --
consumed() { admin workload status | sed -nE 's/.*"consumed":([0-9]+).*/\1/p'; }
for _ in $(seq 300); do [ "$(consumed)" -ge 500 ] && break; sleep 0.1; done
check "the workload's consumer reads its records back ($(admin workload status))" \
    test "$(consumed)" -ge 500
check "none of them corrupt" contains "$(admin workload status)" '"corrupt":0'
check "takhind stops cleanly" stop_server
finish
