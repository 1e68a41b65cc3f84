"""Who an agent is: a persona, model settings, a VS policy and a memory policy.

An :class:`Agent` is frozen configuration. How it speaks is decided elsewhere (the
conversation engine builds its messages with :func:`build_messages` and draws its utterance
from the distribution with :meth:`VSPolicy.select`), so one agent can take part in many
conversations at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .distribution import Candidate, Distribution, draw_index
from .events import CandidateRecord, Choice, DistributionRecorded, Participant, Utterance
from .models.base import Message, Model
from .records import trusted, trusted_each
from .seeds import AddressedRng

SelectionRule = Literal["weighted", "uniform", "argmax", "temperature"]
SELECTION_RULES: tuple[str, ...] = ("weighted", "uniform", "argmax", "temperature")


@runtime_checkable
class PersonaLike(Protocol):
    """What an agent needs from a persona (``vs_sim.personas.Persona`` fits)."""

    id: str
    template: str

    def render(self) -> str:
        """The persona's system prompt."""
        ...


class VSPolicy(BaseModel):
    """How an agent's next utterance is chosen.

    Attributes:
        method: The prompting method (``vs_standard``, ``vs_cot``, ``vs_multi``, or a baseline
            such as ``direct``).
        k: Candidates to ask for; ``None`` lets the model decide ("all plausible").
        tau: Post-hoc probability floor (candidates below it are dropped and kept for analysis).
        min_keep: The fewest candidates the ``tau`` filter may leave.
        selection: ``weighted`` (by probability), ``uniform``, ``argmax`` or ``temperature``
            (probabilities raised to ``1 / temperature`` and renormalized).
        temperature: The temperature of the ``temperature`` rule (< 1 sharpens, > 1 flattens).
        model_temperature: The model's own sampling temperature, passed to the provider.
        options: Method options (``length_hint``, ``wording``, ``tail``, ``m``, ``format``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str = "vs_standard"
    k: int | None = 5
    tau: float | None = None
    min_keep: int = 1
    selection: SelectionRule = "weighted"
    temperature: float = 1.0
    model_temperature: float | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> VSPolicy:
        from .methods import get_method

        get_method(self.method, k=self.k, **self.options)  # raises ConfigError naming the option
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.min_keep < 1:
            raise ValueError(f"min_keep must be >= 1, got {self.min_keep}")
        return self

    def weights(self, probabilities: Sequence[float]) -> list[float]:
        """The probabilities the selection rule draws from (what ``select`` uses)."""
        n = len(probabilities)
        if n == 0:
            return []
        if self.selection == "uniform":
            return [1.0 / n] * n
        if self.selection == "argmax":
            out = [0.0] * n
            out[max(range(n), key=probabilities.__getitem__)] = 1.0  # the first on ties
            return out
        p = list(map(float, probabilities))
        if self.selection == "temperature":
            positive = [i for i in range(n) if p[i] > 0]
            if positive:
                logp = [math.log(x) / self.temperature if x > 0 else -math.inf for x in p]
                top = max(logp[i] for i in positive)
                p = [math.exp(x - top) for x in logp]
        total = 0.0
        for x in p:  # a plain loop: sum() is compensated on Python >= 3.12, this is not
            total += x
        return [x / total for x in p] if total > 0 else [1.0 / n] * n

    def select(
        self, probabilities: Sequence[float], rng: np.random.Generator | AddressedRng | float
    ) -> int:
        """The index of the chosen candidate; always takes one uniform draw, so the rules stay
        comparable under one seed.

        Args:
            probabilities: The distribution's probabilities.
            rng: A generator to draw from, or the uniform draw in [0, 1) itself (the engine
                passes ``derive_uniform(seed, conversation_id, turn, "choice")``).
        """
        if not probabilities:
            raise ValueError("cannot select from an empty distribution")
        u = rng if isinstance(rng, float) else float(rng.random())
        return draw_index(self.weights(probabilities), u)


class MemoryPolicy(BaseModel):
    """How much of the conversation an agent sees when it speaks.

    Attributes:
        kind: ``full`` (everything), ``last_n`` (the last ``n`` utterances) or ``summary``
            (the last ``n`` utterances plus a running summary of the earlier ones, written by
            a model call logged with purpose ``summary``).
        n: The window for ``last_n`` and ``summary``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["full", "last_n", "summary"] = "full"
    n: int = Field(default=10, ge=1)


class Agent(BaseModel):
    """A participant: a persona plus model settings, a VS policy and a memory policy.

    Attributes:
        id: Unique within a conversation; used in the log and by schedulers.
        name: How others see it in the transcript (defaults to ``id``).
        persona: A persona object (anything with ``id``, ``template``, ``attributes`` and
            ``render()``, e.g. ``vs_sim.personas.Persona``) or a ready system prompt.
        role: A free label, e.g. ``moderator`` or ``persuadee``.
        model: A model name or object for this agent; ``None`` uses the run's model.
        policy: How its utterance is drawn.
        memory: How much history it sees.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    id: str
    name: str = ""
    persona: str | PersonaLike = ""
    role: str | None = None
    model: str | Model | None = None
    policy: VSPolicy = Field(default_factory=VSPolicy)
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("name") and data.get("id"):
            return {**data, "name": data["id"]}
        return data

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("an agent id cannot be empty")
        return v

    def system_prompt(self) -> str:
        """The rendered persona (the first part of every system message it gets)."""
        return self._prompt

    @cached_property
    def _prompt(self) -> str:  # rendered once per agent: templates are deterministic
        if isinstance(self.persona, str):
            return self.persona
        return self.persona.render()

    def participant(self) -> Participant:
        """How this agent is recorded in ``ConversationStarted``."""
        if isinstance(self.persona, str):
            return Participant(agent_id=self.id, name=self.name, role=self.role)
        attributes = dict(getattr(self.persona, "attributes", {}) or {})
        return Participant(
            agent_id=self.id,
            name=self.name,
            persona_id=self.persona.id,
            template=self.persona.template,
            attributes=attributes,
            role=self.role,
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-safe record of the agent (enough to rebuild it, persona as its prompt)."""
        model = self.model if self.model is None or isinstance(self.model, str) else None
        persona: dict[str, Any] = {"text": self.system_prompt()}
        if not isinstance(self.persona, str):
            part = self.participant()
            persona.update(id=part.persona_id, template=part.template, attributes=part.attributes)
        return {
            "id": self.id,
            "name": self.name,
            "persona": persona,
            "role": self.role,
            "model": model if model is not None else getattr(self.model, "name", None),
            "policy": self.policy.model_dump(mode="json"),
            "memory": self.memory.model_dump(mode="json"),
        }

    @classmethod
    def from_description(cls, data: Mapping[str, Any]) -> Agent:
        """Rebuild an agent from :meth:`describe` (its persona as a :class:`RecordedPersona`)."""
        raw = data.get("persona") or {}
        persona: str | RecordedPersona = (
            raw
            if isinstance(raw, str)
            else RecordedPersona(
                id=raw["id"],
                template=raw.get("template") or "",
                attributes=raw.get("attributes") or {},
                text=raw.get("text", ""),
            )
            if raw.get("id")
            else str(raw.get("text", ""))
        )
        return cls(
            id=data["id"],
            name=data.get("name") or data["id"],
            persona=persona,
            role=data.get("role"),
            model=data.get("model"),
            policy=VSPolicy.model_validate(data.get("policy") or {}),
            memory=MemoryPolicy.model_validate(data.get("memory") or {}),
        )


@dataclass(frozen=True)
class Turn:
    """One utterance of the transcript, as schedulers and agents see it."""

    turn: int
    speaker: str
    text: str
    addressed_to: tuple[str, ...] = ()


def build_messages(
    agent: Agent,
    history: Sequence[Turn],
    names: Mapping[str, str],
    *,
    addressed_to: Sequence[str] = (),
    instructions: str = "",
    opening: str | None = None,
    summary: str | None = None,
) -> tuple[str, list[Message]]:
    """The system prompt and chat messages for ``agent``'s next utterance.

    The conversation is shown from the speaker's point of view: its own past utterances as
    ``assistant`` messages, everyone else's as ``user`` messages prefixed with their name
    (consecutive ones merged, so roles alternate). Whose turn it is and whom it addresses go
    at the end of the system prompt, so the last user message stays what the speaker is
    answering (a VS method turns it into the task).

    Args:
        agent: The speaker.
        history: The utterances it remembers (already cut by its memory policy).
        names: Agent id → display name.
        addressed_to: Agent ids it is addressing (empty: everyone).
        instructions: The scenario's instructions, added to the system prompt.
        opening: A message every participant saw first (a topic, a survey question).
        summary: A summary of what its memory no longer holds verbatim.
    """
    me = agent.id
    others = [names.get(a, a) for a in addressed_to if a != me]
    cue = f"You are {agent.name}. " + (
        "Write your next message in this conversation"
        if history or opening
        else "Open the conversation"
    )
    cue += f", addressing {', '.join(others)}." if others else "."
    head = _system_head(agent.system_prompt(), instructions)
    parts = [head] if head else []
    if summary:
        parts.append(f"Earlier in the conversation (summary): {summary.strip()}")
    parts.append(cue)
    system = "\n\n".join(parts)
    messages: list[Message] = []
    lines = [opening] if opening else []  # what others said since the speaker last spoke
    for turn in history:
        if turn.speaker == me:
            if lines:
                messages.append({"role": "user", "content": "\n".join(lines)})
                lines = []
            messages.append({"role": "assistant", "content": turn.text})
        else:
            lines.append(f"{names.get(turn.speaker, turn.speaker)}: {turn.text}")
    messages.append({"role": "user", "content": "\n".join(lines) if lines else "(Your turn.)"})
    return system, messages


@lru_cache(maxsize=256)
def _system_head(prompt: str, instructions: str) -> str:
    """The fixed start of a speaker's system prompt (the same every turn: worked out once)."""
    return "\n\n".join(p for p in (prompt.strip(), instructions.strip()) if p)


def summary_prompt(
    agent: Agent, previous: str | None, turns: Sequence[Turn], names: Mapping[str, str]
) -> list[Message]:
    """The messages of a ``summary`` call: fold ``turns`` into the running summary."""
    lines = "\n".join(f"{names.get(t.speaker, t.speaker)}: {t.text}" for t in turns)
    parts = [f"Summary so far: {previous}"] if previous else []
    parts.append(f"New messages:\n{lines}")
    parts.append(
        f"Write a short summary of the conversation so far, as {agent.name} would remember it. "
        "Answer with the summary only."
    )
    return [
        {"role": "system", "content": agent.system_prompt()},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def rank_of(probabilities: Sequence[float], index: int) -> int:
    """1 for the most probable candidate, 2 for the next (ties keep their list order)."""
    p = probabilities[index]  # its place in a stable sort by descending probability:
    rank = 1
    for i, q in enumerate(probabilities):  # those above it, and its ties listed before it
        if q > p or (q == p and i < index):
            rank += 1
    return rank


def distribution_event(
    dist: Distribution,
    *,
    conversation_id: str | None,
    turn: int | None,
    speaker: str | None,
    purpose: str = "utterance",
) -> DistributionRecorded:
    """The ``distribution`` event recording every candidate of ``dist``.

    Built without validation (:func:`~vs_sim.records.trusted`, every field in declaration
    order): the values come from a validated :class:`~vs_sim.distribution.Distribution`, and
    this runs once per turn.
    """
    values = {
        "t": time.time(),
        "kind": "distribution",
        "conversation_id": conversation_id,
        "turn": turn,
        "speaker": speaker,
        "purpose": purpose,
        "method": dist.method,
        "model": dist.model,
        "candidates": _records(dist.candidates),
        "dropped": _records(dist.dropped) if dist.dropped else [],
        "repairs": [r.model_dump(mode="json") for r in dist.repairs],
        "truncated": dist.truncated,
        "entropy": float(dist.entropy()),
        "request_keys": list(dist.request_keys),
    }
    return trusted(DistributionRecorded, values, set(_DISTRIBUTION_FIELDS_GIVEN))


_DISTRIBUTION_FIELDS_GIVEN = frozenset(DistributionRecorded.model_fields) - {"t", "kind"}
"""The fields :func:`distribution_event` sets (its event's ``model_fields_set``)."""


def choice_event(
    *,
    conversation_id: str,
    turn: int,
    speaker: str,
    index: int,
    rank: int,
    probability: float,
    rule: str,
    rng_key: list[str | int],
) -> Choice:
    """``Choice.trusted(...)`` with these fields, built in one step (it runs once per turn)."""
    values = {
        "t": time.time(),
        "kind": "choice",
        "conversation_id": conversation_id,
        "turn": turn,
        "speaker": speaker,
        "purpose": "utterance",
        "index": index,
        "rank": rank,
        "probability": probability,
        "rule": rule,
        "rng_key": rng_key,
    }
    return trusted(Choice, values, set(_CHOICE_FIELDS_GIVEN))


_CHOICE_FIELDS_GIVEN = frozenset(Choice.model_fields) - {"t", "kind", "purpose"}


def utterance_event(
    *,
    conversation_id: str,
    turn: int,
    speaker: str,
    text: str,
    addressed_to: list[str],
    reply_to: int | None,
    probability: float | None,
    rank: int | None,
    entropy: float | None,
    note: str | None,
    round_start: int | None,
    round_size: int | None,
) -> Utterance:
    """``Utterance.trusted(...)`` with every field but the time, built in one step (it runs
    once per turn)."""
    values = {
        "t": time.time(),
        "kind": "utterance",
        "conversation_id": conversation_id,
        "turn": turn,
        "speaker": speaker,
        "text": text,
        "addressed_to": addressed_to,
        "reply_to": reply_to,
        "probability": probability,
        "rank": rank,
        "entropy": entropy,
        "note": note,
        "round_start": round_start,
        "round_size": round_size,
    }
    return trusted(Utterance, values, set(_UTTERANCE_FIELDS_GIVEN))


_UTTERANCE_FIELDS_GIVEN = frozenset(Utterance.model_fields) - {"t", "kind"}


def _records(candidates: Sequence[Candidate]) -> list[CandidateRecord]:
    """The log's records of ``candidates``, built without validation.

    A :class:`Candidate` holds the record's four fields in the same order, so its field dict
    is copied as it is when its numbers are floats (as validation leaves them); anything
    else is converted as validation would convert it.
    """
    rows = []
    for c in candidates:
        values = c.__dict__.copy()
        if (
            type(c) is not Candidate
            or type(values["weight"]) is not float
            or type(values["probability"]) is not float
        ):
            values = {
                "text": c.text,
                "stated": c.stated,
                "weight": float(c.weight),
                "probability": float(c.probability),
            }
        rows.append(values)
    return trusted_each(CandidateRecord, rows)


class RecordedPersona(BaseModel):
    """A persona as the log recorded it: its rendered prompt and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    template: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    text: str = ""

    def render(self) -> str:
        """The recorded system prompt."""
        return self.text
