"""The counter flow of benches/durable.rs as a LangGraph graph, checkpointed by SqliteSaver.

One node adds 1 to `n`; a conditional edge loops back to it until `n` reaches `limit`. The
graph is compiled with a SqliteSaver on a file, so every superstep (one step of the counter)
writes a checkpoint. Run with `durability="sync"` (each checkpoint is written before the
next step starts, which is what `flowc run --db` does) and LangGraph's default, "async"
(written while the next step runs). Prints one line per case: steps, seconds, steps/s.

    python3 benches/langgraph_counter.py [--steps N] [--payload-steps N] [--repeat R]
                                         [--synchronous default|normal|full]

Needs `langgraph` and `langgraph-checkpoint-sqlite` (benches/durable.sh makes a venv).
"""

import argparse
import os
import sqlite3
import tempfile
import time
from typing import TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph


class Counter(TypedDict, total=False):
    n: int
    limit: int
    payload: list


def inc(state: Counter) -> dict:
    return {"n": state["n"] + 1}


def again(state: Counter) -> str:
    return "inc" if state["n"] < state["limit"] else END


def build(checkpointer):
    graph = StateGraph(Counter)
    graph.add_node("inc", inc)
    graph.add_edge(START, "inc")
    graph.add_conditional_edges("inc", again, ["inc", END])
    return graph.compile(checkpointer=checkpointer)


def payload() -> list:
    return [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(10_000)]


def run_once(steps: int, with_payload: bool, durability: str, synchronous: str) -> float:
    """Seconds for one checkpointed run of `steps` steps on a new SQLite file."""
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(
            os.path.join(folder, "checkpoints.db"), check_same_thread=False
        )
        try:
            if synchronous != "default":
                connection.execute(f"PRAGMA synchronous = {synchronous}")
            app = build(SqliteSaver(connection))
            state: Counter = {"n": 0, "limit": steps}
            if with_payload:
                state["payload"] = payload()
            config = {
                "configurable": {"thread_id": "counter"},
                "recursion_limit": steps + 10,
            }
            started = time.perf_counter()
            final = app.invoke(state, config, durability=durability)
            elapsed = time.perf_counter() - started
        finally:
            connection.close()
    assert final["n"] == steps, final["n"]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--payload-steps", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--synchronous",
        choices=["default", "normal", "full"],
        default="default",
        help="PRAGMA synchronous on the saver's connection (default: as SqliteSaver leaves "
        "it, SQLite's FULL: one fsync per commit; flowc uses NORMAL in WAL mode)",
    )
    args = parser.parse_args()
    for durability in ("sync", "async"):
        for with_payload, steps in ((False, args.steps), (True, args.payload_steps)):
            label = f"langgraph SqliteSaver, durability={durability}, synchronous={args.synchronous}" + (
                ", 10k-object payload" if with_payload else ""
            )
            for _ in range(args.repeat):
                seconds = run_once(steps, with_payload, durability, args.synchronous)
                print(f"{label}: {steps} steps in {seconds:.2f} s = {steps / seconds:,.0f} steps/s",
                      flush=True)


if __name__ == "__main__":
    main()
