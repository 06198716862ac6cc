#!/usr/bin/env python3
"""Writes fixtures/fieldwork/: a small wave bundle for the fieldwork stage
(docs/fieldwork.md), derived from the committed fixture bundle.

Deterministic (own linear congruential generator, no library RNG): the
files never change unless this script or fixtures/*.csv do.

Contents:
- respondents.csv: the first 300 BOL and the 1000 SEN interviews of
  fixtures/respondents.csv plus two columns, `interviewer_id` (10
  interviewers per country, 30 or 100 interviews each) and `interview_date`
  (2021-03-01 .. 2021-04-29). Planted, so that every check has something to
  find:
  - SEN: interviewer SEN-I10 fabricated 12 interviews as near-copies of two
    of her genuine interviews (2-3 items changed each);
  - two exact duplicates: SEN-000500 repeats SEN-000400, BOL-000250
    repeats BOL-000200 (every item and demographic, new id);
  - speeders: SEN-000600, SEN-000601 and BOL-000100 took 60 seconds.
- design.csv, targets.csv: the rows of BOL and SEN from fixtures/.
- calls.csv: one row per dialled number (`country, wave, frame, number_id,
  disposition, respondent_id`): every interview as 1.1 with its id, then
  the non-interviews of each frame in fixed proportions of its interviews
  (2.111, 2.112, 2.12, 2.21, 2.221, 2.31, 2.332, 3.12, 3.13, 3.21, 3.90,
  4.31, 4.32, 4.42, 4.51, 1.2). Planted: one row with the unknown
  disposition `5.1` (a reject), an interview of an id that is not among
  the respondents (SEN-009999), and no call row for BOL-000300 (both are
  reconciliation mismatches).
- scheme.toml: `[fieldwork] exclude = ["duplicate", "speeder"]`.

Usage (from the repository root): python3 scripts/fieldwork_fixture.py
"""

import csv
import io
import os

SRC = "fixtures"
DST = os.path.join("fixtures", "fieldwork")


class Lcg:
    """64-bit LCG (Knuth MMIX constants); unit() uses the top 53 bits."""

    def __init__(self, seed):
        self.x = seed

    def unit(self):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.x >> 11) / float(1 << 53)

    def below(self, n):
        return int(self.unit() * n)


def read(name):
    with open(os.path.join(SRC, name), newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write(name, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerows(rows)
    with open(os.path.join(DST, name), "w", newline="", encoding="utf-8") as f:
        f.write(buf.getvalue())


def main():
    os.makedirs(DST, exist_ok=True)
    rng = Lcg(13)
    resp = read("respondents.csv")
    header = resp[0]
    col = {c: i for i, c in enumerate(header)}
    bol = [r for r in resp[1:] if r[0] == "BOL"][:300]
    sen = [r for r in resp[1:] if r[0] == "SEN"]
    rows = bol + sen
    items = ["Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q4B", "Q4B_1", "Q5A", "Q6", "Q6A", "Q7",
             "Q8A", "Q8B", "Q8C", "Q8D", "Q8E"]
    # Items that no routing depends on and that are asked of everyone.
    free = ["Q3A", "Q3B", "Q3C", "Q5A", "Q7", "Q8A", "Q8B", "Q8C", "Q8D", "Q8E"]
    keys = ["country", "wave", "respondent_id", "frame", "stratum"]
    by_id = {r[col["respondent_id"]]: r for r in rows}

    # Interviewers and dates.
    extra = {}
    for country, part in (("BOL", bol), ("SEN", sen)):
        for i, r in enumerate(part):
            day = 1 + (i * 7) % 60
            date = "2021-03-%02d" % day if day <= 31 else "2021-04-%02d" % (day - 31)
            extra[r[col["respondent_id"]]] = ["%s-I%02d" % (country, 1 + i % 10), date]

    def copy_answers(src, dst):
        for c in header:
            if c not in keys and c not in ("n_adults", "n_landlines", "n_mobiles", "language", "duration_s"):
                dst[col[c]] = src[col[c]]

    # SEN-I10's fabricated interviews: near-copies of two of her own.
    i10 = [r for r in sen if extra[r[col["respondent_id"]]][0] == "SEN-I10"]
    templates = i10[:2]
    for n, r in enumerate(i10[2:14]):
        t = templates[n % 2]
        copy_answers(t, r)
        changed = set()
        while len(changed) < 2 + n % 2:
            q = free[rng.below(len(free))]
            if q in changed:
                continue
            changed.add(q)
            cur = r[col[q]]
            options = [c for c in ("1", "2") if c != cur]
            r[col[q]] = options[rng.below(len(options))]

    # Exact duplicates (new id, same answers and demographics).
    copy_answers(by_id["SEN-000400"], by_id["SEN-000500"])
    copy_answers(by_id["BOL-000200"], by_id["BOL-000250"])
    # Speeders.
    for rid in ("SEN-000600", "SEN-000601", "BOL-000100"):
        by_id[rid][col["duration_s"]] = "60"

    write("respondents.csv", [header + ["interviewer_id", "interview_date"]]
          + [r + extra[r[col["respondent_id"]]] for r in rows])
    write("design.csv", [r for r in read("design.csv") if r[0] in ("country", "BOL", "SEN")])
    write("targets.csv", [r for r in read("targets.csv") if r[0] in ("country", "BOL", "SEN")])

    # calls.csv: per frame, interviews then non-interviews in fixed proportions.
    shares = [("1.2", 0.03), ("2.111", 0.5), ("2.112", 0.3), ("2.12", 0.1), ("2.21", 0.4),
              ("2.221", 0.2), ("2.31", 0.01), ("2.332", 0.05), ("3.12", 0.3), ("3.13", 1.2),
              ("3.21", 0.1), ("3.90", 0.05), ("4.31", 0.8), ("4.32", 0.3), ("4.42", 0.1),
              ("4.51", 0.4)]
    calls = [["country", "wave", "frame", "number_id", "disposition", "respondent_id"]]
    for country in ("BOL", "SEN"):
        for frame in ("L", "M"):
            ids = [r[col["respondent_id"]] for r in rows
                   if r[col["country"]] == country and r[col["frame"]] == frame]
            if not ids:
                continue
            k = 0

            def number():
                nonlocal k
                k += 1
                return "%s-%s-%07d" % (country, frame, k)

            for rid in ids:
                if rid == "BOL-000300":
                    continue  # planted: a respondent without a call row
                calls.append([country, "2021", frame, number(), "1.1", rid])
            # Frame-specific mix: landline numbers are more often non-working.
            for code, share in shares:
                scale = 1.5 if frame == "L" and code.startswith("4.") else 1.0
                for _ in range(int(round(share * scale * len(ids)))):
                    calls.append([country, "2021", frame, number(), code, ""])
    calls.append(["SEN", "2021", "M", "SEN-M-9999998", "5.1", ""])
    calls.append(["SEN", "2021", "M", "SEN-M-9999999", "1.1", "SEN-009999"])
    write("calls.csv", calls)

    with open(os.path.join(DST, "scheme.toml"), "w", encoding="utf-8") as f:
        f.write("# Fieldwork fixture scheme: the default weighting, and fieldwork options.\n"
                "[fieldwork]\nexclude = [\"duplicate\", \"speeder\"]\n")


if __name__ == "__main__":
    main()
