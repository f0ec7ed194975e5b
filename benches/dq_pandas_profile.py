#!/usr/bin/env python3
"""Prints pandas' figures for the bundled customer CSV, which tests/integration/dq.rs
compares dq.profile with. pandas reads empty cells as NaN, as dq.profile reads them as null.

    /work/venv-dq/bin/python benches/dq_pandas_profile.py examples/data/customers.csv
"""

import sys

import pandas as pd

frame = pd.read_csv(sys.argv[1])
print("pandas", pd.__version__)
print("rows", len(frame))
print("isna", frame.isna().sum().to_dict())
print("nunique", frame.nunique().to_dict())
for column in ["id", "age", "income"]:
    described = frame[column].describe()
    print(column, {key: repr(value) for key, value in described.items()})
