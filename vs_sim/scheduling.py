"""Who speaks next: one small protocol and the built-in schedulers.

A scheduler is any callable ``(agents, history, rng) -> speaker`` where ``agents`` are the
agents still in the conversation, ``history`` is the :class:`Transcript` so far (a sequence
of :class:`~vs_sim.agents.Turn` that also carries the conversation's id, participants and
run context), and ``rng`` is the step's :class:`~vs_sim.seeds.AddressedRng` (address
``(seed, conversation_id, turn, "schedule")``): ``rng.random()`` is one cheap draw, and every
other ``numpy.random.Generator`` method works on it too. It returns an agent id, a list of
ids (a simultaneous round: all of them answer the same history independently), or a
:class:`Pick` with a note for the log. It may be ``async``.

Built-ins: :func:`round_robin`, :class:`RandomSpeaker`, :class:`ModeratorLed`,
:class:`AddressedReply`, :class:`SocialGraph`, :class:`ModelChosen`, :class:`Simultaneous`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING, Any, overload

import networkx as nx
import numpy as np

from .agents import Agent, Turn, distribution_event, rank_of
from .errors import ConfigError
from .events import Choice
from .mentions import mentions as mentions  # (defined here before; still importable here)
from .seeds import AddressedRng

if TYPE_CHECKING:
    from .models.base import Model
    from .runner import RunContext
    from .verbalizer import CallPlan


@dataclass(frozen=True)
class Pick:
    """A scheduler's decision.

    Attributes:
        speakers: One id, or several for a simultaneous round.
        note: Recorded on the utterances (e.g. "no name found; fell back to round-robin").
        addressed_to: Whom the speakers address; ``None`` lets the engine decide.
    """

    speakers: tuple[str, ...]
    note: str | None = None
    addressed_to: tuple[str, ...] | None = None


SchedulerResult = str | Sequence[str] | Pick
Scheduler = Callable[
    [Sequence[Agent], "Transcript", AddressedRng],
    SchedulerResult | Awaitable[SchedulerResult],
]


class Transcript(Sequence[Turn]):
    """The conversation so far, plus what a scheduler may need to know about it.

    Attributes:
        conversation_id: The conversation's id.
        participants: Every agent id in the conversation's order (including those who left).
        names: Agent id → display name.
        seed: The conversation's seed.
        context: The run context (model, logging), when run by the engine.
    """

    def __init__(
        self,
        turns: Sequence[Turn] = (),
        *,
        conversation_id: str = "",
        participants: Sequence[str] = (),
        names: Mapping[str, str] | None = None,
        seed: int = 0,
        context: RunContext | None = None,
    ) -> None:
        self.turns = tuple(turns)
        self.conversation_id = conversation_id
        self.participants = tuple(participants)
        self.names = dict(names or {})
        self.seed = seed
        self.context = context

    @classmethod
    def _shared(
        cls,
        turns: tuple[Turn, ...],
        conversation_id: str,
        participants: tuple[str, ...],
        names: dict[str, str],
        seed: int,
        context: RunContext | None,
    ) -> Transcript:
        """A transcript holding these values as they are (``__init__`` copies each).

        For the conversation engine, which makes one per turn from values it keeps and
        never changes (``names`` is the engine's copy for its transcripts).
        """
        transcript = cls.__new__(cls)
        transcript.turns = turns
        transcript.conversation_id = conversation_id
        transcript.participants = participants
        transcript.names = names
        transcript.seed = seed
        transcript.context = context
        return transcript

    @overload
    def __getitem__(self, index: int) -> Turn: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Turn]: ...
    def __getitem__(self, index: int | slice) -> Turn | Sequence[Turn]:
        return self.turns[index]

    def __len__(self) -> int:
        return len(self.turns)

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.turns)

    @property
    def last(self) -> Turn | None:
        """The latest utterance, if any."""
        return self.turns[-1] if self.turns else None


def as_pick(result: SchedulerResult, agents: Sequence[Agent]) -> Pick:
    """Check a scheduler's answer against the agents still present."""
    pick = (
        result
        if isinstance(result, Pick)
        else Pick((result,))
        if isinstance(result, str)
        else Pick(tuple(result))
    )
    present = {a.id for a in agents}
    unknown = [s for s in pick.speakers if s not in present]
    if not pick.speakers or unknown:
        raise ConfigError(
            f"the scheduler chose {list(pick.speakers) or 'nobody'}; present: {sorted(present)}",
            where="scheduler",
        )
    return pick


# -- the schedulers ----------------------------------------------------------------------------


def _order(agents: Sequence[Agent], history: Sequence[Turn]) -> list[str]:
    participants = getattr(history, "participants", ()) or ()
    present = {a.id for a in agents}
    order = [p for p in participants if p in present]
    return order + [a.id for a in agents if a.id not in order]


def round_robin(agents: Sequence[Agent], history: Sequence[Turn], rng: AddressedRng) -> str:
    """The agent after the last speaker, in the conversation's order (skipping those who left)."""
    participants: list[str] = list(getattr(history, "participants", ()) or [a.id for a in agents])
    present = {a.id for a in agents}
    if not history:
        return _order(agents, history)[0]
    last = history[-1].speaker
    start = participants.index(last) + 1 if last in participants else 0
    for step in range(len(participants)):
        candidate = participants[(start + step) % len(participants)]
        if candidate in present:
            return candidate
    return _order(agents, history)[0]


def _choice(rng: AddressedRng, weights: Sequence[float]) -> int:
    """An index drawn with probability proportional to ``weights`` (finite, non-negative, with
    a positive sum) from one ``rng.random()``.

    The steps of ``Generator.choice(len(weights), p=...)`` in plain Python (normalize, add up
    in order, normalize the running sum, find the draw's place in it), so a numpy Generator
    passed in gives the index numpy would.
    """
    return bisect_right(_cdf(weights), rng.random())


def _cdf(weights: Sequence[float]) -> list[float]:
    """The normalized running sum :func:`_choice` searches."""
    total = 0.0
    for w in weights:
        total += w
    cdf = list(accumulate(w / total for w in weights))
    last = cdf[-1]
    return [c / last for c in cdf]


@lru_cache(maxsize=64)
def _uniform_cdf(n: int) -> tuple[float, ...]:
    """``_cdf([1.0] * n)``, made once per size (equal weights are the common case)."""
    return tuple(_cdf([1.0] * n))


@dataclass(frozen=True)
class RandomSpeaker:
    """A random speaker, weighted by ``weights`` (agent id → weight; missing ones weigh 1).

    With ``no_repeat`` nobody speaks twice in a row (unless they are alone).
    """

    weights: Mapping[str, float] = field(default_factory=dict)
    no_repeat: bool = False

    def __call__(self, agents: Sequence[Agent], history: Sequence[Turn], rng: AddressedRng) -> str:
        pool = list(agents)
        if self.no_repeat and history and len(pool) > 1:
            pool = [a for a in pool if a.id != history[-1].speaker]
        if not self.weights:  # everyone weighs 1: _choice with weights [1.0] * len(pool)
            return pool[bisect_right(_uniform_cdf(len(pool)), rng.random())].id
        weights = [float(self.weights.get(a.id, 1.0)) for a in pool]
        if not all(math.isfinite(x) and x >= 0 for x in weights) or not sum(weights) > 0:
            raise ConfigError(
                "speaker weights must be finite and non-negative with a positive sum",
                where="RandomSpeaker.weights",
            )
        return pool[_choice(rng, weights)].id


@dataclass(frozen=True)
class ModeratorLed:
    """The moderator speaks, then whoever its utterance names, then the moderator again.

    When the moderator names nobody present, the next participant in round-robin order
    among the others speaks, and the utterance's ``note`` says so.
    """

    moderator: str

    def __call__(self, agents: Sequence[Agent], history: Sequence[Turn], rng: AddressedRng) -> Pick:
        ids = [a.id for a in agents]
        if self.moderator not in ids:
            raise ConfigError(
                f"moderator {self.moderator!r} is not among {ids}", where="ModeratorLed.moderator"
            )
        others = [a for a in agents if a.id != self.moderator]
        if not history or history[-1].speaker != self.moderator or not others:
            return Pick((self.moderator,), addressed_to=tuple(a.id for a in others))
        named = mentions(history[-1].text, others)
        if named:
            return Pick((named[0],), addressed_to=(self.moderator,))
        previous = [t for t in history if t.speaker != self.moderator]
        chosen = round_robin(others, _with_participants(history, previous), rng)
        return Pick(
            (chosen,),
            note="moderator named nobody; fell back to round-robin",
            addressed_to=(self.moderator,),
        )


@dataclass(frozen=True)
class AddressedReply:
    """Whoever the last utterance addresses (``@Ana``, or ``Ana, ...`` at its start) answers.

    When it addresses nobody else present, the next agent in round-robin order speaks and
    the utterance's ``note`` says so.
    """

    def __call__(self, agents: Sequence[Agent], history: Sequence[Turn], rng: AddressedRng) -> Pick:
        if not history:
            return Pick((round_robin(agents, history, rng),))
        last = history[-1]
        named = [a for a in mentions(last.text, agents, anywhere=False) if a != last.speaker]
        if named:
            return Pick((named[0],), addressed_to=(last.speaker,))
        return Pick(
            (round_robin(agents, history, rng),),
            note="nobody addressed; fell back to round-robin",
        )


@dataclass(frozen=True)
class SocialGraph:
    """The next speaker is drawn among the last speaker's neighbours in ``graph``.

    Neighbours are weighted by the edge attribute ``weight`` (default 1). The first speaker,
    or one whose neighbours have all left, is drawn uniformly (noted in the log).
    """

    graph: nx.Graph[Any]
    weight: str = "weight"

    def __call__(self, agents: Sequence[Agent], history: Sequence[Turn], rng: AddressedRng) -> Pick:
        present = {a.id: a for a in agents}
        note: str | None
        if history and history[-1].speaker in self.graph:
            last = history[-1].speaker
            options: list[tuple[str, float]] = []
            for nbr in self.graph.neighbors(last):
                if nbr in present and nbr != last:
                    data = self.graph.get_edge_data(last, nbr) or {}
                    if self.graph.is_multigraph():
                        w = sum(float(d.get(self.weight, 1.0)) for d in data.values())
                    else:
                        w = float(data.get(self.weight, 1.0))
                    options.append((str(nbr), w))
            weights = np.array([w for _, w in options])
            if options and weights.sum() > 0 and np.all(weights >= 0):
                idx = int(rng.choice(len(options), p=weights / weights.sum()))
                return Pick((options[idx][0],), addressed_to=(last,))
            note = "no neighbour present; drew uniformly"
        else:
            note = None if not history else "last speaker not in the graph; drew uniformly"
        pool = [a.id for a in agents if not history or a.id != history[-1].speaker] or [
            a.id for a in agents
        ]
        return Pick((pool[int(rng.integers(len(pool)))],), note=note)


@dataclass(frozen=True)
class Simultaneous:
    """Everyone (but ``exclude``) answers the same history independently: one round per step.

    The shape of a survey: with an ``opening`` question and ``max_turns`` equal to the number
    of respondents, each answers once without seeing the others.
    """

    exclude: tuple[str, ...] = ()

    def __call__(
        self, agents: Sequence[Agent], history: Sequence[Turn], rng: AddressedRng
    ) -> list[str]:
        return [a.id for a in agents if a.id not in self.exclude]


@dataclass(frozen=True)
class ModelChosen:
    """A model picks the next speaker: a VS distribution over the participants' names.

    The call is logged with purpose ``next_speaker`` (model call, distribution and choice
    events); candidates that name nobody are ignored, and when none names anyone the next
    agent in round-robin order speaks (noted).

    Attributes:
        model: A model name or object; ``None`` uses the run's model.
        method: The prompting method.
        k: Candidates to ask for (``None``: all plausible).
        allow_repeat: Whether the last speaker may speak again.
        window: How many recent utterances the model sees.
    """

    model: Any = None
    method: str = "vs_standard"
    k: int | None = None
    allow_repeat: bool = False
    window: int = 10
    # id(model) -> (model, its call plan): ``averbalize``'s setup, worked out once per model
    _plans: dict[int, tuple[Model, CallPlan]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def _plan(self, model: Model) -> CallPlan:
        """The call plan for ``model`` (made on its first decision, then reused)."""
        held = self._plans.get(id(model))
        if held is not None and held[0] is model:
            return held[1]
        from .verbalizer import CallPlan

        plan = CallPlan.of(k=self.k, method=self.method, model=model)
        self._plans[id(model)] = (model, plan)
        return plan

    async def __call__(
        self, agents: Sequence[Agent], history: Sequence[Turn], rng: AddressedRng
    ) -> Pick:
        ctx = getattr(history, "context", None)
        conv = getattr(history, "conversation_id", "")
        if ctx is None:
            raise ConfigError("ModelChosen needs a running conversation (no run context)")
        pool = [
            a for a in agents if self.allow_repeat or not history or a.id != history[-1].speaker
        ] or list(agents)
        lines = "\n".join(
            f"{_name(history, t.speaker)}: {t.text}" for t in list(history)[-self.window :]
        )
        prompt = (
            (
                f"The conversation so far:\n{lines}\n\n"
                if lines
                else "The conversation is starting.\n\n"
            )
            + "Who should speak next? Answer with one name from: "
            + ", ".join(a.name for a in pool)
            + "."
        )
        turn = len(history)
        dist = await self._plan(ctx.resolve_model(self.model)).averbalize(
            prompt,
            system="You direct a group conversation and decide who speaks next.",
            on_call=ctx.on_call(conv, turn, "next_speaker"),
        )
        matched: list[tuple[int, str]] = []
        for i, cand in enumerate(dist.candidates):
            named = mentions(cand.text, pool)
            if named:
                matched.append((i, named[0]))
        ctx.emit(
            distribution_event(
                dist, conversation_id=conv, turn=turn, speaker=None, purpose="next_speaker"
            )
        )
        if not matched:
            chosen = round_robin(pool, history, rng)
            return Pick((chosen,), note="the model named nobody; fell back to round-robin")
        probs = np.array([dist.candidates[i].probability for i, _ in matched])
        probs = probs / probs.sum() if probs.sum() > 0 else np.full(len(matched), 1 / len(matched))
        pos = int(rng.choice(len(matched), p=probs))
        index, chosen = matched[pos]
        ctx.emit(
            Choice(
                conversation_id=conv,
                turn=turn,
                speaker=chosen,
                purpose="next_speaker",
                index=index,
                rank=rank_of(dist.probabilities, index),
                probability=dist.candidates[index].probability,
                rule="weighted",
                rng_key=[conv, turn, "schedule"],
            )
        )
        return Pick((chosen,), note=f"chosen by the model (p={float(probs[pos]):.3f})")


def _name(history: Sequence[Turn], agent_id: str) -> str:
    names: Mapping[str, str] = getattr(history, "names", {}) or {}
    return names.get(agent_id, agent_id)


def _with_participants(history: Sequence[Turn], turns: Sequence[Turn]) -> Transcript:
    return Transcript(turns, participants=getattr(history, "participants", ()))


# -- describing schedulers (so a logged conversation can be rebuilt and forked) --------------
