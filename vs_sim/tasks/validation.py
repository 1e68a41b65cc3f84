"""Readable errors for files users write: field paths, YAML lines, YAML 1.2 booleans.

Pydantic reports a location as a tuple such as ``('questions', 3, 'scale', 'options')``;
:func:`error_paths` turns it into ``questions[3].options`` (dropping the tags of
discriminated unions), and :func:`config_error` into one
:class:`~vs_sim.errors.ConfigError` that names the file, the YAML line and the path.
Validators can raise :func:`field_error` to point below the field they check (for instance
at one option of a list). :func:`read_yaml` reads ``Yes``/``No`` as text, not booleans.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from ..errors import ConfigError


class _Loader(yaml.SafeLoader):
    """A safe YAML loader with YAML 1.2 booleans: only true/false, so ``Yes`` stays text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(text: str) -> Any:
    """Parse YAML safely, reading ``yes``/``no``/``on``/``off`` as text (YAML 1.2 booleans).

    Scenario files that embed a questionnaire should be read with this too, so that options
    such as ``[Yes, No]`` survive.
    """
    return yaml.load(text, Loader=_Loader)  # safe: _Loader is a SafeLoader


def field_error(path: str, message: str) -> PydanticCustomError:
    """A validation error pointing at ``path`` below the field being validated.

    ``path`` is relative: ``[2].text`` or ``max_select``; :func:`error_paths` appends it.
    """
    return PydanticCustomError(
        "vs_sim", message.replace("{", "(").replace("}", ")"), {"path": path}
    )


def format_location(loc: Sequence[int | str], tags: Collection[str] = ()) -> str:
    """``('questions', 3, 'scale', 'options')`` → ``questions[3].options``.

    Args:
        loc: A pydantic error location.
        tags: The discriminator values of tagged unions in the model; an element of ``loc``
            that is one of them right after a list index is the union's tag, not a field.
    """
    out = ""
    prev: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(prev, int) and part in tags:
            pass  # the discriminated union's tag, not a field
        elif part.startswith(("function-", "tagged-union[")):
            pass
        else:
            out += f".{part}" if out else part
        prev = part
    return out


def error_paths(exc: ValidationError, tags: Collection[str] = ()) -> list[tuple[str, str]]:
    """Each error of ``exc`` as ``(field path, message)``, paths like ``questions[3].options``.

    ``tags`` are the values of the tagged unions' ``type`` field (see :func:`format_location`).
    """
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        path = format_location(err["loc"], tags)
        extra = (err.get("ctx") or {}).get("path")
        if extra:
            path = f"{path}{extra}" if extra.startswith("[") or not path else f"{path}.{extra}"
        message = err["msg"]
        if err["type"] == "missing":
            message = "this field is required"
        elif err["type"] == "union_tag_not_found":
            path, message = f"{path}.type", f"missing; expected one of {', '.join(tags)}"
        elif err["type"] == "union_tag_invalid":
            given = (err.get("ctx") or {}).get("tag")
            path = f"{path}.type"
            message = f"unknown type {given!r}; expected one of {', '.join(tags)}"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        out.append((path, message))
    return out


def config_error(
    exc: ValidationError,
    *,
    where: str | None = None,
    source: str | None = None,
    prefix: str = "",
    tags: Collection[str] = (),
) -> ConfigError:
    """One :class:`ConfigError` for a validation failure: ``file:line path: message``.

    Args:
        exc: The pydantic error.
        where: The file (or other origin) of the data.
        source: The YAML text, to find the line of the failing field.
        prefix: The path of the validated data inside that text (e.g. ``questionnaire``).
        tags: The tagged unions' tag values (see :func:`format_location`).
    """
    paths = error_paths(exc, tags)
    path, message = paths[0]
    if len(paths) > 1:
        rest = "; ".join(f"{p or '(top level)'}: {m}" for p, m in paths[1:4])
        message += f" (and {len(paths) - 1} more: {rest})"
    if prefix:
        path = f"{prefix}.{path}" if path else prefix
    line = yaml_line(source, path) if source else None
    origin = f"{where}:{line}" if where and line else where
    location = f"{origin} {path}" if origin and path else (origin or path or None)
    return ConfigError(message, where=location)


def yaml_line(source: str, path: str) -> int | None:
    """The 1-based line of the deepest node of ``path`` that exists in the YAML ``source``."""
    try:
        node: Any = yaml.compose(source)
    except yaml.YAMLError:
        return None
    steps: list[int | str] = [
        int(index) if index else name for index, name in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path)
    ]
    line = None
    for step in steps:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if step < len(node.value) else None
        elif isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == step), None)
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line
