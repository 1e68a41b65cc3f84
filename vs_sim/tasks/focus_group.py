"""Focus groups: a moderator and a few participants discuss a product; stances are measured.

Each group is one conversation: a ``moderator`` persona working through a discussion guide,
and ``participants`` people from the scenario's population (by default US adults) rendered
with the ``focus_group_participant`` persona and given first names. The moderator-led
scheduler (:class:`~vs_sim.scheduling.ModeratorLed`) lets the moderator speak, then whoever
it names (round-robin when it names nobody), then the moderator again.

Each participant's **stance** toward the product is a Likert question ("How likely are you
to buy it?") answered as a verbalized distribution over the options, before the discussion
(``<stance id>.pre.<agent id>``) and after it (``.post.``), and, with
``stance.after_each_turn``, after each of the participant's own turns (``.turn<N>.``, N the
number of utterances they had seen). Each is an ``answer`` event carrying the participant's
``agent_id`` and ``turn``; the drawn option uses
``derive_rng(seed, group id, agent id, "stance", moment)``. Measuring never feeds back into
the discussion: participants do not see their own answers.

:func:`~vs_sim.tasks.focus_group_analysis.focus_group_report` lists each participant's
stance changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..agents import Agent, MemoryPolicy, RecordedPersona, VSPolicy
from ..conversation import Conversation, Termination
from ..errors import AttributeValidationError, ConfigError
from ..events import ConversationStarted, Event
from ..personas import PersonaLibrary, default_library
from ..scheduling import ModeratorLed
from .conversation_questions import EventTap, ask_participant, transcript, transcript_messages
from .questionnaire import Questionnaire, ScaleQuestion
from .survey import Survey

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable

    from ..personas import Persona
    from ..runner import RunContext
    from .focus_group_analysis import FocusGroupReport

TASK = "focus_group"
"""The ``task`` recorded in each group's ``conversation_started`` meta."""
MODERATOR = "moderator"
MIN_SHIFT = 0.25
"""Least change of expected position (scale points) that the report lists as a move."""
DEFAULT_POPULATION = "personas/populations/us_adults.yaml"
"""The population participants are drawn from when a scenario names none."""

DEFAULT_GUIDE = (
    "Ask everyone to introduce themselves and say what first comes to mind about {topic}.",
    "Ask what they like about it and what would make them want to buy it.",
    "Ask what concerns or doubts they have, and whether the price seems fair.",
    "Ask who it is for: would they recommend it to a friend or relative, and why?",
    "Ask whether the discussion changed anyone's mind, then thank everyone and close.",
)
LIKERT_BUY = (
    "Very unlikely",
    "Somewhat unlikely",
    "Neither likely nor unlikely",
    "Somewhat likely",
    "Very likely",
)
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "female": ("Maria", "Aisha", "Linda", "Mei", "Rosa", "Grace", "Keisha", "Emily", "Priya"),
    "male": ("James", "Carlos", "David", "Omar", "Kevin", "Raj", "Andre", "Tom", "Luis"),
    "other": ("Alex", "Sam", "Jordan", "Taylor", "Casey", "Robin", "Jamie", "Drew", "Quinn"),
}
"""First names given to participants (by their ``sex`` attribute) who have none."""

_MOMENT_TEXT = {
    "pre": "Before the discussion begins, please answer a question.",
    "turn": "Pause the discussion for a moment and answer a question privately.",
    "post": "The discussion is over. Please answer a question.",
}


class StanceQuestion(BaseModel):
    """The stance question asked before and after the discussion.

    Attributes:
        id: The question id (answers are ``<id>.pre.<agent>``, ``<id>.post.<agent>``, ...).
        text: The question; ``{topic}`` is filled in.
        options: The scale, from the lowest to the highest position (positions 1, 2, ...).
        method: Its prompting method.
        k: Candidates to ask for (default: the number of options).
        method_options: Method options (``wording``, ...).
        after_each_turn: Also ask after each of the participant's own turns.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = "purchase_intent"
    text: str = "How likely are you to buy {topic}?"
    options: list[str] = Field(default_factory=lambda: list(LIKERT_BUY), min_length=2)
    method: str = "vs_standard"
    k: int | None = Field(default=None, ge=1, le=100)
    method_options: dict[str, Any] = Field(default_factory=dict)
    after_each_turn: bool = False

    @field_validator("text")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            value.format(topic="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{topic}} may appear in braces (got {exc!s})") from None
        return value


class ModeratorSettings(BaseModel):
    """The moderator.

    Attributes:
        name: How participants see and address it.
        template: Its persona template.
        attributes: Its attributes (``goal``, ``style``; ``topic`` is set for you).
        policy: How its utterances are drawn (default ``direct``, one answer per turn).
        model: A model for the moderator only (default: the run's model).
        memory: How much of the discussion it sees.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "Moderator"
    template: str = "moderator"
    attributes: dict[str, Any] = Field(default_factory=dict)
    policy: VSPolicy = Field(default_factory=lambda: VSPolicy(method="direct", k=1))
    model: str | None = None
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)


class ParticipantSettings(BaseModel):
    """The participants (their personas come from the scenario's population).

    Attributes:
        template: The persona template they are rendered with (it must declare ``name`` and
            ``topic``, as ``focus_group_participant`` does).
        attributes: Attributes set on every participant (e.g. ``talkativeness``).
        names: First names to give, in order (default: :data:`FIRST_NAMES` by ``sex``);
            a persona's own ``name`` attribute wins.
        policy: How their utterances are drawn (default ``vs_standard``, k = 5).
        model: A model for the participants only (default: the run's model).
        memory: How much of the discussion they see.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: str = "focus_group_participant"
    attributes: dict[str, Any] = Field(default_factory=dict)
    names: list[str] | None = None
    policy: VSPolicy = Field(default_factory=VSPolicy)
    model: str | None = None
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)


class FocusGroupConfig(BaseModel):
    """The ``focus_group:`` section of a scenario.

    Attributes:
        topic: What is discussed, as it reads in a sentence ("the Aura smart water bottle").
        description: The product or topic, shown to everyone before the discussion.
        participants: People per group; the personas given are split into groups this size.
        max_turns: Utterances per group, the moderator's included.
        moderator: The moderator's persona and policy.
        participant: The participants' template, names and policy.
        guide: The moderator's discussion guide, covered in order (``{topic}`` filled in).
        instructions: Added to everyone's system prompt.
        stance: The stance question.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(default="a new product", min_length=1)
    description: str = ""
    participants: int = Field(default=5, ge=1, le=50)
    max_turns: int = Field(default=24, ge=1, le=1000)
    moderator: ModeratorSettings = Field(default_factory=ModeratorSettings)
    participant: ParticipantSettings = Field(default_factory=ParticipantSettings)
    guide: list[str] = Field(default_factory=lambda: list(DEFAULT_GUIDE))
    instructions: str = ""
    stance: StanceQuestion = Field(default_factory=StanceQuestion)

    @model_validator(mode="after")
    def _check(self) -> FocusGroupConfig:
        for i, step in enumerate(self.guide):
            try:
                step.format(topic="x")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"guide[{i}]: only {{topic}} may appear in braces (got {exc!s})"
                ) from None
        return self

    def opening(self) -> str:
        """The message every participant sees first: the topic and its description."""
        text = f"Today's discussion is about {self.topic}."
        return f"{text}\n\n{self.description.strip()}" if self.description.strip() else text

    def stance_survey(self) -> Survey:
        """The stance question as a one-question survey (its prompt and answer reader)."""
        s = self.stance
        questionnaire = Questionnaire.from_dict(
            {
                "name": f"{TASK}_stance",
                "questions": [
                    {
                        "id": s.id,
                        "type": "scale",
                        "text": s.text.format(topic=self.topic),
                        "options": list(s.options),
                    }
                ],
            },
            where="focus_group.stance",
        )
        return Survey(
            questionnaire, method=s.method, k=s.k, verbalize_options=dict(s.method_options)
        )


def stance_question_id(stance_id: str, moment: str, agent_id: str) -> str:
    """``purchase_intent.pre.p00003``: the answer id of one participant at one moment."""
    return f"{stance_id}.{moment}.{agent_id}"


class FocusGroup:
    """One focus group: stances before, the discussion, stances after (a runner unit)."""

    def __init__(self, conversation: Conversation, config: FocusGroupConfig) -> None:
        self.conversation = conversation
        self.config = config
        self.id = conversation.id
        self.survey = config.stance_survey()
        self.question = cast(ScaleQuestion, self.survey.questionnaire.questions[0])

    @property
    def participants(self) -> list[Agent]:
        return [a for a in self.conversation.agents if a.id != MODERATOR]

    def started_event(self) -> ConversationStarted:
        """What the engine would log first (logged before the pre-discussion stances)."""
        conv = self.conversation
        return ConversationStarted(
            conversation_id=conv.id,
            participants=[a.participant() for a in conv.agents],
            meta={**conv.meta, "spec": conv.describe()},
        )

    async def _stance(
        self, ctx: RunContext, agent: Agent, moment: str, seen: Sequence[Any], prior: list[Event]
    ) -> None:
        conv, s = self.conversation, self.config.stance
        name = moment if moment != "turn" else f"turn{len(seen)}"
        prompt = f"{_MOMENT_TEXT[moment]}\n\n{self.survey.prompts[s.id]}"
        await ask_participant(
            ctx,
            conversation_id=self.id,
            agent=agent,
            question_id=stance_question_id(s.id, name, agent.id),
            purpose=f"stance.{moment}",
            turn=len(seen),
            messages=transcript_messages(
                agent,
                seen,
                {a.id: a.name for a in conv.agents},
                prompt,
                opening=conv.opening,
                instructions=conv.instructions,
            ),
            reader=self.survey.readers[s.id],
            method=s.method,
            k=self.survey.k_for(self.question),
            rng_key=[self.id, agent.id, "stance", name],
            prior=prior,
            options=s.method_options,
        )

    async def run(self, ctx: RunContext, prior: list[Event]) -> str:
        """Ask the stances, run the discussion (or its rest), ask the stances again."""
        events = list(prior)
        if not any(isinstance(e, ConversationStarted) for e in events):
            started = self.started_event()
            ctx.emit(started)
            events.append(started)
        for agent in self.participants:
            await self._stance(ctx, agent, "pre", [], events)
        tap = EventTap(ctx)
        reason = await self.conversation.run(cast("RunContext", tap), events)
        turns = transcript(events, tap.utterances)
        by_id = {a.id: a for a in self.participants}
        if self.config.stance.after_each_turn:
            for i, turn in enumerate(turns):
                if turn.speaker in by_id:
                    await self._stance(ctx, by_id[turn.speaker], "turn", turns[: i + 1], events)
        for agent in self.participants:
            await self._stance(ctx, agent, "post", turns, events)
        return reason


def _name_for(persona: Persona, taken: set[str], given: Sequence[str] | None, index: int) -> str:
    own = persona.attributes.get("name")
    if isinstance(own, str) and own.strip():
        return own.strip()
    if given:
        return given[index % len(given)]
    sex = str(persona.attributes.get("sex") or "other").lower()
    pool = FIRST_NAMES.get(sex, FIRST_NAMES["other"])
    free = [n for n in pool if n not in taken] or [
        n for n in FIRST_NAMES["other"] if n not in taken
    ]
    return free[0] if free else f"Participant {index + 1}"


def _render(library: PersonaLibrary, template: str, attrs: dict[str, Any], where: str) -> str:
    try:
        return library.render(template, attrs)
    except AttributeValidationError as exc:
        raise AttributeValidationError(f"{where}: {exc}") from None


def _moderator(config: FocusGroupConfig, library: PersonaLibrary, names: Sequence[str]) -> Agent:
    side = config.moderator
    declared = library.get(side.template).attributes
    attrs = {**({"topic": config.topic} if "topic" in declared else {}), **side.attributes}
    text = _render(library, side.template, attrs, "focus_group.moderator")
    guide = "\n".join(
        f"{i}. {step.format(topic=config.topic)}" for i, step in enumerate(config.guide, 1)
    )
    extra = f"The participants are {', '.join(names)}. Address one of them by name each turn."
    if guide:
        extra += (
            "\n\nYour discussion guide, to cover in order (move on once a few people have "
            f"answered):\n{guide}"
        )
    return Agent(
        id=MODERATOR,
        name=side.name,
        role=MODERATOR,
        persona=RecordedPersona(
            id=MODERATOR, template=side.template, attributes=attrs, text=f"{text}\n\n{extra}"
        ),
        model=side.model,
        policy=side.policy,
        memory=side.memory,
    )


def build_focus_group_units(
    config: FocusGroupConfig,
    personas: Sequence[Persona],
    *,
    seed: int,
    library: PersonaLibrary | None = None,
) -> list[FocusGroup]:
    """Split ``personas`` into groups of ``config.participants``; one unit per group.

    Group ``i`` (from 1) has the conversation id ``focus_group_<i>``; its participants' agent
    ids are their persona ids.

    Args:
        config: The ``focus_group:`` section.
        personas: The participants, e.g. drawn from :data:`DEFAULT_POPULATION`; their number
            must be a multiple of ``config.participants``.
        seed: The seed the personas were drawn with (recorded in each group's meta; the
            group's own draws derive from the run seed).
        library: Where persona templates are found (default: the built-in search path).

    Raises:
        ConfigError: The personas do not split into whole groups, or an id repeats.
        AttributeValidationError: A persona does not fit the participant template.
    """
    size = config.participants
    if not personas or len(personas) % size:
        raise ConfigError(
            f"{len(personas)} personas do not make whole groups of {size}; "
            f"draw a multiple of {size} (n = groups × participants)",
            where="focus_group.participants",
        )
    ids = [p.id for p in personas]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(f"persona ids repeat: {repeated[:5]}", where="personas")
    lib = library or default_library()
    part = config.participant
    declared = lib.get(part.template).attributes
    missing = {"name", "topic"} - set(declared)
    if missing:
        raise ConfigError(
            f"template {part.template!r} does not declare {sorted(missing)}",
            where="focus_group.participant.template",
        )
    survey = config.stance_survey()  # fail here, not in every group, on a bad stance question
    del survey
    units: list[FocusGroup] = []
    for g in range(len(personas) // size):
        members = personas[g * size : (g + 1) * size]
        agents: list[Agent] = []
        taken: set[str] = {config.moderator.name}
        for j, persona in enumerate(members):
            name = _name_for(persona, taken, part.names, g * size + j)
            taken.add(name)
            attrs = {
                **{k: v for k, v in persona.attributes.items() if k in declared},
                "name": name,
                "topic": config.topic,
                **part.attributes,
            }
            text = _render(lib, part.template, attrs, f"personas[{g * size + j}]")
            agents.append(
                Agent(
                    id=persona.id,
                    name=name,
                    role="participant",
                    persona=RecordedPersona(
                        id=persona.id, template=part.template, attributes=attrs, text=text
                    ),
                    model=part.model,
                    policy=part.policy,
                    memory=part.memory,
                )
            )
        moderator = _moderator(config, lib, [a.name for a in agents])
        conversation = Conversation(
            id=f"{TASK}_{g + 1}",
            agents=(moderator, *agents),
            scheduler=ModeratorLed(MODERATOR),
            instructions=config.instructions,
            opening=config.opening(),
            termination=Termination(max_turns=config.max_turns),
            meta={
                "task": TASK,
                "topic": config.topic,
                "stance": {
                    "id": config.stance.id,
                    "options": list(config.stance.options),
                    "after_each_turn": config.stance.after_each_turn,
                },
                "population_seed": seed,
            },
        )
        units.append(FocusGroup(conversation, config))
    return units


def focus_group_report(
    events: Iterable[Event] | str | os.PathLike[str],
    *,
    min_shift: float = MIN_SHIFT,
    context: int = 3,
) -> FocusGroupReport:
    """Each participant's stance changes (see
    :func:`vs_sim.tasks.focus_group_analysis.focus_group_report`, which this calls)."""
    from .focus_group_analysis import focus_group_report as report

    return report(events, min_shift=min_shift, context=context)
