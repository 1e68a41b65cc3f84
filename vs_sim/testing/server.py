"""A small OpenAI-compatible chat-completions server for tests and benchmarks.

:class:`FakeOpenAIServer` answers ``POST /v1/chat/completions`` (and lists one model
at ``GET /v1/models``) on 127.0.0.1, so the real litellm path can be exercised with
no network and no language model. By default it answers a Verbalized Sampling reply
with as many responses as the prompt asks for ("5 responses"). Tests can queue
exact answers and errors, or ask for faults at set rates; the faults are drawn from
a generator seeded by (seed, request content, how often that content was seen), so
a run is reproducible however the requests interleave.

Run it in a background thread (``with FakeOpenAIServer() as srv: srv.base_url``) or
from the command line::

    python -m vs_sim.testing.server --port 8000 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import random
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from .scripted import DEFAULT_K, listed_options, requested_k, vs_answer

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class Faults:
    """How often the server misbehaves, each a probability per request.

    Attributes:
        rate_429: Answer 429 with a ``Retry-After`` of ``retry_after`` seconds.
        retry_after: The delay a 429 asks for.
        rate_500: Answer 500.
        rate_hang: Wait ``hang_seconds`` before answering (past a client's timeout).
        hang_seconds: How long a hang lasts.
        rate_malformed: Answer text that is not valid JSON.
        rate_truncated: Answer JSON cut off midway (``finish_reason="length"``).
        rate_drop: Close the connection without answering.
    """

    rate_429: float = 0.0
    retry_after: float = 0.1
    rate_500: float = 0.0
    rate_hang: float = 0.0
    hang_seconds: float = 30.0
    rate_malformed: float = 0.0
    rate_truncated: float = 0.0
    rate_drop: float = 0.0

    def draw(self, rng: random.Random) -> str | None:
        """Pick this request's fault (or ``None``) with one uniform draw."""
        u = rng.random()
        for fault, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("hang", self.rate_hang),
            ("drop", self.rate_drop),
            ("malformed", self.rate_malformed),
            ("truncated", self.rate_truncated),
        ):
            if u < rate:
                return fault
            u -= rate
        return None


@dataclass(frozen=True)
class _Action:
    kind: str  # "text", "error", "hang", "drop", "malformed", "truncated", "vs"
    text: str | None = None
    status: int = 200
    retry_after: float | None = None
    seconds: float = 0.0


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class FakeOpenAIServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1.

    Args:
        port: Port to listen on; 0 picks a free one.
        latency: Seconds before each answer, or a ``(low, high)`` range drawn per request.
        faults: Fault rates (none by default).
        seed: Seeds the VS answers, latencies and faults.
        default_k: Responses in a VS answer when the prompt does not say.
        host: Interface to bind; keep the default loopback address.

    Attributes:
        requests: Every request body received, in arrival order.
        replies: Every completion sent (the JSON payload, with its ``usage``), in order.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float | tuple[float, float] = 0.0,
        faults: Faults | None = None,
        seed: int = 0,
        default_k: int = DEFAULT_K,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        self.faults = faults or Faults()
        self.seed = seed
        self.default_k = default_k
        self.requests: list[JSONDict] = []
        self.replies: list[JSONDict] = []
        self._script: deque[_Action] = deque()
        self._seen: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._startup_error: BaseException | None = None

    # -- what tests read and script -------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (append ``/v1`` for an OpenAI ``api_base``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def count(self) -> int:
        """How many chat-completion requests arrived."""
        return len(self.requests)

    def reset(self) -> None:
        """Forget received requests and queued answers."""
        self.requests.clear()
        self.replies.clear()
        self._script.clear()
        self._seen.clear()

    def enqueue(self, text: str) -> None:
        """Answer the next request with exactly ``text``."""
        self._script.append(_Action("text", text=text))

    def enqueue_error(
        self, status: int, *, retry_after: float | None = None, message: str | None = None
    ) -> None:
        """Answer the next request with an HTTP error (and ``Retry-After`` when given)."""
        self._script.append(_Action("error", text=message, status=status, retry_after=retry_after))

    def enqueue_hang(self, seconds: float) -> None:
        """Keep the next request waiting ``seconds`` before answering normally."""
        self._script.append(_Action("hang", seconds=seconds))

    def enqueue_drop(self) -> None:
        """Close the next request's connection without answering."""
        self._script.append(_Action("drop"))

    # -- lifecycle ---------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    async def astart(self) -> None:
        """Bind and start serving on the running event loop (sets ``port`` when it was 0)."""
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])

    async def astop(self) -> None:
        """Release hanging requests, then stop serving and close every connection."""
        if self._stopping is not None:
            self._stopping.set()  # release hanging handlers at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> FakeOpenAIServer:
        """Start serving in a background thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve_in_thread, args=(ready,), name="fake-openai-server", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def _serve_in_thread(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self.astart())
            except BaseException as error:
                self._startup_error = error
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(self.astop())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def stop(self) -> None:
        """Stop serving, release hanging requests and close every socket."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- answering -------------------------------------------------------------------------

    def _next_action(self, body: JSONDict, rng: random.Random) -> _Action:
        if self._script:
            return self._script.popleft()
        fault = self.faults.draw(rng)
        if fault == "429":
            return _Action("error", status=429, retry_after=self.faults.retry_after)
        if fault == "500":
            return _Action("error", status=500)
        if fault == "hang":
            return _Action("hang", seconds=self.faults.hang_seconds)
        if fault in ("drop", "malformed", "truncated"):
            return _Action(fault)
        return _Action("vs")

    def _rng_for(self, body: JSONDict) -> random.Random:
        content = json.dumps([body.get("model"), body.get("messages")], sort_keys=True)
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        seen = self._seen.get(digest, 0)
        self._seen[digest] = seen + 1
        return random.Random(f"{self.seed}:{digest}:{seen}")

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._stopping is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._error(400, "request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._error(400, "'messages' must be a list")
        self.requests.append(body)
        rng = self._rng_for(body)
        action = self._next_action(body, rng)
        latency = self.latency
        await self._pause(rng.uniform(*latency) if isinstance(latency, tuple) else latency)
        if action.kind == "hang":
            await self._pause(action.seconds)
            if self._stopping is not None and self._stopping.is_set():
                return self._drop(request)
        if action.kind == "drop":
            return self._drop(request)
        if action.kind == "error":
            return self._error(action.status, action.text, retry_after=action.retry_after)
        messages = body["messages"]
        k = requested_k(messages, self.default_k)
        finish = "stop"
        if action.kind == "text" and action.text is not None:
            text = action.text
        else:
            text = vs_answer(k, rng, listed_options(messages))
            if action.kind == "malformed":
                text = "Sure! Here are my answers: " + text.replace('"', "'").rstrip("}") + ",,"
            elif action.kind == "truncated":
                text = text[: max(1, int(len(text) * rng.uniform(0.2, 0.8)))]
                finish = "length"
        prompt_tokens = sum(_tokens(str(m.get("content") or "")) + 3 for m in messages)
        completion_tokens = _tokens(text)
        payload = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self.replies.append(payload)
        return web.Response(body=json.dumps(payload).encode(), content_type="application/json")

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=204)

    @staticmethod
    def _error(
        status: int, message: str | None = None, *, retry_after: float | None = None
    ) -> web.Response:
        kinds = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
        error = {
            "message": message or f"fake server error {status}",
            "type": kinds.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "code": str(status),
        }
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        return web.json_response({"error": error}, status=status, headers=headers)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "vs_sim"}]}
        )


def main(argv: list[str] | None = None) -> None:
    """Serve from the command line until interrupted; prints the base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m vs_sim.testing.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--latency-max", type=float, default=None, help="draw latency up to this")
    parser.add_argument("--seed", type=int, default=0)
    for name in ("429", "500", "hang", "malformed", "truncated", "drop"):
        parser.add_argument(f"--rate-{name}", type=float, default=0.0, metavar="P")
    parser.add_argument("--retry-after", type=float, default=0.1)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    latency: float | tuple[float, float] = args.latency
    if args.latency_max is not None:
        latency = (args.latency, args.latency_max)
    faults = Faults(
        rate_429=args.rate_429,
        retry_after=args.retry_after,
        rate_500=args.rate_500,
        rate_hang=args.rate_hang,
        hang_seconds=args.hang_seconds,
        rate_malformed=args.rate_malformed,
        rate_truncated=args.rate_truncated,
        rate_drop=args.rate_drop,
    )
    server = FakeOpenAIServer(port=args.port, latency=latency, faults=faults, seed=args.seed)

    async def run() -> None:
        await server.astart()  # a busy port fails here, before anything is printed
        print(f"serving {server.base_url}/v1", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await server.astop()

    asyncio.run(run())


if __name__ == "__main__":  # pragma: no cover
    main()
