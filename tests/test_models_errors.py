"""How provider-client exceptions become vs_sim errors (no server needed)."""

from __future__ import annotations

import email.utils
import time

import httpx
import openai
import pytest

from vs_sim.errors import (
    ModelError,
    ModelNotConfigured,
    ModelTimeout,
    ModelUnreachable,
    ProviderError,
    RateLimited,
)
from vs_sim.models.provider_errors import map_provider_error, parse_retry_after

KEY = "0123456789abcdef" * 4


def raised(outer: BaseException, cause: BaseException) -> BaseException:
    """``outer`` as if raised from ``cause``."""
    outer.__cause__ = cause
    return outer


def status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return openai.APIStatusError(f"status {status}", response=response, body=None)


def test_retry_after_values() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.25 ") == 0.25
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    seconds = parse_retry_after(in_ten)
    assert seconds is not None and 8.0 <= seconds <= 10.5
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "3"}, 3.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)],
)
def test_429_reads_retry_after_from_the_response(
    headers: dict[str, str], expected: float | None
) -> None:
    error = map_provider_error(status_error(429, headers), model="m", request_key=KEY)
    assert isinstance(error, RateLimited)
    assert error.retry_after == expected
    assert (error.model, error.request_key) == ("m", KEY)


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (400, False)])
def test_http_statuses_become_provider_errors(status: int, retryable: bool) -> None:
    error = map_provider_error(status_error(status), model="m", request_key=KEY)
    assert isinstance(error, ProviderError)
    assert error.status == status and error.retryable is retryable


@pytest.mark.parametrize("status", [401, 403, 404])
def test_refused_credentials_or_unknown_models_are_not_configured(status: int) -> None:
    error = map_provider_error(status_error(status), model="m", request_key=KEY)
    assert isinstance(error, ModelNotConfigured)
    assert "cannot be called as configured" in str(error)


@pytest.mark.parametrize(
    "complaint",
    [
        "Missing Anthropic API Key - A call is being made to anthropic but no key is set",
        "LLM Provider NOT provided. Pass in the LLM provider you are trying to call",
    ],
)
def test_client_side_configuration_errors_are_not_configured(complaint: str) -> None:
    error = map_provider_error(RuntimeError(complaint), model="m", request_key=KEY)
    assert isinstance(error, ModelNotConfigured)


def test_an_unknown_host_is_unreachable() -> None:
    import socket

    dns = socket.gaierror(-2, "Name or service not known")
    outer = raised(RuntimeError("Connection error."), dns)
    error = map_provider_error(
        outer, model="m", request_key=KEY, address="http://nohost.invalid/v1"
    )
    assert isinstance(error, ModelUnreachable)
    assert "cannot resolve the host" in str(error) and "nohost.invalid" in str(error)


def test_refused_connection_is_unreachable_and_names_the_address() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
    outer = raised(RuntimeError("Connection error."), refused)
    error = map_provider_error(outer, model="m", request_key=KEY, address="http://127.0.0.1:9/v1")
    assert isinstance(error, ModelUnreachable)
    assert "http://127.0.0.1:9/v1" in str(error) and "connection refused" in str(error)


def test_reset_connection_is_a_retryable_provider_error() -> None:
    outer = raised(RuntimeError("Connection error."), ConnectionResetError(104, "reset"))
    error = map_provider_error(outer, model="m", request_key=KEY)
    assert isinstance(error, ProviderError) and error.status is None and error.retryable


def test_timeouts_map_to_model_timeout() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:1/v1")
    error = map_provider_error(openai.APITimeoutError(request=request), model="m", request_key=KEY)
    assert isinstance(error, ModelTimeout)


def test_unknown_failures_are_not_retryable_model_errors() -> None:
    error = map_provider_error(ValueError("bad argument"), model="m", request_key=KEY)
    assert type(error) is ModelError
    assert "ValueError: bad argument" in str(error)


def test_secrets_are_scrubbed_and_messages_kept_short() -> None:
    secret = "sk-test-SECRET123"
    error = map_provider_error(
        ValueError(f"bad key {secret} " + "x" * 2000),
        model="m",
        request_key=KEY,
        secrets=(secret, None),
    )
    assert secret not in str(error) and "***" in str(error)
    assert len(str(error)) < 400
