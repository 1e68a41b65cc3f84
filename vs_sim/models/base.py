"""The one model protocol: a request in, raw text plus usage, cost and latency out.

Every model — litellm, the offline model, a scripted test double — implements
``Model.acomplete(request) -> Completion``. Wrappers (cache, retries, limits)
take a model and are a model, so they stack in any order.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import orjson
from pydantic import BaseModel, ConfigDict, Field

from ..records import trusted

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""


class Usage(BaseModel):
    """Token counts of one call (or a sum of calls)."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class Request(BaseModel):
    """Everything that determines a completion; its ``key`` addresses the cache.

    Attributes:
        model: The model's name as the user wrote it (e.g. ``offline/demo``).
        messages: The chat so far.
        params: Sampling parameters passed through to the provider (temperature,
            max_tokens, response_format, seed, ...).
        repeat: The sample index. Two requests that differ only here are different
            samples, so the cache never hands back one answer as several "fresh" ones.
    """

    model_config = ConfigDict(frozen=True)

    model: str
    messages: tuple[Message, ...]
    params: dict[str, Any] = Field(default_factory=dict)
    repeat: int = 0

    @classmethod
    def trusted(
        cls, model: str, messages: tuple[Message, ...], params: dict[str, Any], repeat: int
    ) -> Request:
        """A request from values already known to be valid, built without validation.

        For vs_sim's own hot path (every model call builds a request; validating a long
        chat copies every message). The result equals ``Request(model=model, messages=
        messages, params=params, repeat=repeat)``, but ``messages`` and ``params`` are kept,
        not copied: the caller must not change them afterwards.
        """
        return trusted(
            cls,
            {"model": model, "messages": messages, "params": params, "repeat": repeat},
            set(_REQUEST_FIELDS),
        )

    @property
    def key(self) -> str:
        """A stable SHA-256 of the whole request (model, messages, params, repeat).

        The hash of :func:`stable_json` of ``{"model", "messages", "params", "repeat"}``.
        Computed once per request (it is asked for by the cache, the call record and the
        completion); :meth:`model_copy` drops it, so a changed copy gets its own.
        """
        fields = self.__dict__  # the key is kept beside the fields, as cached_property would
        key: str | None = fields.get("key")
        if key is None:
            params = fields["params"]
            payload = {
                "messages": fields["messages"],
                "model": fields["model"],
                "params": params,
                "repeat": fields["repeat"],
            }
            # model and messages hold strings (validated, or trusted): only params can hold
            # what orjson writes differently from json
            data = _orjson_or_none(payload) if not params or _json_alike(params) else None
            key = fields["key"] = hashlib.sha256(data or _json_bytes(payload)).hexdigest()
        return key

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Request:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("key", None)
        return copy


_REQUEST_FIELDS = tuple(Request.model_fields)


def stable_json(value: Any) -> bytes:
    """``value`` as ``json.dumps(value, sort_keys=True, ensure_ascii=False,
    separators=(",", ":"), default=str)`` writes it, in UTF-8.

    The form request keys hash, so it must never change. orjson writes it (several times
    faster) whenever it gives the same bytes: plain JSON data with string keys and floats
    it formats as json does; anything else goes through ``json.dumps``.

    Example:
        >>> stable_json({"b": [1, 0.5, None], "a": "é"}).decode()
        '{"a":"é","b":[1,0.5,null]}'
    """
    if _json_alike(value):
        data = _orjson_or_none(value)
        if data is not None:
            return data
    return _json_bytes(value)


def _json_alike(value: Any) -> bool:
    """Whether orjson writes ``value`` byte for byte as :func:`stable_json`'s json form.

    Only exact JSON types qualify (subclasses, enums, dates, ... are written with ``str()``
    by json but natively by orjson). Floats qualify from 1e-4 up (json writes ``1e-05``
    where orjson writes ``0.00001``), and zero; NaN and infinities do not. Dict keys are
    left to orjson, which refuses any that is not a string. A loop rather than recursion:
    this runs on every request's params.
    """
    kind = type(value)
    if kind is not dict and kind is not list and kind is not tuple:
        return _json_alike_scalar(value)
    containers = [value]
    while containers:
        container = containers.pop()
        for item in container.values() if type(container) is dict else container:
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if kind is dict or kind is list or kind is tuple:
                containers.append(item)
            elif not _json_alike_scalar(item):
                return False
    return True


def _json_alike_scalar(value: Any) -> bool:
    """:func:`_json_alike` for anything but a dict, list or tuple."""
    kind = type(value)
    if kind is float:
        number: float = value
        return number == 0.0 or 1e-4 <= abs(number) < math.inf  # NaN fails both
    return kind is str or kind is int or kind is bool or value is None


def _orjson_or_none(value: Any) -> bytes | None:
    """``orjson.dumps`` with sorted keys, or ``None`` where orjson refuses the value."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # lone surrogates, ints beyond 64 bits, deep nesting
        return None


def _json_bytes(value: Any) -> bytes:
    """The json form :func:`stable_json` promises, written by json itself."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode("utf-8")


class Completion(BaseModel):
    """A model's raw answer and what it cost.

    Attributes:
        text: The raw completion text, unparsed.
        model: The model that answered.
        usage: Token counts.
        cost: Dollars, when the price is known; ``None`` otherwise.
        latency: Seconds the call took (0 for a cache hit's replay).
        cached: True when served from the cache.
        retries: How many retries the retry wrapper needed.
        synthetic: True when the text was made by the offline model, not a language model.
        request_key: The request's cache key.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    model: str
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    latency: float = 0.0
    cached: bool = False
    retries: int = 0
    synthetic: bool = False
    request_key: str | None = None


@runtime_checkable
class Model(Protocol):
    """Anything that turns a :class:`Request` into a :class:`Completion`.

    Attributes:
        name: The model's name.
        supports_json_schema: Whether the provider accepts a JSON schema as
            ``response_format``; methods only send one when it does.
    """

    name: str
    supports_json_schema: bool

    async def acomplete(self, request: Request) -> Completion:
        """Run one request and return the raw completion."""
        ...


async def aclose_model(model: object) -> None:
    """Release what a model holds for the running event loop (litellm's HTTP clients, an
    aiohttp session). Safe on any model; a closed model reopens on its next call."""
    aclose = getattr(model, "aclose", None)
    if callable(aclose):
        await aclose()
