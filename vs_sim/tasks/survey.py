"""Simulated survey respondents: each persona answers a questionnaire with Verbalized Sampling.

For every question shown to a respondent, the model is asked (as that persona) for a
verbalized distribution over the answers; the distribution is kept as the respondent's
*soft* answer and one candidate is drawn from it with
``derive_uniform(seed, respondent_id, question_id, "answer")`` as the *hard* answer. Every call,
distribution, draw and answer is appended to the run's event log, from which
:mod:`.survey_analysis` and :mod:`.survey_reference` compute tables.

Each persona becomes a :class:`~vs_sim.tasks.respondent.Respondent`, a unit of work for
:func:`vs_sim.runner.run_units`, so surveys get the runner's concurrency, progress bar and
resume for free; :func:`run_survey` wires it up.

Example:
    >>> from vs_sim.personas import Persona
    >>> people = [Persona(id=f"p{i}", template="survey_respondent",
    ...                   attributes={"age": 30 + i}) for i in range(3)]  # doctest: +SKIP
    >>> result = run_survey("scenarios/data/opinion_questions.yaml", people,
    ...                     log_path="run/events.jsonl", progress=False)  # doctest: +SKIP
    >>> result.summary(by="age").to_dataframe()  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import ConfigError, TemplateError
from ..events import Answer
from ..models.base import Message, Model
from .matching import FUZZY_THRESHOLD
from .questionnaire import Mode, Question, Questionnaire, load_questionnaire
from .respondent import Respondent, RespondentPersona
from .survey_answers import AnswerReader

if TYPE_CHECKING:
    from ..runner import RunResult
    from ..verbalizer import CallPlan
    from .survey_analysis import SurveyAnswers, SurveySummary
    from .survey_reference import Reference, ReferenceComparison

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "survey_question.j2"
DEFAULT_K = 5
"""Candidates asked for on questions without options (numeric, open text)."""


def as_questionnaire(
    value: Questionnaire | Mapping[str, Any] | str | os.PathLike[str],
) -> Questionnaire:
    """A questionnaire from itself, plain data, or a YAML/JSON file path."""
    if isinstance(value, Questionnaire):
        return value
    if isinstance(value, Mapping):
        return Questionnaire.from_dict(value)
    return load_questionnaire(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _compile(template: str | os.PathLike[str] | None) -> jinja2.Template:
    """The question template: the built-in one, a ``.j2`` file, or template text.

    A path object, or a one-line string ending in ``.j2``, is a file; any other string is
    the template itself.
    """
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["number"] = _number
    if template is None:
        path: Path | None = TEMPLATE_DIR / DEFAULT_TEMPLATE
    elif isinstance(template, os.PathLike) or (
        "\n" not in template and template.strip().endswith(".j2")
    ):
        path = Path(template)
    else:
        path = None
    origin = str(path) if path is not None else "question template"
    if path is not None:
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(
                f"{path}: cannot read the question template: {exc.strerror}"
            ) from None
    else:
        source = str(template)
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{origin}:{exc.lineno}: {exc.message}") from None


def _check_method(method: str, options: Mapping[str, Any]) -> None:
    """Fail now, not once per respondent, on an unknown method or option."""
    import inspect

    from ..methods import get_method
    from ..verbalizer import averbalize

    own = set(inspect.signature(averbalize).parameters) - {"prompt", "options"}
    get_method(method, k=2, **{k: v for k, v in options.items() if k not in own})


class Survey:
    """A questionnaire made ready to ask: prompts rendered and answer readers built once.

    Args:
        questionnaire: The questionnaire (or its data, or a YAML/JSON path).
        method: The Verbalized Sampling method for every question (default ``vs_standard``).
        k: Candidates per question; default: the number of options for questions with
            options, :data:`DEFAULT_K` otherwise. A question's own ``k`` wins over both.
        mode: ``independent`` or ``interview``; default: the questionnaire's ``mode``.
        template: The question template: a ``.j2`` file path or template text (default: the
            built-in ``survey_question.j2``). It must keep the option lines readable.
        fuzzy_threshold: The least similarity for a fuzzy option match.
        verbalize_options: More keyword arguments for every ``averbalize`` call (``tau``,
            ``normalization``, ``temperature``, ``wording``, ...).
    """

    def __init__(
        self,
        questionnaire: Questionnaire | Mapping[str, Any] | str | os.PathLike[str],
        *,
        method: str = "vs_standard",
        k: int | None = None,
        mode: Mode | None = None,
        template: str | os.PathLike[str] | None = None,
        fuzzy_threshold: float = FUZZY_THRESHOLD,
        verbalize_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.questionnaire = as_questionnaire(questionnaire)
        if mode is not None and mode not in ("independent", "interview"):
            raise ConfigError(
                f"unknown mode {mode!r}; expected independent or interview", where="mode"
            )
        if k is not None and not 1 <= k <= 100:
            raise ConfigError(f"k must be between 1 and 100, got {k}", where="k")
        reserved = {"k", "method", "model", "system", "on_call"} & set(verbalize_options or {})
        if reserved:
            raise ConfigError(
                f"set {sorted(reserved)} through the survey's own arguments",
                where="verbalize_options",
            )
        _check_method(method, verbalize_options or {})
        self.method = method
        self.k = k
        self.mode: Mode = mode or self.questionnaire.mode
        self.verbalize_options = dict(verbalize_options or {})
        # every averbalize option but the sample index is fixed in a question's call plan
        self._plan_options = dict(self.verbalize_options)
        self.repeat: int = self._plan_options.pop("repeat", 0)
        self._plans: dict[int, CallPlan] = {}  # k -> its call plan (for one model at a time)
        self.template = template
        compiled = _compile(template)
        total = len(self.questionnaire.questions)
        self.prompts: dict[str, str] = {}
        for number, q in enumerate(self.questionnaire.questions, start=1):
            try:
                self.prompts[q.id] = compiled.render(
                    question=q,
                    options=list(q.options),
                    number=number,
                    total=total,
                    instructions=self.questionnaire.instructions or "",
                ).strip()
            except jinja2.TemplateError as exc:
                raise TemplateError(f"question template, rendering {q.id!r}: {exc}") from None
        self.readers = {
            q.id: AnswerReader(q, fuzzy_threshold) for q in self.questionnaire.questions
        }

    def k_for(self, question: Question) -> int:
        """How many candidates to ask for on ``question``."""
        if question.k is not None:
            return question.k
        if self.k is not None:
            return self.k
        return len(question.options) or DEFAULT_K

    def call_plan(self, question: Question, model: Model) -> CallPlan:
        """The ``averbalize`` plan for ``question`` asked of ``model``.

        Worked out once per number of candidates (the method, its options and the model are
        the survey's), instead of once per answer; a new model replaces the plans.
        """
        k = self.k_for(question)
        plan = self._plans.get(k)
        if plan is None or plan.model is not model:
            from ..verbalizer import CallPlan

            if plan is not None:  # (another run's model: its plans are of no more use)
                self._plans.clear()
            plan = self._plans[k] = CallPlan.of(
                k=k, method=self.method, model=model, **self._plan_options
            )
        return plan

    def messages(self, index: int, history: Sequence[Answer]) -> list[Message]:
        """The chat for question ``index`` (interview mode: earlier questions and answers first)."""
        question = self.questionnaire.questions[index]
        messages: list[Message] = []
        if self.mode == "interview":
            for answer in history:
                if answer.skipped or answer.raw is None or answer.error is not None:
                    continue
                messages.append({"role": "user", "content": self.prompts[answer.question_id]})
                messages.append({"role": "assistant", "content": answer.raw})
        messages.append({"role": "user", "content": self.prompts[question.id]})
        return messages

    def respondent(self, persona: RespondentPersona) -> Respondent:
        return Respondent(self, persona)

    def respondents(self, personas: Sequence[RespondentPersona]) -> list[Respondent]:
        """One respondent per persona (persona ids must be unique: they name the log's records)."""
        seen: set[str] = set()
        for i, persona in enumerate(personas):
            if persona.id in seen:
                raise ConfigError(
                    f"persona id {persona.id!r} is used twice", where=f"personas[{i}]"
                )
            seen.add(persona.id)
        return [Respondent(self, p) for p in personas]

    def config(self) -> dict[str, Any]:
        """The survey's settings, for the run's ``RunStarted`` record."""
        return {
            "task": "survey",
            "questionnaire": self.questionnaire.to_dict(),
            "method": self.method,
            "k": self.k,
            "mode": self.mode,
            "template": None if self.template is None else str(self.template),
            "verbalize_options": self.verbalize_options,
        }


@dataclass(frozen=True)
class SurveyResult:
    """A finished survey run: where its log is, the runner's counts, and views of the answers.

    Attributes:
        questionnaire: The questionnaire asked.
        log_path: The run's event log (the truth every table is computed from).
        run: The runner's result (counts, calls, tokens, cost, time).
    """

    questionnaire: Questionnaire
    log_path: Path
    run: RunResult = field(compare=False)

    @cached_property
    def answers(self) -> SurveyAnswers:
        """Every recorded answer, with each respondent's attributes."""
        from .survey_analysis import load_answers

        return load_answers(self.log_path)

    def summary(self, by: str | Sequence[str] | None = None) -> SurveySummary:
        """Per-question shares (sampled and soft), overall and per group of ``by``."""
        from .survey_analysis import summarize

        return summarize(self.answers, self.questionnaire, by=by)

    def compare(self, reference: Reference | str | os.PathLike[str]) -> ReferenceComparison:
        """Representativeness, total variation and Jensen–Shannon against a reference file."""
        from .survey_reference import compare_to_reference, load_reference

        ref = (
            reference
            if not isinstance(reference, str | os.PathLike)
            else load_reference(reference, self.questionnaire)
        )
        return compare_to_reference(self.answers, ref, self.questionnaire)


def _units(survey: Survey, personas: Sequence[RespondentPersona]) -> list[Respondent]:
    return survey.respondents(personas)


async def arun_survey(
    questionnaire: Questionnaire | Mapping[str, Any] | str | os.PathLike[str],
    personas: Sequence[RespondentPersona],
    *,
    model: str | Model = "offline/demo",
    seed: int = 0,
    method: str = "vs_standard",
    k: int | None = None,
    mode: Mode | None = None,
    log_path: str | os.PathLike[str],
    concurrency: int = 16,
    progress: bool = True,
    resume: bool = False,
    template: str | os.PathLike[str] | None = None,
    verbalize_options: Mapping[str, Any] | None = None,
) -> SurveyResult:
    """Async :func:`run_survey` (same arguments)."""
    from ..runner import arun_units

    survey = Survey(
        questionnaire,
        method=method,
        k=k,
        mode=mode,
        template=template,
        verbalize_options=verbalize_options,
    )
    result = await arun_units(
        _units(survey, personas),
        model=model,
        seed=seed,
        log_path=log_path,
        concurrency=concurrency,
        progress=progress,
        resume=resume,
        run_config=survey.config(),
        progress_label="respondents",
    )
    return SurveyResult(survey.questionnaire, Path(log_path), result)


def run_survey(
    questionnaire: Questionnaire | Mapping[str, Any] | str | os.PathLike[str],
    personas: Sequence[RespondentPersona],
    *,
    model: str | Model = "offline/demo",
    seed: int = 0,
    method: str = "vs_standard",
    k: int | None = None,
    mode: Mode | None = None,
    log_path: str | os.PathLike[str],
    concurrency: int = 16,
    progress: bool = True,
    resume: bool = False,
    template: str | os.PathLike[str] | None = None,
    verbalize_options: Mapping[str, Any] | None = None,
) -> SurveyResult:
    """Ask every persona the questionnaire; log everything to ``log_path``.

    Args:
        questionnaire: A :class:`Questionnaire`, its data, or a YAML/JSON file.
        personas: The respondents (anything with ``id``, ``attributes`` and ``render()``).
        model: A model name or object (default: the offline model, whose text is synthetic).
        seed: The run seed; each answer's draw uses ``(seed, respondent, question, "answer")``.
        method: The Verbalized Sampling method.
        k: Candidates per question (default: the number of options; 5 without options).
        mode: ``independent`` or ``interview`` (default: the questionnaire's mode).
        log_path: The JSONL event log to append to.
        concurrency: Respondents answered at the same time.
        progress: Show a progress bar.
        resume: Keep what ``log_path`` already holds and ask only what is missing.
        template: A question template (``.j2`` path or text) replacing the built-in one.
        verbalize_options: More ``averbalize`` options (``tau``, ``normalization``, ...).

    Returns:
        The :class:`SurveyResult` (answers, summaries and comparisons are read from the log).
    """
    from ..models.base import aclose_model
    from ..sync import run_sync
    from ..verbalizer import resolve_model

    async def once() -> SurveyResult:
        resolved = resolve_model(model)
        try:
            return await arun_survey(
                questionnaire,
                personas,
                model=resolved,
                seed=seed,
                method=method,
                k=k,
                mode=mode,
                log_path=log_path,
                concurrency=concurrency,
                progress=progress,
                resume=resume,
                template=template,
                verbalize_options=verbalize_options,
            )
        finally:
            await aclose_model(resolved)  # this event loop ends here

    return run_sync(once())
