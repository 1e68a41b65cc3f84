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


class _Caller:
    """Runs one distribution's calls, recording usage, cost, keys and repairs."""

    def __init__(
        self,
        model: Model,
        method: Method,
        params: dict[str, Any],
        repeat: int,
        on_call: CallHook | None,
        parse_retries: int,
        fallback: bool,
    ) -> None:
        self.model = model
        self.method = method
        self.params = params
        self.repeat = repeat
        self.on_call = on_call
        self.parse_retries = parse_retries
        self.fallback = fallback
        self.usage = Usage()
        self.costs: list[float | None] = []
        self.keys: list[str] = []
        self.repairs: list[Repair] = []
        self.synthetic = False
        self.truncated = False

    async def call(self, messages: Sequence[Message], repeat: int) -> tuple[str, ParseResult]:
        """One call, re-asked up to ``parse_retries`` times if the answer cannot be parsed."""
        last: ParseError | None = None
        for attempt in range(self.parse_retries + 1):
            request = Request(
                model=self.model.name,
                messages=tuple(messages),
                params=self.params,
                repeat=repeat + attempt * _PARSE_RETRY_STRIDE,
            )
            try:
                completion = await self.model.acomplete(request)
            except ModelError as exc:
                if self.on_call:
                    self.on_call(CallRecord(request, None, exc))
                raise
            if self.on_call:
                self.on_call(CallRecord(request, completion, None))
            self.usage = self.usage + completion.usage
            self.costs.append(completion.cost)
            self.keys.append(request.key)
            self.synthetic = self.synthetic or completion.synthetic
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

    @property
    def cost(self) -> float | None:
        known = [c for c in self.costs if c is not None]
        return sum(known) if known else None


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
    meth = _method(method, k, options)
    mdl = resolve_model(model)
    messages = to_messages(prompt, system)
    params: dict[str, Any] = {}
    if temperature is not None:
        params["temperature"] = temperature
    if seed is not None:
        params["seed"] = seed
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if getattr(mdl, "supports_json_schema", False):
        schema = meth.response_format()
        if schema is not None:
            params["response_format"] = schema
    caller = _Caller(mdl, meth, params, repeat, on_call, parse_retries, fallback)

    first = meth.build_messages(messages, meth.turn_sizes()[0])
    candidates: list[Candidate] = []
    answers = 0
    if meth.independent_calls > 1:
        base = repeat * meth.independent_calls
        results = await asyncio.gather(
            *(caller.call(first, base + i) for i in range(meth.independent_calls))
        )
        for _, result in results:
            candidates.extend(result.candidates)
            caller.repairs.extend(result.repairs)
        answers = len(results)
    else:
        chat = list(first)
        sizes = meth.turn_sizes()
        for turn in range(meth.turns):
            raw, result = await caller.call(chat, repeat)
            candidates.extend(result.candidates)
            caller.repairs.extend(result.repairs)
            answers += 1
            if turn + 1 < meth.turns:
                chat = [
                    *chat,
                    {"role": "assistant", "content": raw},
                    {"role": "user", "content": meth.followup(sizes[turn + 1])},
                ]

    # One answer's candidates were already merged by the parser (same whitespace-collapsed key)
    merged, merge_repairs = _merge_duplicates(candidates) if answers > 1 else (candidates, [])
    repairs = caller.repairs + merge_repairs
    list_method = meth.name in ("sequence", "vs_standard", "vs_cot", "vs_multi")
    if meth.k is not None and list_method and len(merged) != meth.k:
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
        usage=caller.usage,
        cost=caller.cost,
        calls=len(caller.keys),
        repairs=repairs,
        truncated=caller.truncated,
        synthetic=caller.synthetic,
        request_keys=caller.keys,
    )


_SPACE = re.compile(r"\s+")


def _method(method: str | Method, k: int | None, options: dict[str, Any]) -> Method:
    """``get_method(method, k=k, **options)``, built once per distinct name and options.

    A :class:`Method` is frozen, so one instance serves every call that asks for it;
    options that cannot be hashed (a list of template folders) are built every time.
    """
    if isinstance(method, str):
        # the types are part of the key: 1 and True hash alike but are different options
        key = tuple(sorted((name, type(value), value) for name, value in options.items()))
        try:
            return _cached_method(method, k, key)
        except TypeError:  # an unhashable option value
            pass
    return get_method(method, k=k, **options)


@lru_cache(maxsize=256, typed=True)
def _cached_method(name: str, k: int | None, options: tuple[tuple[str, type, Any], ...]) -> Method:
    return get_method(name, k=k, **{option: value for option, _, value in options})


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
