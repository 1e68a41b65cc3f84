"""What a run's summary and reports show, gathered in one streamed pass of its log.

A report needs counts, per-model call figures, the first failed calls and conversations,
a few transcripts and a sample of utterance texts: never every row. :class:`DigestSinks`
are row sinks for :class:`~vs_sim.analysis.stream.TableStream` that keep only that, so
``write_outputs`` can fill them in the same pass that writes the CSV tables, and
:meth:`RunDigest.read` (what :meth:`vs_sim.analysis.Run.digest` uses) reads a log with
memory that does not grow with the run (bar a donation question's values, 8 bytes each).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import Answer, ConversationEnded, ConversationStarted, Event
from .rows import Row
from .sinks import RowSink
from .stream import TableStream

DONATION_PREFIX = "donation"
"""Answers to questions whose id starts with this are read as donations (dollars)."""
TEXT_SAMPLE = 2000
"""Utterance texts kept per group (method, role or speaker) for text diversity."""


class Tee:
    """One table's rows to several sinks (each must number rows the same way: all rows)."""

    def __init__(self, *sinks: RowSink) -> None:
        self.sinks = sinks

    def write(self, row: Row) -> int:
        indices = [s.write(row) for s in self.sinks]
        return indices[0]

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        for s in self.sinks:
            s.replace(index, row, old)


class _Counted:
    """A sink that numbers every row it is given (so it lines up with the others)."""

    def __init__(self) -> None:
        self.count = 0

    def _next(self) -> int:
        self.count += 1
        return self.count - 1


class _Answers(_Counted):
    """Question ids in the order they were first answered, and donation values."""

    def __init__(self) -> None:
        super().__init__()
        self.questions: dict[str, None] = {}
        self.donations: dict[str, dict[int, float]] = {}

    def write(self, row: Row) -> int:
        index = self._next()
        self._add(index, row, 1)
        return index

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        self._add(index, old, -1)
        if row is not None:
            self._add(index, row, 1)

    def _add(self, index: int, row: Row, sign: int) -> None:
        qid = row["question_id"]
        self.questions.setdefault(qid)  # a row is only dropped for another of its question
        if not qid.startswith(DONATION_PREFIX):
            return
        values = self.donations.setdefault(qid, {})
        value = row["value"]
        if sign < 0:
            values.pop(index, None)
        elif (
            row["matched"]
            and not row["skipped"]
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            values[index] = float(value)


class _Calls(_Counted):
    """Per-model call figures and the first failed calls."""

    def __init__(self, errors: int) -> None:
        super().__init__()
        self.limit = errors
        self.models: dict[str, Row] = {}
        self.total = self._figures("all")
        self.errors: list[Row] = []

    @staticmethod
    def _figures(model: str) -> Row:
        return {
            "model": model,
            "calls": 0,
            "cache_hits": 0,
            "errors": 0,
            "retries": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost": None,
            "latency": 0.0,
        }

    def write(self, row: Row) -> int:
        model = str(row["model"])
        if model not in self.models:
            self.models[model] = self._figures(model)
        for m in (self.models[model], self.total):
            m["calls"] += 1
            m["cache_hits"] += bool(row["cached"])
            m["errors"] += row["error"] is not None
            m["retries"] += row["retries"]
            m["prompt_tokens"] += row["prompt_tokens"]
            m["completion_tokens"] += row["completion_tokens"]
            if row["cost"] is not None:
                m["cost"] = (m["cost"] or 0.0) + row["cost"]
            m["latency"] += row["latency"]
        if row["error"] is not None and len(self.errors) < self.limit:
            self.errors.append(row)
        return self._next()

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        raise RuntimeError("internal: the calls table is append-only; no row is replaced")

    def summary(self) -> list[Row]:
        """Per model, sorted, then the whole run when there are several models."""
        rows = [self.models[k] for k in sorted(self.models)]
        if len(rows) > 1:
            rows.append(self.total)
        return [{**m, "latency": m["latency"] / m["calls"]} for m in rows]


class _Incomplete(_Counted):
    """Conversations whose (last) status is not ``completed``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, Row] = {}

    def write(self, row: Row) -> int:
        index = self._next()
        if row["status"] != "completed":
            self.rows[index] = row
        return index

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        self.rows.pop(index, None)
        if row is not None and row["status"] != "completed":
            self.rows[index] = row


class _Utterances(_Counted):
    """Transcripts of the first conversations, and a sample of texts per group."""

    def __init__(self, conversations: int, turns: int, texts: int) -> None:
        super().__init__()
        self.conversations, self.turns, self.per_group = conversations, turns, texts
        self.transcripts: dict[str, list[Row]] = {}
        self.methods: set[Any] = set()
        self.all_roles = True
        self.texts: dict[str, dict[str, list[str]]] = {"method": {}, "role": {}, "name": {}}

    def write(self, row: Row) -> int:
        conv = row["conversation_id"]
        if conv in self.transcripts or len(self.transcripts) < self.conversations:
            shown = self.transcripts.setdefault(conv, [])
            if len(shown) < self.turns:
                shown.append(row)
        self.methods.add(row["method"])
        self.all_roles = self.all_roles and row["role"] is not None
        for key, groups in self.texts.items():
            if row[key] is None:
                continue
            texts = groups.setdefault(str(row[key]), [])
            if len(texts) < self.per_group:
                texts.append(str(row["text"]))
        return self._next()

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        raise RuntimeError("internal: the utterances table is append-only; no row is replaced")


@dataclass(frozen=True)
class RunDigest:
    """A run's figures for summaries and reports, from one pass over its log.

    Attributes:
        summary: :func:`~vs_sim.analysis.rows.run_summary` of the log.
        end_reasons: Conversations per end reason.
        question_ids: Questions answered, in the order they were first answered.
        donations: Each donation question's numeric values (matched, not skipped).
        calls: Per model (sorted), plus ``all`` with several models: calls, cache hits,
            errors, retries, prompt and completion tokens, cost and mean latency.
        call_errors: The first failed calls (call table rows).
        incomplete: Every conversation that did not complete (conversation rows).
        utterances: How many utterances there are.
        transcripts: The first conversations with utterances: their first utterance rows.
        texts: Utterance texts per method, role and speaker name (at most
            :data:`TEXT_SAMPLE` per group, the first ones).
        methods: The distinct methods utterances were drawn with (``None`` when unknown).
        all_roles: Whether every utterance's speaker has a role.
        named_answers: Per task, the questions answered by a named participant (an
            answer with an ``agent_id``, e.g. a focus group's stances), first answered first.
    """

    summary: Row
    end_reasons: dict[str, int]
    question_ids: list[str]
    donations: dict[str, list[float]]
    calls: list[Row]
    call_errors: list[Row]
    incomplete: list[Row]
    utterances: int
    transcripts: dict[str, list[Row]]
    texts: dict[str, dict[str, list[str]]] = field(repr=False)
    methods: frozenset[Any] = frozenset()
    all_roles: bool = True
    named_answers: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, events: Iterable[Event], **limits: int) -> RunDigest:
        """The digest of ``events`` (a list, or :func:`~vs_sim.events.read_events`)."""
        sinks = DigestSinks(**limits)
        stream = TableStream(sinks.sinks())
        for event in events:
            stream.feed(event)
            sinks.observe(event)
        stream.close()
        return sinks.digest(stream)


class DigestSinks:
    """The sinks a :class:`RunDigest` is gathered with (pass them, or :class:`Tee` them
    with others, to one :class:`~vs_sim.analysis.stream.TableStream`, and show each event
    to :meth:`observe` as well).

    Args:
        transcripts: Conversations whose utterances are kept.
        turns: Utterances kept of each.
        errors: Failed calls kept.
        texts: Utterance texts kept per group.
    """

    def __init__(
        self, transcripts: int = 2, turns: int = 40, errors: int = 20, texts: int = TEXT_SAMPLE
    ) -> None:
        self.answers = _Answers()
        self.calls = _Calls(errors)
        self.conversations = _Incomplete()
        self.utterances = _Utterances(transcripts, turns, texts)
        self._tasks: dict[str, str | None] = {}  # units at work: their task
        self._named: dict[str, dict[str, None]] = {}

    def observe(self, e: Event) -> None:
        """Take the next event too (for what the tables do not say: answers' agent ids)."""
        if isinstance(e, ConversationStarted):
            self._tasks.setdefault(e.conversation_id, e.meta.get("task"))
        elif isinstance(e, Answer) and e.agent_id is not None:
            task = str(self._tasks.get(e.conversation_id))
            self._named.setdefault(task, {}).setdefault(e.question_id)
        elif isinstance(e, ConversationEnded) and e.status == "completed":
            self._tasks.pop(e.conversation_id, None)

    def sinks(self) -> dict[str, RowSink]:
        """The sinks by table name."""
        return {
            "answers": self.answers,
            "calls": self.calls,
            "conversations": self.conversations,
            "utterances": self.utterances,
        }

    def digest(self, stream: TableStream) -> RunDigest:
        """The digest, once ``stream`` is closed."""
        u = self.utterances
        return RunDigest(
            summary=stream.summary(),
            end_reasons=stream.end_reasons(),
            question_ids=list(self.answers.questions),
            donations={
                q: [v for _, v in sorted(values.items())]
                for q, values in self.answers.donations.items()
            },
            calls=self.calls.summary(),
            call_errors=list(self.calls.errors),
            incomplete=[row for _, row in sorted(self.conversations.rows.items())],
            utterances=u.count,
            transcripts=dict(u.transcripts),
            texts=u.texts,
            methods=frozenset(u.methods),
            all_roles=u.all_roles,
            named_answers={task: list(ids) for task, ids in self._named.items()},
        )
