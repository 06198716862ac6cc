#!/usr/bin/env bash
# Recompute the R reference values committed under fixtures/reference/.
# Needs R with the survey package: apt-get install -y r-base-core r-cran-survey
set -euo pipefail
cd "$(dirname "$0")/.."
command -v Rscript >/dev/null || { echo "reference: Rscript not found (apt-get install -y r-base-core r-cran-survey)"; exit 1; }
for s in scripts/r/*.R; do
  echo "reference: $s"
  Rscript "$s"
done
