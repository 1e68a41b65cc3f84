"""Scenario files: reading, one clear error per problem, paths, overrides, the as-run copy.

:func:`load_scenario` reads a YAML file into a :class:`~vs_sim.scenario_schema.Scenario`
and then checks it against everything it names (:func:`vs_sim.scenario_build.prepare`):
the files exist, the questionnaire and reference agree, the population can be sampled, and
every persona renders with its template. Any problem is one
:class:`~vs_sim.errors.ScenarioError` naming the file, the line and the path inside it::

    survey_opinion.yaml:42 survey.questionnaire.questions[3].options: this field is required

Paths inside a scenario are relative to the scenario file (:func:`resolve_path`); the
copy a run keeps (:func:`as_run_yaml`) rewrites them relative to the run folder, so
``runs/<name>/scenario.yaml`` loads and resumes from there.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError, ScenarioError
from .events import redact
from .population import BUILTIN_POPULATIONS_DIR, find_population
from .resources import builtin_dir
from .scenario_schema import TASKS, Scenario
from .tasks.questionnaire import QUESTION_TYPES
from .tasks.validation import error_paths, read_yaml, yaml_line

if TYPE_CHECKING:
    from .scenario_build import Prepared

__all__ = [
    "BUILTIN_POPULATIONS_DIR",
    "BUILTIN_SCENARIOS_DIR",
    "Scenario",
    "as_run_yaml",
    "builtin_scenarios",
    "find_scenario",
    "load_scenario",
    "parse_scenario",
    "population_file",
    "resolve_path",
    "scenario_error",
    "validate_scenario",
    "with_overrides",
]

"""Built-in population specs, usable by name (``population: us_adults``)."""

BUILTIN_SCENARIOS_DIR = builtin_dir("scenarios")
"""Built-in scenarios, usable by name when no such file is here (``vs-sim run quickstart``)."""

_SCALAR = (str, int, float, bool)
_PATH_LIKE = re.compile(r"[\\/]|\.ya?ml$")  # a separator or a YAML suffix: a path, not a name


def scenario_error(scenario: Scenario | None, path: str, message: str) -> ScenarioError:
    """A :class:`ScenarioError` at ``path`` inside ``scenario``'s file (with its line)."""
    file = scenario.file if scenario is not None else None
    source = scenario.source if scenario is not None else None
    return _error_at(file, source, path, message)


def _error_at(file: str | None, source: str | None, path: str, message: str) -> ScenarioError:
    line = yaml_line(source, path) if source and path else None
    origin = f"{file}:{line}" if file and line else file
    where = f"{origin} {path}" if origin and path else (origin or path or None)
    return ScenarioError(message, where=where)


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``tuple[AgentSpec, ...] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_class(arg)
        if found is not None:
            return found
    return None


def _unknown_field_hint(path: str, root: type[BaseModel] | None = None, skip: int = 0) -> str:
    """``unknown field 'survy' (did you mean 'survey'?)`` for an extra key at ``path``.

    ``path`` is walked from the :class:`Scenario`, or from ``root`` after its first ``skip``
    parts (a task section validated by its own model, e.g. ``persuasion.…``).
    """
    parts = [p for p in re.findall(r"[^.\[\]]+", path) if not p.isdigit()]
    if not parts:
        return "unknown field"
    cls: type[BaseModel] | None = Scenario if root is None else root
    for part in parts[skip if root is not None else 0 : -1]:
        field = cls.model_fields.get(part) if cls is not None else None
        cls = _model_class(field.annotation) if field is not None else None
    if cls is None:
        return f"unknown field {parts[-1]!r}"
    known = list(cls.model_fields)
    close = difflib.get_close_matches(parts[-1], known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(known)}"
    return f"unknown field {parts[-1]!r} ({hint})"


def validation_error(
    exc: ValidationError,
    file: str | None,
    source: str | None,
    prefix: str = "",
    model: type[BaseModel] | None = None,
) -> ScenarioError:
    """One error for a pydantic failure: the first problem, with a count of the others.

    ``prefix`` is where the validated data sits in the scenario, and ``model`` the class that
    validated it when that is not the scenario itself (so a typo there gets its hint too).
    """
    pairs = list(zip(error_paths(exc, QUESTION_TYPES), exc.errors(include_url=False), strict=True))
    # An unknown key is usually a typo, and the root of the other errors (a missing field).
    pairs.sort(key=lambda pair: pair[1]["type"] != "extra_forbidden")
    paths = [p for p, _ in pairs]
    raw = [e for _, e in pairs]
    path, message = paths[0]
    if prefix:
        path = f"{prefix}.{path}" if path else prefix
    kind = raw[0]["type"]
    if kind == "extra_forbidden":
        skip = len([p for p in re.findall(r"[^.\[\]]+", prefix) if not p.isdigit()])
        message = _unknown_field_hint(path, model, skip)
    elif kind == "missing" and path == "task":
        message = f"this field is required: add task: and its section ({', '.join(TASKS)})"
    elif kind not in ("missing", "vs_sim") and isinstance(raw[0].get("input"), _SCALAR):
        value = raw[0]["input"]
        if not (isinstance(value, str) and len(value) > 60) and repr(value) not in message:
            message += f" (got {value!r})"
    if len(paths) > 1:
        message += f" (and {len(paths) - 1} more problem{'s' if len(paths) > 2 else ''})"
    return _error_at(file, source, path, message)


def parse_scenario(
    data: Any, *, file: str | os.PathLike[str] | None = None, source: str | None = None
) -> Scenario:
    """Validate plain data (parsed YAML, or a dict built in Python) into a :class:`Scenario`.

    Only the schema is checked here; :func:`validate_scenario` checks what it names.

    Args:
        data: The scenario as a mapping.
        file: The file it came from (errors name it; relative paths inside are relative to
            its folder). ``None``: the current folder.
        source: The file's text, to give the line of a bad field.

    Raises:
        ScenarioError: The first problem, naming file, line and field path.
    """
    where = None if file is None else str(file)
    if not isinstance(data, Mapping):
        raise _error_at(where, None, "", "a scenario must be a mapping (key: value lines)")
    data = dict(data)
    if "name" not in data and file is not None:
        data["name"] = Path(file).stem  # the file's name names the run folder
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, where, source) from None
    scenario._file = where
    scenario._source = source
    return scenario


def builtin_scenarios() -> list[str]:
    """Names of the shipped scenarios (``quickstart``, ``survey_opinion``, ...)."""
    return sorted(p.stem for p in BUILTIN_SCENARIOS_DIR.glob("*.yaml"))


def find_scenario(value: str | os.PathLike[str]) -> Path:
    """The scenario file ``value`` names: a path, or a built-in's name (``quickstart``).

    A bare name (no folder, no ``.yaml``) means the built-in scenario of that name unless a
    file of that name exists here. Anything else is returned as a path, existing or not.
    """
    p = Path(value)
    if p.is_file() or _PATH_LIKE.search(str(value)):
        return p
    builtin = BUILTIN_SCENARIOS_DIR / f"{p}.yaml"
    return builtin if builtin.is_file() else p


def load_scenario(path: str | os.PathLike[str], *, check: bool = True) -> Scenario:
    """Read a scenario file and check it, including the files and personas it names.

    Args:
        path: The YAML file, or a built-in scenario's name (see :func:`find_scenario`).
        check: Also check what the scenario names (files, questionnaire, reference,
            population, persona templates); ``False`` checks the schema only.

    Raises:
        ScenarioError: One error naming the file, the line and the path inside it.
    """
    p = find_scenario(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        message = f"cannot read the scenario: {exc.strerror}"
        if not _PATH_LIKE.search(str(path)):
            message += f" (built-in scenarios: {', '.join(builtin_scenarios())})"
        raise ScenarioError(message, where=str(p)) from None
    try:
        data = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"not valid YAML: {problem}", where=where) from None
    scenario = parse_scenario(data, file=p, source=text)
    if check:
        validate_scenario(scenario)
    return scenario


def validate_scenario(scenario: Scenario) -> Prepared:
    """Check everything ``scenario`` names, as a run would, without calling a model.

    Returns:
        The scenario with everything it names loaded (see
        :func:`vs_sim.scenario_build.prepare`).

    Raises:
        ScenarioError: A missing file, a questionnaire or reference problem, a population
            that cannot be sampled, or a persona its template does not accept.
    """
    from .scenario_build import build_units, prepare

    prepared = prepare(scenario)
    build_units(prepared, only_first=True)
    return prepared


# -- paths ----------------------------------------------------------------------------------


def base_dir(scenario: Scenario) -> Path:
    """The folder relative paths in ``scenario`` start from (its file's folder)."""
    return Path(scenario.file).resolve().parent if scenario.file else Path.cwd()


def resolve_path(scenario: Scenario, value: str | os.PathLike[str]) -> Path:
    """A path written in ``scenario``, relative to its file's folder.

    A run folder's copy of its scenario also names the folder it was written in
    (``origin_folder``): a relative path missing next to the copy (the folder was moved or
    copied elsewhere) is taken from there when it exists there.
    """
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    here = base_dir(scenario) / p
    origin = scenario.origin_folder
    if origin and not here.exists() and (Path(origin) / p).exists():
        return Path(origin) / p
    return here


def existing_file(scenario: Scenario, field: str, value: str, what: str) -> Path:
    """``value`` resolved and checked to be a file; else an error at ``field``."""
    path = resolve_path(scenario, value)
    if not path.is_file():
        looked = str(path)
        origin = scenario.origin_folder
        if origin and not Path(value).expanduser().is_absolute():
            looked += f" and {Path(origin) / value}, where this run folder was written"
        raise scenario_error(scenario, field, f"no {what} at {value!r} (looked for {looked})")
    return path


def population_file(scenario: Scenario, value: str) -> Path:
    """The population file: a path (relative to the scenario) or a built-in's name."""
    if not re.search(r"[\\/]|\.ya?ml$", value):
        try:
            return find_population(value)
        except ConfigError as exc:
            raise scenario_error(scenario, "population", str(exc)) from None
    return existing_file(scenario, "population", value, "population file")


# -- overrides and the as-run copy --------------------------------------------------------


def with_overrides(
    scenario: Scenario,
    *,
    model: str | None = None,
    n: int | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    max_cost: float | None = None,
) -> Scenario:
    """A copy of ``scenario`` with command-line values in place (validated again).

    ``model`` replaces the model's name and keeps its other settings.
    """
    data = scenario.model_dump(mode="python")
    for key, value in (
        ("n", n),
        ("seed", seed),
        ("concurrency", concurrency),
        ("max_cost", max_cost),
    ):
        if value is not None:
            data[key] = value
    if model is not None:
        data["model"] = {**(data.get("model") or {}), "name": model}
    try:
        out = Scenario.model_validate(data)
    except ValidationError as exc:
        path, message = error_paths(exc)[0]
        # The argument's name (a Python caller wrote ``n=``), and the flag a CLI user typed.
        flag = (
            f"{path} (--{path.replace('_', '-')} on the command line)"
            if path in ("n", "seed", "concurrency", "max_cost")
            else path
        )
        raise ScenarioError(
            message, where=f"{flag}, overriding {scenario.file or 'the scenario'}"
        ) from None
    out._file = scenario.file
    out._source = scenario.source
    return out


def _relocate(scenario: Scenario, value: str, folder: Path) -> str:
    """A path written in ``scenario`` rewritten relative to ``folder`` (absolute: as is)."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return value
    target, start = resolve_path(scenario, p).resolve(), folder.resolve()
    if os.path.commonpath([target, start]) == target.anchor:
        return str(target)  # nothing in common but the root: an absolute path reads better
    return os.path.relpath(target, start)


def as_run_data(scenario: Scenario, folder: Path) -> dict[str, Any]:
    """The scenario as run: every setting explicit, paths relative to ``folder``, secrets out."""
    data = scenario.model_dump(mode="json")
    data["model"] = scenario.model_spec.model_dump(mode="json")
    specs = [data["model"], *data.get("models", {}).values()]
    for spec in specs:
        if isinstance(spec.get("cache"), str):
            spec["cache"] = _relocate(scenario, spec["cache"], folder)
    population = data.get("population")
    if isinstance(population, str) and re.search(r"[\\/]|\.ya?ml$", population):
        data["population"] = _relocate(scenario, population, folder)
    data["persona_paths"] = [_relocate(scenario, p, folder) for p in data["persona_paths"]]
    survey = data.get("survey")
    if survey is not None:
        if isinstance(survey["questionnaire"], str):
            survey["questionnaire"] = _relocate(scenario, survey["questionnaire"], folder)
        if survey.get("reference"):
            survey["reference"] = _relocate(scenario, survey["reference"], folder)
        template = survey.get("template")
        if isinstance(template, str) and "\n" not in template and template.endswith(".j2"):
            survey["template"] = _relocate(scenario, template, folder)
    for task in TASKS:
        if data.get(task) is None:
            data.pop(task, None)
    for key in ("population", "personas", "n", "max_cost"):
        if data.get(key) is None:
            data.pop(key, None)
    data["origin_folder"] = str(folder.resolve())  # where the relative paths start from
    return dict(redact(data))


def as_run_yaml(scenario: Scenario, folder: Path) -> str:
    """:func:`as_run_data` as YAML text, with a header saying what it is."""
    body = yaml.safe_dump(
        as_run_data(scenario, folder), sort_keys=False, allow_unicode=True, width=100
    )
    origin = scenario.file or "a scenario built in Python"
    return (
        f"# The scenario as run (from {origin}), with command-line overrides applied.\n"
        "# Paths are relative to this folder (if it was moved, to origin_folder, where it was\n"
        "# written). Resume with: vs-sim run --resume <this folder>\n" + body
    )
