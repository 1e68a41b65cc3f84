"""Vectorized draws for population attributes, and the numeric distributions' maths.

Every draw turns uniform numbers from a numpy Generator into values by inverse CDF,
so a seed gives the same population on any machine (no dict or set order is used,
and the normal quantile is computed in pure Python).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from .population_spec import NumericAttr

__all__ = [
    "categorical_draw",
    "conditional_draw",
    "largest_remainder",
    "numeric_cdf",
    "numeric_draw",
    "numeric_mass",
    "quota_draw",
]

_STD = NormalDist()
_EPS = 1e-15


def _cumulative(weights: np.ndarray) -> np.ndarray:
    """Cumulative shares per row, ending exactly at 1 from the last positive weight on."""
    cum = np.cumsum(weights, axis=-1) / weights.sum(axis=-1, keepdims=True)
    positive = weights > 0
    last = weights.shape[-1] - 1 - np.argmax(positive[..., ::-1], axis=-1)
    cols = np.arange(weights.shape[-1])
    cum[cols >= np.expand_dims(last, -1)] = 1.0
    return np.asarray(cum, dtype=float)


def categorical_draw(weights: Sequence[float], rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` category indices drawn with ``weights`` (non-negative, not all zero)."""
    cum = _cumulative(np.asarray(weights, dtype=float))
    return np.searchsorted(cum, rng.random(n), side="right")


def conditional_draw(table: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category index per row, drawn with the weights of that row's group.

    Args:
        table: Weights, one row per parent value, one column per category.
        groups: The parent-value row of ``table`` for each draw.
        rng: The generator.
    """
    cum = _cumulative(np.asarray(table, dtype=float))
    u = rng.random(len(groups))
    return np.asarray((u[:, None] >= cum[groups]).sum(axis=1))


def largest_remainder(weights: Sequence[float], n: int) -> list[int]:
    """Counts summing to ``n`` in proportion to ``weights`` (ties go to the earlier category)."""
    w = np.asarray(weights, dtype=float)
    exact = n * w / w.sum()
    counts = np.floor(exact).astype(int)
    left = n - int(counts.sum())
    order = sorted(range(len(w)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[:left]:
        counts[i] += 1
    return [int(c) for c in counts]


def quota_draw(weights: Sequence[float], rng: np.random.Generator, n: int) -> np.ndarray:
    """Category indices with exact counts (largest remainder), in random order."""
    counts = largest_remainder(weights, n)
    values = np.repeat(np.arange(len(counts)), counts)
    return values[rng.permutation(n)]


def _base_cdf(attr: NumericAttr, x: float) -> float:
    """The untruncated CDF at ``x``."""
    if attr.distribution == "uniform":
        assert attr.low is not None and attr.high is not None
        return min(1.0, max(0.0, (x - attr.low) / (attr.high - attr.low)))
    if attr.distribution == "normal":
        assert attr.mean is not None and attr.sd is not None
        return (
            0.0 if x == -math.inf else 1.0 if x == math.inf else _STD.cdf((x - attr.mean) / attr.sd)
        )
    if attr.distribution == "lognormal":
        assert attr.mu is not None and attr.sigma is not None
        if x <= 0:
            return 0.0
        return 1.0 if x == math.inf else _STD.cdf((math.log(x) - attr.mu) / attr.sigma)
    assert attr.edges is not None and attr.weights is not None
    total = sum(attr.weights)
    mass = 0.0
    for lo, hi, w in zip(attr.edges, attr.edges[1:], attr.weights):
        if x >= hi:
            mass += w
        elif x > lo:
            mass += w * (x - lo) / (hi - lo)
    return mass / total


def _bounds(attr: NumericAttr) -> tuple[float, float]:
    lo = attr.min if attr.min is not None else -math.inf
    hi = attr.max if attr.max is not None else math.inf
    return _base_cdf(attr, lo), _base_cdf(attr, hi)


def numeric_cdf(attr: NumericAttr, x: float) -> float:
    """P(X ≤ x) for the (truncated) continuous distribution, before rounding."""
    a, b = _bounds(attr)
    if b - a <= 0:
        return math.nan
    return min(1.0, max(0.0, (_base_cdf(attr, x) - a) / (b - a)))


def _ceil(x: float) -> float:
    return x if math.isinf(x) else float(math.ceil(x))


def numeric_mass(attr: NumericAttr, lo: float, hi: float) -> float:
    """P(lo ≤ V < hi) for the value V that :func:`numeric_draw` returns (rounding included)."""
    if attr.integer:
        lo, hi = _ceil(lo), _ceil(hi)  # the integer values in [lo, hi)
        if attr.distribution != "histogram":  # rounded to nearest: V = k iff X in [k-.5, k+.5)
            lo, hi = lo - 0.5, hi - 0.5
    return max(0.0, numeric_cdf(attr, hi) - numeric_cdf(attr, lo))


def numeric_draw(attr: NumericAttr, rng: np.random.Generator, n: int) -> list[int] | list[float]:
    """``n`` values from a numeric attribute, as Python ints or floats."""
    if attr.distribution == "histogram":
        assert attr.edges is not None and attr.weights is not None
        edges = np.asarray(attr.edges, dtype=float)
        u = rng.random((n, 2))  # one row per persona: sample(n) starts with sample(m), m < n
        bins = np.searchsorted(
            _cumulative(np.asarray(attr.weights, dtype=float)), u[:, 0], side="right"
        )
        lo, hi = edges[bins], edges[bins + 1]
        x = lo + (hi - lo) * u[:, 1]
        if attr.integer:  # bin [18, 25) gives the ages 18..24, equally likely
            return [int(v) for v in np.minimum(np.floor(x), np.ceil(hi) - 1).tolist()]
        return [float(v) for v in x.tolist()]
    a, b = _bounds(attr)
    if b - a <= _EPS:
        raise ValueError("min/max leave no probability")
    p = a + (b - a) * rng.random(n)
    if attr.distribution == "uniform":
        assert attr.low is not None and attr.high is not None
        x = attr.low + (attr.high - attr.low) * p
    else:
        inv = _STD.inv_cdf
        z = np.array([inv(min(max(v, _EPS), 1 - _EPS)) for v in p.tolist()])
        if attr.distribution == "normal":
            assert attr.mean is not None and attr.sd is not None
            x = attr.mean + attr.sd * z
        else:
            assert attr.mu is not None and attr.sigma is not None
            x = np.exp(attr.mu + attr.sigma * z)
    if attr.min is not None or attr.max is not None:
        x = np.clip(
            x,
            attr.min if attr.min is not None else -np.inf,
            attr.max if attr.max is not None else np.inf,
        )
    if attr.integer:
        return [int(v) for v in np.rint(x).tolist()]
    return [float(v) for v in x.tolist()]
