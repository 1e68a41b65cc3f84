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
from ..records import trusted
from .items import canonical_key
from .text import QUOTE_PAIRS, collapse_whitespace, strip_quotes

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
        value: The ``json.loads`` (or ``orjson.loads``) result of the whole answer.

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
    numbers: list[float] = []  # as stated
    for element in responses:
        if type(element) is not dict:
            return None
        text = element.get(_TEXT)
        # the general path's choice: "probability" if present, else "confidence"
        number = element["probability"] if "probability" in element else element.get("confidence")
        if type(text) is not str or (len(element) > 2 and not _canonical(element)):
            return None  # (two keys: the text and the number)
        if type(number) is int and 0 <= number <= 1:  # bool and str are repairs
            number = float(number)
        elif type(number) is not float or not 0.0 <= number <= 1.0:
            return None  # NaN, negative numbers and percentages go the long way
        text = text.strip()
        if not text or (text[0] in _QUOTES and strip_quotes(text) != text):
            return None
        texts.append(text)
        numbers.append(number)
    weights = [x or 0.0 for x in numbers]  # as the general path does: a stated -0.0 weighs 0.0
    total = math.fsum(weights)
    if not total > 0 or not _distinct(texts):
        return None
    # every value already has the type validation would give it: no need to validate
    return [
        trusted(Candidate, {"text": t, "stated": x, "weight": w, "probability": w / total})
        for t, x, w in zip(texts, numbers, weights, strict=True)
    ]


def _distinct(texts: list[str]) -> bool:
    """Whether no two (stripped) texts are the same once whitespace is collapsed.

    The general path merges such repeats. Every whitespace character but the space is
    unprintable, so when all the texts together are printable and hold no double space,
    each is already its collapsed form: one check for the whole answer instead of
    collapsing every text.
    """
    joined = "".join(texts)
    if joined.isprintable() and "  " not in joined:
        keys = texts
    else:
        keys = [collapse_whitespace(text) for text in texts]
    return len(set(keys)) == len(keys)


def _canonical(obj: dict[str, object]) -> bool:
    """Whether every key is already as the general path compares it (so it picks the same)."""
    return all(type(k) is str and canonical_key(k) == k for k in obj)
