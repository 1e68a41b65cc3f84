"""Distances and spreads of answer distributions over a fixed set of options.

Inputs ``p`` and ``q`` are 1-D arrays over the **same options in the same order**,
given either as probabilities (summing to 1 within ``1e-6``) or as counts (all
whole numbers, any total): counts are divided by their total. Anything else — a
negative or non-finite entry, an empty vector, probabilities that do not sum to 1,
two vectors of different lengths — raises :class:`~vs_sim.errors.ConfigError`
naming the argument.

Entropies and divergences are in bits (log base 2) unless ``base`` says otherwise.
Samples (``x``, ``y`` in :func:`ks_two_sample` and :func:`l1_binned`) are raw values,
not distributions.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError

FloatArray = npt.NDArray[np.float64]

KL_EPSILON = 1e-6
"""Smoothing added to every entry of ``q`` in :func:`kl_divergence` when ``q`` has a zero."""


def as_distribution(values: npt.ArrayLike, name: str = "p") -> FloatArray:
    """Validate a probability vector or a vector of counts and return probabilities.

    Args:
        values: Probabilities summing to 1, or whole-number counts.
        name: The argument's name, used in error messages.

    Raises:
        ConfigError: Not 1-D, empty, negative, non-finite, all zero, or fractional
            values that do not sum to 1.
    """
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"not a numeric vector: {exc}", where=name) from None
    if a.ndim != 1 or a.size == 0:
        raise ConfigError(f"expected a non-empty 1-D vector, got shape {a.shape}", where=name)
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"non-finite entry at index {int(np.argmin(np.isfinite(a)))}", where=name)
    if np.any(a < 0):
        i = int(np.argmax(a < 0))
        raise ConfigError(f"negative entry {a[i]} at index {i}", where=name)
    total = float(a.sum())
    if total <= 0:
        raise ConfigError("all entries are zero", where=name)
    if abs(total - 1.0) <= 1e-6:
        return a / total
    if np.all(a == np.round(a)):
        return a / total
    raise ConfigError(
        f"entries sum to {total:.6g}: give probabilities summing to 1 or whole-number counts",
        where=name,
    )


def _pair(p: npt.ArrayLike, q: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    pa, qa = as_distribution(p, "p"), as_distribution(q, "q")
    if pa.shape != qa.shape:
        raise ConfigError(
            f"p has {pa.size} options but q has {qa.size}; both must cover the same options"
        )
    return pa, qa


def _log_base(base: float) -> float:
    if not (base > 0 and base != 1 and math.isfinite(base)):
        raise ConfigError(f"log base must be positive and not 1, got {base}")
    return math.log(base)


def entropy(p: npt.ArrayLike, base: float = 2.0) -> float:
    """Shannon entropy ``H(p) = −Σ p_i log_base p_i`` (with ``0 log 0 = 0``).

    Range [0, log_base k] for k options; higher = answers more spread out.
    """
    pa = as_distribution(p)
    nz = pa[pa > 0]
    return float(-np.sum(nz * np.log(nz)) / _log_base(base))


def normalized_entropy(p: npt.ArrayLike) -> float:
    """Entropy divided by its maximum: ``H(p) / log k`` for k options.

    Range [0, 1]: 0 when one option gets everything, 1 when all k options are equally
    likely (independent of the log base). Defined as 0 when k = 1.
    """
    pa = as_distribution(p)
    if pa.size < 2:
        return 0.0
    return entropy(pa, base=math.e) / math.log(pa.size)


def kl_divergence(
    p: npt.ArrayLike, q: npt.ArrayLike, base: float = 2.0, epsilon: float = KL_EPSILON
) -> float:
    """Kullback–Leibler divergence ``KL(p ‖ q) = Σ p_i log(p_i / q_i)`` (bits by default).

    If ``q`` has a zero entry, it is smoothed first: ``q ← (q + ε) / (1 + k ε)``
    (every entry gets ``ε``, then renormalized), so an option ``p`` uses but ``q``
    never does costs a large finite amount rather than infinity. A ``q`` with no zeros
    is used as is. ``epsilon=0`` turns smoothing off (the result may be ``inf``).
    Range [0, ∞); 0 only when p = q. Not symmetric: ``p`` is the distribution being
    judged (e.g. simulated answers), ``q`` the reference.
    """
    pa, qa = _pair(p, q)
    if epsilon < 0:
        raise ConfigError(f"epsilon must be >= 0, got {epsilon}")
    if np.any(qa == 0) and epsilon > 0:
        qa = (qa + epsilon) / (1.0 + qa.size * epsilon)
    mask = pa > 0
    if np.any(qa[mask] == 0):
        return math.inf
    return float(np.sum(pa[mask] * np.log(pa[mask] / qa[mask])) / _log_base(base))


def kl_to_uniform(p: npt.ArrayLike, base: float = 2.0) -> float:
    """``KL(p ‖ uniform) = log k − H(p)`` for k options (bits by default).

    Range [0, log k]; 0 = uniform, higher = more collapsed onto few options.
    """
    pa = as_distribution(p)
    return kl_divergence(pa, np.full(pa.size, 1.0 / pa.size), base=base)


def coverage(answers: Iterable[Hashable], valid: Iterable[Hashable]) -> float:
    """Coverage-N: the share of valid answers that were given at least once.

    ``|set(answers) ∩ set(valid)| / |set(valid)|``. Answers are compared exactly
    (normalize case and spacing before calling); answers not in ``valid`` are ignored.
    Range [0, 1]; higher = more of the answer space reached.

    Raises:
        ConfigError: ``valid`` is empty.
    """
    valid_set = set(valid)
    if not valid_set:
        raise ConfigError("coverage needs at least one valid answer", where="valid")
    return len(set(answers) & valid_set) / len(valid_set)


def total_variation(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Total variation distance ``½ Σ |p_i − q_i|``. Range [0, 1]; 0 = identical."""
    pa, qa = _pair(p, q)
    return float(0.5 * np.sum(np.abs(pa - qa)))


def jensen_shannon(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jensen–Shannon **divergence** in bits: ``½ KL(p ‖ m) + ½ KL(q ‖ m)``, ``m = (p + q)/2``.

    Symmetric; range [0, 1] (base 2); 0 = identical, 1 = disjoint supports. Its
    square root is the Jensen–Shannon *distance* (a metric; what
    ``scipy.spatial.distance.jensenshannon`` returns).
    """
    pa, qa = _pair(p, q)
    m = 0.5 * (pa + qa)

    def _kl_to_m(a: FloatArray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return min(1.0, max(0.0, 0.5 * _kl_to_m(pa) + 0.5 * _kl_to_m(qa)))


def _positions(positions: Sequence[float] | None, k: int) -> FloatArray:
    if positions is None:
        return np.arange(k, dtype=float)
    pos = np.asarray(positions, dtype=float)
    if pos.shape != (k,):
        raise ConfigError(
            f"expected {k} positions (one per option), got {pos.size}", where="positions"
        )
    if not np.all(np.isfinite(pos)):
        raise ConfigError("positions must be finite", where="positions")
    if len(np.unique(pos)) != k:
        raise ConfigError("positions must be distinct", where="positions")
    return pos


def wasserstein_ordinal(
    p: npt.ArrayLike, q: npt.ArrayLike, positions: Sequence[float] | None = None
) -> float:
    """1-D earth mover's (Wasserstein-1) distance between answers on ordinal options.

    Option i sits at ``positions[i]`` (default ``0, 1, …, k−1``). With options sorted by
    position and ``P``, ``Q`` the cumulative sums: ``W = Σ_i |P_i − Q_i| (x_{i+1} − x_i)``.
    It is the least probability mass × distance needed to turn ``p`` into ``q``. Range
    [0, max position − min position]; 0 = identical.
    """
    pa, qa = _pair(p, q)
    pos = _positions(positions, pa.size)
    order = np.argsort(pos)
    pos, pa, qa = pos[order], pa[order], qa[order]
    gaps = np.diff(pos)
    return float(np.sum(np.abs(np.cumsum(pa)[:-1] - np.cumsum(qa)[:-1]) * gaps))


def representativeness(
    p: npt.ArrayLike, q: npt.ArrayLike, positions: Sequence[float] | None = None
) -> float:
    """OpinionQA representativeness: ``1 − W(p, q) / (max position − min position)``.

    Santurkar et al. (2023), "Whose Opinions Do Language Models Reflect?": with the k
    ordinal options at positions 1..k this is ``1 − W / (k − 1)``. Range [0, 1];
    **higher = closer** to the reference ``q``; 1 = identical.

    Raises:
        ConfigError: Fewer than 2 options (the range would be zero).
    """
    pa, qa = _pair(p, q)
    if pa.size < 2:
        raise ConfigError("representativeness needs at least 2 ordinal options")
    pos = _positions(positions, pa.size)
    span = float(pos.max() - pos.min())
    return 1.0 - wasserstein_ordinal(pa, qa, pos.tolist()) / span


class KSResult(NamedTuple):
    """Result of a two-sample Kolmogorov–Smirnov test."""

    statistic: float
    """Largest gap between the two empirical CDFs, in [0, 1]."""
    pvalue: float
    """Probability of a gap at least this large if both samples came from one distribution."""


def _sample(values: npt.ArrayLike, name: str) -> FloatArray:
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"not a numeric sample: {exc}", where=name) from None
    if a.ndim != 1 or a.size == 0:
        raise ConfigError(f"expected a non-empty 1-D sample, got shape {a.shape}", where=name)
    if not np.all(np.isfinite(a)):
        i = int(np.argmin(np.isfinite(a)))
        raise ConfigError(f"non-finite value at index {i}", where=name)
    return a


def ks_two_sample(x: npt.ArrayLike, y: npt.ArrayLike) -> KSResult:
    """Two-sided two-sample Kolmogorov–Smirnov test (``scipy.stats.ks_2samp``, method auto).

    ``statistic = sup_t |F_x(t) − F_y(t)|`` over the empirical CDFs; range [0, 1],
    0 = the samples have the same empirical distribution. A small ``pvalue`` means the
    samples probably come from different distributions.
    """
    from scipy import stats  # scipy.stats is slow to import; only load it when used

    xa, ya = _sample(x, "x"), _sample(y, "y")
    res = stats.ks_2samp(xa, ya)
    return KSResult(statistic=float(res.statistic), pvalue=float(res.pvalue))


def binned_histogram(
    x: npt.ArrayLike, bin_width: float = 0.10, lo: float = 0.0, hi: float = 2.0
) -> FloatArray:
    """Shares of ``x`` in equal bins ``[lo + i·w, lo + (i+1)·w)``; ``hi`` joins the last bin.

    A value within ``1e-9 × w`` below a bin edge counts as on the edge (so ``0.3``
    lands in ``[0.3, 0.4)`` despite floating-point error). ``(hi − lo) / w`` must be a
    whole number of bins. Values outside ``[lo, hi]`` raise (filter them first).
    """
    xa = _sample(x, "x")
    if not bin_width > 0:
        raise ConfigError(f"bin_width must be > 0, got {bin_width}")
    if not hi > lo:
        raise ConfigError(f"hi must be > lo, got lo={lo}, hi={hi}")
    n_bins = round((hi - lo) / bin_width)
    if n_bins < 1 or abs(n_bins * bin_width - (hi - lo)) > 1e-9 * max(1.0, hi - lo):
        raise ConfigError(f"(hi − lo) = {hi - lo} is not a whole number of {bin_width} bins")
    outside = (xa < lo) | (xa > hi)
    if np.any(outside):
        i = int(np.argmax(outside))
        raise ConfigError(
            f"{int(outside.sum())} value(s) outside [{lo}, {hi}], first {xa[i]} at index {i}",
            where="x",
        )
    idx = np.floor((xa - lo) / bin_width + 1e-9).astype(int)
    idx = np.clip(idx, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(np.float64)
    shares: FloatArray = counts / counts.sum()
    return shares


def l1_binned(
    x: npt.ArrayLike, y: npt.ArrayLike, bin_width: float = 0.10, lo: float = 0.0, hi: float = 2.0
) -> float:
    """L1 distance between the binned histograms of two samples: ``Σ_b |h_x(b) − h_y(b)|``.

    Each sample is binned by :func:`binned_histogram` (bins ``[lo + i·w, lo + (i+1)·w)``,
    the right edge ``hi`` in the last bin: with the defaults, 20 bins of $0.10 from $0 to
    $2, and $2.00 counts in ``[1.90, 2.00]``) and normalized to shares. Range [0, 2]
    (twice the total variation of the histograms); 0 = same histogram.
    """
    hx = binned_histogram(x, bin_width, lo, hi)
    hy = binned_histogram(y, bin_width, lo, hi)
    return float(np.sum(np.abs(hx - hy)))
