"""verbalize() end to end on the offline model and on a scripted model."""

from __future__ import annotations

import asyncio
import math

import pytest

from vs_sim import Distribution, ParseError, verbalize
from vs_sim.errors import ConfigError
from vs_sim.methods import METHOD_NAMES
from vs_sim.models.base import Completion, Request
from vs_sim.models.offline import OfflineModel
from vs_sim.verbalizer import CallRecord, averbalize


class Replies:
    """A minimal model that answers from a list and records requests."""

    name = "scripted/replies"
    supports_json_schema = False

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.requests: list[Request] = []

    async def acomplete(self, request: Request) -> Completion:
        self.requests.append(request)
        return Completion(text=self.texts.pop(0), model=self.name, request_key=request.key)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_yields_a_normalized_distribution(method: str) -> None:
    dist = verbalize("Name a US state", k=4, method=method, model="offline/demo")
    assert isinstance(dist, Distribution)
    assert dist.method == method
    assert 1 <= len(dist) <= 4
    assert math.isclose(sum(dist.probabilities), 1.0)
    assert all(c.text.strip() for c in dist.candidates)
    assert dist.synthetic is True


def test_vs_standard_gives_k_candidates_with_the_models_numbers() -> None:
    dist = verbalize("Name a US state", k=5, model="offline/demo")
    assert len(dist) == 5
    assert all(isinstance(c.stated, float) for c in dist.candidates)
    assert dist.calls == 1 and dist.usage.total_tokens > 0
    assert dist.prompt is not None and "Generate 5 responses" in dist.prompt[0]["content"]


def test_call_counts_follow_the_method() -> None:
    counts = {}
    for method in ("direct", "multi_turn", "vs_multi", "vs_standard"):
        records: list[CallRecord] = []
        verbalize(
            "Tell me a joke", k=6, method=method, m=3, model="offline/demo", on_call=records.append
        ) if method == "vs_multi" else verbalize(
            "Tell me a joke", k=6, method=method, model="offline/demo", on_call=records.append
        )
        counts[method] = len(records)
    assert counts == {"direct": 6, "multi_turn": 6, "vs_multi": 2, "vs_standard": 1}


def test_direct_collapses_where_vs_spreads_on_the_offline_model() -> None:
    direct = verbalize("Name a US state", k=20, method="direct", model="offline/demo")
    vs = verbalize("Name a US state", k=20, method="vs_standard", model="offline/demo")
    assert len(vs) > len(direct)
    assert vs.entropy() > direct.entropy()


def test_multi_turn_continues_the_same_chat() -> None:
    model = Replies("Texas", "Ohio", "Maine")
    dist = verbalize("Name a US state", k=3, method="multi_turn", model=model)
    assert dist.texts == ["Texas", "Ohio", "Maine"]
    last = model.requests[-1].messages
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert last[2]["content"] == "Texas" and last[4]["content"] == "Ohio"


def test_tau_and_tail_are_separate_knobs() -> None:
    answer = (
        '{"responses": [{"text": "a", "probability": 0.09}, {"text": "b", "probability": 0.08}]}'
    )
    model = Replies(answer)
    dist = verbalize("x", k=2, model=model, tail=0.1, tau=0.1, min_keep=1)
    # the prompt asked for tails below 0.1; tau filters on *normalized* probabilities
    assert "less than 0.1" in model.requests[0].messages[0]["content"]
    assert dist.texts == ["a", "b"]  # 0.53 and 0.47 after normalization: both kept


def test_unparseable_answer_is_reasked_then_falls_back_and_records_it() -> None:
    model = Replies("", "   ")
    with pytest.raises(ParseError) as info:
        verbalize("x", k=2, model=model)
    assert info.value.raw == "   "
    assert len(model.requests) == 2
    assert model.requests[0].repeat != model.requests[1].repeat  # a new sample, not a cache hit

    model = Replies("{}", "I would rather not answer in a list, sorry.")
    dist = verbalize("x", k=2, model=model)
    assert dist.texts == ["I would rather not answer in a list, sorry."]
    assert {r.kind for r in dist.repairs} >= {"parse_retry", "fallback_single"}

    with pytest.raises(ParseError):
        verbalize("x", k=2, model=Replies("{}", "{}"), fallback=False)


def test_failed_calls_reach_the_hook() -> None:
    from vs_sim.errors import ProviderError

    class Broken(Replies):
        async def acomplete(self, request: Request) -> Completion:
            raise ProviderError("boom", status=400, model=self.name)

    records: list[CallRecord] = []
    with pytest.raises(ProviderError):
        verbalize("x", model=Broken(), on_call=records.append)
    assert len(records) == 1 and isinstance(records[0].error, ProviderError)


def test_same_request_same_answer_new_repeat_new_sample() -> None:
    model = OfflineModel("offline/demo")
    a = verbalize("Tell me a joke", model=model, repeat=0)
    b = verbalize("Tell me a joke", model=model, repeat=0)
    c = verbalize("Tell me a joke", model=model, repeat=1)
    assert a.texts == b.texts and a.probabilities == b.probabilities
    assert (a.texts, a.probabilities) != (c.texts, c.probabilities)


def test_system_prompt_and_messages() -> None:
    model = Replies('{"responses": [{"text": "Hi", "probability": 1}]}')
    verbalize([{"role": "user", "content": "Say hi"}], k=1, model=model, system="You are Ana.")
    system = model.requests[0].messages[0]
    assert system["role"] == "system" and system["content"].startswith("You are Ana.\n\n")
    with pytest.raises(ConfigError, match="empty"):
        verbalize("  ", model=model)
    with pytest.raises(ConfigError, match=r"messages\[0\]"):
        verbalize([{"role": "robot", "content": "x"}], model=model)


def test_xml_format_and_percentage_wording_round_trip_offline() -> None:
    dist = verbalize(
        "Name a US state", k=3, format="xml", wording="percentage", model="offline/demo"
    )
    assert len(dist) == 3
    assert all(isinstance(c.stated, int | float) and c.stated > 1 for c in dist.candidates)
    assert math.isclose(sum(dist.probabilities), 1.0)


def test_verbalize_works_inside_a_running_event_loop() -> None:
    async def notebook_cell() -> Distribution:
        return verbalize("Name a US state", k=3, model="offline/demo")

    assert len(asyncio.run(notebook_cell())) == 3


def test_averbalize_runs_concurrently() -> None:
    async def many() -> list[Distribution]:
        return await asyncio.gather(
            *(averbalize("Tell me a joke", k=3, repeat=i) for i in range(20))
        )

    dists = asyncio.run(many())
    assert len({tuple(d.texts) for d in dists}) > 1
