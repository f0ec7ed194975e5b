#!/usr/bin/env bash
# code.analyze over >= 100,000 lines of CPython's standard library, against `radon cc` on the
# same files, in one sitting. Not a timed test: run it by hand after a release build.
#
#   cargo build --release && benches/code.sh [STDLIB] [RADON]
#
# STDLIB defaults to pyenv's Python 3.11.7 library; RADON to /work/venv-code/bin/radon
# (`python3 -m venv /work/venv-code && /work/venv-code/bin/pip install radon`).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
stdlib="${1:-/root/.pyenv/versions/3.11.7/lib/python3.11}"
radon="${2:-/work/venv-code/bin/radon}"
flowc="${CARGO_TARGET_DIR:-$here/target}/release/flowc"
work="$(mktemp -d /tmp/flowc-code-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Whole top-level modules, in name order, until there are 100,000 lines.
mkdir -p "$work/corpus"
lines=0
for file in "$stdlib"/*.py; do
    [ "$lines" -ge 100000 ] && break
    cp "$file" "$work/corpus/"
    lines=$((lines + $(wc -l < "$file")))
done
files=$(ls "$work/corpus" | wc -l)
echo "corpus: $files files, $lines lines in $work/corpus"

cat > "$work/bench.flow" <<'FLOW'
flow bench {
    state {
        files: list = []
        functions: list = []
        classes: list = []
        issues: list = []
    }
    node find = code.list_files(path: "corpus")
    node scan = code.analyze(input: "files")
    start -> find -> scan -> end
}
FLOW

best() { # best of 3 wall-clock seconds of "$@"
    local best=""
    for _ in 1 2 3; do
        local start end
        start=$(date +%s.%N)
        "$@" > /dev/null || { echo "failed: $*" >&2; exit 1; }
        end=$(date +%s.%N)
        local t
        t=$(echo "$end - $start" | bc)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}

echo "flowc run (code.list_files + code.analyze): $(best "$flowc" run "$work/bench.flow" -q) s"
echo "radon cc -j:                                $(best "$radon" cc -j "$work/corpus") s"
