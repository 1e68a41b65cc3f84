"""Persuasion dialogues end to end: events, donations, determinism, resume, configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from vs_sim.errors import AttributeValidationError, ConfigError
from vs_sim.events import (
    Answer,
    Choice,
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
from vs_sim.seeds import derive_uniform
from vs_sim.tasks.persuasion import (
    DonationReader,
    PersuasionConfig,
    build_persuasion_units,
    persuasion_report,
)

ROOT = Path(__file__).resolve().parent.parent
P4G = ROOT / "personas" / "populations" / "p4g_persuadees.yaml"


def persuadees(n: int = 5, seed: int = 1) -> list[Persona]:
    return Population.from_yaml(P4G).sample(n, seed)


def run(
    tmp: Path,
    config: PersuasionConfig,
    people: list[Persona],
    *,
    seed: int = 3,
    model: Any = "offline/demo",
    name: str = "events.jsonl",
    **kw: Any,
) -> list[Event]:
    log = tmp / name
    units = build_persuasion_units(config, people, seed=1)
    result = run_units(units, model=model, seed=seed, log_path=log, progress=False, **kw)
    assert result.failed == 0, result.errors
    return list(read_events(log))


def of(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def donations(events: list[Event], question: str = "donation") -> dict[str, Any]:
    return {e.conversation_id: e.value for e in of(events, Answer) if e.question_id == question}


def test_a_small_run_logs_dialogues_and_both_donations(tmp_path: Path) -> None:
    people = persuadees(5)
    events = run(tmp_path, PersuasionConfig(max_turns=4), people)
    ids = [p.id for p in people]
    started = of(events, ConversationStarted)
    assert [s.conversation_id for s in started] == ids or sorted(
        s.conversation_id for s in started
    ) == sorted(ids)
    for s in started:
        assert s.meta["task"] == "persuasion" and s.meta["dialogue_id"] == s.conversation_id
        roles = {p.role: p for p in s.participants}
        assert roles["persuadee"].persona_id == s.conversation_id
        assert roles["persuadee"].attributes["payment"] == 2.0
        assert roles["persuader"].template == "persuader"
    for cid in ids:
        turns = [u for u in of(events, Utterance) if u.conversation_id == cid]
        assert [u.speaker for u in turns] == ["persuader", "persuadee"] * 2
    answers = donations(events)
    assert set(answers) == set(ids)
    assert all(0.0 <= v <= 2.0 for v in answers.values())
    for a in of(events, Answer):
        if a.question_id == "donation":
            assert a.matched and a.matched_by == "number" and a.agent_id == "persuadee"
            assert a.turn == 4
            assert sum(a.soft.values()) == pytest.approx(1.0)
    # the offline model never states an amount in the chat: recorded, not dropped
    text = [a for a in of(events, Answer) if a.question_id == "donation_text"]
    assert len(text) == 5 and all(a.value is None and not a.matched for a in text)
    purposes = {c.purpose for c in of(events, ModelCall)}
    assert purposes == {"utterance", "donation"}


def test_the_donation_is_drawn_with_its_addressed_draw(tmp_path: Path) -> None:
    events = run(tmp_path, PersuasionConfig(max_turns=2), persuadees(3), seed=9)
    dists = {
        d.conversation_id: d for d in of(events, DistributionRecorded) if d.purpose == "donation"
    }
    for choice in of(events, Choice):
        if choice.purpose != "donation":
            continue
        cid = choice.conversation_id
        assert choice.rng_key == [cid, "donation"]
        probs = [c.probability for c in dists[cid].candidates]
        cdf = np.cumsum(probs)
        u = derive_uniform(9, cid, "donation")
        expected = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
        drawn_text = dists[cid].candidates[choice.index].text
        assert choice.index == min(expected, len(probs) - 1)
        assert donations(events)[cid] == pytest.approx(float(drawn_text))


def test_policies_default_to_direct_persuader_and_vs_persuadee(tmp_path: Path) -> None:
    events = run(tmp_path, PersuasionConfig(max_turns=2), persuadees(1))
    methods = {
        (d.speaker, d.purpose): (d.method, len(d.candidates))
        for d in of(events, DistributionRecorded)
    }
    assert methods[("persuader", "utterance")] == ("direct", 1)
    assert methods[("persuadee", "utterance")] == ("vs_standard", 5)
    assert methods[("persuadee", "donation")][0] == "vs_standard"


def test_same_seed_same_donations_and_another_seed_differs(tmp_path: Path) -> None:
    people = persuadees(6)
    config = PersuasionConfig(max_turns=4)
    a = run(tmp_path, config, people, seed=5, name="a.jsonl")
    b = run(tmp_path, config, people, seed=5, name="b.jsonl", concurrency=1)
    c = run(tmp_path, config, people, seed=6, name="c.jsonl")
    assert donations(a) == donations(b)
    texts = sorted((u.conversation_id, u.turn, u.text) for u in of(a, Utterance))
    assert texts == sorted((u.conversation_id, u.turn, u.text) for u in of(b, Utterance))
    assert donations(a) != donations(c)


def test_resume_after_a_kill_finishes_with_the_same_donations(tmp_path: Path) -> None:
    people = persuadees(3)
    config = PersuasionConfig(max_turns=4)
    whole = run(tmp_path, config, people, seed=4, name="whole.jsonl", concurrency=1)
    lines = (tmp_path / "whole.jsonl").read_text().splitlines(keepends=True)
    # kill the run right after the second dialogue's donation distribution was logged
    cut = [
        i
        for i, line in enumerate(lines)
        if '"kind":"distribution"' in line and '"purpose":"donation"' in line
    ][1]
    killed = tmp_path / "killed.jsonl"
    killed.write_text("".join(lines[: cut + 1]))
    units = build_persuasion_units(config, people, seed=1)
    result = run_units(
        units, model="offline/demo", seed=4, log_path=killed, progress=False, resume=True
    )
    assert result.skipped == 1 and result.completed == 2
    resumed = list(read_events(killed))
    assert donations(resumed) == donations(whole)
    assert donations(resumed, "donation_text") == donations(whole, "donation_text")
    for kind in (ConversationStarted, Choice):
        assert len(of(resumed, kind)) == len(of(whole, kind))
    calls = [c for c in of(resumed, ModelCall) if c.purpose == "donation"]
    assert len(calls) == 3  # the logged distribution was reused, not asked again


class TalkativeDonor:
    """A model whose persuadee says a donation in the chat, then answers another amount."""

    name = "scripted/donor"
    supports_json_schema = False

    def __init__(self, said: str, answered: list[str]) -> None:
        self.said = said
        self.answered = answered

    async def acomplete(self, request: Request) -> Completion:
        messages = request.messages
        system = messages[0]["content"]
        last = messages[-1]["content"]
        if "Range: 0 to" in last:
            texts = self.answered
        elif "persuade them" in system:
            return Completion(
                text="Would you donate a little to Save the Children?", model=self.name
            )
        else:
            texts = [self.said] * 2
        k = len(texts)
        body = {"responses": [{"text": t, "probability": round(1 / k, 3)} for t in texts]}
        return Completion(text=json.dumps(body), model=self.name)


def test_stated_and_answered_donations_are_both_kept_and_compared(tmp_path: Path) -> None:
    model = TalkativeDonor("Ok, I'll donate $1 to them.", ["$0.20", "20 cents"])
    people = persuadees(2)
    events = run(tmp_path, PersuasionConfig(max_turns=4), people, model=model)
    stated = [a for a in of(events, Answer) if a.question_id == "donation_text"]
    assert {(a.value, a.matched_by, a.raw, a.turn) for a in stated} == {
        (1.0, "amount", "Ok, I'll donate $1 to them.", 3)
    }
    assert set(donations(events).values()) == {0.2}
    report = persuasion_report(tmp_path / "events.jsonl", real={})
    assert report.disagreements() == {"threshold": 0.05, "both": 2, "differ": 2, "share": 1.0}
    assert report.stated_donations.tolist() == [1.0, 1.0]
    assert report.donations.tolist() == [0.2, 0.2]


def test_out_of_range_and_unreadable_answers_are_flagged_not_dropped(tmp_path: Path) -> None:
    model = TalkativeDonor("Hmm, let me think.", ["I'd give $5", "I am not sure"])
    events = run(tmp_path, PersuasionConfig(max_turns=2), persuadees(4), model=model, seed=0)
    answers = [a for a in of(events, Answer) if a.question_id == "donation"]
    assert len(answers) == 4
    for a in answers:
        assert a.soft == {"5": pytest.approx(0.5)}
        assert [u.text for u in a.unmatched] == ["I am not sure"]
        if a.matched:
            assert a.value == 5.0 and a.out_of_range
        else:
            assert a.value is None and a.raw == "I am not sure"
    report = persuasion_report(events, human=[0.0, 1.0], real={})
    d = report.to_dict()
    assert d["out_of_range"] + d["unreadable"] == 4
    assert report.donations.size == 0


def test_donation_reader_rules() -> None:
    reader = DonationReader(2.0)
    assert (reader.read("50 cents").value, reader.read("50 cents").how) == (0.5, "number")
    assert (reader.read("all of it").value, reader.read("all of it").how) == (2.0, "all")
    assert (reader.read("nothing").value, reader.read("nothing").how) == (0.0, "nothing")
    assert reader.read("$3").out_of_range and reader.read("$3").matched
    assert not reader.read("no idea").matched


def test_the_donation_prompt_has_its_range_line() -> None:
    config = PersuasionConfig(payment=1.5, charity="Oxfam")
    prompt = config.donation_prompt()
    assert "$1.50 task payment to Oxfam" in prompt
    assert prompt.endswith("\nRange: 0 to 1.5")


def test_configuration_errors_say_where() -> None:
    with pytest.raises(ValidationError, match="payment"):
        PersuasionConfig.model_validate({"donation": {"text": "Give {amount}?"}})
    with pytest.raises(ValidationError, match="extra"):
        PersuasionConfig.model_validate({"max_turn": 10})
    with pytest.raises(ValidationError, match="different names"):
        PersuasionConfig.model_validate({"persuadee": {"name": "Persuader"}})
    with pytest.raises(ValidationError, match="method"):
        PersuasionConfig.model_validate({"persuadee": {"policy": {"method": "nope"}}})
    people = persuadees(2)
    with pytest.raises(ConfigError, match=r"persuasion\.dialogues\[1\].*'missing'"):
        build_persuasion_units(
            PersuasionConfig(dialogues=[people[0].id, "missing"]), people, seed=1
        )
    with pytest.raises(ConfigError, match=r"personas\[1\]"):
        build_persuasion_units(PersuasionConfig(), [people[0], people[0]], seed=1)
    bad = Persona(id="x1", template="persuadee", attributes={"age": 3})
    with pytest.raises(AttributeValidationError, match="x1"):
        build_persuasion_units(PersuasionConfig(), [bad], seed=1)


def test_dialogues_selects_personas_in_the_listed_order() -> None:
    people = persuadees(4)
    wanted = [people[2].id, people[0].id]
    units = build_persuasion_units(PersuasionConfig(dialogues=wanted), people, seed=1)
    assert [u.id for u in units] == wanted


def test_persuader_attributes_and_persuadee_overrides_reach_the_prompts() -> None:
    config = PersuasionConfig.model_validate(
        {
            "charity": "Oxfam",
            "persuader": {"attributes": {"approach": "emotional"}},
            "persuadee": {"attributes": {"payment": 1.0}},
        }
    )
    unit = build_persuasion_units(config, persuadees(1), seed=1)[0]
    persuader, persuadee = unit.conversation.agents
    assert "picture the children" in persuader.system_prompt()
    assert "Oxfam" in persuader.system_prompt()
    assert "paid $1.00" in persuadee.system_prompt() and "Oxfam" in persuadee.system_prompt()


def test_the_shipped_scenario_section_is_a_valid_config() -> None:
    data = yaml.safe_load((ROOT / "scenarios" / "persuasion_p4g.yaml").read_text())
    assert data["task"] == "persuasion"
    assert data["population"] in ("p4g_persuadees", "personas/populations/p4g_persuadees.yaml")
    config = PersuasionConfig.model_validate(data["persuasion"])
    assert config.persuadee.policy.method == "vs_standard" and config.persuadee.policy.k == 5
    assert config.persuader.policy.method == "direct"
    assert "Range: 0 to 2" in config.donation_prompt()
