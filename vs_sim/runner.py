"""The runner: many units of work (conversations, survey respondents) at once, one event log.

A *unit* has an ``id`` (its ``conversation_id`` in the log) and ``async run(ctx, prior)``
that does its work through a :class:`RunContext` and returns the reason it ended. The
runner writes ``RunStarted``; runs units with ``concurrency`` workers taking them in
order (so memory stays flat for any number of units; the model layer adds its own limit);
writes ``ConversationEnded`` for each (``failed`` with the error when
it raised — the others go on); and ``RunEnded`` at the end, or ``interrupted`` on Ctrl-C
(finished work is already in the log). With ``resume=True`` it reads the log, skips units
that completed, and hands every other unit (unfinished, or ended ``failed``: it is tried
again) its own logged events as ``prior``, so it continues from its logged turns; a unit's
last ``ConversationEnded`` is its status.

A failure no unit can get past (nothing listens at the model's address, or the provider
refuses the credentials) stops the whole run at once: the other units are cancelled and
left unfinished (a resume continues them), ``RunEnded`` says ``failed``, and the error is
raised, one clear message instead of every unit failing the same way.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from .errors import ConfigError, ModelNotConfigured, ModelUnreachable, ProviderError
from .events import (
    ConversationEnded,
    Event,
    EventLog,
    RunEnded,
    RunStarted,
    Utterance,
    read_events,
    redact,
)
from .models.base import Model, aclose_model
from .progress import RunProgress
from .run_stats import RunStats as RunStats
from .run_stats import call_event as call_event
from .seeds import derive_seed
from .sync import run_sync
from .verbalizer import CallHook, CallRecord, resolve_model

T = TypeVar("T")


class Unit(Protocol):
    """One piece of work with its own ``conversation_id`` in the log."""

    @property
    def id(self) -> str:
        """Its conversation id."""
        ...

    async def run(self, ctx: RunContext, prior: list[Event]) -> str:
        """Do the work not yet in ``prior`` (its own logged events); return the end reason."""
        ...


@dataclass(frozen=True)
class RunResult:
    """What a run did.

    Attributes:
        log_path: The event log.
        run_id: The run's id (kept across resumes).
        completed: Units that ended normally in this session.
        failed: Units that raised (their errors are in ``errors``).
        skipped: Units already ended in the log (resume).
        turns: Utterances logged in this session.
        calls: Model calls made in this session; ``cache_hits`` of them came from the cache.
        prompt_tokens: Prompt tokens of those calls; ``completion_tokens`` likewise.
        cost: Dollars, where known.
        elapsed: Seconds.
        errors: Unit id → error message, for failed units.
    """

    log_path: Path
    run_id: str
    completed: int
    failed: int
    skipped: int
    turns: int
    calls: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    elapsed: float
    errors: dict[str, str]

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class RunContext:
    """What every unit gets: the seed, the model, and a way to log events.

    Attributes:
        seed: The run seed.
        model: The run's model (already wrapped by the model layer).
        run_id: The run's id.
        stats: Running totals.
    """

    def __init__(
        self,
        *,
        seed: int,
        model: Model,
        log: EventLog,
        run_id: str,
        on_event: Callable[[], None] | None = None,
    ) -> None:
        self.seed = seed
        self.model = model
        self.run_id = run_id
        self.stats = RunStats()
        self._log = log
        self._on_event = on_event

    def emit(self, event: Event) -> None:
        """Append ``event`` to the log (flushed) and update the totals."""
        self._log.write(event)
        self.stats.observe(event)
        if self._on_event is not None:
            self._on_event()

    def on_call(self, conversation_id: str | None, turn: int | None, purpose: str) -> CallHook:
        """A hook for ``averbalize(on_call=...)`` logging a ``model_call`` event per call."""

        def hook(record: CallRecord) -> None:
            self.emit(call_event(record, conversation_id, turn, purpose))

        return hook

    def resolve_model(self, model: str | Model | None) -> Model:
        """The run's model for ``None`` (or its own name), else that model (built once)."""
        if model is None or model == self.model.name:
            return self.model
        return resolve_model(model)


def _versions() -> dict[str, str]:
    import networkx
    import numpy
    import pydantic

    from . import __version__

    return {
        "vs_sim": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pydantic": pydantic.VERSION,
        "networkx": networkx.__version__,
    }


def _read_prior(path: Path) -> tuple[RunStarted | None, dict[str, list[Event]], set[str]]:
    """The log's first ``RunStarted``, each unit's events, and the units that completed.

    A unit whose last ``ConversationEnded`` says ``failed`` is not done: a resume retries it.
    """
    started: RunStarted | None = None
    by_unit: dict[str, list[Event]] = defaultdict(list)
    last_status: dict[str, str] = {}
    for event in read_events(path):
        if started is None and isinstance(event, RunStarted):
            started = event
        conv = getattr(event, "conversation_id", None)
        if conv is not None:
            by_unit[conv].append(event)
        if isinstance(event, ConversationEnded):
            last_status[event.conversation_id] = event.status
    completed = {conv for conv, status in last_status.items() if status == "completed"}
    for conv in completed:  # their events are not needed again: do not hold them
        del by_unit[conv]
    return started, by_unit, completed


def _freeze_setup() -> bool:
    """Keep what exists before the units start out of the garbage collector's full passes.

    Everything imported or built before the run (litellm alone brings ~250,000 objects)
    lives as long as the process, yet every full collection walks it: with litellm loaded,
    one such pass stalls the event loop for 100-200 ms while the calls in flight wait.
    ``gc.freeze`` moves those objects aside until the run ends (``gc.unfreeze``). Returns
    whether it froze (not when the collector is off or someone else froze objects already).
    """
    if not gc.isenabled() or gc.get_freeze_count():
        return False
    gc.freeze()
    return True


def stops_the_run(error: BaseException) -> bool:
    """Whether ``error`` would fail every unit alike, so the run should stop at once.

    Nothing listening at the model's address, an unknown host, missing or refused
    credentials, an unknown model (see :class:`~vs_sim.errors.ModelNotConfigured`) cannot be
    fixed by going on; a rate limit, a timeout or one bad answer can.
    """
    if isinstance(error, ModelUnreachable | ModelNotConfigured):
        return True
    return isinstance(error, ProviderError) and error.status in (401, 403)


async def arun_units(
    units: Sequence[Unit],
    *,
    model: str | Model,
    seed: int,
    log_path: str | os.PathLike[str],
    concurrency: int = 16,
    progress: bool = True,
    resume: bool = False,
    run_config: dict[str, Any] | None = None,
    progress_label: str = "conversations",
) -> RunResult:
    """Run ``units`` concurrently, logging everything to ``log_path``.

    Args:
        units: The work; ids must be unique.
        model: The run's model (a name or object).
        seed: The run seed; every draw is derived from it.
        log_path: The JSONL event log. It must not hold events yet unless ``resume``.
        concurrency: Units running at once (the model layer limits calls on its own too).
        progress: Show a live progress bar (only on a terminal).
        resume: Continue the run in ``log_path``: skip completed units; continue unfinished
            and failed ones from their logged events.
        run_config: Recorded (redacted) in ``RunStarted``.
        progress_label: What the bar counts.

    Raises:
        ConfigError: Duplicate unit ids, a log that already holds a run (without
            ``resume``), or a resume with a different seed.
        ModelError: A failure that stops the run (see :func:`stops_the_run`); the log
            ends with ``RunEnded(status="failed")`` and the run can be resumed.
    """
    ids = [u.id for u in units]
    dupes = sorted(i for i, count in Counter(ids).items() if count > 1)
    if dupes:
        raise ConfigError(f"unit ids must be unique; repeated: {dupes[:5]}", where="units")
    if concurrency < 1:
        raise ConfigError(f"concurrency must be >= 1, got {concurrency}", where="concurrency")
    path = Path(log_path)
    mdl = resolve_model(model)
    by_unit: dict[str, list[Event]] = {}
    ended: set[str] = set()
    first: RunStarted | None = None
    run_id = f"run-{derive_seed(seed, 'run', *ids):016x}"
    if path.exists() and path.stat().st_size > 0:
        if not resume:
            raise ConfigError(
                "the log already holds events; pass resume=True or a new path", where=str(path)
            )
        first, by_unit, ended = _read_prior(path)
        if first is not None:
            if first.seed != seed:
                raise ConfigError(
                    f"the log's run used seed {first.seed}, not {seed}", where=str(path)
                )
            run_id = first.run_id
    config = {
        "model": mdl.name,
        "concurrency": concurrency,
        "units": len(units),
        "resumed": first is not None,
        **(run_config or {}),
    }
    todo = [u for u in units if u.id not in ended]
    started_at = time.perf_counter()
    with EventLog(path) as log, RunProgress(progress, progress_label, len(units)) as bar:
        ctx = RunContext(
            seed=seed, model=mdl, log=log, run_id=run_id, on_event=bar.refresh if bar else None
        )
        ctx.stats.skipped = len(units) - len(todo)
        for unit_id, prior in by_unit.items():
            ctx.stats.turns_by_unit[unit_id] = sum(isinstance(e, Utterance) for e in prior)
        bar.attach(ctx.stats)
        ctx.emit(
            RunStarted(
                run_id=run_id,
                seed=seed,
                config=redact(config),
                versions=_versions(),
                synthetic=mdl.name.startswith("offline/"),
            )
        )

        async def one(unit: Unit) -> None:
            status: Literal["completed", "failed"] = "completed"
            error = None
            try:
                reason = await unit.run(ctx, list(by_unit.pop(unit.id, [])))
            except Exception as exc:  # one failed unit never stops the others...
                if stops_the_run(exc):  # ...unless none could get past it
                    raise
                reason, status, error = "error", "failed", f"{type(exc).__name__}: {exc}"
            turns = ctx.stats.turns_by_unit.pop(unit.id, 0)
            ctx.emit(
                ConversationEnded(
                    conversation_id=unit.id,
                    reason=reason,
                    status=status,
                    error=redact(error),
                    turns=turns,
                )
            )

        queue = iter(todo)

        async def worker() -> None:
            # ``concurrency`` workers take units in order: memory stays flat however many
            # units there are (no task per unit waiting its turn).
            for unit in queue:
                await one(unit)

        frozen = _freeze_setup()
        tasks = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(todo)))]
        try:
            await asyncio.gather(*tasks)
        except (KeyboardInterrupt, asyncio.CancelledError):
            ctx.emit(RunEnded(run_id=run_id, status="interrupted", summary=ctx.stats.summary()))
            raise
        except Exception:  # a failure that stops the run: the others stay unfinished
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            ctx.emit(RunEnded(run_id=run_id, status="failed", summary=ctx.stats.summary()))
            raise
        finally:
            if frozen:
                gc.unfreeze()
        ctx.emit(RunEnded(run_id=run_id, status="completed", summary=ctx.stats.summary()))
    s = ctx.stats
    return RunResult(
        log_path=path,
        run_id=run_id,
        completed=s.completed,
        failed=s.failed,
        skipped=s.skipped,
        turns=s.turns,
        calls=s.calls,
        cache_hits=s.cache_hits,
        prompt_tokens=s.prompt_tokens,
        completion_tokens=s.completion_tokens,
        cost=s.cost,
        elapsed=time.perf_counter() - started_at,
        errors=dict(s.errors),
    )


def run_units(units: Sequence[Unit], **kwargs: Any) -> RunResult:
    """Synchronous :func:`arun_units` (same arguments); inside a running event loop (a
    notebook) it runs on a worker thread."""

    async def once() -> RunResult:
        model = resolve_model(kwargs.pop("model"))
        try:
            return await arun_units(units, model=model, **kwargs)
        finally:
            await aclose_model(model)

    return run_sync(once())


async def arun_conversations(
    specs: Sequence[Unit],
    *,
    model: str | Model,
    seed: int,
    log_path: str | os.PathLike[str],
    concurrency: int = 16,
    progress: bool = True,
    resume: bool = False,
    run_config: dict[str, Any] | None = None,
) -> RunResult:
    """Run many conversations (:class:`~vs_sim.conversation.Conversation`) into one log.

    See :func:`arun_units` for the arguments; the same seed gives the same conversations at
    any concurrency.
    """
    return await arun_units(
        specs,
        model=model,
        seed=seed,
        log_path=log_path,
        concurrency=concurrency,
        progress=progress,
        resume=resume,
        run_config=run_config,
        progress_label="conversations",
    )


def run_conversations(specs: Sequence[Unit], **kwargs: Any) -> RunResult:
    """Synchronous :func:`arun_conversations`; works inside a running loop (a notebook)."""
    kwargs.setdefault("progress_label", "conversations")
    return run_units(specs, **kwargs)
