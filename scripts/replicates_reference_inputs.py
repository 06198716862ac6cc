#!/usr/bin/env python3
"""Inputs of the replicate-weight reference (scripts/r/replicates_reference.R).

usage: python3 scripts/replicates_reference_inputs.py

Writes fixtures/reference/replicates/inputs.csv: BOL, KEN and SEN (dual
frame) from fixtures/reference/weight/inputs_multiplicity.csv (raking
values after swvr's imputation, so nothing is imputed again), every 4th
respondent (250 a country), with the hard cases of issue 10:
- BOL: a one-respondent category (one tertiary-educated respondent, with
  target share 0.004 so that trimming and logit bounds can hold: targets.csv
  is fixtures/targets.csv for the three countries with that change);
- KEN: a lonely stratum (one respondent in KEN-Lonely);
- SEN: a stratum of 3 (delete-one with groups = 5; the others are grouped).
Then, per scheme_<case>.toml, factors_<case>.csv: swvr's replicate factors
(example `replicate_factors`): country, respondent_id, psu, f_1 ... f_R.
"""
import csv, os, subprocess

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ref = os.path.join(root, "fixtures/reference/replicates")
src = os.path.join(root, "fixtures/reference/weight/inputs_multiplicity.csv")

with open(src, newline="") as f:
    rows = list(csv.DictReader(f))
    fields = list(rows[0].keys())
out = []
for country in ["BOL", "KEN", "SEN"]:
    mine = [r for r in rows if r["country"] == country][::4]
    if country == "BOL":
        tertiary = [r for r in mine if r["education_weighting"] == "3"]
        for r in tertiary[1:]:
            r["education_weighting"] = "2"
    if country == "KEN":
        mine[0]["stratum"] = "KEN-Lonely"
    if country == "SEN":
        for r in mine[10:13]:
            r["stratum"] = "SEN-Small"
    out += mine
with open(os.path.join(ref, "inputs.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(out)
print(f"wrote inputs.csv ({len(out)} rows)")

with open(os.path.join(root, "fixtures/targets.csv"), newline="") as f:
    trows = [r for r in csv.DictReader(f) if r["country"] in ("BOL", "KEN", "SEN")]
for r in trows:
    if r["country"] == "BOL" and r["variable"] == "education":
        r["share"] = {"1": "0.400000", "2": "0.596000", "3": "0.004000"}[r["category"]]
with open(os.path.join(ref, "targets.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["country", "wave", "variable", "category", "share"], lineterminator="\n")
    w.writeheader()
    w.writerows(trows)
print(f"wrote targets.csv ({len(trows)} rows)")

env = dict(os.environ)
for case in ["jk_trim", "jk_logit", "boot_trim"]:
    res = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "swvr-weight", "--example", "replicate_factors", "--",
         os.path.join(ref, "inputs.csv"), os.path.join(ref, f"scheme_{case}.toml")],
        check=True, capture_output=True, text=True, cwd=root, env=env)
    lines = [l.split(",") for l in res.stdout.splitlines()]
    nrep = max(len(l) - 3 for l in lines)
    with open(os.path.join(ref, f"factors_{case}.csv"), "w") as f:
        f.write(",".join(["country", "respondent_id", "psu"] + [f"f_{i + 1}" for i in range(nrep)]) + "\n")
        for l in lines:
            f.write(",".join(l + [""] * (nrep + 3 - len(l))) + "\n")
    print(f"wrote factors_{case}.csv ({len(lines)} rows, up to {nrep} replicates)")
