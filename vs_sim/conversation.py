"""A conversation: agents, a scheduler, termination rules — and the engine that runs turns.

A :class:`Conversation` is a unit of work for :func:`vs_sim.runner.run_conversations`. Each
turn: the scheduler picks the speaker(s); the engine builds the speaker's messages from its
point of view, asks for a verbalized distribution of candidate utterances, draws one with
the speaker's selection rule and ``derive_uniform(seed, conversation_id, turn, "choice")``, and
logs ``model_call``, ``distribution``, ``choice`` and ``utterance`` events as they happen.

Everything the engine decides is a function of the logged history and addressed random
generators, so a conversation continued from its log (resume) or branched from a turn
(:mod:`vs_sim.branching`) goes on exactly as an uninterrupted run would.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .agents import (
    Agent,
    Turn,
    build_messages,
    choice_event,
    distribution_event,
    rank_of,
    summary_prompt,
    utterance_event,
)
from .events import (
    Choice,
    ConversationStarted,
    DistributionRecorded,
    Event,
    MemorySummary,
    ModelCall,
    Utterance,
)
from .mentions import Label, mention_labels, mentions_of
from .models.base import Request
from .run_stats import call_event
from .runner import RunContext
from .scheduler_specs import describe_scheduler, scheduler_from_description
from .scheduling import (
    Pick,
    Scheduler,
    SchedulerResult,
    Transcript,
    as_pick,
    round_robin,
)
from .seeds import AddressedRng, derive_uniform
from .verbalizer import CallHook, CallPlan, CallRecord


class Termination(BaseModel):
    """When a conversation ends (the first rule that holds names the end reason).

    Attributes:
        max_turns: ``max_turns``: this many utterances in all (a branch counts shared ones).
        stop_marker: ``stop_marker``: an utterance contains this text (e.g. ``[END]``).
        leave_marker: An agent whose utterance contains this leaves; ``agents_left`` when
            fewer than ``min_agents`` remain.
        min_agents: Default: 2, or 1 for a one-agent conversation.
        max_cost: ``max_cost``: the conversation's model calls cost at least this many dollars.
        predicate: ``predicate``: called with the :class:`~vs_sim.scheduling.Transcript` after
            each step (not recorded in the log; pass it again when resuming).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    max_turns: int | None = Field(default=20, ge=1)
    stop_marker: str | None = "[END]"
    leave_marker: str | None = "[LEAVE]"
    min_agents: int | None = Field(default=None, ge=1)
    max_cost: float | None = Field(default=None, ge=0)
    predicate: Callable[[Transcript], bool] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Termination:
        if self.max_turns is None and self.max_cost is None and self.predicate is None:
            raise ValueError(
                "set max_turns, max_cost or a predicate: a marker alone may never be said"
            )
        return self

    def describe(self) -> dict[str, Any]:
        """A JSON-safe record (the predicate only by name)."""
        data = self.model_dump(mode="json", exclude={"predicate"})
        data["predicate"] = (
            getattr(self.predicate, "__name__", repr(self.predicate))
            if (self.predicate is not None)
            else None
        )
        return data


class Fork(BaseModel):
    """Where a branch leaves its parent conversation (made by :func:`vs_sim.branching.fork`).

    Attributes:
        parent_id: The parent conversation.
        turn: The first turn that differs; turns before it are shared.
        speaker: Who speaks at ``turn`` (as in the parent).
        distribution: The parent's distribution at ``turn`` (reused: no model call).
        candidate: The candidate taken instead; ``None`` draws again with the branch's seed.
        prefix: The shared turns, ``0 .. turn - 1``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    parent_id: str
    turn: int = Field(ge=0)
    speaker: str
    distribution: DistributionRecorded
    candidate: int | None = None
    prefix: tuple[Turn, ...] = ()


class Conversation(BaseModel):
    """One conversation to run: who takes part, who speaks when, and when it ends.

    Attributes:
        id: Its ``conversation_id`` in the log (unique within a run).
        agents: The participants, in order (round-robin follows it).
        scheduler: Who speaks next (see :mod:`vs_sim.scheduling`).
        instructions: Scenario instructions added to every speaker's system prompt.
        opening: A first message every participant sees (a topic or a question).
        termination: When it ends.
        seed: Overrides the run seed for this conversation's draws (branches use it).
        meta: Free data recorded in ``ConversationStarted``.
        fork: Set for a branch of another conversation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    id: str
    agents: tuple[Agent, ...]
    scheduler: Scheduler = round_robin
    instructions: str = ""
    opening: str | None = None
    termination: Termination = Field(default_factory=Termination)
    seed: int | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    fork: Fork | None = None

    @field_validator("scheduler", mode="plain")
    @classmethod
    def _callable(cls, v: Any) -> Any:
        if not callable(v):
            raise ValueError(f"a scheduler must be callable, got {type(v).__name__}")
        return v

    @model_validator(mode="after")
    def _check(self) -> Conversation:
        if not self.agents:
            raise ValueError("a conversation needs at least one agent")
        ids = [a.id for a in self.agents]
        if len(set(ids)) != len(ids):
            raise ValueError(f"agent ids must be unique within a conversation: {ids}")
        return self

    # -- describing ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """A JSON-safe record, logged in ``ConversationStarted.meta["spec"]``."""
        return {
            "agents": [a.describe() for a in self.agents],
            "scheduler": describe_scheduler(self.scheduler),
            "instructions": self.instructions,
            "opening": self.opening,
            "termination": self.termination.describe(),
            "seed": self.seed,
        }

    @classmethod
    def from_description(
        cls, conversation_id: str, spec: dict[str, Any], *, scheduler: Scheduler | None = None
    ) -> Conversation:
        """Rebuild a conversation from :meth:`describe` (built-in schedulers only, unless
        ``scheduler`` is given)."""
        term = dict(spec.get("termination") or {})
        term.pop("predicate", None)
        return cls(
            id=conversation_id,
            agents=tuple(Agent.from_description(a) for a in spec["agents"]),
            scheduler=scheduler or scheduler_from_description(spec.get("scheduler") or {}),
            instructions=spec.get("instructions") or "",
            opening=spec.get("opening"),
            termination=Termination(**term),
            seed=spec.get("seed"),
        )

    # -- running ---------------------------------------------------------------------------
    async def run(self, ctx: RunContext, prior: list[Event]) -> str:
        """Run (or continue, from its own logged events ``prior``) until a rule ends it."""
        return await _Engine(self, ctx).run(prior)


@dataclass
class _State:
    """What the engine knows: rebuilt from the log on resume, updated as turns are spoken."""

    history: list[Turn] = field(default_factory=list)
    left: set[str] = field(default_factory=set)
    stopped: bool = False
    cost: float = 0.0
    summaries: dict[str, tuple[int, str]] = field(default_factory=dict)
    pending: dict[tuple[int, str], DistributionRecorded] = field(default_factory=dict)
    chosen: dict[tuple[int, str], Choice] = field(default_factory=dict)
    open_round: tuple[int, int] | None = None
    started: bool = False


class _Engine:
    def __init__(self, conv: Conversation, ctx: RunContext) -> None:
        self.conv = conv
        self.ctx = ctx
        self.seed = conv.seed if conv.seed is not None else ctx.seed
        self.names = {a.id: a.name for a in conv.agents}
        self.by_id = {a.id: a for a in conv.agents}
        self.order = tuple(a.id for a in conv.agents)
        self.st = _State()
        self.plans: dict[str, CallPlan] = {}  # agent id -> its call plan, made on its first turn
        self.solos: dict[str, Pick] = {}  # agent id -> the Pick of it alone (Picks are frozen)
        self.listeners: dict[str, tuple[Label, ...]] = {}  # speaker -> the others' labels
        self.transcript_names = dict(self.names)  # (every transcript's copy: made once)

    # -- state -----------------------------------------------------------------------------
    def _append(self, turn: Turn) -> None:
        st, term = self.st, self.conv.termination
        st.history.append(turn)
        if term.leave_marker and term.leave_marker in turn.text:
            st.left.add(turn.speaker)
        if term.stop_marker and term.stop_marker in turn.text:
            st.stopped = True

    def _replay(self, prior: Sequence[Event]) -> None:
        st = self.st
        for turn in self.conv.fork.prefix if self.conv.fork else ():
            self._append(turn)
        spoken: dict[int, Utterance] = {}
        for e in prior:
            if isinstance(e, ConversationStarted):
                st.started = True
            elif isinstance(e, Utterance):
                spoken.setdefault(e.turn, e)
            elif isinstance(e, ModelCall):
                st.cost += e.cost or 0.0
            elif isinstance(e, MemorySummary):
                if e.covers >= st.summaries.get(e.agent_id, (0, ""))[0]:
                    st.summaries[e.agent_id] = (e.covers, e.text)
            elif isinstance(e, DistributionRecorded | Choice) and e.purpose == "utterance":
                if e.turn is None or e.speaker is None:
                    continue
                if isinstance(e, DistributionRecorded):
                    st.pending[(e.turn, e.speaker)] = e
                else:
                    st.chosen[(e.turn, e.speaker)] = e
        for turn_no in sorted(spoken):
            u = spoken[turn_no]
            self._append(Turn(u.turn, u.speaker, u.text, tuple(u.addressed_to)))
        if spoken:
            last = spoken[max(spoken)]
            if last.round_start is not None and last.round_size is not None:
                done = sum(1 for u in spoken.values() if u.round_start == last.round_start)
                if done < last.round_size:
                    st.open_round = (last.round_start, last.round_size)
        for key in [k for k in st.pending if k[0] in spoken]:
            del st.pending[key]
        for key in [k for k in st.chosen if k[0] in spoken]:
            del st.chosen[key]

    def _transcript(self, turns: Sequence[Turn]) -> Transcript:
        return Transcript._shared(
            tuple(turns), self.conv.id, self.order, self.transcript_names, self.seed, self.ctx
        )

    def _stop_reason(self) -> str | None:
        st, term = self.st, self.conv.termination
        if st.stopped:
            return "stop_marker"
        min_agents = term.min_agents or min(2, len(self.conv.agents))
        if len(self.conv.agents) - len(st.left) < min_agents:
            return "agents_left"
        if term.max_turns is not None and len(st.history) >= term.max_turns:
            return "max_turns"
        if term.max_cost is not None and st.cost >= term.max_cost:
            return "max_cost"
        if term.predicate is not None and term.predicate(self._transcript(st.history)):
            return "predicate"
        return None

    # -- the loop --------------------------------------------------------------------------
    async def run(self, prior: Sequence[Event]) -> str:
        conv, ctx, st = self.conv, self.ctx, self.st
        self._replay(prior)
        if not st.started:
            ctx.emit(
                ConversationStarted(
                    conversation_id=conv.id,
                    participants=[a.participant() for a in conv.agents],
                    parent_id=conv.fork.parent_id if conv.fork else None,
                    fork_turn=conv.fork.turn if conv.fork else None,
                    meta={**conv.meta, "spec": conv.describe()},
                )
            )
        fork = conv.fork
        if fork and len(st.history) == fork.turn and (fork.turn, fork.speaker) not in st.pending:
            copy = fork.distribution.model_copy(update={"conversation_id": conv.id})
            ctx.emit(copy)
            st.pending[(fork.turn, fork.speaker)] = copy
        while True:
            done = 0
            if st.open_round is not None:  # finish a round cut short by a kill first
                step = st.open_round[0]
                done = len(st.history) - step
                st.open_round = None
                left = {t.speaker for t in st.history[:step] if self._leaves(t)}
            else:
                reason = self._stop_reason()
                if reason is not None:
                    return reason
                step, left = len(st.history), st.left
            snapshot = self._transcript(st.history[:step])
            active = [a for a in conv.agents if a.id not in left] if left else conv.agents
            pick = self._schedule(active, snapshot, step)
            if not isinstance(pick, Pick):  # an async scheduler's answer, still to come
                pick = as_pick(await pick, active)
            speakers = pick.speakers
            if conv.termination.max_turns is not None:
                speakers = speakers[: conv.termination.max_turns - step]
            if len(speakers) == 1 and not done:  # one speaker: most steps
                self._append(await self._speak(speakers[0], step, snapshot, pick, None, ctx.emit))
                continue
            size = len(speakers) if len(speakers) > 1 else None
            jobs = [(step + i, s) for i, s in enumerate(speakers)][done:]
            if size is None:
                turn_no, speaker = jobs[0]
                self._append(await self._speak(speaker, turn_no, snapshot, pick, None, ctx.emit))
                continue
            buffers: list[list[Event]] = [[] for _ in jobs]
            results = await asyncio.gather(
                *(
                    self._speak(s, t, snapshot, pick, (step, size), buf.append)
                    for (t, s), buf in zip(jobs, buffers)
                ),
                return_exceptions=True,
            )
            for buf, result in zip(buffers, results):  # in order, so logs compare across runs
                for event in buf:
                    ctx.emit(event)
                if isinstance(result, BaseException):
                    raise result
                self._append(result)

    def _leaves(self, turn: Turn) -> bool:
        marker = self.conv.termination.leave_marker
        return marker is not None and marker != "" and marker in turn.text

    def _schedule(
        self, active: Sequence[Agent], snapshot: Transcript, step: int
    ) -> Pick | Awaitable[SchedulerResult]:
        """The step's pick, or an async scheduler's awaitable answer (for ``as_pick``)."""
        fork = self.conv.fork
        if fork is not None and step == fork.turn:
            return Pick((fork.speaker,), note=f"branch of {fork.parent_id} at turn {fork.turn}")
        rng = AddressedRng(self.seed, self.conv.id, step, "schedule")
        result = self.conv.scheduler(active, snapshot, rng)
        if type(result) is str:  # the usual answer, one present agent: as_pick, made once
            for agent in active:
                if agent.id == result:
                    pick = self.solos.get(result)
                    if pick is None:
                        pick = self.solos[result] = Pick((result,))
                    return pick
        elif inspect.isawaitable(result):
            return result
        return as_pick(result, active)

    def _plan(self, agent: Agent) -> CallPlan:
        """The agent's call plan: ``averbalize`` with its policy, worked out once per agent."""
        policy = agent.policy
        plan = self.plans[agent.id] = CallPlan.of(
            k=policy.k,
            method=policy.method,
            model=self.ctx.resolve_model(agent.model),
            tau=policy.tau,
            min_keep=policy.min_keep,
            temperature=policy.model_temperature,
            **policy.options,
        )
        return plan

    def _hook(self, turn: int, purpose: str, emit: Callable[[Event], None]) -> CallHook:
        def hook(record: CallRecord) -> None:
            if record.completion is not None and record.completion.cost:
                self.st.cost += record.completion.cost
            emit(call_event(record, self.conv.id, turn, purpose))

        return hook

    async def _speak(
        self,
        speaker: str,
        turn: int,
        snapshot: Transcript,
        pick: Pick,
        round_: tuple[int, int] | None,
        emit: Callable[[Event], None],
    ) -> Turn:
        conv, st = self.conv, self.st
        agent = self.by_id[speaker]
        last = snapshot.last
        if pick.addressed_to is not None:
            addressed: tuple[str, ...] = pick.addressed_to
        else:
            addressed = (last.speaker,) if last is not None and last.speaker != speaker else ()
        recorded = st.pending.pop((turn, speaker), None) if st.pending else None
        if recorded is None:
            memory = agent.memory
            visible: Sequence[Turn]
            if memory.kind == "full":
                summary, visible = None, snapshot.turns
            elif memory.kind == "last_n":
                summary, visible = None, snapshot.turns[-memory.n :]
            else:
                summary, visible = await self._memory(agent, snapshot, turn, emit)
            system, messages = build_messages(
                agent,
                visible,
                self.names,
                addressed_to=addressed,
                instructions=conv.instructions,
                opening=conv.opening,
                summary=summary,
            )
            plan = self.plans.get(speaker) or self._plan(agent)
            dist = await plan.averbalize_chat(messages, system, self._hook(turn, "utterance", emit))
            recorded = distribution_event(dist, conversation_id=conv.id, turn=turn, speaker=speaker)
            emit(recorded)
        probs = [c.probability for c in recorded.candidates]
        choice = st.chosen.pop((turn, speaker), None) if st.chosen else None
        if choice is None:
            fork = conv.fork
            if fork is not None and turn == fork.turn and fork.candidate is not None:
                index, rule = fork.candidate, "forced"
            else:
                u = derive_uniform(self.seed, conv.id, turn, "choice")
                index, rule = agent.policy.select(probs, u), agent.policy.selection
            choice = choice_event(
                conversation_id=conv.id,
                turn=turn,
                speaker=speaker,
                index=index,
                rank=rank_of(probs, index),
                probability=float(probs[index]),
                rule=rule,
                rng_key=[conv.id, turn, "choice"],
            )
            emit(choice)
        text = recorded.candidates[choice.index].text
        labels = self.listeners.get(speaker)
        if labels is None:
            others = [a for a in conv.agents if a.id != speaker]
            labels = self.listeners[speaker] = mention_labels(others)
        to = tuple(mentions_of(text, labels, anywhere=False)) or addressed
        emit(
            utterance_event(
                conversation_id=conv.id,
                turn=turn,
                speaker=speaker,
                text=text,
                addressed_to=list(to),
                reply_to=last.turn if last is not None else None,
                probability=float(probs[choice.index]),
                rank=choice.rank,
                entropy=float(recorded.entropy),
                note=pick.note,
                round_start=round_[0] if round_ else None,
                round_size=round_[1] if round_ else None,
            )
        )
        return Turn(turn, speaker, text, to)

    async def _memory(
        self, agent: Agent, snapshot: Transcript, turn: int, emit: Callable[[Event], None]
    ) -> tuple[str | None, Sequence[Turn]]:
        """A ``summary`` memory: the running summary and the turns it holds verbatim."""
        turns, n = list(snapshot), agent.memory.n
        covers, text = self.st.summaries.get(agent.id, (0, ""))
        if len(turns) - covers >= 2 * n:  # refresh in chunks: the window stays n .. 2n - 1
            upto = len(turns) - n
            model = self.ctx.resolve_model(agent.model)
            request = Request(
                model=model.name,
                messages=tuple(summary_prompt(agent, text or None, turns[covers:upto], self.names)),
            )
            hook = self._hook(turn, "summary", emit)
            try:
                completion = await model.acomplete(request)
            except Exception as exc:
                hook(CallRecord(request, None, exc))
                raise
            hook(CallRecord(request, completion, None))
            covers, text = upto, completion.text.strip()
            self.st.summaries[agent.id] = (covers, text)
            emit(
                MemorySummary(
                    conversation_id=self.conv.id,
                    agent_id=agent.id,
                    turn=turn,
                    covers=covers,
                    text=text,
                )
            )
        return (text or None), turns[covers:]
