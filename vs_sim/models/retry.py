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
import math
import random
import sys
from collections.abc import Awaitable, Callable
from types import TracebackType

from ..errors import ConfigError, ModelError, ModelTimeout, ProviderError, RateLimited
from .base import Completion, Model, Request
from .wrappers import ModelWrapper, PerLoop

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


class _Watchdog:
    """Cancels the attempts of one event loop that outlive their deadline.

    ``asyncio.timeout`` schedules a timer and cancels it again for every attempt; almost
    every attempt finishes long before its deadline, so here an attempt only costs an entry
    in ``pending``. One timer, armed for the earliest deadline, fires, cancels every attempt
    past its own, and re-arms for the earliest left; it fires about once per timeout, not
    once per call.

    Args:
        loop: The event loop the attempts run in.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: dict[_Deadline, None] = {}
        self.armed = math.inf  # when the timer fires (infinity: no timer)
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, when: float) -> None:
        """Fire at ``when`` (instead of any later time the timer was set for)."""
        if self._timer is not None:
            self._timer.cancel()
        self.armed = when
        self._timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer, self.armed = None, math.inf
        now = self.loop.time()
        for deadline in [d for d in self.pending if d.when <= now]:
            del self.pending[deadline]
            deadline.expire()
        if self.pending:
            self.arm(min(d.when for d in self.pending))


class _Deadline:
    """One attempt's deadline, ``seconds`` from now: ``with`` it around the attempt.

    As ``asyncio.timeout``: when the deadline passes, the attempt's task is cancelled, and
    leaving the block turns that cancellation (ours, not one from elsewhere) into
    ``TimeoutError``.
    """

    __slots__ = ("cancelling", "expired", "task", "watchdog", "when")

    def __init__(self, watchdog: _Watchdog, seconds: float) -> None:
        task = asyncio.current_task(watchdog.loop)
        assert task is not None, "an attempt runs in a task"
        self.watchdog = watchdog
        self.task = task
        self.when = watchdog.loop.time() + seconds
        self.expired = False
        self.cancelling = 0

    def expire(self) -> None:
        self.expired = True
        self.task.cancel()

    def __enter__(self) -> None:
        if sys.version_info >= (3, 11):  # always: Python 3.10 uses asyncio.wait_for instead
            self.cancelling = self.task.cancelling()
        watchdog = self.watchdog
        watchdog.pending[self] = None
        if self.when < watchdog.armed:  # later deadlines wait until the timer comes round
            watchdog.arm(self.when)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.watchdog.pending.pop(self, None)
        if sys.version_info >= (3, 11) and self.expired:
            # as asyncio.timeout: only a cancellation we caused becomes a timeout
            if self.task.uncancel() <= self.cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc


async def _within(call: Awaitable[Completion], seconds: float) -> Completion:  # pragma: no cover
    """Python 3.10, which lacks ``Task.uncancel``: ``asyncio.wait_for`` (a task per call)."""
    return await asyncio.wait_for(call, seconds)


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
        self._watchdogs = PerLoop(_Watchdog)

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
            try:  # one attempt, inlined: a coroutine per attempt costs more than the rest
                try:
                    if self.timeout is None:
                        completion = await self.inner.acomplete(request)
                    elif sys.version_info >= (3, 11):
                        with _Deadline(self._watchdogs.get(), self.timeout):
                            completion = await self.inner.acomplete(request)
                    else:  # pragma: no cover - Python 3.10
                        completion = await _within(self.inner.acomplete(request), self.timeout)
                except asyncio.TimeoutError:
                    raise ModelTimeout(
                        f"no answer within {self.timeout:g} s",
                        model=self.name,
                        request_key=request.key,
                    ) from None
            except ModelError as error:
                delay = self._retry_delay(error, request, attempt)
                attempt += 1
                await self._sleep(delay)
                continue
            if not attempt:  # the common case: nothing to add, no copy
                return completion
            return completion.model_copy(update={"retries": completion.retries + attempt})

    def _retry_delay(self, error: ModelError, request: Request, attempt: int) -> float:
        """The pause before the next attempt; raises ``error`` when there is none."""
        if error.request_key is None:
            error.request_key = request.key
        error.attempts = attempt + 1
        if not _retryable(error) or attempt >= self.max_retries:
            if attempt and sys.version_info >= (3, 11):
                error.add_note(f"gave up after {attempt + 1} attempts")
            raise error
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        return backoff_delay(
            attempt,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            retry_after=retry_after,
            rng=self._rng,
        )

    def __repr__(self) -> str:
        return (
            f"RetryingModel({self.inner!r}, max_retries={self.max_retries}, timeout={self.timeout})"
        )
