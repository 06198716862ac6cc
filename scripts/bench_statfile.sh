#!/usr/bin/env bash
# Benchmark of issue 11's input: `swvr ingest` of the same respondents as
# respondents.csv and as respondents.sav (bytecode-compressed, as SPSS
# writes it by default) and .zsav, at each size (default 1e6). Bundles are
# made by `swvr synth`; the .sav/.zsav by pyreadstat from the CSV (numbers
# as doubles, DK/refused user-missing, as scripts/statfile_fixtures.py).
# Each ingest is timed REPS times (default 3), alternating formats; the
# median wall time is printed with `uptime`'s load (the machine is shared).
#   BENCH_SIZES="1000000" scripts/bench_statfile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SWVR=${SWVR:-target/release/swvr}
[ -x "$SWVR" ] || cargo build --release -p swvr-cli
SIZES=${BENCH_SIZES:-1000000}
REPS=${REPS:-3}
DIR=${BENCH_DIR:-bench-out}
mkdir -p "$DIR"

# CMD... -> "wall/cpu" seconds (cpu = user + system, the steadier figure on a shared machine)
wall() {
  /usr/bin/time -f "%e %U %S" -o "$DIR/time.log" "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
  awk '{printf "%.2f/%.2f", $1, $2 + $3}' "$DIR/time.log"
}
median() { tr ' ' '\n' | grep . | sort -t/ -g -k1 | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); swvr: $($SWVR --version)"
printf "| respondents | input | file MB | ingest wall/CPU s (median of %s by wall) | all runs | load at start |\n|---:|---|---:|---:|---|---|\n" "$REPS"
for n in $SIZES; do
  csv="$DIR/stat-$n/csv"; sav="$DIR/stat-$n/sav"; zsav="$DIR/stat-$n/zsav"
  if [ ! -s "$csv/respondents.csv" ]; then
    "$SWVR" --quiet synth --out "$csv" --respondents "$n"
  fi
  for d in "$sav" "$zsav"; do
    mkdir -p "$d"; cp "$csv/design.csv" "$csv/targets.csv" "$d/"
  done
  if [ ! -s "$sav/respondents.sav" ] || [ ! -s "$zsav/respondents.zsav" ]; then
    python3 - "$csv/respondents.csv" "$sav/respondents.sav" "$zsav/respondents.zsav" <<'PY'
import sys
import numpy as np, pandas as pd, pyreadstat
src, sav, zsav = sys.argv[1:4]
df = pd.read_csv(src, dtype=str, keep_default_na=False)
text = {"country", "respondent_id", "frame", "stratum", "language", "interview_date", "interviewer_id"}
for c in df.columns:
    if c not in text:
        df[c] = pd.to_numeric(df[c].replace("", np.nan)).astype(float)
miss = {c: [8, 9] for c in df.columns if c.startswith("Q") or c in ("education", "employment", "urbanicity")}
miss["age"] = [998, 999]
pyreadstat.write_sav(df, sav, row_compress=True, missing_ranges=miss)
pyreadstat.write_sav(df, zsav, compress=True, missing_ranges=miss)
PY
  fi
  declare -A times=()
  load=$(uptime | sed 's/.*load average: //')
  for _ in $(seq "$REPS"); do
    for kind in csv sav zsav; do
      times[$kind]+="$(wall "$SWVR" --quiet ingest --data "$DIR/stat-$n/$kind" --out "$DIR/stat-$n/out-$kind") "
    done
  done
  for kind in csv sav zsav; do
    f=$(ls "$DIR/stat-$n/$kind"/respondents.*)
    mb=$(awk -v b="$(stat -c %s "$f")" 'BEGIN{printf "%.0f", b/1e6}')
    printf "| %s | %s | %s | %s | %s | %s |\n" "$n" "$(basename "$f")" "$mb" "$(echo "${times[$kind]}" | median)" "${times[$kind]% }" "$load"
  done
  cmp "$DIR/stat-$n/out-csv/ingest/respondents.arrow" "$DIR/stat-$n/out-sav/ingest/respondents.arrow" \
    && cmp "$DIR/stat-$n/out-csv/ingest/respondents.arrow" "$DIR/stat-$n/out-zsav/ingest/respondents.arrow" \
    && echo "(respondents.arrow identical for the three inputs)"
  rm -rf "$DIR/stat-$n"/out-*
done
rm -f "$DIR/time.log"
