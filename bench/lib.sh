# Helpers for benchmarks: start takhind, read its counters, summarize.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# takhind's Kafka listener on any free port: runs in parallel never fight
# over 9092 (a test that talks Kafka reads the port from `kafka status`).
export TAKHIN_KAFKA_LISTEN=${TAKHIN_KAFKA_LISTEN:-127.0.0.1:0}
B_TMP=$(mktemp -d /tmp/tk-bench-XXXXXX)
B_PID=""
trap '[ -n "$B_PID" ] && kill -TERM $B_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$B_TMP"' EXIT

# bench_config EXTRA_YAML: the config of bench_server (rewritten before a
# `config reload`).
bench_config() {
    cat >"$B_TMP/takhin.yaml" <<YAML
plugins:
  - name: profiler
    path: $ROOT/$BUILD/profiler.so
profiler:
  enabled: true
  port: 0
$1
YAML
}

# bench_server EXTRA_YAML: takhind with the profiler on a free port.
bench_server() {
    bench_config "$1"
    B_SOCK=$B_TMP/admin.sock
    TMPDIR=$B_TMP TAKHIN_ADMIN_SOCKET=$B_SOCK "$BUILD/takhind" -c "$B_TMP/takhin.yaml" 2>"$B_TMP/log" &
    B_PID=$!
    for _ in $(seq 100); do
        admin help >/dev/null 2>&1 && break
        sleep 0.1
    done
    B_PORT=$(admin profiler status | sed -nE 's/.*"listen":"[^"]*:([0-9]+)".*/\1/p')
}
admin() { "$BUILD/takhin-admin" -s "$B_SOCK" "$@"; }
produced() { admin workload status | sed -nE 's/.*"produced":([0-9]+).*/\1/p'; }

# CPU per record of bench_server's takhind, in windows of $secs seconds,
# in $pairs interleaved pairs (continuous_overhead.sh, flight_recorder.sh).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$B_PID/stat"; }
counters() { echo "$(produced) $(cpu_ticks) $(date +%s.%N)"; }
# per_record A B: CPU ticks per 1000 records between two counters.
per_record() {
    read -r n0 c0 _ <<<"$1"
    read -r n1 c1 _ <<<"$2"
    awk -v n=$((n1 - n0)) -v c=$((c1 - c0)) 'BEGIN { printf "%.5f", 1000 * c / n }'
}
ratio() { awk -v q="$1" -v p="$2" 'BEGIN { printf "%.4f", q / p }'; }
# pairs_of NAME ON OFF: PAIRS pairs of windows, `ON`/`OFF` run first.
pairs_of() {
    local name=$1 on=$2 off=$3 i p q r=()
    for i in $(seq "$pairs"); do
        if [ $((i % 2)) -eq 1 ]; then p=$($off); q=$($on); else q=$($on); p=$($off); fi
        kill -0 "$B_PID" 2>/dev/null || { echo "takhind died:"; tail -5 "$B_TMP/log"; exit 1; }
        r+=("$(ratio "$q" "$p")")
        echo "$name pair $i: off $p on $q ticks/1000 records: $(ratio "$q" "$p")"
    done
    summary "$name on/off: CPU per record" "${r[@]}"
}

# plain: one window with nothing else running: CPU ticks per 1000 records.
plain() { local a; a=$(counters); sleep "$secs"; per_record "$a" "$(counters)"; }
# profiled: the same with a CPU profile of the window's length running.
profiled() {
    local a pid
    a=$(counters)
    curl -s -o /dev/null -D "$B_TMP/headers" \
        "http://127.0.0.1:$B_PORT/debug/pprof/profile?seconds=$secs" &
    pid=$!
    sleep "$secs"
    per_record "$a" "$(counters)"
    wait "$pid"
}
# summary NAME VALUES...: min, median, max of the values.
summary() {
    local name=$1
    shift
    printf '%s\n' "$@" | sort -g | awk -v n="$name" '
        { v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
              printf "%-44s min %8.4f  median %8.4f  max %8.4f  (n=%d)\n", n, v[1], m, v[NR], NR }'
}

# build_measure: builds $B_TMP/measure; `$B_TMP/measure CMD...` prints
# "ELAPSED_S MAXRSS_KIB" of the command (its stdout discarded, wait4's rusage).
build_measure() {
    cat >"$B_TMP/measure.c" <<'EOF'
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    struct timespec a, b;
    struct rusage ru;
    int st;
    (void)argc;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    wait4(pid, &st, 0, &ru);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f %ld\n", (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, ru.ru_maxrss);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
EOF
    cc -O2 -o "$B_TMP/measure" "$B_TMP/measure.c"
}
