"""The lean OpenAI-compatible client over real HTTP, against the fake server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import subprocess
import sys
import types
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from vs_sim import averbalize, verbalize
from vs_sim.errors import (
    ConfigError,
    ModelError,
    ModelTimeout,
    ModelUnreachable,
    ProviderError,
    RateLimited,
)
from vs_sim.models import CachedModel, LimitedModel, Request, ResponseCache, RetryingModel
from vs_sim.models.base import Model
from vs_sim.models.openai_compat import OpenAICompatModel, wire_model_name
from vs_sim.testing.server import FakeOpenAIServer

pytestmark = pytest.mark.http

SECRET = "sk-test-LEAN-SECRET-42"
NAME = "openai/fake-lean"
T = TypeVar("T")


class RecordingServer(FakeOpenAIServer):
    """The fake server, also noting request headers, calls in flight, and raw bodies to send."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.raw_bodies: list[bytes] = []

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        if self.raw_bodies:
            await request.read()
            self.requests.append({})
            body = self.raw_bodies.pop(0)
            return web.Response(body=body, content_type="application/json")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await super()._chat(request)
        finally:
            self.in_flight -= 1


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer(seed=0) as srv:
        yield srv


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def lean(server: FakeOpenAIServer, **kwargs: Any) -> OpenAICompatModel:
    kwargs.setdefault("api_key", SECRET)
    return OpenAICompatModel(NAME, api_base=server.base_url + "/v1", **kwargs)


def vs_request(k: int = 3, *, repeat: int = 0, **params: Any) -> Request:
    prompt = f"Name a colour. Give {k} responses, each with its probability."
    return Request(
        model=NAME, messages=({"role": "user", "content": prompt},), params=params, repeat=repeat
    )


def run(model: Any, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh loop and close the model's connections before the loop ends."""

    async def main() -> T:
        try:
            return await work()
        finally:
            await model.aclose()

    return asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the happy path ------------------------------------------------------------------------


def test_vs_call_end_to_end_gives_a_distribution_with_the_server_usage(
    server: RecordingServer,
) -> None:
    model = lean(server)
    dist = run(model, lambda: averbalize("Name a US state", k=5, model=model, repeat=3))

    reply = server.replies[0]
    sent = json.loads(reply["choices"][0]["message"]["content"])["responses"]
    assert [c.text for c in dist.candidates] == [r["text"] for r in sent]
    assert sum(c.probability for c in dist.candidates) == pytest.approx(1.0)
    assert dist.usage.prompt_tokens == reply["usage"]["prompt_tokens"]
    assert dist.usage.completion_tokens == reply["usage"]["completion_tokens"]
    assert dist.cost is None  # no price known, and litellm is never imported for one
    body = server.requests[0]
    assert body["model"] == "fake-lean"  # the provider prefix stays home
    assert body["messages"][0]["role"] == "system"  # VS instructions go there
    assert body["messages"][-1] == {"role": "user", "content": "Name a US state"}


def test_completion_carries_text_usage_latency_and_key(server: RecordingServer) -> None:
    model = lean(server, extra_params={"temperature": 0.2, "top_p": 0.9})
    request = vs_request(k=4, temperature=1.0, seed=7)
    completion = run(model, lambda: model.acomplete(request))

    reply = server.replies[0]
    assert completion.text == reply["choices"][0]["message"]["content"]
    assert len(json.loads(completion.text)["responses"]) == 4
    assert completion.usage.prompt_tokens == reply["usage"]["prompt_tokens"] > 0
    assert completion.usage.completion_tokens == reply["usage"]["completion_tokens"] > 0
    assert completion.model == NAME
    assert completion.request_key == request.key
    assert completion.latency > 0 and not completion.cached and completion.retries == 0
    body = server.requests[0]
    assert body["temperature"] == 1.0  # the request's own params win over extra_params
    assert body["top_p"] == 0.9 and body["seed"] == 7


def test_cost_is_priced_from_given_prices() -> None:
    with RecordingServer() as srv:
        model = lean(srv, prices=(1e-6, 2e-6))
        completion = run(model, lambda: model.acomplete(vs_request()))
    usage = completion.usage
    expected = usage.prompt_tokens * 1e-6 + usage.completion_tokens * 2e-6
    assert completion.cost == pytest.approx(expected)


def test_cost_comes_from_litellm_table_once_litellm_is_loaded(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = lean(server)
    monkeypatch.delitem(sys.modules, "litellm", raising=False)
    before = run(model, lambda: model.acomplete(vs_request()))
    table = {"fake-lean": {"input_cost_per_token": 3e-6, "output_cost_per_token": 5e-6}}
    monkeypatch.setitem(sys.modules, "litellm", types.SimpleNamespace(model_cost=table))
    after = run(model, lambda: model.acomplete(vs_request(repeat=1)))

    assert before.cost is None  # litellm was not loaded, and is never loaded for a price
    usage = after.usage
    assert after.cost == pytest.approx(usage.prompt_tokens * 3e-6 + usage.completion_tokens * 5e-6)


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("openai/llama3", "llama3"),
        ("hosted_vllm/meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),
        ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),
        ("llama3.1:8b", "llama3.1:8b"),
    ],
)
def test_wire_name_drops_only_a_provider_prefix(name: str, wire: str) -> None:
    assert wire_model_name(name) == wire


def test_it_is_a_model_and_stacks_under_the_usual_wrappers(
    server: RecordingServer, tmp_path: Path
) -> None:
    inner = lean(server)
    assert isinstance(inner, Model)
    model = CachedModel(
        LimitedModel(RetryingModel(inner), concurrency=4), ResponseCache(tmp_path / "c.sqlite")
    )

    async def work() -> list[bool]:
        first = await model.acomplete(vs_request())
        again = await model.acomplete(vs_request())
        return [first.cached, again.cached]

    assert run(model, work) == [False, True]
    assert server.count == 1


# -- failures ------------------------------------------------------------------------------


def test_429_then_500_then_success_through_the_retry_wrapper(server: RecordingServer) -> None:
    server.enqueue_error(429, retry_after=0.25)
    server.enqueue_error(500)
    sleep = RecordingSleep()
    model = RetryingModel(lean(server), base_delay=0.01, sleep=sleep)
    completion = run(model, lambda: model.acomplete(vs_request()))

    assert server.count == 3
    assert completion.retries == 2
    assert json.loads(completion.text)["responses"]
    assert len(sleep.delays) == 2
    assert sleep.delays[0] >= 0.25  # the server's Retry-After was honoured


def test_429_is_rate_limited_with_retry_after(server: RecordingServer) -> None:
    server.enqueue_error(429, retry_after=7)
    model = lean(server)
    with pytest.raises(RateLimited) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.retry_after == 7.0
    assert caught.value.model == NAME
    assert caught.value.request_key == vs_request().key


def test_500_is_a_retryable_provider_error(server: RecordingServer) -> None:
    server.enqueue_error(503, message="overloaded, try later")
    model = lean(server)
    with pytest.raises(ProviderError) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.status == 503 and caught.value.retryable
    assert "overloaded, try later" in str(caught.value)


def test_client_error_carries_the_server_message_and_is_not_retried(
    server: RecordingServer,
) -> None:
    server.enqueue_error(400, message="bad field 'temperature'")
    model = RetryingModel(lean(server), base_delay=0.01)
    with pytest.raises(ProviderError) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.status == 400
    assert caught.value.attempts == 1
    assert server.count == 1
    assert "bad field 'temperature'" in str(caught.value)


def test_wrong_path_says_to_check_the_version_path(server: RecordingServer) -> None:
    model = OpenAICompatModel(NAME, api_base=server.base_url + "/v2")
    with pytest.raises(ProviderError) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.status == 404
    assert f"{server.base_url}/v2/chat/completions" in str(caught.value)
    assert "/v1" in str(caught.value)


def test_hang_past_timeout_is_a_model_timeout(server: RecordingServer) -> None:
    server.enqueue_hang(30)
    model = lean(server, timeout=0.3)
    with pytest.raises(ModelTimeout) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.request_key == vs_request().key


def test_timeouts_are_retried_then_reported(server: RecordingServer) -> None:
    for _ in range(2):
        server.enqueue_hang(30)
    model = RetryingModel(lean(server, timeout=0.3), max_retries=2, base_delay=0.01)
    completion = run(model, lambda: model.acomplete(vs_request()))
    assert completion.retries == 2
    assert server.count == 3


def test_connection_refused_fails_fast_naming_the_address() -> None:
    address = f"http://127.0.0.1:{free_port()}/v1"
    sleep = RecordingSleep()
    model = RetryingModel(
        OpenAICompatModel(NAME, api_base=address, api_key=SECRET), max_retries=4, sleep=sleep
    )
    with pytest.raises(ModelUnreachable) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.attempts == 1 and sleep.delays == []  # not retried
    message = str(caught.value)
    assert address in message and "connection refused" in message and NAME in message
    assert SECRET not in message


def test_dropped_connection_is_retryable_and_retried(server: RecordingServer) -> None:
    server.enqueue_drop()
    model = lean(server)
    with pytest.raises(ProviderError) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.status is None and caught.value.retryable

    server.enqueue_drop()
    retrying = RetryingModel(lean(server), base_delay=0.01)
    completion = run(retrying, lambda: retrying.acomplete(vs_request()))
    assert completion.retries == 1
    assert json.loads(completion.text)["responses"]


@pytest.mark.parametrize(
    "body",
    [b'{"choices": [{"message": {"content": "cut', b"<html>oops</html>", b'{"choices": []}'],
)
def test_unreadable_body_is_a_retryable_provider_error(
    server: RecordingServer, body: bytes
) -> None:
    server.raw_bodies.append(body)
    model = lean(server)
    with pytest.raises(ProviderError) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.retryable
    assert "not a chat completion" in str(caught.value)

    server.raw_bodies.append(body)
    retrying = RetryingModel(lean(server), base_delay=0.01)
    assert run(retrying, lambda: retrying.acomplete(vs_request())).retries == 1


def test_reserved_params_are_refused() -> None:
    with pytest.raises(ConfigError, match="api_key"):
        OpenAICompatModel(NAME, api_base="http://127.0.0.1:9/v1", extra_params={"api_key": "x"})
    with pytest.raises(ConfigError, match="api_base"):
        OpenAICompatModel(NAME, api_base="127.0.0.1:8000")
    model = OpenAICompatModel(NAME, api_base="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="base_url"):
        run(model, lambda: model.acomplete(vs_request(base_url="http://elsewhere")))


# -- the key -------------------------------------------------------------------------------


def test_the_key_is_sent_as_a_header_and_nowhere_else(
    server: RecordingServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.enqueue_error(401, message=f"invalid key {SECRET}")  # a server that echoes it
    cache_file = tmp_path / "secret.sqlite"
    inner = lean(server)
    model = CachedModel(RetryingModel(inner, base_delay=0.01), ResponseCache(cache_file))

    async def work() -> str:
        with pytest.raises(ModelError) as caught:
            await model.acomplete(vs_request())
        await model.acomplete(vs_request(repeat=1))
        return f"{caught.value!s} {caught.value!r} {caught.value.args}"

    error_text = run(model, work)

    assert server.headers[0]["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in error_text and "***" in error_text
    assert SECRET not in repr(inner) and "api_key='***'" in repr(inner)
    assert SECRET not in repr(model)
    assert all(SECRET not in json.dumps(body) for body in server.requests)
    assert SECRET not in caplog.text
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path.name


def test_no_key_no_authorization_header(server: RecordingServer) -> None:
    model = OpenAICompatModel(NAME, api_base=server.base_url + "/v1")
    run(model, lambda: model.acomplete(vs_request()))
    assert "Authorization" not in server.headers[0]
    assert "api_key" not in repr(model)


# -- connections and their event loops -----------------------------------------------------


def test_the_session_closes_when_asyncio_run_ends_without_aclose(
    server: RecordingServer,
) -> None:
    model = lean(server)
    sessions: list[Any] = []

    async def work() -> None:
        await model.acomplete(vs_request())
        await model.acomplete(vs_request(repeat=1))
        sessions.extend(entry.session for entry in model._sessions.values())

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(work())  # no aclose: the loop's shutdown closes it
        asyncio.run(work())  # a second loop gets a session of its own
        gc.collect()
    assert len(sessions) == 2 and sessions[0] is not sessions[1]
    assert all(session.closed for session in sessions)
    assert model._sessions == {}
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert server.count == 4


def test_aclose_closes_and_the_model_stays_usable(server: RecordingServer) -> None:
    model = lean(server)

    async def work() -> list[bool]:
        await model.acomplete(vs_request())
        (first,) = [entry.session for entry in model._sessions.values()]
        await model.aclose()
        await model.aclose()  # twice is harmless
        await model.acomplete(vs_request(repeat=1))
        (second,) = [entry.session for entry in model._sessions.values()]
        return [first.closed, second.closed, first is second]

    assert run(model, work) == [True, False, False]
    assert server.count == 2


def test_sync_verbalize_leaves_no_open_session_in_or_out_of_a_loop(
    server: RecordingServer,
) -> None:
    model = lean(server)

    async def inside_a_running_loop() -> int:
        return len(verbalize("Name a colour", k=3, model=model).candidates)  # runs in a thread

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outside = len(verbalize("Name a colour", k=3, model=model, repeat=1).candidates)
        inside = asyncio.run(inside_a_running_loop())
        gc.collect()
    assert (outside, inside) == (3, 3)
    assert model._sessions == {}
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_a_loop_run_by_hand_is_closed_by_its_asyncgen_shutdown(server: RecordingServer) -> None:
    model = lean(server)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(model.acomplete(vs_request()))
        (session,) = [entry.session for entry in model._sessions.values()]
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    assert session.closed


def test_many_calls_in_flight_at_once_all_finish() -> None:
    with RecordingServer(latency=0.05) as srv:
        model = lean(srv)

        async def work() -> list[str]:
            done = await asyncio.gather(*(model.acomplete(vs_request(repeat=i)) for i in range(64)))
            return [c.text for c in done]

        texts = run(model, work)
    assert len(texts) == 64 and all(json.loads(t)["responses"] for t in texts)
    assert srv.count == 64
    assert srv.max_in_flight > 8  # concurrent on the wire, not one after another


def test_connector_limit_bounds_connections() -> None:
    with RecordingServer(latency=0.05) as srv:
        model = lean(srv, connector_limit=3)

        async def work() -> int:
            done = await asyncio.gather(*(model.acomplete(vs_request(repeat=i)) for i in range(12)))
            return len(done)

        assert run(model, work) == 12
    assert srv.max_in_flight == 3


def test_importing_the_client_does_not_import_litellm() -> None:
    code = (
        "import sys, vs_sim.models.openai_compat as m; "
        "assert m.litellm_prices('openai/gpt-4o-mini') is None; "
        "print('litellm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_docstring_examples_run() -> None:
    import doctest

    from vs_sim.models import openai_compat

    failures, tried = doctest.testmod(openai_compat, raise_on_error=False)
    assert tried >= 3 and failures == 0
