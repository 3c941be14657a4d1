#!/usr/bin/env bash
# The index page as a person sees it: headless Chromium loads it, the DOM
# it built has the profiles table, and a screenshot is taken.
source "$(dirname "$0")/lib.sh"

write_config "$TK_TMP/takhin.yaml"
start_server browser "$TK_TMP/takhin.yaml" || { not_ok "takhind starts"; finish; }
url="http://127.0.0.1:$(profiler_port)/debug/pprof/"
chrome() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$TK_TMP/chrome" "$@" 2>>"$TK_TMP/chrome.log"
}
dom=$(chrome --dump-dom "$url")
check "Chromium renders the index: a table of profiles" contains "$dom" "<th>Profile</th>"
check "the CPU profile is listed with a link" contains "$dom" '<a href="profile">profile</a>'
check "the symbol path is listed among the others" contains "$dom" '<a href="symbol">symbol</a>'
check "the page names the plugin version" contains "$dom" "takhin profiler plugin 0."
check "no external resources (no http(s) URL in the page)" \
    bash -c "! grep -qE '(src|href)=\"https?:' <<<\"\$1\"" _ "$dom"
shot=${TK_SCREENSHOT:-$TK_TMP/index.png}
chrome --screenshot="$shot" --window-size=1000,700 "$url" >/dev/null
check "a screenshot of the index was taken" test -s "$shot"
stop_server
finish
