#!/usr/bin/env bash
# /debug/pprof/mutex and /debug/pprof/block on real contention (two
# producers and a consumer as fast as they go, on the partition locks and
# the consumer's condition variable), read by go tool pprof, which has no
# access to the server's binary: names come from the server.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof   # pprof writes its cache there

# pprof gets no binary: start_hidden_server deletes it once started.
config=$TK_TMP/takhin.yaml
TK_RATE=0 write_config "$config" "log:
  level: debug"
start_hidden_server cont "$config" || { not_ok "takhind starts from a binary deleted since"; finish; }
ok "the running binary is deleted: names can only come from the server"
url=http://127.0.0.1:$(profiler_port)/debug/pprof
lacks() { ! grep -qE "$2" <<<"$1"; }

# ---- off by default: empty profiles that say how to turn them on ----
check "status shows both off" contains "$(admin profiler status)" '"mutex_fraction":0,"block_rate":0'
check "no event hooks while sampling is off" lacks "$(cat "$SERVER_LOG")" "event hooks installed"
body=$(http "/debug/pprof/mutex?debug=1")
check "mutex?debug=1 with sampling off says how to turn it on" \
    contains "$body" "# sampling is off: set profiler.mutex_fraction or run \`takhin-admin profiler set mutex_fraction 5\`"
check "block?debug=1 with sampling off says so too" \
    contains "$(http "/debug/pprof/block?debug=1")" "# sampling is off: set profiler.block_rate"
check "the mutex profile answers 200 while off" test "$(http_status /debug/pprof/mutex)" = 200

# ---- profiler set ----
out=$(admin profiler set mutex_fraction -1 2>&1); rc=$?
check "set mutex_fraction -1 fails (exit $rc)" test $rc -eq 1
check "the error names the key and the expected form" \
    contains "$out" 'profiler.mutex_fraction = "-1": expected an integer from 0 to 1000000000'
out=$(admin profiler set block_rate 1.5 2>&1)
check "set block_rate 1.5 is refused" contains "$out" 'profiler.block_rate = "1.5": expected an integer from 0 to 1000000000000'
out=$(admin profiler set cpu_hz 5 2>&1); rc=$?
check "set of another key fails, naming the settable ones (exit $rc)" \
    contains "$out" 'unknown key "cpu_hz": expected mutex_fraction or block_rate'
check "set without a value prints the usage" \
    contains "$(admin profiler set mutex_fraction 2>&1)" "usage: profiler set mutex_fraction|block_rate VALUE"
out=$(admin profiler set mutex_fraction 1)
check "set mutex_fraction 1 answers with old and new value" contains "$out" "profiler.mutex_fraction = 1 (was 0)"
out=$(admin profiler set block_rate 1)
check "set block_rate 1 answers" contains "$out" "profiler.block_rate = 1 (was 0)"
check "status shows the values in force" contains "$(admin profiler status)" '"mutex_fraction":1,"block_rate":1'
check "the hooks are installed" grep -q "event hooks installed" "$SERVER_LOG"
sleep 2

# ---- the profiles, through pprof ----
if command -v go >/dev/null; then
    top=$(go tool pprof -top "$url/mutex" 2>&1)
    echo "$top" | head -16 | sed 's/^/# /'
    check "pprof on /mutex names storage_append (the partition lock's holder)" contains "$top" " storage_append"
    check "pprof says the type is delay" contains "$top" "Type: delay"
    top=$(go tool pprof -top "$url/block" 2>&1)
    echo "$top" | head -16 | sed 's/^/# /'
    check "pprof on /block names consume_records (the consumer's wait)" contains "$top" " consume_records"
    check "the hooks' and sync.c's frames are cut off" \
        lacks "$top" '\brecord\b|hook_|prof_contention|tkh_mutex_lock_slow|tkh_cond_wait|report_wait'
    top=$(go tool pprof -top "$url/mutex?seconds=1" 2>&1)
    check "mutex?seconds=1 is a 1 s delta" contains "$top" "Duration: 1s"
else
    skip "go missing: pprof checks"
fi
curl -sS -D "$TK_TMP/h" -o /dev/null "$url/block?seconds=1"
check "the delta is named block-delta" grep -qi 'filename="block-delta"' "$TK_TMP/h"

# ---- debug=1: Go's legacy text ----
text=$(http "/debug/pprof/mutex?debug=1")
check "mutex?debug=1 has Go's header" \
    test "$(head -3 <<<"$text")" = $'--- mutex:\ncycles/second=1000000000\nsampling period=1'
check "with DELAY COUNT @ addresses" grep -qE '^[0-9]+ [0-9]+ @( 0x[0-9a-f]+)+$' <<<"$text"
check "and symbolized frames #<tab>0x..<tab>storage_append+0xOFF<tab>file:line (Go's form)" \
    grep -qP '^#\t0x[0-9a-f]+\tstorage_append\+0x[0-9a-f]+\t\S*server/workload\.c:[0-9]+$' <<<"$text"
text=$(http "/debug/pprof/block?debug=1")
check "block?debug=1 has Go's header" \
    test "$(head -2 <<<"$text")" = $'--- contention:\ncycles/second=1000000000'
check "and consume_records" grep -qP '^#\t0x[0-9a-f]+\tconsume_records' <<<"$text"
check "the index counts mutex stacks" grep -qE '<td class="n">[1-9][0-9]*</td><td><a href="mutex\?debug=1">' \
    <<<"$(http /debug/pprof/)"

# ---- config reload sets them from the config again ----
sed -i 's/^  port: 0$/  port: 0\n  mutex_fraction: 2/' "$config"
check "config reload succeeds" contains "$(admin config reload)" "config reloaded"
check "after reload: the config's mutex_fraction, block_rate back to 0" \
    contains "$(admin profiler status)" '"mutex_fraction":2,"block_rate":0'
check "the mutex header shows the new period" contains "$(http "/debug/pprof/mutex?debug=1")" "sampling period=2"
sed -i '/^  mutex_fraction: 2$/d' "$config"
admin config reload >/dev/null
check "both 0 after the next reload" contains "$(admin profiler status)" '"mutex_fraction":0,"block_rate":0'
check "and the hooks are removed" grep -q "event hooks removed (mutex_fraction 0, block_rate 0" "$SERVER_LOG"

# Unloading with the hooks installed is clean.
admin profiler set block_rate 1000 >/dev/null
stop_server; check "takhind exits 0 when stopped with sampling on" test $? -eq 0
check "no error in the log" lacks "$(cat "$SERVER_LOG")" "ERROR|AddressSanitizer|runtime error"
finish
