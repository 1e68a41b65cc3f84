"""Client-side limits: how many calls run at once, and how many requests and tokens per minute.

Providers cap requests per minute (RPM) and tokens per minute (TPM); going over
earns 429s and wasted retries. :class:`LimitedModel` keeps a run under those caps
before the provider has to say so: a semaphore bounds calls in flight, and two
token buckets pace requests and tokens. Tokens are estimated from the messages
before a call (about four characters a token) and the estimate is corrected with
the usage the provider reports afterwards.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping

from ..errors import ConfigError
from .base import Completion, Model, Request
from .wrappers import ModelWrapper, PerLoop

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

CHARS_PER_TOKEN = 4
"""The rough size of a token in English text, used only to estimate before a call."""


def estimate_tokens(messages: Iterable[Mapping[str, str]]) -> int:
    """Estimate the prompt tokens of ``messages`` (about four characters a token).

    Args:
        messages: Chat messages with a ``content`` field.

    Returns:
        At least 1; a few tokens per message are added for the chat framing.
    """
    chars = 0
    count = 0
    for message in messages:
        chars += len(message.get("content") or "")
        count += 1
    return max(1, math.ceil(chars / CHARS_PER_TOKEN) + 3 * count)


class TokenBucket:
    """A bucket refilled at ``per_minute / 60`` units a second, holding at most ``per_minute``.

    A caller takes what it needs at once, even if that drives the level below zero,
    then sleeps until the refill has paid the debt. Later callers queue behind the
    debt, so calls leave in the order they asked and never faster than the rate.

    Args:
        per_minute: Units (requests or tokens) allowed per minute; also the burst size.
        clock: Monotonic seconds (injectable for tests).
        sleep: Awaitable sleep (injectable for tests).
    """

    def __init__(
        self, per_minute: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        if not per_minute > 0:
            raise ConfigError(f"a per-minute limit must be positive, got {per_minute!r}")
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._stamp: float | None = None

    @property
    def level(self) -> float:
        """Units available now (negative while callers wait)."""
        self._refill()
        return self._level

    def _refill(self) -> None:
        now = self._clock()
        if self._stamp is not None:
            self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float) -> float:
        """Take ``amount`` units, sleeping until the bucket can pay for them.

        Returns:
            The seconds this caller was asked to wait.
        """
        wait = self.charge(amount)
        if wait:
            await self.settle(amount, wait)
        return wait

    def charge(self, amount: float) -> float:
        """Take ``amount`` units now; the seconds the caller must then wait (0: none).

        The synchronous half of :meth:`take`: most calls find the bucket full enough and
        need no coroutine at all. A positive answer must be followed by :meth:`settle`.
        """
        self._refill()
        self._level -= amount
        if self._level >= 0:
            return 0.0
        return -self._level / self.rate

    async def settle(self, amount: float, wait: float) -> None:
        """Sleep ``wait`` seconds for a charge of ``amount``; a cancelled caller gives it back."""
        try:
            await self._sleep(wait)
        except asyncio.CancelledError:
            self._level += amount
            raise

    def adjust(self, amount: float) -> None:
        """Charge ``amount`` more units (or give back, when negative) without waiting."""
        self._refill()
        self._level = min(self.capacity, self._level - amount)


class _Slots:
    """The calls one event loop may have in flight: a semaphore with a cheap free path.

    ``asyncio.Semaphore.acquire`` is a coroutine that scans its waiters on every call;
    here a free slot is taken with a subtraction. A released slot goes straight to the
    oldest waiter still waiting, so calls get slots in the order they asked.
    """

    __slots__ = ("free", "loop", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.free = size
        self.waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> bool:
        """Take a free slot if there is one (then there is nobody waiting either)."""
        if self.free > 0:
            self.free -= 1
            return True
        return False

    async def wait(self) -> None:
        """Wait until a released slot is handed to this caller."""
        handed: asyncio.Future[None] = self.loop.create_future()
        self.waiters.append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        """Give a slot back: to the oldest live waiter, else to the free count."""
        waiters = self.waiters
        while waiters:
            handed = waiters.popleft()
            if not handed.done():  # a cancelled waiter's future is done
                handed.set_result(None)
                return
        self.free += 1


class LimitedModel(ModelWrapper):
    """Bound the calls in flight and pace requests and tokens per minute.

    Args:
        inner: The model to call.
        concurrency: Calls allowed in flight at once (``None``: no bound).
        rpm: Requests per minute (``None``: no pacing).
        tpm: Prompt plus completion tokens per minute (``None``: no pacing).
        clock: Monotonic seconds, injectable for tests.
        sleep: Awaitable sleep, injectable for tests.
    """

    def __init__(
        self,
        inner: Model,
        *,
        concurrency: int | None = 16,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(inner)
        if concurrency is not None and concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency!r}")
        self.concurrency = concurrency
        self.rpm = None if rpm is None else TokenBucket(rpm, clock=clock, sleep=sleep)
        self.tpm = None if tpm is None else TokenBucket(tpm, clock=clock, sleep=sleep)
        # futures belong to one event loop; keep the slots per loop so the model still
        # works when called from successive asyncio.run() calls.
        self._slots: PerLoop[_Slots] | None = None
        if concurrency is not None:
            self._slots = PerLoop(lambda loop: _Slots(loop, concurrency))

    async def acomplete(self, request: Request) -> Completion:
        """Wait for a slot and for the rate buckets, then call the inner model."""
        if self._slots is None:
            return await self._paced(request)
        slots = self._slots.get()
        if slots.free > 0:  # (slots.take(), inlined: every call passes here)
            slots.free -= 1
        else:
            await slots.wait()
        try:
            if self.rpm is None and self.tpm is None:
                return await self.inner.acomplete(request)
            return await self._paced(request)
        finally:
            slots.release()

    async def _paced(self, request: Request) -> Completion:
        if self.rpm is not None:
            wait = self.rpm.charge(1)
            if wait:
                await self.rpm.settle(1, wait)
        estimate = 0
        if self.tpm is not None:
            estimate = estimate_tokens(request.messages)
            wait = self.tpm.charge(estimate)
            if wait:
                await self.tpm.settle(estimate, wait)
        completion = await self.inner.acomplete(request)
        if self.tpm is not None:
            spent = 0 if completion.cached else completion.usage.total_tokens
            self.tpm.adjust(spent - estimate)
        return completion

    def __repr__(self) -> str:
        rpm = None if self.rpm is None else self.rpm.capacity
        tpm = None if self.tpm is None else self.tpm.capacity
        return f"LimitedModel({self.inner!r}, concurrency={self.concurrency}, rpm={rpm}, tpm={tpm})"
