"""What every model wrapper shares: it is a model that forwards to another model.

A wrapper keeps the wrapped model's ``name`` and passes ``supports_json_schema``
through (read lazily, so wrapping a litellm model does not import litellm), and
closing a wrapper closes what it wraps. The wrappers themselves live by idea:
:mod:`~vs_sim.models.cache` (``CachedModel``), :mod:`~vs_sim.models.retry`
(``RetryingModel``) and :mod:`~vs_sim.models.limits` (``LimitedModel``).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

from .base import Completion, Model, Request

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One object per event loop, made on first use in that loop.

    asyncio primitives (a future, a timer) belong to one loop, and a model may be used
    from successive ``asyncio.run()`` calls or from loops in several threads. Objects of
    closed loops are dropped when a new loop arrives; the last loop's object is found
    without a dictionary lookup (this runs on every call).

    Args:
        make: Builds the object for a loop.
    """

    def __init__(self, make: Callable[[asyncio.AbstractEventLoop], T]) -> None:
        self._make = make
        self._objects: dict[asyncio.AbstractEventLoop, T] = {}
        self._last: tuple[asyncio.AbstractEventLoop, T] | None = None  # one tuple: thread-safe
        self._lock = threading.Lock()

    def get(self) -> T:
        """The running loop's object."""
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        with self._lock:
            obj = self._objects.get(loop)
            if obj is None:
                for closed in [other for other in self._objects if other.is_closed()]:
                    del self._objects[closed]
                obj = self._objects[loop] = self._make(loop)
        self._last = (loop, obj)
        return obj


class ModelWrapper:
    """A :class:`~vs_sim.models.base.Model` that forwards to ``inner``.

    Args:
        inner: The model being wrapped.
    """

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.name = inner.name
        self._json_schema: bool | None = None

    @property
    def supports_json_schema(self) -> bool:
        """The wrapped model's answer, unless it was set on this wrapper."""
        if self._json_schema is not None:
            return self._json_schema
        return bool(self.inner.supports_json_schema)

    @supports_json_schema.setter
    def supports_json_schema(self, value: bool) -> None:
        self._json_schema = value

    async def acomplete(self, request: Request) -> Completion:
        """Forward the request unchanged (subclasses add their behaviour)."""
        return await self.inner.acomplete(request)

    async def aprepare(self) -> None:
        """Let the wrapped models do one-time setup (a litellm model imports litellm)."""
        prepare = getattr(self.inner, "aprepare", None)
        if callable(prepare):
            await prepare()

    def close(self) -> None:
        """Release what this wrapper and the models inside it hold (files, connections)."""
        close = getattr(self.inner, "close", None)
        if callable(close) and not inspect.iscoroutinefunction(close):
            close()
        self._close_own()

    async def aclose(self) -> None:
        """Release everything, including connections bound to the running event loop.

        Call it (or use ``async with model:``) before the loop ends: a litellm model
        otherwise leaves its sockets open when ``asyncio.run`` returns.
        """
        aclose = getattr(self.inner, "aclose", None)
        close = getattr(self.inner, "close", None)
        if callable(aclose):
            await aclose()
        elif callable(close):
            result = close()
            if inspect.isawaitable(result):
                await result
        self._close_own()

    def _close_own(self) -> None:
        """Release what this wrapper itself holds (nothing by default)."""

    async def __aenter__(self) -> ModelWrapper:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> ModelWrapper:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
