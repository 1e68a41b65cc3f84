"""The conversation graph: schema, several conversations, exports with every attribute intact."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vs_sim.agents import Agent, VSPolicy
from vs_sim.conversation import Conversation, Termination
from vs_sim.errors import ConfigError
from vs_sim.events import DistributionRecorded, Utterance, read_events
from vs_sim.graph import ConversationGraph
from vs_sim.personas import Persona
from vs_sim.runner import run_conversations
from vs_sim.scheduling import ModeratorLed


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run: a three-agent round-robin and a five-agent moderator-led focus group."""
    path = tmp_path_factory.mktemp("graph") / "run.jsonl"
    trio = tuple(Agent(id=n.lower(), name=n, persona=f"You are {n}.") for n in ["Ana", "Ben", "Cy"])
    topic = "remote work"
    group = (
        Agent(
            id="mod",
            name="Moderator",
            role="moderator",
            persona=Persona(id="m1", template="moderator", attributes={"topic": topic}),
        ),
        *(
            Agent(
                id=n.lower(),
                name=n,
                policy=VSPolicy(k=4, tau=0.2),
                persona=Persona(
                    id=f"p{i}",
                    template="focus_group_participant",
                    attributes={
                        "name": n,
                        "topic": topic,
                        "age": 25 + 9 * i,
                        "sex": "male" if i % 2 else "female",
                    },
                ),
            )
            for i, n in enumerate(["Dana", "Eli", "Fay", "Gus"])
        ),
    )
    run_conversations(
        [
            Conversation(
                id="trio",
                agents=trio,
                opening="Cats or dogs?",
                termination=Termination(max_turns=6),
            ),
            Conversation(
                id="group",
                agents=group,
                scheduler=ModeratorLed("mod"),
                opening="Let's talk about remote work.",
                termination=Termination(max_turns=10),
            ),
        ],
        model="offline/demo",
        seed=8,
        log_path=path,
        progress=False,
    )
    return path


def snapshot(g: ConversationGraph) -> tuple[Any, Any, Any]:
    """Everything in a graph, in a comparable form (values and their types)."""

    def typed(d: dict[str, Any]) -> str:
        return json.dumps({k: [type(v).__name__, v] for k, v in sorted(d.items())}, sort_keys=True)

    nodes = sorted((n, typed(d)) for n, d in g.graph.nodes(data=True))
    edges = sorted((u, v, k, typed(d)) for u, v, k, d in g.graph.edges(keys=True, data=True))
    return nodes, edges, typed(g.graph.graph)


def test_schema(log: Path) -> None:
    g = ConversationGraph.from_log(log)
    G = g.graph
    assert isinstance(G, nx.MultiDiGraph)
    assert sorted(g.conversations) == ["group", "trio"]
    kinds = {d["type"] for _, d in G.nodes(data=True)}
    assert kinds == {"agent", "utterance", "alternative"}
    agent = G.nodes["agent:group:dana"]
    assert (agent["persona_id"], agent["template"], agent["role"]) == (
        "p0",
        "focus_group_participant",
        None,
    )
    assert agent["attributes"]["name"] == "Dana"
    events = list(read_events(log))
    dists = {(e.conversation_id, e.turn): e for e in events if isinstance(e, DistributionRecorded)}
    for u in (e for e in events if isinstance(e, Utterance)):
        node = G.nodes[f"utt:{u.conversation_id}:{u.turn}"]
        assert (node["speaker"], node["text"], node["probability"], node["rank"]) == (
            u.speaker,
            u.text,
            u.probability,
            u.rank,
        )
        assert node["entropy"] == dists[(u.conversation_id, u.turn)].entropy
        out = {k for _, _, k in G.out_edges(f"utt:{u.conversation_id}:{u.turn}", keys=True)}
        assert "alternative" in out or len(dists[(u.conversation_id, u.turn)].candidates) == 1
        d = dists[(u.conversation_id, u.turn)]
        alts = [
            v
            for _, v, k in G.out_edges(f"utt:{u.conversation_id}:{u.turn}", keys=True)
            if k == "alternative"
        ]
        assert len(alts) == len(d.candidates) - 1 + len(d.dropped)
        assert {G.nodes[a]["text"] for a in alts} | {u.text} == {
            c.text for c in [*d.candidates, *d.dropped]
        }
        assert G.has_edge(
            f"agent:{u.conversation_id}:{u.speaker}",
            f"utt:{u.conversation_id}:{u.turn}",
            key="spoke",
        )
    assert any(d["dropped"] for _, d in G.nodes(data=True) if d["type"] == "alternative")
    # next edges chain each conversation's turns; replies and addressees are linked
    assert g.path("trio") == [f"utt:trio:{t}" for t in range(6)]
    assert all(G.has_edge(f"utt:trio:{t}", f"utt:trio:{t + 1}", key="next") for t in range(5))
    assert G.has_edge("utt:group:1", "utt:group:0", key="reply_to")
    assert G.has_edge("utt:group:1", "agent:group:mod", key="addresses")


def test_one_conversation_can_be_taken_out(log: Path) -> None:
    g = ConversationGraph.from_log(log)
    trio = g.conversation("trio")
    assert {d["conversation"] for _, d in trio.graph.nodes(data=True)} == {"trio"}
    assert len(trio.path("trio")) == 6 and list(trio.graph.graph["conversations"]) == ["trio"]
    total = trio.graph.number_of_nodes() + g.conversation("group").graph.number_of_nodes()
    assert total == g.graph.number_of_nodes()
    with pytest.raises(ConfigError, match="no conversation 'nope'"):
        g.conversation("nope")


def test_node_link_round_trip_is_lossless(log: Path, tmp_path: Path) -> None:
    g = ConversationGraph.from_log(log)
    assert snapshot(ConversationGraph.from_node_link(g.to_node_link())) == snapshot(g)
    g.to_node_link(tmp_path / "g.json")
    again = ConversationGraph.from_node_link(tmp_path / "g.json")
    assert snapshot(again) == snapshot(g)
    for conv in ("trio", "group"):
        one = g.conversation(conv)
        one.to_node_link(tmp_path / f"{conv}.json")
        assert snapshot(ConversationGraph.from_node_link(tmp_path / f"{conv}.json")) == (
            snapshot(one)
        )


def test_graphml_round_trip_keeps_every_attribute_and_type(log: Path, tmp_path: Path) -> None:
    g = ConversationGraph.from_log(log)
    for name, graph in [
        ("all", g),
        ("trio", g.conversation("trio")),
        ("group", g.conversation("group")),
    ]:
        path = tmp_path / f"{name}.graphml"
        graph.to_graphml(path)
        assert snapshot(ConversationGraph.read_graphml(path)) == snapshot(graph)
    # nested values are stored as JSON and listed, so other tools can read the file too
    raw = nx.read_graphml(tmp_path / "all.graphml")
    marks = json.loads(raw.graph["vs_sim_json"])
    assert "attributes" in marks["node"] and "addressed_to" in marks["node"]
    assert isinstance(raw.nodes["utt:trio:0"]["turn"], int)


def test_graphml_survives_awkward_values(tmp_path: Path) -> None:
    g = ConversationGraph()
    g.graph.add_node(
        "a",
        type="utterance",
        text="bell\x07 and <tag> & \u00e9",
        turn=0,
        probability=0.1 + 0.2,
        stated="35%",
        note=None,
    )
    g.graph.add_node(
        "b", type="utterance", text="plain", turn=1, probability=1e-300, stated=0.35, note="x"
    )
    g.graph.add_edge("a", "b", key="next", kind="next")
    path = tmp_path / "odd.graphml"
    g.to_graphml(path)
    assert snapshot(ConversationGraph.read_graphml(path)) == snapshot(g)


def test_gexf_opens_with_labels(log: Path, tmp_path: Path) -> None:
    g = ConversationGraph.from_log(log)
    path = tmp_path / "run.gexf"
    g.to_gexf(path)
    back = nx.read_gexf(path)
    assert back.number_of_nodes() == g.graph.number_of_nodes()
    assert back.number_of_edges() == g.graph.number_of_edges()
    assert back.nodes["agent:group:dana"]["label"] == "Dana"


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.sampled_from(["a\rb", "a\r\nb", "\x00", " padded ", ""]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_attrs = st.dictionaries(st.sampled_from(["text", "turn", "stated", "attributes"]), _values)


@settings(max_examples=150, deadline=None)
@given(nodes=st.lists(_attrs, min_size=1, max_size=4), edge=_attrs)
def test_graphml_round_trips_any_attribute_values(
    nodes: list[dict[str, Any]], edge: dict[str, Any]
) -> None:
    g = ConversationGraph()
    for i, attrs in enumerate(nodes):
        g.graph.add_node(f"n{i}", **attrs)
    g.graph.add_edge("n0", f"n{len(nodes) - 1}", key="next", **edge)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.graphml"
        g.to_graphml(path)
        assert snapshot(ConversationGraph.read_graphml(path)) == snapshot(g)
        g.to_node_link(Path(tmp) / "g.json")
        assert snapshot(ConversationGraph.from_node_link(Path(tmp) / "g.json")) == snapshot(g)
