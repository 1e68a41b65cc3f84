"""A lean client for OpenAI-compatible chat servers (vLLM, SGLang, Ollama, llama.cpp, ...).

litellm spends about 6 ms of CPU per call on logging, redaction and cost bookkeeping;
against a fast local server that, not the network, caps a run at ~160 calls/s on a
small machine. :class:`OpenAICompatModel` sends the same request straight over one
shared ``aiohttp`` session per event loop (about 0.3 ms of CPU per call), and maps
failures exactly as :class:`~vs_sim.models.litellm_model.LiteLLMModel` does, so the
cache, retry and limit wrappers treat both alike.

Connections belong to an event loop. The session is made lazily inside the running
loop and closed by :meth:`OpenAICompatModel.aclose`, or, failing that, when
``asyncio.run`` shuts the loop down: a tiny async generator holding the session is
registered with the loop, and the loop's ``shutdown_asyncgens`` step closes it, so no
socket outlives its loop and no "unclosed session" warning is raised.

The API key lives on the model object only: it is sent as a header and never appears
in a :class:`~vs_sim.models.base.Request`, a cache key, ``repr``, an error or a log.
This module never imports litellm; when litellm is already loaded, its price table
prices the calls.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncGenerator, Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from ..errors import ConfigError, ModelError, ProviderError, RateLimited
from .base import Completion, Request, Usage
from .provider_errors import map_provider_error, parse_retry_after, scrub

# Parameters that carry secrets or addresses; they belong to the model object, never a request.
_RESERVED_PARAMS = frozenset({"api_key", "api_base", "base_url", "model", "messages"})

PROVIDER_PREFIXES = frozenset(
    {"openai", "hosted_vllm", "openai_like", "custom_openai", "lm_studio", "llamafile"}
)
"""Provider prefixes dropped from a name before it is sent: ``openai/llama3`` → ``llama3``."""

_UNRESOLVED: Any = object()


def wire_model_name(name: str) -> str:
    """The name the server knows the model by: ``name`` without its provider prefix.

    Example:
        >>> wire_model_name("hosted_vllm/meta-llama/Llama-3.1-8B-Instruct")
        'meta-llama/Llama-3.1-8B-Instruct'
        >>> wire_model_name("llama3.1")
        'llama3.1'
    """
    provider, sep, rest = name.partition("/")
    return rest if sep and rest and provider in PROVIDER_PREFIXES else name


def litellm_prices(name: str) -> tuple[float, float] | None:
    """Dollars per prompt and per completion token from litellm's table, if litellm is loaded.

    litellm takes seconds to import, so it is only read when something else already
    imported it; otherwise (and for models it does not list) the price is unknown.
    """
    litellm = sys.modules.get("litellm")
    table = getattr(litellm, "model_cost", None)
    if not isinstance(table, Mapping):
        return None
    for key in (name, wire_model_name(name)):
        entry = table.get(key)
        if isinstance(entry, Mapping):
            prompt, completion = (
                entry.get("input_cost_per_token"),
                entry.get("output_cost_per_token"),
            )
            if isinstance(prompt, (int, float)) and isinstance(completion, (int, float)):
                return float(prompt), float(completion)
    return None


def _env_proxy(url: str) -> str | None:
    """The proxy the environment (``HTTPS_PROXY``, ``NO_PROXY``, ...) asks for, read once."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


async def _close_at_loop_end(
    session: aiohttp.ClientSession, forget: Callable[[], None]
) -> AsyncGenerator[None, None]:
    """Hold ``session`` until the loop's ``shutdown_asyncgens`` (or ``aclose``) closes it."""
    try:
        yield
    finally:
        forget()
        if not session.closed:
            await session.close()


class _LoopSession:
    """The session of one event loop and the generator that closes it when the loop ends."""

    __slots__ = ("closer", "session")

    def __init__(self, session: aiohttp.ClientSession, closer: AsyncGenerator[None, None]) -> None:
        self.session = session
        self.closer = closer


def _encode(payload: dict[str, Any]) -> bytes:
    """The request body: orjson (a tenth of ``json.dumps``'s CPU), json for what it refuses."""
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:  # e.g. an int beyond 64 bits; json may still write it
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _decode(body: bytes) -> Any:
    """A JSON answer: orjson, or json for what only json reads (``NaN``, UTF-16 text)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _error_message(body: bytes) -> str:
    """The server's own words from an error body (OpenAI, vLLM and FastAPI shapes)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for value in (error, data.get("message"), data.get("detail")):
            if value:
                return str(value)
    return body.decode("utf-8", "replace")


class OpenAICompatModel:
    """A model on an OpenAI-compatible server, called over plain HTTP with ``aiohttp``.

    Args:
        name: The model's name, optionally with a provider prefix (``openai/llama3.1``,
            ``hosted_vllm/<model>``); the prefix is dropped on the wire.
        api_base: The server's address including its version path
            (``http://localhost:8000/v1``); requests go to ``{api_base}/chat/completions``.
        api_key: Sent as ``Authorization: Bearer ...`` when given; many local servers need none.
        json_schema: Whether the server takes a JSON schema as ``response_format``
            (``None``: no, the safe guess for an unknown server).
        timeout: Seconds one call may take in all (``None``: no limit).
        extra_params: Parameters sent with every call (a request's own params win).
        connector_limit: Open connections at most (0: no limit). Calls in flight are
            bounded by :class:`~vs_sim.models.limits.LimitedModel`; this only guards
            direct use against running out of sockets.
        prices: Dollars per prompt token and per completion token; ``None`` reads
            litellm's price table when litellm is already imported, else cost is unknown.

    Example:
        >>> model = OpenAICompatModel("openai/llama3", api_base="http://localhost:8000/v1",
        ...                           api_key="sk-not-shown")
        >>> model
        OpenAICompatModel('openai/llama3', api_base='http://localhost:8000/v1', api_key='***')
    """

    def __init__(
        self,
        name: str,
        *,
        api_base: str,
        api_key: str | None = None,
        json_schema: bool | None = None,
        timeout: float | None = 60.0,
        extra_params: dict[str, Any] | None = None,
        connector_limit: int = 256,
        prices: tuple[float, float] | None = None,
    ) -> None:
        where = f"OpenAICompatModel({name!r})"
        extra = dict(extra_params or {})
        reserved = sorted(_RESERVED_PARAMS.intersection(extra))
        if reserved:
            raise ConfigError(
                f"extra_params may not set {', '.join(reserved)}: pass api_base/api_key "
                "to the model (they are kept out of requests and the cache)",
                where=f"{where}.extra_params",
            )
        if not api_base or urlsplit(api_base).scheme not in ("http", "https"):
            raise ConfigError(
                f"api_base must be an http(s) address such as http://localhost:8000/v1, "
                f"got {api_base!r}",
                where=f"{where}.api_base",
            )
        if timeout is not None and not timeout > 0:
            raise ConfigError(f"timeout must be positive seconds, got {timeout!r}", where=where)
        if connector_limit < 0:
            raise ConfigError(
                f"connector_limit must be 0 or more, got {connector_limit!r}", where=where
            )
        self.name = name
        self.api_base = api_base.rstrip("/")
        self.supports_json_schema = bool(json_schema)
        self.timeout = timeout
        self.extra_params = extra
        self.connector_limit = connector_limit
        self.__api_key = api_key
        self._url = f"{self.api_base}/chat/completions"
        self._wire_name = wire_model_name(name)
        self._prices: tuple[float, float] | None = prices if prices is not None else _UNRESOLVED
        self._proxy: str | None = _UNRESOLVED
        self._sessions: dict[asyncio.AbstractEventLoop, _LoopSession] = {}
        self._lock = threading.Lock()

    # -- connections -------------------------------------------------------------------------

    def _live_session(self) -> aiohttp.ClientSession | None:
        """This loop's open session, if it has one (every call but the first: no coroutine)."""
        entry = self._sessions.get(asyncio.get_running_loop())
        if entry is not None and not entry.session.closed:
            return entry.session
        return None

    async def _session(self) -> aiohttp.ClientSession:
        """This loop's session, made on first use (and again after it was closed)."""
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(loop)
        if entry is not None and not entry.session.closed:
            return entry.session
        if self._proxy is _UNRESOLVED:
            self._proxy = _env_proxy(self._url)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.__api_key is not None:
            headers["Authorization"] = f"Bearer {self.__api_key}"
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.connector_limit),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            proxy=self._proxy,
        )
        closer = _close_at_loop_end(session, lambda: self._forget(loop, session))
        with self._lock:
            for stale in [other for other in self._sessions if other.is_closed()]:
                del self._sessions[stale]  # its loop ended without shutdown_asyncgens
            self._sessions[loop] = _LoopSession(session, closer)
        await closer.__anext__()  # runs to its yield; the loop now knows to close it at the end
        return session

    def _forget(self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
        with self._lock:
            entry = self._sessions.get(loop)
            if entry is not None and entry.session is session:
                del self._sessions[loop]

    async def aclose(self) -> None:
        """Close the running loop's connections (``asyncio.run`` also does it at its end)."""
        entry = self._sessions.get(asyncio.get_running_loop())
        if entry is not None:
            await entry.closer.aclose()

    async def __aenter__(self) -> OpenAICompatModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- calls -------------------------------------------------------------------------------

    def _cost(self, usage: Usage) -> float | None:
        prices = self._prices
        if prices is _UNRESOLVED:
            if "litellm" not in sys.modules:
                return None  # maybe later: litellm may be imported by something else
            prices = self._prices = litellm_prices(self.name)
        if prices is None:
            return None
        return usage.prompt_tokens * prices[0] + usage.completion_tokens * prices[1]

    def _fail(self, request: Request, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Raise the error an HTTP error status means (429 rate limit, 5xx, 4xx)."""
        text = f"HTTP {status}: {_error_message(body)}"
        if status == 404:
            text = (
                f"POST {self._url} answered 404; does api_base end in its version path "
                f"(e.g. /v1)? Server said: {_error_message(body)}"
            )
        message = scrub(text, (self.__api_key,))
        where: dict[str, Any] = {"model": self.name, "request_key": request.key}
        if status == 429:
            delay: float | None = None
            if "retry-after-ms" in headers:
                try:
                    delay = max(0.0, float(headers["retry-after-ms"]) / 1000.0)
                except ValueError:
                    delay = None
            if delay is None and "retry-after" in headers:
                delay = parse_retry_after(headers["retry-after"])
            raise RateLimited(message, retry_after=delay, **where)
        raise ProviderError(message, status=status, **where)

    def _completion(self, request: Request, body: bytes, latency: float) -> Completion:
        """Read the text and usage of a 200 answer."""
        try:
            data = _decode(body)
            message = data["choices"][0]["message"]
            text = message.get("content") or ""
            usage = data.get("usage") or {}
            counts = Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            preview = scrub(body.decode("utf-8", "replace"), (self.__api_key,))
            raise ProviderError(
                f"the server answered 200 with a body that is not a chat completion "
                f"({type(exc).__name__}): {preview!r}",
                status=None,  # a cut or garbled body is worth another try
                model=self.name,
                request_key=request.key,
            ) from None
        if not isinstance(text, str):
            text = str(text)
        return Completion(
            text=text,
            model=self.name,
            usage=counts,
            cost=self._cost(counts),
            latency=latency,
            request_key=request.key,
        )

    async def acomplete(self, request: Request) -> Completion:
        """POST one chat request and return its raw text, usage and cost.

        Raises:
            RateLimited: The server answered 429 (``retry_after`` from its header).
            ModelTimeout: No complete answer within ``timeout``.
            ModelUnreachable: Nothing listens at ``api_base``.
            ProviderError: Any other failure: an error status (with the server's
                message), a dropped connection or an unreadable body (``status=None``).
        """
        params = request.params
        if params and not _RESERVED_PARAMS.isdisjoint(params):
            reserved = sorted(_RESERVED_PARAMS.intersection(params))
            raise ConfigError(
                f"request params may not set {', '.join(reserved)}; give them to the model",
                where=f"request {request.key[:12]}",
            )
        payload: dict[str, Any] = {"model": self._wire_name, "messages": request.messages}
        if self.extra_params:
            payload.update(self.extra_params)
        if params:
            payload.update(params)
        data = _encode(payload)
        session = self._live_session()
        if session is None:
            session = await self._session()
        started = time.perf_counter()
        try:
            async with session.post(self._url, data=data) as response:
                body = await response.read()
                status = response.status
                if not 200 <= status < 300:
                    self._fail(request, status, response.headers, body)
        except asyncio.CancelledError:
            raise
        except ModelError:
            raise
        except Exception as exc:
            error = map_provider_error(
                exc,
                model=self.name,
                request_key=request.key,
                address=self.api_base,
                secrets=(self.__api_key,),
            )
            raise error from None  # the original may quote the request or its headers
        return self._completion(request, body, time.perf_counter() - started)

    def __repr__(self) -> str:
        parts = [repr(self.name), f"api_base={self.api_base!r}"]
        if self.__api_key is not None:
            parts.append("api_key='***'")
        return f"OpenAICompatModel({', '.join(parts)})"
