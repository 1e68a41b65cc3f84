"""vs_sim.analysis: run folder → DataFrames, shares by group, summary, graph."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from test_analysis_logs import (
    DONATIONS,
    SCRIPT,
    write_dialogue_log,
    write_persuasion_log,
    write_survey_log,
)

from vs_sim.analysis import UNMATCHED, Run, open_run
from vs_sim.analysis.rows import TABLE_COLUMNS
from vs_sim.errors import ConfigError, MissingDependency
from vs_sim.events import EventLog, RunStarted

pd = pytest.importorskip("pandas")


@pytest.fixture
def survey(tmp_path: Path) -> Run:
    folder = tmp_path / "survey"
    folder.mkdir()
    write_survey_log(folder / "events.jsonl")
    return open_run(folder)


@pytest.fixture
def dialogue(tmp_path: Path) -> Run:
    return open_run(write_dialogue_log(tmp_path / "talk.jsonl"))


@pytest.fixture
def persuasion(tmp_path: Path) -> Run:
    return open_run(write_persuasion_log(tmp_path / "p4g.jsonl"))


def _share(frame: pd.DataFrame, column: str, **where: object) -> float:
    rows = frame
    for key, value in where.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, f"expected one row for {where}, got {len(rows)}"
    return float(rows[column].iloc[0])


# -- opening -----------------------------------------------------------------------------
def test_import_pulls_no_heavy_library() -> None:
    code = (
        "import sys, vs_sim.analysis, vs_sim.plots, vs_sim.report; "
        "print(sorted(m for m in ('pandas', 'matplotlib', 'litellm', 'networkx') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_open_run_takes_a_folder_or_a_log(tmp_path: Path) -> None:
    log = write_survey_log(tmp_path / "events.jsonl")
    assert open_run(tmp_path).log_path == log
    assert open_run(log).log_path == log
    with pytest.raises(ConfigError, match="no run folder or event log") as err:
        open_run(tmp_path / "missing")
    assert err.value.where == str(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"no events\.jsonl in this folder"):
        open_run(empty)


def test_the_log_is_read_once_and_frames_are_copies(survey: Run) -> None:
    first = survey.events
    assert survey.events is first
    frame = survey.answers()
    frame.loc[:, "value"] = "changed"
    assert "changed" not in set(survey.answers()["value"])


def test_missing_pandas_names_the_extra(survey: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependency, match=r'pip install "vs_sim\[analysis\]"'):
        survey.personas()


def test_empty_tables_keep_their_columns(tmp_path: Path) -> None:
    with EventLog(tmp_path / "events.jsonl") as log:
        log.write(RunStarted(run_id="empty", seed=0))
    run = open_run(tmp_path)
    for name in ("utterances", "calls", "answers", "candidates", "choices", "conversations"):
        frame = getattr(run, name)()
        assert frame.empty
        assert list(frame.columns) == list(TABLE_COLUMNS[name])
    assert run.summary()["status"] == "unfinished"


# -- survey tables -----------------------------------------------------------------------
def test_personas_flatten_attributes_and_rename_clashes(survey: Run, dialogue: Run) -> None:
    personas = survey.personas()
    assert list(personas["agent_id"]) == ["r1", "r2", "r3"]
    assert list(personas["party"]) == ["dem", "rep", "dem"]
    # "name" is a fixed column (the agent's name), so the attribute becomes attr.name
    assert list(personas["name"]) == ["r1", "r2", "r3"]
    assert list(personas["attr.name"]) == ["Ann", "Bob", "Cy"]
    nested = dialogue.personas()
    assert list(nested["home.state"]) == ["OH", "TX", "OH", "TX"]


def test_answers_join_persona_attributes(survey: Run) -> None:
    answers = survey.answers()
    assert len(answers) == 6
    r3 = answers[(answers["conversation_id"] == "r3") & (answers["question_id"] == "pick")]
    assert not bool(r3["matched"].iloc[0])
    assert float(r3["unmatched"].iloc[0]) == pytest.approx(0.2)
    assert r3["party"].iloc[0] == "dem"
    assert int(r3["age"].iloc[0]) == 41
    assert answers.groupby("party").size().to_dict() == {"dem": 4, "rep": 2}


def test_shares_match_hand_computed_values(survey: Run) -> None:
    shares = survey.shares()
    worry = shares[shares["question_id"] == "worry"]
    assert list(worry["option"]) == ["Low", "Mid", "High"]  # questionnaire order
    assert list(worry["count"]) == [1, 0, 2]
    assert list(worry["asked"]) == [3, 3, 3]
    assert _share(worry, "sampled", option="High") == pytest.approx(2 / 3)
    assert _share(worry, "soft", option="Low") == pytest.approx(0.7 / 3)
    assert _share(worry, "soft", option="Mid") == pytest.approx(1.0 / 3)
    assert _share(worry, "soft", option="High") == pytest.approx(1.3 / 3)
    pick = shares[shares["question_id"] == "pick"]
    assert list(pick["option"]) == ["A", "B", UNMATCHED]
    assert _share(pick, "sampled", option=UNMATCHED) == pytest.approx(1 / 3)
    assert _share(pick, "soft", option="A") == pytest.approx(1.4 / 3)
    assert _share(pick, "soft", option=UNMATCHED) == pytest.approx(0.2 / 3)
    for _, block in shares.groupby("question_id"):
        assert block["sampled"].sum() == pytest.approx(1.0)
        assert block["soft"].sum() == pytest.approx(1.0)


def test_shares_by_attribute(survey: Run) -> None:
    by = survey.answer_shares("worry", by="party")
    assert list(by.columns) == ["question_id", "party", "option", "count", "asked", "sampled"]
    assert _share(by, "sampled", party="dem", option="High") == pytest.approx(1.0)
    assert _share(by, "asked", party="rep", option="Low") == 1
    soft = survey.soft_shares("worry", by="party")
    assert list(soft.columns) == ["question_id", "party", "option", "asked", "soft"]
    assert _share(soft, "soft", party="dem", option="Mid") == pytest.approx(0.35)
    clash = survey.answer_shares("worry", by="name")  # the attribute, not the agent's name
    assert set(clash["attr.name"]) == {"Ann", "Bob", "Cy"}
    with pytest.raises(ConfigError, match="no respondent has attribute 'colour'"):
        survey.answer_shares(by="colour")


def test_shares_with_a_reference_side_by_side(survey: Run) -> None:
    ref = survey.folder / "ref.csv"
    ref.write_text(
        "question_id,group_attribute,group_value,option,share\n"
        "worry,,,Low,0.5\nworry,,,Mid,0.3\nworry,,,High,0.2\n"
        "worry,party,dem,Low,0.1\nworry,party,dem,Mid,0.1\nworry,party,dem,High,0.8\n",
        encoding="utf-8",
    )
    (survey.folder / "scenario.yaml").write_text("survey:\n  reference: ref.csv\n", "utf-8")
    reference = survey.reference()
    assert reference is not None and reference.path.endswith("ref.csv")
    shares = survey.shares(reference=reference)
    assert _share(shares, "reference", question_id="worry", option="Mid") == pytest.approx(0.3)
    assert math.isnan(_share(shares, "reference", question_id="pick", option="A"))
    grouped = survey.shares("worry", by="party", reference=reference)
    assert _share(grouped, "reference", party="dem", option="High") == pytest.approx(0.8)
    assert math.isnan(_share(grouped, "reference", party="rep", option="High"))


def test_reference_is_none_when_nothing_names_one(survey: Run) -> None:
    assert survey.reference() is None
    (survey.folder / "scenario.yaml").write_text("reference: nowhere.csv\n", "utf-8")
    assert survey.reference() is None


def test_summary_counts_and_summary_json(survey: Run) -> None:
    summary = survey.summary()
    assert summary["calls"] == 6
    assert summary["cache_hits"] == 2
    assert (summary["prompt_tokens"], summary["completion_tokens"]) == (42, 18)
    assert summary["synthetic"] is True
    assert (summary["completed"], summary["answers"], summary["status"]) == (3, 6, "completed")
    (survey.folder / "summary.json").write_text(
        json.dumps({"elapsed": 12.5, "calls": 999, "projected_cost": 0.1}), "utf-8"
    )
    merged = survey.summary()
    assert merged["elapsed"] == 12.5
    assert merged["projected_cost"] == 0.1
    assert merged["calls"] == 6  # the log wins


# -- dialogue tables ---------------------------------------------------------------------
def test_utterances_candidates_and_choices(dialogue: Run) -> None:
    utt = dialogue.utterances()
    assert list(utt["conversation_id"]) == ["c1", "c1", "c1", "c2", "c2"]
    assert list(utt["name"])[:3] == ["Alice", "Bob", "Alice"]
    assert list(utt["role"])[:2] == ["host", "guest"]
    entropy = -(0.5 * math.log2(0.5) + 0.3 * math.log2(0.3) + 0.2 * math.log2(0.2))
    assert utt["entropy"].tolist() == pytest.approx([entropy] * 5)
    assert SCRIPT in set(utt["text"])
    cands = dialogue.candidates()
    assert len(cands) == 15
    assert cands["distribution"].nunique() == 5
    chosen = cands[cands["chosen"]]
    assert list(chosen["text"]) == list(utt["text"])
    assert list(chosen["rank"]) == [1, 3, 1, 1, 1]
    choices = dialogue.choices()
    assert list(choices["text"]) == list(utt["text"])
    assert list(choices["probability"]) == pytest.approx([0.5, 0.2, 0.5, 0.5, 0.5])


def test_calls_and_conversations(dialogue: Run) -> None:
    calls = dialogue.calls()
    assert len(calls) == 6
    assert int(calls["cached"].sum()) == 1
    assert list(calls["error"].dropna()) == ["ModelTimeout: too slow"]
    assert int(calls["retries"].sum()) == 3
    assert calls["tokens"].sum() == 150
    convs = dialogue.conversations().set_index("conversation_id")
    assert convs.loc["c1", "status"] == "completed"
    assert convs.loc["c1", "turns"] == 3
    assert convs.loc["c2", "status"] == "failed"
    assert convs.loc["c2", "error"] == "ModelTimeout: too slow"
    assert convs.loc["c2", "utterances"] == 2
    summary = dialogue.summary()
    assert (summary["completed"], summary["failed"], summary["call_errors"]) == (1, 1, 1)
    assert summary["cost"] == pytest.approx(0.005)


def test_graph_is_built_once_from_the_log(dialogue: Run) -> None:
    graph = dialogue.graph()
    assert dialogue.graph() is graph
    kinds = [d["type"] for _, d in graph.graph.nodes(data=True)]
    assert kinds.count("utterance") == 5
    assert kinds.count("alternative") == 10


# -- persuasion --------------------------------------------------------------------------
def test_donations_and_the_answering_participant(persuasion: Run) -> None:
    assert persuasion.donation_questions() == ["donation"]
    assert persuasion.donations().tolist() == list(DONATIONS.values())
    answers = persuasion.answers()
    assert set(answers["respondent"]) == {"ee"}  # the persuadee, not the persuader
    assert list(answers["income"]) == ["high", "low", "high", "low"]
    assert "style" not in answers.columns
    shares = persuasion.answer_shares("donation")
    assert list(shares["option"]) == ["0", "0.5", "2", "5"]  # numbers in numeric order
    assert list(shares["count"]) == [1, 1, 1, 1]


def test_several_respondents_in_one_conversation(tmp_path: Path) -> None:
    """A focus group: answers name their respondent and join that respondent's attributes."""
    from vs_sim.events import Answer, ConversationStarted, Participant

    with EventLog(tmp_path / "events.jsonl") as log:
        log.write(RunStarted(run_id="fg", seed=0))
        log.write(
            ConversationStarted(
                conversation_id="g1",
                participants=[
                    Participant(agent_id="mod", name="Moderator", role="moderator"),
                    Participant(agent_id="p1", name="P1", attributes={"age": 20}),
                    Participant(agent_id="p2", name="P2", attributes={"age": 70}),
                ],
            )
        )
        for agent, value in (("p1", "yes"), ("p2", "no"), ("p1", "maybe")):  # p1 answers twice
            log.write(
                Answer(conversation_id="g1", agent_id=agent, question_id="buy", value=value, turn=4)
            )
    run = open_run(tmp_path)
    answers = run.answers().set_index("respondent")
    assert answers.loc["p1", "value"] == "maybe"  # the last record wins
    assert (answers.loc["p1", "age"], answers.loc["p2", "age"]) == (20, 70)
    assert answers.loc["p2", "turn"] == 4
    assert run.conversations()["answers"].tolist() == [2]
    shares = run.answer_shares("buy", by="age")
    assert _share(shares, "sampled", age=70, option="no") == 1.0
