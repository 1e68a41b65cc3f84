"""Reading a candidate answer: which option(s) it names, or which number it states.

A model asked to pick among options does not always copy them exactly. A candidate text is
mapped to an option by the first rule that works:

1. ``exact``: the text equals the option's text (after trimming spaces);
2. ``normalized``: equal after :func:`normalize_text` (case, accents, punctuation, spacing);
3. ``label``: the text is an option's letter or number as a list would show it (``B``,
   ``b)``, ``(2)``, ``2.``, ``Option 2``), or a label followed by an option's text
   (``B) Agree``; the text wins when label and text disagree);
4. ``fuzzy``: the highest :class:`difflib.SequenceMatcher` ratio between the normalized
   texts, if it is at least :data:`FUZZY_THRESHOLD` (ties go to the earlier option).

A candidate that matches nothing is *unmatched*: the caller records it with its text and
weight, it is never dropped.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

FUZZY_THRESHOLD = 0.8
"""The least ``difflib.SequenceMatcher.ratio()`` (0..1) for a fuzzy option match."""

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_LABEL_ONLY = re.compile(r"^[(\[]?\s*(?:option|choice|answer)?\s*([a-z]|\d{1,3})\s*[)\].:]?$", re.I)
_LABEL_PREFIX = re.compile(r"^[(\[]?\s*([a-z]|\d{1,3})\s*[)\].:]\s*(\S.*)$", re.I | re.S)
_ENUMERATION = re.compile(r"^\s*(?:#?\d{1,3}[.)]|[-*•])\s+(?=\S)")
_NONE_WORDS = frozenset({"", "none", "none of these", "none of them", "nothing", "no option"})


def normalize_text(text: str) -> str:
    """Lower case, accents folded, punctuation removed, spaces collapsed.

    Example:
        >>> normalize_text("  Strongly   AGREE! ")
        'strongly agree'
    """
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", folded).strip()


@dataclass(frozen=True)
class OptionMatch:
    """How a text maps to an option.

    Attributes:
        index: The option's index, or ``None`` when unmatched.
        how: ``exact``, ``normalized``, ``label`` or ``fuzzy`` (``None`` when unmatched).
        score: 1.0 for the first three rules; the similarity ratio for ``fuzzy``.
    """

    index: int | None
    how: str | None = None
    score: float = 0.0

    @property
    def matched(self) -> bool:
        return self.index is not None


UNMATCHED = OptionMatch(None)


class OptionMatcher:
    """Maps candidate texts to one question's options (see the module docstring).

    Built once per question; results are memoized, since many respondents give the same texts.

    Args:
        options: The option texts, in order.
        threshold: The fuzzy-match threshold (default :data:`FUZZY_THRESHOLD`).
    """

    def __init__(self, options: Sequence[str], threshold: float = FUZZY_THRESHOLD) -> None:
        self.options = tuple(options)
        self.threshold = threshold
        self._exact = {o.strip(): i for i, o in enumerate(self.options)}
        self._normalized: dict[str, int] = {}
        for i, option in enumerate(self.options):
            self._normalized.setdefault(normalize_text(option), i)
        self._memo: dict[str, OptionMatch] = {}

    def match(self, text: str, *, fuzzy: bool = True) -> OptionMatch:
        """The option ``text`` names, or :data:`UNMATCHED` (``fuzzy=False``: rules 1-3 only)."""
        found = self._memo.get(text)
        if found is None:
            found = self._match(text)
            if len(self._memo) < 100_000:
                self._memo[text] = found
        if not fuzzy and found.how == "fuzzy":
            return UNMATCHED
        return found

    def _match(self, text: str) -> OptionMatch:
        stripped = text.strip()
        if stripped in self._exact:
            return OptionMatch(self._exact[stripped], "exact", 1.0)
        norm = normalize_text(stripped)
        if norm in self._normalized:
            return OptionMatch(self._normalized[norm], "normalized", 1.0)
        label = _LABEL_ONLY.match(stripped)
        if label:
            index = self._label_index(label.group(1))
            if index is not None:
                return OptionMatch(index, "label", 1.0)
        prefixed = _LABEL_PREFIX.match(stripped)
        if prefixed:
            rest = normalize_text(prefixed.group(2))
            if rest in self._normalized:
                return OptionMatch(self._normalized[rest], "label", 1.0)
            index = self._label_index(prefixed.group(1))
            if index is not None:
                return OptionMatch(index, "label", 1.0)
        return self._fuzzy(norm)

    def _label_index(self, label: str) -> int | None:
        n = len(self.options)
        if label.isdigit():
            value = int(label)
            return value - 1 if 1 <= value <= n else None
        value = ord(label.lower()) - ord("a")
        return value if 0 <= value < n else None

    def _fuzzy(self, norm: str) -> OptionMatch:
        if not norm:
            return UNMATCHED
        best, best_score = None, 0.0
        for option, index in self._normalized.items():
            matcher = difflib.SequenceMatcher(None, norm, option, autojunk=False)
            if (
                matcher.real_quick_ratio() < self.threshold
                or matcher.quick_ratio() < self.threshold
            ):
                continue
            score = matcher.ratio()
            if score > best_score or (score == best_score and best is not None and index < best):
                best, best_score = index, score
        if best is None or best_score < self.threshold:
            return UNMATCHED
        return OptionMatch(best, "fuzzy", best_score)

    # -- several options in one text -------------------------------------------------------
    def match_many(self, text: str, separators: Sequence[re.Pattern[str]]) -> list[int] | None:
        """The options a list-like text names, in its order; ``None`` if any part is unmatched.

        The whole text is tried as one option first (without fuzzy matching). Otherwise it
        is split on the first separator that splits it, and the parts are matched, joining
        neighbours back when an option's own text holds the separator (``News, TV``) and
        splitting a part further on the remaining separators. A text no separator reads is
        matched fuzzily as a whole. Leading enumerations (``1.``, ``-``) are ignored.
        Each separator pattern must have one capturing group.
        """
        text = _ENUMERATION.sub("", text).strip()
        whole = self.match(text, fuzzy=False)
        if whole.index is not None:
            return [whole.index]
        for level, separator in enumerate(separators):
            pieces = separator.split(text)
            if sum(1 for p in pieces[::2] if p.strip()) < 2:
                continue
            found = self._segment(pieces, separators[level + 1 :])
            if found is not None:
                return found
            break
        fuzzy = self.match(text)
        return None if fuzzy.index is None else [fuzzy.index]

    def _segment(self, pieces: list[str], finer: Sequence[re.Pattern[str]]) -> list[int] | None:
        """Split ``pieces`` (texts at even, separators at odd places) into matching groups."""
        n = (len(pieces) + 1) // 2
        reach: list[list[int] | None] = [[]] + [None] * n
        for i in range(1, n + 1):
            for j in range(i):
                before = reach[j]
                if before is None:
                    continue
                group = "".join(pieces[2 * j : 2 * i - 1]).strip()
                if not group:
                    found: list[int] | None = []
                elif i - j == 1:
                    found = self.match_many(group, finer)
                else:
                    one = self.match(_ENUMERATION.sub("", group).strip(), fuzzy=False)
                    found = None if one.index is None else [one.index]
                if found is not None:
                    reach[i] = before + found
                    break
        return reach[n]


MULTI_SEPARATORS: tuple[re.Pattern[str], ...] = (
    re.compile(r"([;|\n])"),
    re.compile(r"(,)"),
    re.compile(r"(\s+(?:and|&|\+)\s+|\s*&\s*)", re.I),
)
"""How a multi-select candidate separates its options: ``A; C``, ``A, C``, ``A and C``."""

RANKING_SEPARATORS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(\s*(?:>|→|->|\n)\s*)"),
    re.compile(r"([;,])"),
    re.compile(r"(\s+then\s+)", re.I),
)
"""How a ranking candidate separates its items: ``A > B > C``, one per line, ``A, B, C``."""


def is_none_answer(text: str) -> bool:
    """The text says "none" (an empty selection, for multi-select questions allowing it)."""
    return normalize_text(text) in _NONE_WORDS


# -- numbers ---------------------------------------------------------------------------------
_NUM = r"\$?\s?(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d+)(?:\.\d+)?|\$?\.\d+"
_NUMBER = re.compile(
    rf"(?<![\w.])(?P<sign>[-+−]\s?)?(?P<a>{_NUM})"
    r"(?P<mult>\s*(?:k|thousand|m|million|bn|billion)\b)?",
    re.I,
)
_RANGE_TAIL = re.compile(rf"\s*(?:-|–|—|to|and)\s*(?P<b>{_NUM})", re.I)
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}


def _to_float(text: str) -> float:
    return float(text.replace("$", "").replace(",", "").replace(" ", ""))


def parse_number(text: str) -> float | None:
    """The number a candidate states, or ``None``.

    Reads ``$1.50`` (1.5), ``1,000`` (1000), ``about 30`` (30), ``30%`` (30), ``-5``,
    ``2.5k`` (2500); a range such as ``20-30``, ``20 to 30`` or ``between 20 and 30`` gives
    its midpoint. When a text holds several unrelated numbers the first one is used.

    Example:
        >>> parse_number("about $1,250.50")
        1250.5
    """
    found = _NUMBER.search(text)
    if not found:
        return None
    value = _to_float(found.group("a"))
    tail = _RANGE_TAIL.match(text, found.end("a"))
    if (
        tail
        and not found.group("mult")
        and (
            not tail.group(0).strip().lower().startswith("and")
            or "between" in text[: found.start()].lower()
        )
    ):
        value = (value + _to_float(tail.group("b"))) / 2
    elif found.group("mult"):
        value *= _MULTIPLIERS[found.group("mult").strip().lower()]
    if found.group("sign") and found.group("sign").strip() in ("-", "−"):
        value = -value
    return value
