"""Running scenarios end to end on the offline model: every shipped scenario, the Python API,
the run folder, dry runs that call no model, resume without duplicates, and ``max_cost``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import vs_sim
from vs_sim.errors import ScenarioError
from vs_sim.events import Answer, ConversationEnded, ModelCall, RunEnded, read_events
from vs_sim.graph import ConversationGraph
from vs_sim.models.offline import OfflineModel
from vs_sim.scenario_run import ScenarioRun, run_scenario
from vs_sim.scenario_schema import OutputsSpec, Scenario
from vs_sim.scenarios import load_scenario
from vs_sim.testing.scripted import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def fast(path: Path, report: str = "markdown") -> Scenario:
    """The scenario with a Markdown report (the HTML one draws figures: slow)."""
    scenario = load_scenario(path)
    return scenario.model_copy(update={"outputs": OutputsSpec(report=report)})  # type: ignore[arg-type]


def small_n(scenario: Scenario) -> int:
    return 4 if scenario.task == "survey" else 1


def nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def test_the_shipped_scenarios_are_there() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {"quickstart", "survey_opinion", "focus_group"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_each_shipped_scenario_runs_end_to_end(path: Path, tmp_path: Path) -> None:
    scenario = fast(path)
    n = small_n(scenario)
    run = run_scenario(scenario, n=n, out=tmp_path / "run", progress=False)
    folder = run.folder
    assert folder is not None
    for name in ("events.jsonl", "scenario.yaml", "graph.graphml", "graph.json", "summary.json"):
        assert nonempty(folder / name), name
    assert nonempty(folder / "report.md")
    for table in ("personas", "calls", "candidates", "choices", "conversations"):
        assert nonempty(folder / "tables" / f"{table}.csv"), table
    main_table = "answers" if scenario.task == "survey" else "utterances"
    assert nonempty(folder / "tables" / f"{main_table}.csv")

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary == run.summary
    units = n  # respondents, conversations, dialogues or focus groups
    assert summary["status"] == "completed"
    assert (summary["completed"], summary["failed"], summary["unfinished"]) == (units, 0, 0)
    assert summary["synthetic"] is True and "SYNTHETIC" in summary["synthetic_note"]
    assert summary["calls"] > 0 and summary["scenario"] == scenario.name
    assert run.result is not None and run.result.completed == units

    graph = ConversationGraph.read_graphml(folder / "graph.graphml")
    again = ConversationGraph.from_node_link(folder / "graph.json")
    assert graph.graph.number_of_nodes() == again.graph.number_of_nodes() > 0
    # the run folder's scenario.yaml is the scenario as run, and it loads from there
    copy = load_scenario(folder / "scenario.yaml")
    assert copy.n == n and copy.task == scenario.task and copy.seed == scenario.seed


def test_quickstart_compares_with_its_reference_and_writes_html(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    run = run_scenario(QUICKSTART, n=6, out=tmp_path / "q", progress=False)
    assert run.folder is not None
    html = (run.folder / "report.html").read_text(encoding="utf-8")
    assert "synthetic" in html.lower()
    reference = run.summary["survey"]["reference"]
    assert 0 < reference["means"]["representativeness_sampled"] <= 1
    compared = {row["question_id"] for row in reference["questions"]}
    assert compared == {"climate_worry", "remote_work", "ai_jobs", "four_day_week"}
    assert nonempty(run.folder / "tables" / "reference_comparison.csv")
    # the run folder keeps the reference it used, so its analysis needs nothing else
    assert "ILLUSTRATIVE" in (run.folder / "reference.csv").read_text(encoding="utf-8")
    kept = run.run.reference()
    assert kept is not None
    assert {d.question_id for d in kept.distributions} == compared
    assert "## Comparison with" in (run.folder / "report.md").read_text(encoding="utf-8")


def test_python_api_returns_tables_and_graph(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    run = vs_sim.run_scenario(fast(QUICKSTART), n=3, out=tmp_path / "api", progress=False)
    assert isinstance(run, ScenarioRun)
    answers = run.answers()
    assert len(answers) == 3 * 4
    assert set(answers["respondent"]) == {"p00001", "p00002", "p00003"}
    tables = run.tables()
    assert len(tables["personas"]) == 3 and len(tables["calls"]) == run.summary["calls"]
    assert run.graph().graph.number_of_nodes() > 0
    assert run.synthetic and any("SYNTHETIC" in note for note in run.notes)


def test_same_seed_same_answers_at_any_concurrency(tmp_path: Path) -> None:
    def drawn(run: ScenarioRun) -> list[tuple[str, str, Any]]:
        assert run.log_path is not None
        return sorted(
            (a.conversation_id, a.question_id, json.dumps(a.value))
            for a in read_events(run.log_path)
            if isinstance(a, Answer)
        )

    one = run_scenario(fast(QUICKSTART), n=5, concurrency=1, out=tmp_path / "a", progress=False)
    many = run_scenario(fast(QUICKSTART), n=5, concurrency=8, out=tmp_path / "b", progress=False)
    other = run_scenario(fast(QUICKSTART), n=5, seed=99, out=tmp_path / "c", progress=False)
    assert drawn(one) == drawn(many)
    assert drawn(one) != drawn(other)


def test_default_run_folder_is_named_after_the_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = run_scenario(fast(QUICKSTART), n=2, progress=False)
    assert run.folder is not None and run.folder.parent == Path("runs")
    assert run.folder.name.startswith("quickstart-")
    second = run_scenario(fast(QUICKSTART), n=2, progress=False)
    assert second.folder != run.folder  # never two runs in one folder


def test_a_folder_holding_a_run_is_not_reused_without_resume(tmp_path: Path) -> None:
    run_scenario(fast(QUICKSTART), n=2, out=tmp_path / "r", progress=False)
    with pytest.raises(ScenarioError, match="already holds a run; resume it"):
        run_scenario(fast(QUICKSTART), n=2, out=tmp_path / "r", progress=False)


# -- dry run ---------------------------------------------------------------------------------


@pytest.fixture
def no_model_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(self: OfflineModel, request: Any) -> Any:
        raise AssertionError("a dry run called the model")

    monkeypatch.setattr(OfflineModel, "acomplete", refuse)


def test_dry_run_renders_every_prompt_of_the_first_persona(
    no_model_calls: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = run_scenario(QUICKSTART, dry_run=True, progress=False)
    assert run.folder is None and not (tmp_path / "runs").exists()
    assert [p.label.split()[1] for p in run.previews] == [
        "climate_worry",
        "remote_work",
        "ai_jobs",
        "four_day_week",
    ]
    assert {p.unit for p in run.previews} == {"p00001"}
    first = run.previews[0]
    assert first.messages[0]["role"] == "system"
    assert "year-old" in first.messages[0]["content"]  # the persona
    assert "Generate 4 responses" in first.messages[0]["content"]  # the method's instructions
    assert "How worried are you about climate change?" in first.messages[-1]["content"]
    text = run.prompts_text()
    assert "=== p00001 · question climate_worry (1/4)" in text


def test_dry_run_of_a_conversation_shows_who_speaks_first(no_model_calls: None) -> None:
    run = run_scenario(ROOT / "scenarios" / "focus_group.yaml", dry_run=True, progress=False)
    assert run.previews
    assert "speaks first" in run.previews[0].label and "moderator" in run.previews[0].label
    assert len(run.previews) == 6  # the moderator and five participants
    system = run.previews[1].messages[0]["content"]
    assert "focus group about the Aura smart water bottle" in system


# -- resume ----------------------------------------------------------------------------------


def test_resume_finishes_a_partly_run_folder_without_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    full = run_scenario(fast(QUICKSTART), n=6, out=folder, progress=False)
    assert full.log_path is not None
    expected = sorted(
        (a.conversation_id, a.question_id, json.dumps(a.value))
        for a in read_events(full.log_path)
        if isinstance(a, Answer)
    )
    # Cut the log as a kill would: two respondents finished, a third half done, a torn line.
    lines = full.log_path.read_text(encoding="utf-8").splitlines(keepends=True)
    ended = [i for i, line in enumerate(lines) if '"conversation_ended"' in line]
    third_answers = [
        i for i, line in enumerate(lines) if '"kind":"answer"' in line and i > ended[1]
    ]
    cut = third_answers[1] + 1
    full.log_path.write_text("".join(lines[:cut]) + lines[cut][:40], encoding="utf-8")
    for derived in ("summary.json", "graph.json"):
        (folder / derived).unlink()

    resumed = run_scenario(None, resume=folder, progress=False)
    events = list(read_events(folder / "events.jsonl"))
    answers = [a for a in events if isinstance(a, Answer)]
    keys = Counter((a.conversation_id, a.question_id) for a in answers)
    assert len(keys) == 6 * 4 and set(keys.values()) == {1}
    assert sorted((a.conversation_id, a.question_id, json.dumps(a.value)) for a in answers) == (
        expected
    )
    ended_ids = Counter(e.conversation_id for e in events if isinstance(e, ConversationEnded))
    assert len(ended_ids) == 6 and set(ended_ids.values()) == {1}
    assert resumed.result is not None
    assert (resumed.result.skipped, resumed.result.completed) == (2, 4)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert (summary["completed"], summary["sessions"], summary["status"]) == (6, 2, "completed")
    assert nonempty(folder / "graph.json")
    kept = (folder / "reference.csv").read_text(encoding="utf-8")
    assert kept.count("# The reference shares this run compared with") == 1


def test_resume_needs_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"no events\.jsonl here"):
        run_scenario(QUICKSTART, resume=tmp_path, progress=False)


# -- max_cost --------------------------------------------------------------------------------


def test_max_cost_stops_the_run_and_resume_finishes_it(tmp_path: Path) -> None:
    folder = tmp_path / "budget"
    model = ScriptedModel(cost=0.01, seed=1)
    run = run_scenario(
        fast(QUICKSTART), model=model, n=5, max_cost=0.03, out=folder, progress=False
    )
    assert run.stopped == "max_cost"
    events = list(read_events(folder / "events.jsonl"))
    calls = [e for e in events if isinstance(e, ModelCall)]
    assert len(calls) == 3 and len(model.history) == 3  # no call started past the limit
    assert [e.status for e in events if isinstance(e, RunEnded)] == ["interrupted"]
    assert run.summary["stopped"] == "max_cost" and run.summary["status"] == "interrupted"
    # three calls answer three of the first respondent's four questions: nobody is done
    assert (run.summary["completed"], run.summary["unfinished"]) == (0, 1)

    with pytest.raises(ScenarioError, match="already spent"):
        run_scenario(None, model=model, resume=folder, progress=False)
    done = run_scenario(None, model=model, max_cost=1.0, resume=folder, progress=False)
    assert done.stopped is None and done.summary["completed"] == 5
    answers = [e for e in read_events(folder / "events.jsonl") if isinstance(e, Answer)]
    assert len(answers) == 5 * 4
    assert len({(a.conversation_id, a.question_id) for a in answers}) == 5 * 4
    assert done.summary["cost"] == pytest.approx(0.01 * 5 * 4)


# -- models, schedulers, persona folders -----------------------------------------------------


def conversation_scenario(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "conv.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_named_models_and_schedulers_run(tmp_path: Path) -> None:
    path = conversation_scenario(
        tmp_path,
        """
name: graphs
models:
  chooser: offline/chooser
  other: {name: offline/other, temperature: 0.3}
conversation:
  agents:
    - {id: a, system_prompt: You are A., model: other}
    - {id: b, system_prompt: You are B.}
    - {id: c, system_prompt: You are C.}
  scheduler: {name: model_chosen, model: chooser, k: 3}
  termination: {max_turns: 4}
outputs: {report: none}
""",
    )
    run = run_scenario(path, out=tmp_path / "r", progress=False)
    assert run.summary["completed"] == 1 and run.summary["utterances"] == 4
    calls = [e for e in read_events(tmp_path / "r" / "events.jsonl") if isinstance(e, ModelCall)]
    by_purpose = {(c.purpose, c.model) for c in calls}
    assert ("next_speaker", "offline/chooser") in by_purpose
    assert {m for p, m in by_purpose if p == "utterance"} <= {"offline/demo", "offline/other"}
    assert not (tmp_path / "r" / "report.md").exists()  # report: none


@pytest.mark.parametrize(
    "scheduler",
    [
        "{name: random, weights: {a: 2}, no_repeat: true}",
        "{name: social_graph, edges: [[a, b], [b, c, 2.0]]}",
        "{name: simultaneous, exclude: [c]}",
        "round_robin",
    ],
)
def test_every_scheduler_form_builds_and_runs(scheduler: str, tmp_path: Path) -> None:
    path = conversation_scenario(
        tmp_path,
        f"""
name: s
conversation:
  agents:
    - {{id: a, system_prompt: You are A.}}
    - {{id: b, system_prompt: You are B.}}
    - {{id: c, system_prompt: You are C.}}
  scheduler: {scheduler}
  termination: {{max_turns: 4}}
outputs: {{report: none, graph: false, tables: false}}
""",
    )
    run = run_scenario(path, out=tmp_path / "r", progress=False)
    assert run.summary["utterances"] == 4 and run.summary["failed"] == 0


def test_default_params_reach_every_request() -> None:
    import asyncio

    from vs_sim.models.base import Request
    from vs_sim.scenario_models import DefaultParamsModel

    inner = ScriptedModel()
    model = DefaultParamsModel(inner, {"temperature": 0.2, "max_tokens": 50})
    msgs = ({"role": "user", "content": "hi"},)
    asyncio.run(model.acomplete(Request(model="m", messages=msgs)))
    asyncio.run(model.acomplete(Request(model="m", messages=msgs, params={"temperature": 1.0})))
    assert inner.history[0].params == {"temperature": 0.2, "max_tokens": 50}
    assert inner.history[1].params == {"temperature": 1.0, "max_tokens": 50}  # the call's own wins


def test_persona_paths_add_templates(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "pirate.j2").write_text(
        "{#- ---\ndescription: A pirate.\nattributes:\n  ship: {description: Its ship}\n--- -#}\n"
        "You are a pirate of the {{ ship }}.\n",
        encoding="utf-8",
    )
    path = conversation_scenario(
        tmp_path,
        """
name: p
persona_paths: [mine]
conversation:
  agents:
    - {id: a, template: pirate, attributes: {ship: Sea Lark}}
    - {id: b, system_prompt: You are a sailor.}
  termination: {max_turns: 2}
""",
    )
    run = run_scenario(path, dry_run=True, progress=False)
    assert run.previews[0].messages[0]["content"].startswith("You are a pirate of the Sea Lark.")


def test_dry_run_projects_the_cost_of_a_hosted_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    seen: dict[str, Any] = {}

    def cost_per_token(*, model: str, prompt_tokens: int, completion_tokens: int) -> Any:
        seen.update(model=model, prompt=prompt_tokens, completion=completion_tokens)
        return prompt_tokens * 1e-6, completion_tokens * 2e-6

    fake = types.ModuleType("litellm")
    fake.cost_per_token = cost_per_token  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "litellm", fake)
    run = run_scenario(QUICKSTART, model="openai/gpt-4o-mini", n=10, dry_run=True, progress=False)
    assert seen["model"] == "openai/gpt-4o-mini"
    per_respondent = sum(p.prompt_tokens * p.calls for p in run.previews)
    assert seen["prompt"] == per_respondent * 10
    expected = seen["prompt"] * 1e-6 + seen["completion"] * 2e-6
    assert any(f"projected cost: about ${expected:.2f}" in note for note in run.notes)
    # an unknown price projects nothing

    def unknown(**kwargs: Any) -> Any:
        raise ValueError("This model isn't mapped yet")

    fake.cost_per_token = unknown  # type: ignore[attr-defined]
    quiet = run_scenario(QUICKSTART, model="openai/mystery", dry_run=True, progress=False)
    assert not any("projected cost" in note for note in quiet.notes)


def test_no_cost_projection_for_a_local_server_or_the_offline_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    asked: list[str] = []

    def cost_per_token(*, model: str, prompt_tokens: int, completion_tokens: int) -> Any:
        asked.append(model)
        return 1.0, 1.0

    fake = types.ModuleType("litellm")
    fake.cost_per_token = cost_per_token  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "litellm", fake)
    local = tmp_path / "local.yaml"
    questionnaire = ROOT / "scenarios" / "data" / "opinion_questions.yaml"
    local.write_text(
        json.dumps(
            {
                "name": "local",
                "task": "survey",
                "n": 3,
                "population": "us_adults",
                "model": {"name": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:9/v1"},
                "survey": {"questionnaire": str(questionnaire), "questions": ["ai_jobs"]},
            }
        ),
        encoding="utf-8",
    )
    served = run_scenario(local, dry_run=True, progress=False)
    offline = run_scenario(QUICKSTART, dry_run=True, progress=False)
    assert asked == []  # litellm's price table was never consulted
    assert not any("projected cost" in n for n in (*served.notes, *offline.notes))
    hosted = run_scenario(QUICKSTART, model="openai/gpt-4o-mini", dry_run=True, progress=False)
    assert asked == ["openai/gpt-4o-mini"]
    assert any("projected cost" in note for note in hosted.notes)


def test_a_stopped_sessions_skipped_units_are_the_completed_ones(tmp_path: Path) -> None:
    from vs_sim.events import ConversationStarted, RunStarted, write_events
    from vs_sim.scenario_run import _session_result

    log = tmp_path / "events.jsonl"
    first_session = [
        RunStarted(run_id="r", seed=1),
        ConversationStarted(conversation_id="a"),
        ConversationEnded(conversation_id="a", reason="done"),
        ConversationStarted(conversation_id="b"),
        ConversationEnded(conversation_id="b", reason="error", status="failed", error="429"),
        ConversationStarted(conversation_id="c"),
        ConversationEnded(conversation_id="c", reason="error", status="failed", error="500"),
        ConversationEnded(conversation_id="c", reason="done"),  # retried and completed
        RunEnded(run_id="r", status="interrupted"),
    ]
    write_events(log, first_session)
    write_events(
        log,
        [
            RunStarted(run_id="r", seed=1),
            ConversationEnded(conversation_id="b", reason="done"),  # this session retried b
            RunEnded(run_id="r", status="interrupted"),
        ],
    )
    result = _session_result(log, len(first_session), elapsed=1.0)
    assert (result.skipped, result.completed, result.failed) == (2, 1, 0)  # a and c; then b


# -- problems a new user met ------------------------------------------------------------------


def test_a_refused_resume_leaves_the_run_folder_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    run = run_scenario(fast(QUICKSTART), n=4, out=folder, progress=False)
    assert run.log_path is not None
    lines = run.log_path.read_text(encoding="utf-8").splitlines(keepends=True)
    run.log_path.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    as_run = (folder / "scenario.yaml").read_text(encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"events\.jsonl: the run used seed 7, not 99"):
        run_scenario(None, resume=folder, seed=99, n=6, progress=False)
    assert (folder / "scenario.yaml").read_text(encoding="utf-8") == as_run
    done = run_scenario(None, resume=folder, progress=False)  # a plain resume still works
    assert done.summary["completed"] == 4 and done.scenario.seed == 7


def test_a_survey_run_without_tables(tmp_path: Path) -> None:
    scenario = fast(QUICKSTART)
    outputs = scenario.outputs.model_copy(update={"tables": False})
    run = run_scenario(
        scenario.model_copy(update={"outputs": outputs}), n=3, out=tmp_path / "r", progress=False
    )
    assert run.summary["completed"] == 3 and run.summary["survey"]["answers"] == 3 * 4
    assert "reference" in run.summary["survey"]
    assert not (tmp_path / "r" / "tables").exists()
    assert nonempty(tmp_path / "r" / "report.md")


def test_max_cost_says_when_the_models_price_is_unknown(
    tmp_path: Path,
    fake_openai_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    path = tmp_path / "served.yaml"
    questionnaire = ROOT / "scenarios" / "data" / "opinion_questions.yaml"
    path.write_text(
        json.dumps(
            {
                "name": "served",
                "task": "survey",
                "n": 2,
                "population": "us_adults",
                "model": {
                    "name": "openai/fake-vs",
                    "api_base": fake_openai_server.base_url + "/v1",
                    "cache": False,
                },
                "survey": {"questionnaire": str(questionnaire), "questions": ["ai_jobs"]},
                "outputs": {"report": "markdown"},
            }
        ),
        encoding="utf-8",
    )
    run = run_scenario(path, max_cost=0.5, out=tmp_path / "r", progress=True)
    note = "max_cost $0.5 cannot be enforced: openai/fake-vs has no known price"
    assert capsys.readouterr().err.count(note) == 1
    assert run.summary["max_cost_note"].startswith(note)
    saved = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert saved["max_cost_note"].startswith(note)
    unlimited = run_scenario(path, dry_run=True, progress=False)
    assert not any("max_cost" in n for n in unlimited.notes)


def test_resume_says_what_is_missing_and_refuses_a_second_scenario(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    run_scenario(fast(QUICKSTART), n=2, out=folder, progress=False)
    with pytest.raises(ScenarioError, match=r"not both"):
        run_scenario(QUICKSTART, resume=folder, progress=False)
    (folder / "scenario.yaml").unlink()
    with pytest.raises(ScenarioError, match=r"scenario\.yaml: the run folder has no scenario"):
        run_scenario(None, resume=folder, progress=False)


def test_a_bad_n_names_the_argument() -> None:
    with pytest.raises(
        ScenarioError,
        match=r"^n \(--n on the command line\), overriding \S*quickstart\.yaml: "
        r".*greater than or equal to 1",
    ):
        run_scenario(QUICKSTART, n=-1, dry_run=True, progress=False)


def test_a_copied_run_folder_resumes_from_where_its_inputs_are(tmp_path: Path) -> None:
    # A project with its scenarios, and a run folder inside it: the run's scenario.yaml
    # names the questionnaire by a path relative to the run folder (../../scenarios/...).
    project = tmp_path / "project"
    (project / "scenarios" / "data").mkdir(parents=True)
    for name in ("quickstart.yaml", "data/opinion_questions.yaml", "data/opinion_reference.csv"):
        (project / "scenarios" / name).write_bytes((ROOT / "scenarios" / name).read_bytes())
    scenario = fast(project / "scenarios" / "quickstart.yaml")
    full = run_scenario(scenario, n=4, out=project / "runs" / "r", progress=False)
    assert full.log_path is not None
    as_run = (project / "runs" / "r" / "scenario.yaml").read_text(encoding="utf-8")
    assert "questionnaire: ../../scenarios/data/opinion_questions.yaml" in as_run

    # Copied elsewhere, and cut as a kill would leave it: two respondents finished.
    copy = tmp_path / "elsewhere" / "deeper" / "r"
    copy.parent.mkdir(parents=True)
    copy.mkdir()
    for item in (project / "runs" / "r").iterdir():
        if item.is_file():
            (copy / item.name).write_bytes(item.read_bytes())
    lines = (copy / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    ended = [i for i, line in enumerate(lines) if '"conversation_ended"' in line]
    (copy / "events.jsonl").write_text("".join(lines[: ended[1] + 1]), encoding="utf-8")

    resumed = run_scenario(None, resume=copy, progress=False)
    assert resumed.result is not None
    assert (resumed.result.skipped, resumed.result.completed) == (2, 2)
    answers = [e for e in read_events(copy / "events.jsonl") if isinstance(e, Answer)]
    assert len(answers) == 4 * 4
    # The copy's scenario.yaml now points at the inputs from where it is, and says so.
    rewritten = (copy / "scenario.yaml").read_text(encoding="utf-8")
    assert "questionnaire: ../../../project/scenarios/data/opinion_questions.yaml" in rewritten
    assert f"origin_folder: {copy.resolve()}" in rewritten


def test_a_moved_run_folder_whose_inputs_are_gone_says_where_it_looked(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "scenarios" / "data").mkdir(parents=True)
    for name in ("quickstart.yaml", "data/opinion_questions.yaml", "data/opinion_reference.csv"):
        (project / "scenarios" / name).write_bytes((ROOT / "scenarios" / name).read_bytes())
    run_scenario(fast(project / "scenarios" / "quickstart.yaml"), n=2,
                 out=project / "runs" / "r", progress=False)  # fmt: skip
    moved = tmp_path / "moved" / "r"
    moved.parent.mkdir()
    (project / "runs" / "r").rename(moved)
    (project / "scenarios" / "data" / "opinion_questions.yaml").unlink()
    with pytest.raises(ScenarioError, match=r"where this run folder was written") as info:
        run_scenario(None, resume=moved, progress=False)
    assert "survey.questionnaire" in str(info.value)
    assert str(project / "runs" / "r") in str(info.value)
