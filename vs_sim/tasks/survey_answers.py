"""How a verbalized distribution becomes a respondent's answer to one question.

Each candidate text is *read* as an answer of the question's type (an option, a set of
options, an ordering, a number, or text). The respondent's **soft** answer is the verbalized
probability mass per option; candidates that read as nothing are kept, with their text,
weight and probability, as **unmatched** mass. The **hard** answer is one candidate drawn
from the whole verbalized distribution, so an unmatched draw is recorded as unmatched
rather than quietly replaced.

What the soft answer holds, per type:

- ``single_choice``, ``scale``: every option's probability (options nobody named get 0);
- ``multi_select``: every option's probability of being *selected* (a marginal);
- ``ranking``: every option's probability of being ranked *first*;
- ``numeric``: each stated number's probability (keys are the numbers as text);
- ``open_text``: each distinct text's probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..distribution import Distribution
from ..events import CandidateRecord
from .matching import (
    FUZZY_THRESHOLD,
    MULTI_SEPARATORS,
    RANKING_SEPARATORS,
    OptionMatcher,
    is_none_answer,
    parse_number,
)
from .questionnaire import (
    MultiSelectQuestion,
    NumericQuestion,
    OpenTextQuestion,
    Question,
    RankingQuestion,
)


@dataclass(frozen=True)
class ReadAnswer:
    """One candidate text read as an answer.

    Attributes:
        value: The option text (single choice, scale), option texts (multi-select, in option
            order; ranking, in ranked order), the number, or the text; ``None`` if unmatched.
        matched: Whether the text reads as a valid answer.
        how: The rule that read it: ``exact``, ``normalized``, ``label``, ``fuzzy`` (one
            option), ``list`` (several), ``none`` (an empty selection), ``number``, ``text``;
            ``None`` when unmatched.
        out_of_range: A numeric answer outside the question's range (still ``matched``).
        reason: Why an unmatched text was rejected.
    """

    value: Any
    matched: bool
    how: str | None = None
    out_of_range: bool = False
    reason: str | None = None


def number_key(value: float) -> str:
    """A number as a soft-answer key: ``30`` for 30.0, ``1.5`` for 1.5."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


class AnswerReader:
    """Reads candidate texts as answers to one question (built once per question).

    Args:
        question: The question.
        threshold: The fuzzy-match threshold for option texts.
    """

    def __init__(self, question: Question, threshold: float = FUZZY_THRESHOLD) -> None:
        self.question = question
        self.options = question.option_texts
        self.matcher = OptionMatcher(self.options, threshold)
        self._memo: dict[str, ReadAnswer] = {}

    def read(self, text: str) -> ReadAnswer:
        """The answer a candidate text gives (memoized: respondents repeat each other)."""
        found = self._memo.get(text)
        if found is None:
            found = self._read(text)
            if len(self._memo) < 100_000:
                self._memo[text] = found
        return found

    def _read(self, text: str) -> ReadAnswer:
        q = self.question
        if isinstance(q, OpenTextQuestion):
            stripped = text.strip()
            return ReadAnswer(stripped, bool(stripped), "text" if stripped else None)
        if isinstance(q, NumericQuestion):
            number = parse_number(text)
            if number is None:
                return ReadAnswer(None, False, reason="no number in the text")
            if q.integer and number.is_integer():
                number = float(int(number))
            return ReadAnswer(number, True, "number", out_of_range=not q.min <= number <= q.max)
        if isinstance(q, MultiSelectQuestion):
            return self._read_set(q, text)
        if isinstance(q, RankingQuestion):
            order = self.matcher.match_many(text, RANKING_SEPARATORS)
            if order is None:
                return ReadAnswer(None, False, reason="an item matches no option")
            if len(set(order)) != len(order):
                return ReadAnswer(None, False, reason="an option is ranked twice")
            return ReadAnswer([self.options[i] for i in order], True, "list")
        found = self.matcher.match(text)
        if found.index is None:
            return ReadAnswer(None, False, reason="matches no option")
        return ReadAnswer(self.options[found.index], True, found.how)

    def _read_set(self, q: MultiSelectQuestion, text: str) -> ReadAnswer:
        if q.min_select == 0 and is_none_answer(text) and self.matcher.match(text).index is None:
            return ReadAnswer([], True, "none")
        chosen = self.matcher.match_many(text, MULTI_SEPARATORS)
        if chosen is None:
            return ReadAnswer(None, False, reason="a part matches no option")
        picked = sorted(set(chosen))
        if not q.min_select <= len(picked) <= q.upper:
            return ReadAnswer(
                None,
                False,
                reason=f"{len(picked)} options selected; allowed {q.min_select} to {q.upper}",
            )
        how = "list" if len(picked) > 1 else self.matcher.match(text).how or "list"
        return ReadAnswer([self.options[i] for i in picked], True, how)

    # -- a whole distribution --------------------------------------------------------------
    def soft(
        self, distribution: Distribution, reads: list[ReadAnswer]
    ) -> tuple[dict[str, float], list[CandidateRecord]]:
        """The soft answer (see the module docstring) and the unmatched candidates."""
        soft: dict[str, float] = dict.fromkeys(self.options, 0.0)
        unmatched: list[CandidateRecord] = []
        q = self.question
        for cand, read in zip(distribution.candidates, reads, strict=True):
            p = cand.probability
            if not read.matched:
                unmatched.append(
                    CandidateRecord(
                        text=cand.text, stated=cand.stated, weight=cand.weight, probability=p
                    )
                )
            elif isinstance(q, MultiSelectQuestion):
                for option in read.value:
                    soft[option] += p
            elif isinstance(q, RankingQuestion):
                soft[read.value[0]] += p
            elif isinstance(q, NumericQuestion):
                key = number_key(read.value)
                soft[key] = soft.get(key, 0.0) + p
            else:
                key = str(read.value)
                soft[key] = soft.get(key, 0.0) + p
        return soft, unmatched
