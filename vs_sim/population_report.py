"""How well a sample matches its population: shares against targets, and entropy.

For each attribute the report gives the sampled share of every category (numbers are
binned) next to the share the spec implies, their total-variation distance
(half the sum of absolute differences), and the normalized Shannon entropy of the
sample (entropy ÷ log of the number of categories: 1 is perfectly even, 0 is one
value for everyone).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from .personas import Persona
from .population_draws import numeric_cdf, numeric_mass
from .population_spec import (
    CategoricalAttr,
    ConditionalAttr,
    ConstantAttr,
    DerivedAttr,
    NumericAttr,
)

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from .population import Population

__all__ = ["PopulationReport", "ReportRow", "build_report"]

MISSING = "(missing)"
_MAX_DISCRETE = 12
_STD_Q = 3.090232306167813  # the standard normal's 0.999 quantile


class ReportRow(BaseModel):
    """One attribute's sampled shares against its target.

    Attributes:
        attribute: The attribute's name.
        kind: ``categorical`` or ``numeric`` (binned).
        categories: Category (or bin) labels.
        sampled: The sample's share of each category.
        target: The spec's share of each category, or ``None`` when it implies none.
        tv: Total-variation distance between ``sampled`` and ``target`` (``None`` without a target).
        entropy: Normalized Shannon entropy of ``sampled`` (0 to 1).
    """

    model_config = ConfigDict(frozen=True)

    attribute: str
    kind: Literal["categorical", "numeric"]
    categories: list[str]
    sampled: list[float]
    target: list[float] | None
    tv: float | None
    entropy: float


class PopulationReport:
    """Per-attribute shares, total-variation distances and entropies of one sample."""

    def __init__(self, rows: list[ReportRow], n: int, source: str = "") -> None:
        self.rows = rows
        self.n = n
        self.source = source

    def __repr__(self) -> str:
        return (
            f"PopulationReport(n={self.n}, attributes={len(self.rows)}, max_tv={self.max_tv:.4f})"
        )

    @property
    def max_tv(self) -> float:
        """The largest total-variation distance over attributes that have a target."""
        return max((r.tv for r in self.rows if r.tv is not None), default=0.0)

    def row(self, attribute: str) -> ReportRow:
        """The row for one attribute (``KeyError`` if it is not in the report)."""
        for r in self.rows:
            if r.attribute == attribute:
                return r
        raise KeyError(attribute)

    def to_dataframe(self, shares: bool = False) -> pd.DataFrame:
        """One row per attribute, or with ``shares`` one row per attribute and category."""
        import pandas as pd

        if shares:
            records = [
                {
                    "attribute": r.attribute,
                    "category": c,
                    "sampled": s,
                    "target": r.target[i] if r.target is not None else math.nan,
                }
                for r in self.rows
                for i, (c, s) in enumerate(zip(r.categories, r.sampled))
            ]
            return pd.DataFrame(records, columns=["attribute", "category", "sampled", "target"])
        return pd.DataFrame(
            [
                {
                    "attribute": r.attribute,
                    "kind": r.kind,
                    "categories": len(r.categories),
                    "tv": math.nan if r.tv is None else r.tv,
                    "entropy": r.entropy,
                }
                for r in self.rows
            ],
            columns=["attribute", "kind", "categories", "tv", "entropy"],
        )

    def to_table(self, top: int = 3) -> Table:
        """A rich table: TV, entropy and the largest categories (sampled vs target)."""
        from rich.table import Table

        title = f"Population report: {self.source} (n = {self.n:,})" if self.source else None
        table = Table(title=title)
        for column, justify in (
            ("attribute", "left"),
            ("kind", "left"),
            ("K", "right"),
            ("TV", "right"),
            ("entropy", "right"),
            (f"largest shares: sampled (target), top {top}", "left"),
        ):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for r in self.rows:
            order = sorted(range(len(r.categories)), key=lambda i: -r.sampled[i])[:top]
            shares = ", ".join(
                f"{r.categories[i]} {r.sampled[i]:.1%}"
                + (f" ({r.target[i]:.1%})" if r.target is not None else "")
                for i in order
            )
            tv = "–" if r.tv is None else f"{r.tv:.4f}"
            table.add_row(
                r.attribute, r.kind, str(len(r.categories)), tv, f"{r.entropy:.3f}", shares
            )
        return table


def _label(value: Any) -> str:
    return MISSING if value is None else str(value)


def _people_column_kind(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
    return "numeric" if numeric and len(set(present)) > _MAX_DISCRETE else "categorical"


def _bin_labels(edges: Sequence[float], integer: bool) -> list[str]:
    labels = []
    for lo, hi in itertools.pairwise(edges):
        if integer:
            a, b = (
                (None if math.isinf(lo) else math.ceil(lo)),
                (None if math.isinf(hi) else math.ceil(hi) - 1),
            )
            if a is None:
                labels.append(f"≤ {b}")
            elif b is None:
                labels.append(f"≥ {a}")
            else:
                labels.append(str(a) if a == b else f"{a}–{b}")
        elif math.isinf(lo):
            labels.append(f"< {hi:.4g}")
        elif math.isinf(hi):
            labels.append(f"≥ {lo:.4g}")
        else:
            labels.append(f"{lo:.4g}–{hi:.4g}")
    return labels


def _binner(edges: Sequence[float], integer: bool) -> Callable[[Sequence[Any]], list[str]]:
    labels = _bin_labels(edges, integer)
    cut = np.asarray(edges, dtype=float)

    def assign(values: Sequence[Any]) -> list[str]:
        numbers = np.array([math.nan if v is None else float(v) for v in values], dtype=float)
        idx = np.clip(np.searchsorted(cut, numbers, side="right") - 1, 0, len(labels) - 1)
        return [
            MISSING if math.isnan(x) else labels[i] for x, i in zip(numbers.tolist(), idx.tolist())
        ]

    return assign


def _numeric_edges(attr: NumericAttr) -> list[float]:
    """Report bins: the spec's ``bins``, a histogram's edges, or ten equal-width bins."""
    if attr.bins is not None:
        edges = list(attr.bins)
    elif attr.distribution == "histogram":
        assert attr.edges is not None
        edges = list(attr.edges)
    else:
        if attr.distribution == "uniform":
            assert attr.low is not None and attr.high is not None
            lo, hi = attr.low, attr.high
        elif attr.distribution == "normal":
            assert attr.mean is not None and attr.sd is not None
            lo, hi = attr.mean - _STD_Q * attr.sd, attr.mean + _STD_Q * attr.sd
        else:
            assert attr.mu is not None and attr.sigma is not None
            lo, hi = (
                math.exp(attr.mu - _STD_Q * attr.sigma),
                math.exp(attr.mu + _STD_Q * attr.sigma),
            )
        lo = max(lo, attr.min) if attr.min is not None else lo
        hi = min(hi, attr.max) if attr.max is not None else hi
        edges = np.linspace(lo, hi, 11).tolist()
        if attr.integer:
            edges = sorted({float(round(e)) for e in edges})
            edges[-1] += 1  # the top value belongs to the last bin
    if numeric_cdf(attr, edges[0] - (0.5 if attr.integer else 0.0)) > 0:
        edges.insert(0, -math.inf)
    if numeric_mass(attr, edges[-1], math.inf) > 0:
        edges.append(math.inf)
    return edges


class _Targets:
    """The spec's implied share of each category, per attribute (memoized)."""

    def __init__(self, population: Population) -> None:
        self.pop = population
        self.spec = population.spec
        self._people = {
            c: [r[c] for r in population.people_rows] for c in population._people_columns
        }
        self._tables = {c: (t, i) for t in self.spec.tables for i, c in enumerate(t.columns)}
        self._memo: dict[str, dict[Any, float] | None] = {}

    def discrete(self, name: str) -> dict[Any, float] | None:
        if name not in self._memo:
            self._memo[name] = self._discrete(name)
        return self._memo[name]

    def _discrete(self, name: str) -> dict[Any, float] | None:
        if name in self._people:
            values = self._people[name]
            if _people_column_kind(values) == "numeric":
                return None
            return _shares(Counter(sorted(values, key=_order_key)))
        if name in self._tables:
            table, i = self._tables[name]
            counts: defaultdict[Any, float] = defaultdict(float)
            for row in table.rows:
                counts[row[i]] += float(row[-1])
            return _shares(counts)
        attr = self.spec.attributes[name]
        if isinstance(attr, CategoricalAttr):
            return _shares(Counter(attr.weights))
        if isinstance(attr, ConstantAttr):
            return {attr.value: 1.0}
        if isinstance(attr, ConditionalAttr):
            return self._mixture(attr)
        if isinstance(attr, DerivedAttr):
            return self._derived(attr)
        return None

    def _mixture(self, attr: ConditionalAttr) -> dict[Any, float] | None:
        from .population import _key

        parent = self.discrete(attr.parent)
        if parent is None:
            return None
        rows = {_key(k): v for k, v in attr.table.items()}
        out: defaultdict[Any, float] = defaultdict(float)
        for value, share in parent.items():
            weights = rows.get(_key(value))
            if weights is None:
                if share > 0:
                    return None
                continue
            total = sum(weights.values())
            for choice, w in weights.items():
                out[choice] += share * w / total
        return _shares(out)

    def _derived(self, attr: DerivedAttr) -> dict[Any, float] | None:
        from .population import _key

        d = attr.derive
        if d.map is not None:
            parent = self.discrete(d.from_)
            if parent is None:
                return None
            lookup = {_key(k): v for k, v in d.map.items()}
            out: defaultdict[Any, float] = defaultdict(float)
            for value, share in parent.items():
                out[None if value is None else lookup.get(_key(value))] += share
            return _shares(out)
        assert d.edges is not None and d.labels is not None
        source = self.spec.attributes.get(d.from_)
        if isinstance(source, NumericAttr):
            masses = {
                label: numeric_mass(source, lo, hi)
                for label, lo, hi in zip(d.labels, d.edges, d.edges[1:])
            }
            return _shares(Counter(masses))
        if d.from_ in self._people:
            cut = np.asarray(d.edges, dtype=float)
            counts: defaultdict[Any, float] = defaultdict(float)
            for v in self._people[d.from_]:
                i = int(np.searchsorted(cut, float(v), side="right")) - 1 if v is not None else -1
                counts[d.labels[i] if 0 <= i < len(d.labels) else None] += 1
            return _shares(counts)
        return None

    def binned(
        self, name: str
    ) -> tuple[Callable[[Sequence[Any]], list[str]], list[str], dict[str, float]] | None:
        """For numeric attributes: a binning function, bin labels and target shares per bin."""
        attr = self.spec.attributes.get(name)
        if isinstance(attr, NumericAttr):
            edges = _numeric_edges(attr)
            labels = _bin_labels(edges, attr.integer)
            masses = [numeric_mass(attr, lo, hi) for lo, hi in itertools.pairwise(edges)]
            total = sum(masses) or 1.0
            return (
                _binner(edges, attr.integer),
                labels,
                {lab: m / total for lab, m in zip(labels, masses)},
            )
        if name in self._people and _people_column_kind(self._people[name]) == "numeric":
            values = self._people[name]
            present = [v for v in values if v is not None]
            integer = all(isinstance(v, int) for v in present)
            lo, hi = float(min(present)), float(max(present))
            if integer:
                edges = sorted({float(round(e)) for e in np.linspace(lo, hi + 1, 11).tolist()})
            else:
                edges = np.linspace(lo, hi, 11).tolist()
                edges[-1] = float(np.nextafter(hi, math.inf))
            binner = _binner(edges, integer)
            labels = _bin_labels(edges, integer)
            if any(v is None for v in values):
                labels.append(MISSING)
            return (
                binner,
                labels,
                {k: float(v) for k, v in _shares(Counter(binner(values))).items()},
            )
        return None


def _order_key(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order, then text in alphabetical order, then missing."""
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _shares(counts: Mapping[Any, float]) -> dict[Any, float]:
    total = float(sum(counts.values()))
    return {k: float(v) / total for k, v in counts.items()} if total > 0 else {}


def _row(
    name: str,
    kind: Literal["categorical", "numeric"],
    labels: list[str],
    sampled_labels: list[str],
    target: dict[str, float] | None,
) -> ReportRow:
    counts = Counter(sampled_labels)
    categories = list(labels)
    categories += sorted(k for k in counts if k not in set(categories))
    n = max(len(sampled_labels), 1)
    sampled = [counts.get(c, 0) / n for c in categories]
    target_list = None if target is None else [target.get(c, 0.0) for c in categories]
    tv = None
    if target_list is not None:
        tv = 0.5 * sum(abs(s - t) for s, t in zip(sampled, target_list))
    k = len(categories)
    h = -sum(p * math.log(p) for p in sampled if p > 0)
    entropy = h / math.log(k) if k > 1 and h > 0 else 0.0  # never -0.0
    return ReportRow(
        attribute=name,
        kind=kind,
        categories=categories,
        sampled=sampled,
        target=target_list,
        tv=tv,
        entropy=entropy,
    )


def build_report(population: Population, personas: Sequence[Persona]) -> PopulationReport:
    """Compare personas sampled from ``population`` with what its spec implies.

    Internal attributes are included when they can be derived from the personas'
    attributes (e.g. an age bracket from the age); others are left out.
    """
    targets = _Targets(population)
    columns: dict[str, list[Any]] = {}
    for name in population.persona_attributes:
        columns[name] = [p.attributes.get(name) for p in personas]
    for name in population._order:
        attr = population.spec.attributes[name]
        if name in columns:
            continue
        if isinstance(attr, DerivedAttr) and attr.derive.from_ in columns:
            columns[name] = population._derive(
                attr, columns[attr.derive.from_], f"attributes.{name}"
            )
    rows = []
    for name in population.attribute_names:
        if name not in columns:
            continue
        binned = targets.binned(name)
        if binned is not None:
            binner, labels, shares = binned
            rows.append(_row(name, "numeric", labels, binner(columns[name]), shares))
            continue
        discrete = targets.discrete(name)
        target: dict[str, float] | None = None
        if discrete is not None:
            target = {}
            for value, share in discrete.items():
                target[_label(value)] = target.get(_label(value), 0.0) + share
        sampled = [_label(v) for v in columns[name]]
        rows.append(_row(name, "categorical", list(target or {}), sampled, target))
    return PopulationReport(rows, n=len(personas), source=population.source)
