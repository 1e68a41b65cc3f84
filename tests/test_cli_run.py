"""``vs-sim run`` and ``vs-sim validate``: the summary table, dry runs, resume, and one clear
error line with exit code 2 for each kind of invalid scenario."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from vs_sim.cli import main
from vs_sim.events import Answer, read_events
from vs_sim.models.offline import OfflineModel

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
DATA = ROOT / "scenarios" / "data"


def test_run_prints_the_summary_table_and_says_it_is_synthetic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["run", str(QUICKSTART), "--n", "3", "--seed", "5", "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    text = captured.out
    for label in ("respondents done", "respondents failed", "model calls", "cache hits"):
        assert label in text
    assert "tokens" in text and "cost" in text and "time" in text
    assert f"run folder: {out}" in text
    assert "synthetic" in text
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["completed"], summary["seed"], summary["synthetic"]) == (3, 5, True)
    assert "n: 3" in (out / "scenario.yaml").read_text(encoding="utf-8")


def test_progress_notes_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(QUICKSTART), "--n", "2", "--out", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert code == 0
    assert "SYNTHETIC: no language model was used" in captured.err


def test_dry_run_prints_prompts_and_calls_no_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: OfflineModel, request: Any) -> Any:
        raise AssertionError("the dry run called a model")

    monkeypatch.setattr(OfflineModel, "acomplete", refuse)
    monkeypatch.chdir(tmp_path)
    code = main(["run", str(QUICKSTART), "--dry-run"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.count("=== p00001 · question") == 4
    assert "--- system" in captured.out and "--- user" in captured.out
    assert "How worried are you about climate change?" in captured.out
    assert "no model called" in captured.out
    assert not (tmp_path / "runs").exists()


def test_resume_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert main(["run", str(QUICKSTART), "--n", "4", "--out", str(out), "--quiet"]) == 0
    log = out / "events.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    log.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    capsys.readouterr()
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    answers = [e for e in read_events(log) if isinstance(e, Answer)]
    assert len(answers) == 4 * 4
    assert len({(a.conversation_id, a.question_id) for a in answers}) == 4 * 4
    assert "respondents done" in capsys.readouterr().out


def test_validate_reports_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(QUICKSTART)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok  {QUICKSTART}: survey, 20 respondents × 4 questions")
    assert "synthetic" in out


def test_run_without_a_scenario_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    assert "give a scenario file" in capsys.readouterr().err


# -- invalid scenarios: one line, file:line path, exit code 2 ---------------------------------

SURVEY = f"""
name: bad
n: 3
population: us_adults
survey:
  questionnaire: {DATA / "opinion_questions.yaml"}
  questions: [climate_worry]
"""

CONVERSATION = """
name: bad
conversation:
  agents:
    - {id: host, template: moderator, attributes: {topic: parks}}
    - {id: guest, system_prompt: You are a guest.}
  scheduler: round_robin
"""

INVALID: dict[str, tuple[str, str]] = {
    "wrong type": (SURVEY.replace("n: 3", "n: three"), r":2 n: Input should be a valid integer"),
    "unknown scheduler": (
        CONVERSATION.replace("round_robin", "loudest"),
        r":6 conversation.scheduler.name: unknown scheduler 'loudest'",
    ),
    "missing persona attribute": (
        CONVERSATION.replace("{topic: parks}", "{style: warm}"),
        r":4 conversation.agents\[0\].attributes: persona 'host' \(agent 'host'\): .*"
        r"missing attribute 'topic'",
    ),
    "options missing": (
        "name: bad\nn: 2\npopulation: us_adults\nsurvey:\n  questionnaire:\n    questions:\n"
        "      - {id: q, type: single_choice, text: Pick one}\n",
        r":7 survey.questionnaire.questions\[0\].options: this field is required",
    ),
    "reference with unknown questions": (
        SURVEY + "  reference: ref.csv\n",
        r":7 survey.reference: .*ref.csv:3: unknown question 'nope'",
    ),
    "unknown top-level key": (
        SURVEY + "outptus: {report: none}\n",
        r":7 outptus: unknown field 'outptus' \(did you mean 'outputs'\?\)",
    ),
    "missing file": (
        SURVEY.replace(str(DATA / "opinion_questions.yaml"), "missing.yaml"),
        r":5 survey.questionnaire: no questionnaire at 'missing.yaml'",
    ),
}


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_scenarios_give_one_clear_error_and_exit_code_2(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    text, pattern = INVALID[case]
    (tmp_path / "ref.csv").write_text(
        "question_id,option,share\nclimate_worry,Very worried,1\nnope,Yes,1\n", encoding="utf-8"
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    code = main(
        [command, str(path), "--out", str(tmp_path / "run")]
        if command == "run"
        else [
            command,
            str(path),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err  # one error, no traceback
    assert lines[0].startswith(f"error: {path}:")
    assert re.search(pattern, lines[0]), lines[0]
    assert not (tmp_path / "run").exists()


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there now


def test_a_run_that_fails_at_once_prints_the_error_then_where_the_run_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_base = f"http://127.0.0.1:{closed_port()}/v1"
    scenario = {
        "name": "nowhere",
        "task": "survey",
        "n": 3,
        "population": "us_adults",
        "model": {"name": "openai/x", "api_base": api_base},
        "survey": {"questionnaire": str(DATA / "opinion_questions.yaml"), "questions": ["ai_jobs"]},
        "outputs": {"report": "none"},
    }
    path = tmp_path / "nowhere.yaml"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2  # not --quiet
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("error:") and api_base in lines[0]
    assert lines[1] == f"the partial run is in {out}; continue it with: vs-sim run --resume {out}"
    assert (out / "events.jsonl").is_file()
    assert main(["run", str(path), "--out", str(tmp_path / "quiet"), "--quiet"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1  # --quiet: the error alone


def test_validate_checks_every_file_and_reports_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntask: survey\nn: 0\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    assert main(["validate", str(bad), str(QUICKSTART), str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"ok  {QUICKSTART}: survey")
    errors = captured.err.strip().splitlines()
    assert len(errors) == 3, captured.err
    assert errors[0].startswith(f"error: {bad}:") and errors[1].startswith(f"error: {missing}")
    assert errors[2] == "2 of 3 scenario files failed"


def test_run_refuses_a_scenario_file_with_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    assert main(["run", str(QUICKSTART), "--n", "2", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", str(QUICKSTART), "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not both" in err[0], err
