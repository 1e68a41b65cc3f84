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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from .distribution import Candidate, Distribution, Repair
from .errors import ConfigError, ModelError, ParseError
from .methods import Method, get_method
from .models.base import Completion, Message, Model, Request, Usage, aclose_model
from .parsing import ParseResult, strip_code_fences, strip_reasoning
from .sync import run_sync

T = TypeVar("T")

_PARSE_RETRY_STRIDE = 1 << 20  # a re-asked call is a new sample: its repeat index moves far away


@dataclass(frozen=True)
class CallRecord:
    """One model call as seen by ``on_call`` hooks (success or failure)."""

    request: Request
    completion: Completion | None
    error: BaseException | None


CallHook = Callable[[CallRecord], None]

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


def _all_text(messages: list[Message]) -> bool:
    """Whether every key and value of every message is a ``str`` (not even a subclass).

    Such messages are what validating a :class:`Request` would leave unchanged; anything
    else (bytes, numbers) still goes through validation, which converts or refuses it.
    """
    for message in messages:
        for name, value in message.items():
            if type(name) is not str or type(value) is not str:
                return False
    return True


class _Caller:
    """Runs one distribution's calls, recording usage, cost, keys and repairs."""

    __slots__ = (
        "cost",
        "fallback",
        "keys",
        "method",
        "model",
        "on_call",
        "params",
        "parse_retries",
        "repairs",
        "synthetic",
        "truncated",
        "trusted",
        "usage",
    )

    def __init__(
        self,
        model: Model,
        method: Method,
        params: dict[str, Any],
        on_call: CallHook | None,
        parse_retries: int,
        fallback: bool,
        trusted: bool,
    ) -> None:
        self.model = model
        self.method = method
        self.params = params
        self.on_call = on_call
        self.parse_retries = parse_retries
        self.fallback = fallback
        self.trusted = trusted  # every message holds only str: nothing to validate
        self.usage: Usage | None = None
        self.cost: float | None = None
        self.keys: list[str] = []
        self.repairs: list[Repair] = []
        self.synthetic = False
        self.truncated = False

    async def call(self, messages: Sequence[Message], repeat: int) -> tuple[str, ParseResult]:
        """One call, re-asked up to ``parse_retries`` times if the answer cannot be parsed."""
        last: ParseError | None = None
        chat = tuple(messages)
        for attempt in range(self.parse_retries + 1):
            request = self._request(chat, repeat + attempt * _PARSE_RETRY_STRIDE)
            try:
                completion = await self.model.acomplete(request)
            except ModelError as exc:
                if self.on_call:
                    self.on_call(CallRecord(request, None, exc))
                raise
            if self.on_call:
                self.on_call(CallRecord(request, completion, None))
            self._count(request, completion)
            try:
                result = self.method.parse(completion.text)
            except ParseError as exc:
                last = exc
                self.repairs.append(
                    Repair(kind="parse_retry", detail=f"attempt {attempt + 1}: {exc.reason}")
                )
                continue
            self.truncated = self.truncated or result.truncated
            return completion.text, result
        assert last is not None
        text = strip_code_fences(strip_reasoning(last.raw)).strip()
        if self.fallback and text:
            self.repairs.append(
                Repair(
                    kind="fallback_single",
                    detail="no candidates could be read; used the whole answer as one candidate",
                )
            )
            return last.raw, ParseResult(
                candidates=[Candidate(text=text, weight=1.0, probability=1.0)],
                repairs=[],
                truncated=False,
                format="plain",
            )
        raise last

    def _request(self, chat: tuple[Message, ...], repeat: int) -> Request:
        """The request of one call; each gets its own params dict, as validation gave it."""
        if self.trusted:  # built here from checked text: validating would only copy it
            return Request.trusted(self.model.name, chat, dict(self.params), repeat)
        return Request(model=self.model.name, messages=chat, params=self.params, repeat=repeat)

    def _count(self, request: Request, completion: Completion) -> None:
        """Add one answered call to the totals (usage, cost, keys, synthetic)."""
        usage = completion.usage
        self.usage = usage if self.usage is None else self.usage + usage
        if completion.cost is not None:  # a sum of the known costs, as sum() would add them
            self.cost = (0 if self.cost is None else self.cost) + completion.cost
        self.keys.append(request.key)
        self.synthetic = self.synthetic or completion.synthetic


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
    plan = _plan(method, k, options)
    meth = plan.method
    mdl = resolve_model(model)
    messages = to_messages(prompt, system)
    params: dict[str, Any] = {}
    if temperature is not None:
        params["temperature"] = temperature
    if seed is not None:
        params["seed"] = seed
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if plan.has_schema and getattr(mdl, "supports_json_schema", False):
        params["response_format"] = meth.response_format()
    # a str prompt (and system) make str-only messages; given messages must be looked at
    plain = type(prompt) is str and (not system or type(system) is str)
    caller = _Caller(
        mdl, meth, params, on_call, parse_retries, fallback, plain or _all_text(messages)
    )

    first = meth.build_messages(messages, plan.sizes[0])
    candidates: list[Candidate] = []
    answers = 0
    if plan.independent_calls > 1:
        base = repeat * plan.independent_calls
        results = await asyncio.gather(
            *(caller.call(first, base + i) for i in range(plan.independent_calls))
        )
        for _, result in results:
            candidates.extend(result.candidates)
            caller.repairs.extend(result.repairs)
        answers = len(results)
    else:
        chat = first
        for turn in range(plan.turns):
            raw, result = await caller.call(chat, repeat)
            candidates.extend(result.candidates)
            caller.repairs.extend(result.repairs)
            answers += 1
            if turn + 1 < plan.turns:
                chat = [
                    *chat,
                    {"role": "assistant", "content": raw},
                    {"role": "user", "content": meth.followup(plan.sizes[turn + 1])},
                ]

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
    return Distribution.from_candidates(
        merged,
        normalization=normalization,
        temperature=weight_temperature,
        tau=tau,
        min_keep=min_keep,
        method=meth.name,
        model=mdl.name,
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
