#!/usr/bin/env bash
# Optional peer comparison (issue 6): the same three jobs in swvr, R's survey
# package and the Python svy package, on a synthetic bundle of N respondents.
# Not a test; nothing here is read by the test suite.
#
#   scripts/bench_peers.sh [N ...]           # default 1000000
#   PEERS_DIR=/big/disk scripts/bench_peers.sh 10000000
#   PEERS_R=0 scripts/bench_peers.sh 10000000          # skip R
#   PEERS_SVY_JOBS=rake,model scripts/bench_peers.sh   # svy jobs subset
#
# swvr side: `swvr ingest` (untimed here), then the `weight`, `tabulate` and
# `model` stages timed with /usr/bin/time (wall clock, whole process, Arrow
# reading and writing included). Peers: scripts/peers/r_survey.R and
# scripts/peers/svy_bench.py time their jobs in-process, CSV reading and
# preparation excluded. See docs/benchmarks/peers.md for what each side does.
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

# wall LOG CMD... -> prints elapsed seconds of CMD (from /usr/bin/time -v)
wall() {
  local log=$1; shift
  "$TIME" -v "$@" >/dev/null 2>"$log" || { echo "bench_peers: failed: $*" >&2; tail -5 "$log" >&2; exit 1; }
  grep "Elapsed (wall clock)" "$log" | awk '{print $NF}' \
    | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="NA"||a==""||b==""||b+0==0) print "–"; else printf "%.0f×", a/b }'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "swvr: $($SWVR --version)"
[ $have_r = 1 ] && echo "R: $(Rscript -e 'cat(R.version.string, "survey", format(packageVersion("survey")))' 2>/dev/null)" || echo "R: skipped (PEERS_R=0, or Rscript/survey not installed)"
[ $have_svy = 1 ] && echo "svy: $(python3 -c 'import svy; print(svy.__version__)' 2>/dev/null)" || echo "svy: skipped (PEERS_SVY=0, or svy/polars not installed)"

for n in "${SIZES[@]}"; do
  data="$DIR/data-$n"; out="$DIR/out-$n"; log="$DIR/time-$n.log"
  [ -s "$data/respondents.csv" ] || "$SWVR" --quiet synth --out "$data" --respondents "$n"
  "$SWVR" --quiet ingest --data "$data" --out "$out"
  s_w=$(wall "$log" "$SWVR" --quiet weight --data "$data" --out "$out")
  s_t=$(wall "$log" "$SWVR" --quiet tabulate --out "$out")
  s_m=$(wall "$log" "$SWVR" --quiet model --out "$out")
  r_w=NA; r_t=NA; r_m=NA; p_w=NA; p_t=NA; p_m=NA
  if [ $have_r = 1 ]; then
    read -r r_w r_t r_m < <(Rscript scripts/peers/r_survey.R "$data" 2>"$DIR/r-$n.log" | tail -1) \
      || echo "bench_peers: R failed, see $DIR/r-$n.log" >&2
  fi
  if [ $have_svy = 1 ]; then
    read -r p_w p_t p_m < <(python3 scripts/peers/svy_bench.py "$data" "${PEERS_SVY_JOBS:-rake,tables,model}" 2>"$DIR/svy-$n.log" | tail -1) \
      || echo "bench_peers: svy failed, see $DIR/svy-$n.log" >&2
  fi
  echo
  echo "respondents: $n (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| job | swvr s | R s | svy s | R/swvr | svy/swvr |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf "| raking (swvr: weight stage) | %s | %s | %s | %s | %s |\n" "$s_w" "$r_w" "$p_w" "$(ratio "$r_w" "$s_w")" "$(ratio "$p_w" "$s_w")"
  printf "| all items × domains (swvr: tabulate stage) | %s | %s | %s | %s | %s |\n" "$s_t" "$r_t" "$p_t" "$(ratio "$r_t" "$s_t")" "$(ratio "$p_t" "$s_t")"
  printf "| logistic model (swvr: model stage) | %s | %s | %s | %s | %s |\n" "$s_m" "$r_m" "$p_m" "$(ratio "$r_m" "$s_m")" "$(ratio "$p_m" "$s_m")"
  rm -rf "$out" "$log"
done
