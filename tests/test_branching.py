"""Branching: fork a logged conversation at a turn; the branch shares the earlier turns."""

from __future__ import annotations

from pathlib import Path

import pytest

from vs_sim.agents import Agent
from vs_sim.branching import conversations_from_log, fork
from vs_sim.conversation import Conversation, Termination
from vs_sim.errors import ConfigError
from vs_sim.events import (
    Choice,
    ConversationEnded,
    ConversationStarted,
    DistributionRecorded,
    ModelCall,
    Utterance,
    read_events,
)
from vs_sim.graph import ConversationGraph
from vs_sim.personas import Persona
from vs_sim.runner import run_conversations
from vs_sim.scheduling import RandomSpeaker


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "run.jsonl"
    agents = (
        Agent(
            id="er",
            name="Erin",
            role="persuader",
            persona=Persona(id="p1", template="persuader", attributes={"approach": "logical"}),
        ),
        Agent(
            id="sam",
            name="Sam",
            role="persuadee",
            persona=Persona(id="p2", template="persuadee", attributes={"age": 34}),
        ),
        Agent(id="kim", name="Kim", persona="You are Kim, Sam's friend."),
    )
    run_conversations(
        [
            Conversation(
                id="talk",
                agents=agents,
                scheduler=RandomSpeaker(no_repeat=True),
                opening="Should Sam donate?",
                termination=Termination(max_turns=8),
            )
        ],
        model="offline/demo",
        seed=21,
        log_path=path,
        progress=False,
    )
    return path


def utterances(path: Path, conv: str) -> list[Utterance]:
    return sorted(
        (e for e in read_events(path) if isinstance(e, Utterance) and e.conversation_id == conv),
        key=lambda u: u.turn,
    )


def test_fork_at_turn_3_shares_the_first_three_turns(log: Path) -> None:
    parent = utterances(log, "talk")
    dist = next(
        e
        for e in read_events(log)
        if isinstance(e, DistributionRecorded) and e.conversation_id == "talk" and e.turn == 3
    )
    chosen = next(
        e
        for e in read_events(log)
        if isinstance(e, Choice) and e.conversation_id == "talk" and e.turn == 3
    ).index
    other = next(i for i in range(len(dist.candidates)) if i != chosen)

    branch = fork(log, "talk", 3, candidate=other)
    assert branch == f"talk~t3c{other}"
    mine = utterances(log, branch)
    assert [u.turn for u in mine] == list(range(3, 8))  # only the new turns are logged
    assert mine[0].text == dist.candidates[other].text != parent[3].text
    assert mine[0].speaker == parent[3].speaker
    events = list(read_events(log))
    started = next(
        e for e in events if isinstance(e, ConversationStarted) and e.conversation_id == branch
    )
    assert (started.parent_id, started.fork_turn) == ("talk", 3)
    forced = next(e for e in events if isinstance(e, Choice) and e.conversation_id == branch)
    assert (forced.turn, forced.index, forced.rule) == (3, other, "forced")
    # the fork reused the logged distribution: no call for turn 3, calls for the rest
    calls = [e.turn for e in events if isinstance(e, ModelCall) and e.conversation_id == branch]
    assert calls == [4, 5, 6, 7]
    end = next(
        e for e in events if isinstance(e, ConversationEnded) and e.conversation_id == branch
    )
    assert end.reason == "max_turns"

    g = ConversationGraph.from_log(log)
    main, alt = g.path("talk"), g.path(branch)
    assert main[:3] == alt[:3] == [f"utt:talk:{t}" for t in range(3)]
    assert main[3] != alt[3] == f"utt:{branch}:3"
    assert g.graph.has_edge("utt:talk:2", f"utt:{branch}:3", key="next")
    assert g.graph.has_edge("utt:talk:2", "utt:talk:3", key="next")
    assert len(alt) == 8
    # the branch taken out keeps the shared turns
    sub = g.conversation(branch)
    assert sub.path(branch) == alt
    assert set(sub.graph.graph["conversations"]) == {"talk", branch}


def test_resampling_with_a_new_seed_and_forking_a_fork(log: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(log.read_bytes())
    a = fork(log, "talk", 2, seed=1)
    assert fork(copy, "talk", 2, seed=1) == a == "talk~t2s1"
    ua = utterances(log, a)
    assert [u.text for u in ua] == [u.text for u in utterances(copy, a)]  # reproducible
    assert fork(log, "talk", 2, seed=1) == "talk~t2s1-2"  # ids stay unique
    choice = next(e for e in read_events(log) if isinstance(e, Choice) and e.conversation_id == a)
    assert choice.rule == "weighted" and choice.turn == 2
    assert choice.rng_key == [a, 2, "choice"]
    grand = fork(log, a, 5, candidate=0, new_id="grandchild")
    g = ConversationGraph.from_log(log)
    path = g.path(grand)
    assert path[:2] == ["utt:talk:0", "utt:talk:1"]
    assert path[2:5] == [f"utt:{a}:{t}" for t in (2, 3, 4)]
    assert path[5] == "utt:grandchild:5"


def test_fork_errors_say_where(log: Path) -> None:
    with pytest.raises(ConfigError, match="no conversation 'nope'"):
        fork(log, "nope", 1)
    with pytest.raises(ConfigError, match=r"turn 8 is not a logged turn .*turns 0..7"):
        fork(log, "talk", 8)
    with pytest.raises(ConfigError, match="candidate 99 out of range"):
        fork(log, "talk", 1, candidate=99)
    fork(log, "talk", 1, candidate=0, new_id="mine")
    with pytest.raises(ConfigError, match="'mine' already exists"):
        fork(log, "talk", 1, candidate=0, new_id="mine")


def test_conversations_can_be_rebuilt_from_the_log(log: Path, tmp_path: Path) -> None:
    branch = fork(log, "talk", 4, candidate=1)
    rebuilt = {c.id: c for c in conversations_from_log(log)}
    assert set(rebuilt) == {"talk", branch}
    assert rebuilt["talk"].scheduler == RandomSpeaker(no_repeat=True)
    assert rebuilt[branch].fork is not None and rebuilt[branch].fork.turn == 4
    assert len(rebuilt[branch].fork.prefix) == 4
    # re-running the rebuilt conversations into a fresh log gives the same utterances
    again = tmp_path / "again.jsonl"
    run_conversations(
        [rebuilt["talk"]], model="offline/demo", seed=21, log_path=again, progress=False
    )
    assert [u.text for u in utterances(again, "talk")] == [u.text for u in utterances(log, "talk")]


def test_a_branch_cut_short_resumes_from_the_log_alone(log: Path, tmp_path: Path) -> None:
    branch = fork(log, "talk", 3, candidate=0)
    lines = log.read_text().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if f'"conversation_id":"{branch}"' in line]
    expected = [u.text for u in utterances(log, branch)]
    for keep in (1, 2, len(starts) // 2):  # just started / fork distribution / mid-way
        cut = tmp_path / f"cut{keep}.jsonl"
        cut.write_text("".join(lines[: starts[keep - 1] + 1]))
        convs = conversations_from_log(cut)
        run_conversations(
            convs, model="offline/demo", seed=21, log_path=cut, progress=False, resume=True
        )
        assert [u.text for u in utterances(cut, branch)] == expected, keep
        assert [u.turn for u in utterances(cut, branch)] == list(range(3, 8))
