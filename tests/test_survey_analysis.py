"""Survey tables and reference comparisons, checked against hand-computed numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from vs_sim.errors import ConfigError
from vs_sim.events import Answer, CandidateRecord, ConversationStarted, EventLog, Participant
from vs_sim.personas import Persona
from vs_sim.tasks import (
    Questionnaire,
    compare_to_reference,
    load_answers,
    load_questionnaire,
    load_reference,
    run_survey,
    summarize,
)

ROOT = Path(__file__).resolve().parent.parent

QUESTIONNAIRE = Questionnaire.from_dict(
    {
        "questions": [
            {"id": "s", "text": "S?", "type": "scale", "options": ["Low", "Mid", "High"]},
            {"id": "c", "text": "C?", "type": "single_choice", "options": ["A", "B"]},
            {"id": "n", "text": "N?", "type": "numeric", "min": 0, "max": 10},
            {"id": "m", "text": "M?", "type": "multi_select", "options": ["x", "y", "z"]},
            {"id": "k", "text": "K?", "type": "ranking", "options": ["a", "b", "c"]},
            {"id": "o", "text": "O?", "type": "open_text"},
        ]
    }
)


def unmatched(p: float, text: str = "???") -> list[CandidateRecord]:
    return [CandidateRecord(text=text, weight=p, probability=p)]


def answer(
    rid: str, qid: str, value: Any, soft: dict[str, float] | None = None, **kw: Any
) -> Answer:
    return Answer(conversation_id=rid, question_id=qid, value=value, soft=soft or {}, **kw)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Four respondents (two democrats, two republicans) with hand-written answers."""
    path = tmp_path / "events.jsonl"
    parties = {"r1": "democrat", "r2": "democrat", "r3": "republican", "r4": "republican"}
    with EventLog(path) as out:
        for rid, party in parties.items():
            out.write(
                ConversationStarted(
                    conversation_id=rid,
                    participants=[
                        Participant(agent_id=rid, name=rid, attributes={"party": party, "age": 40})
                    ],
                )
            )
        events = [
            answer("r1", "s", "Low", {"Low": 0.6, "Mid": 0.3, "High": 0.1}),
            answer(
                "r2", "s", "Mid", {"Low": 0.2, "Mid": 0.5, "High": 0.1}, unmatched=unmatched(0.2)
            ),
            answer(
                "r3",
                "s",
                None,
                {"Low": 0.0, "Mid": 0.5, "High": 0.3},
                matched=False,
                raw="???",
                unmatched=unmatched(0.2),
            ),
            answer("r4", "s", None, matched=False, skipped=True),
            answer("r1", "c", "A", {"A": 1.0, "B": 0.0}),
            answer("r2", "c", "B", {"A": 0.0, "B": 1.0}),
            answer("r3", "c", "B", {"A": 0.5, "B": 0.5}),
            answer("r4", "c", None, matched=False, raw="", error="ParseError: empty"),
            answer("r1", "n", 4.0, {"4": 0.5, "6": 0.5}),
            answer("r2", "n", 12.0, {"12": 0.5, "2": 0.5}, out_of_range=True),
            answer("r3", "n", None, matched=False, raw="lots", unmatched=unmatched(1.0, "lots")),
            answer("r1", "m", ["x", "y"], {"x": 1.0, "y": 1.0, "z": 0.0}),
            answer("r2", "m", ["y"], {"x": 0.0, "y": 1.0, "z": 0.5}),
            answer("r3", "m", None, {"x": 0.0, "y": 0.0, "z": 0.0}, matched=False),
            answer("r1", "k", ["a", "b", "c"], {"a": 1.0, "b": 0.0, "c": 0.0}),
            answer("r2", "k", ["b", "a"], {"a": 0.0, "b": 1.0, "c": 0.0}),
            answer("r1", "o", "Because.", {"Because.": 1.0}, matched_by="text"),
            answer("r2", "o", "Because.", {"Because.": 1.0}, matched_by="text"),
            answer("r3", "o", "No idea", {"No idea": 1.0}, matched_by="text"),
        ]
        for event in events:
            out.write(event)
    return path


def test_overall_shares_match_hand_computation(log: Path) -> None:
    summary = summarize(load_answers(log), QUESTIONNAIRE)
    s = summary.get("s")
    assert (s.asked, s.skipped, s.errors) == (3, 1, 0)
    assert s.counts == (1, 1, 0)
    assert s.sampled == pytest.approx((1 / 3, 1 / 3, 0))
    assert s.unmatched_sampled == pytest.approx(1 / 3)
    assert s.soft == pytest.approx((0.8 / 3, 1.3 / 3, 0.5 / 3))
    assert s.unmatched_soft == pytest.approx(0.4 / 3)
    assert sum(s.sampled) + s.unmatched_sampled == pytest.approx(1)
    assert sum(s.soft) + s.unmatched_soft == pytest.approx(1)
    assert s.sampled_distribution() == pytest.approx((0.5, 0.5, 0))
    assert s.soft_distribution() == pytest.approx((0.8 / 2.6, 1.3 / 2.6, 0.5 / 2.6))
    assert s.positions == (1.0, 2.0, 3.0)


def test_an_unreadable_reply_counts_as_fully_unmatched(log: Path) -> None:
    c = summarize(load_answers(log), QUESTIONNAIRE).get("c")
    assert (c.asked, c.errors) == (4, 1)
    assert c.sampled == pytest.approx((0.25, 0.5))
    assert c.soft == pytest.approx((1.5 / 4, 1.5 / 4))
    assert c.unmatched_sampled == pytest.approx(0.25)
    assert c.unmatched_soft == pytest.approx(0.25)


def test_group_shares_match_hand_computation(log: Path) -> None:
    summary = summarize(load_answers(log), QUESTIONNAIRE, by="party")
    dem = summary.get("s", "party", "democrat")
    assert (dem.asked, dem.sampled) == (2, pytest.approx((0.5, 0.5, 0)))
    assert dem.soft == pytest.approx((0.4, 0.4, 0.1))
    assert dem.unmatched_soft == pytest.approx(0.1)
    rep = summary.get("s", "party", "republican")
    assert (rep.asked, rep.skipped, rep.unmatched_sampled) == (1, 1, 1.0)
    assert rep.sampled_distribution() is None
    assert rep.soft_distribution() == pytest.approx((0, 0.5 / 0.8, 0.3 / 0.8))
    with pytest.raises(KeyError, match="independent"):
        summary.get("s", "party", "independent")
    with pytest.raises(ConfigError, match="no respondent has attribute 'colour'"):
        summarize(load_answers(log), QUESTIONNAIRE, by="colour")


def test_numeric_multi_select_ranking_and_open_text(log: Path) -> None:
    summary = summarize(load_answers(log), QUESTIONNAIRE)
    n = summary.get("n").numeric
    assert n is not None
    assert (n.count, n.mean, n.median, n.minimum, n.maximum) == (2, 4.0, 4.0, 4.0, 4.0)
    assert n.out_of_range_share == pytest.approx(1 / 3)
    assert n.soft_mean == pytest.approx((5.0 + 2.0) / 2)
    assert n.soft_out_of_range == pytest.approx(0.5 / 3)
    assert summary.get("n").unmatched_soft == pytest.approx(1 / 3)
    m = summary.get("m")
    assert m.counts == (1, 2, 0) and m.sampled == pytest.approx((1 / 3, 2 / 3, 0))
    assert m.soft == pytest.approx((1 / 3, 2 / 3, 0.5 / 3))
    k = summary.get("k")
    assert k.counts == (1, 1, 0)
    assert k.mean_rank == (1.5, 1.5, 3.0)
    o = summary.get("o")
    assert o.top_texts == (("Because.", 2), ("No idea", 1))


def test_tables_and_dataframes(log: Path) -> None:
    answers = load_answers(log)
    summary = summarize(answers, QUESTIONNAIRE, by=["party"])
    rows = summary.rows()
    s_low = next(r for r in rows if r["question_id"] == "s" and r["group_value"] is None)
    assert (s_low["option"], s_low["count"], s_low["asked"]) == ("Low", 1, 3)
    frame = summary.to_dataframe()
    assert len(frame) == len(rows)
    assert {"sampled_share", "soft_share", "unmatched_soft"} <= set(frame.columns)
    answer_frame = answers.to_dataframe()
    assert len(answer_frame) == len(answers) == 19
    assert set(answer_frame["attr.party"]) == {"democrat", "republican"}


# -- reference files --------------------------------------------------------------------------
REFERENCE_CSV = """# illustrative
question_id,group_attribute,group_value,option,share
s,,,Low,0.5
s,,,Mid,0.25
s,,,High,0.25
s,party,democrat,Low,50
s,party,democrat,Mid,50
s,party,republican,High,1
c,,,A,0.5
c,,,B,0.5
"""


def _js(p: list[float], q: list[float]) -> float:
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]

    def kl(a: list[float]) -> float:
        return sum(x * math.log2(x / y) for x, y in zip(a, m, strict=True) if x > 0)

    return 0.5 * kl(p) + 0.5 * kl(q)


def test_comparison_matches_hand_computation(log: Path, tmp_path: Path) -> None:
    ref_path = tmp_path / "ref.csv"
    ref_path.write_text(REFERENCE_CSV, encoding="utf-8")
    ref = load_reference(ref_path, QUESTIONNAIRE)
    assert ref.group_attributes == ["party"]
    result = compare_to_reference(load_answers(log), ref, QUESTIONNAIRE)
    overall = next(c for c in result.questions if c.question_id == "s" and not c.group_attribute)
    # drawn answers: p = (.5, .5, 0), q = (.5, .25, .25); CDFs differ by 0 then .25 → W = .25
    assert overall.ordinal and overall.n == 3
    assert overall.representativeness_sampled == pytest.approx(1 - 0.25 / 2)
    assert overall.total_variation_sampled == pytest.approx(0.25)
    assert overall.jensen_shannon_sampled == pytest.approx(_js([0.5, 0.5, 0], [0.5, 0.25, 0.25]))
    assert overall.jensen_shannon_sampled == pytest.approx(0.155639, abs=1e-6)
    # verbalized: p = (.8, 1.3, .5) / 2.6
    soft = [0.8 / 2.6, 1.3 / 2.6, 0.5 / 2.6]
    w = abs(soft[0] - 0.5) + abs(soft[0] + soft[1] - 0.75)
    assert overall.representativeness_soft == pytest.approx(1 - w / 2)
    assert overall.total_variation_soft == pytest.approx(
        0.5 * sum(abs(a - b) for a, b in zip(soft, [0.5, 0.25, 0.25], strict=True))
    )
    assert overall.jensen_shannon_soft == pytest.approx(_js(soft, [0.5, 0.25, 0.25]))
    dem = next(c for c in result.questions if c.group_value == "democrat")
    assert dem.reference == (0.5, 0.5, 0.0)  # percentages normalized; missing option → 0
    assert dem.total_variation_sampled == pytest.approx(0.0)
    rep = next(c for c in result.questions if c.group_value == "republican")
    assert (rep.n, rep.sampled, rep.total_variation_sampled) == (1, None, None)
    choice = next(c for c in result.questions if c.question_id == "c")
    assert not choice.ordinal
    # c: drawn (1/3 A, 2/3 B among matched) vs (.5, .5)
    assert choice.total_variation_sampled == pytest.approx(1 / 6)
    means = result.means()
    assert means["total_variation_sampled"] == pytest.approx((0.25 + 1 / 6) / 2)
    assert means["representativeness_ordinal_sampled"] == pytest.approx(0.875)
    assert result.mean("total_variation", group_attribute="party", group_value="democrat") == 0
    assert len(result.to_dataframe()) == 4


def test_json_reference_is_equivalent_to_csv(tmp_path: Path) -> None:
    csv_path = tmp_path / "ref.csv"
    csv_path.write_text(REFERENCE_CSV, encoding="utf-8")
    rows: list[dict[str, Any]] = []
    for line in REFERENCE_CSV.splitlines()[2:]:
        qid, attr, value, option, share = line.split(",")
        row: dict[str, Any] = {"question_id": qid, "option": option, "share": float(share)}
        if attr:
            row.update(group_attribute=attr, group_value=value)
        rows.append(row)
    json_path = tmp_path / "ref.json"
    json_path.write_text(json.dumps({"rows": rows}), encoding="utf-8")
    a = load_reference(csv_path, QUESTIONNAIRE)
    b = load_reference(json_path, QUESTIONNAIRE)
    assert [(d.question_id, d.group_value, d.shares) for d in a.distributions] == [
        (d.question_id, d.group_value, d.shares) for d in b.distributions
    ]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("nope,,,Low,1\n", 3, "unknown question 'nope'"),
        ("s,,,Lowish,1\n", 3, "'Lowish' is not an option of 's'"),
        ("n,,,1,1\n", 3, "numeric; reference shares need a single_choice or scale"),
        ("s,,,Low,0.2\ns,,,Mid,0.2\n", 3, "sum to 0.4"),
        ("s,,,Low,-1\n", 3, "must be a finite number >= 0"),
        ("s,,,Low,lots\n", 3, "not a number"),
        ("s,party,,Low,1\n", 3, "both group_attribute and group_value"),
        ("s,,,Low,0.5\ns,,,low,0.5\n", 4, "listed twice"),
    ],
)
def test_reference_errors_name_the_file_and_row(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    path = tmp_path / "ref.csv"
    path.write_text(
        "# comment\nquestion_id,group_attribute,group_value,option,share\n" + body, encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_reference(path, QUESTIONNAIRE)
    assert info.value.where is not None and info.value.where.startswith(f"{path}:{line}")
    assert message in str(info.value)


def test_reference_file_level_errors(tmp_path: Path) -> None:
    path = tmp_path / "ref.csv"
    path.write_text("question_id,option\ns,Low\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"missing column\(s\) \['share'\]"):
        load_reference(path, QUESTIONNAIRE)
    path.write_text("question_id,option,share,note\ns,Low,1,x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown column"):
        load_reference(path, QUESTIONNAIRE)
    bad_json = tmp_path / "ref.json"
    bad_json.write_text('[{"question_id": "s", "option": "Low", "share": 1}, 3]', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_reference(bad_json, QUESTIONNAIRE)
    assert info.value.where == f"{bad_json} [1]"


def test_a_reference_group_the_respondents_lack_is_noted(log: Path, tmp_path: Path) -> None:
    path = tmp_path / "ref.csv"
    path.write_text(
        "question_id,group_attribute,group_value,option,share\n"
        "s,,,Low,1\n"
        "s,region,west,Low,1\n"
        "s,party,green,Low,1\n",
        encoding="utf-8",
    )
    result = compare_to_reference(
        load_answers(log), load_reference(path, QUESTIONNAIRE), QUESTIONNAIRE
    )
    by_group = {(c.group_attribute, c.group_value): c for c in result.questions}
    assert by_group[(None, None)].n == 3
    assert by_group[(None, None)].total_variation_sampled == pytest.approx(0.5)
    for key in [("region", "west"), ("party", "green")]:
        assert by_group[key].n == 0 and by_group[key].total_variation_sampled is None
    assert len(result.notes) == 2
    assert f"{path}:3: group attribute 'region' is not an attribute" in result.notes[0]
    assert "no respondent has party = 'green'" in result.notes[1]


def test_example_survey_compares_with_the_example_reference(tmp_path: Path) -> None:
    questionnaire = load_questionnaire(ROOT / "scenarios" / "data" / "opinion_questions.yaml")
    personas = [
        Persona(
            id=f"p{i}",
            template="survey_respondent",
            attributes={"age": 25 + i, "sex": "female", "party": party},
        )
        for i, party in enumerate(["democrat", "republican", "independent"] * 4)
    ]
    result = run_survey(questionnaire, personas, log_path=tmp_path / "e.jsonl", progress=False)
    comparison = result.compare(ROOT / "scenarios" / "data" / "opinion_reference.csv")
    assert len(comparison.questions) == 14
    for c in comparison.questions:
        assert c.n == 4 if c.group_attribute else c.n == 12
        assert c.total_variation_sampled is not None and 0 <= c.total_variation_sampled <= 1
        assert c.representativeness_soft is not None and 0 <= c.representativeness_soft <= 1
    means = comparison.means()
    assert means["representativeness_sampled"] is not None
    assert result.summary(by="party").get("climate_worry", "party", "democrat").asked == 4
