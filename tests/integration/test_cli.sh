#!/usr/bin/env bash
# takhin-profiler collecting from a real takhind: every -type and -type all
# (instant profiles in parallel with the CPU profile, then the trace), the
# default file names and summary lines, -analyze and -flamegraph after
# collecting, the server's own error messages, exit codes, the bearer
# token, and the progress bar (on a terminal only).
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof
TP=$BUILD/takhin-profiler
out=$TK_TMP/out
mkdir -p "$out"

# A CPU-bound producer: a paced workload may give a 1 s CPU profile no
# sample at all (ITIMER_PROF counts the process's CPU time, little here).
TK_RATE=0 write_config "$TK_TMP/takhin.yaml" "  producers: 1"
start_server cli "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_MUTEX_FRACTION=1 \
    TAKHIN_PROFILER_BLOCK_RATE=1 || { not_ok "takhind starts"; finish; }
# Contention sampling on at run time too, where the admin command exists.
admin profiler set mutex_fraction 1 >/dev/null 2>&1
admin profiler set block_rate 1 >/dev/null 2>&1
remote=127.0.0.1:$(profiler_port)
# A sanitized build (make check-sanitize) has no tcmalloc: heap and allocs
# answer 501, which the CLI must report (exit 4 with the server's reason).
types="cpu heap allocs goroutine block mutex trace wall"
if sanitized; then
    types="cpu goroutine block mutex trace wall"
    for t in heap allocs; do
        msg=$("$TP" -remote "$remote" -type $t -output "$out/san.$t" 2>&1)
        check "sanitized build: -type $t exits 4 with the server's 501 ($msg)"             bash -c '[ "$1" -eq 4 ] && grep -q "501 Not Implemented: heap profiling needs tcmalloc" <<<"$2"' \
            _ $? "$msg"
    done
fi

# ---- one type at a time ----
declare -A ext=([cpu]=pb.gz [heap]=pb.gz [allocs]=pb.gz [goroutine]=pb.gz [block]=pb.gz
                [mutex]=pb.gz [trace]=json [wall]=pb.gz)
for t in $types; do
    line=$("$TP" -remote "$remote" -type $t -duration 1s -output-dir "$out" 2>"$TK_TMP/err.$t")
    rc=$?
    echo "# $line"
    check "-type $t exits 0 ($(head -c 300 "$TK_TMP/err.$t"))" test $rc -eq 0
    file=$(echo "$line" | awk '{print $2}')
    check "-type $t: the file is named takhin_${t}_YYYYMMDD_HHMMSS.${ext[$t]}" \
        bash -c "[[ \$(basename '$file') =~ ^takhin_${t}_[0-9]{8}_[0-9]{6}\\.${ext[$t]//./\\.}\$ ]]"
    check "-type $t: the file is there, its size as the summary says" \
        test "$(stat -c %s "$file" 2>/dev/null)" = "$(echo "$line" | awk '{print $3}')"
    n=$(echo "$line" | awk '{print $5}')
    case $t in
        heap|allocs) check "-type $t: the summary counts its samples ($n)" test -n "$n" ;;
        *) check "-type $t: it has samples ($n)" test "${n:-0}" -gt 0 ;;
    esac
done
check "no temporary file is left" test -z "$(find "$out" -name '*.part*')"

# ---- -type all ----
start=$(date +%s%N)
all=$("$TP" -remote "$remote" -type all -duration 2s -output-dir "$out/all" 2>&1)
rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
echo "$all" | sed 's/^/# /'
ntypes=$(wc -w <<<"$types")
if sanitized; then
    check "-type all exits 4 (heap and allocs: 501)" test $rc -eq 4
else
    check "-type all exits 0" test $rc -eq 0
fi
check "-type all: one summary line per type, in order" \
    test "$(echo "$all" | awk '/^[a-z]+ +\// {print $1}' | tr '\n' ' ')" = "$types "
check "-type all writes $ntypes files" test "$(ls "$out/all" | wc -l)" -eq "$ntypes"
# ptime FILE: a profile's Time in Unix seconds (go tool pprof -raw).
ptime() { date -d "$(go tool pprof -raw "$1" 2>/dev/null | sed -nE 's/^Time: (.*) UTC$/\1/p')" +%s.%N; }
cpu_t=$(ptime "$(ls "$out"/all/takhin_cpu_*.pb.gz)")
inst_t=$(ptime "$(ls "$out"/all/takhin_goroutine_*.pb.gz)")
check "-type all: instant profiles are taken while the CPU one runs (goroutine at +$(
        awk -v a="$cpu_t" -v b="$inst_t" 'BEGIN {printf "%.2f", b - a}') s of its 2 s)" \
    awk -v a="${cpu_t:-0}" -v b="${inst_t:-0}" 'BEGIN { exit !(a > 0 && b >= a - 0.5 && b < a + 2) }'
check "-type all: CPU profile and trace did not overlap (${took} ms >= 4 s)" \
    test "$took" -ge 4000

# ---- reports and pictures after collecting ----
rep=$("$TP" -remote "$remote" -type cpu -duration 1s -output "$out/a.pb.gz" -analyze -flamegraph \
      -top 5 2>"$TK_TMP/err.a")
check "-analyze prints the report" contains "$rep" "      flat  flat%   sum%        cum   cum%"
check "-analyze names the kind" contains "$rep" "Profile: cpu"
check "-flamegraph draws next to the profile" test -s "$out/a.svg"
check "and says where" grep -q "flame graph: $out/a.svg" "$TK_TMP/err.a"
if ! sanitized; then
    rep=$("$TP" -remote "$remote" -type heap -output "$out/h.pb.gz" -analyze 2>/dev/null)
    check "a heap report has in-use and allocated sections" \
        bash -c 'grep -q "== in-use memory" <<<"$1" && grep -q "== allocated memory" <<<"$1"' _ "$rep"
fi
rep=$("$TP" -remote "$remote" -type mutex -output "$out/m.pb.gz" -analyze 2>/dev/null)
check "a mutex report has delay and contentions" \
    bash -c 'grep -q "Type: delay" <<<"$1" && grep -q "Type: contentions" <<<"$1"' _ "$rep"
rep=$("$TP" -remote "$remote" -type goroutine -output "$out/g.pb.gz" -analyze 2>/dev/null)
check "a goroutine report lists the top stacks" contains "$rep" "== top stacks:"

# ---- errors ----
port=$(free_port)
msg=$("$TP" -remote 127.0.0.1:$port -type heap -output "$out/x" 2>&1)
check "refused connection: exit 3" test $? -eq 3
check "with a clear message ($msg)" contains "$msg" "refused"
msg=$("$TP" -remote 127.0.0.1:$port -type all -output-dir "$out" 2>&1)
check "-type all against nothing: exit 3, one message" \
    test $? -eq 3 -a "$(echo "$msg" | grep -c refused)" -eq 1
msg=$("$TP" -remote no-such-host.invalid:6060 -type heap -output "$out/x" 2>&1)
check "unknown host: exit 3 ($msg)" test $? -eq 3
check "with a clear message" contains "$msg" "unknown host no-such-host.invalid"
msg=$("$TP" -remote "127.0.0.1:x" 2>&1)
check "bad address: usage error, exit 2 ($msg)" test $? -eq 2
msg=$("$TP" -remote "$remote" -type cpu -duration 500s -output "$out/x" 2>&1)
check "the server refuses a too long profile: exit 4" test $? -eq 4
check "the status and the server's own message are printed ($msg)" \
    bash -c 'grep -q "server answered 400" <<<"$1" && grep -q "limit of 120 s" <<<"$1"' _ "$msg"
check "nothing is left of the refused profile" test ! -e "$out/x"
msg=$("$TP" -remote "$remote" -type cpu -duration 1s -output "$out/y" -sample-rate 500 2>&1)
check "-sample-rate on a server: a note, not an error" contains "$msg" "-sample-rate is not sent"

# ---- progress bar ----
"$TP" -remote "$remote" -type cpu -duration 1s -output "$out/p1.pb.gz" 2>"$TK_TMP/notty"
check "no progress bar when stderr is not a terminal" bash -c "! grep -q 'left' '$TK_TMP/notty'"
script -qec "$TP -remote $remote -type cpu -duration 2s -output $out/p2.pb.gz" /dev/null \
    >"$TK_TMP/tty" 2>&1
check "a progress bar with the time left on a terminal" grep -q "\[#*\.*\] *[0-9]s left" "$TK_TMP/tty"

# ---- Ctrl-C while a profile runs: no partial file ----
mkdir -p "$out/int"
"$TP" -remote "$remote" -type cpu -duration 10s -output-dir "$out/int" 2>/dev/null &
pid=$!
sleep 1
check "a download in progress has a temporary file" test -n "$(ls "$out/int")"
kill -INT $pid
wait $pid
check "Ctrl-C ends it (exit 130)" test $? -eq 130
check "and removes the temporary file" test -z "$(ls "$out/int")"
stop_server

# ---- bearer token ----
start_server auth "$TK_TMP/takhin.yaml" TAKHIN_PROFILER_AUTH_TOKEN=s3cret-token \
    || { not_ok "takhind with a token starts"; finish; }
remote=127.0.0.1:$(profiler_port)
msg=$("$TP" -remote "$remote" -type goroutine -output "$out/t0" 2>&1)
check "without a token: exit 4" test $? -eq 4
check "and the message says a token is wanted ($msg)" contains "$msg" "401"
check "with a hint" contains "$msg" "-token or \$TAKHIN_PROFILER_TOKEN"
"$TP" -remote "$remote" -type goroutine -token s3cret-token -output "$out/t1" >/dev/null 2>&1
check "-token is sent as a bearer token" test $? -eq 0
TAKHIN_PROFILER_TOKEN=s3cret-token "$TP" -remote "$remote" -type goroutine -output "$out/t2" \
    >/dev/null 2>&1
check "so is \$TAKHIN_PROFILER_TOKEN" test $? -eq 0
msg=$("$TP" -remote "$remote" -type goroutine -token wrong -output "$out/t3" 2>&1)
check "a wrong token: exit 4, the token was refused" \
    bash -c '[ "$1" -eq 4 ] && grep -q "token was refused" <<<"$2"' _ $? "$msg"
msg=$("$TP" -remote "$remote" -type all -output-dir "$out" 2>&1)
check "-type all without the token: one message, exit 4" \
    test $? -eq 4 -a "$(echo "$msg" | grep -c 401)" -eq 1
stop_server
finish
