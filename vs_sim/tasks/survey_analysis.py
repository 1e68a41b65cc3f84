"""Survey tables from the event log: answers per respondent, shares per question and group.

Everything is recomputed from the log (pure Python and numpy; pandas only inside
``to_dataframe()``). For each question, overall and per demographic group:

- **sampled** shares: the share of respondents shown the question whose *drawn* answer is
  each option (multi-select: who selected it; ranking: who ranked it first);
- **soft** shares: the mean over those respondents of the verbalized probability of each
  option (multi-select: of selecting it; ranking: of ranking it first);
- **unmatched** shares: the drawn answers, and the mean verbalized mass, that read as no
  option. A question asked but left without any distribution (an unreadable reply, logged
  with ``error``) counts as fully unmatched. So for single-choice and scale questions
  ``sum(sampled) + unmatched_sampled == 1`` and likewise for soft.

Respondents that skip logic did not show the question are counted in ``skipped`` and left
out of every share.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..events import Answer, ConversationStarted, Event, read_events
from .questionnaire import (
    MultiSelectQuestion,
    NumericQuestion,
    OpenTextQuestion,
    Question,
    Questionnaire,
    RankingQuestion,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class AnswerRecord:
    """One respondent's recorded answer to one question, with the respondent's attributes."""

    respondent_id: str
    attributes: Mapping[str, Any]
    answer: Answer


@dataclass(frozen=True)
class SurveyAnswers:
    """Every answer a log holds (the last record wins if a question was answered twice)."""

    records: tuple[AnswerRecord, ...]

    def __len__(self) -> int:
        return len(self.records)

    def for_question(self, question_id: str) -> list[AnswerRecord]:
        return [r for r in self.records if r.answer.question_id == question_id]

    def respondents(self) -> dict[str, Mapping[str, Any]]:
        """Each respondent's attributes, by respondent id."""
        return {r.respondent_id: r.attributes for r in self.records}

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per answer (attributes as ``attr.<name>`` columns)."""
        out = []
        for r in self.records:
            a = r.answer
            row: dict[str, Any] = {
                "respondent_id": r.respondent_id,
                "question_id": a.question_id,
                "value": a.value,
                "matched": a.matched,
                "matched_by": a.matched_by,
                "skipped": a.skipped,
                "out_of_range": a.out_of_range,
                "raw": a.raw,
                "error": a.error,
                "unmatched_mass": sum(c.probability for c in a.unmatched),
                "soft": dict(a.soft),
            }
            row.update({f"attr.{k}": v for k, v in r.attributes.items()})
            out.append(row)
        return out

    def to_dataframe(self) -> pd.DataFrame:
        """The :meth:`rows` as a DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows())


def load_answers(source: str | os.PathLike[str] | Iterable[Event]) -> SurveyAnswers:
    """Collect survey answers from an event log (a path or events already read)."""
    events = read_events(source) if isinstance(source, str | os.PathLike) else source
    attributes: dict[str, Mapping[str, Any]] = {}
    answers: dict[tuple[str, str], Answer] = {}
    for event in events:
        if isinstance(event, ConversationStarted):
            attrs: dict[str, Any] = {}
            for participant in event.participants:
                attrs.update(participant.attributes)
            attributes[event.conversation_id] = attrs
        elif isinstance(event, Answer):
            answers[(event.conversation_id, event.question_id)] = event
    records = tuple(
        AnswerRecord(rid, attributes.get(rid, {}), answer) for (rid, _), answer in answers.items()
    )
    return SurveyAnswers(records)


@dataclass(frozen=True)
class NumericSummary:
    """Numeric answers of one question and group.

    Statistics are over the drawn in-range answers; ``soft_mean`` is the mean over
    respondents of each one's verbalized expected value (in-range mass renormalized).
    """

    count: int
    out_of_range_share: float
    mean: float | None
    median: float | None
    std: float | None
    minimum: float | None
    maximum: float | None
    soft_mean: float | None
    soft_out_of_range: float


@dataclass(frozen=True)
class QuestionSummary:
    """One question's answers, overall (``group_attribute`` is ``None``) or in one group.

    Attributes:
        asked: Respondents shown the question.
        skipped: Respondents skip logic did not show it to.
        errors: Asked, but the reply could not be read at all.
        options: The options (empty for numeric and open-text questions).
        positions: The options' ordinal positions.
        counts: Drawn answers per option (see the module docstring for each type).
        sampled: ``counts / asked``.
        soft: Mean verbalized probability per option.
        unmatched_sampled: Share of drawn answers that matched nothing (errors included).
        unmatched_soft: Mean verbalized mass that matched nothing.
        mean_rank: Ranking only: each option's mean position (1 = first) among drawn
            rankings that include it.
        numeric: Numeric questions only.
        top_texts: Open text only: the most frequent drawn texts and their counts.
    """

    question_id: str
    type: str
    group_attribute: str | None
    group_value: Any
    asked: int
    skipped: int
    errors: int
    options: tuple[str, ...]
    positions: tuple[float, ...]
    counts: tuple[int, ...]
    sampled: tuple[float, ...]
    soft: tuple[float, ...]
    unmatched_sampled: float
    unmatched_soft: float
    mean_rank: tuple[float | None, ...] | None = None
    numeric: NumericSummary | None = None
    top_texts: tuple[tuple[str, int], ...] = ()

    def sampled_distribution(self) -> tuple[float, ...] | None:
        """Sampled shares over the options only (unmatched left out), or ``None`` if none."""
        return _renormalized(self.sampled)

    def soft_distribution(self) -> tuple[float, ...] | None:
        """Soft shares over the options only (unmatched mass left out), or ``None`` if none."""
        return _renormalized(self.soft)


def _renormalized(shares: Sequence[float]) -> tuple[float, ...] | None:
    total = float(sum(shares))
    if total <= 0:
        return None
    return tuple(s / total for s in shares)


def _summarize(
    question: Question, records: Sequence[AnswerRecord], attr: str | None, value: Any
) -> QuestionSummary:
    answers = [r.answer for r in records]
    asked = [a for a in answers if not a.skipped]
    n = len(asked)
    options = question.option_texts
    index = {o: i for i, o in enumerate(options)}
    counts = [0] * len(options)
    soft = np.zeros(len(options))
    unmatched_drawn = 0
    unmatched_mass = 0.0
    rank_sums = [0.0] * len(options)
    rank_counts = [0] * len(options)
    for a in asked:
        if not a.matched or a.value is None:
            unmatched_drawn += 1
        if a.error is not None and not a.soft:
            unmatched_mass += 1.0
        else:
            unmatched_mass += sum(c.probability for c in a.unmatched)
        if not options:
            continue
        for option, p in a.soft.items():
            i = index.get(option)
            if i is not None:
                soft[i] += p
        if not a.matched or a.value is None:
            continue
        if isinstance(question, MultiSelectQuestion):
            for option in a.value:
                counts[index[option]] += 1
        elif isinstance(question, RankingQuestion):
            if a.value:
                counts[index[a.value[0]]] += 1
            for pos, option in enumerate(a.value, start=1):
                rank_sums[index[option]] += pos
                rank_counts[index[option]] += 1
        elif a.value in index:
            counts[index[a.value]] += 1
    return QuestionSummary(
        question_id=question.id,
        type=question.type,
        group_attribute=attr,
        group_value=value,
        asked=n,
        skipped=len(answers) - n,
        errors=sum(1 for a in asked if a.error is not None),
        options=options,
        positions=tuple(getattr(question, "positions", ())),
        counts=tuple(counts),
        sampled=tuple(c / n if n else 0.0 for c in counts),
        soft=tuple(float(s) / n if n else 0.0 for s in soft),
        unmatched_sampled=unmatched_drawn / n if n else 0.0,
        unmatched_soft=unmatched_mass / n if n else 0.0,
        mean_rank=(
            tuple(s / c if c else None for s, c in zip(rank_sums, rank_counts, strict=True))
            if isinstance(question, RankingQuestion)
            else None
        ),
        numeric=_numeric(question, asked) if isinstance(question, NumericQuestion) else None,
        top_texts=(
            tuple(Counter(str(a.value) for a in asked if a.matched and a.value).most_common(10))
            if isinstance(question, OpenTextQuestion)
            else ()
        ),
    )


def _numeric(question: NumericQuestion, asked: Sequence[Answer]) -> NumericSummary:
    drawn = [float(a.value) for a in asked if a.matched and a.value is not None]
    inside = np.array([v for v in drawn if question.min <= v <= question.max])
    soft_means: list[float] = []
    soft_out = 0.0
    for a in asked:
        mass, total = 0.0, 0.0
        for key, p in a.soft.items():
            v = float(key)
            if question.min <= v <= question.max:
                mass += p
                total += p * v
            else:
                soft_out += p
        if mass > 0:
            soft_means.append(total / mass)
    n = len(asked)
    some = inside.size > 0
    return NumericSummary(
        count=len(drawn),
        out_of_range_share=(len(drawn) - int(inside.size)) / n if n else 0.0,
        mean=float(inside.mean()) if some else None,
        median=float(np.median(inside)) if some else None,
        std=float(inside.std(ddof=1)) if inside.size > 1 else None,
        minimum=float(inside.min()) if some else None,
        maximum=float(inside.max()) if some else None,
        soft_mean=float(np.mean(soft_means)) if soft_means else None,
        soft_out_of_range=soft_out / n if n else 0.0,
    )


def group_key(value: Any) -> Any:
    """A hashable group value (lists and dicts become their text)."""
    if isinstance(value, list | dict | set):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass(frozen=True)
class SurveySummary:
    """Every question's :class:`QuestionSummary`, overall and per group."""

    questions: tuple[QuestionSummary, ...]

    def get(
        self, question_id: str, group_attribute: str | None = None, group_value: Any = None
    ) -> QuestionSummary:
        """One question's summary, overall or for ``group_attribute == group_value``."""
        for s in self.questions:
            if (s.question_id, s.group_attribute) == (question_id, group_attribute) and (
                group_attribute is None or str(s.group_value) == str(group_value)
            ):
                return s
        raise KeyError(
            f"no summary for question {question_id!r}"
            + (f" in group {group_attribute}={group_value!r}" if group_attribute else "")
        )

    def overall(self) -> list[QuestionSummary]:
        return [s for s in self.questions if s.group_attribute is None]

    def rows(self) -> list[dict[str, Any]]:
        """A long table: one row per question × group × option (one row for numeric and
        open-text questions, with ``option`` empty)."""
        out: list[dict[str, Any]] = []
        for s in self.questions:
            base = {
                "question_id": s.question_id,
                "type": s.type,
                "group_attribute": s.group_attribute,
                "group_value": s.group_value,
                "asked": s.asked,
                "skipped": s.skipped,
                "errors": s.errors,
                "unmatched_sampled": s.unmatched_sampled,
                "unmatched_soft": s.unmatched_soft,
            }
            if not s.options:
                row = {**base, "option": None}
                if s.numeric is not None:
                    row.update({f"numeric_{k}": v for k, v in vars(s.numeric).items()})
                out.append(row)
                continue
            for i, option in enumerate(s.options):
                row = {
                    **base,
                    "option": option,
                    "position": s.positions[i] if s.positions else None,
                    "count": s.counts[i],
                    "sampled_share": s.sampled[i],
                    "soft_share": s.soft[i],
                }
                if s.mean_rank is not None:
                    row["mean_rank"] = s.mean_rank[i]
                out.append(row)
        return out

    def to_dataframe(self) -> pd.DataFrame:
        """The :meth:`rows` as a DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows())


def summarize(
    answers: SurveyAnswers,
    questionnaire: Questionnaire,
    by: str | Sequence[str] | None = None,
) -> SurveySummary:
    """Summaries of every question, overall and per value of each attribute in ``by``.

    Raises:
        ConfigError: An attribute in ``by`` is not an attribute of any respondent.
    """
    attrs = [by] if isinstance(by, str) else list(by or [])
    known = {k for r in answers.records for k in r.attributes}
    for attr in attrs:
        if attr not in known and answers.records:
            raise ConfigError(
                f"no respondent has attribute {attr!r}; "
                f"known: {', '.join(sorted(known)) or 'none'}",
                where="by",
            )
    grouped: dict[str, list[AnswerRecord]] = {q.id: [] for q in questionnaire.questions}
    for r in answers.records:
        if r.answer.question_id in grouped:
            grouped[r.answer.question_id].append(r)
    out: list[QuestionSummary] = []
    for q in questionnaire.questions:
        records = grouped[q.id]
        out.append(_summarize(q, records, None, None))
        for attr in attrs:
            groups: dict[Any, list[AnswerRecord]] = {}
            for r in records:
                if attr in r.attributes:
                    groups.setdefault(group_key(r.attributes[attr]), []).append(r)
            for value in sorted(groups, key=lambda v: (str(type(v)), str(v))):
                out.append(_summarize(q, groups[value], attr, value))
    return SurveySummary(tuple(out))
