"""Schedulers: each built-in, custom callables, and how the engine uses them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import numpy as np

from vs_sim.agents import Agent, Turn
from vs_sim.conversation import Conversation, Termination
from vs_sim.events import Choice, DistributionRecorded, ModelCall, Utterance, read_events
from vs_sim.runner import run_conversations
from vs_sim.scheduler_specs import describe_scheduler, scheduler_from_description
from vs_sim.scheduling import (
    AddressedReply,
    ModelChosen,
    ModeratorLed,
    Pick,
    RandomSpeaker,
    Simultaneous,
    SocialGraph,
    Transcript,
    mentions,
    round_robin,
)
from vs_sim.seeds import derive_rng
from vs_sim.testing import ScriptedModel

AGENTS = [
    Agent(id=i, name=n, persona=f"You are {n}.")
    for i, n in [("a", "Ana"), ("b", "Ben"), ("c", "Cy"), ("d", "Dee")]
]


def rng(i: int = 0) -> np.random.Generator:
    return derive_rng(1, "sched", i)


def history(*speakers_texts: tuple[str, str]) -> Transcript:
    turns = [Turn(i, s, t) for i, (s, t) in enumerate(speakers_texts)]
    return Transcript(turns, participants=[a.id for a in AGENTS])


def vs(*texts_probs: tuple[str, float]) -> str:
    return json.dumps({"responses": [{"text": t, "probability": p} for t, p in texts_probs]})


def test_round_robin_follows_the_order_and_skips_those_who_left() -> None:
    h = Transcript([], participants=["a", "b", "c", "d"])
    assert round_robin(AGENTS, h, rng()) == "a"
    assert round_robin(AGENTS, history(("a", "x")), rng()) == "b"
    assert round_robin(AGENTS, history(("a", "x"), ("d", "y")), rng()) == "a"
    present = [a for a in AGENTS if a.id != "b"]  # b left
    assert round_robin(present, history(("a", "x")), rng()) == "c"


def test_random_speaker_respects_weights_and_no_repeat() -> None:
    sched = RandomSpeaker(weights={"a": 3.0, "b": 1.0, "c": 0.0, "d": 0.0})
    picks = Counter(sched(AGENTS, history(), rng(i)) for i in range(2000))
    assert set(picks) == {"a", "b"}
    assert 0.7 < picks["a"] / 2000 < 0.8
    no_repeat = RandomSpeaker(no_repeat=True)
    h = history(("c", "hi"))
    assert all(no_repeat(AGENTS, h, rng(i)) != "c" for i in range(200))


def test_mentions_prefer_at_names_then_names_at_the_start() -> None:
    assert mentions("Thanks. @Cy, and then @ben?", AGENTS) == ["c", "b"]
    assert mentions("Dee, what about you? Ana said no.", AGENTS, anywhere=False) == ["d"]
    assert mentions("I agree with Ana.", AGENTS, anywhere=False) == []
    assert mentions("I agree with Ana and dee.", AGENTS) == ["a", "d"]
    assert mentions("Banana bread", AGENTS) == []  # whole words only


def test_moderator_led_alternates_and_falls_back_with_a_note() -> None:
    sched = ModeratorLed("a")
    assert sched(AGENTS, history(), rng()).speakers == ("a",)
    pick = sched(AGENTS, history(("a", "Welcome. Cy, would you start?")), rng())
    assert pick == Pick(("c",), addressed_to=("a",))
    assert sched(AGENTS, history(("a", "q"), ("c", "answer")), rng()).speakers == ("a",)
    fallback = sched(AGENTS, history(("a", "q"), ("c", "x"), ("a", "Anyone else?")), rng())
    assert fallback.speakers == ("d",) and "fell back to round-robin" in (fallback.note or "")


def test_addressed_reply_answers_whoever_is_named() -> None:
    sched = AddressedReply()
    pick = sched(AGENTS, history(("a", "@Dee what do you think?")), rng())
    assert pick.speakers == ("d",) and pick.addressed_to == ("a",)
    assert sched(AGENTS, history(("a", "Ben, you first.")), rng()).speakers == ("b",)
    fallback = sched(AGENTS, history(("a", "Nice weather.")), rng())
    assert fallback.speakers == ("b",) and fallback.note


def test_social_graph_draws_among_neighbours_by_weight() -> None:
    g: nx.Graph[str] = nx.Graph()
    g.add_edge("a", "b", weight=9.0)
    g.add_edge("a", "c", weight=1.0)
    g.add_edge("c", "d", weight=1.0)
    sched = SocialGraph(g)
    picks = Counter(sched(AGENTS, history(("a", "x")), rng(i)).speakers[0] for i in range(2000))
    assert set(picks) == {"b", "c"} and 0.85 < picks["b"] / 2000 < 0.95
    assert {sched(AGENTS, history(("d", "x")), rng(i)).speakers[0] for i in range(50)} == {"c"}
    lonely = sched([a for a in AGENTS if a.id != "c"], history(("d", "x")), rng())
    assert lonely.note == "no neighbour present; drew uniformly"


def test_builtin_schedulers_survive_description() -> None:
    g: nx.Graph[str] = nx.Graph()
    g.add_edge("a", "b", weight=2.0)
    for sched in [
        round_robin,
        RandomSpeaker({"a": 2.0}, True),
        ModeratorLed("a"),
        AddressedReply(),
        Simultaneous(("a",)),
        ModelChosen(k=3),
    ]:
        again = scheduler_from_description(json.loads(json.dumps(describe_scheduler(sched))))
        assert again == sched
    social = scheduler_from_description(describe_scheduler(SocialGraph(g)))
    assert isinstance(social, SocialGraph) and social.graph["a"]["b"]["weight"] == 2.0
    assert describe_scheduler(lambda a, h, r: "a")["name"] == "custom"


def run(conv: Conversation, tmp_path: Path, model: object = "offline/demo") -> list[object]:
    log = tmp_path / f"{conv.id}.jsonl"
    run_conversations([conv], model=model, seed=3, log_path=log, progress=False)  # type: ignore[arg-type]
    return list(read_events(log))


def test_simultaneous_rounds_answer_the_same_history_independently(tmp_path: Path) -> None:
    model = ScriptedModel(seed=1)
    conv = Conversation(
        id="s",
        agents=tuple(AGENTS),
        scheduler=Simultaneous(),
        opening="How do you get to work?",
        termination=Termination(max_turns=8),
    )
    events = run(conv, tmp_path, model)
    utts = [e for e in events if isinstance(e, Utterance)]
    assert [u.speaker for u in utts] == ["a", "b", "c", "d"] * 2
    assert [(u.round_start, u.round_size) for u in utts] == [(0, 4)] * 4 + [(4, 4)] * 4
    first_round = [r for r in model.history[:4]]
    # nobody in the first round saw anyone else's answer from that round
    for req in first_round:
        assert [m["content"] for m in req.messages if m["role"] != "system"] == [
            "How do you get to work?"
        ]
    assert all(u.reply_to is None for u in utts[:4]) and all(u.reply_to == 3 for u in utts[4:])


def test_custom_sync_and_async_schedulers(tmp_path: Path) -> None:
    def always_ben_then_ana(
        agents: Sequence[Agent], h: Sequence[Turn], r: np.random.Generator
    ) -> str:
        return "b" if len(h) % 2 == 0 else "a"

    async def async_dee(agents: Sequence[Agent], h: Sequence[Turn], r: np.random.Generator) -> Pick:
        await asyncio.sleep(0)
        return Pick(("d",), note="custom")

    conv = Conversation(
        id="x",
        agents=tuple(AGENTS),
        scheduler=always_ben_then_ana,
        termination=Termination(max_turns=4),
    )
    assert [u.speaker for u in run(conv, tmp_path) if isinstance(u, Utterance)] == ["b", "a"] * 2
    conv = Conversation(
        id="y", agents=tuple(AGENTS), scheduler=async_dee, termination=Termination(max_turns=2)
    )
    utts = [u for u in run(conv, tmp_path) if isinstance(u, Utterance)]
    assert [(u.speaker, u.note) for u in utts] == [("d", "custom")] * 2


def test_a_scheduler_naming_a_stranger_fails_that_conversation(tmp_path: Path) -> None:
    conv = Conversation(id="z", agents=tuple(AGENTS), scheduler=lambda a, h, r: "zed")
    events = run(conv, tmp_path)
    end = events[-2]
    assert end.kind == "conversation_ended" and end.status == "failed"  # type: ignore[union-attr]
    assert "scheduler chose ['zed']" in (end.error or "")  # type: ignore[union-attr]


def test_model_chosen_next_speaker_is_a_logged_vs_distribution(tmp_path: Path) -> None:
    model = ScriptedModel()
    model.enqueue(
        vs(("Cy", 0.98), ("Nobody in particular", 0.02)),  # who opens
        vs(("Hello from Cy.", 1.0)),  # Cy's utterance
        vs(("The weather is nice", 1.0)),  # names nobody: fall back
        vs(("Dee here.", 1.0)),
    )
    conv = Conversation(
        id="m", agents=tuple(AGENTS), scheduler=ModelChosen(), termination=Termination(max_turns=2)
    )
    events = run(conv, tmp_path, model)
    calls = [e for e in events if isinstance(e, ModelCall)]
    assert [c.purpose for c in calls] == ["next_speaker", "utterance", "next_speaker", "utterance"]
    dists = [e for e in events if isinstance(e, DistributionRecorded)]
    assert dists[0].purpose == "next_speaker" and dists[0].candidates[0].text == "Cy"
    choice = next(e for e in events if isinstance(e, Choice) and e.purpose == "next_speaker")
    assert (choice.speaker, choice.index, choice.rank) == ("c", 0, 1)
    utts = [e for e in events if isinstance(e, Utterance)]
    assert utts[0].speaker == "c" and "chosen by the model" in (utts[0].note or "")
    assert utts[1].speaker == "d" and "named nobody" in (utts[1].note or "")
    assert "Answer with one name from: Ana, Ben, Dee." in model.history[2].messages[-1]["content"]
