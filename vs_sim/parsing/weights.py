"""Turn the numbers a model wrote into non-negative weights, recording every repair.

Rules, in order (see docs/parsing.md):

1. Numbers written as strings are read (``"0.3"``, ``"35%"``, ``"about 30%"``, ``"1/3"``);
   a string with no number, ``NaN`` or infinity counts as missing (``invalid_number``).
2. Log-scale keys become weights: ``nll``/``neg_log_likelihood`` → ``exp(-nll)``,
   ``logprob``/``log_prob`` → ``exp(logprob)``, ``perplexity`` → ``1 / perplexity``.
3. A negative number becomes 0 (``negative_weight``).
4. Percentages become fractions: a ``"35%"`` string, a ``percentage`` key, or, when every
   plain number is at most 100 and at least one is above 1, all plain numbers.
5. Missing numbers are imputed (``missing_probability``): if no item has a number, every
   item gets ``1/n``; otherwise each missing item gets the mass left over,
   ``max(0, 1 - sum(known))``, split equally among the missing items, and if nothing is
   left over (less than 1e-9), the smallest positive known weight.

With ``expect_probabilities=False`` every item gets ``1/n`` and no missing number is
recorded; numbers the model gave anyway are kept as ``stated`` and noted once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from ..distribution import Repair
from .items import NUMBER_KEYS, RawItem

Stated = float | str | None

_NUMBER_TEXT = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?:\s*(%))?\s*")
_FRACTION = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
_NUMBER_SEARCH = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?:\s*(%))?")
_SEARCH_LIMIT = 60  # longer strings are prose, not numbers
_EXP_MAX = 700.0  # exp() of more overflows a float
_LEFTOVER_EPS = 1e-9


def number_from_text(text: str) -> float | str:
    """A plain number string as a float (``"0.35"`` → 0.35); anything else unchanged.

    Readers of text formats (XML, lists) use it so a bare number in a tag is not recorded
    as a ``number_as_string`` repair, while ``"35%"`` stays a string to be read as a percentage.
    """
    m = _NUMBER_TEXT.fullmatch(text)
    if m is not None and m.group(2) is None:
        try:
            return float(m.group(1))
        except (ValueError, OverflowError):
            return text
    return text


def _total(values: Sequence[float]) -> float:
    """An exact sum, or infinity when it overflows (``math.fsum`` raises instead)."""
    try:
        return math.fsum(values)
    except OverflowError:
        return math.inf


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return math.inf if value > 0 else -math.inf


def _stated(value: object) -> Stated:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return _as_float(value)
    return str(value)[:200]


def _read(value: object) -> tuple[float | None, bool, str | None]:
    """Read one raw number: (value, written as a percentage, repair kind or None)."""
    if value is None:
        return None, False, None
    if isinstance(value, bool):
        return None, False, "invalid_number"
    if isinstance(value, (int, float)):
        x = _as_float(value)
        return (x, False, None) if math.isfinite(x) else (None, False, "invalid_number")
    if not isinstance(value, str):
        return None, False, "invalid_number"
    m = _NUMBER_TEXT.fullmatch(value)
    if m is not None:
        x, percent = float(m.group(1)), m.group(2) is not None
    elif (f := _FRACTION.fullmatch(value)) is not None and int(f.group(2)) != 0:
        x, percent = int(f.group(1)) / int(f.group(2)), False
    elif len(value) <= _SEARCH_LIMIT and (s := _NUMBER_SEARCH.search(value)) is not None:
        x, percent = float(s.group(0).rstrip("% \t")), s.group(1) is not None
    else:
        return None, False, "invalid_number"
    if not math.isfinite(x):
        return None, False, "invalid_number"
    return x, percent, None if percent else "number_as_string"


def assign_weights(
    items: Sequence[RawItem], expect_probabilities: bool = True
) -> tuple[list[float], list[Stated], list[Repair]]:
    """Weights for the items, what each stated, and the repairs made (rules in the module doc).

    Returns:
        One finite, non-negative weight and one ``stated`` value per item, and the repairs.
    """
    n = len(items)
    stated = [_stated(it.number) for it in items]
    repairs: list[Repair] = []
    if n == 0:
        return [], stated, repairs
    if not expect_probabilities:
        given = [it.index for it, s in zip(items, stated, strict=True) if s is not None]
        if given:
            repairs.append(
                Repair(
                    kind="ignored_probability",
                    detail=f"this method takes no probabilities; ignored the numbers given "
                    f"for items {given} and used equal weights",
                )
            )
        return [1.0 / n] * n, stated, repairs

    weights: list[float | None] = [None] * n
    scalable: list[int] = []  # plain numbers that may turn out to be percentages
    log_kinds: dict[str, list[int]] = {}
    for pos, item in enumerate(items):
        x, percent, problem = _read(item.number)
        if problem == "invalid_number":
            repairs.append(
                Repair(
                    kind="invalid_number",
                    detail=f"could not read {item.number!r} as a number; treated it as missing",
                    item=item.index,
                )
            )
        if x is None:
            continue
        if problem == "number_as_string":
            repairs.append(
                Repair(
                    kind="number_as_string",
                    detail=f"read the string {item.number!r} as the number {x:g}",
                    item=item.index,
                )
            )
        kind = NUMBER_KEYS.get(item.key, "plain")
        if kind in ("nll", "logprob", "perplexity"):
            weight = _from_log(kind, x)
            if weight is None:
                repairs.append(
                    Repair(
                        kind="invalid_number",
                        detail=f"a perplexity must be positive, got {x:g}; treated it as missing",
                        item=item.index,
                    )
                )
                continue
            log_kinds.setdefault(kind, []).append(item.index)
            weights[pos] = weight
            continue
        if x < 0:
            repairs.append(
                Repair(
                    kind="negative_weight",
                    detail=f"the number {x:g} is negative; used 0",
                    item=item.index,
                )
            )
            x = 0.0
        if percent:
            repairs.append(
                Repair(
                    kind="percentage",
                    detail=f"read {item.number!r} as the fraction {x / 100:g}",
                    item=item.index,
                )
            )
            x /= 100
        elif kind == "percent":
            x /= 100
            log_kinds.setdefault("percent", []).append(item.index)
        else:
            scalable.append(pos)
        weights[pos] = x

    repairs += _log_repairs(log_kinds)
    plain = [weights[p] or 0.0 for p in scalable]
    if plain and max(plain) > 1 and max(plain) <= 100:
        for p in scalable:
            weights[p] = (weights[p] or 0.0) / 100
        repairs.append(
            Repair(
                kind="percentage",
                detail="every number is at most 100 and some are above 1; read them as percentages",
            )
        )
    filled = _impute(weights, items, repairs)
    total = _total(filled)
    if not math.isfinite(total):
        top = max(filled)
        filled = [w / top for w in filled]
        repairs.append(
            Repair(
                kind="rescaled", detail="the numbers were too large to add; divided by the largest"
            )
        )
    return filled, stated, repairs


def _from_log(kind: str, x: float) -> float | None:
    if kind == "nll":
        return math.exp(min(-x, _EXP_MAX))
    if kind == "logprob":
        return math.exp(min(x, _EXP_MAX))
    return 1.0 / x if x > 0 else None


def _log_repairs(kinds: dict[str, list[int]]) -> list[Repair]:
    details = {
        "nll": "read negative log-likelihoods as weights exp(-nll) (lower is more likely)",
        "logprob": "read log-probabilities as weights exp(logprob)",
        "perplexity": "read perplexities as weights 1/perplexity (lower is more likely)",
        "percent": "read the percentage values as fractions",
    }
    out = []
    for kind, idx in kinds.items():
        name = "percentage" if kind == "percent" else kind
        item = idx[0] if len(idx) == 1 else None
        out.append(Repair(kind=name, detail=f"{details[kind]} for items {idx}", item=item))
    return out


def _impute(
    weights: list[float | None], items: Sequence[RawItem], repairs: list[Repair]
) -> list[float]:
    """Fill missing weights with the documented rule and record each."""
    missing = [p for p, w in enumerate(weights) if w is None]
    if not missing:
        return [w or 0.0 for w in weights]
    known = [w for w in weights if w is not None]
    n = len(weights)
    if not known:
        repairs.append(
            Repair(
                kind="missing_probability",
                detail=f"no item stated a probability; used equal weights 1/{n}",
            )
        )
        return [1.0 / n] * n
    left = 1.0 - _total(known)
    if left > _LEFTOVER_EPS:
        fill, why = left / len(missing), f"the mass left over ({left:g}) split {len(missing)} ways"
    else:
        fill = min((w for w in known if w > 0), default=0.0)
        why = "nothing was left over, so the smallest known weight"
    for p in missing:
        repairs.append(
            Repair(
                kind="missing_probability",
                detail=f"no probability given; imputed {fill:g} ({why})",
                item=items[p].index,
            )
        )
    return [fill if w is None else w for w in weights]
