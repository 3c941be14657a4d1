#!/usr/bin/env bash
# A known CPU split (3:1 between calibrate_heavy and calibrate_light) comes
# out of a 5 s profile within 5 percentage points.
source "$(dirname "$0")/lib.sh"
export HOME=$TK_TMP PPROF_TMPDIR=$TK_TMP/pprof

write_config "$TK_TMP/takhin.yaml" "  enabled: false
  calibration: true"
start_server accuracy "$TK_TMP/takhin.yaml" || { not_ok "takhind starts"; finish; }
http "/debug/pprof/profile?seconds=5" >"$TK_TMP/cpu.pb.gz"
stop_server
top=$(go tool pprof -top -unit=ms "$TK_TMP/cpu.pb.gz" 2>&1)
echo "$top" | head -12 | sed 's/^/# /'
# cum, in ms: both burn CPU through the same helper.
cum() { echo "$top" | awk -v f="$1" '$NF == f { sub(/ms$/, "", $4); print $4 + 0 }'; }
heavy=$(cum calibrate_heavy) light=$(cum calibrate_light)
share=$(awk -v h="${heavy:-0}" -v l="${light:-0}" 'BEGIN { if (h + l > 0) printf "%.1f", 100 * h / (h + l); else print 0 }')
echo "# calibrate_heavy ${heavy} ms, calibrate_light ${light} ms: heavy share $share % (expected 75)"
check "calibrate_heavy's share is 75 % +- 5 (got $share %)" \
    awk -v s="$share" 'BEGIN { exit !(s >= 70 && s <= 80) }'
finish
