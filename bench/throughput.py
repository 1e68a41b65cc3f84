"""Benchmarks 1 and 6 of issue 7: VS calls per second against a bare aiohttp client, and a re-run
from the cache.

The fake OpenAI-compatible server runs in its own process with a fixed latency. In one run,
the same number of chat calls go through:

- **raw**: a bare aiohttp client (``bench/raw_aiohttp.py``), the most a Python client can do;
- **vs_sim**: ``averbalize(prompt, k=5, model=..., repeat=i)`` over the stack ``build_model``
  gives an OpenAI-compatible server (limits ▸ retry ▸ :class:`OpenAICompatModel`, no cache),
  so prompt building, the request key, parsing, normalization and the Distribution count;
- **litellm** (``--litellm``, slow): the same with :class:`LiteLLMModel` at the bottom.

Rounds alternate raw and vs_sim so machine noise hits both; the median round is reported.
Then the cache benchmark: vs_sim again with a cache file, twice; the second pass must make
no server call.

    python bench/throughput.py                       # 2,000 calls, concurrency 64, 50 ms
    python bench/throughput.py --litellm --profile   # also litellm, and where vs_sim's CPU goes
    python bench/throughput.py --gc                  # garbage-collector pauses per pass
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from raw_aiohttp import Phase, ServerProcess, raw_calls

from vs_sim.methods import get_method
from vs_sim.models import CachedModel, LimitedModel, ResponseCache, RetryingModel
from vs_sim.models.base import Completion, Model, Request, Usage
from vs_sim.models.openai_compat import OpenAICompatModel
from vs_sim.testing.scripted import vs_answer
from vs_sim.verbalizer import averbalize, to_messages

PROMPT = "Name a US state you would like to visit, and say why in one sentence."
NAME = "openai/fake-bench"
KEY = "sk-bench-not-a-secret"
WIRE = NAME.split("/", 1)[1]


class Counting:
    """Counts the calls that reach the client (a cache hit never does)."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_json_schema = inner.supports_json_schema
        self.calls = 0

    async def acomplete(self, request: Request) -> Completion:
        self.calls += 1
        return await self.inner.acomplete(request)

    async def aclose(self) -> None:
        await self.inner.aclose()  # type: ignore[attr-defined]


def stack(client: Model, concurrency: int) -> LimitedModel:
    """What ``build_model`` builds for a remote model with ``cache=False``."""
    return LimitedModel(RetryingModel(client, timeout=60.0), concurrency=concurrency)


def lean_client(api_base: str) -> Counting:
    return Counting(OpenAICompatModel(NAME, api_base=api_base, api_key=KEY))


def litellm_client(api_base: str) -> Counting:
    from vs_sim.models.litellm_model import LiteLLMModel, import_litellm

    import_litellm()
    return Counting(LiteLLMModel(NAME, api_base=api_base, api_key=KEY))


async def vs_calls(
    model: Model, client: Counting, calls: int, offset: int, profile: cProfile.Profile | None
) -> tuple[int, float, float, int]:
    """``calls`` VS distributions through ``model``; returns (ok, wall, cpu, client calls)."""
    await averbalize(PROMPT, k=5, model=model, repeat=-1 - offset)  # warm-up, not timed
    before = client.calls
    if profile is not None:
        profile.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(
        *(averbalize(PROMPT, k=5, model=model, repeat=offset + i) for i in range(calls)),
        return_exceptions=True,
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if profile is not None:
        profile.disable()
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print(f"  {len(errors)} failed; first: {errors[0]!r}", file=sys.stderr)
    return calls - len(errors), wall, cpu, client.calls - before


def run_vs_sim(
    client: Counting,
    concurrency: int,
    calls: int,
    *,
    offset: int = 0,
    cache: Path | None = None,
    profile: cProfile.Profile | None = None,
) -> tuple[int, float, float, int]:
    """On a fresh event loop: stack the client, run the calls, close everything."""

    async def go() -> tuple[int, float, float, int]:
        model: Model = stack(client, concurrency)
        if cache is not None:
            model = CachedModel(model, ResponseCache(cache))
        try:
            return await vs_calls(model, client, calls, offset, profile)
        finally:
            await model.aclose()  # type: ignore[attr-defined]

    return asyncio.run(go())


LABELS = {
    "raw": "raw aiohttp",
    "vs_sim": "vs_sim (lean client)",
    "litellm": "vs_sim (litellm)",
    "client": "stack alone (no VS)",
}


async def stack_calls(api_base: str, calls: int, concurrency: int) -> tuple[int, float, float]:
    """The lean client under limits ▸ retry, fed ready-made requests: no prompt, no parsing."""
    model = stack(OpenAICompatModel(NAME, api_base=api_base, api_key=KEY), concurrency)
    messages = tuple(wire_messages())
    requests = [Request(model=NAME, messages=messages, repeat=i) for i in range(-1, calls)]
    try:
        await model.acomplete(requests[0])
        cpu0, wall0 = time.process_time(), time.perf_counter()
        results = await asyncio.gather(
            *(model.acomplete(r) for r in requests[1:]), return_exceptions=True
        )
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await model.aclose()
    return sum(isinstance(r, Completion) for r in results), wall, cpu


class InstantModel:
    """Answers at once with a fixed VS reply: what is left is vs_sim's own work."""

    name = NAME
    supports_json_schema = False

    def __init__(self, text: str) -> None:
        self.text = text

    async def acomplete(self, request: Request) -> Completion:
        return Completion(
            text=self.text,
            model=self.name,
            usage=Usage(prompt_tokens=100, completion_tokens=60),
            request_key=request.key,
        )


def pipeline_cpu_ms(calls: int, concurrency: int) -> float:
    """CPU ms per ``averbalize`` with an instant model under limits ▸ retry (no network)."""
    reply = vs_answer(5, random.Random(0))
    model = stack(InstantModel(reply), concurrency)

    async def go() -> float:
        await averbalize(PROMPT, k=5, model=model, repeat=-1)
        cpu0 = time.process_time()
        await asyncio.gather(
            *(averbalize(PROMPT, k=5, model=model, repeat=i) for i in range(calls))
        )
        return (time.process_time() - cpu0) / calls * 1000

    return asyncio.run(go())


class GcMeter:
    """Garbage-collector pauses while it is active: collections and seconds per generation."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def __str__(self) -> str:
        return ", ".join(
            f"gen{g} {n} ({t * 1000:.0f} ms)"
            for g, (n, t) in enumerate(zip(self.count, self.seconds))
        )


GC_SEEN: dict[str, list[GcMeter]] = {}


def one_pass(kind: str, args: argparse.Namespace, offset: int) -> Phase:
    """One pass of ``args.calls`` calls against a fresh server process.

    A fresh server per pass keeps passes independent: the fake server keeps every request
    it received, and a server grown by earlier passes would slow the later ones.
    """
    n, c = args.calls, args.concurrency
    with ServerProcess(args.latency) as server, GcMeter() as meter:
        GC_SEEN.setdefault(kind, []).append(meter)
        cpu0 = server.cpu_seconds()
        if kind == "raw":
            ok, wall, cpu = asyncio.run(
                raw_calls(server.api_base, wire_messages(), calls=n, concurrency=c, model=WIRE)
            )
        elif kind == "client":
            ok, wall, cpu = asyncio.run(stack_calls(server.api_base, n, c))
        else:
            make = lean_client if kind == "vs_sim" else litellm_client
            ok, wall, cpu, _ = run_vs_sim(make(server.api_base), c, n, offset=offset)
        return Phase(LABELS[kind], n, ok, wall, cpu, server.cpu_seconds() - cpu0)


def wire_messages() -> list[dict[str, str]]:
    """Exactly the messages vs_sim sends for ``PROMPT``, so the server does the same work."""
    method = get_method("vs_standard", k=5)
    return method.build_messages(to_messages(PROMPT), method.turn_sizes()[0])


def median_phase(phases: list[Phase]) -> Phase:
    return sorted(phases, key=lambda p: p.rate)[len(phases) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency, seconds")
    parser.add_argument("--rounds", type=int, default=3, help="raw/vs_sim pairs; median shown")
    parser.add_argument("--litellm", action="store_true", help="also litellm (slow)")
    parser.add_argument("--profile", action="store_true", help="profile one vs_sim pass")
    parser.add_argument("--no-cache-bench", action="store_true", help="skip benchmark 6")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also split vs_sim's CPU into client stack and VS work (parse, Distribution)",
    )
    parser.add_argument("--gc", action="store_true", help="garbage-collector pauses per pass")
    args = parser.parse_args()
    n, c = args.calls, args.concurrency
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{n} calls per pass at concurrency {c}, server latency {args.latency * 1000:.0f} ms "
        f"(fake server, own process, fresh per pass); {os.cpu_count()} cores, "
        f"load average {load:.1f}\n"
    )

    passes: dict[str, list[Phase]] = {"raw": [], "vs_sim": []}
    for r in range(args.rounds):
        order = ("raw", "vs_sim") if r % 2 == 0 else ("vs_sim", "raw")  # neither always first
        for kind in order:
            passes[kind].append(one_pass(kind, args, offset=r * n))
        raw, lean = passes["raw"][-1], passes["vs_sim"][-1]
        print(
            f"  round {r + 1}: raw {raw.rate:6.0f}/s   vs_sim {lean.rate:6.0f}/s   "
            f"ratio {lean.rate / raw.rate:.2f}"
        )
    phases = [median_phase(passes["raw"]), median_phase(passes["vs_sim"])]
    if args.breakdown:
        phases.append(one_pass("client", args, offset=0))
    if args.litellm:
        phases.append(one_pass("litellm", args, offset=-n - 1))

    ideal = c / args.latency if args.latency > 0 else float("inf")
    raw_rate = phases[0].rate
    ratios = [lean.rate / raw.rate for raw, lean in zip(passes["raw"], passes["vs_sim"])]
    print(
        f"\n{'client':<22}{'ok':>7}{'calls/s':>10}{'÷ raw':>8}{'÷ ideal':>9}"
        f"{'CPU ms/call':>13}{'server ms/call':>16}"
    )
    for p in phases:
        print(
            f"{p.label:<22}{p.ok:>7}{p.rate:>10.0f}{p.rate / raw_rate:>8.2f}"
            f"{p.rate / ideal:>9.2f}{p.cpu_ms:>13.2f}{p.server_cpu_ms:>16.2f}"
        )
    print(
        f"\nideal {ideal:.0f} calls/s (concurrency ÷ latency); vs_sim ÷ raw per round: "
        + ", ".join(f"{x:.2f}" for x in ratios)
        + f"; median {statistics.median(ratios):.2f} (target >= 0.8)"
    )

    if args.gc:
        print("\ngarbage collections in the client process during each pass (and their pauses):")
        for kind, meters in GC_SEEN.items():
            for i, meter in enumerate(meters):
                print(f"  {LABELS[kind]:<22} pass {i + 1}: {meter}")

    if args.breakdown:
        print(
            f"VS work per call without any network (prompt, request key, parse, Distribution; "
            f"instant model under limits ▸ retry): {pipeline_cpu_ms(n, c):.2f} ms CPU"
        )

    if args.profile:
        profile = cProfile.Profile()
        with ServerProcess(args.latency) as server:
            run_vs_sim(lean_client(server.api_base), c, n, offset=10 * n, profile=profile)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print("\nwhere vs_sim's CPU goes (cProfile, by own time):")
        print(out.getvalue())

    if not args.no_cache_bench:
        print(f"\ncache (benchmark 6): {n} VS calls with a cache file, twice")
        with tempfile.TemporaryDirectory() as tmp, ServerProcess(args.latency) as server:
            path = Path(tmp) / "cache.sqlite"
            for attempt in ("first pass (fills the cache)", "second pass (from the cache)"):
                ok, wall, _, made = run_vs_sim(
                    lean_client(server.api_base), c, n, offset=20 * n, cache=path
                )
                print(
                    f"  {attempt:<30} server calls {made:>5}   ok {ok:>5}   "
                    f"wall {wall:6.2f} s   {ok / wall:8.0f} VS calls/s"
                )


if __name__ == "__main__":
    main()
