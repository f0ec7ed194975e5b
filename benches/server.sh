#!/usr/bin/env bash
# `flowc serve` under load, with wrk: synchronous runs of a 3-node flow and of a 200-step
# loop flow (requests/s, p50/p99, every answer checked to be 200), then 10,000 background
# runs posted at once and polled until all are completed (total time, and whether the
# queued runs started in the order they came), and the store's size at the end.
#
#   benches/server.sh [DURATION] [REPEAT] [BACKGROUND_RUNS] [MAX_CONCURRENT_RUNS]
#
# DURATION (default 15s) per wrk run, each wrk case REPEAT times (default 1),
# BACKGROUND_RUNS (default 10000), MAX_CONCURRENT_RUNS (default: the server's own, 16).
# Installs wrk with apt-get if it is missing, builds the release binary, and stops the
# server it started when it ends. With FLOWC_BENCH_PERF=1 the first 3-node wrk run is
# recorded with `perf record -g` on the server (perf.data in the work directory, whose
# path is printed and kept). FLOWC_BENCH_BIN=PATH measures that binary instead of building.
set -euo pipefail

duration=${1:-15s}
repeat=${2:-1}
background_runs=${3:-10000}
max_concurrent=${4:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/flowc-server-bench.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${FLOWC_BENCH_PERF:-0}" = 1 ]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
    apt-get install -y wrk >/dev/null
fi
# FLOWC_BENCH_BIN: another build to measure (an older commit's, to compare) instead.
if [ -n "${FLOWC_BENCH_BIN:-}" ]; then
    flowc=$FLOWC_BENCH_BIN
else
    cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
    flowc=${CARGO_TARGET_DIR:-$repo/target}/release/flowc
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
db="$work/bench.db"
serve_args=(serve --addr "127.0.0.1:$port" --db "$db")
if [ -n "$max_concurrent" ]; then
    serve_args+=(--max-concurrent-runs "$max_concurrent")
fi
"$flowc" "${serve_args[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -sf "$base/healthz" >/dev/null && break
    sleep 0.1
done
curl -sf "$base/healthz" >/dev/null || { cat "$work/server.log"; exit 1; }

# Creates a graph from flow source on stdin and prints its id.
create_graph() {
    curl -sf "$base/graph/create" -H 'Content-Type: text/plain' --data-binary @- |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["graph_id"])'
}
three=$(create_graph <<'FLOW'
flow three {
    state { n: int = 0 }
    node a { n += 1 }
    node b { n += 1 }
    node c { n += 1 }
    start -> a -> b -> c -> end
}
FLOW
)
loop=$(create_graph <<'FLOW'
flow loop200 {
    state { n: int = 0 }
    node inc { n += 1 }
    start -> inc
    inc -> inc when n < 200
    inc -> end
}
FLOW
)

# wrk posts one body; each thread counts the answers that are not 200, and those whose
# run did not complete, and adds up the steps the answers report; `done` prints the sums.
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("FLOWC_BENCH_BODY")
local threads = {}
function setup(thread)
    table.insert(threads, thread)
end
function init(args)
    non200, incomplete, steps, answers = 0, 0, 0, 0
end
function response(status, headers, body)
    answers = answers + 1
    if status ~= 200 then
        non200 = non200 + 1
        return
    end
    if not string.find(body, '"status":"completed"', 1, true) then
        incomplete = incomplete + 1
    end
    -- The run's own "steps" field is the last one in the view (the log's records have "s").
    local n = 0
    for found in string.gmatch(body, '"steps":(%d+)') do
        n = tonumber(found)
    end
    steps = steps + n
end
function done(summary, latency, requests)
    local a, bad, inc, s = 0, 0, 0, 0
    for _, thread in ipairs(threads) do
        a = a + thread:get("answers")
        bad = bad + thread:get("non200")
        inc = inc + thread:get("incomplete")
        s = s + thread:get("steps")
    end
    local seconds = summary.duration / 1e6
    io.write(string.format("CHECK answers=%d non200=%d incomplete=%d socket_errors=%d\n",
        a, bad, inc, summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.timeout))
    io.write(string.format("RESULT runs/s=%.0f p50_ms=%.2f p99_ms=%.2f stored_steps=%d steps/s=%.0f\n",
        a / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000, s,
        s / seconds))
end
LUA

load() { cut -d' ' -f1-3 /proc/loadavg; }
# The server's user + system CPU time so far, in seconds.
server_cpu() {
    awk -v tick="$(getconf CLK_TCK)" '{ print ($14 + $15) / tick }' "/proc/$server_pid/stat"
}
echo "== flowc $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '(no git)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(load), max-concurrent-runs ${max_concurrent:-default}"

# One wrk case: LABEL GRAPH_ID [perf]. Fails if any answer was not a completed 200.
wrk_case() {
    local label=$1 graph=$2 perf=${3:-}
    local body="{\"graph_id\":\"$graph\",\"initial_state\":{},\"wait\":true}"
    local perf_pid=
    if [ -n "$perf" ]; then
        perf record -g -F 499 -p "$server_pid" -o "$work/perf.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    echo "-- $label (load before $(load))"
    local cpu_before
    cpu_before=$(server_cpu)
    FLOWC_BENCH_BODY=$body wrk -t2 -c16 -d"$duration" --latency -s "$work/post.lua" \
        "$base/graph/run" | tee "$work/wrk.out" | grep -E 'Latency|^ +(50|75|90|99)%|Requests/sec|CHECK|RESULT|Non-2xx|Socket'
    local runs
    runs=$(sed -n 's/^CHECK answers=\([0-9]*\).*/\1/p' "$work/wrk.out")
    python3 -c "import sys; c, n = float(sys.argv[2]) - float(sys.argv[1]), int(sys.argv[3]); \
print(f'server CPU: {c:.1f} s for {n} runs = {c / max(n, 1) * 1e6:,.0f} us a run')" \
        "$cpu_before" "$(server_cpu)" "$runs"
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid"
        wait "$perf_pid" 2>/dev/null || true
        echo "perf profile: $work/perf.data"
    fi
    grep -q 'CHECK .* non200=0 incomplete=0 socket_errors=0' "$work/wrk.out" ||
        { echo "FAILED: $label had answers that were not a completed 200" >&2; exit 1; }
}

for i in $(seq "$repeat"); do
    perf=
    if [ "$i" = 1 ] && [ "${FLOWC_BENCH_PERF:-0}" = 1 ]; then perf=1; fi
    wrk_case "3-node flow, wait:true" "$three" "$perf"
done
for _ in $(seq "$repeat"); do
    wrk_case "200-step loop flow, wait:true" "$loop"
done

echo "-- $background_runs background runs of the 3-node flow (load before $(load))"
python3 - "$port" "$three" "$background_runs" "$db" <<'PY'
import http.client, json, sqlite3, sys, time
port, graph, count, db = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = json.dumps({"graph_id": graph, "initial_state": {}, "wait": False})
conn = http.client.HTTPConnection("127.0.0.1", port)

def call(method, path, payload=None):
    conn.request(method, path, payload, {"Content-Type": "application/json"})
    answer = conn.getresponse()
    return answer.status, json.loads(answer.read())

started = time.monotonic()
ids = []
for _ in range(count):
    status, answer = call("POST", "/graph/run", body)
    if status != 202:
        sys.exit(f"POST /graph/run answered {status}: {answer}")
    ids.append(answer["run_id"])
posted = time.monotonic() - started
wanted = set(ids)
while True:
    # Completed runs of this graph, newest first, paged until the oldest.
    done, cursor = set(), None
    while True:
        path = f"/runs?graph_id={graph}&status=completed&limit=1000"
        if cursor is not None:
            path += f"&cursor={cursor}"
        status, page = call("GET", path)
        if status != 200:
            sys.exit(f"GET /runs answered {status}: {page}")
        done.update(run["run_id"] for run in page["runs"])
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    if wanted <= done:
        break
    if time.monotonic() - started > 600:
        sys.exit(f"only {len(wanted & done)} of {count} runs completed within 600 s")
    time.sleep(0.2)
total = time.monotonic() - started
print(f"posted {count} runs in {posted:.2f} s ({count / posted:,.0f}/s); "
      f"all completed {total:.2f} s after the first post ({count / total:,.0f} runs/s)")

# GET /runs has no started_at, so a run's start is its run_started event's time (µs), read
# from the store (read-only, beside the running server).
store = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
start = {run_id: json.loads(record)["t"] for run_id, record in
         store.execute("SELECT run_id, record FROM events WHERE seq = 0 AND kind = 'run_started'")
         if run_id in wanted}
finished = {run_id: at * 1000 for run_id, at in
            store.execute("SELECT id, finished_at FROM runs WHERE finished_at IS NOT NULL")
            if run_id in wanted}
store.close()
if len(start) != count:
    sys.exit(f"{count - len(start)} runs have no run_started event")
by_id = sorted(ids)
place = {run: k for k, run in enumerate(sorted(ids, key=lambda run: (start[run], run)))}
backwards = sum(1 for a, b in zip(by_id, by_id[1:]) if start[b] < start[a])
# The pool starts several runs at once on their own threads, so the clocks of neighbours may
# cross; "in order" is that no run starts more than a pool's width away from its place.
displacement = max(abs(k - place[run]) for k, run in enumerate(by_id))
# And no run starts after a run queued later than it has finished (finished_at is in ms).
overtaken, first_finish_after = 0, float("inf")
for run in reversed(by_id):
    if start[run] > first_finish_after + 1000:
        overtaken += 1
    first_finish_after = min(first_finish_after, finished[run])
print(f"start order: {backwards} of {count - 1} consecutive ids start before the one before "
      f"them; largest distance of a run from its place in id order: {displacement}; runs that "
      f"started after a later run had finished: {overtaken}")
PY
echo "-- store at the end: $(du -k "$db" | cut -f1) KiB file, $(du -k "$db-wal" 2>/dev/null | cut -f1 || echo 0) KiB WAL (load $(load))"
