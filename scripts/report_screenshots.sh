#!/usr/bin/env bash
# Screenshots of the fixture report for docs/ (headless Chromium):
#   docs/report-1280.png          the top of the page at 1280 px
#   docs/report-390.png           the top of the page at 390 px (a phone)
#   docs/report-country-1280.png  one country-wave's section, item Q1 opened
# The country view is the same page with a style that hides the other
# sections (a screenshot cannot scroll to an anchor).
set -euo pipefail
cd "$(dirname "$0")/.."
SWVR=${SWVR:-target/release/swvr}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$SWVR" --quiet run --out "$tmp/out"
page="$tmp/out/report/index.html"
shot() { # width height file url
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$tmp/profile" --hide-scrollbars --window-size="$1,$2" \
    --screenshot="$3" "$4" 2>/dev/null
}
shot 1280 1500 docs/report-1280.png "file://$page"
# Headless windows are at least 500 px wide: the phone view is a 390 px frame.
printf '<!DOCTYPE html><html><body style="margin:0"><iframe src="index.html" style="width:390px;height:1400px;border:0"></iframe></body></html>' \
  > "$tmp/out/report/phone.html"
shot 390 1400 docs/report-390.png "file://$tmp/out/report/phone.html"
sed -e 's#</style>#header,\#views,\#model-a2,\#fieldwork,main>section:not(\#cw-KEN-2021){display:none}</style>#' \
    -e 's#<details class="item" id="cw-KEN-2021-Q1">#<details class="item" id="cw-KEN-2021-Q1" open>#' \
    "$page" > "$tmp/out/report/country.html"
shot 1280 3200 docs/report-country-1280.png "file://$tmp/out/report/country.html"
ls -l docs/report-*.png
