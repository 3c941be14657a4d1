#!/usr/bin/env bash
# The profiler port is safe to run: token auth (Bearer and Basic, the
# latter as go tool pprof sends it), no public binding without auth, no
# half-configured TLS, limits against slow and greedy clients, and /metrics.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof
token=s3cret-$RANDOM$RANDOM

write_config "$TK_TMP/takhin.yaml"
start_server auth "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_AUTH_TOKEN="$token" ||
    { not_ok "takhind starts with a token"; finish; }
port=$(profiler_port)
base=http://127.0.0.1:$port/debug/pprof

code=$(curl -s -D "$TK_TMP/h401" -o "$TK_TMP/b401" -w '%{http_code}' "$base/")
check "no token: 401" test "$code" = 401
check "the 401 carries WWW-Authenticate" grep -qi "^WWW-Authenticate: Basic" "$TK_TMP/h401"
check "the 401 says how to authenticate" grep -q "Authorization: Bearer TOKEN" "$TK_TMP/b401"
check "a wrong token: 401" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$base/")" = 401
check "a wrong Basic password: 401" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -u "u:nope" "$base/")" = 401
check "Bearer with the token: 200" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/")" = 200
check "Basic with the token as password: 200" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -u "pprof:$token" "$base/")" = 200
check "paths outside /debug/pprof/ need the token too" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")" = 401
top=$(go tool pprof -top "http://pprof:$token@127.0.0.1:$port/debug/pprof/profile?seconds=1" 2>&1)
check "go tool pprof with the token in the URL gets a profile" contains "$top" "Type: cpu"
check "auth failures are logged" grep -q "auth failure from 127.0.0.1" "$SERVER_LOG"
check "the token never appears in the log" bash -c "! grep -q '$token' '$SERVER_LOG'"

# /metrics, checked with the Prometheus project's own parser.
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" >"$TK_TMP/metrics"
parsed=$(cd tests/integration/tools/promcheck && GO111MODULE=off GOPATH=/usr/share/gocode \
         GOCACHE=$TK_TMP/gocache go run . <"$TK_TMP/metrics" 2>&1)
echo "$parsed" | sed 's/^/# /'
check "/metrics parses as Prometheus text" contains "$parsed" "takhin_profiler_requests_total COUNTER"
check "/metrics has the profile duration histogram" \
    contains "$parsed" "takhin_profiler_profile_duration_seconds HISTOGRAM"
for m in takhin_profiler_profiles_in_flight takhin_profiler_enabled \
         takhin_profiler_auth_failures_total takhin_profiler_trace_dropped_events_total \
         takhin_profiler_response_bytes_total takhin_profiler_symbol_modules \
         takhin_profiler_symbol_cache_entries takhin_profiler_symbol_cache_bytes; do
    check "/metrics has $m" contains "$parsed" "$m "
done
check "auth failures are counted (4 so far)" \
    grep -q "^takhin_profiler_auth_failures_total 4$" "$TK_TMP/metrics"
check "requests are counted by endpoint and status" \
    grep -q 'takhin_profiler_requests_total{endpoint="profile",code="200"} 1' "$TK_TMP/metrics"
# A path that would forge a log line (issue 17 #4): refused before the
# token is looked at, and logged as sent, escaped.
forge='/%0a2026-01-01T00:00:00.000Z%20ERROR%20[host]%20forged%1b[31m'
check "a log-forging path without the token: 400" \
    test "$(curl -s -g -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$forge")" = 400
check "it forges no log line" test -z "$(grep -a '^2026-01-01T00:00:00' "$SERVER_LOG")"
check "no escape character reaches the log" test -z "$(grep -a $'\x1b' "$SERVER_LOG")"
# A symbolized thread dump fills the symbolizer; the gauges show it.
curl -s -o /dev/null -H "Authorization: Bearer $token" "$base/goroutine?debug=1"
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" >"$TK_TMP/metrics2"
cached=$(awk '$1 == "takhin_profiler_symbol_cache_entries" { print $2 }' "$TK_TMP/metrics2")
modules=$(awk '$1 == "takhin_profiler_symbol_modules" { print $2 }' "$TK_TMP/metrics2")
check "the symbolizer's gauges count what a thread dump loaded ($modules modules, $cached addresses)" \
    test "${modules:-0}" -gt 1 -a "${cached:-0}" -gt 0
stop_server

# A token from a file.
printf '%s\n' "$token" >"$TK_TMP/token"
if start_server tokenfile "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_AUTH_TOKEN_FILE="$TK_TMP/token"; then
    check "auth.token_file: the token from the file works" \
        test "$(http_status /debug/pprof/ -H "Authorization: Bearer $token")" = 200
    check "auth.token_file: no token is 401" test "$(http_status /debug/pprof/)" = 401
    stop_server
else
    not_ok "takhind starts with auth.token_file"
fi

# start_fails NAME EXPECTED VAR=VALUE...: takhind exits 1 saying EXPECTED.
start_fails() {
    local name=$1 want=$2 out rc
    shift 2
    out=$(env TAKHIN_ADMIN_SOCKET="$TK_TMP/f.sock" "$@" timeout 20 "$BUILD/takhind" \
          -c "${FAIL_CONFIG:-$TK_TMP/takhin.yaml}" 2>&1)
    rc=$?
    if [ $rc -eq 1 ] && contains "$out" "$want"; then ok "$name: refused at start"
    else not_ok "$name: exit $rc: $out"; fi
}
start_fails "a public host without a token" "is not a loopback address and no token" \
    TAKHIN_PROFILER_HOST=0.0.0.0
start_fails "tls.cert without tls.key" "profiler.tls.cert is set without profiler.tls.key" \
    TAKHIN_PROFILER_TLS_CERT=/etc/ssl/x.pem
start_fails "auth.token and auth.token_file together" "both set" \
    TAKHIN_PROFILER_AUTH_TOKEN=x TAKHIN_PROFILER_AUTH_TOKEN_FILE="$TK_TMP/token"
# Issue 23 #3: an empty or blank secret is an error naming the key and its
# source, never authentication quietly off (an empty variable overrides
# the YAML's token).
write_config "$TK_TMP/toky.yaml"
sed -i 's/  port: 0/  port: 0\n  auth: {token: tokY}/' "$TK_TMP/toky.yaml"
FAIL_CONFIG=$TK_TMP/toky.yaml start_fails "an empty TAKHIN_PROFILER_AUTH_TOKEN over the YAML's token" \
    "profiler.auth.token is set but empty (env TAKHIN_PROFILER_AUTH_TOKEN)" TAKHIN_PROFILER_AUTH_TOKEN=
printf '   \n' >"$TK_TMP/blank-token"
start_fails "an auth.token_file of blanks" "not only blanks" \
    TAKHIN_PROFILER_AUTH_TOKEN_FILE="$TK_TMP/blank-token"
if start_server toky "$TK_TMP/toky.yaml"; then
    sed -i 's/auth: {token: tokY}/auth: {token: "  "}/' "$TK_TMP/toky.yaml"
    out=$(admin config reload 2>&1); rc=$?
    check "a reload to a blank auth.token is refused (exit $rc)" test $rc -eq 1
    check "and names the key and where it was set" contains "$out" "profiler.auth.token is set but empty"
    check "the old token still holds: no credentials is 401" test "$(http_status /debug/pprof/)" = 401
    stop_server
else
    not_ok "takhind starts with auth.token in the YAML"
fi
if start_server open "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_HOST=0.0.0.0 \
        TAKHIN_PROFILER_ALLOW_UNAUTHENTICATED_REMOTE=true; then
    check "allow_unauthenticated_remote permits it, with a loud warning" \
        grep -q "WARN.*WITHOUT authentication" "$SERVER_LOG"
    stop_server
else
    not_ok "allow_unauthenticated_remote permits a public host"
fi
# Refused at enable and on reload, too.
TK_ENABLED=false write_config "$TK_TMP/off.yaml"
sed -i 's/  port: 0/  port: 0\n  host: 0.0.0.0/' "$TK_TMP/off.yaml"
if start_server later "$TK_TMP/off.yaml"; then
    out=$(admin profiler enable 2>&1); rc=$?
    check "profiler enable on a public host without auth fails (exit $rc)" test $rc -eq 1
    check "and says why" contains "$out" "is not a loopback address"
    sed -i 's/enabled: false/enabled: true/' "$TK_TMP/off.yaml"
    out=$(admin config reload 2>&1); rc=$?
    check "config reload to a public host without auth is refused (exit $rc)" test $rc -eq 1
    check "the old config stays: still disabled" contains "$(admin profiler status)" '"enabled":false'
    stop_server
else
    not_ok "takhind starts with a disabled public profiler"
fi

# Limits: one worker, a short request timeout.
write_config "$TK_TMP/limits.yaml" ""
sed -i 's/  port: 0/  port: 0\n  max_requests: 1\n  request_timeout_ms: 500\n  max_header_bytes: 2048/' \
    "$TK_TMP/limits.yaml"
start_server limits "$TK_TMP/limits.yaml" || { not_ok "takhind starts with limits"; finish; }
port=$(profiler_port)
big=$(head -c 4000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://127.0.0.1:$port/debug/pprof/")
check "a header over max_header_bytes is refused (got $code)" bash -c "[ '$code' = 413 ] || [ '$code' = 431 ] || [ '$code' = 400 ] || [ '$code' = 000 ]"
# A slow client that never finishes its request line is cut off.
exec 5<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /debug/pprof/ HT' >&5
timeout 5 cat <&5 >"$TK_TMP/slow.out"
rc=$?
exec 5>&-
check "a slow client is cut off after request_timeout_ms (cat ended: $rc, not 124)" test $rc -ne 124
check "without being served" bash -c "! grep -q '200 OK' '$TK_TMP/slow.out'"
check "and the server keeps serving" test "$(http_status /debug/pprof/)" = 200
# One worker: a second request waits for the first (a 2 s delta profile).
curl -s -o /dev/null "http://127.0.0.1:$port/debug/pprof/profile?seconds=2" &
slow=$!
sleep 0.3
t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/debug/pprof/")
wait $slow
check "with max_requests 1 a second request waits for the first (${t}s)" \
    awk -v t="$t" 'BEGIN { exit !(t >= 1.0) }'
stop_server
finish
