#!/usr/bin/env python3
"""Export the inputs R needs for the weight reference (scripts/r/weight_reference.R).

usage: python3 scripts/weight_reference_inputs.py [path/to/swvr]

For each case in fixtures/reference/weight/scheme_<case>.toml, runs
`swvr ingest` and `swvr weight --scheme` on the fixture bundle and writes
fixtures/reference/weight/inputs_<case>.csv: the respondent key, frame,
stratum, the raw phone counts (blank = not asked) and the `<var>_weighting`
values (the raking categories after swvr's documented imputation of
DK/refused). R computes the base weights from the counts itself.
"""
import os, subprocess, sys, tempfile

from swvr_arrow import read_weighted

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
swvr = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/release/swvr")
ref = os.path.join(root, "fixtures/reference/weight")
data = os.path.join(root, "fixtures")

for case in ["multiplicity", "hartley", "trimming"]:
    scheme = os.path.join(ref, f"scheme_{case}.toml")
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([swvr, "ingest", "--data", data, "--out", out], check=True)
        subprocess.run([swvr, "weight", "--data", data, "--out", out, "--scheme", scheme], check=True)
        t = read_weighted(out).to_pandas()
    cols = ["country", "wave", "respondent_id", "frame", "stratum", "n_adults", "n_landlines", "n_mobiles"]
    cols += [c for c in t.columns if c.endswith("_weighting")]
    df = t[cols].copy()
    for c in ["n_adults", "n_landlines", "n_mobiles"]:
        df[c] = df[c].astype("Int64")
    df.to_csv(os.path.join(ref, f"inputs_{case}.csv"), index=False, na_rep="")
    print(f"wrote inputs_{case}.csv ({len(df)} rows)")
