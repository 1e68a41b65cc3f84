"""The questionnaire a simulated respondent answers: questions, options, skip logic, mode.

Everything here is user-written configuration, so every model is frozen and rejects unknown
keys, and :func:`load_questionnaire` turns pydantic's errors into one
:class:`~vs_sim.errors.ConfigError` that names the file, the YAML line when known, and the
field path (``questions[3].options``).

Question types (the ``type`` key):

- ``single_choice``: one option; positions 1..n are used for distances but carry no order.
- ``scale``: an ordinal or Likert scale; options have ordinal ``position`` (default 1..n).
- ``numeric``: a number in ``[min, max]``, with an optional ``unit``.
- ``multi_select``: a set of options, between ``min_select`` and ``max_select`` of them.
- ``ranking``: the options in order of preference.
- ``open_text``: free text.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import ConfigError
from .matching import normalize_text
from .validation import config_error, field_error, read_yaml

Mode = Literal["independent", "interview"]
MODES: tuple[str, ...] = ("independent", "interview")
QUESTION_TYPES: tuple[str, ...] = (
    "single_choice",
    "scale",
    "numeric",
    "multi_select",
    "ranking",
    "open_text",
)
CHOICE_TYPES = frozenset({"single_choice", "scale"})
"""Question types whose answer is exactly one option (and that a reference file can cover)."""
OPTION_TYPES = frozenset({"single_choice", "scale", "multi_select", "ranking"})

_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")
_FROZEN = ConfigDict(extra="forbid", frozen=True)


_BOOL_HINT = "YAML reads unquoted yes/no/on/off as true/false: quote the text ('Yes')"


def value_text(value: str | float) -> str:
    """A value as option text: ``3`` for 3 or 3.0, ``2.5`` for 2.5, strings unchanged."""
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


class Option(BaseModel):
    """One answer option.

    Attributes:
        text: The option as shown to the respondent (and as written in answers).
        position: Its ordinal position (scale questions); filled with 1..n when omitted.
    """

    model_config = _FROZEN

    text: str = Field(min_length=1)
    position: float | None = None

    @field_validator("text")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("option text is empty")
        if "\n" in value:
            raise ValueError("option text must be one line")
        return value

    @field_validator("position")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("position must be a finite number")
        return value


class ShowIf(BaseModel):
    """Skip logic: show the question only if an earlier question's answer is one of ``values``.

    A multi-select answer matches when any selected option is in ``values``; a ranking when
    its first choice is; a numeric answer when it equals one of the numbers. A skipped or
    unmatched earlier answer hides the question.
    """

    model_config = _FROZEN

    question: str
    values: tuple[str | float, ...] = Field(min_length=1)

    @field_validator("values", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        values = [value] if isinstance(value, str | int | float) else value
        if isinstance(values, list | tuple):
            for j, v in enumerate(values):
                if isinstance(v, bool):
                    raise field_error(f"[{j}]", f"got the boolean {v}; {_BOOL_HINT}")
        return values


class _Question(BaseModel):
    model_config = _FROZEN

    id: str
    text: str = Field(min_length=1)
    show_if: ShowIf | None = None
    k: int | None = Field(default=None, ge=1, le=100)
    """Candidates to ask for on this question (overrides the survey's ``k``)."""

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.' only (no spaces)")
        return value

    @property
    def option_texts(self) -> tuple[str, ...]:
        """The options' texts (empty for numeric and open-text questions)."""
        options: tuple[Option, ...] = getattr(self, "options", ())
        return tuple(o.text for o in options)


class _OptionsQuestion(_Question):
    options: tuple[Option, ...]

    @field_validator("options", mode="before")
    @classmethod
    def _from_strings(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            return value
        out: list[object] = []
        for i, v in enumerate(value):
            if isinstance(v, bool):
                raise field_error(f"[{i}]", f"got the boolean {v}; {_BOOL_HINT}")
            out.append({"text": value_text(v)} if isinstance(v, str | int | float) else v)
        return out

    @field_validator("options")
    @classmethod
    def _check_options(cls, options: tuple[Option, ...]) -> tuple[Option, ...]:
        if len(options) < 2:
            raise ValueError(f"at least 2 options are needed, got {len(options)}")
        seen: dict[str, int] = {}
        for i, option in enumerate(options):
            key = normalize_text(option.text)
            if key in seen:
                raise field_error(
                    f"[{i}].text",
                    f"{option.text!r} repeats options[{seen[key]}] "
                    "(options must differ ignoring case and punctuation)",
                )
            seen[key] = i
        given = [o.position is not None for o in options]
        if any(given) and not all(given):
            missing = given.index(False)
            raise field_error(
                f"[{missing}].position", "give a position for every option or for none"
            )
        if not any(given):
            return tuple(
                o.model_copy(update={"position": float(i + 1)}) for i, o in enumerate(options)
            )
        positions = [o.position for o in options]
        for i, pos in enumerate(positions):
            if pos in positions[:i]:
                raise field_error(f"[{i}].position", f"position {pos} is used twice")
        return options

    @property
    def positions(self) -> tuple[float, ...]:
        """The options' ordinal positions, in option order."""
        return tuple(
            float(o.position if o.position is not None else i + 1)
            for i, o in enumerate(self.options)
        )


class SingleChoiceQuestion(_OptionsQuestion):
    """Exactly one of the options (unordered)."""

    type: Literal["single_choice"]


class ScaleQuestion(_OptionsQuestion):
    """An ordinal or Likert scale: one option, options ordered by ``position``."""

    type: Literal["scale"]


class MultiSelectQuestion(_OptionsQuestion):
    """Any set of the options, with between ``min_select`` and ``max_select`` chosen."""

    type: Literal["multi_select"]
    min_select: int = Field(default=1, ge=0)
    max_select: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check_bounds(self) -> MultiSelectQuestion:
        n = len(self.options)
        if self.max_select is not None and self.max_select > n:
            raise field_error("max_select", f"max_select {self.max_select} exceeds the {n} options")
        if self.min_select > self.upper:
            raise field_error("min_select", f"min_select {self.min_select} exceeds max_select")
        return self

    @property
    def upper(self) -> int:
        """The most options a respondent may select."""
        return self.max_select if self.max_select is not None else len(self.options)


class RankingQuestion(_OptionsQuestion):
    """The options in order of preference (a partial ranking is kept as given)."""

    type: Literal["ranking"]


class NumericQuestion(_Question):
    """A number in ``[min, max]``; answers outside are recorded as out of range."""

    type: Literal["numeric"]
    min: float
    max: float
    unit: str | None = None
    integer: bool = False
    """Ask for a whole number."""

    @property
    def options(self) -> tuple[Option, ...]:
        """None: the answer is not one of a list."""
        return ()

    @field_validator("max")
    @classmethod
    def _check_range(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("min")
        if not math.isfinite(value) or (low is not None and not value > low):
            raise ValueError(f"max must be a finite number greater than min ({low})")
        return value


class OpenTextQuestion(_Question):
    """Free text; the respondent's candidate texts are its answers."""

    type: Literal["open_text"]

    @property
    def options(self) -> tuple[Option, ...]:
        """None: the answer is not one of a list."""
        return ()


Question = Annotated[
    SingleChoiceQuestion
    | ScaleQuestion
    | NumericQuestion
    | MultiSelectQuestion
    | RankingQuestion
    | OpenTextQuestion,
    Field(discriminator="type"),
]


class Questionnaire(BaseModel):
    """A list of questions and how to ask them.

    Attributes:
        name: A short name (used in logs and reports).
        description: What the survey is about (for people; not shown to respondents).
        instructions: Text put before every question (e.g. "You are taking a survey about...").
        mode: ``independent`` (each question asked fresh) or ``interview`` (questions in order;
            the respondent sees its earlier questions and answers).
        questions: The questions, in order.
    """

    model_config = _FROZEN

    name: str = "survey"
    description: str | None = None
    instructions: str | None = None
    mode: Mode = "independent"
    questions: tuple[Question, ...]

    @model_validator(mode="after")
    def _check_references(self) -> Questionnaire:
        if not self.questions:
            raise field_error("questions", "the questionnaire has no questions")
        index: dict[str, int] = {}
        for i, question in enumerate(self.questions):
            if question.id in index:
                raise field_error(
                    f"questions[{i}].id",
                    f"question id {question.id!r} is already used by "
                    f"questions[{index[question.id]}]",
                )
            index[question.id] = i
        for i, question in enumerate(self.questions):
            cond = question.show_if
            if cond is None:
                continue
            target = index.get(cond.question)
            where = f"questions[{i}].show_if.question"
            if target is None:
                earlier = ", ".join(q.id for q in self.questions[:i]) or "none"
                raise field_error(
                    where, f"unknown question {cond.question!r} (earlier questions: {earlier})"
                )
            if target >= i:
                raise field_error(
                    where,
                    f"question {cond.question!r} is questions[{target}], not an earlier question",
                )
            _check_show_if_values(self.questions[target], cond, f"questions[{i}].show_if.values")
        return self

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.questions)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(q.id for q in self.questions)

    def question(self, question_id: str) -> Question:
        """The question with this id (``KeyError`` naming the known ids if none)."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(f"no question {question_id!r}; known: {', '.join(self.ids)}")

    # -- construction and serialization ----------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str | None = None) -> Questionnaire:
        """Validate a questionnaire from plain data (e.g. parsed YAML).

        Raises:
            ConfigError: Naming ``where`` (a file) and the field path of the first problem.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise config_error(exc, where=where, tags=QUESTION_TYPES) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal questionnaire."""
        data = self.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        first = ("id", "text", "type")
        data["questions"] = [
            {**{k: q[k] for k in first}, **{k: v for k, v in q.items() if k not in first}}
            for q in data["questions"]
        ]
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def _check_show_if_values(target: Question, cond: ShowIf, where: str) -> None:
    texts = {normalize_text(o.text): o.text for o in target.options}
    for j, value in enumerate(cond.values):
        if isinstance(target, NumericQuestion):
            if isinstance(value, str):
                raise field_error(f"{where}[{j}]", f"{cond.question!r} is numeric; give a number")
        elif texts and normalize_text(value_text(value)) not in texts:
            raise field_error(
                f"{where}[{j}]",
                f"{value!r} is not an option of {cond.question!r} "
                f"(options: {', '.join(texts.values())})",
            )


def load_questionnaire(path: str | os.PathLike[str]) -> Questionnaire:
    """Read a questionnaire from a YAML or JSON file.

    Raises:
        ConfigError: The file is missing or unreadable, or a field is invalid (naming the
            file, the line and the field path).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the questionnaire: {exc.strerror}", where=str(p)) from None
    try:
        data = json.loads(text) if p.suffix == ".json" else read_yaml(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not valid YAML/JSON: {exc}", where=str(p)) from None
    nested = isinstance(data, Mapping) and "questionnaire" in data and "questions" not in data
    if nested:
        data = data["questionnaire"]
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping with a 'questions' list", where=str(p))
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as exc:
        raise config_error(
            exc,
            where=str(p),
            source=text,
            prefix="questionnaire" if nested else "",
            tags=QUESTION_TYPES,
        ) from None
