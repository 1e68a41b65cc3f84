"""What a persona template declares: its attributes, in a YAML front matter.

The front matter is a Jinja comment at the very top of the file, so rendering
ignores it::

    {#- ---
    description: One line saying who this persona is.
    attributes:
      age: {type: int, min: 18, max: 100}
      sex: {choices: [female, male]}
      religion: {default: null}
    --- -#}

An attribute with a ``default`` (``null`` included) is optional. From the
declaration a pydantic model is built that checks values before rendering.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic import model_validator as _model_validator

from .errors import TemplateError

__all__ = [
    "FRONT_MATTER",
    "AttributeSpec",
    "AttributeType",
    "choice_hint",
    "parse_front_matter",
    "validation_model",
]

AttributeType = Literal["str", "int", "float", "bool"]
Scalar = str | int | float | bool

FRONT_MATTER = re.compile(r"\A\{#-?[ \t]*---[ \t]*\r?\n(.*?)\r?\n[ \t]*---[ \t]*-?#\}", re.S)
"""The front matter at the top of a template file; group 1 is the YAML."""

_PY_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}
_TYPE_WORDS = {"str": "text", "int": "an integer", "float": "a number", "bool": "true or false"}


class AttributeSpec(BaseModel):
    """One attribute a persona template needs.

    An attribute is optional when the declaration gives a ``default`` (``null`` is
    allowed and means "not known"; templates phrase its absence).

    Attributes:
        name: A Python identifier; the variable name inside the template.
        type: ``str``, ``int``, ``float`` or ``bool``.
        choices: The allowed values, if the attribute is categorical.
        min: The smallest allowed value (numbers only).
        max: The largest allowed value (numbers only).
        default: The value used when none is given.
        description: What the attribute means, for ``vs-sim personas list``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: AttributeType = "str"
    choices: tuple[Scalar, ...] | None = None
    min: float | None = None
    max: float | None = None
    default: Any = None
    description: str = ""

    @_model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" not in data and data.get("choices"):
            first = data["choices"][0]
            inferred = {bool: "bool", int: "int", float: "float"}.get(type(first), "str")
            data = {**data, "type": inferred}
        return data

    @_model_validator(mode="after")
    def _check(self) -> AttributeSpec:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise ValueError(
                f"attribute name {self.name!r} must be an identifier not starting with _"
            )
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise ValueError(f"min/max only apply to numbers, not type {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        if self.choices is not None:
            if not self.choices:
                raise ValueError("choices must not be empty")
            py = _PY_TYPES[self.type]
            bad = [c for c in self.choices if not _is_type(c, py)]
            if bad:
                raise ValueError(f"choices {bad!r} are not of type {self.type}")
        return self

    @property
    def required(self) -> bool:
        """True when the declaration gave no default."""
        return "default" not in self.model_fields_set

    def allowed(self) -> str:
        """What values are allowed, in words (used in error messages and listings)."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        words = _TYPE_WORDS[self.type]
        lo, hi = _num(self.min), _num(self.max)
        if lo is not None and hi is not None:
            return f"{words} from {lo} to {hi}"
        if lo is not None:
            return f"{words} ≥ {lo}"
        if hi is not None:
            return f"{words} ≤ {hi}"
        return "any text" if self.type == "str" else words


def _is_type(value: Any, py: type) -> bool:
    if py is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if py is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, py)


def _num(x: float | None) -> int | float | None:
    return int(x) if x is not None and float(x).is_integer() else x


def validation_model(name: str, attributes: dict[str, AttributeSpec]) -> type[BaseModel]:
    """A pydantic model checking values against ``attributes`` (unknown names forbidden)."""
    fields: dict[str, Any] = {}
    for spec in attributes.values():
        inner: Any = Annotated[_PY_TYPES[spec.type], Field(ge=spec.min, le=spec.max)]
        if spec.choices is not None and spec.type == "str":
            inner = Literal[spec.choices]  # checked in pydantic's core: fast
        elif spec.choices is not None:
            inner = Annotated[inner, AfterValidator(functools.partial(_check_choice, spec))]
        if spec.required:
            fields[spec.name] = (inner, ...)
        else:
            fields[spec.name] = (inner | None, spec.default)
    return create_model(
        f"{name.replace('/', '_')}_attributes", __config__=ConfigDict(extra="forbid"), **fields
    )


def _check_choice(spec: AttributeSpec, value: Any) -> Any:
    if any(value == c and type(value) is type(c) for c in spec.choices or ()):
        return value
    raise ValueError(choice_hint(spec, value))


def choice_hint(spec: AttributeSpec | None, value: Any) -> str:
    """ "not one of the choices", with the closest choice when one is near."""
    choices = [str(c) for c in (spec.choices or ())] if spec else []
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"not one of the choices{hint}"


class _Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    attributes: dict[str, dict[str, Any] | None] = Field(default_factory=dict)


def parse_front_matter(source: str, filename: str) -> tuple[str | None, dict[str, AttributeSpec]]:
    """The description (None without a front matter) and attributes a file declares."""
    match = FRONT_MATTER.match(source)
    if match is None:
        return None, {}
    try:
        raw = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise TemplateError(f"{filename}:{line}: front matter is not valid YAML: {exc}") from None
    where = f"{filename}: front matter"
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: expected a mapping with description and attributes")
    try:
        declaration = _Declaration.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"])
        raise TemplateError(f"{where}: {path}: {err['msg']}") from None
    attributes: dict[str, AttributeSpec] = {}
    for key, body in declaration.attributes.items():
        try:
            attributes[key] = AttributeSpec.model_validate({**(body or {}), "name": key})
        except ValidationError as exc:
            err = exc.errors()[0]
            path = ".".join(str(p) for p in ("attributes", key, *err["loc"]))
            msg = str(err["msg"]).removeprefix("Value error, ")
            raise TemplateError(f"{where}: {path}: {msg}") from None
    return declaration.description.strip(), attributes
