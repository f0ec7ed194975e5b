#!/usr/bin/env python3
"""The data-quality loop of examples/data_quality.flow written plainly in pandas, for
benches/dq.sh to time beside flowc: profile, then detect → repair until few anomalies remain.

    python benches/dq_pandas.py INPUT.csv OUTPUT.csv THRESHOLD
"""

import re
import sys

import pandas as pd

EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


def detect(frame):
    found = {}
    for column in frame.columns:
        series = frame[column]
        found[("missing", column)] = int(series.isna().sum())
        if pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
            mean, std = series.mean(), series.std()
            found[("outlier", column)] = int(((series - mean).abs() > 3 * std).sum())
        elif series.dtype == object:
            text = series.dropna().astype(str)
            emails = text.str.match(EMAIL.pattern)
            if emails.mean() >= 0.8:
                found[("malformed", column)] = int((~emails).sum())
            elif text.nunique() <= 1000:
                key = text.str.strip().str.lower()
                canonical = text.groupby(key).agg(lambda v: v.value_counts().index[0])
                found[("category", column)] = int((text != key.map(canonical)).sum())
    found[("duplicates", None)] = int(frame.duplicated().sum())
    return found


def repair(frame):
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
            mean, std = series.mean(), series.std()
            frame[column] = series.fillna(series.median()).clip(mean - 3 * std, mean + 3 * std)
        elif series.dtype == object:
            text = series.dropna().astype(str)
            emails = text.str.match(EMAIL.pattern)
            if emails.mean() >= 0.8:
                cleaned = series.str.strip().str.lower()
                frame[column] = cleaned.where(cleaned.str.match(EMAIL.pattern, na=False))
            else:
                key = series.str.strip().str.lower()
                canonical = text.groupby(key.dropna()).agg(lambda v: v.value_counts().index[0])
                frame[column] = key.map(canonical).fillna(series.mode().iloc[0])
    return frame.drop_duplicates()


def main():
    source, output, threshold = sys.argv[1], sys.argv[2], int(sys.argv[3])
    frame = pd.read_csv(source)
    frame.describe(include="all")
    frame.nunique()
    count = sum(detect(frame).values())
    for _ in range(5):
        if count <= threshold:
            break
        frame = repair(frame)
        count = sum(detect(frame).values())
    frame.to_csv(output, index=False)
    print(f"pandas {pd.__version__}: {len(frame)} rows, {count} anomalies left")


if __name__ == "__main__":
    main()
