#!/usr/bin/env bash
# Recompute the R reference values committed under fixtures/reference/.
# Needs R with the survey package (apt-get install -y r-base-core r-cran-survey)
# and Python 3 with pyarrow (pip install pyarrow) for the input exports.
# scripts/r/wave2025_reference.R reads the bundle fixtures/wave2025/ (made by
# scripts/wave2025_bundle.py) directly.
#
#   scripts/reference.sh           # inputs from a fresh fixture run, then R
#   scripts/reference.sh --r-only  # R on the committed inputs only
#
# After an intended change of the fixtures or of the weights, run it and
# review `git diff fixtures/reference`: the agreement tests compare swvr's
# numbers on the same inputs with these files.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v Rscript >/dev/null || { echo "reference: Rscript not found (apt-get install -y r-base-core r-cran-survey)"; exit 1; }
if [ "${1:-}" != "--r-only" ]; then
  python3 -c 'import pyarrow' 2>/dev/null || { echo "reference: needs pyarrow (pip install pyarrow)"; exit 1; }
  cargo build --release -p swvr-cli
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  target/release/swvr --quiet run --out "$out"
  echo "reference: exporting inputs"
  python3 scripts/weight_reference_inputs.py target/release/swvr
  python3 scripts/tabulate_make_input.py
  python3 scripts/tabulate_export.py "$out"
  python3 scripts/model_make_input.py --weighted "$out/weight/weighted.arrow"
  python3 scripts/wave2025_bundle.py
fi
for s in scripts/r/*.R; do
  # common.R is the setup the scripts source, not a script of its own.
  [ "$s" = scripts/r/common.R ] && continue
  echo "reference: $s"
  Rscript "$s"
done
git status --short fixtures/reference || true
