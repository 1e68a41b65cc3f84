"""Retries with a per-attempt timeout and exponential backoff with full jitter.

Rate limits (429), server errors (5xx), dropped connections and timeouts are
usually transient, so :class:`RetryingModel` tries again after a growing, randomly
jittered pause (jitter spreads out many clients that failed at the same moment).
When the provider says how long to wait (``Retry-After``), it waits at least that.
Client errors (4xx) and an address where nothing listens are not retried: another
try cannot fix them.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable

from ..errors import ConfigError, ModelError, ModelTimeout, ProviderError, RateLimited
from .base import Completion, Model, Request
from .wrappers import ModelWrapper

Sleep = Callable[[float], Awaitable[None]]


def backoff_delay(
    attempt: int,
    *,
    base_delay: float,
    max_delay: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """The pause before retry number ``attempt + 1``.

    Full jitter: a uniform draw in ``[0, min(max_delay, base_delay * 2**attempt)]``.
    A provider's ``retry_after`` is a floor (capped at ``max_delay``).

    Args:
        attempt: How many attempts have failed so far, minus one (0 after the first).
        base_delay: The ceiling of the first pause, in seconds.
        max_delay: No pause is longer than this.
        retry_after: Seconds the provider asked us to wait, if it said.
        rng: Source of the jitter (timing only; it never changes results).
    """
    ceiling = min(max_delay, base_delay * (2.0**attempt))
    delay = (rng or random).uniform(0.0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_delay))
    return delay


async def _within(call: Awaitable[Completion], seconds: float) -> Completion:
    """Await ``call``, raising ``TimeoutError`` after ``seconds``.

    On Python 3.11+ ``asyncio.timeout`` runs the call in the caller's task;
    ``asyncio.wait_for`` (3.10) wraps every attempt in a new task, which costs
    about 15 µs a call on the hot path.
    """
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await call
    return await asyncio.wait_for(call, seconds)  # pragma: no cover - Python 3.10


def _retryable(error: ModelError) -> bool:
    if isinstance(error, (RateLimited, ModelTimeout)):
        return True
    return isinstance(error, ProviderError) and error.retryable


class RetryingModel(ModelWrapper):
    """Retry transient failures of ``inner`` with a timeout on every attempt.

    Args:
        inner: The model to call.
        max_retries: Retries after the first attempt (so ``max_retries + 1`` attempts).
        base_delay: Ceiling of the first backoff pause, seconds.
        max_delay: Longest pause, seconds (also caps a provider's ``Retry-After``).
        timeout: Seconds one attempt may take (``None``: no limit).
        sleep: Awaitable sleep; inject a recorder to test delays without waiting.
        rng: Jitter source; unseeded by default since it affects timing only.
    """

    def __init__(
        self,
        inner: Model,
        *,
        max_retries: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float | None = 60.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(inner)
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries!r}")
        if timeout is not None and not timeout > 0:
            raise ConfigError(f"timeout must be positive seconds, got {timeout!r}")
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._prepared = False

    async def _attempt(self, request: Request) -> Completion:
        if self.timeout is None:
            return await self.inner.acomplete(request)
        try:
            return await _within(self.inner.acomplete(request), self.timeout)
        except asyncio.TimeoutError:
            raise ModelTimeout(
                f"no answer within {self.timeout:g} s",
                model=self.name,
                request_key=request.key,
            ) from None

    async def acomplete(self, request: Request) -> Completion:
        """Call ``inner`` until it answers, a failure is final, or retries run out.

        Returns:
            The completion, with ``retries`` set to the retries it took.

        Raises:
            ModelError: The last error, with ``attempts`` set, once retries are spent
                or at once when the error is not worth retrying.
        """
        if not self._prepared:  # one-time setup is not part of any attempt's timeout
            await self.aprepare()
            self._prepared = True
        attempt = 0
        while True:
            try:
                completion = await self._attempt(request)
            except ModelError as error:
                if error.request_key is None:
                    error.request_key = request.key
                error.attempts = attempt + 1
                if not _retryable(error) or attempt >= self.max_retries:
                    if attempt and sys.version_info >= (3, 11):
                        error.add_note(f"gave up after {attempt + 1} attempts")
                    raise
                retry_after = error.retry_after if isinstance(error, RateLimited) else None
                delay = backoff_delay(
                    attempt,
                    base_delay=self.base_delay,
                    max_delay=self.max_delay,
                    retry_after=retry_after,
                    rng=self._rng,
                )
                attempt += 1
                await self._sleep(delay)
                continue
            if not attempt:  # the common case: nothing to add, no copy
                return completion
            return completion.model_copy(update={"retries": completion.retries + attempt})

    def __repr__(self) -> str:
        return (
            f"RetryingModel({self.inner!r}, max_retries={self.max_retries}, timeout={self.timeout})"
        )
