"""Event log → plain rows (lists of dicts), one builder per table; no pandas here.

Each builder takes the parsed events in log order and returns one dict per row. The
:class:`~vs_sim.analysis.Run` turns them into DataFrames; keeping the reading apart from
pandas means the rules (which answer wins, how a choice finds its distribution, which
participant an answer belongs to) are plain Python, easy to test and to read.

Persona attributes are flattened into columns: a nested dict ``{"home": {"state": "OH"}}``
becomes ``home.state``. An attribute whose name is already a column of these tables
(``name``, ``role``, ``value``, ...) is renamed ``attr.<name>`` (see :func:`attribute_column`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    RunEnded,
    RunStarted,
    Utterance,
)

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


def _participants(events: Iterable[Event]) -> dict[str, list[Participant]]:
    """Each conversation's participants (the first ``conversation_started`` wins)."""
    out: dict[str, list[Participant]] = {}
    for e in events:
        if isinstance(e, ConversationStarted) and e.conversation_id not in out:
            out[e.conversation_id] = list(e.participants)
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


def persona_rows(events: Sequence[Event]) -> list[Row]:
    """One row per participant of each conversation, attributes flattened."""
    rows: list[Row] = []
    for conv, participants in _participants(events).items():
        for p in participants:
            rows.append(
                {
                    "conversation_id": conv,
                    "agent_id": p.agent_id,
                    "name": p.name,
                    "persona_id": p.persona_id,
                    "template": p.template,
                    "role": p.role,
                    **flatten_attributes(p.attributes),
                }
            )
    return rows


def _dist_key(
    conv: str | None, turn: int | None, purpose: str
) -> tuple[str | None, int | None, str]:
    return (conv, turn, purpose)


def candidate_rows(events: Sequence[Event]) -> list[Row]:
    """Every candidate of every distribution (chosen or not; tau-dropped ones flagged).

    ``distribution`` numbers the distributions in log order; ``rank`` is 1 for the most
    probable kept candidate (ties in list order) and ``None`` for dropped ones; ``chosen``
    marks the candidate the matching ``choice`` event drew.
    """
    rows: list[Row] = []
    latest: dict[tuple[str | None, int | None, str], list[Row]] = {}
    number = 0
    for e in events:
        if isinstance(e, DistributionRecorded):
            probs = [c.probability for c in e.candidates]
            order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))
            ranks = {i: r for r, i in enumerate(order, start=1)}
            own: list[Row] = []
            listed = [(c, False) for c in e.candidates] + [(c, True) for c in e.dropped]
            for index, (cand, dropped) in enumerate(listed):
                own.append(
                    {
                        "distribution": number,
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
                )
            rows.extend(own)
            latest[_dist_key(e.conversation_id, e.turn, e.purpose)] = own
            number += 1
        elif isinstance(e, Choice):
            own = latest.get(_dist_key(e.conversation_id, e.turn, e.purpose), [])
            if 0 <= e.index < len(own) and not own[e.index]["dropped"]:
                own[e.index]["chosen"] = True
    return rows


def choice_rows(events: Sequence[Event]) -> list[Row]:
    """One row per ``choice`` event, with the chosen candidate's text when it was logged."""
    texts: dict[tuple[str | None, int | None, str], list[str]] = {}
    rows: list[Row] = []
    for e in events:
        if isinstance(e, DistributionRecorded):
            texts[_dist_key(e.conversation_id, e.turn, e.purpose)] = [c.text for c in e.candidates]
        elif isinstance(e, Choice):
            listed = texts.get(_dist_key(e.conversation_id, e.turn, e.purpose), [])
            rows.append(
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
                    "text": listed[e.index] if 0 <= e.index < len(listed) else None,
                }
            )
    return rows


def utterance_rows(events: Sequence[Event]) -> list[Row]:
    """One row per utterance, with the speaker's name and role and its distribution's
    method, candidate count and entropy (bits) when they were logged."""
    people = {(conv, p.agent_id): p for conv, ps in _participants(events).items() for p in ps}
    parents: dict[str, str | None] = {}
    dists: dict[tuple[str | None, int | None, str], DistributionRecorded] = {}
    rows: list[Row] = []
    for e in events:
        if isinstance(e, ConversationStarted):
            parents.setdefault(e.conversation_id, e.parent_id)
        elif isinstance(e, DistributionRecorded) and e.purpose == "utterance":
            dists[_dist_key(e.conversation_id, e.turn, e.purpose)] = e
        elif isinstance(e, Utterance):
            who = people.get((e.conversation_id, e.speaker))
            dist = dists.get(_dist_key(e.conversation_id, e.turn, "utterance"))
            entropy = e.entropy if e.entropy is not None else (dist.entropy if dist else None)
            rows.append(
                {
                    "conversation_id": e.conversation_id,
                    "parent_id": parents.get(e.conversation_id),
                    "turn": e.turn,
                    "speaker": e.speaker,
                    "name": who.name if who else e.speaker,
                    "role": who.role if who else None,
                    "text": e.text,
                    "probability": e.probability,
                    "rank": e.rank,
                    "entropy": entropy,
                    "method": dist.method if dist else None,
                    "candidates": len(dist.candidates) if dist else None,
                    "addressed_to": list(e.addressed_to),
                    "reply_to": e.reply_to,
                    "note": e.note,
                }
            )
    return rows


def call_rows(events: Sequence[Event]) -> list[Row]:
    """One row per model call: tokens, cost, latency, cache hit, retries, error."""
    return [
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
        }
        for e in events
        if isinstance(e, ModelCall)
    ]


def answer_rows(events: Sequence[Event]) -> list[Row]:
    """One row per respondent × question (the last record wins after a resume), with the
    respondent's attributes joined.

    The respondent is the answer's ``agent_id`` when it names one (several respondents in
    one conversation, e.g. a focus group), else the conversation's answering participant
    (see :func:`answering_participant`); with neither, every participant's attributes are
    merged (the first participant wins a clash).
    """
    people = _participants(events)
    latest: dict[tuple[str, str | None, str], Answer] = {}
    for e in events:
        if isinstance(e, Answer):
            key = (e.conversation_id, e.agent_id, e.question_id)
            latest.pop(key, None)
            latest[key] = e
    rows: list[Row] = []
    for (conv, agent_id, _), a in latest.items():
        participants = people.get(conv, [])
        named = [p for p in participants if p.agent_id == agent_id] if agent_id else []
        who = named[0] if named else answering_participant(participants)
        attributes: dict[str, Any] = {}
        if who is not None:
            attributes = dict(who.attributes)
        else:
            for p in reversed(participants):
                attributes.update(p.attributes)
        rows.append(
            {
                "conversation_id": conv,
                "respondent": agent_id or (who.agent_id if who else None),
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
        )
    return rows


def conversation_rows(events: Sequence[Event]) -> list[Row]:
    """One row per conversation: task, status, end reason, turns, answers, branch origin."""
    rows: dict[str, Row] = {}

    def row(conv: str, t: float) -> Row:
        if conv not in rows:
            rows[conv] = {
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
            }
        return rows[conv]

    answered: set[tuple[str, str | None, str]] = set()
    for e in events:
        if isinstance(e, ConversationStarted):
            r = row(e.conversation_id, e.t)
            r.update(
                task=e.meta.get("task"),
                participants=len(e.participants),
                parent_id=e.parent_id,
                fork_turn=e.fork_turn,
            )
        elif isinstance(e, Utterance):
            r = row(e.conversation_id, e.t)
            r["utterances"] += 1
            r["turns"] = max(r["turns"], e.turn + 1)
        elif isinstance(e, Answer) and (e.conversation_id, e.agent_id, e.question_id) not in (
            answered
        ):
            answered.add((e.conversation_id, e.agent_id, e.question_id))
            row(e.conversation_id, e.t)["answers"] += 1
        elif isinstance(e, ConversationEnded):
            r = row(e.conversation_id, e.t)
            r.update(status=e.status, reason=e.reason, error=e.error, ended=e.t)
            r["turns"] = max(r["turns"], e.turns)
    for r in rows.values():
        r["duration"] = r["ended"] - r["started"] if r["ended"] is not None else None
    return list(rows.values())


def run_summary(events: Sequence[Event]) -> Row:
    """Counts, calls, cache hits, tokens, cost, elapsed time and the synthetic flag.

    Computed from the log (the truth); ``status`` is ``unfinished`` when no ``run_ended``
    was written (a run still going, or killed).
    """
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    ended = next((e for e in reversed(events) if isinstance(e, RunEnded)), None)
    convs = conversation_rows(events)
    calls = call_rows(events)
    models = sorted({c["model"] for c in calls})
    costs = [c["cost"] for c in calls if c["cost"] is not None]
    times = [e.t for e in events]
    synthetic = bool(started and started.synthetic) or any(c["synthetic"] for c in calls)
    return {
        "run_id": started.run_id if started else None,
        "seed": started.seed if started else None,
        "task": (started.config.get("task") if started else None)
        or next((c["task"] for c in convs if c["task"]), None),
        "status": ended.status if ended else "unfinished",
        "synthetic": synthetic,
        "models": models,
        "conversations": len(convs),
        "completed": sum(c["status"] == "completed" for c in convs),
        "failed": sum(c["status"] == "failed" for c in convs),
        "unfinished": sum(c["status"] == "unfinished" for c in convs),
        "utterances": sum(c["utterances"] for c in convs),
        "answers": sum(c["answers"] for c in convs),
        "calls": len(calls),
        "cache_hits": sum(bool(c["cached"]) for c in calls),
        "call_errors": sum(c["error"] is not None for c in calls),
        "retries": sum(c["retries"] for c in calls),
        "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
        "completion_tokens": sum(c["completion_tokens"] for c in calls),
        "cost": sum(costs) if costs else None,
        "elapsed": (max(times) - min(times)) if times else 0.0,
    }
