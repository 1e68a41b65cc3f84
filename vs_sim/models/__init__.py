"""Models: one protocol, litellm and offline implementations, and wrappers that stack.

``build_model("openai/gpt-4o-mini")`` gives the usual stack, outermost first::

    CachedModel ▸ LimitedModel ▸ RetryingModel ▸ LiteLLMModel

so a cache hit costs no concurrency slot and no retry. Names starting ``offline/``
build the offline model (no network, synthetic answers), uncached unless a cache
file is given. Nothing here imports litellm until the first remote call.
"""

from __future__ import annotations

import os
from typing import Literal

from ..errors import ConfigError
from ..sync import run_sync
from .base import Completion, Message, Model, Request, Usage, aclose_model
from .cache import CachedModel, ResponseCache, default_cache_path
from .limits import LimitedModel
from .litellm_model import LiteLLMModel
from .retry import RetryingModel

__all__ = [
    "CachedModel",
    "Completion",
    "LimitedModel",
    "LiteLLMModel",
    "Message",
    "Model",
    "Request",
    "ResponseCache",
    "RetryingModel",
    "Usage",
    "aclose_model",
    "build_model",
    "complete_sync",
    "default_cache_path",
]

OFFLINE_PREFIX = "offline/"


def _cache_for(
    cache: str | os.PathLike[str] | bool | None, *, remote: bool
) -> ResponseCache | None:
    if cache is False:
        return None
    if cache is None:
        return ResponseCache(default_cache_path()) if remote else None
    if cache is True:
        return ResponseCache(default_cache_path())
    return ResponseCache(cache)


def build_model(
    name: str,
    *,
    cache: str | os.PathLike[str] | bool | None = None,
    concurrency: int = 16,
    max_retries: int = 4,
    timeout: float | None = 60.0,
    rpm: float | None = None,
    tpm: float | None = None,
    api_base: str | None = None,
    api_key: str | None = None,
    json_schema: bool | None = None,
    client: Literal["auto", "litellm", "openai_compat"] = "auto",
) -> Model:
    """Build a ready-to-use model from its name.

    Args:
        name: ``offline/<anything>`` for the offline model, else a litellm model name
            (``openai/gpt-4o-mini``, ``anthropic/...``, ``ollama/llama3.1``,
            ``hosted_vllm/...``, or ``openai/<model>`` with ``api_base``).
        cache: ``None``: the default file (``$VS_SIM_HOME/cache.sqlite``) for remote
            models, no cache for offline ones; ``False``: no cache; ``True``: the
            default file; a path: that file.
        concurrency: Calls in flight at once.
        max_retries: Retries after a failed attempt (429, 5xx, dropped, timed out).
        timeout: Seconds per attempt (``None``: no limit).
        rpm: Requests per minute to stay under (``None``: no pacing).
        tpm: Tokens per minute to stay under (``None``: no pacing).
        api_base: The server's address, when not the provider's default.
        api_key: The key; by default litellm reads the provider's environment variable.
        json_schema: Override whether the provider takes a JSON schema.
        client: ``auto`` sends ``openai/…`` and ``hosted_vllm/…`` names that have an
            ``api_base`` (vLLM, SGLang, llama.cpp, LM Studio, Ollama's ``/v1``, ...) through
            vs_sim's lean OpenAI-compatible client, and everything else through litellm;
            ``litellm`` or ``openai_compat`` forces one.

    Returns:
        The model; call ``await model.aclose()`` (or ``model.close()`` outside a loop)
        when done to release the cache file and connections.
    """
    if name.startswith(OFFLINE_PREFIX):
        from .offline import OfflineModel

        offline: Model = OfflineModel(name)
        if json_schema is not None:
            offline.supports_json_schema = json_schema
        offline_cache = _cache_for(cache, remote=False)
        return offline if offline_cache is None else CachedModel(offline, offline_cache)
    base = _base_model(name, client, api_base, api_key, json_schema, concurrency)
    model: Model = RetryingModel(base, max_retries=max_retries, timeout=timeout)
    model = LimitedModel(model, concurrency=concurrency, rpm=rpm, tpm=tpm)
    remote_cache = _cache_for(cache, remote=True)
    if remote_cache is not None:
        # the address is part of the key: one model name at two servers is two models
        model = CachedModel(model, remote_cache, namespace=(api_base or "").rstrip("/"))
    return model


_LEAN_PREFIXES = {"openai": "OPENAI_API_KEY", "hosted_vllm": "HOSTED_VLLM_API_KEY"}


def _base_model(
    name: str,
    client: str,
    api_base: str | None,
    api_key: str | None,
    json_schema: bool | None,
    concurrency: int,
) -> Model:
    """The model that makes the HTTP call: the lean client or litellm (see ``client``)."""
    if client not in ("auto", "litellm", "openai_compat"):
        raise ConfigError(
            f"unknown client {client!r}; expected auto, litellm or openai_compat", where=name
        )
    provider = name.split("/", 1)[0]
    lean = client == "openai_compat" or (
        client == "auto" and api_base is not None and provider in _LEAN_PREFIXES
    )
    if not lean:
        return LiteLLMModel(name, api_base=api_base, api_key=api_key, json_schema=json_schema)
    if api_base is None:
        raise ConfigError("the openai_compat client needs an api_base", where=name)
    from .openai_compat import OpenAICompatModel

    if api_key is None and provider in _LEAN_PREFIXES:
        api_key = os.environ.get(_LEAN_PREFIXES[provider])  # as litellm would read it
    return OpenAICompatModel(
        name,
        api_base=api_base,
        api_key=api_key,
        json_schema=json_schema,
        connector_limit=max(concurrency, 1),
    )


def complete_sync(model: Model, request: Request) -> Completion:
    """Run one request to completion from synchronous code.

    Works with or without a running event loop: inside one (a notebook cell), the
    call runs on a fresh loop in a worker thread instead of blocking the running loop.
    """

    async def once() -> Completion:
        try:
            return await model.acomplete(request)
        finally:
            await aclose_model(model)  # this event loop ends here; free its sockets

    return run_sync(once())
