#!/usr/bin/env bash
# Byte-reproducibility audit (issue 6):
#  1. regenerate the fixture bundle from the committed seed and compare it
#     byte for byte with fixtures/*.csv;
#  2. run the pipeline twice (default threads) and once with RAYON_NUM_THREADS=1;
#  3. fail if any output byte differs between the runs, or if the manifest
#     differs from the committed fixtures/expected_manifest.json.
# With --update, step 3 writes the expected manifest instead of comparing.
set -euo pipefail
cd "$(dirname "$0")/.."
SWVR=${SWVR:-target/release/swvr}
[ -x "$SWVR" ] || cargo build --release -p swvr-cli
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

echo "audit: regenerating fixtures from the committed seed"
"$SWVR" --quiet synth --out "$tmp/fixtures"
for f in respondents.csv design.csv targets.csv; do
  if cmp -s "$tmp/fixtures/$f" "fixtures/$f"; then echo "  fixtures/$f: identical"
  else echo "  fixtures/$f: DIFFERS from the regenerated bundle"; fail=1; fi
done

echo "audit: running the pipeline three times"
"$SWVR" --quiet run --out "$tmp/run1"
"$SWVR" --quiet run --out "$tmp/run2"
RAYON_NUM_THREADS=1 "$SWVR" --quiet run --out "$tmp/run3"
for r in run2 run3; do
  if diff -r "$tmp/run1" "$tmp/$r" >/dev/null; then echo "  run1 vs $r: every output byte identical"
  else echo "  run1 vs $r: OUTPUTS DIFFER:"; diff -rq "$tmp/run1" "$tmp/$r" | sed 's/^/    /'; fail=1; fi
done

if [ "${1:-}" = "--update" ]; then
  cp "$tmp/run1/manifest.json" fixtures/expected_manifest.json
  echo "audit: wrote fixtures/expected_manifest.json"
elif cmp -s "$tmp/run1/manifest.json" fixtures/expected_manifest.json; then
  echo "  manifest: identical to fixtures/expected_manifest.json"
else
  echo "  manifest: DIFFERS from fixtures/expected_manifest.json:"
  diff fixtures/expected_manifest.json "$tmp/run1/manifest.json" | head -40 | sed 's/^/    /'
  fail=1
fi

if [ "$fail" = 0 ]; then echo "audit: PASS"; else echo "audit: FAIL"; exit 1; fi
