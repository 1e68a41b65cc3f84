"""``verbalize()``: method ▸ model ▸ parse ▸ :class:`~vs_sim.distribution.Distribution`.

One call asks a model for a verbalized distribution with the chosen method, reads every
answer with the parser, applies the caller's parse-failure policy, and returns the
normalized distribution with its usage, cost and repairs. Sampling from it is the caller's
move: ``verbalize(...).sample(seed)``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from .calls import Caller, CallHook, CallRecord, all_text
from .distribution import Candidate, Distribution, Repair
from .errors import ConfigError
from .methods import Method, get_method
from .models.base import Message, Model, Usage, aclose_model
from .sync import run_sync

__all__ = [
    "CallHook",
    "CallPlan",
    "CallRecord",
    "averbalize",
    "resolve_model",
    "to_messages",
    "verbalize",
]

T = TypeVar("T")


_MODELS: dict[str, Model] = {}
_MODELS_LOCK = threading.Lock()


def resolve_model(model: str | Model) -> Model:
    """A model object from a name (built once per name, with default settings) or itself."""
    if not isinstance(model, str):
        return model
    with _MODELS_LOCK:
        if model not in _MODELS:
            from .models import build_model

            _MODELS[model] = build_model(model)
        return _MODELS[model]


def to_messages(prompt: str | Sequence[Message], system: str | None = None) -> list[Message]:
    """Chat messages from a task prompt or messages, with ``system`` as the first message."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ConfigError("the prompt is empty")
        messages: list[Message] = [{"role": "user", "content": prompt}]
    else:
        messages = [dict(m) for m in prompt]
        if not messages:
            raise ConfigError("no messages given")
        for i, msg in enumerate(messages):
            if msg.get("role") not in ("system", "user", "assistant") or "content" not in msg:
                raise ConfigError(
                    "each message needs a role (system, user, assistant) and content",
                    where=f"messages[{i}]",
                )
    if system:
        if messages[0]["role"] == "system":
            messages[0] = {
                "role": "system",
                "content": f"{system.rstrip()}\n\n{messages[0]['content']}",
            }
        else:
            messages.insert(0, {"role": "system", "content": system})
    return messages


@dataclass(frozen=True)
class _Plan:
    """What a turn needs to know of its method, worked out once per method.

    A :class:`Method` is frozen, so its call shape, whether it has a JSON schema and whether
    it asks for a count of candidates never change; reading them anew on every call cost
    more than the rest of the bookkeeping around a call.
    """

    method: Method
    independent_calls: int
    turns: int
    sizes: tuple[int | None, ...]
    has_schema: bool  # the schema itself is built per call: a provider may change its copy
    checks_count: bool  # a list method asked for k candidates: another count is a repair

    @classmethod
    def of(cls, method: Method) -> _Plan:
        return cls(
            method=method,
            independent_calls=method.independent_calls,
            turns=method.turns,
            sizes=tuple(method.turn_sizes()),
            has_schema=method.response_format() is not None,
            checks_count=method.k is not None
            and method.name in ("sequence", "vs_standard", "vs_cot", "vs_multi"),
        )


async def averbalize(
    prompt: str | Sequence[Message],
    *,
    k: int | None = 5,
    method: str | Method = "vs_standard",
    model: str | Model = "offline/demo",
    system: str | None = None,
    tau: float | None = None,
    min_keep: int = 1,
    normalization: str = "elicited",
    weight_temperature: float = 1.0,
    temperature: float | None = None,
    seed: int | None = None,
    repeat: int = 0,
    max_tokens: int | None = None,
    on_call: CallHook | None = None,
    parse_retries: int = 1,
    fallback: bool = True,
    **options: Any,
) -> Distribution:
    """Ask a model for a verbalized distribution of candidate responses.

    Args:
        prompt: A task prompt, or chat messages (a system message is optional).
        k: Candidates to ask for; ``None`` lets the model decide (list methods only).
        method: ``direct``, ``cot``, ``sequence``, ``multi_turn``, ``vs_standard``, ``vs_cot``
            or ``vs_multi``, or a :class:`~vs_sim.methods.Method`.
        model: A model name (``offline/demo``, ``openai/gpt-4o-mini``, ...) or a model object.
        system: Text put first in the system message (e.g. a rendered persona).
        tau: Post-hoc floor: drop candidates with normalized probability below it, keeping at
            least ``min_keep``. The prompt is not changed (see the ``tail`` option for that).
        min_keep: The fewest candidates the ``tau`` filter may leave.
        normalization: ``elicited`` (the model's numbers), ``uniform`` or ``temperature``.
        weight_temperature: The temperature of ``temperature`` normalization.
        temperature: The model's sampling temperature, passed to the provider.
        seed: Passed to the provider (and the offline model).
        repeat: The sample index: a different value is a different sample (and cache entry).
        max_tokens: Passed to the provider.
        on_call: Called with a :class:`CallRecord` after every model call, even a failed one.
        parse_retries: How often to re-ask when an answer cannot be parsed.
        fallback: After the retries, use the whole answer as one candidate (recorded as a
            ``fallback_single`` repair) instead of raising :class:`~vs_sim.errors.ParseError`.
        **options: Method options: ``length_hint``, ``wording``, ``tail``, ``m``, ``format``,
            ``template_dirs``.

    Returns:
        The distribution, with probabilities summing to 1.

    Raises:
        ParseError: Nothing usable after the retries and ``fallback`` is off (or the answer
            was empty).
        ModelError: The model call failed after its retries.
        ConfigError: An option is invalid.
    """
    return await CallPlan.of(
        k=k,
        method=method,
        model=model,
        tau=tau,
        min_keep=min_keep,
        normalization=normalization,
        weight_temperature=weight_temperature,
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
        parse_retries=parse_retries,
        fallback=fallback,
        **options,
    ).averbalize(prompt, system=system, repeat=repeat, on_call=on_call)


class CallPlan:
    """What :func:`averbalize` works out before its first call, kept for many calls.

    The method (its plan), the model and the provider parameters are the same on every turn
    of an agent; a conversation engine makes one plan per agent and calls
    :meth:`averbalize_chat` each turn, instead of working them out anew per call. Whether
    the model takes a JSON schema is read when the plan is made.

    Make one with :meth:`of` (``averbalize``'s arguments but the prompt, ``system``,
    ``repeat`` and ``on_call``).
    """

    __slots__ = (
        "clean",
        "fallback",
        "independent_calls",
        "instructions",
        "method",
        "min_keep",
        "model",
        "normalization",
        "params",
        "parse_retries",
        "parsed",
        "plan",
        "schema",
        "tau",
        "weight_temperature",
    )

    def __init__(
        self,
        plan: _Plan,
        model: Model,
        *,
        tau: float | None,
        min_keep: int,
        normalization: str,
        weight_temperature: float,
        params: dict[str, Any],
        parse_retries: int,
        fallback: bool,
    ) -> None:
        self.plan = plan
        self.method = plan.method
        self.independent_calls = plan.independent_calls
        self.model = model
        self.tau = tau
        self.min_keep = min_keep
        self.normalization = normalization
        self.weight_temperature = weight_temperature
        self.params = params  # without the schema: each distribution gets a fresh copy of it
        self.schema = plan.has_schema and bool(getattr(model, "supports_json_schema", False))
        self.parse_retries = parse_retries
        self.fallback = fallback
        self.instructions: str | None = None  # the first call's, once averbalize_chat needs it
        # VS methods read clean JSON first (as Method.parse does, unless a subclass changed it)
        self.clean = plan.method.verbalized and type(plan.method).parse is Method.parse
        # one answer read by Method.parse is normalized as from_candidates would do it
        # (elicited, no tau filter; the exact types its trusted path needs)
        self.parsed = (
            type(plan.method) is Method
            and type(normalization) is str
            and normalization == "elicited"
            and tau is None
            and type(weight_temperature) is float
        )

    @classmethod
    def of(
        cls,
        *,
        k: int | None = 5,
        method: str | Method = "vs_standard",
        model: str | Model = "offline/demo",
        tau: float | None = None,
        min_keep: int = 1,
        normalization: str = "elicited",
        weight_temperature: float = 1.0,
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
        parse_retries: int = 1,
        fallback: bool = True,
        **options: Any,
    ) -> CallPlan:
        """The plan of :func:`averbalize` called with these arguments (see there)."""
        params: dict[str, Any] = {}
        if temperature is not None:
            params["temperature"] = temperature
        if seed is not None:
            params["seed"] = seed
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        return cls(
            _plan(method, k, options),
            resolve_model(model),
            tau=tau,
            min_keep=min_keep,
            normalization=normalization,
            weight_temperature=weight_temperature,
            params=params,
            parse_retries=parse_retries,
            fallback=fallback,
        )

    async def averbalize(
        self,
        prompt: str | Sequence[Message],
        *,
        system: str | None = None,
        repeat: int = 0,
        on_call: CallHook | None = None,
    ) -> Distribution:
        """:func:`averbalize` of ``prompt`` with this plan's settings."""
        messages = to_messages(prompt, system)
        # a str prompt (and system) make str-only messages; given messages must be looked at
        plain = type(prompt) is str and (not system or type(system) is str)
        first = self.method.build_messages(messages, self.plan.sizes[0])
        return await self._run(first, plain or all_text(messages), repeat, on_call)

    async def averbalize_chat(
        self, messages: list[Message], system: str, on_call: CallHook | None = None
    ) -> Distribution:
        """:meth:`averbalize` of chat messages the caller has just made and hands over.

        For the conversation engine: ``messages`` are ``{"role": "user" | "assistant",
        "content": ...}`` dicts it has just made (keys and roles written as literals), nobody
        else holds them, and none is changed, so they go into the request as they are
        (``averbalize`` copies them twice: once adding ``system``, once adding the method's
        instructions). The result equals ``averbalize(messages, system=system)``.
        """
        instructions = self.instructions
        if instructions is None:  # (rendered on the first call, as averbalize does)
            instructions = self.instructions = self.method.instructions(self.plan.sizes[0])
        if system:
            head = {"role": "system", "content": f"{system.rstrip()}\n\n{instructions}"}
        else:
            head = {"role": "system", "content": instructions}
        return await self._run([head, *messages], _chat_text(messages, system), 0, on_call)

    async def _run(
        self, first: list[Message], trusted: bool, repeat: int, on_call: CallHook | None
    ) -> Distribution:
        """The calls of one distribution from its first call's messages, then the distribution."""
        plan, meth = self.plan, self.method
        params = self.params
        if self.schema:
            params = {**params, "response_format": meth.response_format()}
        caller = Caller(self, params, on_call, trusted)
        if plan.independent_calls == 1 and plan.turns == 1:  # one call (most methods)
            _, candidates, repairs = await caller.call(first, repeat)
            caller.repairs += repairs
            answers = 1
        else:
            candidates, answers = await self._many(caller, first, repeat)
        # One answer's candidates were already merged by the parser (same whitespace-collapsed key)
        merged, merge_repairs = _merge_duplicates(candidates) if answers > 1 else (candidates, [])
        repairs = caller.repairs + merge_repairs
        if plan.checks_count and len(merged) != meth.k:
            repairs.append(
                Repair(
                    kind="count_mismatch",
                    detail=f"asked for {meth.k} candidates, got {len(merged)}; kept them all",
                )
            )
        if answers == 1 and self.parsed and caller.trusted and _normalized(repairs):
            return Distribution._from_parsed(
                merged,
                method=meth.name,
                model=self.model.name,
                prompt=first,
                usage=caller.usage or Usage(),
                cost=caller.cost,
                calls=len(caller.keys),
                repairs=repairs,
                truncated=caller.truncated,
                temperature=self.weight_temperature,
                synthetic=caller.synthetic,
                request_keys=caller.keys,
            )
        return Distribution.from_candidates(
            merged,
            normalization=self.normalization,
            temperature=self.weight_temperature,
            tau=self.tau,
            min_keep=self.min_keep,
            method=meth.name,
            model=self.model.name,
            prompt=first,
            usage=caller.usage or Usage(),
            cost=caller.cost,
            calls=len(caller.keys),
            repairs=repairs,
            truncated=caller.truncated,
            synthetic=caller.synthetic,
            trusted=caller.trusted,  # (every value above is already of its exact type)
            request_keys=caller.keys,
        )

    async def _many(
        self, caller: Caller, first: list[Message], repeat: int
    ) -> tuple[list[Candidate], int]:
        """The candidates of a method of several calls or turns, and how many answers."""
        plan, meth = self.plan, self.method
        candidates: list[Candidate] = []
        if plan.independent_calls > 1:
            base = repeat * plan.independent_calls
            results = await asyncio.gather(
                *(caller.call(first, base + i) for i in range(plan.independent_calls))
            )
            for _, found, repairs in results:
                candidates.extend(found)
                caller.repairs.extend(repairs)
            return candidates, len(results)
        chat = first
        for turn in range(plan.turns):
            raw, found, repairs = await caller.call(chat, repeat)
            candidates.extend(found)
            caller.repairs.extend(repairs)
            if turn + 1 < plan.turns:
                chat = [
                    *chat,
                    {"role": "assistant", "content": raw},
                    {"role": "user", "content": meth.followup(plan.sizes[turn + 1])},
                ]
        return candidates, plan.turns


def _normalized(repairs: list[Repair]) -> bool:
    """Whether the parser kept the probabilities it normalized (no ``zero_sum`` fallback)."""
    return all(repair.kind != "zero_sum" for repair in repairs)


def _chat_text(messages: list[Message], system: str) -> bool:
    """:func:`all_text` of ``to_messages(messages, system)`` for messages made as
    :meth:`CallPlan.averbalize_chat` asks (their keys and roles are ``str`` literals)."""
    if system and type(system) is not str:
        return False
    return all(type(message["content"]) is str for message in messages)


_SPACE = re.compile(r"\s+")


def _plan(method: str | Method, k: int | None, options: dict[str, Any]) -> _Plan:
    """The plan of ``get_method(method, k=k, **options)``, made once per distinct request.

    Options that cannot be hashed (a list of template folders) build the method every
    time (its plan is still cached by the method itself).
    """
    if isinstance(method, str):
        # the types are part of the key: 1 and True hash alike but are different options
        key = (
            tuple(sorted((name, type(value), value) for name, value in options.items()))
            if options
            else ()
        )
        try:
            return _named_plan(method, k, key)
        except TypeError:  # an unhashable option value
            pass
    return _method_plan(get_method(method, k=k, **options))


@lru_cache(maxsize=256, typed=True)
def _named_plan(name: str, k: int | None, options: tuple[tuple[str, type, Any], ...]) -> _Plan:
    return _method_plan(get_method(name, k=k, **{option: value for option, _, value in options}))


@lru_cache(maxsize=256)
def _method_plan(method: Method) -> _Plan:
    return _Plan.of(method)


def _merge_duplicates(candidates: list[Candidate]) -> tuple[list[Candidate], list[Repair]]:
    """Merge candidates with the same text across calls, adding their weights."""
    out: dict[str, Candidate] = {}
    repairs: list[Repair] = []
    for cand in candidates:
        key = _SPACE.sub(" ", cand.text.strip())
        if key in out:
            prev = out[key]
            out[key] = prev.model_copy(update={"weight": prev.weight + cand.weight})
            repairs.append(Repair(kind="merged_across_calls", detail=f"merged {key[:60]!r}"))
        else:
            out[key] = cand
    return list(out.values()), repairs


def verbalize(prompt: str | Sequence[Message], **kwargs: Any) -> Distribution:
    """Synchronous :func:`averbalize` (same arguments); works in notebooks too.

    The event loop it runs on ends with the call, so the model's connections are released
    before it does.
    """

    async def once() -> Distribution:
        model = resolve_model(kwargs.pop("model", "offline/demo"))
        try:
            return await averbalize(prompt, model=model, **kwargs)
        finally:
            await aclose_model(model)

    return run_sync(once())
