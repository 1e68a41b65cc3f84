"""Focus groups end to end: stances before and after, moderator-led turns, the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from vs_sim.errors import ConfigError
from vs_sim.events import (
    Answer,
    ConversationStarted,
    DistributionRecorded,
    Event,
    ModelCall,
    Utterance,
    read_events,
)
from vs_sim.models.base import Completion, Request
from vs_sim.personas import Persona
from vs_sim.population import Population
from vs_sim.runner import run_units
from vs_sim.tasks.focus_group import (
    DEFAULT_POPULATION,
    LIKERT_BUY,
    FocusGroupConfig,
    build_focus_group_units,
    focus_group_report,
)
from vs_sim.tasks.focus_group_analysis import expected_position

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "the Aura smart water bottle"


def adults(n: int = 5, seed: int = 1) -> list[Persona]:
    return Population.from_yaml(ROOT / DEFAULT_POPULATION).sample(n, seed)


def config(**kw: Any) -> FocusGroupConfig:
    return FocusGroupConfig.model_validate({"topic": TOPIC, "max_turns": 8, **kw})


def run(
    tmp: Path,
    cfg: FocusGroupConfig,
    people: list[Persona],
    *,
    seed: int = 3,
    model: Any = "offline/demo",
    name: str = "events.jsonl",
) -> list[Event]:
    units = build_focus_group_units(cfg, people, seed=1)
    result = run_units(units, model=model, seed=seed, log_path=tmp / name, progress=False)
    assert result.failed == 0, result.errors
    return list(read_events(tmp / name))


def answers(events: list[Event]) -> dict[str, Answer]:
    return {e.question_id: e for e in events if isinstance(e, Answer)}


def test_each_participant_answers_before_and_after(tmp_path: Path) -> None:
    people = adults(5)
    events = run(tmp_path, config(), people)
    got = answers(events)
    assert len(got) == 10
    for p in people:
        pre, post = got[f"purchase_intent.pre.{p.id}"], got[f"purchase_intent.post.{p.id}"]
        assert (pre.agent_id, pre.turn, post.agent_id, post.turn) == (p.id, 0, p.id, 8)
        for a in (pre, post):
            assert a.value in LIKERT_BUY and a.matched
            assert set(a.soft) == set(LIKERT_BUY)
            assert sum(a.soft.values()) == pytest.approx(1.0)
    # the pre-discussion stances come after the group is started and before anyone speaks
    start = next(i for i, e in enumerate(events) if isinstance(e, ConversationStarted))
    first = next(i for i, e in enumerate(events) if isinstance(e, Utterance))
    asked = [i for i, e in enumerate(events) if isinstance(e, Answer) and ".pre." in e.question_id]
    assert start < min(asked) and max(asked) < first
    assert sum(isinstance(e, ConversationStarted) for e in events) == 1
    purposes = {e.purpose for e in events if isinstance(e, ModelCall)}
    assert purposes == {"utterance", "stance.pre", "stance.post"}


def test_turns_follow_the_moderator(tmp_path: Path) -> None:
    people = adults(5)
    events = run(tmp_path, config(), people)
    started = next(e for e in events if isinstance(e, ConversationStarted))
    assert started.meta["spec"]["scheduler"] == {"name": "moderator_led", "moderator": "moderator"}
    utterances = [e for e in events if isinstance(e, Utterance)]
    names = {p.agent_id: p.name for p in started.participants}
    assert [u.speaker for u in utterances[::2]] == ["moderator"] * (len(utterances) // 2)
    # the offline moderator asks a participant by name; that participant answers next
    for ask, answer in zip(utterances[::2], utterances[1::2]):
        assert ask.text.startswith(names[answer.speaker] + ","), (ask.text, answer.speaker)


class NamingModerator:
    """The moderator always asks the same participant; everyone else answers plainly."""

    name = "scripted/moderator"
    supports_json_schema = False

    def __init__(self, asks: str) -> None:
        self.asks = asks

    async def acomplete(self, request: Request) -> Completion:
        system = request.messages[0]["content"]
        last = request.messages[-1]["content"]
        if "Options:" in last:
            texts = ["Somewhat likely", "Very likely"]
            body = {"responses": [{"text": t, "probability": 0.5} for t in texts]}
            return Completion(text=json.dumps(body), model=self.name)
        if "focus group moderator" in system:
            return Completion(text=f"{self.asks}, what do you think?", model=self.name)
        body = {"responses": [{"text": "I like it.", "probability": 1.0}]}
        return Completion(text=json.dumps(body), model=self.name)


def test_the_named_participant_answers_the_moderator(tmp_path: Path) -> None:
    cfg = config(participants=3, participant={"names": ["Ana", "Ben", "Cy"]})
    events = run(tmp_path, cfg, adults(3), model=NamingModerator("Cy"))
    started = next(e for e in events if isinstance(e, ConversationStarted))
    names = {p.agent_id: p.name for p in started.participants}
    spoken = [names[e.speaker] for e in events if isinstance(e, Utterance)]
    assert spoken == ["Moderator", "Cy"] * 4
    notes = [e.note for e in events if isinstance(e, Utterance)]
    assert notes == [None] * 8


def test_stances_after_each_own_turn(tmp_path: Path) -> None:
    people = adults(5)
    events = run(tmp_path, config(stance={"after_each_turn": True}), people)
    got = answers(events)
    turns = [e for e in events if isinstance(e, Utterance) and e.speaker != "moderator"]
    assert len(turns) == 4
    for u in turns:
        a = got[f"purchase_intent.turn{u.turn + 1}.{u.speaker}"]
        assert a.turn == u.turn + 1 and a.agent_id == u.speaker
    dists = [e for e in events if isinstance(e, DistributionRecorded)]
    assert {d.purpose for d in dists} == {"utterance", "stance.pre", "stance.turn", "stance.post"}


def test_same_seed_same_stances(tmp_path: Path) -> None:
    people = adults(10)
    cfg = config()
    a = run(tmp_path, cfg, people, name="a.jsonl")
    b = run(tmp_path, cfg, people, name="b.jsonl")
    c = run(tmp_path, cfg, people, seed=4, name="c.jsonl")
    value = {k: v.value for k, v in answers(a).items()}
    assert value == {k: v.value for k, v in answers(b).items()}
    assert value != {k: v.value for k, v in answers(c).items()}
    assert {e.conversation_id for e in a if isinstance(e, ConversationStarted)} == {
        "focus_group_1",
        "focus_group_2",
    }


def test_report_lists_each_participants_stance_change(tmp_path: Path) -> None:
    people = adults(5)
    events = run(tmp_path, config(stance={"after_each_turn": True}), people)
    got = answers(events)
    report = focus_group_report(tmp_path / "events.jsonl", min_shift=0.0)
    assert report.question_id == "purchase_intent" and report.options == LIKERT_BUY
    (group,) = report.groups
    assert group.turns == 8
    assert [p.agent_id for p in group.participants] == [p.id for p in people]
    for p in group.participants:
        pre, post = (
            got[f"purchase_intent.pre.{p.agent_id}"],
            got[f"purchase_intent.post.{p.agent_id}"],
        )
        want = expected_position(post.soft, LIKERT_BUY)
        assert want is not None
        assert p.shift == pytest.approx(want - expected_position(pre.soft, LIKERT_BUY))  # type: ignore[operator]
        assert p.pre is not None and p.pre.value == pre.value
        assert p.drawn_shift == LIKERT_BUY.index(post.value) - LIKERT_BUY.index(pre.value)
        moments = [m.moment for m in p.measures]
        assert moments[0] == "pre" and moments[-1] == "post"
        assert len(p.moves) == len(p.measures) - 1  # min_shift 0: every change is a move
    top = group.moved_most
    assert top is not None
    assert abs(top.shift or 0) == max(abs(p.shift or 0) for p in group.participants)
    first = group.participants[0]
    move = first.moves[0]  # pre → after its first turn: what it had heard and said
    assert (move.before, move.after) == ("pre", "turn2")
    assert [t for t, _, _ in move.preceding] == [0, 1]
    assert move.preceding[1][1] == first.name
    d = report.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["groups"][0]["moved_most"] == top.agent_id
    assert len(d["groups"][0]["participants"]) == 5
    md = report.to_markdown()
    assert md.startswith("## Focus group: stance changes")
    for p in group.participants:
        assert f"| {p.name} ({p.agent_id}) |" in md
    assert f"Moved most: {top.name}" in md
    assert "turn 1, " + first.name in md


def test_expected_position_by_hand() -> None:
    options = ("a", "b", "c")
    assert expected_position({"a": 0.5, "c": 0.5}, options) == 2.0
    assert expected_position({"b": 0.2, "c": 0.2}, options) == pytest.approx(2.5)  # renormalized
    assert expected_position({"zzz": 1.0}, options) is None


def test_names_follow_sex_and_stay_unique() -> None:
    people = [
        Persona(id=f"q{i}", template="survey_respondent", attributes={"age": 40, "sex": sex})
        for i, sex in enumerate(["female", "female", "male"])
    ]
    named = Persona(
        id="q9", template="survey_respondent", attributes={"age": 50, "sex": "male", "name": "Zed"}
    )
    (unit,) = build_focus_group_units(config(participants=4), [*people, named], seed=1)
    agents = unit.conversation.agents
    assert [a.name for a in agents] == ["Moderator", "Maria", "Aisha", "James", "Zed"]
    prompt = agents[0].system_prompt()
    assert "The participants are Maria, Aisha, James, Zed." in prompt
    assert "1. Ask everyone to introduce themselves" in prompt and TOPIC in prompt
    assert agents[1].system_prompt().startswith("You are Maria, a 40-year-old")
    assert f"focus group about {TOPIC}" in agents[1].system_prompt()


def test_configuration_errors_say_where() -> None:
    with pytest.raises(ConfigError, match=r"focus_group\.participants.*7 personas"):
        build_focus_group_units(config(), adults(7), seed=1)
    with pytest.raises(ConfigError, match=r"focus_group\.participant\.template"):
        build_focus_group_units(
            config(participants=1, participant={"template": "survey_respondent"}),
            adults(1),
            seed=1,
        )
    with pytest.raises(ValidationError, match="topic"):
        config(guide=["Ask about {product}"])
    with pytest.raises(ValidationError, match="options"):
        config(stance={"options": ["only one"]})
    with pytest.raises(ValidationError, match="extra"):
        config(stance={"question": "x"})
    with pytest.raises(ConfigError, match="repeat"):
        people = adults(1)
        build_focus_group_units(config(participants=2), people * 2, seed=1)


def test_a_short_section_works_with_defaults() -> None:
    cfg = FocusGroupConfig.model_validate({"topic": TOPIC})
    assert cfg.participants == 5 and cfg.stance.options == list(LIKERT_BUY)
    survey = cfg.stance_survey()
    assert f"How likely are you to buy {TOPIC}?" in survey.prompts["purchase_intent"]
    assert "Options:\n- Very unlikely" in survey.prompts["purchase_intent"]
    assert len(build_focus_group_units(cfg, adults(5), seed=1)) == 1


def test_resume_after_a_kill_gives_the_same_stances(tmp_path: Path) -> None:
    people = adults(5)
    cfg = config(stance={"after_each_turn": True})
    whole = run(tmp_path, cfg, people, name="whole.jsonl")
    lines = (tmp_path / "whole.jsonl").read_text().splitlines(keepends=True)
    # killed in the middle of the discussion (after the third utterance)
    cut = [i for i, line in enumerate(lines) if '"kind":"utterance"' in line][2]
    killed = tmp_path / "killed.jsonl"
    killed.write_text("".join(lines[: cut + 1]))
    units = build_focus_group_units(cfg, people, seed=1)
    run_units(units, model="offline/demo", seed=3, log_path=killed, progress=False, resume=True)
    resumed = list(read_events(killed))
    assert {k: v.value for k, v in answers(resumed).items()} == {
        k: v.value for k, v in answers(whole).items()
    }
    assert sum(isinstance(e, ConversationStarted) for e in resumed) == 1
    assert [e.text for e in resumed if isinstance(e, Utterance)] == [
        e.text for e in whole if isinstance(e, Utterance)
    ]
