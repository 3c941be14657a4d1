#!/usr/bin/env bash
# The scrape contract, tested the way Grafana Alloy (pyroscope.scrape) and
# Parca scrape: both default jobs replayed together for SCRAPE_SECONDS
# against a takhind whose binary is deleted, so every name comes from the
# server (tests/integration/tools/scrapecheck says what is checked), then
# the last profiles read with go tool pprof. The default run replays the
# jobs at 3 s (Alloy) and 2 s (Parca) for 20 s; `make soak` replays them at
# their real intervals, 15 s and 10 s, for 125 s:
#   SCRAPE_SECONDS=125 SCRAPE_ALLOY_EVERY=15 SCRAPE_PARCA_EVERY=10
source "$(dirname "$0")/lib.sh"

CHECK=$TK_TMP/scrapecheck
if ! (cd tests/integration/tools/scrapecheck && GO111MODULE=off GOPATH=/usr/share/gocode \
        GOCACHE=$TK_TMP/gocache go build -o "$CHECK" main.go) 2>"$TK_TMP/build.log"; then
    not_ok "tests/integration/tools/scrapecheck builds ($(head -c 300 "$TK_TMP/build.log"))"
    finish
fi
TOKEN=scrape-token-123
write_config "$TK_TMP/scrape.yaml" "$(printf 'log:\n  level: warn\n')"
sed -i "s/^  port: 0/  port: 0\n  mutex_fraction: 1\n  block_rate: 10000\n  auth:\n    token: $TOKEN/" "$TK_TMP/scrape.yaml"
start_hidden_server scrape "$TK_TMP/scrape.yaml" || { not_ok "takhind starts (binary hidden)"; finish; }
base=http://127.0.0.1:$(profiler_port)

mkdir -p "$TK_TMP/saved"
seconds=${SCRAPE_SECONDS:-20} alloy=${SCRAPE_ALLOY_EVERY:-3} parca=${SCRAPE_PARCA_EVERY:-2}
"$CHECK" -base "$base" -token "$TOKEN" -duration "${seconds}s" -save "$TK_TMP/saved" \
    -alloy-every "${alloy}s" -parca-every "${parca}s" >"$TK_TMP/check.out" 2>&1
rc=$?
sed 's/^/  /' "$TK_TMP/check.out" | tail -25
check "Alloy's and Parca's default jobs (every ${alloy} s, ${parca} s) for $seconds s: every scrape passes (exit $rc)" \
    test $rc -eq 0
n=$(sed -nE 's/^scrapes ok: ([0-9]+) .*/\1/p' "$TK_TMP/check.out")
min=$(( seconds / alloy * 5 + seconds / parca * 5 ))
check "every tick of both jobs was scraped ($n of at least $min)" test "${n:-0}" -ge "$min"

# Names with the binary gone: pprof prints what the server resolved.
for f in alloy-process_cpu alloy-memory parca-mutex parca-block parca-goroutine; do
    top=$(go tool pprof -top -nodecount=15 "$TK_TMP/saved/$f.pb.gz" 2>&1)
    check "go tool pprof, binary hidden: $f names its functions, none of takhind's unnamed" \
        sh -c "printf '%s' \"\$1\" | grep -qE '^ +[0-9].* [A-Za-z_][A-Za-z0-9_]+\$' && \
               ! printf '%s' \"\$1\" | grep -qE '(takhind|profiler.so).* 0x[0-9a-f]+\$'" _ "$top"
done

# Auth as both scrapers send it, and refusals that are never a 200.
check "no token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/debug/pprof/allocs")" = 401
check "Bearer token: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$base/debug/pprof/allocs")" = 200
check "Basic with the token as password: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -u "parca:$TOKEN" "$base/debug/pprof/mutex")" = 200
check "a bad seconds is a 400, never a 200 error page" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$base/debug/pprof/profile?seconds=x")" = 400
stop_server
finish
