"""Test doubles for code that takes a model: a scripted model and a fake OpenAI server.

``ScriptedModel`` needs nothing but the standard library. ``FakeOpenAIServer`` (and
its ``Faults``) need aiohttp, so they are imported only when first used::

    from vs_sim.testing import FakeOpenAIServer  # imports aiohttp here, not before
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .scripted import ScriptedModel, requested_k, vs_answer

if TYPE_CHECKING:
    from .server import FakeOpenAIServer, Faults

__all__ = ["FakeOpenAIServer", "Faults", "ScriptedModel", "requested_k", "vs_answer"]

_LAZY = {"FakeOpenAIServer", "Faults"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
