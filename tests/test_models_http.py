"""The litellm path over real HTTP, against the fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from vs_sim.errors import (
    ModelError,
    ModelTimeout,
    ModelUnreachable,
    ProviderError,
    RateLimited,
)
from vs_sim.models import (
    CachedModel,
    Completion,
    LiteLLMModel,
    Request,
    ResponseCache,
    RetryingModel,
    build_model,
    complete_sync,
)
from vs_sim.testing.server import FakeOpenAIServer

pytestmark = pytest.mark.http

SECRET = "sk-test-SECRET123"
NAME = "openai/fake-vs"
T = TypeVar("T")


def vs_request(k: int = 3, *, repeat: int = 0, topic: str = "a colour") -> Request:
    prompt = f"Name {topic}. Give {k} responses, each with its probability."
    return Request(
        model=NAME,
        messages=({"role": "user", "content": prompt},),
        params={"temperature": 1.0},
        repeat=repeat,
    )


def litellm_model(server: FakeOpenAIServer, **extra: object) -> LiteLLMModel:
    return LiteLLMModel(
        NAME, api_base=server.base_url + "/v1", api_key=SECRET, extra_params=dict(extra)
    )


def run(model: Any, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh loop, closing the model's connections before the loop ends."""

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


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_vs_call_end_to_end_returns_raw_text_and_server_usage(
    fake_openai_server: FakeOpenAIServer,
) -> None:
    model = litellm_model(fake_openai_server)
    request = vs_request(k=4)
    completion = run(model, lambda: model.acomplete(request))

    answer = json.loads(completion.text)
    assert len(answer["responses"]) == 4
    assert all({"text", "probability"} <= set(r) for r in answer["responses"])
    sent = fake_openai_server.replies[0]
    assert completion.text == sent["choices"][0]["message"]["content"]
    assert completion.usage.prompt_tokens == sent["usage"]["prompt_tokens"]
    assert completion.usage.completion_tokens == sent["usage"]["completion_tokens"]
    assert completion.request_key == request.key
    assert completion.cost is None  # litellm has no price for a made-up model
    assert completion.latency > 0
    body = fake_openai_server.requests[0]
    assert body["model"] == "fake-vs"
    assert body["temperature"] == 1.0
    assert body["messages"] == list(request.messages)


def test_retries_429_then_500_then_succeeds(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.enqueue_error(429, retry_after=0.2)
    fake_openai_server.enqueue_error(500)
    sleep = RecordingSleep()
    model = RetryingModel(litellm_model(fake_openai_server), base_delay=0.01, sleep=sleep)
    completion = run(model, lambda: model.acomplete(vs_request()))

    assert fake_openai_server.count == 3
    assert completion.retries == 2
    assert json.loads(completion.text)["responses"]
    assert sleep.delays[0] >= 0.2  # the server's Retry-After was honoured
    assert len(sleep.delays) == 2


def test_429_maps_to_rate_limited_with_retry_after(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.enqueue_error(429, retry_after=7)
    model = litellm_model(fake_openai_server)
    with pytest.raises(RateLimited) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.retry_after == 7.0
    assert caught.value.model == NAME
    assert caught.value.request_key == vs_request().key


def test_hang_past_timeout_raises_model_timeout_after_retries(
    fake_openai_server: FakeOpenAIServer,
) -> None:
    for _ in range(2):
        fake_openai_server.enqueue_hang(30)
    model = RetryingModel(
        litellm_model(fake_openai_server), max_retries=1, timeout=0.3, base_delay=0.01
    )
    with pytest.raises(ModelTimeout) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.attempts == 2
    assert fake_openai_server.count == 2
    assert "0.3 s" in str(caught.value)


def test_litellm_own_timeout_maps_to_model_timeout(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.enqueue_hang(30)
    model = litellm_model(fake_openai_server, timeout=0.3)
    with pytest.raises(ModelTimeout):
        run(model, lambda: model.acomplete(vs_request()))


def test_dropped_connection_is_retried(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.enqueue_drop()
    model = litellm_model(fake_openai_server)
    with pytest.raises(ProviderError) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.status is None and caught.value.retryable

    fake_openai_server.enqueue_drop()
    retrying = RetryingModel(litellm_model(fake_openai_server), base_delay=0.01)
    completion = run(retrying, lambda: retrying.acomplete(vs_request()))
    assert completion.retries == 1


def test_client_error_is_not_retried(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.enqueue_error(400, message="bad field 'temperature'")
    model = RetryingModel(litellm_model(fake_openai_server), base_delay=0.01)
    with pytest.raises(ProviderError) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.status == 400
    assert caught.value.attempts == 1
    assert fake_openai_server.count == 1
    assert "bad field 'temperature'" in str(caught.value)


def test_cache_hit_sends_nothing_and_a_new_repeat_does(
    fake_openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    model = build_model(
        NAME,
        client="litellm",
        cache=tmp_path / "cache.sqlite",
        api_base=fake_openai_server.base_url + "/v1",
        api_key=SECRET,
    )

    async def work() -> list[Completion]:
        first = await model.acomplete(vs_request())
        second = await model.acomplete(vs_request())
        other = await model.acomplete(vs_request(repeat=1))
        return [first, second, other]

    first, second, other = run(model, work)
    assert fake_openai_server.count == 2
    assert not first.cached and second.cached and not other.cached
    assert second.text == first.text
    assert second.usage == first.usage
    assert second.cost == 0.0 and second.latency == 0.0
    assert isinstance(model, CachedModel)
    assert model.cache.stats().entries == 2


def test_identical_requests_in_flight_reach_the_server_once(
    fake_openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    fake_openai_server.latency = 0.1
    model = build_model(
        NAME,
        client="litellm",
        cache=tmp_path / "c.sqlite",
        api_base=fake_openai_server.base_url + "/v1",
        api_key=SECRET,
    )

    async def work() -> list[Completion]:
        return list(await asyncio.gather(*(model.acomplete(vs_request()) for _ in range(5))))

    completions = run(model, work)
    assert fake_openai_server.count == 1
    assert sum(not c.cached for c in completions) == 1
    assert len({c.text for c in completions}) == 1


def test_many_concurrent_calls_all_arrive(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.latency = 0.02
    model = build_model(
        NAME,
        client="litellm",
        cache=False,
        concurrency=8,
        api_base=fake_openai_server.base_url + "/v1",
        api_key=SECRET,
    )

    async def work() -> list[Completion]:
        calls = (model.acomplete(vs_request(repeat=i)) for i in range(40))
        return list(await asyncio.gather(*calls))

    completions = run(model, work)
    assert len(completions) == 40
    assert fake_openai_server.count == 40


def test_connection_refused_fails_fast_naming_the_address() -> None:
    port = free_port()
    address = f"http://127.0.0.1:{port}/v1"
    model = build_model(
        NAME, client="litellm", cache=False, api_base=address, api_key=SECRET, max_retries=4
    )
    with pytest.raises(ModelUnreachable) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert caught.value.attempts == 1  # not retried
    message = str(caught.value)
    assert address in message and "connection refused" in message
    assert NAME in message


def test_secret_never_serialized(
    fake_openai_server: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cache_file = tmp_path / "secret-check.sqlite"
    model = build_model(
        NAME,
        client="litellm",
        cache=cache_file,
        api_base=fake_openai_server.base_url + "/v1",
        api_key=SECRET,
    )
    errors: list[BaseException] = []

    async def work() -> None:
        await model.acomplete(vs_request(repeat=1))
        fake_openai_server.enqueue("a plain answer")
        await model.acomplete(vs_request(repeat=2))
        fake_openai_server.enqueue_error(401, message="Incorrect API key provided")
        try:
            await model.acomplete(vs_request(repeat=3))
        except ModelError as error:
            errors.append(error)

    run(model, work)
    refused = LiteLLMModel(NAME, api_base=f"http://127.0.0.1:{free_port()}/v1", api_key=SECRET)
    with pytest.raises(ModelUnreachable) as caught:
        run(refused, lambda: refused.acomplete(vs_request()))
    errors.append(caught.value)
    assert len(errors) == 2
    model.close()

    files = [p for p in tmp_path.iterdir() if p.name.startswith(cache_file.name)]
    with ResponseCache(cache_file) as cache:
        assert cache.stats().entries == 2
        assert cache.get(model.cache_key(vs_request(repeat=2))).text == "a plain answer"
    for path in files:
        assert SECRET.encode() not in path.read_bytes()
    for error in errors:
        rendered = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        assert SECRET not in rendered
        assert SECRET not in repr(error) and SECRET not in repr(vars(error))
    for request in (vs_request(repeat=r) for r in range(4)):
        assert SECRET not in request.key and SECRET not in json.dumps(request.params)
    assert SECRET not in repr(model) and SECRET not in repr(refused)
    assert SECRET not in caplog.text
    assert fake_openai_server.count == 3


def test_complete_sync_inside_and_outside_a_running_loop(
    fake_openai_server: FakeOpenAIServer,
) -> None:
    model = litellm_model(fake_openai_server)
    outside = complete_sync(model, vs_request(repeat=1))

    async def inside_a_loop() -> str:
        return complete_sync(model, vs_request(repeat=2)).text

    inside = asyncio.run(inside_a_loop())
    assert json.loads(outside.text)["responses"] and json.loads(inside)["responses"]
    assert fake_openai_server.count == 2


def test_api_key_in_request_params_is_refused(fake_openai_server: FakeOpenAIServer) -> None:
    model = litellm_model(fake_openai_server)
    request = Request(
        model=NAME, messages=({"role": "user", "content": "hi"},), params={"api_key": "x"}
    )
    with pytest.raises(ValueError, match="api_key"):
        run(model, lambda: model.acomplete(request))
    assert fake_openai_server.count == 0
    with pytest.raises(ValueError, match="api_key"):
        LiteLLMModel(NAME, extra_params={"api_key": "x"})


def test_missing_credentials_fail_at_once_without_retries(
    fake_openai_server: FakeOpenAIServer,
) -> None:
    model = build_model(
        NAME, client="litellm", cache=False, api_base=fake_openai_server.base_url + "/v1"
    )
    with pytest.raises(ModelError) as caught:
        run(model, lambda: model.acomplete(vs_request()))
    assert "api_key" in str(caught.value) or "credentials" in str(caught.value)
    assert caught.value.attempts == 1
    assert fake_openai_server.count == 0


FIRST_CALL = """
import asyncio, sys
from vs_sim.models import LiteLLMModel, Request, RetryingModel

async def main():
    model = RetryingModel(
        LiteLLMModel("openai/fake", api_base=sys.argv[1], api_key="sk-test"),
        timeout=0.5, max_retries=0,
    )
    request = Request(model="openai/fake", messages=({"role": "user", "content": "hi"},))
    try:
        print((await model.acomplete(request)).retries)
    finally:
        await model.aclose()

asyncio.run(main())
"""


def test_importing_litellm_does_not_count_against_the_first_timeout(
    fake_openai_server: FakeOpenAIServer,
) -> None:
    # A fresh interpreter pays seconds to import litellm; a 0.5 s timeout must not fire.
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL, fake_openai_server.base_url + "/v1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "0"
    assert fake_openai_server.count == 1
