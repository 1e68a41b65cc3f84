"""Resume after a real SIGKILL: none lost, none duplicated, same as an uninterrupted run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from vs_sim.agents import Agent
from vs_sim.conversation import Conversation, Termination
from vs_sim.events import ConversationEnded, ModelCall, RunEnded, Utterance, read_events
from vs_sim.runner import run_conversations
from vs_sim.scheduling import Simultaneous

SCRIPT = textwrap.dedent(
    """
    import sys
    from vs_sim.agents import Agent, MemoryPolicy
    from vs_sim.conversation import Conversation, Termination
    from vs_sim.runner import run_conversations
    from vs_sim.scheduling import ModeratorLed, RandomSpeaker, Simultaneous

    def build(n):
        convs = []
        for i in range(n):
            memory = MemoryPolicy(kind="summary", n=2) if i % 5 == 0 else MemoryPolicy()
            agents = tuple(
                Agent(id=name.lower(), name=name, persona=f"You are {name}.", memory=memory)
                for name in ["Ana", "Ben", "Cy", "Dee"][: 3 + i % 2]
            )
            scheduler = [RandomSpeaker(no_repeat=True), Simultaneous(),
                         ModeratorLed("ana")][i % 3]
            convs.append(Conversation(
                id=f"conv{i:02d}", agents=agents, scheduler=scheduler,
                opening=f"Question {i}: what should the town do about parking?",
                termination=Termination(max_turns=6 + i % 3),
            ))
        return convs

    log, model, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "resume"
    run_conversations(build(50), model=model, seed=2024, log_path=log, concurrency=8,
                      progress=False, resume=resume)
    """
)
SLOW = "offline/demo?latency=0.03"


def run_script(script: Path, log: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(script), str(log), SLOW, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def utterances(path: Path) -> dict[str, list[tuple[int, str, str]]]:
    out: dict[str, list[tuple[int, str, str]]] = {}
    for e in read_events(path):
        if isinstance(e, Utterance):
            out.setdefault(e.conversation_id, []).append((e.turn, e.speaker, e.text))
    return {k: sorted(v) for k, v in out.items()}


@pytest.mark.slow
def test_sigkill_then_resume_gives_exactly_the_uninterrupted_run(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    full, killed = tmp_path / "full.jsonl", tmp_path / "killed.jsonl"

    proc = run_script(script, killed, "fresh")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if killed.exists() and killed.read_text().count('"kind":"utterance"') >= 60:
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    cut = list(read_events(killed))
    assert not any(isinstance(e, RunEnded) for e in cut)  # it really died mid-run
    ended_before = {e.conversation_id for e in cut if isinstance(e, ConversationEnded)}
    assert len(ended_before) < 50

    for log, mode in [(killed, "resume"), (full, "fresh")]:
        proc = run_script(script, log, mode)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]

    expected, got = utterances(full), utterances(killed)
    assert len(expected) == 50
    assert got == expected  # same conversations, same turns, same texts
    for conv, turns in got.items():  # none duplicated
        assert len({t for t, _, _ in turns}) == len(turns), conv
    ends = Counter(
        e.conversation_id for e in read_events(killed) if isinstance(e, ConversationEnded)
    )
    assert set(ends) == set(expected) and set(ends.values()) == {1}
    statuses = [e.status for e in read_events(killed) if isinstance(e, ConversationEnded)]
    assert set(statuses) == {"completed"}
    last = list(read_events(killed))[-1]
    assert isinstance(last, RunEnded) and last.status == "completed"
    assert last.summary["skipped"] == len(ended_before)


def test_a_round_cut_short_is_finished_without_redoing_its_turns(tmp_path: Path) -> None:
    agents = tuple(Agent(id=x, persona=f"You are {x}.") for x in ["a", "b", "c", "d"])
    conv = Conversation(
        id="round",
        agents=agents,
        scheduler=Simultaneous(),
        opening="How do you commute?",
        termination=Termination(max_turns=8),
    )
    full = tmp_path / "full.jsonl"
    run_conversations([conv], model="offline/demo", seed=4, log_path=full, progress=False)
    lines = full.read_text().splitlines(keepends=True)
    second_utterance = [
        i for i, line in enumerate(lines) if json.loads(line)["kind"] == "utterance"
    ][1]
    log = tmp_path / "cut.jsonl"
    log.write_text("".join(lines[: second_utterance + 1]))
    run_conversations(
        [conv], model="offline/demo", seed=4, log_path=log, progress=False, resume=True
    )
    assert utterances(log) == utterances(full)
    calls = Counter(e.turn for e in read_events(log) if isinstance(e, ModelCall))
    assert calls[0] == calls[1] == 1  # the two turns already logged were not asked again
    assert sum(calls.values()) == 8


def test_a_log_being_written_cannot_be_opened_by_another_writer(tmp_path: Path) -> None:
    from vs_sim.errors import ConfigError
    from vs_sim.events import EventLog

    path = tmp_path / "events.jsonl"
    with EventLog(path):
        code = (
            "from vs_sim.events import EventLog\nfrom vs_sim.errors import ConfigError\n"
            f"try:\n    EventLog({str(path)!r})\nexcept ConfigError as e:\n    print(e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert "another process is writing this run's log" in out.stdout
        with pytest.raises(ConfigError, match="another process"):
            EventLog(path)  # a second writer in this process is refused too
    EventLog(path).close()  # once closed, the log can be opened again (resume)


# -- reading a log: a torn line is forgiven, corruption is not --------------------------------


def _two_events() -> list[str]:
    from vs_sim.events import RunStarted

    started = RunStarted(run_id="run-1", seed=3).model_dump_json()
    ended = RunEnded(run_id="run-1", status="completed").model_dump_json()
    return [started, ended]


def test_a_torn_last_line_or_one_a_resume_followed_is_skipped(tmp_path: Path) -> None:
    from vs_sim.events import EventLog, RunStarted

    started, ended = _two_events()
    log = tmp_path / "events.jsonl"
    log.write_text(f"{started}\n{ended[:25]}", encoding="utf-8")  # killed mid-write
    assert [type(e) for e in read_events(log)] == [RunStarted]
    with EventLog(log) as writer:  # a resume: a fresh line, then run_started
        writer.write(RunStarted(run_id="run-1", seed=3))
    assert [type(e) for e in read_events(log)] == [RunStarted, RunStarted]


def test_a_bad_line_in_the_middle_of_a_log_is_an_error_naming_it(tmp_path: Path) -> None:
    from vs_sim.errors import ConfigError

    started, ended = _two_events()
    log = tmp_path / "events.jsonl"
    log.write_text(f"{started}\n{ended[:25]}\n{ended}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(log))}:2: bad event \(the log is corrupt\)"
    ):
        list(read_events(log))
    log.write_text(f"{started}\nname: quickstart\ntask: survey\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(log))}:2: "):
        list(read_events(log))
