"""Questions asked of a conversation's participants: a persuadee's final donation, a focus
group participant's stance before and after the discussion.

:func:`ask_participant` shows one participant the conversation so far (from their point of
view) followed by a question, asks the model for a verbalized distribution over answers,
reads each candidate with an :class:`~vs_sim.tasks.survey_answers.AnswerReader`, draws the
answer with ``derive_uniform(run seed, *rng_key)`` and logs a ``distribution``, a ``choice`` and
an ``answer`` (with the participant's ``agent_id`` and the ``turn`` count they had seen).
Asked again with the same events as ``prior`` (a resumed run) it returns the logged answer,
or finishes one whose distribution is already logged, without a model call.

:class:`EventTap` lets a task run a :class:`~vs_sim.conversation.Conversation` and still see
the utterances it logged, to ask its questions afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..agents import Agent, Turn, distribution_event, rank_of
from ..distribution import Candidate, Distribution
from ..errors import ParseError
from ..events import Answer, Choice, DistributionRecorded, Event, Utterance
from ..models.base import Message
from ..seeds import derive_uniform
from .survey_answers import AnswerReader

if TYPE_CHECKING:
    from ..runner import RunContext


def transcript_messages(
    agent: Agent,
    turns: Sequence[Turn],
    names: Mapping[str, str],
    question: str,
    *,
    opening: str | None = None,
    instructions: str = "",
) -> list[Message]:
    """The chat that puts ``question`` to ``agent`` after ``turns`` (system message first).

    The agent's own utterances are ``assistant`` messages, everyone else's ``user`` messages
    prefixed with their name; the question closes the last ``user`` message, so a model (and
    the offline model, which reads options and ranges from the last user message) answers it.
    """
    system = "\n\n".join(p for p in (agent.system_prompt().strip(), instructions.strip()) if p)
    messages: list[Message] = [{"role": "system", "content": system}]
    pending: list[str] = [opening] if opening else []
    for turn in turns:
        if turn.speaker == agent.id:
            if pending:
                messages.append({"role": "user", "content": "\n".join(pending)})
                pending = []
            messages.append({"role": "assistant", "content": turn.text})
        else:
            pending.append(f"{names.get(turn.speaker, turn.speaker)}: {turn.text}")
    pending.append(("\n" if pending else "") + question)
    messages.append({"role": "user", "content": "\n".join(pending)})
    return messages


def _distribution(event: DistributionRecorded) -> Distribution:
    return Distribution(
        candidates=[
            Candidate(text=c.text, stated=c.stated, weight=c.weight, probability=c.probability)
            for c in event.candidates
        ],
        method=event.method,
        model=event.model,
        request_keys=list(event.request_keys),
    )


async def ask_participant(
    ctx: RunContext,
    *,
    conversation_id: str,
    agent: Agent,
    question_id: str,
    purpose: str,
    turn: int,
    messages: Sequence[Message],
    reader: AnswerReader,
    method: str,
    k: int | None,
    rng_key: Sequence[str | int],
    prior: Sequence[Event] = (),
    options: Mapping[str, Any] | None = None,
) -> Answer:
    """Ask one participant one question and log the answer (see the module docstring).

    Args:
        ctx: The run context (model, seed, log).
        conversation_id: The conversation the question belongs to.
        agent: Who answers (its model and policy's ``tau``/``min_keep``/temperature are used).
        question_id: The ``answer`` event's question id (unique per participant and moment).
        purpose: The purpose of the model call, distribution and choice events.
        turn: How many utterances the participant had seen.
        messages: The chat, system message first (see :func:`transcript_messages`).
        reader: Reads each candidate as an answer.
        method: The prompting method of this question.
        k: Candidates to ask for.
        rng_key: The keys of the draw, after the run seed.
        prior: The conversation's logged events (for resume).
        options: More ``averbalize`` options (method options such as ``wording``).
    """
    from ..verbalizer import averbalize

    recorded: DistributionRecorded | None = None
    chosen = False
    for event in prior:
        if isinstance(event, Answer) and event.question_id == question_id:
            return event
        if getattr(event, "purpose", None) == purpose and getattr(event, "speaker", None) == (
            agent.id
        ):
            if isinstance(event, DistributionRecorded) and event.turn == turn:
                recorded = event
            elif isinstance(event, Choice) and event.turn == turn:
                chosen = True
    if recorded is not None:
        dist = _distribution(recorded)
    else:
        policy = agent.policy
        try:
            dist = await averbalize(
                list(messages),
                k=k,
                method=method,
                model=ctx.resolve_model(agent.model),
                tau=policy.tau,
                min_keep=policy.min_keep,
                temperature=policy.model_temperature,
                on_call=ctx.on_call(conversation_id, turn, purpose),
                **dict(options or {}),
            )
        except ParseError as exc:
            answer = Answer(
                conversation_id=conversation_id,
                question_id=question_id,
                matched=False,
                raw=exc.raw,
                error=f"ParseError: {exc.reason}",
                agent_id=agent.id,
                turn=turn,
            )
            ctx.emit(answer)
            return answer
        ctx.emit(
            distribution_event(
                dist,
                conversation_id=conversation_id,
                turn=turn,
                speaker=agent.id,
                purpose=purpose,
            )
        )
    reads = [reader.read(c.text) for c in dist.candidates]
    soft, unmatched = reader.soft(dist, reads)
    drawn = dist.index_for(derive_uniform(ctx.seed, *rng_key))
    probabilities = dist.probabilities
    if not chosen:
        ctx.emit(
            Choice(
                conversation_id=conversation_id,
                turn=turn,
                speaker=agent.id,
                purpose=purpose,
                index=drawn,
                rank=rank_of(probabilities, drawn),
                probability=probabilities[drawn],
                rule="weighted",
                rng_key=list(rng_key),
            )
        )
    read = reads[drawn]
    answer = Answer(
        conversation_id=conversation_id,
        question_id=question_id,
        value=read.value,
        matched=read.matched,
        raw=dist.candidates[drawn].text,
        soft=soft,
        unmatched=unmatched,
        matched_by=read.how,
        out_of_range=read.out_of_range,
        agent_id=agent.id,
        turn=turn,
    )
    ctx.emit(answer)
    return answer


class EventTap:
    """A run context that also keeps the utterances written through it.

    Everything else is forwarded to the wrapped context, so a conversation run through the
    tap logs exactly as it would directly.
    """

    def __init__(self, inner: RunContext) -> None:
        self._inner = inner
        self.utterances: list[Utterance] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def emit(self, event: Event) -> None:
        """Log ``event`` through the wrapped context; keep it if it is an utterance."""
        self._inner.emit(event)
        if isinstance(event, Utterance):
            self.utterances.append(event)


def transcript(prior: Sequence[Event], tapped: Sequence[Utterance]) -> list[Turn]:
    """The conversation's turns from its earlier logged events and the ones just written
    (the first record of a turn wins, as when the engine replays a log)."""
    spoken: dict[int, Utterance] = {}
    for event in [*prior, *tapped]:
        if isinstance(event, Utterance):
            spoken.setdefault(event.turn, event)
    return [
        Turn(u.turn, u.speaker, u.text, tuple(u.addressed_to))
        for u in (spoken[t] for t in sorted(spoken))
    ]
