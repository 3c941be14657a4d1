#!/usr/bin/env bash
# config reload over the admin channel: every key it accepts takes effect
# at once or its reply says what it needs, and the reply tells the truth
# about what happened (README: Reloading the config).
source "$(dirname "$0")/lib.sh"

config=$TK_TMP/takhin.yaml
# reload_config PORT TOKEN MAX_DURATION [MORE_PROFILER_YAML]: the file
# reloaded below; TOKEN "" writes no token line at all.
reload_config() {
    {
        profiler_yaml "${RELOAD_ENABLED:-true}" "$1"
        [ -n "$2" ] && printf '  auth:\n    token: %s\n' "$2"
        printf '  max_duration: %s\n' "$3"
        [ -n "${4:-}" ] && printf '%s\n' "$4"
        printf 'demo:\n  rate: 200\n'
    } >"$config"
}

port0=$(free_port) tok0=token-0-$RANDOM
reload_config "$port0" "$tok0" 120
start_server reload "$config" || { not_ok "takhind starts"; finish; }
check "the profiler serves on the configured port $port0" test "$(profiler_port)" = "$port0"

# ---- unchanged file: no false warning, a reply that says nothing changed
warns_before=$(grep -c "WARN" "$SERVER_LOG")
out=$(admin config reload 2>&1); rc=$?
check "reload of the unchanged file succeeds (exit $rc)" test $rc -eq 0
check "its reply says no key changed" contains "$out" "config reloaded: no key changed"
check "it logs no WARN about demo settings" bash -c "! grep -q 'WARN.*demo' '$SERVER_LOG'"
check "it logs no WARN at all" test "$(grep -c WARN "$SERVER_LOG")" = "$warns_before"

# ---- max_duration lowered by reload: enforced on the next request (the
# token unchanged, so only max_duration differs)
reload_config "$port0" "$tok0" 5
out=$(admin config reload 2>&1); rc=$?
check "reload to max_duration 5 succeeds (exit $rc)" test $rc -eq 0
check "the reply says max_duration applied at once" \
    contains "$out" "profiler: applied at once: max_duration"
for path in "profile?seconds=6" "trace?seconds=6" "mutex?seconds=6" "heap?seconds=6"; do
    got=$(curl -s -o "$TK_TMP/body" -w '%{http_code}' --max-time 4 \
          -H "Authorization: Bearer $tok0" "http://127.0.0.1:$port0/debug/pprof/$path")
    check "max_duration 5: /$path gets 400 (got $got)" test "$got" = 400
    check "max_duration 5: /$path names the new limit" \
        grep -q "exceeds the limit of 5 s (profiler.max_duration)" "$TK_TMP/body"
done

# ---- the token, rotated and removed by reload: effective at the next request
# status_with HEADER: the index's status with that Authorization header ("" none).
status_with() {
    if [ -n "$1" ]; then curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $1" \
        "http://127.0.0.1:$port0/debug/pprof/"
    else curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port0/debug/pprof/"; fi
}
basic() { printf 'Basic %s' "$(printf 'pprof:%s' "$1" | base64 -w0)"; }
tokA=token-a-$RANDOM tokB=token-b-$RANDOM
# Each row: the token the file sets ("" = no token line), then
# header=expected-status pairs checked right after the reload.
cases=(
    "$tokA|none=401 Bearer:$tokA=200 Basic:$tokA=200"
    "$tokB|none=401 Bearer:$tokA=401 Basic:$tokA=401 Bearer:$tokB=200 Basic:$tokB=200"
    "|none=200 Bearer:$tokB=200"
    "$tokA|none=401 Bearer:$tokB=401 Bearer:$tokA=200"
)
for row in "${cases[@]}"; do
    tok=${row%%|*} expects=${row#*|}
    reload_config "$port0" "$tok" 5
    out=$(admin config reload 2>&1); rc=$?
    check "reload to token '${tok:-(none)}' succeeds (exit $rc)" test $rc -eq 0
    check "the reply says the token applied at once" \
        contains "$out" "profiler: applied at once: auth.token"
    check "the reply never shows a token" bash -c "! grep -q 'token-[0ab]-' <<<'$out'"
    for pair in $expects; do
        hdr=${pair%=*} want=${pair##*=}
        case $hdr in
            none) h="" ;;
            Bearer:*) h="Bearer ${hdr#Bearer:}" ;;
            Basic:*) h=$(basic "${hdr#Basic:}") ;;
        esac
        got=$(status_with "$h")
        check "token '${tok:-(none)}': ${h:-no Authorization} gets $want (got $got)" test "$got" = "$want"
    done
done
check "the listener did not move for a token change" test "$(profiler_port)" = "$port0"

# ---- reload to a port in use: the old listener keeps serving, and the reply says so
busy=$(free_port)
if hold_port "$busy"; then
    reload_config "$busy" "" 5
    out=$(admin config reload 2>&1); rc=$?
    echo "$out" | sed 's/^/# /'
    check "reload to a port in use fails (exit $rc)" test $rc -eq 1
    check "the reply names the address it could not bind" contains "$out" "cannot listen on 127.0.0.1:$busy"
    check "the reply says the profiler still serves on the old address" \
        contains "$out" "still serving on 127.0.0.1:$port0"
    check "the reply does not claim the old config stays everywhere" \
        bash -c "! grep -q 'the old config stays in force' <<<'$out'"
    status=$(admin profiler status)
    check "status: still enabled on the old port" contains "$status" "\"enabled\":true,\"listen\":\"127.0.0.1:$port0\""
    check "status: the configured port is the one in use" contains "$status" "\"port\":$port0"
    # The file also drops the token: a failed reload applied none of it.
    check "the old port still answers 200 with the token in force" \
        test "$(status_with "Bearer $tokA")" = 200
    check "the failed reload applied nothing: no token still gets 401" test "$(status_with "")" = 401
    kill "$HOLDER_PID"; wait "$HOLDER_PID" 2>/dev/null
else
    not_ok "a helper holds port $busy"
fi

# ---- keys that need a listener restart, and a process restart
port1=$(free_port)
# Each row: port | more profiler keys | what the reply must contain | the port then served
cases=(
    "$port1||restarted the listener for port|$port1"
    "$port1|  max_requests: 3|restarted the listener for max_requests|$port1"
    "$port1|  max_requests: 3\n  request_timeout_ms: 5000|restarted the listener for request_timeout_ms|$port1"
)
for row in "${cases[@]}"; do
    IFS='|' read -r p more want served <<<"$row"
    reload_config "$p" "" 5 "$(printf '%b' "$more")"
    out=$(admin config reload 2>&1); rc=$?
    echo "$out" | sed 's/^/# /'
    check "reload ($want) succeeds (exit $rc)" test $rc -eq 0
    check "the reply says: $want" contains "$out" "$want"
    check "the reply says where it serves now" contains "$out" "now serving on 127.0.0.1:$served"
    check "status shows port $served" test "$(profiler_port)" = "$served"
    check "port $served answers 200" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$served/debug/pprof/")" = 200
done
check "the first port is closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port0) 2>/dev/null"

# demo.producers changes at restart only: the reply says so, and the WARN names it
reload_config "$port1" "" 5 "  max_requests: 3
  request_timeout_ms: 5000"
printf '  producers: 3\n' >>"$config"
out=$(admin config reload 2>&1); rc=$?
check "reload with demo.producers 3 succeeds (exit $rc)" test $rc -eq 0
check "the reply says demo.producers needs a process restart" \
    contains "$out" "needs a process restart, not applied: demo.producers"
check "the WARN names demo.producers" grep -q "WARN.*demo.producers" "$SERVER_LOG"
check "the workload still runs 2 producers" contains "$(admin workload status)" '"producers":2'

# ---- enabled follows the file; turned on at a port in use, it stays off and says so
RELOAD_ENABLED=false reload_config "$port1" "" 5
out=$(admin config reload 2>&1); rc=$?
check "reload to enabled: false succeeds (exit $rc)" test $rc -eq 0
check "the reply says serving stopped" contains "$out" "profiler: stopped serving (enabled: false)"
check "status: disabled" contains "$(admin profiler status)" '"enabled":false,"listen":null'
check "port $port1 is closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port1) 2>/dev/null"
busy=$(free_port)
RELOAD_ENABLED=false reload_config "$busy" "" 7
out=$(admin config reload 2>&1); rc=$?
check "reload of a disabled profiler succeeds (exit $rc)" test $rc -eq 0
check "the reply says the keys wait for the next enable" \
    contains "$out" "profiler: not serving; stored for the next profiler enable: port, max_duration"
if hold_port "$busy"; then
    reload_config "$busy" "" 7
    out=$(admin config reload 2>&1); rc=$?
    echo "$out" | sed 's/^/# /'
    check "enabled: true at a port in use fails (exit $rc)" test $rc -eq 1
    check "the reply says the profiler stays off" contains "$out" "keeps its previous settings and stays off"
    check "status: still disabled" contains "$(admin profiler status)" '"enabled":false,"listen":null'
    kill "$HOLDER_PID"; wait "$HOLDER_PID" 2>/dev/null
    out=$(admin config reload 2>&1); rc=$?
    check "once the port is free the same reload succeeds (exit $rc)" test $rc -eq 0
    check "the reply says where it serves" \
        contains "$out" "profiler: started serving (enabled: true): now serving on 127.0.0.1:$busy"
    check "port $busy answers 200" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$busy/debug/pprof/")" = 200
else
    not_ok "a helper holds port $busy"
fi

stop_server; check "takhind exits 0" test $? -eq 0
finish
