#!/usr/bin/env bash
# Objects depend on the flags they were built with (Makefile, $(BUILD)/flags):
# `make` then `make SANITIZE=address,undefined` over one build directory
# rebuilds with the new flags instead of linking stale objects, and an
# unchanged build rebuilds nothing. Checked on one object of the profile
# core and one plugin (the loader tests' fake), in a build directory of its own.
source "$(dirname "$0")/lib.sh"
B=$TK_TMP/build
obj=$B/obj/profile/pf_gzip.o so=$B/tests/plugins/good.so
mk() { make --no-print-directory BUILD="$B" "$@" "$obj" "$so" >"$TK_TMP/make.log" 2>&1; }
asan() { nm "$1" 2>/dev/null | grep -q '__asan_'; }

mk || { not_ok "make builds $obj ($(tail -3 "$TK_TMP/make.log"))"; finish; }
check "a plain build has no ASan symbols" bash -c "! nm '$obj' | grep -q __asan_ && ! nm '$so' | grep -q __asan_"
flags=$(cat "$B/flags")
check "the flags file holds the compiler's flags" contains "$flags" "-O2"
stamp=$(stat -c %Y.%y "$obj")
sleep 1 # mtimes: a rebuild would show
mk
check "an unchanged build rebuilds nothing" test "$(stat -c %Y.%y "$obj")" = "$stamp"
check "and leaves the flags file as it was" test "$(cat "$B/flags")" = "$flags"
mk SANITIZE=address,undefined
check "make SANITIZE=address,undefined over the same build rebuilds the object with ASan" asan "$obj"
check "and the plugin" asan "$so"
check "the flags file says so" contains "$(cat "$B/flags")" "-fsanitize=address,undefined"
mk
check "back to a plain build: no ASan symbols again" bash -c "! nm '$obj' | grep -q __asan_"
mk DEV=0
check "DEV=0 changes the flags (no -Werror)" not_contains "$(cat "$B/flags")" "-Werror"
finish
