#!/usr/bin/env bash
# TLS on the profiler port (issue 15): the front terminates it with
# OpenSSL 3. Real clients (curl, go tool pprof, takhin-profiler) over https
# and mTLS with certificates made here; plain HTTP to the TLS port; bad
# files refused at start naming the file; a stalled handshake cut by
# header_timeout_ms without delaying anyone.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof
TP=$BUILD/takhin-profiler
token=tls-$RANDOM$RANDOM

# ---- certificates: a CA, a server for 127.0.0.1/localhost, a client of
# that CA, a client of another CA ----
pki=$TK_TMP/pki
if make_pki "$pki"; then
    ok "test certificates made (CA, server, client, another CA's client)"
else
    not_ok "test certificates made: $(cat "$pki/log")"
    finish
fi

# tls_yaml FILE [CLIENT_CA]: a config serving TLS with the server's pair.
tls_yaml() {
    write_config "$1"
    sed -i "s|  port: 0|  port: 0\n  header_timeout_ms: ${HEADER_MS:-2000}\n  tls:\n    cert: $pki/server.pem\n    key: $pki/server.key${2:+\n    client_ca: $2}|" "$1"
}
# https PATH [curl args...]: GET over TLS, trusting the test CA.
https() {
    curl -sS --max-time 30 --cacert "$pki/ca.pem" "${@:2}" "https://127.0.0.1:$port$1"
}
code() { https "$1" -o /dev/null -w '%{http_code}' "${@:2}" 2>/dev/null; }
metric() {
    https /metrics -H "Authorization: Bearer $token" | awk -v m="$1" '$1 == m { print $2 }'
}

# ---- https with a token ----
HEADER_MS=1500 tls_yaml "$TK_TMP/tls.yaml"
if ! start_server tls "$TK_TMP/tls.yaml" TAKHIN_PROFILER_AUTH_TOKEN="$token"; then
    not_ok "takhind starts with profiler.tls.cert and tls.key"
    finish
fi
port=$(profiler_port)
status=$(admin profiler status)
check "status shows tls on, no client_ca" contains "$status" '"tls":{"enabled":true,"client_ca":false}'
check "the log says https" grep -q "serving /debug/pprof/ on https://127.0.0.1:$port" "$SERVER_LOG"
check "https without the token: 401" test "$(code /debug/pprof/)" = 401
index=$(https /debug/pprof/ -H "Authorization: Bearer $token")
check "https with the token: the index" contains "$index" "/debug/pprof/"
check "https://localhost (a name of the certificate): 200" test "$(curl -s --cacert "$pki/ca.pem" \
    -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    "https://localhost:$port/debug/pprof/")" = 200
https /debug/pprof/heap -H "Authorization: Bearer $token" -o "$TK_TMP/heap.pb.gz"
check "a heap profile over https (gzip)" \
    test "$(head -c 2 "$TK_TMP/heap.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b
check "TLS 1.1 is refused" bash -c '! curl -s --max-time 5 --cacert "$1" --tlsv1.1 --tls-max 1.1 \
    -o /dev/null "https://127.0.0.1:$2/debug/pprof/"' _ "$pki/ca.pem" "$port"
check "TLS 1.2 is served" test "$(code /debug/pprof/ --tlsv1.2 --tls-max 1.2 \
    -H "Authorization: Bearer $token")" = 200
msg=$(curl -sS --max-time 5 "https://127.0.0.1:$port/debug/pprof/" 2>&1)
check "without the CA, curl refuses the certificate ($msg)" contains "$msg" "certificate"

# go tool pprof (Go 1.19) fetches http(s) URLs with a client of its own
# that ignores -tls_ca, -tls_cert and -tls_key (cmd/pprof/pprof.go): it
# trusts the CA through SSL_CERT_FILE. Upstream pprof, built from Debian's
# golang-github-google-pprof-dev, honours the flags.
top=$(SSL_CERT_FILE="$pki/ca.pem" go tool pprof -top \
      "https://pprof:$token@127.0.0.1:$port/debug/pprof/heap" 2>&1)
check "go tool pprof over https (SSL_CERT_FILE, token as Basic) gets the heap profile" \
    contains "$top" "Type: inuse_space"
PPROF=$TK_TMP/upstream-pprof
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$TK_TMP/gocache \
    go build -o "$PPROF" github.com/google/pprof 2>"$TK_TMP/pprof-build.log"
check "upstream pprof builds ($(head -c 300 "$TK_TMP/pprof-build.log"))" test -x "$PPROF"
top=$("$PPROF" -tls_ca="$pki/ca.pem" -top \
      "https://pprof:$token@127.0.0.1:$port/debug/pprof/heap" 2>&1)
check "pprof -tls_ca over https gets the heap profile" contains "$top" "Type: inuse_space"

# takhin-profiler, on libcurl.
"$TP" -remote "https://127.0.0.1:$port" -ca "$pki/ca.pem" -token "$token" -type heap \
    -output "$TK_TMP/cli-heap.pb.gz" >/dev/null 2>"$TK_TMP/cli.err"
check "takhin-profiler -remote https:// -ca -token: exit 0 ($(head -c 300 "$TK_TMP/cli.err"))" \
    test $? -eq 0
check "and the file is a profile" test -s "$TK_TMP/cli-heap.pb.gz"
"$TP" -remote "https://127.0.0.1:$port" -type heap -token "$token" -output "$TK_TMP/x" \
    >/dev/null 2>&1
check "takhin-profiler without -ca: refused, exit 3" test $? -eq 3

# ---- plain HTTP to the TLS port ----
failed0=$(metric takhin_profiler_tls_handshake_failures_total)
plain=$(curl -s --max-time 5 "http://127.0.0.1:$port/debug/pprof/" -w ' %{http_code}' 2>&1)
check "plain HTTP gets a plain 400 saying to use https, then the close ($plain)" \
    contains "$plain" "this port serves https"
resp=$( (exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'GARBAGE\x00\xff\r\n\r\n' >&3
         timeout 5 cat <&3 >/dev/null; echo "rc=$?") 2>/dev/null)
check "bytes that are no TLS: closed (a reset or an alert), no hang ($resp)" \
    bash -c '[ -n "$1" ] && [ "$1" != rc=124 ]' _ "$resp"
check "the server still serves over https" \
    test "$(code /debug/pprof/ -H "Authorization: Bearer $token")" = 200
failed1=$(metric takhin_profiler_tls_handshake_failures_total)
check "handshake failures are counted in /metrics ($failed0 -> $failed1)" \
    test "${failed1:-0}" -ge $((${failed0:-0} + 2))
# A probe that connects and closes without a byte is not a failed handshake.
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
sleep 0.2
check "a connect-and-close probe is not counted" \
    test "$(metric takhin_profiler_tls_handshake_failures_total)" = "$failed1"

# ---- a stalled handshake: cut at header_timeout_ms, delays nobody ----
exec 5<>"/dev/tcp/127.0.0.1/$port"                 # says nothing
exec 6<>"/dev/tcp/127.0.0.1/$port"
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' >&6 # half a ClientHello
stalled=()
for i in $(seq 20); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" && stalled+=("$fd")
    printf '\x16\x03\x01' >&"$fd"
done
out=$(https /debug/pprof/ -H "Authorization: Bearer $token" -o /dev/null -w '%{http_code} %{time_total}')
# Served while they are still held: the silent one is still open after it
# (were the operator queued behind them, it would have been cut first).
held=$(timeout 0.2 cat <&5 >/dev/null; echo $?)
check "an operator's request is served while 22 stalled handshakes are held (${out}s)" \
    test "${out%% *}" = 200 -a "$held" = 124
sleep 1.8 # header_timeout_ms 1500
check "the silent connection was closed at the deadline" \
    bash -c 'timeout 2 cat <&5 >/dev/null; [ $? -ne 124 ]'
check "the half ClientHello was closed at the deadline" \
    bash -c 'timeout 2 cat <&6 >/dev/null; [ $? -ne 124 ]'
exec 5>&- 6>&-
for fd in "${stalled[@]}"; do exec {fd}>&-; done
slow=$(https /metrics -H "Authorization: Bearer $token" |
       awk '$1 == "takhin_profiler_slow_clients_total{reason=\"header_timeout\"}" { print $2 }')
check "they count as header timeouts ($slow)" test "${slow:-0}" -ge 22
check "still serving after all that" \
    test "$(code /debug/pprof/ -H "Authorization: Bearer $token")" = 200
stop_server
check "takhind stops cleanly (exit 0)" test $? -eq 0

# ---- mTLS on a public address: the client certificate is the auth ----
tls_yaml "$TK_TMP/mtls.yaml" "$pki/ca.pem"
sed -i 's|  port: 0|  port: 0\n  host: 0.0.0.0|' "$TK_TMP/mtls.yaml"
if start_server mtls "$TK_TMP/mtls.yaml"; then
    port=$(profiler_port)
    ok "a public host with mTLS and no token starts (mTLS is the auth)"
    check "status shows client_ca" contains "$(admin profiler status)" \
        '"tls":{"enabled":true,"client_ca":true}'
    mine=(--cert "$pki/client.pem" --key "$pki/client.key")
    check "a client certificate of the CA: 200" test "$(code /debug/pprof/ "${mine[@]}")" = 200
    https /debug/pprof/heap "${mine[@]}" -o "$TK_TMP/mheap.pb.gz"
    check "and a heap profile" test "$(head -c 2 "$TK_TMP/mheap.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b
    check "a client certificate of another CA: refused" \
        test "$(code /debug/pprof/ --cert "$pki/stranger.pem" --key "$pki/stranger.key")" = 000
    check "no client certificate: refused" test "$(code /debug/pprof/)" = 000
    top=$("$PPROF" -tls_ca="$pki/ca.pem" -tls_cert="$pki/client.pem" \
          -tls_key="$pki/client.key" -top "https://127.0.0.1:$port/debug/pprof/heap" 2>&1)
    check "pprof -tls_ca -tls_cert -tls_key over mTLS" contains "$top" "Type: inuse_space"
    top=$("$PPROF" -tls_ca="$pki/ca.pem" -top "https://127.0.0.1:$port/debug/pprof/heap" 2>&1)
    check "pprof without a client certificate: refused" \
        bash -c '! grep -q "Type: inuse_space" <<<"$1"' _ "$top"
    "$TP" -remote "https://127.0.0.1:$port" -ca "$pki/ca.pem" -cert "$pki/client.pem" \
        -key "$pki/client.key" -type heap -output "$TK_TMP/mcli.pb.gz" >/dev/null 2>"$TK_TMP/m.err"
    check "takhin-profiler -cert -key over mTLS: exit 0 ($(head -c 300 "$TK_TMP/m.err"))" \
        test $? -eq 0
    msg=$("$TP" -remote "https://127.0.0.1:$port" -ca "$pki/ca.pem" -cert "$pki/stranger.pem" \
          -key "$pki/stranger.key" -type heap -output "$TK_TMP/x" 2>&1)
    check "takhin-profiler with another CA's certificate: exit 3 ($msg)" test $? -eq 3
    msg=$("$TP" -remote "https://127.0.0.1:$port" -ca "$pki/ca.pem" -type heap \
          -output "$TK_TMP/x" 2>&1)
    check "takhin-profiler without a certificate: exit 3 ($msg)" test $? -eq 3
    n=$(curl -s --cacert "$pki/ca.pem" "${mine[@]}" "https://127.0.0.1:$port/metrics" |
        awk '$1 == "takhin_profiler_tls_handshake_failures_total" { print $2 }')
    check "refused client certificates are counted ($n)" test "${n:-0}" -ge 4
    stop_server
else
    not_ok "a public host with mTLS and no token starts"
fi

# ---- bad files: refused at start, naming the file ----
# start_fails NAME EXPECTED VAR=VALUE...: takhind exits 1 saying EXPECTED.
start_fails() {
    local name=$1 want=$2 out rc
    shift 2
    out=$(env TAKHIN_ADMIN_SOCKET="$TK_TMP/f.sock" "$@" timeout 20 "$BUILD/takhind" \
          -c "$TK_TMP/tls.yaml" 2>&1)
    rc=$?
    if [ $rc -eq 1 ] && contains "$out" "$want"; then ok "$name: refused at start"
    else not_ok "$name: exit $rc: $out"; fi
}
echo "not a certificate" >"$pki/garbage.pem"
start_fails "a key file that does not exist" "profiler.tls.key = \"$pki/nokey.pem\": cannot read it" \
    TAKHIN_PROFILER_TLS_KEY="$pki/nokey.pem"
if [ "$(id -u)" -ne 0 ]; then # root reads a mode-000 file anyway
    cp "$pki/server.key" "$pki/locked.key" && chmod 000 "$pki/locked.key"
    start_fails "an unreadable key" "profiler.tls.key = \"$pki/locked.key\": cannot read it" \
        TAKHIN_PROFILER_TLS_KEY="$pki/locked.key"
fi
start_fails "a mismatched pair" "profiler.tls.key = \"$pki/client.key\" does not match" \
    TAKHIN_PROFILER_TLS_KEY="$pki/client.key"
start_fails "a garbage certificate" "profiler.tls.cert = \"$pki/garbage.pem\": no usable PEM certificate" \
    TAKHIN_PROFILER_TLS_CERT="$pki/garbage.pem"
start_fails "a garbage key" "profiler.tls.key = \"$pki/garbage.pem\": no usable PEM private key" \
    TAKHIN_PROFILER_TLS_KEY="$pki/garbage.pem"
start_fails "a garbage client CA" "profiler.tls.client_ca = \"$pki/garbage.pem\": no usable PEM CA" \
    TAKHIN_PROFILER_TLS_CLIENT_CA="$pki/garbage.pem"
start_fails "a public host with TLS but neither token nor client CA" "is not a loopback address" \
    TAKHIN_PROFILER_HOST=0.0.0.0

cp "$pki/server.key" "$pki/open.key" && chmod 644 "$pki/open.key"
if start_server openkey "$TK_TMP/tls.yaml" TAKHIN_PROFILER_TLS_KEY="$pki/open.key"; then
    check "a world-readable key is a warning naming it" \
        grep -q "WARN.*profiler.tls.key = \"$pki/open.key\" is readable by others" "$SERVER_LOG"
    port=$(profiler_port)
    check "and it serves" test "$(code /debug/pprof/)" = 200
    stop_server
else
    not_ok "a world-readable key starts (with a warning)"
fi

# ---- reload: tls.* restart the listener; bad files keep the old one ----
write_config "$TK_TMP/reload.yaml"
if start_server reload "$TK_TMP/reload.yaml"; then
    cp "$TK_TMP/reload.yaml" "$TK_TMP/plain.yaml"
    tls_yaml "$TK_TMP/reload.yaml"
    out=$(admin config reload 2>&1)
    check "reload to TLS restarts the listener ($out)" \
        contains "$out" "restarted the listener for tls.cert, tls.key"
    port=$(profiler_port)
    check "and https serves" test "$(code /debug/pprof/)" = 200
    sed -i "s|key: $pki/server.key|key: $pki/client.key|" "$TK_TMP/reload.yaml"
    out=$(admin config reload 2>&1)
    check "reload to a mismatched key is refused, naming it ($out)" \
        contains "$out" "profiler.tls.key = \"$pki/client.key\" does not match"
    check "the old TLS listener still serves" test "$(code /debug/pprof/)" = 200
    cp "$TK_TMP/plain.yaml" "$TK_TMP/reload.yaml"
    out=$(admin config reload 2>&1)
    port=$(profiler_port)
    check "reload back to plain HTTP ($out)" test "$(http_status /debug/pprof/)" = 200
    stop_server
else
    not_ok "takhind starts for the reload checks"
fi

finish
