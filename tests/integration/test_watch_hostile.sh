#!/usr/bin/env bash
# takhin-profiler watch under hostile clients (issue 23, row 4): its
# webhook port has the profiler port's front (plugin/http/front.c), so
# clients that dribble their headers or body or send nothing are cut off
# under the front's deadlines and caps, and Alertmanager's authenticated
# POST is answered meanwhile. Before, 300 such connections held civetweb's 4
# workers for 10 s each and the POSTs could not connect.
source "$(dirname "$0")/lib.sh"
whtoken=wh-$RANDOM$RANDOM
gen=tests/integration/tools/slowloris.py
WPID=
trap '[ -z "$WPID" ] || { kill -KILL "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }; tk_cleanup' EXIT

# A target that is down: the POSTs carry a resolved alert, nothing is captured.
downport=$(free_port) || { not_ok "a free port"; finish; }
WLOG=$TK_TMP/watch.log
"$BUILD/takhin-profiler" watch -listen 127.0.0.1:0 -output-dir "$TK_TMP/store" \
    -target "127.0.0.1:$downport" -webhook-token "$whtoken" 2>"$WLOG" &
WPID=$!
WPORT=$(watch_port "$WLOG")
check "watch listens on 127.0.0.1:${WPORT:-none}" port_open "${WPORT:-1}"

# watch's civetweb listens on no TCP port, only on a Unix socket in a
# directory of its own (mode 0700, plugin/http/private_listener.h): no other
# local user can reach it and hold its workers with slow heads.
tcp=$(ss -Hltnp 2>/dev/null | grep "pid=$WPID," | awk '{print $4}' | sed 's/.*://' | sort -u | tr '\n' ' ')
check "watch's only TCP listener is the webhook port (${tcp:-none})" test "$tcp" = "$WPORT "
internal=$(ss -Hxlp 2>/dev/null | grep "pid=$WPID," | awk '{print $5}' | grep 'civetweb.sock$' | head -1)
check "watch's civetweb listens on a Unix socket (${internal:-none})" test -S "$internal"
check "its socket's directory is mode 700 ($(stat -c %a "$(dirname "${internal:-/nonexistent/x}")" 2>/dev/null))" \
    test "$(stat -c %a "$(dirname "${internal:-/nonexistent/x}")" 2>/dev/null)" = 700
printf '{"version":"4","groupKey":"g","status":"resolved","receiver":"r","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"","alerts":[{"status":"resolved","labels":{"alertname":"Hostile","instance":"127.0.0.1:%s"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-01T00:01:00Z","fingerprint":"f"}]}' \
    "$downport" >"$TK_TMP/alert.json"

# posts_ok NAME JSON: every POST answered 200, each client waiting 8 s at
# most (--timeout): more than the front's 2 s header deadline, less than the
# 10 s and more that civetweb alone held them. The slowest is printed.
posts_ok() {
    echo "# $1: ${2:-no report: the generator timed out}"
    local ok200
    ok200=$(json_field "$2" statuses | tr ' ' '\n' | grep -cx 200)
    check "$1: all 5 authenticated webhook POSTs answered 200 (${ok200:-0}; slowest $(json_field "$2" max) s)" \
        test "${ok200:-0}" -eq 5
}

# 300 connections dribbling their headers, trickling a declared body or
# sending nothing, from 30 addresses (10 each, under the per-address cap):
# the header and body deadlines cut them off, and none of them holds one
# of civetweb's 4 workers.
out=$(timeout 120 python3 "$gen" --port "$WPORT" --token "$whtoken" --path /webhook \
      --body "$TK_TMP/alert.json" --dribble 150 --trickle 50 --idle 100 \
      --addrs 127.0.0.2-127.0.0.31 --tries 5 --gap 0.2 --settle 5 --timeout 8)
posts_ok "300 slow connections from 30 addresses" "$out"
# The same from Alertmanager's own address: the per-address cap makes room
# by cutting the oldest unfinished request.
out=$(timeout 120 python3 "$gen" --port "$WPORT" --token "$whtoken" --path /webhook \
      --body "$TK_TMP/alert.json" --dribble 200 --trickle 0 --idle 100 \
      --addrs 127.0.0.1 --tries 5 --gap 0.2 --settle 5 --timeout 8)
posts_ok "300 slow connections from the POSTs' address" "$out"
check "the webhooks were handled" test "$(grep -c 'alert Hostile (instance .*) resolved' "$WLOG")" -ge 10
check "slow clients are logged, once per address per minute at most" \
    test "$(grep -c 'slow client 127\.0\.0\.17:' "$WLOG")" -eq 1
kill -TERM "$WPID"; wait "$WPID"; rc=$?; WPID=
check "SIGTERM: exit 0 ($rc)" test "$rc" -eq 0
check "the socket's directory is removed at exit" test -n "$internal" -a ! -e "$(dirname "${internal:-/x/x}")"
finish
