"""A stand-in linter for examples/code_review.flow, speaking the exec protocol:
reads {"state", "args", "node"} as JSON on stdin, prints a JSON object of changes."""
import json
import sys

request = json.load(sys.stdin)
files = request["state"]["files"]
unnamed = [i for i, f in enumerate(files) if not f.get("name")]
if unnamed:
    print(f"files {unnamed} have no name", file=sys.stderr)
    sys.exit(1)
rust = sum(1 for f in files if f["name"].endswith(".rs"))
print(json.dumps({"lint": {"checked": len(files), "rust_files": rust, "warnings": 0}}))
