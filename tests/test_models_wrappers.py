"""Retry, limits and cache wrappers, driven by the scripted model (no network)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from vs_sim.errors import (
    ConfigError,
    ModelTimeout,
    ModelUnreachable,
    ProviderError,
    RateLimited,
)
from vs_sim.models import (
    CachedModel,
    Completion,
    LimitedModel,
    Request,
    ResponseCache,
    RetryingModel,
    Usage,
    complete_sync,
)
from vs_sim.models.limits import TokenBucket, estimate_tokens
from vs_sim.models.retry import backoff_delay
from vs_sim.testing import ScriptedModel


def request(text: str = "hi", *, repeat: int = 0) -> Request:
    return Request(
        model="scripted/test", messages=({"role": "user", "content": text},), repeat=repeat
    )


class RecordingSleep:
    """An injected sleep that records delays and advances a fake clock."""

    def __init__(self, *, advance: bool = False) -> None:
        self.delays: list[float] = []
        self.now = 0.0
        self.advance = advance

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.advance:
            self.now += seconds

    def clock(self) -> float:
        return self.now


# -- RetryingModel ------------------------------------------------------------------------------


def test_retry_honours_retry_after_and_counts_retries() -> None:
    inner = ScriptedModel(replies=[RateLimited("slow down", retry_after=2.5), "ok"])
    sleep = RecordingSleep()
    model = RetryingModel(inner, base_delay=0.001, sleep=sleep)
    completion = asyncio.run(model.acomplete(request()))
    assert completion.text == "ok"
    assert completion.retries == 1
    assert sleep.delays == [2.5]
    assert len(inner.history) == 2


def test_retry_after_is_capped_by_max_delay() -> None:
    inner = ScriptedModel(replies=[RateLimited("later", retry_after=3600), "ok"])
    sleep = RecordingSleep()
    model = RetryingModel(inner, max_delay=5.0, sleep=sleep)
    asyncio.run(model.acomplete(request()))
    assert sleep.delays == [5.0]


def test_retry_gives_up_after_max_retries_with_attempts() -> None:
    inner = ScriptedModel(fail=lambda call, req: ProviderError("busy", status=503))
    sleep = RecordingSleep()
    model = RetryingModel(inner, max_retries=3, base_delay=0.5, sleep=sleep)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(model.acomplete(request()))
    assert caught.value.attempts == 4
    assert caught.value.request_key == request().key
    assert len(inner.history) == 4
    assert len(sleep.delays) == 3
    for attempt, delay in enumerate(sleep.delays):  # full jitter under a doubling ceiling
        assert 0.0 <= delay <= 0.5 * 2**attempt


@pytest.mark.parametrize(
    "error",
    [
        ProviderError("bad request", status=400),
        ModelUnreachable("nothing listens at http://127.0.0.1:1"),
    ],
)
def test_final_errors_are_not_retried(error: Exception) -> None:
    inner = ScriptedModel(replies=[error, "never reached"])
    sleep = RecordingSleep()
    with pytest.raises(type(error)) as caught:
        asyncio.run(RetryingModel(inner, sleep=sleep).acomplete(request()))
    assert caught.value.attempts == 1  # type: ignore[attr-defined]
    assert len(inner.history) == 1 and sleep.delays == []


def test_dropped_connection_and_server_errors_are_retried() -> None:
    inner = ScriptedModel(
        replies=[ProviderError("reset", status=None), ProviderError("boom", status=502), "ok"]
    )
    completion = asyncio.run(RetryingModel(inner, sleep=RecordingSleep()).acomplete(request()))
    assert completion.retries == 2


def test_per_attempt_timeout_raises_model_timeout() -> None:
    inner = ScriptedModel(delay=30.0)
    sleep = RecordingSleep()
    model = RetryingModel(inner, max_retries=1, timeout=0.05, sleep=sleep)
    with pytest.raises(ModelTimeout) as caught:
        asyncio.run(model.acomplete(request()))
    assert caught.value.attempts == 2
    assert len(inner.history) == 2
    assert inner.in_flight == 0  # the timed-out attempts were cancelled, not left running


def test_backoff_delay_bounds() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(a, base_delay=1.0, max_delay=8.0, rng=rng) for a in range(10)]
    assert all(0.0 <= d <= min(8.0, 2.0**a) for a, d in enumerate(delays))
    assert backoff_delay(0, base_delay=1.0, max_delay=8.0, retry_after=4.0, rng=rng) >= 4.0


def test_invalid_retry_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        RetryingModel(ScriptedModel(), max_retries=-1)
    with pytest.raises(ConfigError):
        RetryingModel(ScriptedModel(), timeout=0)


# -- LimitedModel -------------------------------------------------------------------------------


def test_concurrency_never_exceeds_the_limit() -> None:
    inner = ScriptedModel(delay=0.01)
    model = LimitedModel(inner, concurrency=3)

    async def work() -> list[Completion]:
        return list(await asyncio.gather(*(model.acomplete(request(repeat=i)) for i in range(20))))

    completions = asyncio.run(work())
    assert len(completions) == 20
    assert inner.max_in_flight == 3


def test_limits_work_across_successive_event_loops() -> None:
    inner = ScriptedModel(delay=0.001)
    model = LimitedModel(inner, concurrency=2)

    async def work() -> None:
        await asyncio.gather(*(model.acomplete(request(repeat=i)) for i in range(6)))

    asyncio.run(work())
    asyncio.run(work())  # a semaphore bound to the first loop would fail here
    assert len(inner.history) == 12 and inner.max_in_flight == 2


def test_rpm_bucket_paces_queued_calls_in_order() -> None:
    sleep = RecordingSleep()  # a frozen clock: every call beyond the burst waits its turn
    model = LimitedModel(ScriptedModel(), concurrency=None, rpm=60, clock=sleep.clock, sleep=sleep)

    async def work() -> None:
        await asyncio.gather(*(model.acomplete(request(repeat=i)) for i in range(64)))

    asyncio.run(work())
    assert sleep.delays == pytest.approx([1.0, 2.0, 3.0, 4.0])  # 60 burst, then 1 per second


def test_rpm_bucket_refills_with_time() -> None:
    sleep = RecordingSleep(advance=True)
    model = LimitedModel(ScriptedModel(), rpm=30, clock=sleep.clock, sleep=sleep)

    async def work() -> None:
        for i in range(33):
            await model.acomplete(request(repeat=i))

    asyncio.run(work())
    assert sleep.delays == pytest.approx([2.0, 2.0, 2.0])  # one request every 2 s after the burst


def test_tpm_bucket_is_corrected_with_real_usage() -> None:
    used = Usage(prompt_tokens=400, completion_tokens=100)
    inner = ScriptedModel(replies=[Completion(text="x", model="m", usage=used) for _ in range(4)])
    sleep = RecordingSleep()
    model = LimitedModel(inner, tpm=1000, clock=sleep.clock, sleep=sleep)
    estimate = estimate_tokens(request().messages)
    rate = 1000 / 60

    async def work() -> None:
        for i in range(4):
            await model.acomplete(request(repeat=i))

    asyncio.run(work())
    # Two calls spend 1000 tokens; the third waits for its estimate, the fourth for
    # the 500 the third really used plus its own estimate.
    assert sleep.delays == pytest.approx([estimate / rate, (500 + estimate) / rate])


def test_token_bucket_gives_back_a_cancelled_share() -> None:
    sleep_forever = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await sleep_forever.wait()

    bucket = TokenBucket(60, clock=lambda: 0.0, sleep=sleep)

    async def work() -> float:
        await bucket.take(60)
        task = asyncio.ensure_future(bucket.take(10))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return bucket.level

    assert asyncio.run(work()) == 0.0


def test_estimate_tokens_is_about_four_chars_a_token() -> None:
    one = estimate_tokens([{"role": "user", "content": "x" * 400}])
    assert 100 <= one <= 110
    assert estimate_tokens([]) == 1


# -- CachedModel --------------------------------------------------------------------------------


def test_cache_hit_replays_raw_text_and_usage_at_no_cost(tmp_path: Path) -> None:
    paid = Completion(
        text="raw {not parsed}",
        model="m",
        usage=Usage(prompt_tokens=7, completion_tokens=3),
        cost=0.25,
    )
    inner = ScriptedModel(replies=[paid])
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        model = CachedModel(inner, cache)
        first = asyncio.run(model.acomplete(request()))
        second = asyncio.run(model.acomplete(request()))
        assert len(inner.history) == 1
        assert (first.cached, second.cached) == (False, True)
        assert second.text == "raw {not parsed}"
        assert second.usage == paid.usage
        assert (second.cost, second.latency) == (0.0, 0.0)
        assert cache.get(request().key).cost == 0.25  # type: ignore[union-attr]
        assert cache.stats().hits >= 1


def test_cache_key_includes_the_sample_index(tmp_path: Path) -> None:
    inner = ScriptedModel(replies=["first", "second"])
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        model = CachedModel(inner, cache)
        a = asyncio.run(model.acomplete(request(repeat=0)))
        b = asyncio.run(model.acomplete(request(repeat=1)))
    assert (a.text, b.text) == ("first", "second")
    assert not b.cached


def test_identical_requests_in_flight_are_made_once(tmp_path: Path) -> None:
    inner = ScriptedModel(delay=0.02)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        model = CachedModel(inner, cache)

        async def work() -> list[Completion]:
            return list(await asyncio.gather(*(model.acomplete(request()) for _ in range(5))))

        completions = asyncio.run(work())
    assert len(inner.history) == 1
    assert [c.cached for c in completions].count(False) == 1
    assert len({c.text for c in completions}) == 1
    assert sum(c.cost or 0.0 for c in completions if c.cached) == 0.0


def test_a_failed_call_is_shared_by_waiters_and_not_cached(tmp_path: Path) -> None:
    inner = ScriptedModel(delay=0.02, replies=[ProviderError("boom", status=500), "ok"])
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        model = CachedModel(inner, cache)

        async def work() -> list[object]:
            calls = (model.acomplete(request()) for _ in range(3))
            return list(await asyncio.gather(*calls, return_exceptions=True))

        outcomes = asyncio.run(work())
        assert all(isinstance(o, ProviderError) for o in outcomes)
        assert len(inner.history) == 1
        assert asyncio.run(model.acomplete(request())).text == "ok"


def test_wrappers_keep_name_and_pass_json_schema_support(tmp_path: Path) -> None:
    inner = ScriptedModel("scripted/json", supports_json_schema=True)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        model = CachedModel(LimitedModel(RetryingModel(inner)), cache)
        assert model.name == "scripted/json"
        assert model.supports_json_schema is True
        inner.supports_json_schema = False
        assert model.supports_json_schema is False
        model.supports_json_schema = True  # an override on the outer wrapper wins
        assert model.supports_json_schema is True


def test_complete_sync_with_and_without_a_running_loop() -> None:
    inner = ScriptedModel(replies=["outside", "inside"])
    assert complete_sync(inner, request()).text == "outside"

    async def in_a_notebook() -> str:
        return complete_sync(inner, request(repeat=1)).text

    assert asyncio.run(in_a_notebook()) == "inside"
