# Helpers for integration tests: start the real takhind on loopback with
# its own admin socket and a free port, drive it over real sockets, and
# stop everything it started. Source it; call `finish` at the end.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
# Tests talk to loopback directly: no proxy from the caller's environment
# (takhin-profiler and curl both honour these); a test sets its own.
# takhind's Kafka listener on any free port: runs in parallel never fight
# over 9092 (a test that talks Kafka reads the port from `kafka status`).
export TAKHIN_KAFKA_LISTEN=${TAKHIN_KAFKA_LISTEN:-127.0.0.1:0}
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset DEBUGINFOD_URLS # takhin-profiler asks no debuginfod server unless a test starts one
TK_TMP=$(mktemp -d /tmp/tk-it-XXXXXX)
TK_PIDS=()
tk_n=0 tk_failed=0

tk_cleanup() {
    local pid
    for pid in "${TK_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    rm -rf "$TK_TMP"
}
trap tk_cleanup EXIT

ok()     { tk_n=$((tk_n + 1)); echo "ok $tk_n - $*"; }
not_ok() { tk_n=$((tk_n + 1)); tk_failed=$((tk_failed + 1)); echo "not ok $tk_n - $*"; }
# skip REASON: a check that could not run here, reported as skipped (TAP),
# never counted as passed.
skip()   { tk_n=$((tk_n + 1)); echo "ok $tk_n # SKIP $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# contains TEXT PART: true when PART occurs in TEXT; prints both otherwise.
contains() {
    case $1 in *"$2"*) return 0 ;; esac
    printf '  expected to find: %s\n  in: %s\n' "$2" "$1" >&2
    return 1
}
not_contains() { ! contains "$1" "$2" 2>/dev/null; }
finish() { [ "$tk_failed" -eq 0 ]; exit $?; }
# eventually LIMIT COMMAND...: runs the command every 0.2 s until it succeeds
# (status 0) or LIMIT seconds pass (status 1). Tests wait for an event this
# way, with a generous limit, never with a fixed sleep.
eventually() {
    local end=$((SECONDS + $1))
    shift
    until "$@" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.2
    done
}

# profiler_yaml ENABLED PORT: the start of a config that loads the profiler
# plugin; the caller goes on with more profiler keys, then other sections.
profiler_yaml() {
    cat <<YAML
plugins:
  - name: profiler
    path: $ROOT/$BUILD/profiler.so
profiler:
  enabled: $1
  port: $2
YAML
}

# write_unload_config FILE: the config of tests/soak/unload_host (no
# workload): the profiler plugin, on, on a free port.
write_unload_config() {
    {
        profiler_yaml true 0
        printf 'log:\n  level: warn\n'
    } >"$1"
}

# write_config FILE [EXTRA_YAML]: a config with the profiler plugin, the
# profiler on a free port (0), and a light workload.
write_config() {
    {
        profiler_yaml "${TK_ENABLED:-true}" 0
        cat <<YAML
demo:
  rate: ${TK_RATE:-1000}
${2:-}
YAML
    } >"$1"
}

# start_server NAME CONFIG [VAR=VALUE...]: starts takhind in the background
# (under the command TK_WRAP, when set)
# and waits until it has started: its admin channel answers `workload
# status`, which takhind registers once its plugins have started (`help`
# answers before, while a plugin may still fail or log). Sets SERVER_PID,
# SERVER_SOCK, SERVER_LOG. Returns non-zero when the server died or never
# answered.
start_server() {
    local name=$1 config=$2
    shift 2
    SERVER_SOCK=$TK_TMP/$name.sock SERVER_LOG=$TK_TMP/$name.log
    # TMPDIR: the profiler's private directory goes with the test's files,
    # also when the test kills the server.
    env TAKHIN_ADMIN_SOCKET="$SERVER_SOCK" TMPDIR="$TK_TMP" "$@" ${TK_WRAP:-} "${TK_BIN:-$BUILD/takhind}" -c "$config" \
        2>"$SERVER_LOG" &
    SERVER_PID=$!
    TK_PIDS+=("$SERVER_PID")
    local i
    for i in $(seq 300); do # 30 s: a loaded machine starts it slowly
        "$BUILD/takhin-admin" -s "$SERVER_SOCK" workload status >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SERVER_LOG" >&2; return 1; }
        sleep 0.1
    done
    cat "$SERVER_LOG" >&2
    return 1
}

# start_hidden_server NAME CONFIG [VAR=VALUE...]: start_server on a copy
# of takhind that is deleted once it runs. Its mappings then say
# "(deleted)", as after a package upgrade, and pprof cannot read the
# binary: every function name pprof prints came from the server.
start_hidden_server() {
    local bin=$TK_TMP/bin-$1
    mkdir -p "$bin" && cp "$BUILD/takhind" "$bin/takhind" || return 1
    TK_BIN=$bin/takhind start_server "$@" || return 1
    rm -f "$bin/takhind"
    grep -q "takhind (deleted)" "/proc/$SERVER_PID/maps"
}

# stop_server: SIGTERM, then the exit code of takhind (124 if it hung).
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null
    local i
    for i in $(seq 300); do # 30 s
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$SERVER_PID" 2>/dev/null && { kill -KILL "$SERVER_PID"; wait "$SERVER_PID"; return 124; }
    wait "$SERVER_PID"
}

admin() { "$BUILD/takhin-admin" -s "$SERVER_SOCK" "$@"; }

# profiler_port: the port the running profiler listens on (from status).
profiler_port() {
    admin profiler status | sed -nE 's/.*"listen":"[^"]*:([0-9]+)".*/\1/p'
}

# port_open PORT: true when something accepts TCP connections on it.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port nobody listens on now (random, checked).
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 12000)) # below the kernel's ephemeral range (32768-60999)
        port_open "$p" || { echo "$p"; return 0; }
    done
    return 1
}

# watch_port LOG: the port that `takhin-profiler watch -listen 127.0.0.1:0`
# wrote to LOG, once something listens there (30 s at most).
watch_port() {
    local p
    for _ in $(seq 300); do
        p=$(sed -nE 's|.*listening on http://127.0.0.1:([0-9]+)/.*|\1|p' "$1" 2>/dev/null)
        [ -n "$p" ] && port_open "$p" && { echo "$p"; return 0; }
        sleep 0.1
    done
    return 1
}

# json_field JSON NAME: a number, or a list joined by spaces, of a JSON
# object; nothing when it has none.
json_field() {
    python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(v if not isinstance(v, list) else " ".join(map(str, v)))' \
        "$1" "$2" 2>/dev/null
}

# http PATH [curl args...]: GET from the running profiler; body on stdout.
http() {
    local path=$1
    shift
    curl -sS --max-time 30 "$@" "http://127.0.0.1:$(profiler_port)$path"
}

# http_status PATH [curl args...]: only the status code.
http_status() { http "$1" -o /dev/null -w '%{http_code}' "${@:2}"; }

# proc_figures PID: "fds threads rss_kib" of a process.
proc_figures() {
    local fds threads rss
    fds=$(ls "/proc/$1/fd" | wc -l)
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$1/status")
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status")
    echo "$fds $threads $rss"
}

# True under make check-sanitize (ASan+UBSan build, takhind without
# tcmalloc: the heap and allocs profiles answer 501 there).
sanitized() { [ "${TK_SANITIZED:-0}" = 1 ]; }

# hold_port PORT: a helper process listens on 127.0.0.1:PORT (and accepts
# nothing) until killed. Sets HOLDER_PID (also killed at exit).
hold_port() {
    python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
time.sleep(600)' "$1" &
    HOLDER_PID=$!
    TK_PIDS+=("$HOLDER_PID")
    local i
    for i in $(seq 300); do
        port_open "$1" && return 0
        kill -0 "$HOLDER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# rawhttp_build: builds tests/integration/tools/rawhttp (one request byte
# for byte: half-close, reset, bytes curl never sends) into $RAWHTTP.
rawhttp_build() {
    RAWHTTP=$TK_TMP/rawhttp
    (cd tests/integration/tools/rawhttp && GO111MODULE=off GOCACHE=$TK_TMP/gocache \
        go build -o "$RAWHTTP" main.go) 2>"$TK_TMP/rawhttp-build.log" && return 0
    not_ok "tests/integration/tools/rawhttp builds ($(head -c 300 "$TK_TMP/rawhttp-build.log"))"
    return 1
}

# make_pki DIR: test certificates in DIR, made with openssl: a CA (ca),
# another CA (otherca), a server certificate of ca for 127.0.0.1 and
# localhost (server), a client of ca (client) and a client of otherca
# (stranger); NAME.pem and NAME.key each, keys mode 0600. Non-zero on
# failure (openssl's messages in DIR/log).
make_pki() {
    local pki=$1
    mkdir -p "$pki"
    pki_ca() {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj "/CN=takhin test $1" -keyout "$pki/$1.key" -out "$pki/$1.pem" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
            2>>"$pki/log"
    }
    pki_cert() { # NAME CA EXTENSIONS
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
            -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>>"$pki/log" &&
        printf '%s\n' "$3" >"$pki/$1.ext" &&
        openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.pem" -CAkey "$pki/$2.key" \
            -CAcreateserial -days 2 -extfile "$pki/$1.ext" -out "$pki/$1.pem" 2>>"$pki/log"
    }
    pki_ca ca && pki_ca otherca &&
        pki_cert server ca "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" &&
        pki_cert client ca "extendedKeyUsage=clientAuth" &&
        pki_cert stranger otherca "extendedKeyUsage=clientAuth" &&
        chmod 600 "$pki"/*.key
}

# start_alertmanager PORT: a real Alertmanager on 127.0.0.1:PORT with the
# config $TK_TMP/alertmanager.yml, no cluster port. Sets AM_PID; the
# caller stops it.
start_alertmanager() {
    mkdir -p "$TK_TMP/am"
    prometheus-alertmanager --config.file="$TK_TMP/alertmanager.yml" \
        --storage.path="$TK_TMP/am" --web.listen-address="127.0.0.1:$1" \
        --cluster.listen-address= >"$TK_TMP/alertmanager.log" 2>&1 &
    AM_PID=$!
}

# start_alerting_prometheus PORT AM_PORT TARGET_PORT TOKEN: a real
# Prometheus on 127.0.0.1:PORT scraping takhind's profiler port
# TARGET_PORT with TOKEN every second, evaluating $TK_TMP/rules.yml and
# alerting to the Alertmanager on AM_PORT. Sets PROM_PID; the caller
# stops it.
start_alerting_prometheus() {
    cat >"$TK_TMP/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [$TK_TMP/rules.yml]
alerting:
  alertmanagers:
    - static_configs: [{targets: ['127.0.0.1:$2']}]
scrape_configs:
  - job_name: takhind
    authorization: {credentials: $4}
    static_configs: [{targets: ['127.0.0.1:$3']}]
YAML
    mkdir -p "$TK_TMP/tsdb"
    prometheus --config.file="$TK_TMP/prometheus.yml" --storage.tsdb.path="$TK_TMP/tsdb" \
        --web.listen-address="127.0.0.1:$1" >"$TK_TMP/prometheus.log" 2>&1 &
    PROM_PID=$!
}
