"""Answer shares per question (and per persona attribute): sampled, soft and reference.

For each question, over the respondents that were *asked* it (skip logic's skipped ones are
left out), following :mod:`vs_sim.tasks.survey_analysis`:

- **sampled** share of an option: the share of respondents whose drawn answer is it
  (multi-select: who selected it; ranking: who ranked it first). Drawn answers that matched
  no option count under :data:`UNMATCHED`, so a single-choice question's shares sum to 1;
- **soft** share: the mean over respondents of the verbalized probability of the option; the
  mass that read as no option (or a whole unreadable reply) goes to :data:`UNMATCHED`.

Options come in questionnaire order when the run logged its questionnaire, else in order of
first appearance (numbers in numeric order). Numbers are keyed as text the way soft answers
are (``30``, ``1.5``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .rows import Row, attribute_column

if TYPE_CHECKING:
    from ..tasks.questionnaire import Questionnaire
    from ..tasks.survey_reference import Reference

UNMATCHED = "(unmatched)"
"""The option label of drawn answers and verbalized mass that matched no option."""


def option_key(value: Any) -> str:
    """An answer value as an option label (numbers as the soft answers key them)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        number = float(value)
        if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return repr(number)
    return str(value)


def group_value(value: Any) -> Any:
    """A hashable group value (lists and dicts as their text; NaN as ``None``)."""
    if isinstance(value, list | dict | set | tuple):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _question_kinds(questionnaire: Questionnaire | None) -> dict[str, tuple[str, tuple[str, ...]]]:
    if questionnaire is None:
        return {}
    return {q.id: (q.type, q.option_texts) for q in questionnaire.questions}


def _drawn_options(value: Any, kind: str | None) -> list[str]:
    if isinstance(value, list | tuple):
        if kind == "ranking":
            return [option_key(value[0])] if value else []
        return [option_key(v) for v in value]
    return [option_key(value)]


def _order(labels: list[str], declared: tuple[str, ...]) -> list[str]:
    rest = [x for x in labels if x != UNMATCHED]
    if declared:
        return list(declared) + [x for x in rest if x not in declared]
    try:
        return sorted(rest, key=float)
    except ValueError:
        return rest


def share_rows(
    answers: Iterable[Row],
    *,
    question_id: str | None = None,
    by: str | None = None,
    questionnaire: Questionnaire | None = None,
) -> list[Row]:
    """One row per question × group × option: ``count``, ``asked``, ``sampled``, ``soft``.

    Args:
        answers: Rows from :func:`~vs_sim.analysis.rows.answer_rows`.
        question_id: Only this question.
        by: A persona attribute: shares per value of it (column named after the attribute).
        questionnaire: Gives option order and question types (ranking counts first places).

    Returns:
        Rows with ``question_id``, the ``by`` column when given, ``option``, ``count``,
        ``asked``, ``sampled`` and ``soft``; an :data:`UNMATCHED` row only when non-zero.
    """
    tally = ShareTally(by, questionnaire)
    for row in answers:
        tally.write(row)
    return tally.rows(question_id)


class _Group:
    """One question in one group: respondents asked, and counts and soft sums per label."""

    def __init__(self, declared: tuple[str, ...]) -> None:
        self.fixed = {*declared, UNMATCHED}
        self.asked = 0
        self.counts: dict[str, int] = {}
        self.soft: dict[str, float] = {}
        self.uses: dict[str, int] = {}  # rows naming each label (declared ones always stay)
        for label in (*declared, UNMATCHED):
            self.counts[label] = 0
            self.soft[label] = 0.0
            self.uses[label] = 1

    def _note(self, label: str, sign: int) -> None:
        if label not in self.counts:
            self.counts[label] = 0
            self.soft[label] = 0.0
            self.uses[label] = 0
        self.uses[label] += sign

    def add(self, row: Row, kind: str | None, sign: int) -> None:
        self.asked += sign
        probs: Mapping[str, float] = row.get("soft") or {}
        for label, p in probs.items():
            self._note(label, sign)
            self.soft[label] += sign * float(p)
        if row.get("error") is not None and not probs:
            self.soft[UNMATCHED] += sign * 1.0
        else:
            self.soft[UNMATCHED] += sign * float(row.get("unmatched") or 0.0)
        if not row.get("matched") or row.get("value") is None:
            self.counts[UNMATCHED] += sign
        else:
            for label in _drawn_options(row["value"], kind):
                self._note(label, sign)
                self.counts[label] += sign
        if sign < 0:  # a label no row names any more goes (it comes back last if named again)
            for label in [k for k, uses in self.uses.items() if uses <= 0]:
                if label not in self.fixed:
                    del self.counts[label], self.soft[label], self.uses[label]

    def labels(self, declared: tuple[str, ...]) -> list[str]:
        seen = [label for label, uses in self.uses.items() if uses > 0]
        labels = _order(seen, declared)
        if self.counts[UNMATCHED] or self.soft[UNMATCHED] > 1e-12:
            labels.append(UNMATCHED)
        return labels


class ShareTally:
    """Answer shares tallied from answer rows as they come (a row sink: rows may be replaced).

    Keeps counts and soft sums per question, group and option, never the rows, so shares
    of a run of any size take the memory of its options and groups.

    Args:
        by: A persona attribute to group by (``None``: overall).
        questionnaire: Gives option order and question types.

    Attributes:
        count: Answer rows counted (replaced ones once).
        keys: Every column any of them had (to tell a ``by`` no respondent has).
    """

    def __init__(self, by: str | None = None, questionnaire: Questionnaire | None = None):
        self.by = by
        self.column = attribute_column(by) if by else None
        self.count = 0
        self.keys: set[str] = set()
        self._kinds = _question_kinds(questionnaire)
        self._groups: dict[tuple[str, Any], _Group] = {}
        self._written = 0

    def _add(self, row: Row, sign: int) -> None:
        if row.get("skipped"):
            return
        key = group_value(row.get(self.column)) if self.column else None
        qid = row["question_id"]
        group = self._groups.get((qid, key))
        kind, declared = self._kinds.get(qid, (None, ()))
        if group is None:
            group = self._groups[(qid, key)] = _Group(declared)
        group.add(row, kind, sign)
        if group.asked == 0:
            del self._groups[(qid, key)]

    def write(self, row: Row) -> int:
        """Count one answer row in."""
        self._add(row, 1)
        self.count += 1
        self.keys.update(row)
        self._written += 1
        return self._written - 1

    def replace(self, index: int, row: Row | None, old: Row) -> None:
        """An answer row changed (``None``: it was dropped)."""
        self._add(old, -1)
        self.count -= 1
        if row is not None:
            self._add(row, 1)
            self.count += 1
            self.keys.update(row)

    def rows(self, question_id: str | None = None) -> list[Row]:
        """The shares, as :func:`share_rows` returns them."""
        question_order = {q: i for i, q in enumerate(self._kinds)}
        out: list[Row] = []
        for (qid, key), group in sorted(
            self._groups.items(),
            key=lambda item: (
                question_order.get(item[0][0], len(question_order)),
                item[0][0],
                str(type(item[0][1])),
                str(item[0][1]),
            ),
        ):
            if question_id is not None and qid != question_id:
                continue
            declared = self._kinds.get(qid, (None, ()))[1]
            n = group.asked
            for label in group.labels(declared):
                row_out: Row = {"question_id": qid}
                if self.column:
                    row_out[self.column] = key
                row_out.update(
                    option=label,
                    count=group.counts[label],
                    asked=n,
                    sampled=group.counts[label] / n if n else 0.0,
                    soft=group.soft[label] / n if n else 0.0,
                )
                out.append(row_out)
        return out


def reference_share(
    reference: Reference,
    options: Mapping[str, tuple[str, ...]],
    row: Mapping[str, Any],
    by: str | None,
    column: str | None,
) -> float | None:
    """The reference share of one shares row's option, or ``None`` if it has none."""
    listed = options.get(row["question_id"], ())
    if row["option"] not in listed:
        return None
    for dist in reference.distributions:
        if dist.question_id != row["question_id"]:
            continue
        if by is None and dist.group_attribute is not None:
            continue
        if by is not None and (
            dist.group_attribute != by or str(dist.group_value) != str(row[column or by])
        ):
            continue
        return float(dist.shares[listed.index(row["option"])])
    return None
