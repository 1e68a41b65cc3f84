"""The event log → every table in one streamed pass, each row handed on once it is final.

:class:`TableStream` takes events one at a time (:meth:`~TableStream.feed`) and gives each
table's rows to a :class:`~vs_sim.analysis.sinks.RowSink` (a CSV file, a list, a tally) as
they become final, keeping only the counts :meth:`~TableStream.summary` needs. So a run of
any size becomes tables with only its units still at work in memory. It is the one place
the tables' rules live: the list builders of :mod:`vs_sim.analysis.rows` (and so
:class:`~vs_sim.analysis.Run`) are this stream with list sinks.

What it holds, and for how long:

- each unit (conversation, respondent) until its ``conversation_ended`` says ``completed``:
  its participants, its latest distribution per (turn, purpose), its answers and its
  conversation row. vs_sim writes nothing for a unit after it completed (a resume skips
  it), so nothing is lost by letting it go;
- a unit that ended ``failed`` stays (a resume may retry it later in the log); its rows are
  written at once, and those the retry changes are replaced (the sink's ``replace``);
- the candidates of a distribution wait for its ``choice`` (which follows at once) so the
  ``chosen`` flag is right, and conversation rows wait for their unit to end: both are
  released in log order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..events import (
    Answer,
    Choice,
    ConversationEnded,
    ConversationStarted,
    DistributionRecorded,
    Event,
    ModelCall,
    Participant,
    Utterance,
)
from .rows import Row, answering_participant, flatten_attributes
from .run_counts import RunCounts
from .sinks import InOrder, Item, RowSink

TABLES: tuple[str, ...] = (
    "personas",
    "answers",
    "utterances",
    "candidates",
    "choices",
    "calls",
    "conversations",
)


@dataclass
class _Dist:
    """A unit's latest distribution for one (turn, purpose)."""

    item: Item
    method: str
    size: int
    entropy: float


@dataclass
class _Unit:
    """What a unit still at work needs for its next rows."""

    participants: list[Participant] | None = None
    parent_id: str | None = None
    dists: dict[tuple[int | None, str], _Dist] = field(default_factory=dict)
    answers: dict[tuple[str | None, str], tuple[int, Row]] = field(default_factory=dict)
    answered: set[tuple[str | None, str]] = field(default_factory=set)
    row: Row | None = None
    item: Item | None = None


class TableStream:
    """Every table of a run, built from its events as they are fed.

    Args:
        sinks: Where each table's rows go, by name (:data:`TABLES`); tables left out are
            not built.

    Example:
        >>> from vs_sim.analysis.sinks import ListSink
        >>> calls = ListSink()
        >>> stream = TableStream({"calls": calls})
        >>> stream.feed_all([])
        >>> stream.close()
        >>> calls.rows(), stream.summary()["calls"]
        ([], 0)
    """

    def __init__(self, sinks: Mapping[str, RowSink] | None = None) -> None:
        sinks = dict(sinks or {})
        unknown = set(sinks) - set(TABLES)
        if unknown:
            raise ValueError(f"unknown tables {sorted(unknown)}; known: {', '.join(TABLES)}")
        self._sinks = sinks
        self._units: dict[str | None, _Unit] = {}
        self._counts = RunCounts()
        self._candidates = InOrder(sinks.get("candidates"))
        self._conversations = InOrder(sinks.get("conversations"), self._counts.add_conversation)
        self._numbered = 0
        self._closed = False

    @property
    def held(self) -> int:
        """Units whose state is held: those at work, failed (a resume may retry them) or
        never ended; a completed unit is let go at its ``conversation_ended``."""
        return len(self._units)

    # -- feeding -----------------------------------------------------------------------------
    def feed_all(self, events: Iterable[Event]) -> None:
        """Feed every event of ``events`` in order."""
        for event in events:
            self.feed(event)

    def feed(self, e: Event) -> None:
        """Take the next event of the log."""
        self._counts.observe(e)
        if isinstance(e, ModelCall):
            self._call(e)
        elif isinstance(e, DistributionRecorded):
            self._distribution(e)
        elif isinstance(e, Choice):
            self._choice(e)
        elif isinstance(e, Utterance):
            self._utterance(e)
        elif isinstance(e, Answer):
            self._answer(e)
        elif isinstance(e, ConversationStarted):
            self._started(e)
        elif isinstance(e, ConversationEnded):
            self._ended(e)

    def _write(self, table: str, row: Row) -> int:
        sink = self._sinks.get(table)
        return sink.write(row) if sink is not None else -1

    def _unit(self, conv: str | None) -> _Unit:
        unit = self._units.get(conv)
        if unit is None:
            unit = self._units[conv] = _Unit()
        return unit

    def _row(self, conv: str, t: float) -> Row:
        """The unit's conversation row (created, in log order, at its first event)."""
        unit = self._unit(conv)
        if unit.row is None:
            unit.row = {
                "conversation_id": conv,
                "task": None,
                "status": "unfinished",
                "reason": None,
                "error": None,
                "turns": 0,
                "utterances": 0,
                "answers": 0,
                "participants": 0,
                "parent_id": None,
                "fork_turn": None,
                "started": t,
                "ended": None,
                "duration": None,
            }
            unit.item = self._conversations.open([unit.row])
        return unit.row

    def _started(self, e: ConversationStarted) -> None:
        unit = self._unit(e.conversation_id)
        row = self._row(e.conversation_id, e.t)
        row.update(
            task=e.meta.get("task"),
            participants=len(e.participants),
            parent_id=e.parent_id,
            fork_turn=e.fork_turn,
        )
        if unit.participants is not None:
            return
        unit.participants = list(e.participants)
        unit.parent_id = e.parent_id
        if "personas" in self._sinks:
            for p in e.participants:
                self._write(
                    "personas",
                    {
                        "conversation_id": e.conversation_id,
                        "agent_id": p.agent_id,
                        "name": p.name,
                        "persona_id": p.persona_id,
                        "template": p.template,
                        "role": p.role,
                        **flatten_attributes(p.attributes),
                    },
                )

    def _call(self, e: ModelCall) -> None:
        self._counts.add_call(e)
        if "calls" in self._sinks:
            self._write(
                "calls",
                {
                    "conversation_id": e.conversation_id,
                    "turn": e.turn,
                    "purpose": e.purpose,
                    "model": e.model,
                    "request_key": e.request_key,
                    "prompt_tokens": e.prompt_tokens,
                    "completion_tokens": e.completion_tokens,
                    "tokens": e.prompt_tokens + e.completion_tokens,
                    "cost": e.cost,
                    "latency": e.latency,
                    "cached": e.cached,
                    "retries": e.retries,
                    "error": e.error,
                    "synthetic": e.synthetic,
                },
            )

    def _distribution(self, e: DistributionRecorded) -> None:
        probs = [c.probability for c in e.candidates]
        order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))
        ranks = {i: r for r, i in enumerate(order, start=1)}
        listed = [(c, False) for c in e.candidates] + [(c, True) for c in e.dropped]
        rows: list[Row] = [
            {
                "distribution": self._numbered,
                "conversation_id": e.conversation_id,
                "turn": e.turn,
                "speaker": e.speaker,
                "purpose": e.purpose,
                "method": e.method,
                "model": e.model,
                "index": index,
                "rank": None if dropped else ranks[index],
                "text": cand.text,
                "stated": cand.stated,
                "weight": cand.weight,
                "probability": cand.probability,
                "dropped": dropped,
                "chosen": False,
                "entropy": e.entropy,
            }
            for index, (cand, dropped) in enumerate(listed)
        ]
        self._numbered += 1
        unit = self._unit(e.conversation_id)
        key = (e.turn, e.purpose)
        earlier = unit.dists.get(key)
        if earlier is not None:  # a newer distribution for the same turn: the old one is done
            self._candidates.finish(earlier.item)
        item = self._candidates.open(rows)
        unit.dists[key] = _Dist(item, e.method, len(e.candidates), e.entropy)

    def _choice(self, e: Choice) -> None:
        unit = self._units.get(e.conversation_id)
        dist = unit.dists.get((e.turn, e.purpose)) if unit is not None else None
        rows = dist.item.rows if dist is not None else []
        if dist is not None and 0 <= e.index < len(rows) and not rows[e.index]["dropped"]:
            row = rows[e.index]
            if not row["chosen"]:
                old = dict(row)
                row["chosen"] = True
                sink = self._sinks.get("candidates")
                if dist.item.indices is not None and sink is not None:  # already written
                    sink.replace(dist.item.indices[e.index], dict(row), old)
        if dist is not None:
            self._candidates.finish(dist.item)
        if "choices" in self._sinks:
            texts = [r["text"] for r in rows[: dist.size]] if dist is not None else []
            self._write(
                "choices",
                {
                    "conversation_id": e.conversation_id,
                    "turn": e.turn,
                    "speaker": e.speaker,
                    "purpose": e.purpose,
                    "index": e.index,
                    "rank": e.rank,
                    "probability": e.probability,
                    "rule": e.rule,
                    "rng_key": list(e.rng_key),
                    "text": texts[e.index] if 0 <= e.index < len(texts) else None,
                },
            )

    def _utterance(self, e: Utterance) -> None:
        row = self._row(e.conversation_id, e.t)
        row["utterances"] += 1
        row["turns"] = max(row["turns"], e.turn + 1)
        if "utterances" not in self._sinks:
            return
        unit = self._unit(e.conversation_id)
        who = None
        for p in unit.participants or []:
            if p.agent_id == e.speaker:
                who = p  # as a dict keyed by agent id would: the last one named so
        dist = unit.dists.get((e.turn, "utterance"))
        entropy = e.entropy if e.entropy is not None else (dist.entropy if dist else None)
        self._write(
            "utterances",
            {
                "conversation_id": e.conversation_id,
                "parent_id": unit.parent_id,
                "turn": e.turn,
                "speaker": e.speaker,
                "name": who.name if who else e.speaker,
                "role": who.role if who else None,
                "text": e.text,
                "probability": e.probability,
                "rank": e.rank,
                "entropy": entropy,
                "method": dist.method if dist else None,
                "candidates": dist.size if dist else None,
                "addressed_to": list(e.addressed_to),
                "reply_to": e.reply_to,
                "note": e.note,
            },
        )

    def _answer(self, e: Answer) -> None:
        unit = self._unit(e.conversation_id)
        key = (e.agent_id, e.question_id)
        if key not in unit.answered:
            unit.answered.add(key)
            self._row(e.conversation_id, e.t)["answers"] += 1
        sink = self._sinks.get("answers")
        if sink is None:
            return
        row = self._answer_row(e, unit.participants or [])
        earlier = unit.answers.pop(key, None)
        if earlier is not None:  # recorded again (after a resume): the last record wins
            sink.replace(earlier[0], None, earlier[1])
        unit.answers[key] = (sink.write(row), row)

    @staticmethod
    def _answer_row(a: Answer, participants: list[Participant]) -> Row:
        named = [p for p in participants if p.agent_id == a.agent_id] if a.agent_id else []
        who = named[0] if named else answering_participant(participants)
        attributes: dict[str, Any] = {}
        if who is not None:
            attributes = dict(who.attributes)
        else:
            for p in reversed(participants):
                attributes.update(p.attributes)
        return {
            "conversation_id": a.conversation_id,
            "respondent": a.agent_id or (who.agent_id if who else None),
            "question_id": a.question_id,
            "value": a.value,
            "matched": a.matched,
            "matched_by": a.matched_by,
            "skipped": a.skipped,
            "out_of_range": a.out_of_range,
            "error": a.error,
            "raw": a.raw,
            "soft": dict(a.soft),
            "unmatched": sum((c.probability for c in a.unmatched), 0.0),
            "turn": a.turn,
            **flatten_attributes(attributes),
        }

    def _ended(self, e: ConversationEnded) -> None:
        row = self._row(e.conversation_id, e.t)
        row.update(status=e.status, reason=e.reason, error=e.error, ended=e.t)
        row["turns"] = max(row["turns"], e.turns)
        row["duration"] = e.t - row["started"]
        unit = self._unit(e.conversation_id)
        for dist in unit.dists.values():
            self._candidates.finish(dist.item)
        assert unit.item is not None
        if not unit.item.final:
            self._conversations.finish(unit.item)
        else:  # a failed unit retried by a resume: its row may be written already
            self._rewrite_conversation(unit)
        if e.status == "completed":
            del self._units[e.conversation_id]

    def _rewrite_conversation(self, unit: _Unit) -> None:
        """Replace a unit's written conversation row if later events changed it."""
        row, item = unit.row, unit.item
        if row is None or item is None or item.written is None or item.indices is None:
            return  # not written yet: it goes out as it is when its turn comes
        old = item.written[0]
        if row == old:
            return
        sink = self._sinks.get("conversations")
        if sink is not None:
            sink.replace(item.indices[0], dict(row), old)
        self._counts.add_conversation(old, -1)
        self._counts.add_conversation(row)
        item.written = [dict(row)]

    # -- the end -----------------------------------------------------------------------------
    def close(self) -> None:
        """Release every row still held (units that never ended keep their last state)."""
        if self._closed:
            return
        self._closed = True
        self._candidates.close()
        self._conversations.close()
        for unit in self._units.values():
            self._rewrite_conversation(unit)
        self._units.clear()

    def summary(self) -> Row:
        """What :func:`~vs_sim.analysis.rows.run_summary` gives for the events fed so far
        (call after :meth:`close`, so every conversation is counted)."""
        return self._counts.summary()

    def end_reasons(self) -> dict[str, int]:
        """How many conversations ended for each reason."""
        return self._counts.end_reasons()
