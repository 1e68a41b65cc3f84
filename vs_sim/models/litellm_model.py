"""Any provider litellm speaks to (OpenAI, Anthropic, Ollama, vLLM, any OpenAI-compatible server).

litellm is imported on the first call, not before: it takes seconds to import, and
``import vs_sim`` must stay fast. Before importing it we ask for the bundled price
table (``LITELLM_LOCAL_MODEL_COST_MAP``) so no network is touched, and we turn off
its callbacks and debug output.

The API key is held by the model object only. It is passed to litellm on each call
and never put in a :class:`~vs_sim.models.base.Request` (so never in a cache key or
the cache), in ``repr``, in error messages or in logs. Without one, litellm reads the
provider's usual environment variable (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import os
import sys
import threading
import time
import warnings
from types import ModuleType, TracebackType
from typing import Any

from ..errors import ConfigError, ProviderError
from .base import Completion, Request, Usage
from .provider_errors import map_provider_error

_litellm: ModuleType | None = None
_import_lock = threading.Lock()

# Parameters that carry secrets or addresses; they belong to the model object, never a request.
_RESERVED_PARAMS = frozenset({"api_key", "api_base", "base_url", "model", "messages"})


def _quiet(litellm: Any) -> None:
    """Turn off litellm's debug output, telemetry and callbacks (they cost time per call)."""
    litellm.suppress_debug_info = True
    litellm.redact_messages_in_exceptions = True
    litellm.telemetry = False  # gone in recent litellm; harmless where absent
    for name in (
        "callbacks",
        "success_callback",
        "failure_callback",
        "input_callback",
        "service_callback",
        "_async_success_callback",
        "_async_failure_callback",
    ):
        if isinstance(getattr(litellm, name, None), list):
            setattr(litellm, name, [])


def _loaded() -> ModuleType | None:
    return _litellm


def import_litellm() -> ModuleType:
    """Import litellm once, offline and quiet (no remote price table, no callbacks)."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _import_lock:
        done = _loaded()  # another thread may have finished while this one waited
        if done is not None:
            return done
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        # litellm's own import- and first-use-time warnings (pydantic schema notes and the
        # like) are not the user's to act on, and with warnings as errors a warning raised
        # halfway through building a pydantic model leaves it broken for every later call.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import litellm

            _quiet(litellm)
            # litellm imports these on its first call, inside the event loop; doing it now
            # keeps that first call from stalling the loop (and tripping a short timeout).
            for module in ("openai.resources.chat", "litellm.proxy._types"):
                with contextlib.suppress(ImportError):  # a release that moved them
                    importlib.import_module(module)
            with contextlib.suppress(Exception):
                litellm.ModelResponse()  # builds the response models' schemas once, now
        _litellm = litellm
    return _litellm


async def close_litellm_clients() -> int:
    """Close the HTTP clients litellm cached for the running event loop.

    litellm keeps one client per event loop and never closes it; when the loop ends
    (``asyncio.run`` returns) its sockets are left open. Call this before the loop
    ends. Returns how many clients were closed.
    """
    if _litellm is None:
        return 0
    # Let litellm's background logging finish on this loop first: it may still use a client,
    # and work left queued when the loop ends is never awaited.
    worker_module = sys.modules.get("litellm.litellm_core_utils.logging_worker")
    worker = getattr(worker_module, "GLOBAL_LOGGING_WORKER", None)
    if worker is not None and callable(getattr(worker, "flush", None)):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.flush(), 5.0)
    cache = getattr(_litellm, "in_memory_llm_clients_cache", None)
    entries = getattr(cache, "cache_dict", None)
    if not isinstance(entries, dict):
        return 0
    ttl = getattr(cache, "ttl_dict", None)
    suffix = f"-{id(asyncio.get_running_loop())}"
    closed = 0
    for key in [k for k in entries if isinstance(k, str) and k.endswith(suffix)]:
        client = entries.pop(key, None)
        if isinstance(ttl, dict):
            ttl.pop(key, None)
        for method in ("aclose", "close"):
            close = getattr(client, method, None)
            if callable(close):
                try:
                    result = close()
                    if inspect.isawaitable(result):
                        await result
                    closed += 1
                except Exception:  # a client that cannot close is gone either way
                    pass
                break
    return closed


class LiteLLMModel:
    """A model served through litellm.

    Args:
        name: litellm's model name, provider first: ``openai/gpt-4o-mini``,
            ``anthropic/claude-3-5-haiku-latest``, ``ollama/llama3.1``,
            ``hosted_vllm/<model>``, or ``openai/<model>`` with ``api_base`` for any
            OpenAI-compatible server.
        api_base: The server's address (``http://localhost:8000/v1``), when not the
            provider's default.
        api_key: The key; when ``None`` litellm reads the provider's environment variable.
        json_schema: Whether the provider takes a JSON schema as ``response_format``;
            ``None`` asks litellm's model table (unknown models: no).
        extra_params: Parameters sent with every call (a request's own params win).

    Example:
        >>> model = LiteLLMModel("openai/gpt-4o-mini", api_key="sk-not-shown")
        >>> model
        LiteLLMModel('openai/gpt-4o-mini', api_key='***')
    """

    def __init__(
        self,
        name: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        json_schema: bool | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        extra = dict(extra_params or {})
        reserved = sorted(_RESERVED_PARAMS.intersection(extra))
        if reserved:
            raise ConfigError(
                f"extra_params may not set {', '.join(reserved)}: pass api_base/api_key "
                "to the model (they are kept out of requests and the cache)",
                where=f"LiteLLMModel({name!r}).extra_params",
            )
        self.name = name
        self.api_base = api_base
        self.extra_params = extra
        self.__api_key = api_key
        self._json_schema = json_schema
        self._schema_known: bool | None = None
        self._priced: bool | None = None  # False once litellm said it has no price

    @property
    def supports_json_schema(self) -> bool:
        """Whether the provider takes a JSON schema; asks litellm (once) unless told."""
        if self._json_schema is not None:
            return self._json_schema
        if self._schema_known is None:
            try:
                litellm = import_litellm()
                self._schema_known = bool(litellm.supports_response_schema(model=self.name))
            except Exception:
                self._schema_known = False
        return self._schema_known

    @supports_json_schema.setter
    def supports_json_schema(self, value: bool) -> None:
        self._json_schema = value

    def _cost(self, litellm: ModuleType, response: Any) -> float | None:
        hidden = getattr(response, "_hidden_params", None)
        known = hidden.get("response_cost") if isinstance(hidden, dict) else None
        if isinstance(known, (int, float)):
            return float(known)  # litellm priced the call already
        if self._priced is False:
            return None
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:  # no price for this model: unknown, never a crash
            self._priced = False
            return None
        self._priced = True
        return cost

    async def _send(self, litellm: ModuleType, request: Request) -> Any:
        kwargs: dict[str, Any] = {**self.extra_params, **request.params}
        kwargs.setdefault("max_retries", 0)  # RetryingModel retries; litellm must not
        if self.api_base is not None:
            kwargs["api_base"] = self.api_base
        if self.__api_key is not None:
            kwargs["api_key"] = self.__api_key
        return await litellm.acompletion(model=self.name, messages=list(request.messages), **kwargs)

    async def acomplete(self, request: Request) -> Completion:
        """Send one chat request through litellm and return its raw text, usage and cost.

        Raises:
            RateLimited: The provider answered 429 (``retry_after`` from its header).
            ModelTimeout: litellm's own timeout fired.
            ModelUnreachable: Nothing listens at the address.
            ProviderError: Any other failure (``status`` when there was one).
        """
        reserved = sorted(_RESERVED_PARAMS.intersection(request.params))
        if reserved:
            raise ConfigError(
                f"request params may not set {', '.join(reserved)}; give them to the model",
                where=f"request {request.key[:12]}",
            )
        litellm = import_litellm()
        started = time.perf_counter()
        try:
            response = await self._send(litellm, request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = map_provider_error(
                exc,
                model=self.name,
                request_key=request.key,
                address=self.api_base,
                secrets=(self.__api_key,),
            )
            raise error from None  # the original may quote the request, headers or key
        latency = time.perf_counter() - started
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise ProviderError(
                "the provider answered without any choice",
                status=200,
                model=self.name,
                request_key=request.key,
            )
        text = getattr(choices[0].message, "content", None) or ""
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            ),
            cost=self._cost(litellm, response),
            latency=latency,
            request_key=request.key,
        )

    async def aprepare(self) -> None:
        """Import litellm in a worker thread, so the seconds it takes block no event loop.

        :class:`~vs_sim.models.retry.RetryingModel` calls this before its first attempt,
        so the one-time import never counts against a call's timeout.
        """
        if _litellm is None:
            await asyncio.to_thread(import_litellm)

    async def aclose(self) -> None:
        """Close litellm's HTTP clients for the running event loop (call before it ends)."""
        await close_litellm_clients()

    async def __aenter__(self) -> LiteLLMModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        parts = [repr(self.name)]
        if self.api_base is not None:
            parts.append(f"api_base={self.api_base!r}")
        if self.__api_key is not None:
            parts.append("api_key='***'")
        return f"LiteLLMModel({', '.join(parts)})"
