"""From a checked scenario to runnable work: the personas and the runner's units.

:func:`prepare` loads everything a scenario names (population, questionnaire, reference,
task configuration) and turns each problem into one :class:`~vs_sim.errors.ScenarioError`
at the right field. :func:`build_units` samples and renders the personas (so a persona
its template does not accept fails before any model call) and builds one unit per
respondent, conversation, dialogue or group: surveys here, generic conversations in
:mod:`vs_sim.scenario_conversation`, persuasion and focus groups by their task modules
(:data:`TASK_PLUGINS`). The models are in :mod:`vs_sim.scenario_models`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .agents import RecordedPersona
from .errors import (
    AttributeValidationError,
    ConfigError,
    ScenarioError,
    TemplateError,
    TemplateNotFound,
)
from .personas import Persona, PersonaLibrary, default_library
from .scenario_models import ModelPool, use_pool_models
from .scenario_schema import Scenario
from .scenarios import (
    base_dir,
    existing_file,
    population_file,
    resolve_path,
    scenario_error,
    validation_error,
)

if TYPE_CHECKING:
    from .population import Population
    from .runner import Unit
    from .tasks.questionnaire import Questionnaire
    from .tasks.survey import Survey
    from .tasks.survey_reference import Reference

# The task plugins written against the scenario layer: module, config class, unit builder.
TASK_PLUGINS: dict[str, tuple[str, str, str]] = {
    "persuasion": ("vs_sim.tasks.persuasion", "PersuasionConfig", "build_persuasion_units"),
    "focus_group": ("vs_sim.tasks.focus_group", "FocusGroupConfig", "build_focus_group_units"),
}


@dataclass(frozen=True)
class Prepared:
    """A scenario with everything it names loaded and checked.

    Attributes:
        scenario: The scenario.
        library: The persona templates (built-ins plus ``persona_paths``).
        population: The population, when the scenario samples one.
        questionnaire: The survey's questionnaire.
        survey: The survey, ready to ask.
        reference: The survey's reference shares, when it names a file.
        task_config: The ``persuasion:`` or ``focus_group:`` section, validated.
    """

    scenario: Scenario
    library: PersonaLibrary
    population: Population | None = None
    questionnaire: Questionnaire | None = None
    survey: Survey | None = None
    reference: Reference | None = None
    task_config: Any = None

    @property
    def n(self) -> int:
        """Respondents (survey) or conversations (other tasks) to run."""
        s = self.scenario
        wanted = getattr(self.task_config, "dialogues", None)
        if wanted is not None:
            return len(wanted)
        if s.n is not None:
            return s.n
        if s.task in ("survey", "persuasion") and s.personas is not None:
            return len(s.personas)
        if s.task in ("survey", "persuasion"):
            what = "respondents" if s.task == "survey" else "dialogues"
            raise scenario_error(s, "n", f"set n: how many {what} to sample from the population")
        return 1


def _plugin(scenario: Scenario, task: str) -> Any:
    module_name = TASK_PLUGINS[task][0]
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise scenario_error(
            scenario, "task", f"the {task} task is not available ({module_name}: {exc})"
        ) from None


def prepare(scenario: Scenario) -> Prepared:
    """Load and check everything ``scenario`` names (no model is built or called).

    Raises:
        ScenarioError: A missing file, a bad questionnaire, reference or population, an
            unknown method option; naming the scenario file, line and field.
    """
    s = scenario
    library = default_library()
    if s.persona_paths:
        folders = []
        for i, folder in enumerate(s.persona_paths):
            path = resolve_path(s, folder)
            if not path.is_dir():
                raise scenario_error(s, f"persona_paths[{i}]", f"no folder at {path}")
            folders.append(path)
        library = PersonaLibrary([*folders, *library.search_path], include_builtins=False)
    population = _population(s)
    if s.personas is not None:
        for i, spec in enumerate(s.personas):
            _template(s, library, spec.template, f"personas[{i}].template")
    out = Prepared(scenario=s, library=library, population=population)
    if s.survey is not None:
        return _prepare_survey(out)
    if s.task in TASK_PLUGINS:
        module = _plugin(s, s.task)
        config_class = getattr(module, TASK_PLUGINS[s.task][1])
        try:
            config = config_class.model_validate(s.section())
        except ValidationError as exc:
            raise validation_error(
                exc, s.file, s.source, prefix=s.task, model=config_class
            ) from None
        except ConfigError as exc:
            raise section_error(s, exc) from None
        return Prepared(scenario=s, library=library, population=population, task_config=config)
    if s.conversation is not None:
        for i, agent in enumerate(s.conversation.agents):
            if agent.template is not None:
                _template(s, library, agent.template, f"conversation.agents[{i}].template")
    return out


def _template(scenario: Scenario, library: PersonaLibrary, name: str, path: str) -> None:
    try:
        library.get(name)
    except TemplateError as exc:
        raise scenario_error(scenario, path, str(exc)) from None


def _population(s: Scenario) -> Population | None:
    from .population import Population

    value = s.population
    if value is None and s.personas is None and s.task == "focus_group":
        value = "us_adults"  # participants are US adults unless the scenario says otherwise
    if value is None:
        return None
    if isinstance(value, str):
        file = population_file(s, value)
        try:
            return Population.from_yaml(file)
        except ConfigError as exc:
            raise scenario_error(s, "population", str(exc)) from None
    source = f"{s.file or 'scenario'} population"
    try:
        return Population.from_dict(value, base_dir=base_dir(s), source=source)
    except ConfigError as exc:
        where = exc.where or ""
        message = str(exc)[len(where) + 2 :] if where else str(exc)
        inner = where[len(source) + 2 :] if where.startswith(f"{source}: ") else ""
        path = f"population.{inner}" if inner else "population"
        raise scenario_error(s, path, message) from None


def _prepare_survey(prepared: Prepared) -> Prepared:
    from .tasks.questionnaire import Questionnaire, load_questionnaire
    from .tasks.survey import Survey
    from .tasks.survey_reference import load_reference

    s = prepared.scenario
    section = s.survey
    assert section is not None
    if isinstance(section.questionnaire, str):
        path = existing_file(s, "survey.questionnaire", section.questionnaire, "questionnaire")
        try:
            questionnaire = load_questionnaire(path)
        except ConfigError as exc:
            raise scenario_error(s, "survey.questionnaire", str(exc)) from None
    else:
        try:
            questionnaire = Questionnaire.model_validate(section.questionnaire)
        except ValidationError as exc:
            raise validation_error(exc, s.file, s.source, prefix="survey.questionnaire") from None
    full = questionnaire
    if section.questions is not None:
        questionnaire = _subset(s, questionnaire, section.questions)
    template: str | os.PathLike[str] | None = section.template
    written = section.template
    if written is not None and "\n" not in written and written.strip().endswith(".j2"):
        template = existing_file(s, "survey.template", written, "question template")
    kwargs: dict[str, Any] = {}
    if section.fuzzy_threshold is not None:
        kwargs["fuzzy_threshold"] = section.fuzzy_threshold
    try:
        survey = Survey(
            questionnaire,
            method=section.method,
            k=section.k,
            mode=section.mode,
            template=template,
            verbalize_options=section.verbalize,
            **kwargs,
        )
    except (ConfigError, TemplateError) as exc:
        field = "survey.verbalize" if section.verbalize else "survey"
        raise scenario_error(s, field, str(exc)) from None
    reference = None
    if section.reference is not None:
        ref_path = existing_file(s, "survey.reference", section.reference, "reference file")
        try:
            reference = load_reference(ref_path, full)
        except ConfigError as exc:
            raise scenario_error(s, "survey.reference", str(exc)) from None
        if section.questions is not None:
            kept = tuple(d for d in reference.distributions if d.question_id in questionnaire.ids)
            reference = dataclasses.replace(reference, distributions=kept)
    known = _known_attributes(prepared)
    if known is not None:
        for i, attr in enumerate(section.by):
            if attr not in known:
                raise scenario_error(
                    s,
                    f"survey.by[{i}]",
                    f"the personas have no attribute {attr!r}; they have: {', '.join(known)}",
                )
    return Prepared(
        scenario=s,
        library=prepared.library,
        population=prepared.population,
        questionnaire=questionnaire,
        survey=survey,
        reference=reference,
    )


def _subset(s: Scenario, questionnaire: Questionnaire, ids: Sequence[str]) -> Questionnaire:
    """Only the questions ``ids`` of ``questionnaire`` (in its order), skip logic checked."""
    for i, qid in enumerate(ids):
        if qid not in questionnaire.ids:
            raise scenario_error(
                s,
                f"survey.questions[{i}]",
                f"no question {qid!r} in the questionnaire; it has: {', '.join(questionnaire.ids)}",
            )
    kept = [q for q in questionnaire.questions if q.id in ids]
    for q in kept:
        if q.show_if is not None and q.show_if.question not in ids:
            raise scenario_error(
                s,
                f"survey.questions[{list(ids).index(q.id)}]",
                f"{q.id!r} is shown only after {q.show_if.question!r}: ask that one too",
            )
    return questionnaire.model_copy(update={"questions": tuple(kept)})


def _known_attributes(prepared: Prepared) -> list[str] | None:
    s = prepared.scenario
    if prepared.population is not None:
        return prepared.population.persona_attributes
    if s.personas is not None:
        return list(dict.fromkeys(k for p in s.personas for k in p.attributes))
    return None


_NAMED_FIELD = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*): ")


def section_error(s: Scenario, exc: Exception) -> ScenarioError:
    """An error from the task's section, at the field its message starts with when that field
    is in the section (``persuasion.persuader: ...``), else at the section itself.

    An attribute error goes to the field's ``attributes`` (its line, when it is written)."""
    text = str(exc)
    found = _NAMED_FIELD.match(text)
    if found is None or found.group(1).split(".")[0].split("[")[0] != s.task:
        return scenario_error(s, s.task, text)
    path, message = found.group(1), text[found.end() :]
    if isinstance(exc, AttributeValidationError) or "attribute" in message:
        path += ".attributes"
    return scenario_error(s, path, message)


# -- personas -------------------------------------------------------------------------------


def sample_personas(prepared: Prepared, count: int) -> list[tuple[Persona, str]]:
    """``count`` personas from the population (or the fixed list), each with its field path."""
    s = prepared.scenario
    if s.personas is not None:
        if count > len(s.personas):
            raise scenario_error(
                s, "n", f"{count} personas are needed but only {len(s.personas)} are listed"
            )
        width = max(5, len(str(len(s.personas))))
        return [
            (
                Persona.model_construct(
                    id=spec.id or f"p{i + 1:0{width}d}",
                    template=spec.template,
                    attributes=dict(spec.attributes),
                ),
                f"personas[{i}].attributes",
            )
            for i, spec in enumerate(s.personas[:count])
        ]
    assert prepared.population is not None
    try:
        people = prepared.population.sample(count, s.seed)
    except ConfigError as exc:
        raise scenario_error(s, "n" if s.n is not None else "population", str(exc)) from None
    return [(p, "population") for p in people]


def render_persona(
    prepared: Prepared, persona: Persona, path: str, *, who: str | None = None
) -> RecordedPersona:
    """The persona rendered with its template (validated), as a :class:`RecordedPersona`."""
    s = prepared.scenario
    label = f"persona {persona.id!r}" + (f" ({who})" if who else "")
    try:
        text = prepared.library.get(persona.template).render(persona.attributes)
    except TemplateNotFound as exc:
        raise scenario_error(s, path.rsplit(".", 1)[0] + ".template", str(exc)) from None
    except (AttributeValidationError, TemplateError) as exc:
        raise scenario_error(s, path, f"{label}: {exc}") from None
    return RecordedPersona(
        id=persona.id, template=persona.template, attributes=dict(persona.attributes), text=text
    )


@dataclass(frozen=True)
class CheckedPersona:
    """A persona whose prompt rendered once without error, and renders again when asked.

    A survey's respondents wait in line for the runner; holding each one's rendered prompt
    until its turn would grow memory with the number of respondents (a few KB each), so
    :func:`build_units` checks every template up front and keeps only this.
    """

    persona: Persona
    library: PersonaLibrary

    @property
    def id(self) -> str:
        return self.persona.id

    @property
    def template(self) -> str:
        return self.persona.template

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self.persona.attributes

    def render(self) -> str:
        """The persona's system prompt (the same text the check rendered)."""
        return self.persona.render(self.library)


def checked_persona(prepared: Prepared, persona: Persona, path: str) -> CheckedPersona:
    """``persona`` once :func:`render_persona` has rendered it without error."""
    render_persona(prepared, persona, path)
    return CheckedPersona(persona, prepared.library)


# -- units ----------------------------------------------------------------------------------


def build_units(
    prepared: Prepared, *, pool: ModelPool | None = None, only_first: bool = False
) -> list[Unit]:
    """One unit per respondent or conversation, personas rendered and checked.

    Args:
        prepared: From :func:`prepare`.
        pool: The run's models (default: agents keep model names; for checks and previews).
        only_first: Build only the first unit (to check a scenario, or preview it).
    """
    s = prepared.scenario
    n = prepared.n
    if s.survey is not None:
        assert prepared.survey is not None
        people = sample_personas(prepared, n)[: 1 if only_first else n]
        checked = [checked_persona(prepared, p, path) for p, path in people]
        try:
            return list(prepared.survey.respondents(checked))
        except ConfigError as exc:
            raise scenario_error(s, "personas", str(exc)) from None
    if s.task in TASK_PLUGINS:
        module = _plugin(s, s.task)
        build = getattr(module, TASK_PLUGINS[s.task][2])
        drawn = [p for p, _ in sample_personas(prepared, _people_needed(prepared))]
        try:
            units: list[Unit] = list(
                build(prepared.task_config, drawn, seed=s.seed, library=prepared.library)
            )
        except (ConfigError, TemplateError) as exc:
            raise section_error(s, exc) from None
        units = units[:1] if only_first else units
        if pool is not None:
            for unit in units:
                use_pool_models(unit, pool)
        return units
    from .scenario_conversation import build_conversations

    return list(build_conversations(prepared, pool, 1 if only_first else n, n))


def _people_needed(prepared: Prepared) -> int:
    """Personas a persuasion or focus group run draws."""
    config = prepared.task_config
    if prepared.scenario.task == "focus_group":
        return prepared.n * int(config.participants)
    wanted = getattr(config, "dialogues", None)
    if wanted is not None and prepared.population is not None:
        rows = len(prepared.population.people_rows)
        return rows or prepared.n
    if wanted is not None and prepared.scenario.personas is not None:
        return len(prepared.scenario.personas)
    return prepared.n
