"""Persona templates: sandboxed Jinja2 files that declare the attributes they need.

A persona template is a file ``NAME.j2`` on a search path (user folders first, then
the built-in ``personas/`` folder), so users can add or override personas without
touching the package. Its first lines are a YAML front matter written as a Jinja
comment, which rendering ignores::

    {#- ---
    description: An adult answering a survey.
    attributes:
      age: {type: int, min: 18, max: 100, description: Age in years}
      sex: {choices: [female, male]}
      religion: {default: null}          # a default makes an attribute optional
    --- -#}
    You are a {{ age }}-year-old ...

A child template (``{% extends "survey_respondent.j2" %}``) inherits the parent's
attributes and may add or override some; included templates contribute theirs too.

Rendering validates the attributes with a pydantic model built from the declaration,
then renders in an immutable sandbox with ``StrictUndefined``: a template cannot reach
Python internals, and a missing value is an error, never an empty string. Values
printed with ``{{ ... }}`` cannot open markup tags (``<text>``, ``</probability>``):
their ``<`` becomes ``‹``, so a persona can never forge the answer format.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import AttributeValidationError, TemplateError, TemplateNotFound
from .persona_attributes import (
    FRONT_MATTER,
    AttributeSpec,
    choice_hint,
    parse_front_matter,
    validation_model,
)
from .persona_sandbox import make_environment, refuse_unsafe, where_in_template
from .resources import builtin_dir

__all__ = [
    "BUILTIN_PERSONAS_DIR",
    "PERSONAS_PATH_ENV",
    "AttributeSpec",
    "Persona",
    "PersonaLibrary",
    "PersonaTemplate",
    "default_library",
    "default_search_path",
]

BUILTIN_PERSONAS_DIR = builtin_dir("personas")
"""The built-in persona templates (``personas/`` in a checkout, else the installed copy)."""

PERSONAS_PATH_ENV = "VS_SIM_PERSONAS_PATH"
"""Environment variable with extra template folders (``os.pathsep``-separated)."""

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)
_BLANK_LINES = re.compile(r"\n{3,}")


def default_search_path() -> list[Path]:
    """Folders from ``VS_SIM_PERSONAS_PATH`` (in order), then the built-in folder."""
    raw = os.environ.get(PERSONAS_PATH_ENV, "")
    folders = [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]
    return [*folders, BUILTIN_PERSONAS_DIR]


def _template_key(name: str) -> str:
    return name if name.endswith(".j2") else f"{name}.j2"


class PersonaTemplate:
    """A compiled persona template and the attributes it declares.

    Get one from :meth:`PersonaLibrary.get`; the pydantic model that validates its
    attributes is built on first use and kept.
    """

    def __init__(
        self,
        name: str,
        description: str,
        path: Path,
        attributes: dict[str, AttributeSpec],
        template: jinja2.Template,
    ) -> None:
        self.name = name
        self.description = description
        self.path = path
        self.attributes = attributes
        self._template = template
        self._model: type[BaseModel] | None = None
        self._required = [s.name for s in attributes.values() if s.required]

    def __repr__(self) -> str:
        return f"PersonaTemplate({self.name!r}, attributes={list(self.attributes)})"

    def _where(self) -> str:
        return f"persona template {self.name!r} ({self.path})"

    def _validation_model(self) -> type[BaseModel]:
        if self._model is None:
            self._model = validation_model(self.name, self.attributes)
        return self._model

    def validate(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Check the attributes and fill defaults.

        A float NaN counts as a missing value. Raises:
            AttributeValidationError: an attribute is missing, unknown, of the wrong
                type, out of range or not one of the choices; the message names the
                template, the attribute and what is allowed.
        """
        data = dict(attributes)
        for key, value in data.items():
            if value.__class__ is float and math.isnan(value):
                data[key] = None
        if data.keys() - self.attributes.keys() or any(data.get(r) is None for r in self._required):
            problems = list(self._name_problems(data))
            raise AttributeValidationError(f"{self._where()}: " + "; ".join(problems))
        try:
            model = self._validation_model().model_validate(data)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "?"
                spec = self.attributes.get(name)
                msg = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "literal_error":
                    msg = choice_hint(spec, data.get(name))
                allowed = spec.allowed() if spec else "?"
                problems.append(
                    f"attribute {name!r} = {data.get(name)!r} is not allowed ({msg}); "
                    f"expected {allowed}"
                )
            raise AttributeValidationError(f"{self._where()}: " + "; ".join(problems)) from None
        return dict(model.__dict__)

    def _name_problems(self, data: Mapping[str, Any]) -> Iterator[str]:
        given = set(data)
        missing = [
            s.name for s in self.attributes.values() if s.required and data.get(s.name) is None
        ]
        unknown = [k for k in data if k not in self.attributes]
        for key in unknown:
            pool = [m for m in missing if m not in given] or [
                n for n in self.attributes if n not in given
            ]
            close = difflib.get_close_matches(str(key), pool, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield (
                f"unknown attribute {key!r}{hint}; its attributes are " + ", ".join(self.attributes)
            )
        for name in missing:
            yield f"missing attribute {name!r} ({self.attributes[name].allowed()})"

    def render(self, attributes: Mapping[str, Any] | None = None, **kw: Any) -> str:
        """Validate the attributes (a mapping, keywords, or both) and render the prompt.

        Same attributes give a byte-identical string. Raises:
            AttributeValidationError: see :meth:`validate`.
            TemplateError: the template failed or tried something the sandbox refuses;
                the message gives the file and line.
        """
        values = self.validate({**(attributes or {}), **kw})
        return self.render_validated(values)

    def render_validated(self, values: Mapping[str, Any]) -> str:
        """Render attributes that :meth:`validate` already returned (skips validation).

        Trailing spaces are dropped and runs of blank lines become one, so optional
        parts that render empty leave no gaps.
        """
        try:
            text = self._template.render(values)
        except jinja2.exceptions.SecurityError as exc:
            where = where_in_template(exc) or str(self.path)
            raise TemplateError(f"{where}: refused by the sandbox: {exc}") from None
        except jinja2.exceptions.UndefinedError as exc:
            where = where_in_template(exc) or str(self.path)
            raise TemplateError(
                f"{where}: {exc} (declare it as an attribute in the template's front matter)"
            ) from None
        except (jinja2.exceptions.TemplateError, OverflowError, TypeError, ValueError) as exc:
            where = where_in_template(exc) or str(self.path)
            raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None
        if " \n" in text or "\t\n" in text:
            text = _TRAILING_SPACE.sub("", text)
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
        return text.strip()


_Declared = tuple[str, dict[str, AttributeSpec], str]
"""A template's description, its merged attributes, and its file."""


def _syntax_error(exc: jinja2.TemplateSyntaxError) -> TemplateError:
    return TemplateError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.message}")


class PersonaLibrary:
    """Persona templates on one search path, sharing a sandbox and compiled templates.

    Args:
        search_path: Template folders, searched first to last; the built-in folder is
            appended unless ``include_builtins`` is false. ``None`` means
            :func:`default_search_path` (``VS_SIM_PERSONAS_PATH``, then built-ins).
        include_builtins: Whether to append the built-in ``personas/`` folder.

    Example:
        >>> library = PersonaLibrary()
        >>> library.render("survey_respondent", {"age": 34, "sex": "female"})[:27]
        'You are a 34-year-old woman'
    """

    def __init__(
        self,
        search_path: Sequence[str | Path] | None = None,
        *,
        include_builtins: bool = True,
    ) -> None:
        if search_path is None:
            folders = default_search_path()
        else:
            folders = [Path(p).expanduser() for p in search_path]
            if include_builtins:
                folders.append(BUILTIN_PERSONAS_DIR)
        unique: list[Path] = []
        for folder in folders:
            resolved = folder.resolve()
            if resolved not in unique:
                unique.append(resolved)
        self.search_path: list[Path] = unique
        self._env = make_environment(unique)
        self._templates: dict[str, PersonaTemplate] = {}
        self._declarations: dict[str, _Declared] = {}

    def __repr__(self) -> str:
        return f"PersonaLibrary({[str(p) for p in self.search_path]})"

    def _not_found(self, name: str) -> TemplateNotFound:
        return TemplateNotFound(name, [str(p) for p in self.search_path])

    def get(self, name: str) -> PersonaTemplate:
        """The template called ``name`` (with or without ``.j2``), compiled and checked.

        Raises:
            TemplateNotFound: no such file on the search path (the message lists it).
            TemplateError: a syntax error (file and line), an unsafe expression, or a
                bad front matter, in the template or one it extends or includes.
        """
        key = _template_key(name)
        cached = self._templates.get(key)
        if cached is not None:
            return cached
        description, attributes, filename = self._declaration(key, (), None)
        compiled = self._compile(key)
        template = PersonaTemplate(
            name=key[:-3],
            description=description,
            path=Path(filename),
            attributes=attributes,
            template=compiled,
        )
        self._templates[key] = template
        return template

    def names(self) -> list[str]:
        """Templates that declare attributes (partials and macro files are left out)."""
        seen: dict[str, bool] = {}
        for folder in self.search_path:
            if not folder.is_dir():
                continue
            for file in sorted(folder.rglob("*.j2")):
                name = file.relative_to(folder).as_posix()[:-3]
                if name not in seen:
                    head = file.read_text(encoding="utf-8", errors="replace")[:4096]
                    seen[name] = bool(FRONT_MATTER.match(head))
        return sorted(n for n, declared in seen.items() if declared)

    def render(self, name: str, attributes: Mapping[str, Any]) -> str:
        """Validate ``attributes`` for template ``name`` and render it."""
        return self.get(name).render(attributes)

    def _source(self, key: str, referrer: str | None) -> tuple[str, str]:
        try:
            source, filename, _ = self._env.loader.get_source(self._env, key)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            if referrer is None:
                raise self._not_found(key[:-3] if key.endswith(".j2") else key) from None
            path = ", ".join(str(p) for p in self.search_path)
            raise TemplateError(
                f"{referrer}: template {key!r} not found; searched: {path}"
            ) from None
        return source, filename or key

    def _compile(self, key: str) -> jinja2.Template:
        try:
            return self._env.get_template(key)
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(exc) from None

    def _declaration(self, key: str, chain: tuple[str, ...], referrer: str | None) -> _Declared:
        """Parse, check and merge the declarations of ``key`` and what it extends or includes."""
        if key in self._declarations:
            return self._declarations[key]
        if key in chain:
            raise TemplateError(f"{referrer}: template {key!r} extends or includes itself")
        source, filename = self._source(key, referrer)
        try:
            tree = self._env.parse(source, key, filename)
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(exc) from None
        refuse_unsafe(tree, filename)
        own_description, own = parse_front_matter(source, filename)
        description, attributes = "", {}
        for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            target = node.template  # type: ignore[attr-defined]
            if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
                continue  # a computed name: checked when it renders
            where = f"{filename}:{node.lineno}"
            parent = self._declaration(target.value, (*chain, key), where)
            self._compile_checked(target.value, where)
            if isinstance(node, nodes.Extends | nodes.Include):
                attributes.update(parent[1])
                if isinstance(node, nodes.Extends):
                    description = parent[0]
        attributes.update(own)
        result = (own_description or description, attributes, filename)
        self._declarations[key] = result
        return result

    def _compile_checked(self, key: str, where: str) -> None:
        try:
            self._env.get_template(key)
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(exc) from None
        except jinja2.TemplateNotFound:  # pragma: no cover - _declaration found it first
            path = ", ".join(str(p) for p in self.search_path)
            raise TemplateError(f"{where}: template {key!r} not found; searched: {path}") from None


@functools.lru_cache(maxsize=8)
def _library_for(search_path: tuple[Path, ...]) -> PersonaLibrary:
    return PersonaLibrary(search_path, include_builtins=False)


def default_library() -> PersonaLibrary:
    """A shared library for :func:`default_search_path` (one per distinct path)."""
    return _library_for(tuple(default_search_path()))


class Persona(BaseModel):
    """One simulated person: the template that describes them and their attribute values.

    Attributes:
        id: A stable identifier (``p00001``, or a dataset's id for real people).
        template: The persona template's name.
        attributes: The values the template is rendered with.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    template: str
    attributes: dict[str, Any]

    def render(self, library: PersonaLibrary | None = None) -> str:
        """The persona's system prompt (validated, sandboxed, deterministic)."""
        return (library or default_library()).render(self.template, self.attributes)
