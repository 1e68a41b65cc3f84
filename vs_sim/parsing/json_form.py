"""Find the candidates in a JSON (or JSON-like) answer.

Two steps: locate a value in the text (strict ``json`` first, then the lenient reader),
then find the list of candidates inside it: under ``responses`` or another list key, a
bare top-level list, one level down (``{"result": {"responses": [...]}}``), a JSON string
holding JSON, or a single answer (``{"reasoning": ..., "response": ...}``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..distribution import Repair
from .items import (
    EXPECTED_NUMBER_KEYS,
    LIST_KEYS,
    NUMBER_KEYS,
    REASONING_KEYS,
    TEXT_KEYS,
    Extraction,
    RawItem,
    canonical_key,
)
from .lenient_json import read_lenient
from .text import outside_repairs

MAX_STARTS = 32
"""How many ``{``/``[`` positions to try before giving up on finding JSON in prose."""

_DECODER = json.JSONDecoder()
_START = re.compile(r"[{\[]")
_NUMBERISH = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?:\s*%)?\s*")
_MAX_NESTING = 3


@dataclass
class Found:
    """Candidates found in a decoded value (possibly none: an empty ``responses`` list)."""

    items: list[RawItem]
    repairs: list[Repair]


def items_from_value(value: object, depth: int = 0) -> Found | None:
    """The candidates inside a decoded JSON value; ``None`` if it holds no candidate list."""
    if depth > _MAX_NESTING:
        return None
    if isinstance(value, str):
        inner = _decode_embedded(value)
        if inner is None:
            return None
        found = items_from_value(inner, depth + 1)
        if found is not None:
            found.repairs.insert(
                0, Repair(kind="double_encoded", detail="decoded JSON written inside a JSON string")
            )
        return found
    if isinstance(value, list):
        found = _items_from_list(value)
        if depth == 0:
            found.repairs.insert(
                0, Repair(kind="bare_list", detail="the answer is a bare list, not an object")
            )
        return found
    if isinstance(value, dict):
        return _items_from_object(value, depth)
    return None


def _items_from_object(obj: dict[object, object], depth: int) -> Found | None:
    if depth > _MAX_NESTING:
        return None
    keys = {canonical_key(k): k for k in obj if isinstance(k, str)}
    for name in LIST_KEYS:
        if name not in keys:
            continue
        value = obj[keys[name]]
        repairs: list[Repair] = []
        if isinstance(value, str) and (inner := _decode_embedded(value)) is not None:
            value = inner
            repairs.append(
                Repair(kind="double_encoded", detail=f"decoded the JSON string under {name!r}")
            )
        found: Found | None = None
        if isinstance(value, list):
            found = _items_from_list(value)
        elif isinstance(value, dict) and value:
            found = _items_from_mapping(value) or _items_from_object(value, depth + 1)
        if found is None:
            continue
        if name != "responses":
            repairs.append(
                Repair(kind="list_key", detail=f"read the candidates under {keys[name]!r}")
            )
        found.repairs[:0] = repairs
        return found
    if depth == 0:
        for key, value in obj.items():
            if isinstance(value, dict) and canonical_key(str(key)) not in REASONING_KEYS:
                nested = _items_from_object(value, depth + 1)
                if nested is not None and nested.items:
                    nested.repairs.insert(
                        0,
                        Repair(kind="nested_list", detail=f"read the candidates inside {key!r}"),
                    )
                    return nested
    single = _item_from_element(obj, 0, [], guess_text=False)
    if single is not None and isinstance(single.text, str):
        text_key = next(k for k in TEXT_KEYS if k in keys)
        repairs = []
        if single.number is not None or text_key not in ("response", "answer"):
            repairs.append(
                Repair(kind="single_item", detail="the answer is one object, not a list", item=0)
            )
        return Found([single], repairs)
    lists = [
        (k, v)
        for k, v in obj.items()
        if isinstance(v, list) and v and all(isinstance(e, (str, dict)) for e in v)
    ]
    if len(lists) == 1 and canonical_key(str(lists[0][0])) not in REASONING_KEYS:
        found = _items_from_list(lists[0][1])
        if found.items:
            found.repairs.insert(
                0, Repair(kind="list_key", detail=f"read the candidates under {lists[0][0]!r}")
            )
            return found
    return None


def _items_from_list(values: list[object]) -> Found:
    repairs: list[Repair] = []
    items: list[RawItem] = []
    bare = 0
    for index, element in enumerate(values):
        item = _item_from_element(element, index, repairs)
        if item is None:
            repairs.append(
                Repair(
                    kind="item_skipped",
                    detail=f"item {index} has no text: {_preview(element)}",
                    item=index,
                )
            )
            continue
        bare += isinstance(element, str)
        items.append(item)
    if bare:
        repairs.insert(
            0,
            Repair(
                kind="bare_string_items",
                detail=f"{bare} item(s) are plain strings, not objects with a text",
            ),
        )
    return Found(items, repairs)


def _items_from_mapping(mapping: dict[object, object]) -> Found | None:
    """``{"Paris": 0.4, "Lyon": 0.6}``: texts as keys, numbers as values."""
    if not all(
        (isinstance(v, (int, float)) and not isinstance(v, bool))
        or (isinstance(v, str) and _NUMBERISH.fullmatch(v))
        for v in mapping.values()
    ):
        return None
    items = [RawItem(text=str(k), number=v, index=i) for i, (k, v) in enumerate(mapping.items())]
    return Found(
        items,
        [
            Repair(
                kind="mapping_items", detail="read an object of text → number pairs as candidates"
            )
        ],
    )


def _item_from_element(
    element: object, index: int, repairs: list[Repair], *, guess_text: bool = True
) -> RawItem | None:
    """One candidate from a list element; ``guess_text`` allows a lone unknown string key."""
    if isinstance(element, str):
        return RawItem(text=element, index=index)
    if isinstance(element, (list, tuple)):
        if (
            len(element) == 2
            and isinstance(element[0], str)
            and (
                (isinstance(element[1], (int, float)) and not isinstance(element[1], bool))
                or (isinstance(element[1], str) and _NUMBERISH.fullmatch(element[1]))
            )
        ):
            repairs.append(
                Repair(kind="pair_item", detail="read a [text, number] pair", item=index)
            )
            return RawItem(text=element[0], number=element[1], index=index)
        return None
    if not isinstance(element, dict):
        return None
    keys = {canonical_key(k): k for k in element if isinstance(k, str)}
    text: object = None
    for name in TEXT_KEYS:
        if name in keys and element[keys[name]] is not None:
            text = element[keys[name]]
            if name != "text":
                repairs.append(
                    Repair(
                        kind="text_key", detail=f"read the text under {keys[name]!r}", item=index
                    )
                )
            break
    number: object = None
    number_key = "probability"
    for name in NUMBER_KEYS:
        if name in keys:
            number, number_key = element[keys[name]], name
            if name not in EXPECTED_NUMBER_KEYS and NUMBER_KEYS[name] == "plain":
                repairs.append(
                    Repair(
                        kind="number_key",
                        detail=f"read the number under {keys[name]!r}",
                        item=index,
                    )
                )
            break
    if text is None:
        if not guess_text:
            return None
        others = [
            k
            for c, k in keys.items()
            if c not in NUMBER_KEYS
            and c not in REASONING_KEYS
            and isinstance(element[k], str)
            and element[k].strip()
        ]
        if len(others) != 1:
            return None
        text = element[others[0]]
        repairs.append(
            Repair(kind="text_key", detail=f"read the text under {others[0]!r}", item=index)
        )
    return RawItem(text=text, number=number, key=number_key, index=index)


def _preview(value: object) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return "(deeply nested value)"
    return text if len(text) <= 60 else text[:60] + "…"


def _decode_embedded(text: str) -> object | None:
    """The JSON value a string holds (double-encoded answers), or ``None``."""
    stripped = text.strip()
    if stripped[:1] not in ("{", "["):
        return None
    try:
        value: object = json.loads(stripped)
    except (ValueError, RecursionError):
        pass
    else:
        return value
    lenient = read_lenient(stripped)
    if lenient is None or not isinstance(lenient.value, (dict, list)):
        return None
    return lenient.value


def read_json(body: str) -> tuple[Extraction | None, str | None]:
    """Find the first JSON value in ``body`` that holds candidates.

    Returns:
        The extraction (or ``None``) and, when nothing usable was found but something
        came close, why: an empty list, or an answer cut off before its first item.
    """
    consumed = 0
    why: str | None = None
    for tries, m in enumerate(_START.finditer(body)):
        if tries >= MAX_STARTS:
            break
        start = m.start()
        if start < consumed:
            continue
        repairs: list[Repair] = []
        truncated = False
        try:
            value, end = _DECODER.raw_decode(body, start)
        except (ValueError, RecursionError):
            lenient = read_lenient(body, start)
            if lenient is None:
                continue
            value, end, truncated = lenient.value, lenient.end, lenient.truncated
            repairs += lenient.repairs
        consumed = end
        found = items_from_value(value)
        if found is None or not found.items:
            if truncated:
                why = why or "the answer was cut off before its first complete response"
            elif found is not None:
                why = why or "the answer's list of responses is empty"
            continue
        repairs[:0] = outside_repairs([body[:start], "\n", body[end:]], "the JSON")
        repairs += found.repairs
        if truncated:
            repairs.append(
                Repair(
                    kind="truncated",
                    detail=f"the answer ends mid-way; kept the {len(found.items)} complete item(s)",
                )
            )
        return Extraction(found.items, "json", repairs, truncated), None
    return None, why
