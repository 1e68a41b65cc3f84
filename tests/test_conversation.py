"""The conversation engine end to end: turns, events, termination, memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vs_sim.agents import Agent, MemoryPolicy, VSPolicy
from vs_sim.conversation import Conversation, Termination
from vs_sim.events import (
    Choice,
    ConversationEnded,
    ConversationStarted,
    DistributionRecorded,
    MemorySummary,
    ModelCall,
    Utterance,
    read_events,
)
from vs_sim.personas import Persona
from vs_sim.runner import run_conversations
from vs_sim.scheduling import ModeratorLed
from vs_sim.testing import ScriptedModel


def three_agents() -> tuple[Agent, ...]:
    return tuple(
        Agent(id=n.lower(), name=n, persona=f"You are {n}, who lives in Springfield.")
        for n in ("Ana", "Ben", "Cy")
    )


def focus_group() -> tuple[Agent, ...]:
    topic = "electric cars"
    mod = Agent(
        id="mod",
        name="Moderator",
        role="moderator",
        persona=Persona(id="p0", template="moderator", attributes={"topic": topic}),
    )
    people = [
        Agent(
            id=n.lower(),
            name=n,
            role="participant",
            persona=Persona(
                id=f"p{i}",
                template="focus_group_participant",
                attributes={
                    "name": n,
                    "topic": topic,
                    "age": 30 + 7 * i,
                    "sex": "female" if i % 2 else "male",
                },
            ),
        )
        for i, n in enumerate(["Dana", "Eli", "Fay", "Gus"], start=1)
    ]
    return (mod, *people)


def run(
    convs: list[Conversation], tmp_path: Path, model: Any = "offline/demo", name: str = "log.jsonl"
) -> list[Any]:
    log = tmp_path / name
    run_conversations(convs, model=model, seed=11, log_path=log, progress=False)
    return list(read_events(log))


def vs(*texts: str) -> str:
    return json.dumps({"responses": [{"text": t, "probability": 1 / len(texts)} for t in texts]})


def test_three_agent_round_robin_on_the_offline_model(tmp_path: Path) -> None:
    conv = Conversation(
        id="rr",
        agents=three_agents(),
        opening="Should we build a library?",
        termination=Termination(max_turns=9),
    )
    events = run([conv], tmp_path)
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["run_started", "conversation_started"]
    assert kinds[-2:] == ["conversation_ended", "run_ended"]
    # every turn: model call(s), then distribution, choice, utterance — in that order
    per_turn = [e.kind for e in events[2:-2] if e.kind != "model_call"]
    assert per_turn == ["distribution", "choice", "utterance"] * 9
    utts = [e for e in events if isinstance(e, Utterance)]
    assert [u.speaker for u in utts] == ["ana", "ben", "cy"] * 3
    assert [u.turn for u in utts] == list(range(9))
    dists = {e.turn: e for e in events if isinstance(e, DistributionRecorded)}
    choices = {e.turn: e for e in events if isinstance(e, Choice)}
    for u in utts:
        d, c = dists[u.turn], choices[u.turn]
        assert u.text == d.candidates[c.index].text
        assert u.probability == d.candidates[c.index].probability
        assert u.entropy == d.entropy > 0
        assert c.rng_key == ["rr", u.turn, "choice"] and c.rule == "weighted"
        assert u.reply_to == (u.turn - 1 if u.turn else None)
        assert sum(x.probability for x in d.candidates) == pytest.approx(1.0)
    assert events[-2].reason == "max_turns" and events[-2].turns == 9
    started = events[1]
    assert isinstance(started, ConversationStarted)
    assert [p.agent_id for p in started.participants] == ["ana", "ben", "cy"]
    assert started.meta["spec"]["scheduler"] == {"name": "round_robin"}


def test_five_agent_moderator_led_focus_group(tmp_path: Path) -> None:
    conv = Conversation(
        id="fg",
        agents=focus_group(),
        scheduler=ModeratorLed("mod"),
        opening="Welcome! Today we talk about electric cars.",
        termination=Termination(max_turns=12),
    )
    events = run([conv], tmp_path)
    utts = [e for e in events if isinstance(e, Utterance)]
    assert len(utts) == 12
    assert [u.speaker for u in utts[::2]] == ["mod"] * 6
    people = [u for u in utts[1::2]]
    assert all(u.speaker != "mod" and u.addressed_to == ["mod"] for u in people)
    for mod_turn, reply in zip(utts[::2], people):
        named = reply.speaker in json.dumps(mod_turn.text).lower()
        assert named or reply.note == "moderator named nobody; fell back to round-robin"
    started = next(e for e in events if isinstance(e, ConversationStarted))
    assert started.participants[1].template == "focus_group_participant"
    assert started.participants[1].attributes["name"] == "Dana"


def test_the_messages_a_speaker_gets(tmp_path: Path) -> None:
    model = ScriptedModel()
    model.enqueue(vs("Hi, I'm Ana."), vs("Ben here. Ana, hello!"), vs("Hello Ben."))
    conv = Conversation(
        id="pov",
        agents=three_agents()[:2],
        instructions="Be brief.",
        termination=Termination(max_turns=3),
    )
    run([conv], tmp_path, model)
    third = model.history[2].messages
    assert third[0]["role"] == "system"
    assert third[0]["content"].startswith("You are Ana, who lives in Springfield.\n\nBe brief.")
    assert (
        "You are Ana. Write your next message in this conversation, addressing Ben."
        in (third[0]["content"])
    )
    assert [(m["role"], m["content"]) for m in third[1:]] == [
        ("assistant", "Hi, I'm Ana."),
        ("user", "Ben: Ben here. Ana, hello!"),
    ]


@pytest.mark.parametrize(
    ("rule", "replies", "reason", "turns"),
    [
        ("stop", ["Hello.", "Goodbye [END]", "never said"], "stop_marker", 2),
        ("leave", ["Hello.", "I must go [LEAVE]", "never said"], "agents_left", 2),
        ("max_turns", ["a", "b", "c", "d"], "max_turns", 3),
    ],
)
def test_termination_rules(
    tmp_path: Path, rule: str, replies: list[str], reason: str, turns: int
) -> None:
    model = ScriptedModel()
    model.enqueue(*[vs(r) for r in replies])
    conv = Conversation(id=rule, agents=three_agents()[:2], termination=Termination(max_turns=3))
    events = run([conv], tmp_path, model)
    end = next(e for e in events if isinstance(e, ConversationEnded))
    assert (end.reason, end.turns) == (reason, turns)


def test_a_leaver_is_skipped_and_max_cost_and_predicate_end_it(tmp_path: Path) -> None:
    model = ScriptedModel()
    model.enqueue(vs("Bye [LEAVE]"), vs("Ben."), vs("Cy."), vs("Ben again."))
    conv = Conversation(id="l", agents=three_agents(), termination=Termination(max_turns=4))
    utts = [e for e in run([conv], tmp_path, model) if isinstance(e, Utterance)]
    assert [u.speaker for u in utts] == ["ana", "ben", "cy", "ben"]

    paid = ScriptedModel(cost=0.02)
    conv = Conversation(id="c", agents=three_agents(), termination=Termination(max_cost=0.05))
    end = next(
        e for e in run([conv], tmp_path, paid, "cost.jsonl") if isinstance(e, ConversationEnded)
    )
    assert (end.reason, end.turns) == ("max_cost", 3)

    conv = Conversation(
        id="p",
        agents=three_agents(),
        termination=Termination(
            predicate=lambda t: len(t) == 2 and t.last is not None and t.last.speaker == "ben"
        ),
    )
    end = next(
        e for e in run([conv], tmp_path, name="pred.jsonl") if isinstance(e, ConversationEnded)
    )
    assert (end.reason, end.turns) == ("predicate", 2)


def test_last_n_memory_shows_only_the_recent_turns(tmp_path: Path) -> None:
    model = ScriptedModel()
    model.enqueue(*[vs(f"line {i}") for i in range(6)])
    agents = list(three_agents()[:2])
    agents[0] = agents[0].model_copy(update={"memory": MemoryPolicy(kind="last_n", n=2)})
    conv = Conversation(id="m", agents=tuple(agents), termination=Termination(max_turns=5))
    run([conv], tmp_path, model)
    seen = [m["content"] for m in model.history[4].messages[1:]]  # Ana at turn 4
    assert seen == ["line 2", "Ben: line 3"]
    assert len(model.history[3].messages) == 4  # Ben (full memory) sees all three turns


def test_summary_memory_is_a_logged_model_call(tmp_path: Path) -> None:
    model = ScriptedModel()
    agents = list(three_agents()[:2])
    agents[0] = agents[0].model_copy(update={"memory": MemoryPolicy(kind="summary", n=2)})
    conv = Conversation(id="s", agents=tuple(agents), termination=Termination(max_turns=6))
    replies: list[str] = [vs(f"line {i}") for i in range(4)]
    replies.append("They said lines zero and one.")  # the summary, before Ana's turn 4
    replies += [vs("line 4"), vs("line 5")]
    model.enqueue(*replies)
    events = run([conv], tmp_path, model)
    calls = [e for e in events if isinstance(e, ModelCall)]
    assert [c.purpose for c in calls].count("summary") == 1
    summary = next(e for e in events if isinstance(e, MemorySummary))
    assert (summary.agent_id, summary.turn, summary.covers) == ("ana", 4, 2)
    assert summary.text == "They said lines zero and one."
    ana_turn4 = model.history[5].messages
    assert (
        "Earlier in the conversation (summary): They said lines zero and one."
        in (ana_turn4[0]["content"])
    )
    assert "line 0" not in json.dumps(ana_turn4)
    assert "Ben: line 1" in model.history[4].messages[-1]["content"]  # the summary's input


def test_per_agent_policy_and_model(tmp_path: Path) -> None:
    other = ScriptedModel(name="scripted/other")
    other.enqueue(vs("from other 1", "from other 2"))
    agents = list(three_agents()[:2])
    agents[1] = agents[1].model_copy(
        update={"model": other, "policy": VSPolicy(k=2, selection="argmax")}
    )
    conv = Conversation(id="pa", agents=tuple(agents), termination=Termination(max_turns=2))
    events = run([conv], tmp_path)
    assert len(other.history) == 1
    choice = [e for e in events if isinstance(e, Choice)][1]
    assert (choice.rule, choice.speaker) == ("argmax", "ben")
    assert [e.model for e in events if isinstance(e, ModelCall)] == [
        "offline/demo",
        "scripted/other",
    ]


def test_conversation_validation() -> None:
    with pytest.raises(ValueError, match="set max_turns, max_cost or a predicate"):
        Termination(max_turns=None)
    assert Termination(max_turns=None, max_cost=1.0).max_cost == 1.0
    with pytest.raises(ValueError, match="at least one agent"):
        Conversation(id="x", agents=())
    with pytest.raises(ValueError, match="unique"):
        Conversation(id="x", agents=(Agent(id="a"), Agent(id="a")))
    with pytest.raises(ValueError, match="must be callable"):
        Conversation(id="x", agents=(Agent(id="a"),), scheduler="round_robin")  # type: ignore[arg-type]
