"""Models: one protocol, litellm and offline implementations, and wrappers that stack.

``build_model("openai/gpt-4o-mini")`` gives the usual stack, outermost first::

    CachedModel ▸ LimitedModel ▸ RetryingModel ▸ LiteLLMModel

so a cache hit costs no concurrency slot and no retry. Names starting ``offline/``
build the offline model (no network, synthetic answers), uncached unless a cache
file is given. Nothing here imports litellm until the first remote call.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from .base import Completion, Message, Model, Request, Usage
from .cache import CachedModel, ResponseCache, default_cache_path
from .limits import LimitedModel
from .litellm_model import LiteLLMModel, close_litellm_clients
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
    base = LiteLLMModel(name, api_base=api_base, api_key=api_key, json_schema=json_schema)
    model: Model = RetryingModel(base, max_retries=max_retries, timeout=timeout)
    model = LimitedModel(model, concurrency=concurrency, rpm=rpm, tpm=tpm)
    remote_cache = _cache_for(cache, remote=True)
    if remote_cache is not None:
        model = CachedModel(model, remote_cache)
    return model


async def _complete_then_close(model: Model, request: Request) -> Completion:
    try:
        return await model.acomplete(request)
    finally:
        await close_litellm_clients()  # this event loop ends here; free its sockets


def complete_sync(model: Model, request: Request) -> Completion:
    """Run one request to completion from synchronous code.

    Works with or without a running event loop: inside one (a notebook cell), the
    call runs on a fresh loop in a worker thread instead of blocking the running loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_complete_then_close(model, request))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vs_sim-complete") as pool:
        return pool.submit(lambda: asyncio.run(_complete_then_close(model, request))).result()
