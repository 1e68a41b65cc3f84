"""Find the candidates in a numbered or bulleted list, or a Markdown table.

Models that ignore the JSON instruction usually write one of::

    1. Paris (p=0.35)            - Paris (probability: 0.35)      **1.** Paris — 0.35
    1. Paris - 35%               Response 1: Paris [0.35]         Text: Paris
                                                                  Probability: 0.35
    | Response | Probability |
    |----------|-------------|
    | Paris    | 0.35        |

A number is taken from the end (or start) of an item only when it is clearly a
probability: it has a key (``p=``, ``probability:``), a ``%`` sign, or a decimal point
with a value in [0, 1]; so ``Born in 1990 - 2000`` keeps its numbers as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..distribution import Repair
from .items import NUMBER_KEYS, TEXT_KEYS, Extraction, RawItem, canonical_key
from .weights import number_from_text

_K = (
    r"(?:probability|prob|p|confidence|conf|likelihood|weight|score|percentage|percent"
    r"|nll|neg_log_likelihood|logprob|log_prob|perplexity)"
)
_N = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_B = r"(?:\*\*|__)?"
# The patterns avoid adjacent optional whitespace runs, which would backtrack
# quadratically on long lines of spaces.
_MARKER = re.compile(
    r"""^[ \t]*(?:\#{1,6}[ \t]+)?(?:[-*•+][ \t]+)?(?:(?:\*\*|__)[ \t]*)?
    (?:\d{1,3}[.)]|\(\d{1,3}\)|[-*•+]
      |(?:response|option|candidate|answer)[ \t]*\#?\d{1,3}[:.)]?)
    (?:[ \t]*(?:\*\*|__))?(?:[ \t]*[:.])?[ \t]+(?P<body>\S.*)$""",
    re.IGNORECASE | re.VERBOSE,
)
_FIELD_LINE = re.compile(
    rf"^[ \t]*(?:[-*•+][ \t]+)?{_B}(?:text|response|answer){_B}[ \t]*:{_B}"
    r"[ \t]+(?P<body>\S.*)$",
    re.IGNORECASE,
)
_PROB_LINE = re.compile(
    rf"^[ \t]*(?:[-*•+][ \t]*)?{_B}(?P<key>{_K}){_B}[ \t]*[:=](?:[ \t]*(?:\*\*|__))?[ \t]*"
    rf"(?P<num>{_N})(?:[ \t]*(?P<pct>%))?(?:[ \t]*(?:\*\*|__))?(?:[ \t]*\.)?[ \t]*$",
    re.IGNORECASE,
)
_KEY_ALIASES = {"conf": "confidence", "chance": "probability", "likely": "probability"}
_WINDOW = 160  # a probability annotation is never longer than this
_TRAIL = re.compile(
    rf"""(?:
        [ \t]*[(\[][ \t]*(?:(?P<k1>{_K})[ \t]*[:=]?[ \t]*)?(?P<n1>{_N})[ \t]*(?P<c1>%)?[ \t]*[)\]]
      | [ \t]*[-—–:|,][ \t]*{_B}[ \t]*(?:(?P<k2>{_K})[ \t]*[:=]?[ \t]*)?
        (?P<n2>{_N})[ \t]*(?P<c2>%)?{_B}
      | [ \t]+{_B}(?P<k3>{_K}){_B}[ \t]*[:=][ \t]*{_B}(?P<n3>{_N})[ \t]*(?P<c3>%)?{_B}
      | [ \t]*[(\[][ \t]*(?P<n4>{_N})[ \t]*(?P<c4>%)?[ \t]*
        (?P<k4>probability|prob|chance|likelihood|likely|confidence)[ \t]*[)\]]
    )[ \t]*\.?$""",
    re.IGNORECASE | re.VERBOSE,
)
_LEAD = re.compile(
    rf"""^(?:
        [(\[][ \t]*(?:(?P<k1>{_K})[ \t]*[:=]?[ \t]*)?(?P<n1>{_N})[ \t]*(?P<c1>%)?[ \t]*[)\]]
        [ \t]*[-—–:|]?
      | {_B}(?P<n2>{_N})[ \t]*(?P<c2>%)?{_B}[ \t]*[-—–:|]
    )[ \t]+(?=\S)""",
    re.IGNORECASE | re.VERBOSE,
)
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_INDEX_HEADERS = frozenset({"#", "no", "no.", "n", "rank", "id", "index", "number", ""})


@dataclass
class _Item:
    lines: list[str]
    number: float | str | None = None
    key: str = "probability"


def _key_name(raw: str | None) -> str:
    key = canonical_key(raw) if raw else "probability"
    return _KEY_ALIASES.get(key, key)


def _plausible(number: str, key: str | None, percent: bool) -> bool:
    """Whether a number found next to a list item is a probability, not part of the text."""
    if key:
        return True
    value = float(number)
    if percent:
        return 0 <= value <= 100
    return "." in number and 0 <= value <= 1


def _split_number(text: str) -> tuple[str, float | str | None, str]:
    """Take a probability off the end (or start) of an item: (text, number, key)."""
    for pattern in (_TRAIL, _LEAD):
        if pattern is _TRAIL:
            m = pattern.search(text, max(0, len(text) - _WINDOW))
        else:
            m = pattern.match(text[:_WINDOW])
        if m is None:
            continue
        for g in "1234":
            num = m.groupdict().get(f"n{g}")
            if num is None:
                continue
            key = m.groupdict().get(f"k{g}")
            percent = m.groupdict().get(f"c{g}") is not None
            if not _plausible(num, key, percent):
                break
            rest = text[: m.start()] + text[m.end() :]
            value: float | str = f"{num}%" if percent else number_from_text(num)
            return rest.strip().rstrip("-—–:|,").rstrip(), value, _key_name(key)
    return text, None, "probability"


def read_list(body: str, *, allow_unnumbered: bool = True) -> Extraction | None:
    """The candidates in a list or table in ``body``.

    Args:
        body: The answer text, without reasoning or code fences.
        allow_unnumbered: Accept a list whose items carry no numbers (at least two items).
            Direct answers turn this off, so a plain answer that contains a list stays whole.
    """
    table = _read_table(body)
    if table is not None:
        return table
    items: list[_Item] = []
    current: _Item | None = None
    stray = 0
    for line in body.splitlines():
        if not line.strip():
            continue
        prob = _PROB_LINE.match(line)
        if prob is not None:
            if current is not None and current.number is None:
                pct = prob.group("pct")
                current.number = (
                    f"{prob.group('num')}%" if pct else number_from_text(prob.group("num"))
                )
                current.key = _key_name(prob.group("key"))
            else:
                stray += len(line.strip())
            continue
        m = _MARKER.match(line) or _FIELD_LINE.match(line)
        if m is not None:
            current = _Item([m.group("body").rstrip()])
            items.append(current)
        elif current is not None and line[:1] in " \t":
            current.lines.append(line.strip())
        else:
            stray += len(line.strip())
            current = None
    if not items:
        return None
    raw: list[RawItem] = []
    for index, item in enumerate(items):
        text = "\n".join(item.lines)
        number, key = item.number, item.key
        if number is None:
            text, number, key = _split_number(text)
        raw.append(RawItem(text=text, number=number, key=key, index=index))
    numbered = sum(r.number is not None for r in raw)
    if not numbered and (not allow_unnumbered or len(raw) < 2):
        return None
    repairs = [
        Repair(
            kind="list_format",
            detail=f"read {len(raw)} item(s) from a numbered or bulleted list, not JSON",
        )
    ]
    if stray:
        repairs.insert(
            0,
            Repair(kind="surrounding_text", detail=f"ignored {stray} characters around the list"),
        )
    return Extraction(raw, "list", repairs)


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return [c.strip() for c in inner.split("|")]


def _read_table(body: str) -> Extraction | None:
    """A Markdown table with a text column and (optionally) a number column."""
    lines = body.splitlines()
    for at, line in enumerate(lines[1:], start=1):
        if "--" not in line or len(line) > 1000 or "|" not in lines[at - 1]:
            continue
        if not _TABLE_RULE.match(line):
            continue
        header = [canonical_key(re.sub(r"[*_`]", "", c)) for c in _cells(lines[at - 1])]
        text_col = next((header.index(k) for k in TEXT_KEYS if k in header), None)
        if text_col is None:
            text_col = next(
                (
                    i
                    for i, h in enumerate(header)
                    if h not in _INDEX_HEADERS and h not in NUMBER_KEYS
                ),
                None,
            )
        num_col = next(
            (i for i, h in enumerate(header) if re.sub(r"_?\(?%\)?$", "", h) in NUMBER_KEYS), None
        )
        if text_col is None:
            return None
        key = "probability" if num_col is None else re.sub(r"_?\(?%\)?$", "", header[num_col])
        percent_header = num_col is not None and "%" in header[num_col]
        raw: list[RawItem] = []
        stray = sum(len(x.strip()) for x in lines[: at - 1])
        for row in lines[at + 1 :]:
            if "|" not in row:
                stray += len(row.strip())
                continue
            cells = _cells(row)
            if text_col >= len(cells) or not cells[text_col]:
                continue
            number: float | str | None = None
            if num_col is not None and num_col < len(cells) and cells[num_col]:
                cell = cells[num_col].strip("*_ ")
                number = number_from_text(cell)
                if percent_header and isinstance(number, float):
                    number = f"{cell}%"
            raw.append(RawItem(text=cells[text_col], number=number, key=key, index=len(raw)))
        if not raw:
            return None
        repairs = [Repair(kind="table_format", detail=f"read {len(raw)} row(s) from a table")]
        if stray:
            repairs.insert(
                0,
                Repair(
                    kind="surrounding_text", detail=f"ignored {stray} characters around the table"
                ),
            )
        return Extraction(raw, "list", repairs)
    return None
