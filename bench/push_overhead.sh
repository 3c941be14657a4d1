#!/usr/bin/env bash
# Cost of continuous push on the reference workload: one takhind, paired
# windows with push off and on (config reload turns it on and off: the
# same process, side by side in one run, alternating which goes first),
# pushing cpu, allocs, mutex and block at the default interval (15 s) to
# tests/integration/tools/pushrecv. The figure is CPU time per record,
# push on / push off (1.0 = free), which other load on a shared machine
# disturbs much less than throughput; also throughput on / off.
#   bench/push_overhead.sh [PAIRS] [WINDOW_SECONDS]
source "$(dirname "$0")/lib.sh"
pairs=${1:-4} secs=${2:-30}
RECV=$B_TMP/pushrecv
(cd tests/integration/tools/pushrecv && GO111MODULE=off GOPATH=/usr/share/gocode \
    GOCACHE=$B_TMP/gocache go build -o "$RECV" main.go) || exit 1
"$RECV" -port-file "$B_TMP/recv.port" -log "$B_TMP/recv.log" & RECV_PID=$!
for _ in $(seq 50); do [ -s "$B_TMP/recv.port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$B_TMP/recv.port")
common="  mutex_fraction: 5
  block_rate: 10000
demo:
  producers: 2"
bench_server "$common"
config=$B_TMP/takhin.yaml
cp "$config" "$B_TMP/off.yaml"
sed "s|^demo:|  push:\n    url: $url\n    types: cpu,allocs,mutex,block\ndemo:|" "$B_TMP/off.yaml" >"$B_TMP/on.yaml"
set_push() { cp "$B_TMP/$1.yaml" "$config"; admin config reload >/dev/null; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$B_PID/stat"; }
counters() { echo "$(produced) $(cpu_ticks) $(date +%s.%N)"; }
rate() {
    read -r n0 c0 t0 <<<"$1"
    read -r n1 c1 t1 <<<"$2"
    awk -v n=$((n1 - n0)) -v c=$((c1 - c0)) -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%d %.5f", n / (t1 - t0), 1000 * c / n }'
}
window() { set_push "$1"; sleep 1; local a b; a=$(counters); sleep "$secs"; b=$(counters); rate "$a" "$b"; }
ratio() { awk -v q="$1" -v p="$2" 'BEGIN { printf "%.4f", q / p }'; }
sleep 2
tput=() cpu=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then p=$(window off); q=$(window on)
    else q=$(window on); p=$(window off); fi
    read -r pr pc <<<"$p"
    read -r qr qc <<<"$q"
    tput+=("$(ratio "$qr" "$pr")") cpu+=("$(ratio "$qc" "$pc")")
    echo "pair $i: off $pr rec/s $pc ticks/1000 rec; on $qr rec/s $qc ticks/1000 rec"
done
kill "$RECV_PID"
echo "pushes received: $(grep -c '"status":200' "$B_TMP/recv.log"), e.g. $(grep '"status":200' "$B_TMP/recv.log" | head -1 | cut -c1-300)"
summary "push on/off: CPU per record (1.0 = free)" "${cpu[@]}"
summary "push on/off: throughput (1.0 = no loss)" "${tput[@]}"
