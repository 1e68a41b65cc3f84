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
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from .errors import ConfigError
from .events import (
    Choice,
    ConversationEnded,
    ConversationStarted,
    DistributionRecorded,
    Event,
    RunStarted,
    Utterance,
    read_events,
)
from .graphml import write_graphml

SCHEMA = 1
_JSON_MARK = "vs_sim_json"
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff]")
"""Characters XML cannot hold, plus ``\r`` (XML parsers turn it into ``\n``)."""
_NATIVE = frozenset({str, int, float, bool})


def agent_node(conversation: str, agent_id: str) -> str:
    """The node id of an agent in a conversation."""
    return f"agent:{conversation}:{agent_id}"


def utterance_node(conversation: str, turn: int) -> str:
    """The node id of an utterance (the one logged in ``conversation`` itself)."""
    return f"utt:{conversation}:{turn}"


class ConversationGraph:
    """Agents, utterances and the candidates not taken, built from the event log.

    Attributes:
        graph: The ``networkx.MultiDiGraph``.
    """

    def __init__(self, graph: nx.MultiDiGraph[str] | None = None) -> None:
        self.graph: nx.MultiDiGraph[str] = graph if graph is not None else nx.MultiDiGraph()
        self.graph.graph.setdefault("schema", SCHEMA)
        self.graph.graph.setdefault("conversations", {})

    # -- building --------------------------------------------------------------------------
    @classmethod
    def from_log(cls, path: str | os.PathLike[str]) -> ConversationGraph:
        """The graph of every conversation in a log."""
        return cls.from_events(read_events(path))

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> ConversationGraph:
        """The graph of every conversation in ``events`` (in log order)."""
        g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        convs: dict[str, dict[str, Any]] = {}
        dists: dict[tuple[str, int, str], DistributionRecorded] = {}
        choices: dict[tuple[str, int], Choice] = {}
        utterances: dict[str, dict[int, Utterance]] = {}
        run_ids: list[str] = []
        for e in events:
            if isinstance(e, RunStarted):
                if e.run_id not in run_ids:
                    run_ids.append(e.run_id)
            elif isinstance(e, ConversationStarted):
                convs.setdefault(
                    e.conversation_id,
                    {
                        "parent_id": e.parent_id,
                        "fork_turn": e.fork_turn,
                        "status": None,
                        "reason": None,
                    },
                )
                for p in e.participants:
                    g.add_node(
                        agent_node(e.conversation_id, p.agent_id),
                        type="agent",
                        conversation=e.conversation_id,
                        agent_id=p.agent_id,
                        name=p.name,
                        persona_id=p.persona_id,
                        template=p.template,
                        attributes=dict(p.attributes),
                        role=p.role,
                    )
            elif isinstance(e, DistributionRecorded) and e.purpose == "utterance":
                if e.conversation_id is not None and e.turn is not None and e.speaker:
                    dists[(e.conversation_id, e.turn, e.speaker)] = e
            elif isinstance(e, Choice) and e.purpose == "utterance":
                if e.conversation_id is not None and e.turn is not None:
                    choices[(e.conversation_id, e.turn)] = e
            elif isinstance(e, Utterance):
                utterances.setdefault(e.conversation_id, {}).setdefault(e.turn, e)
            elif isinstance(e, ConversationEnded) and e.conversation_id in convs:
                convs[e.conversation_id].update(status=e.status, reason=e.reason)
        g.graph.update(schema=SCHEMA, run_ids=run_ids, conversations=convs)
        out = cls(g)
        for conv, by_turn in utterances.items():
            for turn in sorted(by_turn):
                u = by_turn[turn]
                out._add_utterance(u, dists.get((conv, turn, u.speaker)), choices.get((conv, turn)))
        for by_turn in utterances.values():
            for turn in sorted(by_turn):
                out._link(by_turn[turn])
        return out

    def _add_utterance(
        self, u: Utterance, dist: DistributionRecorded | None, choice: Choice | None
    ) -> None:
        g, conv = self.graph, u.conversation_id
        node = utterance_node(conv, u.turn)
        index = choice.index if choice is not None else None
        g.add_node(
            node,
            type="utterance",
            conversation=conv,
            turn=u.turn,
            speaker=u.speaker,
            text=u.text,
            probability=u.probability,
            rank=u.rank,
            entropy=u.entropy,
            addressed_to=list(u.addressed_to),
            reply_to=u.reply_to,
            note=u.note,
            candidates=len(dist.candidates) if dist else None,
            method=dist.method if dist else None,
            model=dist.model if dist else None,
            index=index,
            rule=choice.rule if choice is not None else None,
        )
        speaker = agent_node(conv, u.speaker)
        if speaker not in g:
            g.add_node(
                speaker,
                type="agent",
                conversation=conv,
                agent_id=u.speaker,
                name=u.speaker,
                persona_id=None,
                template=None,
                attributes={},
                role=None,
            )
        g.add_edge(speaker, node, key="spoke", kind="spoke")
        if dist is None:
            return
        ranked = sorted(range(len(dist.candidates)), key=lambda i: -dist.candidates[i].probability)
        alts = [(i, c, False) for i, c in enumerate(dist.candidates) if i != index]
        alts += [(len(dist.candidates) + j, c, True) for j, c in enumerate(dist.dropped)]
        for i, cand, dropped in alts:
            alt = f"alt:{conv}:{u.turn}:{i}"
            g.add_node(
                alt,
                type="alternative",
                conversation=conv,
                turn=u.turn,
                speaker=u.speaker,
                index=i,
                text=cand.text,
                probability=cand.probability,
                rank=None if dropped else ranked.index(i) + 1,
                stated=cand.stated,
                weight=cand.weight,
                dropped=dropped,
            )
            g.add_edge(node, alt, key="alternative", kind="alternative")

    def _resolve(self, conv: str, turn: int) -> str | None:
        """The node of ``turn`` on ``conv``'s path (a branch's shared turns are its parent's)."""
        seen: set[str] = set()
        while conv not in seen:
            seen.add(conv)
            node = utterance_node(conv, turn)
            if node in self.graph:
                return node
            info = self.graph.graph["conversations"].get(conv) or {}
            if info.get("parent_id") is None or info.get("fork_turn") is None:
                return None
            if turn >= info["fork_turn"]:
                return None
            conv = info["parent_id"]
        return None

    def _link(self, u: Utterance) -> None:
        g, conv = self.graph, u.conversation_id
        node = utterance_node(conv, u.turn)
        if u.turn > 0:
            prev = self._resolve(conv, u.turn - 1)
            if prev is not None:
                g.add_edge(prev, node, key="next", kind="next")
        if u.reply_to is not None:
            target = self._resolve(conv, u.reply_to)
            if target is not None:
                g.add_edge(node, target, key="reply_to", kind="reply_to")
        for agent_id in u.addressed_to:
            agent = agent_node(conv, agent_id)
            if agent in g:
                g.add_edge(node, agent, key="addresses", kind="addresses")

    # -- reading -----------------------------------------------------------------------------
    @property
    def conversations(self) -> list[str]:
        """The conversation ids in the graph."""
        return list(self.graph.graph.get("conversations", {}))

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
        if conversation not in self.graph.graph.get("conversations", {}):
            raise ConfigError(
                f"no conversation {conversation!r} in the graph",
                where="ConversationGraph.conversation",
            )
        keep = {n for n, d in self.graph.nodes(data=True) if d.get("conversation") == conversation}
        for node in self.path(conversation):
            if node not in keep:
                keep.add(node)
                keep.update(
                    v for _, v, k in self.graph.out_edges(node, keys=True) if k == "alternative"
                )
                keep.update(u for u, _, k in self.graph.in_edges(node, keys=True) if k == "spoke")
        sub: nx.MultiDiGraph[str] = self.graph.subgraph(keep).copy()
        convs = self.graph.graph["conversations"]
        related = {conversation} | {self.graph.nodes[n]["conversation"] for n in keep}
        sub.graph.update(self.graph.graph)
        sub.graph["conversations"] = {c: dict(convs[c]) for c in convs if c in related}
        return ConversationGraph(sub)

    # -- node-link JSON (lossless) -------------------------------------------------------------
    def to_node_link(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Node-link data (``nodes``/``edges`` with every attribute); also written to ``path``."""
        g = self.graph
        data = {
            "directed": True,
            "multigraph": True,
            "graph": dict(g.graph),
            "nodes": [{"id": n, **d} for n, d in g.nodes(data=True)],
            "edges": [
                {"source": u, "target": v, "key": k, **d}
                for u, v, k, d in g.edges(keys=True, data=True)
            ],
        }
        if path is not None:
            Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
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
        g = self.graph
        node_json = _json_names(d for _, d in g.nodes(data=True))
        edge_json = _json_names(d for _, _, d in g.edges(data=True))
        graph_json = _json_names([g.graph])
        flat: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        flat.graph.update(_encode(g.graph, graph_json))
        flat.graph[_JSON_MARK] = json.dumps(
            {"node": sorted(node_json), "edge": sorted(edge_json), "graph": sorted(graph_json)}
        )
        for n, d in g.nodes(data=True):
            flat.add_node(n, **_encode(d, node_json))
        for u, v, k, d in g.edges(keys=True, data=True):
            flat.add_edge(u, v, key=k, **_encode(d, edge_json))
        return flat

    def to_graphml(self, path: str | os.PathLike[str]) -> None:
        """Write GraphML; dicts, lists, ``None`` and mixed-type attributes become marked JSON.

        Written by :func:`vs_sim.graphml.write_graphml` straight from the graph (no flat
        copy, no XML tree); ``networkx.read_graphml`` reads the same graph it would from
        ``networkx.write_graphml``.
        """
        g = self.graph
        own = {k: v for k, v in g.graph.items() if k != _JSON_MARK}
        marks = {
            "node": _json_names(d for _, d in g.nodes(data=True)),
            "edge": _json_names(d for _, _, d in g.edges(data=True)),
            "graph": _json_names([own]),
        }
        own[_JSON_MARK] = json.dumps({scope: sorted(names) for scope, names in marks.items()})
        write_graphml(
            path,
            own,
            list(g.nodes(data=True)),
            list(g.edges(keys=True, data=True)),
            as_json=marks,
        )

    @classmethod
    def read_graphml(cls, path: str | os.PathLike[str]) -> ConversationGraph:
        """Read :meth:`to_graphml` output, restoring every attribute's value and type."""
        raw = nx.read_graphml(str(path), force_multigraph=True)
        marks = json.loads(raw.graph.pop(_JSON_MARK, "{}"))
        for added in ("node_default", "edge_default"):  # networkx's own, not ours
            if added not in marks.get("graph", []):
                raw.graph.pop(added, None)
        g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        g.graph.update(_decode(raw.graph, set(marks.get("graph", []))))
        node_json, edge_json = set(marks.get("node", [])), set(marks.get("edge", []))
        for n, d in raw.nodes(data=True):
            g.add_node(n, **_decode(d, node_json))
        for u, v, k, d in raw.edges(keys=True, data=True):
            g.add_edge(u, v, key=k, **_decode(d, edge_json))
        return cls(g)

    def to_gexf(self, path: str | os.PathLike[str]) -> None:
        """Write GEXF for Gephi (attributes flattened as for GraphML; nodes get a ``label``)."""
        flat = self._flat()
        for _, d in flat.nodes(data=True):
            d["label"] = str(d.get("name") or d.get("text") or "")[:80]
        nx.write_gexf(flat, str(path))


def _json_names(dicts: Iterable[dict[str, Any]]) -> set[str]:
    """Attribute names that must be written as JSON: a value that is not a GraphML type,
    values of more than one type, or a string XML cannot hold (one pass, no copies)."""
    first: dict[str, type] = {}
    out: set[str] = set()
    for d in dicts:
        for name, value in d.items():
            if name in out:
                continue
            kind = type(value)
            if (
                first.setdefault(name, kind) is not kind
                or kind not in _NATIVE
                or (kind is str and _XML_UNSAFE.search(value) is not None)
            ):
                out.add(name)
    return out


def _encode(d: dict[str, Any], json_names: set[str]) -> dict[str, Any]:
    return {k: json.dumps(v, ensure_ascii=True) if k in json_names else v for k, v in d.items()}


def _decode(d: dict[str, Any], json_names: set[str]) -> dict[str, Any]:
    return {k: json.loads(v) if k in json_names else v for k, v in d.items()}
