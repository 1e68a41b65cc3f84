"""The paper's call budget per method, and which texts each call contributes."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from ..errors import ParseError
from ..methods import Method, get_method
from ..parsing import ParseResult, strip_code_fences, strip_reasoning
from ..verbalizer import CallRecord

_REPEAT_OF = re.compile(r"repeat of candidate (\d+)")  # the parser's "duplicate" repair


def plan_units(method: str, n: int, k: int, m: int | None = None) -> list[tuple[Method, int]]:
    """The (method with its k, samples wanted) of each distribution one prompt needs."""
    if method in ("direct", "cot"):
        return [(get_method(method, k=1), 1)] * n
    if method == "multi_turn":
        return [(get_method(method, k=n), n)]
    sizes = [min(k, n - i * k) for i in range(math.ceil(n / k))]
    options = {"m": m} if method == "vs_multi" and m is not None else {}
    return [(get_method(method, k=s, **options), s) for s in sizes]


def planned_calls(method: str, n: int, k: int, m: int | None = None) -> int:
    """Model calls one prompt costs with ``method`` (parse retries aside)."""
    return sum(meth.turns for meth, _ in plan_units(method, n, k, m))


def _answer_texts(result: ParseResult) -> list[str]:
    """An answer's texts with the repeats the parser merged put back (at the end)."""
    texts = result.texts
    for repair in result.repairs:
        found = _REPEAT_OF.search(repair.detail) if repair.kind == "duplicate" else None
        if found and int(found.group(1)) < len(result.texts):
            texts.append(result.texts[int(found.group(1))])
    return texts


def texts_from_calls(method: Method, records: Sequence[CallRecord]) -> list[str]:
    """Each answered call's texts as the model gave them (repeats kept), in call order.

    Repeats count, within an answer and across calls, so a method that says the same thing
    twice is scored as saying it twice. Mirrors the verbalizer: an answer that failed to
    parse and was re-asked (the next call has the same messages) gives nothing; one that
    was not re-asked gave its whole text.
    """
    sizes = method.turn_sizes() if method.name == "vs_multi" else [None] * len(records)
    texts: list[str] = []
    turn = 0
    for i, rec in enumerate(records):
        if rec.completion is None:
            continue
        try:
            found = _answer_texts(method.parse(rec.completion.text))
        except ParseError:
            nxt = records[i + 1] if i + 1 < len(records) else None
            if nxt is not None and nxt.request.messages == rec.request.messages:
                continue
            found = [strip_code_fences(strip_reasoning(rec.completion.text)).strip()]
        want = sizes[turn] if turn < len(sizes) else None
        want = want or (1 if method.name in ("direct", "cot", "multi_turn") else method.k)
        texts.extend(found[:want])
        turn += 1
    return texts
