#!/usr/bin/env bash
# takhin-profiler's transport (libcurl): -remote as a URL with the token
# as Bearer (-token) or as HTTP Basic (http://user:TOKEN@host:port), IPv6
# literals, redirects refused unless -follow, proxies from the environment
# (a forwarding proxy started here logs what went through it), and https
# against a python ssl server serving a real profile from takhind, with
# certificates made here: -ca, no -ca, -insecure, mTLS with the right and
# the wrong client certificate, unusable -ca/-cert/-key files.
source "$(dirname "$0")/lib.sh"
TP=$BUILD/takhin-profiler
TOOLS=tests/integration/tools
out=$TK_TMP/out
mkdir -p "$out"
TOKEN=tr4nsport-s3cret

# start_py NAME SCRIPT ARGS...: starts a python helper that writes its port
# to $TK_TMP/NAME.port; sets PY_PORT and PY_PID (stopped by stop_py/exit).
start_py() {
    local name=$1 script=$2
    shift 2
    rm -f "$TK_TMP/$name.port"
    python3 "$TOOLS/$script" --port-file "$TK_TMP/$name.port" "$@" 2>"$TK_TMP/$name.err" &
    PY_PID=$!
    TK_PIDS+=("$PY_PID")
    local i
    for i in $(seq 100); do
        [ -s "$TK_TMP/$name.port" ] && { PY_PORT=$(cat "$TK_TMP/$name.port"); return 0; }
        kill -0 "$PY_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TK_TMP/$name.err" >&2
    return 1
}
stop_py() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# wait_port: the profiler's port, once it listens.
wait_port() {
    local p i
    for i in $(seq 300); do
        p=$(profiler_port)
        [ -n "$p" ] && port_open "$p" && { echo "$p"; return 0; }
        sleep 0.1
    done
    return 1
}

# is_profile FILE: the CLI can read it as a profile with samples.
is_profile() { "$TP" -input "$1" -top 1 >/dev/null 2>&1; }

write_config "$TK_TMP/takhin.yaml"
start_server tr "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_AUTH_TOKEN=$TOKEN \
    || { not_ok "takhind with a token starts"; finish; }
port=$(wait_port) || { not_ok "the profiler listens"; finish; }

# ---- token: Bearer (-token) and Basic (user:TOKEN@ in the URL) ----
"$TP" -remote "http://127.0.0.1:$port" -token "$TOKEN" -type goroutine -output "$out/real.pb.gz" \
    >/dev/null 2>"$TK_TMP/e1"
check "http:// URL with -token (Bearer): exit 0 ($(head -c 300 "$TK_TMP/e1"))" test $? -eq 0
check "and the profile is readable" is_profile "$out/real.pb.gz"
"$TP" -remote "http://pprof:$TOKEN@127.0.0.1:$port" -type goroutine -output "$out/basic.pb.gz" \
    >/dev/null 2>"$TK_TMP/e2"
check "http://pprof:TOKEN@host:port (HTTP Basic): exit 0 ($(head -c 300 "$TK_TMP/e2"))" test $? -eq 0
check "and the profile is readable" is_profile "$out/basic.pb.gz"
"$TP" -remote "http://pprof:$TOKEN@127.0.0.1:$port/debug/pprof/" -type heap -output "$out/b2.pb.gz" \
    >/dev/null 2>&1
check "the URL may end in /debug/pprof/ (as go tool pprof's)" test $? -eq 0
TAKHIN_PROFILER_TOKEN=wrong "$TP" -remote "http://pprof:$TOKEN@127.0.0.1:$port" -type goroutine \
    -output "$out/b3.pb.gz" >/dev/null 2>&1
check "the URL's token wins over \$TAKHIN_PROFILER_TOKEN" test $? -eq 0
msg=$("$TP" -remote "http://pprof:wrong-one@127.0.0.1:$port" -type goroutine -output "$out/x" 2>&1)
check "a wrong token in the URL: exit 4, refused ($msg)" \
    bash -c '[ "$1" -eq 4 ] && grep -q "401" <<<"$2" && grep -q "token was refused" <<<"$2"' _ $? "$msg"
check "the message does not show the token" bash -c '! grep -q wrong-one <<<"$1"' _ "$msg"
msg=$("$TP" -remote "http://pprof:$TOKEN@127.0.0.1:$port" -token "$TOKEN" -type heap -output "$out/x" 2>&1)
check "-token next to user:TOKEN@: usage error, exit 2 ($msg)" \
    bash -c '[ "$1" -eq 2 ] && grep -q "two tokens" <<<"$2"' _ $? "$msg"
msg=$("$TP" -remote "http://pprof:$TOKEN@127.0.0.1:x" 2>&1)
check "a bad URL: exit 2, without the token in the message ($msg)" \
    bash -c '[ "$1" -eq 2 ] && ! grep -q "$3" <<<"$2" && grep -q "pprof:\*\*\*@" <<<"$2"' _ $? "$msg" "$TOKEN"
stop_server

# The rest talks to a takhind without a token (redirects and proxies carry
# no credentials to other ports).
start_server plain "$TK_TMP/takhin.yaml" || { not_ok "takhind starts"; finish; }
port=$(wait_port) || { not_ok "the profiler listens"; finish; }
remote=127.0.0.1:$port

# ---- IPv6 literals (takhind binds IPv4 only: civetweb has no IPv6 here) ----
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    if start_py v6 pprofserve.py --host ::1 --profile "$out/real.pb.gz" --log "$TK_TMP/v6.log"; then
        v6=$PY_PORT
        "$TP" -remote "[::1]:$v6" -type goroutine -output "$out/v6a.pb.gz" >/dev/null 2>"$TK_TMP/e3"
        check "-remote [::1]:PORT: exit 0 ($(head -c 300 "$TK_TMP/e3"))" test $? -eq 0
        check "the file is the server's, byte for byte" cmp -s "$out/v6a.pb.gz" "$out/real.pb.gz"
        "$TP" -remote "http://[::1]:$v6" -type heap -output "$out/v6b.pb.gz" >/dev/null 2>&1
        check "-remote http://[::1]:PORT: exit 0" test $? -eq 0
        check "the requests reached [::1] with a bracketed Host" \
            test "$(grep -c "^GET /debug/pprof/[a-z]* \[::1\]:$v6 " "$TK_TMP/v6.log")" -eq 2
        stop_py "$PY_PID"
    else
        not_ok "the IPv6 server starts"
    fi
else
    skip "no IPv6 on this machine"
fi

# ---- redirects: refused without -follow, followed with it ----
if start_py redir pprofserve.py --profile "$out/real.pb.gz" --redirect "http://$remote" \
    --log "$TK_TMP/redir.log"; then
    rp=$PY_PORT
    msg=$("$TP" -remote "127.0.0.1:$rp" -type goroutine -output "$out/r1.pb.gz" 2>&1)
    check "a redirect without -follow: exit 4 ($msg)" test $? -eq 4
    check "the message says where to and to add -follow" \
        contains "$msg" "302 Found: redirected to http://$remote/debug/pprof/goroutine (add -follow"
    check "nothing is written" test ! -e "$out/r1.pb.gz"
    "$TP" -remote "127.0.0.1:$rp" -follow -type goroutine -output "$out/r2.pb.gz" >/dev/null 2>"$TK_TMP/e4"
    check "with -follow: exit 0 ($(head -c 300 "$TK_TMP/e4"))" test $? -eq 0
    check "the profile came from takhind, through the redirect" \
        bash -c 'is() { "$1" -input "$2" -top 1 >/dev/null 2>&1; }; is "$1" "$2" && [ "$(grep -c goroutine "$3")" -eq 2 ]' \
        _ "$TP" "$out/r2.pb.gz" "$TK_TMP/redir.log"
    stop_py "$PY_PID"
else
    not_ok "the redirecting server starts"
fi
# Credentials stay with the host and port they were given for.
if start_py target pprofserve.py --profile "$out/real.pb.gz" --log "$TK_TMP/target.log" &&
    target_pid=$PY_PID &&
    start_py redir2 pprofserve.py --profile "$out/real.pb.gz" --log "$TK_TMP/redir2.log" \
        --redirect "http://127.0.0.1:$(cat "$TK_TMP/target.port")"; then
    "$TP" -remote "127.0.0.1:$PY_PORT" -follow -token "$TOKEN" -type heap -output "$out/r3.pb.gz" \
        >/dev/null 2>&1
    "$TP" -remote "http://pprof:$TOKEN@127.0.0.1:$PY_PORT" -follow -type heap -output "$out/r4.pb.gz" \
        >/dev/null 2>&1
    check "-follow: the redirecting server got the Bearer and the Basic credentials" \
        bash -c 'grep -q "Bearer $2" "$1" && grep -q " Basic " "$1"' _ "$TK_TMP/redir2.log" "$TOKEN"
    check "and the server redirected to, on another port, got none" \
        bash -c '[ "$(grep -c " -$" "$1")" -eq 2 ]' _ "$TK_TMP/target.log"
    check "the followed profiles were written" test -s "$out/r3.pb.gz" -a -s "$out/r4.pb.gz"
    stop_py "$PY_PID"
    stop_py "$target_pid"
else
    not_ok "the redirect's target and redirecting servers start"
fi

# ---- proxies from the environment ----
if start_py proxy fwdproxy.py --log "$TK_TMP/proxy.log"; then
    pp=$PY_PORT proxy_pid=$PY_PID
    : >"$TK_TMP/proxy.log"
    http_proxy=http://127.0.0.1:$pp "$TP" -remote "$remote" -type goroutine -output "$out/p1.pb.gz" \
        >/dev/null 2>"$TK_TMP/e5"
    check "through \$http_proxy: exit 0 ($(head -c 300 "$TK_TMP/e5"))" test $? -eq 0
    check "the request went through the proxy" \
        grep -qx "GET http://$remote/debug/pprof/goroutine HTTP/1.1" "$TK_TMP/proxy.log"
    check "and the profile is readable" is_profile "$out/p1.pb.gz"
    : >"$TK_TMP/proxy.log"
    http_proxy=http://127.0.0.1:$pp no_proxy=127.0.0.1 "$TP" -remote "$remote" -type goroutine \
        -output "$out/p2.pb.gz" >/dev/null 2>&1
    check "no_proxy: exit 0, and the proxy saw nothing" \
        bash -c '[ "$1" -eq 0 ] && [ ! -s "$2" ]' _ $? "$TK_TMP/proxy.log"
    gone=$(free_port)
    msg=$(http_proxy=http://127.0.0.1:$gone "$TP" -remote "$remote" -type goroutine -output "$out/x" 2>&1)
    check "a proxy that refuses connections: exit 3 ($msg)" test $? -eq 3
    check "the message names the proxy and the variable" \
        contains "$msg" "cannot connect to the proxy 127.0.0.1 (from \$http_proxy)"
    msg=$(http_proxy=http://no-such-proxy.invalid:3128 "$TP" -remote "$remote" -type goroutine \
          -output "$out/x" 2>&1)
    check "an unknown proxy host: exit 3 ($msg)" \
        bash -c '[ "$1" -eq 3 ] && grep -q "unknown proxy host no-such-proxy.invalid" <<<"$2"' _ $? "$msg"
else
    not_ok "the proxy starts"
    proxy_pid=
fi

# ---- https: a python ssl server with certificates made here ----
pki=$TK_TMP/pki
if make_pki "$pki"; then
    ok "test certificates made (CA, server, client, another CA's client)"
else
    not_ok "test certificates made: $(cat "$pki/log")"
fi

if start_py tls pprofserve.py --profile "$out/real.pb.gz" --cert "$pki/server.pem" \
    --key "$pki/server.key" --log "$TK_TMP/tls.log"; then
    tp=$PY_PORT
    "$TP" -remote "https://127.0.0.1:$tp" -ca "$pki/ca.pem" -type goroutine -output "$out/s1.pb.gz" \
        >/dev/null 2>"$TK_TMP/e6"
    check "https with -ca: exit 0 ($(head -c 300 "$TK_TMP/e6"))" test $? -eq 0
    check "the file is the server's, byte for byte" cmp -s "$out/s1.pb.gz" "$out/real.pb.gz"
    "$TP" -remote "https://localhost:$tp" -ca "$pki/ca.pem" -type heap -output "$out/s2.pb.gz" \
        >/dev/null 2>&1
    check "https://localhost (a name the certificate lists): exit 0" test $? -eq 0
    msg=$("$TP" -remote "https://127.0.0.1:$tp" -type goroutine -output "$out/x" 2>&1)
    check "without -ca: refused, exit 3 ($msg)" test $? -eq 3
    check "the message says the certificate is not trusted and what to do" \
        bash -c 'grep -q "not trusted" <<<"$1" && grep -q -- "-ca FILE, or -insecure" <<<"$1"' _ "$msg"
    check "nothing is written" test ! -e "$out/x"
    msg=$("$TP" -remote "https://127.0.0.1:$tp" -ca "$pki/otherca.pem" -type goroutine -output "$out/x" 2>&1)
    check "-ca of another CA: refused, exit 3 ($msg)" \
        bash -c '[ "$1" -eq 3 ] && grep -q "not trusted" <<<"$2"' _ $? "$msg"
    "$TP" -remote "https://127.0.0.1:$tp" -insecure -type goroutine -output "$out/s3.pb.gz" >/dev/null 2>&1
    check "-insecure: exit 0" test $? -eq 0
    check "the file is the server's" cmp -s "$out/s3.pb.gz" "$out/real.pb.gz"
    if [ -n "$proxy_pid" ]; then
        : >"$TK_TMP/proxy.log"
        https_proxy=http://127.0.0.1:$pp "$TP" -remote "https://127.0.0.1:$tp" -ca "$pki/ca.pem" \
            -type goroutine -output "$out/s4.pb.gz" >/dev/null 2>"$TK_TMP/e7"
        check "https through \$https_proxy: exit 0 ($(head -c 300 "$TK_TMP/e7"))" test $? -eq 0
        check "through a CONNECT tunnel of the proxy" \
            grep -qx "CONNECT 127.0.0.1:$tp HTTP/1.1" "$TK_TMP/proxy.log"
    fi
    # unusable files: usage errors naming the file
    echo "not a certificate" >"$pki/garbage.pem"
    msg=$("$TP" -remote "https://127.0.0.1:$tp" -ca "$pki/garbage.pem" -type heap -output "$out/x" 2>&1)
    check "-ca with no certificate in it: exit 2 ($msg)" \
        bash -c '[ "$1" -eq 2 ] && grep -q -- "-ca .*garbage.pem: no usable CA certificate" <<<"$2"' _ $? "$msg"
    msg=$("$TP" -remote "https://127.0.0.1:$tp" -ca "$pki/nonexistent.pem" -type heap -output "$out/x" 2>&1)
    check "-ca that does not exist: exit 2 ($msg)" \
        bash -c '[ "$1" -eq 2 ] && grep -q "nonexistent.pem: cannot read it" <<<"$2"' _ $? "$msg"
    msg=$("$TP" -remote "127.0.0.1:$port" -ca "$pki/ca.pem" -type heap -output "$out/x" 2>&1)
    check "-ca with an http remote: exit 2 ($msg)" \
        bash -c '[ "$1" -eq 2 ] && grep -q "are for https" <<<"$2"' _ $? "$msg"
    stop_py "$PY_PID"
else
    not_ok "the https server starts"
fi

msg=$("$TP" -remote "https://$remote" -insecure -type heap -output "$out/x" 2>&1)
check "https:// to a plain http port: exit 3 ($msg)" \
    bash -c '[ "$1" -eq 3 ] && grep -q "TLS handshake with" <<<"$2"' _ $? "$msg"

# ---- mTLS ----
if start_py mtls pprofserve.py --profile "$out/real.pb.gz" --cert "$pki/server.pem" \
    --key "$pki/server.key" --client-ca "$pki/ca.pem"; then
    mp=$PY_PORT
    "$TP" -remote "https://127.0.0.1:$mp" -ca "$pki/ca.pem" -cert "$pki/client.pem" \
        -key "$pki/client.key" -type goroutine -output "$out/m1.pb.gz" >/dev/null 2>"$TK_TMP/e8"
    check "mTLS with a client certificate of the server's CA: exit 0 ($(head -c 300 "$TK_TMP/e8"))" \
        test $? -eq 0
    check "the file is the server's" cmp -s "$out/m1.pb.gz" "$out/real.pb.gz"
    msg=$("$TP" -remote "https://127.0.0.1:$mp" -ca "$pki/ca.pem" -cert "$pki/stranger.pem" \
          -key "$pki/stranger.key" -type goroutine -output "$out/x" 2>&1)
    check "a client certificate of another CA: refused, exit 3 ($msg)" test $? -eq 3
    check "the message says the client certificate was refused" \
        bash -c 'grep -Eq "refused? the client certificate $2" <<<"$1"' _ "$msg" "$pki/stranger.pem"
    check "nothing is written" test ! -e "$out/x"
    msg=$("$TP" -remote "https://127.0.0.1:$mp" -ca "$pki/ca.pem" -type goroutine -output "$out/x" 2>&1)
    check "no client certificate: refused, exit 3, asks for -cert ($msg)" \
        bash -c '[ "$1" -eq 3 ] && grep -q "wants a client certificate, give -cert" <<<"$2"' _ $? "$msg"
    msg=$("$TP" -remote "https://127.0.0.1:$mp" -ca "$pki/ca.pem" -cert "$pki/client.pem" \
          -key "$pki/stranger.key" -type goroutine -output "$out/x" 2>&1)
    check "a key that does not match the certificate: exit 2 ($msg)" \
        bash -c '[ "$1" -eq 2 ] && grep -q "cannot be used" <<<"$2"' _ $? "$msg"
    stop_py "$PY_PID"
else
    not_ok "the mTLS server starts"
fi

[ -n "$proxy_pid" ] && stop_py "$proxy_pid"
stop_server
check "every helper this test started has stopped" \
    bash -c 'for p in "$@"; do kill -0 "$p" 2>/dev/null && exit 1; done; exit 0' _ "${TK_PIDS[@]}"
finish
