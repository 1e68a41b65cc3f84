"""The scenario file's schema: every section a user writes, as frozen pydantic models.

A scenario describes one study: the model(s), the seed and size, who takes part (a
population spec, or a fixed list of personas), the task (``survey``, ``conversation``,
``persuasion`` or ``focus_group``) and its section, and what to write out. Every model
rejects unknown keys, so a typo is an error naming the field, not a silently ignored
setting. Loading (files, line numbers, cross-checks) is in :mod:`vs_sim.scenarios`; the
field-by-field reference is ``docs/scenarios.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .methods import METHOD_NAMES
from .scenario_conversation import (
    SCHEDULERS,
    AgentSpec,
    ConversationSection,
    SchedulerSpec,
    TerminationSpec,
)
from .tasks.validation import field_error

__all__ = [
    "DEFAULT_MODEL",
    "SCHEDULERS",
    "TASKS",
    "AgentSpec",
    "ConversationSection",
    "ModelSpec",
    "OutputsSpec",
    "PersonaSpec",
    "Scenario",
    "SchedulerSpec",
    "SurveySection",
    "TerminationSpec",
]

TASKS: tuple[str, ...] = ("survey", "conversation", "persuasion", "focus_group")
Task = Literal["survey", "conversation", "persuasion", "focus_group"]
DEFAULT_MODEL = "offline/demo"
"""The model a scenario runs on when it configures none (its text is synthetic)."""

_FROZEN = ConfigDict(extra="forbid", frozen=True)
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _name_form(value: Any) -> Any:
    """Let a bare string stand for ``{name: <string>}`` (models, schedulers)."""
    return {"name": value} if isinstance(value, str) else value


class ModelSpec(BaseModel):
    """A model and its parameters (``model:`` or an entry of ``models:``).

    A bare string is shorthand for ``{name: <string>}``.

    Attributes:
        name: ``offline/<anything>`` (no network, synthetic text) or a litellm model name.
        api_base: The server's address (an OpenAI-compatible server, vLLM, Ollama, ...).
        key_env: The environment variable holding the API key (never the key itself).
        temperature: The model's sampling temperature on every call.
        max_tokens: The most tokens per answer.
        concurrency: Calls in flight at once.
        rpm: Requests per minute to stay under.
        tpm: Tokens per minute to stay under.
        max_retries: Retries after a failed attempt.
        timeout: Seconds per attempt.
        cache: ``true``/``false``, or a cache file (relative to the scenario); default: on
            for hosted models, off for the offline model.
        json_schema: Override whether the provider takes a JSON schema.
    """

    model_config = _FROZEN

    name: str = Field(default=DEFAULT_MODEL, min_length=1)
    api_base: str | None = None
    key_env: str | None = None
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default=16, ge=1)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    max_retries: int = Field(default=4, ge=0)
    timeout: float | None = Field(default=60.0, gt=0)
    cache: bool | str | None = None
    json_schema: bool | None = None

    @property
    def offline(self) -> bool:
        """Whether this is the offline model (synthetic text, no cost)."""
        return self.name.startswith("offline/")


class PersonaSpec(BaseModel):
    """One fixed persona: a template and its attributes (an entry of ``personas:``).

    Attributes:
        id: Its id in the log (default ``p00001``, ``p00002``, ... by position).
        template: The persona template's name (e.g. ``survey_respondent``).
        attributes: The values the template is rendered with.
    """

    model_config = _FROZEN

    id: str | None = None
    template: str = Field(min_length=1)
    attributes: dict[str, Any] = Field(default_factory=dict)


class SurveySection(BaseModel):
    """The ``survey:`` section: a questionnaire asked of every persona.

    Attributes:
        questionnaire: A questionnaire file (YAML/JSON, relative to the scenario) or the
            questionnaire itself, inline.
        mode: ``independent`` or ``interview``; default: the questionnaire's mode.
        method: The Verbalized Sampling method for every question.
        k: Candidates per question (default: the number of options; 5 without options).
        template: A question template (``.j2`` file or template text).
        fuzzy_threshold: The least similarity for a fuzzy option match.
        verbalize: More ``averbalize`` options (``tau``, ``normalization``, ``wording``, ...).
        questions: Ask only these questions of the questionnaire (by id, in its order); the
            reference is then compared on them only.
        reference: Human answer shares to compare with (CSV or JSON, relative to the scenario).
        by: Persona attributes to summarize (and compare) answers by.
    """

    model_config = _FROZEN

    questionnaire: str | dict[str, Any]
    mode: Literal["independent", "interview"] | None = None
    method: str = "vs_standard"
    k: int | None = Field(default=None, ge=1, le=100)
    template: str | None = None
    fuzzy_threshold: float | None = Field(default=None, gt=0, le=1)
    verbalize: dict[str, Any] = Field(default_factory=dict)
    questions: tuple[str, ...] | None = Field(default=None, min_length=1)
    reference: str | None = None
    by: tuple[str, ...] = ()

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in METHOD_NAMES:
            raise ValueError(f"unknown method {value!r}; expected one of {', '.join(METHOD_NAMES)}")
        return value

    @field_validator("by", "questions", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class OutputsSpec(BaseModel):
    """What a run writes besides its event log.

    Attributes:
        folder: Where run folders go (``runs/<name>-<time>``); unlike the other paths, this
            one is relative to the current folder, since runs are outputs, not inputs.
        graph: Write ``graph.graphml`` and ``graph.json``: ``auto`` (the default) when the
            run has at most 20,000 utterances and answers (a bigger graph is slow to write
            and to open, and holds nothing the tables do not; ``summary.json`` then says how
            to build it), ``true`` always, ``false`` never.
        tables: Write ``tables/*.csv``.
        report: ``html`` (``report.html``, with ``report.md``), ``markdown`` (``report.md``)
            or ``none``.
    """

    model_config = _FROZEN

    folder: str = "runs"
    graph: bool | Literal["auto"] = "auto"
    tables: bool = True
    report: Literal["html", "markdown", "none"] = "html"

    @field_validator("graph", mode="before")
    @classmethod
    def _auto_or_bool(cls, value: Any) -> Any:
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError(f"expected auto, true or false, got {value!r}")


class Scenario(BaseModel):
    """A whole study in one file; see ``docs/scenarios.md`` for every field.

    Attributes:
        name: Names the run folder (letters, digits, ``_``, ``-``, ``.``).
        description: For people reading the file and the report.
        task: ``survey``, ``conversation``, ``persuasion`` or ``focus_group``; default: the
            one task section present.
        model: The run's model (``null``: the offline model, whose text is synthetic).
        models: More models by key, for agents (``model: <key>``) and schedulers.
        seed: The run seed; every random draw derives from it.
        n: Respondents (survey) or conversations (the other tasks).
        concurrency: Units (respondents, conversations) running at once.
        max_cost: Stop the run when its calls have cost this many dollars.
        population: A population spec file (relative to the scenario, or the name of a
            built-in one such as ``us_adults``) or an inline spec.
        personas: A fixed list of personas instead of a population.
        persona_paths: Folders of extra persona templates (relative to the scenario).
        survey: The survey section (task ``survey``).
        conversation: The conversation section (task ``conversation``).
        persuasion: The persuasion section (task ``persuasion``; see
            :class:`vs_sim.tasks.persuasion.PersuasionConfig`).
        focus_group: The focus group section (task ``focus_group``; see
            :class:`vs_sim.tasks.focus_group.FocusGroupConfig`).
        outputs: What the run writes.
        origin_folder: Set in a run folder's ``scenario.yaml``: the folder it was written in.
            A relative path not found next to the file is looked up from there, so a run
            folder that was copied or moved still resumes.
    """

    model_config = _FROZEN

    name: str
    description: str = ""
    task: Task
    model: ModelSpec | None = None
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    seed: int = 0
    n: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default=16, ge=1)
    max_cost: float | None = Field(default=None, gt=0)
    population: str | dict[str, Any] | None = None
    personas: tuple[PersonaSpec, ...] | None = None
    persona_paths: tuple[str, ...] = ()
    survey: SurveySection | None = None
    conversation: ConversationSection | None = None
    persuasion: dict[str, Any] | None = None
    focus_group: dict[str, Any] | None = None
    outputs: OutputsSpec = Field(default_factory=OutputsSpec)
    origin_folder: str | None = None

    _file: str | None = PrivateAttr(default=None)
    _source: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _infer_task(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("task") is None:
            present = [t for t in TASKS if data.get(t) is not None]
            if len(present) == 1:
                return {**data, "task": present[0]}
            if len(present) > 1:
                raise field_error(
                    "task", f"several task sections ({', '.join(present)}); set task:"
                )
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.' only (it names the run folder)")
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value: Any) -> Any:
        return _name_form(value)

    @field_validator("models", mode="before")
    @classmethod
    def _models_shorthand(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: _name_form(v) for k, v in value.items()}
        return value

    @field_validator("persona_paths", mode="before")
    @classmethod
    def _paths_listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("population", mode="before")
    @classmethod
    def _population_form(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str | Mapping):
            raise ValueError(
                "expected a population file (or built-in name such as us_adults) or an inline "
                "spec; for a fixed list of personas use personas:"
            )
        return value

    @model_validator(mode="after")
    def _check_sections(self) -> Scenario:
        if getattr(self, self.task) is None:
            raise field_error(self.task, f"task is {self.task}: add a {self.task}: section")
        for other in TASKS:
            if other != self.task and getattr(self, other) is not None:
                raise field_error(other, f"a {other}: section does not fit task {self.task}")
        if self.population is not None and self.personas is not None:
            raise field_error("personas", "give population or personas, not both")
        people = self.population is not None or self.personas is not None
        if self.task in ("survey", "persuasion") and not people:
            raise field_error("population", f"task {self.task} needs a population or personas")
        if self.conversation is not None:
            drawn = any(a.from_population for a in self.conversation.agents)
            if drawn and not people:
                raise field_error(
                    "population", "agents with from_population need a population or personas"
                )
        listed = len(self.personas) if self.personas is not None else None
        if listed is not None and self.n is not None and self.task == "survey" and self.n > listed:
            raise field_error("n", f"n is {self.n} but only {listed} personas are listed")
        return self

    # -- where it came from --------------------------------------------------------------------
    @property
    def file(self) -> str | None:
        """The scenario file it was loaded from (``None`` when built in Python)."""
        return self._file

    @property
    def source(self) -> str | None:
        """The file's text (to find the line of a field in errors)."""
        return self._source

    @property
    def model_spec(self) -> ModelSpec:
        """The run's model settings (the offline model when none is configured)."""
        return self.model if self.model is not None else ModelSpec.model_validate({})

    @property
    def synthetic(self) -> bool:
        """Whether the run's model is the offline model (its text is synthetic)."""
        return self.model_spec.offline

    def section(self) -> Any:
        """The task's own section."""
        return getattr(self, self.task)
