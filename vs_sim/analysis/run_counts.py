"""A run's counts, kept while its log streams past: what ``summary.json`` starts from."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..events import Event, ModelCall, RunEnded, RunStarted
from .rows import Row


@dataclass
class RunCounts:
    """The run-wide figures :func:`~vs_sim.analysis.rows.run_summary` reports."""

    started: RunStarted | None = None
    ended: RunEnded | None = None
    first_t: float | None = None
    last_t: float | None = None
    conversations: int = 0
    status: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    utterances: int = 0
    answers: int = 0
    task: str | None = None
    calls: int = 0
    models: set[str] = field(default_factory=set)
    cost: float = 0.0
    costed: int = 0
    cache_hits: int = 0
    call_errors: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    synthetic_call: bool = False

    def add_conversation(self, row: Row, sign: int = 1) -> None:
        self.conversations += sign
        self.status[str(row["status"])] += sign
        if row["reason"] is not None:
            self.reasons[str(row["reason"])] += sign
        self.utterances += sign * row["utterances"]
        self.answers += sign * row["answers"]
        if sign > 0 and self.task is None and row["task"]:
            self.task = row["task"]

    def observe(self, e: Event) -> None:
        """Note an event's time, and the first ``run_started`` and last ``run_ended``."""
        self.first_t = e.t if self.first_t is None else min(self.first_t, e.t)
        self.last_t = e.t if self.last_t is None else max(self.last_t, e.t)
        if isinstance(e, RunStarted) and self.started is None:
            self.started = e
        elif isinstance(e, RunEnded):
            self.ended = e

    def add_call(self, e: ModelCall) -> None:
        """Count one model call."""
        self.calls += 1
        self.models.add(e.model)
        if e.cost is not None:
            self.cost += e.cost
            self.costed += 1
        self.cache_hits += bool(e.cached)
        self.call_errors += e.error is not None
        self.retries += e.retries
        self.prompt_tokens += e.prompt_tokens
        self.completion_tokens += e.completion_tokens
        self.synthetic_call = self.synthetic_call or bool(e.synthetic)

    def summary(self) -> Row:
        """Counts, calls, cache hits, tokens, cost, elapsed time and the synthetic flag."""
        started, ended = self.started, self.ended
        return {
            "run_id": started.run_id if started else None,
            "seed": started.seed if started else None,
            "task": (started.config.get("task") if started else None) or self.task,
            "status": ended.status if ended else "unfinished",
            "synthetic": bool(started and started.synthetic) or self.synthetic_call,
            "models": sorted(self.models),
            "conversations": self.conversations,
            "completed": self.status["completed"],
            "failed": self.status["failed"],
            "unfinished": self.status["unfinished"],
            "utterances": self.utterances,
            "answers": self.answers,
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "call_errors": self.call_errors,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost if self.costed else None,
            "elapsed": (self.last_t - self.first_t)
            if self.first_t is not None and self.last_t is not None
            else 0.0,
        }

    def end_reasons(self) -> dict[str, int]:
        """How many conversations ended for each reason."""
        return {k: v for k, v in sorted(self.reasons.items()) if v > 0}
