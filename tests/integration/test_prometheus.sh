#!/usr/bin/env bash
# /metrics as Prometheus itself takes it: promtool's lint accepts the whole
# output, and Debian's real Prometheus scrapes it every second with the
# profiler's bearer token and answers queries on what it scraped. Also
# the process figures against what /proc says of takhind.
source "$(dirname "$0")/lib.sh"
token=prom-$RANDOM$RANDOM

# Prometheus is stopped (TERM, then KILL) and takhind killed at exit,
# whatever happened.
# stop_prometheus: non-zero when it had to be killed.
PROM_PID=
stop_prometheus() {
    [ -n "$PROM_PID" ] || return 0
    local i rc=1
    kill -TERM "$PROM_PID" 2>/dev/null
    for i in $(seq 100); do
        kill -0 "$PROM_PID" 2>/dev/null || { rc=0; break; }
        sleep 0.1
    done
    kill -KILL "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
    PROM_PID=
    return $rc
}
trap 'stop_prometheus; tk_cleanup' EXIT

{
    profiler_yaml true 0
    printf '  auth:\n    token: %s\n' "$token"
    printf 'demo:\n  rate: %s\n' "${TK_RATE:-1000}"
} >"$TK_TMP/takhin.yaml"
started=$(date +%s)
start_server prom "$TK_TMP/takhin.yaml" || { not_ok "takhind starts with a token"; finish; }
port=$(profiler_port)
metrics() { curl -sS --max-time 30 -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics"; }
# value NAME FILE: the sample of an unlabelled metric.
value() { awk -v n="$1" '$1 == n { print $2 }' "$2"; }

# Every family there is: a profile (the duration histogram), a refused
# request (auth failures), an unknown path (endpoint "other").
curl -s -o /dev/null -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/debug/pprof/profile?seconds=1"
curl -s -o /dev/null "http://127.0.0.1:$port/debug/pprof/"
curl -s -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/nope"
metrics >"$TK_TMP/metrics"

# ---- promtool ----
lint=$(promtool check metrics <"$TK_TMP/metrics" 2>&1)
rc=$?
echo "# promtool check metrics: exit $rc, output: ${lint:-(none)}"
check "promtool check metrics accepts the whole of /metrics" test "$rc" -eq 0 -a -z "$lint"
check "the histogram is in what promtool checked" \
    grep -q "^takhin_profiler_profile_duration_seconds_bucket" "$TK_TMP/metrics"

# ---- the process figures against /proc ----
grep -E '^(process_|takhin_profiler_tcmalloc_)' "$TK_TMP/metrics" | sed 's/^/# /'
for m in process_cpu_seconds_total:counter process_resident_memory_bytes:gauge \
         process_virtual_memory_bytes:gauge process_open_fds:gauge process_max_fds:gauge \
         process_start_time_seconds:gauge process_threads:gauge; do
    check "/metrics has ${m%%:*} (${m##*:})" grep -q "^# TYPE ${m%%:*} ${m##*:}$" "$TK_TMP/metrics"
done
start=$(value process_start_time_seconds "$TK_TMP/metrics")
check "process_start_time_seconds ($start) is when takhind started ($started)" \
    awk -v s="${start:-0}" -v t="$started" 'BEGIN { exit !(s >= t - 2 && s <= t + 30) }'
limit=$(awk '/^Max open files/ { print $4 }' "/proc/$SERVER_PID/limits")
check "process_max_fds is takhind's soft limit ($limit)" \
    test "$(value process_max_fds "$TK_TMP/metrics")" = "$limit"
read -r fds threads rss_kib < <(proc_figures "$SERVER_PID")
check "process_open_fds is near /proc's count ($(value process_open_fds "$TK_TMP/metrics") vs $fds)" \
    awk -v m="$(value process_open_fds "$TK_TMP/metrics")" -v p="$fds" \
        'BEGIN { exit !(m > 0 && m >= p - 8 && m <= p + 8) }'
check "process_threads is near /proc's count ($(value process_threads "$TK_TMP/metrics") vs $threads)" \
    awk -v m="$(value process_threads "$TK_TMP/metrics")" -v p="$threads" \
        'BEGIN { exit !(m > 0 && m >= p - 8 && m <= p + 8) }'
rss=$(value process_resident_memory_bytes "$TK_TMP/metrics")
check "process_resident_memory_bytes is near VmRSS ($rss vs $rss_kib KiB)" \
    awk -v m="${rss:-0}" -v p="$rss_kib" 'BEGIN { exit !(m >= p * 1024 / 2 && m <= p * 1024 * 2) }'
if sanitized; then
    check "no tcmalloc metrics without tcmalloc" \
        bash -c "! grep -q tcmalloc '$TK_TMP/metrics'"
else
    for m in allocated_bytes heap_size_bytes pageheap_free_bytes pageheap_unmapped_bytes; do
        check "/metrics has takhin_profiler_tcmalloc_$m" \
            grep -q "^takhin_profiler_tcmalloc_$m [0-9]" "$TK_TMP/metrics"
    done
    alloc=$(value takhin_profiler_tcmalloc_allocated_bytes "$TK_TMP/metrics")
    heap=$(value takhin_profiler_tcmalloc_heap_size_bytes "$TK_TMP/metrics")
    check "tcmalloc: 0 < allocated ($alloc) <= heap size ($heap)" \
        test "${alloc:-0}" -gt 0 -a "${alloc:-0}" -le "${heap:-0}"
fi

# ---- the real Prometheus ----
pport=$(free_port) || { not_ok "a free port for Prometheus"; finish; }
cat >"$TK_TMP/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: takhind
    metrics_path: /metrics
    authorization:
      credentials: $token
    static_configs:
      - targets: ['127.0.0.1:$port']
YAML
mkdir -p "$TK_TMP/tsdb"
prometheus --config.file="$TK_TMP/prometheus.yml" --storage.tsdb.path="$TK_TMP/tsdb" \
    --web.listen-address="127.0.0.1:$pport" >"$TK_TMP/prometheus.log" 2>&1 &
PROM_PID=$!
api="http://127.0.0.1:$pport/api/v1"

# query EXPR: the value of the first series of an instant query, or nothing.
query() {
    curl -s --max-time 5 --get --data-urlencode "query=$1" "$api/query" | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}
# wait_for SECONDS COMMAND...: polls the command until it succeeds, at
# most SECONDS (twice a second).
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        kill -0 "$PROM_PID" 2>/dev/null || return 1
        sleep 0.5
    done
}

ready() { test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$pport/-/ready")" = 200; }
if ! wait_for 30 ready; then
    not_ok "Prometheus starts on 127.0.0.1:$pport"
    sed 's/^/#   /' "$TK_TMP/prometheus.log"
    finish
fi
ok "Prometheus starts on 127.0.0.1:$pport"

up_is_1() { test "$(query 'up{job="takhind"}')" = 1; }
if wait_for 30 up_is_1; then
    ok "Prometheus scrapes /metrics with the token: up = 1"
else
    not_ok "Prometheus scrapes /metrics with the token: up = $(query 'up{job="takhind"}')"
    curl -s "$api/targets" | sed 's/^/#   /'
    echo
fi

cpu1=
have_cpu() { cpu1=$(query 'process_cpu_seconds_total{job="takhind"}'); test -n "$cpu1"; }
wait_for 30 have_cpu
cpu2=
cpu_rose() {
    cpu2=$(query 'process_cpu_seconds_total{job="takhind"}')
    awk -v a="${cpu1:-x}" -v b="${cpu2:-0}" 'BEGIN { exit !(a != "x" && b + 0 > a + 0) }'
}
if wait_for 30 cpu_rose; then
    ok "process_cpu_seconds_total rises between two queries ($cpu1 then $cpu2)"
else
    not_ok "process_cpu_seconds_total rises between two queries (${cpu1:-none} then ${cpu2:-none})"
fi
for q in process_resident_memory_bytes process_threads process_open_fds \
         process_start_time_seconds takhin_profiler_tcmalloc_allocated_bytes \
         'rate(process_cpu_seconds_total[5s])'; do
    echo "# Prometheus: $q = $(query "$q")"
done
pstart=$(query process_start_time_seconds)
check "Prometheus has process_start_time_seconds as scraped ($pstart)" \
    awk -v a="${pstart:-x}" -v b="${start:-y}" 'BEGIN { exit !(a != "x" && a + 0 == b + 0) }'

check "Prometheus stops on SIGTERM" stop_prometheus
check "takhind stops cleanly" stop_server
finish
