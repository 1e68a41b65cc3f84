"""What a run records of each model call, and the running totals of its events.

:func:`call_event` turns a :class:`~vs_sim.verbalizer.CallRecord` into the log's
``model_call`` event; :class:`RunStats` adds every written event to the totals that the
progress bar shows and ``RunEnded`` records. Both run for every event of a run, so they
are written for speed: records built in one step, a dict lookup per event.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .events import ConversationEnded, Event, ModelCall, Utterance, redact
from .records import trusted
from .verbalizer import CallRecord


def call_event(
    record: CallRecord, conversation_id: str | None, turn: int | None, purpose: str
) -> ModelCall:
    """The ``model_call`` event for one call (success or failure); secrets redacted."""
    comp, err = record.completion, record.error
    if comp is None:
        attempts = int(getattr(err, "attempts", 1) or 1)
        return ModelCall(
            conversation_id=conversation_id,
            turn=turn,
            purpose=purpose,
            request_key=record.request.key,
            model=record.request.model,
            retries=max(attempts - 1, 0),
            error=redact(f"{type(err).__name__}: {err}"),
        )
    usage = comp.usage
    # All fields in declaration order, straight into the record: the values come from a
    # validated Completion, and this runs once per call (half the cost of ModelCall.trusted).
    values = {
        "t": time.time(),
        "kind": "model_call",
        "conversation_id": conversation_id,
        "turn": turn,
        "purpose": purpose,
        "request_key": comp.request_key or record.request.key,
        "model": comp.model,
        "latency": comp.latency,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost": comp.cost,
        "cached": comp.cached,
        "retries": comp.retries,
        "error": None,
        "synthetic": comp.synthetic,
    }
    return trusted(ModelCall, values, set(_CALL_FIELDS_GIVEN))


_CALL_FIELDS_GIVEN = frozenset(ModelCall.model_fields) - {"t", "kind", "error"}
"""The fields :func:`call_event` sets for a success (its ``model_fields_set``)."""


@dataclass
class RunStats:
    """Running totals, updated by every event written (also shown in the progress bar)."""

    completed: int = 0
    failed: int = 0
    skipped: int = 0
    turns: int = 0
    calls: int = 0
    cache_hits: int = 0
    call_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    turns_by_unit: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, str] = field(default_factory=dict)

    def observe(self, event: Event) -> None:
        """Add ``event`` to the totals: model calls, utterances and ended units count."""
        counter = _COUNTERS.get(type(event), _UNSEEN)
        if counter is _UNSEEN:  # a class not seen before: found once, by what it derives from
            counter = _COUNTERS[type(event)] = _counter_for(type(event))
        if counter is not None:  # (None: an event that counts nothing)
            counter(self, event)

    def _count_call(self, event: ModelCall) -> None:
        self.calls += 1
        self.cache_hits += event.cached
        self.call_errors += event.error is not None
        self.prompt_tokens += event.prompt_tokens
        self.completion_tokens += event.completion_tokens
        self.cost += event.cost or 0.0

    def _count_utterance(self, event: Utterance) -> None:
        self.turns += 1
        self.turns_by_unit[event.conversation_id] += 1

    def _count_end(self, event: ConversationEnded) -> None:
        if event.status == "failed":
            self.failed += 1
            self.errors[event.conversation_id] = event.error or ""
        else:
            self.completed += 1

    def summary(self) -> dict[str, Any]:
        """The totals that go into ``RunEnded`` (no timings, so logs compare across runs)."""
        return {
            "completed": self.completed,
            "failed": self.failed,
            "skipped": self.skipped,
            "turns": self.turns,
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "call_errors": self.call_errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 10),
        }


_Counter = Callable[[RunStats, Any], None]
_COUNTED: tuple[tuple[type[Any], _Counter], ...] = (
    (ModelCall, RunStats._count_call),
    (Utterance, RunStats._count_utterance),
    (ConversationEnded, RunStats._count_end),
)
# Event class -> what RunStats.observe does with it (None: nothing): a dict lookup per event
# instead of an isinstance chain (pydantic's isinstance runs Python code, ~0.15 µs a check).
_COUNTERS: dict[type[Any], _Counter | None] = dict(_COUNTED)
_UNSEEN: Any = object()


def _counter_for(cls: type[Any]) -> _Counter | None:
    """What ``isinstance`` would pick for an instance of ``cls`` (a subclass counts as its base)."""
    for base, counter in _COUNTED:
        if issubclass(cls, base):
            return counter
    return None
