"""Survey summaries and the reference comparison, tallied while the log streams past.

:class:`SurveyTally` gives what :func:`vs_sim.tasks.survey_analysis.summarize` and
:func:`vs_sim.tasks.survey_reference.compare_to_reference` give for
:func:`~vs_sim.tasks.survey_analysis.load_answers` of a log, but from events fed one at a
time: it keeps counts and sums per question, group and option, not the answers. What grows
with the number of respondents is small: a numeric question's in-range drawn values (8
bytes each, for the median) and an open-text question's distinct drawn texts.

A respondent's own answers are kept until its ``conversation_ended`` says ``completed`` (a
resume may record an answer again; the last record wins, as in ``load_answers``).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..events import Answer, ConversationEnded, ConversationStarted, Event

if TYPE_CHECKING:
    from ..tasks.questionnaire import Question, Questionnaire
    from ..tasks.survey_analysis import QuestionSummary, SurveySummary
    from ..tasks.survey_reference import Reference, ReferenceComparison


@dataclass
class _Respondent:
    attributes: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)


class _QuestionTally:
    """One question in one group: the sums :func:`summarize` reduces its answers to."""

    def __init__(self, question: Question) -> None:
        from ..tasks.questionnaire import (
            MultiSelectQuestion,
            NumericQuestion,
            OpenTextQuestion,
            RankingQuestion,
        )

        self.question = question
        self.multi = isinstance(question, MultiSelectQuestion)
        self.ranking = isinstance(question, RankingQuestion)
        self.numeric = isinstance(question, NumericQuestion)
        self.open_text = isinstance(question, OpenTextQuestion)
        self.range = (
            (float(question.min), float(question.max))
            if isinstance(question, NumericQuestion)
            else (0.0, 0.0)
        )
        size = len(question.option_texts)
        self.index = {o: i for i, o in enumerate(question.option_texts)}
        self.records = 0
        self.asked = 0
        self.errors = 0
        self.counts = [0] * size
        self.soft = [0.0] * size
        self.unmatched_drawn = 0
        self.unmatched_mass = 0.0
        self.rank_sums = [0.0] * size
        self.rank_counts = [0] * size
        self.drawn = 0
        self.inside = array("d")
        self.soft_means = array("d")
        self.soft_out = 0.0
        self.texts: Counter[str] = Counter()

    def add(self, a: Answer, sign: int = 1) -> None:
        """Count one answer in (``sign=-1``: take it out again)."""
        self.records += sign
        if a.skipped:
            return
        self.asked += sign
        self.errors += sign * (a.error is not None)
        unmatched = not a.matched or a.value is None
        self.unmatched_drawn += sign * unmatched
        if a.error is not None and not a.soft:
            self.unmatched_mass += sign * 1.0
        else:
            self.unmatched_mass += sign * sum(c.probability for c in a.unmatched)
        if self.numeric:
            self._numeric(a, sign)
        if self.open_text and a.matched and a.value:
            self.texts[str(a.value)] += sign
            if self.texts[str(a.value)] <= 0:
                del self.texts[str(a.value)]
        if not self.index:
            return
        for option, p in a.soft.items():
            i = self.index.get(option)
            if i is not None:
                self.soft[i] += sign * p
        if unmatched:
            return
        if self.multi:
            for option in a.value:
                self.counts[self.index[option]] += sign
        elif self.ranking:
            if a.value:
                self.counts[self.index[a.value[0]]] += sign
            for pos, option in enumerate(a.value, start=1):
                self.rank_sums[self.index[option]] += sign * pos
                self.rank_counts[self.index[option]] += sign
        elif a.value in self.index:
            self.counts[self.index[a.value]] += sign

    def _numeric(self, a: Answer, sign: int) -> None:
        low, high = self.range
        if a.matched and a.value is not None:
            value = float(a.value)
            self.drawn += sign
            if low <= value <= high:
                _put(self.inside, value, sign)
        mass, total = 0.0, 0.0
        for key, p in a.soft.items():
            v = float(key)
            if low <= v <= high:
                mass += p
                total += p * v
            else:
                self.soft_out += sign * p
        if mass > 0:
            _put(self.soft_means, total / mass, sign)

    def summary(self, attr: str | None, value: Any) -> QuestionSummary:
        from ..tasks.survey_analysis import NumericSummary, QuestionSummary

        q, n = self.question, self.asked
        numeric = None
        if self.numeric:
            inside = np.frombuffer(self.inside, dtype=np.float64) if self.inside else np.array([])
            some = inside.size > 0
            numeric = NumericSummary(
                count=self.drawn,
                out_of_range_share=(self.drawn - int(inside.size)) / n if n else 0.0,
                mean=float(inside.mean()) if some else None,
                median=float(np.median(inside)) if some else None,
                std=float(inside.std(ddof=1)) if inside.size > 1 else None,
                minimum=float(inside.min()) if some else None,
                maximum=float(inside.max()) if some else None,
                soft_mean=float(np.mean(np.frombuffer(self.soft_means, dtype=np.float64)))
                if self.soft_means
                else None,
                soft_out_of_range=self.soft_out / n if n else 0.0,
            )
        return QuestionSummary(
            question_id=q.id,
            type=q.type,
            group_attribute=attr,
            group_value=value,
            asked=n,
            skipped=self.records - n,
            errors=self.errors,
            options=q.option_texts,
            positions=tuple(getattr(q, "positions", ())),
            counts=tuple(self.counts),
            sampled=tuple(c / n if n else 0.0 for c in self.counts),
            soft=tuple(float(s) / n if n else 0.0 for s in self.soft),
            unmatched_sampled=self.unmatched_drawn / n if n else 0.0,
            unmatched_soft=self.unmatched_mass / n if n else 0.0,
            mean_rank=(
                tuple(
                    s / c if c else None
                    for s, c in zip(self.rank_sums, self.rank_counts, strict=True)
                )
                if self.ranking
                else None
            ),
            numeric=numeric,
            top_texts=tuple(self.texts.most_common(10)) if self.open_text else (),
        )


def _put(values: array[float], value: float, sign: int) -> None:
    if sign > 0:
        values.append(value)
    else:
        values.remove(value)


class SurveyTally:
    """Per-question summaries of a survey log, overall and by attributes, fed event by event.

    Args:
        questionnaire: The survey's questionnaire (answers to other questions are counted
            in :attr:`answers` but not summarized).
        by: Every attribute a summary or comparison may later be asked by.

    Attributes:
        answers: Answers recorded (one per respondent and question).
        respondents: Respondents with at least one answer.
        known: Every attribute name those respondents have.
    """

    def __init__(self, questionnaire: Questionnaire, by: Sequence[str] = ()) -> None:
        self.questionnaire = questionnaire
        self.by = list(dict.fromkeys(by))
        self.answers = 0
        self.respondents = 0
        self.known: set[str] = set()
        self._questions = {q.id: q for q in questionnaire.questions}
        self._tallies: dict[tuple[str, str | None, Any], _QuestionTally] = {}
        self._open: dict[str, _Respondent] = {}

    @property
    def held(self) -> int:
        """Respondents whose answers are held (not yet completed)."""
        return len(self._open)

    def feed_all(self, events: Iterable[Event]) -> None:
        """Feed every event of ``events`` in order."""
        for event in events:
            self.feed(event)

    def feed(self, e: Event) -> None:
        """Take the next event of the log."""
        if isinstance(e, Answer):
            self._answer(e)
        elif isinstance(e, ConversationStarted):
            attributes: dict[str, Any] = {}
            for participant in e.participants:
                attributes.update(participant.attributes)
            self._open.setdefault(e.conversation_id, _Respondent()).attributes = attributes
        elif isinstance(e, ConversationEnded) and e.status == "completed":
            self._open.pop(e.conversation_id, None)

    def _answer(self, a: Answer) -> None:
        who = self._open.setdefault(a.conversation_id, _Respondent())
        if not who.answers:
            self.respondents += 1
            self.known.update(who.attributes)
        earlier = who.answers.get(a.question_id)
        if earlier is None:
            self.answers += 1
        else:
            self._count(earlier, who.attributes, -1)
        who.answers[a.question_id] = a
        self._count(a, who.attributes, 1)

    def _count(self, a: Answer, attributes: Mapping[str, Any], sign: int) -> None:
        from ..tasks.survey_analysis import group_key

        question = self._questions.get(a.question_id)
        if question is None:
            return
        keys: list[tuple[str, str | None, Any]] = [(question.id, None, None)]
        keys += [(question.id, x, group_key(attributes[x])) for x in self.by if x in attributes]
        for key in keys:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = _QuestionTally(question)
            tally.add(a, sign)

    # -- results -----------------------------------------------------------------------------
    def summary(self, by: str | Sequence[str] | None = None) -> SurveySummary:
        """What :func:`~vs_sim.tasks.survey_analysis.summarize` gives for these answers.

        Raises:
            ConfigError: An attribute in ``by`` is not an attribute of any respondent.
            ValueError: ``by`` names an attribute this tally was not told to count by.
        """
        from ..tasks.survey_analysis import SurveySummary

        attrs = [by] if isinstance(by, str) else list(by or [])
        missing = [x for x in attrs if x not in self.by]
        if missing:
            raise ValueError(f"not tallied by {missing}; pass them as by= when creating it")
        for attr in attrs:
            if attr not in self.known and self.answers:
                raise ConfigError(
                    f"no respondent has attribute {attr!r}; "
                    f"known: {', '.join(sorted(self.known)) or 'none'}",
                    where="by",
                )
        out: list[QuestionSummary] = []
        for q in self.questionnaire.questions:
            overall = self._tallies.get((q.id, None, None)) or _QuestionTally(q)
            out.append(overall.summary(None, None))
            for attr in attrs:
                groups = {
                    key[2]: tally
                    for key, tally in self._tallies.items()
                    if key[0] == q.id and key[1] == attr and tally.records > 0
                }
                for value in sorted(groups, key=lambda v: (str(type(v)), str(v))):
                    out.append(groups[value].summary(attr, value))
        return SurveySummary(tuple(out))

    def compare(self, reference: Reference) -> ReferenceComparison:
        """What :func:`~vs_sim.tasks.survey_reference.compare_to_reference` gives for these
        answers (the reference's group attributes must be among ``by``)."""
        from ..tasks.survey_reference import ReferenceComparison, compare_to_reference

        notes: list[str] = []
        known = self.known
        for attr in reference.group_attributes:
            if attr not in known:
                where = next(d.where for d in reference.distributions if d.group_attribute == attr)
                notes.append(
                    f"{where}: group attribute {attr!r} is not an attribute of the respondents "
                    f"(they have: {', '.join(sorted(known)) or 'none'}); its rows have n = 0"
                )
        summary = self.summary([a for a in reference.group_attributes if a in known])
        compared = compare_to_reference(summary, reference, self.questionnaire)
        for c in compared.questions:
            named = any(repr(c.group_attribute) in note for note in notes)
            if c.group_attribute and c.n == 0 and not named:
                notes.append(
                    f"no respondent has {c.group_attribute} = {c.group_value!r} "
                    f"(question {c.question_id!r}); that row has n = 0"
                )
        return ReferenceComparison(compared.reference, compared.questions, tuple(notes))
