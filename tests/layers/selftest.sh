#!/usr/bin/env bash
# Self-test of tests/check_layers.py on two small trees:
#   good/  layers that hold: a folder's own header found before the -I
#          folders', <...> only through -I (read from good/Makefile),
#          commented-out includes, a generated header outside the tree,
#          a folder in no layer; must pass with this exact output;
#   bad/   a cycle of three modules, two upward includes (one through
#          <...>) and one between siblings of the same rank; must fail
#          and name each.
set -u
here=$(cd "$(dirname "$0")" && pwd)
check="$here/../check_layers.py"
layers="src/core=0,src/http=1,src/capture=1,src=2"
failed=0

expect() { # name, expected exit, expected output, command...
    local name=$1 want_rc=$2 want=$3 out rc
    shift 3
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -eq "$want_rc" ] && [ "$out" = "$want" ]; then
        echo "ok - check_layers: $name"
    else
        echo "not ok - check_layers: $name (exit $rc, expected $want_rc)"
        diff <(printf '%s\n' "$want") <(printf '%s\n' "$out") | sed 's/^/    /'
        failed=1
    fi
}

expect "layers that hold pass" 0 "\
src: 8 modules, 11 edges
lib: 1 modules, 1 edges
no cycles, layers hold" \
    python3 "$check" --root "$here/good" --layers "$layers" src lib

expect "a cycle, upward and sideways includes fail" 1 "\
src: 8 modules, 9 edges
include cycle among 3 modules: src/core/a, src/core/b, src/core/c
  cycle: src/core/a -> src/core/b -> src/core/c -> src/core/a
upward include: src/core/a (src/core, rank 0) includes src/http/server (src/http, rank 1) at src/core/a.c:3
upward include: src/core/b (src/core, rank 0) includes src/util (src, rank 2) at src/core/b.c:3
sideways (same rank) include: src/http/server (src/http, rank 1) includes src/capture/rec (src/capture, rank 1) at src/http/server.c:2
FAIL: 1 include cycles (in 1 groups of modules), 3 includes against the layers" \
    python3 "$check" --root "$here/bad" --layers "$layers" -I src src

# Without a table every layer rule is off; the cycle still fails.
expect "cycles fail without layers" 1 "\
src: 8 modules, 9 edges
include cycle among 3 modules: src/core/a, src/core/b, src/core/c
  cycle: src/core/a -> src/core/b -> src/core/c -> src/core/a
FAIL: 1 include cycles (in 1 groups of modules), 0 includes against the layers" \
    python3 "$check" --root "$here/bad" --layers "" -I src src

exit $failed
