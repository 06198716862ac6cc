#!/usr/bin/env python3
"""Export the weighted fixture sample for the tabulate agreement test.

Reads OUT/weight/weighted.arrow with OUT/ingest/respondents.arrow (from
`swvr run --out OUT` on the committed fixtures; scripts/swvr_arrow.py) and writes fixtures/reference/tabulate/fixture.csv with the columns
tabulation reads (country, wave, respondent_id, stratum, demographics, items,
age_group, weight; weights at full precision). Then run
scripts/r/tabulate_reference.R to refresh fixture_ref.csv.

Usage: python3 scripts/tabulate_export.py OUT
"""
import sys
from pathlib import Path

from swvr_arrow import read_weighted

ITEMS = ["Q1", "Q2", "Q3A", "Q3B", "Q3C", "Q4A", "Q4B", "Q4B_1", "Q5A", "Q6", "Q6A",
         "Q7", "Q8A", "Q8B", "Q8C", "Q8D", "Q8E"]
COLS = ["country", "wave", "respondent_id", "stratum", "sex", "age", "education",
        "employment", "urbanicity"] + ITEMS + ["age_group", "weight"]


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "out")
    t = read_weighted(out)
    cols = {c: t.column(c).to_pylist() for c in COLS}
    dest = Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "tabulate" / "fixture.csv"
    with open(dest, "w") as f:
        f.write(",".join(COLS) + "\n")
        for i in range(t.num_rows):
            vals = []
            for c in COLS:
                v = cols[c][i]
                vals.append("" if v is None else repr(float(v)) if c == "weight" else str(v))
            f.write(",".join(vals) + "\n")
    print(f"{dest}: {t.num_rows} rows")


if __name__ == "__main__":
    main()
