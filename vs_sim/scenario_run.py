"""``run_scenario()``: a scenario file in, a finished run folder out — what ``vs-sim run`` does.

One call loads and checks the scenario, applies overrides, builds the models and the units,
runs them with the runner (live progress bar, resumable event log), stops at ``max_cost``
when set, and writes the run folder's derived files (:mod:`vs_sim.run_folder`). The
returned :class:`ScenarioRun` opens the folder's tables and graph, so a notebook needs no
shell::

    >>> run = vs_sim.run_scenario("scenarios/quickstart.yaml", n=10)  # doctest: +SKIP
    >>> run.answers().head()                                           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ScenarioError
from .events import ConversationEnded, RunStarted, read_events
from .models.base import Completion, Model, Request, aclose_model
from .models.wrappers import ModelWrapper
from .run_folder import LOG_NAME, SYNTHETIC_NOTE, write_outputs, write_reference
from .scenario_preview import PromptPreview, format_previews
from .scenario_schema import Scenario
from .scenarios import as_run_yaml, base_dir, load_scenario, with_overrides

if TYPE_CHECKING:
    import pandas as pd

    from .analysis import Run
    from .graph import ConversationGraph
    from .runner import RunResult, Unit
    from .scenario_build import Prepared
    from .scenario_models import ModelPool

SCENARIO_COPY = "scenario.yaml"


class Budget:
    """A run-wide spending limit: once calls have cost ``limit`` dollars, the run stops.

    Args:
        limit: Dollars; ``None`` for no limit.
        spent: Dollars already spent (by earlier sessions of a resumed run).
    """

    def __init__(self, limit: float | None, spent: float = 0.0) -> None:
        self.limit = limit
        self.spent = spent
        self.exhausted = limit is not None and spent >= limit
        self.on_exhausted: Callable[[], object] | None = None

    def add(self, cost: float | None) -> None:
        """Count one call's cost; reaching the limit calls ``on_exhausted`` once."""
        self.spent += cost or 0.0
        if self.limit is not None and not self.exhausted and self.spent >= self.limit:
            self.exhausted = True
            if self.on_exhausted is not None:
                self.on_exhausted()


class BudgetedModel(ModelWrapper):
    """Counts every call's cost against a :class:`Budget` and starts no call past it."""

    def __init__(self, inner: Model, budget: Budget) -> None:
        super().__init__(inner)
        self.budget = budget

    async def acomplete(self, request: Request) -> Completion:
        if self.budget.exhausted:
            # The run is being cancelled at max_cost; this unit stops here, unfinished, so a
            # resume picks it up where it was.
            raise asyncio.CancelledError("max_cost reached")
        completion = await self.inner.acomplete(request)
        if not completion.cached:
            self.budget.add(completion.cost)
        return completion


@dataclass(frozen=True)
class ScenarioRun:
    """A scenario run (or, with ``dry_run``, its preview).

    Attributes:
        scenario: The scenario as run (overrides applied).
        folder: The run folder (``None`` for a dry run).
        result: The runner's result for this session (``None`` for a dry run).
        summary: ``summary.json``'s content.
        previews: The first persona's prompts (dry run).
        notes: What the run said along the way (synthetic text, projected cost, ...).
        stopped: ``"max_cost"`` when the run stopped at its spending limit.
    """

    scenario: Scenario
    folder: Path | None
    result: RunResult | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    previews: tuple[PromptPreview, ...] = ()
    notes: tuple[str, ...] = ()
    stopped: str | None = None

    @property
    def log_path(self) -> Path | None:
        """The event log (``None`` for a dry run)."""
        return self.folder / LOG_NAME if self.folder is not None else None

    @property
    def synthetic(self) -> bool:
        """Whether the run's text came from the offline model."""
        return bool(self.summary.get("synthetic", self.scenario.synthetic))

    def prompts_text(self) -> str:
        """The dry run's prompts as text (what ``vs-sim run --dry-run`` prints)."""
        return format_previews(self.previews)

    @cached_property
    def run(self) -> Run:
        """The folder opened with :func:`vs_sim.analysis.open_run`."""
        if self.folder is None:
            raise ScenarioError("a dry run has no run folder", where="dry_run")
        from .analysis import open_run

        return open_run(self.folder)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table as a DataFrame (personas, answers, utterances, candidates, calls...)."""
        run = self.run
        return {
            "personas": run.personas(),
            "answers": run.answers(),
            "utterances": run.utterances(),
            "candidates": run.candidates(),
            "choices": run.choices(),
            "calls": run.calls(),
            "conversations": run.conversations(),
        }

    def answers(self) -> pd.DataFrame:
        """One row per respondent × question (survey runs)."""
        return self.run.answers()

    def graph(self) -> ConversationGraph:
        """The conversation graph."""
        return self.run.graph()


def _scenario_for(
    source: str | os.PathLike[str] | Scenario | None, resume: str | os.PathLike[str] | None
) -> Scenario:
    if resume is not None:
        folder = Path(resume)
        if not (folder / LOG_NAME).is_file():
            raise ScenarioError(f"no {LOG_NAME} here: not a run folder", where=str(folder))
        if source is not None and not isinstance(source, Scenario):
            # The folder's scenario.yaml is the scenario as run; a second file would be
            # silently ignored or silently mixed in: say so instead.
            raise ScenarioError(
                "give either a scenario file or --resume DIR, not both (a resume reruns the "
                f"folder's {SCENARIO_COPY})",
                where=str(source),
            )
        copy = folder / SCENARIO_COPY
        if copy.is_file():
            return load_scenario(copy, check=False)
        if source is None:
            raise ScenarioError(
                f"the run folder has no {SCENARIO_COPY} (the scenario as run): give the "
                "scenario file it was run with",
                where=str(copy),
            )
    if source is None:
        raise ScenarioError("give a scenario file (or --resume a run folder)", where="scenario")
    return source if isinstance(source, Scenario) else load_scenario(source, check=False)


def _new_folder(scenario: Scenario, out: str | os.PathLike[str] | None) -> Path:
    if out is not None:
        folder = Path(out)
        if (folder / LOG_NAME).exists() and (folder / LOG_NAME).stat().st_size > 0:
            raise ScenarioError(
                "this folder already holds a run; resume it with --resume, or pick another --out",
                where=str(folder),
            )
        return folder
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(scenario.outputs.folder) / f"{scenario.name}-{stamp}"
    folder, k = base, 1
    while folder.exists():
        k += 1
        folder = base.with_name(f"{base.name}-{k}")
    return folder


def _say(progress: bool, notes: list[str], text: str) -> None:
    notes.append(text)
    if progress:
        print(text, file=sys.stderr)


def _check_resume(log_path: Path, scenario: Scenario) -> None:
    """Refuse a resume the runner would refuse, before anything in the folder is rewritten."""
    first = next((e for e in read_events(log_path) if isinstance(e, RunStarted)), None)
    if first is not None and first.seed != scenario.seed:
        raise ScenarioError(
            f"the run used seed {first.seed}, not {scenario.seed}; resume it without --seed "
            "(or start a new run)",
            where=str(log_path),
        )


def _prior(log_path: Path) -> tuple[int, float, float]:
    """Events already in the log, dollars they cost, and the elapsed time summary.json kept."""
    import json

    from .events import ModelCall

    if not log_path.is_file():
        return 0, 0.0, 0.0
    count, spent = 0, 0.0
    for event in read_events(log_path):
        count += 1
        if isinstance(event, ModelCall) and not event.cached:
            spent += event.cost or 0.0
    elapsed = 0.0
    summary = log_path.parent / "summary.json"
    if summary.is_file():
        try:
            elapsed = float(json.loads(summary.read_text(encoding="utf-8")).get("elapsed") or 0)
        except (ValueError, AttributeError):
            elapsed = 0.0
    return count, spent, elapsed


def run_scenario(
    path_or_scenario: str | os.PathLike[str] | Scenario | None = None,
    *,
    model: str | Model | None = None,
    n: int | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    max_cost: float | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    progress: bool = True,
    on_folder: Callable[[Path], object] | None = None,
) -> ScenarioRun:
    """Run a scenario end to end (what ``vs-sim run`` does), or preview its prompts.

    Args:
        path_or_scenario: A scenario file or a :class:`Scenario`. With ``resume`` it may be
            left out: the run folder's ``scenario.yaml`` (the scenario as run) is used.
        model: Overrides the model's name (a model object is used as it is).
        n: Overrides the number of respondents or conversations.
        seed: Overrides the seed.
        concurrency: Overrides how many units run at once.
        max_cost: Overrides the spending limit in dollars.
        out: The run folder (default ``runs/<name>-<timestamp>``).
        resume: Continue the interrupted run in this folder, then rewrite its derived files.
        dry_run: Only render the first persona's prompts (no folder, no model call).
        progress: Show the live progress bar and print notes (projected cost, synthetic
            text) on stderr.
        on_folder: Called with the run folder once it holds the scenario, before the run
            starts (so a caller can say where a failed or interrupted run is).

    Raises:
        ScenarioError: The scenario (or an override) is invalid, naming file, line and field.
    """
    from .scenario_build import build_units, prepare
    from .scenario_models import ModelPool
    from .scenario_preview import preview_prompts, projected_cost, projected_tokens
    from .sync import run_sync

    scenario = _scenario_for(path_or_scenario, resume)
    model_name = model if isinstance(model, str) else getattr(model, "name", None)
    scenario = with_overrides(
        scenario, model=model_name, n=n, seed=seed, concurrency=concurrency, max_cost=max_cost
    )
    prepared = prepare(scenario)
    scenario = with_overrides(scenario, n=prepared.n)
    prepared = dataclasses.replace(prepared, scenario=scenario)
    notes: list[str] = []
    spec = scenario.model_spec
    previews = tuple(preview_prompts(prepared))  # persona problems fail here, before any call
    # Whether calls report a cost max_cost can count (a model object: assume it does).
    priced = not isinstance(model, str | None) or spec.offline
    if isinstance(model, str | None) and not spec.offline and spec.api_base is None:
        # Hosted models only: litellm's price table takes seconds to import, and a local
        # server (api_base) has no list price to project from.
        prompt, answer = projected_tokens(prepared, previews)
        cost = projected_cost(spec.name, prompt, answer)
        priced = cost is not None
        if cost is not None:
            _say(
                progress and not dry_run,
                notes,
                f"projected cost: about ${cost:.2f} (~{prompt:,} prompt + ~{answer:,} completion "
                f"tokens at {spec.name}'s list price)",
            )
    cost_note = None
    if scenario.max_cost is not None and not priced:
        cost_note = (
            f"max_cost ${scenario.max_cost} cannot be enforced: {spec.name} has no known price, "
            "so its calls report no cost"
        )
        _say(progress and not dry_run, notes, cost_note)
    if dry_run:
        if scenario.synthetic:
            notes.append("no model is configured: a run would use offline/demo (synthetic text)")
        return ScenarioRun(scenario=scenario, folder=None, previews=previews, notes=tuple(notes))
    folder = Path(resume) if resume is not None else _new_folder(scenario, out)
    log_path = folder / LOG_NAME
    if resume is not None:
        _check_resume(log_path, scenario)
    start_index, spent, earlier = _prior(log_path) if resume is not None else (0, 0.0, 0.0)
    budget = Budget(scenario.max_cost, spent)
    if budget.exhausted:
        raise ScenarioError(
            f"the run has already spent ${spent:.4f} of its max_cost ${scenario.max_cost}; "
            "raise it with --max-cost to continue",
            where=str(folder),
        )
    pool = ModelPool(
        scenario,
        wrap=lambda m: BudgetedModel(m, budget),
        run_model=None if isinstance(model, str | None) else model,
    )
    try:
        units = build_units(prepared, pool=pool)
        _start_folder(prepared, folder)
    except BaseException:
        for built in pool.models():  # nothing ran: release cache files now
            close = getattr(built, "close", None)
            if callable(close):
                close()
        raise
    if on_folder is not None:
        on_folder(folder)
    if pool.run.name.startswith("offline/"):
        _say(progress, notes, SYNTHETIC_NOTE)
    notes.append(f"run folder: {folder}")  # printed with the results (or with an error)
    started = time.perf_counter()
    result, stopped = run_sync(_arun(prepared, units, pool, budget, log_path, resume, progress))
    elapsed = time.perf_counter() - started
    del units  # the personas: the derived files need only the log
    if result is None:
        result = _session_result(log_path, start_index, elapsed)
    if stopped is not None:
        _say(
            progress,
            notes,
            f"stopped at max_cost (${budget.spent:.4f} spent of ${scenario.max_cost}); "
            f"finish with: vs-sim run --resume {folder} --max-cost <more>",
        )
    extra = {"max_cost": scenario.max_cost, "stopped": stopped, "sessions": _sessions(log_path)}
    if cost_note is not None:
        extra["max_cost_note"] = cost_note
    summary, more = write_outputs(prepared, folder, elapsed=earlier + elapsed, extra=extra)
    for note in more:
        _say(progress, notes, note)
    return ScenarioRun(
        scenario=scenario,
        folder=folder,
        result=result,
        summary=summary,
        notes=tuple(notes),
        stopped=stopped,
    )


def _start_folder(prepared: Prepared, folder: Path) -> None:
    """The run folder with the scenario as run (and the reference it compares with)."""
    scenario = prepared.scenario
    try:
        folder.mkdir(parents=True, exist_ok=True)
        kept = write_reference(folder, prepared)
        copy = scenario
        if kept is not None and scenario.survey is not None:
            written = os.path.relpath(kept.resolve(), base_dir(scenario))
            survey = scenario.survey.model_copy(update={"reference": written})
            copy = scenario.model_copy(update={"survey": survey})
        (folder / SCENARIO_COPY).write_text(as_run_yaml(copy, folder), encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            f"cannot write the run folder: {exc.strerror}", where=str(exc.filename or folder)
        ) from None


def _run_config(prepared: Prepared) -> dict[str, Any]:
    s = prepared.scenario
    config: dict[str, Any] = {"task": s.task, "scenario": s.name}
    if prepared.survey is not None:
        config = {**prepared.survey.config(), "scenario": s.name}
    elif prepared.task_config is not None:
        config[s.task] = prepared.task_config.model_dump(mode="json")
    return config


async def _arun(
    prepared: Prepared,
    units: Sequence[Unit],
    pool: ModelPool,
    budget: Budget,
    log_path: Path,
    resume: str | os.PathLike[str] | None,
    progress: bool,
) -> tuple[RunResult | None, str | None]:
    """Run the units; stop (cancel, resumable) when the budget runs out."""
    from .runner import arun_units

    s = prepared.scenario
    task = asyncio.ensure_future(
        arun_units(
            units,
            model=pool.run,
            seed=s.seed,
            log_path=log_path,
            concurrency=s.concurrency,
            progress=progress,
            resume=resume is not None,
            run_config=_run_config(prepared),
            progress_label="respondents" if s.task == "survey" else "conversations",
        )
    )
    budget.on_exhausted = task.cancel
    try:
        return await task, None
    except asyncio.CancelledError:
        if not budget.exhausted:
            raise
        return None, ("max_cost" if not _all_ended(log_path, len(units)) else None)
    finally:
        budget.on_exhausted = None
        for m in pool.models():
            await aclose_model(m)


def _all_ended(log_path: Path, units: int) -> bool:
    ended = {e.conversation_id for e in read_events(log_path) if isinstance(e, ConversationEnded)}
    return len(ended) >= units


def _sessions(log_path: Path) -> int:
    return sum(isinstance(e, RunStarted) for e in read_events(log_path))


def _session_result(log_path: Path, start: int, elapsed: float) -> RunResult:
    """The runner's figures for this session, read from the log (a run stopped early).

    ``skipped`` counts the units this session did not run: those whose last
    ``conversation_ended`` before it says ``completed`` (a resume retries failed ones).
    """
    from .run_stats import RunStats
    from .runner import RunResult

    stats = RunStats()
    started: RunStarted | None = None
    before: dict[str, str] = {}  # each unit's last status before this session
    for index, event in enumerate(read_events(log_path)):
        if started is None and isinstance(event, RunStarted):
            started = event
        if index >= start:
            stats.observe(event)
        elif isinstance(event, ConversationEnded):
            before[event.conversation_id] = event.status
    return RunResult(
        log_path=log_path,
        run_id=started.run_id if started else "",
        completed=stats.completed,
        failed=stats.failed,
        skipped=sum(status == "completed" for status in before.values()),
        turns=stats.turns,
        calls=stats.calls,
        cache_hits=stats.cache_hits,
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        cost=stats.cost,
        elapsed=elapsed,
        errors=dict(stats.errors),
    )
