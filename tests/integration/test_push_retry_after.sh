#!/usr/bin/env bash
# Push honours Retry-After (issue 23, row 9): a receiver answering 429 with
# Retry-After: 3600, then with an HTTP date a day ahead, gets its retry
# after profiler.push.max_retry_after (2 s here), not after the backoff's
# half second, and the status says why.
source "$(dirname "$0")/lib.sh"

# A receiver that answers every /ingest 429 with the Retry-After of its
# mode (GET /mode?m=seconds|date), logging the monotonic time of each.
cat >"$TK_TMP/recv.py" <<'PY'
import email.utils, http.server, sys, time
mode = ["seconds"]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        mode[0] = self.path.split("m=", 1)[1]
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[1], "a") as f:
            f.write("%s %.3f\n" % (mode[0], time.monotonic()))
        ra = "3600" if mode[0] == "seconds" else email.utils.formatdate(time.time() + 86400, usegmt=True)
        body = b"slow down (test)"
        self.send_response(429); self.send_header("Retry-After", ra)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
PY
python3 "$TK_TMP/recv.py" "$TK_TMP/posts" >"$TK_TMP/recv.port" 2>"$TK_TMP/recv.err" &
TK_PIDS+=("$!")
for _ in $(seq 300); do [ -s "$TK_TMP/recv.port" ] && break; sleep 0.1; done
rport=$(head -1 "$TK_TMP/recv.port")

{
    profiler_yaml true 0
    cat <<YAML
  push:
    url: http://127.0.0.1:$rport
    interval: 1s
    timeout: 1s
    types: goroutine
    max_retry_after: 2s
YAML
} >"$TK_TMP/push.yaml"
start_server push "$TK_TMP/push.yaml" || { not_ok "takhind starts with push on"; finish; }

status_shows() { # status_shows TEXT: the profiler's status comes to show TEXT within 30 s
    for _ in $(seq 150); do
        admin profiler status | grep -qF -- "$1" && break
        sleep 0.2
    done
    contains "$(admin profiler status)" "$1"
}
# min_gap MODE: the shortest time between two posts in MODE, in s.
min_gap() {
    awk -v m="$1" '$1 == m { if (n++) { g = $2 - t; if (min == "" || g < min) min = g } t = $2 }
                   END { print (min == "" ? "none" : min) }' "$TK_TMP/posts"
}
posts() { awk -v m="$1" '$1 == m' "$TK_TMP/posts" 2>/dev/null | wc -l; }
# spaced MODE: once two posts of MODE came, no two are closer than the 2 s
# max_retry_after lets the receiver ask (waiting longer is fine).
spaced() {
    eventually 15 test_posts "$1" 2
    local gap
    gap=$(min_gap "$1")
    check "$1: no two posts closer than 2 s ($(posts "$1") posts, closest ${gap} s apart)" \
        awk -v g="$gap" 'BEGIN { exit !(g != "none" && g >= 1.9) }'
}
test_posts() { [ "$(posts "$1")" -ge "$2" ]; }

check "429 with Retry-After: 3600: the retry waits push.max_retry_after" \
    status_shows "retrying in 2.0 s (Retry-After: 3600 s, capped by push.max_retry_after)"
spaced seconds

curl -s "http://127.0.0.1:$rport/mode?m=date" >/dev/null
check "429 with Retry-After as an HTTP date a day ahead: capped the same" \
    status_shows "(Retry-After: 8640"
spaced date
check "takhind stops cleanly" stop_server
finish
