"""The yardstick for client throughput: a bare aiohttp client, and the server it talks to.

``start_server`` runs vs_sim's fake OpenAI-compatible server (``vs_sim.testing.server``)
in its own process with a fixed latency, so the client and the server do not share an
interpreter. ``raw_calls`` is the least a Python client can do per chat call: one shared
``aiohttp`` session, a semaphore for concurrency, ``json.dumps`` the body, ``json.loads``
the answer and read ``choices[0].message.content``. ``bench/throughput.py`` compares
vs_sim against it in the same run.

    python bench/raw_aiohttp.py --calls 2000 --concurrency 64 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class Phase:
    """What one batch of calls did: counts, wall and CPU time on both sides."""

    label: str
    calls: int
    ok: int
    wall: float
    cpu: float
    server_cpu: float
    server_calls: int | None = None

    @property
    def rate(self) -> float:
        """Successful calls per second of wall time."""
        return self.ok / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_ms(self) -> float:
        """Client CPU milliseconds per call."""
        return self.cpu / max(self.calls, 1) * 1000

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU milliseconds per call."""
        return self.server_cpu / max(self.calls, 1) * 1000


class ServerProcess:
    """The fake server in a child process; ``cpu_seconds()`` reads its CPU time so far."""

    def __init__(self, latency: float) -> None:
        command = [sys.executable, "-m", "vs_sim.testing.server", "--port", "0"]
        self.proc = subprocess.Popen(
            [*command, "--latency", str(latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("serving "):
            self.stop()
            raise SystemExit(f"the fake server did not start: {line!r}")
        self.api_base = line.removeprefix("serving ")

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds the server has used (Linux ``/proc``; else 0)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        self.proc.terminate()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def raw_calls(
    api_base: str,
    messages: list[dict[str, str]],
    *,
    calls: int,
    concurrency: int,
    model: str = "fake-bench",
) -> tuple[int, float, float]:
    """Send ``calls`` chat requests, ``concurrency`` at once; returns (ok, wall, cpu)."""
    url = api_base.rstrip("/") + "/chat/completions"
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(
        headers={"Content-Type": "application/json"},
        timeout=aiohttp.ClientTimeout(total=60),
    ) as session:

        async def one(i: int) -> bool:
            body: dict[str, Any] = {"model": model, "messages": messages}
            async with semaphore, session.post(url, data=json.dumps(body).encode()) as resp:
                data = json.loads(await resp.read())
            return isinstance(data["choices"][0]["message"]["content"], str)

        await one(-1)  # open a first connection outside the timing
        cpu0, wall0 = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(calls)), return_exceptions=True)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return sum(1 for r in results if r is True), wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency, seconds")
    args = parser.parse_args()
    messages = [{"role": "user", "content": "Name a US state. Give 5 responses."}]
    with ServerProcess(args.latency) as server:
        ok, wall, cpu = asyncio.run(
            raw_calls(server.api_base, messages, calls=args.calls, concurrency=args.concurrency)
        )
    print(
        f"raw aiohttp: {ok}/{args.calls} ok, {ok / wall:.0f} calls/s, "
        f"client CPU {cpu / args.calls * 1000:.2f} ms/call"
    )


if __name__ == "__main__":
    main()
