"""Read a swvr output folder's weighted microdata: OUT/weight/weighted.arrow
(keys, age_group, weights, imputation flags) joined row by row with
OUT/ingest/respondents.arrow (every input column), as the tabulate and model
stages do (swvr_core::handoff). Used by the reference export scripts.
"""
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

KEYS = ["country", "wave", "respondent_id"]


def _read(path):
    with open(path, "rb") as f:
        return ipc.open_file(f).read_all()


def read_weighted(out):
    """weighted.arrow's columns plus the respondents.arrow columns it lacks,
    one row per weighted respondent (respondents of country-waves that were
    not weighted are left out); the keys must match row for row."""
    w = _read(os.path.join(out, "weight", "weighted.arrow"))
    r = _read(os.path.join(out, "ingest", "respondents.arrow"))
    if r.num_rows != w.num_rows:
        groups = set(zip(w.column("country").to_pylist(), w.column("wave").to_pylist()))
        keep = [(c, v) in groups for c, v in zip(r.column("country").to_pylist(), r.column("wave").to_pylist())]
        r = r.filter(pa.array(keep))
    for k in KEYS:
        if r.num_rows != w.num_rows or not pc.all(pc.equal(r.column(k), w.column(k))).as_py():
            raise SystemExit(f"{out}: weighted.arrow and respondents.arrow are not row-aligned (column {k})")
    fields, arrays = list(w.schema), list(w.columns)
    for field, col in zip(r.schema, r.columns):
        if field.name not in w.column_names:
            fields.append(field)
            arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=w.schema.metadata))


def read_microdata(out):
    """The full weighted microdata as `swvr export` writes it: every column
    of respondents.arrow, then weighted.arrow's columns that
    respondents.arrow lacks, one row per weighted respondent."""
    t = read_weighted(out)
    with open(os.path.join(out, "ingest", "respondents.arrow"), "rb") as f:
        first = ipc.open_file(f).schema.names
    order = first + [c for c in t.column_names if c not in first]
    return t.select(order)
