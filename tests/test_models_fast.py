"""The cheap request path behaves as the plain one did.

Each shortcut here replaced simpler code: a trusted ``Request`` constructor, one timer per
loop instead of ``asyncio.timeout`` per attempt, a slot counter instead of
``asyncio.Semaphore``, a plan per method, orjson in the lean client. These tests hold
each to what the plain code promised (equality, timeouts, fairness, cancellation).
"""

from __future__ import annotations

import asyncio
import gc
import math
import weakref
from typing import Any

import pytest

from vs_sim.errors import ModelTimeout
from vs_sim.models import LimitedModel, RetryingModel
from vs_sim.models.base import Completion, Request, Usage
from vs_sim.models.limits import TokenBucket, _Slots
from vs_sim.models.openai_compat import _decode, _encode
from vs_sim.models.wrappers import PerLoop
from vs_sim.testing import ScriptedModel
from vs_sim.verbalizer import CallRecord, _plan, averbalize

MESSAGES = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Zoë?"})


# -- Request.trusted --------------------------------------------------------------------------


def test_a_trusted_request_equals_the_validated_one() -> None:
    params: dict[str, Any] = {"temperature": 0.7, "response_format": {"type": "json_object"}}
    trusted = Request.trusted("m", MESSAGES, params, 3)
    checked = Request(model="m", messages=MESSAGES, params=params, repeat=3)
    assert trusted == checked and checked == trusted
    assert trusted.key == checked.key
    assert repr(trusted) == repr(checked)
    assert trusted.model_dump() == checked.model_dump()
    assert trusted.model_dump_json() == checked.model_dump_json()
    assert trusted != Request.trusted("m", MESSAGES, params, 4)


def test_a_trusted_request_is_frozen_and_copies_like_a_validated_one() -> None:
    trusted = Request.trusted("m", MESSAGES, {}, 0)
    with pytest.raises(ValueError):
        trusted.repeat = 1  # type: ignore[misc]
    copy = trusted.model_copy(update={"repeat": 1})
    assert copy.repeat == 1 and trusted.repeat == 0
    assert copy.key == Request(model="m", messages=MESSAGES, repeat=1).key
    assert trusted.key != copy.key  # the copy did not keep the original's key


# -- RetryingModel's deadlines ------------------------------------------------------------------


class Sleeper:
    """A model whose calls take the seconds their request's ``repeat`` names, in ms."""

    name = "sleeper"
    supports_json_schema = False

    def __init__(self) -> None:
        self.cancelled: list[int] = []

    async def acomplete(self, request: Request) -> Completion:
        try:
            await asyncio.sleep(request.repeat / 1000)
        except asyncio.CancelledError:
            self.cancelled.append(request.repeat)
            raise
        return Completion(text=str(request.repeat), model=self.name)


def _req(repeat: int) -> Request:
    return Request(model="sleeper", messages=MESSAGES[1:], repeat=repeat)


def test_each_attempt_times_out_at_its_own_deadline_while_others_finish() -> None:
    inner = Sleeper()
    model = RetryingModel(inner, max_retries=0, timeout=0.25)

    async def work() -> list[object]:
        calls = []
        for ms in (10, 4000, 30, 5000, 60):  # started 20 ms apart
            calls.append(asyncio.ensure_future(model.acomplete(_req(ms))))
            await asyncio.sleep(0.02)
        return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(work())
    assert [r.text for r in results if isinstance(r, Completion)] == ["10", "30", "60"]
    assert [type(r) for r in results if not isinstance(r, Completion)] == [ModelTimeout] * 2
    assert sorted(inner.cancelled) == [4000, 5000]


def test_a_timeout_is_retried_and_the_watchdog_keeps_working_afterwards() -> None:
    inner = ScriptedModel(delay=30.0)
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    model = RetryingModel(inner, max_retries=2, timeout=0.03, sleep=no_sleep)

    async def work() -> None:
        for _ in range(2):  # the second call needs the timer re-armed
            with pytest.raises(ModelTimeout) as caught:
                await model.acomplete(_req(0))
            assert caught.value.attempts == 3

    asyncio.run(work())
    asyncio.run(work())  # a new loop gets its own timer
    assert len(inner.history) == 12 and inner.in_flight == 0 and len(sleeps) == 8


def test_a_shorter_timeout_set_later_is_not_kept_waiting_behind_a_longer_one() -> None:
    model = RetryingModel(Sleeper(), max_retries=0, timeout=30.0)

    async def work() -> None:
        slow = asyncio.ensure_future(model.acomplete(_req(60_000)))  # deadline in 30 s
        await asyncio.sleep(0)
        model.timeout = 0.05
        with pytest.raises(ModelTimeout):
            await model.acomplete(_req(60_000))  # its own 50 ms, not the 30 s timer's turn
        assert not slow.done()
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow

    asyncio.run(work())


def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    model = RetryingModel(Sleeper(), timeout=5.0)

    async def work() -> None:
        task = asyncio.ensure_future(model.acomplete(_req(1000)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the caller's own cancellation is not mistaken for ours: a later call still works
        assert (await model.acomplete(_req(1))).text == "1"

    asyncio.run(work())


def test_an_outer_timeout_is_the_outer_one_not_the_inner() -> None:
    inner = RetryingModel(Sleeper(), max_retries=0, timeout=5.0)

    async def work() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):  # someone else's deadline passes first
                await inner.acomplete(_req(1000))

    asyncio.run(work())


def test_nested_retrying_models_each_keep_their_own_timeout() -> None:
    sleeper = Sleeper()
    inner = RetryingModel(sleeper, max_retries=0, timeout=0.03)
    outer = RetryingModel(inner, max_retries=1, timeout=5.0, sleep=lambda s: asyncio.sleep(0))
    with pytest.raises(ModelTimeout) as caught:
        asyncio.run(outer.acomplete(_req(1000)))
    assert caught.value.attempts == 2  # the inner timeout, retried once by the outer model
    assert sleeper.cancelled == [1000, 1000]


# -- LimitedModel's slots -----------------------------------------------------------------------


def test_slots_go_to_waiters_in_the_order_they_asked() -> None:
    order: list[int] = []

    class Recorder:
        name = "recorder"
        supports_json_schema = False

        async def acomplete(self, request: Request) -> Completion:
            order.append(request.repeat)
            await asyncio.sleep(0.001)
            return Completion(text="ok", model=self.name)

    model = LimitedModel(Recorder(), concurrency=2)

    async def work() -> None:
        await asyncio.gather(*(model.acomplete(_req(i)) for i in range(10)))

    asyncio.run(work())
    assert order == list(range(10))


def test_cancelled_waiters_give_no_slot_away_and_lose_none() -> None:
    inner = ScriptedModel(delay=0.02)
    model = LimitedModel(inner, concurrency=1)

    async def work() -> int:
        first = asyncio.ensure_future(model.acomplete(_req(0)))
        await asyncio.sleep(0)
        waiters = [asyncio.ensure_future(model.acomplete(_req(i))) for i in (1, 2, 3)]
        await asyncio.sleep(0)
        waiters[0].cancel()  # cancelled while waiting
        await first
        waiters[1].cancel()  # cancelled right after the slot was handed to it
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert [isinstance(r, asyncio.CancelledError) for r in results] == [True, True, False]
        # every slot came back: as many calls as the limit allows still run at once
        await asyncio.gather(*(model.acomplete(_req(i)) for i in range(4, 8)))
        return inner.max_in_flight

    assert asyncio.run(work()) == 1
    assert inner.in_flight == 0


def test_a_slot_handed_to_a_waiter_cancelled_before_it_woke_is_passed_on() -> None:
    async def work() -> tuple[bool, bool]:
        slots = _Slots(asyncio.get_running_loop(), 1)
        assert slots.take() and not slots.take()
        late = asyncio.ensure_future(slots.wait())
        await asyncio.sleep(0)  # now waiting
        slots.release()  # the slot is handed to ``late``...
        late.cancel()  # ...which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await late
        return slots.take(), slots.take()

    assert asyncio.run(work()) == (True, False)  # the slot came back, and only one


def test_the_token_bucket_charge_and_settle_add_up_to_take() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    bucket = TokenBucket(60, clock=lambda: 0.0, sleep=sleep)
    assert bucket.charge(30) == 0.0
    assert asyncio.run(bucket.take(45)) == pytest.approx(15.0)
    assert sleeps == [pytest.approx(15.0)] and bucket.level == pytest.approx(-15.0)


def test_per_loop_objects_of_closed_loops_are_dropped() -> None:
    per_loop: PerLoop[object] = PerLoop(lambda loop: object())
    seen: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def use() -> object:
        seen.append(weakref.ref(asyncio.get_running_loop()))
        return per_loop.get()

    first = asyncio.run(use())
    second = asyncio.run(use())
    third = asyncio.run(use())
    assert first is not second and second is not third
    gc.collect()
    assert seen[0]() is None  # only the latest loops are still referenced


# -- averbalize ---------------------------------------------------------------------------------

REPLY = '{"responses": [{"text": "A", "probability": 0.6}, {"text": "B", "probability": 0.4}]}'


def test_a_turn_sends_the_request_the_documented_fields_make() -> None:
    model = ScriptedModel(replies=[REPLY])
    model.supports_json_schema = True
    records: list[CallRecord] = []
    dist = asyncio.run(
        averbalize(
            [{"role": "user", "content": "Pick one"}],
            k=2,
            system="You are Ana.",
            model=model,
            temperature=0.5,
            seed=9,
            repeat=4,
            on_call=records.append,
        )
    )
    plan = _plan("vs_standard", 2, {})
    (request,) = model.history
    expected = Request(
        model=model.name,
        messages=tuple(dist.prompt or ()),
        params={"temperature": 0.5, "seed": 9, "response_format": plan.method.response_format()},
        repeat=4,
    )
    assert request == expected and request.key == expected.key
    assert dist.request_keys == [expected.key]
    assert records[0].request is request and records[0].completion is not None


def test_usage_and_cost_add_up_over_a_distribution_s_calls() -> None:
    costs = [0.25, None, 0.5]
    replies = [
        Completion(
            text=text,
            model="m",
            usage=Usage(prompt_tokens=10 * i, completion_tokens=i),
            cost=cost,
        )
        for i, (text, cost) in enumerate(zip(("Texas", "Ohio", "Maine"), costs), start=1)
    ]
    dist = asyncio.run(
        averbalize("Name a state", k=3, method="multi_turn", model=ScriptedModel(replies=replies))
    )
    assert dist.usage == Usage(prompt_tokens=60, completion_tokens=6)
    assert dist.cost == 0.75 and dist.calls == 3
    none_known = [c.model_copy(update={"cost": None}) for c in replies[:1]]
    single = asyncio.run(
        averbalize("x", k=1, method="direct", model=ScriptedModel(replies=none_known))
    )
    assert single.cost is None and single.usage == Usage(prompt_tokens=10, completion_tokens=1)


def test_a_method_object_and_its_name_plan_alike() -> None:
    from vs_sim.methods import get_method

    by_name = _plan("vs_multi", 5, {"m": 2})
    by_object = _plan(get_method("vs_multi", k=5, m=2), 5, {})
    assert by_name == by_object
    assert by_name.sizes == (2, 2, 1) and by_name.turns == 3
    assert _plan("vs_multi", 5, {"m": 2}) is by_name  # worked out once
    assert _plan("direct", 4, {}).independent_calls == 4
    assert _plan("sequence", 3, {"format": "xml"}).has_schema is False
    assert by_name.has_schema is True


def test_a_count_mismatch_is_still_recorded() -> None:
    dist = asyncio.run(averbalize("Pick", k=3, model=ScriptedModel(replies=[REPLY])))
    assert [r.kind for r in dist.repairs if r.kind == "count_mismatch"] == ["count_mismatch"]


# -- the lean client's JSON -----------------------------------------------------------------------


def test_the_lean_client_writes_and_reads_json_as_json_would() -> None:
    import json

    payload = {"model": "m", "messages": list(MESSAGES), "temperature": 1e-05, "n": 2**70}
    assert json.loads(_encode(payload)) == payload  # an int beyond 64 bits: json writes it
    assert json.loads(_encode({"messages": MESSAGES})) == {"messages": list(MESSAGES)}
    assert _decode(b'{"a": [1, "\\u00e9"]}') == {"a": [1, "é"]}
    assert math.isnan(_decode(b'{"a": NaN}')["a"])  # only json reads this
    with pytest.raises(ValueError):
        _decode(b'{"a": ')


def test_messages_that_are_not_plain_text_are_still_validated() -> None:
    from pydantic import ValidationError

    model = ScriptedModel(replies=[REPLY])
    asyncio.run(averbalize([{"role": "user", "content": b"Pick"}], k=2, model=model))  # type: ignore[list-item]
    assert model.history[0].messages[-1] == {"role": "user", "content": "Pick"}  # decoded
    with pytest.raises(ValidationError):
        asyncio.run(averbalize([{"role": "user", "content": 7}], k=2, model=model))  # type: ignore[list-item]
