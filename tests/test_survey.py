"""Survey respondents end to end: asking, reading answers, drawing, logging, skip logic,
interview memory and resume."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from vs_sim.distribution import Candidate, Distribution
from vs_sim.errors import ConfigError, TemplateError
from vs_sim.events import (
    Answer,
    Choice,
    ConversationEnded,
    ConversationStarted,
    DistributionRecorded,
    ModelCall,
    read_events,
)
from vs_sim.models.offline import OfflineModel
from vs_sim.personas import Persona
from vs_sim.runner import RunContext
from vs_sim.seeds import derive_uniform
from vs_sim.tasks import Questionnaire, Survey, load_questionnaire, run_survey
from vs_sim.testing.scripted import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "scenarios" / "data" / "opinion_questions.yaml"

AGREE5 = [
    "Strongly disagree",
    "Somewhat disagree",
    "Neither agree nor disagree",
    "Somewhat agree",
    "Strongly agree",
]


@pytest.fixture
def opinion_questions() -> dict[str, Any]:
    """The example questionnaire as a YAML-able dict (the same as the shipped YAML file)."""
    return {
        "name": "opinion_questions",
        "description": "Everyday life, work, technology and local issues; US adults.",
        "mode": "independent",
        "questions": [
            {
                "id": "life_satisfaction",
                "text": "All things considered, how satisfied are you with your life as a "
                "whole these days?",
                "type": "scale",
                "options": [
                    "Very dissatisfied",
                    "Somewhat dissatisfied",
                    "Neither satisfied nor dissatisfied",
                    "Somewhat satisfied",
                    "Very satisfied",
                ],
            },
            {
                "id": "climate_worry",
                "text": "How worried are you about climate change?",
                "type": "scale",
                "options": [
                    "Not at all worried",
                    "Not very worried",
                    "Somewhat worried",
                    "Very worried",
                ],
            },
            {
                "id": "climate_action",
                "text": "What is the one thing you would most like to see done about "
                "climate change?",
                "type": "open_text",
                "show_if": {
                    "question": "climate_worry",
                    "values": ["Somewhat worried", "Very worried"],
                },
            },
            {
                "id": "remote_work",
                "text": "How much do you agree or disagree: people with office jobs should be "
                "able to work from home at least part of the week.",
                "type": "scale",
                "options": AGREE5,
            },
            {
                "id": "ai_jobs",
                "text": "Over the next ten years, do you think artificial intelligence will "
                "create more jobs than it eliminates, or eliminate more jobs than it creates?",
                "type": "scale",
                "options": [
                    "Eliminate many more jobs than it creates",
                    "Eliminate somewhat more jobs than it creates",
                    "Create and eliminate about the same number",
                    "Create somewhat more jobs than it eliminates",
                    "Create many more jobs than it eliminates",
                ],
            },
            {
                "id": "trust_neighbors",
                "text": "How much do you trust the people in your neighborhood?",
                "type": "scale",
                "options": ["Not at all", "A little", "Somewhat", "A lot"],
            },
            {
                "id": "news_source",
                "text": "Where do you get most of your news?",
                "type": "single_choice",
                "options": [
                    "Television",
                    "Newspapers or news websites",
                    "Social media",
                    "Radio or podcasts",
                    "Friends and family",
                ],
            },
            {
                "id": "four_day_week",
                "text": "How much do you agree or disagree: a four-day working week with the "
                "same pay would be good for the country.",
                "type": "scale",
                "options": AGREE5,
            },
            {
                "id": "phones_in_class",
                "text": "How much do you agree or disagree: phones should be banned from "
                "school classrooms.",
                "type": "scale",
                "options": AGREE5,
            },
            {
                "id": "hours_online",
                "text": "On a typical day, how many hours do you spend online for reasons "
                "other than work or school?",
                "type": "numeric",
                "min": 0,
                "max": 16,
                "unit": "hours",
            },
            {
                "id": "local_issues",
                "text": "Which of these issues matter most where you live? Choose up to three.",
                "type": "multi_select",
                "max_select": 3,
                "options": [
                    "Housing costs",
                    "Public safety",
                    "Schools",
                    "Traffic and roads",
                    "Jobs",
                    "Access to health care",
                ],
            },
            {
                "id": "spending_priorities",
                "text": "Rank these areas by how much new public money each should get, most "
                "first.",
                "type": "ranking",
                "options": ["Health care", "Education", "Public safety", "The environment"],
            },
        ],
    }


def people(n: int) -> list[Persona]:
    sexes, parties = ("female", "male"), ("democrat", "republican", "independent")
    return [
        Persona(
            id=f"r{i:02d}",
            template="survey_respondent",
            attributes={"age": 20 + 3 * i, "sex": sexes[i % 2], "party": parties[i % 3]},
        )
        for i in range(n)
    ]


def vs_reply(*pairs: tuple[str, float]) -> str:
    return json.dumps({"responses": [{"text": t, "probability": p} for t, p in pairs]})


def of_kind(path: Path, kind: type) -> list[Any]:
    return [e for e in read_events(path) if isinstance(e, kind)]


TWO_QUESTIONS = {
    "questions": [
        {
            "id": "q1",
            "text": "Do you own a car?",
            "type": "single_choice",
            "options": ["Yes", "No"],
        },
        {
            "id": "q2",
            "text": "How often do you drive?",
            "type": "scale",
            "options": ["Never", "Sometimes", "Daily"],
            "show_if": {"question": "q1", "values": ["Yes"]},
        },
    ]
}


# -- the example questionnaire ----------------------------------------------------------------
def test_example_file_matches_the_fixture_and_round_trips(
    opinion_questions: dict[str, Any],
) -> None:
    from_file = load_questionnaire(EXAMPLE)
    assert from_file == Questionnaire.from_dict(opinion_questions)
    assert len(from_file) == 12
    assert {q.type for q in from_file.questions} == {
        "scale",
        "single_choice",
        "numeric",
        "multi_select",
        "ranking",
        "open_text",
    }
    assert Questionnaire.from_dict(yaml.safe_load(from_file.to_yaml())) == from_file


# -- every question type end to end on the offline model --------------------------------------
def test_every_question_type_end_to_end_offline(
    tmp_path: Path, opinion_questions: dict[str, Any]
) -> None:
    log = tmp_path / "events.jsonl"
    result = run_survey(opinion_questions, people(9), log_path=log, seed=5, progress=False)
    assert (result.run.completed, result.run.failed) == (9, 0)
    q = result.questionnaire
    answers = {(a.conversation_id, a.question_id): a for a in of_kind(log, Answer)}
    assert len(answers) == 9 * 12
    for (_, qid), a in answers.items():
        question = q.question(qid)
        if a.skipped:
            assert qid == "climate_action"
            continue
        assert a.matched, a
        if question.type in ("scale", "single_choice"):
            assert a.value in question.option_texts
            assert set(a.soft) == set(question.option_texts)
            assert sum(a.soft.values()) == pytest.approx(1.0)
        elif question.type == "numeric":
            assert 0 <= a.value <= 16 and not a.out_of_range
            assert sum(a.soft.values()) == pytest.approx(1.0)
        elif question.type == "multi_select":
            assert a.value and set(a.value) <= set(question.option_texts)
        elif question.type == "ranking":
            assert a.value and set(a.value) <= set(question.option_texts)
            assert sum(a.soft.values()) == pytest.approx(1.0)
        else:
            assert isinstance(a.value, str) and a.value == a.raw
    # skip logic: the open question follows the worry answer exactly
    for rid in {r for r, _ in answers}:
        worried = answers[(rid, "climate_worry")].value in ("Somewhat worried", "Very worried")
        assert answers[(rid, "climate_action")].skipped is (not worried)
    # each asked question logged its call(s), distribution and draw under the question's id
    asked = Counter(qid for (_, qid), a in answers.items() if not a.skipped)
    assert Counter(e.purpose for e in of_kind(log, DistributionRecorded)) == asked
    assert Counter(e.purpose for e in of_kind(log, Choice)) == asked
    assert Counter(e.purpose for e in of_kind(log, ModelCall)) == asked
    started = of_kind(log, ConversationStarted)
    assert {s.participants[0].attributes["party"] for s in started} == {
        "democrat",
        "republican",
        "independent",
    }


def test_hard_answer_is_drawn_with_the_addressed_draw(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    run_survey(EXAMPLE, people(4), log_path=log, seed=11, progress=False)
    dists = {(e.conversation_id, e.purpose): e for e in of_kind(log, DistributionRecorded)}
    choices = {(e.conversation_id, e.purpose): e for e in of_kind(log, Choice)}
    for a in of_kind(log, Answer):
        if a.skipped:
            continue
        key = (a.conversation_id, a.question_id)
        dist = Distribution(
            candidates=[
                Candidate(text=c.text, weight=c.weight, probability=c.probability)
                for c in dists[key].candidates
            ]
        )
        index = dist.index_for(derive_uniform(11, a.conversation_id, a.question_id, "answer"))
        assert choices[key].index == index
        assert a.raw == dist.candidates[index].text
        assert choices[key].rng_key == [a.conversation_id, a.question_id, "answer"]


def test_same_seed_same_answers_different_seed_different(tmp_path: Path) -> None:
    def values(seed: int, name: str, concurrency: int) -> dict[tuple[str, str], Any]:
        log = tmp_path / name
        run_survey(
            EXAMPLE, people(12), log_path=log, seed=seed, progress=False, concurrency=concurrency
        )
        return {(a.conversation_id, a.question_id): a.value for a in of_kind(log, Answer)}

    first = values(1, "a.jsonl", 16)
    assert values(1, "b.jsonl", 1) == first
    assert values(2, "c.jsonl", 16) != first


# -- reading answers through a scripted model -------------------------------------------------
def one_question(qtype: str, **extra: Any) -> dict[str, Any]:
    question: dict[str, Any] = {"id": "q", "text": "Pick.", "type": qtype, **extra}
    return {"questions": [question]}


def ask_once(tmp_path: Path, questionnaire: dict[str, Any], *replies: str, **kw: Any) -> Answer:
    model = ScriptedModel(replies=list(replies))
    log = tmp_path / "one.jsonl"
    run_survey(questionnaire, people(1), model=model, log_path=log, progress=False, **kw)
    (answer,) = of_kind(log, Answer)
    return answer


def test_soft_answer_sums_options_and_keeps_unmatched_mass(tmp_path: Path) -> None:
    reply = vs_reply(("B", 0.5), ("agree.", 0.2), ("Strongly agre", 0.1), ("Who knows", 0.2))
    scale = one_question("scale", options=["Disagree", "Neutral", "Agree", "Strongly agree"])
    a = ask_once(tmp_path, scale, reply)
    assert a.soft == pytest.approx(
        {"Disagree": 0.0, "Neutral": 0.5, "Agree": 0.2, "Strongly agree": 0.1}
    )
    assert [(c.text, c.probability) for c in a.unmatched] == [("Who knows", pytest.approx(0.2))]
    assert a.unmatched[0].weight == pytest.approx(0.2)


def test_an_unmatched_draw_is_recorded_not_replaced(tmp_path: Path) -> None:
    a = ask_once(
        tmp_path,
        one_question("single_choice", options=["Yes", "No"]),
        vs_reply(("Maybe later, I guess", 1.0)),
    )
    assert (a.matched, a.value, a.raw) == (False, None, "Maybe later, I guess")
    assert a.soft == {"Yes": 0.0, "No": 0.0}
    assert a.unmatched[0].text == "Maybe later, I guess"


@pytest.mark.parametrize(
    ("qtype", "extra", "reply", "value", "how"),
    [
        ("single_choice", {"options": ["Red", "Green", "Blue"]}, "2)", "Green", "label"),
        ("single_choice", {"options": ["Red", "Green", "Blue"]}, "blue!", "Blue", "normalized"),
        ("numeric", {"min": 0, "max": 10}, "about $7.50", 7.5, "number"),
        (
            "multi_select",
            {"options": ["Red", "Green", "Blue"]},
            "Blue and red",
            ["Red", "Blue"],
            "list",
        ),
        (
            "ranking",
            {"options": ["Red", "Green", "Blue"]},
            "Blue > Red > Green",
            ["Blue", "Red", "Green"],
            "list",
        ),
        ("open_text", {}, "  Something heartfelt. ", "Something heartfelt.", "text"),
        ("multi_select", {"options": ["Red", "Blue"], "min_select": 0}, "None", [], "none"),
    ],
)
def test_each_type_reads_its_candidates(
    tmp_path: Path, qtype: str, extra: dict[str, Any], reply: str, value: Any, how: str
) -> None:
    a = ask_once(tmp_path, one_question(qtype, **extra), vs_reply((reply, 1.0)))
    assert (a.value, a.matched, a.matched_by) == (value, True, how)


def test_numeric_out_of_range_is_recorded(tmp_path: Path) -> None:
    a = ask_once(tmp_path, one_question("numeric", min=0, max=10), vs_reply(("25", 1.0)))
    assert (a.value, a.matched, a.out_of_range) == (25.0, True, True)


def test_multi_select_outside_its_limits_is_unmatched(tmp_path: Path) -> None:
    q = one_question("multi_select", options=["A1", "B1", "C1"], max_select=2)
    a = ask_once(tmp_path, q, vs_reply(("A1; B1; C1", 0.6), ("A1", 0.4)), seed=0)
    assert a.soft == pytest.approx({"A1": 0.4, "B1": 0.0, "C1": 0.0})
    assert [c.text for c in a.unmatched] == ["A1; B1; C1"]


def test_multi_select_marginals_and_ranking_first_choice(tmp_path: Path) -> None:
    multi = one_question("multi_select", options=["Tea", "Coffee", "Juice"])
    a = ask_once(tmp_path, multi, vs_reply(("Tea; Coffee", 0.7), ("Coffee", 0.3)))
    assert a.soft == pytest.approx({"Tea": 0.7, "Coffee": 1.0, "Juice": 0.0})
    (tmp_path / "one.jsonl").unlink()
    rank = one_question("ranking", options=["Tea", "Coffee", "Juice"])
    b = ask_once(tmp_path, rank, vs_reply(("Tea > Juice > Coffee", 0.6), ("Juice, Tea", 0.4)))
    assert b.soft == pytest.approx({"Tea": 0.6, "Coffee": 0.0, "Juice": 0.4})


def test_an_unreadable_reply_is_logged_as_an_error(tmp_path: Path) -> None:
    a = ask_once(tmp_path, one_question("single_choice", options=["Yes", "No"]), "", "")
    assert a.error is not None and a.error.startswith("ParseError")
    assert (a.matched, a.value, a.skipped) == (False, None, False)


def test_k_defaults_to_the_number_of_options_and_can_be_set(tmp_path: Path) -> None:
    def systems(k: int | None, q_k: int | None = None) -> list[str]:
        model = ScriptedModel()
        q: dict[str, Any] = {
            "questions": [
                {"id": "a", "text": "A?", "type": "scale", "options": ["x", "y", "z"]},
                {"id": "b", "text": "B?", "type": "numeric", "min": 0, "max": 9},
            ]
        }
        if q_k is not None:
            q["questions"][0]["k"] = q_k
        path = tmp_path / f"k{k}-{q_k}.jsonl"
        run_survey(q, people(1), model=model, k=k, log_path=path, progress=False)
        return [r.messages[0]["content"] for r in model.history]

    default = systems(None)
    assert "3 responses" in default[0] and "5 responses" in default[1]
    assert all("2 responses" in s for s in systems(2))
    overridden = systems(2, q_k=4)
    assert "4 responses" in overridden[0] and "2 responses" in overridden[1]


def test_persona_is_the_system_prompt_and_options_are_listed(tmp_path: Path) -> None:
    model = ScriptedModel()
    person = people(1)
    run_survey(TWO_QUESTIONS, person, model=model, log_path=tmp_path / "l.jsonl", progress=False)
    messages = model.history[0].messages
    assert messages[0]["role"] == "system"
    assert messages[0]["content"].startswith(person[0].render())
    assert messages[-1]["content"].endswith("Options:\n- Yes\n- No")


def test_a_custom_template_replaces_the_question_prompt(tmp_path: Path) -> None:
    model = ScriptedModel()
    template = "Q{{ number }}/{{ total }}: {{ question.text }}"
    run_survey(
        TWO_QUESTIONS,
        people(1),
        model=model,
        template=template,
        log_path=tmp_path / "l.jsonl",
        progress=False,
    )
    assert model.history[0].messages[-1]["content"] == "Q1/2: Do you own a car?"
    template_file = tmp_path / "q.j2"
    template_file.write_text("{{ question.id }} {% if %}", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"q\.j2"):
        Survey(TWO_QUESTIONS, template=template_file)


# -- skip logic and interview memory ----------------------------------------------------------
def test_skip_logic_on_numeric_options(tmp_path: Path) -> None:
    q = {
        "questions": [
            {"id": "a", "text": "Rate", "type": "scale", "options": [1, 2, 3]},
            {
                "id": "b",
                "text": "Why?",
                "type": "open_text",
                "show_if": {"question": "a", "values": [3]},
            },
        ]
    }
    model = ScriptedModel(replies=[vs_reply(("3", 1.0)), vs_reply(("Because", 1.0))])
    log = tmp_path / "l.jsonl"
    run_survey(q, people(1), model=model, log_path=log, progress=False)
    assert [(a.question_id, a.value, a.skipped) for a in of_kind(log, Answer)] == [
        ("a", "3", False),
        ("b", "Because", False),
    ]


@pytest.mark.parametrize(("first", "asked"), [("Yes", True), ("No", False)])
def test_skip_logic_follows_the_earlier_answer(tmp_path: Path, first: str, asked: bool) -> None:
    model = ScriptedModel(replies=[vs_reply((first, 1.0)), vs_reply(("Daily", 1.0))])
    log = tmp_path / "l.jsonl"
    run_survey(TWO_QUESTIONS, people(1), model=model, log_path=log, progress=False)
    q2 = next(a for a in of_kind(log, Answer) if a.question_id == "q2")
    assert q2.skipped is (not asked)
    assert len(model.history) == (2 if asked else 1)
    assert [e.purpose for e in of_kind(log, ModelCall)] == (["q1", "q2"] if asked else ["q1"])


def test_interview_mode_shows_earlier_questions_and_answers(tmp_path: Path) -> None:
    model = ScriptedModel(replies=[vs_reply(("Yes", 1.0)), vs_reply(("Daily", 1.0))])
    survey = Survey(TWO_QUESTIONS)
    run_survey(
        TWO_QUESTIONS,
        people(1),
        model=model,
        mode="interview",
        log_path=tmp_path / "l.jsonl",
        progress=False,
    )
    second = [m for m in model.history[1].messages if m["role"] != "system"]
    assert second == [
        {"role": "user", "content": survey.prompts["q1"]},
        {"role": "assistant", "content": "Yes"},
        {"role": "user", "content": survey.prompts["q2"]},
    ]


def test_independent_mode_asks_each_question_fresh(tmp_path: Path) -> None:
    model = ScriptedModel(replies=[vs_reply(("Yes", 1.0)), vs_reply(("Daily", 1.0))])
    run_survey(TWO_QUESTIONS, people(1), model=model, log_path=tmp_path / "l.jsonl", progress=False)
    second = [m for m in model.history[1].messages if m["role"] != "system"]
    assert len(second) == 1 and "How often do you drive?" in second[0]["content"]


def test_interview_mode_from_the_questionnaire_itself(tmp_path: Path) -> None:
    survey = Survey({**TWO_QUESTIONS, "mode": "interview"})
    assert survey.mode == "interview"
    assert Survey({**TWO_QUESTIONS, "mode": "interview"}, mode="independent").mode == "independent"
    with pytest.raises(ConfigError, match="mode"):
        Survey(TWO_QUESTIONS, mode="chatty")  # type: ignore[arg-type]


# -- resume ----------------------------------------------------------------------------------
def _truncate_after(log: Path, keep: Any) -> set[tuple[str, str]]:
    """Cut the log after the first line where ``keep(event)`` is true; return answered keys."""
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    events = [json.loads(line) for line in lines]
    cut = next(i for i, e in enumerate(events) if keep(e)) + 1
    log.write_text("".join(lines[:cut]), encoding="utf-8")
    return {(e["conversation_id"], e["question_id"]) for e in events[:cut] if e["kind"] == "answer"}


@pytest.mark.parametrize("cut_at", ["answer", "distribution"])
def test_resume_asks_only_what_is_missing(tmp_path: Path, cut_at: str) -> None:
    full = tmp_path / "full.jsonl"
    run_survey(EXAMPLE, people(3), log_path=full, seed=4, progress=False, concurrency=1)
    expected = {(a.conversation_id, a.question_id): a.value for a in of_kind(full, Answer)}

    log = tmp_path / "cut.jsonl"
    log.write_text(full.read_text(encoding="utf-8"), encoding="utf-8")
    seen: list[str] = []

    def keep(e: dict[str, Any]) -> bool:
        if e.get("conversation_id") == "r01" and e["kind"] == cut_at:
            seen.append(e.get("question_id") or e.get("purpose"))
        return len(seen) == 4

    answered = _truncate_after(log, keep)
    before = len(log.read_text(encoding="utf-8").splitlines())
    result = run_survey(EXAMPLE, people(3), log_path=log, seed=4, progress=False, resume=True)
    assert (result.run.skipped, result.run.completed) == (1, 2)  # r00 had ended already

    new = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()[before:]]
    new_calls = {(e["conversation_id"], e["purpose"]) for e in new if e["kind"] == "model_call"}
    assert not new_calls & answered
    if cut_at == "distribution":  # the logged distribution is finished without a new call
        assert ("r01", seen[-1]) not in new_calls
        assert not any(
            e["kind"] == "distribution"
            and (e["conversation_id"], e["purpose"]) == ("r01", seen[-1])
            for e in new
        )
    final = of_kind(log, Answer)
    assert Counter((a.conversation_id, a.question_id) for a in final).most_common(1)[0][1] == 1
    assert {(a.conversation_id, a.question_id): a.value for a in final} == expected
    assert len(of_kind(log, ConversationStarted)) == 3
    assert {e.conversation_id for e in of_kind(log, ConversationEnded)} == {"r00", "r01", "r02"}


# -- the unit on its own (a tiny driver, no runner) -------------------------------------------
def test_a_respondent_runs_with_any_context(tmp_path: Path) -> None:
    from vs_sim.events import EventLog

    survey = Survey(TWO_QUESTIONS)
    (person,) = people(1)
    path = tmp_path / "unit.jsonl"
    with EventLog(path) as log:
        ctx = RunContext(seed=0, model=OfflineModel(), log=log, run_id="test")
        reason = asyncio.run(survey.respondent(person).run(ctx, []))
    assert reason == "questionnaire_completed"
    kinds = [e.kind for e in read_events(path)]
    assert kinds[0] == "conversation_started" and kinds.count("answer") == 2


def test_duplicate_persona_ids_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"personas\[1\]"):
        Survey(TWO_QUESTIONS).respondents([people(1)[0], people(1)[0]])


def test_bad_method_or_option_fails_before_any_call() -> None:
    with pytest.raises(ConfigError, match="vs_nope"):
        Survey(TWO_QUESTIONS, method="vs_nope")
    with pytest.raises(ConfigError, match="wording"):
        Survey(TWO_QUESTIONS, verbalize_options={"wording": "loud"})
    with pytest.raises(ConfigError, match="on_call"):
        Survey(TWO_QUESTIONS, verbalize_options={"on_call": print})
    assert Survey(TWO_QUESTIONS, verbalize_options={"tau": 0.1, "wording": "implicit"})
