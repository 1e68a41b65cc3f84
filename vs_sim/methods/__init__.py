"""The paper's prompting methods as data plus Jinja2 templates.

=============  =========================  ==============================================
method         calls per distribution     what it asks
=============  =========================  ==============================================
direct         k independent calls        one answer (the baseline that collapses)
cot            k independent calls        reasoning, then one answer
sequence       1                          k answers in one list, no numbers
multi_turn     k turns of one chat        "give another, different one"
vs_standard    1                          k answers with probabilities (Verbalized Sampling)
vs_cot         1                          reasoning, then k answers with probabilities
vs_multi       ⌈k / m⌉ turns of one chat  m answers with probabilities per turn
=============  =========================  ==============================================

A method's instructions are appended to the system message; the user's messages are left as
they are, so a persona's system prompt and a conversation's history pass through untouched.
Templates ship in ``vs_sim/methods/templates``; a folder in ``template_dirs`` overrides any
of them by file name (``vs-sim verbalize --templates DIR`` on the command line).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ConfigError
from ..errors import TemplateError as VSTemplateError
from ..models.base import Message
from ..parsing import ParseResult, parse_response

METHOD_NAMES: tuple[str, ...] = (
    "direct",
    "cot",
    "sequence",
    "multi_turn",
    "vs_standard",
    "vs_cot",
    "vs_multi",
)
VS_METHODS: frozenset[str] = frozenset({"vs_standard", "vs_cot", "vs_multi"})
WORDINGS: tuple[str, ...] = ("explicit", "implicit", "relative", "percentage", "confidence")
TEMPLATE_DIR = Path(__file__).parent / "templates"

Wording = Literal["explicit", "implicit", "relative", "percentage", "confidence"]


@lru_cache(maxsize=16)
def _environment(template_dirs: tuple[str, ...]) -> ImmutableSandboxedEnvironment:
    loaders = [FileSystemLoader(d) for d in template_dirs] + [FileSystemLoader(TEMPLATE_DIR)]
    return ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


class Method(BaseModel):
    """A prompting method with its options.

    Attributes:
        name: One of :data:`METHOD_NAMES`.
        k: How many candidates to ask for; ``None`` lets the model decide ("all plausible";
            VS methods only).
        m: Candidates per turn for ``vs_multi`` (default: ⌈k / 2⌉ so it takes two turns).
        wording: How VS methods phrase the probability (``explicit`` is the paper's default).
        tail: Prompt-side tail threshold: ask that every response's probability be below it.
            Unrelated to the post-hoc ``tau`` filter, which never changes the prompt.
        length_hint: An optional sentence about length, e.g. "Keep each under 40 words."
        format: Answer format the prompt asks for: ``json`` or ``xml``.
        template_dirs: Folders whose templates override the built-in ones by file name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "vs_standard"
    k: int | None = 5
    m: int | None = None
    wording: Wording = "explicit"
    tail: float | None = None
    length_hint: str | None = None
    format: Literal["json", "xml"] = "json"
    template_dirs: tuple[str, ...] = Field(default_factory=tuple)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in METHOD_NAMES:
            raise ValueError(f"unknown method {v!r}; expected one of {', '.join(METHOD_NAMES)}")
        return v

    @model_validator(mode="after")
    def _check(self) -> Method:
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.k is None and self.name not in (*VS_METHODS, "sequence"):
            raise ValueError(f"k=None ('all plausible') needs a list method, not {self.name!r}")
        if self.m is not None and self.m < 1:
            raise ValueError(f"m must be >= 1, got {self.m}")
        if self.tail is not None and not 0 < self.tail <= 1:
            raise ValueError(f"tail must be in (0, 1], got {self.tail}")
        return self

    # -- shape -----------------------------------------------------------------------------
    @property
    def verbalized(self) -> bool:
        """Whether the method asks the model for a number per candidate."""
        return self.name in VS_METHODS

    @property
    def per_turn(self) -> int | None:
        """Candidates asked for per turn (``vs_multi``), or per call otherwise."""
        if self.name == "vs_multi":
            if self.k is None:
                return self.m
            return self.m or max(1, math.ceil(self.k / 2))
        return self.k

    @property
    def independent_calls(self) -> int:
        """How many independent one-answer calls make a distribution (direct, cot)."""
        return (self.k or 1) if self.name in ("direct", "cot") else 1

    @property
    def turns(self) -> int:
        """How many turns of one chat make a distribution (multi_turn, vs_multi)."""
        if self.name == "multi_turn":
            return self.k or 1
        if self.name == "vs_multi":
            per = self.per_turn or 1
            return math.ceil(self.k / per) if self.k is not None else 2
        return 1

    def turn_sizes(self) -> list[int | None]:
        """Candidates asked for in each turn of ``vs_multi`` (the last turn takes the rest)."""
        if self.name != "vs_multi" or self.k is None:
            return [self.per_turn] * self.turns
        per = self.per_turn or 1
        return [min(per, self.k - i * per) for i in range(self.turns)]

    # -- prompts ---------------------------------------------------------------------------
    def _render(self, template: str, per_turn: int | None = None) -> str:
        # A Method is frozen and its templates are pure, so each text is rendered once, and
        # kept on the instance (found by id: hashing a Method costs more than rendering's
        # other steps, and each turn asks again).
        texts = _RENDERED.get(id(self))
        if texts is None:
            texts = _RENDERED[id(self)] = {}
            weakref.finalize(self, _RENDERED.pop, id(self), None)  # (before the id is reused)
        key = (template, per_turn)
        text = texts.get(key)
        if text is None:
            text = texts[key] = _render_cached(self, template, per_turn)
        return text

    def instructions(self, turn_size: int | None = None) -> str:
        """The text appended to the system message for the first call."""
        if self.name == "vs_multi":
            return self._render("vs_multi.j2", per_turn=turn_size or self.per_turn)
        return self._render(f"{self.name}.j2")

    def followup(self, turn_size: int | None = None) -> str:
        """The user message that asks for more in a later turn (multi_turn, vs_multi)."""
        if self.name == "vs_multi":
            return self._render("vs_multi_followup.j2", per_turn=turn_size or self.per_turn)
        if self.name == "multi_turn":
            return self._render("multi_turn_followup.j2")
        raise ConfigError(f"method {self.name!r} has no follow-up turns")

    def build_messages(
        self, messages: Sequence[Message], turn_size: int | None = None
    ) -> list[Message]:
        """The first call's messages: the method's instructions joined to the system message."""
        out = [dict(msg) for msg in messages]
        text = self.instructions(turn_size)
        if out and out[0].get("role") == "system":
            out[0]["content"] = f"{out[0]['content'].rstrip()}\n\n{text}"
        else:
            out.insert(0, {"role": "system", "content": text})
        return out

    def response_format(self) -> dict[str, Any] | None:
        """A strict JSON schema for providers that take one (JSON list methods only)."""
        if self.format != "json" or self.name not in ("sequence", *VS_METHODS):
            return None
        item: dict[str, Any] = {"text": {"type": "string"}}
        if self.verbalized:
            item[_number_key(self.wording)] = {"type": "number"}
        props: dict[str, Any] = {
            "responses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": item,
                    "required": list(item),
                    "additionalProperties": False,
                },
            }
        }
        if self.name == "vs_cot":
            props = {"reasoning": {"type": "string"}, **props}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": "verbalized_responses",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": props,
                    "required": list(props),
                    "additionalProperties": False,
                },
            },
        }

    # -- reading answers ---------------------------------------------------------------------
    def parse(self, text: str) -> ParseResult:
        """Read one call's raw text with the parser this method needs."""
        if self.name in ("direct", "multi_turn"):
            return parse_response(text, expect_probabilities=False, allow_plain=True)
        return parse_response(text, expect_probabilities=self.verbalized)


_RENDERED: dict[int, dict[tuple[str, int | None], str]] = {}
"""Each live Method's rendered texts, by ``id`` (an entry is removed when its Method dies)."""


@lru_cache(maxsize=1024)
def _render_cached(method: Method, template: str, per_turn: int | None) -> str:
    env = _environment(method.template_dirs)
    context = {
        "k": method.k,
        "per_turn": per_turn if per_turn is not None else method.per_turn,
        "wording": method.wording,
        "tail": method.tail,
        "length_hint": method.length_hint,
        "format": method.format,
    }
    try:
        return env.get_template(template).render(**context).strip()
    except TemplateError as exc:
        raise VSTemplateError(f"method template {template!r}: {exc}") from exc


def _number_key(wording: str) -> str:
    return "confidence" if wording == "confidence" else "probability"


def get_method(method: str | Method = "vs_standard", **options: Any) -> Method:
    """A :class:`Method` from a name and options (or a Method with options replaced).

    Raises:
        ConfigError: unknown method or an invalid option, naming the option.
    """
    if isinstance(method, Method):
        return method.model_copy(update=options) if options else method
    dirs = options.pop("template_dirs", None) or ()
    try:
        return Method(name=method, template_dirs=tuple(str(d) for d in dirs), **options)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise ConfigError(_first_error(exc), where=f"method {method!r}") from exc


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for err in errors():
            loc = ".".join(str(x) for x in err.get("loc", ()))
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}" if loc else msg)
        return "; ".join(parts)
    return str(exc)


__all__ = ["METHOD_NAMES", "VS_METHODS", "WORDINGS", "Method", "get_method"]
