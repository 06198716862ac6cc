#!/usr/bin/env bash
# Issue 10: `swvr weight` with [variance] method = "fixed", "bootstrap"
# (100 replicates) and "jackknife" (groups = 20) on one bundle, after one
# `swvr ingest`. Prints wall, user+sys and peak RSS per method (a Markdown
# table). Not a test: run it by hand, on a quiet machine, with `nice`.
#   bash scripts/bench_replicates.sh /work/bench/b1e6 bench-out/rep
#   SWVR=target/release/swvr bash scripts/bench_replicates.sh DATA OUT
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench_replicates.sh DATA OUT}
OUT=${2:?usage: bench_replicates.sh DATA OUT}
SWVR=${SWVR:-target/release/swvr}
TIME=/usr/bin/time
[ -x "$SWVR" ] || { echo "bench_replicates: no $SWVR (cargo build --release -p swvr-cli)"; exit 1; }
[ -x "$TIME" ] || { echo "bench_replicates: needs /usr/bin/time"; exit 1; }
mkdir -p "$OUT"
# The built-in scheme, then each [variance] section.
scheme=$(sed -n '/^pub const DEFAULT_SCHEME_TOML: &str = r#"/,/^"#;/p' crates/swvr-weight/src/scheme.rs | sed '1s/.*r#"//; $d')
printf '%s\n' "$scheme" >"$OUT/fixed.toml"
printf '%s\n\n[variance]\nmethod = "bootstrap"\nreplicates = 100\nseed = 1\n' "$scheme" >"$OUT/bootstrap.toml"
printf '%s\n\n[variance]\nmethod = "jackknife"\ngroups = 20\nseed = 1\n' "$scheme" >"$OUT/jackknife.toml"
nice "$SWVR" --quiet ingest --data "$DATA" --out "$OUT/run"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); swvr $(git rev-parse --short HEAD)"
printf "| method | wall s | user + sys s | peak RSS MiB | replicates.arrow MB | load (1 min) |\n|---|---:|---:|---:|---:|---:|\n"
for m in fixed bootstrap jackknife; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  "$TIME" -f "%e %U %S %M" -o "$OUT/time.txt" nice "$SWVR" --quiet weight --data "$DATA" --out "$OUT/run" --scheme "$OUT/$m.toml"
  read -r wall user sys rss <"$OUT/time.txt"
  size=$(stat -c %s "$OUT/run/weight/replicates.arrow" 2>/dev/null || echo 0)
  [ "$m" = fixed ] && size=0
  printf "| %s | %s | %s + %s | %.0f | %.0f | %s |\n" "$m" "$wall" "$user" "$sys" "$(echo "$rss/1024" | bc -l)" "$(echo "$size/1000000" | bc -l)" "$load"
done
