"""Running a comparison: every method on every prompt, calls bounded, then scored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..distribution import Distribution
from ..errors import ConfigError, ModelError, ParseError
from ..methods import METHOD_NAMES, Method
from ..metrics.text import tokenize
from ..models.base import aclose_model
from ..seeds import derive_rng
from ..sync import run_sync
from ..verbalizer import CallHook, CallRecord, averbalize, resolve_model
from .plan import plan_units, texts_from_calls
from .prompts import ComparePrompt, as_prompts
from .result import ComparisonResult, PromptResult, SampleSource, summarize
from .scoring import resolve_embedder, score_texts

if TYPE_CHECKING:
    from ..embeddings import Embedder
    from ..models.base import Model

DEFAULT_METHODS: tuple[str, ...] = (
    "direct",
    "sequence",
    "multi_turn",
    "vs_standard",
    "vs_cot",
    "vs_multi",
)
_SEED_STRIDE = 1 << 40  # repeat indices of one seed never reach the next seed's


@dataclass
class _Unit:
    """One averbalize call (a distribution): ``size`` samples of ``method`` for one prompt."""

    method: Method
    prompt_index: int
    index: int
    size: int
    records: list[CallRecord] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    error: str | None = None


def _draws(dist: Distribution, size: int, seed: int, unit: _Unit) -> list[str]:
    rng = derive_rng(seed, "compare", unit.method.name, unit.prompt_index, unit.index, "draw")
    return [c.text for c in dist.sample_n(size, rng)]


def _check_args(methods: Sequence[str], n: int, k: int, concurrency: int) -> list[str]:
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if not methods:
        raise ConfigError("no methods given", where="methods")
    for name in methods:
        if name not in METHOD_NAMES:
            raise ConfigError(
                f"unknown method {name!r}; expected one of {', '.join(METHOD_NAMES)}",
                where="methods",
            )
    if len(set(methods)) != len(methods):
        raise ConfigError(f"a method is listed twice: {', '.join(methods)}", where="methods")
    for name, value in (("n", n), ("k", k), ("concurrency", concurrency)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}", where=name)
    return list(methods)


class CallProgress:
    """A ``rich`` bar over model calls on stderr, shown only when it is a terminal."""

    def __init__(self, wanted: bool, total: int) -> None:
        self._bar: Any = None
        self._total = total
        self._done = 0
        if not wanted:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]calls"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )
            self._task = self._bar.add_task("calls", total=total)

    def advance(self) -> None:
        """Count one finished call (a parse re-ask can take the count past the plan)."""
        self._done += 1
        if self._bar is not None:
            self._total = max(self._total, self._done)
            self._bar.update(self._task, completed=self._done, total=self._total)

    def __enter__(self) -> CallProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


async def acompare_methods(
    prompts: Sequence[str | ComparePrompt],
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    n: int = 30,
    k: int = 5,
    m: int | None = None,
    model: str | Model = "offline/demo",
    embedder: str | Embedder | None = None,
    seed: int = 0,
    concurrency: int = 16,
    valid: Sequence[str] | None = None,
    vs_samples: SampleSource = "candidates",
    temperature: float | None = None,
    on_call: CallHook | None = None,
    progress: bool = False,
) -> ComparisonResult:
    """Run every method on every prompt at the paper's call budget and score the samples.

    Args:
        prompts: Prompt texts or :class:`ComparePrompt` (with valid answers).
        methods: Method names (see :data:`vs_sim.methods.METHOD_NAMES`).
        n: Samples per prompt and method.
        k: Candidates per list call (``⌈n/k⌉`` calls for the list methods).
        m: Candidates per turn of ``vs_multi`` (default ``⌈k/2⌉``).
        model: A model name or object.
        embedder: ``"local"``, ``"hashing"``, a litellm embedding model name or an
            :class:`~vs_sim.embeddings.Embedder`; ``None``: local MiniLM when
            sentence-transformers is installed, else hashing.
        seed: Picks the sample set (repeat indices) and the ``draws`` generators.
        concurrency: Distributions requested at once.
        valid: Valid answers for every prompt that has none of its own.
        vs_samples: ``candidates`` (score the verbalized candidates, as the paper does) or
            ``draws`` (score samples drawn from each VS distribution).
        temperature: The model's sampling temperature (provider default when ``None``).
        on_call: Called after every model call.
        progress: Show a progress bar over calls on a terminal (stderr).

    Raises:
        ConfigError: An unknown or repeated method, no prompts, ``n``, ``k`` or
            ``concurrency`` below 1, or a bad ``vs_samples``.
        ModelError: Every call failed (single failures are recorded in the rows).
    """
    names = _check_args(methods, n, k, concurrency)
    items = as_prompts(prompts)
    if vs_samples not in ("candidates", "draws"):
        raise ConfigError(f"must be candidates or draws, got {vs_samples!r}", where="vs_samples")
    emb, emb_note = resolve_embedder(embedder)
    mdl = resolve_model(model)
    units = [
        _Unit(method=meth, prompt_index=p, index=i, size=size)
        for name in names
        for p in range(len(items))
        for i, (meth, size) in enumerate(plan_units(name, n, k, m))
    ]
    gate = asyncio.Semaphore(concurrency)
    with CallProgress(progress, sum(u.method.turns for u in units)) as bar:

        async def run(unit: _Unit) -> None:
            def hook(record: CallRecord) -> None:
                unit.records.append(record)
                bar.advance()
                if on_call is not None:
                    on_call(record)

            async with gate:
                try:
                    dist = await averbalize(
                        items[unit.prompt_index].text,
                        k=unit.method.k,
                        method=unit.method,
                        model=mdl,
                        temperature=temperature,
                        repeat=seed * _SEED_STRIDE + unit.index,
                        on_call=hook,
                    )
                except (ModelError, ParseError) as exc:
                    unit.error = str(exc)
                    return
            if vs_samples == "draws" and unit.method.verbalized:
                unit.texts = _draws(dist, unit.size, seed, unit)
            else:
                unit.texts = texts_from_calls(unit.method, unit.records)

        await asyncio.gather(*(run(u) for u in units))
    if all(u.error for u in units):
        raise ModelError(f"every call failed; the first: {units[0].error}", model=mdl.name)
    prompt_rows, embed_error = await _score(names, items, units, emb, valid)
    if embed_error:
        emb_note += f"; embedding failed, so no semantic diversity: {embed_error}"
    return ComparisonResult(
        rows=[summarize(name, [r for r in prompt_rows if r.method == name]) for name in names],
        prompt_rows=prompt_rows,
        model=mdl.name,
        n=n,
        k=k,
        seed=seed,
        embedder=emb.name,
        embedder_note=emb_note,
        vs_samples=vs_samples,
        synthetic=any(
            r.completion is not None and r.completion.synthetic for u in units for r in u.records
        ),
        config={"methods": names, "m": m, "temperature": temperature, "concurrency": concurrency},
    )


async def _score(
    names: list[str],
    items: list[ComparePrompt],
    units: list[_Unit],
    embedder: Embedder,
    valid: Sequence[str] | None,
) -> tuple[list[PromptResult], str | None]:
    """One :class:`PromptResult` per (method, prompt), and the embedder's error if it failed.

    All texts are embedded in one batch; a failing hosted embedder leaves semantic
    diversity undefined instead of throwing away the samples.
    """
    groups: dict[tuple[str, int], list[_Unit]] = {}
    for unit in units:
        groups.setdefault((unit.method.name, unit.prompt_index), []).append(unit)
    scored: dict[tuple[str, int], tuple[list[str], int]] = {}
    for key, group in groups.items():
        texts = [t for u in group for t in u.texts]
        kept = [t for t in texts if tokenize(t)]
        scored[key] = (kept, len(texts) - len(kept))
    unique = list(dict.fromkeys(t for kept, _ in scored.values() for t in kept))
    rows_of: dict[str, Any] = {}
    embed_error: str | None = None
    if unique:
        try:
            matrix = await asyncio.to_thread(embedder.embed, unique)
        except ModelError as exc:  # a hosted embedder failed: keep every other metric
            embed_error = str(exc)
        else:
            rows_of = {t: matrix[i] for i, t in enumerate(unique)}
    out: list[PromptResult] = []
    for name in names:
        for p, item in enumerate(items):
            group = groups[(name, p)]
            kept, unscored = scored[(name, p)]
            records = [r for u in group for r in u.records]
            done = [r.completion for r in records if r.completion is not None]
            costs = [c.cost for c in done]
            embeddings = [rows_of[t] for t in kept] if kept and rows_of else None
            out.append(
                PromptResult(
                    method=name,
                    prompt_index=p,
                    prompt=item.text,
                    samples=kept,
                    calls=len(records),
                    prompt_tokens=sum(c.usage.prompt_tokens for c in done),
                    completion_tokens=sum(c.usage.completion_tokens for c in done),
                    cost=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
                    unscored=unscored,
                    errors=[u.error for u in group if u.error],
                    **score_texts(kept, embeddings, item.valid or valid),
                )
            )
    return out, embed_error


async def _compare_then_close(**kwargs: Any) -> ComparisonResult:
    model = resolve_model(kwargs.pop("model"))
    try:
        return await acompare_methods(model=model, **kwargs)
    finally:
        await aclose_model(model)  # this event loop ends here; free its connections


def compare_methods(
    prompts: Sequence[str | ComparePrompt],
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    n: int = 30,
    k: int = 5,
    m: int | None = None,
    model: str | Model = "offline/demo",
    embedder: str | Embedder | None = None,
    seed: int = 0,
    concurrency: int = 16,
    valid: Sequence[str] | None = None,
    vs_samples: SampleSource = "candidates",
    temperature: float | None = None,
    on_call: CallHook | None = None,
    progress: bool = False,
) -> ComparisonResult:
    """Synchronous :func:`acompare_methods` (same arguments); works in notebooks too.

    Example:
        >>> r = compare_methods(["Tell me a joke"], ["direct", "vs_standard"], n=10,
        ...                     embedder="hashing")
        >>> r["vs_standard"]["semantic_diversity"] > r["direct"]["semantic_diversity"]
        True
    """
    return run_sync(
        _compare_then_close(
            prompts=prompts,
            methods=methods,
            n=n,
            k=k,
            m=m,
            model=model,
            embedder=embedder,
            seed=seed,
            concurrency=concurrency,
            valid=valid,
            vs_samples=vs_samples,
            temperature=temperature,
            on_call=on_call,
            progress=progress,
        )
    )
