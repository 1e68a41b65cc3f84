"""Survey answers and model-chosen speakers use a prepared call plan, with averbalize's results.

A respondent asks through :meth:`Survey.call_plan` (one :class:`~vs_sim.verbalizer.CallPlan`
per number of candidates and model) and :class:`~vs_sim.scheduling.ModelChosen` keeps one plan
per model, instead of calling ``averbalize(**kwargs)`` for every answer or decision. Each test
holds the prepared path against the general one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from vs_sim.agents import Agent, Turn
from vs_sim.distribution import Distribution
from vs_sim.events import Answer, DistributionRecorded, EventLog, read_events
from vs_sim.personas import Persona
from vs_sim.runner import RunContext
from vs_sim.scheduling import ModelChosen, Transcript
from vs_sim.seeds import AddressedRng
from vs_sim.tasks import Survey
from vs_sim.testing.scripted import ScriptedModel
from vs_sim.verbalizer import averbalize

QUESTIONS: dict[str, Any] = {
    "name": "plans",
    "questions": [
        {"id": "pets", "text": "Pets?", "type": "single_choice", "options": ["Yes", "No"]},
        {
            "id": "walks",
            "text": "Walks?",
            "type": "single_choice",
            "options": ["Daily", "Never", "Weekly"],
        },
        {"id": "age", "text": "Oldest pet's age?", "type": "numeric", "min": 0, "max": 40},
        {"id": "why", "text": "Why?", "type": "open_text"},
    ],
}


PERSON = Persona(
    id="r0",
    template="survey_respondent",
    attributes={"age": 41, "sex": "female", "party": "independent"},
)


def _respond(survey: Survey, model: ScriptedModel, path: Path) -> list[Any]:
    """One respondent's events, answered through the runner's context."""
    with EventLog(path) as log:
        ctx = RunContext(seed=3, model=model, log=log, run_id="t")
        asyncio.run(survey.respondent(PERSON).run(ctx, []))
    return list(read_events(path))


def _replay(survey: Survey, events: list[Any], model: ScriptedModel) -> list[Distribution]:
    """The same questions asked with ``averbalize(**kwargs)``, given the logged answers."""
    answers = [e for e in events if isinstance(e, Answer)]
    questions = survey.questionnaire.questions

    async def ask() -> list[Distribution]:
        return [
            await averbalize(
                survey.messages(i, answers[:i]),
                k=survey.k_for(q),
                method=survey.method,
                model=model,
                system=PERSON.render(),
                **survey.verbalize_options,
            )
            for i, q in enumerate(questions)
        ]

    return asyncio.run(ask())


@pytest.mark.parametrize(
    ("mode", "method", "options"),
    [
        ("independent", "vs_standard", {}),
        ("interview", "vs_standard", {"tau": 0.1, "temperature": 0.5}),
        ("interview", "vs_multi", {"normalization": "uniform"}),
        ("independent", "sequence", {"repeat": 2}),  # a sample index: the general path
        ("interview", "vs_cot", {"repeat": 1, "wording": "confidence"}),
    ],
)
def test_answers_equal_averbalize_per_answer(
    tmp_path: Path, mode: Any, method: str, options: dict[str, Any]
) -> None:
    survey = Survey(QUESTIONS, method=method, mode=mode, verbalize_options=options)
    planned, general = ScriptedModel(seed=5), ScriptedModel(seed=5)
    events = _respond(survey, planned, tmp_path / "log.jsonl")
    want = _replay(survey, events, general)
    got = [e for e in events if isinstance(e, DistributionRecorded)]
    assert len(got) == len(want) == 4
    for event, dist in zip(got, want, strict=True):
        assert [(c.text, c.weight, c.probability) for c in event.candidates] == [
            (c.text, c.weight, c.probability) for c in dist.candidates
        ]
        assert (event.method, event.model) == (dist.method, dist.model)
        assert event.request_keys == dist.request_keys
    assert [(r.messages, r.params, r.key) for r in planned.history] == [
        (r.messages, r.params, r.key) for r in general.history
    ]


def test_a_plan_is_made_once_per_k_and_model() -> None:
    survey = Survey(QUESTIONS, verbalize_options={"tau": 0.1, "repeat": 3})
    pets, walks, age, why = survey.questionnaire.questions
    first, second = ScriptedModel(), ScriptedModel()
    plan = survey.call_plan(pets, first)
    assert plan is survey.call_plan(pets, first) and plan.model is first
    assert plan.method.k == 2 and plan.tau == 0.1
    assert survey.call_plan(walks, first).method.k == 3
    assert survey.call_plan(age, first) is survey.call_plan(why, first)  # both DEFAULT_K
    other = survey.call_plan(pets, second)
    assert other is not plan and other.model is second
    assert survey.repeat == 3 and survey.verbalize_options == {"tau": 0.1, "repeat": 3}


# -- ModelChosen -----------------------------------------------------------------------------------

AGENTS = [Agent(id=i, name=n, persona=f"You are {n}.") for i, n in [("a", "Ana"), ("b", "Ben")]]


class _Context:
    """The bits of a run context ``ModelChosen`` uses, keeping what it emits."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model
        self.seen: list[Any] = []

    def resolve_model(self, model: Any) -> Any:
        return self.model if model is None else model

    def on_call(self, *where: Any) -> Any:
        return lambda record: self.seen.append(record.request.key)

    def emit(self, event: Any) -> None:
        self.seen.append(event)


def _transcript(turns: list[Turn], ctx: _Context) -> Transcript:
    return Transcript(turns, conversation_id="c", participants=["a", "b"], context=ctx)  # type: ignore[arg-type]


def test_model_chosen_keeps_one_plan_per_model_with_averbalize_results() -> None:
    chooser = ModelChosen(k=3)
    planned, general = ScriptedModel(seed=7), ScriptedModel(seed=7)
    ctx = _Context(planned)
    turns = [Turn(0, "a", "Hello."), Turn(1, "b", "Hi Ana.")]

    plans = []

    async def decide() -> None:
        for n in range(2):
            await chooser(AGENTS, _transcript(turns[: n + 1], ctx), AddressedRng(1, "s", n))
            plans.append(chooser._plans[id(planned)][1])

    asyncio.run(decide())
    assert plans[0] is plans[1] and len(chooser._plans) == 1  # two decisions, one plan
    got = [e for e in ctx.seen if isinstance(e, DistributionRecorded)]
    prompts = [r.messages for r in planned.history]

    async def general_path() -> list[Distribution]:
        return [
            await averbalize(
                [m for m in messages if m["role"] == "user"],
                k=3,
                method="vs_standard",
                model=general,
                system="You direct a group conversation and decide who speaks next.",
            )
            for messages in prompts
        ]

    want = asyncio.run(general_path())
    assert [r.messages for r in general.history] == prompts
    assert [[c.probability for c in e.candidates] for e in got] == [
        [c.probability for c in d.candidates] for d in want
    ]
    assert ModelChosen(k=3) == chooser and hash(ModelChosen(k=3)) == hash(chooser)
