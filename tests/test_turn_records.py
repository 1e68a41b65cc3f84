"""A turn's own records and prompt, each held to the general path it stands in for.

choice_event/utterance_event give what ``Cls.trusted(...)`` gives; the distribution's candidate
records are the validated ones whatever the candidates hold; build_messages gives the prompt
the plain (one message at a time) construction gives; rank_of is a stable descending sort's
place; the log writer keeps lines whole across threads and refuses writes once closed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.agents import (
    Agent,
    Turn,
    build_messages,
    choice_event,
    distribution_event,
    rank_of,
    utterance_event,
)
from vs_sim.distribution import Candidate, Distribution
from vs_sim.errors import ConfigError
from vs_sim.events import (
    CandidateRecord,
    Choice,
    DistributionRecorded,
    EventLog,
    Utterance,
    _json_line,
    read_records,
)
from vs_sim.models.base import Message
from vs_sim.records import trusted, trusted_each
from vs_sim.run_stats import RunStats

# -- the events a turn builds -------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    index=st.integers(0, 9),
    rank=st.integers(1, 10),
    probability=st.floats(0, 1),
    rule=st.sampled_from(["weighted", "forced"]),
    turn=st.integers(0, 99),
)
def test_choice_event_is_choice_trusted(
    index: int, rank: int, probability: float, rule: str, turn: int
) -> None:
    fields: dict[str, Any] = dict(
        conversation_id="c", turn=turn, speaker="ana", index=index, rank=rank,
        probability=probability, rule=rule, rng_key=["c", turn, "choice"],
    )  # fmt: skip
    fast, slow = choice_event(**fields), Choice.trusted(**fields)
    assert fast.model_copy(update={"t": slow.t}) == slow == Choice(**fields, t=slow.t)
    assert fast.model_fields_set == slow.model_fields_set
    assert list(fast.__dict__) == list(Choice.model_fields)
    assert _json_line(fast) == fast.model_dump_json().encode() + b"\n"


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(max_size=20),
    to=st.lists(st.sampled_from(["ben", "cy"]), max_size=2),
    reply_to=st.none() | st.integers(0, 9),
    probability=st.none() | st.floats(0, 1),
    rank=st.none() | st.integers(1, 5),
    entropy=st.none() | st.floats(0, 3),
    note=st.none() | st.text(max_size=5),
    round_=st.none() | st.tuples(st.integers(0, 9), st.integers(1, 3)),
)
def test_utterance_event_is_utterance_trusted(
    text: str,
    to: list[str],
    reply_to: int | None,
    probability: float | None,
    rank: int | None,
    entropy: float | None,
    note: str | None,
    round_: tuple[int, int] | None,
) -> None:
    fields: dict[str, Any] = dict(
        conversation_id="c", turn=4, speaker="ana", text=text, addressed_to=to,
        reply_to=reply_to, probability=probability, rank=rank, entropy=entropy, note=note,
        round_start=round_[0] if round_ else None, round_size=round_[1] if round_ else None,
    )  # fmt: skip
    fast, slow = utterance_event(**fields), Utterance.trusted(**fields)
    assert fast.model_copy(update={"t": slow.t}) == slow == Utterance(**fields, t=slow.t)
    assert fast.model_fields_set == slow.model_fields_set
    assert list(fast.__dict__) == list(Utterance.model_fields)
    assert _json_line(fast) == fast.model_dump_json().encode() + b"\n"


class _Scored(Candidate):
    """A candidate subclass with a field of its own: the record keeps only the four."""

    score: float = 0.5


def test_candidates_holding_other_types_are_recorded_as_validation_records_them() -> None:
    odd = [
        Candidate.model_construct(text="a", stated=None, weight=2, probability=1),  # ints
        _Scored(text="b", weight=0.5, probability=0.25),
        Candidate(text="c", stated="35%", weight=0.35, probability=0.35),
    ]
    dist = Distribution.model_construct(candidates=odd, method="m")
    fast = distribution_event(dist, conversation_id="c", turn=1, speaker="ana")
    expected = [
        CandidateRecord(text=c.text, stated=c.stated, weight=c.weight, probability=c.probability)
        for c in odd
    ]
    assert fast.candidates == expected
    assert [type(c.weight) for c in fast.candidates] == [float] * 3
    assert [c.model_fields_set for c in fast.candidates] == [set(CandidateRecord.model_fields)] * 3
    slow = DistributionRecorded(**{**fast.model_dump(), "candidates": expected})
    assert _json_line(fast) == slow.model_dump_json().encode() + b"\n"


def test_a_record_does_not_share_its_candidates_field_dict() -> None:
    dist = Distribution.from_candidates([Candidate(text="a", weight=1.0)], method="m")
    record = distribution_event(dist, conversation_id="c", turn=0, speaker="ana").candidates[0]
    assert record.__dict__ == dist.candidates[0].__dict__
    assert record.__dict__ is not dist.candidates[0].__dict__


def test_trusted_each_is_trusted_for_each() -> None:
    rows: list[dict[str, Any]] = [
        {"text": "a", "stated": None, "weight": 1.0, "probability": 0.5},
        {"text": "b"},
    ]
    each = trusted_each(CandidateRecord, [dict(r) for r in rows])
    one_by_one = [trusted(CandidateRecord, dict(r)) for r in rows]
    assert each == one_by_one
    assert [r.model_fields_set for r in each] == [r.model_fields_set for r in one_by_one]


# -- rank_of ------------------------------------------------------------------------------------


@given(
    probabilities=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]), min_size=1, max_size=8),
    data=st.data(),
)
def test_rank_of_is_the_place_in_a_stable_descending_sort(
    probabilities: list[float], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(probabilities) - 1))
    order = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])
    assert rank_of(probabilities, index) == order.index(index) + 1


# -- build_messages -----------------------------------------------------------------------------


def _plain_messages(
    agent: Agent,
    history: Sequence[Turn],
    names: Mapping[str, str],
    addressed_to: Sequence[str],
    instructions: str,
    opening: str | None,
    summary: str | None,
) -> tuple[str, list[Message]]:
    """build_messages as first written: each piece joined as it comes, merged one at a time."""
    others = [names.get(a, a) for a in addressed_to if a != agent.id]
    cue = f"You are {agent.name}. " + (
        "Write your next message in this conversation" if history or opening
        else "Open the conversation"
    )  # fmt: skip
    cue += f", addressing {', '.join(others)}." if others else "."
    parts = [agent.system_prompt().strip(), instructions.strip()]
    if summary:
        parts.append(f"Earlier in the conversation (summary): {summary.strip()}")
    system = "\n\n".join(p for p in [*parts, cue] if p)
    messages: list[Message] = []
    if opening:
        messages.append({"role": "user", "content": opening})
    for turn in history:
        if turn.speaker == agent.id:
            messages.append({"role": "assistant", "content": turn.text})
            continue
        line = f"{names.get(turn.speaker, turn.speaker)}: {turn.text}"
        if messages and messages[-1]["role"] == "user":
            messages[-1] = {"role": "user", "content": f"{messages[-1]['content']}\n{line}"}
        else:
            messages.append({"role": "user", "content": line})
    if not messages or messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": "(Your turn.)"})
    return system, messages


_words = st.sampled_from(["", " ", "Hi.", " padded \n", "two\nlines"])


@settings(max_examples=150, deadline=None)
@given(
    persona=_words,
    speakers=st.lists(st.sampled_from(["ana", "ben", "cy"]), max_size=7),
    texts=st.lists(_words, min_size=7, max_size=7),
    addressed=st.lists(st.sampled_from(["ana", "ben", "zed"]), max_size=2),
    instructions=_words,
    opening=st.none() | _words,
    summary=st.none() | _words,
)
def test_build_messages_is_the_plain_construction(
    persona: str,
    speakers: list[str],
    texts: list[str],
    addressed: list[str],
    instructions: str,
    opening: str | None,
    summary: str | None,
) -> None:
    agent = Agent(id="ana", name="Ana", persona=persona)
    history = [Turn(i, s, texts[i]) for i, s in enumerate(speakers)]
    names = {"ana": "Ana", "ben": "Ben"}  # cy has no display name: its id is shown
    args = (agent, history, names, addressed, instructions, opening, summary)
    fast = build_messages(
        agent, history, names, addressed_to=addressed, instructions=instructions,
        opening=opening, summary=summary,
    )  # fmt: skip
    assert fast == _plain_messages(*args)


# -- the writer and the totals -----------------------------------------------------------------


def test_threads_writing_at_once_leave_every_line_whole(tmp_path: Path) -> None:
    log_path = tmp_path / "events.jsonl"
    text = "x" * 5000  # long lines: a torn write would show

    def write(log: EventLog, who: int) -> None:
        for turn in range(50):
            log.write(Utterance(conversation_id=f"c{who}", turn=turn, speaker="a", text=text))

    with EventLog(log_path) as log:
        threads = [threading.Thread(target=write, args=(log, w)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    records = list(read_records(log_path, strict=True))
    assert sorted((r["conversation_id"], r["turn"]) for r in records) == sorted(
        (f"c{w}", t) for w in range(6) for t in range(50)
    )
    assert all(r["text"] == text for r in records)


def test_a_closed_log_refuses_writes(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.close()
    with pytest.raises(ConfigError, match="the event log is closed"):
        log.write(Utterance(conversation_id="c", turn=0, speaker="a", text="x"))


def test_every_line_written_in_an_event_loop_reaches_the_os_by_the_next_step(
    tmp_path: Path,
) -> None:
    import asyncio

    path = tmp_path / "events.jsonl"

    async def run() -> list[int]:
        seen = []
        with EventLog(path) as log:
            for turn in range(3):
                log.write(Utterance(conversation_id="c", turn=turn, speaker="a", text="x"))
                log.write(Utterance(conversation_id="c", turn=turn, speaker="b", text="y"))
                await asyncio.sleep(0)
                seen.append(len(path.read_bytes().splitlines()))
        return seen

    assert asyncio.run(run()) == [2, 4, 6]
    assert [orjson.loads(line)["turn"] for line in path.read_bytes().splitlines()] == [
        0, 0, 1, 1, 2, 2,
    ]  # fmt: skip


class _MyUtterance(Utterance):
    """A subclass RunStats has not seen: it counts as an utterance."""


def test_run_stats_count_subclasses_as_their_base_and_other_events_not_at_all() -> None:
    stats = RunStats()
    stats.observe(_MyUtterance(conversation_id="c", turn=0, speaker="a", text="x"))
    stats.observe(Choice(index=0, rank=1, probability=1.0))
    stats.observe(_MyUtterance(conversation_id="c", turn=1, speaker="a", text="y"))
    assert stats.turns == 2 and dict(stats.turns_by_unit) == {"c": 2}
    assert stats.calls == 0
