"""Reading donations from text: what a persuadee said they would give, in dollars.

Two readers, both plain regular expressions (no model call):

- :func:`read_amount` reads the answer to the final donation question ("$0.50", "1",
  "50 cents", "nothing", "all of it"): the first amount it states, with no context needed.
- :func:`extract_donation` reads a whole dialogue: the **last** donation the persuadee
  commits to in their own utterances (people revise: "maybe 50 cents... ok, make it $1"),
  or ``None`` when they never state one. Each hit names the rule that read it.

The dialogue rules (``docs/persuasion.md`` has the table with examples):

``amount``
    A sentence with a donation word (donate, donating, donation, give, giving, contribute,
    chip in, pledge, spare, put in/toward, send) states a sum of money up to the payment:
    ``$1``, ``$.50``, ``1.5 dollars``, ``two bucks``, ``a dollar fifty``, ``50 cents``, ``10c``,
    ``fifty cents``, ``a quarter``, ``a dime``, ``half a dollar``, or a bare ``1``/``0.5``
    (``0.50 cents`` is read as $0.50, the way people write it).
    Sums owned by someone (``my $2``, ``the $2 payment``) and sums above the payment
    (``I gave $20 to the Red Cross``) are not donations.
``share``
    A donation sentence states a share of the payment: ``half``, ``10%``, ``ten percent``,
    ``a quarter of it``.
``all``
    A donation sentence gives everything: ``all of it``, ``it all``, ``everything``, ``the
    whole thing``, ``the full amount``, ``every penny``, ``all $2`` → the payment.
``none``
    A refusal: ``won't donate``, ``can't give``, ``not going to donate``, ``don't want to
    contribute`` (but not ``can't donate much`` or ``can't donate until...``: a partial or
    delayed refusal says nothing), or a
    donation sentence saying ``nothing``, ``zero``, ``keep it all``, ``pass`` → $0.
``reply``
    A short answer (at most 8 words) to a persuader utterance that asked about donating,
    stating an amount, a share, everything or nothing (``$1``, ``half``, ``no thanks``).
``accept``
    A short yes (``sure``, ``ok``, ``yes``, ``deal``, ``I can do that``) to a persuader
    question about giving that names one amount ("Would you give $0.50?") → that amount.

Questions (sentences ending in ``?``) state nothing; within a sentence the first amount
after the donation word wins, else the last one before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

PAYMENT = 2.0
"""The PersuasionForGood task payment: the most a persuadee can donate, in dollars."""

REPLY_WORDS = 12
"""The most words a ``reply`` or ``accept`` utterance may have."""

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split()
)
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD_VALUES: dict[str, int] = {w: i for i, w in enumerate(_UNITS)}
_WORD_VALUES.update({w: 20 + 10 * i for i, w in enumerate(_TENS)})
_NUMWORD = rf"(?:(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(_UNITS[1:10])}))?|{'|'.join(_UNITS)})"
_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_DOLLAR_WORD = r"(?:dollars?|bucks?|usd)"
_COINS = {"quarter": 0.25, "dime": 0.10, "nickel": 0.05, "penny": 0.01}

_DONATION_WORD = re.compile(
    r"\b(?:donat(?:e|es|ing|ions?)|give|giving|contribut(?:e|ing|ions?)|chip\s+in|pledge|"
    r"spare|put\s+(?:in|towards?)|send|(?:let'?s|i'?ll|i\s+(?:can|could|will|would))\s+do|"
    r"make\s+it|go\s+with)\b",
    re.I,
)
_REFUSAL = re.compile(
    r"\b(?:won'?t|will\s+not|can'?t|cannot|can\s+not|couldn'?t|don'?t|do\s+not|not)\s+"
    r"(?:(?:really|think|want|plan|feel\s+like|be\s+able|able|going|afford|i'?ll|i\s+will|be|to)"
    r"\s+){0,4}(?:donat(?:e|ing)|give|giving|contribut(?:e|ing)|pledge)\b"
    r"(?!\s+(?:much|more|a\s+lot|that\s+much|all|everything|the\s+whole|the\s+full|as\s+much|"
    r"very|until|before|yet))",
    re.I,
)
_NOTHING = re.compile(r"\b(?:nothing|zero|none|pass)\b(?!\s+(?:else|more|of\s+my|than|on))", re.I)
_KEEP = re.compile(
    r"\bkeep\s+(?:it\s+all|all\s+of\s+it|everything|all\s+(?:my|the)\s+(?:money|payment|pay)|"
    r"the\s+(?:whole|full|entire)\s+(?:thing|amount|payment)|my\s+money|the\s+money)\b",
    re.I,
)
_NO_THANKS = re.compile(r"\b(?:no\s+thanks?|no\s+thank\s+you|not\s+today|not\s+now|nope)\b", re.I)
_ALL = re.compile(
    r"\b(?:all\s+of\s+(?:it|my|the)|it\s+all|all\s+(?:my|the)\s+(?:money|payment|pay|earnings)|"
    r"the\s+(?:whole|full|entire)\s+(?:thing|amount|payment|sum|two\s+dollars)|everything|"
    r"every\s+(?:penny|cent)|all\s+two\s+dollars)\b|\ball\s+(?:of\s+(?:my|the)\s+)?\$\s?2(?:\.00)?\b",
    re.I,
)
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|sure|ok|okay|alright|all\s+right|absolutely|definitely|of\s+course|"
    r"deal|fine|i\s+can\s+do\s+that|sounds\s+good|that\s+works|i'?ll\s+do\s+it|why\s+not)\b",
    re.I,
)
_ASKS_DONATION = re.compile(r"\bhow\s+much\b|\b(?:donat|contribut|give|giving|spare|chip)", re.I)
_OWNED = re.compile(
    r"(?:\b(?:my|the|your|our|this|their|his|her)\s+(?:whole\s+|entire\s+)?)$", re.I
)
_PAYMENT_AFTER = re.compile(
    r"^\s*(?:task\s+)?(?:payment|pay|paycheck|bonus|reward|earnings|salary|for\s+(?:this|the))\b",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Amount:
    """A sum or share found in a text (``kind`` ``amount``, ``share``, ``all`` or ``bare``)."""

    start: int
    end: int
    value: float
    """Dollars (for a ``share``: the fraction of the payment)."""
    kind: str


@dataclass(frozen=True)
class StatedDonation:
    """A donation read from a dialogue.

    Attributes:
        amount: Dollars.
        rule: The rule that read it (``amount``, ``share``, ``all``, ``none``, ``reply``,
            ``accept``; see the module docstring).
        text: The sentence it was read from.
        turn: The utterance's turn number (its index when none was given).
    """

    amount: float
    rule: str
    text: str
    turn: int


def _word_number(text: str) -> int:
    parts = re.split(r"[- ]", text.lower().strip())
    return sum(_WORD_VALUES[p] for p in parts if p)


def _cents(text: str | None) -> float:
    if not text:
        return 0.0
    text = text.strip()
    value = float(text) if text[0].isdigit() else float(_word_number(text))
    return value / 100


_Conv = Callable[["re.Match[str]"], float]
_PATTERNS: tuple[tuple[re.Pattern[str], _Conv, str], ...] = (
    (
        re.compile(rf"\$\s?({_NUM})(?:\s*{_DOLLAR_WORD})?", re.I),
        lambda m: float(m.group(1)),
        "amount",
    ),
    (
        # "0.50 cents" is how many people write fifty cents: a decimal below 1 is dollars
        re.compile(r"(?<![\w.])(0?\.\d{1,2})\s*(?:cents?\b|¢)", re.I),
        lambda m: float(m.group(1)),
        "amount",
    ),
    (
        re.compile(r"\b(\d+)\s*(?:cents?\b|¢|c\b)", re.I),
        lambda m: float(m.group(1)) / 100,
        "amount",
    ),
    (
        re.compile(rf"\b({_NUM})\s*{_DOLLAR_WORD}\b", re.I),
        lambda m: float(m.group(1)),
        "amount",
    ),
    (
        re.compile(
            rf"\b({_NUMWORD})\s+{_DOLLAR_WORD}\b(?:\s+(?:and\s+)?(\d{{1,2}}|{_NUMWORD})(?:\s+cents?)?\b)?",
            re.I,
        ),
        lambda m: _word_number(m.group(1)) + _cents(m.group(2)),
        "amount",
    ),
    (
        re.compile(rf"\b({_NUMWORD})\s+cents?\b", re.I),
        lambda m: _word_number(m.group(1)) / 100,
        "amount",
    ),
    (
        re.compile(r"\bhalf\s+(?:a|of\s+a|one)\s+(?:dollar|buck)\b", re.I),
        lambda m: 0.5,
        "amount",
    ),
    (
        re.compile(
            rf"\b(?:a|one)\s+(?:dollar|buck)\b(?:\s+(?:and\s+)?(\d{{1,2}}|{_NUMWORD})(?:\s+cents?)?\b)?",
            re.I,
        ),
        lambda m: 1.0 + _cents(m.group(1)),
        "amount",
    ),
    (
        re.compile(r"\ba\s+(quarter|third)\s+of\b", re.I),
        lambda m: 0.25 if m.group(1).lower() == "quarter" else 1 / 3,
        "share",
    ),
    (
        re.compile(r"\b(?:a|one)\s+(quarter|dime|nickel|penny)\b", re.I),
        lambda m: _COINS[m.group(1).lower()],
        "amount",
    ),
    (
        re.compile(rf"\b(\d+(?:\.\d+)?|{_NUMWORD})\s*(?:%|percent\b)", re.I),
        lambda m: (
            (float(m.group(1)) if m.group(1)[0].isdigit() else float(_word_number(m.group(1))))
            / 100
        ),
        "share",
    ),
    (re.compile(r"\bhalf\b(?!\s+(?:an?\s+hour|the\s+time))", re.I), lambda m: 0.5, "share"),
    (_ALL, lambda m: 1.0, "all"),
    (
        re.compile(r"(?<![\w$.,])(\d\.\d{1,2}|\.\d{1,2}|\d)(?![\w.,%$]|\s*(?:cents?|¢))"),
        lambda m: float(m.group(1)),
        "bare",
    ),
)


def find_amounts(text: str) -> list[Amount]:
    """Every sum, share or "all" in ``text``, left to right, without overlaps (the longest
    match wins where two overlap)."""
    found: list[Amount] = []
    for pattern, convert, kind in _PATTERNS:
        for m in pattern.finditer(text):
            found.append(Amount(m.start(), m.end(), convert(m), kind))
    found.sort(key=lambda a: (a.start, -(a.end - a.start)))
    out: list[Amount] = []
    for a in found:
        if out and a.start < out[-1].end:
            continue
        out.append(a)
    return out


def _dollars(a: Amount, payment: float) -> float:
    if a.kind == "share":
        return round(a.value * payment, 2)
    if a.kind == "all":
        return payment
    return round(a.value, 2)


def _owned(text: str, a: Amount) -> bool:
    """``my $2``, ``the $2 payment``: a sum someone has, not one they give."""
    return bool(_OWNED.search(text[: a.start])) or bool(_PAYMENT_AFTER.match(text[a.end :]))


def read_amount(text: str, *, payment: float = PAYMENT) -> tuple[float, str] | None:
    """The amount an answer to "how much do you donate?" states, and the rule that read it.

    Context-free: the first sum, share, "all" or bare number wins (bare numbers of any size,
    so an out-of-range answer is kept and can be flagged); ``nothing``/``none``/``zero`` or
    a refusal reads as 0. ``None`` when the text states no amount.

    Example:
        >>> read_amount("$0.50")
        (0.5, 'amount')
        >>> read_amount("I'd give all of it")
        (2.0, 'all')
    """
    for a in find_amounts(text):
        if a.kind == "bare":
            return float(a.value), "amount"
        if _owned(text, a) and a.kind == "amount":
            continue
        return _dollars(a, payment), a.kind
    loose = re.search(rf"\b({_NUM})\b", text)
    if loose:
        return float(loose.group(1)), "amount"
    if any(p.search(text) for p in (_REFUSAL, _KEEP, _NOTHING, _NO_THANKS)):
        return 0.0, "none"
    return None


def sentences(text: str) -> list[str]:
    """``text`` split after ``.``, ``!`` or ``?`` followed by space, and at line breaks."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _pick(sentence: str, amounts: Sequence[Amount], payment: float) -> Amount | None:
    """The amount a donation sentence commits to: the first after the donation word, else
    the last before it (owned sums and sums above the payment left out)."""
    usable = [
        a
        for a in amounts
        if not (a.kind in ("amount", "bare") and _owned(sentence, a))
        and 0 <= _dollars(a, payment) <= payment + 1e-9
    ]
    if not usable:
        return None
    verb = _DONATION_WORD.search(sentence)
    if verb is None:
        return usable[-1]
    after = [a for a in usable if a.start >= verb.start()]
    return after[0] if after else usable[-1]


def _sentence_donation(sentence: str, payment: float, *, context: bool) -> tuple[float, str] | None:
    """A donation sentence's amount (``context``: a short reply to a donation question)."""
    if sentence.rstrip().endswith("?"):
        return None
    has_word = bool(_DONATION_WORD.search(sentence))
    if not (has_word or context):
        return (0.0, "none") if _KEEP.search(sentence) else None
    amounts = find_amounts(sentence)
    if not has_word:  # a bare "1" is too weak without the word, except as a short reply
        amounts = [
            a for a in amounts if a.kind != "bare" or re.fullmatch(r"\W*[\d.]+\W*", sentence)
        ]
    chosen = _pick(sentence, amounts, payment)
    if chosen is not None:
        rule = (
            "reply"
            if context and not has_word
            else ("amount" if chosen.kind == "bare" else chosen.kind)
        )
        return _dollars(chosen, payment), rule
    if _REFUSAL.search(sentence) or _KEEP.search(sentence):
        return 0.0, "none"
    if _NOTHING.search(sentence) or (context and _NO_THANKS.search(sentence)):
        return 0.0, "reply" if context and not has_word else "none"
    return None


def _accepted(reply: str, asked: str, payment: float) -> float | None:
    """The amount a short yes accepts, when the persuader's question named exactly one."""
    if "?" not in asked or not _YES.search(reply) or not _DONATION_WORD.search(asked):
        return None
    if find_amounts(reply):
        return None
    question = next((s for s in reversed(sentences(asked)) if s.endswith("?")), asked)
    amounts = [a for a in find_amounts(question) if a.kind != "bare" and not _owned(question, a)]
    values = {_dollars(a, payment) for a in amounts}
    if len(values) != 1:
        return None
    value = values.pop()
    return value if 0 <= value <= payment else None


def utterance_donation(
    text: str, *, previous: str | None = None, payment: float = PAYMENT
) -> tuple[float, str, str] | None:
    """The donation one persuadee utterance states: ``(dollars, rule, sentence)`` or ``None``.

    Args:
        text: The persuadee's utterance.
        previous: The persuader's utterance just before it (for ``reply`` and ``accept``).
        payment: The most that can be donated.
    """
    short = len(text.split()) <= REPLY_WORDS
    asked = previous is not None and bool(_ASKS_DONATION.search(previous))
    if short and previous is not None:
        accepted = _accepted(text, previous, payment)
        if accepted is not None:
            return accepted, "accept", text.strip()
    found: tuple[float, str, str] | None = None
    for sentence in sentences(text):
        hit = _sentence_donation(sentence, payment, context=short and asked)
        if hit is not None:
            found = (hit[0], hit[1], sentence)
    return found


def extract_donation(
    turns: Iterable[tuple[str, str] | tuple[int, str, str]],
    persuadee: str,
    *,
    payment: float = PAYMENT,
) -> StatedDonation | None:
    """The last donation the persuadee states in a dialogue, or ``None``.

    Args:
        turns: The dialogue in order, as ``(speaker, text)`` or ``(turn, speaker, text)``.
        persuadee: The persuadee's speaker id (everyone else counts as the persuader).
        payment: The most that can be donated (``all`` and ``share`` are read against it).

    Example:
        >>> extract_donation([("er", "Would you donate $0.50?"), ("ee", "Sure!")], "ee")
        StatedDonation(amount=0.5, rule='accept', text='Sure!', turn=1)
    """
    last: StatedDonation | None = None
    previous: str | None = None  # the persuader's utterance right before, if any
    for index, item in enumerate(turns):
        *head, speaker, text = tuple(item)
        turn = int(str(head[0])) if head else index
        if speaker != persuadee:
            previous = str(text)
            continue
        hit = utterance_donation(str(text), previous=previous, payment=payment)
        if hit is not None:
            last = StatedDonation(amount=hit[0], rule=hit[1], text=hit[2], turn=turn)
        previous = None
    return last
