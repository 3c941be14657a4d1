#!/usr/bin/env bash
# /debug/pprof/profile, checked by the real client: go tool pprof, which
# has no access to the server's binary, so names come from the server.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof   # pprof writes its cache there

mkdir -p "$TK_TMP/tmp"
TK_RATE=0 write_config "$TK_TMP/takhin.yaml" "  producers: 1"
start_hidden_server cpu "$TK_TMP/takhin.yaml" TMPDIR="$TK_TMP/tmp" || { not_ok "takhind starts from a binary deleted since"; finish; }
ok "the running binary is deleted: names can only come from the server"
port=$(profiler_port)
url=http://127.0.0.1:$port/debug/pprof

# A loaded machine gives the producer fewer samples: profile again (up to
# 4 times) until the smallest of the three functions has been caught.
for _ in 1 2 3 4; do
    top=$(go tool pprof -top -cum "$url/profile?seconds=3" 2>&1)
    case $top in *" log_write"*) break ;; esac
done
echo "$top" | head -30 | sed 's/^/# /'
for fn in produce_handle storage_append log_write; do
    check "pprof on the URL names $fn" contains "$top" " $fn"
done

curl -sS -D "$TK_TMP/h" -o "$TK_TMP/cpu.pb.gz" "$url/profile?seconds=2"
check "the profile is application/octet-stream" grep -qi "^Content-Type: application/octet-stream" "$TK_TMP/h"
check "with Content-Disposition: attachment; filename=\"profile\"" \
    grep -qi '^Content-Disposition: attachment; filename="profile"' "$TK_TMP/h"
check "the achieved rate is in the response" grep -qi "^X-Takhin-Cpu-Hz: requested=100 achieved=" "$TK_TMP/h"
top=$(go tool pprof -top "$TK_TMP/cpu.pb.gz" 2>&1)
check "pprof on the downloaded file names produce_handle" contains "$top" " produce_handle"
check "the file says it is a CPU profile" contains "$top" "Type: cpu"
check "the file records the rate achieved" contains "$top" "sampling: asked for 100 Hz, achieved"

# The symbol endpoint, with the addresses pprof saw for produce_handle.
addr=$(go tool pprof -raw "$TK_TMP/cpu.pb.gz" 2>/dev/null |
       sed -nE 's/^ +[0-9]+: (0x[0-9a-f]+) M=[0-9]+ produce_handle .*/\1/p' | head -1)
check "pprof -raw shows an address of produce_handle" test -n "$addr"
answer=$(curl -sS --data-binary "$addr+0x1" "$url/symbol")
check "POST /symbol resolves it to produce_handle" contains "$answer" "$addr produce_handle"
check "GET /symbol answers num_symbols: 1" test "$(curl -sS "$url/symbol")" = "num_symbols: 1"
check "a malformed symbol body is 400" \
    test "$(curl -s -o /dev/null -w '%{http_code}' --data-binary '0xZZ+junk' "$url/symbol")" = 400

# Bad requests get Go's answers, and pprof prints them.
for bad in abc 0 -1 1.5; do
    check "seconds=$bad is 400" test "$(http_status "/debug/pprof/profile?seconds=$bad")" = 400
done
body=$(http "/debug/pprof/profile?seconds=121")
check "seconds above max_duration is refused with the limit" contains "$body" "limit of 120 s"
out=$(go tool pprof -top "$url/profile?seconds=x" 2>&1)
check "pprof prints the server's message" contains "$out" 'invalid value for "seconds"'

# Several CPU profiles at once read one sample stream, each over its own
# window, up to profiler.max_cpu_readers (4); one more is 409.
for i in 1 2 3 4; do
    curl -s -D "$TK_TMP/hr$i" -o "$TK_TMP/r$i.pb.gz" "$url/profile?seconds=$((i + 2))" &
    readers[$i]=$!
done
sleep 0.7
body=$(curl -s -D "$TK_TMP/h409" "$url/profile?seconds=1")
check "a fifth CPU profile meanwhile is 409" grep -q "^HTTP/1.1 409" "$TK_TMP/h409"
check "the 409 names the limit and says when the first ends" \
    contains "$body" "4 CPU profiles are already running (profiler.max_cpu_readers); the first ends in about"
for i in 1 2 3 4; do
    wait "${readers[$i]}"
    check "reader $i ($((i + 2)) s) gets 200" grep -q "^HTTP/1.1 200" "$TK_TMP/hr$i"
    d=$(go tool pprof -raw "$TK_TMP/r$i.pb.gz" 2>/dev/null | sed -nE 's/^Duration: ([0-9.]+).*/\1/p')
    check "reader $i's profile spans its own window ($d s)" \
        awk -v d="${d:-0}" -v w=$((i + 2)) 'BEGIN { exit !(d >= w - 0.1 && d < w + 1) }'
done

# A client that goes away (its connection reset) frees the profiler at
# once. A FIN alone does not: the client may have only half-closed.
rawhttp_build || finish
"$RAWHTTP" -reset-after 1 "$(profiler_port)" 'GET /debug/pprof/profile?seconds=20 HTTP/1.1\r\nHost: x\r\n\r\n' >/dev/null
sleep 0.3
check "after the client left, a new profile starts (not 409)" \
    test "$(http_status "/debug/pprof/profile?seconds=1")" = 200

# Disabling during a profile ends it with a clean error, no temp file left.
curl -s -D "$TK_TMP/h503" -o "$TK_TMP/body503" "$url/profile?seconds=20" &
client=$!
sleep 1
reply=$(admin profiler disable)
wait $client
check "disable during a profile answers 503" grep -q "^HTTP/1.1 503" "$TK_TMP/h503"
check "with a message that says why" grep -q "the profiler was disabled" "$TK_TMP/body503"
echo "# disable during a profile: $reply"
ms=$(echo "$reply" | sed -nE 's/disabled in ([0-9]+)\..*/\1/p')
check "disable with a 20 s profile in flight returns before the profile would end ($reply)" \
    test "${ms:-99999}" -lt 10000
check "no temp file is left behind" test -z "$(find "$TK_TMP/tmp" -type f)"
check "the temp directory is private (0700)" \
    test "$(stat -c %a "$(find "$TK_TMP/tmp" -mindepth 1 -maxdepth 1 -type d | head -1)")" = 700
stop_server; check "takhind exits 0" test $? -eq 0
check "the private temp directory is removed at unload" test -z "$(ls -A "$TK_TMP/tmp")"
finish
