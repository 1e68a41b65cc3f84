"""Diversity of a persona population: how evenly each attribute's values are spread.

For each attribute, :func:`attribute_diversity` takes the values over all personas and
returns their normalized Shannon entropy ``H / log K`` (0 = everyone the same, 1 = as
even as possible over the K possible values):

- **categorical** values (strings, bools, anything not a number): K is the number of
  allowed levels when ``levels`` gives them, otherwise the number of distinct values
  observed (so a level nobody drew does not count against the population unless you
  list it);
- **numeric** values (all ints / floats): binned into 10 equal-width bins spanning the
  observed minimum to maximum (the maximum joins the last bin); K = 10. If every value
  is the same, the result is 0.

A persona missing an attribute (absent or ``None``) is left out of that attribute's count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError

NUMERIC_BINS = 10


def _attributes_of(item: object, index: int) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    attrs = getattr(item, "attributes", None)
    if isinstance(attrs, Mapping):
        return attrs
    raise ConfigError(
        f"expected a mapping of attributes or an object with an `attributes` mapping, "
        f"got {type(item).__name__}",
        where=f"personas[{index}]",
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _normalized_entropy(counts: Iterable[int], k: int) -> float:
    c = np.asarray([x for x in counts if x > 0], dtype=float)
    if k < 2 or c.size == 0:
        return 0.0
    p = c / c.sum()
    return float(-np.sum(p * np.log(p)) / math.log(k))


def attribute_diversity(
    personas: Sequence[Mapping[str, Any] | object],
    attributes: Sequence[str] | None = None,
    levels: Mapping[str, Sequence[Hashable]] | None = None,
) -> dict[str, float]:
    """Normalized Shannon entropy of each attribute over a population (see the module docstring).

    Args:
        personas: Attribute mappings, or objects with an ``attributes`` mapping
            (e.g. personas).
        attributes: Which attributes to measure; default all, in order of first appearance.
        levels: The allowed values of categorical attributes, when known.

    Returns:
        ``{attribute: normalized entropy in [0, 1]}``; higher = more diverse.

    Raises:
        ConfigError: No personas, a named attribute no persona has, a value outside its
            ``levels``, or an unhashable value.
    """
    if not personas:
        raise ConfigError("attribute diversity needs at least one persona", where="personas")
    records = [_attributes_of(item, i) for i, item in enumerate(personas)]
    if attributes is None:
        names = list(dict.fromkeys(k for r in records for k in r))
    else:
        names = list(attributes)
    levels = levels or {}
    out: dict[str, float] = {}
    for name in names:
        values = [r[name] for r in records if r.get(name) is not None]
        if not values:
            raise ConfigError(f"no persona has attribute {name!r}", where="attributes")
        if name not in levels and all(_is_number(v) for v in values):
            x = np.asarray(values, dtype=float)
            lo, hi = float(x.min()), float(x.max())
            if hi == lo:
                out[name] = 0.0
                continue
            scaled = (x - lo) / (hi - lo) * NUMERIC_BINS + 1e-9  # a value on an edge goes up
            idx = np.minimum(np.floor(scaled).astype(int), NUMERIC_BINS - 1)
            out[name] = _normalized_entropy(np.bincount(idx).tolist(), NUMERIC_BINS)
            continue
        for i, v in enumerate(values):
            if not isinstance(v, Hashable):
                raise ConfigError(
                    f"value {v!r} is not hashable, so it cannot be a category",
                    where=f"attribute {name!r} (value {i})",
                )
        counts = Counter(values)
        if name in levels:
            allowed = set(levels[name])
            unknown = [v for v in counts if v not in allowed]
            if unknown:
                raise ConfigError(
                    f"value {unknown[0]!r} is not one of the levels {sorted(map(str, allowed))}",
                    where=f"attribute {name!r}",
                )
            k = len(allowed)
        else:
            k = len(counts)
        out[name] = _normalized_entropy(counts.values(), k)
    return out
