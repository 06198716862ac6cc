#!/usr/bin/env bash
# Every stage as a whole command, one run each, in order into one folder,
# then each export format and `swvr run --fieldwork off`: the "idle"
# figures of docs/BENCHMARKS.md. Not a test; run it on a quiet machine.
#   swvr synth --respondents 10000000 --out b1e7
#   bash scripts/bench_idle.sh b1e7 OUT
#   SWVR=target/release/swvr bash scripts/bench_idle.sh DATA OUT
set -u
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench_idle.sh DATA OUT}
OUT=${2:?usage: bench_idle.sh DATA OUT}
B=${SWVR:-target/release/swvr}
[ -x "$B" ] || { echo "bench_idle: no $B (cargo build --release -p swvr-cli)"; exit 1; }
[ -x /usr/bin/time ] || { echo "bench_idle: needs /usr/bin/time"; exit 1; }
rm -rf "$OUT"
t() { local name=$1; shift; /usr/bin/time -f "$name: %e s wall, %U user, %S sys, %M KB peak" "$@" 2>&1 | grep -E "^$name:|error"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); swvr $(git rev-parse --short HEAD 2>/dev/null)"
uptime
t ingest "$B" --quiet ingest --data "$DATA" --out "$OUT"
t weight "$B" --quiet weight --data "$DATA" --out "$OUT"
t tabulate "$B" --quiet tabulate --out "$OUT"
t model "$B" --quiet model --out "$OUT"
for f in sav dta parquet csv; do t "export-$f" "$B" --quiet export --out "$OUT" --format "$f"; done
rm -rf "$OUT"
t run-fieldwork-off "$B" --quiet run --data "$DATA" --out "$OUT" --fieldwork off
rm -rf "$OUT"
uptime
