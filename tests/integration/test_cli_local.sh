#!/usr/bin/env bash
# takhin-profiler profiling a command on this machine (-- COMMAND): CPU
# through libprofiler, heap through tcmalloc's heap profiler; the result is
# a symbolized profile.proto that go tool pprof reads with function names
# and no binary at hand; -sample-rate sets the CPU rate; commands that
# cannot run or leave no profile give exit 6 with the reason.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof TMPDIR=$TK_TMP
TP=$BUILD/takhin-profiler
tools=tests/integration/tools/cliwork
cc -O1 -g -fno-omit-frame-pointer -o "$TK_TMP/burn" $tools/burn.c
cc -O1 -g -fno-omit-frame-pointer -o "$TK_TMP/leak" $tools/leak.c

# ---- CPU ----
line=$("$TP" -type cpu -output "$TK_TMP/burn.pb.gz" -- "$TK_TMP/burn" 2>"$TK_TMP/err")
check "a CPU run exits 0 ($(head -c 300 "$TK_TMP/err"))" test $? -eq 0
echo "# $line"
check "with a summary line" contains "$line" "cpu       $TK_TMP/burn.pb.gz"
mv "$TK_TMP/burn" "$TK_TMP/burn.moved" # pprof must not need the binary
top=$(go tool pprof -top "$TK_TMP/burn.pb.gz" 2>&1)
echo "$top" | head -12 | sed 's/^/#   /'
for fn in fib spin main; do
    check "pprof reads the name $fn from the profile" contains "$top" " $fn"
done
check "the profile names the command" contains "$top" "command: $TK_TMP/burn"
mv "$TK_TMP/burn.moved" "$TK_TMP/burn"
"$TP" -type cpu -sample-rate 500 -output "$TK_TMP/burn500.pb.gz" -- "$TK_TMP/burn" >/dev/null 2>&1
check "-sample-rate 500 samples every 2 ms (CPUPROFILE_FREQUENCY)" \
    grep -q "^Period: 2000000$" <(go tool pprof -raw "$TK_TMP/burn500.pb.gz" 2>/dev/null)
check "the default is 100 Hz, every 10 ms" \
    grep -q "^Period: 10000000$" <(go tool pprof -raw "$TK_TMP/burn.pb.gz" 2>/dev/null)
rep=$("$TP" -type cpu -output "$TK_TMP/b2.pb.gz" -analyze -flamegraph -top 5 -- "$TK_TMP/burn" 2>&1)
check "-analyze reports the local run" contains "$rep" "      flat  flat%   sum%        cum   cum%"
check "-flamegraph draws it" test -s "$TK_TMP/b2.svg"

# ---- heap ----
line=$("$TP" -type heap -output "$TK_TMP/leak.pb.gz" -analyze -- "$TK_TMP/leak" 2>"$TK_TMP/err")
check "a heap run exits 0 ($(head -c 300 "$TK_TMP/err"))" test $? -eq 0
check "its report shows the in-use memory" contains "$line" "== in-use memory"
check "and who keeps it: leaky" bash -c 'grep -E "^ +3\.91MB .* leaky" <<<"$1"' _ "$line"
top=$(go tool pprof -top -sample_index=inuse_space "$TK_TMP/leak.pb.gz" 2>&1)
check "pprof reads the heap profile with names ($(grep leaky <<<"$top"))" contains "$top" "leaky"
check "pprof drops the allocator's frames as we do" bash -c '! grep -q "tc_malloc\|malloc$" <<<"$1"' _ "$top"

# ---- failures ----
msg=$("$TP" -type cpu -output "$TK_TMP/x.pb.gz" -- "$TK_TMP/no-such-program" 2>&1)
check "a command that does not exist: exit 6" test $? -eq 6
check "and says why ($msg)" contains "$msg" "cannot run $TK_TMP/no-such-program: No such file"
msg=$("$TP" -type cpu -output "$TK_TMP/x.pb.gz" -- dash -c 'i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done' 2>&1)
check "a command ending with _exit (dash) leaves no profile: exit 6 ($msg)" \
    bash -c '[ "$1" -eq 6 ] && grep -q "_exit" <<<"$2"' _ $? "$msg"
msg=$("$TP" -type cpu -output "$TK_TMP/x.pb.gz" -- bash -c 'kill -KILL $$' 2>&1)
check "a command killed by a signal: exit 6, the signal named ($msg)" \
    bash -c '[ "$1" -eq 6 ] && grep -q "signal 9" <<<"$2"' _ $? "$msg"
msg=$("$TP" -type cpu -output "$TK_TMP/st.pb.gz" -- bash -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3' 2>&1)
check "a command failing after its work: the profile is written, exit 0" test $? -eq 0 -a -s "$TK_TMP/st.pb.gz"
check "with a note of its status" contains "$msg" "exited with status 3"
check "no temporary directory is left" test -z "$(ls -d "$TK_TMP"/takhin-profiler-* 2>/dev/null)"
finish
