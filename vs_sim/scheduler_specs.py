"""Schedulers as JSON: how a conversation's built-in scheduler is written into its log
(``ConversationStarted.meta.spec``) and rebuilt from there on resume or branching."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from .errors import ConfigError
from .scheduling import (
    AddressedReply,
    ModelChosen,
    ModeratorLed,
    RandomSpeaker,
    Scheduler,
    Simultaneous,
    SocialGraph,
    round_robin,
)


def describe_scheduler(scheduler: Scheduler) -> dict[str, Any]:
    """A JSON-safe description of a built-in scheduler (``{"name": "custom"}`` otherwise)."""
    if scheduler is round_robin:
        return {"name": "round_robin"}
    if isinstance(scheduler, RandomSpeaker):
        return {
            "name": "random",
            "weights": dict(scheduler.weights),
            "no_repeat": scheduler.no_repeat,
        }
    if isinstance(scheduler, ModeratorLed):
        return {"name": "moderator_led", "moderator": scheduler.moderator}
    if isinstance(scheduler, AddressedReply):
        return {"name": "addressed_reply"}
    if isinstance(scheduler, SocialGraph):
        edges = [
            [str(u), str(v), float(d.get(scheduler.weight, 1.0))]
            for u, v, d in scheduler.graph.edges(data=True)
        ]
        return {
            "name": "social_graph",
            "directed": scheduler.graph.is_directed(),
            "nodes": [str(n) for n in scheduler.graph.nodes],
            "edges": edges,
        }
    if isinstance(scheduler, Simultaneous):
        return {"name": "simultaneous", "exclude": list(scheduler.exclude)}
    if isinstance(scheduler, ModelChosen):
        model = scheduler.model
        return {
            "name": "model_chosen",
            "method": scheduler.method,
            "k": scheduler.k,
            "allow_repeat": scheduler.allow_repeat,
            "window": scheduler.window,
            "model": model
            if model is None or isinstance(model, str)
            else getattr(model, "name", None),
        }
    return {"name": "custom", "repr": repr(scheduler)[:200]}


def scheduler_from_description(data: Mapping[str, Any]) -> Scheduler:
    """Rebuild a built-in scheduler from :func:`describe_scheduler`'s output."""
    name = data.get("name")
    if name == "round_robin":
        return round_robin
    if name == "random":
        return RandomSpeaker(dict(data.get("weights") or {}), bool(data.get("no_repeat")))
    if name == "moderator_led":
        return ModeratorLed(str(data["moderator"]))
    if name == "addressed_reply":
        return AddressedReply()
    if name == "social_graph":
        graph: nx.Graph[Any] = nx.DiGraph() if data.get("directed") else nx.Graph()
        graph.add_nodes_from(data.get("nodes", []))
        graph.add_weighted_edges_from((u, v, w) for u, v, w in data.get("edges", []))
        return SocialGraph(graph)
    if name == "simultaneous":
        return Simultaneous(tuple(data.get("exclude", ())))
    if name == "model_chosen":
        return ModelChosen(
            model=data.get("model"),
            method=data.get("method", "vs_standard"),
            k=data.get("k"),
            allow_repeat=bool(data.get("allow_repeat")),
            window=int(data.get("window", 10)),
        )
    raise ConfigError(
        f"cannot rebuild scheduler {name!r} from the log; pass the conversation spec instead",
        where="ConversationStarted.meta.spec.scheduler",
    )
