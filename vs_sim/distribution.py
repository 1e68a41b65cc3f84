"""Candidates and the verbalized distribution they form.

A model's verbalized numbers are *weights*, not probabilities: they are repaired
(percentages, missing values, negative-log-likelihoods) by the parser, kept as
``stated`` (what the model said) and ``weight`` (what was used), and normalized
here into ``probability``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .errors import ConfigError
from .models.base import Message, Usage
from .records import trusted as trusted_record

Normalization = Literal["elicited", "uniform", "temperature"]
NORMALIZATIONS: tuple[str, ...] = ("elicited", "uniform", "temperature")

SeedLike = int | np.random.Generator | None


class Repair(BaseModel):
    """One fix the parser or the normalizer made, so nothing is silently changed.

    Attributes:
        kind: A short machine-readable name, e.g. ``code_fence`` or ``percentage``.
        detail: A human-readable sentence.
        item: The index of the candidate it concerns, if any.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    detail: str = ""
    item: int | None = None


class Candidate(BaseModel):
    """One candidate response.

    Attributes:
        text: The response text.
        stated: The number (or string such as ``"35%"``) the model gave, or ``None``.
        weight: The repaired non-negative weight used for normalization.
        probability: The normalized probability used for sampling.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    stated: float | str | None = None
    weight: float = 1.0
    probability: float = 0.0


def _with_probability(candidate: Candidate, probability: float) -> Candidate:
    """The candidate with a new probability (its other fields are already validated).

    Candidates are frozen, so one whose probability is already that value is returned
    as it is (the parser's candidates usually are: it normalizes the same weights).
    """
    old = candidate.probability
    if old == probability and (old or math.copysign(1.0, old) == math.copysign(1.0, probability)):
        return candidate  # (0.0 and -0.0 compare equal but are written differently)
    return trusted_record(
        Candidate,
        {
            "text": candidate.text,
            "stated": candidate.stated,
            "weight": candidate.weight,
            "probability": probability,
        },
    )


def _with_probabilities(
    candidates: Sequence[Candidate], probabilities: list[float]
) -> list[Candidate]:
    """The candidates with these probabilities, in a new list (see :func:`_with_probability`)."""
    if [c.probability for c in candidates] == probabilities and 0.0 not in probabilities:
        return list(candidates)  # the usual case, all at once (zeros are compared one by one)
    return [_with_probability(c, p) for c, p in zip(candidates, probabilities)]


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator from an int seed, an existing Generator, or ``None`` (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def normalize_weights(
    weights: Sequence[float], mode: str = "elicited", temperature: float = 1.0
) -> tuple[list[float], list[Repair]]:
    """Turn non-negative weights into probabilities.

    Args:
        weights: One non-negative weight per candidate.
        mode: ``elicited`` (proportional to weight), ``uniform`` (equal), or
            ``temperature`` (proportional to ``weight ** (1 / temperature)``, i.e. a
            softmax of log-weights at that temperature).
        temperature: Only for ``temperature``; must be > 0. Below 1 sharpens, above 1 flattens.

    Returns:
        The probabilities and any repairs (an all-zero sum falls back to uniform).
    """
    if mode not in NORMALIZATIONS:
        raise ConfigError(f"unknown normalization {mode!r}; expected one of {NORMALIZATIONS}")
    n = len(weights)
    if n == 0:
        return [], []
    if mode == "uniform":
        return [1.0 / n] * n, []
    if mode == "elicited":  # the hot path (every call): plain floats beat numpy for a few items
        ws = list(map(float, weights))
        for x in ws:
            if not 0.0 <= x < math.inf:  # (False for NaN too)
                raise ConfigError("weights must be finite and non-negative")
        total = math.fsum(ws)
        if total > 0:
            return [x / total for x in ws], []
        return [1.0 / n] * n, [
            Repair(kind="zero_sum", detail="all weights were zero; used a uniform distribution")
        ]
    w = np.asarray(weights, dtype=float)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ConfigError("weights must be finite and non-negative")
    if mode == "temperature":
        if not temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        positive = w > 0
        if positive.any():
            logw = np.full(n, -np.inf)
            logw[positive] = np.log(w[positive]) / temperature
            logw -= logw[positive].max()
            w = np.exp(logw)
    total = float(w.sum())
    if total <= 0:
        return [1.0 / n] * n, [
            Repair(kind="zero_sum", detail="all weights were zero; used a uniform distribution")
        ]
    return [float(x) for x in w / total], []


_NO_USAGE = Usage()
"""The default ``usage``: frozen, so one instance serves every distribution."""


def draw_index(weights: Sequence[float], u: float) -> int:
    """The index a uniform draw ``u`` in ``[0, 1)`` picks among non-negative ``weights``: the
    first whose running sum exceeds ``u`` times the total (``np.cumsum`` and
    ``np.searchsorted(side="right")`` in plain Python, cheaper for a few values)."""
    return _place(list(accumulate(weights)), u)


def _place(cdf: list[float], u: float) -> int:
    return min(bisect_right(cdf, u * cdf[-1]), len(cdf) - 1)


class Distribution(BaseModel):
    """A verbalized distribution over candidate responses.

    Attributes:
        candidates: The candidates, with normalized probabilities summing to 1.
        method: The prompting method that produced it (e.g. ``vs_standard``).
        model: The model's name.
        prompt: The messages sent (the first call's, for multi-call methods).
        usage: Total token usage of the calls behind it.
        cost: Total dollar cost, when known.
        calls: How many model calls it took.
        repairs: Every repair made while parsing and normalizing.
        truncated: The answer was cut off; only complete items were kept.
        normalization: How weights became probabilities.
        temperature: The temperature used by ``temperature`` normalization.
        tau: The post-hoc probability floor applied, if any.
        dropped: Candidates removed by the ``tau`` filter (kept for analysis).
        synthetic: The text came from the offline model, not a language model.
        request_keys: Cache keys of the calls behind it.
    """

    candidates: list[Candidate]
    method: str = "vs_standard"
    model: str | None = None
    prompt: list[Message] | None = None
    usage: Usage = Field(default_factory=lambda: _NO_USAGE)
    cost: float | None = None
    calls: int = 1
    repairs: list[Repair] = Field(default_factory=list)
    truncated: bool = False
    normalization: str = "elicited"
    temperature: float = 1.0
    tau: float | None = None
    dropped: list[Candidate] = Field(default_factory=list)
    synthetic: bool = False
    request_keys: list[str] = Field(default_factory=list)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_candidates(
        cls,
        candidates: Sequence[Candidate],
        *,
        normalization: str = "elicited",
        temperature: float = 1.0,
        tau: float | None = None,
        min_keep: int = 1,
        trusted: bool = False,
        **fields: object,
    ) -> Distribution:
        """Normalize candidates' weights, apply the ``tau`` filter, and build a distribution.

        Args:
            candidates: Candidates whose ``weight`` is set (``probability`` is recomputed).
            normalization: See :func:`normalize_weights`.
            temperature: See :func:`normalize_weights`.
            tau: Drop candidates whose normalized probability is below ``tau``; if fewer than
                ``min_keep`` survive, keep the ``min_keep`` most probable and record it.
            min_keep: The fewest candidates the filter may leave.
            trusted: The candidates and ``fields`` are the program's own values, each of
                exactly the declared type (a model call's, as :func:`~vs_sim.averbalize`
                has them): build the distribution without validating them. The values are
                kept as they are, not copied.
            **fields: Other attributes (method, model, usage, repairs, ...).
        """
        if not candidates:
            raise ConfigError("a distribution needs at least one candidate")
        repairs = list(fields.pop("repairs", []))  # type: ignore[call-overload]
        probs, extra = normalize_weights([c.weight for c in candidates], normalization, temperature)
        repairs += extra
        cands = _with_probabilities(candidates, probs)
        dropped: list[Candidate] = []
        if tau is not None and tau > 0:
            if min_keep < 1:
                raise ConfigError(f"min_keep must be >= 1, got {min_keep}")
            kept = [c for c in cands if c.probability >= tau]
            if len(kept) < min(min_keep, len(cands)):
                order = sorted(range(len(cands)), key=lambda i: -cands[i].probability)
                keep_idx = sorted(order[: min(min_keep, len(cands))])
                kept = [cands[i] for i in keep_idx]
                repairs.append(
                    Repair(
                        kind="tau_relaxed",
                        detail=f"fewer than {min_keep} candidates had probability >= {tau}; "
                        f"kept the {len(kept)} most probable",
                    )
                )
            kept_ids = {id(c) for c in kept}
            dropped = [c for c in cands if id(c) not in kept_ids]
            if dropped:
                probs, _ = normalize_weights([c.probability for c in kept], "elicited")
                cands = _with_probabilities(kept, probs)
        given = {
            "candidates": cands,
            "normalization": normalization,
            "temperature": temperature,
            "tau": tau,
            "dropped": dropped,
            "repairs": repairs,
        }
        if _ALWAYS_GIVEN.isdisjoint(fields):
            if trusted and cls is Distribution and _exact_options(normalization, temperature, tau):
                # (this runs on every model call; validation would only copy these values)
                exact = {**_TEMPLATE, **given, "request_keys": [], **fields}  # declaration order
                if len(exact) == len(_TEMPLATE):  # (else a field it lacks: validation ignores it)
                    return trusted_record(cls, exact, {*given, *fields})
            # What ``cls(...)`` below does, without its Python-level ``__init__`` (this runs on
            # every model call): validate the values as one dict. Candidates, already checked,
            # are kept as they are either way (pydantic does not revalidate instances).
            return cls.__pydantic_validator__.validate_python({**given, **fields})  # type: ignore[no-any-return]
        return cls(**given, **fields)  # type: ignore[arg-type]  # (a field given twice: TypeError)

    @classmethod
    def _from_parsed(
        cls,
        candidates: Sequence[Candidate],
        *,
        method: str,
        model: str,
        prompt: list[Message],
        usage: Usage,
        cost: float | None,
        calls: int,
        repairs: list[Repair],
        truncated: bool,
        temperature: float,
        synthetic: bool,
        request_keys: list[str],
    ) -> Distribution:
        """``from_candidates(candidates, trusted=True, ...)`` with ``elicited`` normalization
        and no ``tau``, for the candidates of one answer read by the parser.

        The parser normalized their weights with :func:`normalize_weights` already (unless
        it recorded a ``zero_sum`` repair), so normalizing again would give each candidate
        the probability it has: this skips that second pass (it runs on every model call).
        Every value must be of its exact declared type, as for ``trusted=True``.
        """
        values = {  # every field, in declaration order
            "candidates": list(candidates),
            "method": method,
            "model": model,
            "prompt": prompt,
            "usage": usage,
            "cost": cost,
            "calls": calls,
            "repairs": list(repairs),
            "truncated": truncated,
            "normalization": "elicited",
            "temperature": temperature,
            "tau": None,
            "dropped": [],
            "synthetic": synthetic,
            "request_keys": request_keys,
        }
        return trusted_record(cls, values)

    def renormalized(self, normalization: str, temperature: float = 1.0) -> Distribution:
        """The same candidates with probabilities recomputed from their weights."""
        probs, extra = normalize_weights(
            [c.weight for c in self.candidates], normalization, temperature
        )
        cands = _with_probabilities(self.candidates, probs)
        return self.model_copy(
            update={
                "candidates": cands,
                "normalization": normalization,
                "temperature": temperature,
                "repairs": [*self.repairs, *extra],
            }
        )

    # -- reading ---------------------------------------------------------------------------
    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.candidates]

    @property
    def probabilities(self) -> list[float]:
        return [c.probability for c in self.candidates]

    def __len__(self) -> int:
        return len(self.candidates)

    def sample_index(self, seed: SeedLike = None) -> int:
        """Draw one candidate's index. The same seed always draws the same index."""
        return self.index_for(float(as_generator(seed).random()))

    def index_for(self, u: float) -> int:
        """The index a uniform draw ``u`` in ``[0, 1)`` picks (what :meth:`sample_index` draws).

        For a caller that already holds its draw, e.g. from :func:`vs_sim.seeds.derive_uniform`:
        the first candidate whose cumulative probability exceeds ``u`` times the total.
        """
        cdf = list(accumulate(self.probabilities))
        if cdf and math.isfinite(cdf[-1]):
            return _place(cdf, u)
        # no candidates, or sums that are not finite (an overflow, a NaN): numpy's rules and
        # warnings, as always (its search orders NaN last)
        sums = np.cumsum(self.probabilities)
        at = int(np.searchsorted(sums, u * float(sums[-1]), side="right"))
        return min(at, len(self.candidates) - 1)

    def sample(self, seed: SeedLike = None) -> Candidate:
        """Draw one candidate by probability (reproducible for an int seed or a Generator)."""
        return self.candidates[self.sample_index(seed)]

    def sample_n(self, n: int, seed: SeedLike = None) -> list[Candidate]:
        """Draw ``n`` candidates with replacement from one generator."""
        rng = as_generator(seed)
        return [self.sample(rng) for _ in range(n)]

    def argmax(self) -> Candidate:
        """The most probable candidate (the first, on ties)."""
        return max(self.candidates, key=lambda c: c.probability)

    def entropy(self, base: float = 2.0) -> float:
        """Shannon entropy of the probabilities (bits by default)."""
        h = -sum([p * math.log(p) for c in self.candidates if (p := c.probability) > 0])
        return 0.0 if h <= 0 else h / math.log(base)  # one candidate: 0.0, never -0.0

    def normalized_entropy(self) -> float:
        """Entropy divided by its maximum, ``log(n)``: 0 for one candidate, 1 for uniform."""
        n = len(self.candidates)
        return 0.0 if n < 2 else self.entropy(base=math.e) / math.log(n)

    # -- serialization ---------------------------------------------------------------------
    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> Distribution:
        return cls.model_validate_json(data)


def _exact_options(normalization: object, temperature: object, tau: object) -> bool:
    """Whether these options already have the types validation gives (a caller's ``2`` is not)."""
    return (
        type(normalization) is str
        and type(temperature) is float
        and (tau is None or type(tau) is float)
    )


_ALWAYS_GIVEN = frozenset(
    {"candidates", "normalization", "temperature", "tau", "dropped", "repairs"}
)
"""The fields :meth:`Distribution.from_candidates` always passes."""

_TEMPLATE: dict[str, object] = {
    name: None if field.is_required() else field.get_default(call_default_factory=True)
    for name, field in Distribution.model_fields.items()
}
"""Every field's default, in declaration order (the lists are always replaced by fresh ones)."""
