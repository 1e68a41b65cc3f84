"""Event log → plain rows (lists of dicts), one builder per table; no pandas here.

Each builder takes events in log order (a list, or a stream straight from the file) and
returns one dict per row. The :class:`~vs_sim.analysis.Run` turns them into DataFrames;
keeping the reading apart from pandas means the rules (which answer wins, how a choice
finds its distribution, which participant an answer belongs to) are plain Python, easy to
test and to read. The rules themselves live in one place, :class:`.stream.TableStream`,
which the run folder's CSV files are written with too (one streamed pass, flat memory).

Persona attributes are flattened into columns: a nested dict ``{"home": {"state": "OH"}}``
becomes ``home.state``. An attribute whose name is already a column of these tables
(``name``, ``role``, ``value``, ...) is renamed ``attr.<name>`` (see :func:`attribute_column`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..events import Event, Participant

Row = dict[str, Any]

ANSWERING_ROLES: tuple[str, ...] = ("respondent", "persuadee", "participant")
"""Roles whose attributes an answer is joined with when a conversation has several agents."""

RESERVED_COLUMNS: frozenset[str] = frozenset(
    {
        "conversation_id", "agent_id", "name", "persona_id", "template", "role", "respondent",
        "question_id", "value", "matched", "matched_by", "skipped", "out_of_range", "error",
        "raw", "soft", "unmatched", "turn", "speaker", "text", "option", "group",
    }
)  # fmt: skip
"""Fixed column names; an attribute with one of these names gets an ``attr.`` prefix."""


TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "personas": ("conversation_id", "agent_id", "name", "persona_id", "template", "role"),
    "candidates": (
        "distribution", "conversation_id", "turn", "speaker", "purpose", "method", "model",
        "index", "rank", "text", "stated", "weight", "probability", "dropped", "chosen",
        "entropy",
    ),
    "choices": (
        "conversation_id", "turn", "speaker", "purpose", "index", "rank", "probability", "rule",
        "rng_key", "text",
    ),
    "utterances": (
        "conversation_id", "parent_id", "turn", "speaker", "name", "role", "text", "probability",
        "rank", "entropy", "method", "candidates", "addressed_to", "reply_to", "note",
    ),
    "calls": (
        "conversation_id", "turn", "purpose", "model", "request_key", "prompt_tokens",
        "completion_tokens", "tokens", "cost", "latency", "cached", "retries", "error",
        "synthetic",
    ),
    "answers": (
        "conversation_id", "respondent", "question_id", "value", "matched", "matched_by",
        "skipped", "out_of_range", "error", "raw", "soft", "unmatched", "turn",
    ),
    "conversations": (
        "conversation_id", "task", "status", "reason", "error", "turns", "utterances", "answers",
        "participants", "parent_id", "fork_turn", "started", "ended", "duration",
    ),
}  # fmt: skip
"""Each table's fixed columns, in order (attribute columns follow in personas and answers)."""


def attribute_column(name: str) -> str:
    """The column an attribute is stored under: its name, or ``attr.<name>`` on a clash."""
    return f"attr.{name}" if name in RESERVED_COLUMNS else name


def flatten_attributes(attributes: Mapping[str, Any], prefix: str = "") -> Row:
    """Nested attribute dicts as dotted column names (``home.state``), clashes renamed."""
    out: Row = {}
    for key, value in attributes.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_attributes(value, prefix=f"{name}."))
        else:
            out[attribute_column(name) if not prefix else name] = value
    return out


def answering_participant(participants: Sequence[Participant]) -> Participant | None:
    """The participant whose answers a conversation's ``answer`` events are.

    The only participant, else the first with a role in :data:`ANSWERING_ROLES`, else
    ``None`` (the caller then merges every participant's attributes).
    """
    if len(participants) == 1:
        return participants[0]
    for p in participants:
        if p.role in ANSWERING_ROLES:
            return p
    return None


def table_rows(events: Iterable[Event], *tables: str) -> dict[str, list[Row]]:
    """Several tables from one pass over ``events``, by name (see :data:`TABLE_COLUMNS`)."""
    from .sinks import ListSink
    from .stream import TableStream

    sinks = {name: ListSink() for name in tables}
    stream = TableStream(sinks)
    stream.feed_all(events)
    stream.close()
    return {name: sink.rows() for name, sink in sinks.items()}


def persona_rows(events: Iterable[Event]) -> list[Row]:
    """One row per participant of each conversation (its first ``conversation_started``),
    attributes flattened."""
    return table_rows(events, "personas")["personas"]


def candidate_rows(events: Iterable[Event]) -> list[Row]:
    """Every candidate of every distribution (chosen or not; tau-dropped ones flagged).

    ``distribution`` numbers the distributions in log order; ``rank`` is 1 for the most
    probable kept candidate (ties in list order) and ``None`` for dropped ones; ``chosen``
    marks the candidate a ``choice`` event drew from the latest distribution of its
    (conversation, turn, purpose).
    """
    return table_rows(events, "candidates")["candidates"]


def choice_rows(events: Iterable[Event]) -> list[Row]:
    """One row per ``choice`` event, with the chosen candidate's text when it was logged."""
    return table_rows(events, "choices")["choices"]


def utterance_rows(events: Iterable[Event]) -> list[Row]:
    """One row per utterance, with the speaker's name and role and its distribution's
    method, candidate count and entropy (bits) when they were logged."""
    return table_rows(events, "utterances")["utterances"]


def call_rows(events: Iterable[Event]) -> list[Row]:
    """One row per model call: tokens, cost, latency, cache hit, retries, error."""
    return table_rows(events, "calls")["calls"]


def answer_rows(events: Iterable[Event]) -> list[Row]:
    """One row per respondent × question (the last record wins after a resume, in the
    place of that last record), with the respondent's attributes joined.

    The respondent is the answer's ``agent_id`` when it names one (several respondents in
    one conversation, e.g. a focus group), else the conversation's answering participant
    (see :func:`answering_participant`); with neither, every participant's attributes are
    merged (the first participant wins a clash).
    """
    return table_rows(events, "answers")["answers"]


def conversation_rows(events: Iterable[Event]) -> list[Row]:
    """One row per conversation: task, status (its last ``conversation_ended``), end
    reason, turns, answers, branch origin, start, end and duration."""
    return table_rows(events, "conversations")["conversations"]


def run_summary(events: Iterable[Event]) -> Row:
    """Counts, calls, cache hits, tokens, cost, elapsed time and the synthetic flag.

    Computed from the log (the truth); ``status`` is ``unfinished`` when no ``run_ended``
    was written (a run still going, or killed).
    """
    from .stream import TableStream

    stream = TableStream()
    stream.feed_all(events)
    stream.close()
    return stream.summary()


def check_columns(table: str, columns: Sequence[str], known: set[str]) -> None:
    """Refuse asked-for columns the table does not have, naming the ones it has."""
    known = known | set(TABLE_COLUMNS[table])
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ConfigError(
            f"no column {', '.join(map(repr, unknown))} in the {table} table; "
            f"it has: {', '.join(sorted(known))}",
            where="columns",
        )
