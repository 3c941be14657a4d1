#!/usr/bin/env bash
# Hot control through the admin channel: disable, enable, reload.
source "$(dirname "$0")/lib.sh"

config=$TK_TMP/takhin.yaml
write_config "$config"
start_server admin "$config" || { not_ok "takhind starts"; finish; }

mode=$(stat -c %a "$SERVER_SOCK")
check "the admin socket has mode 0600" test "$mode" = 600
check "help lists the profiler's commands" contains "$(admin help)" "profiler disable"

port=$(profiler_port)
reply=$(admin profiler disable)
check "profiler disable answers with its latency" contains "$reply" "disabled in"
echo "# hot-disable: $reply"
check "after disable the port is closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
check "status says disabled, listen null" contains "$(admin profiler status)" '"enabled":false,"listen":null'
check "disable again is harmless" contains "$(admin profiler disable)" "already disabled"

check "profiler enable starts serving again" contains "$(admin profiler enable)" "enabled, listening on"
check "after enable the index answers 200" test "$(http_status /debug/pprof/)" = 200

# a bad reload keeps the old config in force
port=$(profiler_port)
cp "$config" "$TK_TMP/good.yaml"
sed -i 's/port: 0/port: 70000/' "$config"
out=$(admin config reload 2>&1); rc=$?
check "config reload with port 70000 fails (exit $rc)" test $rc -eq 1
check "the reload error names key, value, origin and form" \
    contains "$out" "profiler.port = \"70000\" ($config:6:9): expected an integer from 0 to 65535"
check "the old config stays in force: same port" test "$(profiler_port)" = "$port"
check "the old config stays in force: still serving" test "$(http_status /debug/pprof/)" = 200

# a good reload: enabled follows the config
sed -i 's/port: 70000/port: 0/; s/enabled: true/enabled: false/' "$config"
check "config reload with enabled: false succeeds" contains "$(admin config reload)" "config reloaded"
check "the reload disabled the profiler" contains "$(admin profiler status)" '"enabled":false'
check "and closed its port" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
sed -i 's/enabled: false/enabled: true/' "$config"
admin config reload >/dev/null
check "config reload with enabled: true enables it" test "$(http_status /debug/pprof/)" = 200
kill -HUP "$SERVER_PID"; sleep 0.5
check "SIGHUP reloads too" grep -q "config reloaded" "$SERVER_LOG"

# the admin client's errors and exit codes
out=$(admin no such command 2>&1); rc=$?
check "an unknown command exits 1 (got $rc)" test $rc -eq 1
check "an unknown command says how to find the list" contains "$out" 'run "help"'
out=$("$BUILD/takhin-admin" -s "$TK_TMP/nobody.sock" help 2>&1); rc=$?
check "no server at the socket exits 2 (got $rc)" test $rc -eq 2
check "no server at the socket says so" contains "$out" "cannot connect"
stop_server; check "takhind exits 0 after all that" test $? -eq 0
check "the socket file is removed at stop" test ! -e "$SERVER_SOCK"

# a stale socket left by a crashed server is replaced
start_server crash "$config" || not_ok "takhind starts for the crash test"
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "a killed server leaves its socket behind" test -S "$TK_TMP/crash.sock"
if start_server crash "$config"; then
    ok "a new server replaces the stale socket"
    stop_server
else
    not_ok "a new server replaces the stale socket"
fi
finish
