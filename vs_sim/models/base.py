"""The one model protocol: a request in, raw text plus usage, cost and latency out.

Every model — litellm, the offline model, a scripted test double — implements
``Model.acomplete(request) -> Completion``. Wrappers (cache, retries, limits)
take a model and are a model, so they stack in any order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

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

    @cached_property
    def key(self) -> str:
        """A stable SHA-256 of the whole request (model, messages, params, repeat).

        Computed once per request (it is asked for by the cache, the call record and the
        completion); :meth:`model_copy` drops it, so a changed copy gets its own.
        """
        payload = json.dumps(
            {
                "model": self.model,
                "messages": list(self.messages),
                "params": self.params,
                "repeat": self.repeat,
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Request:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("key", None)
        return copy


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
