#!/usr/bin/env bash
# S3-compatible storage against a real server: npm's s3rver 3.7.1 (installed
# with npm into $BUILD/s3rver on first use; skipped, saying so, when npm
# cannot install it). Periodic capture uploads with libcurl's SigV4; the
# objects are read back with curl's own --aws-sigv4 and checked against the
# index; a wrong access key fails the capture with the server's answer.
source "$(dirname "$0")/lib.sh"
token=tk-$RANDOM$RANDOM
S3PID= PPID_=
stop_all() {
    local p
    for p in $S3PID $PPID_; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
trap 'stop_all; tk_cleanup' EXIT

s3rver=$BUILD/s3rver/node_modules/.bin/s3rver
if [ ! -x "$s3rver" ]; then
    mkdir -p "$BUILD/s3rver"
    (cd "$BUILD/s3rver" && timeout 300 npm install --no-audit --no-fund s3rver@3.7.1) \
        >"$TK_TMP/npm.log" 2>&1
fi
if [ ! -x "$s3rver" ]; then
    echo "# S3: skipped, npm could not install s3rver@3.7.1: $(tail -2 "$TK_TMP/npm.log" 2>/dev/null)"
    finish
fi

{ profiler_yaml true 0; printf '  auth:\n    token: %s\n' "$token"; } >"$TK_TMP/t.yaml"
start_server s3 "$TK_TMP/t.yaml" || { not_ok "takhind starts"; finish; }
port=$(profiler_port)
s3port=$(free_port) || { not_ok "a free port"; finish; }
"$s3rver" -d "$TK_TMP/s3data" -a 127.0.0.1 -p "$s3port" --configure-bucket profiles \
    --no-vhost-buckets -s >"$TK_TMP/s3rver.log" 2>&1 &
S3PID=$!
for _ in $(seq 100); do port_open "$s3port" && break; sleep 0.1; done
check "s3rver listens on 127.0.0.1:$s3port" port_open "$s3port"
s3get() { curl -sS --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "http://127.0.0.1:$s3port/profiles/$1"; }

AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER TMPDIR=$TK_TMP \
    "$BUILD/takhin-profiler" -remote "127.0.0.1:$port" -token "$token" -every 60s -type heap \
    -output s3://profiles/takhin -s3-endpoint "http://127.0.0.1:$s3port" 2>"$TK_TMP/p.log" &
PPID_=$!
for _ in $(seq 100); do grep -qE "captured heap|failed" "$TK_TMP/p.log" && break; sleep 0.1; done
sed 's/^/# /' "$TK_TMP/p.log"
check "a periodic capture is uploaded" grep -q "captured heap" "$TK_TMP/p.log"
keys=$(s3get "?list-type=2&prefix=takhin/" | grep -oE '<Key>[^<]*</Key>' | sed -E 's/<\/?Key>//g')
echo "$keys" | sed 's/^/# key: /'
obj=$(echo "$keys" | grep '_periodic_heap.pb.gz$' | head -1)
idx=$(echo "$keys" | grep '/index.jsonl$' | head -1)
check "the object's key is PREFIX/<target>/<date>/<HHMMSS>_periodic_heap.pb.gz ($obj)" \
    bash -c "[[ '$obj' =~ ^takhin/127.0.0.1_$port/[0-9]{4}-[0-9]{2}-[0-9]{2}/[0-9]{6}_periodic_heap.pb.gz$ ]]"
s3get "$obj" >"$TK_TMP/got.pb.gz"
s3get "$idx" >"$TK_TMP/index.jsonl"
echo "# index: $(cat "$TK_TMP/index.jsonl")"
check "the index beside it has the object's sha256" \
    grep -q "\"sha256\":\"$(sha256sum "$TK_TMP/got.pb.gz" | cut -d' ' -f1)\"" "$TK_TMP/index.jsonl"
check "takhin-profiler -input reads the downloaded object" \
    bash -c "'$BUILD/takhin-profiler' -input '$TK_TMP/got.pb.gz' >/dev/null"
check "the local spool keeps no profile" \
    test -z "$(find "$TK_TMP" -path '*takhin-profiler-spool-*' -name '*.pb.gz')"
kill -TERM "$PPID_"; wait "$PPID_"; rc=$?; PPID_=
check "SIGTERM: exit 0 ($rc)" test "$rc" -eq 0

# s3rver 3.7.1 checks the access key but, as tried here with curl's own
# --aws-sigv4 too, not the signature: a wrong key it refuses.
AWS_ACCESS_KEY_ID=WRONG AWS_SECRET_ACCESS_KEY=S3RVER TMPDIR=$TK_TMP \
    "$BUILD/takhin-profiler" -remote "127.0.0.1:$port" -token "$token" -every 60s -type heap \
    -output s3://profiles/takhin -s3-endpoint "http://127.0.0.1:$s3port" 2>"$TK_TMP/w.log" &
PPID_=$!
for _ in $(seq 100); do grep -qE "captured heap|failed" "$TK_TMP/w.log" && break; sleep 0.1; done
sed 's/^/# /' "$TK_TMP/w.log"
check "a wrong access key fails the capture with the server's answer" \
    grep -q "failed: S3 PUT .*answered 403" "$TK_TMP/w.log"
err=$(env -u AWS_ACCESS_KEY_ID "$BUILD/takhin-profiler" -remote 127.0.0.1:1 -every 60s \
    -output s3://profiles/x -s3-endpoint http://127.0.0.1:1 2>&1)
check "no credentials: a usage error naming the variables ($err)" contains "$err" "AWS_ACCESS_KEY_ID"
finish
