"""What every model wrapper shares: it is a model that forwards to another model.

A wrapper keeps the wrapped model's ``name`` and passes ``supports_json_schema``
through (read lazily, so wrapping a litellm model does not import litellm), and
closing a wrapper closes what it wraps. The wrappers themselves live by idea:
:mod:`~vs_sim.models.cache` (``CachedModel``), :mod:`~vs_sim.models.retry`
(``RetryingModel``) and :mod:`~vs_sim.models.limits` (``LimitedModel``).
"""

from __future__ import annotations

import inspect
from types import TracebackType

from .base import Completion, Model, Request


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
