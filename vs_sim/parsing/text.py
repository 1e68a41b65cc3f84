"""Text clean-up shared by the readers: reasoning blocks, code fences, quotes, XML entities.

``strip_reasoning`` and ``strip_code_fences`` are public: other modules use them to
show a model's answer without its scaffolding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..distribution import Repair

_THINK_OPEN = re.compile(r"<(think|thinking)\b[^<>]*>", re.IGNORECASE)
_THINK_CLOSE = {
    "think": re.compile(r"</think\s*>", re.IGNORECASE),
    "thinking": re.compile(r"</thinking\s*>", re.IGNORECASE),
}
_ORPHAN_CLOSE = re.compile(r"</(?:think|thinking)\s*>", re.IGNORECASE)
_FENCE = re.compile(
    r"^[ \t]*(?:```|~~~)[ \t]*(?:(?:json5?|jsonc|python3?|py|xml|html|yaml|yml|text|txt|markdown"
    r"|md|javascript|js|plaintext)\b)?|```[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“"}
_ENTITY = re.compile(r"&(lt|gt|amp|quot|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


@dataclass
class Reasoning:
    """An answer split into what the model meant to say and its reasoning.

    Attributes:
        answer: The text without reasoning blocks.
        removed: Whether any reasoning was removed.
        unclosed: The body of an opening ``<think>`` that never closed (the model was cut
            off or forgot the tag), or ``None``.
    """

    answer: str
    removed: bool = False
    unclosed: str | None = None


def split_reasoning(text: str) -> Reasoning:
    """Separate ``<think>``/``<thinking>`` blocks from the answer.

    Handles closed blocks anywhere, a closing tag whose opening tag was in the chat
    template (everything before it is reasoning), and an unclosed leading block.
    """
    if "<" not in text:
        return Reasoning(text)
    parts: list[str] = []
    pos = 0
    removed = False
    unclosed: str | None = None
    while True:
        m = _THINK_OPEN.search(text, pos)
        if m is None:
            parts.append(text[pos:])
            break
        close = _THINK_CLOSE[m.group(1).lower()].search(text, m.end())
        if close is None:
            before = text[pos : m.start()]
            if not "".join(parts).strip() and not before.strip():
                unclosed = text[m.end() :]
                removed = True
            else:  # a stray tag inside the answer: leave the text as written
                parts.append(text[pos:])
            break
        parts.append(text[pos : m.start()])
        removed = True
        pos = close.end()
    answer = "".join(parts)
    orphan = _ORPHAN_CLOSE.search(answer)
    if orphan is not None:
        answer = answer[orphan.end() :]
        removed = True
    return Reasoning(answer.lstrip() if removed else answer, removed, unclosed)


def strip_reasoning(text: str) -> str:
    """Remove a reasoning model's ``<think>…</think>`` (or ``<thinking>``) preamble.

    A closing tag with no opening tag (the opening was part of the chat template) drops
    everything before it; an unclosed leading ``<think>`` drops everything after it,
    since the model never got to its answer.

    Example:
        >>> strip_reasoning("<think>Let me see.</think>\\nParis")
        'Paris'
    """
    return split_reasoning(text).answer


def strip_code_fences(text: str) -> str:
    """Remove Markdown code-fence markers (```` ```json ````, ```` ``` ````), keeping their content.

    A marker is a fence at the start of a line (with an optional language) or a ```` ``` ````
    ending a line; backticks inside a line are left alone.

    Example:
        >>> strip_code_fences('```json\\n{"a": 1}\\n```').strip()
        '{"a": 1}'
    """
    if "```" not in text and "~~~" not in text:
        return text
    return _FENCE.sub("", text)


def strip_quotes(text: str) -> str:
    """Strip one pair of quotes around the whole text, if the quotes are not also used inside.

    ``"Paris"`` becomes ``Paris``; ``'It's'`` and ``"A" or "B"`` are left alone.
    """
    if len(text) >= 2:
        close = QUOTE_PAIRS.get(text[0])
        if close is not None and text[-1] == close:
            inner = text[1:-1]
            if text[0] not in inner and close not in inner:
                return inner.strip()
    return text


def _entity(m: re.Match[str]) -> str:
    name = m.group(1)
    if name[0] != "#":
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return m.group(0)
    return chr(code)


def _cdata_sections(text: str) -> list[tuple[int, int]]:
    """The (content start, content end) of each complete ``<![CDATA[...]]>`` section."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while (start := text.find("<![CDATA[", pos)) >= 0:
        end = text.find("]]>", start + 9)
        if end < 0:
            break
        spans.append((start + 9, end))
        pos = end + 3
    return spans


def unescape_xml(text: str) -> str:
    """Decode XML character data: the five named entities, numeric references, and CDATA."""
    if "&" not in text and "<![" not in text:
        return text
    out: list[str] = []
    pos = 0
    for lo, hi in _cdata_sections(text):
        out.append(_ENTITY.sub(_entity, text[pos : lo - 9]))
        out.append(text[lo:hi])
        pos = hi + 3
    out.append(_ENTITY.sub(_entity, text[pos:]))
    return "".join(out)


def mask_cdata(text: str) -> str:
    """The text with every CDATA section's content blanked, so tags inside it are not read."""
    if "<![" not in text:
        return text
    out: list[str] = []
    pos = 0
    for lo, hi in _cdata_sections(text):
        out.append(text[pos:lo])
        out.append(" " * (hi - lo))
        pos = hi
    out.append(text[pos:])
    return "".join(out)


def collapse_whitespace(text: str) -> str:
    """The text with runs of whitespace as single spaces: the key duplicates are compared by."""
    return " ".join(text.split())


def outside_repairs(parts: list[str], what: str) -> list[Repair]:
    """Repairs for the text around a structure: code fences, then any other prose ignored."""
    repairs: list[Repair] = []
    joined = "".join(parts)
    unfenced = strip_code_fences(joined)
    if unfenced != joined:
        repairs.append(Repair(kind="code_fence", detail="removed Markdown code fences"))
    stray = len(unfenced.strip())
    if stray:
        repairs.append(
            Repair(kind="surrounding_text", detail=f"ignored {stray} characters around {what}")
        )
    return repairs
