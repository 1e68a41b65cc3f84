"""Comparing simulated answers with human reference shares (e.g. a published poll).

A reference file gives, per question and optionally per demographic group, the share of
people choosing each option. CSV, one row per option::

    # comments start with '#'
    question_id,group_attribute,group_value,option,share
    climate_worry,,,Very worried,0.31          <- overall (both group columns empty)
    climate_worry,age_group,18-29,Very worried,0.40

or JSON: a list of objects with the same keys (``group_attribute``/``group_value`` may be
omitted), optionally under a top-level ``"rows"`` key. Shares may be proportions or
percentages; each question-and-group's shares are divided by their sum, which must be within
5% of 1 (or of 100). Options a group does not list get share 0. Only ``single_choice`` and
``scale`` questions can have reference shares.

Metrics, per question and group, between the simulated distribution ``p`` (drawn answers, and
separately the mean verbalized distribution; unmatched answers left out and the rest
renormalized) and the reference ``q`` over the n options at positions ``x_1 < … < x_n``:

- representativeness (OpinionQA, Santurkar et al. 2023): ``1 − W₁(p, q) / (x_n − x_1)`` with
  ``W₁ = Σ_{i<n} |P_i − Q_i| (x_{i+1} − x_i)`` over the cumulative sums ``P``, ``Q``; 1 means
  identical. It is only meaningful for ordinal (``scale``) questions: ``single_choice``
  questions use positions 1..n and are flagged ``ordinal=False``;
- total variation: ``½ Σ |p_i − q_i|``;
- Jensen–Shannon divergence (base 2): ``½ KL(p‖m) + ½ KL(q‖m)``, ``m = (p + q) / 2``.

Averages are plain means over the compared questions (overall rows, or one group's rows).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..metrics import jensen_shannon, representativeness, total_variation
from .matching import normalize_text
from .questionnaire import CHOICE_TYPES, Questionnaire, ScaleQuestion
from .survey_analysis import SurveyAnswers, SurveySummary, summarize

if TYPE_CHECKING:
    import pandas as pd

COLUMNS: tuple[str, ...] = ("question_id", "group_attribute", "group_value", "option", "share")
SUM_TOLERANCE = 0.05
"""How far (relative) a group's shares may sum from 1 (or 100) before it is an error."""


@dataclass(frozen=True)
class ReferenceDistribution:
    """Human answer shares for one question, overall or in one group.

    Attributes:
        shares: One share per option of the question, in option order, summing to 1.
        where: The file and rows it came from.
    """

    question_id: str
    group_attribute: str | None
    group_value: str | None
    shares: tuple[float, ...]
    where: str


@dataclass(frozen=True)
class Reference:
    """A loaded reference file, checked against a questionnaire."""

    path: str
    distributions: tuple[ReferenceDistribution, ...]

    @property
    def group_attributes(self) -> list[str]:
        return sorted({d.group_attribute for d in self.distributions if d.group_attribute})


def _read_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(location, row) pairs from a CSV or JSON reference file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the reference file: {exc.strerror}", where=str(path)
        ) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from None
        if isinstance(data, Mapping) and "rows" in data:
            data = data["rows"]
        if not isinstance(data, list):
            raise ConfigError('expected a list of rows (or {"rows": [...]})', where=str(path))
        out = []
        for i, row in enumerate(data):
            if not isinstance(row, Mapping):
                raise ConfigError("each row must be an object", where=f"{path} [{i}]")
            out.append((f"{path} [{i}]", dict(row)))
        return out
    lines = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise ConfigError("the reference file has no header row", where=str(path))
    reader = csv.DictReader([line for _, line in lines])
    header = reader.fieldnames or []
    out = []
    for (lineno, _), row in zip(lines[1:], reader, strict=False):
        if None in row:
            raise ConfigError("more values than columns", where=f"{path}:{lineno}")
        out.append((f"{path}:{lineno}", dict(row)))
    missing = [c for c in ("question_id", "option", "share") if c not in header]
    if missing:
        raise ConfigError(
            f"missing column(s) {missing}; expected {','.join(COLUMNS)}",
            where=f"{path}:{lines[0][0]}",
        )
    return out


def load_reference(path: str | os.PathLike[str], questionnaire: Questionnaire) -> Reference:
    """Read and check a reference file (CSV or JSON; see the module docstring).

    Raises:
        ConfigError: Naming the file and row: an unknown column, question or option, a
            question type without shares, a bad or duplicate share, shares that do not sum
            to 1 (or 100).
    """
    p = Path(path)
    by_id = {q.id: q for q in questionnaire.questions}
    groups: dict[tuple[str, str | None, str | None], dict[int, float]] = {}
    origin: dict[tuple[str, str | None, str | None], list[str]] = {}
    for where, row in _read_rows(p):
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ConfigError(
                f"unknown column(s) {sorted(unknown)}; expected {list(COLUMNS)}", where=where
            )
        qid = str(row.get("question_id") or "").strip()
        question = by_id.get(qid)
        if question is None:
            raise ConfigError(
                f"unknown question {qid!r}; the questionnaire has: {', '.join(by_id)}", where=where
            )
        if question.type not in CHOICE_TYPES:
            raise ConfigError(
                f"question {qid!r} is {question.type}; reference shares need a single_choice "
                "or scale question",
                where=where,
            )
        option = str(row.get("option") or "").strip()
        index = {normalize_text(o): i for i, o in enumerate(question.option_texts)}
        i = index.get(normalize_text(option))
        if i is None:
            raise ConfigError(
                f"{option!r} is not an option of {qid!r} "
                f"(options: {', '.join(question.option_texts)})",
                where=where,
            )
        share = _share(row.get("share"), where)
        attr = str(row.get("group_attribute") or "").strip() or None
        value = row.get("group_value")
        value = None if value is None or str(value).strip() == "" else str(value).strip()
        if (attr is None) != (value is None):
            raise ConfigError("give both group_attribute and group_value, or neither", where=where)
        key = (qid, attr, value)
        shares = groups.setdefault(key, {})
        if i in shares:
            raise ConfigError(
                f"option {option!r} of {qid!r} is listed twice for this group", where=where
            )
        shares[i] = share
        origin.setdefault(key, []).append(where)
    distributions = []
    for key, shares in groups.items():
        qid, attr, value = key
        n = len(by_id[qid].options)
        total = sum(shares.values())
        where = origin[key][0] + (
            f" (and {len(origin[key]) - 1} more rows)" if len(origin[key]) > 1 else ""
        )
        scale = next((s for s in (1.0, 100.0) if abs(total - s) <= SUM_TOLERANCE * s), None)
        if scale is None:
            group = f" in group {attr}={value}" if attr else ""
            raise ConfigError(
                f"shares of {qid!r}{group} sum to {total:g}; expected 1 (or 100)", where=where
            )
        distributions.append(
            ReferenceDistribution(
                question_id=qid,
                group_attribute=attr,
                group_value=value,
                shares=tuple(shares.get(i, 0.0) / total for i in range(n)),
                where=where,
            )
        )
    if not distributions:
        raise ConfigError("the reference file has no rows", where=str(p))
    return Reference(str(p), tuple(distributions))


def _share(value: Any, where: str) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"share {value!r} is not a number", where=where) from None
    if not math.isfinite(share) or share < 0:
        raise ConfigError(f"share {value!r} must be a finite number >= 0", where=where)
    return share


@dataclass(frozen=True)
class QuestionComparison:
    """One question (and group) compared with its reference.

    The ``*_sampled`` metrics use the drawn answers, the ``*_soft`` ones the mean verbalized
    distribution; they are ``None`` when no respondent in the group gave a matched answer.
    ``ordinal`` is False for single-choice questions, whose representativeness uses positions
    1..n and is not meaningful.
    """

    question_id: str
    group_attribute: str | None
    group_value: str | None
    ordinal: bool
    n: int
    options: tuple[str, ...]
    reference: tuple[float, ...]
    sampled: tuple[float, ...] | None
    soft: tuple[float, ...] | None
    representativeness_sampled: float | None
    total_variation_sampled: float | None
    jensen_shannon_sampled: float | None
    representativeness_soft: float | None
    total_variation_soft: float | None
    jensen_shannon_soft: float | None


METRICS: tuple[str, ...] = ("representativeness", "total_variation", "jensen_shannon")


@dataclass(frozen=True)
class ReferenceComparison:
    """Every compared question and group, with averages.

    Attributes:
        reference: The reference file.
        questions: One comparison per question and group of the reference.
        notes: What could not be compared and why (e.g. a group attribute the respondents
            do not have: its rows are kept with ``n = 0`` and no metrics).
    """

    reference: str
    questions: tuple[QuestionComparison, ...]
    notes: tuple[str, ...] = ()

    def mean(
        self,
        metric: str,
        *,
        answers: str = "sampled",
        group_attribute: str | None = None,
        group_value: str | None = None,
        ordinal_only: bool = False,
    ) -> float | None:
        """The mean of ``metric`` (``representativeness``, ``total_variation``,
        ``jensen_shannon``) over the overall rows, or one group's rows.

        Args:
            answers: ``sampled`` (drawn answers) or ``soft`` (verbalized distributions).
            ordinal_only: Average over scale questions only.
        """
        if metric not in METRICS or answers not in ("sampled", "soft"):
            raise ConfigError(
                f"unknown metric {metric}_{answers}; expected one of {METRICS} "
                "with answers 'sampled' or 'soft'"
            )
        values = [
            getattr(c, f"{metric}_{answers}")
            for c in self.questions
            if c.group_attribute == group_attribute
            and (group_attribute is None or c.group_value == group_value)
            and (c.ordinal or not ordinal_only)
        ]
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if present else None

    def means(self) -> dict[str, float | None]:
        """Overall averages of every metric, for drawn and verbalized answers, plus the
        ordinal-only representativeness."""
        out: dict[str, float | None] = {}
        for answers in ("sampled", "soft"):
            for metric in METRICS:
                out[f"{metric}_{answers}"] = self.mean(metric, answers=answers)
            out[f"representativeness_ordinal_{answers}"] = self.mean(
                "representativeness", answers=answers, ordinal_only=True
            )
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per compared question and group (distributions as lists)."""
        return [dict(vars(c)) for c in self.questions]

    def to_dataframe(self) -> pd.DataFrame:
        """The :meth:`rows` as a DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows())


def _metrics(
    p: Sequence[float] | None, q: Sequence[float], positions: Sequence[float]
) -> tuple[float | None, float | None, float | None]:
    if p is None:
        return None, None, None
    return (
        representativeness(p, q, positions),
        total_variation(p, q),
        jensen_shannon(p, q),
    )


def compare_to_reference(
    answers: SurveyAnswers | SurveySummary, reference: Reference, questionnaire: Questionnaire
) -> ReferenceComparison:
    """Compare simulated answers with every distribution in ``reference``.

    Args:
        answers: The answers (summarized here by the reference's group attributes) or a
            summary already grouped by them.
        reference: From :func:`load_reference`.
        questionnaire: The questionnaire the answers and the reference belong to.
    """
    notes: list[str] = []
    if isinstance(answers, SurveySummary):
        summary = answers
    else:
        known = {k for r in answers.records for k in r.attributes}
        for attr in reference.group_attributes:
            if attr not in known:
                where = next(d.where for d in reference.distributions if d.group_attribute == attr)
                notes.append(
                    f"{where}: group attribute {attr!r} is not an attribute of the respondents "
                    f"(they have: {', '.join(sorted(known)) or 'none'}); its rows have n = 0"
                )
        by = [a for a in reference.group_attributes if a in known]
        summary = summarize(answers, questionnaire, by=by)
    out: list[QuestionComparison] = []
    for ref in reference.distributions:
        question = questionnaire.question(ref.question_id)
        positions = tuple(getattr(question, "positions", ()))
        try:
            s = summary.get(ref.question_id, ref.group_attribute, ref.group_value)
        except KeyError:
            s = None
        sampled = s.sampled_distribution() if s else None
        soft = s.soft_distribution() if s else None
        r_s, tv_s, js_s = _metrics(sampled, ref.shares, positions)
        r_v, tv_v, js_v = _metrics(soft, ref.shares, positions)
        out.append(
            QuestionComparison(
                question_id=ref.question_id,
                group_attribute=ref.group_attribute,
                group_value=ref.group_value,
                ordinal=isinstance(question, ScaleQuestion),
                n=s.asked if s else 0,
                options=question.option_texts,
                reference=ref.shares,
                sampled=sampled,
                soft=soft,
                representativeness_sampled=r_s,
                total_variation_sampled=tv_s,
                jensen_shannon_sampled=js_s,
                representativeness_soft=r_v,
                total_variation_soft=tv_v,
                jensen_shannon_soft=js_v,
            )
        )
    for c in out:
        if c.group_attribute and c.n == 0 and not any(repr(c.group_attribute) in n for n in notes):
            notes.append(
                f"no respondent has {c.group_attribute} = {c.group_value!r} "
                f"(question {c.question_id!r}); that row has n = 0"
            )
    return ReferenceComparison(reference.path, tuple(out), tuple(notes))
