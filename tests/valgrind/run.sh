#!/usr/bin/env bash
# make valgrind: the profiler plugin loaded, used and unloaded in the
# reference server under valgrind's memcheck, and then in unload_host
# (tests/soak/unload_host.c: load, use, unload in one process, signals
# after). Fails on any memcheck error and on any definite or indirect leak
# that the suppressions (tests/valgrind/takhin.supp, each with its reason:
# third-party libraries only) do not cover. Loopback only.
#
# takhind runs on tcmalloc; --soname-synonyms makes memcheck replace
# tcmalloc's malloc with its own, so every allocation is tracked (tcmalloc's
# hooks then never fire: the heap endpoints answer empty profiles, which is
# fine here: this is about memory errors and leaks).
#
# takhind is started RUNS (default 2) times (each run loads the plugin at
# start and unloads it at exit); in each, CYCLES (default 3) times: enable,
# a 1 s CPU profile, thread dumps, heap, allocs, mutex, block, a trace,
# symbol lookups, the index and /metrics, then disable; then SIGTERM (the
# host stops, finis and unloads the plugin) and memcheck's leak check at
# exit.
#   tests/valgrind/run.sh            (after make all $BUILD/soak/unload_host)
source "$(dirname "$0")/../integration/lib.sh"
CYCLES=${VALGRIND_CYCLES:-3} RUNS=${VALGRIND_RUNS:-2}
out=$BUILD/valgrind
mkdir -p "$out"
rm -f "$out"/*.log
vg=(valgrind --tool=memcheck --soname-synonyms=somalloc=*tcmalloc*
    --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
    --track-origins=no --num-callers=30 --error-exitcode=99
    --show-mismatched-frees=no --child-silent-after-fork=yes
    --suppressions="$ROOT/tests/valgrind/takhin.supp" --gen-suppressions=all)

quiet() { "$@" >/dev/null; }

# summary LOG: "E errors, definite D, indirect I bytes" from memcheck's log.
summary() {
    local e d i
    e=$(sed -nE 's/.*ERROR SUMMARY: ([0-9,]+) errors.*/\1/p' "$1" | tail -1)
    d=$(sed -nE 's/.*definitely lost: ([0-9,]+) bytes.*/\1/p' "$1" | tail -1)
    i=$(sed -nE 's/.*indirectly lost: ([0-9,]+) bytes.*/\1/p' "$1" | tail -1)
    echo "${e:-?} errors, definitely lost ${d:-0} bytes, indirectly lost ${i:-0} bytes"
}

port=$(free_port)
{
    profiler_yaml false "$port"
    cat <<YAML
  mutex_fraction: 1
  block_rate: 1
demo:
  rate: 50
log:
  level: warn
YAML
} >"$TK_TMP/vg.yaml"
for run in $(seq "$RUNS"); do
    SERVER_SOCK=$TK_TMP/vg.sock SERVER_LOG=$out/takhind.stderr
    TAKHIN_ADMIN_SOCKET=$SERVER_SOCK "${vg[@]}" --log-file="$out/takhind.$run.log" \
        "$BUILD/takhind" -c "$TK_TMP/vg.yaml" 2>"$SERVER_LOG" &
    SERVER_PID=$!
    TK_PIDS+=("$SERVER_PID")
    for _ in $(seq 300); do
        admin help >/dev/null 2>&1 && break
        sleep 0.2
    done
    check "run $run: takhind starts under valgrind" quiet admin help
    get() { curl -s -o /dev/null -w '%{http_code}' --max-time 120 "$@"; }
    for c in $(seq "$CYCLES"); do
        check "run $run, cycle $c: enable" quiet admin profiler enable
        codes=""
        for path in "profile?seconds=1" "goroutine?debug=2" "goroutine" "heap" "allocs?debug=1" \
                    "mutex" "block?debug=1" "trace?seconds=0.5" "" "cmdline" "goroutine?seconds=1"; do
            codes+="$(get "http://127.0.0.1:$port/debug/pprof/$path") "
        done
        codes+="$(get --data-binary '0x401000+0x7f0000001000+12345' "http://127.0.0.1:$port/debug/pprof/symbol") "
        codes+="$(get "http://127.0.0.1:$port/metrics")"
        check "run $run, cycle $c: every endpoint answers 200 ($codes)" bash -c '! grep -qvE "^(200 )*200$" <<<"$1"' _ "$codes"
        check "run $run, cycle $c: disable" quiet admin profiler disable
    done
    kill -TERM "$SERVER_PID"
    for _ in $(seq 600); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    wait "$SERVER_PID"
    rc=$?
    echo "# takhind run $run: $(summary "$out/takhind.$run.log") (memcheck log: $out/takhind.$run.log)"
    check "run $run: takhind under valgrind: exit 0, no memcheck error, no leak of ours (exit $rc)" test "$rc" -eq 0

done

write_unload_config "$TK_TMP/unload.yaml"
"${vg[@]}" --log-file="$out/unload_host.log" "$BUILD/soak/unload_host" "$TK_TMP/unload.yaml" "${VALGRIND_UNLOAD_CYCLES:-3}" \
    >"$out/unload_host.out" 2>&1
rc=$?
grep -v '^ok' "$out/unload_host.out" | sed 's/^/# /'
echo "# unload_host: $(summary "$out/unload_host.log") (memcheck log: $out/unload_host.log)"
check "unload_host under valgrind: load, use, unload, signals; no error, no leak of ours (exit $rc)" \
    test "$rc" -eq 0
finish
