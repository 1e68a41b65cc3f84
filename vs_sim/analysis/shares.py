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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .rows import Row, attribute_column

if TYPE_CHECKING:
    from ..tasks.questionnaire import Questionnaire

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
    answers: Sequence[Row],
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
    kinds = _question_kinds(questionnaire)
    column = attribute_column(by) if by else None
    groups: dict[tuple[str, Any], list[Row]] = {}
    for row in answers:
        if question_id is not None and row["question_id"] != question_id:
            continue
        if row.get("skipped"):
            continue
        key = group_value(row.get(column)) if column else None
        groups.setdefault((row["question_id"], key), []).append(row)
    question_order = {q: i for i, q in enumerate(kinds)}
    out: list[Row] = []
    for (qid, key), rows in sorted(
        groups.items(),
        key=lambda item: (
            question_order.get(item[0][0], len(question_order)),
            item[0][0],
            str(type(item[0][1])),
            str(item[0][1]),
        ),
    ):
        kind, declared = kinds.get(qid, (None, ()))
        out.extend(_shares_of(qid, rows, kind, declared, column, key))
    return out


def _shares_of(
    qid: str,
    rows: Sequence[Row],
    kind: str | None,
    declared: tuple[str, ...],
    column: str | None,
    key: Any,
) -> list[Row]:
    n = len(rows)
    counts: dict[str, int] = {}
    soft: dict[str, float] = {}
    seen: list[str] = []

    def note(label: str) -> None:
        if label not in counts:
            counts[label] = 0
            soft[label] = 0.0
            seen.append(label)

    for label in (*declared, UNMATCHED):
        note(label)
    for row in rows:
        probs: Mapping[str, float] = row.get("soft") or {}
        for label, p in probs.items():
            note(label)
            soft[label] += float(p)
        if row.get("error") is not None and not probs:
            soft[UNMATCHED] += 1.0
        else:
            soft[UNMATCHED] += float(row.get("unmatched") or 0.0)
        if not row.get("matched") or row.get("value") is None:
            counts[UNMATCHED] += 1
            continue
        for label in _drawn_options(row["value"], kind):
            note(label)
            counts[label] += 1
    labels = _order(seen, declared)
    if counts[UNMATCHED] or soft[UNMATCHED] > 1e-12:
        labels.append(UNMATCHED)
    out: list[Row] = []
    for label in labels:
        row_out: Row = {"question_id": qid}
        if column:
            row_out[column] = key
        row_out.update(
            option=label,
            count=counts[label],
            asked=n,
            sampled=counts[label] / n if n else 0.0,
            soft=soft[label] / n if n else 0.0,
        )
        out.append(row_out)
    return out
