"""What every reader (JSON, XML, list) hands to the weighting step, and the key names it knows.

A reader only finds items: a text and the raw number the model wrote next to it. Turning
numbers into weights, cleaning texts and merging duplicates happen once, afterwards, so
every format gets the same repairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from ..distribution import Repair

Format = Literal["json", "xml", "list", "plain"]

NumberKind = Literal["plain", "percent", "nll", "logprob", "perplexity"]

TEXT_KEYS: tuple[str, ...] = (
    "text",
    "response",
    "content",
    "answer",
    "output",
    "utterance",
    "reply",
    "completion",
)
"""Keys (and XML tags) that hold a candidate's text, in order of preference."""

NUMBER_KEYS: dict[str, NumberKind] = {
    "probability": "plain",
    "confidence": "plain",
    "prob": "plain",
    "p": "plain",
    "weight": "plain",
    "score": "plain",
    "likelihood": "plain",
    "percentage": "percent",
    "percent": "percent",
    "nll": "nll",
    "neg_log_likelihood": "nll",
    "negative_log_likelihood": "nll",
    "logprob": "logprob",
    "log_prob": "logprob",
    "log_probability": "logprob",
    "log_likelihood": "logprob",
    "perplexity": "perplexity",
}
"""Keys (and XML tags) that hold a candidate's number, in order of preference, and their scale."""

EXPECTED_NUMBER_KEYS = frozenset({"probability", "confidence"})
"""The number keys vs_sim's prompts ask for; any other key is recorded as a repair."""

LIST_KEYS: tuple[str, ...] = (
    "responses",
    "candidates",
    "answers",
    "outputs",
    "items",
    "results",
    "options",
    "completions",
    "generations",
    "samples",
    "choices",
    "response",
    "answer",
    "output",
)
"""Keys under which a JSON answer may keep its list of candidates, in order of preference."""

REASONING_KEYS = frozenset(
    {"reasoning", "rationale", "explanation", "thinking", "thought", "thoughts", "analysis"}
)
"""Keys that hold the model's reasoning: never a candidate."""


@lru_cache(maxsize=4096)
def canonical_key(key: str) -> str:
    """A key as the parser compares it: lower case, ``-`` and spaces as ``_``."""
    return key.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass
class RawItem:
    """One candidate as a reader found it, before any number is interpreted.

    Attributes:
        text: The text value as decoded (usually ``str``; other JSON values are converted later).
        number: The number as written: a float, a string such as ``"35%"``, or ``None``.
        key: The canonical number key it was found under (see :data:`NUMBER_KEYS`).
        index: The item's 0-based position in the answer; repairs refer to it.
    """

    text: object
    number: object = None
    key: str = "probability"
    index: int = 0


@dataclass
class Extraction:
    """What one reader found in an answer.

    Attributes:
        items: The items, in the order the model wrote them.
        format: Which reader found them.
        repairs: What the reader had to fix or ignore to find them.
        truncated: The answer was cut off; only complete items were kept.
    """

    items: list[RawItem]
    format: Format
    repairs: list[Repair] = field(default_factory=list)
    truncated: bool = False
