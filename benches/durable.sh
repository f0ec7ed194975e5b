#!/usr/bin/env bash
# Durable runs side by side: `flowc run counter.flow --db …` (one SQLite transaction per
# step) and the same counter graph in LangGraph with its SqliteSaver, one after the other.
#
#   benches/durable.sh [STEPS] [LANGGRAPH_STEPS] [REPEAT] [RESUME_STEPS]
#
# STEPS (default 100000) steps for flowc, LANGGRAPH_STEPS (default 5000) for LangGraph (a
# fifth of them with the payload), each case REPEAT times (default 3). Then a run killed
# (SIGKILL) after RESUME_STEPS (default 1000000; 0 skips it) stored steps: the size of its
# store after a checkpoint, and the time from launching `flowc resume` to the end of the
# first new step (read back from the stored step's start and duration). Builds the release
# binary; makes a venv with langgraph and langgraph-checkpoint-sqlite outside the repository
# (FLOWC_BENCH_VENV, default ${TMPDIR:-/tmp}/flowc-bench-venv) the first time.
set -euo pipefail

steps=${1:-100000}
langgraph_steps=${2:-5000}
repeat=${3:-3}
resume_steps=${4:-1000000}
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${FLOWC_BENCH_VENV:-${TMPDIR:-/tmp}/flowc-bench-venv}
work=$(mktemp -d "${TMPDIR:-/tmp}/flowc-durable-bench.XXXXXX")
# The background runs this script starts are stopped (by their ids) if it stops early.
trap 'jobs -p | xargs -r kill -KILL 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
flowc=${CARGO_TARGET_DIR:-$repo/target}/release/flowc

cat >"$work/counter.flow" <<'FLOW'
flow counter {
    state { n: int = 0, limit: int }
    node inc { n += 1 }
    start -> inc
    inc -> inc when n < limit
    inc -> end
}
FLOW
python3 - "$work/payload.json" "$steps" <<'PY'
import json, sys
items = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(10_000)]
json.dump({"limit": int(sys.argv[2]), "payload": items}, open(sys.argv[1], "w"))
PY

# One timed `flowc run`: prints "<label>: N steps in S s = R steps/s (user U s, sys Y s)".
timed_run() {
    local label=$1
    shift
    local db="$work/runs.db"
    rm -f "$db" "$db-wal" "$db-shm"
    /usr/bin/time -f "%e %U %S" -o "$work/time" \
        "$flowc" run "$work/counter.flow" --max-steps $((steps + 1)) -q "$@" >/dev/null
    read -r wall user sys <"$work/time"
    python3 -c "import sys; s, w = int(sys.argv[1]), float(sys.argv[2]); \
print(f'{sys.argv[3]}: {s} steps in {w:.2f} s = {s / w:,.0f} steps/s (user {sys.argv[4]} s, sys {sys.argv[5]} s)')" \
        "$steps" "$wall" "$label" "$user" "$sys"
}

echo "== flowc $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '(no git)'), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$repeat"); do
    timed_run "flowc run --db" --set limit="$steps" --db "$work/runs.db"
done
for _ in $(seq "$repeat"); do
    timed_run "flowc run --db, 10k-object payload" --state "$work/payload.json" --db "$work/runs.db"
done
for _ in $(seq "$repeat"); do
    timed_run "flowc run (no --db)" --set limit="$steps"
done

if [ "$resume_steps" -gt 0 ]; then
    big="$work/big.db"
    "$flowc" run "$work/counter.flow" --set limit=$((resume_steps * 2)) \
        --max-steps $((resume_steps * 4)) --db "$big" -q >/dev/null &
    pid=$!
    python3 - "$big" "$resume_steps" "$pid" <<'PY'
import os, sqlite3, sys, time
path, steps, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
while True:
    time.sleep(0.02)
    if not alive():
        sys.exit(f"flowc run stopped before storing {steps} steps")
    if not os.path.exists(path):
        continue
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        row = db.execute("SELECT steps FROM runs WHERE id = 1").fetchone()
        db.close()
    except sqlite3.Error:
        continue
    if row and row[0] >= steps:
        break
PY
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    python3 - "$big" <<'PY'
import os, sqlite3, sys
path = sys.argv[1]
db = sqlite3.connect(path)
steps, = db.execute("SELECT steps FROM runs WHERE id = 1").fetchone()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
size = lambda p: os.path.getsize(p) if os.path.exists(p) else 0
print(f"run killed after {steps:,} stored steps: store {size(path) / 1e6:.1f} MB "
      f"+ WAL {size(path + '-wal') / 1e6:.1f} MB after a checkpoint")
PY
    last_seq=$(python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT max(seq) FROM events WHERE run_id = 1').fetchone()[0])" "$big")
    launched=$(date +%s%N)
    timeout 60 "$flowc" resume 1 --db "$big" --max-steps $((resume_steps * 4)) -q >/dev/null &
    resumed=$!
    python3 - "$big" "$last_seq" "$launched" <<'PY'
import json, sqlite3, sys, time
path, last_seq, launched_ns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(1200):
    time.sleep(0.05)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    row = db.execute("SELECT record FROM events WHERE run_id = 1 AND seq > ? AND kind = 'step' "
                     "ORDER BY seq LIMIT 1", (last_seq,)).fetchone()
    db.close()
    if row:
        break
else:
    sys.exit("flowc resume stored no new step within 60 s")
step = json.loads(row[0])
latency_ms = ((step["t"] + step["d"]) * 1000 - launched_ns) / 1e6
print(f"flowc resume: first new step (step {step['s']:,}) done {latency_ms:.1f} ms after launch")
PY
    kill -KILL "$resumed" 2>/dev/null || true
    wait "$resumed" 2>/dev/null || true
fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet langgraph langgraph-checkpoint-sqlite
fi
echo "== langgraph $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("langgraph"), "checkpoint-sqlite", m.version("langgraph-checkpoint-sqlite"))'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for synchronous in default normal; do
    "$venv/bin/python" "$repo/benches/langgraph_counter.py" --steps "$langgraph_steps" \
        --payload-steps $((langgraph_steps / 5)) --repeat "$repeat" --synchronous "$synchronous"
done
