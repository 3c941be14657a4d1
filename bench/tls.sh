#!/usr/bin/env bash
# What TLS costs a client of the profiler port (issue 15): the same
# requests to three takhind in one run, side by side, interleaved so that
# load and clock drift hit each alike: plain HTTP, https (TLS terminated
# by the front, ECDSA P-256 certificate) and https with a client
# certificate (mTLS). Each request is a new connection (the port has no
# keep-alive, the TLS side no session resumption), ten from one curl at a
# time: curl's time_total per request, and for TLS the handshake alone (time_appconnect -
# time_connect). Paths: /debug/pprof/cmdline (tiny: the handshake
# dominates) and /debug/pprof/heap (a profile). p50 and p99.
#   bench/tls.sh [REQUESTS per path and mode (default 200)]
source "$(dirname "$0")/lib.sh"
n=${1:-200}
pki=$B_TMP/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=bench CA" -keyout "$pki/ca.key" -out "$pki/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
for who in server client; do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$who" \
        -keyout "$pki/$who.key" -out "$pki/$who.csr" 2>/dev/null
    if [ $who = server ]; then ext="subjectAltName=IP:127.0.0.1"; else ext="extendedKeyUsage=clientAuth"; fi
    openssl x509 -req -in "$pki/$who.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
        -days 2 -extfile <(echo "$ext") -out "$pki/$who.pem" 2>/dev/null
done
chmod 600 "$pki"/*.key

# start MODE EXTRA_YAML: a takhind of its own per mode; sets PORT_<MODE>.
pids=()
start() {
    local mode=$1 dir=$B_TMP/$1
    mkdir -p "$dir"
    cat >"$dir/takhin.yaml" <<YAML
plugins:
  - name: profiler
    path: $ROOT/$BUILD/profiler.so
profiler:
  enabled: true
  port: 0
$2
demo:
  rate: 1000
YAML
    TMPDIR=$dir TAKHIN_ADMIN_SOCKET=$dir/admin.sock "$BUILD/takhind" -c "$dir/takhin.yaml" \
        2>"$dir/log" &
    pids+=($!)
    for _ in $(seq 100); do
        "$BUILD/takhin-admin" -s "$dir/admin.sock" help >/dev/null 2>&1 && break
        sleep 0.1
    done
    printf -v "PORT_$mode" '%s' "$("$BUILD/takhin-admin" -s "$dir/admin.sock" profiler status |
        sed -nE 's/.*"listen":"[^"]*:([0-9]+)".*/\1/p')"
}
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$B_TMP"' EXIT
tls="  tls:
    cert: $pki/server.pem
    key: $pki/server.key"
start plain ""
start tls "$tls"
start mtls "$tls
    client_ca: $pki/ca.pem"

# batch MODE PATH COUNT: "time_total handshake" in ms, a line per request:
# COUNT requests from one curl (one OpenSSL set-up on the client's side,
# as a scraper has; a new connection and a full handshake each).
batch() {
    local url args=()
    case $1 in
        plain) url=http://127.0.0.1:$PORT_plain ;;
        tls) url=https://127.0.0.1:$PORT_tls args=(--cacert "$pki/ca.pem") ;;
        mtls) url=https://127.0.0.1:$PORT_mtls
              args=(--cacert "$pki/ca.pem" --cert "$pki/client.pem" --key "$pki/client.key") ;;
    esac
    local urls=() i
    for i in $(seq "$3"); do urls+=("$url$2" -o /dev/null); done
    curl -sS --max-time 60 "${args[@]}" \
        -w '%{http_code} %{time_total} %{time_connect} %{time_appconnect}\n' "${urls[@]}" |
        awk -v m="$1" '$1 != 200 { print "bench/tls.sh: " m " got " $1 > "/dev/stderr"; next }
                       { hs = $4 > 0 ? ($4 - $3) * 1e3 : 0; printf "%.3f %.3f\n", $2 * 1e3, hs }'
}
# report LABEL COLUMN FILE: p50 and p99 (nearest rank) of a column.
report() {
    awk -v c="$2" '{ print $c }' "$3" | sort -g | awk -v n="$1" '{ v[NR] = $1 }
        END { p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)];
              printf "%-34s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (n=%d)\n", n, p50, p99, v[NR], NR }'
}

for path in /debug/pprof/cmdline /debug/pprof/heap; do
    for mode in plain tls mtls; do batch $mode "$path" 2 >/dev/null; done # warm up
    : >"$B_TMP/t-plain" && : >"$B_TMP/t-tls" && : >"$B_TMP/t-mtls"
    for _ in $(seq $(((n + 9) / 10))); do
        for mode in plain tls mtls; do batch $mode "$path" 10 >>"$B_TMP/t-$mode"; done
    done
    echo "$path, a new connection per request:"
    report "  plain HTTP, request" 1 "$B_TMP/t-plain"
    report "  https, request (handshake incl.)" 1 "$B_TMP/t-tls"
    report "  https, handshake alone" 2 "$B_TMP/t-tls"
    report "  mTLS, request (handshake incl.)" 1 "$B_TMP/t-mtls"
    report "  mTLS, handshake alone" 2 "$B_TMP/t-mtls"
done
