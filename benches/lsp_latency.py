#!/usr/bin/env python3
"""Latency of `flowc lsp` on a 1,000-node flow, as an editor sees it.

Starts the release binary, opens a generated flow of 1,000 nodes, then 20 times: changes one
line and waits for the diagnostics (the time includes the server's 10 ms debounce), and asks
for a completion after `->`. Prints the median and worst time of each.

    cargo build --release && python3 benches/lsp_latency.py
"""
import json
import statistics
import subprocess
import sys
import time

BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/release/flowc"
NODES = 1000
URI = "file:///bench/big.flow"


def flow(edit):
    lines = ["flow big {", "    state {", "        n: int = 0", "    }"]
    for i in range(NODES):
        lines.append(f"    /// Step {i}.")
        lines.append(f"    node n{i} {{ n += {edit if i == NODES // 2 else 1} }}")
    lines.append("    start -> n0")
    for i in range(NODES - 1):
        lines.append(f"    n{i} -> n{i + 1} when n >= 0")
        lines.append(f"    n{i} -> end")
    lines.append("}")
    return "\n".join(lines) + "\n"


class Server:
    def __init__(self):
        self.proc = subprocess.Popen([BINARY, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 1

    def send(self, message):
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self):
        length = 0
        while True:
            line = self.proc.stdout.readline().strip()
            if not line:
                break
            if line.startswith(b"Content-Length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.proc.stdout.read(length))

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id:
                return message

    def diagnostics(self):
        while True:
            message = self.read()
            if message.get("method") == "textDocument/publishDiagnostics":
                return message["params"]["diagnostics"]


def main():
    server = Server()
    server.request("initialize", {"capabilities": {}})
    server.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": URI, "languageId": "flow", "version": 1, "text": flow(1)}}})
    assert server.diagnostics() == []
    changes, completions = [], []
    start_line = 4 + 2 * NODES  # `    start -> n0`: complete after `-> `
    for version in range(2, 22):
        started = time.perf_counter()
        server.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": URI, "version": version},
            "contentChanges": [{"text": flow(version)}]}})
        server.diagnostics()
        changes.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        answer = server.request("textDocument/completion", {
            "textDocument": {"uri": URI}, "position": {"line": start_line, "character": 13}})
        completions.append((time.perf_counter() - started) * 1000)
        assert len(answer["result"]) > NODES, answer
    server.request("shutdown", None)
    server.send({"jsonrpc": "2.0", "method": "exit", "params": None})
    server.proc.wait()
    print(f"{NODES} nodes, {len(flow(1))} bytes")
    print(f"change -> diagnostics: median {statistics.median(changes):.1f} ms, worst {max(changes):.1f} ms (10 ms of it is the debounce)")
    print(f"completion:            median {statistics.median(completions):.1f} ms, worst {max(completions):.1f} ms")


main()
