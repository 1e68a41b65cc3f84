"""The conversation graph: a ``networkx.MultiDiGraph`` view of an event log.

Nodes (attribute ``type``):

- ``agent`` — ``agent:<conversation>:<agent_id>``: ``conversation``, ``agent_id``, ``name``,
  ``persona_id``, ``template``, ``attributes`` (dict), ``role``.
- ``utterance`` — ``utt:<conversation>:<turn>``: ``conversation``, ``turn``, ``speaker``,
  ``text``, ``probability``, ``rank``, ``entropy`` (bits, of its distribution), ``addressed_to``
  (list), ``reply_to``, ``note``, ``candidates``, ``method``, ``model``, ``index``, ``rule``.
- ``alternative`` — ``alt:<conversation>:<turn>:<index>``: a candidate that was NOT chosen:
  ``conversation``, ``turn``, ``speaker``, ``index``, ``text``, ``probability``, ``rank``,
  ``stated``, ``weight``, ``dropped`` (removed by the tau filter).

Edges (the key and attribute ``kind``): ``spoke`` (agent → utterance), ``next`` (utterance →
the following one), ``reply_to`` (utterance → the one it answers), ``addresses`` (utterance
→ agent), ``alternative`` (utterance → a candidate not taken).

A branch's first utterance hangs off its parent's previous utterance by ``next``, so the
shared turns are one path in the graph. The graph's own attributes hold ``schema`` and
``conversations`` (id → parent, fork turn, status, end reason).

Nodes come agents first, then utterances (conversation by conversation, in turn order),
then the candidates not taken. Built from a log, the graph is first held as node-link
records (what ``graph.json`` holds): the run folder's files are written straight from them,
and the networkx graph is made from them the first time :attr:`ConversationGraph.graph` is
used (making it costs more than writing both files).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import networkx as nx
import orjson

from .errors import ConfigError
from .events import Event, read_records
from .graphml import flat_copy, read_marked, record_tables, tables, write_marked

SCHEMA = 1
_NODE_ID = ("id",)
_EDGE_IDS = ("source", "target", "key")
_GRAPH_KINDS = frozenset(
    "run_started conversation_started conversation_ended distribution choice utterance".split()
)
"""The event kinds the graph is made of."""


def agent_node(conversation: str, agent_id: str) -> str:
    """The node id of an agent in a conversation."""
    return f"agent:{conversation}:{agent_id}"


def utterance_node(conversation: str, turn: int) -> str:
    """The node id of an utterance (the one logged in ``conversation`` itself)."""
    return f"utt:{conversation}:{turn}"


def _owner(
    conversations: Mapping[str, Mapping[str, Any]],
    logged: Callable[[str, int], bool],
    conv: str,
    turn: int,
) -> str | None:
    """The node of ``turn`` on ``conv``'s path (a branch's shared turns are its parent's);
    ``logged(conversation, turn)``: whether that conversation logged that turn itself."""
    seen: set[str] = set()
    while conv not in seen:
        seen.add(conv)
        if logged(conv, turn):
            return utterance_node(conv, turn)
        info = conversations.get(conv) or {}
        parent, fork = info.get("parent_id"), info.get("fork_turn")
        if parent is None or fork is None or turn >= fork:
            return None
        conv = parent
    return None


@dataclass(slots=True)
class _Records:
    """A graph as node-link records: ``nodes`` (``id`` first), ``edges`` (``source``,
    ``target``, ``key`` first), in the order networkx iterates the same graph.

    ``finite``: known to hold no NaN or infinity (as read from a log by orjson), so orjson
    writes it as ``json.dumps`` would.
    """

    graph: dict[str, Any]
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    finite: bool

    def to_networkx(self) -> nx.MultiDiGraph[str]:
        """The networkx graph of these records."""
        g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        g.graph.update(self.graph)
        g.add_nodes_from((r["id"], _without(r, _NODE_ID)) for r in self.nodes)
        for e in self.edges:
            g.add_edge(e["source"], e["target"], key=e["key"], **_without(e, _EDGE_IDS))
        return g


def _without(record: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in names}


def _edge(source: str, target: str, kind: str) -> dict[str, Any]:
    return {"source": source, "target": target, "key": kind, "kind": kind}


def _as_floats(records: list[dict[str, Any]], names: Iterable[str]) -> None:
    """Ints where the events have floats become floats, as validating the event would make
    them (vs_sim's own logs write floats as floats; this is for logs written otherwise)."""
    for name in names:
        if {int, bool} & set(map(type, map(itemgetter(name), records))):
            for r in records:
                if type(r[name]) in (int, bool):
                    r[name] = float(r[name])


class _Log:
    """What the graph takes from a log, collected in one pass over its records."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.conversations: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}  # node -> record, declared ones first
        self.dists: dict[tuple[Any, Any, Any], Mapping[str, Any]] = {}
        self.choices: dict[tuple[Any, Any], Mapping[str, Any]] = {}
        self.utterances: dict[str, dict[int, Mapping[str, Any]]] = {}  # the first per turn
        self.run_ids: list[str] = []
        for r in records:
            kind = r["kind"]
            if kind == "utterance":
                self.utterances.setdefault(r["conversation_id"], {}).setdefault(r["turn"], r)
            elif kind == "distribution" or kind == "choice":
                conv, turn = r.get("conversation_id"), r.get("turn")
                if conv is None or turn is None or r.get("purpose", "utterance") != "utterance":
                    continue
                if kind == "choice":
                    self.choices[conv, turn] = r
                elif r.get("speaker"):
                    self.dists[conv, turn, r["speaker"]] = r
            elif kind == "conversation_started":
                conv = r["conversation_id"]
                info = {"parent_id": r.get("parent_id"), "fork_turn": r.get("fork_turn")}
                self.conversations.setdefault(conv, {**info, "status": None, "reason": None})
                for p in r.get("participants", ()):
                    node = agent_node(conv, p["agent_id"])
                    self.agents[node] = _agent(node, conv, p)
            elif kind == "conversation_ended" and r["conversation_id"] in self.conversations:
                self.conversations[r["conversation_id"]].update(
                    status=r.get("status", "completed"), reason=r["reason"]
                )
            elif kind == "run_started" and r["run_id"] not in self.run_ids:
                self.run_ids.append(r["run_id"])

    def logged(self, conv: str, turn: int) -> bool:
        return turn in self.utterances.get(conv, ())

    def owner(self, conv: str, turn: int) -> str | None:
        """The node of ``turn`` on ``conv``'s path."""
        if turn in self.utterances[conv]:  # logged here: no walk up the branches
            return utterance_node(conv, turn)
        return _owner(self.conversations, self.logged, conv, turn)


def _agent(node: str, conv: str, p: Mapping[str, Any]) -> dict[str, Any]:
    """An agent's node record from its ``participants`` entry."""
    return {
        "id": node,
        "type": "agent",
        "conversation": conv,
        "agent_id": p["agent_id"],
        "name": p["name"],
        "persona_id": p.get("persona_id"),
        "template": p.get("template"),
        "attributes": dict(p.get("attributes", {})),
        "role": p.get("role"),
    }


def _build(records: Iterable[Mapping[str, Any]], *, finite: bool) -> _Records:
    """The graph of the events in ``records`` (decoded log lines, in log order)."""
    log = _Log(records)
    said: list[dict[str, Any]] = []  # utterance nodes, per conversation in turn order
    alternatives: list[dict[str, Any]] = []
    spoke: dict[str, list[dict[str, Any]]] = {}  # agent node -> its spoke edges
    out: dict[str, list[dict[str, Any]]] = {}  # utterance node -> its out-edges, in order
    for conv, by_turn in log.utterances.items():
        for turn in sorted(by_turn):
            u, node = by_turn[turn], utterance_node(conv, turn)
            speaker = u["speaker"]
            dist, choice = log.dists.get((conv, turn, speaker)), log.choices.get((conv, turn))
            index = choice["index"] if choice is not None else None
            said.append(
                {
                    "id": node,
                    "type": "utterance",
                    "conversation": conv,
                    "turn": turn,
                    "speaker": speaker,
                    "text": u["text"],
                    "probability": u.get("probability"),
                    "rank": u.get("rank"),
                    "entropy": u.get("entropy"),
                    "addressed_to": list(u.get("addressed_to", ())),
                    "reply_to": u.get("reply_to"),
                    "note": u.get("note"),
                    "candidates": len(dist["candidates"]) if dist is not None else None,
                    "method": dist["method"] if dist is not None else None,
                    "model": dist.get("model") if dist is not None else None,
                    "index": index,
                    "rule": choice.get("rule", "weighted") if choice is not None else None,
                }
            )
            agent = agent_node(conv, speaker)
            if agent not in log.agents:  # a speaker the log did not introduce
                log.agents[agent] = _agent(agent, conv, {"agent_id": speaker, "name": speaker})
            spoke.setdefault(agent, []).append(_edge(agent, node, "spoke"))
            out[node] = []
            if dist is not None:
                out[node] = _alternatives(dist, (conv, turn, speaker), node, index, alternatives)
    _as_floats(said, ("probability", "entropy"))
    _as_floats(alternatives, ("probability", "stated", "weight"))

    for u in said:  # the links, now that every node is known
        conv, turn, node, reply_to = u["conversation"], u["turn"], u["id"], u["reply_to"]
        prev = log.owner(conv, turn - 1) if turn > 0 else None
        if prev is not None:
            out[prev].append(_edge(prev, node, "next"))
        target = log.owner(conv, reply_to) if reply_to is not None else None
        if target is not None:
            out[node].append(_edge(node, target, "reply_to"))
        for agent_id in dict.fromkeys(u["addressed_to"]):
            agent = agent_node(conv, agent_id)
            if agent in log.agents:
                out[node].append(_edge(node, agent, "addresses"))

    edges = [e for agent in log.agents for e in spoke.get(agent, ())]
    edges += [e for u in said for e in out[u["id"]]]
    graph = {"schema": SCHEMA, "run_ids": log.run_ids, "conversations": log.conversations}
    return _Records(graph, [*log.agents.values(), *said, *alternatives], edges, finite)


def _alternatives(
    dist: Mapping[str, Any],
    said: tuple[str, int, str],
    node: str,
    index: int | None,
    found: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The candidates not taken (appended to ``found``), and their edges from ``node``;
    ``said``: the utterance's conversation, turn and speaker."""
    conv, turn, speaker = said
    cands = dist["candidates"]
    minus = [-c["probability"] for c in cands]  # the most probable first; ties in list order
    ranks = {i: rank for rank, i in enumerate(sorted(range(len(cands)), key=minus.__getitem__), 1)}
    prefix = f"alt:{conv}:{turn}:"
    edges = []
    for i, cand in enumerate((*cands, *dist.get("dropped", ()))):
        rank = ranks.get(i)  # None: dropped (by the tau filter), listed after the candidates
        if i == index and rank is not None:
            continue
        alt = prefix + str(i)
        found.append(
            {
                "id": alt,
                "type": "alternative",
                "conversation": conv,
                "turn": turn,
                "speaker": speaker,
                "index": i,
                "text": cand["text"],
                "probability": cand["probability"],
                "rank": rank,
                "stated": cand.get("stated"),
                "weight": cand["weight"],
                "dropped": rank is None,
            }
        )
        edges.append(_edge(node, alt, "alternative"))
    return edges


class ConversationGraph:
    """Agents, utterances and the candidates not taken, built from the event log.

    Attributes:
        graph: The ``networkx.MultiDiGraph`` (a graph built from a log makes it on first use).
    """

    def __init__(self, graph: nx.MultiDiGraph[str] | None = None) -> None:
        self._records: _Records | None = None
        self._graph: nx.MultiDiGraph[str] = graph if graph is not None else nx.MultiDiGraph()
        self._graph.graph.setdefault("schema", SCHEMA)
        self._graph.graph.setdefault("conversations", {})

    @property
    def graph(self) -> nx.MultiDiGraph[str]:
        """The ``networkx.MultiDiGraph``."""
        if self._records is not None:
            self._graph, self._records = self._records.to_networkx(), None
        return self._graph

    @graph.setter
    def graph(self, value: nx.MultiDiGraph[str]) -> None:
        self._graph, self._records = value, None

    # -- building --------------------------------------------------------------------------
    @classmethod
    def from_log(cls, path: str | os.PathLike[str]) -> ConversationGraph:
        """The graph of every conversation in a log."""
        # read_records decodes with orjson, which reads no NaN or infinity: finite
        return cls._of(_build(read_records(path), finite=True))

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> ConversationGraph:
        """The graph of every conversation in ``records``: decoded log lines (dicts, as
        :func:`vs_sim.events.read_records` yields them), in log order."""
        return cls._of(_build(records, finite=False))

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> ConversationGraph:
        """The graph of every conversation in ``events`` (in log order)."""
        dumped = (e.model_dump() for e in events if e.kind in _GRAPH_KINDS)
        return cls._of(_build(dumped, finite=False))

    @classmethod
    def _of(cls, records: _Records) -> ConversationGraph:
        out = cls()
        out._records = records
        return out

    def _graph_attributes(self) -> dict[str, Any]:
        """The graph's own attributes (without making the networkx graph)."""
        return self._records.graph if self._records is not None else self._graph.graph

    # -- reading -----------------------------------------------------------------------------
    @property
    def conversations(self) -> list[str]:
        """The conversation ids in the graph."""
        return list(self._graph_attributes().get("conversations", {}))

    def _resolve(self, conv: str, turn: int) -> str | None:
        """The node of ``turn`` on ``conv``'s path (a branch's shared turns are its parent's)."""
        g = self.graph
        return _owner(g.graph["conversations"], lambda c, t: utterance_node(c, t) in g, conv, turn)

    def path(self, conversation: str) -> list[str]:
        """The utterance nodes of a conversation in turn order, shared turns included."""
        own = sorted(
            d["turn"]
            for _, d in self.graph.nodes(data=True)
            if d.get("type") == "utterance" and d.get("conversation") == conversation
        )
        if not own:
            return []
        out = []
        for turn in range(own[-1] + 1):
            node = self._resolve(conversation, turn)
            if node is not None:
                out.append(node)
        return out

    def conversation(self, conversation: str) -> ConversationGraph:
        """One conversation taken out (a branch with the parent's shared turns and agents)."""
        if conversation not in self._graph_attributes().get("conversations", {}):
            raise ConfigError(
                f"no conversation {conversation!r} in the graph",
                where="ConversationGraph.conversation",
            )
        g = self.graph
        keep = {n for n, d in g.nodes(data=True) if d.get("conversation") == conversation}
        for node in self.path(conversation):
            if node not in keep:
                keep.add(node)
                keep.update(v for _, v, k in g.out_edges(node, keys=True) if k == "alternative")
                keep.update(u for u, _, k in g.in_edges(node, keys=True) if k == "spoke")
        sub: nx.MultiDiGraph[str] = g.subgraph(keep).copy()
        convs = g.graph["conversations"]
        related = {conversation} | {g.nodes[n]["conversation"] for n in keep}
        sub.graph.update(g.graph)
        sub.graph["conversations"] = {c: dict(convs[c]) for c in convs if c in related}
        return ConversationGraph(sub)

    # -- node-link JSON (lossless) -------------------------------------------------------------
    def to_node_link(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Node-link data (``nodes``/``edges`` with every attribute); also written to ``path``.

        The file is JSON as ``json.dumps`` writes it (NaN and infinity as ``NaN`` and
        ``Infinity``), written by orjson when it can (the same values, compact).
        """
        r = self._records
        if r is not None:  # copies: what the caller gets is the caller's to change
            nodes, edges = list(map(dict.copy, r.nodes)), list(map(dict.copy, r.edges))
        else:
            g = self._graph
            nodes = [{"id": n, **d} for n, d in g.nodes(data=True)]
            edges = [
                {"source": u, "target": v, "key": k, **d}
                for u, v, k, d in g.edges(keys=True, data=True)
            ]
        data = {
            "directed": True,
            "multigraph": True,
            "graph": dict(self._graph_attributes()),
            "nodes": nodes,
            "edges": edges,
        }
        if path is not None:
            finite = r is not None and r.finite
            Path(path).write_bytes(_json_bytes(data, finite=finite))
        return data

    @classmethod
    def from_node_link(cls, data: dict[str, Any] | str | os.PathLike[str]) -> ConversationGraph:
        """Read :meth:`to_node_link` output (a dict or a file)."""
        payload: dict[str, Any] = (
            data if isinstance(data, dict) else json.loads(Path(data).read_text(encoding="utf-8"))
        )
        g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        g.graph.update(payload.get("graph", {}))
        for item in payload.get("nodes", []):
            attrs = dict(item)
            g.add_node(attrs.pop("id"), **attrs)
        for item in payload.get("edges", payload.get("links", [])):
            attrs = dict(item)
            u, v, k = attrs.pop("source"), attrs.pop("target"), attrs.pop("key", None)
            g.add_edge(u, v, key=k, **attrs)
        return cls(g)

    # -- GraphML and GEXF ------------------------------------------------------------------------
    def _flat(self) -> nx.MultiDiGraph[str]:
        """A copy with only GraphML-legal values; other values as JSON, listed in the graph's
        ``vs_sim_json`` attribute so :meth:`read_graphml` restores them."""
        return flat_copy(self.graph)

    def to_graphml(self, path: str | os.PathLike[str]) -> None:
        """Write GraphML; dicts, lists, ``None`` and mixed-type attributes become marked JSON.

        Written by :func:`vs_sim.graphml.write_marked` a column of values at a time (no flat
        copy, no XML tree); ``networkx.read_graphml`` reads the same graph it would from
        ``networkx.write_graphml``.
        """
        if self._records is not None:
            r = self._records
            nodes, edges = record_tables(r.nodes, _NODE_ID), record_tables(r.edges, _EDGE_IDS)
        else:
            nodes = tables(self._graph.nodes(data=True), 1)
            edges = tables(self._graph.edges(keys=True, data=True), 3)
        write_marked(path, self._graph_attributes(), nodes, edges)

    @classmethod
    def read_graphml(cls, path: str | os.PathLike[str]) -> ConversationGraph:
        """Read :meth:`to_graphml` output, restoring every attribute's value and type."""
        return cls(read_marked(path))

    def to_gexf(self, path: str | os.PathLike[str]) -> None:
        """Write GEXF for Gephi (attributes flattened as for GraphML; nodes get a ``label``)."""
        flat = self._flat()
        for _, d in flat.nodes(data=True):
            d["label"] = str(d.get("name") or d.get("text") or "")[:80]
        nx.write_gexf(flat, str(path))


def _json_bytes(data: dict[str, Any], *, finite: bool) -> bytes:
    """``data`` as ``json.dumps(data, ensure_ascii=False)`` would write it (UTF-8).

    orjson writes it when it can: it writes NaN and infinity as ``null`` (so a graph not
    known to be finite is checked first) and refuses what json.dumps would convert (non-str
    keys, big ints, float subclasses).
    """
    if finite or not _has_nonfinite(data):
        try:
            return orjson.dumps(data)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _has_nonfinite(value: Any) -> bool:
    """Whether ``value`` holds a NaN or an infinity, at any depth."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(map(_has_nonfinite, value.values()))
    if isinstance(value, (list, tuple)):
        return any(map(_has_nonfinite, value))
    return False
