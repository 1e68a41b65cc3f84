"""vs_sim: simulate varied people with Verbalized Sampling.

Ask a model for k candidate responses with the probability of each, then sample from
that verbalized distribution (Zhang et al., 2025) — per survey answer, per utterance.

    >>> from vs_sim import verbalize
    >>> dist = verbalize("Name a US state", k=5, model="offline/demo")
    >>> round(sum(dist.probabilities), 6)
    1.0

Public names are loaded on first use, so ``import vs_sim`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "verbalize": "vs_sim.verbalizer",
    "averbalize": "vs_sim.verbalizer",
    "Distribution": "vs_sim.distribution",
    "Candidate": "vs_sim.distribution",
    "parse_response": "vs_sim.parsing",
    "Method": "vs_sim.methods",
    "build_model": "vs_sim.models",
    "load_scenario": "vs_sim.scenarios",
    "run_scenario": "vs_sim.scenario_run",
    "Population": "vs_sim.population",
    "PersonaLibrary": "vs_sim.personas",
    "Agent": "vs_sim.agents",
    "Conversation": "vs_sim.conversation",
    "run_conversations": "vs_sim.runner",
    "ConversationGraph": "vs_sim.graph",
    "open_run": "vs_sim.analysis",
    "VSSimError": "vs_sim.errors",
    "ParseError": "vs_sim.errors",
    "ModelError": "vs_sim.errors",
}

__all__ = [
    "Agent",
    "Candidate",
    "Conversation",
    "ConversationGraph",
    "Distribution",
    "Method",
    "ModelError",
    "ParseError",
    "PersonaLibrary",
    "Population",
    "VSSimError",
    "__version__",
    "averbalize",
    "build_model",
    "load_scenario",
    "open_run",
    "parse_response",
    "run_conversations",
    "run_scenario",
    "verbalize",
]

if TYPE_CHECKING:
    from .agents import Agent
    from .analysis import open_run
    from .conversation import Conversation
    from .distribution import Candidate, Distribution
    from .errors import ModelError, ParseError, VSSimError
    from .graph import ConversationGraph
    from .methods import Method
    from .models import build_model
    from .parsing import parse_response
    from .personas import PersonaLibrary
    from .population import Population
    from .runner import run_conversations
    from .scenario_run import run_scenario
    from .scenarios import load_scenario
    from .verbalizer import averbalize, verbalize


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vs_sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
