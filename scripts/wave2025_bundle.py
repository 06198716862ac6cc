#!/usr/bin/env python3
"""Make fixtures/wave2025/: a small wave bundle for the hypothetical 2025
questionnaire (questionnaire/example_2025.toml), for the R agreement test of
issue 9 (interaction margin sex*age_group, five-level education, region).

usage: python3 scripts/wave2025_bundle.py   (from anywhere; deterministic)

Writes respondents.csv, design.csv, targets.csv. The scheme (scheme.toml)
and model specification (spec.toml) beside them are written by hand.

Two country-waves, KEN 2025 (mobile frame only) and SEN 2025 (landline and
mobile frames), 400 respondents each, from a fixed linear congruential
generator (no dependency, so the bytes never change). Items follow the
questionnaire's routing (read from the TOML); DK/refused answers occur in
items but not in the raking demographics, so R can rake on the reported
values directly (imputation is tested elsewhere).
"""
import os
import tomllib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
q = tomllib.load(open(os.path.join(root, "questionnaire/example_2025.toml"), "rb"))
out = os.path.join(root, "fixtures/wave2025")
os.makedirs(out, exist_ok=True)

state = 20250901


def rnd(m):
    """Uniform integer in [0, m)."""
    global state
    state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    return (state >> 33) % m


def pick(weights):
    """Index drawn with probability proportional to integer weights."""
    u = rnd(sum(weights))
    for i, w in enumerate(weights):
        if u < w:
            return i
        u -= w
    return len(weights) - 1


sets = q["answer_sets"]
items = q["items"]
countries = [("KEN", ["L", "M"][1:], ["KEN-Nairobi", "KEN-Coast", "KEN-Rift"]),
             ("SEN", ["L", "M"], ["SEN-Dakar", "SEN-Thies", "SEN-Kaolack"])]
header = ["country", "wave", "respondent_id", "frame", "stratum", "n_adults", "n_landlines",
          "n_mobiles", "sex", "age", "education", "employment", "urbanicity", "region"]
header += [it["id"] for it in items]
rows = []
for country, frames, strata in countries:
    for i in range(400):
        frame = frames[rnd(len(frames))] if len(frames) > 1 else frames[0]
        sex = 1 + rnd(2)
        age = 15 + min(rnd(50) + rnd(40), 84)
        # Education depends on age and sex; region on the stratum.
        edu = 1 + pick([3, 5, 5, 4, 2] if age > 45 else [1, 3, 5, 5, 3 + sex])
        st = strata[rnd(3)]
        region = 1 + pick([6, 2, 1, 1] if st.endswith(("Nairobi", "Dakar")) else [1, 3, 3, 3])
        emp = 1 + pick([3, 2])
        urb = 1 + pick([2, 2, 3, 3])
        if frame == "L":
            n_l = str(1 + rnd(2))
            n_m = str(rnd(3)) if rnd(5) else ""
            n_a = str(1 + rnd(4))
        else:
            n_l = str(rnd(2)) if country == "SEN" else ""
            n_m = str(1 + rnd(2))
            n_a = str(1 + rnd(4)) if country == "SEN" else ""
        answers = {}
        for it in items:
            r = it.get("asked_if")
            if r and answers.get(r["item"]) not in r["in"]:
                answers[it["id"]] = None
                continue
            codes = sets[it["answers"]]["codes"]
            valid = [c["code"] for c in codes if not c.get("missing")]
            missing = [c["code"] for c in codes if c.get("missing")]
            # Volunteering items lean on education and age (a model to fit).
            if rnd(25) == 0:
                answers[it["id"]] = missing[rnd(len(missing))]
            elif it["answers"] == "yes_no" and len(valid) == 2:
                p_yes = 25 + 6 * edu + (8 if age < 30 else 0) + (10 if answers.get("Q1") == 1 else 0)
                answers[it["id"]] = 1 if rnd(100) < p_yes else 2
            else:
                answers[it["id"]] = valid[rnd(len(valid))]
        rows.append([country, "2025", f"{country}-{i + 1:05d}", frame, st, n_a, n_l, n_m,
                     str(sex), str(age), str(edu), str(emp), str(urb), str(region)]
                    + ["" if answers[it["id"]] is None else str(answers[it["id"]]) for it in items])

with open(os.path.join(out, "respondents.csv"), "w", newline="") as f:
    f.write(",".join(header) + "\n")
    for r in rows:
        f.write(",".join(r) + "\n")

with open(os.path.join(out, "design.csv"), "w") as f:
    f.write("country,wave,frame,frame_size,sample_size\n")
    f.write("KEN,2025,M,52000000,9000\n")
    f.write("SEN,2025,L,310000,2500\n")
    f.write("SEN,2025,M,19000000,9000\n")

# Population shares (hypothetical census tables): sex x age cells,
# five-level education, region.
cells = {"KEN": [0.19, 0.13, 0.08, 0.07, 0.19, 0.14, 0.10, 0.10],
         "SEN": [0.18, 0.13, 0.09, 0.06, 0.19, 0.14, 0.11, 0.10]}
edu = {"KEN": [0.10, 0.30, 0.25, 0.23, 0.12], "SEN": [0.22, 0.28, 0.22, 0.18, 0.10]}
reg = {"KEN": [0.25, 0.30, 0.25, 0.20], "SEN": [0.28, 0.24, 0.26, 0.22]}
bands = ["15-29", "30-44", "45-59", "60+"]
with open(os.path.join(out, "targets.csv"), "w") as f:
    f.write("country,wave,variable,category,share\n")
    for c in ["KEN", "SEN"]:
        k = 0
        for sex in [1, 2]:
            for b in bands:
                f.write(f"{c},2025,sex*age_group,{sex}*{b},{cells[c][k]}\n")
                k += 1
        for j, s in enumerate(edu[c]):
            f.write(f"{c},2025,education,{j + 1},{s}\n")
        for j, s in enumerate(reg[c]):
            f.write(f"{c},2025,region,{j + 1},{s}\n")
print(f"wave2025: wrote {len(rows)} respondents to {out}")
