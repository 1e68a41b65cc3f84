"""Agents: the VS policy's selection rules, the speaker's point of view, persona records."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from vs_sim.agents import Agent, MemoryPolicy, Turn, VSPolicy, build_messages, rank_of
from vs_sim.personas import Persona
from vs_sim.seeds import AddressedRng, derive_rng, derive_uniform

PROBS = [0.1, 0.6, 0.3]


def draws(policy: VSPolicy, n: int = 4000) -> np.ndarray:
    rng = derive_rng(0, "test")
    counts = np.zeros(len(PROBS))
    for _ in range(n):
        counts[policy.select(PROBS, rng)] += 1
    return counts / n


def test_weighted_selection_follows_the_probabilities() -> None:
    freq = draws(VSPolicy())
    assert np.allclose(freq, PROBS, atol=0.03)


def test_uniform_selection_ignores_the_probabilities() -> None:
    freq = draws(VSPolicy(selection="uniform"))
    assert np.allclose(freq, [1 / 3] * 3, atol=0.03)


def test_argmax_always_takes_the_most_probable() -> None:
    assert draws(VSPolicy(selection="argmax"), n=200).tolist() == [0.0, 1.0, 0.0]


def test_temperature_sharpens_below_one_and_flattens_above() -> None:
    cold = VSPolicy(selection="temperature", temperature=0.25).weights(PROBS)
    hot = VSPolicy(selection="temperature", temperature=4.0).weights(PROBS)
    assert cold[1] > 0.9 > PROBS[1]
    assert max(hot) - min(hot) < max(PROBS) - min(PROBS)
    assert sum(cold) == pytest.approx(1.0) and sum(hot) == pytest.approx(1.0)
    freq = draws(VSPolicy(selection="temperature", temperature=0.25))
    assert np.allclose(freq, cold, atol=0.03)


def test_selection_is_reproducible_from_the_addressed_generator() -> None:
    policy = VSPolicy()
    a = [policy.select(PROBS, derive_rng(7, "c", t, "choice")) for t in range(50)]
    b = [policy.select(PROBS, derive_rng(7, "c", t, "choice")) for t in range(50)]
    assert a == b and len(set(a)) > 1


def test_selection_takes_a_uniform_draw_as_well_as_a_generator() -> None:
    policy = VSPolicy()
    # the cumulative probabilities are 0.1, 0.7, 1.0: the draw's place among them
    assert [policy.select(PROBS, u) for u in (0.0, 0.099, 0.1, 0.69, 0.7, 0.999999)] == [
        0, 0, 1, 1, 2, 2,
    ]  # fmt: skip
    assert policy.select(PROBS, derive_uniform(7, "c", 1, "choice")) == policy.select(
        PROBS, AddressedRng(7, "c", 1, "choice")
    )
    with pytest.raises(ValueError, match="empty distribution"):
        policy.select([], 0.5)


def test_policy_rejects_bad_settings() -> None:
    with pytest.raises(ValidationError, match="unknown method 'nope'"):
        VSPolicy(method="nope")
    with pytest.raises(ValidationError, match="k must be >= 1"):
        VSPolicy(k=0)
    with pytest.raises(ValidationError, match="temperature must be > 0"):
        VSPolicy(selection="temperature", temperature=0)
    with pytest.raises(ValidationError):
        VSPolicy(selection="loudest")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        MemoryPolicy(kind="last_n", n=0)
    with pytest.raises(ValidationError, match="cannot be empty"):
        Agent(id=" ")


def test_rank_counts_from_the_most_probable() -> None:
    assert [rank_of(PROBS, i) for i in range(3)] == [3, 1, 2]


def test_messages_show_the_conversation_from_the_speakers_point_of_view() -> None:
    ana = Agent(id="ana", name="Ana", persona="You are Ana, a nurse.")
    names = {"ana": "Ana", "ben": "Ben", "cy": "Cy"}
    history = [
        Turn(0, "ben", "Hello all."),
        Turn(1, "cy", "Hi Ben."),
        Turn(2, "ana", "Good morning."),
        Turn(3, "ben", "Ana, what do you think?"),
    ]
    system, messages = build_messages(
        ana,
        history,
        names,
        addressed_to=("ben",),
        instructions="Discuss buses.",
        opening="Topic: buses",
    )
    assert system.startswith("You are Ana, a nurse.\n\nDiscuss buses.")
    assert system.endswith(
        "You are Ana. Write your next message in this conversation, addressing Ben."
    )
    assert messages == [
        {"role": "user", "content": "Topic: buses\nBen: Hello all.\nCy: Hi Ben."},
        {"role": "assistant", "content": "Good morning."},
        {"role": "user", "content": "Ben: Ana, what do you think?"},
    ]


def test_messages_end_with_a_user_turn_and_carry_the_summary() -> None:
    ana = Agent(id="ana", persona="P")
    system, messages = build_messages(ana, [Turn(0, "ana", "Me again.")], {}, summary="We met.")
    assert "Earlier in the conversation (summary): We met." in system
    assert messages[-1] == {"role": "user", "content": "(Your turn.)"}
    system, messages = build_messages(ana, [], {})
    assert system.endswith("You are ana. Open the conversation.")


def test_an_agent_records_its_persona_and_can_be_rebuilt_from_the_record() -> None:
    persona = Persona(id="p7", template="moderator", attributes={"topic": "buses"})
    agent = Agent(
        id="mod",
        name="Mo",
        persona=persona,
        role="moderator",
        policy=VSPolicy(k=3, selection="argmax"),
        memory=MemoryPolicy(kind="last_n", n=4),
    )
    part = agent.participant()
    assert (part.persona_id, part.template, part.attributes, part.role) == (
        "p7",
        "moderator",
        {"topic": "buses"},
        "moderator",
    )
    assert "focus group moderator" in agent.system_prompt()
    again = Agent.from_description(agent.describe())
    assert again.system_prompt() == agent.system_prompt()
    assert again.participant() == part
    assert (again.policy, again.memory, again.name) == (agent.policy, agent.memory, "Mo")


def test_a_plain_prompt_persona_and_default_name() -> None:
    agent = Agent(id="ben", persona="You are Ben.")
    assert agent.name == "ben"
    assert agent.participant().persona_id is None
    assert Agent.from_description(agent.describe()).system_prompt() == "You are Ben."
