"""The sandbox persona templates render in, and the checks made before they do.

Templates may come from untrusted folders. They render in jinja2's immutable sandbox
with ``StrictUndefined``; the globals that can reach internals (``cycler``, ``joiner``,
``namespace``, ``lipsum``) and the nondeterministic ``random`` filter are removed;
huge repetitions are refused; and before a template is ever rendered its syntax tree
is searched for ``_``-names such as ``__class__``, which are refused with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import TemplateError

__all__ = ["make_environment", "neutralize_tags", "refuse_unsafe", "where_in_template"]

UNSAFE_GLOBALS = ("cycler", "joiner", "namespace", "lipsum")
_TAG_START = re.compile(r"<(?=/?[A-Za-z!?])")
_MAX_REPEAT = 100_000


def neutralize_tags(value: Any) -> Any:
    """Printed values cannot open a markup tag: ``<text>`` becomes ``‹text>``."""
    if isinstance(value, str) and "<" in value:
        return _TAG_START.sub("‹", value)
    return value


class _PersonaSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, also refusing huge repetitions and powers."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 100:
            raise jinja2.exceptions.SecurityError("exponent too large for a persona template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > _MAX_REPEAT:
                    raise jinja2.exceptions.SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


def make_environment(search_path: Sequence[Path]) -> jinja2.Environment:
    env = _PersonaSandbox(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=neutralize_tags,
        auto_reload=False,
    )
    for name in UNSAFE_GLOBALS:
        env.globals.pop(name, None)
    env.filters.pop("random", None)  # renders must be deterministic
    return env


def where_in_template(exc: BaseException) -> str | None:
    """``file:line`` of the innermost template frame in a rendering traceback."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.endswith(".py") and not filename.startswith("<"):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def refuse_unsafe(tree: nodes.Template, filename: str) -> None:
    """Refuse, before anything renders, expressions that reach for Python internals."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Name)):
        name: Any = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            arg = node.args[0]
            name = arg.value if isinstance(arg, nodes.Const) else None
        elif isinstance(node, nodes.Name) and node.name in UNSAFE_GLOBALS and node.ctx == "load":
            raise TemplateError(
                f"{filename}:{node.lineno}: refused: {node.name!r} is not available in persona "
                "templates (sandbox)"
            )
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateError(
                f"{filename}:{node.lineno}: refused: {name!r} reaches Python internals; "
                "persona templates run in a sandbox"
            )
