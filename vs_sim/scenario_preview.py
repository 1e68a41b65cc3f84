"""What a scenario will send, before it sends anything: prompts (``--dry-run``) and cost.

:func:`preview_prompts` renders every prompt the first persona would get — the system
prompt with the persona and the method's instructions, then each question (survey) or the
first turn's messages of each agent (conversations) — without building or calling a model.
:func:`projected_cost` turns those prompts into a rough cost for the whole run with
litellm's price table, when litellm knows the model's price.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .models.base import Message
from .models.limits import estimate_tokens

if TYPE_CHECKING:
    from .agents import Agent
    from .conversation import Conversation
    from .scenario_build import Prepared
    from .tasks.respondent import Respondent

HISTORY_TOKENS_PER_TURN = 40
"""Tokens an utterance adds to every later prompt (for the cost projection)."""
ANSWER_TOKENS_PER_CANDIDATE = 30
"""Completion tokens per candidate asked for (for the cost projection)."""
DEFAULT_TURNS = 20


@dataclass(frozen=True)
class PromptPreview:
    """One prompt as it would be sent (the first call, when a method makes several).

    Attributes:
        unit: The respondent or conversation id.
        label: What it is (``question climate_worry (2/12)``, ``agent moderator``).
        messages: The chat, system prompt first, method instructions included.
        calls: Model calls it makes (methods such as ``direct`` make ``k`` calls).
        candidates: Candidates asked for (``None``: the model decides).
        note: Anything the preview cannot show (skip logic, interview history).
    """

    unit: str
    label: str
    messages: tuple[Message, ...]
    calls: int
    candidates: int | None
    note: str = ""

    @property
    def prompt_tokens(self) -> int:
        """The estimated prompt tokens of one call."""
        return estimate_tokens(self.messages)


def _method_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The method's own options among ``averbalize`` keyword arguments."""
    from .verbalizer import averbalize

    own = set(inspect.signature(averbalize).parameters)
    return {k: v for k, v in options.items() if k not in own}


def _full(
    messages: Sequence[Message], system: str, method: str, k: int | None, options: Mapping[str, Any]
) -> tuple[tuple[Message, ...], int]:
    from .methods import get_method
    from .verbalizer import to_messages

    meth = get_method(method, k=k, **_method_options(options))
    built = meth.build_messages(to_messages(list(messages), system), meth.turn_sizes()[0])
    return tuple(built), meth.independent_calls * meth.turns


def preview_prompts(prepared: Prepared) -> list[PromptPreview]:
    """Every prompt of the first respondent or conversation; no model is built or called."""
    from .conversation import Conversation
    from .scenario_build import build_units
    from .tasks.respondent import Respondent

    units = build_units(prepared, only_first=True)
    if not units:
        return []
    unit = units[0]
    if isinstance(unit, Respondent):
        return _survey_previews(unit)
    conv = unit if isinstance(unit, Conversation) else getattr(unit, "conversation", None)
    if isinstance(conv, Conversation):
        return _conversation_previews(conv, prepared.scenario.seed)
    return []


def _survey_previews(unit: Respondent) -> list[PromptPreview]:
    survey = unit.survey
    system = unit.persona.render()
    questions = survey.questionnaire.questions
    out = []
    for index, question in enumerate(questions):
        k = survey.k_for(question)
        messages, calls = _full(
            survey.messages(index, []), system, survey.method, k, survey.verbalize_options
        )
        notes = []
        if question.show_if is not None:
            values = ", ".join(str(v) for v in question.show_if.values)
            notes.append(f"asked only if {question.show_if.question} is one of: {values}")
        if survey.mode == "interview" and index:
            notes.append("in interview mode the earlier questions and answers come first")
        out.append(
            PromptPreview(
                unit=unit.id,
                label=f"question {question.id} ({index + 1}/{len(questions)})",
                messages=messages,
                calls=calls,
                candidates=k,
                note="; ".join(notes),
            )
        )
    return out


def _first_speaker(conv: Conversation, seed: int) -> tuple[str | None, tuple[str, ...]]:
    """Who the scheduler picks first, and whom they address (``None``: decided by a model)."""
    from .scheduling import Transcript, as_pick
    from .seeds import AddressedRng

    call = getattr(conv.scheduler, "__call__", conv.scheduler)  # noqa: B004 - any callable
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(conv.scheduler):
        return None, ()
    history = Transcript(
        (),
        conversation_id=conv.id,
        participants=[a.id for a in conv.agents],
        names={a.id: a.name for a in conv.agents},
        seed=seed,
    )
    picked = conv.scheduler(list(conv.agents), history, AddressedRng(seed, conv.id, 0, "schedule"))
    pick = as_pick(picked, list(conv.agents))  # type: ignore[arg-type]
    return pick.speakers[0], tuple(pick.addressed_to or ())


def _conversation_previews(conv: Conversation, seed: int) -> list[PromptPreview]:
    from .agents import build_messages

    first, addressed = _first_speaker(conv, seed)
    names = {a.id: a.name for a in conv.agents}
    out = []
    ordered: list[Agent] = sorted(conv.agents, key=lambda a: a.id != first)
    for agent in ordered:
        to = addressed if agent.id == first else ()
        system, messages = build_messages(
            agent, [], names, addressed_to=to, instructions=conv.instructions, opening=conv.opening
        )
        policy = agent.policy
        full, calls = _full(messages, system, policy.method, policy.k, policy.options)
        speaks = (
            " — speaks first"
            if agent.id == first
            else (" — if it speaks first" if first is not None else "")
        )
        out.append(
            PromptPreview(
                unit=conv.id,
                label=f"agent {agent.id} ({agent.name}, {agent.role or 'no role'}){speaks}",
                messages=full,
                calls=calls,
                candidates=policy.k,
                note="" if first is not None else "a model picks the first speaker",
            )
        )
    return out


def format_previews(previews: Sequence[PromptPreview]) -> str:
    """The previews as plain text, one block per prompt."""
    blocks = []
    for p in previews:
        calls = f"{p.calls} call{'s' if p.calls != 1 else ''}"
        k = "model decides" if p.candidates is None else str(p.candidates)
        head = f"=== {p.unit} · {p.label} · {calls}, k = {k}, ~{p.prompt_tokens} prompt tokens"
        lines = [head]
        if p.note:
            lines.append(f"(note: {p.note})")
        for message in p.messages:
            lines.append(f"--- {message['role']}")
            lines.append(message["content"].rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def projected_tokens(prepared: Prepared, previews: Sequence[PromptPreview]) -> tuple[int, int]:
    """Rough prompt and completion tokens of the whole run, from the first unit's prompts."""
    if not previews:
        return 0, 0
    n = prepared.n
    if prepared.scenario.task == "survey":
        prompt = sum(p.prompt_tokens * p.calls for p in previews)
        answer = sum(p.calls * ANSWER_TOKENS_PER_CANDIDATE * (p.candidates or 5) for p in previews)
        return prompt * n, answer * n
    turns = int(getattr(prepared.task_config, "max_turns", None) or DEFAULT_TURNS)
    section = prepared.scenario.conversation
    if section is not None and section.termination.max_turns is not None:
        turns = section.termination.max_turns
    base = sum(p.prompt_tokens * p.calls for p in previews) / len(previews)
    k = sum((p.candidates or 5) * p.calls for p in previews) / len(previews)
    per_conversation = turns * base + HISTORY_TOKENS_PER_TURN * turns * (turns - 1) / 2
    answers = turns * k * ANSWER_TOKENS_PER_CANDIDATE
    return int(per_conversation * n), int(answers * n)


def projected_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Dollars for these tokens by litellm's price table; ``None`` when the price is unknown.

    Imports litellm (slow) — call it for hosted models only.
    """
    if model.startswith("offline/") or prompt_tokens <= 0:
        return None
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm

        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # an unknown model or price: no projection, silently
        return None
    total = float(prompt_cost) + float(completion_cost)
    return total if total > 0 else None
