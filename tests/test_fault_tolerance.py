"""Faults cost time, never results: flaky servers, dead addresses, failed units retried on resume.

A survey and persuasion dialogues run through the real scenario path against the local
OpenAI-compatible server with a fifth of its requests faulted (429 with Retry-After, 500, a
hang past the client's timeout, a dropped connection, malformed or truncated text). Every unit
must end completed or failed with its error, every attempt the server saw must be accounted
for in the log, and a resume must retry the failed units from where they stopped.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vs_sim.agents import Agent
from vs_sim.conversation import Conversation, Termination
from vs_sim.errors import ModelNotConfigured, ModelUnreachable, ProviderError
from vs_sim.events import (
    Answer,
    ConversationEnded,
    ConversationStarted,
    Event,
    ModelCall,
    RunEnded,
    Utterance,
    read_events,
)
from vs_sim.models.base import Completion, Model, Request
from vs_sim.runner import arun_units, run_conversations, stops_the_run
from vs_sim.scenario_run import run_scenario
from vs_sim.scenarios import parse_scenario
from vs_sim.scheduling import RandomSpeaker
from vs_sim.testing.server import FakeOpenAIServer, Faults

REPO = Path(__file__).resolve().parents[1]
QUESTIONNAIRE = REPO / "scenarios" / "data" / "opinion_questions.yaml"
QUESTIONS = ["climate_worry", "remote_work"]

# A fifth of all requests misbehave, in every way the server knows.
MIXED_FAULTS = Faults(
    rate_429=0.04,
    retry_after=0.05,
    rate_500=0.04,
    rate_hang=0.03,
    hang_seconds=5.0,
    rate_drop=0.03,
    rate_malformed=0.03,
    rate_truncated=0.03,
)
CALL_ERRORS = ("RateLimited", "ProviderError", "ModelTimeout")


@pytest.fixture
def flaky_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(faults=MIXED_FAULTS, seed=1) as server:
        yield server


def remote_model(server: FakeOpenAIServer) -> dict[str, Any]:
    """The scenario's ``model:``: one retry, a short timeout, no cache (every call hits)."""
    return {
        "name": "openai/fake",
        "api_base": f"{server.base_url}/v1",
        "max_retries": 1,
        "timeout": 0.5,
        "cache": False,
    }


def by_unit(events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        conv = getattr(event, "conversation_id", None)
        if conv is not None:
            out[conv].append(event)
    return out


def last_end(events: list[Event]) -> ConversationEnded:
    ends = [e for e in events if isinstance(e, ConversationEnded)]
    assert ends, "a unit has no conversation_ended event"
    return ends[-1]


def assert_every_attempt_is_logged(events: list[Event], server: FakeOpenAIServer) -> None:
    """Each request the server received is one logged call or one of its logged retries."""
    calls = [e for e in events if isinstance(e, ModelCall)]
    assert sum(c.retries + 1 for c in calls) == server.count
    assert any(c.retries for c in calls)  # faults were retried...
    failed = [c for c in calls if c.error is not None]
    assert failed  # ...and some calls still failed, with their error
    for call in failed:
        assert call.error is not None and call.error.split(":")[0] in CALL_ERRORS
        assert call.request_key and call.conversation_id


# -- a faulted survey and faulted persuasion dialogues --------------------------------------


def survey_scenario(server: FakeOpenAIServer, tmp_path: Path) -> Any:
    data = {
        "name": "flaky_survey",
        "task": "survey",
        "seed": 3,
        "n": 200,
        "concurrency": 32,
        "population": "us_adults",
        "model": remote_model(server),
        "survey": {"questionnaire": str(QUESTIONNAIRE), "questions": QUESTIONS},
        "outputs": {"report": "none"},
    }
    return parse_scenario(data, file=tmp_path / "flaky_survey.yaml")


def test_a_survey_against_a_flaky_server_loses_no_respondent(
    flaky_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    run = run_scenario(survey_scenario(flaky_server, tmp_path), out=folder, progress=False)

    events = list(read_events(folder / "events.jsonl"))
    units = by_unit(events)
    started = [e for e in events if isinstance(e, ConversationStarted)]
    assert len(started) == len({e.conversation_id for e in started}) == 200 == len(units)
    statuses = Counter()
    for conv, own in units.items():
        end = last_end(own)
        assert sum(isinstance(e, ConversationEnded) for e in own) == 1, conv
        answers = Counter(e.question_id for e in own if isinstance(e, Answer))
        assert all(n == 1 for n in answers.values()), conv  # none duplicated
        statuses[end.status] += 1
        if end.status == "completed":
            assert set(answers) == set(QUESTIONS), conv  # every question answered
            for answer in (e for e in own if isinstance(e, Answer)):
                assert answer.raw is not None or answer.error is not None
        else:
            assert end.error and end.error.split(":")[0] in CALL_ERRORS, conv
            # the call that failed it is in the log, with the same error
            errors = [e.error for e in own if isinstance(e, ModelCall) and e.error]
            assert end.error in errors, conv
    assert statuses["completed"] > 150 and statuses["failed"] >= 1
    # the fake server answers with the question's own options, so answers read as answers
    read = [e for e in events if isinstance(e, Answer) and e.error is None and not e.skipped]
    assert sum(a.matched for a in read) >= 0.9 * len(read) > 0
    assert_every_attempt_is_logged(events, flaky_server)
    assert isinstance(events[-1], RunEnded) and events[-1].status == "completed"

    summary = json.loads((folder / "summary.json").read_text())
    assert summary["completed"] == statuses["completed"] == run.summary["completed"]
    assert summary["failed"] == statuses["failed"]
    assert summary["unfinished"] == 0
    assert summary["retries"] > 0 and summary["call_errors"] >= statuses["failed"]

    # Resume once the server behaves: the failed respondents (only they) are asked again,
    # only the questions they lack, and the run's tables then show all 200 completed.
    failed = {c for c, own in units.items() if last_end(own).status == "failed"}
    flaky_server.faults = Faults()
    flaky_server.reset()
    again = run_scenario(resume=folder, progress=False)

    events = list(read_events(folder / "events.jsonl"))
    units = by_unit(events)
    for conv, own in units.items():
        assert last_end(own).status == "completed", conv
        answers = Counter(e.question_id for e in own if isinstance(e, Answer))
        assert answers == Counter(QUESTIONS), conv  # each question answered exactly once
    assert again.result is not None
    assert again.result.completed == len(failed) and again.result.skipped == 200 - len(failed)
    lacking = sum(
        len(QUESTIONS) - sum(isinstance(e, Answer) for e in units[c][: _end_index(units[c])])
        for c in failed
    )
    assert flaky_server.count == lacking  # only the unanswered questions were asked
    assert again.summary["completed"] == 200 and again.summary["failed"] == 0
    conversations = again.run.conversations()
    assert set(conversations["status"]) == {"completed"}
    assert conversations["error"].isna().all()


def _end_index(events: list[Event]) -> int:
    """Position of a unit's first ``conversation_ended`` (what the first session logged)."""
    return next(i for i, e in enumerate(events) if isinstance(e, ConversationEnded))


def test_persuasion_dialogues_against_a_flaky_server_lose_no_dialogue(
    flaky_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    max_turns = 6
    data = {
        "name": "flaky_persuasion",
        "task": "persuasion",
        "seed": 5,
        "n": 20,
        "concurrency": 20,
        "population": "p4g_persuadees",
        "model": remote_model(flaky_server),
        "persuasion": {
            "max_turns": max_turns,
            "persuader": {"policy": {"method": "direct", "k": 1}},
            "persuadee": {"policy": {"method": "vs_standard", "k": 5}},
        },
        "outputs": {"report": "none"},
    }
    scenario = parse_scenario(data, file=tmp_path / "flaky_persuasion.yaml")
    folder = tmp_path / "run"
    run_scenario(scenario, out=folder, progress=False)

    events = list(read_events(folder / "events.jsonl"))
    units = by_unit(events)
    assert len(units) == 20
    statuses = Counter()
    for conv, own in units.items():
        end = last_end(own)
        turns = [e.turn for e in own if isinstance(e, Utterance)]
        assert turns == list(range(len(turns))), conv  # no turn lost or repeated
        assert end.turns == len(turns)
        statuses[end.status] += 1
        if end.status == "completed":
            assert len(turns) == max_turns, conv
            donation = [e for e in own if isinstance(e, Answer) and e.question_id == "donation"]
            assert len(donation) == 1, conv
        else:
            assert end.error and end.error.split(":")[0] in CALL_ERRORS, conv
    assert statuses["completed"] + statuses["failed"] == 20
    assert statuses["completed"] >= 10
    calls = [e for e in events if isinstance(e, ModelCall)]
    assert sum(c.retries + 1 for c in calls) == flaky_server.count
    assert any(c.retries for c in calls)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["persuasion"]["dialogues"] == 20
    assert summary["persuasion"]["failed"] == statuses["failed"]


# -- resume retries failed units, from their logged turns -----------------------------------


class FailingCalls:
    """The offline model, but the calls numbered in ``fail_at`` raise a 503."""

    def __init__(self, inner: Model, fail_at: set[int]) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_json_schema = inner.supports_json_schema
        self.fail_at = fail_at
        self.calls = 0

    async def acomplete(self, request: Request) -> Completion:
        number, self.calls = self.calls, self.calls + 1
        if number in self.fail_at:
            raise ProviderError("HTTP 503: overloaded", status=503, model=self.name)
        return await self.inner.acomplete(request)


def conversations() -> list[Conversation]:
    agents = tuple(Agent(id=x, persona=f"You are {x}.") for x in ["ana", "ben", "cy"])
    return [
        Conversation(
            id=f"c{i}",
            agents=agents,
            scheduler=RandomSpeaker(no_repeat=True),
            opening=f"Topic {i}: should the town build a new library?",
            termination=Termination(max_turns=6),
        )
        for i in range(3)
    ]


def spoken(path: Path) -> dict[str, list[tuple[int, str, str]]]:
    out: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for e in read_events(path):
        if isinstance(e, Utterance):
            out[e.conversation_id].append((e.turn, e.speaker, e.text))
    return dict(out)


def test_resume_retries_a_failed_conversation_from_its_logged_turns(tmp_path: Path) -> None:
    from vs_sim.models import build_model

    full, log = tmp_path / "full.jsonl", tmp_path / "log.jsonl"
    run_conversations(conversations(), model="offline/demo", seed=9, log_path=full, progress=False)

    # One unit at a time, so call 9 is c1's turn 3: c1 fails there, the others complete.
    flaky = FailingCalls(build_model("offline/demo"), fail_at={9})
    first = run_conversations(
        conversations(), model=flaky, seed=9, log_path=log, progress=False, concurrency=1
    )
    assert first.failed == 1 and "HTTP 503" in first.errors["c1"]
    assert len(spoken(log)["c1"]) == 3

    second = run_conversations(
        conversations(), model="offline/demo", seed=9, log_path=log, progress=False, resume=True
    )
    assert (second.completed, second.failed, second.skipped) == (1, 0, 2)
    assert spoken(log) == spoken(full)  # exactly the uninterrupted run
    c1 = [e for e in read_events(log) if getattr(e, "conversation_id", None) == "c1"]
    asked = Counter(e.turn for e in c1 if isinstance(e, ModelCall))
    assert asked == {0: 1, 1: 1, 2: 1, 3: 2, 4: 1, 5: 1}  # the logged turns were not redone
    ends = [e for e in c1 if isinstance(e, ConversationEnded)]
    assert [e.status for e in ends] == ["failed", "completed"] and ends[-1].turns == 6

    from vs_sim.analysis import open_run

    rows = open_run(log).conversations().set_index("conversation_id")
    assert rows.loc["c1", "status"] == "completed" and rows.loc["c1", "turns"] == 6
    # A completed unit is never run again.
    third = run_conversations(
        conversations(), model="offline/demo", seed=9, log_path=log, progress=False, resume=True
    )
    assert (third.completed, third.skipped, third.calls) == (0, 3, 0)


# -- a dead address stops the run at once, with one message ---------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there now


class Unreachable:
    """A model whose address nothing listens at."""

    name = "openai/nowhere"
    supports_json_schema = False

    def __init__(self) -> None:
        self.calls = 0

    async def acomplete(self, request: Request) -> Completion:
        self.calls += 1
        await asyncio.sleep(0)
        raise ModelUnreachable(
            "nothing listens at http://127.0.0.1:9/v1 (connection refused)", model=self.name
        )


def test_an_unreachable_model_stops_the_run_and_a_resume_finishes_it(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    model = Unreachable()
    with pytest.raises(ModelUnreachable, match=r"nothing listens at http://127\.0\.0\.1:9/v1"):
        asyncio.run(arun_units(conversations(), model=model, seed=9, log_path=log, progress=False))
    events = list(read_events(log))
    assert not any(isinstance(e, ConversationEnded) for e in events)  # none marked failed
    assert isinstance(events[-1], RunEnded) and events[-1].status == "failed"
    assert model.calls <= 3  # it stopped at the first failures, not after retrying every unit

    done = run_conversations(
        conversations(), model="offline/demo", seed=9, log_path=log, progress=False, resume=True
    )
    assert done.completed == 3 and done.failed == 0


def test_only_failures_no_unit_can_get_past_stop_the_run() -> None:
    assert stops_the_run(ModelUnreachable("refused"))
    assert stops_the_run(ProviderError("HTTP 401: bad key", status=401))
    assert stops_the_run(ModelNotConfigured("Missing API key"))
    assert not stops_the_run(ProviderError("HTTP 500", status=500))
    assert not stops_the_run(ProviderError("HTTP 400: too long", status=400))
    assert not stops_the_run(ValueError("a bug in one unit"))


def vs_sim_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from vs_sim.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_verbalize_at_a_closed_port_fails_with_one_line(tmp_path: Path) -> None:
    port = closed_port()
    api_base = f"http://127.0.0.1:{port}/v1"
    done = vs_sim_cli(
        "verbalize", "Name a US state", "--api-base", api_base, "--model", "openai/x", cwd=tmp_path
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("error:") and api_base in lines[0]


def test_run_at_a_closed_port_fails_with_one_line(tmp_path: Path) -> None:
    port = closed_port()
    api_base = f"http://127.0.0.1:{port}/v1"
    scenario = {
        "name": "nowhere",
        "task": "survey",
        "seed": 1,
        "n": 5,
        "population": "us_adults",
        "model": {"name": "openai/x", "api_base": api_base},
        "survey": {"questionnaire": str(QUESTIONNAIRE), "questions": QUESTIONS},
        "outputs": {"report": "none"},
    }
    (tmp_path / "nowhere.yaml").write_text(json.dumps(scenario))
    done = vs_sim_cli("run", "nowhere.yaml", "--out", "out", "--quiet", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error:") and api_base in lines[0]
    # The folder keeps what happened: the failed calls, and a run that ended "failed".
    events = list(read_events(tmp_path / "out" / "events.jsonl"))
    assert isinstance(events[-1], RunEnded) and events[-1].status == "failed"
    assert not any(isinstance(e, ConversationEnded) for e in events)


# -- a run of any size keeps only the units at work in memory ---------------------------------


class CountsTasks:
    """A unit that records how many asyncio tasks exist while it works."""

    def __init__(self, unit_id: str, seen: list[int]) -> None:
        self.id = unit_id
        self.seen = seen

    async def run(self, ctx: Any, prior: list[Event]) -> str:
        await asyncio.sleep(0)
        self.seen.append(len(asyncio.all_tasks()))
        return "done"


def test_units_wait_their_turn_without_a_task_each(tmp_path: Path) -> None:
    seen: list[int] = []
    units = [CountsTasks(f"u{i:04d}", seen) for i in range(500)]
    done = asyncio.run(
        arun_units(
            units,
            model="offline/demo",
            seed=1,
            log_path=tmp_path / "log.jsonl",
            concurrency=4,
            progress=False,
        )
    )
    assert done.completed == 500
    assert max(seen) <= 4 + 2  # the workers, the run itself and its gather: not one per unit


def test_a_hosted_model_without_its_key_stops_the_run_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # litellm reports a missing key before any request; every unit would fail the same way
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    out = vs_sim_cli(
        "run",
        "quickstart",
        "--model",
        "anthropic/claude-3-5-haiku-20241022",
        "--quiet",
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    assert "cannot be called as configured" in out.stderr
    assert "Traceback" not in out.stderr
