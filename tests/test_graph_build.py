"""The graph built from a log: hand-checked nodes, edges and attributes, whichever way it is
built or read back, and files written from the log's records equal to those networkx gives."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from vs_sim.agents import Agent
from vs_sim.conversation import Conversation, Termination
from vs_sim.events import (
    CandidateRecord,
    Choice,
    ConversationEnded,
    ConversationStarted,
    DistributionRecorded,
    MemorySummary,
    ModelCall,
    Participant,
    RunStarted,
    Utterance,
    read_events,
    write_events,
)
from vs_sim.graph import ConversationGraph
from vs_sim.runner import run_conversations

PEOPLE = [
    Participant(
        agent_id="ana",
        name="Ana",
        persona_id="p1",
        template="resident",
        attributes={"age": 41},
        role="host",
    ),
    Participant(agent_id="ben", name="Ben"),
]


def cand(text: str, p: float, stated: float | str | None) -> CandidateRecord:
    return CandidateRecord(text=text, stated=stated, weight=p, probability=p)


@pytest.fixture
def hand_log(tmp_path: Path) -> Path:
    """A conversation of two turns, a branch forked at turn 1 (with a speaker it did not
    introduce), a conversation without utterances, and events the graph ignores."""
    path = tmp_path / "events.jsonl"
    write_events(
        path,
        [
            RunStarted(run_id="r1", seed=1),
            ConversationStarted(conversation_id="talk", participants=PEOPLE),
            ModelCall(conversation_id="talk", turn=0, model="m", error="timeout", retries=1),
            DistributionRecorded(
                conversation_id="talk",
                turn=0,
                speaker="ana",
                method="vs_standard",
                model="m",
                candidates=[cand("A", 0.2, 0.2), cand("B", 0.6, "60%"), cand("C & <D>", 0.2, None)],
                dropped=[cand("E", 0.01, 0.01)],
                entropy=1.37,
            ),
            Choice(conversation_id="talk", turn=0, speaker="ana", index=0, rank=2, probability=0.2),
            Utterance(
                conversation_id="talk",
                turn=0,
                speaker="ana",
                text="A",
                probability=0.2,
                rank=2,
                entropy=1.37,
                addressed_to=["ben", "ben"],
            ),
            Utterance(
                conversation_id="talk",
                turn=1,
                speaker="ben",
                text="Hi Ana",
                reply_to=0,
                addressed_to=["ana", "zed"],
                note="fallback",
            ),
            MemorySummary(conversation_id="talk", agent_id="ana", turn=2, covers=2, text="..."),
            ConversationEnded(conversation_id="talk", reason="max_turns", turns=2),
            ConversationStarted(
                conversation_id="talk~b", parent_id="talk", fork_turn=1, participants=PEOPLE
            ),
            Utterance(conversation_id="talk~b", turn=1, speaker="cy", text="New", reply_to=0),
            ConversationEnded(conversation_id="talk~b", reason="error", status="failed"),
            ConversationStarted(conversation_id="lone"),
        ],
    )
    return path


def agent(conv: str, agent_id: str, name: str, **known: Any) -> dict[str, Any]:
    data = {"persona_id": None, "template": None, "attributes": {}, "role": None} | known
    return {"type": "agent", "conversation": conv, "agent_id": agent_id, "name": name, **data}


def said(conv: str, turn: int, speaker: str, text: str, **known: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "probability": None,
        "rank": None,
        "entropy": None,
        "addressed_to": [],
        "reply_to": None,
        "note": None,
        "candidates": None,
        "method": None,
        "model": None,
        "index": None,
        "rule": None,
    }
    return {
        "type": "utterance",
        "conversation": conv,
        "turn": turn,
        "speaker": speaker,
        "text": text,
        **(data | known),
    }


def alt(i: int, text: str, p: float, rank: int | None, stated: Any) -> dict[str, Any]:
    return {
        "type": "alternative",
        "conversation": "talk",
        "turn": 0,
        "speaker": "ana",
        "index": i,
        "text": text,
        "probability": p,
        "rank": rank,
        "stated": stated,
        "weight": p,
        "dropped": rank is None,
    }


EXPECTED_NODES = {
    "agent:talk:ana": agent(
        "talk", "ana", "Ana", persona_id="p1", template="resident", attributes={"age": 41}
    )
    | {"role": "host"},
    "agent:talk:ben": agent("talk", "ben", "Ben"),
    "agent:talk~b:ana": agent(
        "talk~b", "ana", "Ana", persona_id="p1", template="resident", attributes={"age": 41}
    )
    | {"role": "host"},
    "agent:talk~b:ben": agent("talk~b", "ben", "Ben"),
    "agent:talk~b:cy": agent("talk~b", "cy", "cy"),
    "utt:talk:0": said(
        "talk",
        0,
        "ana",
        "A",
        probability=0.2,
        rank=2,
        entropy=1.37,
        addressed_to=["ben", "ben"],
        candidates=3,
        method="vs_standard",
        model="m",
        index=0,
        rule="weighted",
    ),
    "utt:talk:1": said(
        "talk", 1, "ben", "Hi Ana", reply_to=0, addressed_to=["ana", "zed"], note="fallback"
    ),
    "utt:talk~b:1": said("talk~b", 1, "cy", "New", reply_to=0),
    # ranks: B (0.6) first, then A and C (0.2 each) in list order; E was dropped
    "alt:talk:0:1": alt(1, "B", 0.6, 1, "60%"),
    "alt:talk:0:2": alt(2, "C & <D>", 0.2, 3, None),
    "alt:talk:0:3": alt(3, "E", 0.01, None, 0.01),
}
EXPECTED_EDGES = {
    ("agent:talk:ana", "utt:talk:0", "spoke"),
    ("agent:talk:ben", "utt:talk:1", "spoke"),
    ("agent:talk~b:cy", "utt:talk~b:1", "spoke"),
    ("utt:talk:0", "alt:talk:0:1", "alternative"),
    ("utt:talk:0", "alt:talk:0:2", "alternative"),
    ("utt:talk:0", "alt:talk:0:3", "alternative"),
    ("utt:talk:0", "agent:talk:ben", "addresses"),  # once, though addressed twice
    ("utt:talk:0", "utt:talk:1", "next"),
    ("utt:talk:0", "utt:talk~b:1", "next"),  # the branch hangs off the shared turn
    ("utt:talk:1", "utt:talk:0", "reply_to"),
    ("utt:talk:1", "agent:talk:ana", "addresses"),  # zed is nobody in the conversation
    ("utt:talk~b:1", "utt:talk:0", "reply_to"),
}
EXPECTED_CONVERSATIONS = {
    "talk": {"parent_id": None, "fork_turn": None, "status": "completed", "reason": "max_turns"},
    "talk~b": {"parent_id": "talk", "fork_turn": 1, "status": "failed", "reason": "error"},
    "lone": {"parent_id": None, "fork_turn": None, "status": None, "reason": None},
}


def typed(value: Any) -> Any:
    """``value`` with the type of every part (so 1 and 1.0, or 0 and False, differ)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def check(g: ConversationGraph) -> None:
    G = g.graph
    assert {n: typed(d) for n, d in G.nodes(data=True)} == typed(EXPECTED_NODES)
    edges = list(G.edges(keys=True, data=True))
    assert {(u, v, k) for u, v, k, _ in edges} == EXPECTED_EDGES and len(edges) == 12
    assert all(d == {"kind": k} for _, _, k, d in edges)
    assert G.graph["schema"] == 1 and G.graph["run_ids"] == ["r1"]
    assert typed(G.graph["conversations"]) == typed(EXPECTED_CONVERSATIONS)
    assert g.conversations == ["talk", "talk~b", "lone"]
    assert g.path("talk~b") == ["utt:talk:0", "utt:talk~b:1"]


def test_the_graph_of_a_log_holds_what_users_rely_on(hand_log: Path, tmp_path: Path) -> None:
    from_log = ConversationGraph.from_log(hand_log)
    assert from_log.conversations == ["talk", "talk~b", "lone"]  # before networkx is made
    check(from_log)
    check(ConversationGraph.from_events(read_events(hand_log)))
    fresh = ConversationGraph.from_log(hand_log)  # the files, written from the log's records
    fresh.to_graphml(tmp_path / "g.graphml")
    fresh.to_node_link(tmp_path / "g.json")
    check(ConversationGraph.read_graphml(tmp_path / "g.graphml"))
    check(ConversationGraph.from_node_link(tmp_path / "g.json"))
    check(ConversationGraph.from_node_link(json.loads((tmp_path / "g.json").read_text())))


@pytest.fixture(scope="module")
def run_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run: two three-person conversations with the offline model."""
    path = tmp_path_factory.mktemp("run") / "events.jsonl"
    people = tuple(
        Agent(id=n.lower(), name=n, persona=f"You are {n}.") for n in ["Ana", "Ben", "Cy"]
    )
    convs = [
        Conversation(
            id=f"c{i}",
            agents=people,
            opening="Tea or coffee?",
            termination=Termination(max_turns=5),
        )
        for i in range(2)
    ]
    run_conversations(convs, model="offline/demo", seed=3, log_path=path, progress=False)
    return path


@pytest.mark.parametrize("which", ["hand", "run"])
def test_files_from_the_log_equal_those_from_the_networkx_graph(
    which: str, hand_log: Path, run_log: Path, tmp_path: Path
) -> None:
    log = hand_log if which == "hand" else run_log
    direct, made = ConversationGraph.from_log(log), ConversationGraph.from_log(log)
    made.graph  # noqa: B018 - makes the networkx graph: the files are written from it
    direct.to_graphml(tmp_path / "direct.graphml")
    made.to_graphml(tmp_path / "made.graphml")
    assert (tmp_path / "direct.graphml").read_bytes() == (tmp_path / "made.graphml").read_bytes()
    assert direct.to_node_link(tmp_path / "d.json") == made.to_node_link(tmp_path / "m.json")
    assert (tmp_path / "d.json").read_bytes() == (tmp_path / "m.json").read_bytes()
    # what a user analyses: every utterance, its speaker's edge and the chosen text
    G = direct.graph
    utterances = [e for e in read_events(log) if isinstance(e, Utterance)]
    assert len(utterances) == sum(d["type"] == "utterance" for _, d in G.nodes(data=True))
    for u in utterances:
        node = f"utt:{u.conversation_id}:{u.turn}"
        assert G.nodes[node]["text"] == u.text
        assert G.has_edge(f"agent:{u.conversation_id}:{u.speaker}", node, key="spoke")


def test_node_link_data_is_the_callers_to_change(hand_log: Path, tmp_path: Path) -> None:
    g = ConversationGraph.from_log(hand_log)
    data = g.to_node_link()
    data["nodes"][0]["name"] = "changed"
    data["edges"].clear()
    g.to_node_link(tmp_path / "g.json")
    check(ConversationGraph.from_node_link(tmp_path / "g.json"))
    check(g)


def test_nan_and_infinity_are_kept_as_json_dumps_keeps_them(tmp_path: Path) -> None:
    """orjson writes NaN as null; a graph that holds one is written as json.dumps does."""
    events = [
        ConversationStarted(conversation_id="c", participants=PEOPLE),
        Utterance(conversation_id="c", turn=0, speaker="ana", text="x", entropy=math.nan),
        Utterance(conversation_id="c", turn=1, speaker="ben", text="y", probability=math.inf),
    ]
    g = ConversationGraph.from_events(events)
    g.to_node_link(tmp_path / "g.json")
    assert "NaN" in (tmp_path / "g.json").read_text()
    g.to_graphml(tmp_path / "g.graphml")
    for back in (
        ConversationGraph.from_node_link(tmp_path / "g.json"),
        ConversationGraph.read_graphml(tmp_path / "g.graphml"),
    ):
        assert math.isnan(back.graph.nodes["utt:c:0"]["entropy"])
        assert back.graph.nodes["utt:c:1"]["probability"] == math.inf


def test_ints_where_events_have_floats_become_floats(tmp_path: Path) -> None:
    """A log written by another tool may say 1 for 1.0; validation would read 1.0."""
    lines = [
        {"kind": "conversation_started", "conversation_id": "c", "participants": []},
        {
            "kind": "distribution",
            "conversation_id": "c",
            "turn": 0,
            "speaker": "ana",
            "method": "vs_standard",
            "candidates": [
                {"text": "a", "stated": 1, "weight": 1, "probability": 1},
                {"text": "b", "stated": "0%", "weight": 0, "probability": 0},
            ],
        },
        {
            "kind": "choice",
            "conversation_id": "c",
            "turn": 0,
            "index": 0,
            "rank": 1,
            "probability": 1,
        },
        {
            "kind": "utterance",
            "conversation_id": "c",
            "turn": 0,
            "speaker": "ana",
            "text": "a",
            "probability": 1,
            "entropy": 0,
        },
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    raw = ConversationGraph.from_records(lines).graph
    validated = ConversationGraph.from_events(read_events(path)).graph
    assert typed(dict(raw.nodes(data=True))) == typed(dict(validated.nodes(data=True)))
    assert typed(raw.nodes["alt:c:0:1"])["weight"] == ("float", 0.0)
    assert typed(raw.nodes["utt:c:0"])["entropy"] == ("float", 0.0)
