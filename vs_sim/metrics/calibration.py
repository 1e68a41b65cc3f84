"""Calibration of verbalized probabilities: does a candidate stated at p turn up p of the time?

The data are **records** ``(p, o)``: ``p`` is the probability a verbalized distribution
gave one candidate, ``o`` is 1 if that candidate *turned up* and 0 if not.
:func:`calibration_records` builds them from repeated calls on one prompt:

- ``distributions`` are the verbalized distributions from some calls (each a
  :class:`~vs_sim.distribution.Distribution`, using its normalized ``probability``, or a
  mapping ``text → probability``);
- ``answers`` are the answers of *other*, independent calls on the same prompt (e.g.
  direct prompting, or one sampled answer per call).

A candidate **turned up** in an answer when the two texts are equal after
normalization: lowercase, keep only word tokens, join them with single spaces (so
``"Paris."`` and ``" paris"`` match, ``"Paris, France"`` and ``"Paris"`` do not). Every
candidate of every distribution is paired with every answer, giving one record per
pair; so the observed frequency for a candidate is the share of answers equal to it.
Candidates of one distribution that normalize to the same text have their
probabilities added first.

A perfectly calibrated model has, in every probability bin, an observed frequency equal
to the mean stated probability.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..distribution import Distribution
from ..errors import ConfigError
from .text import tokenize

FloatArray = npt.NDArray[np.float64]


def answer_key(text: str) -> str:
    """The normalized form under which a candidate and an answer count as the same."""
    return " ".join(tokenize(text))


@dataclass(frozen=True)
class CalibrationRecords:
    """Stated probabilities and whether each candidate turned up (parallel arrays)."""

    probs: FloatArray
    outcomes: FloatArray

    def __len__(self) -> int:
        return int(self.probs.size)


def calibration_records(
    distributions: Iterable[Distribution | Mapping[str, float]], answers: Sequence[str]
) -> CalibrationRecords:
    """Pair every candidate of every distribution with every answer (see the module docstring).

    Args:
        distributions: Verbalized distributions from some calls on one prompt.
        answers: Answers from other, independent calls on the same prompt.

    Raises:
        ConfigError: No distributions, no answers, or a probability outside [0, 1].
    """
    keys = [answer_key(a) for a in answers]
    if not keys:
        raise ConfigError("calibration needs at least one answer", where="answers")
    probs: list[float] = []
    outcomes: list[float] = []
    n_dist = 0
    for d_index, dist in enumerate(distributions):
        n_dist += 1
        items = (
            [(c.text, c.probability) for c in dist.candidates]
            if isinstance(dist, Distribution)
            else list(dist.items())
        )
        merged: dict[str, float] = {}
        for c_index, (text, prob) in enumerate(items):
            if not 0.0 <= float(prob) <= 1.0:
                raise ConfigError(
                    f"probability {prob} is outside [0, 1]",
                    where=f"distributions[{d_index}][{c_index}]",
                )
            key = answer_key(text)
            merged[key] = merged.get(key, 0.0) + float(prob)
        for key, prob in merged.items():
            hits = sum(1 for k in keys if k == key)
            probs.extend([min(prob, 1.0)] * len(keys))
            outcomes.extend([1.0] * hits + [0.0] * (len(keys) - hits))
    if n_dist == 0:
        raise ConfigError("calibration needs at least one distribution", where="distributions")
    return CalibrationRecords(np.asarray(probs, dtype=float), np.asarray(outcomes, dtype=float))


def _records(probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(probs, dtype=float)
    o = np.asarray(outcomes, dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ConfigError(f"expected a non-empty 1-D vector, got shape {p.shape}", where="probs")
    if o.shape != p.shape:
        raise ConfigError(f"{o.size} outcomes for {p.size} probabilities", where="outcomes")
    if not np.all((p >= 0) & (p <= 1)):
        i = int(np.argmin((p >= 0) & (p <= 1)))
        raise ConfigError(f"probability {p[i]} at index {i} is outside [0, 1]", where="probs")
    if not np.all((o == 0) | (o == 1)):
        i = int(np.argmin((o == 0) | (o == 1)))
        raise ConfigError(f"outcome {o[i]} at index {i} is not 0/1 (or bool)", where="outcomes")
    return p, o


@dataclass(frozen=True)
class ReliabilityBin:
    """One row of a reliability table.

    Attributes:
        lo: Lower edge (included).
        hi: Upper edge (excluded, except 1.0 which the last bin includes).
        count: Records whose stated probability falls in the bin.
        mean_stated: Their mean stated probability (``None`` when the bin is empty).
        observed: The share of them that turned up (``None`` when the bin is empty).
    """

    lo: float
    hi: float
    count: int
    mean_stated: float | None
    observed: float | None


def _bin_index(p: FloatArray, bins: int) -> npt.NDArray[np.int64]:
    if bins < 1:
        raise ConfigError(f"bins must be >= 1, got {bins}")
    # the tolerance keeps a value on an edge (0.3 with 10 bins) in the upper bin
    return np.minimum(np.floor(p * bins + 1e-9).astype(np.int64), bins - 1)


def reliability_table(
    probs: npt.ArrayLike, outcomes: npt.ArrayLike, bins: int = 10
) -> list[ReliabilityBin]:
    """Group records into ``bins`` equal-width probability bins and compare stated with observed.

    Bin b covers ``[b/bins, (b+1)/bins)``; the last bin also holds 1.0. Every bin is
    returned, empty ones with ``count=0`` and ``None`` means.
    """
    p, o = _records(probs, outcomes)
    idx = _bin_index(p, bins)
    rows = []
    for b in range(bins):
        sel = idx == b
        n = int(sel.sum())
        rows.append(
            ReliabilityBin(
                lo=b / bins,
                hi=(b + 1) / bins,
                count=n,
                mean_stated=float(p[sel].mean()) if n else None,
                observed=float(o[sel].mean()) if n else None,
            )
        )
    return rows


def expected_calibration_error(
    probs: npt.ArrayLike, outcomes: npt.ArrayLike, bins: int = 10
) -> float:
    """ECE: ``Σ_b (n_b / N) · |observed_b − mean_stated_b|`` over the reliability table's bins.

    Range [0, 1]; lower = better calibrated; 0 = stated matches observed in every bin.
    """
    rows = reliability_table(probs, outcomes, bins)
    total = sum(r.count for r in rows)
    return float(
        sum(
            r.count / total * abs(r.observed - r.mean_stated)
            for r in rows
            if r.observed is not None and r.mean_stated is not None
        )
    )


def brier_score(probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> float:
    """Brier score: ``mean_i (p_i − o_i)²``. Range [0, 1]; lower = better; 0 = perfect."""
    p, o = _records(probs, outcomes)
    return float(np.mean((p - o) ** 2))
