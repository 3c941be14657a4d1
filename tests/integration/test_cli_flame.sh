#!/usr/bin/env bash
# takhin-profiler's flame graph as a browser shows it: headless Chromium
# loads the SVG (self-contained: no external resource), its DOM has the
# frames with their names after the script ran, a screenshot is a real
# picture (many colors, most of the frame area drawn), and the script's
# zoom and search work (driven in an HTML page that embeds the SVG).
# Also -format folded, read back line by line.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP GOCACHE=$TK_TMP/gocache GO111MODULE=off
TP=$BUILD/takhin-profiler
svg=$TK_TMP/go_cpu.svg
shot=${TK_FLAME_SCREENSHOT:-$TK_TMP/flame.png}
chrome() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-quic \
        --user-data-dir="$TK_TMP/chrome" "$@" 2>>"$TK_TMP/chrome.log"
}

"$TP" -input tests/unit/data/cli/go_cpu.pb.gz -flamegraph "$svg" 2>"$TK_TMP/err"
check "-flamegraph FILE.svg writes the SVG ($(cat "$TK_TMP/err"))" test -s "$svg"
check "the SVG loads nothing from outside" bash -c "! grep -qE '(href|src)=' '$svg'"
check "the SVG is well-formed XML" bash -c "command -v xmllint >/dev/null || exit 0; xmllint --noout '$svg'"

dom=$(chrome --dump-dom "file://$svg")
check "Chromium builds the frames: rect and text elements" \
    bash -c 'grep -c "<g class=\"f\"" <<<"$1" | grep -qv "^0$" && grep -q "<rect" <<<"$1"' _ "$dom"
check "frames carry their names (main.spin)" contains "$dom" 'data-n="main.spin"'
check "the label of a wide frame is its name" contains "$dom" '>main.main</text>'
check "the script ran: narrow labels are cut with .." bash -c 'grep -qE ">[^<]+\.\.</text>" <<<"$1"' _ "$dom"
check "each frame has a tooltip with samples and percentage" \
    bash -c 'grep -qE "<title>main\.spin \([0-9.]+m?s, [0-9]+ samples, [0-9.]+%\)</title>" <<<"$1"' _ "$dom"

chrome --screenshot="$shot" --window-size=1200,800 "file://$svg" >/dev/null
check "a screenshot was taken" test -s "$shot"
if go build -o "$TK_TMP/pngcheck" tests/integration/tools/pngcheck/main.go 2>"$TK_TMP/gob"; then
    info=$("$TK_TMP/pngcheck" "$shot")
    echo "# screenshot: $info"
    colors=$(sed -nE 's/.*colors=([0-9]+).*/\1/p' <<<"$info")
    covered=$(sed -nE 's/.*covered=([0-9]+).*/\1/p' <<<"$info")
    check "the picture is not blank: many colors ($colors)" test "${colors:-0}" -gt 20
    check "frames cover a good part of it (${covered}%)" test "${covered:-0}" -gt 10
else
    not_ok "pngcheck builds ($(head -c 200 "$TK_TMP/gob"))"
fi

# Zoom and search, driven from a page that embeds the SVG.
page=$TK_TMP/drive.html
{
    echo '<!DOCTYPE html><html><body>'
    sed '1d' "$svg"
    cat <<'EOF'
<pre id="result"></pre>
<script>
init();
function frame(name){return frames.filter(function(g){return g.getAttribute('data-n')===name;})[0];}
function w(g){return parseFloat(g.querySelector('rect').getAttribute('width'));}
var r=[], spin=frame('main.spin'), before=w(spin);
zoom(spin);
r.push('zoomed=' + w(spin).toFixed(0));
r.push('hidden=' + frames.filter(function(g){return g.classList.contains('hide');}).length);
r.push('parents=' + frames.filter(function(g){return g.classList.contains('parent');}).length);
r.push('reset=' + !document.getElementById('unzoom').classList.contains('hide'));
unzoom();
r.push('restored=' + (Math.abs(w(spin) - before) < 0.01));
search('^main\\.fib$');
r.push('highlighted=' + frames.filter(function(g){return g.querySelector('rect').getAttribute('fill')==='rgb(230,0,230)';}).length);
r.push(document.getElementById('matched').textContent);
clearSearch();
r.push('cleared=' + frames.filter(function(g){return g.querySelector('rect').getAttribute('fill')==='rgb(230,0,230)';}).length);
document.getElementById('result').textContent = r.join(' ');
</script></body></html>
EOF
} >"$page"
res=$(chrome --dump-dom "file://$page" | sed -n 's/.*<pre id="result">\([^<]*\)<.*/\1/p')
echo "# driven: $res"
check "clicking a frame zooms it to the full width (1180 px)" contains "$res" "zoomed=1180"
check "frames outside it are hidden" bash -c 'grep -qE "hidden=[1-9]" <<<"$1"' _ "$res"
check "its ancestors stay, dimmed" bash -c 'grep -qE "parents=[1-9]" <<<"$1"' _ "$res"
check "Reset Zoom appears" contains "$res" "reset=true"
check "unzoom restores the widths" contains "$res" "restored=true"
check "search highlights the matching frames" bash -c 'grep -qE "highlighted=[1-9]" <<<"$1"' _ "$res"
check "and shows the share they cover" bash -c 'grep -qE "Matched: [0-9.]+% " <<<"$1"' _ "$res"
check "clearing the search restores the colors" contains "$res" "cleared=0"

# Collapsed stacks: root;...;leaf COUNT, merged, the counts add up.
folded=$("$TP" -input tests/unit/data/cli/go_cpu.pb.gz -format folded -sample-index samples)
check "-format folded writes stack lines" bash -c 'grep -qE "^[^ ]+(;[^ ]+)* [0-9]+$" <<<"$1"' _ "$folded"
check "with no duplicate stacks" test "$(cut -d' ' -f1 <<<"$folded" | sort | uniq -d | wc -l)" -eq 0
sum=$(awk '{s += $NF} END {print s}' <<<"$folded")
want=$(go tool pprof -raw tests/unit/data/cli/go_cpu.pb.gz 2>/dev/null |
       awk '/^Samples:/ {on=1; next} on && /^ +[0-9]+ +[0-9]+:/ {s += $1} /^Locations/ {on=0} END {print s}')
check "the counts add up to the profile's samples ($sum = $want)" test "$sum" = "$want"
finish
