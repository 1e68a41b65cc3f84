"""What a comparison measured: rows per prompt and per method, JSON, CSV and DataFrames."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from ..errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

DIVERSITY_METRICS: tuple[str, ...] = (
    "semantic_diversity",
    "lexical_diversity",
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "coverage",
)
"""The metrics a :class:`ComparisonResult` hands to :func:`vs_sim.plots.plot_diversity`."""

SampleSource = Literal["candidates", "draws"]

CSV_COLUMNS: tuple[str, ...] = (
    "scope",
    "method",
    "prompt_index",
    "prompt",
    "samples",
    *DIVERSITY_METRICS,
    "precision",
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "calls_per_prompt",
    "tokens_per_sample",
    "cost_per_sample",
    "unscored",
    "errors",
)
"""Columns of the CSV output; a cell that does not apply to a row's scope is empty."""
_SETTINGS = (
    "model",
    "n",
    "k",
    "seed",
    "embedder",
    "embedder_note",
    "vs_samples",
    "synthetic",
    "config",
)


class PromptResult(BaseModel):
    """One method on one prompt: the texts scored and their metrics (``None``: undefined).

    Attributes:
        samples: The texts scored, repeats included (see :mod:`vs_sim.compare`).
        calls: Model calls made, parse re-asks and failed calls included.
        cost: Dollars of all calls; ``None`` unless every call's price was known.
        semantic_diversity: In %, higher = more diverse; needs 2 samples.
        lexical_diversity: Mean pairwise ROUGE-L, lower = more diverse; needs 2 samples.
        distinct_1: Distinct-n (also ``_2``, ``_3``); ``None`` when no sample has n words.
        coverage: Share of valid answers given at least once (checkable prompts only).
        precision: Share of samples that give a valid answer (checkable prompts only).
        unscored: Samples left out of the metrics because they have no word.
        errors: Why a distribution failed, one entry per failure.
    """

    model_config = ConfigDict(frozen=True)

    method: str
    prompt_index: int
    prompt: str
    samples: list[str]
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    semantic_diversity: float | None
    lexical_diversity: float | None
    distinct_1: float | None
    distinct_2: float | None
    distinct_3: float | None
    coverage: float | None
    precision: float | None
    unscored: int = 0
    errors: list[str] = []


class MethodSummary(BaseModel):
    """One method averaged over prompts (the mean of each defined per-prompt value).

    Attributes:
        samples: Texts scored over all prompts.
        tokens_per_sample: All calls' tokens (prompt + completion) ÷ ``samples``.
        cost_per_sample: All calls' cost ÷ ``samples``, when every price was known.
        errors: Failed distributions over all prompts.
    """

    model_config = ConfigDict(frozen=True)

    method: str
    prompts: int
    samples: int
    semantic_diversity: float | None
    lexical_diversity: float | None
    distinct_1: float | None
    distinct_2: float | None
    distinct_3: float | None
    coverage: float | None
    precision: float | None
    calls_per_prompt: float
    tokens_per_sample: float | None
    cost_per_sample: float | None
    errors: int


@dataclass(frozen=True, eq=False)
class ComparisonResult(Mapping[str, dict[str, float]]):
    """What :func:`compare_methods` measured.

    As a mapping it is ``{method: {metric: value}}`` over :data:`DIVERSITY_METRICS`
    (undefined values left out), so ``plot_diversity(result)`` draws it directly.

    Attributes:
        rows: One :class:`MethodSummary` per method, in the order asked.
        prompt_rows: One :class:`PromptResult` per (method, prompt).
        model: The model's name.
        n: Samples asked per prompt and method; ``k``: candidates per list call.
        seed: The seed (sample set and draws).
        embedder: The embedder behind semantic diversity; ``embedder_note`` says why it
            was used (and whether embedding failed).
        vs_samples: ``candidates`` or ``draws``: which texts the VS methods were scored on.
        synthetic: Whether any text came from the offline model.
        config: The other settings (methods, ``m``, temperature, concurrency).
    """

    rows: list[MethodSummary]
    prompt_rows: list[PromptResult]
    model: str
    n: int
    k: int
    seed: int
    embedder: str
    embedder_note: str
    vs_samples: SampleSource = "candidates"
    synthetic: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, method: str) -> dict[str, float]:
        for row in self.rows:
            if row.method == method:
                values = {m: getattr(row, m) for m in DIVERSITY_METRICS}
                return {m: float(v) for m, v in values.items() if v is not None}
        raise KeyError(method)

    def __iter__(self) -> Iterator[str]:
        return iter([row.method for row in self.rows])

    def __len__(self) -> int:
        return len(self.rows)

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: settings, per-method means and per-prompt detail."""
        return {
            "model": self.model,
            "n": self.n,
            "k": self.k,
            "seed": self.seed,
            "vs_samples": self.vs_samples,
            "embedder": self.embedder,
            "embedder_note": self.embedder_note,
            "synthetic": self.synthetic,
            "config": self.config,
            "methods": [row.model_dump(mode="json") for row in self.rows],
            "prompts": [row.model_dump(mode="json") for row in self.prompt_rows],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComparisonResult:
        """A result from :meth:`to_dict`'s output (e.g. a ``results.json`` read back)."""
        try:
            return cls(
                rows=[MethodSummary.model_validate(r) for r in data["methods"]],
                prompt_rows=[PromptResult.model_validate(r) for r in data["prompts"]],
                **{key: data[key] for key in _SETTINGS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a comparison result: {exc}", where="data") from exc

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.json`` (everything, texts included) or ``.csv`` (one row per method and
        prompt, ``scope=prompt``, then one per method, ``scope=mean``; no texts).

        Raises:
            ConfigError: Another file suffix.
        """
        out = Path(path)
        suffix = out.suffix.lower()
        if suffix not in (".json", ".csv"):
            raise ConfigError("the output must end in .json or .csv", where=str(path))
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".json":
            out.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
            return out
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for prompt_row in self.prompt_rows:
                data = prompt_row.model_dump()
                data["samples"] = len(prompt_row.samples)
                data["errors"] = "; ".join(prompt_row.errors)
                writer.writerow({"scope": "prompt", **data})
            for row in self.rows:
                writer.writerow({"scope": "mean", **row.model_dump()})
        return out

    def to_dataframe(self, per_prompt: bool = False) -> pd.DataFrame:
        """The per-method means (or, with ``per_prompt``, one row per method and prompt)."""
        try:
            import pandas as pd
        except ImportError:
            from ..errors import MissingDependency

            raise MissingDependency("pandas", extra="analysis", feature="to_dataframe") from None
        rows = self.prompt_rows if per_prompt else self.rows
        return pd.DataFrame([row.model_dump() for row in rows])


def mean_of(values: Sequence[float | None]) -> float | None:
    """The mean of the defined values, or ``None`` when none is."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def summarize(method: str, rows: list[PromptResult]) -> MethodSummary:
    """One method's per-prompt rows averaged; tokens and cost divided by all its samples."""
    samples = sum(len(r.samples) for r in rows)
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows)
    costs = [r.cost for r in rows]
    known_cost = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
    metric = {name: mean_of([getattr(r, name) for r in rows]) for name in DIVERSITY_METRICS}
    return MethodSummary(
        method=method,
        prompts=len(rows),
        samples=samples,
        precision=mean_of([r.precision for r in rows]),
        calls_per_prompt=sum(r.calls for r in rows) / len(rows),
        tokens_per_sample=tokens / samples if samples else None,
        cost_per_sample=known_cost / samples if samples and known_cost is not None else None,
        errors=sum(len(r.errors) for r in rows),
        **metric,
    )
