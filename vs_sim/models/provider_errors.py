"""Turn a provider client's exception (litellm, openai, httpx, aiohttp) into a vs_sim error.

litellm wraps the error of the HTTP layer underneath it, sometimes under a
misleading class (a dropped connection surfaces as a 500), so the whole chain of
causes is read, by class name, without importing any of those libraries:

- connection refused (nothing listens) or a host name that does not resolve →
  :class:`ModelUnreachable`, not retried;
- missing or refused credentials, an unknown provider, model or endpoint (401, 403, 404, or
  the client's own complaint before any request) → :class:`ModelNotConfigured`, not retried;
- a timeout → :class:`ModelTimeout`;
- 429 → :class:`RateLimited`, with ``retry_after`` from the ``Retry-After`` header;
- a dropped or reset connection → :class:`ProviderError` with ``status=None`` (retried);
- any other HTTP status → :class:`ProviderError` with that status (5xx retried, 4xx not);
- anything else → :class:`ModelError` (not retried).

Messages are cut short and scrubbed of the secrets they are given.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import (
    ModelError,
    ModelNotConfigured,
    ModelTimeout,
    ModelUnreachable,
    ProviderError,
    RateLimited,
)

_TIMEOUT_CLASSES = frozenset({"APITimeoutError", "Timeout", "TimeoutException", "ReadTimeout"})
_CONNECTION_CLASSES = frozenset(
    {
        "APIConnectionError",
        "ClientConnectionError",
        "ServerDisconnectedError",
        "ClientPayloadError",
        "RemoteProtocolError",
        "ReadError",
        "WriteError",
        "ConnectError",
        "TransportError",
        "IncompleteRead",
    }
)
_MAX_MESSAGE = 300
_NOT_CONFIGURED_CLASSES = frozenset(
    {"AuthenticationError", "PermissionDeniedError", "NotFoundError"}
)
_NOT_CONFIGURED_WORDS = (
    "api key",
    "api_key",
    "credentials",
    "llm provider not provided",
    "model not found",
    "does not exist",
)
_DNS_WORDS = ("name or service not known", "nodename nor servname", "name resolution")


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _is_refused(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED
    )


def _is_unresolved(exc: BaseException) -> bool:
    if isinstance(exc, socket.gaierror):
        return True
    return "DNSError" in "".join(_class_names(exc)) or any(
        word in str(exc).lower() for word in _DNS_WORDS
    )


def _is_not_configured(exc: BaseException) -> bool:
    if _class_names(exc) & _NOT_CONFIGURED_CLASSES:
        return True
    text = str(exc).lower()
    return any(word in text for word in _NOT_CONFIGURED_WORDS)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or bool(
        _class_names(exc) & _TIMEOUT_CLASSES
    )


def _is_connection_drop(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError) or bool(_class_names(exc) & _CONNECTION_CLASSES)


def _status(exc: BaseException) -> int | None:
    for status in (
        getattr(exc, "status_code", None),
        getattr(getattr(exc, "response", None), "status_code", None),
    ):
        if isinstance(status, int) and 100 <= status < 600:
            return status
    return None


def http_status(chain: list[BaseException]) -> int | None:
    """The HTTP status the server sent, if it sent one.

    litellm gives every exception it raises a status, inventing 500 for failures that
    never reached a server (missing credentials, for one). So a status counts only
    when an exception from the HTTP layer under litellm carries it; litellm's own is
    trusted only when it raised the error without a cause.
    """
    foreign = [link for link in chain if not type(link).__module__.startswith("litellm")]
    for link in foreign:
        status = _status(link)
        if status is not None:
            return status
    if foreign:
        return None
    return next((s for s in map(_status, chain) if s is not None), None)


def _headers(exc: BaseException) -> Iterable[Mapping[str, Any]]:
    for candidate in (
        getattr(exc, "headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        if candidate is not None and hasattr(candidate, "items"):
            yield candidate


def parse_retry_after(value: str) -> float | None:
    """Seconds from a ``Retry-After`` value: a number of seconds or an HTTP date."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_after(exc: BaseException) -> float | None:
    """The delay a 429 asked for, read from any exception in the chain's response headers."""
    for link in causes(exc):
        for headers in _headers(link):
            lowered = {str(k).lower(): str(v) for k, v in headers.items()}
            if "retry-after-ms" in lowered:
                try:
                    return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
                except ValueError:
                    pass
            if "retry-after" in lowered:
                seconds = parse_retry_after(lowered["retry-after"])
                if seconds is not None:
                    return seconds
    return None


def _address(chain: list[BaseException], fallback: str | None) -> str:
    if fallback:
        return fallback
    for link in chain:
        host, port = getattr(link, "host", None), getattr(link, "port", None)
        if isinstance(host, str) and port is not None:
            return f"{host}:{port}"
    return "the provider's address"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` cut to a readable length with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


def map_provider_error(
    exc: BaseException,
    *,
    model: str,
    request_key: str | None,
    address: str | None = None,
    secrets: Iterable[str | None] = (),
) -> ModelError:
    """The vs_sim error that says what ``exc`` means for retrying.

    Args:
        exc: What the provider client raised.
        model: The model's name, for the message.
        request_key: The failed request's key.
        address: The address called (``api_base``), for an unreachable server.
        secrets: Strings that must not appear in the message (API keys).
    """
    secrets = tuple(secrets)
    chain = list(causes(exc))
    message = scrub(f"{type(exc).__name__}: {exc}", secrets)
    where: dict[str, Any] = {"model": model, "request_key": request_key}
    if any(_is_refused(link) for link in chain):
        target = scrub(_address(chain, address), secrets)
        return ModelUnreachable(
            f"nothing listens at {target} (connection refused); is the server running "
            "and the address right?",
            **where,
        )
    if any(_is_unresolved(link) for link in chain):
        target = scrub(_address(chain, address), secrets)
        return ModelUnreachable(
            f"cannot resolve the host of {target}; is the address right?", **where
        )
    if any(_is_timeout(link) for link in chain):
        return ModelTimeout(f"the provider did not answer in time ({message})", **where)
    status = http_status(chain)
    if status == 429 or any("RateLimitError" in _class_names(link) for link in chain):
        return RateLimited(message, retry_after=retry_after(exc), **where)
    if status in (401, 403, 404) or (
        status is None and any(_is_not_configured(link) for link in chain)
    ):
        return ModelNotConfigured(
            f"the model cannot be called as configured ({message}); check the model name, "
            "the address and the API key's environment variable",
            **where,
        )
    if any(_is_connection_drop(link) for link in chain):
        return ProviderError(f"connection dropped ({message})", status=None, **where)
    if status is not None:
        return ProviderError(message, status=status, **where)
    return ModelError(message, **where)  # failed before reaching a server: not retried
