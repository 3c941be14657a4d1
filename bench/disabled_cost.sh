#!/usr/bin/env bash
# What the plugin costs when it is loaded but disabled (profiler.enabled:
# false), against no plugin at all. Three takhind processes run side by
# side, each with the reference workload (2 producers, demo.rate 0 = as
# fast as they go, when its turn comes):
#   none      no plugins: list
#   disabled  profiler.so loaded, profiler disabled, default settings: the
#             heap sampler's hooks are installed at plugin load whether or
#             not the HTTP side is enabled, so this includes heap sampling
#             at the default rate (524288)
#   nohooks   the same with heap_sample_bytes: 0 (no hooks): the plugin
#             loaded and nothing else
# In each window only one process works (demo.rate 0); the other two are
# throttled to 1 record/s by config reload. ROUNDS rounds of one window per
# process, the order rotating; per window: records/s and CPU time per
# record of that process. Ratios to `none` in the same round.
#   bench/disabled_cost.sh [ROUNDS [SECONDS]]
source "$(dirname "$0")/lib.sh"
rounds=${1:-5} secs=${2:-5}
modes=(none disabled nohooks)
declare -A pid sock
cfg() { # cfg MODE RATE
    local plugin="" prof=""
    if [ "$1" != none ]; then
        plugin="plugins:
  - name: profiler
    path: $ROOT/$BUILD/profiler.so"
        prof="profiler:
  enabled: false"
        [ "$1" = nohooks ] && prof+="
  heap_sample_bytes: 0"
    fi
    cat >"$B_TMP/$1.yaml" <<YAML
$plugin
$prof
demo:
  rate: $2
  producers: 2
log:
  level: warn
YAML
}
adm() { "$BUILD/takhin-admin" -s "${sock[$1]}" "${@:2}"; }
prod() { adm "$1" workload status | sed -nE 's/.*"produced":([0-9]+).*/\1/p'; }
ticks() { awk '{ print $14 + $15 }' "/proc/${pid[$1]}/stat"; }
for m in "${modes[@]}"; do
    cfg "$m" 1
    sock[$m]=$B_TMP/$m.sock
    TAKHIN_ADMIN_SOCKET=${sock[$m]} "$BUILD/takhind" -c "$B_TMP/$m.yaml" 2>"$B_TMP/$m.log" &
    pid[$m]=$!
done
trap 'for m in "${modes[@]}"; do kill -TERM ${pid[$m]} 2>/dev/null; done; wait 2>/dev/null; rm -rf "$B_TMP"' EXIT
for m in "${modes[@]}"; do
    for _ in $(seq 100); do adm "$m" help >/dev/null 2>&1 && break; sleep 0.1; done
done
hz=$(getconf CLK_TCK)
# window MODE: "records/s cpu_ms_per_1000_records"
window() {
    cfg "$1" 0
    adm "$1" config reload >/dev/null
    sleep 1
    local a b c0 c1 t0 t1
    a=$(prod "$1") c0=$(ticks "$1") t0=$(date +%s%N)
    sleep "$secs"
    b=$(prod "$1") c1=$(ticks "$1") t1=$(date +%s%N)
    cfg "$1" 1
    adm "$1" config reload >/dev/null
    awk -v n=$((b - a)) -v ns=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$hz" \
        'BEGIN { printf "%d %.4f", n / (ns / 1e9), 1e6 * c / hz / n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
declare -A rate cpu
dt=() dc=() nt=() nc=()
for r in $(seq "$rounds"); do
    order=("${modes[@]:$(( (r - 1) % 3 ))}" "${modes[@]:0:$(( (r - 1) % 3 ))}")
    line="round $r:"
    for m in "${order[@]}"; do
        read -r rate[$m] cpu[$m] <<<"$(window "$m")"
        line+=" $m ${rate[$m]} rec/s ${cpu[$m]} ms CPU/1000 rec;"
    done
    echo "$line"
    dt+=("$(ratio "${rate[disabled]}" "${rate[none]}")") dc+=("$(ratio "${cpu[disabled]}" "${cpu[none]}")")
    nt+=("$(ratio "${rate[nohooks]}" "${rate[none]}")") nc+=("$(ratio "${cpu[nohooks]}" "${cpu[none]}")")
done
summary "throughput ratio, loaded+disabled / none" "${dt[@]}"
summary "CPU-per-record ratio, loaded+disabled / none" "${dc[@]}"
summary "throughput ratio, loaded+disabled+no hooks / none" "${nt[@]}"
summary "CPU-per-record ratio, loaded+disabled+no hooks / none" "${nc[@]}"
