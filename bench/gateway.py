"""How fast the litellm path is: VS calls through ``build_model`` against the local fake server.

The server runs in its own process with a fixed injected latency, so this measures
the client side only: throughput against the ideal (concurrency / latency), the
client's CPU time per call, and what ``import vs_sim`` costs a fresh interpreter.

    python bench/gateway.py --calls 1000 --concurrency 16 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

from vs_sim.models import Completion, Request, build_model
from vs_sim.models.litellm_model import import_litellm


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    """Start the fake server in its own process; returns it and its ``api_base``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vs_sim.testing.server", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("serving "):
        proc.terminate()
        raise SystemExit(f"the fake server did not start: {line!r}")
    return proc, line.removeprefix("serving ")


def cpu_seconds_of(pid: int) -> float | None:
    """User plus system CPU seconds a process has used so far (Linux ``/proc``; else None)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def import_seconds(module: str, runs: int = 5) -> float:
    """Median cumulative import time of ``module`` in a fresh interpreter (``-X importtime``)."""
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in out.stderr.splitlines():
            parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == module:
                times.append(int(parts[1]) / 1e6)
    return statistics.median(times) if times else float("nan")


def request(i: int, k: int) -> Request:
    prompt = f"Question {i}: what would you say next? Give {k} responses with probabilities."
    return Request(
        model="openai/fake-bench",
        messages=({"role": "user", "content": prompt},),
        params={"temperature": 1.0},
        repeat=i,
    )


async def run_calls(api_base: str, calls: int, concurrency: int, k: int) -> dict[str, float]:
    model = build_model(
        "openai/fake-bench",
        client="litellm",
        cache=False,
        concurrency=concurrency,
        timeout=30.0,
        api_base=api_base,
        api_key="sk-bench-not-a-secret",
    )
    try:
        started = time.perf_counter()
        await model.acomplete(request(-1, k))  # warm-up: litellm's first call builds clients
        first_call = time.perf_counter() - started

        cpu0, wall0 = time.process_time(), time.perf_counter()
        results = await asyncio.gather(
            *(model.acomplete(request(i, k)) for i in range(calls)), return_exceptions=True
        )
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        await model.aclose()  # type: ignore[attr-defined]
    done = [r for r in results if isinstance(r, Completion)]
    parsed = sum(1 for r in done if len(json.loads(r.text)["responses"]) == k)
    return {
        "first_call": first_call,
        "wall": wall,
        "cpu": cpu,
        "ok": len(done),
        "failed": len(results) - len(done),
        "parsed": parsed,
        "retries": sum(r.retries for r in done),
        "latency_mean": statistics.fmean(r.latency for r in done) if done else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency, seconds")
    parser.add_argument("--k", type=int, default=5, help="responses per VS answer")
    args = parser.parse_args()

    vs_sim_import = import_seconds("vs_sim")
    models_import = import_seconds("vs_sim.models")
    started = time.perf_counter()
    import_litellm()
    litellm_import = time.perf_counter() - started

    proc, api_base = start_server(args.latency)
    try:
        server_cpu0 = cpu_seconds_of(proc.pid)
        stats = asyncio.run(run_calls(api_base, args.calls, args.concurrency, args.k))
        server_cpu1 = cpu_seconds_of(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()

    ideal = args.concurrency / args.latency if args.latency > 0 else float("inf")
    rate = stats["ok"] / stats["wall"]
    print(
        f"calls                  {args.calls} at concurrency {args.concurrency}, "
        f"server latency {args.latency * 1000:.0f} ms, k={args.k}"
    )
    print(
        f"ok / failed / parsed   {stats['ok']:.0f} / {stats['failed']:.0f} / {stats['parsed']:.0f}"
        f"  (retries {stats['retries']:.0f})"
    )
    print(f"wall time              {stats['wall']:.2f} s")
    print(f"throughput             {rate:.1f} calls/s")
    print(f"ideal                  {ideal:.1f} calls/s (concurrency / latency)")
    print(f"ratio to ideal         {rate / ideal:.2f}")
    print(f"mean call latency      {stats['latency_mean'] * 1000:.1f} ms")
    print(f"client CPU per call    {stats['cpu'] / max(stats['ok'], 1) * 1000:.2f} ms")
    if server_cpu0 is not None and server_cpu1 is not None:
        server_ms = (server_cpu1 - server_cpu0) / (args.calls + 1) * 1000
        print(f"server CPU per call    {server_ms:.2f} ms (separate process, not counted above)")
    print(f"first call (warm-up)   {stats['first_call'] * 1000:.0f} ms")
    print(f"import vs_sim          {vs_sim_import:.3f} s (fresh interpreter; target < 0.3 s)")
    print(f"import vs_sim.models   {models_import:.3f} s")
    print(f"import litellm (lazy)  {litellm_import:.2f} s (paid on the first remote call)")


if __name__ == "__main__":
    main()
