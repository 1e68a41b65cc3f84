"""The runner: many conversations, isolation of failures, determinism, interruption, resume."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from vs_sim.agents import Agent
from vs_sim.conversation import Conversation, Termination
from vs_sim.errors import ConfigError, ProviderError
from vs_sim.events import (
    Choice,
    ConversationEnded,
    ModelCall,
    RunEnded,
    RunStarted,
    Utterance,
    read_events,
)
from vs_sim.models.base import Request
from vs_sim.models.offline import OfflineModel
from vs_sim.runner import (
    RunContext,
    RunStats,
    arun_conversations,
    arun_units,
    run_conversations,
    run_units,
)
from vs_sim.scheduling import RandomSpeaker, Simultaneous
from vs_sim.testing import ScriptedModel


def agents(n: int = 3) -> tuple[Agent, ...]:
    names = ["Ana", "Ben", "Cy", "Dee", "Eve"][:n]
    return tuple(Agent(id=x.lower(), name=x, persona=f"You are {x}.") for x in names)


def conversations(n: int, turns: int = 5) -> list[Conversation]:
    out = []
    for i in range(n):
        sched: Any = (
            RandomSpeaker(no_repeat=True)
            if i % 3 == 0
            else (Simultaneous() if i % 3 == 1 else RandomSpeaker())
        )
        out.append(
            Conversation(
                id=f"c{i:02d}",
                agents=agents(3 + i % 2),
                scheduler=sched,
                opening=f"Topic {i}: city parks",
                termination=Termination(max_turns=turns),
            )
        )
    return out


def by_conversation(path: Path, drop: tuple[str, ...] = ("t", "latency")) -> dict[str, list[Any]]:
    """Each conversation's lines, without the fields allowed to differ between runs."""
    out: dict[str, list[Any]] = {}
    for line in path.read_text().splitlines():
        d = json.loads(line)
        for k in drop:
            d.pop(k, None)
        out.setdefault(d.get("conversation_id") or d["kind"], []).append(d)
    return out


def utterances(path: Path) -> dict[str, list[tuple[int, str, str]]]:
    out: dict[str, list[tuple[int, str, str]]] = {}
    for e in read_events(path):
        if isinstance(e, Utterance):
            out.setdefault(e.conversation_id, []).append((e.turn, e.speaker, e.text))
    return {k: sorted(v) for k, v in out.items()}


def test_same_seed_same_log_and_any_concurrency_same_utterances(tmp_path: Path) -> None:
    convs = conversations(12)
    kw: dict[str, Any] = {"model": "offline/demo?latency=0.001", "seed": 5, "progress": False}
    run_conversations(convs, log_path=tmp_path / "a.jsonl", concurrency=8, **kw)
    run_conversations(convs, log_path=tmp_path / "b.jsonl", concurrency=8, **kw)
    assert by_conversation(tmp_path / "a.jsonl") == by_conversation(tmp_path / "b.jsonl")
    run_conversations(convs, log_path=tmp_path / "c1.jsonl", concurrency=1, **kw)
    run_conversations(convs, log_path=tmp_path / "c32.jsonl", concurrency=32, **kw)
    one, many = utterances(tmp_path / "c1.jsonl"), utterances(tmp_path / "c32.jsonl")
    assert one == many and len(one) == 12 and all(len(v) == 5 for v in one.values())
    other = tmp_path / "seed6.jsonl"
    run_conversations(convs, log_path=other, concurrency=8, **{**kw, "seed": 6})
    assert utterances(other) != one


def test_one_failed_conversation_never_stops_the_others(tmp_path: Path) -> None:
    def fail(call: int, request: Request) -> BaseException | None:
        text = json.dumps(request.messages)
        if "Topic 4:" in text:
            return ProviderError(
                "boom (api_key=sk-abcdefghijklmnop)", status=400, model="scripted/test"
            )
        return None

    model = ScriptedModel(fail=fail, delay=0.001)
    log = tmp_path / "log.jsonl"
    result = run_conversations(
        conversations(8), model=model, seed=1, log_path=log, concurrency=4, progress=False
    )
    assert (result.completed, result.failed) == (7, 1)
    assert "boom" in result.errors["c04"]
    ends = {e.conversation_id: e for e in read_events(log) if isinstance(e, ConversationEnded)}
    assert ends["c04"].status == "failed" and ends["c04"].reason == "error"
    assert "ProviderError" in (ends["c04"].error or "")
    assert all(e.status == "completed" for k, e in ends.items() if k != "c04")
    assert "sk-abcdefghijklmnop" not in log.read_text()
    assert all(len(v) == 5 for k, v in utterances(log).items() if k != "c04")
    last = list(read_events(log))[-1]
    assert isinstance(last, RunEnded) and last.status == "completed"
    assert last.summary["failed"] == 1 and last.summary["call_errors"] >= 1


def test_run_result_and_run_started(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    result = run_conversations(
        conversations(3),
        model="offline/demo",
        seed=2,
        log_path=log,
        progress=False,
        run_config={"api_key": "sk-secret12345678"},
    )
    assert (result.completed, result.failed, result.skipped, result.turns) == (3, 0, 0, 15)
    assert result.calls == 15 and result.tokens > 0 and result.cost == 0.0
    started = next(iter(read_events(log)))
    assert isinstance(started, RunStarted)
    assert started.seed == 2 and started.synthetic and started.config["model"] == "offline/demo"
    assert started.config["api_key"] == "[redacted]" and "vs_sim" in started.versions
    assert "sk-secret" not in log.read_text()


def test_the_sync_wrapper_works_inside_a_running_loop(tmp_path: Path) -> None:
    async def notebook_cell() -> int:
        result = run_conversations(
            conversations(2),
            model="offline/demo",
            seed=1,
            log_path=tmp_path / "nb.jsonl",
            progress=False,
        )
        return result.completed

    assert asyncio.run(notebook_cell()) == 2


def test_guards_against_mixing_runs(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    run_conversations(conversations(1), model="offline/demo", seed=1, log_path=log, progress=False)
    with pytest.raises(ConfigError, match="pass resume=True"):
        run_conversations(
            conversations(1), model="offline/demo", seed=1, log_path=log, progress=False
        )
    with pytest.raises(ConfigError, match="used seed 1, not 2"):
        run_conversations(
            conversations(1),
            model="offline/demo",
            seed=2,
            log_path=log,
            progress=False,
            resume=True,
        )
    with pytest.raises(ConfigError, match="unique"):
        run_conversations(
            conversations(1) * 2,
            model="offline/demo",
            seed=1,
            log_path=tmp_path / "dup.jsonl",
            progress=False,
        )


def test_interrupting_writes_run_ended_interrupted(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    slow = "offline/demo?latency=0.005"

    async def main() -> None:
        task = asyncio.create_task(
            arun_conversations(
                conversations(10, turns=20),
                model=OfflineModel(slow),
                seed=1,
                log_path=log,
                concurrency=2,
                progress=False,
            )
        )
        while not log.exists() or log.read_text().count('"utterance"') < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    events = list(read_events(log))
    assert isinstance(events[-1], RunEnded) and events[-1].status == "interrupted"
    assert sum(isinstance(e, Utterance) for e in events) >= 5
    # and the run continues from there
    result = run_conversations(
        conversations(10, turns=20),
        model=slow,
        seed=1,
        log_path=log,
        progress=False,
        resume=True,
        concurrency=10,
    )
    assert result.completed == 10
    full = tmp_path / "full.jsonl"
    run_conversations(
        conversations(10, turns=20),
        model=slow,
        seed=1,
        log_path=full,
        progress=False,
        concurrency=10,
    )
    assert utterances(log) == utterances(full)


def cut_points(path: Path) -> list[int]:
    """Line counts to truncate a finished log at: after various kinds of events."""
    lines = path.read_text().splitlines()
    points = []
    for i, line in enumerate(lines):
        kind = json.loads(line)["kind"]
        if kind in ("distribution", "choice", "model_call", "utterance") and i % 7 == 0:
            points.append(i + 1)
    return points


def test_resume_from_any_cut_matches_the_uninterrupted_run(tmp_path: Path) -> None:
    convs = conversations(6, turns=6)
    full = tmp_path / "full.jsonl"
    run_conversations(
        convs, model="offline/demo", seed=9, log_path=full, progress=False, concurrency=3
    )
    expected = utterances(full)
    lines = full.read_text().splitlines(keepends=True)
    points = cut_points(full)
    assert len(points) > 10
    for n in points:
        log = tmp_path / f"cut{n}.jsonl"
        log.write_text("".join(lines[:n]) + lines[n][: len(lines[n]) // 2])  # a torn last line
        result = run_conversations(
            convs, model="offline/demo", seed=9, log_path=log, progress=False, resume=True
        )
        assert utterances(log) == expected, n
        ends = [e.conversation_id for e in read_events(log) if isinstance(e, ConversationEnded)]
        assert sorted(ends) == sorted(c.id for c in convs), n
        assert result.skipped + result.completed == len(convs)


def test_resume_skips_finished_conversations(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    convs = conversations(3)
    run_conversations(convs, model="offline/demo", seed=1, log_path=log, progress=False)
    before = utterances(log)
    result = run_conversations(
        convs, model="offline/demo", seed=1, log_path=log, progress=False, resume=True
    )
    assert (result.skipped, result.completed, result.turns, result.calls) == (3, 0, 0, 0)
    assert utterances(log) == before


class Survey:
    """A unit that is not a conversation: the runner is generic."""

    def __init__(self, id: str) -> None:
        self.id = id

    async def run(self, ctx: RunContext, prior: list[Any]) -> str:
        if not prior:
            ctx.emit(Utterance(conversation_id=self.id, turn=0, speaker="r", text="yes"))
        return "answered"


def test_generic_units(tmp_path: Path) -> None:
    log = tmp_path / "units.jsonl"
    result = run_units(
        [Survey("r1"), Survey("r2")],
        model="offline/demo",
        seed=1,
        log_path=log,
        progress=False,
        progress_label="respondents",
    )
    assert result.completed == 2 and result.turns == 2
    ends = [e for e in read_events(log) if isinstance(e, ConversationEnded)]
    assert [(e.reason, e.turns) for e in ends] == [("answered", 1)] * 2

    async def again() -> int:
        res = await arun_units(
            [Survey("r1"), Survey("r3")],
            model="offline/demo",
            seed=1,
            log_path=log,
            progress=False,
            resume=True,
        )
        return res.completed

    assert asyncio.run(again()) == 1


def test_progress_bar_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_conversations(
        conversations(2),
        model="offline/demo",
        seed=1,
        log_path=tmp_path / "quiet.jsonl",
        progress=True,
    )
    assert capsys.readouterr().err == ""  # not a terminal: no bar
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the output as a terminal
    monkeypatch.setenv("COLUMNS", "200")
    run_conversations(
        conversations(2),
        model="offline/demo",
        seed=1,
        log_path=tmp_path / "bar.jsonl",
        progress=True,
    )
    err = capsys.readouterr().err
    assert "conversations" in err and "turns 10" in err and "2/2" in err
    run_conversations(
        conversations(2),
        model="offline/demo",
        seed=1,
        log_path=tmp_path / "off.jsonl",
        progress=False,
    )
    assert capsys.readouterr().err == ""


class _Tagged(Utterance):
    """A subclass of an event the totals count: counted as its base."""

    tag: str = "x"


def test_run_stats_count_each_kind_of_event_and_subclasses_as_their_base() -> None:
    stats = RunStats()
    events: list[Any] = [
        ModelCall(model="m", cached=True, prompt_tokens=5, completion_tokens=2, cost=0.5),
        ModelCall(model="m", error="boom", prompt_tokens=1),
        Utterance(conversation_id="a", turn=0, speaker="x", text="hi"),
        _Tagged(conversation_id="a", turn=1, speaker="y", text="ho"),
        Choice(index=0, rank=1, probability=1.0),
        ConversationEnded(conversation_id="a", reason="done"),
        ConversationEnded(conversation_id="b", reason="err", status="failed", error="E"),
        RunEnded(run_id="r"),
    ]
    for event in events:
        stats.observe(event)
    assert stats.summary() == {
        "completed": 1,
        "failed": 1,
        "skipped": 0,
        "turns": 2,
        "calls": 2,
        "cache_hits": 1,
        "call_errors": 1,
        "prompt_tokens": 6,
        "completion_tokens": 2,
        "cost": 0.5,
    }
    assert stats.turns_by_unit == {"a": 2} and stats.errors == {"b": "E"}
