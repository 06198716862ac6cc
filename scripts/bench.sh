#!/usr/bin/env bash
# Benchmarks (issue 6): synthesise bundles of 1e5, 1e6 and 1e7 respondents
# with `swvr synth`, then time every stage and the whole `swvr run`, with
# peak memory from /usr/bin/time -v. Prints a Markdown table.
#   BENCH_SIZES="100000 1000000" make bench    # a subset of sizes
#   BENCH_DIR=/big/disk make bench             # where bundles go (default bench-out/)
set -euo pipefail
cd "$(dirname "$0")/.."
SWVR=${SWVR:-target/release/swvr}
[ -x "$SWVR" ] || cargo build --release -p swvr-cli
SIZES=${BENCH_SIZES:-"100000 1000000 10000000"}
DIR=${BENCH_DIR:-bench-out}
mkdir -p "$DIR"
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs /usr/bin/time (apt-get install time)"; exit 1; }

# measure LABEL CMD... -> prints "seconds peak_MiB"
measure() {
  local log="$DIR/time.log"
  "$TIME" -v "$@" >/dev/null 2>"$log" || { echo "bench: failed: $*"; tail -5 "$log"; exit 1; }
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  printf "%s %s" "$wall" "$(awk -v k="$rss" 'BEGIN{printf "%.0f", k/1024}')"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "swvr: $($SWVR --version)"
echo
printf "| respondents | stage | seconds | peak MiB |\n|---:|---|---:|---:|\n"
for n in $SIZES; do
  data="$DIR/data-$n"; out="$DIR/out-$n"
  if [ ! -s "$data/respondents.csv" ]; then
    read -r s m <<<"$(measure "$SWVR" --quiet synth --out "$data" --respondents "$n")"
    printf "| %s | synth | %s | %s |\n" "$n" "$s" "$m"
  fi
  read -r s m <<<"$(measure "$SWVR" --quiet ingest --data "$data" --out "$out")"; printf "| %s | ingest | %s | %s |\n" "$n" "$s" "$m"
  read -r s m <<<"$(measure "$SWVR" --quiet weight --data "$data" --out "$out")"; printf "| %s | weight | %s | %s |\n" "$n" "$s" "$m"
  read -r s m <<<"$(measure "$SWVR" --quiet tabulate --out "$out")"; printf "| %s | tabulate | %s | %s |\n" "$n" "$s" "$m"
  read -r s m <<<"$(measure "$SWVR" --quiet model --out "$out")"; printf "| %s | model | %s | %s |\n" "$n" "$s" "$m"
  read -r s m <<<"$(measure "$SWVR" --quiet run --data "$data" --out "$out-run")"; printf "| %s | **run (all)** | %s | %s |\n" "$n" "$s" "$m"
  rm -rf "$out" "$out-run"
done
rm -f "$DIR/time.log"
