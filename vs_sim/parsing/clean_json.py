"""The fast path for a clean answer: decoded JSON that needs no repair at all.

Most answers from a model that follows the prompt are exactly
``{"responses": [{"text": "...", "probability": 0.3}, ...]}``. For those, the general
reader (find the list, make raw items, read numbers, impute, merge, normalize) would
find nothing to repair, so :func:`read_clean` builds the candidates directly. It accepts
an answer only when every rule of the general path would leave it unchanged; anything
else returns ``None`` and the general path reads it, so both give identical results.
"""

from __future__ import annotations

import math

from ..distribution import Candidate
from .items import canonical_key
from .text import QUOTE_PAIRS, strip_quotes

_TEXT = "text"
_QUOTES = frozenset(QUOTE_PAIRS)


def read_clean(value: object) -> list[Candidate] | None:
    """Candidates from a decoded answer that needs no repair, or ``None`` to use the general path.

    Accepted: an object whose candidate list is under ``responses``; each element an
    object with a string ``text`` (no surrounding whitespace-only change, no surrounding
    quotes, not empty, not a repeat of an earlier text) and a ``probability`` (or
    ``confidence``) that is a real number in ``[0, 1]``; the numbers summing to more
    than 0. Every key must already be in canonical form (lower case, ``_``), so the
    general path would pick the same keys.

    Args:
        value: The ``json.loads`` result of the whole answer.

    Returns:
        The candidates with ``stated`` and ``weight`` the numbers as floats and
        ``probability`` the weights normalized, or ``None``.
    """
    if type(value) is not dict:
        return None
    responses = value.get("responses")
    if type(responses) is not list or not responses:
        return None
    if len(value) > 1 and not _canonical(value):  # (alone, the key is "responses")
        return None
    texts: list[str] = []
    stated: list[float] = []
    weights: list[float] = []
    seen: set[str] = set()
    for element in responses:
        if type(element) is not dict:
            return None
        raw = element.get(_TEXT)
        if type(raw) is not str:
            return None
        # the general path's choice: "probability" if present, else "confidence"
        number = element["probability"] if "probability" in element else element.get("confidence")
        if len(element) > 2 and not _canonical(element):  # (two: the text and the number)
            return None
        if type(number) is not float and type(number) is not int:  # bool and str are repairs
            return None
        try:
            x = float(number)
        except OverflowError:  # an integer too large for a float
            return None
        if not 0.0 <= x <= 1.0:  # NaN, negative numbers and percentages go the long way
            return None
        text = raw.strip()
        if not text or (text[0] in _QUOTES and strip_quotes(text) != text):
            return None
        key = " ".join(text.split())  # collapse_whitespace, inlined: this runs per candidate
        if key in seen:
            return None
        seen.add(key)
        texts.append(text)
        stated.append(x)
        weights.append(x or 0.0)  # as the general path does: a stated -0.0 weighs 0.0
    total = math.fsum(weights)
    if not total > 0:
        return None
    return [
        Candidate(text=t, stated=s, weight=w, probability=w / total)
        for t, s, w in zip(texts, stated, weights, strict=True)
    ]


def _canonical(obj: dict[str, object]) -> bool:
    """Whether every key is already as the general path compares it (so it picks the same)."""
    return all(type(k) is str and canonical_key(k) == k for k in obj)
