#!/usr/bin/env bash
# Renders a run's dashboard in headless Chromium (Debian's `chromium` package) to a PNG, to check
# that the page really renders in a browser. Usage: bash Tools/screenshot.sh RUN_DIR OUT.png
set -euo pipefail
cd "$(dirname "$0")/.."
run="$1"; out="$2"
[ -f "$run/report.html" ] || .build/release/learner report "$run" >/dev/null 2>&1 || .build/debug/learner report "$run"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no Chromium found: apt-get install chromium" >&2; exit 1; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1120,3000 \
    --screenshot="$(realpath -m "$out")" "file://$(realpath "$run/report.html")" 2>/dev/null
echo "wrote $out"
