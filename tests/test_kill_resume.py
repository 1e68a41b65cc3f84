"""`vs-sim run` killed by SIGKILL at random points, then resumed: exactly the uninterrupted run.

A real subprocess runs a scenario on the offline model slowed to 10 ms a call; it is killed
(no chance to clean up) once its event log has a seeded random number of lines, and resumed
from the command line. The resumed run must hold the same answers and utterances per unit as
a run never interrupted: none lost, none duplicated, each unit ended once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from vs_sim.events import (
    Answer,
    ConversationEnded,
    ConversationStarted,
    Event,
    RunEnded,
    Utterance,
    read_events,
)

REPO = Path(__file__).resolve().parents[1]
SLOW_OFFLINE = "offline/demo?latency=0.01"
KILL_SEED = 13
KILLS = 3

SCENARIOS: dict[str, dict[str, Any]] = {
    "survey": {
        "name": "killed_survey",
        "task": "survey",
        "seed": 21,
        "n": 80,
        "concurrency": 4,
        "population": "us_adults",
        "model": SLOW_OFFLINE,
        "survey": {
            "questionnaire": str(REPO / "scenarios" / "data" / "opinion_questions.yaml"),
            "questions": ["climate_worry", "remote_work", "ai_jobs", "four_day_week"],
            "mode": "interview",  # later answers depend on earlier ones
        },
        "outputs": {"report": "none"},
    },
    "persuasion": {
        "name": "killed_persuasion",
        "task": "persuasion",
        "seed": 22,
        "n": 12,
        "concurrency": 3,
        "population": "p4g_persuadees",
        "model": SLOW_OFFLINE,
        "persuasion": {"max_turns": 8},
        "outputs": {"report": "none"},
    },
}


def cli(*args: str, cwd: Path, home: Path) -> subprocess.Popen[str]:
    code = "import sys; from vs_sim.cli import main; sys.exit(main())"
    env = {**os.environ, "VS_SIM_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]


def run_to_end(task: str, folder: Path, home: Path) -> None:
    scenario = folder.parent / f"{task}.yaml"
    scenario.write_text(json.dumps(SCENARIOS[task]))
    finish(cli("run", str(scenario), "--out", str(folder), "--quiet", cwd=folder.parent, home=home))


def results(log: Path) -> dict[str, dict[str, Any]]:
    """Per unit: its answers (value and raw text) and utterances, in log order."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"answers": [], "utterances": []})
    for e in read_events(log):
        if isinstance(e, Answer):
            out[e.conversation_id]["answers"].append((e.question_id, e.agent_id, e.raw, e.value))
        elif isinstance(e, Utterance):
            out[e.conversation_id]["utterances"].append((e.turn, e.speaker, e.text))
    for unit in out.values():
        unit["answers"].sort(key=repr)
        unit["utterances"].sort()
    return dict(out)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each scenario run once to the end: the reference logs."""
    base = tmp_path_factory.mktemp("uninterrupted")
    logs = {}
    for task in SCENARIOS:
        folder = base / task
        run_to_end(task, folder, base / "home")
        logs[task] = folder / "events.jsonl"
    return logs


def kill_points() -> list[Any]:
    """Seeded points as shares of the uninterrupted log's lines: early, middle and late."""
    rng = random.Random(KILL_SEED)
    width = 0.8 / KILLS
    return [
        pytest.param(
            task,
            round(rng.uniform(0.1 + i * width, 0.1 + (i + 1) * width), 3),
            id=f"{task}-kill{i + 1}",
        )
        for task in SCENARIOS
        for i in range(KILLS)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("task", "share"), kill_points())
def test_sigkill_at_a_random_point_then_resume_gives_the_uninterrupted_run(
    task: str, share: float, uninterrupted: dict[str, Path], tmp_path: Path
) -> None:
    reference = uninterrupted[task]
    lines = int(share * len(reference.read_text().splitlines()))
    scenario = tmp_path / f"{task}.yaml"
    scenario.write_text(json.dumps(SCENARIOS[task]))
    folder, home = tmp_path / "run", tmp_path / "home"
    log = folder / "events.jsonl"

    proc = cli("run", str(scenario), "--out", str(folder), "--quiet", cwd=tmp_path, home=home)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if log.exists() and log.read_bytes().count(b"\n") >= lines:
            break
        time.sleep(0.002)
    assert proc.poll() is None, f"the run ended before line {lines}: {proc.communicate()[1]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    cut: list[Event] = list(read_events(log))
    assert not any(isinstance(e, RunEnded) for e in cut)  # it died mid-run
    done_before = {e.conversation_id for e in cut if isinstance(e, ConversationEnded)}
    assert len(done_before) < len(results(reference))

    finish(cli("run", "--resume", str(folder), "--quiet", cwd=tmp_path, home=home))

    expected, got = results(reference), results(log)
    assert got == expected  # same units, same answers and utterances: none lost or duplicated
    events = list(read_events(log))
    ends = Counter(e.conversation_id for e in events if isinstance(e, ConversationEnded))
    assert set(ends) == set(expected) and set(ends.values()) == {1}
    starts = Counter(e.conversation_id for e in events if isinstance(e, ConversationStarted))
    assert set(starts.values()) == {1}
    last = events[-1]
    assert isinstance(last, RunEnded) and last.status == "completed"
    assert last.summary["skipped"] == len(done_before)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["sessions"] == 2 and summary["unfinished"] == 0
