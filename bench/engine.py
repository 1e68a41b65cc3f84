"""The conversation engine's own cost: overhead per turn and memory per 100,000 logged turns.

Runs many round-robin conversations on a zero-latency model (it answers a fixed, valid VS
reply instantly and times itself), so what remains is the engine: scheduling, building the
speaker's messages, the request key, parsing and normalizing, drawing, and writing four
events per turn. Then it builds the conversation graph from the log and measures it.

    python bench/engine.py                 # 10,000 turns
    python bench/engine.py --turns 100000  # the full 100,000 (slower)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import vs_sim.conversation as engine
from vs_sim.agents import Agent
from vs_sim.conversation import Conversation, Termination
from vs_sim.events import read_events
from vs_sim.graph import ConversationGraph
from vs_sim.models.base import Completion, Request, Usage
from vs_sim.runner import run_conversations

REPLY = json.dumps(
    {
        "responses": [
            {
                "text": f"Candidate utterance number {i}, about as long as a real one.",
                "probability": p,
            }
            for i, p in enumerate([0.35, 0.25, 0.2, 0.12, 0.08])
        ]
    }
)


class InstantModel:
    """Answers every request at once with the same VS reply; adds up its own time."""

    name = "bench/instant"
    supports_json_schema = False

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    async def acomplete(self, request: Request) -> Completion:
        start = time.perf_counter()
        completion = Completion(
            text=REPLY,
            model=self.name,
            usage=Usage(prompt_tokens=100, completion_tokens=60),
            cost=0.0,
            request_key=request.key,
        )
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return completion


class Timed:
    """Wraps ``averbalize`` to split the turn into prompt/parse work and the engine proper."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.inner = engine.averbalize

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def build(n_conversations: int, turns: int) -> list[Conversation]:
    agents = tuple(
        Agent(id=name.lower(), name=name, persona=f"You are {name}, a resident of Springfield.")
        for name in ("Ana", "Ben", "Cy")
    )
    return [
        Conversation(
            id=f"c{i:06d}",
            agents=agents,
            opening="Should the town build a new library?",
            termination=Termination(max_turns=turns),
        )
        for i in range(n_conversations)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000, help="turns in all")
    parser.add_argument("--per-conversation", type=int, default=20, help="turns each")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    n_conv = max(1, args.turns // args.per_conversation)
    total = n_conv * args.per_conversation
    specs = build(n_conv, args.per_conversation)
    model = InstantModel()
    timed = Timed()
    engine.averbalize = timed  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "bench.jsonl"
        start = time.perf_counter()
        result = run_conversations(
            specs,
            model=model,
            seed=1,
            log_path=log,
            concurrency=args.concurrency,
            progress=False,
        )
        elapsed = time.perf_counter() - start
        assert result.turns == total, result
        log_bytes = os.path.getsize(log)

        start = time.perf_counter()
        events = list(read_events(log))
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        ConversationGraph.from_events(events).graph  # noqa: B018 - the networkx graph, built
        build_s = time.perf_counter() - start
        tracemalloc.start()
        graph = ConversationGraph.from_events(events)
        graph.graph  # noqa: B018 - built on first use: measure the networkx graph, not the records
        graph_bytes, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        nodes, edges = graph.graph.number_of_nodes(), graph.graph.number_of_edges()

    overhead_us = (elapsed - model.seconds) / total * 1e6
    scale = 100_000 / total
    print(
        f"turns: {total:,} ({n_conv:,} conversations × {args.per_conversation}, "
        f"concurrency {args.concurrency}, python {sys.version.split()[0]})"
    )
    print(
        f"wall time: {elapsed:.2f} s; inside the model: {model.seconds * 1e3:.1f} ms "
        f"({model.calls:,} calls)"
    )
    print(
        f"engine overhead per turn: {overhead_us:,.0f} µs "
        f"({total / (elapsed - model.seconds):,.0f} turns/s)"
    )
    vs_us = (timed.seconds - model.seconds) / total * 1e6
    print(
        f"  averbalize (method prompt, request key, parse, normalize): {vs_us:,.0f} µs; "
        f"the engine proper (schedule, messages, draw, 4 flushed events): "
        f"{overhead_us - vs_us:,.0f} µs"
    )
    print(
        f"log: {log_bytes / total:,.0f} bytes per turn → "
        f"{log_bytes * scale / 2**20:,.1f} MiB per 100,000 turns"
    )
    print(f"reading the log back: {read_s / total * 1e6:,.0f} µs per turn")
    print(
        f"graph: {nodes:,} nodes, {edges:,} edges; built in {build_s / total * 1e6:,.0f} µs "
        "per turn; "
        f"{graph_bytes / total:,.0f} bytes per turn in memory → "
        f"{graph_bytes * scale / 2**20:,.1f} MiB per 100,000 turns"
    )


if __name__ == "__main__":
    main()
