"""``parse_response``: raw model text → candidates, plus a record of every repair.

The order of work: a fast path for JSON that needs no repair at all (decoded with
orjson, read by :mod:`vs_sim.parsing.clean_json`), then one for well-formed JSON; otherwise
remove reasoning blocks and code fences, then try the JSON, XML and list readers (JSON
or XML first, whichever starts earlier in the text), then, if allowed, the whole text
as one answer. The items found are then cleaned (outer whitespace, surrounding quotes),
weighted (see :mod:`vs_sim.parsing.weights`), merged when duplicated, and normalized.
"""

from __future__ import annotations

import json
import re
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from ..distribution import Candidate, Repair, normalize_weights
from ..errors import ParseError
from ..records import trusted
from .clean_json import read_clean
from .items import Extraction, RawItem
from .json_form import items_from_value, read_json
from .list_form import read_list
from .text import collapse_whitespace, split_reasoning, strip_code_fences, strip_quotes
from .weights import assign_weights
from .xml_form import first_block, read_xml

_JSON_START = re.compile(r"[{\[]")
_PLAIN = Repair(kind="plain_text", detail="no structure found; took the whole answer")


class ParseResult(BaseModel):
    """What the parser read from one answer.

    Attributes:
        candidates: The candidates: ``text``; ``stated`` (the number or string the model
            gave, or ``None``); ``weight`` (repaired, >= 0); ``probability`` (the weights
            normalized, summing to 1).
        repairs: Every repair made, in order. ``item`` is the 0-based position of the
            item in the answer as the model wrote it.
        truncated: The answer was cut off; only complete items were kept.
        format: Which form the candidates were read from.
    """

    model_config = ConfigDict(frozen=True)

    candidates: list[Candidate]
    repairs: list[Repair] = Field(default_factory=list)
    truncated: bool = False
    format: Literal["json", "xml", "list", "plain"]

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.candidates]

    @property
    def probabilities(self) -> list[float]:
        return [c.probability for c in self.candidates]


def parse_response(
    text: str, *, expect_probabilities: bool = True, allow_plain: bool = False
) -> ParseResult:
    """Read candidates (and their verbalized numbers) from a model's raw answer.

    Accepts JSON (``{"responses": [{"text": ..., "probability": ...}]}`` and the many ways
    models get it wrong), XML-like ``<response>`` blocks, numbered or bulleted lists and
    Markdown tables. Missing numbers are imputed: with none given, every item gets
    ``1/n``; with some given, each missing item gets ``max(0, 1 - sum(known))`` split
    equally among the missing ones, or, if nothing is left over, the smallest known
    weight. Every change is recorded in ``repairs``.

    Args:
        text: The model's complete raw answer.
        expect_probabilities: Whether the method asked for numbers. If ``False`` (the
            ``sequence`` and ``cot`` methods), every candidate gets an equal weight and no
            missing number is recorded.
        allow_plain: If no structure is found, take the whole answer (without reasoning
            blocks and code fences) as one candidate. Direct answers use this.

    Returns:
        At least one candidate, none with an empty text, probabilities summing to 1.

    Raises:
        ParseError: Nothing usable was found; ``.raw`` holds the complete text.

    Example:
        >>> r = parse_response('{"responses": [{"text": "Paris", "probability": 0.6},'
        ...                    ' {"text": "Lyon", "probability": 0.2}]}')
        >>> r.texts, [round(p, 2) for p in r.probabilities]
        (['Paris', 'Lyon'], [0.75, 0.25])
    """
    stripped = text.strip()
    if not stripped:
        raise ParseError("the answer is empty", text)
    if stripped[0] in '{["':  # fast paths: well-formed JSON (or JSON inside a JSON string)
        if expect_probabilities and (clean := _read_clean_json(stripped)) is not None:
            return clean  # nothing to repair: skip the general reader
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            pass
        else:
            found = items_from_value(value)
            if found is not None and found.items:
                fast = Extraction(found.items, "json", found.repairs)
                return _finish(fast, text, expect_probabilities)

    reasoning = split_reasoning(text)
    pre: list[Repair] = []
    if reasoning.removed:
        pre.append(Repair(kind="reasoning_stripped", detail="removed the <think> reasoning block"))
    body = reasoning.answer

    extraction, why = _read_structured(body, allow_list=True, allow_plain=allow_plain)
    if extraction is None and reasoning.unclosed is not None and not body.strip():
        inner = reasoning.unclosed
        extraction, why = _read_structured(inner, allow_list=False, allow_plain=False)
        if extraction is not None:
            pre.append(
                Repair(
                    kind="unclosed_reasoning",
                    detail="the <think> block never closed; read the answer found inside it",
                )
            )
        else:
            why = "the answer ended inside its <think> reasoning block"
    if extraction is None and allow_plain:
        plain = strip_code_fences(body)
        if plain.strip():
            extraction = Extraction(
                [RawItem(text=plain.strip())],
                "plain",
                [*_fence_repairs(body, plain), _PLAIN],
            )
    if extraction is None:
        raise ParseError(why or "no responses found (tried JSON, XML and list forms)", text)
    extraction.repairs[:0] = pre
    return _finish(extraction, text, expect_probabilities)


def clean_candidates(text: str) -> list[Candidate] | None:
    """The candidates ``parse_response(text)`` gives when it finds nothing to repair, or ``None``.

    The result's other fields are then fixed (no repairs, not truncated, JSON), so a caller
    that reads every answer (``averbalize``) takes the candidates alone and makes the full
    :class:`ParseResult` only for an answer this returns ``None`` for.
    """
    stripped = text.strip()
    if not stripped or stripped[0] != "{":  # (only an object can be a clean answer)
        return None
    return _clean_candidates(stripped)


def _clean_candidates(text: str) -> list[Candidate] | None:
    """The candidates of stripped JSON that needs no repair (see :func:`read_clean`), or ``None``.

    It decodes with orjson, several times faster than ``json.loads`` and, for every
    document it accepts, giving the same strings and numbers but for one thing: it reads
    integers beyond 64 bits as floats, and :func:`read_clean` takes only numbers in
    ``[0, 1]``, so none of those reaches a result. What orjson refuses (NaN, Infinity,
    lone surrogates, deep nesting) goes the ``json.loads`` way, as does all that needs a
    repair (read again with ``json.loads``, so the general path sees what it always saw).
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return read_clean(value)


def _read_clean_json(text: str) -> ParseResult | None:
    """The result of stripped JSON that needs no repair, or ``None``."""
    candidates = _clean_candidates(text)
    if candidates is None:
        return None
    return trusted(
        ParseResult,
        {"candidates": candidates, "repairs": [], "truncated": False, "format": "json"},
    )


def _read_structured(
    body: str, *, allow_list: bool, allow_plain: bool
) -> tuple[Extraction | None, str | None]:
    """Try the JSON and XML readers (earliest in the text first), then the list reader."""
    json_at = m.start() if (m := _JSON_START.search(body)) else -1
    xml_at = first_block(body)
    why: str | None = None
    order = ("xml", "json") if 0 <= xml_at < json_at or json_at < 0 else ("json", "xml")
    for form in order:
        if form == "json" and json_at >= 0:
            extraction, why_json = read_json(body)
            why = why or why_json
        elif form == "xml" and xml_at >= 0:
            extraction = read_xml(body)
            if extraction is not None and not extraction.items:
                why = why or (
                    "the answer was cut off before its first complete response"
                    if extraction.truncated
                    else "the answer's <response> blocks hold no text"
                )
                extraction = None
        else:
            continue
        if extraction is not None:
            return extraction, None
    if allow_list:
        unfenced = strip_code_fences(body)
        extraction = read_list(unfenced, allow_unnumbered=not allow_plain)
        if extraction is not None:
            extraction.repairs[:0] = _fence_repairs(body, unfenced)
            return extraction, None
    return None, why


def _fence_repairs(before: str, after: str) -> list[Repair]:
    if before == after:
        return []
    return [Repair(kind="code_fence", detail="removed Markdown code fences")]


def _finish(extraction: Extraction, raw: str, expect_probabilities: bool) -> ParseResult:
    """Clean texts, weight, merge duplicates and normalize."""
    repairs = list(extraction.repairs)
    items: list[RawItem] = []
    for item in extraction.items:
        text = _text_of(item, repairs)
        if text is None:
            continue
        cleaned = strip_quotes(text.strip())
        if cleaned != text.strip():
            repairs.append(
                Repair(
                    kind="quotes_stripped", detail="removed quotes around the text", item=item.index
                )
            )
        if not cleaned:
            repairs.append(
                Repair(
                    kind="empty_text", detail="dropped an item with an empty text", item=item.index
                )
            )
            continue
        items.append(RawItem(text=cleaned, number=item.number, key=item.key, index=item.index))
    if not items:
        raise ParseError("every response in the answer has an empty text", raw)

    weights, stated, weight_repairs = assign_weights(items, expect_probabilities)
    repairs += weight_repairs

    merged: dict[str, int] = {}
    texts: list[str] = []
    kept_stated: list[float | str | None] = []
    kept_weights: list[float] = []
    for item, weight, said in zip(items, weights, stated, strict=True):
        key = collapse_whitespace(str(item.text))
        if key in merged:
            at = merged[key]
            kept_weights[at] += weight
            repairs.append(
                Repair(
                    kind="duplicate",
                    detail=f"merged a repeat of candidate {at} and added its weight",
                    item=item.index,
                )
            )
            continue
        merged[key] = len(texts)
        texts.append(str(item.text))
        kept_stated.append(said)
        kept_weights.append(weight)

    probabilities, norm_repairs = normalize_weights(kept_weights, "elicited")
    if norm_repairs:  # all weights were zero: the uniform fallback is what is used
        kept_weights = list(probabilities)
        repairs += norm_repairs
    candidates = [
        Candidate(text=t, stated=s, weight=w, probability=p)
        for t, s, w, p in zip(texts, kept_stated, kept_weights, probabilities, strict=True)
    ]
    return ParseResult(
        candidates=candidates,
        repairs=repairs,
        truncated=extraction.truncated,
        format=extraction.format,
    )


def _text_of(item: RawItem, repairs: list[Repair]) -> str | None:
    """The item's text as a string (numbers and structures are written out, and recorded)."""
    value = item.text
    if isinstance(value, str):
        return value
    if value is None:
        repairs.append(
            Repair(kind="empty_text", detail="dropped an item with no text", item=item.index)
        )
        return None
    try:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        text = str(value)
    repairs.append(
        Repair(
            kind="non_string_text",
            detail=f"the text is a {type(value).__name__}; wrote it out as {text[:40]!r}",
            item=item.index,
        )
    )
    return text
