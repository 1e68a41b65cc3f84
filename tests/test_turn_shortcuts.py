"""The engine's per-turn shortcuts give what the general paths give.

A conversation turn calls a prepared :class:`~vs_sim.verbalizer.CallPlan` instead of
``averbalize(**kwargs)``, reads clean answers without a ``ParseResult``, builds the
distribution without normalizing again, and reuses what it worked out for each agent
(mention patterns, a speaker's ``Pick``). Each test here holds a shortcut against the path it
stands in for.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.agents import Agent, Turn
from vs_sim.conversation import Conversation, Termination
from vs_sim.distribution import Distribution
from vs_sim.events import Utterance, read_events
from vs_sim.mentions import mention_labels, mentions, mentions_of
from vs_sim.models.base import Message
from vs_sim.parsing import parse_response
from vs_sim.parsing.response import clean_candidates
from vs_sim.runner import run_conversations
from vs_sim.scheduling import RandomSpeaker, Transcript, _cdf, _uniform_cdf
from vs_sim.seeds import AddressedRng, derive_uniform
from vs_sim.testing.scripted import ScriptedModel, vs_answer
from vs_sim.verbalizer import CallPlan, averbalize

# -- CallPlan.averbalize_chat is averbalize(messages, system=...) ---------------------------------


def _chat() -> list[Message]:
    return [
        {"role": "user", "content": "Opening: should the mill become housing?"},
        {"role": "assistant", "content": "I think so."},
        {"role": "user", "content": "Ben: Why?\nCy: Costs?"},
    ]


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("vs_standard", {}),
        ("vs_standard", {"wording": "confidence", "tail": 0.2}),
        ("vs_cot", {}),
        ("vs_multi", {}),
        ("sequence", {}),
        ("direct", {}),
        ("multi_turn", {}),
    ],
)
@pytest.mark.parametrize("schema", [False, True])
@pytest.mark.parametrize("system", ["You are Ana.  ", ""])
def test_averbalize_chat_equals_averbalize(
    method: str, options: dict[str, Any], schema: bool, system: str
) -> None:
    async def both() -> tuple[Distribution, Distribution, ScriptedModel, ScriptedModel]:
        general, fast = (ScriptedModel(supports_json_schema=schema, seed=3) for _ in range(2))
        want = await averbalize(
            _chat(), system=system, k=3, method=method, model=general, temperature=0.7, **options
        )
        plan = CallPlan.of(k=3, method=method, model=fast, temperature=0.7, **options)
        got = await plan.averbalize_chat(_chat(), system)
        return want, got, general, fast

    want, got, general, fast = asyncio.run(both())
    assert got.model_dump() == want.model_dump()
    assert got.model_fields_set == want.model_fields_set
    assert [r.key for r in fast.history] == [r.key for r in general.history]
    assert [r.params for r in fast.history] == [r.params for r in general.history]
    assert ("response_format" in fast.history[0].params) == (
        schema and method in ("vs_standard", "vs_cot", "vs_multi", "sequence")
    )


def test_a_plan_serves_many_turns_and_reports_every_call() -> None:
    model = ScriptedModel(seed=1)
    plan = CallPlan.of(k=4, model=model)
    seen: list[str] = []

    async def turns() -> list[Distribution]:
        return [
            await plan.averbalize_chat(_chat(), "S", lambda r: seen.append(r.request.key))
            for _ in range(3)
        ]

    dists = asyncio.run(turns())
    assert len(seen) == 3 and all(len(d.candidates) == 4 for d in dists)
    assert [d.request_keys[0] for d in dists] == seen


def test_a_non_str_text_is_validated_as_averbalize_validates_it() -> None:
    class Text(str):
        pass

    chat = _chat()
    chat[1] = {"role": "assistant", "content": Text("I think so.")}

    async def both() -> tuple[Distribution, Distribution]:
        a = await averbalize(chat, system="S", model=ScriptedModel(seed=2))
        b = await CallPlan.of(model=ScriptedModel(seed=2)).averbalize_chat(list(chat), "S")
        return a, b

    want, got = asyncio.run(both())
    assert got.model_dump() == want.model_dump()
    assert type(got.prompt[2]["content"]) is str  # type: ignore[index]  # validation made it str


# -- the parser's shortcuts ------------------------------------------------------------------------

_number = st.one_of(
    st.floats(min_value=0, max_value=1),
    st.integers(0, 1),
    st.sampled_from([0.0, -0.0, 1.5, 35, "0.3", None, float("nan")]),
)
_text = st.one_of(
    st.sampled_from(["Yes.", "No", "  spaced  ", '"quoted"', "", "a  b", "a b", "Yes."]),
    st.text(max_size=8),
)


@st.composite
def _answers(draw: st.DrawFn) -> str:
    items = draw(st.lists(st.tuples(_text, _number), min_size=0, max_size=5))
    key = draw(st.sampled_from(["probability", "confidence", "Probability", "p"]))
    value: Any = {"responses": [{"text": t, key: n} for t, n in items]}
    if draw(st.booleans()):
        value["reasoning"] = "because"
    text = json.dumps(value, allow_nan=True)
    return draw(st.sampled_from([text, f"  {text}\n", f"```json\n{text}\n```"]))


def test_a_model_s_clean_answer_takes_the_shortcut_and_a_repaired_one_does_not() -> None:
    answer = vs_answer(4, random.Random(5))
    found = clean_candidates(answer)
    assert found is not None and [c.text for c in found] == parse_response(answer).texts
    assert clean_candidates(answer.replace("0.", "0.0")[:-2]) is None  # cut off: a repair


@settings(max_examples=300, deadline=None)
@given(answer=_answers())
def test_clean_candidates_are_the_parsers_candidates(answer: str) -> None:
    found = clean_candidates(answer)
    if found is None:
        return
    result = parse_response(answer)
    assert result.repairs == [] and not result.truncated and result.format == "json"
    assert [c.model_dump() for c in found] == [c.model_dump() for c in result.candidates]


@settings(max_examples=300, deadline=None)
@given(answer=_answers(), temperature=st.sampled_from([1.0, 0.5]))
def test_a_parsed_answer_s_distribution_skips_a_normalization_that_changes_nothing(
    answer: str, temperature: float
) -> None:
    try:
        result = parse_response(answer)
    except Exception:
        return
    if any(r.kind == "zero_sum" for r in result.repairs):
        return  # (the shortcut is not taken then)
    fields: dict[str, Any] = {
        "method": "vs_standard",
        "model": "m",
        "prompt": [{"role": "user", "content": "q"}],
        "usage": Distribution.model_fields["usage"].get_default(call_default_factory=True),
        "cost": None,
        "calls": 1,
        "truncated": result.truncated,
        "synthetic": False,
        "request_keys": ["k"],
    }
    want = Distribution.from_candidates(
        result.candidates,
        repairs=result.repairs,
        temperature=temperature,
        trusted=True,
        **fields,
    )
    got = Distribution._from_parsed(
        result.candidates, repairs=result.repairs, temperature=temperature, **fields
    )
    assert got.model_dump() == want.model_dump()
    assert [repr(c.probability) for c in got.candidates] == [
        repr(c.probability) for c in want.candidates
    ]
    assert got.model_fields_set == want.model_fields_set


# -- mentions, speakers, transcripts, draws ----------------------------------------------------


def test_prepared_labels_find_what_mentions_finds() -> None:
    agents = [Agent(id="ana", name="Ana"), Agent(id="b2", name="Ben"), Agent(id="cy", name=" ")]
    labels = mention_labels(agents)
    assert {label[0] for label in labels} == {"ana", "b2", "cy"}  # (the blank name: its id)
    for text in ["@Ben yes", "Ana, no", "so ana and BEN", "cy?", "nobody", "*Ben* @ana"]:
        for anywhere in (True, False):
            assert mentions_of(text, labels, anywhere=anywhere) == mentions(
                text, agents, anywhere=anywhere
            )


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_the_uniform_cdf_is_made_as_for_any_weights(n: int) -> None:
    assert list(_uniform_cdf(n)) == _cdf([1.0] * n)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**32), no_repeat=st.booleans())
def test_a_speaker_without_weights_is_drawn_as_with_weights_of_one(
    n: int, seed: int, no_repeat: bool
) -> None:
    agents = [Agent(id=f"a{i}") for i in range(n)]
    history = [Turn(0, "a0", "hi")]
    plain = RandomSpeaker(no_repeat=no_repeat)
    ones = RandomSpeaker(weights={a.id: 1.0 for a in agents}, no_repeat=no_repeat)
    rng = (AddressedRng(seed, "c", 1, "schedule"), AddressedRng(seed, "c", 1, "schedule"))
    assert plain(agents, history, rng[0]) == ones(agents, history, rng[1])


def test_a_shared_transcript_equals_a_copied_one() -> None:
    turns = (Turn(0, "a", "hi"), Turn(1, "b", "yo"))
    names = {"a": "Ana", "b": "Ben"}
    copied = Transcript(turns, conversation_id="c", participants=["a", "b"], names=names, seed=4)
    shared = Transcript._shared(turns, "c", ("a", "b"), names, 4, None)
    assert vars(shared) == vars(copied)
    assert list(shared) == list(turns) and shared.last == turns[-1] and len(shared) == 2


def _draw_reference(seed: int, keys: Sequence[object], index: int) -> float:
    address = "\x1f".join([str(int(seed)), *(str(k) for k in keys)]).encode("utf-8")
    digest = hashlib.sha256(address + b"\x1e" + str(index).encode("ascii")).digest()
    return (int.from_bytes(digest[:8], "little") >> 11) * 2.0**-53


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(-(2**70), 2**70),
    keys=st.lists(st.one_of(st.text(max_size=4), st.integers(), st.booleans(), st.none())),
)
def test_draws_hash_the_address_they_always_hashed(seed: int, keys: list[object]) -> None:
    assert derive_uniform(seed, *keys) == _draw_reference(seed, keys, 0)
    rng = AddressedRng(seed, *keys)
    assert [rng.random() for _ in range(3)] == [_draw_reference(seed, keys, i) for i in range(3)]


# -- the engine: schedulers still checked, async ones still awaited --------------------------------


def _agents() -> tuple[Agent, ...]:
    return (Agent(id="ana", name="Ana"), Agent(id="ben", name="Ben"))


def test_an_async_scheduler_is_awaited_and_its_answer_checked(tmp_path: Any) -> None:
    async def by_turn(agents: Sequence[Agent], history: Transcript, rng: AddressedRng) -> str:
        await asyncio.sleep(0)
        return agents[len(history) % len(agents)].id

    conv = Conversation(
        id="c", agents=_agents(), scheduler=by_turn, termination=Termination(max_turns=4)
    )
    log = tmp_path / "log.jsonl"
    run_conversations([conv], model=ScriptedModel(), seed=1, log_path=log, progress=False)
    spoken = [e.speaker for e in read_events(log) if isinstance(e, Utterance)]
    assert spoken == ["ana", "ben", "ana", "ben"]


@pytest.mark.parametrize("answer", ["nobody", ["ana", "zed"], []])
def test_a_scheduler_naming_someone_absent_still_fails(tmp_path: Any, answer: Any) -> None:
    conv = Conversation(
        id="c",
        agents=_agents(),
        scheduler=lambda agents, history, rng: answer,
        termination=Termination(max_turns=2),
    )
    result = run_conversations(
        [conv], model=ScriptedModel(), seed=1, log_path=tmp_path / "l.jsonl", progress=False
    )
    assert result.failed == 1
    assert "the scheduler chose" in (tmp_path / "l.jsonl").read_text(encoding="utf-8")


def test_the_same_speaker_s_pick_is_reused_and_a_left_agent_is_not_picked(tmp_path: Any) -> None:
    rng = random.Random(0)
    model = ScriptedModel(replies=[vs_answer(3, rng) for _ in range(2)] + ["[LEAVE] bye"] * 4)
    conv = Conversation(
        id="c",
        agents=(*_agents(), Agent(id="cy", name="Cy")),
        scheduler=RandomSpeaker(no_repeat=True),
        termination=Termination(max_turns=6),
    )
    log = tmp_path / "log.jsonl"
    run_conversations([conv], model=model, seed=2, log_path=log, progress=False)
    spoken = [e for e in read_events(log) if isinstance(e, Utterance)]
    gone: set[str] = set()
    for u in spoken:
        assert u.speaker not in gone
        if "[LEAVE]" in u.text:
            gone.add(u.speaker)
    assert gone and len(spoken) > 2
