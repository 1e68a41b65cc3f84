"""The per-turn shortcuts give exactly what the plain code gave, and the log still lands.

Each faster path here replaced a simpler one; these tests keep the simpler one as a
reference and check that results (draws, names found, what reaches the file) are the same.
"""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.agents import Agent, VSPolicy
from vs_sim.distribution import Candidate, Distribution
from vs_sim.errors import ConfigError
from vs_sim.events import EventLog, ModelCall, read_events
from vs_sim.models import RetryingModel
from vs_sim.models.base import Completion, Request
from vs_sim.runner import run_units
from vs_sim.scheduling import RandomSpeaker, mentions
from vs_sim.seeds import AddressedRng
from vs_sim.testing.scripted import ScriptedModel
from vs_sim.verbalizer import averbalize

# -- the event log: every line reaches the file before the loop handles anything new ---------


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _call(turn: int) -> ModelCall:
    return ModelCall(conversation_id="c", turn=turn, model="m")


def test_outside_an_event_loop_every_event_is_on_disk_at_once(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with EventLog(path) as log:
        log.write(_call(0))
        assert _lines(path) == 1
        log.write(_call(1))
        assert _lines(path) == 2


def test_in_an_event_loop_a_step_s_events_are_on_disk_at_the_next_step(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"

    async def run() -> list[int]:
        seen = []
        with EventLog(path) as log:
            for step in range(3):
                for turn in range(4):
                    log.write(_call(step * 4 + turn))
                await asyncio.sleep(0)  # the next step: the batch has been flushed
                seen.append(_lines(path))
        return seen

    assert asyncio.run(run()) == [4, 8, 12]
    assert [e.turn for e in read_events(path)] == list(range(12))  # type: ignore[union-attr]


def test_one_log_used_from_successive_event_loops_keeps_flushing(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = EventLog(path)

    async def write(turn: int) -> None:
        log.write(_call(turn))  # the loop ends right after: its flush may never run

    try:
        asyncio.run(write(0))
        asyncio.run(write(1))
        log.write(_call(2))  # no loop: this write flushes everything before it too
        assert _lines(path) == 3
    finally:
        log.close()


# -- who is named: precompiled patterns give what per-call patterns gave ----------------------


def _mentions_reference(text: str, agents: Sequence[Agent], anywhere: bool) -> list[str]:
    """The original implementation: patterns built and compiled on every call."""
    found: list[tuple[int, str]] = []
    at: list[tuple[int, str]] = []
    for agent in agents:
        for label in {agent.name, agent.id}:
            if not label.strip():
                continue
            pattern = re.escape(label.strip())
            m = re.search(rf"@{pattern}\b", text, re.I)
            if m:
                at.append((m.start(), agent.id))
            m = re.search(rf"(?<![\w@]){pattern}\b", text, re.I)
            if m and (anywhere or not text[: m.start()].strip(" \t\n\"'*")):
                found.append((m.start(), agent.id))
    ordered = sorted(at) if at else sorted(found)
    out: list[str] = []
    for _, agent_id in ordered:
        if agent_id not in out:
            out.append(agent_id)
    return out


_NAMES = ["Ana", "ben", "Kim", "Søren", "Z", "Jo Ann", "ſam", "O'Neil"]
_words = st.sampled_from(
    [*_NAMES, "ANA", "@ana", "@Ben", "KIM", "kim", "\u212aim", "Ben,", "*Ana*", '"Z"', "so", " "]
)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(_words, max_size=8), anywhere=st.booleans(), free=st.text(max_size=6))
def test_mentions_match_the_per_call_patterns(words: list[str], anywhere: bool, free: str) -> None:
    agents = [Agent(id=name.lower().replace(" ", "_"), name=name) for name in _NAMES]
    text = " ".join(words) + free
    assert mentions(text, agents, anywhere=anywhere) == _mentions_reference(text, agents, anywhere)


# -- draws: the shortcuts take the same numbers from the generator ----------------------------


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=0, max_value=50), min_size=2, max_size=6),
    seed=st.integers(0, 2**32),
)
def test_random_speaker_draws_what_generator_choice_draws(weights: list[float], seed: int) -> None:
    agents = [Agent(id=f"a{i}") for i in range(len(weights))]
    if sum(weights) <= 0:
        return
    speaker = RandomSpeaker(weights={a.id: w for a, w in zip(agents, weights)})
    picked = speaker(agents, [], np.random.default_rng(seed))
    w = np.array(weights)
    expected = agents[int(np.random.default_rng(seed).choice(len(w), p=w / w.sum()))].id
    assert picked == expected


def test_random_speaker_still_refuses_bad_weights() -> None:
    agents = [Agent(id="a"), Agent(id="b")]
    for bad in (float("inf"), float("nan"), -1.0):
        with pytest.raises(ConfigError, match="finite and non-negative") as info:
            RandomSpeaker(weights={"a": bad})(agents, [], AddressedRng(0, "c", 0, "schedule"))
        assert info.value.where == "RandomSpeaker.weights"
    with pytest.raises(ConfigError, match="positive sum"):
        RandomSpeaker(weights={"a": 0.0, "b": 0.0})(agents, [], AddressedRng(0, "c", 0, "x"))


@settings(max_examples=200, deadline=None)
@given(
    probs=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=8),
    seed=st.integers(0, 2**32),
    rule=st.sampled_from(["weighted", "uniform", "argmax", "temperature"]),
)
def test_select_draws_what_numpy_cumsum_and_searchsorted_draw(
    probs: list[float], seed: int, rule: str
) -> None:
    if sum(probs) <= 0:
        return
    policy = VSPolicy(selection=rule, temperature=0.6)  # type: ignore[arg-type]
    cdf = np.cumsum(policy.weights(probs))
    u = float(np.random.default_rng(seed).random()) * float(cdf[-1])
    expected = min(int(np.searchsorted(cdf, u, side="right")), len(probs) - 1)
    assert policy.select(probs, np.random.default_rng(seed)) == expected


# -- distributions and calls --------------------------------------------------------------------


def test_candidates_whose_probability_is_already_right_are_reused_as_they_are() -> None:
    kept = Candidate(text="a", weight=1.0, probability=0.25)
    other = Candidate(text="b", weight=3.0, probability=0.5)  # becomes 0.75
    zero = Candidate(text="c", weight=0.0, probability=-0.0)  # becomes 0.0, not -0.0
    dist = Distribution.from_candidates([kept, other, zero])
    assert dist.candidates[0] is kept
    assert dist.candidates[1].probability == 0.75 and dist.candidates[1].text == "b"
    assert repr(dist.candidates[2].probability) == "0.0"


def test_a_call_that_needed_no_retry_returns_the_inner_completion_itself() -> None:
    answer = Completion(text="hi", model="m")

    class Fixed:
        name = "m"
        supports_json_schema = False

        async def acomplete(self, request: Request) -> Completion:
            return answer

    model = RetryingModel(Fixed(), timeout=5.0)
    got = asyncio.run(
        model.acomplete(Request(model="m", messages=({"role": "user", "content": "x"},)))
    )
    assert got is answer and got.retries == 0


def test_methods_with_unhashable_options_still_work_and_equal_the_cached_ones(
    tmp_path: Path,
) -> None:
    reply = '{"responses": [{"text": "A", "probability": 0.6}, {"text": "B", "probability": 0.4}]}'

    async def run(**options: object) -> Distribution:
        return await averbalize("Pick", k=2, model=ScriptedModel(replies=[reply]), **options)

    cached = asyncio.run(run(template_dirs=(str(tmp_path),)))
    listed = asyncio.run(run(template_dirs=[str(tmp_path)]))  # a list: built each time
    assert cached.texts == listed.texts == ["A", "B"]
    assert cached.probabilities == listed.probabilities == [0.6, 0.4]
    assert cached.prompt == listed.prompt


# -- the runner keeps pre-run objects out of full collections while units run -----------------


class _Probe:
    """A unit that records whether objects were frozen while it ran."""

    def __init__(self, unit_id: str) -> None:
        self.id = unit_id
        self.frozen_while_running = -1

    async def run(self, ctx: object, prior: list[object]) -> str:
        self.frozen_while_running = gc.get_freeze_count()
        return "done"


def test_runner_freezes_pre_run_objects_only_while_units_run(tmp_path: Path) -> None:
    assert gc.get_freeze_count() == 0
    probe = _Probe("u1")
    result = run_units([probe], model=ScriptedModel(), seed=1, log_path=tmp_path / "a.jsonl")
    assert result.completed == 1
    assert probe.frozen_while_running > 0  # the objects that existed before the units started
    assert gc.get_freeze_count() == 0  # and given back to the collector afterwards


def test_runner_leaves_objects_someone_else_froze_alone(tmp_path: Path) -> None:
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        probe = _Probe("u1")
        run_units([probe], model=ScriptedModel(), seed=1, log_path=tmp_path / "a.jsonl")
        # frozen objects that die leave the count, so it can only fall: the run froze
        # nothing more, and did not unfreeze what someone else froze
        assert 0 < probe.frozen_while_running <= before
        assert 0 < gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()
