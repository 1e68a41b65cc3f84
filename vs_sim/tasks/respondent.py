"""One persona answering a questionnaire: the :class:`Respondent` unit of work.

For each question it is shown, a respondent asks the model (as its persona) for a
verbalized distribution, reads every candidate as an answer (:mod:`.survey_answers`), draws
its hard answer with ``derive_uniform(seed, respondent_id, question_id, "answer")`` and logs a
``distribution``, a ``choice`` and an ``answer`` (model calls are logged by the run
context's hook). Skip logic decides which questions it is shown; in interview mode it sees
its earlier questions and answers. On resume it asks only what its logged events lack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..agents import distribution_event, rank_of
from ..distribution import Candidate, Distribution
from ..errors import ParseError
from ..events import (
    Answer,
    Choice,
    ConversationStarted,
    DistributionRecorded,
    Event,
    Participant,
)
from ..seeds import derive_uniform
from .matching import normalize_text
from .questionnaire import (
    MultiSelectQuestion,
    NumericQuestion,
    Question,
    RankingQuestion,
    ShowIf,
    value_text,
)

if TYPE_CHECKING:
    from ..runner import RunContext
    from .survey import Survey

END_REASON = "questionnaire_completed"
"""What a respondent's ``conversation_ended`` event gives as its reason."""


class RespondentPersona(Protocol):
    """What a respondent needs from a persona (:class:`vs_sim.personas.Persona` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, Any]: ...

    def render(self) -> str:
        """The persona's system prompt."""
        ...


def shown(condition: ShowIf | None, target: Question | None, answer: Answer | None) -> bool:
    """Whether skip logic shows a question, given the earlier ``answer`` it depends on."""
    if condition is None:
        return True
    if target is None or answer is None or answer.skipped or not answer.matched:
        return False
    value = answer.value
    if value is None:
        return False
    if isinstance(target, NumericQuestion):
        return any(not isinstance(v, str) and float(v) == float(value) for v in condition.values)
    wanted = {normalize_text(value_text(v)) for v in condition.values}
    if isinstance(target, MultiSelectQuestion):
        return any(normalize_text(str(v)) in wanted for v in value)
    if isinstance(target, RankingQuestion):
        return bool(value) and normalize_text(str(value[0])) in wanted
    return normalize_text(str(value)) in wanted


def _distribution_from_event(event: DistributionRecorded) -> Distribution:
    """The distribution a ``distribution`` event recorded (to finish a question on resume)."""
    return Distribution(
        candidates=[
            Candidate(text=c.text, stated=c.stated, weight=c.weight, probability=c.probability)
            for c in event.candidates
        ],
        method=event.method,
        model=event.model,
        request_keys=list(event.request_keys),
    )


class Respondent:
    """One persona answering the survey: a unit of work for the runner.

    Its ``id`` (the persona's id) is its conversation id in the log and the respondent key of
    every answer's random draw.
    """

    def __init__(self, survey: Survey, persona: RespondentPersona) -> None:
        self.survey = survey
        self.persona = persona
        self.id = persona.id

    def participant(self) -> Participant:
        return Participant(
            agent_id=self.id,
            name=self.id,
            persona_id=self.persona.id,
            template=getattr(self.persona, "template", None),
            attributes=dict(self.persona.attributes),
            role="respondent",
        )

    async def run(self, ctx: RunContext, prior: Sequence[Event]) -> str:
        """Answer every question not already answered in ``prior``; returns the end reason."""
        survey = self.survey
        answers: dict[str, Answer] = {}
        distributions: dict[str, DistributionRecorded] = {}
        choices: set[str] = set()
        started = False
        for event in prior:
            if isinstance(event, Answer):
                answers[event.question_id] = event
            elif isinstance(event, DistributionRecorded):
                distributions[event.purpose] = event
            elif isinstance(event, Choice):
                choices.add(event.purpose)
            elif isinstance(event, ConversationStarted):
                started = True
        if not started:
            ctx.emit(
                ConversationStarted(
                    conversation_id=self.id,
                    participants=[self.participant()],
                    meta={
                        "task": "survey",
                        "questionnaire": survey.questionnaire.name,
                        "mode": survey.mode,
                    },
                )
            )
        system: str | None = None
        questions = survey.questionnaire.questions
        by_id = {q.id: q for q in questions}
        history: list[Answer] = []
        for index, question in enumerate(questions):
            done = answers.get(question.id)
            if done is None:
                cond = question.show_if
                if not shown(
                    cond,
                    by_id.get(cond.question) if cond else None,
                    answers.get(cond.question) if cond else None,
                ):
                    done = Answer(
                        conversation_id=self.id,
                        question_id=question.id,
                        matched=False,
                        skipped=True,
                    )
                    ctx.emit(done)
                else:
                    if system is None:
                        system = self.persona.render()
                    done = await self._ask(
                        ctx,
                        index,
                        question,
                        system,
                        history,
                        distributions.get(question.id),
                        question.id in choices,
                    )
                answers[question.id] = done
            history.append(done)
        return END_REASON

    async def _ask(
        self,
        ctx: RunContext,
        index: int,
        question: Question,
        system: str,
        history: Sequence[Answer],
        recorded: DistributionRecorded | None,
        chosen: bool,
    ) -> Answer:
        """Ask one question (or finish one whose distribution is already logged)."""
        survey = self.survey
        if recorded is not None:
            dist = _distribution_from_event(recorded)
        else:
            plan = survey.call_plan(question, ctx.model)
            messages = survey.messages(index, history)  # new user/assistant dicts, ours alone
            hook = ctx.on_call(self.id, index, question.id)
            try:
                if survey.repeat:
                    dist = await plan.averbalize(
                        messages, system=system, repeat=survey.repeat, on_call=hook
                    )
                else:  # (the same distribution, without copying the messages twice)
                    dist = await plan.averbalize_chat(messages, system, hook)
            except ParseError as exc:
                answer = Answer(
                    conversation_id=self.id,
                    question_id=question.id,
                    matched=False,
                    raw=exc.raw,
                    error=f"ParseError: {exc.reason}",
                )
                ctx.emit(answer)
                return answer
            ctx.emit(
                distribution_event(
                    dist, conversation_id=self.id, turn=index, speaker=self.id, purpose=question.id
                )
            )
        reader = survey.readers[question.id]
        reads = [reader.read(c.text) for c in dist.candidates]
        soft, unmatched = reader.soft(dist, reads)
        key: list[str | int] = [self.id, question.id, "answer"]
        drawn = dist.index_for(derive_uniform(ctx.seed, *key))
        probabilities = dist.probabilities
        if not chosen:
            ctx.emit(
                Choice.trusted(  # values made here, already typed
                    conversation_id=self.id,
                    turn=index,
                    speaker=self.id,
                    purpose=question.id,
                    index=drawn,
                    rank=rank_of(probabilities, drawn),
                    probability=float(probabilities[drawn]),
                    rule="weighted",
                    rng_key=key,
                )
            )
        read = reads[drawn]
        answer = Answer.trusted(  # (the reader's values are already typed)
            conversation_id=self.id,
            question_id=question.id,
            value=read.value,
            matched=read.matched,
            raw=dist.candidates[drawn].text,
            soft=soft,
            unmatched=unmatched,
            matched_by=read.how,
            out_of_range=read.out_of_range,
        )
        ctx.emit(answer)
        return answer
