#!/usr/bin/env bash
# Optional peer comparison (issues 6, 15): every swvr stage, and the same three jobs in swvr, R's survey
# package and the Python svy package, on a synthetic bundle of N respondents.
# Not a test; nothing here is read by the test suite.
#
#   scripts/bench_peers.sh [N ...]           # default 1000000
#   PEERS_DIR=/big/disk scripts/bench_peers.sh 10000000
#   PEERS_R=0 scripts/bench_peers.sh 10000000          # skip R
#   PEERS_SVY_JOBS=rake,model scripts/bench_peers.sh   # svy jobs subset
#
# swvr side: every stage as a whole CLI command, timed with /usr/bin/time
# (wall clock, whole process, file reading and writing included): ingest,
# fieldwork (with the interview-quality checks), weight, tabulate, model,
# report, and `swvr run` (all of them, with the manifest) on a fresh OUT.
# Peers: scripts/peers/r_survey.R and scripts/peers/svy_bench.py time their
# jobs in-process; the peer of ingest is reading respondents.csv (R's
# read.csv, polars' read_csv: no validation, no output), data preparation
# is excluded. Fieldwork and report have no peer job (printed "–").
# See docs/benchmarks/peers.md for what each side does.
set -euo pipefail
cd "$(dirname "$0")/.."
SWVR=${SWVR:-target/release/swvr}
[ -x "$SWVR" ] || cargo build --release -p swvr-cli
DIR=${PEERS_DIR:-bench-out/peers}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000)
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench_peers: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
mkdir -p "$DIR"

have_r=0
if [ "${PEERS_R:-1}" != 0 ] && command -v Rscript >/dev/null 2>&1 \
  && Rscript -e 'quit(status = !requireNamespace("survey", quietly = TRUE))' >/dev/null 2>&1; then
  have_r=1
fi
have_svy=0
if [ "${PEERS_SVY:-1}" != 0 ] && python3 -c 'import svy, polars' >/dev/null 2>&1; then
  have_svy=1
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="NA"||a==""||b==""||b+0==0) print "–"; else printf "%.1f×", a/b }'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "swvr: $($SWVR --version)"
[ $have_r = 1 ] && echo "R: $(Rscript -e 'cat(R.version.string, "survey", format(packageVersion("survey")))' 2>/dev/null)" || echo "R: skipped (PEERS_R=0, or Rscript/survey not installed)"
[ $have_svy = 1 ] && echo "svy: $(python3 -c 'import svy; print(svy.__version__)' 2>/dev/null)" || echo "svy: skipped (PEERS_SVY=0, or svy/polars not installed)"

# stat LOG CMD... -> "wall user+sys peakMiB" of CMD (from /usr/bin/time -v)
stat() {
  local log=$1; shift
  "$TIME" -v "$@" >/dev/null 2>"$log" || { echo "bench_peers: failed: $*" >&2; tail -5 "$log" >&2; exit 1; }
  awk '/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); w = (n == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2] }
       /User time/ { u = $NF } /System time/ { s = $NF } /Maximum resident/ { m = $NF }
       END { printf "%.2f %.2f %.0f\n", w, u + s, m / 1024 }' "$log"
}

for n in "${SIZES[@]}"; do
  data="$DIR/data-$n"; out="$DIR/out-$n"; log="$DIR/time-$n.log"
  [ -s "$data/respondents.csv" ] || "$SWVR" --quiet synth --out "$data" --respondents "$n"
  rm -rf "$out" "$out-run"
  declare -A W C M
  for st in ingest fieldwork weight tabulate model report run; do
    case $st in
      ingest|fieldwork|weight) cmd=("$SWVR" --quiet "$st" --data "$data" --out "$out") ;;
      tabulate|model|report) cmd=("$SWVR" --quiet "$st" --out "$out") ;;
      run) cmd=("$SWVR" --quiet run --data "$data" --out "$out-run") ;;
    esac
    read -r W[$st] C[$st] M[$st] < <(stat "$log" "${cmd[@]}")
  done
  r_w=NA; r_t=NA; r_m=NA; r_r=NA; p_w=NA; p_t=NA; p_m=NA; p_r=NA
  if [ $have_r = 1 ]; then
    read -r r_w r_t r_m r_r < <(Rscript scripts/peers/r_survey.R "$data" 2>"$DIR/r-$n.log" | tail -1) \
      || echo "bench_peers: R failed, see $DIR/r-$n.log" >&2
  fi
  if [ $have_svy = 1 ]; then
    read -r p_w p_t p_m p_r < <(python3 scripts/peers/svy_bench.py "$data" "${PEERS_SVY_JOBS:-rake,tables,model}" 2>"$DIR/svy-$n.log" | tail -1) \
      || echo "bench_peers: svy failed, see $DIR/svy-$n.log" >&2
  fi
  echo
  echo "respondents: $n (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| stage (swvr command) | swvr wall s | swvr user+sys s | swvr peak MiB | peer job | R s | svy s | R/swvr | svy/swvr |"
  echo "|---|---:|---:|---:|---|---:|---:|---:|---:|"
  row() { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$1" "${W[$1]}" "${C[$1]}" "${M[$1]}" "$2" "$3" "$4" "$(ratio "$3" "${W[$1]}")" "$(ratio "$4" "${W[$1]}")"; }
  row ingest "read respondents.csv" "$r_r" "$p_r"
  row fieldwork "–" NA NA
  row weight "raking" "$r_w" "$p_w"
  row tabulate "all items × domains" "$r_t" "$p_t"
  row model "logistic model" "$r_m" "$p_m"
  row report "–" NA NA
  row run "–" NA NA
  rm -rf "$out" "$out-run" "$log"
done
