"""Persuasion dialogues: the PersuasionForGood protocol (Wang et al., 2019), as simulated in the
Verbalized Sampling paper.

A persuader asks a persuadee to donate part of a $2 task payment to Save the Children. The
two take turns (persuader first, ``max_turns`` utterances in all: 20 is ten each, about what
the human dialogues have). The persuadee speaks with Verbalized Sampling (``vs_standard``,
k = 5, by default); the persuader with ``direct`` unless configured otherwise. Persuadees are
the real PersuasionForGood participants (``personas/populations/p4g_persuadees.yaml``): each
persona's id is the dialogue id, which becomes the conversation id, so every simulated
donation joins with the real one.

When the chat ends the persuadee's donation is recorded twice:

- ``donation``: the final question (the transcript, then "how much do you donate?" with a
  ``Range: 0 to 2`` line), answered as a verbalized distribution over amounts; one amount is
  drawn with ``derive_uniform(seed, conversation_id, "donation")``. Logged as an ``answer``
  (its ``soft`` field holds the distribution), with its ``distribution`` and ``choice``.
- ``donation_text``: what the persuadee *said* they would give, read from their utterances
  by :func:`~vs_sim.tasks.persuasion_extract.extract_donation` (``value`` ``None`` and
  ``matched`` false when they never said). ``matched_by`` names the rule, ``raw`` the sentence.

:func:`~vs_sim.tasks.persuasion_analysis.persuasion_report` compares both with each other
and with the human donations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..agents import Agent, MemoryPolicy, RecordedPersona, VSPolicy
from ..conversation import Conversation, Termination
from ..errors import AttributeValidationError, ConfigError
from ..events import Answer, Event
from ..personas import PersonaLibrary, default_library
from ..scheduling import round_robin
from .conversation_questions import EventTap, ask_participant, transcript, transcript_messages
from .persuasion_extract import PAYMENT, extract_donation, read_amount
from .questionnaire import NumericQuestion
from .survey_answers import AnswerReader, ReadAnswer

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable

    import numpy.typing as npt

    from ..personas import Persona
    from ..runner import RunContext
    from .persuasion_analysis import PersuasionReport

TASK = "persuasion"
"""The ``task`` recorded in each dialogue's ``conversation_started`` meta."""
DONATION = "donation"
"""Question id (and purpose) of the final structured donation question."""
DONATION_TEXT = "donation_text"
"""Question id of the donation read from the persuadee's utterances."""
PERSUADER = "persuader"
PERSUADEE = "persuadee"

DEFAULT_DONATION_TEXT = (
    "The chat is over. You may now donate any part of your {payment} task payment to "
    "{charity}; whatever you don't donate, you keep. How much do you donate?\n"
    "Answer with a single amount in US dollars, nothing else."
)

_READ_RULES = {"amount": "number", "share": "share", "all": "all", "none": "nothing"}


class PersuaderSettings(BaseModel):
    """The persuader: one persona for every dialogue.

    Attributes:
        name: How the persuadee sees it in the transcript.
        template: Its persona template.
        attributes: Its attributes (e.g. ``approach: emotional``; see ``personas/persuader.j2``).
        policy: How its utterances are drawn (default ``direct``, one answer per turn).
        model: A model for the persuader only (default: the run's model).
        memory: How much of the dialogue it sees.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "Persuader"
    template: str = "persuader"
    attributes: dict[str, Any] = Field(default_factory=dict)
    policy: VSPolicy = Field(default_factory=lambda: VSPolicy(method="direct", k=1))
    model: str | None = None
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)


class PersuadeeSettings(BaseModel):
    """The persuadee: one per dialogue, from the scenario's population.

    Attributes:
        name: How the persuader sees it in the transcript.
        template: A template to render the personas with instead of their own (``None``:
            the population's, ``persuadee``).
        attributes: Attributes set on every persuadee (over the persona's own).
        policy: How its utterances are drawn (default ``vs_standard``, k = 5).
        model: A model for the persuadee only (default: the run's model).
        memory: How much of the dialogue it sees.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "Persuadee"
    template: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    policy: VSPolicy = Field(default_factory=VSPolicy)
    model: str | None = None
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)


class DonationQuestion(BaseModel):
    """The final question put to the persuadee.

    Attributes:
        text: The question; ``{payment}`` and ``{charity}`` are filled in. A
            ``Range: 0 to <payment>`` line is always added after it.
        method: Its prompting method (default: the persuadee's).
        k: Candidates to ask for (default: the persuadee's ``k``).
        options: Method options (default: the persuadee policy's, when the method is the same).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = DEFAULT_DONATION_TEXT
    method: str | None = None
    k: int | None = Field(default=None, ge=1, le=100)
    options: dict[str, Any] | None = None

    @field_validator("text")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            value.format(payment="$2.00", charity="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"only {{payment}} and {{charity}} may appear in braces (got {exc!s}); "
                "write other braces doubled: {{ }}"
            ) from None
        return value


class PersuasionConfig(BaseModel):
    """The ``persuasion:`` section of a scenario.

    Attributes:
        max_turns: Utterances in all (persuader first; 20 = ten each, as in PersuasionForGood).
        payment: The task payment in dollars: the most a persuadee can give.
        charity: The charity the persuader raises money for.
        persuader: The persuader's persona and policy.
        persuadee: The persuadees' policy (their personas come from the population).
        instructions: Added to both speakers' system prompts.
        opening: A first message both see (none by default: the persuader opens).
        donation: The final donation question.
        extract_from_text: Also read the donation from the persuadee's utterances.
        dialogues: Only these persona ids (dialogue ids) of the ones given; ``None``: all.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_turns: int = Field(default=20, ge=1, le=1000)
    payment: float = Field(default=PAYMENT, gt=0)
    charity: str = Field(default="Save the Children", min_length=1)
    persuader: PersuaderSettings = Field(default_factory=PersuaderSettings)
    persuadee: PersuadeeSettings = Field(default_factory=PersuadeeSettings)
    instructions: str = ""
    opening: str | None = None
    donation: DonationQuestion = Field(default_factory=DonationQuestion)
    extract_from_text: bool = True
    dialogues: list[str] | None = None

    @model_validator(mode="after")
    def _names_differ(self) -> PersuasionConfig:
        if self.persuader.name.strip().lower() == self.persuadee.name.strip().lower():
            raise ValueError("the persuader and the persuadee need different names")
        return self

    def donation_prompt(self) -> str:
        """The final question, with its ``Range`` line."""
        money = f"${self.payment:.2f}"
        text = self.donation.text.format(payment=money, charity=self.charity).rstrip()
        return f"{text}\nRange: 0 to {self.payment:g}"

    def donation_method(self) -> tuple[str, int | None, dict[str, Any]]:
        """The final question's method, ``k`` and method options."""
        policy = self.persuadee.policy
        method = self.donation.method or policy.method
        k = self.donation.k if self.donation.k is not None else policy.k
        if self.donation.options is not None:
            options = dict(self.donation.options)
        else:
            options = dict(policy.options) if method == policy.method else {}
        return method, k, options


class DonationReader(AnswerReader):
    """Reads an answer to the donation question as dollars (``$0.50``, ``50 cents``,
    ``nothing``, ``all of it``; see :func:`~vs_sim.tasks.persuasion_extract.read_amount`).

    ``matched_by`` is ``number``, ``share``, ``all`` or ``nothing``; amounts outside $0 to the
    payment are kept and flagged ``out_of_range``.
    """

    def __init__(self, payment: float = PAYMENT) -> None:
        super().__init__(
            NumericQuestion(
                id=DONATION, type="numeric", text="How much do you donate?", min=0, max=payment
            )
        )
        self.payment = payment

    def _read(self, text: str) -> ReadAnswer:
        found = read_amount(text, payment=self.payment)
        if found is None:
            return ReadAnswer(None, False, reason="no amount in the text")
        value, rule = found
        return ReadAnswer(
            value,
            True,
            _READ_RULES.get(rule, rule),
            out_of_range=not 0 <= value <= self.payment + 1e-9,
        )


class PersuasionDialogue:
    """One persuasion dialogue and its donation questions: a unit of work for the runner."""

    def __init__(self, conversation: Conversation, config: PersuasionConfig) -> None:
        self.conversation = conversation
        self.config = config
        self.id = conversation.id
        self.reader = DonationReader(config.payment)

    @property
    def persuadee(self) -> Agent:
        return next(a for a in self.conversation.agents if a.id == PERSUADEE)

    async def run(self, ctx: RunContext, prior: list[Event]) -> str:
        """Run the dialogue (or its rest), then ask for and read the donation."""
        conv, config = self.conversation, self.config
        tap = EventTap(ctx)
        reason = await conv.run(cast("RunContext", tap), list(prior))
        turns = transcript(prior, tap.utterances)
        persuadee = self.persuadee
        names = {a.id: a.name for a in conv.agents}
        method, k, options = config.donation_method()
        await ask_participant(
            ctx,
            conversation_id=self.id,
            agent=persuadee,
            question_id=DONATION,
            purpose=DONATION,
            turn=len(turns),
            messages=transcript_messages(
                persuadee,
                turns,
                names,
                config.donation_prompt(),
                opening=conv.opening,
                instructions=conv.instructions,
            ),
            reader=self.reader,
            method=method,
            k=k,
            rng_key=[self.id, DONATION],
            prior=prior,
            options=options,
        )
        done = any(isinstance(e, Answer) and e.question_id == DONATION_TEXT for e in prior)
        if config.extract_from_text and not done:
            stated = extract_donation(
                [(t.turn, t.speaker, t.text) for t in turns], PERSUADEE, payment=config.payment
            )
            ctx.emit(
                Answer(
                    conversation_id=self.id,
                    question_id=DONATION_TEXT,
                    value=stated.amount if stated else None,
                    matched=stated is not None,
                    raw=stated.text if stated else None,
                    matched_by=stated.rule if stated else None,
                    agent_id=PERSUADEE,
                    turn=stated.turn if stated else len(turns),
                )
            )
        return reason


def _select(personas: Sequence[Persona], wanted: Sequence[str] | None) -> list[Persona]:
    seen: dict[str, int] = {}
    for i, persona in enumerate(personas):
        if persona.id in seen:
            raise ConfigError(
                f"persona id {persona.id!r} is used twice (it names the dialogue)",
                where=f"personas[{i}]",
            )
        seen[persona.id] = i
    if wanted is None:
        return list(personas)
    for j, pid in enumerate(wanted):
        if pid not in seen:
            raise ConfigError(
                f"no persona {pid!r} among the {len(personas)} given (sample the whole "
                "population, or list ids it holds)",
                where=f"persuasion.dialogues[{j}]",
            )
    return [personas[seen[pid]] for pid in dict.fromkeys(wanted)]


def _render(
    library: PersonaLibrary, template: str, attributes: Mapping[str, Any], where: str
) -> str:
    try:
        return library.render(template, attributes)
    except AttributeValidationError as exc:
        raise AttributeValidationError(f"{where}: {exc}") from None


def _task_attributes(
    library: PersonaLibrary, template: str, config: PersuasionConfig
) -> dict[str, Any]:
    """``payment`` and ``charity`` for templates that declare them."""
    declared = library.get(template).attributes
    values = {"payment": config.payment, "charity": config.charity}
    return {k: v for k, v in values.items() if k in declared}


def build_persuasion_units(
    config: PersuasionConfig,
    personas: Sequence[Persona],
    *,
    seed: int,
    library: PersonaLibrary | None = None,
) -> list[PersuasionDialogue]:
    """One dialogue per persuadee persona (its id becomes the conversation id).

    Args:
        config: The ``persuasion:`` section.
        personas: The persuadees (usually drawn from ``p4g_persuadees.yaml``).
        seed: The seed the personas were drawn with (recorded in each dialogue's meta; the
            dialogue's own draws derive from the run seed).
        library: Where persona templates are found (default: the built-in search path).

    Raises:
        ConfigError: Repeated persona ids, or ``dialogues`` naming a persona not given.
        AttributeValidationError: A persona's attributes do not fit its template (names the
            persona).
    """
    lib = library or default_library()
    side = config.persuader
    persuader_attrs = {**_task_attributes(lib, side.template, config), **side.attributes}
    persuader = Agent(
        id=PERSUADER,
        name=side.name,
        role=PERSUADER,
        persona=RecordedPersona(
            id=PERSUADER,
            template=side.template,
            attributes=persuader_attrs,
            text=_render(lib, side.template, persuader_attrs, "persuasion.persuader"),
        ),
        model=side.model,
        policy=side.policy,
        memory=side.memory,
    )
    ee = config.persuadee
    units: list[PersuasionDialogue] = []
    for i, persona in enumerate(_select(personas, config.dialogues)):
        template = ee.template or persona.template
        attrs = {**persona.attributes, **_task_attributes(lib, template, config), **ee.attributes}
        persuadee = Agent(
            id=PERSUADEE,
            name=ee.name,
            role=PERSUADEE,
            persona=RecordedPersona(
                id=persona.id,
                template=template,
                attributes=attrs,
                text=_render(lib, template, attrs, f"personas[{i}] (id {persona.id!r})"),
            ),
            model=ee.model,
            policy=ee.policy,
            memory=ee.memory,
        )
        conversation = Conversation(
            id=persona.id,
            agents=(persuader, persuadee),
            scheduler=round_robin,
            instructions=config.instructions,
            opening=config.opening,
            termination=Termination(max_turns=config.max_turns),
            meta={
                "task": TASK,
                "dialogue_id": persona.id,
                "payment": config.payment,
                "charity": config.charity,
                "population_seed": seed,
            },
        )
        units.append(PersuasionDialogue(conversation, config))
    return units


def persuasion_report(
    events: Iterable[Event] | str | os.PathLike[str],
    *,
    human: npt.ArrayLike | None = None,
    real: Mapping[str, float] | None = None,
    payment: float | None = None,
) -> PersuasionReport:
    """The donations of a persuasion run, compared (see
    :func:`vs_sim.tasks.persuasion_analysis.persuasion_report`, which this calls)."""
    from .persuasion_analysis import persuasion_report as report

    return report(events, human=human, real=real, payment=payment)
