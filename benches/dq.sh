#!/usr/bin/env bash
# The data-quality loop over a 1,000,000-row, 8-column CSV: flowc (release) and the same loop
# in pandas, each under /usr/bin/time -v (wall time, peak RSS). Not a timed test.
#   PYTHON=/work/venv-dq/bin/python benches/dq.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WORK=${WORK:-/tmp/flowc-dq-bench}
ROWS=${ROWS:-1000000}
mkdir -p "$WORK"
[ -f "$WORK/customers.csv" ] || "$PYTHON" examples/data/make_customers.py --rows "$ROWS" --out "$WORK/customers.csv"
cp examples/data_quality.flow "$WORK/"
cargo build --release --quiet
# The same threshold, scaled: the example's 130 per 3,000 rows.
THRESHOLD=$((ROWS * 130 / 3000))
echo "== flowc"
/usr/bin/time -v ./target/release/flowc run "$WORK/data_quality.flow" \
    --state <(echo "{\"dataset\": \"customers.csv\", \"output\": \"customers.clean.csv\", \"threshold\": $THRESHOLD}") \
    2>"$WORK/flowc.time" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["summary"])'
grep -E "Elapsed|Maximum resident" "$WORK/flowc.time"
echo "== pandas"
/usr/bin/time -v "$PYTHON" benches/dq_pandas.py "$WORK/customers.csv" "$WORK/pandas.clean.csv" "$THRESHOLD" 2>"$WORK/pandas.time"
grep -E "Elapsed|Maximum resident" "$WORK/pandas.time"
