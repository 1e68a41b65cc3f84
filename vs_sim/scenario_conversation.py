"""The ``conversation:`` section: its schema (agents, scheduler, termination) and how it
becomes :class:`~vs_sim.conversation.Conversation` units.

Each agent entry says who the agent is — a different persona from the population in every
conversation (``from_population``), a fixed persona (``template`` + ``attributes``) or a ready
``system_prompt`` — and how it speaks (``policy``, ``memory``, ``model``). ``count`` makes
several alike agents. The scheduler and termination are the engine's, written as data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .agents import MemoryPolicy, VSPolicy
from .errors import TemplateError
from .methods import METHOD_NAMES
from .tasks.validation import field_error

if TYPE_CHECKING:
    from .agents import RecordedPersona
    from .conversation import Conversation
    from .personas import Persona
    from .scenario_build import Prepared
    from .scenario_models import ModelPool
    from .scenario_schema import Scenario
    from .scheduling import Scheduler

SCHEDULERS: tuple[str, ...] = (
    "round_robin",
    "random",
    "moderator_led",
    "addressed_reply",
    "social_graph",
    "simultaneous",
    "model_chosen",
)
_FROZEN = ConfigDict(extra="forbid", frozen=True)
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

# Which optional scheduler fields each scheduler takes (``name`` always).
_SCHEDULER_FIELDS: dict[str, frozenset[str]] = {
    "round_robin": frozenset(),
    "random": frozenset({"weights", "no_repeat"}),
    "moderator_led": frozenset({"moderator"}),
    "addressed_reply": frozenset(),
    "social_graph": frozenset({"edges", "directed"}),
    "simultaneous": frozenset({"exclude"}),
    "model_chosen": frozenset({"model", "method", "k", "allow_repeat", "window"}),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "moderator_led": ("moderator",),
    "social_graph": ("edges",),
}


class AgentSpec(BaseModel):
    """One agent of a conversation (or ``count`` alike agents).

    Who it is comes from exactly one of: ``from_population`` (a different sampled persona in
    each conversation), ``template`` (+ ``attributes``: a fixed persona), or
    ``system_prompt`` (a ready prompt). With ``from_population``, ``template`` and
    ``attributes`` re-render the sampled persona with another template and extra values
    (e.g. the focus group's topic). A template that declares a ``name`` attribute gets the
    agent's name unless ``attributes`` sets it.

    Attributes:
        id: Unique in the conversation; with ``count`` > 1 the ids are ``<id>1``, ``<id>2``...
        name: How others see it (default: its id); ``names`` gives one per copy.
        count: How many alike agents this entry makes.
        role: A free label (``moderator``, ``participant``, ``persuadee``, ...).
        model: A model of ``models:`` by its key, or a model name (default: ``model:``).
        policy: How its utterance is drawn (method, k, tau, selection, ...).
        memory: How much of the conversation it sees.
    """

    model_config = _FROZEN

    id: str = Field(min_length=1)
    name: str | None = None
    names: tuple[str, ...] | None = None
    count: int = Field(default=1, ge=1, le=1000)
    role: str | None = None
    from_population: bool = False
    template: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    system_prompt: str | None = None
    model: str | None = None
    policy: VSPolicy = Field(default_factory=VSPolicy)
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.' only (no spaces)")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> AgentSpec:
        if self.system_prompt is not None and (self.from_population or self.template):
            raise field_error(
                "system_prompt", "give system_prompt alone, or from_population/template"
            )
        if not (self.from_population or self.template or self.system_prompt is not None):
            raise field_error(
                "template",
                "say who this agent is: from_population: true, a template, or a system_prompt",
            )
        if self.attributes and not (self.template or self.from_population):
            raise field_error("attributes", "attributes need a template or from_population")
        if self.names is not None and len(self.names) != self.count:
            raise field_error("names", f"give {self.count} names (count is {self.count})")
        if self.name is not None and self.count > 1:
            raise field_error("name", "with count > 1, give names (one per agent) instead")
        return self

    def expanded(self) -> list[tuple[str, str]]:
        """``(id, name)`` of each agent this entry makes."""
        if self.count == 1:
            return [(self.id, self.name or self.id)]
        names = self.names or tuple(f"{self.id}{j + 1}" for j in range(self.count))
        return [(f"{self.id}{j + 1}", names[j]) for j in range(self.count)]


class SchedulerSpec(BaseModel):
    """Who speaks next; a bare string is the scheduler's name.

    Attributes:
        name: ``round_robin``, ``random``, ``moderator_led``, ``addressed_reply``,
            ``social_graph``, ``simultaneous`` or ``model_chosen``.
        moderator: ``moderator_led``: the moderator's agent id.
        weights: ``random``: agent id → weight (missing ones weigh 1).
        no_repeat: ``random``: nobody speaks twice in a row.
        edges: ``social_graph``: ``[a, b]`` or ``[a, b, weight]`` between agent ids.
        directed: ``social_graph``: edges point one way.
        exclude: ``simultaneous``: agent ids that do not answer each round.
        model: ``model_chosen``: the model that picks (a ``models:`` key or a name).
        method: ``model_chosen``: its prompting method.
        k: ``model_chosen``: candidates to ask for.
        allow_repeat: ``model_chosen``: the last speaker may speak again.
        window: ``model_chosen``: recent utterances the model sees.
    """

    model_config = _FROZEN

    name: str
    moderator: str | None = None
    weights: dict[str, float] | None = None
    no_repeat: bool | None = None
    edges: tuple[tuple[str, str] | tuple[str, str, float], ...] | None = None
    directed: bool | None = None
    exclude: tuple[str, ...] | None = None
    model: str | None = None
    method: str | None = None
    k: int | None = Field(default=None, ge=1, le=100)
    allow_repeat: bool | None = None
    window: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SCHEDULERS:
            raise ValueError(
                f"unknown scheduler {value!r}; expected one of {', '.join(SCHEDULERS)}"
            )
        return value

    @model_validator(mode="after")
    def _fields_apply(self) -> SchedulerSpec:
        allowed = _SCHEDULER_FIELDS[self.name]
        for key in type(self).model_fields:
            if key != "name" and getattr(self, key) is not None and key not in allowed:
                takes = ", ".join(sorted(allowed)) or "no options"
                raise field_error(key, f"scheduler {self.name!r} does not take {key!r} ({takes})")
        for key in _REQUIRED.get(self.name, ()):
            if getattr(self, key) is None:
                raise field_error(key, f"scheduler {self.name!r} needs {key!r}")
        if self.method is not None and self.method not in METHOD_NAMES:
            raise field_error("method", f"unknown method {self.method!r}")
        return self


class TerminationSpec(BaseModel):
    """When a conversation ends (the first rule that holds).

    Attributes:
        max_turns: This many utterances in all.
        stop_marker: An utterance containing this text ends it (``null``: none).
        leave_marker: An agent whose utterance contains this leaves (``null``: none).
        min_agents: End when fewer agents remain (default 2, or 1 for one agent).
        max_cost: End when the conversation's calls cost this many dollars.
    """

    model_config = _FROZEN

    max_turns: int | None = Field(default=20, ge=1)
    stop_marker: str | None = "[END]"
    leave_marker: str | None = "[LEAVE]"
    min_agents: int | None = Field(default=None, ge=1)
    max_cost: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _bounded(self) -> TerminationSpec:
        if self.max_turns is None and self.max_cost is None:
            raise field_error("max_turns", "set max_turns or max_cost: a marker may never be said")
        return self


_ROUND_ROBIN = SchedulerSpec.model_validate({"name": "round_robin"})


class ConversationSection(BaseModel):
    """The ``conversation:`` section: agents talking, one conversation per unit of ``n``.

    Attributes:
        agents: The participants, in order (round-robin follows it).
        scheduler: Who speaks next.
        termination: When a conversation ends.
        instructions: Added to every speaker's system prompt.
        opening: A first message every participant sees (a topic or a question).
    """

    model_config = _FROZEN

    agents: tuple[AgentSpec, ...] = Field(min_length=1)
    scheduler: SchedulerSpec = Field(default_factory=lambda: _ROUND_ROBIN)
    termination: TerminationSpec = Field(default_factory=lambda: TerminationSpec())
    instructions: str = ""
    opening: str | None = None

    @property
    def agent_ids(self) -> list[str]:
        """Every agent id, copies expanded, in order."""
        return [agent_id for spec in self.agents for agent_id, _ in spec.expanded()]

    @model_validator(mode="after")
    def _check_ids(self) -> ConversationSection:
        seen: dict[str, int] = {}
        for i, spec in enumerate(self.agents):
            for agent_id, _ in spec.expanded():
                if agent_id in seen:
                    raise field_error(
                        f"agents[{i}].id",
                        f"agent id {agent_id!r} is already used by agents[{seen[agent_id]}]",
                    )
                seen[agent_id] = i
        ids = ", ".join(seen)
        sched = self.scheduler
        named: list[tuple[str, str]] = []
        if sched.moderator is not None:
            named.append(("scheduler.moderator", sched.moderator))
        for key in sched.weights or {}:
            named.append(("scheduler.weights", key))
        for j, agent_id in enumerate(sched.exclude or ()):
            named.append((f"scheduler.exclude[{j}]", agent_id))
        for j, edge in enumerate(sched.edges or ()):
            named.extend((f"scheduler.edges[{j}]", str(end)) for end in edge[:2])
        for path, agent_id in named:
            if agent_id not in seen:
                raise field_error(path, f"no agent {agent_id!r}; the agents are {ids}")
        return self


# -- building the conversations ---------------------------------------------------------


def build_conversations(
    prepared: Prepared, pool: ModelPool | None, count: int, n: int
) -> Iterator[Conversation]:
    """``count`` conversations (of ``n``), their drawn personas rendered and checked."""
    from .agents import Agent
    from .conversation import Conversation, Termination
    from .scenario_build import sample_personas
    from .scenario_models import model_ref

    s = prepared.scenario
    section = s.conversation
    assert section is not None
    drawn_per = sum(a.count for a in section.agents if a.from_population)
    people = iter(sample_personas(prepared, drawn_per * n) if drawn_per else [])
    scheduler = build_scheduler(section.scheduler, section.agent_ids, pool, s)
    termination = Termination(**section.termination.model_dump())
    fixed: dict[str, RecordedPersona | str] = {}
    for index in range(count):
        agents: list[Agent] = []
        for i, spec in enumerate(section.agents):
            for agent_id, name in spec.expanded():
                persona: RecordedPersona | str
                if spec.from_population:
                    drawn, _ = next(people)
                    name, persona = _agent_persona(prepared, spec, i, agent_id, name, drawn)
                elif agent_id in fixed:
                    persona = fixed[agent_id]
                    name = agent_name(spec, name, persona)
                else:
                    name, persona = _agent_persona(prepared, spec, i, agent_id, name, None)
                    fixed[agent_id] = persona
                agents.append(
                    Agent(
                        id=agent_id,
                        name=name,
                        persona=persona,
                        role=spec.role,
                        model=model_ref(spec.model, pool, s),
                        policy=spec.policy,
                        memory=spec.memory,
                    )
                )
        yield Conversation(
            id=f"c{index + 1:04d}",
            agents=tuple(agents),
            scheduler=scheduler,
            instructions=section.instructions,
            opening=section.opening,
            termination=termination,
            meta={"task": "conversation", "scenario": s.name},
        )


def agent_name(spec: AgentSpec, name: str, persona: RecordedPersona | str) -> str:
    """The agent's display name: given, else its persona's ``name`` attribute, else its id."""
    if spec.name is not None or spec.names is not None or isinstance(persona, str):
        return name
    given = persona.attributes.get("name")
    return str(given) if isinstance(given, str) and given.strip() else name


def _agent_persona(
    prepared: Prepared,
    spec: AgentSpec,
    index: int,
    agent_id: str,
    name: str,
    drawn: Persona | None,
) -> tuple[str, RecordedPersona | str]:
    from .personas import Persona
    from .scenario_build import render_persona
    from .scenarios import scenario_error

    if spec.system_prompt is not None:
        return name, spec.system_prompt
    template = spec.template or (drawn.template if drawn is not None else "")
    attributes = {**(drawn.attributes if drawn is not None else {}), **spec.attributes}
    path = f"conversation.agents[{index}]"
    try:
        declared = prepared.library.get(template).attributes
    except TemplateError as exc:
        raise scenario_error(prepared.scenario, f"{path}.template", str(exc)) from None
    named = spec.name is not None or spec.names is not None or spec.count > 1
    if "name" in declared and "name" not in spec.attributes and (named or drawn is not None):
        attributes["name"] = name
    persona = Persona.model_construct(
        id=drawn.id if drawn is not None else agent_id, template=template, attributes=attributes
    )
    where = f"{path}.attributes" if spec.attributes or drawn is None else path
    rendered = render_persona(prepared, persona, where, who=f"agent {agent_id!r}")
    return agent_name(spec, name, rendered), rendered


def build_scheduler(
    spec: SchedulerSpec, agent_ids: Sequence[str], pool: ModelPool | None, s: Scenario
) -> Scheduler:
    """The scheduler a ``scheduler:`` section describes."""
    import networkx as nx

    from . import scheduling as sch
    from .scenario_models import model_ref

    if spec.name == "random":
        return sch.RandomSpeaker(dict(spec.weights or {}), bool(spec.no_repeat))
    if spec.name == "moderator_led":
        assert spec.moderator is not None
        return sch.ModeratorLed(spec.moderator)
    if spec.name == "addressed_reply":
        return sch.AddressedReply()
    if spec.name == "social_graph":
        graph: nx.Graph[Any] = nx.DiGraph() if spec.directed else nx.Graph()
        graph.add_nodes_from(agent_ids)
        for edge in spec.edges or ():
            graph.add_edge(edge[0], edge[1], weight=float(edge[2]) if len(edge) > 2 else 1.0)
        return sch.SocialGraph(graph)
    if spec.name == "simultaneous":
        return sch.Simultaneous(tuple(spec.exclude or ()))
    if spec.name == "model_chosen":
        return sch.ModelChosen(
            model=model_ref(spec.model, pool, s),
            method=spec.method or "vs_standard",
            k=spec.k,
            allow_repeat=bool(spec.allow_repeat),
            window=spec.window or 10,
        )
    return sch.round_robin
