"""Find the candidates in an XML-like answer.

Reads ``<response>`` blocks (or ``<candidate>``/``<item>``, whichever opens first),
optionally inside ``<responses>``, with their child tags in any order, the text under
``<text>`` (or ``<content>``, ``<answer>``, ...) or directly inside the block, and the
number in a child tag or an attribute (``<response probability="0.2">``). Entities and
CDATA are decoded. A block the answer ends inside is kept only if its text and number
are both complete.
"""

from __future__ import annotations

import re

from ..distribution import Repair
from .items import NUMBER_KEYS, TEXT_KEYS, Extraction, RawItem, canonical_key
from .text import mask_cdata, outside_repairs, unescape_xml
from .weights import number_from_text

_BLOCK = re.compile(r"<(/?)(response|candidate|item)\b([^<>]*)>", re.IGNORECASE)
_TAG = re.compile(r"<(/?)([A-Za-z_][\w.-]*)\b[^<>]*>")
_ATTR = re.compile(r"""([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>/]+))""")
_WRAPPER = re.compile(
    r"</?(?:responses|candidates|items|answer|output|result)\b[^<>]*>", re.IGNORECASE
)
_REASONING_OPEN = re.compile(r"<(reasoning|rationale|analysis)\b[^<>]*>", re.IGNORECASE)

_ATTR_LIMIT = 500  # attributes longer than this are not a model's answer format

Span = tuple[int, int, int, int]  # open tag start, content start, content end, close tag end


def first_block(body: str) -> int:
    """Where the first XML response block opens, or -1."""
    for m in _BLOCK.finditer(body):
        if not m.group(1):
            return m.start()
    return -1


def read_xml(body: str) -> Extraction | None:
    """The candidates in the XML blocks of ``body``, or ``None`` if there are no blocks."""
    start = first_block(body)
    if start < 0:
        return None
    name = _BLOCK.match(body, start).group(2).lower()  # type: ignore[union-attr]
    repairs: list[Repair] = []
    blocks: list[tuple[str, str]] = []  # attributes, content
    outside: list[str] = [body[:start]]
    open_at: int | None = None
    attrs = ""
    last_end = start
    for m in _BLOCK.finditer(body, start):
        if m.group(2).lower() != name:
            continue
        if not m.group(1):
            if open_at is not None:
                blocks.append((attrs, body[open_at : m.start()]))
                repairs.append(
                    Repair(
                        kind="unclosed_tag",
                        detail=f"a <{name}> was never closed; it ends where the next one starts",
                        item=len(blocks) - 1,
                    )
                )
            else:
                outside.append(body[last_end : m.start()])
            attrs = m.group(3)
            if attrs.rstrip().endswith("/"):  # <response text="..." probability="0.2"/>
                blocks.append((attrs.rstrip()[:-1], ""))
                open_at, last_end = None, m.end()
            else:
                open_at = m.end()
        elif open_at is not None:
            blocks.append((attrs, body[open_at : m.start()]))
            open_at, last_end = None, m.end()
    truncated = open_at is not None
    if open_at is None:
        outside.append(body[last_end:])

    items: list[RawItem] = []
    for index, (attributes, content) in enumerate(blocks):
        item = _block_item(attributes, content, index, repairs)
        if item is not None:
            items.append(item)
        elif content.strip():
            repairs.append(
                Repair(kind="item_skipped", detail=f"<{name}> {index} has no text", item=index)
            )
    if truncated:
        assert open_at is not None
        last: list[Repair] = []
        item = _block_item(attrs, body[open_at:], len(blocks), last, require_complete=True)
        if item is not None:
            items.append(item)
            repairs += last
        repairs.append(
            Repair(
                kind="truncated",
                detail=f"the answer ends inside a <{name}>; kept the {len(items)} complete item(s)",
            )
        )
    repairs[:0] = outside_repairs(
        [_without_wrappers(p) + "\n" for p in outside], f"the <{name}> blocks"
    )
    return Extraction(items, "xml", repairs, truncated)


def _without_wrappers(text: str) -> str:
    """Text outside the blocks without wrapper tags and reasoning elements (not prose)."""
    text = _WRAPPER.sub("", text)
    m = _REASONING_OPEN.search(text)
    if m is not None:
        close = re.search(rf"</{m.group(1)}\s*>", text[m.end() :], re.IGNORECASE)
        end = len(text) if close is None else m.end() + close.end()
        text = text[: m.start()] + text[end:]
    return text


def _fields(content: str) -> dict[str, Span]:
    """The first complete element of each tag name inside a block, by canonical name."""
    masked = mask_cdata(content)
    opened: dict[str, tuple[int, int]] = {}
    fields: dict[str, Span] = {}
    for m in _TAG.finditer(masked):
        key = canonical_key(m.group(2))
        if key in fields:
            continue
        if not m.group(1):
            opened.setdefault(key, (m.start(), m.end()))
        elif key in opened:
            tag_start, inner_start = opened[key]
            fields[key] = (tag_start, inner_start, m.start(), m.end())
    return fields


def _block_item(
    attributes: str,
    content: str,
    index: int,
    repairs: list[Repair],
    *,
    require_complete: bool = False,
) -> RawItem | None:
    """One candidate from a block's content; ``require_complete`` wants closed text and number."""
    fields = _fields(content)
    text_key = next((k for k in TEXT_KEYS if k in fields), None)
    text_span = fields[text_key] if text_key is not None else None
    number: object = None
    number_key = "probability"
    number_span: Span | None = None
    for key in NUMBER_KEYS:
        span = fields.get(key)
        if span is None or (text_span and text_span[1] <= span[0] and span[3] <= text_span[2]):
            continue  # absent, or markup inside the text (an HTML <p>)
        number_key, number_span = key, span
        number = number_from_text(unescape_xml(content[span[1] : span[2]]).strip())
        break
    if number_span is None:
        attrs = {
            canonical_key(m.group(1)): next(g for g in m.groups()[1:] if g is not None)
            for m in _ATTR.finditer(attributes[:_ATTR_LIMIT])
        }
        attr = next((k for k in NUMBER_KEYS if k in attrs), None)
        if attr is not None:
            number, number_key = number_from_text(unescape_xml(attrs[attr]).strip()), attr
            repairs.append(
                Repair(
                    kind="probability_attribute",
                    detail=f"read the number from the attribute {attr}=",
                    item=index,
                )
            )
    if require_complete and (text_span is None or number is None):
        return None
    if text_key is not None and text_span is not None:
        text = unescape_xml(content[text_span[1] : text_span[2]])
        if text_key != "text":
            repairs.append(
                Repair(kind="text_key", detail=f"read the text from <{text_key}>", item=index)
            )
    else:  # the text sits directly in the block, around its number element
        if number_span is not None:
            content = content[: number_span[0]] + content[number_span[3] :]
        text = unescape_xml(content)
        if not text.strip():
            return None
    return RawItem(text=text, number=number, key=number_key, index=index)
