#!/usr/bin/env bash
# takhin-profiler on bad input files: empty, truncated, corrupt, of an
# unknown or unsupported format, without samples, missing. Each must end
# with exit 5 and a message naming the file and the problem, never a crash;
# then many random corruptions of a real profile, none of which may crash.
source "$(dirname "$0")/lib.sh"
TP=$BUILD/takhin-profiler
good=tests/unit/data/cli/go_cpu.pb.gz
d=$TK_TMP

# bad NAME EXPECTED_MESSAGE: makes $d/NAME beforehand; checks exit 5 + message.
bad() {
    local msg rc
    msg=$("$TP" -input "$d/$1" 2>&1 >/dev/null)
    rc=$?
    check "$1: exit 5 ($msg)" test $rc -eq 5
    check "$1: the message says: $2" contains "$msg" "$2"
}

: >"$d/empty.pb.gz"
bad empty.pb.gz "empty file"
head -c 1000 "$good" >"$d/truncated.pb.gz"
bad truncated.pb.gz "gzip: truncated"
gzip -dc "$good" | head -c 1500 | gzip >"$d/cut-inside.pb.gz"
msg=$("$TP" -input "$d/cut-inside.pb.gz" 2>&1 >/dev/null)
rc=$?
check "a profile cut inside, gzipped again: no crash, exit 0 or 5 ($rc: ${msg:0:160})" \
    test $rc -eq 0 -o $rc -eq 5
{ head -c 600 "$good"; head -c 400 /dev/urandom; tail -c +1001 "$good"; } >"$d/corrupt.pb.gz"
bad corrupt.pb.gz "gzip"
echo "not a profile at all, just some words" >"$d/words.txt"
bad words.txt "unknown format"
echo '{"traceEvents":[]}' >"$d/trace.json"
bad trace.json "a trace?"
printf 'goroutine profile: total 2\n2 @ 0x1 0x2\n' >"$d/debug1.txt"
bad debug1.txt "debug=0"
head -c 4096 /dev/urandom >"$d/random.bin"
bad random.bin "profile.proto"
printf 'heap profile: 1: 10 [ 1: 10] @ heapprofile\n 0: 5 [0: 0] @ 0x1\n' >"$d/heap.txt"
bad heap.txt "inuse count was 0 but inuse bytes was 5"
printf '\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00' >"$d/empty-gz.pb.gz"
bad empty-gz.pb.gz "empty after gunzip"
# A valid profile without samples.
printf '\x0a\x04\x08\x01\x10\x02\x32\x00\x32\x07samples\x32\x05count' >"$d/nosamples.pb"
bad nosamples.pb "no samples"
msg=$("$TP" -input "$d/does-not-exist.pb.gz" 2>&1)
check "a missing file: exit 5 and its name" \
    bash -c '[ "$1" -eq 5 ] && grep -q "does-not-exist.pb.gz: cannot open: No such file" <<<"$2"' _ $? "$msg"
msg=$("$TP" -input "$good" -sample-index nope 2>&1)
check "an unknown -sample-index: exit 2 ($msg)" test $? -eq 2
msg=$("$TP" -input "$good" -base "$d/words.txt" 2>&1)
check "a bad -base file: exit 5, named ($msg)" \
    bash -c '[ "$1" -eq 5 ] && grep -q "words.txt" <<<"$2"' _ $? "$msg"

# Random corruption of the uncompressed profile: never a crash.
gzip -dc "$good" >"$d/plain.pb"
size=$(stat -c %s "$d/plain.pb")
crashes=0 rejected=0
for i in $(seq 100); do
    cp "$d/plain.pb" "$d/fuzz.pb"
    for _ in 1 2 3; do
        printf "\\x$(printf %02x $((RANDOM % 256)))" |
            dd of="$d/fuzz.pb" bs=1 seek=$(( (RANDOM * 32768 + RANDOM) % size )) count=1 \
               conv=notrunc 2>/dev/null
    done
    "$TP" -input "$d/fuzz.pb" -top 5 >/dev/null 2>&1
    rc=$?
    [ $rc -ge 128 ] && crashes=$((crashes + 1))
    [ $rc -eq 5 ] && rejected=$((rejected + 1))
done
check "100 corrupted profiles: no crash ($rejected rejected with exit 5)" test $crashes -eq 0
finish
